"""What a user sees in the viewer: silence shading, stepping, seeking, playback, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from forensics_gui.testing.synth import decode_pattern_index


def test_silence_region_and_tau(qtbot, window, clips, open_and_wait) -> None:
    clip = clips["av"]
    open_and_wait(window, clip.path)
    lo, hi = window.timeline.silence_region_s()
    assert lo == pytest.approx(0.0, abs=1e-9)
    assert hi * 1000 == pytest.approx(clip.leading_silence_ms, abs=0.05)
    assert "30.0 ms" in window.timeline.silence_label.textItem.toPlainText()
    assert window.timeline.silence_region.movable is False
    # waveform drawn
    x, _ = window.timeline.curve.getData()
    assert x is not None and len(x) > 100
    # a tau above the room noise (~0.004 std): the silence grows
    window.info_panel.tau_spin.setValue(0.05)
    assert window.session.threshold == pytest.approx(0.05)
    lo2, hi2 = window.timeline.silence_region_s()
    assert hi2 > hi + 0.001
    assert window.timeline.tau_lines[0].value() == pytest.approx(0.05)
    assert window.timeline.tau_lines[1].value() == pytest.approx(-0.05)
    expected = window.session.silence.leading_silence_ms / 1000
    assert hi2 == pytest.approx(expected)
    # log-ish steps
    window.info_panel.tau_spin.setValue(0.0005)
    window.info_panel.tau_spin.stepBy(1)
    assert window.session.threshold == pytest.approx(0.001)
    window.info_panel.tau_spin.stepBy(-2)
    assert window.session.threshold == pytest.approx(0.0002)
    # sweep tables filled, with core's table grids
    from forensics_gui.core.media.silence import TABLE_DELTAS_MS, TABLE_TAUS

    assert window.info_panel.sweep_table.rowCount() >= 5
    assert window.info_panel.sweep_table.rowCount() == len(TABLE_TAUS)
    assert window.info_panel.amplitude_table.rowCount() == len(TABLE_DELTAS_MS)
    assert window.info_panel.amplitude_table.item(0, 1).text() != ""


def _shown_index(window) -> int:  # type: ignore[no-untyped-def]
    return decode_pattern_index(window.video_view.frame)


def test_step_home_end_and_time_label(qtbot, window, clips, open_and_wait) -> None:
    clip = clips["av"]
    open_and_wait(window, clip.path, audio=False)
    assert _shown_index(window) == 0
    before = window.video_view.grab().toImage()
    window.video_view.setFocus()
    qtbot.keyClick(window.video_view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.frame_index == 1, timeout=30000)
    assert window.timeline.playheads[0].value() == pytest.approx(0.04)
    assert _shown_index(window) == 1
    after = window.video_view.grab().toImage()
    assert before != after  # the pixels on screen changed
    window.transport.step_button.click()
    qtbot.waitUntil(lambda: window.frame_index == 2, timeout=30000)
    assert window.timeline.playheads[0].value() == pytest.approx(0.08)
    text = window.transport.time_label.text()
    assert re.match(r"00:00:00\.080\s+frame 2 / 49", text), text
    qtbot.keyClick(window.video_view, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: window.frame_index == clip.n_frames - 1, timeout=30000)
    assert _shown_index(window) == clip.n_frames - 1
    assert "00:00:01.960" in window.transport.time_label.text()
    qtbot.keyClick(window.video_view, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: window.frame_index == 0, timeout=30000)
    assert window.session.time_s == 0.0
    qtbot.keyClick(window.video_view, Qt.Key.Key_Left)  # clamped at the first frame
    assert window.session.time_s == 0.0


def test_click_waveform_seeks(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    tl = window.timeline
    pos = tl.scene_pos_for_time(1.0)
    assert tl.seek_at_scene_pos(pos)
    assert window.session.time_s == pytest.approx(1.0, abs=0.02)
    qtbot.waitUntil(lambda: window.frame_index == 25, timeout=30000)
    assert tl.playheads[0].value() == pytest.approx(window.session.time_s)
    # a real mouse click in the view lands on the same handler
    view_pos = tl.graphics.mapFromScene(tl.scene_pos_for_time(0.5))
    qtbot.mouseClick(tl.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view_pos)
    qtbot.waitUntil(lambda: abs(window.session.time_s - 0.5) < 0.03, timeout=30000)
    assert not tl.seek_at_scene_pos(QPointF(-1000, -1000))


def test_play_without_audio_device_advances_and_stops(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    window.session.set_time(1.5)
    window.transport.speed_box.setCurrentIndex(window.transport.speed_box.findData(2.0))
    qtbot.keyClick(window.video_view, Qt.Key.Key_Space)
    assert window.clock.playing
    qtbot.waitUntil(lambda: window.session.time_s > 1.6, timeout=30000)
    qtbot.waitUntil(lambda: not window.clock.playing, timeout=30000)
    assert window.session.time_s == pytest.approx(window.session.duration_s)
    qtbot.waitUntil(lambda: window.frame_index == clips["av"].n_frames - 1, timeout=30000)
    # K pauses, L plays, J slows down
    qtbot.keyClick(window.video_view, Qt.Key.Key_Home)
    qtbot.keyClick(window.video_view, Qt.Key.Key_L)
    assert window.clock.playing
    qtbot.keyClick(window.video_view, Qt.Key.Key_J)
    assert window.transport.speed == 1.5
    qtbot.keyClick(window.video_view, Qt.Key.Key_K)
    assert not window.clock.playing


def test_broken_file_keeps_previous_clip(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    assert not window.open_path(clips["broken"])
    assert window.last_error and window.last_error.endswith(".")
    assert window._error_box is not None and window._error_box.isVisible()
    assert window.session.info.path.name == "pattern.mkv"
    assert window.video_view.frame is not None
    assert not window.open_path(clips["broken"].parent / "missing.mp4")
    window._error_box.close()


def test_audio_only_and_video_only(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["audio_only"].path)
    assert "No video stream" in window.video_view.notice
    assert window.video_view.frame is None
    x, _ = window.timeline.curve.getData()
    assert x is not None and len(x) > 100
    assert window.timeline.silence_region_s()[1] * 1000 == pytest.approx(30.0, abs=0.05)
    window.step(1)  # steps without video move by a fixed amount
    assert window.session.time_s == pytest.approx(0.04)

    open_and_wait(window, clips["video_only"].path)
    panel = window.info_panel
    assert not panel.silence_box.isVisibleTo(panel)
    assert panel.silence_notice.isVisibleTo(panel)
    assert "No audio stream" in panel.silence_notice.text()
    assert window.timeline.silence_region_s() is None
    assert "No audio" in window.timeline.notice.textItem.toPlainText()


def test_sha256_and_recent_files(qtbot, window, clips, open_and_wait) -> None:
    import hashlib

    path = clips["av"].path
    open_and_wait(window, path, audio=False)
    qtbot.waitUntil(lambda: window.session.sha256 is not None, timeout=10000)
    assert window.session.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert window.info_panel.sha_text() == window.session.sha256
    assert window.recent_files()[0] == str(path.resolve())
    assert window.recent_menu.actions()[0].text() == "pattern.mkv"


def test_export_screenshot_from_window(qtbot, window, clips, tmp_path, open_and_wait) -> None:
    from PySide6.QtGui import QImage

    open_and_wait(window, clips["av"].path)
    qtbot.waitUntil(lambda: window.session.sha256 is not None, timeout=10000)
    window.step(1)
    qtbot.waitUntil(lambda: window.frame_index == 1, timeout=30000)
    out = window.export_screenshot(tmp_path / "shot.png", note="checked by test")
    img = QImage(str(out))
    assert not img.isNull() and img.width() == 1280
    data = window.snapshot_data("checked by test")
    from forensics_gui.core.evidence.snapshot import caption_lines

    text = "\n".join(caption_lines(data))
    assert window.session.sha256 in text and "Frame 1" in text and "checked by test" in text
    assert np.array_equal(data.frame, window.video_view.frame)


def test_zoom_redraws_visible_range_and_double_click_resets(qtbot, window, clips,
                                                            open_and_wait) -> None:
    open_and_wait(window, clips["av"].path)
    tl = window.timeline
    tl.waveform_plot.setXRange(0.5, 0.52, padding=0.0)
    qtbot.waitUntil(lambda: tl.curve.getData()[0].max() < 0.53, timeout=30000)
    x, y = tl.curve.getData()
    assert x.min() >= 0.499 and len(x) == pytest.approx(0.02 * 48000, abs=3)  # raw samples
    audio = window.session.audio.track.samples[0]
    np.testing.assert_allclose(y[:10], audio[24000:24010], atol=1e-6)
    tl.reset_view()
    qtbot.waitUntil(lambda: tl.curve.getData()[0].max() > 1.9, timeout=30000)
    x, _ = tl.curve.getData()
    assert len(x) < 4 * 4 * tl.waveform_plot.vb.width()  # min/max pairs, not 96000 samples


def test_add_plot_shares_axis_playhead_and_click(qtbot, window, clips, open_and_wait) -> None:
    open_and_wait(window, clips["av"].path, audio=False)
    tl = window.timeline
    curve_plot = tl.add_plot("fakeness", y_label="score", height=90)
    curve_plot.plot([0, 1, 2], [0.1, 0.9, 0.2])
    qtbot.wait(50)  # let the new plot get its geometry
    tl.waveform_plot.setXRange(0.2, 1.2, padding=0.0)
    (x0, x1), _ = curve_plot.vb.viewRange()
    assert (x0, x1) == pytest.approx((0.2, 1.2))
    window.session.set_time(0.8)
    assert tl.playheads[-1].value() == pytest.approx(0.8)
    assert tl.seek_at_scene_pos(tl.scene_pos_for_time(1.0, plot_index=len(tl.plots) - 1))
    assert window.session.time_s == pytest.approx(1.0, abs=0.02)
