"""Help > Models…: which AV-HuBERT and Phi checkpoints are installed, their SHA-256, where to put
missing ones (with a button that creates and opens the folder) and the exact guidance text.

The table appears at once from a folder scan; SHA-256 digests (seconds for a 1-2 GB checkpoint
the first time, then cached by path, size and time) are computed in a background thread and
filled in when ready ("computing…" meanwhile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QThread, QUrl, Signal
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
COMPUTING = "computing…"

_RUNNING: set[QThread] = set()  # hash threads outlive a closed dialog until they finish


class HashWorker(QThread):
    """Computes the registry rows (with SHA-256) and the digests of ``extra`` paths off the GUI
    thread; ``ready(generation, rows, extra_digests)`` with ``extra_digests[i]`` "" if missing."""

    ready = Signal(int, object, object)

    def __init__(self, generation: int, extra: list[tuple[str, str]]) -> None:
        super().__init__()
        self.generation, self.extra = generation, extra

    def run(self) -> None:
        from forensics_gui.core import models_registry

        try:
            rows = models_registry.installed_models()
            digests = [models_registry.sha256_of(p) if Path(p).is_file() else ""
                       for _, p in self.extra]
        except OSError:  # a file vanished or is unreadable: the next refresh shows it
            return
        self.ready.emit(self.generation, rows, digests)


def _scan_rows() -> list[dict[str, Any]]:
    """Registry rows like ``models_registry.installed_models()`` but without hashing (fast)."""
    from forensics_gui.core import models_registry, paths

    rows = []
    for model in models_registry.known_models():
        location = next((d / model.name for d in paths.model_search_dirs()
                         if (d / model.name).is_file()), None)
        rows.append({"model": model, "path": location, "sha256": None, "sha256_matches": None,
                     "size_bytes": location.stat().st_size if location is not None else None})
    return rows


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
        self.generation = 0
        self.hashing = False
        self.refresh()

    def models_folder(self) -> Path:
        from forensics_gui.core.paths import user_models_dir

        return user_models_dir()

    def refresh(self) -> None:
        """Re-scan the model folders now; SHA-256 digests follow from a background thread
        (cached by path, size and time, so usually at once)."""
        from forensics_gui.core import models_registry
        from forensics_gui.core.paths import model_search_dirs

        self.generation += 1
        rows = _scan_rows()
        guidance = models_registry.describe_missing_models()
        folders = ", ".join(str(d) for d in model_search_dirs())
        self.folder_label.setText(
            f"Put model files into {self.models_folder()} (searched in order: {folders}). "
            "Nothing is downloaded by this app.")
        self._fill(rows, [COMPUTING if Path(p).is_file() else "" for _, p in self.extra],
                   computing=True)
        self.guidance_label.setText(guidance or "All default models are installed.")
        self.guidance = guidance
        if any(r["path"] is not None for r in rows) or any(Path(p).is_file() for _, p in self.extra):
            worker = HashWorker(self.generation, list(self.extra))
            worker.ready.connect(self._on_hashed)
            _RUNNING.add(worker)
            worker.finished.connect(lambda w=worker: _RUNNING.discard(w))
            self.hashing = True
            worker.start()
        else:
            self.hashing = False

    def _fill(self, rows: list[dict[str, Any]], extra_digests: list[str], computing: bool) -> None:
        self.table.setRowCount(0)
        for row in rows:
            m = row["model"]
            sha = row["sha256"] or (COMPUTING if computing and row["path"] is not None else "—")
            self._add_row(m.name, f"{m.kind} ({m.role})", sha, _status(row),
                          tooltip=f"{m.description}\nLicence: {m.license}\nSource: {m.source}")
        for (role, path), sha in zip(self.extra, extra_digests, strict=True):
            p = Path(path)
            self._add_row(p.name, role, sha or "—",
                          f"installed: {p}" if p.is_file() else f"missing: {p}")

    def _on_hashed(self, generation: int, rows: list[dict[str, Any]], digests: list[str]) -> None:
        if generation != self.generation:
            return  # a newer refresh is under way
        self._fill(rows, digests, computing=False)
        self.hashing = False

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
