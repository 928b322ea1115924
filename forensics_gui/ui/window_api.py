"""The part of the main window that the window's add-ons (the AVH-Align analysis views) may use.

A Protocol rather than the MainWindow class, so the add-ons do not import the window module
(which imports them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from forensics_gui.ui.player import Transport, VideoView
from forensics_gui.ui.session import Session
from forensics_gui.ui.settings import ViewerSettings
from forensics_gui.ui.timeline import Timeline


class WindowApi(Protocol):
    """What :class:`~forensics_gui.ui.main_window.MainWindow` offers its add-ons."""

    settings: ViewerSettings
    session: Session
    timeline: Timeline
    transport: Transport
    video_view: VideoView
    token: int  # the open clip's token (changes with every clip opened)
    phi_checkpoint: Path | None  # the alignment network chosen in Tools > Train…

    def as_widget(self) -> QMainWindow:
        """The window, as the parent of dialogs and message boxes."""
        ...

    def menu(self, title: str) -> QMenu | None:
        """The menu-bar menu called ``title`` (without ``&``), None if none."""
        ...

    def add_menu(self, title: str, before: str | None = None) -> QMenu:
        """A new menu-bar menu, before the menu called ``before`` when there is one."""
        ...

    def add_action(self, menu: QMenu | None, text: str, slot: Any, shortcut: Any = None) -> QAction:
        """A window-wide action with an optional shortcut, added to ``menu`` when given."""
        ...

    def add_dock(self, dock: QDockWidget) -> None: ...

    def add_status_widget(self, widget: QWidget) -> None: ...

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """A status-bar message (for ``timeout_ms`` ms; 0: until replaced)."""
        ...

    def show_error(self, title: str, sentence: str) -> None:
        """A non-blocking message box and status-bar message."""
        ...

    def seek(self, t: float) -> None:
        """Move the playhead to ``t`` seconds (keeps playing if playing)."""
        ...

    def give_lanes_half(self) -> None:
        """Split the height evenly between the video and the timeline lanes."""
        ...
