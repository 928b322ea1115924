"""The playback clock: silent on the wall clock, or with QtMultimedia sound when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest


class _ManualElapsed:
    """Stands in for QElapsedTimer: the test moves the wall clock by hand (milliseconds)."""

    now_ms = 0

    def __init__(self) -> None:
        self._t0 = 0

    def start(self) -> None:
        self._t0 = _ManualElapsed.now_ms

    def elapsed(self) -> int:
        return _ManualElapsed.now_ms - self._t0

    def nsecsElapsed(self) -> int:  # noqa: N802 (Qt's name)
        return (_ManualElapsed.now_ms - self._t0) * 1_000_000


def test_silent_clock_rate_and_end(qtbot, monkeypatch) -> None:
    from forensics_gui.ui import player

    real = player.PlaybackClock(use_audio=False)
    real.set_media(None, 10.0, has_audio=False)
    real.start(1.0)
    qtbot.waitUntil(lambda: real.position() > 1.05, timeout=10000)  # it plays on the wall clock
    real.pause()
    # The arithmetic on a wall clock moved by hand, so a slow machine cannot change the numbers.
    monkeypatch.setattr(player, "QElapsedTimer", _ManualElapsed)
    clock = player.PlaybackClock(use_audio=False)
    clock.set_media(None, 10.0, has_audio=False)
    clock.set_rate(2.0)
    clock.start(1.0)
    _ManualElapsed.now_ms += 300
    t = clock.position()
    assert t == pytest.approx(1.6)  # 0.6 s of media in 0.3 s at 2x
    clock.set_rate(0.25)
    t_rate = clock.position()
    assert t_rate >= t  # no jump back when the rate changes
    _ManualElapsed.now_ms += 400
    assert clock.position() == pytest.approx(1.7)  # 0.1 s of media in 0.4 s at 0.25x
    clock.pause()
    paused = clock.position()
    _ManualElapsed.now_ms += 100
    assert clock.position() == paused
    clock.end_s = paused + 0.05
    with qtbot.waitSignal(clock.finished, timeout=10000):
        clock.set_rate(1.0)
        clock.start(paused)
        _ManualElapsed.now_ms += 100
    assert clock.position() == pytest.approx(clock.end_s)
    assert not clock.playing


@pytest.mark.slow
def test_clock_with_sound_player_runs_without_device(clips) -> None:
    """The sound path (SoundOutput) with use_audio=True: with or without a device, no error, and
    the picture's clock never runs ahead of 1x."""
    code = textwrap.dedent(f"""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from forensics_gui.ui.player import PlaybackClock
        from PySide6.QtCore import QElapsedTimer
        c = PlaybackClock(use_audio=True)
        c.set_media({str(clips["av"].path)!r}, 2.0, True)
        import numpy as np
        c.set_track(np.zeros((1, 96000), np.float32), 48000, 0.0)
        ticks, ahead = [], []
        wall = QElapsedTimer()
        loop = QEventLoop()
        def on_tick(t):
            ticks.append(t)
            if t - 0.5 > wall.elapsed() / 1000 + 0.001:  # media time never runs ahead of 1x
                ahead.append((t, wall.elapsed()))
            if t > 0.9:
                loop.quit()
        c.ticked.connect(on_tick)
        wall.start()
        c.start(0.5)
        QTimer.singleShot(60000, loop.quit)  # bounds a hang only
        loop.exec()
        assert ticks and ticks[-1] > 0.9 and not ahead, (ticks[-3:], ahead[:3])
        assert all(b >= a for a, b in zip(ticks, ticks[1:])), "clock went backwards"
        c.pause()
        print("OK")
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-2000:]


def test_stretch_keeps_pitch_and_places_onsets() -> None:
    """WSOLA at 0.5x and 0.25x: a 1 kHz tone stays at 1 kHz, lasts 2x / 4x as long, and a beep's
    onset comes out where the clock says (within a few ms of output time)."""
    from forensics_gui.ui.sound import Stretcher

    rate = 48000
    wav = np.zeros((1, 3 * rate), np.float32)
    n = int(0.04 * rate)
    wav[0, rate:rate + n] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
    for speed in (0.5, 0.25, 1.5, 2.0):
        s = Stretcher(wav, rate)
        s.start(0.5 * rate, speed)
        out = s.read(int(1.5 / speed * rate))[0]
        loud = np.flatnonzero(np.abs(out) > 0.05)
        onset = loud[0] / rate
        expected = (1.0 - 0.5) / speed
        assert abs(onset - expected) < 0.012, (speed, onset, expected)
        seg = out[loud[0]:loud[-1]]
        spectrum = np.abs(np.fft.rfft(seg, 1 << 16))
        assert abs(np.argmax(spectrum) * rate / (1 << 16) - 1000) < 15, speed
        assert 0.9 * 0.5 <= float(np.max(np.abs(out))) <= 1.1 * 0.5, speed  # loudness kept
        length = (loud[-1] - loud[0]) / rate
        assert 0.8 * 0.04 / speed <= length <= 1.35 * 0.04 / speed + 0.01, (speed, length)


def test_status_bar_sound_and_speed_and_offset_control(window, clips, open_and_wait) -> None:
    """Silent playback says so; the speed is always shown; a new clip opens at 1x; the sound
    offset moves in ms and frame steps, is shown and resets."""
    open_and_wait(window, clips["av"].path)
    label = window.playback_label.text()
    assert "No sound device — playing silently" in label and "Speed 1x" in label
    window.set_speed(2.0)
    assert "Speed 2x" in window.playback_label.text() and window.clock.rate == 2.0
    open_and_wait(window, clips["video_only"].path)
    assert window.transport.speed == 1.0 and window.clock.rate == 1.0
    assert "Speed 1x" in window.playback_label.text()
    window.set_audio_offset_ms(7)
    assert window.clock.audio_offset_s == pytest.approx(0.007)
    window.transport.nudge_offset(1)  # one 40 ms frame at 25 fps
    assert window.audio_offset_ms == pytest.approx(47)
    assert "47 ms" in window.transport.offset_box.text()
    assert "Sound offset +47 ms" in window.playback_label.text()
    assert any("Sound offset set in the player: +47 ms" in line
               for line in window.snapshot_data().extra_lines)  # recorded in exports
    window.set_audio_offset_ms(900)
    assert window.audio_offset_ms == 500
    window.transport.offset_reset.click()
    assert window.audio_offset_ms == 0 and window.clock.audio_offset_s == 0.0


def test_sound_state_sentences(qtbot) -> None:
    """What the status bar says: no device, a clip without sound, sound being prepared, a clip
    whose sound cannot be decoded, a device that failed."""
    from types import SimpleNamespace

    from forensics_gui.ui.player import PlaybackClock

    clock = PlaybackClock(use_audio=False)
    assert clock.sound_state() == "No sound device — playing silently"
    clock.sound = SimpleNamespace(has_track=False, set_track=lambda *a: None, stop=lambda: None)
    clock.device_name = "Speakers"
    clock.set_media("clip.mp4", 2.0, has_audio=False)
    assert clock.sound_state() == "Sound: Speakers (this clip has no sound)"
    clock.set_media("clip.mp4", 2.0, has_audio=True)
    assert "preparing" in clock.sound_state() and not clock.sound_ready()
    with qtbot.waitSignal(clock.sound_changed, timeout=5000):
        clock.track_failed()
    assert "cannot be decoded" in clock.sound_state() and clock.sound_ready()
    clock._on_sound_failed("The sound device Speakers could not be started; playing silently.")
    assert clock.sound is None and clock.sound_state().startswith("The sound device Speakers")


def test_sync_lane_estimate_beside_the_offset(window, clips, open_and_wait) -> None:
    """After an analysis, the sync lane's estimate for the frame shown sits beside the offset."""
    from types import SimpleNamespace

    open_and_wait(window, clips["av"].path)
    assert window.transport.lane_offset_label.text() == ""
    fake = SimpleNamespace(first_model_frame=0, sync_offset_frames=np.array([0] * 10 + [2] * 40))
    window.avh.curves.results = {("avh", "untrimmed"): fake}
    window.session.set_time(0.6)  # model frame 15 (25 fps model frames)
    assert window.transport.lane_offset_label.text() == "sound delay lane here: +80 ms (+2 frames)"
    window.avh.curves.results = {}
    window.session.set_time(0.2)
    assert window.transport.lane_offset_label.text() == ""
