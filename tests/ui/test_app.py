"""Settings, drag and drop, run_app and the demo clip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent


def test_settings_remembered_between_windows(qtbot, clips, open_and_wait) -> None:
    from forensics_gui.ui.main_window import MainWindow

    w1 = MainWindow(use_audio=False)
    qtbot.addWidget(w1)
    open_and_wait(w1, clips["av"].path, audio=False)
    w1.info_panel.tau_spin.setValue(0.002)
    w1.resize(700, 500)  # inside the 800x800 offscreen screen
    w1.close()  # closeEvent stops the workers and saves the geometry
    assert not w1.decoder.isRunning()
    w2 = MainWindow(use_audio=False)
    qtbot.addWidget(w2)
    assert w2.session.threshold == pytest.approx(0.002)
    assert w2.info_panel.tau_spin.value() == pytest.approx(0.002)
    assert w2.recent_files() == [str(Path(clips["av"].path).resolve())]
    assert (w2.width(), w2.height()) == (700, 500)
    w2.shutdown()


def test_drop_opens_file(qtbot, window, clips) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clips["video_only"].path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.session.info.path.name == "video_only.mkv"
    qtbot.waitUntil(lambda: window.video_view.frame is not None, timeout=10000)


def test_run_app_opens_clip_and_quits(qtbot, clips) -> None:
    from PySide6.QtWidgets import QApplication

    from forensics_gui.ui.app import run_app
    from forensics_gui.ui.main_window import MainWindow

    seen: dict[str, object] = {}

    def check() -> None:
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        live = [w for w in wins if w.isVisible()]
        if live and live[-1].video_view.frame is not None:
            seen["name"] = live[-1].session.info.path.name
            seen["title"] = live[-1].windowTitle()
            proc = live[-1].avh.runner.prepare_process
            seen["child"] = proc is not None and proc.is_alive()
            live[-1].close()
            QApplication.instance().quit()
        else:
            QTimer.singleShot(50, check)

    QTimer.singleShot(50, check)
    safety = QTimer()
    safety.setSingleShot(True)
    safety.timeout.connect(QApplication.instance().quit)
    safety.start(60000)  # bounds a hang only: a loaded machine may take long to show the clip
    try:
        assert run_app(str(clips["av"].path)) == 0
    finally:
        safety.stop()  # a late quit() would end the event loops of the following tests
    assert seen["name"] == "pattern.mkv" and "pattern.mkv" in str(seen["title"])
    # The face-tracking child starts with the app (not on the first Analyze) and ends with it.
    import multiprocessing

    assert seen["child"] is True
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_demo_clip_generated_once(tmp_path) -> None:
    from forensics_gui.core.media.decode import probe
    from forensics_gui.core.media.silence import leading_silence
    from forensics_gui.demo import ensure_demo_clip

    path = ensure_demo_clip()
    assert path.parent == tmp_path / "data" / "demo"
    info = probe(path)
    assert info.duration_s == pytest.approx(8.0, abs=0.05) and info.video is not None
    from forensics_gui.core.media.decode import decode_audio

    assert leading_silence(decode_audio(path), threshold=0.0005).leading_silence_ms == \
        pytest.approx(30.0, abs=0.05)
    mtime = path.stat().st_mtime_ns
    assert ensure_demo_clip() == path and path.stat().st_mtime_ns == mtime


# The viewer as ``python -m forensics_gui CLIP`` runs it, plus one probe: when the app installs
# its TERM handler, a zero-delay timer writes the file argv[1]; the timer fires once the event
# loop turns, so the file means "window shown, handler installed, loop running".
_TERM_CHILD = textwrap.dedent("""
    import signal
    import sys
    from pathlib import Path

    from forensics_gui.cli import main

    ready = Path(sys.argv[1])
    install = signal.signal

    def probe(sig, handler):
        previous = install(sig, handler)
        if sig == signal.SIGTERM and callable(handler):
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, lambda: ready.write_text("ready", encoding="utf-8"))
        return previous

    signal.signal = probe
    raise SystemExit(main(sys.argv[2:]))
""")


@pytest.mark.slow
def test_term_signal_closes_the_viewer_cleanly(clips, tmp_path) -> None:
    """A TERM signal (or Ctrl+C) quits through the normal shutdown: exit 0, no traceback, no
    leaked child-process resources. The signal is sent once the viewer says it is ready (a fixed
    sleep raced a slow start: TERM before the handler ends the process with -15)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "FORENSICS_GUI_SETTINGS": str(tmp_path / "s.ini"),
           "FORENSICS_GUI_CACHE": str(tmp_path / "cache")}
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _TERM_CHILD, str(ready), str(clips["av"].path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120.0  # bounds a hang only; a loaded machine starts slowly
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a condition: the loop ends as soon as the file exists
        assert ready.exists() and proc.poll() is None, proc.communicate(timeout=60)[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "leaked" not in err
