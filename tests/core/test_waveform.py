"""The peak pyramid keeps every peak and stays small."""

import numpy as np
import pytest

from forensics_gui.core.media.waveform import PeakPyramid, interleave


def test_single_sample_spike_visible_at_every_zoom() -> None:
    sr = 48000
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(sr * 20) * 0.01).astype(np.float32)
    spike_at = 123457
    x[spike_at] = 0.9
    x[spike_at + 50000] = -0.8
    pyr = PeakPyramid(x, sr)
    t_spike = spike_at / sr
    for width_s in (0.001, 0.01, 0.1, 1.0, 5.0, 20.0):
        for n_pixels in (100, 800, 1920):
            t0 = max(0.0, t_spike - width_s / 2)
            env = pyr.envelope(t0, t0 + width_s, n_pixels)
            assert env.maxs.max() == pytest.approx(0.9), (width_s, n_pixels)
            # the bucket holding the spike is at the spike's time
            i = int(np.argmax(env.maxs))
            assert env.times[i] <= t_spike + 1e-9
            assert t_spike < env.times[i] + env.samples_per_bucket / sr + 1e-9
            # bounded number of points for drawing
            assert len(env.times) <= max(4 * n_pixels + 4, int(width_s * sr) + 2)
    env = pyr.envelope(0, 20, 500)
    assert env.mins.min() == pytest.approx(-0.8)


def test_level_choice_and_memory() -> None:
    sr = 16000
    x = np.sin(np.linspace(0, 200, sr * 30)).astype(np.float32)
    pyr = PeakPyramid(x, sr, start_time_s=0.5)
    assert pyr.nbytes <= x.nbytes  # at most the size of the sample array
    env = pyr.envelope(0.5, 30.5, 1000)  # 480 samples per pixel
    blocks_per_pixel = (sr * 30 / 1000) / env.samples_per_bucket
    assert 2 <= blocks_per_pixel < 4
    assert env.times[0] == pytest.approx(0.5)
    raw = pyr.envelope(1.0, 1.01, 1000)  # 160 samples for 1000 px: raw
    assert raw.samples_per_bucket == 1
    np.testing.assert_array_equal(raw.maxs, x[8000 : 8000 + len(raw.maxs)])


def test_multichannel_envelope_covers_all_channels() -> None:
    x = np.zeros((2, 4000), dtype=np.float32)
    x[0, 100] = 0.5
    x[1, 3000] = -0.7
    pyr = PeakPyramid(x, 8000)
    env = pyr.envelope(0, 0.5, 10)
    assert env.maxs.max() == pytest.approx(0.5)
    assert env.mins.min() == pytest.approx(-0.7)
    raw = pyr.envelope(0.0120, 0.0130, 100)  # raw samples: min/max over the two channels
    assert raw.samples_per_bucket == 1
    assert raw.maxs.max() == pytest.approx(0.5) and raw.mins.min() == pytest.approx(0.0)
    stereo = np.random.default_rng(0).standard_normal((2, 80000)).astype(np.float32)
    assert PeakPyramid(stereo, 8000).nbytes <= 0.26 * stereo.nbytes


def test_interleave_and_empty() -> None:
    x, y = interleave(np.array([0.0, 1.0]), np.array([-1.0, -2.0]), np.array([1.0, 2.0]))
    assert list(x) == [0, 0, 1, 1] and list(y) == [-1, 1, -2, 2]
    pyr = PeakPyramid(np.zeros(0, dtype=np.float32), 16000)
    assert len(pyr.envelope(0, 1, 100).times) == 0
    assert len(PeakPyramid(np.ones(100, np.float32), 100).envelope(5, 6, 10).times) == 0
