"""The AVH-Align analysis off the GUI thread, and the reference-scores worker.

:class:`AvhAnalysisWorker` runs the core pipeline
(:meth:`~forensics_gui.core.pipeline.Analyzer.prepare` then
:meth:`~forensics_gui.core.pipeline.Analyzer.finish`) in the viewer's one worker idiom
(:class:`~forensics_gui.ui.worker_base.Worker`): the core gets the worker's ``progress``
(throttled ``progressed`` with the ETA; ``cancelled`` reads the worker's flag, checked between
frames and batches, so Cancel takes effect within about a second).

The model-free part (decoding, dlib face tracking, mouth ROI) runs in a child process
(:class:`~forensics_gui.core.subprocess_prepare.PrepareProcess`) when the owner passes one: dlib
holds the GIL for about 0.8 s while it loads its models and for a while on every frame, which
would stall the event loop; the encoder and scoring run in this thread (PyTorch releases the GIL
in its ops). Without a child process (or when it cannot start) everything runs in this thread.

:class:`ReferenceWorker` scores every video of a folder of real clips (the comparison shown in
the summary, on a length-independent score).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Signal

from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError
from forensics_gui.core.media.timebase import model_frame_start
from forensics_gui.ui.summary_panel import ReferenceScores, comparable_score
from forensics_gui.ui.worker_base import Worker

CPU_FALLBACK_NOTE = "The GPU ran out of memory, so this analysis ran on the CPU (slower, same result)."


def is_out_of_memory(err: BaseException) -> bool:
    """True for CUDA out-of-memory errors (``torch.cuda.OutOfMemoryError`` or a RuntimeError
    whose message says "out of memory")."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch else None
    if oom_type is not None and isinstance(err, oom_type):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


TORCH_LIBRARIES = ("libtorch_global_deps.so", "libc10.so", "libtorch_cpu.so")
"""PyTorch's big shared libraries (Linux names), opened with ctypes before ``import torch``."""


def import_torch_gently() -> None:
    """``import torch`` from a worker thread, holding the GIL as little as possible.

    Importing ``torch._C`` loads libtorch_cpu (about 0.2 s of dynamic linking and static
    initialisers) inside the import machinery, holding the GIL. ctypes releases the GIL while it
    opens a library, so the libraries are opened that way first (RTLD_GLOBAL, as PyTorch does
    itself); the import then finds them loaded. Best effort: any failure falls through to the
    plain import. What remains is ``torch._C``'s module initialisation (pybind11 registers
    thousands of bindings holding the GIL): about 150 ms during which the GUI thread cannot run
    Python; only importing torch before the event loop starts avoids that (see
    benchmarks/bench_gui_analysis.py --torch-at-startup).
    """
    if "torch" in sys.modules:
        return
    import ctypes
    import importlib.util
    import os

    try:
        spec = importlib.util.find_spec("torch")
        lib_dir = os.path.join(os.path.dirname(spec.origin or ""), "lib") if spec else ""
        if sys.platform.startswith("linux") and os.path.isdir(lib_dir):
            for name in TORCH_LIBRARIES:
                lib = os.path.join(lib_dir, name)
                if os.path.isfile(lib):
                    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
    except (OSError, ImportError, ValueError):
        pass
    import torch  # noqa: F401


def model_free_analysis(clip: Any, preparation: str) -> Any:
    """A ClipAnalysis of a prepared clip without scores (no model files): the face track, the
    silence, the caveats and the mouth-and-voice measures (``lipsync``)."""
    from forensics_gui.core.face import roi
    from forensics_gui.core.pipeline import ClipAnalysis

    analysis = ClipAnalysis(file=clip.path, sha256=clip.sha256, info=clip.info,
                            silence=clip.silence, face=clip.face, roi_gray=clip.gray,
                            caveats=list(clip.caveats), damage=clip.damage,
                            preparation=roi.preparation_record(preparation))
    if hasattr(analysis, "lipsync"):
        analysis.lipsync = getattr(clip, "lipsync", None)
    return analysis


class AvhAnalysisWorker(Worker):
    """Analyses one clip with AVH-Align in a background thread.

    Signals (all queued to the GUI thread, each with the clip ``token`` first):
    ``progressed(token, stage, done, total, eta_s)`` (total/eta -1 when unknown; eta in seconds),
    ``partial(token, (kind, variant, ScoreResult))`` as each curve is scored (untrimmed first),
    then ``finished(token, ClipAnalysis)``, ``failed(token, sentence)`` or ``cancelled(token)``;
    ``notice(token, sentence)`` for things the user should know (e.g. the CPU fallback) and
    ``models_missing(token, guidance)`` (before ``failed``) when the weights are not installed.
    The mouth-and-voice measures come first, as ``partial(token, ("lipsync", "", LipSyncResult))``
    as soon as the model-free part is done.

    ``prepare_only``: run only that model-free part (no model files needed: a fresh install);
    ``finished`` then carries a ClipAnalysis without scores (its ``lipsync``, face track, silence).

    ``analyzer`` (a core Analyzer, optional) lets a caller keep loaded models between clips;
    after the run, :attr:`analyzer` is the one that produced the result (a CPU one after an
    out-of-memory fallback). ``silence``: the clip's leading-silence measurement the viewer
    already made (a core SilenceResult), used as is when it is for the run's threshold.
    """

    notice = Signal(int, str)
    models_missing = Signal(int, str)
    what = "The analysis"

    def __init__(self, path: str, options: Any, token: int = 0, sha256: str | None = None,
                 analyzer: Any = None, prepare_process: Any = None, silence: Any = None,
                 prepare_only: bool = False) -> None:
        """``prepare_process``: a core PrepareProcess to run ``prepare`` in (None: this thread)."""
        super().__init__(token)
        self.prepare_only = prepare_only
        self.path = str(path)
        self.prepare_process = prepare_process
        self.used_child_process = False
        self.options = options
        self.sha256 = sha256
        self.silence = silence
        self.analyzer = analyzer
        self.fell_back_to_cpu = False
        self.key: Any = None  # the owner's label for the models/options this run uses

    def _analyzer_for(self, options: Any) -> Any:
        from forensics_gui.core.pipeline import Analyzer

        if self.analyzer is None or self.analyzer.options.device != options.device:
            self.analyzer = Analyzer(options)
        else:
            self.analyzer.options = options
        return self.analyzer

    def _analyze(self, options: Any) -> Any:
        progress = self.progress

        def on_partial(kind: str, variant: str, res: Any) -> None:
            self.partial.emit(self.token, (kind, variant, res))

        analyzer = self._analyzer_for(options)
        if self.prepare_process is None:
            clip = analyzer.prepare(self.path, progress, self.sha256,
                                    load_models=not self.prepare_only, silence=self.silence)
            return self._after_prepare(analyzer, clip, on_partial)
        from forensics_gui.core.children import ChildUnavailable
        from forensics_gui.core.pipeline import resolve_models

        if not self.prepare_only:
            resolve_models(options)  # missing weights: say so before any clip work
        try:
            # The models load here while the child decodes and tracks the face.
            clip = self.prepare_process.prepare(
                self.path, options, self.sha256, progress,
                while_waiting=None if self.prepare_only else lambda: analyzer.load_models(progress),
                silence=self.silence)
            self.used_child_process = True
        except ChildUnavailable:
            self._warm_up(dlib=True)
            clip = analyzer.prepare(self.path, progress, self.sha256,
                                    load_models=not self.prepare_only, silence=self.silence)
        return self._after_prepare(analyzer, clip, on_partial)

    def _after_prepare(self, analyzer: Any, clip: Any, on_partial: Any) -> Any:
        """Hand on the mouth-and-voice measures at once, then score (unless ``prepare_only``)."""
        lipsync = getattr(clip, "lipsync", None)
        if lipsync is not None:
            self.partial.emit(self.token, ("lipsync", "", lipsync))
        if self.prepare_only:
            return model_free_analysis(clip, analyzer.options.preparation)
        analyzer.load_models(self.progress)  # no-op unless the child finished first
        return analyzer.finish(clip, self.progress, on_partial)

    def _warm_up(self, dlib: bool) -> None:
        """Import torch (and, with ``dlib``, load dlib's face models) first, under a "loading
        models" stage.

        PyTorch's libraries are opened with the GIL released first (:func:`import_torch_gently`).
        dlib deserialises its detector and 68-point predictor (about 1 s, once per process) while
        holding the GIL, which stalls the GUI thread: that is why the owner normally passes a
        child process; here, doing it first, after the stage name has had time to paint, makes
        that one-time pause visible and explained instead of random.
        """
        from forensics_gui.core.face import landmarks

        if "torch" in sys.modules and (not dlib or landmarks.models_loaded()):
            return
        self.progress.report("loading models", 0.0, None)
        time.sleep(0.05)  # let the GUI thread paint the stage before the GIL is held
        import_torch_gently()
        if dlib:
            landmarks.preload_models()

    def work(self) -> Any:
        try:
            if self.prepare_only:
                time.sleep(0.05)  # let the GUI thread paint the new lane first (see below)
                return self._analyze(self.options)
            return self._analyze_with_fallback()
        except CheckpointError as err:
            self.models_missing.emit(self.token, str(err))
            raise

    def _analyze_with_fallback(self) -> Any:
        # Let the GUI thread lay out and paint the new lanes before this thread takes the GIL
        # (measured: the first repaint otherwise stretches from ~20 ms to ~50 ms).
        time.sleep(0.05)
        try:
            # torch first, before the child starts: its libraries' loading stalls the GUI
            # thread less when the CPU is not also busy starting the child.
            self._warm_up(dlib=self.prepare_process is None)
            if self.cancel_requested:
                raise Cancelled()
            return self._analyze(self.options)
        except Exception as err:
            if not is_out_of_memory(err) or self.options.device == "cpu":
                raise
        self._free_gpu()
        self.fell_back_to_cpu = True
        self.notice.emit(self.token, "The GPU ran out of memory; analysing again on the CPU…")
        self.analyzer = None
        from forensics_gui.core.encoder.devices import precision_problem

        on_cpu = dataclasses.replace(self.options, device="cpu")
        if precision_problem(on_cpu.precision, "cpu") is not None:  # float16: GPU only
            on_cpu.precision = "float32"
        analysis = self._analyze(on_cpu)
        analysis.caveats.insert(0, CPU_FALLBACK_NOTE)
        return analysis

    @staticmethod
    def _free_gpu() -> None:
        torch = sys.modules.get("torch")
        try:
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # freeing memory is best effort
            pass


class ReferenceWorker(Worker):
    """Scores of every video in a folder of real clips (cached by the pipeline): each clip's
    length-independent :func:`~forensics_gui.ui.summary_panel.comparable_score` (log-mean-exp,
    not the log-sum-exp video score, which grows with the clip's length) and its length.

    ``progressed(token, "reference videos", done, total, eta_s)`` per clip, then
    ``finished(token, ReferenceScores)``, ``failed(token, sentence)`` or ``cancelled(token)``.
    """

    what = "Scoring the reference videos"

    def __init__(self, folder: str, options: Any, token: int = 0) -> None:
        super().__init__(token)
        self.folder, self.options = folder, options

    def work(self) -> ReferenceScores:
        from forensics_gui.core.media.folders import iter_videos
        from forensics_gui.core.pipeline import Analyzer

        videos = list(iter_videos(self.folder))
        if not videos:
            raise ForensicsError(f"{self.folder} contains no video files.")
        analyzer = Analyzer(self.options)
        scores: list[float] = []
        durations: list[float] = []
        failures = 0
        for i, video in enumerate(videos):
            self.progress.report("reference videos", i, len(videos))
            try:
                # the flag alone: the per-clip stages are not shown, only Cancel is read
                main = analyzer.analyze(video, progress=self.flag).main
                score = float("nan") if main is None else comparable_score(main)
                if main is not None and np.isfinite(score):
                    scores.append(score)
                    durations.append(model_frame_start(main.num_frames))
            except (Cancelled, CheckpointError):
                raise
            except Exception:  # one unreadable clip must not stop the reference set
                failures += 1
        self.progress.report("reference videos", len(videos), len(videos))
        return ReferenceScores(self.folder, scores, failures, durations)
