"""Help > Models…: which AV-HuBERT and Phi checkpoints are installed, their SHA-256, where to put
missing ones (with a button that creates and opens the folder) and the exact guidance text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.ui import theme

COLUMNS = ("Model", "Kind", "SHA-256", "Status")


def _status(row: dict[str, Any]) -> str:
    if row["path"] is None:
        return "missing"
    size = row["size_bytes"] or 0
    match = {True: ", SHA-256 matches the registry", False: ", SHA-256 DIFFERS from the registry",
             None: ""}[row["sha256_matches"]]
    return f"installed: {row['path']} ({size / 1e6:.1f} MB{match})"


class ModelsDialog(QDialog):
    """Lists the registry's models and their installation state (re-read by :meth:`refresh`)."""

    def __init__(self, parent: QWidget | None = None, extra: list[tuple[str, str]] | None = None) -> None:
        """``extra``: (role, path) of other checkpoints in use (e.g. a supervised Phi)."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1180, 440)
        self.extra = list(extra or [])
        layout = QVBoxLayout(self)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.folder_label)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.guidance_label = QLabel()
        self.guidance_label.setWordWrap(True)
        self.guidance_label.setObjectName("notice")
        self.guidance_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.guidance_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_folder_button = QPushButton("Open models folder")
        self.open_folder_button.setToolTip("Create the folder if needed and open it in the file manager")
        self.open_folder_button.clicked.connect(self.open_models_folder)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.copy_button = QPushButton("Copy guidance")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.guidance_label.text()))
        for b in (self.open_folder_button, self.refresh_button, self.copy_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.refresh()

    def models_folder(self) -> Path:
        from forensics_gui.core.paths import user_models_dir

        return user_models_dir()

    def refresh(self) -> None:
        """Re-scan the model folders (SHA-256 digests are cached by path, size and time)."""
        from forensics_gui.core import models_registry
        from forensics_gui.core.paths import model_search_dirs

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            rows = models_registry.installed_models()
            extra_rows = []
            for role, path in self.extra:
                p = Path(path)
                sha = models_registry.sha256_of(p) if p.is_file() else ""
                extra_rows.append((p.name, role, f"installed: {p}" if sha else f"missing: {p}", sha))
            guidance = models_registry.describe_missing_models()
        finally:
            QGuiApplication.restoreOverrideCursor()
        folders = ", ".join(str(d) for d in model_search_dirs())
        self.folder_label.setText(
            f"Put model files into {self.models_folder()} (searched in order: {folders}). "
            "Nothing is downloaded by this app.")
        self.table.setRowCount(0)
        for row in rows:
            m = row["model"]
            self._add_row(m.name, f"{m.kind} ({m.role})", row["sha256"] or "—", _status(row),
                          tooltip=f"{m.description}\nLicence: {m.license}\nSource: {m.source}")
        for name, role, status, sha in extra_rows:
            self._add_row(name, role, sha or "—", status)
        self.guidance_label.setText(guidance or "All default models are installed.")
        self.guidance = guidance

    def _add_row(self, *cells: str, tooltip: str = "") -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c == 2:
                item.setFont(theme.monospace_font(8))
            if tooltip:
                item.setToolTip(tooltip)
            self.table.setItem(r, c, item)

    def open_models_folder(self) -> bool:
        """Create the user models folder and open it in the system file manager."""
        folder = self.models_folder()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""
