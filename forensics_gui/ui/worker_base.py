"""The one worker idiom of the viewer: a cancellable job in its own thread, and the holder that
keeps finished-with threads alive until they end.

:class:`Worker` is a QObject (living in the GUI thread) that runs :meth:`Worker.work` in a QThread
it owns, so its signals can use the plain names, ``finished`` included, without shadowing
``QThread.finished``, and reach every receiver in the GUI thread. Every
signal carries the worker's ``token`` first (the clip, dialog generation or run it was started
for), so an owner drops the signals of work it no longer wants:

- ``progressed(token, stage, done, total, eta_s)``: throttled, with the stage's ETA in seconds;
  ``total`` and ``eta_s`` are -1 when unknown;
- ``partial(token, object)``: an intermediate result;
- exactly one of ``finished(token, result)``, ``failed(token, sentence)`` or
  ``cancelled(token)`` ends a run.

:attr:`Worker.progress` is the core Progress object to hand to the core: ``report`` feeds
``progressed`` (through the core's one throttle and ETA clock), ``cancelled`` reads
:meth:`Worker.cancel`'s flag. A :class:`~forensics_gui.core.errors.ForensicsError` becomes its
sentence in ``failed``; any other exception is logged and becomes one generic sentence;
:class:`~forensics_gui.core.errors.Cancelled` becomes ``cancelled``.

The long-lived frame decoder (:class:`~forensics_gui.ui.workers.FrameDecoder`) is not a
Worker: it serves requests until it is stopped rather than running one job; it shares
:class:`RetiredThreads` for its stop and join.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal

from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.progress import StageClock, ThrottledProgress

log = logging.getLogger(__name__)


class CancelFlag:
    """A thread-safe "please stop" that the GUI thread sets and the core polls.

    It is also a complete core Progress object (reports nowhere), for work that only needs Cancel.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        """Progress is not shown."""


class Worker(QObject):
    """One background job; subclasses implement :meth:`work` (see the module docstring).

    ``what`` names the job in the generic sentence of an unexpected error ("<what> failed
    unexpectedly (TypeError: …)."). :meth:`start`, :meth:`wait`, :meth:`isRunning` and
    :meth:`isFinished` are those of the worker's thread (:attr:`qthread`); :meth:`run` runs the
    job in the calling thread (tests call it directly).
    """

    progressed = Signal(int, str, float, float, float)
    partial = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)

    what = "The background task"
    # False: a job that returns after Cancel ends in ``cancelled``; True: its result is kept
    # (``finished``), e.g. a training run that stopped at a batch with its best model saved.
    finish_when_cancelled = False

    def __init__(self, token: int = 0, clock: StageClock | None = None) -> None:
        super().__init__()
        self.token = token
        self.flag = CancelFlag()
        self.progress = ThrottledProgress(self._emit_progress, self.flag.cancelled, clock=clock)
        # The worker stays in the GUI thread (its signals, also to plain callables, are queued
        # there); only run() executes in this thread.
        self.qthread = _JobThread(self.run)

    def _emit_progress(self, stage: str, done: float, total: float, eta_s: float) -> None:
        self.progressed.emit(self.token, stage, done, total, eta_s)

    # -- the owner's side (GUI thread) ----------------------------------------------------
    def start(self) -> None:
        self.qthread.start()

    def cancel(self) -> None:
        """Ask the job to stop; the core notices at its next check (thread-safe)."""
        self.flag.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self.flag.cancelled()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Wait for the thread to end (at most ``timeout_ms``); True when it has ended."""
        if timeout_ms is None:
            return bool(self.qthread.wait())
        return bool(self.qthread.wait(timeout_ms))

    def stop(self, timeout_ms: int | None = None) -> bool:
        """Cancel and wait for the thread to end."""
        self.cancel()
        return self.wait(timeout_ms)

    def isRunning(self) -> bool:  # noqa: N802 (QThread's name, so threads and workers retire alike)
        return bool(self.qthread.isRunning())

    def isFinished(self) -> bool:  # noqa: N802 (QThread's name)
        return bool(self.qthread.isFinished())

    # -- the job (worker thread) ------------------------------------------------------------
    def work(self) -> Any:
        """The job; returns the result that ``finished`` carries. Raise Cancelled to stop."""
        raise NotImplementedError

    def explain(self, err: Exception) -> str:
        """The one sentence ``failed`` carries for an exception that is not a ForensicsError."""
        log.error("%s failed", type(self).__name__, exc_info=err)
        return f"{self.what} failed unexpectedly ({type(err).__name__}: {err})."

    def run(self) -> None:
        """Run the job in the calling thread and emit how it ended."""
        try:
            if self.cancel_requested:
                raise Cancelled()
            result = self.work()
            if self.cancel_requested and not self.finish_when_cancelled:
                raise Cancelled()
        except Cancelled:
            self.cancelled.emit(self.token)
        except ForensicsError as err:
            self.failed.emit(self.token, str(err))
        except Exception as err:  # a bug must reach the user as a sentence, not kill the thread
            self.failed.emit(self.token, self.explain(err))
        else:
            self.finished.emit(self.token, result)


class _JobThread(QThread):
    """A thread that runs one callable."""

    def __init__(self, job: Callable[[], None]) -> None:
        super().__init__()
        self.job = job

    def run(self) -> None:
        self.job()


class Joinable(Protocol):
    """A thread or worker the owner can stop and join."""

    def cancel(self) -> None: ...

    def isRunning(self) -> bool: ...  # noqa: N802 (QThread's name)

    @property
    def wait(self) -> Callable[..., bool]:
        """``wait()`` (as long as it takes) or ``wait(milliseconds)``; True once ended."""


class RetiredThreads:
    """Threads and workers whose results are no longer wanted, kept referenced until they end.

    A QThread (or a :class:`Worker`'s thread) must not be deleted while it runs, so an owner that
    replaces a worker :meth:`retire`\\ s the old one instead of dropping it; :meth:`prune` forgets
    the ended ones (and returns them, e.g. to take back loaded models), :meth:`join_all` cancels
    and joins the rest on shutdown.
    """

    def __init__(self) -> None:
        self.threads: list[Joinable] = []

    def __len__(self) -> int:
        return len(self.threads)

    def __iter__(self) -> Any:
        return iter(list(self.threads))

    def __getitem__(self, index: int) -> Joinable:
        return self.threads[index]

    def retire(self, thread: Joinable | None, cancel: bool = True) -> None:
        """Keep ``thread`` until it ends (cancelled first unless ``cancel`` is False)."""
        if thread is None:
            return
        if cancel:
            thread.cancel()
        if thread not in self.threads:
            self.threads.append(thread)

    def prune(self) -> list[Joinable]:
        """Forget the threads that have ended; return them, oldest first."""
        ended = [t for t in self.threads if not t.isRunning()]
        self.threads = [t for t in self.threads if t.isRunning()]
        return ended

    def join_all(self, timeout_ms: int | None = None) -> bool:
        """Cancel every thread and wait for each (at most ``timeout_ms`` each; None: as long as
        it takes); True when all have ended."""
        for thread in self.threads:
            thread.cancel()
        ended = True
        for thread in self.threads:
            ended = bool(thread.wait() if timeout_ms is None else thread.wait(timeout_ms)) and ended
        self.prune()
        return ended
