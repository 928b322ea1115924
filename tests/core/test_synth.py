"""The synthetic clip generator writes what it says: face landmarks, silence, codecs, rates."""

from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.media.decode import VideoReader, decode_audio, probe
from forensics_gui.core.media.silence import leading_silence
from forensics_gui.testing.synth import (
    corrupt_bytes,
    decode_pattern_index,
    make_clip,
    pattern_frame,
    speech_signal,
    talking_face_frame,
    truncate_file,
)


@pytest.fixture(scope="module")
def dlib_models():  # type: ignore[no-untyped-def]
    dlib = pytest.importorskip("dlib")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        pytest.skip("face_recognition_models is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "models",
                        "shape_predictor_68_face_landmarks.dat")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(path)


def _inner_lip_gap(models, image: np.ndarray) -> float | None:  # type: ignore[no-untyped-def]
    detector, predictor = models
    faces = detector(image, 0 if image.shape[1] > 600 else 1)  # upsample small faces only
    if len(faces) != 1:
        return None
    shape = predictor(image, faces[0])
    return float(shape.part(66).y - shape.part(62).y)


@pytest.mark.parametrize("size", [(320, 320), (1280, 720)])
def test_dlib_sees_the_mouth_open_and_close(dlib_models, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    levels = np.linspace(0.0, 1.0, 6)
    gaps = []
    for o in levels:
        gap = _inner_lip_gap(dlib_models, talking_face_frame(float(o), *size))
        assert gap is not None, f"no face (or more than one) at openness {o:.1f}"
        gaps.append(gap)
    gaps_arr = np.array(gaps)
    scale = size[1] / 320
    assert gaps_arr[-1] - gaps_arr[0] > 8 * scale  # pixels
    assert np.corrcoef(levels, gaps_arr)[0, 1] > 0.9


def test_face_free_pattern_has_no_face(dlib_models) -> None:  # type: ignore[no-untyped-def]
    detector, _ = dlib_models
    assert len(detector(pattern_frame(7, 320, 240), 1)) == 0


def test_pattern_round_trip() -> None:
    for i in (0, 1, 77, 1000, 4095):
        assert decode_pattern_index(pattern_frame(i)) == i


def test_clip_ground_truth(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mp4", duration_s=2.0, leading_silence_ms=30, seed=3)
    assert clip.n_frames == 50 and clip.fps == 25
    assert clip.first_sound_sample == 480 and clip.leading_silence_ms == 30.0
    assert np.all(clip.audio[:, :480] == 0) and abs(clip.audio[0, 480]) > 0.0005
    # room noise keeps every 10 ms window after the silence well above the threshold
    windows = clip.audio[0, 480:480 + 160 * 150].reshape(-1, 160)
    assert np.abs(windows).max(axis=1).min() > 0.004
    # the mouth follows the syllables (loudness at the frame times)
    rms = np.sqrt(np.mean(clip.audio[0].reshape(50, 640) ** 2, axis=1))
    assert np.corrcoef(rms, clip.mouth_openness)[0, 1] > 0.7
    assert clip.mouth_openness.min() >= 0 and clip.mouth_openness.max() == pytest.approx(1.0)
    info = probe(clip.path)
    assert info.video is not None and (info.video.width, info.video.height) == (320, 320)
    with VideoReader(clip.path) as reader:
        closed = int(np.argmin(clip.mouth_openness))
        opened = int(np.argmax(clip.mouth_openness))
        a = reader.frame_by_index(closed).image.astype(np.float32)
        b = reader.frame_by_index(opened).image.astype(np.float32)
    mouth = (slice(170, 230), slice(120, 200))
    assert np.abs(a[mouth] - b[mouth]).mean() > 10  # the mouth region changes
    assert np.abs(a[:100] - b[:100]).mean() < 2  # the forehead does not


def test_zero_silence_clip_starts_with_sound(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "real.mkv", duration_s=0.5, video=False)
    assert clip.first_sound_sample == 0
    assert leading_silence(decode_audio(clip.path)).first_sound_sample == 0


def test_custom_openness_and_speech_make_a_mismatch(tmp_path: Path) -> None:
    other, _ = speech_signal(1.0, 16000, seed=9)
    op = np.linspace(0, 1, 25)
    clip = make_clip(tmp_path / "fake.mkv", duration_s=1.0, width=160, height=160,
                     openness=op, speech=other, leading_silence_ms=20)
    np.testing.assert_allclose(clip.mouth_openness, op)
    assert np.all(clip.audio[0, :320] == 0)
    np.testing.assert_allclose(clip.audio[0, 320:], other[320:])


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".avi", ".webm"])
def test_every_container_is_writable_and_readable(tmp_path: Path, suffix: str) -> None:
    rate = 48000 if suffix == ".webm" else 16000
    clip = make_clip(tmp_path / f"c{suffix}", duration_s=0.6, width=96, height=64, face=False,
                     sample_rate=rate, leading_silence_ms=30)
    info = probe(clip.path)
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height) == (96, 64)
    with VideoReader(clip.path) as reader:
        assert decode_pattern_index(reader.frame_by_index(7).image) == 7
    assert leading_silence(decode_audio(clip.path)).leading_silence_ms == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(30000, 1001), 29.97, 50])
def test_frame_rates(tmp_path: Path, fps: float | Fraction) -> None:
    clip = make_clip(tmp_path / "f.mp4", duration_s=0.5, width=64, height=64, face=False,
                     fps=fps, audio=False)
    info = probe(clip.path)
    assert info.video is not None and info.video.fps == clip.fps
    if fps == 29.97:
        assert clip.fps == Fraction(30000, 1001)


def test_aac_moves_the_silence(tmp_path: Path) -> None:
    """AAC does not keep the digital zeros: measured, the silence moves by under 2 ms at 48 kHz."""
    clip = make_clip(tmp_path / "a.mp4", duration_s=1.0, video=False, audio_codec="aac",
                     sample_rate=48000, leading_silence_ms=30)
    track = decode_audio(clip.path)
    assert track.start_time_s == pytest.approx(0.0)  # the priming is removed
    assert abs(track.samples.shape[1] - 48000) <= 1024  # plus at most one frame of padding
    measured = leading_silence(track).leading_silence_ms
    assert 28.0 <= measured <= 30.0 + 1e-9
    assert np.abs(track.samples[0, :1440]).max() > 0  # exact zeros are not reproduced


def test_broken_file_helpers(tmp_path: Path) -> None:
    src = tmp_path / "s.bin"
    src.write_bytes(bytes(range(200)))
    half = truncate_file(src, tmp_path / "h.bin", 0.25)
    assert half.read_bytes() == bytes(range(50))
    corrupt_bytes(src, 10, 20, seed=1)
    data = src.read_bytes()
    assert data[:10] == bytes(range(10)) and data[30:] == bytes(range(30, 200))
    assert data[10:30] != bytes(range(10, 30))
