"""``forensics-gui batch DIR -o RESULTS.csv``: score every clip under a folder, resumably.

Clips already in the CSV (by path relative to DIR) are skipped, so an interrupted run continues
where it stopped. A clip that fails gets a row with ``status`` = error and the reason; the run
goes on. Each row is appended and flushed at once, so nothing finished is lost.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

FIELDS = ["file", "video_score", "pool", "variant", "num_frames", "leading_silence_ms",
          "suspicious_segments", "sha256", "status", "error", "frame_scores"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="folder of clips (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="RESULTS.csv (appended to)")
    parser.add_argument("--checkpoint", type=Path, help="AV-HuBERT checkpoint (default: installed)")
    parser.add_argument("--phi", type=Path, help="Phi checkpoint (default: installed)")
    parser.add_argument("--trim-leading-silence", action="store_true")
    parser.add_argument("--both", action="store_true", help="one row per clip for untrimmed and trimmed")
    parser.add_argument("--pool", choices=("lse", "mean"), default="lse")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--retry-failed", action="store_true", help="re-run clips whose row is an error")


def _done_files(csv_path: Path, retry_failed: bool) -> set[str]:
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return set()
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["file"] for r in rows if r.get("file") and not (retry_failed and r.get("status") == "error")}


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import Cancelled, ForensicsError
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer, iter_videos
    from forensics_gui.core.progress import ConsoleProgress

    videos = list(iter_videos(args.folder))
    if not videos:
        raise ForensicsError(f"No video files were found under {args.folder}.")
    done = _done_files(args.output, args.retry_failed)
    todo = [v for v in videos if v.relative_to(args.folder).as_posix() not in done]
    if args.both:
        variants: tuple[str, ...] = ("untrimmed", "trimmed")
    else:
        variants = ("trimmed",) if args.trim_leading_silence else ("untrimmed",)
    analyzer = Analyzer(AnalysisOptions(checkpoint=args.checkpoint, phi=args.phi, variants=variants,
                                        pool=args.pool, device=args.device))
    analyzer.load_models()
    print(f"{len(videos)} clips, {len(videos) - len(todo)} already in {args.output}, "
          f"{len(todo)} to score.", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.output.is_file() or args.output.stat().st_size == 0
    failures: list[tuple[str, str]] = []
    bar = ConsoleProgress(enabled=sys.stderr.isatty())
    with open(args.output, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for i, video in enumerate(todo):
            rel = video.relative_to(args.folder).as_posix()
            bar.report("batch", i, len(todo))
            try:
                analysis = analyzer.analyze(video)
            except Cancelled:
                raise
            except (ForensicsError, OSError, ValueError) as err:
                failures.append((rel, str(err)))
                writer.writerow({"file": rel, "status": "error", "error": str(err)})
                fh.flush()
                continue
            for variant, res in analysis.scores.items():
                writer.writerow({
                    "file": rel, "video_score": f"{res.video_score:.6f}", "pool": res.pool,
                    "variant": variant, "num_frames": res.num_frames,
                    "leading_silence_ms": f"{analysis.silence.leading_silence_ms:.3f}",
                    "suspicious_segments": json.dumps([[round(s, 3), round(e, 3)]
                                                       for s, e in res.suspicious_segments]),
                    "sha256": analysis.sha256, "status": "ok", "error": "",
                    "frame_scores": " ".join(f"{v:.4f}" for v in res.frame_scores.tolist()),
                })
            fh.flush()
        bar.report("batch", len(todo), len(todo))
    print(f"Scored {len(todo) - len(failures)} clips; {len(failures)} failed.", file=sys.stderr)
    for rel, why in failures:
        print(f"  {rel}: {why}", file=sys.stderr)
    return 0
