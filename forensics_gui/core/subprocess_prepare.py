""":meth:`Analyzer.prepare <forensics_gui.core.pipeline.Analyzer.prepare>` in a child process.

The model-free part of an analysis (stream checks, SHA-256, audio, dlib face tracking, mouth ROI
and its mp4 round trip) holds the GIL for long stretches in dlib (about 0.8 s to deserialise the
detector and the 68-point predictor, then the predictor on every frame). In the viewer that
stalls the event loop, so :class:`PrepareProcess` runs it in ONE long-lived child process
("spawn" start method), started on the first use and reused, so dlib loads once per session.

Protocol: the parent puts ``(job_id, path, options, sha256, env, silence)`` on the job queue; the child
puts ``("progress", job_id, stage, done, total)`` (throttled to about 20 per second per stage),
then ``("done", job_id, PreparedClip)`` or ``("error", job_id, exception, traceback_text)`` on
the result queue. Cancel is a shared integer, the id of the last cancelled job, that the child's
progress object reads (the core checks it between frames): unlike one Event that each job would
clear, a job cancelled before the child picked it up stays cancelled. The child is a daemon process: it dies with the app, and
:meth:`PrepareProcess.shutdown` terminates and joins it. Starting, stopping, the child's progress
object and how its errors reach the caller are the core's one child-process idiom
(:mod:`forensics_gui.core.children`).

No Qt here: the GUI worker thread calls :meth:`PrepareProcess.prepare` and forwards progress.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics_gui.core.children import (
    POLL_S,
    SPAWN,
    ChildProgress,
    ChildUnavailable,
    child_process_supported,
    close_queue,
    error_message,
    raise_child_error,
    start_child,
    stop_child,
)
from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.progress import Progress

if TYPE_CHECKING:
    from forensics_gui.core.media.silence import SilenceResult

ENV_PREFIX = "FORENSICS_GUI_"
"""Environment variables forwarded with every job (cache and models folders may change between
jobs, e.g. in tests; the child applies them before preparing)."""
CANCEL_GRACE_S = 1.0
"""After Cancel, how long the child gets to stop by itself before it is terminated (seconds)."""


def _child_main(jobs: Any, results: Any, cancel: Any) -> None:
    """The child's loop: one job at a time until ``None`` arrives (or the parent dies)."""
    from forensics_gui.core.face import landmarks
    from forensics_gui.core.pipeline import Analyzer

    try:
        landmarks.preload_models()  # once per child, before the first clip needs them
    except Exception:  # reported with the first job that needs the models
        pass
    results.put(("ready", 0))
    parent = mp.parent_process()
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the app died without shutting us down
            continue
        if job is None:
            return
        job_id, path, options, sha256, env, silence = job
        for name in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
            del os.environ[name]
        os.environ.update(env)
        try:
            clip = Analyzer(options).prepare(path, ChildProgress(results, cancel, job_id), sha256,
                                             silence=silence)
            results.put(("done", job_id, clip))
        except BaseException as err:  # everything goes back to the parent, which decides
            results.put(("error", job_id, *error_message(err)))


class PrepareProcess:
    """One long-lived child process that runs :meth:`Analyzer.prepare` for the calling thread.

    :meth:`prepare` starts the child on first use (about 1-2 s: interpreter start, imports, dlib
    models), then reuses it. One job at a time (callers are serialised by a lock). Thread-safe
    :meth:`shutdown`. Raises :class:`ChildUnavailable` when the child cannot be started.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one job at a time
        self._state_lock = threading.Lock()
        self._proc: Any = None
        self._jobs: Any = None
        self._results: Any = None
        self._cancel: Any = None
        self._ready = False  # the child said it is up (models loaded) and waits for jobs
        self._ids = itertools.count(1)
        self._closed = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def is_alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.is_alive()

    def start(self) -> None:
        """Start the child now if it is not running (otherwise :meth:`prepare` does)."""
        with self._state_lock:
            if self._closed:
                raise ChildUnavailable("the prepare process was shut down")
            if self._proc is not None and self._proc.is_alive():
                return
            self._stop_locked(timeout_s=0.5)
            if not child_process_supported():
                raise ChildUnavailable("child processes are not available in this build")
            try:
                self._jobs = SPAWN.Queue()
                self._results = SPAWN.Queue()
                self._cancel = SPAWN.Value("q", 0, lock=False)
            except OSError as err:
                raise ChildUnavailable(f"could not start the prepare process ({err})") from err
            self._ready = False
            self._proc = start_child(_child_main, (self._jobs, self._results, self._cancel),
                                     name="forensics-gui-prepare")

    def prepare(self, path: str | os.PathLike[str], options: Any, sha256: str | None = None,
                progress: Progress | None = None,
                while_waiting: Callable[[], Any] | None = None, *,
                silence: SilenceResult | None = None) -> Any:
        """``Analyzer(options).prepare(path, sha256=sha256, silence=silence)`` in the child; returns
        its PreparedClip.

        ``progress.report`` receives the child's stages; ``progress.cancelled()`` is polled about
        every 50 ms and forwarded; the child stops at its next cancellation check (between
        frames), or is terminated after :data:`CANCEL_GRACE_S` (and restarted on the next job).
        Raises what ``prepare`` raised (MediaError, ForensicsError, Cancelled, ...), or
        ForensicsError when the child died. ``while_waiting()`` runs in the calling thread right
        after the job is handed over (e.g. loading the models meanwhile); if it raises, the job
        is cancelled and its exception propagates.
        """
        with self._lock:
            self.start()
            proc, jobs, results, cancel = self._proc, self._jobs, self._results, self._cancel
            job_id = next(self._ids)
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
            jobs.put((job_id, Path(path), options, sha256, env, silence))
            if while_waiting is not None:
                try:
                    while_waiting()
                except BaseException:
                    self._give_up(proc, results, job_id)
                    raise
            cancel_at: float | None = None
            while True:
                if cancel_at is None and progress is not None and progress.cancelled():
                    cancel.value = job_id
                    cancel_at = time.monotonic()
                    if not self._ready:
                        raise Cancelled()  # the child is still starting; it will skip the job
                try:
                    msg = results.get(timeout=POLL_S)
                except queue.Empty:
                    if cancel_at is not None and time.monotonic() - cancel_at > CANCEL_GRACE_S:
                        self._kill(proc)
                        raise Cancelled() from None
                    if not proc.is_alive():
                        self._kill(proc)
                        return self._lost(cancelled=cancel_at is not None)
                    continue
                except (OSError, ValueError):  # the queue was closed by shutdown()
                    return self._lost(cancelled=cancel_at is not None or self._closed)
                kind, msg_id = msg[0], msg[1]
                if kind == "ready":
                    self._ready = True
                if msg_id != job_id:
                    continue  # "ready", or a stale message of a job that was given up
                if kind == "progress":
                    if progress is not None and cancel_at is None:
                        progress.report(msg[2], msg[3], msg[4])
                    continue
                if kind == "done":
                    return msg[2]
                raise_child_error(msg[2], msg[3], "Preparing the clip in the face-tracking process")

    def _give_up(self, proc: Any, results: Any, job_id: int) -> None:
        """Cancel job ``job_id`` and wait (at most :data:`CANCEL_GRACE_S`) until the child says it
        stopped; terminate it otherwise (a child still starting just skips the job later)."""
        self._cancel.value = job_id
        if not self._ready:
            return
        deadline = time.monotonic() + CANCEL_GRACE_S
        while time.monotonic() < deadline:
            try:
                msg = results.get(timeout=POLL_S)
            except queue.Empty:
                if not proc.is_alive():
                    break
                continue
            except (OSError, ValueError):
                return
            if msg[0] == "ready":
                self._ready = True
            if msg[1] == job_id and msg[0] in ("done", "error"):
                return
        self._kill(proc)

    @staticmethod
    def _lost(cancelled: bool) -> Any:
        """The child went away during a job: Cancelled if Cancel (or shutdown) asked for it."""
        if cancelled:
            raise Cancelled()
        raise ForensicsError("The face-tracking process stopped unexpectedly; try the analysis again.")

    def _kill(self, proc: Any) -> None:
        """Terminate ``proc`` if it is still this object's child (the next job starts a new one)."""
        with self._state_lock:
            if self._proc is proc:
                self._stop_locked(timeout_s=0.0)
            elif proc.is_alive():
                proc.terminate()

    def _stop_locked(self, timeout_s: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if timeout_s > 0 and proc.is_alive():
                try:
                    self._jobs.put(None)  # asks the child to quit
                except (OSError, ValueError):
                    pass
            stop_child(proc, timeout_s)
        for q in (self._jobs, self._results):
            close_queue(q)
        self._jobs = self._results = self._cancel = None
        self._ready = False

    def shutdown(self, timeout_s: float = 1.0) -> None:
        """Stop the child (asks it to quit, terminates it after ``timeout_s`` seconds) and
        refuse further jobs. A job in flight is cancelled first. Idempotent."""
        cancel = self._cancel
        if cancel is not None:
            cancel.value = 1 << 62  # every job
        with self._state_lock:
            self._closed = True
            self._stop_locked(timeout_s)
