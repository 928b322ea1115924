"""Tools -> "Audit dataset…": measure cheap cues on a whole dataset and see which give its labels away.

The dialog takes a folder of clips or a metadata file (with the folder its paths are relative
to), an output folder and, optionally, a Ray cluster. :class:`AuditWorker` (the viewer's one
worker idiom, :class:`~forensics_gui.ui.worker_base.Worker`) runs the same core as
``forensics-gui audit``: :func:`~forensics_gui.core.audit.list_clips` ->
:func:`~forensics_gui.core.audit.run_audit` (rows streamed into the resumable table in the output
folder; with a Ray address, :func:`forensics_gui.core.cluster.ray_map` measures them) ->
:func:`~forensics_gui.core.audit.summarise` -> :func:`~forensics_gui.core.audit.write_report`.
The progress bar shows clips measured and the time left; Cancel stops after the clips already
back, which stay in the table, so Start again measures only the rest (the text says how many
were skipped).

The plots are those of the HTML report, drawn with pyqtgraph: the cues ranked by how well each
alone separates fake from real (AUC either way, with its 95 % bootstrap interval), the AUC
against the silence threshold (tau) and against the first delta ms, and a histogram per class
of the chosen cue. Clicking a ranked bar shows that cue's histogram; clicking a histogram bar
lists its clips; double-clicking one opens it in the viewer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.audit.stats import histogram_groups
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.progress import format_eta
from forensics_gui.ui import theme
from forensics_gui.ui.screen_fit import fit_dialog
from forensics_gui.ui.worker_base import Worker
from forensics_gui.ui.worker_dialog import WorkerDialog

MAX_RANKED = 12  # cues on the ranked chart (the report lists them all)
MAX_LISTED = 1000  # clips listed for one histogram bar (a bar of a big dataset holds many more)
GROUP_COLOURS = {"real": "#5fbf7f", "fake": "#e0609f", "unlabelled": theme.MUTED}
EXTRA_COLOURS = ("#4fa3ff", "#ffb86b", "#c58cff", "#d9c36a", "#56c7c7")
UNTRIMMED_COLOUR = theme.ACCENT
TRIMMED_COLOUR = "#ffb86b"
STAGE_WORDS = {"audit": "measuring clips", "report": "writing the report"}
AUC_TIP = ("AUC of the cue used alone as a classifier (Mann-Whitney: the chance that a random fake "
           "is on the fake side of a random real, ties counted half); shown as max(AUC, 1 - AUC), "
           "so 0.5 = no help, 1.0 = separates perfectly, whichever side the fakes are on. Whiskers: "
           "95 % stratified bootstrap interval.")


@dataclass
class AuditParams:
    """What one run audits: a ``folder`` of clips, or a ``metadata`` file (+ its ``root``)."""

    folder: Path | None
    metadata: Path | None
    root: Path | None
    output: Path
    ray: str = ""  # "" = this computer; else "auto" or a Ray cluster's address


@dataclass
class AuditOutcome:
    result: Any  # core.audit.AuditResult
    summary: Any  # core.audit.AuditSummary
    report: Path
    listed_problems: int


class AuditWorker(Worker):
    """Lists, measures (resumably), summarises and writes the report in a background thread.

    ``progressed`` stages: "listing clips", "audit" (clips done of all clips, those measured
    before included), "report". ``finished`` carries an :class:`AuditOutcome`.
    """

    what = "The audit"

    def __init__(self, params: AuditParams) -> None:
        super().__init__()
        self.params = params

    def work(self) -> Any:
        from forensics_gui.core.audit import list_clips, run_audit, summarise, write_report
        from forensics_gui.core.files.outputs import guarded_outputs

        p = self.params
        progress = self.progress
        progress.report("listing clips", 0, None)
        entries, problems = list_clips(p.folder, p.metadata, p.root)
        if not entries:
            where = p.folder or p.metadata
            raise ForensicsError(f"No clips to audit were found in {where}"
                                 + (f" ({problems[0][1]})" if problems else "") + ".")
        map_clips = None
        if p.ray:
            from forensics_gui.core.cluster import ray_map

            map_clips = ray_map(p.ray, progress=progress)
        inputs: list[tuple[Path | None, str]] = [(p.metadata, "the metadata file")]
        with guarded_outputs("audit (viewer)", [p.output / "cues.jsonl"], inputs):
            result = run_audit(entries, p.output, progress=progress, map_clips=map_clips)
            progress.report("report", 0, None)
            summary = summarise(result.rows, entries, problems=problems)
            report = write_report(summary, p.output)
        return AuditOutcome(result, summary, Path(report), len(problems))

    def explain(self, err: Exception) -> str:
        if isinstance(err, OSError):
            where = f" {err.filename}" if err.filename else ""
            return (f"Could not read or write{where} ({err.strerror or err}); "
                    "choose another output folder.")
        return super().explain(err)


# -- what the plots show (plain functions: the tests read them) --------------------------------

def ranked_bars(summary: Any, limit: int = MAX_RANKED) -> list[tuple[Any, float, tuple[float, float] | None]]:
    """(cue, separation = max(AUC, 1 - AUC), its interval) for the best ``limit`` cues, best first."""
    out = []
    for cue in summary.cues:
        if cue.auc is None:
            continue
        flip = cue.auc < 0.5
        sep = 1.0 - cue.auc if flip else cue.auc
        ci = None
        if cue.ci is not None:
            lo, hi = cue.ci
            ci = (1.0 - hi, 1.0 - lo) if flip else (lo, hi)
        out.append((cue, sep, ci))
        if len(out) >= limit:
            break
    return out


def _number(value: Any) -> float:
    if value is None or isinstance(value, (bool, str)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _category(value: Any) -> str:
    return str(value) if value not in (None, "") else "(none)"


def clips_in_bin(summary: Any, cue: Any, index: int, group: str) -> list[dict[str, Any]]:
    """The table rows of ``group`` that fall in bin ``index`` of ``cue``'s histogram."""
    hist = cue.histogram
    rows = [r for r in summary.rows if group in histogram_groups(r.get("label"), r.get("manipulation"))]
    if hist.categories is not None:
        if not 0 <= index < len(hist.categories):
            return []
        return [r for r in rows if _category(r.get(cue.column)) == hist.categories[index]]
    edges = np.asarray(hist.edges, dtype=np.float64)
    bins = len(edges) - 1
    out = []
    for r in rows:
        v = _number(r.get(cue.column))
        if math.isfinite(v):
            i = int(np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1))
            if i == index:
                out.append(r)
    return out


def shown_groups(cue: Any, by_manipulation: bool = False) -> list[str]:
    """The groups drawn: real, fake (or each "fake: <type>"), unlabelled, those with clips."""
    counts = cue.histogram.counts
    names = [g for g in counts if (g.startswith("fake: ") if by_manipulation else not g.startswith("fake: "))
             or g in ("real", "unlabelled")]
    if by_manipulation and not any(g.startswith("fake: ") for g in names) and "fake" in counts:
        names.append("fake")
    order = {"real": 0, "fake": 1, "unlabelled": 9}
    names = sorted(set(names), key=lambda g: (order.get(g, 2), g))
    return [g for g in names if sum(counts[g])]


def _colour(group: str, groups: list[str]) -> str:
    if group in GROUP_COLOURS:
        return GROUP_COLOURS[group]
    extra = [g for g in groups if g not in GROUP_COLOURS]
    return EXTRA_COLOURS[extra.index(group) % len(EXTRA_COLOURS)]


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w)
    return box


class AuditDialog(WorkerDialog):
    """Tools -> Audit dataset (see the module docstring). Non-modal; :meth:`shutdown` joins.

    ``window``: what opens a clip (the main window's ``open_path``); :attr:`clip_opened` says
    which one was asked for.
    """

    audit_finished = Signal(object)  # after the worker thread ended: the AuditOutcome or None
    clip_opened = Signal(str)
    _worker: AuditWorker | None  # the running audit (WorkerDialog)

    def __init__(self, parent: QWidget | None = None, window: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit dataset: which cheap cue gives the labels away?")
        self.viewer = window
        self.outcome: AuditOutcome | None = None
        self.summary: Any = None
        self.current_cue: Any = None
        self.selected_bin: tuple[int, str] | None = None
        self._last_done = 0.0
        self._build()
        self._update_buttons()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_radio = QRadioButton("Folder of clips")
        self.metadata_radio = QRadioButton("Metadata file")
        self.folder_radio.setToolTip("Every video under the folder; labels from a metadata file "
                                     "found in it (AV-Deepfake1M metadata.json, LAV-DF, FakeAVCeleb)")
        self.metadata_radio.setToolTip("The clips a metadata file names (AV-Deepfake1M JSON, LAV-DF "
                                       "metadata.min.json, FakeAVCeleb meta_data.csv)")
        self.folder_radio.setChecked(True)
        source_group = QButtonGroup(self)
        source_group.addButton(self.folder_radio)
        source_group.addButton(self.metadata_radio)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("the dataset's folder")
        self.metadata_edit = QLineEdit()
        self.metadata_edit.setPlaceholderText("metadata.json, metadata.min.json or meta_data.csv")
        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("folder the metadata's paths start from (default: its own)")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("folder for the report and the table (kept for resuming)")
        self.ray_edit = QLineEdit()
        self.ray_edit.setPlaceholderText("empty: this computer; 'auto' or HOST:6379: a Ray cluster")
        from forensics_gui.core.cluster import RAY_HELP

        self.ray_edit.setToolTip(RAY_HELP)

        def browse(edit: QLineEdit, title: str, folder: bool = True) -> QPushButton:
            button = QPushButton("Browse…")

            def choose() -> None:
                if folder:
                    path = QFileDialog.getExistingDirectory(self, title, edit.text())
                else:
                    path, _ = QFileDialog.getOpenFileName(self, title, edit.text(),
                                                          "Metadata (*.json *.csv);;All files (*)")
                if path:
                    edit.setText(path)
            button.clicked.connect(choose)
            return button

        form = QFormLayout()
        form.addRow(self.folder_radio, _row(self.folder_edit, browse(self.folder_edit, "Dataset folder")))
        form.addRow(self.metadata_radio, _row(self.metadata_edit,
                                              browse(self.metadata_edit, "Metadata file", False)))
        form.addRow("   clips under", _row(self.root_edit, browse(self.root_edit, "Clips folder")))
        form.addRow("Report folder", _row(self.output_edit, browse(self.output_edit, "Report folder")))
        form.addRow("Ray cluster", self.ray_edit)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_ranked(), "Cues ranked")
        self.tabs.addTab(self._build_curves(), "Silence threshold / first ms")
        self.tabs.addTab(self._build_histogram(), "Histograms and clips")

        self.stage_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setFont(theme.monospace_font())
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Measure the clips not yet in the report folder's table")
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the clips measured so far stay in the table, and "
                                      "Start continues from there")
        self.cancel_button.clicked.connect(self.cancel)
        self.report_button = QPushButton("Open report")
        self.report_button.setToolTip("The HTML report (plots and tables) in your web browser")
        self.report_button.clicked.connect(self.open_report)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.report_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(_row(self.stage_label, self.progress_bar, self.progress_label))
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        fit_dialog(self, self.parentWidget(), 900, 760)

    def _plot(self, bottom: str, left: str) -> pg.PlotWidget:
        plot = pg.PlotWidget()
        plot.setMinimumHeight(120)
        plot.setLabel("bottom", bottom)
        plot.setLabel("left", left)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMenuEnabled(False)
        return plot

    def _build_ranked(self) -> QWidget:
        self.ranked_plot = self._plot("how well it separates fake from real (AUC, 0.5 = not at all)", "")
        self.ranked_plot.setToolTip(AUC_TIP)
        self.ranked_plot.hideAxis("left")  # each bar carries its cue's name
        self.ranked_plot.setXRange(0.4, 1.0)
        self.ranked_bars: pg.BarGraphItem | None = None
        self.ranked_whiskers: pg.ErrorBarItem | None = None
        self.ranked_labels: list[pg.TextItem] = []
        self.ranked_plot.addItem(pg.InfiniteLine(
            pos=0.5, angle=90, movable=False, pen=pg.mkPen(theme.MUTED, style=Qt.PenStyle.DashLine),
            label="chance", labelOpts={"position": 0.95, "color": theme.MUTED}))
        self.ranked_plot.scene().sigMouseClicked.connect(self._on_ranked_clicked)
        self.ranked_note = QLabel("Run an audit to see which cheap cue gives your labels away. "
                                  "Click a bar to see that cue's histogram.")
        self.ranked_note.setWordWrap(True)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.addWidget(self.ranked_plot, 1)
        lay.addWidget(self.ranked_note)
        return box

    def _build_curves(self) -> QWidget:
        self.tau_plot = self._plot("silence threshold tau (amplitude, log scale)", "AUC")
        self.tau_plot.setToolTip("AUC of the leading silence, measured at each threshold tau, as a "
                                 "classifier (the paper's Figure 3, left): untrimmed and after "
                                 "trimming the silence")
        self.tau_plot.setLogMode(x=True, y=False)
        self.delta_plot = self._plot("first delta ms of the sound (log scale)", "AUC")
        self.delta_plot.setToolTip("AUC of the loudest sample in the first delta ms, lower = fake "
                                   "(the paper's Figure 3, right): untrimmed and after trimming")
        self.delta_plot.setLogMode(x=True, y=False)
        self.tau_curves: dict[str, pg.PlotDataItem] = {}
        self.delta_curves: dict[str, pg.PlotDataItem] = {}
        for plot, store in ((self.tau_plot, self.tau_curves), (self.delta_plot, self.delta_curves)):
            plot.setYRange(0.0, 1.05)
            plot.addLegend(offset=(-10, -10), brush=pg.mkBrush(30, 33, 39, 200))
            for name, colour in (("untrimmed", UNTRIMMED_COLOUR), ("trimmed", TRIMMED_COLOUR)):
                store[name] = plot.plot([], [], name=name, symbol="o", symbolSize=5,
                                        pen=pg.mkPen(colour, width=2), symbolBrush=colour)
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.addWidget(self.tau_plot)
        lay.addWidget(self.delta_plot)
        return box

    def _build_histogram(self) -> QWidget:
        self.cue_combo = QComboBox()
        self.cue_combo.currentIndexChanged.connect(self._on_cue_chosen)
        self.manip_combo = QComboBox()
        self.manip_combo.addItems(["real / fake", "real / each kind of fake"])
        self.manip_combo.setToolTip("Split the fakes by manipulation type (from the metadata)")
        self.manip_combo.currentIndexChanged.connect(lambda _i: self._draw_histogram())
        self.hist_plot = self._plot("", "clips")
        self.hist_plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(30, 33, 39, 200))
        self.hist_plot.scene().sigMouseClicked.connect(self._on_hist_clicked)
        self.hist_bars: dict[str, pg.BarGraphItem] = {}
        self.hist_note = QLabel("Click a bar to list its clips; double-click a clip to open it.")
        self.hist_note.setWordWrap(True)
        self.clip_list = QTreeWidget()
        self.clip_list.setHeaderLabels(["clip", "class", "value"])
        self.clip_list.setRootIsDecorated(False)
        self.clip_list.setColumnWidth(0, 520)
        self.clip_list.setColumnWidth(1, 200)
        self.clip_list.itemDoubleClicked.connect(self._on_clip_double_clicked)
        top = QWidget()
        lay = QVBoxLayout(top)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(_row(QLabel("Cue"), self.cue_combo, self.manip_combo))
        lay.addWidget(self.hist_plot, 1)
        lay.addWidget(self.hist_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.clip_list)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        return split

    # -- running ----------------------------------------------------------------------------
    def params(self) -> AuditParams:
        """The settings as typed; ForensicsError (one sentence) for a bad entry."""
        output = self.output_edit.text().strip()
        folder = metadata = root = None
        if self.folder_radio.isChecked():
            text = self.folder_edit.text().strip()
            if not text:
                raise ForensicsError("Choose the folder of clips to audit.")
            folder = Path(text)
            if not folder.is_dir():
                raise ForensicsError(f"{folder} is not a folder; choose the folder that holds the clips.")
        else:
            text = self.metadata_edit.text().strip()
            if not text:
                raise ForensicsError("Choose the metadata file that lists the clips.")
            metadata = Path(text)
            if not metadata.is_file():
                raise ForensicsError(f"The metadata file {metadata} does not exist.")
            root_text = self.root_edit.text().strip()
            root = Path(root_text) if root_text else None
            if root is not None and not root.is_dir():
                raise ForensicsError(f"{root} is not a folder; choose the folder the metadata's "
                                     "paths start from, or leave it empty.")
        if not output:
            raise ForensicsError("Choose a report folder (the table of measurements is kept there).")
        out = Path(output)
        if out.exists() and not out.is_dir():
            raise ForensicsError(f"{out} is a file; choose a folder for the report.")
        clips_dir = folder or root or (metadata.parent if metadata else None)
        if clips_dir is not None and _inside(out, clips_dir):
            raise ForensicsError(f"The report folder {out} is inside the dataset ({clips_dir}); choose "
                                 "a folder outside it, so the audit never writes among its clips.")
        return AuditParams(folder=folder, metadata=metadata, root=root, output=out,
                           ray=self.ray_edit.text().strip())

    def start(self) -> bool:
        """Start (or continue) an audit with the current settings; False (sentence shown) if not."""
        if self.running:
            return False
        try:
            params = self.params()
        except ForensicsError as err:
            self._show_status(str(err), error=True)
            return False
        self._show_status("")
        self._last_done = 0.0
        self.progress_bar.setValue(0)
        self.stage_label.setText("starting")
        self.progress_label.setText("")
        worker = AuditWorker(params)
        self._launch(worker, {worker.progressed: self._on_progressed,
                              worker.finished: self._on_finished,
                              worker.cancelled: self._on_cancelled, worker.failed: self._on_failed})
        return True

    # -- worker signals ---------------------------------------------------------------------
    @Slot(int, str, float, float, float)
    def _on_progressed(self, _token: int, stage: str, done: float, total: float, eta_s: float) -> None:
        self.stage_label.setText(STAGE_WORDS.get(stage, stage))
        if stage == "audit" and total > 0:
            self._last_done = done
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(round(1000 * min(1.0, done / total))))
            left = f" · {format_eta(eta_s)} left" if eta_s >= 0 else ""
            self.progress_label.setText(f"{int(done):,} of {int(total):,} clips{left}")
        else:
            self.progress_bar.setRange(0, 0)  # busy: listing, writing the report
            if stage == "listing clips":
                self.progress_label.setText("")
            else:  # the count stays; the time left is over
                self.progress_label.setText(self.progress_label.text().split(" · ")[0])

    @Slot(int, object)
    def _on_finished(self, _token: int, outcome: AuditOutcome) -> None:
        self.outcome = outcome
        r, s = outcome.result, outcome.summary
        n = len(r.rows)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(1000)
        self.progress_label.setText(f"{n:,} of {n:,} clips")
        parts = [f"Measured {r.measured:,} clip{'s' if r.measured != 1 else ''}"]
        if r.skipped:
            parts.append(f"{r.skipped:,} already in the table were skipped (resumed)")
        labels = f"{s.n_real:,} real, {s.n_fake:,} fake"
        if s.n_unlabelled:
            labels += f", {s.n_unlabelled:,} unlabelled"
        text = "; ".join(parts) + f". {labels}."
        if s.problems:
            text += (f" {len(s.problems):,} problem{'s' if len(s.problems) != 1 else ''} (unreadable "
                     "clips, missing files) are listed in the report.")
        self._show_status(text + f" Report: {outcome.report}")
        self.show_summary(s)

    @Slot(int)
    def _on_cancelled(self, _token: int) -> None:
        from forensics_gui.core.audit import read_table

        out = self._worker.params.output if self._worker is not None else None
        kept = len(read_table(out / "cues.jsonl")[0]) if out is not None else 0
        self._show_status(f"Cancelled. The {kept:,} clips measured so far are kept in {out}; "
                          "Start continues with the rest.")

    @Slot(int, str)
    def _on_failed(self, _token: int, sentence: str) -> None:
        self._show_status(sentence, error=True)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._end_run():
            return
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)
        self.stage_label.setText("")
        self._update_buttons()
        self.audit_finished.emit(self.outcome)

    # -- plots ------------------------------------------------------------------------------
    def show_summary(self, summary: Any) -> None:
        """Draw an AuditSummary: ranked cues, AUC-vs-tau/delta, the best cue's histogram."""
        self.summary = summary
        self._draw_ranked()
        for curves, data, key in ((self.tau_curves, summary.tau_curve, "tau"),
                                  (self.delta_curves, summary.delta_curve, "delta_ms")):
            xs = np.asarray(data[key], dtype=np.float64)
            plot = self.tau_plot if key == "tau" else self.delta_plot
            axis = plot.getPlotItem().getAxis("bottom")
            axis.enableAutoSIPrefix(False)
            # the grid's own values as ticks (log axis: positions are log10 of the value)
            axis.setTicks([[(math.log10(x), f"{x:g}") for x in xs if x > 0
                            and (key == "tau" or x in (10, 20, 50, 100, 200, 500, 1000))]])
            for name, item in curves.items():
                ys = np.array([np.nan if v is None else v for v in data.get(name, [])], dtype=np.float64)
                ok = np.isfinite(ys) & (xs[:len(ys)] > 0)
                item.setData(xs[:len(ys)][ok], ys[ok])
        self.cue_combo.blockSignals(True)
        self.cue_combo.clear()
        for cue in summary.cues:
            auc = "" if cue.auc is None else f"  (AUC {cue.auc:.2f})"
            self.cue_combo.addItem(cue.label + auc, cue.column)
        self.cue_combo.blockSignals(False)
        best = ranked_bars(summary, 1)
        self.show_cue(best[0][0].column if best else (summary.cues[0].column if summary.cues else ""))

    def _draw_ranked(self) -> None:
        plot = self.ranked_plot
        for item in (self.ranked_bars, self.ranked_whiskers, *self.ranked_labels):
            if item is not None:
                plot.removeItem(item)
        self.ranked_bars = self.ranked_whiskers = None
        self.ranked_labels = []
        bars = ranked_bars(self.summary)
        self.ranked = bars
        if not bars:
            self.ranked_note.setText("No cue has an AUC: the audit needs clips of both classes "
                                     "(real and fake) with labels.")
            return
        n = len(bars)
        ys = np.array([n - 1 - i for i in range(n)], dtype=float)  # the best on top
        widths = np.array([b[1] for b in bars])
        self.ranked_bars = pg.BarGraphItem(x0=np.zeros(n), y=ys, height=0.7, width=widths,
                                           brush=theme.ACCENT, pen=pg.mkPen(theme.BORDER))
        plot.addItem(self.ranked_bars)
        lo = np.array([w - (b[2][0] if b[2] else w) for w, b in zip(widths, bars, strict=True)])
        hi = np.array([(b[2][1] if b[2] else w) - w for w, b in zip(widths, bars, strict=True)])
        self.ranked_whiskers = pg.ErrorBarItem(x=widths, y=ys, left=lo, right=hi, beam=0.25,
                                               pen=pg.mkPen(theme.TEXT, width=1.5))
        plot.addItem(self.ranked_whiskers)
        for y, b in zip(ys, bars, strict=True):
            text = f"{b[0].label}: AUC {b[0].auc:.2f}" + (f" ({b[0].direction})" if b[0].direction else "")
            label = pg.TextItem(text, color=theme.BACKGROUND, anchor=(0, 0.5))
            label.setPos(0.41, float(y))
            label.setToolTip(f"{b[0].column} (AUC {b[0].auc:.4f})")
            plot.addItem(label)
            self.ranked_labels.append(label)
        plot.setYRange(-0.6, n - 0.4, padding=0)
        plot.setXRange(0.4, 1.02, padding=0)
        best = bars[0]
        ci = f" (95 % interval {best[2][0]:.2f}-{best[2][1]:.2f})" if best[2] else ""
        self.ranked_note.setText(
            f"Best single cue: {best[0].label}, AUC {best[1]:.2f}{ci}, {best[0].direction}. "
            "A cheap cue near 1.0 means a detector can score well on this data without looking at "
            "the face or the voice. Click a bar to see its histogram.")

    @Slot(object)
    def _on_ranked_clicked(self, event: Any) -> None:
        if not getattr(self, "ranked", None):
            return
        pos = self.ranked_plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        index = len(self.ranked) - 1 - int(round(pos.y()))
        if 0 <= index < len(self.ranked) and pos.x() >= 0:
            self.show_cue(self.ranked[index][0].column)
            self.tabs.setCurrentIndex(2)

    def show_cue(self, column: str) -> None:
        """Show ``column``'s histogram (and select it in the cue box)."""
        if self.summary is None:
            return
        cue = self.summary.cue(column)
        if cue is None:
            return
        self.current_cue = cue
        i = self.cue_combo.findData(column)
        if i >= 0 and i != self.cue_combo.currentIndex():
            self.cue_combo.blockSignals(True)
            self.cue_combo.setCurrentIndex(i)
            self.cue_combo.blockSignals(False)
        self._draw_histogram()

    @Slot(int)
    def _on_cue_chosen(self, index: int) -> None:
        column = self.cue_combo.itemData(index)
        if column:
            self.show_cue(str(column))

    def hist_groups(self) -> list[str]:
        return [] if self.current_cue is None else shown_groups(
            self.current_cue, self.manip_combo.currentIndex() == 1)

    def bar_geometry(self, index: int, group: str) -> tuple[float, float, float]:
        """(centre x, width, height) of the histogram bar of ``group`` in bin ``index``."""
        hist = self.current_cue.histogram
        groups = self.hist_groups()
        k, g = groups.index(group), len(groups)
        if hist.categories is not None:
            left, w = index - 0.5, 1.0
        else:
            left, w = hist.edges[index], hist.edges[index + 1] - hist.edges[index]
        return left + w * (k + 0.5) / g, 0.9 * w / g, float(hist.counts[group][index])

    def _draw_histogram(self) -> None:
        plot = self.hist_plot
        for item in self.hist_bars.values():
            plot.removeItem(item)
        self.hist_bars = {}
        legend = plot.getPlotItem().legend
        if legend is not None:
            legend.clear()
        self.selected_bin = None
        self.clip_list.clear()
        cue = self.current_cue
        if cue is None:
            return
        hist = cue.histogram
        groups = self.hist_groups()
        nbins = len(hist.categories) if hist.categories is not None else len(hist.edges) - 1
        for group in groups:
            geo = [self.bar_geometry(i, group) for i in range(nbins)]
            colour = _colour(group, groups)
            bars = pg.BarGraphItem(x=[g[0] for g in geo], width=[g[1] for g in geo], y0=0,
                                   height=[g[2] for g in geo], brush=colour, pen=pg.mkPen(colour))
            plot.addItem(bars)
            if legend is not None:
                legend.addItem(bars, f"{group} ({sum(hist.counts[group]):,})")
            self.hist_bars[group] = bars
        axis = plot.getPlotItem().getAxis("bottom")
        if hist.categories is not None:
            axis.setTicks([[(float(i), _short(c, 18)) for i, c in enumerate(hist.categories)]])
            plot.setXRange(-0.6, nbins - 0.4, padding=0)
        else:
            axis.setTicks(None)
            plot.setXRange(hist.edges[0], hist.edges[-1], padding=0.02)
        top = max([max(hist.counts[g]) for g in groups] or [1])
        plot.setYRange(0, top * 1.08 + 0.5, padding=0)
        plot.setLabel("bottom", cue.label)
        auc = "no AUC (needs both classes)" if cue.auc is None else (
            f"AUC {cue.auc:.3f}" + (f" (95 % {cue.ci[0]:.3f}-{cue.ci[1]:.3f})" if cue.ci else "")
            + (f", {cue.direction}" if cue.direction else ""))
        self.hist_note.setText(f"{cue.label} [{cue.column}]: {auc}, {cue.n:,} labelled clips. "
                               "Click a bar to list its clips; double-click a clip to open it.")

    @Slot(object)
    def _on_hist_clicked(self, event: Any) -> None:
        if self.current_cue is None:
            return
        pos = self.hist_plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        hit = self.bar_at(pos.x())
        if hit is not None:
            self.select_bar(*hit)

    def bar_at(self, x: float) -> tuple[int, str] | None:
        """(bin, group) of the bar column under ``x`` (view coordinates), None outside."""
        hist = self.current_cue.histogram
        groups = self.hist_groups()
        if not groups:
            return None
        if hist.categories is not None:
            pos = x + 0.5
            index = int(math.floor(pos))
            if not 0 <= index < len(hist.categories):
                return None
            frac = pos - index
        else:
            edges = hist.edges
            if not edges[0] <= x <= edges[-1]:
                return None
            index = min(len(edges) - 2, int(np.searchsorted(edges, x, side="right") - 1))
            frac = (x - edges[index]) / (edges[index + 1] - edges[index])
        return index, groups[min(len(groups) - 1, int(frac * len(groups)))]

    def select_bar(self, index: int, group: str) -> list[dict[str, Any]]:
        """List the clips of ``group`` in bin ``index`` of the shown cue; returns their rows."""
        cue = self.current_cue
        rows = clips_in_bin(self.summary, cue, index, group)
        self.selected_bin = (index, group)
        self.clip_list.clear()
        for r in rows[:MAX_LISTED]:
            value = r.get(cue.column)
            shown = _number_text(value) if isinstance(value, float) else str(value)
            item = QTreeWidgetItem([str(r.get("name") or r.get("path")),
                                    str(r.get("label") or "unlabelled")
                                    + (f" ({r['manipulation']})" if r.get("manipulation")
                                       and r.get("label") == "fake" else ""), shown])
            item.setData(0, Qt.ItemDataRole.UserRole, str(r.get("path") or ""))
            item.setToolTip(0, str(r.get("path") or ""))
            self.clip_list.addTopLevelItem(item)
        hist = cue.histogram
        where = (hist.categories[index] if hist.categories is not None
                 else f"{_number_text(hist.edges[index])} to {_number_text(hist.edges[index + 1])}")
        shown = f" (the first {MAX_LISTED:,} are listed)" if len(rows) > MAX_LISTED else ""
        self.hist_note.setText(f"{len(rows):,} {group} clip{'s' if len(rows) != 1 else ''} with "
                               f"{cue.label} {where}{shown}; double-click one to open it in the "
                               "viewer.")
        return rows

    def listed_clips(self) -> list[str]:
        items = (self.clip_list.topLevelItem(i) for i in range(self.clip_list.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]

    @Slot(QTreeWidgetItem, int)
    def _on_clip_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        path = str(item.data(0, Qt.ItemDataRole.UserRole) or "")
        if path:
            self.open_clip(path)

    def open_clip(self, path: str) -> None:
        self.clip_opened.emit(path)
        if self.viewer is not None:
            self.viewer.open_path(path)
            self.viewer.raise_()
            self.viewer.activateWindow()

    def open_report(self) -> None:
        if self.outcome is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.outcome.report)))

    # -- state ------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.report_button.setEnabled(not running and self.outcome is not None
                                      and self.outcome.report.is_file())
        for w in (self.folder_radio, self.metadata_radio, self.folder_edit, self.metadata_edit,
                  self.root_edit, self.output_edit, self.ray_edit):
            w.setEnabled(not running)



def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _number_text(value: float) -> str:
    """A measurement as people write it: 70,817 / 31.5 / 0.0005."""
    if abs(value) >= 10000:
        return f"{value:,.0f}"
    return f"{value:.5g}"


def _short(text: str, limit: int = 44) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def view_to_widget(plot: pg.PlotWidget, x: float, y: float) -> Any:
    """Widget coordinates (a QPoint of the plot's viewport) of view point (x, y): for clicks."""
    scene = plot.getPlotItem().vb.mapViewToScene(QPointF(x, y))
    return plot.mapFromScene(scene)
