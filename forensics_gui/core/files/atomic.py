"""Atomic file writes: write to a temporary file in the same folder, then rename over the target.

A reader never sees a half-written file, and a crash leaves the old file (or none) in place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from forensics_gui.core.files.outputs import check_not_protected


def _create_temp(target: Path, suffix: str) -> Path:
    """Create an empty ``.<name>.<random><suffix>`` next to ``target``.

    Created with mode 0o666 so the kernel applies the umask, as for a plain open(): mkstemp's 0600
    would have to be widened with chmod, and reading the umask means setting it, which races
    with files other threads create meanwhile.
    """
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name next to {target}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``.

    ``suffix`` defaults to the target's own suffix, so writers that pick a format from the file
    extension (PyAV, soundfile, numpy) keep working. A ``target`` that is an input of a running
    command (:func:`forensics_gui.core.files.outputs.protect_inputs`) raises OutputIsInputError first.
    """
    target = Path(target)
    check_not_protected(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(target, suffix if suffix is not None else target.suffix)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``target`` when the block ends without error."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    with atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write(text)
