"""SHA-256 of input files (shown in reports and screenshots so a reader can verify the file), and
the cached digest of model files (:func:`sha256_of`: in memory and in
``cache_dir()/model_sha256.json``, keyed by path, size and modification time, so the Models dialog
and every analysis do not re-hash gigabytes)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files import paths
from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.files.checks import read_json_file
from forensics_gui.core.progress import Progress, check_cancelled

_SHA_CACHE_NAME = "model_sha256.json"
_memory_cache: dict[str, dict[str, Any]] = {}


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


def _cache_file() -> Path:
    return paths.cache_dir() / _SHA_CACHE_NAME


def _load_disk_cache() -> dict[str, dict[str, Any]]:
    try:
        data = read_json_file(_cache_file(), "SHA-256 cache")
    except ForensicsError:  # a missing or damaged cache is rebuilt
        return {}
    return data if isinstance(data, dict) else {}


def sha256_of(path: str | Path, chunk_bytes: int = 1 << 22, progress: Progress | None = None) -> str:
    """Hex SHA-256 of a model file, cached by (resolved path, size, mtime in ns).

    ``progress`` gets ("hash", bytes done, bytes total) when the file is read (not on a cache hit).
    """
    path = Path(path).resolve()
    st = os.stat(path)
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    key = str(path)
    entry = _memory_cache.get(key)
    if entry is None:
        entry = _load_disk_cache().get(key)
    if entry and entry.get("size") == stamp["size"] and entry.get("mtime_ns") == stamp["mtime_ns"]:
        _memory_cache[key] = entry
        return str(entry["sha256"])
    entry = {**stamp, "sha256": sha256_file(path, progress, chunk=chunk_bytes)}
    _memory_cache[key] = entry
    try:
        disk = _load_disk_cache()
        disk[key] = entry
        write_text_atomic(_cache_file(), json.dumps(disk, indent=1, sort_keys=True))
    except OSError:
        pass  # the cache is an optimisation only
    return str(entry["sha256"])
