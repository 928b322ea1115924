"""Exclusive locks on outputs, so two runs never write one output at once.

A run that writes ``OUT`` holds an exclusive ``flock`` on ``OUT.lock`` (created beside ``OUT``)
until it ends. The kernel drops the lock when the process dies, however it dies, so a lock file
left behind by a killed run never blocks the next one. The file records who holds it (process id,
host, command, start time) so a second run can say whom to wait for.

The lock is re-entrant within one thread (a command may lock its output and then call a core
function that locks the same output again) but not across threads, so two training runs of the
viewer on one output exclude each other as two processes do.

On a file system without ``flock`` support, and on platforms without :mod:`fcntl`, the run goes
on unlocked: refusing to work there would be worse than the rare race it prevents.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.checks import parse_json_text

try:
    import fcntl
except ImportError:  # Windows: no advisory locks through fcntl
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"

_held: dict[tuple[int, str], int] = {}  # (thread id, absolute lock path) -> nesting depth
_held_guard = threading.Lock()


class OutputBusyError(ForensicsError):
    """Another live run holds the lock on an output this run wants to write."""


def lock_path(output: str | os.PathLike[str]) -> Path:
    """The lock file of ``output``: ``<output>.lock`` in the same folder."""
    output = Path(output)
    return output.with_name(output.name + LOCK_SUFFIX)


def _holder_record(command: str) -> bytes:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                       "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
                      ).encode("utf-8")


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = parse_json_text(os.pread(fd, 4096, 0), "The lock file")
    except (OSError, ForensicsError):  # being written right now, or not ours
        return {}
    return data if isinstance(data, dict) else {}


def _started_text(iso: object) -> str:
    try:
        started = _dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return ""
    now = _dt.datetime.now(started.tzinfo)
    return started.strftime("%H:%M:%S" if started.date() == now.date() else "%Y-%m-%d %H:%M:%S")


def busy_sentence(output: str | os.PathLike[str], holder: dict[str, Any]) -> str:
    """"RESULTS.csv is being written by process 1234 (forensics-gui batch, started 10:02:11); ..."."""
    name = Path(output).name
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return f"{name} is being written by another run; wait for it to finish or stop it."
    host = holder.get("host")
    where = f" on {host}" if isinstance(host, str) and host and host != socket.gethostname() else ""
    details = [f"forensics-gui {holder['command']}" if isinstance(holder.get("command"), str) else "",
               f"started {_started_text(holder.get('started'))}" if _started_text(holder.get("started")) else ""]
    about = ", ".join(d for d in details if d)
    return (f"{name} is being written by process {pid}{where}" + (f" ({about})" if about else "")
            + "; wait for it to finish or stop it.")


def _acquire(output: Path, command: str) -> int | None:
    """Open and lock ``<output>.lock``; its descriptor, or None where locks are unsupported."""
    path = lock_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputBusyError(busy_sentence(output, holder)) from None
        except OSError:  # e.g. a network file system without flock
            os.close(fd)
            return None
        # The previous holder unlinks the file before unlocking it: if we locked that unlinked
        # file, the name now belongs to a newer file (or none) and we must lock that one instead.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, _holder_record(command), 0)
            return fd
        os.close(fd)
    raise OutputBusyError(busy_sentence(output, {}))


def _release(output: Path, fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        lock_path(output).unlink()
    os.close(fd)


@contextlib.contextmanager
def output_lock(output: str | os.PathLike[str], command: str) -> Iterator[None]:
    """Hold the exclusive lock on ``output`` for the block; OutputBusyError if a live run has it.

    ``command`` names the run in the sentence another run shows (e.g. ``"batch"``).
    """
    output = Path(output)
    if fcntl is None:
        yield
        return
    key = (threading.get_ident(), os.path.abspath(lock_path(output)))
    with _held_guard:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    fd = _acquire(output, command)
    with _held_guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        _release(output, fd)


@contextlib.contextmanager
def output_locks(outputs: Iterable[str | os.PathLike[str]], command: str) -> Iterator[None]:
    """:func:`output_lock` on each of ``outputs`` (in the order given) for the block."""
    with contextlib.ExitStack() as stack:
        for output in outputs:
            stack.enter_context(output_lock(output, command))
        yield


def holds_lock(output: str | os.PathLike[str]) -> bool:
    """Whether this thread holds the lock on ``output`` (taken with :func:`output_lock`)."""
    key = (threading.get_ident(), os.path.abspath(lock_path(output)))
    with _held_guard:
        return _held.get(key, 0) > 0
