"""The viewer says which mouth-crop preparation made a result: in the summary, in the exported
screenshot's caption, and through the Analysis menu setting that chooses it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from forensics_gui.core.face import roi


def _analysis(preparation: str | None) -> SimpleNamespace:
    return SimpleNamespace(main=None, scores={}, supervised={}, silence=None, models=[],
                           caveats=[], preparation=None if preparation is None
                           else roi.preparation_record(preparation))


def test_summary_names_the_preparation(qtbot) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.summary_panel import SummaryPanel

    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.set_analysis(_analysis("official"))
    text = panel.models_label.text()
    rec = roi.preparation_record("official")
    assert "mouth crop: official landmarks" in text and f"dlib {rec['dlib_version']}" in text
    assert rec["landmark_model_sha256"][:12] in text and rec["mean_face_sha256"][:12] in text
    panel.set_analysis(_analysis("fast"))
    assert "mouth crop: fast landmarks" in panel.models_label.text()
    panel.set_analysis(_analysis(None))  # a result from before the record: nothing invented
    assert "mouth crop" not in panel.models_label.text()


def test_screenshot_caption_names_the_preparation(qapp) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.core.evidence import snapshot as snap

    t = (np.arange(10) / 25.0).tolist()
    result = {"frame_scores": np.linspace(0, 1, 10).tolist(), "times_s": t, "video_score": 1.0,
              "pool": "lse", "preparation": roi.preparation_record("fast")}
    rec = result["preparation"]
    want = (f"Mouth crop: fast landmarks (dlib {rec['dlib_version']}, landmark model SHA-256 "
            f"{rec['landmark_model_sha256']}, mean face SHA-256 {rec['mean_face_sha256']})")
    data = snap.SnapshotData(frame=None, time_s=0.0, file_name="x.mp4", sha256="0" * 64,
                             version="t")
    snap.apply_result(data, result)
    assert want in snap.provenance_lines(data) and want in snap.caption_lines(data)
    del result["preparation"]
    data = snap.SnapshotData(frame=None, time_s=0.0, file_name="x.mp4", sha256="0" * 64,
                             version="t")
    snap.apply_result(data, result)
    assert "Mouth crop: preparation not recorded" in snap.caption_lines(data)


def test_analysis_menu_chooses_the_preparation_and_remembers_it(window) -> None:  # type: ignore[no-untyped-def]
    action = window.avh.fast_landmarks_action
    menu_texts = [a.text() for a in window.menu("Analysis").actions()]
    assert action.text() in menu_texts and action.isCheckable()
    assert not action.isChecked() and window.avh.state.preparation() == "official"  # exact by default
    action.setChecked(True)
    assert window.avh.state.preparation() == "fast"
    assert str(window.avh.state.settings.value("analysis/fast_landmarks")).lower() == "true"
    action.setChecked(False)
    assert window.avh.state.preparation() == "official"
