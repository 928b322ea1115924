"""What a new user sees at 1280x800: widths and heights that leave controls usable, actions
enabled only when they can work, texts that do not mislead, the dock layout kept between runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
