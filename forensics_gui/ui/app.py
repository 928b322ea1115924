"""Start the viewer: QApplication, theme, main window, optional clip or demo clip."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ICON_PATH = Path(__file__).resolve().parents[2] / "resources" / "forensics-gui.svg"


def run_app(video: str | None, demo: bool = False) -> int:
    """Open the viewer (optionally on ``video`` or on the demo clip); returns the exit code."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.theme import apply_theme

    QCoreApplication.setOrganizationName("forensics-gui")
    QCoreApplication.setApplicationName("forensics-gui")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication), "a QGuiApplication-only instance cannot show windows"
    apply_theme(app)
    if ICON_PATH.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(ICON_PATH)))
    window = MainWindow()
    window.show()
    app.processEvents()
    _import_torch_now()
    window.avh.runner.start_prepare_process()
    if demo:
        window.open_demo()
    elif video:
        window.open_path(video)
    _quit_on_signals(app)
    code = app.exec()
    window.shutdown()
    return int(code)


def _import_torch_now() -> None:
    """Import PyTorch once the window has painted, before the event loop runs.

    Importing torch holds the GIL for about 0.2-1 s (its C++ module initialises). Done here, the
    pause falls in the first second after launch instead of stalling the window in the middle of
    the first analysis (benchmarks/bench_gui_analysis.py --torch-at-startup measures the effect).
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        pass  # analysis will say that PyTorch is missing; everything else works without it


def _quit_on_signals(app: Any) -> None:
    """Ctrl+C or a TERM signal closes the viewer cleanly (workers joined, child process ended).

    Python runs signal handlers only between bytecodes, so a timer wakes the interpreter while
    the Qt event loop waits.
    """
    import signal

    from PySide6.QtCore import QTimer

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.quit())
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)

