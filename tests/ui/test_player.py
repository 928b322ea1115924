"""The playback clock: silent on the wall clock, or with QtMultimedia sound when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def test_silent_clock_rate_and_end(qtbot) -> None:
    from forensics_gui.ui.player import PlaybackClock

    clock = PlaybackClock(use_audio=False)
    clock.set_media(None, 10.0, has_audio=False)
    clock.set_rate(2.0)
    clock.start(1.0)
    qtbot.wait(300)
    t = clock.position()
    assert 1.4 < t < 2.2  # ~0.6 s of media in 0.3 s at 2x (loose: shared CI machines)
    clock.set_rate(0.25)
    t_rate = clock.position()
    assert t_rate >= t  # no jump back when the rate changes
    clock.pause()
    paused = clock.position()
    qtbot.wait(100)
    assert clock.position() == paused
    clock.end_s = paused + 0.05
    with qtbot.waitSignal(clock.finished, timeout=3000):
        clock.set_rate(1.0)
        clock.start(paused)
    assert clock.position() == pytest.approx(clock.end_s)
    assert not clock.playing


def test_clock_with_sound_player_runs_without_device(clips) -> None:
    """QMediaPlayer + QAudioOutput path (no device here: Qt plays into nothing, no error)."""
    code = textwrap.dedent(f"""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from forensics_gui.ui.player import PlaybackClock
        c = PlaybackClock(use_audio=True)
        c.set_media({str(clips["av"].path)!r}, 2.0, True)
        ticks = []
        c.ticked.connect(ticks.append)
        c.start(0.5)
        loop = QEventLoop(); QTimer.singleShot(800, loop.quit); loop.exec()
        assert c._player is not None, "no QMediaPlayer"
        assert ticks and 0.9 < ticks[-1] < 1.6, ticks[-3:]
        assert all(b >= a for a, b in zip(ticks, ticks[1:])), "clock went backwards"
        c.pause()
        print("OK")
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-2000:]
