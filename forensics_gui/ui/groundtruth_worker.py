"""Finding a clip's ground truth off the GUI thread, and off the GIL for big metadata files.

Dataset metadata can be large (AV-Deepfake1M's list JSON has about a million entries); Python's
``json`` parser holds the GIL while it parses, which would freeze the window for seconds even
in a thread (about 1.8 s for 58 MB here). So when a candidate file is bigger than
:data:`CHILD_MIN_BYTES`, the lookup runs in a child Python process and only the one matching
entry comes back (as JSON); small files are read in the worker thread directly. A frozen app
(PyInstaller) has no separate Python to start, so it always uses the thread.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from forensics_gui.core.errors import ForensicsError

CHILD_MIN_BYTES = 8 * 1024 * 1024
MAX_PARENTS = 3  # as core.groundtruth.find_groundtruth_for

_CHILD_CODE = """
import dataclasses, json, sys
from forensics_gui.core.results import groundtruth as g
from forensics_gui.core.errors import ForensicsError
mode, meta, video = sys.argv[1:4]
note = ""
try:
    if mode == "find":
        gt, problems = g.find_groundtruth(video)
        note = " ".join(problems)
    else:
        index = g.load_metadata(meta)
        gt = index.lookup(video)
        if gt is None and len(index) == 1:
            gt, note = next(iter(index.values())), "only"
except (ForensicsError, OSError) as err:
    print(json.dumps({"error": str(err)}))
    sys.exit(0)
print(json.dumps({"gt": None if gt is None else dataclasses.asdict(gt), "note": note}))
"""


def _candidates(video: str) -> list[Path]:
    """Files :func:`find_groundtruth_for` may read for ``video``."""
    from forensics_gui.core.results.groundtruth import METADATA_NAMES

    v = Path(video).resolve()
    out = [v.with_suffix(".json")]
    folder = v.parent
    for _ in range(MAX_PARENTS + 1):
        out += [folder / name for name in METADATA_NAMES]
        if folder.parent == folder:
            break
        folder = folder.parent
    return out


def _needs_child(files: list[Path]) -> bool:
    if getattr(sys, "frozen", False):
        return False
    for f in files:
        try:
            if f.is_file() and f.stat().st_size >= CHILD_MIN_BYTES:
                return True
        except OSError:
            continue
    return False


def _from_dict(d: dict[str, Any]) -> Any:
    from forensics_gui.core.results.groundtruth import GroundTruth

    for key in ("audio_segments", "visual_segments", "fake_segments"):
        d[key] = [(float(s), float(e)) for s, e in d.get(key) or []]
    names = {f.name for f in dataclasses.fields(GroundTruth)}
    return GroundTruth(**{k: v for k, v in d.items() if k in names})


def lookup_in_thread(mode: str, meta: str, video: str) -> tuple[Any, str]:
    """(GroundTruth or None, note) read in this process. ``mode`` "find" (next to the clip) or
    "lookup" (the entry for ``video`` in ``meta``; a single-entry file applies as is)."""
    from forensics_gui.core.results import groundtruth as g

    if mode == "find":
        gt, problems = g.find_groundtruth(video)
        return gt, " ".join(problems)
    index = g.load_metadata(meta)
    gt = index.lookup(video)
    if gt is None and len(index) == 1:
        return next(iter(index.values())), "only"
    return gt, ""


class GroundTruthWorker(QThread):
    """Looks up the ground truth of ``video``; ``done(token, gt_or_None, source, note)`` or
    ``failed(token, sentence)``. :meth:`cancel` kills a child process at once.

    In "find" mode, metadata files next to the clip that cannot be read are skipped and the
    search goes on; their sentences come in ``note`` when a match is found elsewhere, or in
    ``failed`` when nothing matched. Every exception ends in ``failed``: the thread never dies
    without a word."""

    done = Signal(int, object, str, str)
    failed = Signal(int, str)

    def __init__(self, token: int, mode: str, video: str, meta: str = "", parent: Any = None) -> None:
        super().__init__(parent)
        self.token, self.mode, self.video, self.meta = token, mode, video, meta
        self.used_child = False
        self._proc: subprocess.Popen[str] | None = None
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def _in_child(self) -> tuple[Any, str]:
        import forensics_gui

        root = str(Path(forensics_gui.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, self.mode, self.meta, self.video],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        out, err = self._proc.communicate()
        if self._cancelled:
            raise InterruptedError
        try:
            data = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            raise ForensicsError(f"Reading the ground truth failed ({tail}).") from exc
        if "error" in data:
            raise ForensicsError(data["error"])
        return (None if data["gt"] is None else _from_dict(data["gt"])), data.get("note", "")

    def run(self) -> None:
        files = _candidates(self.video) if self.mode == "find" else [Path(self.meta)]
        try:
            self.used_child = _needs_child(files)
            gt, note = self._in_child() if self.used_child else lookup_in_thread(
                self.mode, self.meta, self.video)
        except InterruptedError:
            return
        except (ForensicsError, OSError, ValueError) as err:
            if not self._cancelled:
                self.failed.emit(self.token, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a thread must not die without a word
            if not self._cancelled:
                self.failed.emit(self.token, f"Reading the ground truth failed ({type(err).__name__}: "
                                             f"{str(err)[:200]}).")
            return
        if self._cancelled:
            return
        if gt is None and self.mode == "find" and note:
            self.failed.emit(self.token, note)
        else:
            self.done.emit(self.token, gt, self.meta, note)
