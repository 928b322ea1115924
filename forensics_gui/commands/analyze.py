"""``forensics-gui analyze VIDEO``: the whole pipeline on one clip, result as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from forensics_gui.commands._scoring import add_scoring_arguments, check_precision, variants


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="the clip to analyse")
    add_scoring_arguments(parser, both_help="score both untrimmed and trimmed")
    parser.add_argument("--supervised", type=Path, help="optional AVH-Align/sup checkpoint to compare")
    parser.add_argument("--no-cache", action="store_true", help="recompute everything")
    parser.add_argument("--fast-landmarks", action="store_true",
                        help="mouth crops from the windowed face tracker instead of the official "
                        "detection: faster at 720p and above, landmarks a few px off the official ones "
                        "(recorded as preparation 'fast' in the results)")
    parser.add_argument("-o", "--output", type=Path, help="write RESULT.json here (default: stdout)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.files.atomic import write_text_atomic
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
    from forensics_gui.core.progress import ConsoleProgress

    check_precision(args)
    options = AnalysisOptions(checkpoint=args.checkpoint, phi=args.phi, supervised=args.supervised,
                              variants=variants(args), pool=args.pool, device=args.device,
                              use_cache=not args.no_cache,
                              preparation="fast" if args.fast_landmarks else "official",
                              precision=args.precision)
    progress = ConsoleProgress(enabled=not args.quiet)
    analysis = Analyzer(options).analyze(args.video, progress=progress)
    text = json.dumps(analysis.to_dict(), indent=1)
    if args.output:
        write_text_atomic(args.output, text + "\n")
        main = analysis.main
        if main is not None:
            print(f"{Path(args.video).name}: video score {main.video_score:.3f} ({main.pool}), "
                  f"{len(main.suspicious_segments)} suspicious segment(s); wrote {args.output}",
                  file=sys.stderr)
    else:
        print(text)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path | None], list[tuple[Path | None, str]]]:
    """RESULT.json (if any) and what it must not overwrite (see forensics_gui.cli)."""
    from forensics_gui.commands._scoring import model_inputs

    return [args.output], [(args.video, "the video"), *model_inputs(args)]
