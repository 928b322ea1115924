"""The playback clock: silent on the wall clock, or with QtMultimedia sound when asked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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
    """QMediaPlayer + QAudioOutput path (no device here: Qt plays into nothing, no error)."""
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
        assert c._player is not None, "no QMediaPlayer"
        assert ticks and ticks[-1] > 0.9 and not ahead, (ticks[-3:], ahead[:3])
        assert all(b >= a for a, b in zip(ticks, ticks[1:])), "clock went backwards"
        c.pause()
        print("OK")
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-2000:]
