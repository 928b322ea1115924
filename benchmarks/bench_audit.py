"""How fast the audit measures clips, and how long the statistics take on a big table.

    .venv/bin/python benchmarks/bench_audit.py [--clips 60] [--seconds 10] [--runs 5] [--rows 100000]

Generates ``--clips`` AV-Deepfake1M-like clips of ``--seconds`` s (h264 64x64 25 fps, AAC 48 kHz
mono, half with 20-40 ms of leading silence: :func:`forensics_gui.core.audit.make_demo_corpus`)
and a PCM 16 kHz set of the same length (:func:`forensics_gui.testing.synth.make_clip`), then
prints, median of ``--runs``:

* clips/s of :func:`clip_cues` on ONE core (in-process, files in the page cache, as after the
  first pass over a dataset on a local disk; a cold network share is slower by its latency);
* clips/s of :func:`run_audit` end to end (table streamed to disk, fresh folder each run);
* seconds of :func:`summarise` (AUC + 200-resample bootstrap for every cue, histograms) on a
  synthetic table of ``--rows`` clips, and of :func:`write_report`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from forensics_gui.core.audit import (
    ClipEntry,
    clip_cues,
    list_clips,
    make_demo_corpus,
    run_audit,
    summarise,
    write_report,
)
from forensics_gui.core.audit.cues import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS
from forensics_gui.testing.synth import make_clip


def _rate(paths: list[str], runs: int) -> float:
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for p in paths:
            clip_cues(p)
        rates.append(len(paths) / (time.perf_counter() - t0))
    return statistics.median(rates)


def _synthetic_table(n: int) -> tuple[list[dict[str, object]], list[ClipEntry]]:
    rng = np.random.default_rng(0)
    rows, entries = [], []
    for i in range(n):
        fake = i % 2 == 1
        row: dict[str, object] = {c: float(rng.normal() + (0.3 if fake else 0.0)) for c in NUMERIC_COLUMNS}
        row.update({c: "aac" if rng.random() < 0.5 else "pcm" for c in CATEGORICAL_COLUMNS})
        row.update(key=f"k{i}", name=f"c{i}.mp4", path=f"/d/c{i}.mp4", error=None)
        rows.append(row)
        entries.append(ClipEntry(Path(f"/d/c{i}.mp4"), "fake" if fake else "real",
                                 "audio_modified" if fake else "real", f"k{i}", f"c{i}.mp4"))
    return rows, entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_demo_corpus(root / "aac", args.clips, bad=False, duration_s=args.seconds)
        aac = [str(e.path) for e in list_clips(root / "aac")[0]]
        pcm = []
        for i in range(min(args.clips, 20)):
            c = make_clip(root / "pcm" / f"c{i}.mp4", duration_s=args.seconds, face=False,
                          width=64, height=64, leading_silence_ms=30.0 * (i % 2), seed=i)
            pcm.append(str(c.path))
        print(f"clip_cues, one core, {args.seconds:g} s clips (median of {args.runs} runs):")
        print(f"  AAC 48 kHz (AV-Deepfake1M-like): {_rate(aac, args.runs):8.1f} clips/s")
        print(f"  PCM 16 kHz:                      {_rate(pcm, args.runs):8.1f} clips/s")
        entries = list_clips(root / "aac")[0]
        rates = []
        for r in range(args.runs):
            t0 = time.perf_counter()
            run_audit(entries, root / f"out{r}", map_clips=lambda f, ps: ((p, f(p)) for p in ps))
            rates.append(len(entries) / (time.perf_counter() - t0))
        print(f"run_audit end to end, in-process:  {statistics.median(rates):8.1f} clips/s")
        rows, ents = _synthetic_table(args.rows)
        t0 = time.perf_counter()
        summary = summarise(rows, ents)
        t1 = time.perf_counter()
        write_report(summary, root / "big")
        t2 = time.perf_counter()
        print(f"summarise, {args.rows} clips: {t1 - t0:.1f} s; write_report: {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
