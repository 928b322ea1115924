"""The AVH-Align analysis off the GUI thread: a QThread that runs the core pipeline
(:meth:`~forensics_gui.core.pipeline.Analyzer.prepare` then
:meth:`~forensics_gui.core.pipeline.Analyzer.finish`) and turns its progress/cancel contract into
Qt signals, plus the status-bar progress widget (stage, bar, ETA, Cancel).

The model-free part (decoding, dlib face tracking, mouth ROI) runs in a child process
(:class:`~forensics_gui.core.subprocess_prepare.PrepareProcess`) when the owner passes one: dlib
holds the GIL for about 0.8 s while it loads its models and for a while on every frame, which
would stall the event loop; the encoder and scoring run in this thread (PyTorch releases the GIL
in its ops). Without a child process (or when it cannot start) everything runs in this thread.

The core never sees a signal: the worker hands it a :class:`~forensics_gui.ui.workers.
SignalProgress` whose ``report`` emits ``progressed`` (throttled, with the ETA) and whose
``cancelled`` reads the worker's :class:`~forensics_gui.ui.workers.CancelFlag`. The core checks
that flag between frames and batches, so Cancel takes effect within about a second.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError
from forensics_gui.core.progress import format_eta
from forensics_gui.ui.workers import CancelFlag, SignalProgress

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


class AvhAnalysisWorker(QThread):
    """Analyses one clip with AVH-Align in a background thread.

    Signals (all queued to the GUI thread):
    ``progressed(stage, done, total, eta_s)`` (total/eta -1 when unknown; eta in seconds),
    ``partial_ready(kind, variant, ScoreResult)`` as each curve is scored (untrimmed first),
    ``finished_ok(ClipAnalysis)``, ``failed(sentence)``, ``cancelled()``,
    ``notice(sentence)`` for things the user should know (e.g. the CPU fallback) and
    ``models_missing(guidance)`` when the weights are not installed.

    ``analyzer`` (a core Analyzer, optional) lets a caller keep loaded models between clips;
    after the run, :attr:`analyzer` is the one that produced the result (a CPU one after an
    out-of-memory fallback).
    """

    progressed = Signal(str, float, float, float)
    partial_ready = Signal(str, str, object)
    finished_ok = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    notice = Signal(str)
    models_missing = Signal(str)

    def __init__(self, path: str, options: Any, sha256: str | None = None, analyzer: Any = None,
                 parent: Any = None, prepare_process: Any = None) -> None:
        """``prepare_process``: a core PrepareProcess to run ``prepare`` in (None: this thread)."""
        super().__init__(parent)
        self.path = str(path)
        self.prepare_process = prepare_process
        self.used_child_process = False
        self.options = options
        self.sha256 = sha256
        self.analyzer = analyzer
        self.fell_back_to_cpu = False
        self.key: Any = None  # the owner's label for the models/options this run uses
        self._flag = CancelFlag()

    @property
    def cancel_requested(self) -> bool:
        return self._flag.cancelled()

    def cancel(self) -> None:
        """Ask the run to stop; the core notices within about a second."""
        self._flag.cancel()

    def stop(self) -> None:
        """Cancel and wait for the thread to end."""
        self.cancel()
        self.wait()

    def _analyzer_for(self, options: Any) -> Any:
        from forensics_gui.core.pipeline import Analyzer

        if self.analyzer is None or self.analyzer.options.device != options.device:
            self.analyzer = Analyzer(options)
        else:
            self.analyzer.options = options
        return self.analyzer

    def _analyze(self, options: Any) -> Any:
        progress = SignalProgress(self.progressed.emit, self._flag)
        def on_partial(kind: str, variant: str, res: Any) -> None:
            self.partial_ready.emit(kind, variant, res)

        analyzer = self._analyzer_for(options)
        if self.prepare_process is None:
            return analyzer.analyze(self.path, progress=progress, sha256=self.sha256,
                                    on_partial=on_partial)
        from forensics_gui.core.pipeline import resolve_models
        from forensics_gui.core.subprocess_prepare import ChildUnavailable

        resolve_models(options)  # missing weights: say so before any clip work
        try:
            # The models load here while the child decodes and tracks the face.
            clip = self.prepare_process.prepare(self.path, options, self.sha256, progress,
                                                while_waiting=lambda: analyzer.load_models(progress))
            self.used_child_process = True
        except ChildUnavailable:
            self._warm_up(dlib=True)
            clip = analyzer.prepare(self.path, progress, self.sha256, load_models=True)
        analyzer.load_models(progress)  # no-op unless the child finished first
        return analyzer.finish(clip, progress, on_partial)

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
        self.progressed.emit("loading models", 0.0, -1.0, -1.0)
        time.sleep(0.05)  # let the GUI thread paint the stage before the GIL is held
        import_torch_gently()
        if dlib:
            landmarks.preload_models()

    def run(self) -> None:
        # Let the GUI thread lay out and paint the new lanes before this thread takes the GIL
        # (measured: the first repaint otherwise stretches from ~20 ms to ~50 ms).
        time.sleep(0.05)
        try:
            try:
                # torch first, before the child starts: its libraries' loading stalls the GUI
                # thread less when the CPU is not also busy starting the child.
                self._warm_up(dlib=self.prepare_process is None)
                if self.cancel_requested:
                    raise Cancelled()
                analysis = self._analyze(self.options)
            except Exception as err:
                if not is_out_of_memory(err) or self.options.device == "cpu":
                    raise
                self._free_gpu()
                self.fell_back_to_cpu = True
                self.notice.emit("The GPU ran out of memory; analysing again on the CPU…")
                self.analyzer = None
                analysis = self._analyze(dataclasses.replace(self.options, device="cpu"))
                analysis.caveats.insert(0, CPU_FALLBACK_NOTE)
        except Cancelled:
            self.cancelled.emit()
            return
        except CheckpointError as err:
            self.models_missing.emit(str(err))
            self.failed.emit(str(err))
            return
        except ForensicsError as err:
            self.failed.emit(str(err))
            return
        except Exception as err:  # a bug must reach the user as a sentence, not kill the app
            traceback.print_exc()
            self.failed.emit(f"The analysis failed unexpectedly ({type(err).__name__}: {err}).")
            return
        if self.cancel_requested:
            self.cancelled.emit()
        else:
            self.finished_ok.emit(analysis)

    @staticmethod
    def _free_gpu() -> None:
        torch = sys.modules.get("torch")
        try:
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # freeing memory is best effort
            pass


class ProgressStrip(QWidget):
    """Status-bar widget: stage name, progress bar, ETA and a Cancel button (hidden when idle)."""

    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage_label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.eta_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the analysis (takes effect within a second)")
        self.cancel_button.clicked.connect(self._on_cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.stage_label, self.bar, self.eta_label, self.cancel_button):
            row.addWidget(w)
        self.setVisible(False)

    def start(self, text: str = "Starting analysis…") -> None:
        self.stage_label.setText(text)
        self.bar.setRange(0, 0)
        self.eta_label.setText("")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def show_progress(self, stage: str, done: float, total: float, eta_s: float) -> None:
        """``total`` <= 0 = unknown (busy bar); ``eta_s`` < 0 = unknown."""
        self.stage_label.setText(stage)
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(1000 * min(1.0, done / total))))
        else:
            self.bar.setRange(0, 0)
        self.eta_label.setText(f"ETA {format_eta(eta_s if eta_s >= 0 else None)}")

    def _on_cancel(self) -> None:
        self.stage_label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
        self.cancel_clicked.emit()

    def finish(self) -> None:
        self.setVisible(False)
