"""Finding a clip's ground truth off the GUI thread, and off the GIL for big metadata files.

Dataset metadata can be large (AV-Deepfake1M's list JSON has about a million entries); Python's
``json`` parser holds the GIL while it parses, which would freeze the window for seconds even
in a thread (about 1.8 s for 58 MB here). So when a candidate file is bigger than
:data:`CHILD_MIN_BYTES`, the lookup runs in a child process (the core's one idiom,
:func:`forensics_gui.core.children.run_in_child`) and only the one matching entry comes back;
small files are read in the worker thread directly. A frozen app (PyInstaller) has no separate
Python to start, so it always uses the thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forensics_gui.core.children import ChildUnavailable, child_process_supported, run_in_child
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.results.groundtruth import candidate_files, lookup_groundtruth
from forensics_gui.ui.worker_base import Worker

CHILD_MIN_BYTES = 8 * 1024 * 1024


def _needs_child(files: list[Path]) -> bool:
    if not child_process_supported():
        return False
    for f in files:
        try:
            if f.is_file() and f.stat().st_size >= CHILD_MIN_BYTES:
                return True
        except OSError:
            continue
    return False


class GroundTruthWorker(Worker):
    """Looks up the ground truth of ``video``; ``finished(token, (gt_or_None, source, note))`` or
    ``failed(token, sentence)``. Cancel terminates a child process within 50 ms.

    In "find" mode, metadata files next to the clip that cannot be read are skipped and the
    search goes on; their sentences come in ``note`` when a match is found elsewhere, or in
    ``failed`` when nothing matched. Every exception ends in ``failed``: the thread never dies
    without a word."""

    what = "Reading the ground truth"

    def __init__(self, token: int, mode: str, video: str, meta: str = "") -> None:
        super().__init__(token)
        self.mode, self.video, self.meta = mode, video, meta
        self.used_child = False

    def _in_child(self) -> tuple[Any, str]:
        try:
            return run_in_child(lookup_groundtruth, self.mode, self.meta, self.video,
                                what=self.what, progress=self.flag)
        except ChildUnavailable:
            self.used_child = False
            return lookup_groundtruth(self.mode, self.meta, self.video)

    def work(self) -> tuple[Any, str, str]:
        files = candidate_files(self.video) if self.mode == "find" else [Path(self.meta)]
        self.used_child = _needs_child(files)
        gt, note = self._in_child() if self.used_child else lookup_groundtruth(
            self.mode, self.meta, self.video)
        if gt is None and self.mode == "find" and note:
            raise ForensicsError(note)
        return gt, self.meta, note

    def explain(self, err: Exception) -> str:
        if isinstance(err, (OSError, ValueError)):
            return str(err)
        return f"{self.what} failed ({type(err).__name__}: {str(err)[:200]})."
