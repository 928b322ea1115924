"""audio_features: parity with python_speech_features, stacking, layer norm and trim arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_gui.core.encoder import audio_features as af

psf = pytest.importorskip("python_speech_features")


def _speechlike(n: int, seed: int = 0, dtype: type = np.float32) -> np.ndarray:
    """Harmonic tone with a syllable-rate envelope plus a little noise, float in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    x = 0.1 * env * voiced + 0.003 * rng.standard_normal(n)
    return x.astype(dtype)


@pytest.mark.parametrize("n", [1, 57, 399, 400, 401, 559, 560, 640 * 7, 640 * 50, 16000 * 3 + 123])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_fbank_matches_python_speech_features(n: int, dtype: type) -> None:
    x = _speechlike(n, seed=n, dtype=dtype)
    ref = psf.logfbank(x)
    ours = af.log_fbank(x)
    assert ours.dtype == np.float64
    assert ours.shape == ref.shape == (af.num_fbank_frames(n), 26)
    assert np.max(np.abs(ours - ref)) <= 1e-6


def test_log_fbank_digital_silence_uses_eps_floor() -> None:
    x = _speechlike(16000, seed=3)
    x[:4000] = 0.0  # 250 ms of digital silence: whole frames give exactly 0 energy
    ref = psf.logfbank(x)
    ours = af.log_fbank(x)
    assert np.max(np.abs(ours - ref)) <= 1e-6
    floor = np.log(np.finfo(np.float64).eps)
    assert np.all(ours[:20] == floor)  # frames 0..19 lie entirely inside the silence
    assert np.all(ours[30:] > floor)


def test_log_fbank_int16_shift_is_two_ln_32768() -> None:
    x = _speechlike(8000, seed=5, dtype=np.float64)
    xi = np.round(x * 32768).astype(np.int16)
    shift = af.log_fbank(xi.astype(np.float64)) - af.log_fbank(xi.astype(np.float64) / 32768.0)
    np.testing.assert_allclose(shift, 2 * np.log(32768), atol=1e-9)


def test_log_fbank_rejects_stereo_and_handles_empty() -> None:
    with pytest.raises(ValueError):
        af.log_fbank(np.zeros((100, 2)))
    assert af.log_fbank(np.zeros(0)).shape == (0, 26)
    assert af.stacked_features(np.zeros(0, np.float32)).shape == (0, 104)


@pytest.mark.parametrize("t", [1, 2, 3, 25, 77])
def test_stacked_features_has_one_row_per_video_frame(t: int) -> None:
    feats = af.stacked_features(_speechlike(640 * t, seed=t))
    assert feats.shape == (t, 104)
    assert feats.dtype == np.float32


def test_stacking_layout_and_layer_norm_match_torch() -> None:
    torch = pytest.importorskip("torch")
    x = _speechlike(640 * 10 + 300, seed=9)
    fb = af.log_fbank(x).astype(np.float32)
    assert fb.shape[0] == 41  # not a multiple of 4: 3 zero rows are appended
    stacked = af.stack_frames(fb)
    assert stacked.shape == (11, 104)
    np.testing.assert_array_equal(stacked[2, 26:52], fb[9])
    np.testing.assert_array_equal(stacked[10, :26], fb[40])
    assert np.all(stacked[10, 26:] == 0)
    ref = torch.nn.functional.layer_norm(torch.from_numpy(stacked), (104,)).numpy()
    ours = af.stacked_features(x)
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=0)
    np.testing.assert_allclose(ours.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(ours.var(axis=1), 1, atol=1e-3)


def test_trim_frame_index_follows_float_arithmetic_exactly() -> None:
    i = np.arange(0, 20 * 16000 + 1)
    ours = af.trim_frame_index(i)
    expected = np.array([int((k / 16000) * 25) for k in i.tolist()], dtype=np.int64)
    np.testing.assert_array_equal(ours, expected)
    differs = np.flatnonzero(ours != i // 640)
    assert differs.size == 34
    assert 18560 in differs
    assert int(af.trim_frame_index(18560)) == 28 and 18560 // 640 == 29


def test_leading_silence_trim_skips() -> None:
    x = _speechlike(16000 * 3, seed=1)
    x[:18560] = 0.0
    x[18560] = 0.2
    trim = af.leading_silence_trim(x)
    assert trim.first_sound_sample == 18560
    assert trim.start_s == 18560 / 16000
    assert trim.video_skip_frames == 29
    assert trim.audio_skip_samples == 28 * 640 + 640
    video = np.zeros((75, 4, 4), np.uint8)
    a, v = af.apply_trim(x, video, trim)
    assert len(a) == len(x) - 18560 and v is not None and len(v) == 75 - 29
    fa, fv = af.truncate_to_common(af.stacked_features(a), v)
    assert len(fa) == len(fv) == 46


def test_threshold_is_strict_and_int16_is_rescaled() -> None:
    x = np.zeros(16000, np.float32)
    x[1000] = 0.0005  # not above the threshold
    x[3000] = -0.0006
    trim = af.leading_silence_trim(x)
    assert trim.first_sound_sample == 3000
    assert trim.video_skip_frames == int((3000 / 16000) * 25) + 1
    xi = np.zeros(16000, np.int16)
    xi[500] = 100  # 100/32768 = 0.00305 > 0.0005
    assert af.leading_silence_trim(xi).first_sound_sample == 500


def test_no_leading_silence_skips_nothing() -> None:
    x = _speechlike(16000, seed=2)
    x[0] = 0.3
    trim = af.leading_silence_trim(x)
    assert trim == af.TrimInfo(0.0, 0, 0, 0)
    a, v = af.apply_trim(x, None, trim)
    assert v is None and len(a) == len(x)


def test_all_silent_audio_skips_everything() -> None:
    x = np.zeros(16000 * 2 + 100, np.float32)
    trim = af.leading_silence_trim(x)
    assert trim.first_sound_sample == len(x)
    assert trim.start_s == len(x) / 16000
    assert trim.video_skip_frames == int((len(x) / 16000) * 25) + 1 == 51
    assert trim.audio_skip_samples == 50 * 640 + 640
    a, v = af.apply_trim(x, np.zeros((50, 2, 2)), trim)
    assert a.size == 0 and v is not None and len(v) == 0
    assert af.leading_silence_trim(np.zeros(0)).audio_skip_samples == 0
