"""What a new user sees at 1280x800: widths and heights that leave controls usable, actions
enabled only when they can work, texts that do not mislead, the dock layout kept between runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest


def _settle(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    window.resize(1280, 800)
    qtbot.wait(100)  # delivers the posted resize/layout events, all of them however slow the machine


def test_scrub_slider_spans_the_video_width(qtbot, window, clips, open_and_wait) -> None:
    # It shared one row with the buttons and the time/frame read-out: about 50 px were left.
    open_and_wait(window, clips["av"].path, audio=False)
    _settle(qtbot, window)
    slider, video = window.transport.slider, window.video_view
    assert slider.width() >= 0.9 * video.width()
    assert slider.width() > 500


def test_actions_are_enabled_only_when_they_can_work(qtbot, window, clips, open_and_wait) -> None:
    avh = window.avh
    # No clip: nothing to analyse or export, nothing to cancel.
    assert not avh.analyze_action.isEnabled() and not avh.analyze_button.isEnabled()
    assert not window.export_action.isEnabled()
    assert not avh.cancel_action.isEnabled()
    assert not avh.export_scores_action.isEnabled() and not avh.export_segments_action.isEnabled()

    open_and_wait(window, clips["av"].path, audio=False)
    assert avh.analyze_action.isEnabled() and avh.analyze_button.isEnabled()
    assert window.export_action.isEnabled()
    assert not avh.cancel_action.isEnabled()
    assert not avh.export_scores_action.isEnabled()  # no analysis yet

    # An audio-only clip cannot be analysed: the button says why before the user tries.
    open_and_wait(window, clips["audio_only"].path)
    assert not avh.analyze_action.isEnabled() and not avh.analyze_button.isEnabled()
    assert "no video stream" in avh.analyze_button.toolTip()
    assert "no video stream" in avh.summary.status_label.text()
    assert window.export_action.isEnabled()


def test_status_after_opening_does_not_claim_an_analysis(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path)
    qtbot.waitUntil(lambda: window.session.sha256 is not None, timeout=15000)
    text = window.statusBar().currentMessage()
    assert "analysis done" not in text.lower()
    assert "SHA-256" in text


def test_only_the_bottom_lane_shows_the_time_axis(qtbot) -> None:
    from forensics_gui.ui.timeline import Timeline

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(700, 500)
    tl.show()
    assert tl.time_axis_plots() == [tl.waveform_plot]
    lane = tl.add_plot("lane", y_label="lane", height=50)
    assert tl.time_axis_plots() == [lane]
    last = tl.add_plot("last", y_label="last", height=50)
    assert tl.time_axis_plots() == [last]
    for plot in tl.plots[:-1]:
        axis = plot.getAxis("bottom")
        assert not axis.label.isVisible() and not axis.style["showValues"]
    # Fixed lanes keep their plotting height whether or not they carry the time axis.
    qtbot.waitUntil(lambda: abs(lane.vb.height() - 50) <= 3 and abs(last.vb.height() - 50) <= 3,
                    timeout=30000)


def test_lanes_stay_readable_and_long_notices_wrap(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    _settle(qtbot, window)
    curves = window.avh.curves
    curves.ensure_plots()
    sentence = ("No face was found in a_rather_long_file_name_of_a_clip.mp4, so the audio-visual "
                "detector cannot run; the leading-silence analysis still applies.")
    curves.set_notice(sentence)
    qtbot.wait(100)  # delivers the posted layout events, all of them however slow the machine
    lane_width = curves.plot.vb.width()
    notice = curves._notice
    assert notice.textItem.toPlainText() == sentence
    # Wrapped to the lane (it ran off both edges of the plot before).
    assert notice.textItem.boundingRect().width() <= lane_width
    # The sync lane is tall enough to show its -15 / 0 / +15 frame ticks.
    assert curves.sync_plot.vb.height() >= 40
    # No empty legend box over the curves before an analysis.
    assert not curves._legend.isVisible()


def test_ground_truth_lanes_say_when_a_clip_has_none(qtbot, window, clips, open_and_wait,
                                                     tmp_path: Path) -> None:
    from forensics_gui.ui.curves import NO_GT_TEXT

    clip = tmp_path / "with_gt.mkv"
    shutil.copy(clips["av"].path, clip)
    clip.with_suffix(".json").write_text(json.dumps(
        {"file": clip.name, "modify_type": "audio_modified", "fake_segments": [[0.5, 1.0]],
         "audio_fake_segments": [[0.5, 1.0]], "visual_fake_segments": []}))
    with qtbot.waitSignal(window.avh.groundtruth_loaded, timeout=15000):
        open_and_wait(window, clip, audio=False)
    labels = window.avh.gt_lanes.labels
    assert labels["audio"].textItem.toPlainText() == "sound changed"

    # The next clip has no ground truth: the lanes must not read "sound changed … (empty) = real".
    open_and_wait(window, clips["av"].path, audio=False)
    texts = [labels[lane].textItem.toPlainText() for lane in ("audio", "visual", "both")]
    assert texts == ["", NO_GT_TEXT, ""]
    assert window.avh.gt_lanes.spans("audio") == []


@pytest.mark.parametrize("hidden", [True, False])
def test_dock_layout_is_restored(qtbot, qapp, window, hidden: bool) -> None:
    from forensics_gui.ui.main_window import MainWindow

    window.avh.dock.setVisible(not hidden)
    window.shutdown()
    again = MainWindow(use_audio=False)
    qtbot.addWidget(again)
    again.show()
    try:
        assert again.avh.dock.isVisibleTo(again) is (not hidden)
        assert again.avh.dock.toggleViewAction().isChecked() is (not hidden)
    finally:
        again.shutdown()


def test_summary_shows_the_measured_silence_before_any_analysis(qtbot, window, clips,
                                                                 open_and_wait) -> None:
    # It said "—" under "Leading silence" until an AVH-Align run, though the viewer knew it.
    summary = window.avh.summary
    open_and_wait(window, clips["av"].path)
    assert "30.0 ms of digital silence at the start (quiet level 0.0005)" in summary.silence_label.text()
    summary.clear("Analysing…")
    assert "30.0 ms" in summary.silence_label.text()
    open_and_wait(window, clips["video_only"].path)
    assert summary.silence_label.text() == "no audio stream"


# -- any screen: the window fits, lanes share the height, legends and read-outs stay off the data --
@pytest.mark.parametrize("screen", [(0, 0, 1024, 600), (0, 24, 1280, 696), (1920, 0, 1600, 1000)])
def test_the_window_opens_inside_the_available_screen(screen) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QRect, QSize

    from forensics_gui.ui import screen_fit

    available = QRect(*screen)
    client = screen_fit.default_geometry(available, QSize(914, 532))
    border = screen_fit.FRAME_ALLOWANCE
    frame = client.adjusted(-border.width() // 2, -(border.height() - border.width() // 2),
                            border.width() // 2, border.width() // 2)
    assert available.contains(frame), (client, available)
    assert client.width() >= 914 and client.height() >= 532
    assert client.width() <= screen_fit.PREFERRED.width()
    assert screen_fit.restorable(client, available)
    # a window saved on a bigger screen does not fit this one, nor one saved on another monitor
    assert not screen_fit.restorable(QRect(0, 0, available.width() + 200, 700), available)
    assert not screen_fit.restorable(QRect(available.right() + 100, 40, 800, 500), available)
    # a frame the window manager made bigger than the allowance is pulled back inside
    big_frame = QRect(available.x() - 10, available.y() + 5, available.width() + 40, available.height())
    inner = big_frame.adjusted(6, 30, -6, -6)
    moved = screen_fit.pulled_inside(big_frame, inner, available)
    assert available.contains(moved.adjusted(-6, -30, 6, 6))
    assert screen_fit.side_by_side(available) is (available.width() >= 1500)


def test_a_saved_geometry_is_restored_only_when_it_fits(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.main_window import MainWindow

    available = window.screen().availableGeometry()
    window.setGeometry(available.right() + 500, 40, 3000, 2000)  # another, larger monitor
    window.shutdown()
    again = MainWindow(use_audio=False)
    qtbot.addWidget(again)
    try:
        assert not again._geometry_restored
        geometry = again.geometry()
        assert available.contains(geometry.topLeft())
        assert geometry.width() <= max(available.width(), again.minimumSizeHint().width())
    finally:
        again.shutdown()


def test_the_minimum_size_fits_a_1024x600_screen_with_every_lane(qtbot, window, clips,
                                                                 open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    window.avh.ensure_lanes()  # mouth and voice, mismatch, sound delay
    window.avh.gt_lanes.ensure_plot()
    qtbot.wait(50)  # delivers the posted layout events
    minimum = window.minimumSizeHint()
    # 1024x600 less a window manager's frame and a panel (about 8 x 64 px)
    assert minimum.width() <= 1016 and minimum.height() <= 536, minimum
    # the lanes' minimum heights add up to the timeline's: they never overlap, the video shrinks
    tl = window.timeline
    assert tl.graphics.minimumHeight() >= sum(p.minimumHeight() for p in tl.plots)
    assert not window.splitter.childrenCollapsible()


def _lanes(qtbot):  # type: ignore[no-untyped-def]
    from forensics_gui.core.alignment.scoring import ScoreResult
    from forensics_gui.ui.curves import CurvePanel, GroundTruthLanes
    from forensics_gui.ui.timeline import Timeline

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(900, 420)
    tl.show()
    tl.set_clip(2.0)
    panel = CurvePanel(tl)
    scores = np.sin(np.arange(50) / 4.0).astype(np.float32)
    res = ScoreResult(scores, 1.5, "lse", [(0.4, 0.8)], 0.5, "unsupervised", "ab",
                      np.zeros(50, np.int32), np.full(50, 0.3, np.float32))
    panel.set_result("unsupervised", "untrimmed", res)
    GroundTruthLanes(tl).ensure_plot()
    qtbot.waitUntil(lambda: panel.plot.vb.height() > 0, timeout=30000)
    return tl, panel


def test_the_curve_lane_grows_with_the_timeline_and_fixed_lanes_keep_their_height(qtbot) -> None:
    from forensics_gui.ui.curves import FAKENESS_MIN_PX, SYNC_LANE_PX

    tl, panel = _lanes(qtbot)
    qtbot.waitUntil(lambda: panel.plot.vb.height() >= FAKENESS_MIN_PX - 3, timeout=30000)
    small = tl.lane_heights()
    tl.resize(900, 720)
    qtbot.waitUntil(lambda: tl.lane_heights()["fakeness"] > small["fakeness"] + 100, timeout=30000)
    tall = tl.lane_heights()
    assert tall["waveform"] > small["waveform"]  # the waveform grows too, less
    assert tall["fakeness"] - small["fakeness"] > tall["waveform"] - small["waveform"]
    assert abs(tall["sync"] - small["sync"]) <= 1 and abs(tall["sync"] - SYNC_LANE_PX) <= 3


def test_legend_sits_above_the_data_and_the_read_out_inside_it(qtbot) -> None:
    from PySide6.QtCore import QPointF

    from forensics_gui.core.evidence import wording
    from forensics_gui.ui.curves import LEGEND_ROW_PX

    tl, panel = _lanes(qtbot)
    legend = panel._legend
    assert legend.isVisible()
    assert [label.text for _, label in legend.items] == ["mismatch", wording.UNUSUAL_LINE]
    assert not panel.threshold_lines["untrimmed"].label.isVisible()  # not written on the curve
    qtbot.waitUntil(lambda: legend.sceneBoundingRect().height() > 0, timeout=30000)
    for plot in tl.plots:
        assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect()), plot.vb.name
    for width in (900, 380):  # one line in the strip above the data; wrapped inside the lane
        tl.resize(width, 420)
        qtbot.waitUntil(lambda w=width: abs(tl.graphics.width() - w) <= 2, timeout=30000)
        vb = panel.plot.vb.sceneBoundingRect()
        strip_and_lane = vb.adjusted(-1, -LEGEND_ROW_PX - 1, 1, 1)
        for fx in (0.99, 0.01, 0.5):  # near the right edge, the left edge, the middle
            panel._on_mouse_moved(QPointF(vb.left() + fx * vb.width(), vb.center().y()))
            assert panel._readout.isVisible() and "mismatch" in panel.hover_text
            r = panel.readout_rect()
            assert strip_and_lane.contains(r), (width, fx, r, vb)
            if width == 900:  # it fits on one line: no value written over the curve
                assert r.bottom() <= vb.top() + 1 and not legend.isVisible()
            else:
                assert vb.adjusted(-1, -1, 1, 1).contains(r) and legend.isVisible()
                assert not r.intersects(legend.sceneBoundingRect())
        panel._on_mouse_moved(QPointF(vb.left() - 20, vb.top() - 40))  # the pointer leaves
        assert not panel._readout.isVisible() and legend.isVisible()


def test_the_wheel_zooms_time_only_and_reset_zoom_shows_the_whole_clip(qtbot, window) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    tl = window.timeline
    tl.set_clip(2.0)
    window.avh.curves.ensure_plots()
    qtbot.waitUntil(lambda: window.avh.curves.plot.vb.height() > 0, timeout=30000)
    view = tl.graphics
    before = [p.vb.viewRange() for p in tl.plots]
    for plot in tl.plots:
        pos = QPointF(view.mapFromScene(plot.vb.sceneBoundingRect().center()))
        wheel = QWheelEvent(pos, QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                            QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), wheel)
    after = [p.vb.viewRange() for p in tl.plots]
    for (x0, y0), (x1, y1) in zip(before, after, strict=True):
        assert x1[1] - x1[0] < x0[1] - x0[0]  # time zoomed in
        assert y1 == pytest.approx(y0)  # amplitude untouched
    assert tl.is_zoomed()
    assert window.reset_zoom_action.shortcut().toString() == "Ctrl+0"
    assert window.reset_zoom_action in window.view_menu.actions()
    button = tl.reset_zoom_button
    assert button.text() == "Reset zoom" and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not tl.is_zoomed()
    for plot, (_, y0) in zip(tl.plots, before, strict=True):
        assert plot.vb.viewRange()[1] == pytest.approx(y0)


def test_info_tables_show_every_row_under_their_heading(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path)
    window.info_dock.raise_()
    panel = window.info_panel
    qtbot.waitUntil(lambda: panel.sweep_table.rowCount() > 0, timeout=30000)
    for table in (panel.sweep_table, panel.amplitude_table):
        last = table.visualItemRect(table.item(table.rowCount() - 1, 1))
        assert table.visualItemRect(table.item(0, 0)).top() >= 0
        assert last.bottom() < table.viewport().height(), table.horizontalHeaderItem(0).text()
        assert table.horizontalHeader().geometry().bottom() < table.viewport().geometry().top()


def test_docks_saved_side_by_side_share_tabs_on_a_narrower_screen(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    from forensics_gui.ui.main_window import MainWindow

    window.splitDockWidget(window.info_dock, window.avh.dock, Qt.Orientation.Horizontal)
    assert window.avh.dock not in window.tabifiedDockWidgets(window.info_dock)
    window.shutdown()  # saved side by side (as on a 1600 px screen)
    again = MainWindow(use_audio=False)  # the offscreen screen is 800 px wide
    qtbot.addWidget(again)
    again.show()
    try:
        assert again.avh.dock in again.tabifiedDockWidgets(again.info_dock)
        assert not again.avh.dock.isHidden() and not again.info_dock.isHidden()  # both kept
    finally:
        again.shutdown()


_DIALOG_PROBE = """
import json, os, sys
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication
app = QApplication([])
from forensics_gui.ui import screen_fit
screen_fit.available_area = lambda widget: QRect(0, 0, 1024, 600)
from forensics_gui.ui.audit_dialog import AuditDialog
from forensics_gui.ui.models_dialog import ModelsDialog
from forensics_gui.ui.training_dialog import TrainingDialog
sizes = {}
for name, cls in (("training", TrainingDialog), ("audit", AuditDialog), ("models", ModelsDialog)):
    dialog = cls()
    dialog.show()
    app.processEvents()
    sizes[name] = [dialog.width(), dialog.height(), dialog.minimumSizeHint().height()]
    if name == "models":
        while dialog.hashing:
            app.processEvents()
        dialog.reject()
    else:
        dialog.shutdown()
    dialog.deleteLater()
    app.processEvents()
print(json.dumps(sizes), flush=True)
os._exit(0)  # the sizes are out; Qt's teardown at exit is not what this probe checks
"""


def test_dialogs_open_inside_a_1024x600_screen(tmp_path: Path) -> None:
    """Every tool dialog opens no larger than 95 % x 90 % of a small laptop screen, and its
    layout can shrink to that (so Start/Close stay on screen under a title bar). The dialogs
    are built in a child process: their plots' teardown stays out of this test process."""
    import os
    import subprocess
    import sys

    from PySide6.QtCore import QRect, QSize

    from forensics_gui.ui import screen_fit

    assert screen_fit.dialog_size(QRect(0, 0, 1024, 600), 900, 760) == QSize(900, 540)
    assert screen_fit.dialog_size(QRect(0, 0, 2560, 1440), 900, 760) == QSize(900, 760)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FORENSICS_GUI_MODELS": str(tmp_path / "models"),
           "FORENSICS_GUI_CACHE": str(tmp_path / "cache"), "FORENSICS_GUI_SETTINGS": str(tmp_path / "s.ini")}
    done = subprocess.run([sys.executable, "-c", _DIALOG_PROBE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    sizes = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(sizes) == {"training", "audit", "models"}
    for name, (width, height, minimum) in sizes.items():
        assert width <= 1024 * 0.95 and height <= 600 * 0.9, name
        assert minimum <= 600 * 0.9 - 10, (name, minimum)  # a little room for other fonts
