"""Tools -> "Train alignment network…": train Phi on a folder of the user's REAL videos.

The dialog collects the settings, runs :class:`TrainingWorker` (the viewer's one worker idiom,
:class:`~forensics_gui.ui.worker_base.Worker`) and shows a live train/validation loss plot (one point per epoch, from the core's ``on_epoch``),
a progress bar with the stage and ETA, and one sentence for any problem. The worker calls the
same core functions as ``forensics-gui train``: :func:`forensics_gui.core.training_data.
extract_features_for_videos` (when the folder holds videos) and
:func:`forensics_gui.core.alignment.training.train_phi`. Cancel sets a flag the core checks between
batches; the best checkpoint so far stays on disk and Resume continues from ``<out>.resume.pt``.

"Use this model" stores the trained file under the QSettings key :data:`PHI_SETTINGS_KEY` and
emits :attr:`TrainingDialog.model_chosen` (the main window switches its analysis to it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.progress import Progress, format_eta
from forensics_gui.ui import theme
from forensics_gui.ui.screen_fit import fit_dialog
from forensics_gui.ui.worker_base import Worker
from forensics_gui.ui.worker_dialog import WorkerDialog

PHI_SETTINGS_KEY = "models/phi_path"
DEFAULT_MODEL_NAME = "phi_trained.pt"
VAL_COLOR = "#ffb86b"
CHANCE_LOSS = math.log(31)  # -log(1/31): the 31 audio offsets of AVH-Align's +-15 frame band


@dataclass
class TrainingParams:
    """What one run trains: ``source`` is a folder of videos or of features .npz files."""

    source: Path
    output: Path
    checkpoint: Path | None = None  # AV-HuBERT, only needed for videos
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-4
    val_fraction: float = 0.1
    device: str = "auto"
    resume: bool = False
    features_dir: Path | None = None  # where extracted features go (None = under the cache)
    precision: str | None = None  # None: float32 on the CPU, bfloat16 autocast on a GPU


def source_files(folder: Path) -> tuple[str, list[Path]]:
    """("videos", files) or ("features", .npz files) in ``folder``; ForensicsError otherwise."""
    from forensics_gui.core.media.folders import iter_videos

    if not folder.is_dir():
        raise ForensicsError(f"The folder {folder} does not exist; choose a folder of real videos.")
    videos = list(iter_videos(folder))
    if videos:
        return "videos", videos
    features = sorted(p for p in folder.rglob("*.npz") if p.is_file() and not p.name.startswith("."))
    if features:
        return "features", features
    raise ForensicsError(f"{folder} holds no video files and no features (.npz) files; "
                         "choose a folder of real videos.")


class TrainingWorker(Worker):
    """Extracts features (if needed) and trains Phi in a background thread.

    Signals (queued to the GUI thread, the token first): ``progressed(token, stage, done, total,
    eta_s)`` (total and eta -1 when unknown; the ETA counts only this run's progress, see the
    core's StageClock), ``extracted(ExtractionReport)``, ``history_restored(list of (epoch,
    train_loss, val_loss))`` (the epochs of the run being resumed), ``epoch_finished(EpochStats)``,
    then ``finished(token, TrainResult)`` (also after a Cancel during training: ``stop_reason ==
    "cancelled"``), ``cancelled(token)`` (Cancel before any training) or ``failed(token,
    sentence)``. Cancel is thread-safe: the core stops at the next batch (or frame, while
    extracting).
    """

    extracted = Signal(object)
    history_restored = Signal(object)
    epoch_finished = Signal(object)
    what = "Training"
    # Cancel during training stops at a batch and keeps the best model: that result is finished
    # (``stop_reason == "cancelled"``).
    finish_when_cancelled = True

    def __init__(self, params: TrainingParams) -> None:
        super().__init__()
        self.params = params

    def _feature_files(self, progress: Progress) -> list[Path]:
        from forensics_gui.core.training_data import extract_features_for_videos

        p = self.params
        kind, files = source_files(p.source)
        if kind == "features":
            return files
        report = extract_features_for_videos(p.source, p.features_dir, checkpoint=p.checkpoint,
                                             device=p.device, progress=progress)
        self.extracted.emit(report)
        return report.require_features(p.source)

    def _restore_history(self) -> None:
        """Emit the losses of the epochs already in ``<out>.resume.pt`` (none if unreadable)."""
        from forensics_gui.core.alignment.resume_state import read_resume_file
        from forensics_gui.core.alignment.training import resume_path

        path = resume_path(self.params.output)
        if not path.is_file():
            return
        try:
            state = read_resume_file(path)  # bounded and allow-listed before unpickling
            points = [(int(h["epoch"]), float(h["train_loss"]),
                       None if h.get("val_loss") is None else float(h["val_loss"]))
                      for h in state.get("history", [])]
        except Exception:  # noqa: BLE001 - train_phi reports an unreadable state in one sentence
            return
        self.history_restored.emit(points)

    def _inputs(self) -> list[tuple[Path | None, str]]:
        """The files this run reads, which its outputs must not be."""
        p = self.params
        kind, files = source_files(p.source)
        inputs: list[tuple[Path | None, str]] = [(f, f"a {kind[:-1]} file under {p.source}") for f in files]
        return [*inputs, (p.checkpoint, "the AV-HuBERT checkpoint")]

    def work(self) -> Any:
        from forensics_gui.core.alignment.training import resume_path, train_phi
        from forensics_gui.core.files.outputs import guarded_outputs

        p = self.params
        progress = self.progress
        # the same lock as train_phi's, held from the extraction on (a second run on this
        # output, from the viewer or the CLI, fails at once with a sentence naming this one)
        with guarded_outputs("train (viewer)", [p.output, resume_path(p.output)], self._inputs()):
            files = self._feature_files(progress)
            if p.resume:
                self._restore_history()
            return train_phi(files, p.output, epochs=p.epochs, batch_size=p.batch_size,
                             lr=p.lr, val_fraction=p.val_fraction, device=p.device,
                             resume=p.resume, progress=progress, precision=p.precision,
                             on_epoch=self.epoch_finished.emit)

    def explain(self, err: Exception) -> str:
        if isinstance(err, OSError):
            where = f" {err.filename}" if err.filename else ""
            return (f"Could not read or write{where} ({err.strerror or err}); "
                    "choose another output folder.")
        return super().explain(err)

def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box


class TrainingDialog(WorkerDialog):
    """Train Phi from the menu; see the module docstring. Non-modal; :meth:`shutdown` joins."""

    model_chosen = Signal(str)  # path of the trained Phi the user chose to analyse with
    # After the worker thread has ended: the TrainResult, or None (failure, cancel before training)
    training_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        from forensics_gui.ui.settings import make_settings

        self.setWindowTitle("Train alignment network (Phi)")
        self.settings = settings or make_settings()
        self.history: list[Any] = []  # EpochStats received in this run, in order
        self.earlier: list[tuple[int, float, float | None]] = []  # epochs of a resumed run
        self.result: Any = None
        self.extraction: Any = None
        self._build()
        self._fill_defaults()
        self._update_buttons()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("folder of REAL videos (or of features .npz files)")
        self.checkpoint_edit = QLineEdit()
        self.checkpoint_edit.setPlaceholderText("AV-HuBERT checkpoint (needed for videos)")
        self.output_edit = QLineEdit()
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10000)
        self.epochs_spin.setValue(100)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1 << 16)
        self.batch_spin.setValue(256)
        self.batch_spin.setSuffix(" frames")
        self.lr_edit = QLineEdit("1e-4")
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.0, 0.9)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setValue(0.1)
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.precision_combo = QComboBox()
        self._fill_precisions()
        self.resume_check = QCheckBox("Continue the interrupted run for this output (resume)")

        browse_src = QPushButton("Browse…")
        browse_src.clicked.connect(self._on_browse_source)
        browse_ckpt = QPushButton("Browse…")
        browse_ckpt.clicked.connect(self._on_browse_checkpoint)
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(self._on_browse_output)

        form = QFormLayout()
        form.addRow("Real videos", _row(self.source_edit, browse_src))
        form.addRow("Feature checkpoint", _row(self.checkpoint_edit, browse_ckpt))
        form.addRow("Output model", _row(self.output_edit, browse_out))
        form.addRow("Epochs (at most)", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Validation share", self.val_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        form.addRow("", self.resume_check)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss per frame (nats)")
        self.plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(30, 33, 39, 200))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.train_curve = self.plot.plot([], [], name="train", symbol="o", symbolSize=5,
                                          pen=pg.mkPen(theme.ACCENT, width=2), symbolBrush=theme.ACCENT)
        self.val_curve = self.plot.plot([], [], name="validation", symbol="s", symbolSize=5,
                                        pen=pg.mkPen(VAL_COLOR, width=2), symbolBrush=VAL_COLOR)
        # An untrained Phi cannot tell the 31 candidate audio frames apart: loss ln 31 per frame.
        self.chance_line = pg.InfiniteLine(
            pos=CHANCE_LOSS, angle=0, movable=False,
            pen=pg.mkPen(theme.MUTED, style=Qt.PenStyle.DashLine),
            label="chance (ln 31)",
            labelOpts={"position": 0.4, "color": theme.MUTED, "anchors": [(0.5, 0), (0.5, 0)]})
        self.plot.addItem(self.chance_line)

        self.stage_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.eta_label = QLabel("")
        self.eta_label.setFont(theme.monospace_font())
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start())
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last run for this output from its last epoch")
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch; the best model so far is kept")
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Analyse with the model just trained")
        self.use_button.clicked.connect(self.use_model)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self.output_edit.textChanged.connect(self._update_buttons)

        buttons = QHBoxLayout()
        for b in (self.start_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.plot, 1)
        layout.addWidget(_row(self.stage_label, self.progress_bar, self.eta_label))
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        fit_dialog(self, self.parentWidget(), 640, 680)

    def _fill_precisions(self) -> None:
        """Automatic / float32 / bfloat16; bfloat16 disabled, with the reason as its tooltip, where
        this machine has neither a GPU nor a CPU with bf16 arithmetic (estimated without
        importing PyTorch on the GUI thread; the run itself checks and says so in one sentence)."""
        from forensics_gui.core.encoder.devices import available_precisions

        problems = available_precisions("auto", import_torch=False)
        choices = [
            (None, "Automatic (float32 on the CPU, bfloat16 on a GPU)",
             "The default: exact on the CPU; mixed precision on a GPU, as the official training"),
            ("float32", "float32 (exact)", "Full precision everywhere: the losses of the reference code"),
            ("bfloat16", "bfloat16 (faster)",
             "About 1.4x faster on CPUs with AVX-512 BF16 or AMX; the loss curves stay within "
             "the run-to-run spread of float32 (benchmarks/bench_training_precision.py)"),
        ]
        model = self.precision_combo.model()
        for value, label, tip in choices:
            self.precision_combo.addItem(label, value)
            index = self.precision_combo.count() - 1
            problem = problems.get(value) if value else None
            self.precision_combo.setItemData(index, problem or tip, Qt.ItemDataRole.ToolTipRole)
            if problem:
                item = model.item(index)  # type: ignore[attr-defined]
                item.setEnabled(False)

    def _fill_defaults(self) -> None:
        from forensics_gui.core.files import paths
        from forensics_gui.core.models import registry as models_registry

        ckpt = models_registry.find_avhubert_checkpoint()
        if ckpt is not None:
            self.checkpoint_edit.setText(str(ckpt))
        self.output_edit.setText(str(paths.user_models_dir() / DEFAULT_MODEL_NAME))

    # -- browsing ---------------------------------------------------------------------------
    def _on_browse_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of real videos", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _on_browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "AV-HuBERT checkpoint", self.checkpoint_edit.text(),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.checkpoint_edit.setText(path)

    def _on_browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the trained model as", self.output_edit.text(),
                                              "Phi checkpoint (*.pt)")
        if path:
            self.output_edit.setText(path if path.endswith(".pt") else path + ".pt")

    # -- running ----------------------------------------------------------------------------
    def params(self, resume: bool | None = None) -> TrainingParams:
        """The settings as typed; ForensicsError (one sentence) for a bad entry."""
        source = self.source_edit.text().strip()
        output = self.output_edit.text().strip()
        if not source:
            raise ForensicsError("Choose the folder of real videos to train on.")
        if not output:
            raise ForensicsError("Choose where the trained model is saved.")
        try:
            lr = float(self.lr_edit.text())
        except ValueError:
            lr = -1.0
        if not 0 < lr < 1:
            raise ForensicsError(f"The learning rate '{self.lr_edit.text()}' must be a number between "
                                 "0 and 1, such as 1e-4.")
        ckpt = self.checkpoint_edit.text().strip()
        return TrainingParams(
            source=Path(source), output=Path(output), checkpoint=Path(ckpt) if ckpt else None,
            epochs=self.epochs_spin.value(), batch_size=self.batch_spin.value(), lr=lr,
            val_fraction=float(self.val_spin.value()), device=self.device_combo.currentText(),
            resume=self.resume_check.isChecked() if resume is None else resume,
            precision=self.precision_combo.currentData())

    def start(self, resume: bool | None = None) -> bool:
        """Start a run with the current settings; False (and a sentence shown) if it cannot."""
        if self.running:
            return False
        try:
            params = self.params(resume)
        except ForensicsError as err:
            self._show_status(str(err), error=True)
            return False
        self.history.clear()
        self.earlier.clear()
        self.result = self.extraction = None
        self._redraw()
        self._show_status("")
        self.progress_bar.setValue(0)
        self.stage_label.setText("starting")
        self.eta_label.setText("")

        worker = TrainingWorker(params)
        self._launch(worker, {
            worker.progressed: self._on_progressed, worker.extracted: self._on_extracted,
            worker.history_restored: self._on_history_restored,
            worker.epoch_finished: self._on_epoch_finished, worker.finished: self._on_finished,
            worker.cancelled: self._on_cancelled, worker.failed: self._on_failed})
        return True

    # -- worker signals ---------------------------------------------------------------------
    @Slot(int, str, float, float, float)
    def _on_progressed(self, _token: int, stage: str, done: float, total: float, eta_s: float) -> None:
        """``total`` <= 0: unknown (busy bar); ``eta_s`` < 0: unknown (seconds otherwise)."""
        eta = eta_s if eta_s >= 0 else None
        self.stage_label.setText(stage)
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(round(1000 * min(1.0, done / total))))
            self.eta_label.setText(f"ETA {format_eta(eta)}")
        else:
            self.progress_bar.setRange(0, 0)  # busy indicator
            self.eta_label.setText("")

    def skipped_note(self) -> str:
        """One sentence naming the videos the extraction skipped ("" when none)."""
        report = self.extraction
        if report is None or not report.skipped:
            return ""
        names = ", ".join(p.name for p, _ in report.skipped[:3])
        more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
        return (f"{len(report.skipped)} of {report.videos} videos were skipped ({names}{more}; "
                "no face, no sound or unreadable).")

    @Slot(object)
    def _on_extracted(self, report: Any) -> None:
        self.extraction = report
        self._show_status(self.skipped_note())

    @Slot(object)
    def _on_epoch_finished(self, stats: Any) -> None:
        self.history.append(stats)
        self._redraw()

    @Slot(object)
    def _on_history_restored(self, points: list[tuple[int, float, float | None]]) -> None:
        self.earlier = list(points)
        self._redraw()

    def plotted_epochs(self) -> list[tuple[int, float, float | None]]:
        """(epoch, train loss, validation loss or None) of every point on the plot."""
        live = [(s.epoch, s.train_loss, s.val_loss) for s in self.history]
        first_live = live[0][0] if live else None
        return [p for p in self.earlier if first_live is None or p[0] < first_live] + live

    def _redraw(self) -> None:
        points = self.plotted_epochs()
        self.train_curve.setData([p[0] for p in points], [p[1] for p in points])
        val = [(p[0], p[2]) for p in points if p[2] is not None]
        self.val_curve.setData([e for e, _ in val], [v for _, v in val])

    @Slot(int, object)
    def _on_finished(self, _token: int, result: Any) -> None:
        self.result = result
        if result.checkpoint is None:
            self._show_status("No epoch finished, so no model was written.", error=True)
        else:
            what = {"completed": "Training finished", "early stop": "Training stopped early",
                    "cancelled": "Training cancelled"}.get(result.stop_reason, "Training ended")
            how = "" if result.precision == "float32" else f" (trained in {result.precision})"
            self._show_status(f"{what} after {result.epochs_run} epoch(s){how}; the best model (epoch "
                              f"{result.best_epoch}, loss {result.best_val_loss:.4f}) is in "
                              f"{result.checkpoint}. {self.skipped_note()}".rstrip())

    @Slot(int)
    def _on_cancelled(self, _token: int) -> None:
        self._show_status("Cancelled before training started; finished features are kept.")

    @Slot(int, str)
    def _on_failed(self, _token: int, sentence: str) -> None:
        self._show_status(sentence, error=True)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._end_run():
            return
        self.progress_bar.setRange(0, 1000)
        self.stage_label.setText("")
        self.eta_label.setText("")
        self._update_buttons()
        self.training_finished.emit(self.result)

    # -- results ----------------------------------------------------------------------------
    def trained_model(self) -> Path | None:
        """The best model of the last run, when one was written."""
        if self.result is None or self.result.checkpoint is None:
            return None
        path = Path(self.result.checkpoint)
        return path if path.is_file() else None

    def use_model(self) -> None:
        """Make the trained model the viewer's Phi: QSettings key + :attr:`model_chosen`."""
        path = self.trained_model()
        if path is None:
            return
        value = str(path.resolve())
        self.settings.setValue(PHI_SETTINGS_KEY, value)
        self.settings.sync()
        self._show_status(f"The viewer now analyses with {path.name}.")
        self.model_chosen.emit(value)

    def _update_buttons(self) -> None:
        from forensics_gui.core.alignment.training import resume_path

        running = self.running
        output = self.output_edit.text().strip()
        can_resume = bool(output) and resume_path(Path(output)).is_file()
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running and can_resume)
        self.cancel_button.setEnabled(running)
        self.use_button.setEnabled(not running and self.trained_model() is not None)
        for w in (self.source_edit, self.checkpoint_edit, self.output_edit, self.epochs_spin,
                  self.batch_spin, self.lr_edit, self.val_spin, self.device_combo,
                  self.precision_combo, self.resume_check):
            w.setEnabled(not running)

