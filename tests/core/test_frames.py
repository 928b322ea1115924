"""core.evidence.frames: the frame, face box and mouth crop at chosen times, from the analysis
cache (what the model saw) or re-detected, for pictures made without the viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.evidence import frames
from forensics_gui.testing.synth import make_clip

pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("frames")
    return make_clip(d / "talk.mkv", duration_s=1.2, leading_silence_ms=40, width=256,
                     height=256).path


def test_no_video_gives_views_without_a_frame(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mkv", duration_s=0.5, video=False).path
    views = frames.face_and_mouth(clip, [0.1, 0.3])
    assert [v.source for v in views] == [frames.SOURCE_NONE] * 2
    assert all(v.frame is None and v.mouth is None and v.face_box is None for v in views)
    assert views[0].note == frames.NOTE_NO_VIDEO


@pytest.mark.slow
def test_redetected_crop_equals_the_official_crop_and_cache_gives_what_the_model_saw(
        face_clip: Path) -> None:
    from forensics_gui.core.face.roi import extract_mouth_roi
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    times = [0.0, 0.5, 1.19, 5.0]  # 5.0 is past the end: clamped to the clip
    views = frames.face_and_mouth(face_clip, times)
    assert [v.source for v in views] == [frames.SOURCE_REDETECTED] * 4
    assert all("re-detected for this picture" in v.note for v in views)
    assert views[3].time_s == pytest.approx(1.2)
    ref = extract_mouth_roi(face_clip)  # the official pipeline over the whole clip
    for v in views:
        assert v.frame is not None and v.frame.shape == (256, 256, 3)
        assert v.mouth is not None and v.mouth.shape == (96, 96) and v.mouth.dtype == np.uint8
        k = v.model_frame
        assert k is not None and ref.detected[k]
        # every frame of the window has the face: the re-detected crop IS the official one
        np.testing.assert_array_equal(v.mouth, ref.gray[k])
        assert v.face_box is not None
        np.testing.assert_allclose(v.face_box, ref.face_boxes[k], atol=1e-3)
    # the face box lies inside the frame around the drawn face
    x0, y0, x1, y1 = views[1].face_box  # type: ignore[misc]
    assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256 and x1 - x0 > 40

    # After an analysis, the crop comes from its cache: what the model saw (after the mp4 round
    # trip), not a re-detection.
    analyzer = Analyzer(AnalysisOptions())
    face, gray = analyzer.mouth_roi(face_clip, _sha(face_clip), None)
    assert gray is not None
    cached = frames.face_and_mouth(face_clip, [0.5])
    assert cached[0].source == frames.SOURCE_ANALYSIS and cached[0].note == frames.NOTE_ANALYSIS
    np.testing.assert_array_equal(cached[0].mouth, gray[12])
    assert cached[0].face_box == pytest.approx(tuple(face.face_boxes[12]))
    # use_cache=False re-detects even so
    assert frames.face_and_mouth(face_clip, [0.5], use_cache=False)[0].source == \
        frames.SOURCE_REDETECTED


@pytest.mark.slow
def test_clip_without_a_face_says_so(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "pattern.mkv", duration_s=0.4, width=160, height=120,
                     face=False, pattern=True).path
    (view,) = frames.face_and_mouth(clip, [0.2], window=3)
    assert view.frame is not None and view.frame.shape == (120, 160, 3)
    assert view.face_box is None and view.mouth is None and view.note == frames.NOTE_NO_FACE


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
