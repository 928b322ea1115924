"""SHA-256 of input files (shown in reports and screenshots so a reader can verify the file)."""

from __future__ import annotations

import hashlib
import os

from forensics_gui.core.progress import Progress, check_cancelled


def sha256_file(path: str | os.PathLike[str], progress: Progress | None = None,
                chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of the file at ``path``, read in ``chunk``-byte blocks.

    Reports ``("hash", bytes_done, bytes_total)`` and raises
    :class:`~forensics_gui.core.errors.Cancelled` between blocks when ``progress`` asks to stop.
    """
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as fh:
        while True:
            check_cancelled(progress)
            block = fh.read(chunk)
            if not block:
                break
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress.report("hash", done, total)
    if progress is not None and total == 0:
        progress.report("hash", 0, 0)
    return digest.hexdigest()
