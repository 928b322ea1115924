"""Wires the AVH-Align analysis into the main window: the Analysis menu, the File menu's ground
truth and export entries, the transport's Analyze button, the status-bar progress strip, the
fakeness/sync/ground-truth lanes, the mouth-ROI preview, the face box and the summary dock.

The window creates one :class:`AnalysisController` and forwards nothing else: the controller
listens to the session (``media_opened``, ``time_changed``) and owns its worker threads, which
:meth:`shutdown` cancels and joins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMessageBox,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.errors import CheckpointError, ForensicsError
from forensics_gui.core.evidence import snapshot as snap
from forensics_gui.ui.analysis import AvhAnalysisWorker, ProgressStrip
from forensics_gui.ui.curves import CurvePanel, GroundTruthLanes, curve_colour, model_frame_at
from forensics_gui.ui.groundtruth_worker import GroundTruthWorker
from forensics_gui.ui.roi_preview import RoiPreview
from forensics_gui.ui.summary_panel import ReferenceScores, SummaryPanel
from forensics_gui.ui.workers import CancelFlag

GT_FILTER = "Ground truth (*.json *.csv);;All files (*)"
KEY_TRIMMED = "analysis/also_trimmed"
KEY_FAST_LANDMARKS = "analysis/fast_landmarks"  # the "fast" mouth-crop preparation (off: official)
KEY_SUPERVISED = "analysis/supervised_checkpoint"
KEY_REFERENCE = "analysis/reference_folder"
PREBUILD_DELAY_MS = 1000  # after a clip opens, before building the lanes off screen (idle time)


class ReferenceWorker(QThread):
    """Video scores of every video in a folder of real clips (cached by the pipeline).

    ``progressed(done, total)`` per clip, ``finished_ok(ReferenceScores)``, ``failed(sentence)``.
    """

    progressed = Signal(int, int)
    finished_ok = Signal(object)
    failed = Signal(str)

    def __init__(self, folder: str, options: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.folder, self.options = folder, options
        self._flag = CancelFlag()  # also the core's progress object: per-clip stages are not shown

    def cancel(self) -> None:
        self._flag.cancel()

    def run(self) -> None:
        from forensics_gui.core.errors import Cancelled
        from forensics_gui.core.media.folders import iter_videos
        from forensics_gui.core.pipeline import Analyzer

        try:
            videos = list(iter_videos(self.folder))
        except ForensicsError as err:
            self.failed.emit(str(err))
            return
        if not videos:
            self.failed.emit(f"{self.folder} contains no video files.")
            return
        analyzer = Analyzer(self.options)
        scores: list[float] = []
        failures = 0
        for i, video in enumerate(videos):
            if self._flag.cancelled():
                return
            self.progressed.emit(i, len(videos))
            try:
                main = analyzer.analyze(video, progress=self._flag).main
                if main is not None and np.isfinite(main.video_score):
                    scores.append(float(main.video_score))
            except Cancelled:
                return
            except CheckpointError as err:
                self.failed.emit(str(err))
                return
            except Exception:  # one unreadable clip must not stop the reference set
                failures += 1
        self.progressed.emit(len(videos), len(videos))
        self.finished_ok.emit(ReferenceScores(self.folder, scores, failures))


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


class AnalysisController(QObject):
    """The analysis side of one main window (see the module docstring).

    State the window and tests read: ``analysis`` (the last ClipAnalysis or None), ``worker``,
    ``curves`` (CurvePanel), ``gt_lanes`` (GroundTruthLanes), ``roi_preview``, ``summary``,
    ``progress`` (ProgressStrip), ``last_guidance`` (missing-model text last shown).
    """

    analysis_finished = Signal(object)  # ClipAnalysis
    groundtruth_loaded = Signal(object)  # GroundTruth

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings.qsettings
        self.analysis: Any = None
        self.worker: AvhAnalysisWorker | None = None
        self.reference: ReferenceScores | None = None
        self.reference_worker: ReferenceWorker | None = None
        self.last_guidance = ""
        self.missing_box: QMessageBox | None = None
        self._retired: list[QThread] = []
        self._gt_worker: GroundTruthWorker | None = None
        self._analyzer: Any = None
        self._analyzer_key: Any = None
        self._lanes_sized = False
        # The child process that decodes and tracks faces (started on the first analysis, reused;
        # stopped by shutdown() when owned). None = prepare in the worker thread.
        from forensics_gui.core.subprocess_prepare import PrepareProcess, child_process_supported

        self.prepare_process: Any = PrepareProcess() if child_process_supported() else None
        self.owns_prepare_process = True

        self.curves = CurvePanel(window.timeline)
        self.gt_lanes = GroundTruthLanes(window.timeline)
        self.roi_preview = RoiPreview()
        self.summary = SummaryPanel()
        self.summary.seek_requested.connect(self.seek)
        self.progress = ProgressStrip()
        self.progress.cancel_clicked.connect(self.cancel)
        window.statusBar().addPermanentWidget(self.progress)
        self._build_dock()
        self._build_actions()
        window.session.media_opened.connect(self._on_media_opened)
        window.session.time_changed.connect(self._on_time_changed)
        window.session.silence_changed.connect(self.summary.set_measured_silence)
        self.update_actions()

    # -- construction --------------------------------------------------------------------
    def _build_dock(self) -> None:
        body = QWidget()
        col = QVBoxLayout(body)
        col.setContentsMargins(4, 4, 4, 4)
        heading = QLabel("Mouth crop (model input)")
        heading.setObjectName("heading")
        col.addWidget(heading)
        col.addWidget(self.roi_preview)
        col.addWidget(self.summary, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = QDockWidget("AVH-Align analysis", self.window)
        self.dock.setObjectName("analysisDock")
        self.dock.setWidget(scroll)
        self.dock.setMinimumWidth(260)
        self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

    def _menu(self, title: str) -> Any:
        for action in self.window.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == title:
                return action.menu()
        return None

    def _build_actions(self) -> None:
        w = self.window
        menu = w.menuBar().addMenu("&Analysis")
        help_menu = self._menu("Help")
        if help_menu is not None:  # keep Help last
            w.menuBar().insertMenu(help_menu.menuAction(), menu)
        self.analyze_action = w._action(menu, "&Analyze", self.analyze, "Ctrl+R")
        self.analyze_action.setToolTip("Score this clip with AVH-Align in the background (Ctrl+R)")
        self.cancel_action = w._action(menu, "&Cancel analysis", self.cancel)
        self.cancel_action.setEnabled(False)
        menu.addSeparator()
        self.trimmed_action = QAction("Also score with the leading silence &trimmed", w)
        self.trimmed_action.setCheckable(True)
        self.trimmed_action.setChecked(_as_bool(self.settings.value(KEY_TRIMMED, False)))
        self.trimmed_action.toggled.connect(self._on_trimmed_toggled)
        menu.addAction(self.trimmed_action)
        self.fast_landmarks_action = QAction("&Fast face tracking (not the official mouth crop)", w)
        self.fast_landmarks_action.setCheckable(True)
        self.fast_landmarks_action.setToolTip(
            "Off (default): the official landmarks. On: a windowed face tracker, faster on HD "
            "video; results record which was used.")
        self.fast_landmarks_action.setChecked(_as_bool(self.settings.value(KEY_FAST_LANDMARKS, False)))
        self.fast_landmarks_action.toggled.connect(self._on_fast_landmarks_toggled)
        menu.addAction(self.fast_landmarks_action)
        self.supervised_action = w._action(menu, "&Supervised checkpoint…", self._on_choose_supervised)
        self.clear_supervised_action = w._action(menu, "Clear supervised checkpoint",
                                                 lambda: self.set_supervised_checkpoint(None))
        menu.addSeparator()
        self.reference_action = w._action(menu, "&Reference folder of real videos…",
                                          self._on_choose_reference)
        self.clear_reference_action = w._action(menu, "Clear reference folder",
                                                lambda: self.set_reference_folder(None))
        menu.addSeparator()
        panel_action = self.dock.toggleViewAction()
        panel_action.setText("Show the analysis &panel")
        menu.addAction(panel_action)
        self.models_action = w._action(menu, "&Models…", self.show_models_dialog)
        if help_menu is not None:
            help_menu.insertAction(help_menu.actions()[0] if help_menu.actions() else None,
                                   self.models_action)
        self._update_supervised_text()

        file_menu = self._menu("File")
        quit_action = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"),
                           None) if file_menu is not None else None
        entries = [("Load &ground truth…", self._on_load_groundtruth, None),
                   ("Export frame &scores (CSV/JSON)…", self._on_export_scores, None),
                   ("Export suspicious se&gments (Audacity labels)…", self._on_export_segments, None)]
        self.file_actions: list[QAction] = []
        for text, slot, shortcut in entries:
            action = w._action(None, text, slot, shortcut)
            if file_menu is not None:
                file_menu.insertAction(quit_action, action)
            self.file_actions.append(action)
        if file_menu is not None:
            file_menu.insertSeparator(quit_action)
        self.gt_action, self.export_scores_action, self.export_segments_action = self.file_actions

        self.analyze_button = QToolButton()
        self.analyze_button.setText("Analyze")
        self.analyze_button.setToolTip("Run AVH-Align on this clip (Ctrl+R)")
        self.analyze_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.analyze_button.clicked.connect(self.analyze)
        w.transport.controls.insertWidget(3, self.analyze_button)

    # -- settings ------------------------------------------------------------------------
    def variants(self) -> tuple[str, ...]:
        return ("untrimmed", "trimmed") if self.trimmed_action.isChecked() else ("untrimmed",)

    def _on_trimmed_toggled(self, checked: bool) -> None:
        self.settings.setValue(KEY_TRIMMED, bool(checked))

    def _on_fast_landmarks_toggled(self, checked: bool) -> None:
        self.settings.setValue(KEY_FAST_LANDMARKS, bool(checked))

    def preparation(self) -> str:
        """The mouth-crop preparation the next analysis uses: "official" or "fast"."""
        return "fast" if self.fast_landmarks_action.isChecked() else "official"

    def supervised_checkpoint(self) -> Path | None:
        value = self.settings.value(KEY_SUPERVISED, "")
        return Path(str(value)) if value else None

    def set_supervised_checkpoint(self, path: str | os.PathLike[str] | None) -> None:
        """Score with this supervised Phi too (None: stop); remembered in the settings."""
        self.settings.setValue(KEY_SUPERVISED, str(path) if path else "")
        self._update_supervised_text()

    def _update_supervised_text(self) -> None:
        sup = self.supervised_checkpoint()
        self.supervised_action.setText(f"&Supervised checkpoint… ({sup.name})" if sup
                                       else "&Supervised checkpoint…")
        self.clear_supervised_action.setEnabled(sup is not None)

    def _on_choose_supervised(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Supervised Phi checkpoint",
                                              self.window.settings.last_folder(),
                                              "PyTorch checkpoint (*.pt *.pth);;All files (*)")
        if path:
            self.set_supervised_checkpoint(path)

    def options(self) -> Any:
        """AnalysisOptions with the installed models resolved (raises CheckpointError)."""
        from forensics_gui.core.pipeline import AnalysisOptions, resolve_models

        sup = self.supervised_checkpoint()
        chosen_phi = getattr(self.window, "phi_checkpoint", None)  # Tools > Train… "use this model"
        opts = AnalysisOptions(supervised=sup, variants=self.variants(),
                               phi=Path(chosen_phi) if chosen_phi and Path(chosen_phi).is_file() else None,
                               silence_threshold=self.window.session.threshold,
                               preparation=self.preparation())
        if sup is not None and not sup.is_file():
            raise CheckpointError(f"The supervised checkpoint {sup} no longer exists; choose another "
                                  "one in Analysis > Supervised checkpoint… or clear it.")
        ckpt, phi = resolve_models(opts)
        opts.checkpoint, opts.phi = ckpt, phi
        return opts

    # -- analysis ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def why_not_analysable(self) -> str:
        """"" when Analyze can start now, else the sentence that says why not."""
        info = self.window.session.info
        if info is None:
            return "Open a clip first."
        if self.running:
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
        self.analyze_button.setToolTip(why or "Run AVH-Align on this clip (Ctrl+R)")
        self.cancel_action.setEnabled(self.running or self.reference_worker is not None)
        for action in (self.export_scores_action, self.export_segments_action):
            action.setEnabled(self.analysis is not None)
        self.gt_action.setEnabled(self.window.session.info is not None)

    def analyze(self) -> bool:
        """Start the analysis of the open clip; False (with a message) when it cannot start."""
        w = self.window
        info = w.session.info
        if info is None:
            w.show_error("Nothing to analyse", "Open a clip first.")
            return False
        if self.running:
            w.statusBar().showMessage("An analysis is already running; cancel it first.", 5000)
            return False
        if info.audio is None or info.video is None:
            what = "audio" if info.audio is None else "video"
            sentence = (f"{Path(info.path).name} has no {what} stream; the audio-visual detector "
                        "needs both sound and picture.")
            self.summary.set_status(sentence)
            w.show_error("Cannot analyse this clip", sentence)
            return False
        try:
            options = self.options()
        except CheckpointError as err:
            self.show_missing_models(str(err))
            return False
        key = (options.checkpoint, options.phi, options.supervised, options.device, options.pool)
        if key != self._analyzer_key:
            self._analyzer, self._analyzer_key = None, key
        self._prune_retired()
        analyzer, self._analyzer = self._analyzer, None  # the worker owns the models while it runs
        self.analysis = None
        self.curves.ensure_plots()
        self._size_lanes()
        self.curves.clear()
        self.curves.set_notice("Analysing…")
        self.roi_preview.clear()
        self._set_face_box(None)
        self.summary.clear("Analysing…")
        worker = AvhAnalysisWorker(str(info.path), options, sha256=w.session.sha256,
                                   analyzer=analyzer, prepare_process=self.prepare_process)
        worker.key = key
        worker.progressed.connect(self._on_progressed)
        worker.partial_ready.connect(self._on_partial)
        worker.finished_ok.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.notice.connect(self._on_notice)
        worker.models_missing.connect(self.show_missing_models)
        self.worker = worker
        self.progress.start()
        worker.start()
        self.update_actions()
        return True

    def cancel(self) -> None:
        """Stop the running analysis (and a reference-folder run)."""
        if self.worker is not None:
            self.worker.cancel()
        if self.reference_worker is not None:
            self.reference_worker.cancel()

    def _current(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    def _on_progressed(self, stage: str, done: float, total: float, eta_s: float) -> None:
        if self._current():
            self.progress.show_progress(stage, done, total, eta_s)

    def _on_partial(self, kind: str, variant: str, result: Any) -> None:
        if self._current():
            self.curves.set_result(kind, variant, result)
            self.window.statusBar().showMessage(
                f"{kind} {variant} curve ready (video score {result.video_score:.3f})", 5000)

    def _on_notice(self, sentence: str) -> None:
        if self._current():
            self.window.statusBar().showMessage(sentence, 15000)
            self.summary.set_status(sentence)

    def _prune_retired(self) -> None:
        """Forget finished threads; take back the loaded models of a finished analysis run."""
        alive: list[QThread] = []
        for t in self._retired:
            if t.isRunning():
                alive.append(t)
            elif (isinstance(t, AvhAnalysisWorker) and self._analyzer is None
                  and t.analyzer is not None and t.key == self._analyzer_key):
                self._analyzer = t.analyzer
        self._retired = alive

    def _finish_worker(self) -> AvhAnalysisWorker | None:
        worker = self.worker
        if worker is not None:
            if worker.key == self._analyzer_key:
                self._analyzer = worker.analyzer
            self._retired.append(worker)
        self.worker = None
        self.progress.finish()
        self.update_actions()
        return worker

    def _on_finished(self, analysis: Any) -> None:
        if not self._current():
            return
        worker = self._finish_worker()
        self.analysis = analysis
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
        self.update_actions()
        note = ""
        if worker is not None and worker.fell_back_to_cpu:
            note = "The GPU ran out of memory; this analysis ran on the CPU."
            self.summary.set_status(note)
        self._update_face_box(t)
        main = analysis.main
        score = f"video score {main.video_score:.3f}" if main is not None else "no score"
        self.window.statusBar().showMessage(f"Analysis done: {score}. {note}".strip(), 15000)
        self.analysis_finished.emit(analysis)

    def _on_failed(self, sentence: str) -> None:
        if not self._current():
            return
        self._finish_worker()
        self.curves.set_notice(sentence)
        self.roi_preview.clear(sentence)  # not "appears after an analysis": this one failed
        self.summary.clear(sentence)
        if sentence != self.last_guidance:
            self.window.show_error("Analysis failed", sentence)

    def _on_cancelled(self) -> None:
        if not self._current():
            return
        self._finish_worker()
        self.curves.clear()
        self.curves.set_notice("Analysis cancelled.")
        self.summary.clear("Analysis cancelled.")
        self.window.statusBar().showMessage("Analysis cancelled", 5000)

    def show_missing_models(self, guidance: str) -> None:
        """A non-blocking notice with the exact guidance and a button that opens Models…."""
        self.last_guidance = guidance
        self.summary.clear("Model weights are missing:\n" + guidance)
        self.window.statusBar().showMessage("AVH-Align model weights are missing; see Help > Models…",
                                            15000)
        if self.missing_box is not None:
            self.missing_box.close()
        box = QMessageBox(QMessageBox.Icon.Information, "Model weights are missing",
                          "AVH-Align needs model weights that are not installed. Everything else "
                          "(playback, waveform, leading silence, ground truth) keeps working.\n\n"
                          + guidance, QMessageBox.StandardButton.Close, self.window)
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
        chosen_phi = getattr(self.window, "phi_checkpoint", None)
        if chosen_phi:
            extra.append(("Phi in use (Tools > Train…)", str(chosen_phi)))
        sup = self.supervised_checkpoint()
        if sup:
            extra.append(("supervised Phi", str(sup)))
        dialog = ModelsDialog(self.window, extra=extra)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.show()
        self.models_dialog = dialog
        return dialog

    # -- reference folder ----------------------------------------------------------------
    def _on_choose_reference(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder of real videos (reference)",
                                                  str(self.settings.value(KEY_REFERENCE, "")) or
                                                  self.window.settings.last_folder())
        if folder:
            self.set_reference_folder(folder)

    def set_reference_folder(self, folder: str | os.PathLike[str] | None) -> bool:
        """Score every video in ``folder`` in the background and show this clip's percentile."""
        if self.reference_worker is not None:
            self.reference_worker.cancel()
            self._retired.append(self.reference_worker)
            self.reference_worker = None
        self.settings.setValue(KEY_REFERENCE, str(folder) if folder else "")
        if folder is None:
            self.reference = None
            self.summary.set_reference(None)
            return True
        try:
            options = self.options()
        except CheckpointError as err:
            self.show_missing_models(str(err))
            return False
        options.variants, options.supervised = ("untrimmed",), None
        worker = ReferenceWorker(str(folder), options)
        worker.progressed.connect(self._on_reference_progress)
        worker.finished_ok.connect(self._on_reference_done)
        worker.failed.connect(self._on_reference_failed)
        self.reference_worker = worker
        worker.start()
        self.update_actions()
        return True

    def _on_reference_progress(self, done: int, total: int) -> None:
        if self.sender() is self.reference_worker:
            self.window.statusBar().showMessage(f"Scoring reference videos: {done} / {total}", 5000)

    def _on_reference_done(self, reference: ReferenceScores) -> None:
        if self.sender() is not self.reference_worker:
            return
        self._retired.append(self.reference_worker)
        self.reference_worker = None
        self.update_actions()
        self.reference = reference
        self.summary.set_reference(reference)
        failed = f" ({reference.failures} could not be scored)" if reference.failures else ""
        self.window.statusBar().showMessage(
            f"Reference set: {len(reference.scores)} real videos scored{failed}", 10000)

    def _on_reference_failed(self, sentence: str) -> None:
        if self.sender() is not self.reference_worker:
            return
        self._retired.append(self.reference_worker)
        self.reference_worker = None
        self.update_actions()
        self.window.show_error("Reference folder", sentence)

    # -- clip, time, face box --------------------------------------------------------------
    def _on_media_opened(self, info: Any) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self._retired.append(self.worker)
            self.worker = None
        self._prune_retired()
        self.progress.finish()
        self.analysis = None
        self.summary.set_measured_silence(None)
        self.curves.clear()
        self.curves.set_duration(float(info.duration_s or 0.0))
        why = self.why_not_analysable()
        if self.curves.plot is not None:
            self.curves.set_notice(f"No fakeness curve: {why}" if why else
                                   "Analysis > Analyze (Ctrl+R) draws the fakeness curve here.")
        self.gt_lanes.clear()
        self.roi_preview.clear()
        self._set_face_box(None)
        self.summary.clear(why or "Analysis > Analyze (Ctrl+R) scores this clip with AVH-Align.")
        if info.audio is None:
            self.summary.silence_label.setText("no audio stream")
        self.update_actions()
        if self.reference is not None:
            self.summary.set_reference(self.reference)
        self._start_gt("find", str(info.path))
        if not why:  # after the opening's own work (first frame, waveform) has settled
            QTimer.singleShot(PREBUILD_DELAY_MS, self, self._prebuild_step)

    def _prebuild_step(self) -> None:
        """Idle-time preparation for the first Analyze, one short step per event-loop turn: build
        the lane plots off screen (~30 ms the first click would otherwise spend in the GUI
        thread), then import the light core modules that options() and the worker's first second
        need (an import holds the GIL, delaying the lanes' first paint). Nothing visible changes."""
        if self.curves.prebuild():
            QTimer.singleShot(0, self, self._prebuild_step)
            return
        import importlib

        for name in ("models.registry", "pipeline", "face.landmarks", "alignment.phi", "encoder.cache"):
            importlib.import_module(f"forensics_gui.core.{name}")

    def _start_gt(self, mode: str, video: str, meta: str = "") -> None:
        if self._gt_worker is not None:
            self._gt_worker.cancel()
            self._retired.append(self._gt_worker)
        worker = GroundTruthWorker(self.window.token, mode, video, meta)
        worker.done.connect(self._on_gt_done)
        worker.failed.connect(self._on_gt_failed)
        self._gt_worker = worker
        worker.start()

    def _on_gt_done(self, token: int, gt: Any, source: str, note: str) -> None:
        if token != self.window.token or self.sender() is not self._gt_worker:
            return
        if gt is None:
            if source:  # a file the user chose has no entry for this clip
                self.window.show_error(
                    "No ground truth for this clip",
                    f"{Path(source).name} has no entry for {Path(str(self.window.session.path)).name}; "
                    "check that it is the metadata of this clip's dataset.")
            return
        if note == "only":
            note = f"(the file's only entry, {gt.file}, was used)"
        self.curves.ensure_plots()
        self._size_lanes()
        self.gt_lanes.set_groundtruth(gt, self.window.session.duration_s, source)
        where = f"from {Path(source).name}" if source else "found next to the clip"
        msg = f"Ground truth {where}: {gt.label or 'unknown label'}"
        self.window.statusBar().showMessage(f"{msg}. {note}".strip(), 10000)
        self.groundtruth_loaded.emit(gt)

    def _on_gt_failed(self, token: int, sentence: str) -> None:
        if token == self.window.token and self.sender() is self._gt_worker:
            self.window.show_error("Cannot load the ground truth", sentence)

    def load_groundtruth_file(self, path: str | os.PathLike[str]) -> None:
        """Overlay the entry for the open clip from an AV-Deepfake1M / LAV-DF / FakeAVCeleb file
        (loaded in the background; ``groundtruth_loaded`` when shown)."""
        if self.window.session.info is None:
            self.window.show_error("No clip", "Open a clip first, then load its ground truth.")
            return
        self._start_gt("lookup", str(self.window.session.info.path), str(path))

    def _on_load_groundtruth(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Load ground truth",
                                              self.window.settings.last_folder(), GT_FILTER)
        if path:
            self.load_groundtruth_file(path)

    def _size_lanes(self) -> None:
        if not self._lanes_sized:
            self._lanes_sized = True
            total = sum(self.window.splitter.sizes())
            self.window.splitter.setSizes([int(total * 0.5), total - int(total * 0.5)])

    def seek(self, t: float) -> None:
        """Move the playhead to ``t`` seconds (keeps playing if playing)."""
        w = self.window
        if w.clock.playing:
            w.clock.start(t)
        w.session.set_time(t)

    def _on_time_changed(self, t: float) -> None:
        self.roi_preview.seek(t)
        self._update_face_box(t)

    def _set_face_box(self, box: Any, detected: bool = True) -> None:
        view = self.window.video_view
        if hasattr(view, "set_face_box"):
            view.set_face_box(box, detected)

    def _update_face_box(self, t: float) -> None:
        face = None if self.analysis is None else self.analysis.face
        if face is None or not face.face_found:
            self._set_face_box(None)
            return
        k = model_frame_at(face.times_s, t)
        box = None if k is None else face.face_boxes[k]
        if box is None or not np.all(np.isfinite(box)):
            self._set_face_box(None)
            return
        self._set_face_box(tuple(float(v) for v in box), bool(face.detected[k]))

    # -- exports ---------------------------------------------------------------------------
    def _require_analysis(self) -> bool:
        if self.analysis is None:
            self.window.show_error("Nothing to export", "Run Analysis > Analyze (Ctrl+R) first.")
            return False
        return True

    def export_frame_scores(self, path: str | os.PathLike[str]) -> Path:
        """CSV or JSON by the file suffix (.json = JSON, anything else = CSV)."""
        from forensics_gui.ui import exports

        if str(path).lower().endswith(".json"):
            out = exports.write_frame_scores_json(self.analysis, path)
        else:
            out = exports.write_frame_scores_csv(self.analysis, path)
        self.window.statusBar().showMessage(f"Saved {out}", 10000)
        return out

    def export_segments(self, path: str | os.PathLike[str]) -> Path:
        from forensics_gui.ui import exports

        out = exports.write_analysis_labels(self.analysis, path)
        self.window.statusBar().showMessage(f"Saved {out}", 10000)
        return out

    def _save_dialog(self, title: str, suffix: str, filters: str) -> str:
        stem = Path(self.window.session.info.path).stem
        default = Path(self.window.settings.last_folder()) / f"{stem}_{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(default), filters)
        return path

    def _on_export_scores(self) -> None:
        if not self._require_analysis():
            return
        path = self._save_dialog("Export frame scores", "scores.csv",
                                 "CSV (*.csv);;JSON (*.json)")
        if path:
            try:
                self.export_frame_scores(path)
            except ForensicsError as err:
                self.window.show_error("Cannot export the scores", str(err))

    def _on_export_segments(self) -> None:
        if not self._require_analysis():
            return
        path = self._save_dialog("Export suspicious segments", "segments.txt",
                                 "Audacity labels (*.txt);;All files (*)")
        if path:
            try:
                self.export_segments(path)
            except ForensicsError as err:
                self.window.show_error("Cannot export the segments", str(err))

    # -- snapshot --------------------------------------------------------------------------
    def snapshot_curves(self, duration_s: float) -> tuple[list[snap.Curve], list[str]]:
        """Curve strips (each normalised to 0..1) and caption lines for the screenshot."""
        curves: list[snap.Curve] = []
        lines: list[str] = []
        for (kind, variant), res in self.curves.results.items():
            name = variant if kind != "supervised" else f"supervised {variant}"
            values, lo, hi = snap.normalise(res.frame_scores)
            rng = f"raw {lo:.3f} … {hi:.3f}"
            curves.append(snap.Curve(f"fakeness −Φ {name} ({rng}, shown 0..1)",
                                     np.asarray(res.times_s, np.float64), values,
                                     curve_colour(kind, variant)))
            lines.append(f"Curve {name}: {rng} drawn as 0..1; video score {res.video_score:.3f} "
                         f"({res.pool})")
        gt = self.gt_lanes.groundtruth
        if gt is not None and any(self.gt_lanes.regions.values()):
            times = np.linspace(0.0, max(duration_s, 1e-3), 4000)
            curves.append(snap.Curve("ground truth: manipulated (1) / not (0)", times,
                                     self.gt_lanes.fake_mask(times), "#ff5c5c"))
            lines.append(f"Ground truth: {gt.label or 'unknown'} ({gt.source_format})")
        if self.analysis is not None:
            for m in self.analysis.models:
                lines.append(f"Model {m.get('role', '')}: {m.get('name', '')} "
                             f"sha256 {str(m.get('sha256', ''))[:16]}")
            if getattr(self.analysis, "preparation", None):
                lines.append(snap.preparation_line(self.analysis.preparation))
        return curves, lines

    # -- shutdown --------------------------------------------------------------------------
    def start_prepare_process(self) -> None:
        """Start the face-tracking child process now (at launch) rather than on the first Analyze:
        forking from a process that has loaded PyTorch stalls the GUI thread ~50 ms."""
        from forensics_gui.core.subprocess_prepare import ChildUnavailable

        if self.prepare_process is None:
            return
        try:
            self.prepare_process.start()
        except ChildUnavailable:
            self.prepare_process = None  # analyses prepare in their worker thread instead

    def shutdown(self) -> None:
        """Cancel and join every worker thread and stop the owned prepare process (idempotent)."""
        for worker in (self.worker, self.reference_worker):
            if worker is not None:
                worker.cancel()
                self._retired.append(worker)
        if self._gt_worker is not None:
            self._gt_worker.cancel()
            self._retired.append(self._gt_worker)
        self.worker = self.reference_worker = self._gt_worker = None
        for thread in self._retired:
            thread.wait()
        self._retired = []
        if self.prepare_process is not None and self.owns_prepare_process:
            self.prepare_process.shutdown()
        if self.missing_box is not None:
            self.missing_box.close()

