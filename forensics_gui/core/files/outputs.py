"""No command writes over one of its inputs: outputs are checked against inputs by file identity.

Two paths name the same file when their ``(st_dev, st_ino)`` agree after following symbolic
links: hard links, symlinks, ``./a/../clip.mp4`` and other spellings on a case-insensitive file
system are all caught, not only equal names. An output that does not exist yet cannot be an
input (inputs exist), so a missing output always passes.

Two layers:

- :func:`refuse_overwriting_inputs` checks a command's outputs (and the lock files beside them)
  before any work starts, with a sentence naming both files;
- :func:`protect_inputs` registers the inputs for as long as the command runs, and
  :func:`forensics_gui.core.files.atomic.atomic_path` refuses any target among them, so a derived output
  that a command did not list (a file inside an output folder, a resume state) is caught too.

:func:`guarded_outputs` does both and holds the output locks of :mod:`forensics_gui.core.files.locking`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.locking import lock_path, output_locks

FileId = tuple[int, int]
Inputs = Iterable[tuple["str | os.PathLike[str] | None", str]]
"""(path, role) pairs, e.g. ``(args.video, "the video")``; a None path is skipped."""

_protected: Counter[FileId] = Counter()
_protected_names: dict[FileId, tuple[str, str]] = {}  # identity -> (path as given, role)
_protected_guard = threading.Lock()


class OutputIsInputError(ForensicsError):
    """An output path names (by identity) one of the command's input files."""


def file_identity(path: str | os.PathLike[str]) -> FileId | None:
    """``(st_dev, st_ino)`` of the file ``path`` names, following links; None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # missing, a dangling link, a name the OS rejects
        return None
    return st.st_dev, st.st_ino


def _sentence(output: str | os.PathLike[str], inp: str | os.PathLike[str], role: str,
              lock_of: str | os.PathLike[str] | None = None) -> str:
    out_name, in_name = Path(output).name, Path(inp).name
    same = "it is" if out_name == in_name else f"it is the same file as {in_name},"
    if lock_of is not None:
        return (f"Refusing to use {out_name} as the lock file of {Path(lock_of).name}: {same} one of "
                f"this command's inputs ({role}); choose another output path.")
    return (f"Refusing to write {out_name}: {same} one of this command's inputs ({role}); "
            "choose another output path.")


def _input_ids(inputs: Inputs) -> dict[FileId, tuple[str, str]]:
    ids: dict[FileId, tuple[str, str]] = {}
    for path, role in inputs:
        if path is None:
            continue
        ident = file_identity(path)
        if ident is not None:
            ids.setdefault(ident, (os.fspath(path), role))
    return ids


def refuse_overwriting_inputs(outputs: Iterable[str | os.PathLike[str] | None], inputs: Inputs) -> None:
    """Raise OutputIsInputError if an output, or the lock file beside it, is one of ``inputs``.

    ``inputs`` are ``(path, role)`` pairs; the role says in the message which input it is
    ("the video", "the --audio file", ...). None outputs and inputs are skipped.
    """
    _refuse(outputs, _input_ids(inputs))


def _refuse(outputs: Iterable[str | os.PathLike[str] | None], ids: dict[FileId, tuple[str, str]]) -> None:
    if not ids:
        return
    for output in outputs:
        if output is None:
            continue
        for candidate, lock_of in ((output, None), (lock_path(output), output)):
            ident = file_identity(candidate)
            hit = None if ident is None else ids.get(ident)
            if hit is not None:
                raise OutputIsInputError(_sentence(candidate, hit[0], hit[1], lock_of))


def check_not_protected(target: str | os.PathLike[str]) -> None:
    """Raise OutputIsInputError if ``target`` is an input of a running command (see
    :func:`protect_inputs`); called by :func:`forensics_gui.core.files.atomic.atomic_path`."""
    with _protected_guard:
        if not _protected:
            return
    ident = file_identity(target)
    with _protected_guard:
        hit = None if ident is None else _protected_names.get(ident)
    if hit is not None:
        raise OutputIsInputError(_sentence(target, hit[0], hit[1]))


def is_protected(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an input of a running command (cleanup code must not remove it)."""
    ident = file_identity(path)
    with _protected_guard:
        return ident is not None and _protected[ident] > 0


@contextlib.contextmanager
def protect_inputs(inputs: Inputs) -> Iterator[None]:
    """While the block runs, no atomic write in this process may replace one of ``inputs``."""
    with _protecting(_input_ids(inputs)):
        yield


@contextlib.contextmanager
def _protecting(ids: dict[FileId, tuple[str, str]]) -> Iterator[None]:
    with _protected_guard:
        for ident, name in ids.items():
            _protected[ident] += 1
            _protected_names.setdefault(ident, name)
    try:
        yield
    finally:
        with _protected_guard:
            for ident in ids:
                _protected[ident] -= 1
                if _protected[ident] <= 0:
                    del _protected[ident]
                    _protected_names.pop(ident, None)


@contextlib.contextmanager
def guarded_outputs(command: str, outputs: Iterable[str | os.PathLike[str] | None],
                    inputs: Inputs) -> Iterator[None]:
    """The one guard every command uses around its work.

    Refuses outputs that are inputs (:func:`refuse_overwriting_inputs`), then holds the lock on
    each output (:func:`forensics_gui.core.files.locking.output_lock`; OutputBusyError naming the
    process that has it) and protects the inputs from atomic writes (:func:`protect_inputs`)
    until the block ends. ``command`` names this run in another run's message, e.g. "batch".
    """
    ids = _input_ids(inputs)  # one stat per input, for both checks
    outs = [Path(o) for o in outputs if o is not None]
    _refuse(outs, ids)
    with output_locks(outs, command), _protecting(ids):
        yield
