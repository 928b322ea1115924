"""Child processes: the one way the core runs work in another Python process.

Why a child at all: some work holds the GIL for seconds (dlib loading its models and running its
predictor on every frame, ``json`` parsing a 60 MB metadata file), which would freeze the viewer's
event loop even from a thread. Every child here is started with the "spawn" method (a fresh
interpreter that imports only what its target needs: no Qt, no copy of the parent's threads or
locks) as a daemon (it dies with the app).

- :func:`start_child` starts one (:class:`ChildUnavailable` where it cannot, e.g. a frozen build);
- :func:`stop_child` ends one: wait ``grace_s`` seconds, then terminate, then kill, and join;
- :func:`run_in_child` runs one call in a fresh child and returns its result; the caller's
  Cancel terminates the child at once (:class:`~forensics_gui.core.errors.Cancelled`);
- :func:`error_message` (child side) and :func:`raise_child_error` (parent side) carry an
  exception back: ForensicsError (Cancelled included), OSError and ValueError arrive as they are,
  anything else as one ForensicsError sentence naming the job, its traceback in the log;
- :class:`ChildProgress` is the core Progress protocol inside a child: throttled reports on the
  result queue, Cancel read from a value shared with the parent.

Users: :mod:`forensics_gui.core.subprocess_prepare` (one long-lived child fed job after job) and
the viewer's ground-truth lookup (:func:`run_in_child`). The exact-landmark pool
(:mod:`forensics_gui.core.face.landmark_worker`) is a different tool (a pool fed frame by frame
over pipes, see its docstring) that shares :func:`stop_child` and
:func:`child_process_supported`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import queue
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.progress import Progress, ThrottledProgress

log = logging.getLogger(__name__)

SPAWN = mp.get_context("spawn")
"""The start method of every child: a fresh interpreter (fork would copy the GUI's threads)."""
POLL_S = 0.05
"""How often a waiting parent checks Cancel and the child's liveness (seconds)."""
CHILD_REPORT_INTERVAL_S = 0.05
"""At most one progress message per stage this often (seconds) from a child."""
PASSED_THROUGH = (ForensicsError, OSError, ValueError)
"""Exceptions a child's job raises that reach the parent's caller as they are (their text is
already a sentence for the user, or the caller words them)."""

R = TypeVar("R")


class ChildUnavailable(RuntimeError):
    """A child process cannot be started (e.g. a frozen build): do the work in-process instead."""


def child_process_supported() -> bool:
    """False where a spawned child cannot re-import this package (frozen builds)."""
    return not getattr(sys, "frozen", False)


def start_child(target: Callable[..., Any], args: tuple[Any, ...], name: str) -> Any:
    """A started spawn daemon process running ``target(*args)`` (``args`` must pickle).

    Raises :class:`ChildUnavailable` when no child can be started here.
    """
    if not child_process_supported():
        raise ChildUnavailable("child processes are not available in this build")
    try:
        proc = SPAWN.Process(target=target, args=args, name=name, daemon=True)
        proc.start()
    except (OSError, RuntimeError, ValueError) as err:
        raise ChildUnavailable(f"could not start the {name} process ({err})") from err
    return proc


def _alive(proc: Any) -> bool:
    return proc.poll() is None if isinstance(proc, subprocess.Popen) else bool(proc.is_alive())


def _wait(proc: Any, timeout_s: float) -> None:
    if isinstance(proc, subprocess.Popen):
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    else:
        proc.join(timeout_s)


def stop_child(proc: Any, grace_s: float = 0.0) -> None:
    """End ``proc`` (a multiprocessing process or a ``subprocess.Popen``) and reap it.

    Waits up to ``grace_s`` seconds for it to end by itself (after the caller asked it to), then
    terminates it, then kills it if it still runs.
    """
    if grace_s > 0 and _alive(proc):
        _wait(proc, grace_s)
    if _alive(proc):
        proc.terminate()
        _wait(proc, 2.0)
    if _alive(proc):
        proc.kill()
        _wait(proc, 1.0)


def close_queue(q: Any) -> None:
    """Close a multiprocessing queue without waiting for its feeder thread (the reader may be
    gone)."""
    if q is not None:
        q.close()
        q.cancel_join_thread()


def error_message(err: BaseException) -> tuple[BaseException, str]:
    """(``err`` or, if it does not survive pickling, a RuntimeError that says what it was; the
    traceback text) for the child to send to its parent. Call it in the ``except`` block."""
    try:
        pickle.loads(pickle.dumps(err))
        sent = err
    except Exception:
        sent = RuntimeError(f"{type(err).__name__}: {err}")
    return sent, traceback.format_exc()


def raise_child_error(err: BaseException, traceback_text: str, what: str) -> NoReturn:
    """Raise, in the parent, what a child's job raised: :data:`PASSED_THROUGH` as it is, anything
    else as ``ForensicsError("<what> failed (<type>: <message>).")`` with the child's traceback
    logged. ``what`` names the job ("Reading the ground truth")."""
    if isinstance(err, PASSED_THROUGH):
        raise err
    log.error("%s failed in a child process:\n%s", what, traceback_text)
    raise ForensicsError(f"{what} failed ({type(err).__name__}: {err}).")


class ChildProgress:
    """The core Progress protocol inside a child: throttled ``("progress", job_id, stage, done,
    total)`` messages on ``out``; ``cancelled`` is True once the shared ``cancel.value`` (the
    id of the last cancelled job) reaches ``job_id``."""

    def __init__(self, out: Any, cancel: Any, job_id: int) -> None:
        self.out, self.cancel, self.job_id = out, cancel, job_id
        self.throttle = ThrottledProgress(self._send, interval_s=CHILD_REPORT_INTERVAL_S)

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.throttle.report(stage, done, total)

    def _send(self, stage: str, done: float, total: float, _eta_s: float) -> None:
        # the parent's own progress object computes the ETA it shows
        self.out.put(("progress", self.job_id, stage, done, None if total < 0 else total))

    def cancelled(self) -> bool:
        return bool(self.cancel.value >= self.job_id)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], results: Any) -> None:
    """The child side of :func:`run_in_child`."""
    try:
        value = fn(*args)
    except BaseException as err:  # everything goes back to the parent, which decides
        results.put(("error", *error_message(err)))
        return
    results.put(("done", value))


def run_in_child(fn: Callable[..., R], *args: Any, what: str,
                 progress: Progress | None = None) -> R:
    """``fn(*args)`` in a fresh child process; returns its result.

    ``fn`` must be importable by name (a module-level function) and its arguments and result must
    pickle. ``progress.cancelled()`` is polled every :data:`POLL_S` seconds: Cancel terminates the
    child and raises Cancelled. The child's exception is raised here as
    :func:`raise_child_error` says (``what`` names the job); a child that dies without an answer
    raises a ForensicsError. Raises :class:`ChildUnavailable` when no child can be started.
    """
    results = SPAWN.Queue()
    proc = start_child(_call, (fn, args, results), name="forensics-gui-child")
    grace_s = 1.0
    try:
        while True:
            if progress is not None and progress.cancelled():
                grace_s = 0.0
                raise Cancelled()
            try:
                msg = results.get(timeout=POLL_S)
            except queue.Empty:
                if _alive(proc):
                    continue
                try:  # it may have answered just before it ended
                    msg = results.get(timeout=POLL_S)
                except queue.Empty:
                    raise ForensicsError(f"{what} stopped unexpectedly (exit code {proc.exitcode}); "
                                         "try again.") from None
            if msg[0] == "done":
                return msg[1]
            raise_child_error(msg[1], msg[2], what)
    finally:
        stop_child(proc, grace_s)
        close_queue(results)
