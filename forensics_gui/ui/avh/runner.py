"""Runs the AVH-Align analysis side's background work: starts, cancels and retires the worker
threads (the clip's analysis, the reference-folder scores, the ground-truth lookup) and passes on
only the signals of the run that is still wanted.

The runner keeps the loaded models between runs (an analysis worker owns them while it runs and
hands them back when it ends) and the face-tracking child process; it knows no widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from forensics_gui.ui.avh.workers import AvhAnalysisWorker, ReferenceWorker
from forensics_gui.ui.groundtruth_worker import GroundTruthWorker
from forensics_gui.ui.worker_base import RetiredThreads


class AvhRunner(QObject):
    """The worker threads of one window's analysis side.

    Signals of the current analysis run: ``progressed(stage, done, total, eta_s)``,
    ``partial(kind, variant, ScoreResult)`` (kind "lipsync": the mouth-and-voice measures, a
    LipSyncResult, first), then ``finished(ClipAnalysis, fell_back_to_cpu)``,
    ``failed(sentence)`` or ``cancelled()``; ``notice(sentence)``, ``models_missing(guidance)``.
    Of the reference run: ``reference_progressed(done, total)``, then ``reference_finished(
    ReferenceScores)`` or ``reference_failed(sentence)``. Of the ground-truth lookup for the open
    clip: ``groundtruth_found(gt or None, source, note)`` or ``groundtruth_failed(sentence)``.
    Signals of replaced or cancelled runs and of earlier clips are dropped here.
    """

    progressed = Signal(str, float, float, float)
    partial = Signal(str, str, object)
    finished = Signal(object, bool)
    failed = Signal(str)
    cancelled = Signal()
    notice = Signal(str)
    models_missing = Signal(str)
    reference_progressed = Signal(int, int)
    reference_finished = Signal(object)
    reference_failed = Signal(str)
    groundtruth_found = Signal(object, str, str)
    groundtruth_failed = Signal(str)

    def __init__(self, clip_token: Callable[[], int], parent: QObject | None = None) -> None:
        """``clip_token()``: the token of the clip open now (ground truth of others is dropped)."""
        super().__init__(parent)
        self.clip_token = clip_token
        self.worker: AvhAnalysisWorker | None = None
        self.reference_worker: ReferenceWorker | None = None
        self.gt_worker: GroundTruthWorker | None = None
        self.retired = RetiredThreads()
        self.analyzer: Any = None  # loaded models kept between runs, for analyzer_key
        self.analyzer_key: Any = None
        # The child process that decodes and tracks faces (started on the first analysis, reused;
        # stopped by shutdown() when owned). None = prepare in the worker thread.
        from forensics_gui.core.children import child_process_supported
        from forensics_gui.core.subprocess_prepare import PrepareProcess

        self.prepare_process: Any = PrepareProcess() if child_process_supported() else None
        self.owns_prepare_process = True

    # -- the clip's analysis ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def start_analysis(self, path: str, options: Any, sha256: str | None = None,
                       silence: Any = None, prepare_only: bool = False) -> AvhAnalysisWorker:
        """Analyse ``path`` with ``options`` in a new worker (the caller checked ``running``);
        ``prepare_only``: only the model-free part (face track, mouth and voice), for a run
        without model files."""
        key = (options.checkpoint, options.phi, options.supervised, options.device, options.pool)
        if key != self.analyzer_key:
            self.analyzer, self.analyzer_key = None, key
        self._prune()
        analyzer, self.analyzer = self.analyzer, None  # the worker owns the models while it runs
        worker = AvhAnalysisWorker(path, options, token=self.clip_token(), sha256=sha256,
                                   analyzer=analyzer, prepare_process=self.prepare_process,
                                   silence=silence, prepare_only=prepare_only)
        worker.key = key
        worker.progressed.connect(self._on_progressed)
        worker.partial.connect(self._on_partial)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.notice.connect(self._on_notice)
        worker.models_missing.connect(self._on_models_missing)
        self.worker = worker
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the running analysis and a reference-folder run (their threads end soon)."""
        if self.worker is not None:
            self.worker.cancel()
        if self.reference_worker is not None:
            self.reference_worker.cancel()

    def drop_analysis(self) -> None:
        """Cancel the running analysis and forget it (a new clip was opened)."""
        self.retired.retire(self.worker)
        self.worker = None
        self._prune()

    def _prune(self) -> None:
        """Forget ended threads; take back the loaded models of an ended analysis run."""
        for ended in self.retired.prune():
            if (isinstance(ended, AvhAnalysisWorker) and self.analyzer is None
                    and ended.analyzer is not None and ended.key == self.analyzer_key):
                self.analyzer = ended.analyzer

    def _is_current(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    def _end_run(self) -> AvhAnalysisWorker | None:
        worker = self.worker
        if worker is not None:
            if worker.key == self.analyzer_key:
                self.analyzer = worker.analyzer
            self.retired.retire(worker, cancel=False)
        self.worker = None
        return worker

    def _on_progressed(self, _token: int, stage: str, done: float, total: float, eta_s: float) -> None:
        if self._is_current():
            self.progressed.emit(stage, done, total, eta_s)

    def _on_partial(self, _token: int, result: tuple[str, str, Any]) -> None:
        if self._is_current():
            kind, variant, score = result
            self.partial.emit(kind, variant, score)

    def _on_notice(self, _token: int, sentence: str) -> None:
        if self._is_current():
            self.notice.emit(sentence)

    def _on_models_missing(self, _token: int, guidance: str) -> None:
        if self._is_current():
            self.models_missing.emit(guidance)

    def _on_finished(self, _token: int, analysis: Any) -> None:
        if self._is_current():
            worker = self._end_run()
            self.finished.emit(analysis, bool(worker is not None and worker.fell_back_to_cpu))

    def _on_failed(self, _token: int, sentence: str) -> None:
        if self._is_current():
            self._end_run()
            self.failed.emit(sentence)

    def _on_cancelled(self, _token: int) -> None:
        if self._is_current():
            self._end_run()
            self.cancelled.emit()

    # -- the reference folder ---------------------------------------------------------------
    def start_reference(self, folder: str, options: Any) -> None:
        """Score every video of ``folder`` (replaces a reference run under way)."""
        self.stop_reference()
        worker = ReferenceWorker(folder, options)
        worker.progressed.connect(self._on_reference_progressed)
        worker.finished.connect(self._on_reference_finished)
        worker.failed.connect(self._on_reference_failed)
        worker.cancelled.connect(self._on_reference_cancelled)
        self.reference_worker = worker
        worker.start()

    def stop_reference(self) -> None:
        self.retired.retire(self.reference_worker)
        self.reference_worker = None

    def _reference_current(self) -> bool:
        return self.reference_worker is not None and self.sender() is self.reference_worker

    def _end_reference(self) -> None:
        self.retired.retire(self.reference_worker, cancel=False)
        self.reference_worker = None

    def _on_reference_progressed(self, _token: int, _stage: str, done: float, total: float,
                                 _eta_s: float) -> None:
        if self._reference_current():
            self.reference_progressed.emit(int(done), int(total))

    def _on_reference_finished(self, _token: int, reference: Any) -> None:
        if self._reference_current():
            self._end_reference()
            self.reference_finished.emit(reference)

    def _on_reference_failed(self, _token: int, sentence: str) -> None:
        if self._reference_current():
            self._end_reference()
            self.reference_failed.emit(sentence)

    def _on_reference_cancelled(self, _token: int) -> None:
        if self._reference_current():
            self._end_reference()

    # -- ground truth -----------------------------------------------------------------------
    def start_groundtruth(self, mode: str, video: str, meta: str = "") -> None:
        """Look up the open clip's ground truth ("find" next to it, or "lookup" in ``meta``)."""
        self.retired.retire(self.gt_worker)
        worker = GroundTruthWorker(self.clip_token(), mode, video, meta)
        worker.finished.connect(self._on_gt_found)
        worker.failed.connect(self._on_gt_failed)
        self.gt_worker = worker
        worker.start()

    def _gt_current(self, token: int) -> bool:
        return token == self.clip_token() and self.sender() is self.gt_worker

    def _on_gt_found(self, token: int, found: tuple[Any, str, str]) -> None:
        if self._gt_current(token):
            gt, source, note = found
            self.groundtruth_found.emit(gt, source, note)

    def _on_gt_failed(self, token: int, sentence: str) -> None:
        if self._gt_current(token):
            self.groundtruth_failed.emit(sentence)

    # -- the child process and shutdown -----------------------------------------------------
    def start_prepare_process(self) -> None:
        """Start the face-tracking child process now (at launch) rather than on the first Analyze:
        forking from a process that has loaded PyTorch stalls the GUI thread ~50 ms."""
        from forensics_gui.core.children import ChildUnavailable

        if self.prepare_process is None:
            return
        try:
            self.prepare_process.start()
        except ChildUnavailable:
            self.prepare_process = None  # analyses prepare in their worker thread instead

    def shutdown(self) -> None:
        """Cancel and join every worker thread and stop the owned prepare process (idempotent)."""
        for worker in (self.worker, self.reference_worker, self.gt_worker):
            self.retired.retire(worker)
        self.worker = self.reference_worker = self.gt_worker = None
        self.retired.join_all()
        if self.prepare_process is not None and self.owns_prepare_process:
            self.prepare_process.shutdown()
