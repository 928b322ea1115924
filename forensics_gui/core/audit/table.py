"""The resumable cue table of an audit folder, and :func:`run_audit`, which fills it.

``REPORT_DIR/cues.jsonl`` is the table while it grows: one JSON object per line (``key``,
``name``, ``path`` and the :data:`~forensics_gui.core.audit.cues.CUE_COLUMNS`), appended and
flushed as results come back, in any order. A re-run reads it and skips every clip whose resume
key (:attr:`forensics_gui.core.audit.clips.ClipEntry.key`: relative path, size, mtime) is
already there; a last line torn by a crash is dropped (the file is rewritten atomically without
it) and that clip is measured again. ``cues.csv`` (and ``cues.parquet`` when pyarrow is
installed) are written atomically from it by the report.

``map_clips(func, paths)`` runs ``func`` (:func:`~forensics_gui.core.audit.cues.clip_cues`) on
every path and yields ``(path, row)`` pairs in any order. The default, :func:`local_map`, uses
worker processes on a machine with >= 4 cores and runs in-process otherwise; the Ray runner
plugs in here.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics_gui.core.audit.clips import ClipEntry
from forensics_gui.core.audit.cues import clip_cues
from forensics_gui.core.errors import Cancelled
from forensics_gui.core.files.atomic import atomic_open
from forensics_gui.core.progress import Progress, check_cancelled

TABLE_NAME = "cues.jsonl"
STAGE = "audit"
MIN_CORES_FOR_PROCESSES = 4
CHUNK = 64  # paths per task sent to a worker process
FLUSH_EVERY_S = 1.0

MapClips = Callable[[Callable[[str], dict[str, Any]], Sequence[str]], Iterable[tuple[str, dict[str, Any]]]]


@dataclass
class AuditResult:
    """What :func:`run_audit` did."""

    table_path: Path
    rows: list[dict[str, Any]]  # one per entry measured (now or before), in entry order
    measured: int  # clips measured by this run
    skipped: int  # clips found already measured in the table
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, reason) of rows with an error


def _cue_chunk(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    return [(p, clip_cues(p)) for p in paths]


def local_map(func: Callable[[str], dict[str, Any]], paths: Sequence[str],
              workers: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, func(path))`` for every path: worker processes on >= 4 cores, else in-process."""
    cores = workers or os.cpu_count() or 1
    if cores < MIN_CORES_FOR_PROCESSES or len(paths) < 2 * CHUNK or func is not clip_cues:
        for p in paths:
            yield p, func(p)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(max_workers=cores) as pool:
        chunks = [list(paths[i:i + CHUNK]) for i in range(0, len(paths), CHUNK)]
        pending = set()
        it = iter(chunks)
        try:
            for chunk in it:
                pending.add(pool.submit(_cue_chunk, chunk))
                if len(pending) >= 2 * cores:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield from fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(_cue_chunk, nxt))
        finally:
            for fut in pending:
                fut.cancel()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_table(path: Path) -> tuple[dict[str, dict[str, Any]], bool]:
    """``({key: row}, torn)`` from a cue table; the last row wins; ``torn``: damaged lines met."""
    rows: dict[str, dict[str, Any]] = {}
    torn = False
    if not path.is_file():
        return rows, torn
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                torn = True
                continue
            try:
                row = json.loads(line)
            except ValueError:
                torn = True
                continue
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                rows[row["key"]] = row
            else:
                torn = True
    return rows, torn


def _rewrite(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, allow_nan=False) + "\n")


def run_audit(entries: Sequence[ClipEntry], out_dir: Path, *, progress: Progress | None = None,
              map_clips: MapClips | None = None) -> AuditResult:
    """Measure the cues of every entry not yet in ``out_dir``'s table; stream rows into it.

    ``progress.report("audit", done, total)`` counts clips (those already measured included);
    a cancel request raises :class:`~forensics_gui.core.errors.Cancelled` after the rows that
    came back so far are flushed, so the next run resumes from there.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / TABLE_NAME
    known, torn = read_table(table)
    if torn:
        _rewrite(table, known.values())
    wanted = {e.key for e in entries}
    todo = [e for e in entries if e.key not in known]
    by_path: dict[str, list[ClipEntry]] = {}
    for e in todo:
        by_path.setdefault(str(e.path), []).append(e)
    total = len(entries)
    done = total - len(todo)
    skipped = done
    if progress is not None:
        progress.report(STAGE, done, total)
    check_cancelled(progress)
    measured = 0
    if todo:
        mapper = map_clips or local_map
        last_flush = time.monotonic()
        results = mapper(clip_cues, list(by_path))
        with open(table, "a", encoding="utf-8") as fh:
            try:
                for path, row in results:
                    for e in by_path.get(str(path), []):
                        full = {"key": e.key, "name": e.name or str(e.path), "path": str(e.path),
                                **{k: _finite(v) for k, v in row.items()}}
                        fh.write(json.dumps(full, allow_nan=False) + "\n")
                        known[e.key] = full
                        measured += 1
                        done += 1
                    now = time.monotonic()
                    if now - last_flush >= FLUSH_EVERY_S:
                        fh.flush()
                        last_flush = now
                    if progress is not None:
                        progress.report(STAGE, done, total)
                        if progress.cancelled():
                            raise Cancelled()
            finally:
                close = getattr(results, "close", None)
                if close is not None:  # a generator: stop its workers now (cancel, error)
                    close()
                fh.flush()
                os.fsync(fh.fileno())
    rows = [known[e.key] for e in entries if e.key in known and e.key in wanted]
    errors = [(r.get("name") or r.get("path") or "?", r["error"]) for r in rows if r.get("error")]
    return AuditResult(table_path=table, rows=rows, measured=measured, skipped=skipped,
                       errors=errors)
