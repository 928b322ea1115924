"""Which clips an audit measures: every video under a folder, or the clips a metadata file names.

:func:`list_clips` returns :class:`ClipEntry` rows (path, label, manipulation, resume key) and
the problems found while listing (a metadata clip whose file is missing, a metadata file that
cannot be read), each as ``(name, reason)`` for the report; a problem never stops the audit.

Labels come from the dataset metadata the project reads
(:func:`forensics_gui.core.results.groundtruth.load_metadata`: AV-Deepfake1M, LAV-DF,
FakeAVCeleb, AVH-Align's label CSVs). A folder without ``--metadata`` is labelled from a
metadata file found in it (``metadata.json``, ``meta_data.csv``, ...), else it is unlabelled.

The resume key (:attr:`ClipEntry.key`) is ``relative path | size in bytes | mtime in ns``: a clip
that is replaced or touched is measured again; a clip that is only renamed is measured again
too (cheap, and safer than hashing a million files before the first row).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.media.folders import iter_videos

LABELS = ("real", "fake")


@dataclass
class ClipEntry:
    """One clip to audit."""

    path: Path
    label: str | None  # "real" / "fake" / None (unknown)
    manipulation: str | None  # e.g. AV-Deepfake1M's modify_type ("audio_modified", ...)
    key: str  # resume key: "relative path|size|mtime_ns" ("relative path|missing" when absent)
    name: str = ""  # the path shown in the report (relative to the folder or metadata root)


def clip_key(path: Path, name: str) -> str:
    """The resume key of ``path`` shown as ``name`` (see the module docstring)."""
    try:
        st = os.stat(path)
    except OSError:
        return f"{name}|missing"
    return f"{name}|{st.st_size}|{st.st_mtime_ns}"


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _find_metadata(folder: Path) -> Path | None:
    from forensics_gui.core.results.groundtruth import METADATA_NAMES

    for name in METADATA_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def list_clips(folder: Path | None = None, metadata: Path | None = None,
               root: Path | None = None) -> tuple[list[ClipEntry], list[tuple[str, str]]]:
    """The clips to audit and the problems met listing them (``(name, reason)``).

    ``folder``: every video under it (recursive; labels from ``metadata`` or a metadata file in
    the folder when there is one). ``metadata`` alone: the clips it names, found under ``root``
    (default: the metadata file's folder); one whose file is missing is a problem, not an entry.
    Raises :class:`ForensicsError` (one sentence) only when there is nothing to audit at all: no
    folder and no metadata, a folder that is not one, unreadable metadata without a folder.
    """
    from forensics_gui.core.results.groundtruth import GroundTruthError, load_metadata

    problems: list[tuple[str, str]] = []
    if folder is None and metadata is None:
        raise ForensicsError("Give a folder of clips or a metadata file (--metadata) to audit.")
    meta_path = metadata
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise ForensicsError(f"{folder} is not a folder; give the folder that holds the clips.")
        if meta_path is None:
            meta_path = _find_metadata(folder)
    index = None
    if meta_path is not None:
        try:
            index = load_metadata(meta_path)
        except (GroundTruthError, OSError) as err:
            if folder is None:
                raise ForensicsError(f"The metadata file {meta_path} cannot be used: {err}") from None
            problems.append((Path(meta_path).name, f"metadata not used, clips are unlabelled: {err}"))
    entries: list[ClipEntry] = []
    if folder is not None:
        for path in iter_videos(folder):
            name = _rel(path, folder)
            gt = index.lookup(name) if index is not None else None
            entries.append(ClipEntry(path=path, label=gt.label if gt else None,
                                     manipulation=gt.modify_type if gt else None,
                                     key=clip_key(path, name), name=name))
        if not entries:
            problems.append((str(folder), "no video files found in this folder"))
        if index is not None:
            found = {index.match_key(e.name) for e in entries}
            for key in index:
                if key not in found and not (folder / key).is_file():
                    problems.append((key, f"named in the metadata but the file is missing under {folder}"))
        return entries, problems
    assert index is not None and meta_path is not None
    base = Path(root) if root is not None else Path(meta_path).parent
    if root is not None and not base.is_dir():
        raise ForensicsError(f"{base} is not a folder; --root names the folder that holds the clips.")
    for key, gt in index.items():
        path = base / key
        if not path.is_file():
            problems.append((key, "named in the metadata but the file is missing under "
                                  f"{base}"))
            continue
        entries.append(ClipEntry(path=path, label=gt.label, manipulation=gt.modify_type,
                                 key=clip_key(path, key), name=key))
    return entries, problems
