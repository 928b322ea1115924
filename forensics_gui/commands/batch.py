"""``forensics-gui batch DIR -o RESULTS.csv``: score every clip under a folder, resumably.

Clips already in the CSV (by path relative to DIR) are skipped, so an interrupted run continues
where it stopped. A clip that fails gets a row with ``status`` = error and the reason; the run
goes on. Each row is appended and flushed at once, so nothing finished is lost (Ctrl+C included:
the background thread stops and the rows written stay).

Overlap: while the encoder scores clip i (on the GPU when there is one, ``--device auto``), one
background thread hashes, decodes and tracks the face of clip i+1
(:meth:`forensics_gui.core.pipeline.Analyzer.analyze_many`); ``--sequential`` turns that off.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Any

from forensics_gui.commands._scoring import add_scoring_arguments, variants

FIELDS = ["file", "video_score", "pool", "variant", "num_frames", "leading_silence_ms",
          "suspicious_segments", "sha256", "status", "error", "frame_scores"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="folder of clips (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="RESULTS.csv (appended to)")
    add_scoring_arguments(parser, both_help="one row per clip for untrimmed and trimmed")
    parser.add_argument("--retry-failed", action="store_true", help="re-run clips whose row is an error")
    parser.add_argument("--sequential", action="store_true",
                        help="no overlap: prepare the next clip only after this one is scored")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for the encoder (default: PyTorch's, one per core); on a "
                             "busy CPU, one fewer than the cores leaves the face tracker a core. "
                             "Scores can differ in the 7th digit between thread counts")


def _done_files(csv_path: Path, retry_failed: bool) -> set[str]:
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return set()
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["file"] for r in rows if r.get("file") and not (retry_failed and r.get("status") == "error")}


def _row(rel: str, variant: str, res: Any, analysis: Any) -> dict[str, Any]:
    return {
        "file": rel, "video_score": f"{res.video_score:.6f}", "pool": res.pool,
        "variant": variant, "num_frames": res.num_frames,
        "leading_silence_ms": f"{analysis.silence.leading_silence_ms:.3f}",
        "suspicious_segments": json.dumps([[round(s, 3), round(e, 3)]
                                           for s, e in res.suspicious_segments]),
        "sha256": analysis.sha256, "status": "ok", "error": "",
        "frame_scores": " ".join(f"{v:.4f}" for v in res.frame_scores.tolist()),
    }


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer, iter_videos
    from forensics_gui.core.progress import ClipRunProgress, ConsoleProgress

    videos = list(iter_videos(args.folder))
    if not videos:
        raise ForensicsError(f"No video files were found under {args.folder}.")
    done = _done_files(args.output, args.retry_failed)
    todo = [v for v in videos if v.relative_to(args.folder).as_posix() not in done]
    if args.threads is not None:
        if args.threads < 1:
            raise ForensicsError("--threads must be 1 or more.")
        import torch

        torch.set_num_threads(args.threads)
    analyzer = Analyzer(AnalysisOptions(checkpoint=args.checkpoint, phi=args.phi, variants=variants(args),
                                        pool=args.pool, device=args.device))
    analyzer.load_models()
    print(f"{len(videos)} clips, {len(videos) - len(todo)} already in {args.output}, "
          f"{len(todo)} to score.", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.output.is_file() or args.output.stat().st_size == 0
    failures: list[tuple[str, str]] = []
    scored = 0
    bar = ClipRunProgress(ConsoleProgress(enabled=sys.stderr.isatty()), "batch", len(todo))
    with open(args.output, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
            fh.flush()
        results = analyzer.analyze_many(todo, lookahead=0 if args.sequential else 1,
                                        on_wait=bar.waiting, clip_progress=bar.for_clip)
        try:
            with contextlib.closing(results):
                for item in results:
                    rel = item.item.relative_to(args.folder).as_posix()
                    if item.value is None:
                        why = str(item.error) or type(item.error).__name__
                        failures.append((rel, why))
                        writer.writerow({"file": rel, "status": "error", "error": why})
                    else:
                        for variant, res in item.value.scores.items():
                            writer.writerow(_row(rel, variant, res, item.value))
                        scored += 1
                    fh.flush()
                    bar.show(item.index + 1)
        except KeyboardInterrupt:
            print(f"\nInterrupted after {scored + len(failures)} of {len(todo)} clips; their rows are in "
                  f"{args.output}. Run the same command again to continue.", file=sys.stderr)
            raise
    print(f"Scored {scored} clips; {len(failures)} failed.", file=sys.stderr)
    for rel, why in failures:
        print(f"  {rel}: {why}", file=sys.stderr)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[Path | None, str]]]:
    """RESULTS.csv and what it must not overwrite: every clip found and the models (see
    forensics_gui.cli). The CSV may live inside the folder; it may not be one of the clips."""
    from forensics_gui.commands._scoring import model_inputs
    from forensics_gui.core.pipeline import iter_videos

    clips: list[tuple[Path | None, str]] = [(v, f"a clip under {args.folder}")
                                            for v in iter_videos(args.folder)]
    return [args.output], [*clips, *model_inputs(args)]
