"""Landmarks: cv2-exact grey, the face tracker (one consistent track), interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_gui.core.face.landmarks import (
    FaceTracker,
    interpolate_track,
    ladder_scale,
    rgb_to_gray_cv2,
    shape_predictor_path,
)
from forensics_gui.testing.synth import talking_face_frame


def _canvas(width: int, height: int, faces: list[tuple[int, int, int]]) -> np.ndarray:
    """A grey-blue canvas with talking faces pasted as (x0, y0, side) squares."""
    img = np.full((height, width, 3), (70, 80, 95), np.uint8)
    for x0, y0, side in faces:
        img[y0:y0 + side, x0:x0 + side] = talking_face_frame(0.3, side, side)
    return img


def test_gray_is_opencv_fixed_point() -> None:
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 250]]],
                  np.uint8)
    assert rgb_to_gray_cv2(px).tolist() == [[76, 150, 29, 255, 28]]
    # float luma rounding gives 29 for (0, 0, 250): 0.114 * 250 = 28.5 rounds up, while
    # OpenCV's 15-bit fixed point gives (250 * 3735 + 2^14) >> 15 = 28; OpenCV 3's 14 bits: 29
    assert int(np.floor(0.114 * 250 + 0.5)) == 29
    assert rgb_to_gray_cv2(px, legacy14=True)[0, 4] == 29
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ref = (rgb[..., 0].astype(np.int64) * 9798 + rgb[..., 1].astype(np.int64) * 19235
           + rgb[..., 2].astype(np.int64) * 3735 + 16384) >> 15
    np.testing.assert_array_equal(rgb_to_gray_cv2(rgb), ref)
    with pytest.raises(ValueError):
        rgb_to_gray_cv2(rgb.astype(np.float32))


def test_model_file_is_found() -> None:
    path = shape_predictor_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 1e7


def test_interpolation_is_linear_between_detections_and_constant_at_ends() -> None:
    t = 10
    vals = np.zeros((t, 2, 2))
    detected = np.zeros(t, bool)
    for i, v in [(2, 10.0), (6, 30.0), (7, 40.0)]:
        vals[i], detected[i] = v, True
    out = interpolate_track(vals, detected)
    np.testing.assert_allclose(out[:, 0, 0], [10, 10, 10, 15, 20, 25, 30, 40, 40, 40])
    with pytest.raises(ValueError):
        interpolate_track(vals, np.zeros(t, bool))


def test_ladder_scale_is_one_of_the_official_scan_scales() -> None:
    for box in (40, 90, 150, 320, 700):
        s = ladder_scale(box)
        m = np.log(2.0 / s) / np.log(1.2)
        assert abs(m - round(m)) < 1e-9
        assert 100 <= box * s < 120 or s == 2.0


def test_tracker_follows_moving_face_and_matches_full_frame_predictor() -> None:
    import dlib

    tracker = FaceTracker((400, 300), preparation="fast")
    for i in range(8):
        img = _canvas(400, 300, [(40 + 12 * i, 30 + 3 * i, 200 + 4 * i)])
        res = tracker.process(img)
        assert res.points is not None and res.box is not None
        # the mouth (points 48..67) lies inside the pasted face square, near its lower middle
        mouth = res.points[48:68].mean(axis=0)
        side = 200 + 4 * i
        assert 40 + 12 * i + 0.4 * side < mouth[0] < 40 + 12 * i + 0.75 * side
        assert 30 + 3 * i + 0.5 * side < mouth[1] < 30 + 3 * i + 0.8 * side
        # the windowed predictor equals the predictor on the whole frame
        b = res.box
        rect = dlib.rectangle(int(round(float(b[0]))), int(round(float(b[1]))),
                              int(round(float(b[2]))) - 1, int(round(float(b[3]))) - 1)
        full = tracker.predictor(rgb_to_gray_cv2(img), rect)
        np.testing.assert_array_equal(res.points, [(p.x, p.y) for p in full.parts()])


def test_two_faces_one_consistent_track() -> None:
    """Start on the largest face; keep it even when the other one grows larger later."""
    tracker = FaceTracker((640, 320), preparation="fast")
    centres = []
    for i in range(6):
        big = (20, 40, 240)
        other_side = 170 + 30 * i  # 170 .. 320: ends larger than the tracked face
        other = (630 - other_side, 0, other_side)
        res = tracker.process(_canvas(640, 320, [big, other]))
        assert res.box is not None
        centres.append((res.box[0] + res.box[2]) / 2)
    assert all(c < 260 for c in centres), centres


@pytest.mark.parametrize("preparation", ["official", "fast"])
def test_no_face_and_lost_face(preparation: str) -> None:
    tracker = FaceTracker((320, 240), rescan_every=3, preparation=preparation)
    blank = np.full((240, 320, 3), 90, np.uint8)
    assert tracker.process(blank).points is None
    face = _canvas(320, 240, [(60, 20, 200)])
    assert tracker.process(face).points is not None
    assert tracker.process(blank).points is None  # lost: flagged, not guessed
    assert tracker.process(face).points is not None  # re-acquired


def test_face_free_frames_are_scanned_every_frame_for_one_second_then_sparsely(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = FaceTracker((160, 120), rescan_every=5, preparation="fast")
    scans = []
    real = tracker._full_scan
    monkeypatch.setattr(tracker, "_full_scan", lambda rgb: scans.append(1) or real(rgb))
    blank = np.full((120, 160, 3), 90, np.uint8)
    for _ in range(50):
        assert tracker.process(blank).points is None
    assert len(scans) == 25 + 5  # frames 1-25, then every 5th of frames 26-50


def test_official_mode_uses_full_frame_upsampled_detection_and_the_last_face() -> None:
    import dlib

    img = _canvas(420, 200, [(10, 10, 180), (230, 10, 180)])
    gray = rgb_to_gray_cv2(img)
    tracker = FaceTracker((420, 200), official=True)
    res = tracker.process(img)
    rects = tracker.detector(gray, 1)
    assert len(rects) == 2
    last = rects[len(rects) - 1]
    want = tracker.predictor(gray, last)
    np.testing.assert_array_equal(res.points, [(p.x, p.y) for p in want.parts()])
    assert res.box is not None and res.box[0] == last.left()
    assert isinstance(last, dlib.rectangle) and res.points[:, 0].mean() > 230  # right face
    # the fast tracker finds (almost) the same landmarks on that face alone
    fast = FaceTracker((420, 200), preparation="fast").process(_canvas(420, 200, [(230, 10, 180)]))
    assert fast.points is not None and np.abs(fast.points - res.points).mean() < 3


def _scripted_frames() -> list[np.ndarray]:
    """Frames where the face grows, jumps in size, moves, shrinks, vanishes and gets company."""
    frames = []
    sides = [120, 128, 138, 150, 162, 176, 190, 300, 290, 270, 250, 230, 215, 200, 140, 135]
    for i, side in enumerate(sides):
        frames.append(_canvas(640, 360, [(20 + 17 * i, (360 - side) // 2, side)]))
    frames.append(np.full((360, 640, 3), 90, np.uint8))  # no face
    frames.append(_canvas(640, 360, [(40, 60, 200)]))
    frames.append(_canvas(640, 360, [(40, 60, 200), (420, 40, 110)]))  # two faces
    frames.append(_canvas(640, 360, [(40, 60, 200), (300, 40, 260)]))
    frames.append(_canvas(640, 360, [(44, 62, 204)]))
    return frames


@pytest.mark.slow
def test_default_landmarks_equal_the_official_call_frame_by_frame() -> None:
    """The default preparation gives the official boxes and landmarks on every frame (also
    with two faces: the official LAST one), and skips pyramid levels on most frames."""
    exact = FaceTracker((640, 360))
    reference = FaceTracker((640, 360), official=True)
    assert exact.preparation == "official" and exact.official is False
    found = 0
    for k, img in enumerate(_scripted_frames()):
        got, want = exact.process(img), reference.process(img)
        assert (got.points is None) == (want.points is None), k
        if want.points is not None:
            found += 1
            np.testing.assert_array_equal(got.points, want.points, err_msg=f"frame {k}")
            np.testing.assert_array_equal(got.box, want.box, err_msg=f"frame {k}")
    assert found == 20
    # the level skipping answered the frames with a face of 90 px or more (small faces sit
    # on the top levels, which cannot be skipped); the empty frame, the first frame and the
    # two-face frames needed the full official call
    assert exact.exact.partial_scans >= 10, (exact.exact.partial_scans, exact.exact.full_scans)
    assert exact.exact.partial_scans + exact.exact.full_scans == 21


@pytest.mark.slow
def test_pyramid_levels_are_rebuilt_with_dlibs_own_arithmetic() -> None:
    """Scanning the rebuilt 2x image from level 0 finds the official boxes with dlib's mapping."""
    import dlib

    from forensics_gui.core.face.landmarks import OfficialDetector

    det = OfficialDetector(dlib.get_frontal_face_detector())
    gray = rgb_to_gray_cv2(_canvas(500, 300, [(30, 40, 150), (300, 60, 180)]))
    up = det._upsampled(gray)
    assert up.shape == (601, 1002)  # pyramid_up of pyramid_down<2>: 2n + 1 rows, 2n + 2 cols
    pyr2 = dlib.pyramid_down(2)
    rects = [pyr2.rect_down(r) for r in det.detector.run(up, 0, 0.0)[0]]
    want = det.detector(gray, 1)
    assert len(want) == 2
    assert [(r.left(), r.top(), r.right(), r.bottom()) for r in rects] == \
        [(r.left(), r.top(), r.right(), r.bottom()) for r in want]


def test_unknown_preparation_is_refused() -> None:
    with pytest.raises(ValueError):
        FaceTracker((320, 240), preparation="mediapipe")
