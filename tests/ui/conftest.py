"""Fixtures for the viewer tests: isolated settings, small generated clips, a window."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _no_quit_on_last_window(qapp):  # type: ignore[no-untyped-def]
    # After one QApplication.exec() (test_run_app), closing the last window outside exec() would
    # call exit(), and every later event loop of the session would return at once.
    qapp.setQuitOnLastWindowClosed(False)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("FORENSICS_GUI_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Small clips made once per session: pattern video + 48 kHz audio with 30 ms silence, an
    audio-only file, a video-only file and a broken file."""
    from forensics_gui.testing.synth import make_clip, make_text_as_video

    d = tmp_path_factory.mktemp("ui_clips")
    av = make_clip(d / "pattern.mkv", duration_s=2.0, fps=25, width=160, height=120,
                   sample_rate=48000, leading_silence_ms=30.0, face=False, pattern=True)
    audio_only = make_clip(d / "audio_only.mkv", duration_s=1.5, sample_rate=48000,
                           leading_silence_ms=30.0, video=False)
    video_only = make_clip(d / "video_only.mkv", duration_s=1.0, fps=25, width=160, height=120,
                           audio=False, face=False, pattern=True)
    broken = make_text_as_video(d / "broken.mp4")
    return {"av": av, "audio_only": audio_only, "video_only": video_only, "broken": broken}


@pytest.fixture
def window(qtbot, qapp):  # type: ignore[no-untyped-def]
    """The main window, shown at the size it picks for the (800x800 offscreen) screen, silent
    playback (no audio device is assumed)."""
    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.theme import apply_theme

    apply_theme(qapp)
    w = MainWindow(use_audio=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()
    assert not w.decoder.isRunning()


@pytest.fixture
def open_and_wait(qtbot):  # type: ignore[no-untyped-def]
    return lambda window, path, audio=True: _open_and_wait(qtbot, window, path, audio)


def _open_and_wait(qtbot, window, path, audio: bool = True):  # type: ignore[no-untyped-def]
    """Open ``path`` and wait for the first frame (if video) and the audio analysis (if audio).

    The timeouts only bound a hang: a loaded CI machine may take many seconds for either."""
    assert window.open_path(path)
    info = window.session.info
    if info.video is not None:
        qtbot.waitUntil(lambda: window.video_view.frame is not None, timeout=60000)
    if audio and info.audio is not None:
        qtbot.waitUntil(lambda: window.session.silence is not None, timeout=60000)
