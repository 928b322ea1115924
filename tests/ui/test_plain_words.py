"""What a journalist reads in the viewer: plain words with the technical term in a tooltip, one
frame number, brief peaks explained in the list, a reference comparison that does not depend on
the clip's length, the out-of-date mark, and the keyboard coming back after Enter in the
quiet-level box."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

DEVELOPER_WORDS = ("log-sum-exp", "untrimmed", "tau", "−Φ", "-Phi", "max |amp|", "15 fr", "lse",
                   "ROI round trip", "video front end", "model frame")


def _result(scores: np.ndarray, threshold: float, segments: list[tuple[float, float]] | None = None,
            pool: str = "lse"):  # type: ignore[no-untyped-def]
    from forensics_gui.core.alignment.scoring import ScoreResult, find_segments, pool_scores

    scores = np.asarray(scores, np.float32)
    segs = find_segments(scores, threshold) if segments is None else segments
    return ScoreResult(scores, pool_scores(scores, pool), pool, segs, threshold, "unsupervised",
                       "ab" * 32, other_pool_scores={"mean": float(np.mean(scores))})


def _analysis(main, trimmed=None):  # type: ignore[no-untyped-def]
    scores = {"untrimmed": main}
    if trimmed is not None:
        scores["trimmed"] = trimmed
    return SimpleNamespace(main=main, scores=scores, supervised={}, silence=None, models=[],
                           caveats=[], preparation=None, face=None, roi_gray=None)


def _visible_text(panel) -> str:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    texts = [lab.text() for lab in panel.findChildren(QLabel) if lab.isVisibleTo(panel)]
    return "\n".join(texts + panel.list_texts())


# -- brief peaks: the curve crosses the dashed line, the list says why nothing is marked --------
def test_brief_peaks_above_the_line_are_explained_not_hidden(qtbot) -> None:
    from forensics_gui.ui.curves import CurvePanel
    from forensics_gui.ui.summary_panel import SummaryPanel
    from forensics_gui.ui.timeline import Timeline

    scores = np.zeros(100, np.float32)
    scores[20:22] = 1.0  # 2 frames (0.08 s) above the line
    scores[60:63] = 1.0  # 3 frames (0.12 s)
    main = _result(scores, 0.5)
    assert main.suspicious_segments == []  # the core rule: at least 5 frames
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.set_analysis(_analysis(main))
    texts = panel.list_texts()
    assert texts[0] == "none marked"
    assert texts[1] == "2 brief peaks above the line, each shorter than 0.2 s, not marked"
    assert texts[2:] == ["  brief peak at 00:00:00.800  (0.08 s)", "  brief peak at 00:00:02.400  (0.12 s)"]
    assert panel.segment_starts() == []  # peaks are not stretches to check
    assert "2 brief peaks above the line" in panel.verdict_label.text()
    with qtbot.waitSignal(panel.seek_requested) as blocker:  # a peak can be visited
        panel.segments_list.itemClicked.emit(panel.segments_list.item(3))
    assert blocker.args == [pytest.approx(2.4)]
    # The lanes agree: the curve goes above the dashed line, and no region is shaded.
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.set_clip(4.0)
    curves = CurvePanel(tl)
    curves.set_result("unsupervised", "untrimmed", main)
    _, y = curves.curve_items[("unsupervised", "untrimmed")].getData()
    assert float(np.max(y)) > curves.threshold_lines["untrimmed"].value()
    assert curves.segment_regions["untrimmed"] == []

    # A 5-frame run is marked, and is not also called a brief peak.
    scores[60:65] = 1.0
    main = _result(scores, 0.5)
    assert main.suspicious_segments == [pytest.approx((2.4, 2.6))]
    panel.set_analysis(_analysis(main))
    assert panel.list_texts() == ["00:00:02.400 – 00:00:02.600  (0.20 s)",
                                  "1 brief peak above the line, shorter than 0.2 s, not marked",
                                  "  brief peak at 00:00:00.800  (0.08 s)"]
    assert panel.segment_starts() == [pytest.approx(2.4)]
    # Nothing above the line: a plain "none", and no peak sentence.
    panel.set_analysis(_analysis(_result(np.zeros(50), 0.5)))
    assert panel.list_texts() == ["none"]


# -- the reference comparison does not depend on the clip's length -------------------------------
def test_a_long_clip_is_compared_with_short_references_per_frame() -> None:
    from forensics_gui.core.alignment.scoring import pool_scores
    from forensics_gui.ui.summary_panel import ReferenceScores, comparable_score, verdict_lines

    rng = np.random.default_rng(12)
    refs = [_result(rng.normal(-2.3, 0.3, 75), 0.0, []) for _ in range(40)]  # 3 s real clips
    clip = _result(rng.normal(-2.3, 0.3, 250), 0.0, [])  # 10 s, same per-frame distribution
    reference = ReferenceScores("real", [comparable_score(r) for r in refs], 0,
                                [r.num_frames / 25 for r in refs])
    # The published log-sum-exp grows with log N: compared raw, the long clip tops them all.
    raw = ReferenceScores("real", [pool_scores(r.frame_scores) for r in refs])
    assert raw.percentile(clip.video_score) == 100.0
    pct = reference.percentile(comparable_score(clip))
    assert 20.0 <= pct <= 80.0, pct
    # Log-mean-exp: log-sum-exp minus log N, the same for a clip and a copy of it twice as long.
    s = clip.frame_scores
    assert comparable_score(clip) == pytest.approx(pool_scores(s) - np.log(len(s)), rel=1e-6)
    assert comparable_score(_result(np.concatenate([s, s]), 0.0, [])) == pytest.approx(
        comparable_score(clip), rel=1e-5)
    assert comparable_score(_result(s, 0.0, [], pool="mean")) == pytest.approx(float(np.mean(s)), rel=1e-5)
    text = " ".join(verdict_lines(_analysis(clip), reference))
    below = reference.count_below(comparable_score(clip))
    assert f"higher than that of {below} of the 40 real reference clips (3.0 s long" in text
    assert "%" not in text and "within the range" in text


def test_a_handful_of_references_is_called_a_rough_comparison() -> None:
    from forensics_gui.ui.summary_panel import ReferenceScores, verdict_lines

    clip = _result(np.full(100, 5.0), 10.0, [])
    reference = ReferenceScores("real", [-3.0, -2.5, -2.0], 0, [2.0, 3.0, 4.0])
    text = " ".join(verdict_lines(_analysis(clip), reference))
    assert "higher than that of all 3 real reference clips (2.0–4.0 s long" in text
    assert "With only 3 reference clips this is a rough comparison" in text
    assert "100 %" not in text and "%" not in text and "unusual" not in text


# -- plain words on screen, the technical term in a tooltip ----------------------------------------
def test_panels_speak_plainly_and_keep_the_technical_terms_in_tooltips(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    from forensics_gui.core.evidence import wording
    from forensics_gui.ui.avh.progress_strip import ProgressStrip
    from forensics_gui.ui.curves import CurvePanel
    from forensics_gui.ui.info_panel import InfoPanel
    from forensics_gui.ui.summary_panel import SummaryPanel
    from forensics_gui.ui.timeline import Timeline

    scores = np.zeros(50, np.float32)
    scores[10:20] = 1.0
    main = _result(scores, 0.5)
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.set_analysis(_analysis(main, trimmed=_result(scores, 0.5)))
    shown = _visible_text(panel)
    for word in DEVELOPER_WORDS:
        assert word not in shown, word
    assert wording.MISMATCH_CURVE in panel.score_label.text()
    assert wording.MISMATCH_CURVE_TRIMMED in panel.score_label.text()
    headings = {lab.text(): lab.toolTip() for lab in panel.findChildren(QLabel)
                if lab.objectName() == "heading"}
    assert "log-sum-exp" in headings[wording.VIDEO_SCORE]
    assert "suspicious segment" in headings["Stretches to check"]
    assert "log-sum-exp" in panel.score_label.toolTip() and "log-mean-exp" in panel.score_label.toolTip()

    info = InfoPanel()
    qtbot.addWidget(info)
    info_text = "\n".join(lab.text() for lab in info.findChildren(QLabel))
    headers = [info.sweep_table.horizontalHeaderItem(i).text() for i in range(2)] + [
        info.amplitude_table.horizontalHeaderItem(i).text() for i in range(2)]
    for word in ("tau", "max |amp|", "Δ"):
        assert word not in info_text and not any(word in h for h in headers), word
    assert "tau" in info.tau_spin.toolTip()
    assert "max |amp|" in info.amplitude_table.horizontalHeaderItem(1).toolTip()
    tau_label = next(lab for lab in info.findChildren(QLabel) if lab.text() == wording.QUIET_LEVEL)
    assert "tau" in tau_label.toolTip()

    strip = ProgressStrip()
    qtbot.addWidget(strip)
    for stage, plain in (("ROI round trip", "Preparing the mouth images"),
                         ("video front end", "Reading the lips"), ("landmarks", "Finding the face")):
        strip.show_progress(stage, 1, 4, 3.0)
        assert strip.stage_label.text() == plain and stage in strip.stage_label.toolTip()
    assert strip.eta_label.text() == "00:03 left"

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.set_clip(2.0)
    curves = CurvePanel(tl)
    curves.set_result("unsupervised", "untrimmed", main)
    axis = curves.plot.getAxis("left")
    assert axis.labelText == "mismatch" and "−Φ" in axis.toolTip()
    assert curves.threshold_lines["untrimmed"].label.toPlainText() == wording.UNUSUAL_LINE
    sync_axis = curves.sync_plot.getAxis("left")
    assert "sync offset" in sync_axis.toolTip()
    assert [text for _, text in sync_axis._tickLevels[0]] == ["−0.6 s", "0", "+0.6 s"]
    legend_names = [label.text for _, label in curves._legend.items]
    assert legend_names[0] == "mismatch"
    assert not any(word in name for name in legend_names for word in DEVELOPER_WORDS)


# -- the window: one frame number, the out-of-date mark, the keyboard after Enter -------------------
@pytest.fixture
def analysed(window, clips, open_and_wait):  # type: ignore[no-untyped-def]
    """The window on the 2 s pattern clip with an analysis shown (a ScoreResult made in the test,
    finished through the views' own path, with the options' signature of that moment)."""
    open_and_wait(window, clips["av"].path, audio=False)
    scores = np.zeros(50, np.float32)
    scores[10:20] = 1.0
    analysis = _analysis(_result(scores, 0.5))
    avh = window.avh
    avh._run_signature = avh.state.signature(window.phi_checkpoint)
    avh._on_finished(analysis, False)
    assert avh.state.analysis is analysis and not avh.stale
    return window


def _pen_colour(item) -> str:  # type: ignore[no-untyped-def]
    pen = item.pen if hasattr(item, "pen") and not callable(item.pen) else item.opts["pen"]
    return pen.color().name()


def _blue_pixels(window) -> int:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage

    img = window.timeline.graphics.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    rgb = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w]
    rgb = rgb.reshape(h, w, 3).astype(int)
    return int(np.all(np.abs(rgb - np.array([0x4F, 0xA3, 0xFF])) <= 10, axis=-1).sum())


def test_changing_an_option_marks_the_curves_out_of_date_until_set_back(qtbot, analysed,
                                                                      tmp_path: Path) -> None:
    from forensics_gui.core.evidence import wording
    from forensics_gui.ui.avh.views import STALE_COLOUR
    from forensics_gui.ui.curves import VARIANT_COLOURS

    window = analysed
    avh, summary = window.avh, window.avh.summary
    item = avh.curves.curve_items[("unsupervised", "untrimmed")]
    blue = VARIANT_COLOURS["untrimmed"]
    assert _pen_colour(item) == blue and not summary.stale_bar.isVisibleTo(summary)
    before = _blue_pixels(window)
    assert before > 50

    for toggle in (avh.trimmed_action, avh.fast_landmarks_action):
        toggle.setChecked(not toggle.isChecked())
        assert avh.stale and summary.stale_bar.isVisibleTo(summary)
        assert summary.stale_label.text() == wording.OUT_OF_DATE
        assert summary.analyze_again_button.isVisibleTo(summary)
        assert not summary.score_label.isEnabled()  # greyed
        assert _pen_colour(item) == STALE_COLOUR
        assert _pen_colour(avh.curves.threshold_lines["untrimmed"]) == STALE_COLOUR
        assert avh.curves._notice.isVisible() and "Out of date" in avh.curves._notice.toPlainText()
        assert _blue_pixels(window) < before / 10  # what is drawn is grey now
        # mouth and voice depend on the face tracking only
        assert avh.lipsync.stale == (toggle is avh.fast_landmarks_action)
        toggle.setChecked(not toggle.isChecked())  # set back: the mark goes
        assert not avh.stale and not summary.stale_bar.isVisibleTo(summary)
        assert not avh.lipsync.stale
        assert _pen_colour(item) == blue and summary.score_label.isEnabled()
        assert not avh.curves._notice.isVisible()

    # Choosing a second detector (or another alignment network) changes the result too.
    sup = tmp_path / "sup.pt"
    sup.write_bytes(b"x")
    avh.set_supervised_checkpoint(sup)
    assert avh.stale
    avh.set_supervised_checkpoint(None)
    assert not avh.stale
    phi = tmp_path / "my_phi.pt"
    phi.write_bytes(b"x")
    window.set_phi_checkpoint(str(phi))  # Tools > Train… > "Use this model"
    assert avh.stale and summary.stale_bar.isVisibleTo(summary)
    window.phi_checkpoint = None  # back to the installed default
    avh.update_stale()
    assert not avh.stale
    avh.trimmed_action.toggle()
    with qtbot.waitSignal(summary.analyze_again_requested):
        summary.analyze_again_button.click()
    # A new clip forgets the analysis and the mark with it.
    assert avh.stale
    avh._on_media_opened(window.session.info)
    assert not avh.stale and not summary.stale_bar.isVisibleTo(summary)


def test_one_frame_number_the_videos_own(analysed) -> None:
    window = analysed
    curves = window.avh.curves
    window.seek(1.0)
    assert "frame 25 / 49" in window.transport.time_label.text()
    text = curves.readout_at(1.0)
    assert "frame 25" in text and "model frame" not in text
    label, tip = window.avh.frame_label(1.0)
    assert label == "frame 25" and tip.startswith("model frame 25")
    assert "counted from 0" in window.transport.time_label.toolTip()


def test_space_and_arrows_work_after_enter_in_the_quiet_level_box(qtbot, window, clips,
                                                                  open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=10000)
    line = window.info_panel.tau_spin.lineEdit()
    window.info_panel.tau_spin.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() in (line, window.info_panel.tau_spin),
                    timeout=10000)
    line.selectAll()
    qtbot.keyClicks(line, "0.001")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert window.info_panel.tau_spin.value() == pytest.approx(0.001)
    focus = QApplication.focusWidget()
    assert focus is not line and focus is not window.info_panel.tau_spin
    qtbot.keyClick(focus, Qt.Key.Key_Right)  # one frame forward, as the arrow promises
    qtbot.waitUntil(lambda: window.frame_index == 1, timeout=30000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert window.clock.playing
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not window.clock.playing


def test_references_scored_with_other_models_are_not_compared(analysed) -> None:
    from forensics_gui.ui.summary_panel import ReferenceScores

    avh = analysed.avh
    summary = avh.summary
    same = avh.reference_key(avh.state.analysis_signature)
    avh.state.reference = ReferenceScores("real", [-5.0, -4.0], 0, [3.0, 3.0], options_key=same)
    avh.show_reference()
    assert "higher than that of all 2 real reference clips (3.0 s long)" in summary.verdict_label.text()
    assert not summary.status_label.isVisibleTo(summary)
    other = ("fast",) + tuple(same[1:])  # scored with the fast face tracker
    avh.state.reference = ReferenceScores("real", [-5.0, -4.0], 0, [3.0, 3.0], options_key=other)
    avh.show_reference()
    assert "reference clips" not in summary.verdict_label.text()
    assert "This score is relative" in summary.verdict_label.text()
    assert summary.status_label.isVisibleTo(summary)
    assert "scored with another alignment network or mouth-crop preparation" in summary.status_label.text()
