"""Persistent viewer settings (QSettings, organisation "forensics-gui"): recent files, last
folder, silence threshold, window geometry and dock layout. ``$FORENSICS_GUI_SETTINGS`` (an .ini
path) isolates tests and portable installs."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from forensics_gui.core.media.silence import DEFAULT_THRESHOLD, validate_threshold

MAX_RECENT = 10


def make_settings() -> QSettings:
    """The app's QSettings; an .ini file when ``$FORENSICS_GUI_SETTINGS`` is set."""
    path = os.environ.get("FORENSICS_GUI_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("forensics-gui", "forensics-gui")


class ViewerSettings:
    """Typed access to the keys the viewer uses."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings or make_settings()

    def recent_files(self) -> list[str]:
        value = self.qsettings.value("paths/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else []

    def remember_file(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first in the recent files and make its folder the last folder."""
        resolved = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != resolved]
        self.qsettings.setValue("paths/recent", [resolved, *recent][:MAX_RECENT])
        self.qsettings.setValue("paths/last_folder", str(Path(resolved).parent))

    def last_folder(self) -> str:
        return str(self.qsettings.value("paths/last_folder", str(Path.home())))

    def threshold(self) -> float:
        """The saved tau; the default when none is saved or the saved value breaks the tau rule."""
        try:
            return validate_threshold(str(self.qsettings.value("silence/tau", DEFAULT_THRESHOLD)))
        except ValueError:
            return DEFAULT_THRESHOLD

    def set_threshold(self, tau: float) -> None:
        self.qsettings.setValue("silence/tau", float(tau))

    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)

    def window_state(self) -> QByteArray | None:
        """The dock layout saved by :meth:`QMainWindow.saveState` (None before the first quit)."""
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def set_window_state(self, state: QByteArray) -> None:
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()
