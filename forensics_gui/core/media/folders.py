"""Which files in a folder are videos: the suffixes the app opens and the recursive listing
that batch, training-data extraction and the ground-truth matcher all use."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from forensics_gui.core.errors import ForensicsError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


def iter_videos(folder: str | os.PathLike[str]) -> Iterable[Path]:
    """Every video file under ``folder`` (recursive, sorted, hidden folders skipped)."""
    root = Path(folder)
    if not root.is_dir():
        raise ForensicsError(f"{root} is not a folder.")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(VIDEO_SUFFIXES) and not name.startswith("."):
                yield Path(dirpath) / name
