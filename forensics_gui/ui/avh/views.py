"""The AVH-Align analysis in the main window: the Analysis menu, the File menu's ground truth and
export entries, the transport's Analyze button, the status-bar progress strip, the
fakeness/sync/ground-truth lanes, the mouth-ROI preview, the face box and the summary dock.

The window creates one :class:`AvhViews` (``window.avh``), which reaches the window only through
its typed public API (:class:`~forensics_gui.ui.window_api.WindowApi`), keeps its state in an
:class:`~forensics_gui.ui.avh.state.AvhState` and runs its work through an
:class:`~forensics_gui.ui.avh.runner.AvhRunner`; it listens to the session (``media_opened``,
``time_changed``) and :meth:`shutdown` joins the runner's threads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.evidence import wording
from forensics_gui.core.media.timebase import MODEL_FPS, index_at, model_frame_of
from forensics_gui.ui.avh.exports_view import AvhExports
from forensics_gui.ui.avh.progress_strip import ProgressStrip
from forensics_gui.ui.avh.runner import AvhRunner
from forensics_gui.ui.avh.state import AvhState
from forensics_gui.ui.curves import CurvePanel, GroundTruthLanes, curve_colour
from forensics_gui.ui.lipsync_lane import LipSyncLane
from forensics_gui.ui.roi_preview import RoiPreview
from forensics_gui.ui.summary_panel import ReferenceScores, SummaryPanel, curve_name
from forensics_gui.ui.window_api import WindowApi

GT_FILTER = "Ground truth (*.json *.csv);;All files (*)"
PREBUILD_DELAY_MS = 1000  # after a clip opens, before building the lanes off screen (idle time)
STALE_COLOUR = "#6b717b"  # curves of an out-of-date analysis: grey, whatever their colour was
ANALYZE_TIP = ("Measure mouth and voice, and run AVH-Align when its model files are installed "
               "(Ctrl+R)")
MODELS_NOTICE = "The stronger AVH-Align detector needs its model files, which are not installed."
# Analysis > Encoder precision: the menu's words and tooltips per precision
PRECISION_LABELS = {"float32": "&Exact (float32)", "bfloat16": "Fast (&bfloat16)",
                    "float16": "Fast (float16, &GPU)"}
PRECISION_TIPS = {
    "float32": "Exact: the encoder's features match the official ones (the default).",
    "bfloat16": "Faster on CPUs with bfloat16 support and on GPUs; the scores may differ slightly "
                "from the exact float32 ones, and the results say so.",
    "float16": "Faster on GPUs only; the scores may differ slightly from the exact float32 ones, "
               "and the results say so.",
}


class ModelsNotice(QWidget):
    """One line above the lanes after an Analyze without model files: what is missing, and a
    button that opens the Models dialog. Not modal: the evidence stays in view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsNotice")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        self.label = QLabel(MODELS_NOTICE)
        self.label.setObjectName("modelsNoticeText")
        self.label.setWordWrap(False)
        self.label.setMinimumWidth(1)  # a narrow window cuts it, never widens the window
        self.button = QPushButton("Models…")
        self.button.setToolTip("Help > Models…: which model files are installed, where to put "
                               "them, and how to fetch them")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row.addWidget(self.label, 1)
        row.addWidget(self.button, 0)
        self.guidance = ""
        self.setVisible(False)

    def show_guidance(self, guidance: str) -> None:
        """Show the line; the full guidance (where to put which file) is its tooltip."""
        self.guidance = guidance
        self.label.setToolTip(f"{wording.MOUTH_AND_VOICE_NEEDS_NO_MODEL}\n\n{guidance}")
        self.setVisible(True)


class AvhViews(QObject):
    """The analysis side of one main window (see the module docstring).

    What the window and tests use: ``state`` (:class:`AvhState`: ``analysis``, ``reference``,
    settings), ``runner`` (:class:`AvhRunner`: ``worker``, ``prepare_process``, ``retired``),
    ``exports`` (:class:`AvhExports`: the File menu's exports, the screenshot's curves), the
    widgets ``curves`` (CurvePanel), ``gt_lanes`` (GroundTruthLanes), ``roi_preview``,
    ``summary``, ``progress`` (ProgressStrip), ``dock``, the actions, and ``last_guidance``
    (missing-model text last shown); ``lipsync`` (LipSyncLane: mouth and voice, no model files
    needed) and ``models_notice`` (the one line above the lanes, with its Models… button, after
    an Analyze without model files, which runs the model-free part only: ``prepare_only``, its
    result in ``model_free``).
    """

    analysis_finished = Signal(object)  # ClipAnalysis
    groundtruth_loaded = Signal(object)  # GroundTruth

    def __init__(self, window: WindowApi) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.state = AvhState(window.settings.qsettings)
        self.runner = AvhRunner(lambda: window.token, self)
        self.last_guidance = ""
        self.missing_box: QMessageBox | None = None
        self.models_dialog: Any = None
        self._lanes_sized = False

        self.curves = CurvePanel(window.timeline)
        self.lipsync = LipSyncLane(window.timeline)
        self.lipsync.frame_label = self.frame_label
        self.models_notice = ModelsNotice()
        self.models_notice.button.clicked.connect(self.show_models_dialog)
        timeline_layout = window.timeline.layout()
        if isinstance(timeline_layout, QVBoxLayout):  # the line sits just above the lanes
            timeline_layout.insertWidget(0, self.models_notice)
        self.prepare_only = False  # the run under way has no model files: the model-free part
        self.model_free: Any = None  # its result (a ClipAnalysis without scores), for the face box
        self.gt_lanes = GroundTruthLanes(window.timeline)
        self.roi_preview = RoiPreview()
        self.summary = SummaryPanel()
        self.exports = AvhExports(window, self.state, self.curves, self.gt_lanes, self.lipsync)
        self.summary.seek_requested.connect(window.seek)
        self.summary.analyze_again_requested.connect(self.analyze)
        self.stale = False  # the curves and summary shown are marked out of date
        self._run_signature: tuple[Any, ...] | None = None  # options of the run under way
        self._reference_key: tuple[Any, ...] | None = None  # of the reference run under way
        self.curves.frame_label = self.frame_label
        self.roi_preview.frame_label = self.frame_label
        window.transport.time_label.setToolTip(
            "Time (hours:minutes:seconds.milliseconds) and the video's own frame number / the "
            f"last frame.\n{wording.FRAME_NUMBER}: {wording.TECHNICAL_TERMS[wording.FRAME_NUMBER]}.")
        self.progress = ProgressStrip()
        self.progress.cancel_clicked.connect(self.cancel)
        window.add_status_widget(self.progress)
        self._build_dock()
        self._build_actions()
        self._connect_runner()
        window.session.media_opened.connect(self._on_media_opened)
        window.session.time_changed.connect(self._on_time_changed)
        window.session.silence_changed.connect(self.summary.set_measured_silence)
        phi_changed = getattr(window.as_widget(), "phi_checkpoint_changed", None)
        if phi_changed is not None:  # Tools > Train… > "Use this model"
            phi_changed.connect(lambda *_: self.update_stale())
        self.update_actions()

    # -- construction --------------------------------------------------------------------
    def _build_dock(self) -> None:
        body = QWidget()
        col = QVBoxLayout(body)
        col.setContentsMargins(4, 4, 4, 4)
        heading = QLabel("Mouth crop (model input)")
        heading.setObjectName("heading")
        heading.setToolTip(wording.TECHNICAL_TERMS["Mouth crop"])
        col.addWidget(heading)
        col.addWidget(self.roi_preview)
        col.addWidget(self.summary, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = QDockWidget("AVH-Align analysis", self.window.as_widget())
        self.dock.setObjectName("analysisDock")
        self.dock.setWidget(scroll)
        self.dock.setMinimumWidth(260)
        self.window.add_dock(self.dock)

    def _build_actions(self) -> None:
        w = self.window
        parent = w.as_widget()
        menu = w.add_menu("&Analysis", before="Help")  # keep Help last
        self.analyze_action = w.add_action(menu, "&Analyze", self.analyze, "Ctrl+R")
        self.analyze_action.setToolTip("Measure mouth and voice and score this clip with AVH-Align "
                                       "in the background (Ctrl+R)")
        self.cancel_action = w.add_action(menu, "&Cancel analysis", self.cancel)
        self.cancel_action.setEnabled(False)
        menu.addSeparator()
        self.trimmed_action = QAction("Also score with the leading silence &removed", parent)
        self.trimmed_action.setToolTip(
            "Adds a second curve: " + wording.TECHNICAL_TERMS[wording.MISMATCH_CURVE_TRIMMED] + ".")
        self.trimmed_action.setCheckable(True)
        self.trimmed_action.setChecked(self.state.also_trimmed)
        self.trimmed_action.toggled.connect(self._on_trimmed_toggled)
        menu.addAction(self.trimmed_action)
        self.fast_landmarks_action = QAction("&Fast face tracking (not the official mouth crop)", parent)
        self.fast_landmarks_action.setCheckable(True)
        self.fast_landmarks_action.setToolTip(
            "Off (default): the official landmarks. On: a windowed face tracker, faster on HD "
            "video; results record which was used.")
        self.fast_landmarks_action.setChecked(self.state.fast_landmarks)
        self.fast_landmarks_action.toggled.connect(self._on_fast_landmarks_toggled)
        menu.addAction(self.fast_landmarks_action)
        self._build_precision_menu(menu)
        self.supervised_action = w.add_action(menu, "&Second detector (trained on fakes)…",
                                              self._on_choose_supervised)
        self.supervised_action.setToolTip(wording.TECHNICAL_TERMS[wording.SUPERVISED_CURVE])
        self.clear_supervised_action = w.add_action(menu, "Remove the second detector",
                                                    lambda: self.set_supervised_checkpoint(None))
        menu.addSeparator()
        self.reference_action = w.add_action(menu, "&Reference folder of real videos…",
                                             self._on_choose_reference)
        self.clear_reference_action = w.add_action(menu, "Clear reference folder",
                                                   lambda: self.set_reference_folder(None))
        menu.addSeparator()
        panel_action = self.dock.toggleViewAction()
        panel_action.setText("Show the analysis &panel")
        menu.addAction(panel_action)
        self.models_action = w.add_action(menu, "&Models…", self.show_models_dialog)
        help_menu = w.menu("Help")
        if help_menu is not None:  # Help > Models… first
            first = help_menu.actions()[0] if help_menu.actions() else None
            if first is not None:
                help_menu.insertAction(first, self.models_action)
            else:
                help_menu.addAction(self.models_action)
        self._update_supervised_text()

        file_menu = w.menu("File")
        quit_action = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"),
                           None) if file_menu is not None else None
        entries = [("Load &ground truth…", self._on_load_groundtruth),
                   ("Export frame &scores (CSV/JSON)…", self.exports.on_export_scores),
                   ("Export the stretches to che&ck (Audacity labels)…", self.exports.on_export_segments)]
        self.file_actions: list[QAction] = []
        for text, slot in entries:
            action = w.add_action(None, text, slot)
            if file_menu is not None:
                file_menu.insertAction(quit_action, action)  # type: ignore[arg-type]
            self.file_actions.append(action)
        if file_menu is not None:
            file_menu.insertSeparator(quit_action)  # type: ignore[arg-type]
        self.gt_action, self.export_scores_action, self.export_segments_action = self.file_actions

        self.analyze_button = QToolButton()
        self.analyze_button.setText("Analyze")
        self.analyze_button.setToolTip(ANALYZE_TIP)
        self.analyze_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.analyze_button.clicked.connect(self.analyze)
        w.transport.controls.insertWidget(3, self.analyze_button)

    def _build_precision_menu(self, menu: QMenu) -> None:
        """Analysis > Encoder precision: one radio action per precision (``precision_actions``),
        the saved one checked; those this machine lacks are disabled, their tooltip says why."""
        self.precision_menu = menu.addMenu("Encoder &precision")
        self.precision_menu.setToolTipsVisible(True)
        group = QActionGroup(self.precision_menu)
        group.setExclusive(True)
        self.precision_actions: dict[str, QAction] = {}
        for name, label in PRECISION_LABELS.items():
            action = QAction(label, self.precision_menu)
            action.setCheckable(True)
            action.setData(name)
            group.addAction(action)
            self.precision_menu.addAction(action)
            self.precision_actions[name] = action
        self.precision_actions[self.state.precision].setChecked(True)
        group.triggered.connect(lambda action: self.set_precision(str(action.data())))
        self.update_precision_actions()
        # PyTorch may have been imported since (an analysis ran): then the check is exact
        self.precision_menu.aboutToShow.connect(self.update_precision_actions)

    def update_precision_actions(self) -> None:
        """Enable the precisions this machine offers; the others get the reason as tooltip.
        Never imports PyTorch here (the GUI thread): an estimate until an analysis has."""
        from forensics_gui.core.encoder.devices import available_precisions

        for name, problem in available_precisions("auto", import_torch=False).items():
            action = self.precision_actions[name]
            action.setEnabled(problem is None or action.isChecked())
            action.setToolTip(PRECISION_TIPS[name] if problem is None else problem)

    def set_precision(self, name: str) -> None:
        """Compute the next analysis's features in precision ``name`` (remembered in the
        settings); the analysis shown is marked out of date when it was made in another one."""
        self.state.precision = name
        self.precision_actions[self.state.precision].setChecked(True)
        self.update_precision_actions()
        self.update_stale()

    def _connect_runner(self) -> None:
        r = self.runner
        r.progressed.connect(self.progress.show_progress)
        r.partial.connect(self._on_partial)
        r.finished.connect(self._on_finished)
        r.failed.connect(self._on_failed)
        r.cancelled.connect(self._on_cancelled)
        r.notice.connect(self._on_notice)
        r.models_missing.connect(self.show_missing_models)
        r.reference_progressed.connect(self._on_reference_progress)
        r.reference_finished.connect(self._on_reference_done)
        r.reference_failed.connect(self._on_reference_failed)
        r.groundtruth_found.connect(self._on_gt_found)
        r.groundtruth_failed.connect(self._on_gt_failed)

    # -- settings ------------------------------------------------------------------------
    def _on_trimmed_toggled(self, checked: bool) -> None:
        self.state.also_trimmed = checked
        self.update_stale()

    def _on_fast_landmarks_toggled(self, checked: bool) -> None:
        self.state.fast_landmarks = checked
        self.update_stale()

    def set_supervised_checkpoint(self, path: str | os.PathLike[str] | None) -> None:
        """Score with this supervised Phi too (None: stop); remembered in the settings."""
        self.state.set_supervised_checkpoint(path)
        self._update_supervised_text()
        self.update_stale()

    def _update_supervised_text(self) -> None:
        sup = self.state.supervised_checkpoint()
        self.supervised_action.setText(f"&Second detector (trained on fakes)… ({sup.name})" if sup
                                       else "&Second detector (trained on fakes)…")
        self.clear_supervised_action.setEnabled(sup is not None)

    def _on_choose_supervised(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window.as_widget(),
                                              "Second detector (supervised Phi checkpoint)",
                                              self.window.settings.last_folder(),
                                              "PyTorch checkpoint (*.pt *.pth);;All files (*)")
        if path:
            self.set_supervised_checkpoint(path)

    def options(self) -> Any:
        """AnalysisOptions for the open clip (raises CheckpointError): the state's settings, the
        session's silence threshold and the Phi chosen in Tools > Train…."""
        return self.state.options(self.window.session.threshold, self.window.phi_checkpoint)

    # -- out of date -----------------------------------------------------------------------
    def update_stale(self) -> None:
        """Mark the shown curves and summary out of date when an option the analysis depends on
        (see :meth:`AvhState.signature`) differs from the one it was made with; clear the mark
        when the option is set back (or the clip is analysed again)."""
        self.set_stale(self.state.is_stale(self.window.phi_checkpoint))

    def set_stale(self, stale: bool) -> None:
        """Grey the curves (and their lines and sync traces), say so in the lane and the summary
        ("Analyze again"), or give them back their colours."""
        made, now = self.state.analysis_signature, self.state.signature(self.window.phi_checkpoint)
        # mouth and voice depend only on the face tracking (the mouth-crop preparation)
        self.lipsync.set_stale(stale and made is not None and made[1] != now[1])
        if stale == self.stale:
            return
        self.stale = stale
        for (kind, variant), item in self.curves.curve_items.items():
            item.setPen(pg.mkPen(STALE_COLOUR if stale else curve_colour(kind, variant), width=2))
        for variant, line in self.curves.threshold_lines.items():
            colour = STALE_COLOUR if stale else curve_colour("unsupervised", variant)
            line.setPen(pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine))
            if line.label is not None:
                line.label.setColor(colour)
        for variant, regions in self.curves.segment_regions.items():
            colour = STALE_COLOUR if stale else curve_colour("unsupervised", variant)
            fill = pg.mkColor(colour)
            fill.setAlpha(50)  # as CurvePanel draws them
            for region in regions:
                region.setBrush(pg.mkBrush(fill))
                for edge in region.lines:
                    edge.setPen(pg.mkPen(colour, width=1))
        for variant, sync in self.curves.sync_items.items():
            sync.setPen(pg.mkPen(STALE_COLOUR if stale else curve_colour("unsupervised", variant),
                                 width=1))
        if self.curves.plot is not None:
            self.curves.set_notice(wording.OUT_OF_DATE if stale else "")
        self.summary.set_stale(stale)
        if stale:
            self.window.status("The analysis shown is out of date: Analysis > Analyze (Ctrl+R) "
                               "updates it.", 10000)

    # -- frame numbers ---------------------------------------------------------------------
    def frame_label(self, t: float) -> tuple[str, str]:
        """The one user-facing frame number at ``t`` seconds: the video's own frame (counted from
        0, as in the time display) and, for a tooltip, the 25 fps model frame behind the curves.
        ("", tooltip) when the clip has no video frames."""
        model = (f"model frame {model_frame_of(max(t, 0.0))} "
                 f"(the detector's {MODEL_FPS:g} fps grid)")
        tb = self.window.session.timebase
        if tb is None or not tb.n_frames:
            return "", model
        return f"frame {tb.frame_at(max(t, 0.0))}", model

    # -- analysis ------------------------------------------------------------------------
    def why_not_analysable(self) -> str:
        """"" when Analyze can start now, else the sentence that says why not."""
        info = self.window.session.info
        if info is None:
            return "Open a clip first."
        if self.runner.running:
            return "An analysis is running; cancel it first."
        if info.audio is None or info.video is None:
            what = "audio" if info.audio is None else "video"
            return (f"{Path(info.path).name} has no {what} stream; the audio-visual detector "
                    "needs both sound and picture.")
        return ""

    def update_actions(self) -> None:
        """Enable what can be done now: Analyze (a clip with sound and picture, nothing running),
        Cancel (while running), the score/segment exports (after an analysis)."""
        why = self.why_not_analysable()
        for widget in (self.analyze_action, self.analyze_button):
            widget.setEnabled(not why)
        self.analyze_button.setToolTip(why or ANALYZE_TIP)
        self.cancel_action.setEnabled(self.runner.running or self.runner.reference_worker is not None)
        for action in (self.export_scores_action, self.export_segments_action):
            action.setEnabled(self.state.analysis is not None)
        self.gt_action.setEnabled(self.window.session.info is not None)

    def analyze(self) -> bool:
        """Start the analysis of the open clip; False (with a message) when it cannot start."""
        w = self.window
        info = w.session.info
        why = self.why_not_analysable()
        if info is None:
            w.show_error("Nothing to analyse", why)
            return False
        if self.runner.running:
            w.status(why, 5000)
            return False
        if why:
            self.summary.set_status(why)
            w.show_error("Cannot analyse this clip", why)
            return False
        guidance = ""
        try:
            options = self.options()
        except CheckpointError as err:
            sup = self.state.supervised_checkpoint()
            if sup is not None and not sup.is_file():  # a file the user chose has gone: say so
                self.show_missing_models(str(err))
                return False
            # no model files: the model-free part still runs (mouth and voice), with one line
            # saying what the stronger detector needs
            guidance = str(err)
            options = self.state.options(w.session.threshold, w.phi_checkpoint,
                                         require_models=False)
        self.prepare_only = bool(guidance)
        self.ensure_lanes(with_curves=not guidance)
        self._size_lanes()
        self.lipsync.clear("Measuring mouth and voice…")
        self.summary.set_lipsync(None)
        self.model_free = None
        if guidance:  # AVH-Align's curves (and an out-of-date mark on them) are left as they are
            self.last_guidance = guidance
            self.models_notice.show_guidance(guidance)
            self.summary.set_status("Measuring mouth and voice… " + MODELS_NOTICE)
        else:
            self.state.set_analysis(None, None)
            self._run_signature = self.state.signature(w.phi_checkpoint)
            self.set_stale(False)
            self.models_notice.setVisible(False)
            self.curves.clear()
            self.curves.set_notice("Analysing…")
            self.roi_preview.clear()
            self._set_face_box(None)
            self.summary.clear("Analysing…")
        self.runner.start_analysis(str(info.path), options, sha256=w.session.sha256,
                                   silence=w.session.silence, prepare_only=bool(guidance))
        self.progress.start()
        self.update_actions()
        return True

    def cancel(self) -> None:
        """Stop the running analysis (and a reference-folder run)."""
        self.runner.cancel()

    def ensure_lanes(self, with_curves: bool = True) -> None:
        """Make the analysis lanes in their order under the sound lane: mouth and voice first
        (it needs no model files), then AVH-Align's (unless ``with_curves`` is False)."""
        self.lipsync.ensure_plot()
        if with_curves:
            self.curves.ensure_plots()

    def _on_partial(self, kind: str, variant: str, result: Any) -> None:
        if kind == "lipsync":
            self.show_lipsync(result)
            return
        self.curves.set_result(kind, variant, result)
        self.window.status(f"{curve_name(kind, variant)}: curve ready (video score "
                           f"{result.video_score:.3f})", 5000)

    def _on_notice(self, sentence: str) -> None:
        self.window.status(sentence, 15000)
        self.summary.set_status(sentence)

    def _end_run(self) -> None:
        self.progress.finish()
        self.update_actions()

    def show_lipsync(self, result: Any) -> None:
        """Draw the mouth-and-voice measures (a core LipSyncResult) and fill the summary's
        section."""
        self.lipsync.set_result(result)
        self.summary.set_lipsync(result)
        if result is not None:
            self.window.status("Mouth and voice: measured", 5000)

    def _on_finished(self, analysis: Any, fell_back_to_cpu: bool) -> None:
        lipsync = getattr(analysis, "lipsync", None)
        if lipsync is not None and self.lipsync.result is not lipsync:
            self.show_lipsync(lipsync)
        if self.prepare_only:
            self._on_model_free_finished(analysis)
            return
        self.state.set_analysis(analysis, self.window.token, self._run_signature)
        self._end_run()
        for table, kind in ((analysis.scores, "unsupervised"), (analysis.supervised, "supervised")):
            for variant, res in table.items():
                if self.curves.results.get((kind, variant)) is not res:
                    self.curves.set_result(kind, variant, res)
        self.curves.set_face_track(analysis.face)
        t = self.window.session.time_s
        face = analysis.face
        self.roi_preview.set_track(analysis.roi_gray, None if face is None else face.times_s,
                                   None if face is None else face.detected, t)
        self.summary.set_analysis(analysis)
        self.show_reference()
        self.update_stale()  # an option changed while it ran
        self.update_actions()
        note = ""
        if fell_back_to_cpu:
            note = "The GPU ran out of memory; this analysis ran on the CPU."
            self.summary.set_status(note)
        self._update_face_box(t)
        main = analysis.main
        score = f"video score {main.video_score:.3f}" if main is not None else "no score"
        self.window.status(f"Analysis done: {score}. {note}".strip(), 15000)
        self.analysis_finished.emit(analysis)

    def _on_model_free_finished(self, analysis: Any) -> None:
        """A run without model files ended: the lane and the face box are shown, the summary
        says what the stronger detector needs; nothing is scored, so no analysis is kept for
        the score exports."""
        self.prepare_only = False
        self.model_free = analysis
        self._end_run()
        if self.lipsync.result is None:
            self.lipsync.set_notice("No mouth-and-voice measures came back for this clip.")
        self.summary.set_status(f"{MODELS_NOTICE} {wording.MOUTH_AND_VOICE_NEEDS_NO_MODEL}")
        self.summary.set_measured_silence(self.window.session.silence or analysis.silence)
        t = self.window.session.time_s
        face = analysis.face
        self.roi_preview.set_track(analysis.roi_gray, None if face is None else face.times_s,
                                   None if face is None else face.detected, t)
        self._update_face_box(t)
        self.window.status("Mouth and voice measured. " + MODELS_NOTICE, 15000)
        self.update_actions()

    def _on_failed(self, sentence: str) -> None:
        model_free, self.prepare_only = self.prepare_only, False
        self._end_run()
        if self.lipsync.result is None:
            self.lipsync.set_notice(sentence)
        if model_free:  # the lane says why; AVH-Align's lanes are not made for it
            self.summary.set_status(f"{sentence} {MODELS_NOTICE}")
            self.window.status(sentence, 15000)
            return
        self.curves.set_notice(sentence)
        self.roi_preview.clear(sentence)  # not "appears after an analysis": this one failed
        self.summary.clear(sentence)
        if sentence != self.last_guidance:
            self.window.show_error("Analysis failed", sentence)

    def _on_cancelled(self) -> None:
        model_free, self.prepare_only = self.prepare_only, False
        self._end_run()
        self.lipsync.clear("Cancelled.")
        self.summary.set_lipsync(None)
        if model_free:
            self.summary.set_status("Cancelled. " + MODELS_NOTICE)
            self.window.status("Analysis cancelled", 5000)
            return
        self.curves.clear()
        self.curves.set_notice("Analysis cancelled.")
        self.summary.clear("Analysis cancelled.")
        self.window.status("Analysis cancelled", 5000)

    def show_missing_models(self, guidance: str) -> None:
        """A non-blocking notice with the exact guidance and a button that opens Models…."""
        self.last_guidance = guidance
        self.summary.clear("Model weights are missing:\n" + guidance)
        self.window.status("AVH-Align model weights are missing; see Help > Models…", 15000)
        if self.missing_box is not None:
            self.missing_box.close()
        box = QMessageBox(QMessageBox.Icon.Information, "Model weights are missing",
                          "AVH-Align needs model weights that are not installed. Everything else "
                          "(playback, waveform, leading silence, ground truth) keeps working.\n\n"
                          + guidance, QMessageBox.StandardButton.Close, self.window.as_widget())
        models = box.addButton("Models…", QMessageBox.ButtonRole.ActionRole)
        models.clicked.connect(self.show_models_dialog)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self.missing_box = box
        box.destroyed.connect(lambda *_: setattr(self, "missing_box", None))

    def show_models_dialog(self) -> Any:
        from forensics_gui.ui.models_dialog import ModelsDialog

        extra = []
        chosen_phi = self.window.phi_checkpoint
        if chosen_phi:
            extra.append(("Phi in use (Tools > Train…)", str(chosen_phi)))
        sup = self.state.supervised_checkpoint()
        if sup:
            extra.append(("supervised Phi", str(sup)))
        dialog = ModelsDialog(self.window.as_widget(), extra=extra)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.show()
        self.models_dialog = dialog
        return dialog

    # -- reference folder ----------------------------------------------------------------
    def _on_choose_reference(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window.as_widget(),
                                                  "Folder of real videos (reference)",
                                                  self.state.reference_folder() or
                                                  self.window.settings.last_folder())
        if folder:
            self.set_reference_folder(folder)

    def set_reference_folder(self, folder: str | os.PathLike[str] | None) -> bool:
        """Score every video in ``folder`` in the background and show this clip's percentile."""
        self.runner.stop_reference()
        self.state.set_reference_folder(folder)
        if folder is None:
            self.state.reference = None
            self.summary.set_reference(None)
            return True
        try:
            options = self.options()
        except CheckpointError as err:
            self.show_missing_models(str(err))
            return False
        options.variants, options.supervised = ("untrimmed",), None
        self._reference_key = self.reference_key(self.state.signature(self.window.phi_checkpoint))
        self.runner.start_reference(str(folder), options)
        self.update_actions()
        return True

    def _on_reference_progress(self, done: int, total: int) -> None:
        self.window.status(f"Scoring reference videos: {done} / {total}", 5000)

    @staticmethod
    def reference_key(signature: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """What reference scores must share with an analysis to be compared with it: the
        mouth-crop preparation, the alignment network, the pooling and the encoder precision (of
        an :meth:`AvhState.signature`; the variants and the second detector do not matter)."""
        return None if signature is None else (signature[1], signature[3], signature[4],
                                               signature[5])

    def show_reference(self) -> None:
        """Give the summary the reference scores when they were made with the same models and
        preparation as the analysis shown; otherwise say why there is no comparison."""
        reference = self.state.reference
        made = getattr(reference, "options_key", None)
        shown = self.reference_key(self.state.analysis_signature)
        if reference is not None and made is not None and shown is not None and made != shown:
            self.summary.set_reference(None)
            self.summary.set_status(
                "The reference clips were scored with another alignment network or mouth-crop "
                "preparation (or encoder precision) than this analysis, so they are not compared; "
                "choose the reference "
                "folder again (Analysis > Reference folder of real videos…) to score them alike.")
            return
        self.summary.set_reference(reference)

    def _on_reference_done(self, reference: ReferenceScores) -> None:
        self.update_actions()
        reference.options_key = self._reference_key
        self.state.reference = reference
        self.show_reference()
        failed = f" ({reference.failures} could not be scored)" if reference.failures else ""
        length = reference.length_text()
        self.window.status(f"Reference set: {len(reference.scores)} real videos scored"
                           f"{', ' + length if length else ''}{failed}", 10000)

    def _on_reference_failed(self, sentence: str) -> None:
        self.update_actions()
        self.window.show_error("Reference folder", sentence)

    # -- clip, time, face box --------------------------------------------------------------
    def _on_media_opened(self, info: Any) -> None:
        self.runner.drop_analysis()
        self.progress.finish()
        self.state.set_analysis(None, None)
        self.set_stale(False)
        self.summary.set_measured_silence(None)
        self.curves.clear()
        self.curves.set_duration(float(info.duration_s or 0.0))
        why = self.why_not_analysable()
        self.prepare_only = False
        self.model_free = None
        self.models_notice.setVisible(False)
        self.summary.set_lipsync(None)
        self.lipsync.set_duration(float(info.duration_s or 0.0))
        if self.lipsync.plot is not None:
            self.lipsync.clear(f"No mouth-and-voice lane: {why}" if why else
                               "Analysis > Analyze (Ctrl+R) draws the mouth opening over the "
                               "speech loudness here (no model files needed).")
        if self.curves.plot is not None:
            self.curves.set_notice(f"No mismatch curve: {why}" if why else
                                   "Analysis > Analyze (Ctrl+R) draws the mouth-voice mismatch "
                                   "curve here.")
        self.gt_lanes.clear()
        self.roi_preview.clear()
        self._set_face_box(None)
        self.summary.clear(why or "Analysis > Analyze (Ctrl+R) scores this clip with AVH-Align.")
        if info.audio is None:
            self.summary.silence_label.setText("no audio stream")
        self.update_actions()
        if self.state.reference is not None:
            self.show_reference()
        self.runner.start_groundtruth("find", str(info.path))
        if not why:  # after the opening's own work (first frame, waveform) has settled
            QTimer.singleShot(PREBUILD_DELAY_MS, self, self._prebuild_step)

    def _prebuild_step(self) -> None:
        """Idle-time preparation for the first Analyze, one short step per event-loop turn: build
        the lane plots off screen (~30 ms the first click would otherwise spend in the GUI
        thread), then import the light core modules that options() and the worker's first second
        need (an import holds the GIL, delaying the lanes' first paint). Nothing visible changes."""
        if self.lipsync.prebuild() or self.curves.prebuild():
            QTimer.singleShot(0, self, self._prebuild_step)
            return
        import importlib

        for name in ("models.registry", "pipeline", "face.landmarks", "alignment.phi", "encoder.cache"):
            importlib.import_module(f"forensics_gui.core.{name}")

    def _on_gt_found(self, gt: Any, source: str, note: str) -> None:
        if gt is None:
            if source:  # a file the user chose has no entry for this clip
                self.window.show_error(
                    "No ground truth for this clip",
                    f"{Path(source).name} has no entry for {Path(str(self.window.session.path)).name}; "
                    "check that it is the metadata of this clip's dataset.")
            return
        if note == "only":
            note = f"(the file's only entry, {gt.file}, was used)"
        self.ensure_lanes()
        self._size_lanes()
        self.gt_lanes.set_groundtruth(gt, self.window.session.duration_s, source)
        where = f"from {Path(source).name}" if source else "found next to the clip"
        msg = f"Ground truth {where}: {gt.label or 'unknown label'}"
        self.window.status(f"{msg}. {note}".strip(), 10000)
        self.groundtruth_loaded.emit(gt)

    def _on_gt_failed(self, sentence: str) -> None:
        self.window.show_error("Cannot load the ground truth", sentence)

    def load_groundtruth_file(self, path: str | os.PathLike[str]) -> None:
        """Overlay the entry for the open clip from an AV-Deepfake1M / LAV-DF / FakeAVCeleb file
        (loaded in the background; ``groundtruth_loaded`` when shown)."""
        if self.window.session.info is None:
            self.window.show_error("No clip", "Open a clip first, then load its ground truth.")
            return
        self.runner.start_groundtruth("lookup", str(self.window.session.info.path), str(path))

    def _on_load_groundtruth(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window.as_widget(), "Load ground truth",
                                              self.window.settings.last_folder(), GT_FILTER)
        if path:
            self.load_groundtruth_file(path)

    def _size_lanes(self) -> None:
        if not self._lanes_sized:
            self._lanes_sized = True
            self.window.give_lanes_half()

    def seek(self, t: float) -> None:
        """Move the playhead to ``t`` seconds (keeps playing if playing)."""
        self.window.seek(t)

    def _on_time_changed(self, t: float) -> None:
        self.roi_preview.seek(t)
        self._update_face_box(t)

    def _set_face_box(self, box: tuple[float, float, float, float] | None, detected: bool = True) -> None:
        self.window.video_view.set_face_box(box, detected)

    def _update_face_box(self, t: float) -> None:
        analysis = self.state.analysis if self.state.analysis is not None else self.model_free
        face = None if analysis is None else analysis.face
        if face is None or not face.face_found:
            self._set_face_box(None)
            return
        k = index_at(face.times_s, t)
        box = None if k is None else face.face_boxes[k]
        if box is None or not np.all(np.isfinite(box)):
            self._set_face_box(None)
            return
        x, y, w, h = (float(v) for v in box)
        self._set_face_box((x, y, w, h), bool(face.detected[k]))

    # -- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel and join every worker thread and stop the owned prepare process (idempotent)."""
        self.runner.shutdown()
        if self.missing_box is not None:
            self.missing_box.close()
