"""Mouth ROI: geometry against scikit-image, the smoothing window, clamping, the 25 fps grid,
tracking a moving face, no-face clips, the mp4 round trip and the `roi` command."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.face import roi
from forensics_gui.testing.progress import RecordingProgress
from forensics_gui.testing.synth import make_clip, talking_face_frame


def _write_frames(path: Path, frames: list[np.ndarray], fps: Fraction | int = 25) -> Path:
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "12", "preset": "veryfast"}
        for f in frames:
            out.mux(st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(st.encode(None))
    return path


def _face_at(x0: int, y0: int, side: int, width: int = 320, height: int = 256,
             openness: float = 0.3) -> np.ndarray:
    img = np.full((height, width, 3), (70, 80, 95), np.uint8)
    face = talking_face_frame(openness, side, side)
    xs, ys = max(0, -x0), max(0, -y0)
    xe, ye = min(side, width - x0), min(side, height - y0)
    img[y0 + ys:y0 + ye, x0 + xs:x0 + xe] = face[ys:ye, xs:xe]
    return img


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roi") / "face.mp4"
    make_clip(path, duration_s=2.0, fps=25, width=320, height=320, audio=True)
    return path


@pytest.fixture(scope="module")
def face_result(face_clip: Path) -> roi.RoiResult:
    return roi.extract_mouth_roi(face_clip)


# --- geometry -----------------------------------------------------------------------------------

def test_umeyama_equals_skimage_similarity() -> None:
    from skimage.transform import SimilarityTransform

    rng = np.random.default_rng(1)
    for _ in range(20):
        src = rng.uniform(0, 600, (5, 2))
        dst = roi.MEAN_FACE_STABLE + rng.normal(0, 3, (5, 2))
        if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
            ref = SimilarityTransform.from_estimate(src, dst)
        else:
            ref = SimilarityTransform()
            ref.estimate(src, dst)
        np.testing.assert_allclose(roi.umeyama_similarity(src, dst), ref.params, rtol=0,
                                   atol=1e-12)
    # an exact similarity is recovered exactly
    a, s, t = 0.3, 1.7, np.array([12.0, -5.0])
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = rng.uniform(0, 100, (5, 2))
    m = roi.umeyama_similarity(src, src @ rot.T + t)
    np.testing.assert_allclose(m[:2, :2], rot, atol=1e-12)
    np.testing.assert_allclose(m[:2, 2], t, atol=1e-9)


def _full_warp_crop(rgb: np.ndarray, params: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    from skimage.transform import SimilarityTransform, warp

    full = (warp(rgb, SimilarityTransform(params).inverse, output_shape=(256, 256)) * 255)
    full = full.astype(np.uint8)
    return full[origin[0]:origin[0] + 96, origin[1]:origin[1] + 96]


def test_crop_equals_full_skimage_warp(face_clip: Path, face_result: roi.RoiResult) -> None:
    from forensics_gui.core.media.decode import iter_frames_on_grid

    lm = face_result.landmarks.astype(np.float64)
    tf = roi.roi_transforms(lm)
    org = roi.crop_origins(lm, tf)
    differing = 0
    for k, _t, rgb in iter_frames_on_grid(face_clip):
        if k % 5:
            continue
        ref = _full_warp_crop(rgb, tf[k], (int(org[k, 0]), int(org[k, 1])))
        np.testing.assert_array_equal(face_result.frames_rgb[k], ref)
        differing += int((roi.warp_crop(rgb, tf[k], tuple(org[k])) != ref).sum())
    assert differing == 0


def test_crop_equals_skimage_at_the_image_border() -> None:
    """A crop that reaches outside the source (constant 0 border), on images whose minimum is
    above 0 (the clip range then depends on the whole 256 output) and on one with a 0 pixel."""
    rng = np.random.default_rng(2)
    for lo in (0, 37):
        rgb = rng.integers(lo, 256, (120, 150, 3), dtype=np.uint8)
        a, s = 0.2, 2.3
        params = np.array([[s * np.cos(a), -s * np.sin(a), -40.3],
                           [s * np.sin(a), s * np.cos(a), -120.7], [0, 0, 1]])
        for origin in [(0, 0), (48, 100), (160, 160), (100, 20)]:
            np.testing.assert_array_equal(roi.warp_crop(rgb, params, origin),
                                          _full_warp_crop(rgb, params, origin))


def test_smoothing_window_is_forward_and_the_tail_reuses_the_last_transform() -> None:
    rng = np.random.default_rng(3)
    t = 20
    base = rng.uniform(50, 250, (68, 2))
    lm = base[None] + np.arange(t)[:, None, None] * np.array([3.0, 1.0]) + rng.normal(0, 1, (t, 68, 2))
    tf = roi.roi_transforms(lm)
    for i in (0, 5, 8):
        want = roi.umeyama_similarity(lm[i:i + 12, roi.STABLE_IDS].mean(axis=0),
                                      roi.MEAN_FACE_STABLE)
        np.testing.assert_allclose(tf[i], want, atol=1e-12)
    for i in range(9, t):  # the last margin-1 = 11 frames reuse frame T-12's transform
        np.testing.assert_array_equal(tf[i], tf[t - 12])
    assert not np.allclose(tf[0], tf[8])
    short = roi.roi_transforms(lm[:5])  # T < 12: margin = T, one transform for all
    want = roi.umeyama_similarity(lm[:5, roi.STABLE_IDS].mean(axis=0), roi.MEAN_FACE_STABLE)
    for i in range(5):
        np.testing.assert_allclose(short[i], want, atol=1e-12)


def test_crop_centre_is_clamped_and_rounded_half_to_even() -> None:
    eye = np.eye(3)
    lm = np.zeros((3, 68, 2))
    lm[0, 48:68] = (10.0, 250.0)  # far outside: clamp to (48, 208)
    lm[1, 48:68] = (100.5, 151.5)  # ties: round(100.5) = 100, round(151.5) = 152
    lm[2, 48:68] = (129.313, 157.823)  # the mean-face mouth centre
    org = roi.crop_origins(lm, np.stack([eye] * 3))
    assert org.tolist() == [[208 - 48, 0], [152 - 48, 100 - 48], [158 - 48, 129 - 48]]


# --- the pipeline -------------------------------------------------------------------------------

def test_extract_on_face_clip(face_result: roi.RoiResult) -> None:
    r = face_result
    assert r.face_found and r.detected.all()
    assert r.frames_rgb.shape == (50, 96, 96, 3) and r.frames_rgb.dtype == np.uint8
    np.testing.assert_array_equal(r.gray, roi.rgb_to_gray_cv2(r.frames_rgb))
    np.testing.assert_allclose(r.times_s, np.arange(50) / 25.0)
    assert r.source_size == (320, 320) and r.source_fps == 25.0
    assert r.landmarks.dtype == np.float32 and r.landmarks.shape == (50, 68, 2)
    np.testing.assert_array_equal(r.landmarks, np.round(r.landmarks))  # detected: int-valued
    # the mouth is centred: transformed mouth points average to the crop centre
    tf = roi.roi_transforms(r.landmarks.astype(np.float64))
    org = roi.crop_origins(r.landmarks.astype(np.float64), tf)
    for k in (0, 25, 49):
        pts = r.landmarks[k, 48:68].astype(np.float64)
        h = np.column_stack([pts, np.ones(20)]) @ tf[k].T
        cx, cy = h[:, :2].mean(axis=0)
        assert abs(cx - (org[k, 1] + 48)) <= 0.5 and abs(cy - (org[k, 0] + 48)) <= 0.5
    # the lips are dark-ish in the lower middle, the crop is not blank
    assert r.gray.std() > 10


@pytest.mark.slow
def test_roi_follows_a_moving_scaling_face(tmp_path: Path) -> None:
    n = 40
    frames = [_face_at(20 + i, 10 + i // 4, 180 + i // 2) for i in range(n)]  # 40 px, +20 px
    path = _write_frames(tmp_path / "move.mp4", frames)
    r = roi.extract_mouth_roi(path)
    assert r.face_found and r.detected.all() and len(r.frames_rgb) == n
    tf = roi.roi_transforms(r.landmarks.astype(np.float64))
    org = roi.crop_origins(r.landmarks.astype(np.float64), tf)
    # the mouth stays centred while the smoothing window sees the motion; the last 11 frames
    # reuse the final transform (as the official code does), so there the crop drifts
    assert np.ptp(org[:n - 11, 0]) <= 3 and np.ptp(org[:n - 11, 1]) <= 3
    np.testing.assert_array_equal(tf[n - 11:], np.broadcast_to(tf[n - 12], (11, 3, 3)))
    first, last = r.gray[0].astype(float), r.gray[-1].astype(float)
    raw_shift = np.abs(frames[0].astype(float) - frames[-1].astype(float)).mean()
    assert np.abs(first - last).mean() < 12 < raw_shift  # crop content stable, source not


@pytest.mark.slow
def test_missing_detections_are_interpolated_and_flagged(tmp_path: Path) -> None:
    frames = [_face_at(40 + 2 * i, 20, 190) for i in range(30)]
    blank = np.full_like(frames[0], 90)
    for i in (0, 12, 13, 14, 29):
        frames[i] = blank
    r = roi.extract_mouth_roi(_write_frames(tmp_path / "gaps.mp4", frames))
    assert r.face_found
    assert (~r.detected).nonzero()[0].tolist() == [0, 12, 13, 14, 29]
    lm = r.landmarks.astype(np.float64)
    np.testing.assert_array_equal(lm[0], lm[1])  # leading miss copies the first detection
    np.testing.assert_array_equal(lm[29], lm[28])  # trailing miss copies the last one
    for j, i in enumerate((12, 13, 14), start=1):
        np.testing.assert_allclose(lm[i], lm[11] + (lm[15] - lm[11]) * j / 4, atol=1e-3)
    assert not np.isnan(r.face_boxes).any() and len(r.frames_rgb) == 30
    # crops from the kept mouth patches == crops from a full second read
    again = roi.extract_mouth_roi(tmp_path / "gaps.mp4", patch_budget_bytes=0, workers=1)
    np.testing.assert_array_equal(again.frames_rgb, r.frames_rgb)


def test_no_face_clip(tmp_path: Path) -> None:
    path = tmp_path / "noface.mp4"
    make_clip(path, duration_s=1.0, fps=25, width=160, height=120, face=False, audio=False)
    r = roi.extract_mouth_roi(path)
    assert not r.face_found and not r.detected.any()
    assert r.frames_rgb.shape == (0, 96, 96, 3) and r.gray.shape == (0, 96, 96)
    assert len(r.times_s) == 25 and np.isnan(r.landmarks).all()
    from forensics_gui.core.errors import NoFaceError

    with pytest.raises(NoFaceError):
        roi.write_roi_video(r, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("fps", [Fraction(30), Fraction(24000, 1001)])
def test_other_frame_rates_give_25_fps(tmp_path: Path, fps: Fraction) -> None:
    path = tmp_path / "rate.mp4"
    clip = make_clip(path, duration_s=2.0, fps=fps, width=240, height=240, audio=False)
    r = roi.extract_mouth_roi(path, workers=1)
    # grid frames k / 25 inside the clip's duration n_frames / fps (2 s, or 48/23.976 = 2.002 s)
    want = int(np.ceil(Fraction(clip.n_frames) / fps * 25))
    assert want == (50 if fps == 30 else 51)
    assert r.face_found and len(r.frames_rgb) == want and len(r.times_s) == want
    assert abs(r.source_fps - float(fps)) < 1e-6
    np.testing.assert_allclose(np.diff(r.times_s), 0.04)


def test_mp4_round_trip_and_landmark_file(face_result: roi.RoiResult, tmp_path: Path) -> None:
    import av

    path = tmp_path / "roi.mp4"
    roi.write_roi_video(face_result, path)
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        assert (st.codec_context.name, st.width, st.height) == ("h264", 96, 96)
        assert st.codec_context.pix_fmt == roi.ROI_PIX_FMT == "yuv444p"
        assert st.average_rate == 25
    gray = roi.load_roi_video(path)
    assert gray.shape == face_result.gray.shape and gray.dtype == np.uint8
    err = np.abs(gray.astype(float) - face_result.gray).mean()
    assert 0 < err < 4  # lossy, but close (crf 20)
    # reproducible: the same crops give the same file, whatever else is in memory
    junk = [np.random.default_rng(i).integers(0, 255, 5000) for i in range(50)]
    again = tmp_path / "again.mp4"
    roi.write_roi_video(face_result, again)
    assert again.read_bytes() == path.read_bytes() and len(junk) == 50
    np.testing.assert_array_equal(roi.roi_roundtrip(face_result), gray)
    p420 = tmp_path / "roi420.mp4"
    roi.write_roi_video(face_result, p420, pix_fmt="yuv420p")
    with av.open(str(p420)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert np.abs(roi.load_roi_video(p420).astype(float) - face_result.gray).mean() < 4

    npz = tmp_path / "lm.npz"
    roi.save_landmarks(face_result, npz)
    back = roi.load_landmarks(npz)
    np.testing.assert_array_equal(back.landmarks, face_result.landmarks)
    np.testing.assert_array_equal(back.detected, face_result.detected)
    np.testing.assert_array_equal(back.face_boxes, face_result.face_boxes)
    assert back.face_found and back.source_size == (320, 320)
    assert back.preparation == "official" == face_result.preparation
    assert back.provenance == roi.preparation_record("official")


@pytest.mark.slow
def test_worker_processes_give_the_same_landmarks_and_survive_a_dying_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = tmp_path / "talk.mp4"
    make_clip(clip, duration_s=0.6, fps=25, width=640, height=360, audio=False)
    alone = roi.extract_mouth_roi(clip, processes=0)
    pooled = roi.extract_mouth_roi(clip, processes=2)
    np.testing.assert_array_equal(pooled.landmarks, alone.landmarks)
    np.testing.assert_array_equal(pooled.frames_rgb, alone.frames_rgb)
    from forensics_gui.core.face import landmark_worker

    answers = []
    real = landmark_worker._Worker.result

    def dies_after_three(self):  # type: ignore[no-untyped-def]
        if len(answers) >= 3:
            self.proc.kill()
        answers.append(1)
        return real(self)

    here = []
    in_process = roi.FaceTracker.process

    def counted(self, rgb):  # type: ignore[no-untyped-def]
        here.append(1)
        return in_process(self, rgb)

    monkeypatch.setattr(landmark_worker._Worker, "result", dies_after_three)
    monkeypatch.setattr(landmark_worker.FaceTracker, "process", counted)
    rescued = roi.extract_mouth_roi(clip, processes=2)
    assert len(answers) >= 4 and here  # a worker died; this process did the remaining frames
    np.testing.assert_array_equal(rescued.landmarks, alone.landmarks)


def test_worker_processes_only_where_they_pay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.core.face import landmark_worker as lw

    monkeypatch.setattr(lw.os, "cpu_count", lambda: 8)
    auto = {"requested": None, "workers": 2, "preparation": "official", "official": False,
            "size": (1280, 720), "frames": 250}
    assert lw.landmark_processes(**auto) == lw.MAX_PROCESSES
    assert lw.landmark_processes(**{**auto, "preparation": "fast"}) == 0  # the tracker is serial
    assert lw.landmark_processes(**{**auto, "official": True}) == 0
    assert lw.landmark_processes(**{**auto, "size": (320, 240)}) == 0
    assert lw.landmark_processes(**{**auto, "frames": 50}) == 0
    assert lw.landmark_processes(**{**auto, "workers": 1}) == 0
    assert lw.landmark_processes(**{**auto, "requested": 2, "frames": 5}) == 2
    monkeypatch.setattr(lw.os, "cpu_count", lambda: 2)
    assert lw.landmark_processes(**auto) == 0


def test_preparation_record_names_dlib_the_model_file_and_the_mean_face() -> None:
    import hashlib

    import dlib

    from forensics_gui.core.face.landmarks import shape_predictor_path
    from forensics_gui.core.files.hashing import sha256_file

    rec = roi.preparation_record()
    assert rec["preparation"] == "official" and rec["dlib_version"] == dlib.__version__
    assert rec["landmark_model_sha256"] == sha256_file(shape_predictor_path())
    flat = [128.870, 137.303, 92.523, 94.369, 112.772, 94.944, 145.525, 94.535, 166.677, 93.566]
    assert rec["mean_face_sha256"] == hashlib.sha256(np.array(flat, "<f8").tobytes()).hexdigest()
    assert roi.preparation_record("fast") == {**rec, "preparation": "fast"}
    with pytest.raises(ValueError):
        roi.preparation_record("guess")


# (width, height, fps, audio codec, seconds): every size at 25 fps or another rate, PCM or AAC
PARITY_CLIPS = [
    (320, 240, Fraction(25), "pcm_s16le", 1.2),
    (320, 240, Fraction(30000, 1001), "aac", 1.0),
    (854, 480, Fraction(30000, 1001), "aac", 1.0),
    (1280, 720, Fraction(25), "aac", 0.48),
    (1920, 1080, Fraction(24000, 1001), "pcm_s16le", 0.3),
]


@pytest.mark.parametrize(("width", "height", "fps", "acodec", "seconds"), PARITY_CLIPS,
                         ids=[f"{h}p-{float(f):.3f}fps-{a}" for _w, h, f, a, _s in PARITY_CLIPS])
@pytest.mark.slow
def test_default_crop_is_the_official_crop(tmp_path: Path, width: int, height: int, fps: Fraction,
                                           acodec: str, seconds: float) -> None:
    """Default landmarks identical to the official call on every frame; the crops after the mp4
    round trip identical to the --official-landmarks crops and within codec noise of the
    uncompressed official crops (issue 8: <= 1.0 and <= 2.5 grey levels)."""
    clip = tmp_path / "talk.mp4"
    make_clip(clip, duration_s=seconds, fps=fps, width=width, height=height, audio_codec=acodec)
    default = roi.extract_mouth_roi(clip)
    official = roi.extract_mouth_roi(clip, official_landmarks=True)
    assert default.face_found and default.detected.all() and official.detected.all()
    assert abs(len(default.times_s) - seconds * 25) <= 1
    np.testing.assert_array_equal(default.landmarks, official.landmarks)
    np.testing.assert_array_equal(default.face_boxes, official.face_boxes)
    seen = roi.roi_roundtrip(default).astype(np.float64)
    assert np.abs(seen - roi.roi_roundtrip(official)).mean() <= 1.0
    assert np.abs(seen - official.gray).mean() <= 2.5
    if height == 480:  # the fast tracker, for contrast, is not the official crop
        fast = roi.extract_mouth_roi(clip, preparation="fast")
        assert fast.preparation == "fast"
        assert not np.array_equal(fast.landmarks, official.landmarks)


# --- the command --------------------------------------------------------------------------------

@pytest.mark.slow
def test_roi_command_writes_three_files(face_clip: Path, tmp_path: Path) -> None:
    import av

    from forensics_gui.cli import main

    assert main(["roi", str(face_clip), "-o", str(tmp_path), "--quiet"]) == 0
    with av.open(str(tmp_path / "face_roi.mp4")) as c:
        st = c.streams.video[0]
        assert (st.width, st.height, st.average_rate, st.frames) == (96, 96, 25, 50)
    with wave.open(str(tmp_path / "face.wav")) as wf:
        assert (wf.getframerate(), wf.getnchannels(), wf.getsampwidth()) == (16000, 1, 2)
        assert abs(wf.getnframes() - 32000) <= 400
        pcm = np.frombuffer(wf.readframes(wf.getnframes()), "<i2")
    from forensics_gui.core.media.decode import decode_audio

    ref = decode_audio(face_clip, sample_rate=16000, mono=True).samples[0]
    np.testing.assert_array_equal(pcm, np.clip(np.rint(ref * 32768.0), -32768, 32767))
    assert np.abs(pcm).max() > 1000  # real sound, not silence
    track = roi.load_landmarks(tmp_path / "face_landmarks.npz")
    assert track.landmarks.shape == (50, 68, 2) and track.preparation == "official"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    fast_dir = tmp_path / "fast"
    assert main(["roi", str(face_clip), "-o", str(fast_dir), "--quiet", "--fast-landmarks"]) == 0
    fast = roi.load_landmarks(fast_dir / "face_landmarks.npz")
    assert fast.preparation == "fast" and fast.provenance == roi.preparation_record("fast")


def test_roi_command_without_face(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from forensics_gui.cli import main

    clip = tmp_path / "blank.mp4"
    make_clip(clip, duration_s=1.0, fps=25, width=160, height=120, face=False)
    out = tmp_path / "out"
    assert main(["roi", str(clip), "-o", str(out), "--quiet"]) == 2
    assert "No face" in capsys.readouterr().err
    assert (out / "blank.wav").exists() and (out / "blank_landmarks.npz").exists()
    assert not (out / "blank_roi.mp4").exists()
    assert main(["roi", str(tmp_path / "missing.mp4"), "-o", str(out), "--quiet"]) == 2


def test_progress_and_cancel(face_clip: Path) -> None:
    from forensics_gui.core.errors import Cancelled

    rec = RecordingProgress(None)
    roi.extract_mouth_roi(face_clip, progress=rec, workers=1)
    stages = [c[0] for c in rec.calls]
    assert stages[0] == "landmarks" and stages[-1] == "mouth crop"
    assert rec.calls[-1][1:] == (50, 50)
    with pytest.raises(Cancelled):
        roi.extract_mouth_roi(face_clip, progress=RecordingProgress(5))


def test_a_landmarks_file_that_is_not_one_is_a_sentence(tmp_path: Path) -> None:
    from forensics_gui.core.errors import MediaError

    text = tmp_path / "clip_landmarks.npz"
    text.write_text("not an npz")
    other = tmp_path / "other_landmarks.npz"
    np.savez(other, visual=np.zeros((3, 4), np.float32))
    for bad in (text, other):
        with pytest.raises(MediaError, match=bad.name):
            roi.load_landmarks(bad)
