"""Help > Models…: the known AV-HuBERT and Phi checkpoints, what each installed file is, and
whether the chosen Phi fits the chosen feature extractor (the same facts as
``forensics-gui models list`` and ``models check``).

The table appears at once from a folder scan. A background thread then hashes each file
(seconds for a 1-2 GB checkpoint the first time, then cached by path, size and time) and reads
it without running anything from it (:func:`forensics_gui.core.models.info.inspect_model_file`);
rows fill in as files are done ("computing…" meanwhile) and the compatibility lines follow.

Fetch… downloads the selected known model, and only when asked: a :class:`LicenceDialog` shows
the model's licence first (refusing it fetches nothing), then a :class:`FetchWorker` downloads in
the background (:func:`forensics_gui.core.models.fetch.fetch_model`: resumable, SHA-256 checked or
recorded) while the dialog shows a progress bar with size, speed and time left, and Cancel. A
cancelled or interrupted download keeps its bytes in the models folder's partial area, so the
next Fetch resumes it; closing the dialog cancels it the same way. Remove… (after a question whose
default is Cancel) deletes the selected model from the user models folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.progress import Progress
from forensics_gui.ui import theme
from forensics_gui.ui.screen_fit import fit_dialog
from forensics_gui.ui.worker_base import RetiredThreads, Worker

COLUMNS = ("Model", "Kind", "SHA-256", "Status", "Sizes", "Precision", "Parameters", "Registry",
           "Can serve as")
COL_KIND, COL_SHA, COL_STATUS, COL_SIZES, COL_PRECISION, COL_PARAMS, COL_REGISTRY, COL_SERVES = \
    range(1, len(COLUMNS))
COMPUTING = "computing…"
NONE = "—"
_KIND_NAMES = {"avhubert": "AV-HuBERT", "phi": "Phi"}
_LEVEL_WORDS = {"ok": "Fits", "warning": "Warning", "incompatible": "Does not fit"}
_LEVEL_COLOURS = {"ok": theme.WAVEFORM, "warning": theme.SILENCE_EDGE,
                  "incompatible": theme.PLAYHEAD}
_SHA_COLUMN_PX = 130  # the start of the digest; the details below show all of it
_MAX_COLUMN_PX = 380

# Workers outlive a closed (even deleted) dialog until they end: held here, joined on quit.
_BACKGROUND = RetiredThreads()
_QUIT_HOOKED: list[bool] = []


def stop_all_workers(wait_ms: int = 5000) -> None:
    """Cancel every Models-dialog worker and wait for it (on quit: no thread outlives the app)."""
    _BACKGROUND.join_all(wait_ms)


def _hook_quit() -> None:
    app = QCoreApplication.instance()
    if app is not None and not _QUIT_HOOKED:
        app.aboutToQuit.connect(stop_all_workers)
        _QUIT_HOOKED.append(True)


class _HashProgress:
    """The worker's progress for one file: only its "hash" stage, shown as "<name>: SHA-256"."""

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress, self.stage = progress, f"{name}: SHA-256"

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if stage == "hash":
            self.progress.report(self.stage, done, total)

    def cancelled(self) -> bool:
        return self.progress.cancelled()


class InspectWorker(Worker):
    """Lists the models with their digests, then inspects each installed file, off the GUI thread.

    Signals carry the dialog ``generation`` they were started for (the worker's token):
    ``listed(gen, entries)`` (the :class:`~forensics_gui.core.models.inventory.ModelEntry`
    rows), ``inspected(gen, path, ModelFileInfo or a sentence)`` per file, ``compared(gen,
    [(level, message)])``, ``progressed(gen, "<file>: SHA-256", done, total, eta_s)``, then
    ``finished``, ``failed`` or ``cancelled``. ``paths`` are extra files to inspect (a Phi in
    use, a supervised Phi); ``pairs`` are (extractor path, Phi path, role) to check for
    compatibility.
    """

    listed = Signal(int, object)
    inspected = Signal(int, str, object)
    compared = Signal(int, object)
    what = "Reading the model files"

    def __init__(self, generation: int, paths: list[str], pairs: list[tuple[str, str, str]]) -> None:
        super().__init__(generation)
        self.generation, self.paths, self.pairs = generation, paths, pairs

    def work(self) -> None:
        from forensics_gui.core.errors import Cancelled, ForensicsError
        from forensics_gui.core.models import info as model_info
        from forensics_gui.core.models.inventory import list_models

        gen = self.generation
        # Each file is hashed (with progress) while it is inspected; the states that need
        # the digests come after, from the digest cache.
        entries = list_models(self.flag, hash_files=False)
        todo = [str(e.path) for e in entries if e.path is not None]
        todo += [p for p in self.paths if p not in todo]
        infos: dict[str, Any] = {}
        for path in todo:
            try:
                info: Any = model_info.inspect_model_file(
                    path, _HashProgress(self.progress, Path(path).name), cached_sha256=True)
            except Cancelled:
                raise
            except (ForensicsError, OSError) as err:
                info = str(err)
            infos[path] = info
            self.inspected.emit(gen, path, info)
        self.listed.emit(gen, list_models(self.flag))
        lines = []
        for extractor, phi, role in self.pairs:
            e, p = infos.get(extractor), infos.get(phi)
            if isinstance(e, model_info.ModelFileInfo) and isinstance(p, model_info.ModelFileInfo):
                result = model_info.compatibility(e, p, role)
                lines.append((result.level, result.message))
        self.compared.emit(gen, lines)

    def explain(self, err: Exception) -> str:
        if isinstance(err, OSError):  # a file vanished or is unreadable: say so; a refresh shows it
            return f"Could not read the model files ({err})."
        return super().explain(err)


class FetchWorker(Worker):
    """Downloads one known model (its licence already accepted) off the GUI thread.

    ``progressed(token, stage, bytes done, bytes total or -1, eta_s)`` with stage "download" (or
    "check" while an earlier partial download is re-hashed); ``finished(token, FetchResult)``,
    ``failed(token, sentence)`` or ``cancelled(token)``.
    """

    what = "The download"

    def __init__(self, token: int, name: str) -> None:
        super().__init__(token)
        self.name = name

    def work(self) -> Any:
        from forensics_gui.core.models.fetch import fetch_model

        return fetch_model(self.name, True, self.progress)


class LicenceDialog(QDialog):
    """The licence of a model, shown before anything is fetched: "I accept, download" or Cancel
    (the default button, so Enter does not accept)."""

    def __init__(self, model: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Licence of {model.name}")
        self.resize(620, 360)
        layout = QVBoxLayout(self)
        self.intro = QLabel(
            f"{model.name} ({model.approx_size}) is published under: {model.license}. Nothing is "
            "downloaded unless you accept these terms.")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        body = model.license_text or f"See {model.license_url or model.source}."
        self.text.setPlainText(body + (f"\n\nFull licence: {model.license_url}"
                                       if model.license_url else "")
                               + f"\n\nDownloaded from: {model.url}")
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox()
        self.accept_button = buttons.addButton("I accept, download",
                                               QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.accept_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)

    def licence_text(self) -> str:
        return self.text.toPlainText()


def _scan() -> list[Any]:
    from forensics_gui.core.models.inventory import list_models

    return list_models(hash_files=False)


class ModelsDialog(QDialog):
    """Lists the registry's models and the installed files, and what each file is."""

    def __init__(self, parent: QWidget | None = None, extra: list[tuple[str, str]] | None = None) -> None:
        """``extra``: (role, path) of other checkpoints in use (e.g. "Phi in use (Tools >
        Train…)", "supervised Phi"); a role naming "supervised" is checked as a supervised Phi."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        fit_dialog(self, parent, 1280, 640)
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
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.table.currentCellChanged.connect(self._on_current_changed)
        self.details_label = QLabel()
        self.details_label.setFont(theme.monospace_font())
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.details_label)
        self.progress_label = QLabel()
        layout.addWidget(self.progress_label)
        self.compat_box = QVBoxLayout()  # one coloured line per (extractor, Phi) pair
        self.compat_box.setSpacing(2)
        layout.addLayout(self.compat_box)
        self.compat_labels: list[QLabel] = []
        self.fetch_row = QWidget()  # shown while a download runs
        fetch_layout = QHBoxLayout(self.fetch_row)
        fetch_layout.setContentsMargins(0, 0, 0, 0)
        self.fetch_bar = QProgressBar()
        self.fetch_bar.setRange(0, 1000)
        self.fetch_bar.setTextVisible(False)
        self.fetch_cancel_button = QPushButton("Cancel download")
        self.fetch_cancel_button.setToolTip("Stop the download; its bytes are kept, so the next "
                                            "Fetch resumes it")
        self.fetch_cancel_button.clicked.connect(self.cancel_fetch)
        fetch_layout.addWidget(self.fetch_bar, 1)
        fetch_layout.addWidget(self.fetch_cancel_button)
        self.fetch_row.setVisible(False)
        layout.addWidget(self.fetch_row)
        self.fetch_label = QLabel()  # the download's progress line, then how it ended
        self.fetch_label.setWordWrap(True)
        self.fetch_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.fetch_label)
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
        self.fetch_button = QPushButton("Fetch…")
        self.fetch_button.setToolTip("Download the selected model from its official address, "
                                     "after you accept its licence")
        self.fetch_button.clicked.connect(self.fetch_selected)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.clicked.connect(self.remove_selected)
        for b in (self.fetch_button, self.remove_button, self.open_folder_button,
                  self.refresh_button, self.copy_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.generation = 0
        self.hashing = False
        self.worker: InspectWorker | None = None
        self.fetch_worker: FetchWorker | None = None
        self.licence_dialog: LicenceDialog | None = None
        self.remove_box: QMessageBox | None = None
        self.fetch_meter: Any = None
        self.fetch_name = ""
        self.fetch_token = 0
        self._selected_name = ""
        self.entries: dict[int, Any] = {}  # table row -> ModelEntry (registry rows and files)
        self.rows: dict[str, int] = {}  # resolved path -> table row
        self.infos: dict[str, Any] = {}  # resolved path -> ModelFileInfo or a sentence
        self.refresh()

    def models_folder(self) -> Path:
        from forensics_gui.core.files.paths import user_models_dir

        return user_models_dir()

    # -- scanning ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-scan the model folders now; digests and contents follow from a background thread."""
        from forensics_gui.core.files.paths import model_search_dirs
        from forensics_gui.core.models import registry as models_registry

        self._stop_worker()
        self.generation += 1
        entries = _scan()
        guidance = models_registry.describe_missing_models()
        folders = ", ".join(str(d) for d in model_search_dirs())
        self.folder_label.setText(
            f"Put model files into {self.models_folder()} (searched in order: {folders}), or "
            "select a known model and choose Fetch…: nothing is downloaded unless you ask and "
            "accept its licence.")
        self.infos = {}
        self._fill(entries, computing=True)
        self.guidance_label.setText(guidance or "All default models are installed.")
        self.guidance = guidance
        self._show_compatibility([])
        self.progress_label.setText("")
        paths = [p for _, p in self.extra if Path(p).is_file()]
        if any(e.path is not None for e in entries) or paths:
            worker = InspectWorker(self.generation, paths, self._pairs())
            worker.listed.connect(self._on_listed)
            worker.inspected.connect(self._on_inspected)
            worker.compared.connect(self._on_compared)
            worker.progressed.connect(self._on_progressed)
            worker.finished.connect(self._on_ended)
            worker.failed.connect(self._on_failed)
            worker.cancelled.connect(self._on_ended)
            self.destroyed.connect(worker.cancel)  # deleted with its parent, never closed
            _hook_quit()
            _BACKGROUND.prune()
            _BACKGROUND.retire(worker, cancel=False)
            self.worker = worker
            self.hashing = True
            worker.start()
        else:
            self.hashing = False

    def _pairs(self) -> list[tuple[str, str, str]]:
        """(chosen feature extractor, Phi, role) pairs whose compatibility the dialog states."""
        from forensics_gui.core.models import registry as models_registry

        extractor = models_registry.find_avhubert_checkpoint()
        if extractor is None:
            return []
        in_use = [p for role, p in self.extra if "supervised" not in role.lower() and Path(p).is_file()]
        phi = in_use[0] if in_use else models_registry.find_phi_checkpoint()
        pairs = [(str(extractor), str(phi), "Phi")] if phi is not None else []
        pairs += [(str(extractor), p, "supervised Phi") for role, p in self.extra
                  if "supervised" in role.lower() and Path(p).is_file()]
        return pairs

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None

    def done(self, result: int) -> None:
        self._stop_worker()  # a closed dialog stops hashing gigabytes nobody will see
        if self.fetch_worker is not None:  # and stops its download (kept for a resume)
            self.fetch_worker.cancel()
        super().done(result)

    # -- table --------------------------------------------------------------------------------
    def _fill(self, entries: list[Any], computing: bool) -> None:
        self.table.setRowCount(0)
        self.rows = {}
        self.entries = {}
        for e in entries:
            kind = f"{_KIND_NAMES.get(e.kind, e.kind)} ({e.role})" if e.kind else "unregistered file"
            sha = e.sha256 or (COMPUTING if computing and e.path is not None else NONE)
            status = e.state if e.path is None else \
                f"{e.state}: {e.path} ({(e.size_bytes or 0) / 1e6:.1f} MB)"
            if e.path is None and e.partial_bytes:
                status = f"{e.state} ({e.partial_bytes / 1e6:,.1f} MB downloaded: Fetch resumes)"
            row = self._add_row(e.name, kind, sha, status, tooltip=self._tooltip(e))
            self._set(row, COL_STATUS, status, e.detail)
            self.entries[row] = e
            if e.path is not None:
                self.rows[str(Path(e.path).resolve())] = row
        for role, path in self.extra:
            p = Path(path)
            key = str(p.resolve())
            if key in self.rows:  # also listed above: say what it is used for
                row = self.rows[key]
                self._set(row, COL_KIND, f"{self.cell(row, COL_KIND)}; {role}")
                continue
            if p.is_file():
                self.rows[key] = self._add_row(p.name, role, COMPUTING if computing else NONE,
                                               f"in use: {p} ({p.stat().st_size / 1e6:.1f} MB)")
            else:
                self._add_row(p.name, role, NONE, f"missing: {p}")
        for key, info in self.infos.items():
            self._show_info(key, info)
        self._fit_columns()
        if self.table.currentRow() < 0 and self.table.rowCount():
            again = self.row_of(self._selected_name) if self._selected_name else -1
            first = min(self.rows.values()) if self.rows else 0
            self.table.setCurrentCell(again if again >= 0 else first, 0)
        self._show_details()
        self._update_fetch_button()

    def _tooltip(self, entry: Any) -> str:
        from forensics_gui.core.models.registry import known_models

        model = next((m for m in known_models() if m.name == entry.name), None)
        if model is None:
            return entry.detail
        return f"{model.description}\nLicence: {model.license}\nSource: {model.source}\n{entry.detail}"

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        for column in range(len(COLUMNS) - 1):
            width = _SHA_COLUMN_PX if column == COL_SHA else \
                min(self.table.columnWidth(column), _MAX_COLUMN_PX)
            self.table.setColumnWidth(column, width)

    def _on_current_changed(self, row: int, *_: int) -> None:
        if row >= 0:
            self._selected_name = self.cell(row, 0)  # kept across a refresh
        self._show_details()
        self._update_fetch_button()

    def _show_details(self) -> None:
        """Everything known about the selected file, one line per fact (as ``models check``)."""
        row = self.table.currentRow()
        key = next((k for k, r in self.rows.items() if r == row), None)
        info = self.infos.get(key) if key is not None else None
        if info is None:
            name = self.cell(row, 0) if row >= 0 else ""
            self.details_label.setText(f"{name}: {self.cell(row, COL_STATUS)}" if name else "")
        elif isinstance(info, str):
            self.details_label.setText(info)
        else:
            self.details_label.setText("\n".join(f"{label}: {text}" for label, text in info.summary()))

    def _on_listed(self, generation: int, entries: list[Any]) -> None:
        if generation == self.generation:
            self._fill(entries, computing=True)

    def _on_inspected(self, generation: int, path: str, info: Any) -> None:
        if generation != self.generation:
            return  # a newer refresh is under way
        key = str(Path(path).resolve())
        self.infos[key] = info
        self._show_info(key, info)
        self._fit_columns()
        self._show_details()

    def _show_info(self, key: str, info: Any) -> None:
        row = self.rows.get(key)
        if row is None:
            return
        if isinstance(info, str):  # the file could not be read: one sentence
            self._set(row, COL_KIND, "unreadable", info)
            if self.cell(row, COL_SHA) == COMPUTING:  # an extra file: no listing brings its digest
                self._set(row, COL_SHA, NONE)
            self._set(row, COL_SERVES, "nothing here", info)
            return
        self._set(row, COL_KIND, info.kind_label + self._role_suffix(row), "\n".join(info.notes))
        self._set(row, COL_SHA, info.sha256)
        self._set(row, COL_SIZES, info.sizes_text)
        self._set(row, COL_PRECISION, info.precision or "unknown")
        self._set(row, COL_PARAMS, info.parameters_text)
        self._set(row, COL_REGISTRY, info.registry.text)
        self._set(row, COL_SERVES, info.serves_as_text, info.not_usable_reason)

    def _role_suffix(self, row: int) -> str:
        text = self.cell(row, COL_KIND)
        return text[text.index(";"):] if ";" in text else ""

    def _on_compared(self, generation: int, lines: list[tuple[str, str]]) -> None:
        if generation != self.generation:
            return
        self._show_compatibility(lines)
        self.progress_label.setText("")

    def _show_compatibility(self, lines: list[tuple[str, str]]) -> None:
        for label in self.compat_labels:
            self.compat_box.removeWidget(label)
            label.deleteLater()
        self.compat_labels = []
        for level, message in lines:
            label = QLabel(f"{_LEVEL_WORDS[level]}: {message}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setStyleSheet(f"color: {_LEVEL_COLOURS[level]};")
            label.setProperty("level", level)
            self.compat_box.addWidget(label)
            self.compat_labels.append(label)

    def compatibility_text(self) -> str:
        """The compatibility lines as shown, one per line ("Fits: …", "Does not fit: …")."""
        return "\n".join(label.text() for label in self.compat_labels)

    def _on_ended(self, generation: int, *_result: object) -> None:
        if generation == self.generation:
            self.hashing = False

    def _on_failed(self, generation: int, sentence: str) -> None:
        if generation == self.generation:
            self.progress_label.setText(sentence)
            self.hashing = False

    def _on_progressed(self, generation: int, stage: str, done: float, total: float,
                       _eta_s: float) -> None:
        if generation == self.generation:
            percent = int(100 * done / total) if total > 0 else 0
            self.progress_label.setText(f"{stage} {percent} %")

    def _add_row(self, *cells: str, tooltip: str = "") -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c in range(len(COLUMNS)):
            self._set(r, c, cells[c] if c < len(cells) else "", tooltip)
        return r

    def _set(self, row: int, column: int, text: str, tooltip: str = "") -> None:
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            if column == COL_SHA:
                item.setFont(theme.monospace_font(8))
            self.table.setItem(row, column, item)
        item.setText(text)
        if tooltip:
            item.setToolTip(tooltip)

    # -- fetching --------------------------------------------------------------------------------
    def selected_entry(self) -> Any:
        """The ModelEntry of the selected row (None for a file in use that no listing names)."""
        return self.entries.get(self.table.currentRow())

    def _update_fetch_button(self) -> None:
        entry = self.selected_entry()
        busy = self.fetch_worker is not None
        can = entry is not None and entry.can_fetch and entry.path is None and not busy
        self.fetch_button.setEnabled(bool(can))
        if busy:
            tip = "A download is running"
        elif entry is None or not entry.kind:
            tip = "Select a known model to download"
        elif entry.path is not None:
            tip = f"{entry.name} is already installed"
        elif not entry.can_fetch:
            tip = f"{entry.name} has no download address; see its source in the tooltip"
        else:
            tip = f"Download {entry.name} after you accept its licence"
        self.fetch_button.setToolTip(tip)
        removable = self._removable(entry) if not busy else []
        self.remove_button.setEnabled(bool(removable))
        self.remove_button.setToolTip(
            "Delete " + " and ".join(str(p) for p in removable) if removable else
            "Only a model in your models folder (or its unfinished download) can be removed here")

    def _removable(self, entry: Any) -> list[Path]:
        from forensics_gui.core.models.fetch import removable_files

        if entry is None:
            return []
        return removable_files(entry.name, self.models_folder())

    def remove_selected(self) -> None:
        """Ask, then delete the selected model from the user models folder (and its partial
        download); the source tree's files are never touched."""
        entry = self.selected_entry()
        files = self._removable(entry) if self.fetch_worker is None else []
        if not files:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove model",
                          f"Delete {entry.name} from {self.models_folder()}?\n\n"
                          + "\n".join(str(p) for p in files),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.accepted.connect(lambda: self._remove(entry.name))
        box.finished.connect(box.deleteLater)
        self.remove_box = box
        box.open()

    def _remove(self, name: str) -> None:
        from forensics_gui.core.errors import ForensicsError
        from forensics_gui.core.models.fetch import remove_model

        self.remove_box = None
        try:
            removed = remove_model(name, self.models_folder())
        except (ForensicsError, OSError) as err:
            self.fetch_label.setText(f"{name} was not removed: {err}")
        else:
            self.fetch_label.setText("Removed " + ", ".join(str(p) for p in removed) + ".")
        self.refresh()

    def fetch_selected(self) -> None:
        """Show the selected model's licence; the download starts only if it is accepted."""
        from forensics_gui.core.models.fetch import registry_entry

        entry = self.selected_entry()
        if entry is None or not entry.can_fetch or self.fetch_worker is not None:
            return
        model = registry_entry(entry.name)
        dialog = LicenceDialog(model, self)
        dialog.accepted.connect(lambda: self.start_fetch(model.name))
        dialog.rejected.connect(lambda: self.fetch_label.setText(
            f"{model.name} was not downloaded: its licence was not accepted."))
        dialog.finished.connect(dialog.deleteLater)
        self.licence_dialog = dialog
        dialog.open()

    def start_fetch(self, name: str) -> None:
        """Download ``name`` in the background (its licence accepted)."""
        self.licence_dialog = None
        if self.fetch_worker is not None:
            return
        self.fetch_token += 1
        worker = FetchWorker(self.fetch_token, name)
        worker.progressed.connect(self._on_fetch_progress)
        worker.finished.connect(self._on_fetched)
        worker.failed.connect(self._on_fetch_failed)
        worker.cancelled.connect(self._on_fetch_cancelled)
        self.destroyed.connect(worker.cancel)
        _hook_quit()
        _BACKGROUND.prune()
        _BACKGROUND.retire(worker, cancel=False)
        self.fetch_worker = worker
        self.fetch_name = name
        self.fetch_meter = None
        self.fetch_bar.setValue(0)
        self.fetch_row.setVisible(True)
        self.fetch_cancel_button.setEnabled(True)
        self.fetch_label.setText(f"Connecting to download {name}…")
        self._update_fetch_button()
        worker.start()

    def cancel_fetch(self) -> None:
        if self.fetch_worker is not None:
            self.fetch_worker.cancel()
            self.fetch_cancel_button.setEnabled(False)
            self.fetch_label.setText(f"Cancelling the download of {self.fetch_worker.name}…")

    def fetching(self) -> bool:
        return self.fetch_worker is not None

    def _on_fetch_progress(self, token: int, stage: str, done: float, total: float,
                           _eta_s: float) -> None:
        from forensics_gui.core.models.fetch import TransferMeter

        worker = self.fetch_worker
        if worker is None or token != self.fetch_token or worker.cancel_requested:
            return
        known = total if total > 0 else None
        if self.fetch_meter is None or self.fetch_meter[0] != stage:
            self.fetch_meter = (stage, TransferMeter(known, start=done))
        meter = self.fetch_meter[1]
        meter.update(done, known)
        if known:
            self.fetch_bar.setRange(0, 1000)
            self.fetch_bar.setValue(int(1000 * min(1.0, done / known)))
        else:
            self.fetch_bar.setRange(0, 0)  # busy: the server did not say the size
        what = ("Checking the part downloaded earlier" if stage == "check"
                else f"Downloading {worker.name}")
        self.fetch_label.setText(f"{what}: {meter.text()}")

    def _end_fetch(self, token: int, sentence: str) -> bool:
        if token != self.fetch_token:
            return False
        self.fetch_worker = None
        self.fetch_row.setVisible(False)
        self.fetch_label.setText(sentence)
        return True

    def _on_fetched(self, token: int, result: Any) -> None:
        if self._end_fetch(token, result.sentence):
            self.refresh()

    def _on_fetch_failed(self, token: int, sentence: str) -> None:
        if self._end_fetch(token, sentence):
            self.refresh()

    def _on_fetch_cancelled(self, token: int) -> None:
        from forensics_gui.core.models.fetch import partial_bytes

        name = self.fetch_name
        kept = partial_bytes(name)
        text = (f"Download of {name} cancelled; {kept / 1e6:,.1f} MB kept, so Fetch resumes it."
                if kept else f"Download of {name} cancelled.")
        if self._end_fetch(token, text):
            self.refresh()

    # -- actions --------------------------------------------------------------------------------
    def open_models_folder(self) -> bool:
        """Create the user models folder and open it in the system file manager."""
        folder = self.models_folder()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def row_of(self, name: str) -> int:
        """The table row whose Model cell is ``name`` (-1 if none)."""
        names = [self.cell(r, 0) for r in range(self.table.rowCount())]
        return names.index(name) if name in names else -1
