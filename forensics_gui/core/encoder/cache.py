"""On-disk cache for recomputable results (mouth ROIs, features, scores).

Entries live under :func:`forensics_gui.core.files.paths.cache_dir` (``$FORENSICS_GUI_CACHE``
overrides) as ``<root>/<key[:2]>/<key>.npz`` or ``.json``. A key is the SHA-256 of a canonical
JSON of its parts (input file SHA-256, checkpoint SHA-256, options, ...) plus
:data:`CACHE_VERSION`, so changing any input, option or the cache format gives a new key.

Writes are atomic (temporary file + rename, :mod:`forensics_gui.core.files.atomic`), so concurrent
writers of the same key leave one complete entry and readers never see a partial one. Each entry
holds its own key: an entry that cannot be read (truncated, corrupt, too large) or that holds
another key (a file copied or swapped by hand) is treated as missing and deleted, so the caller
recomputes it and overwrites it atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files import paths
from forensics_gui.core.files.atomic import atomic_open, atomic_path
from forensics_gui.core.files.checks import parse_json_text, read_json_file
from forensics_gui.core.files.npz import read_npz

CACHE_VERSION = "forensics-gui-cache-1"
MAX_ENTRY_BYTES = 4 << 30  # a one-hour clip's mouth crops are ~0.9 GB
_META_KEY = "__meta_json__"
_KEY_FIELD = "__cache_key__"


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


class Cache:
    """A folder of cache entries addressed by :meth:`key`. Safe for several processes."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else paths.cache_dir()

    @staticmethod
    def key(*parts: str | dict[str, Any]) -> str:
        """SHA-256 (hex) of the canonical JSON of ``[CACHE_VERSION, *parts]`` (sorted dict keys)."""
        text = json.dumps([CACHE_VERSION, *(_canonical(p) for p in parts)], sort_keys=True,
                          separators=(",", ":"), ensure_ascii=True, allow_nan=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, key: str, suffix: str) -> Path:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}{suffix}"

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

    def _read_npz(self, key: str, arrays: bool = True
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, meta) of the entry (arrays empty unless ``arrays``), or None when absent; an
        entry that is unreadable or holds another key's result is deleted and reads as absent."""
        path = self._path(key, ".npz")
        if not path.is_file():
            return None
        try:
            loaded = read_npz(path, None if arrays else (_META_KEY,), max_bytes=MAX_ENTRY_BYTES)
            meta = parse_json_text(str(loaded.pop(_META_KEY)), f"The cache entry {path.name}'s meta") \
                if _META_KEY in loaded else None
        except ForensicsError:
            meta = None
        if not isinstance(meta, dict) or meta.pop(_KEY_FIELD, None) != key:
            self._discard(path)
            return None
        return loaded, meta

    def get_npz(self, key: str, required: tuple[str, ...] = ()) -> dict[str, np.ndarray] | None:
        """Arrays stored under ``key`` (loaded into memory), or None if absent, unreadable or
        lacking one of the ``required`` arrays (such an entry is deleted, to be recomputed)."""
        entry = self._read_npz(key)
        if entry is not None and any(name not in entry[0] for name in required):
            self._discard(self._path(key, ".npz"))
            return None
        return None if entry is None else entry[0]

    def get_npz_meta(self, key: str) -> dict[str, Any] | None:
        """The ``meta`` dict stored with :meth:`put_npz`, or None."""
        entry = self._read_npz(key, arrays=False)
        return None if entry is None else entry[1]

    def put_npz(self, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> Path:
        """Store ``arrays`` (and a JSON-able ``meta`` dict) atomically; returns the entry path.

        The key goes into the entry too, so an entry found under another key's name (copied,
        renamed or swapped by hand) reads as absent instead of as that key's result."""
        if _META_KEY in arrays:
            raise ValueError(f"array name {_META_KEY!r} is reserved")
        path = self._path(key, ".npz")
        payload: dict[str, Any] = {name: np.asarray(a) for name, a in arrays.items()}
        payload[_META_KEY] = np.asarray(json.dumps({**_canonical(meta or {}), _KEY_FIELD: key},
                                                   sort_keys=True))
        with atomic_path(path) as tmp:
            np.savez(tmp, **payload)
        return path

    def get_json(self, key: str) -> Any | None:
        """JSON value stored under ``key``, or None if absent, unreadable or another key's."""
        path = self._path(key, ".json")
        if not path.is_file():
            return None
        try:
            doc = read_json_file(path, "cache entry", max_bytes=MAX_ENTRY_BYTES)
        except ForensicsError:
            doc = None
        if not isinstance(doc, dict) or doc.get(_KEY_FIELD) != key or "value" not in doc:
            self._discard(path)
            return None
        return doc["value"]

    def put_json(self, key: str, value: Any) -> Path:
        """Store a JSON-able value (with its key, see :meth:`put_npz`) atomically."""
        path = self._path(key, ".json")
        text = json.dumps({_KEY_FIELD: key, "value": _canonical(value)}, sort_keys=True)
        with atomic_open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path

    def delete(self, key: str) -> None:
        """Remove both kinds of entry for ``key`` (no error when absent)."""
        for suffix in (".npz", ".json"):
            self._discard(self._path(key, suffix))

    def _entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.glob("??/*") if p.is_file() and p.suffix in (".npz", ".json")
                and not p.name.startswith(".")]

    def size_bytes(self) -> int:
        """Total size of all entries in bytes."""
        total = 0
        for p in self._entries():
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total

    def count(self) -> int:
        """Number of entries."""
        return len(self._entries())

    def clear(self) -> int:
        """Delete every entry (and stale temporary files); returns the number of entries removed."""
        entries = self._entries()
        for p in entries:
            self._discard(p)
        if self.root.is_dir():
            for sub in self.root.glob("??"):
                if sub.is_dir():
                    for tmp in sub.glob(".*"):
                        self._discard(tmp)
                    with contextlib.suppress(OSError):
                        sub.rmdir()
        return len(entries)
