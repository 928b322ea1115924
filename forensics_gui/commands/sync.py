"""``forensics-gui sync VIDEO [--json] [-o OUT.json] [--fast-landmarks]``: does the mouth move with
the voice? The mouth-and-voice measures (:mod:`forensics_gui.core.lipsync`); no model files.

Prints the plain readings (one sentence per stretch where mouth and voice stop agreeing, then
one about the whole clip); ``--json`` prints the result dictionary instead (the same as the
``mouth_and_voice`` section of ``analyze``'s RESULT.json, plus the file and its SHA-256).
The face track comes from the analysis cache when the clip was analysed before (and goes into
it otherwise), so ``sync`` after ``analyze`` costs only the measure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="the clip (a talking face with its sound)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("-o", "--output", type=Path, help="also write the JSON result here")
    parser.add_argument("--fast-landmarks", action="store_true",
                        help="the windowed face tracker instead of the official detection (faster "
                        "at 720p and above; landmarks a few px off the official ones)")
    parser.add_argument("--no-cache", action="store_true", help="recompute the face track")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def measure_file(path: Path, *, preparation: str = "official", use_cache: bool = True,
                 progress: Any = None) -> dict[str, Any]:
    """The JSON-able result of ``sync`` for one clip (file, SHA-256, preparation + the measures)."""
    from forensics_gui.core.files.hashing import sha256_file
    from forensics_gui.core.lipsync import measure_clip
    from forensics_gui.core.media.decode import probe
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    probe(path)  # a missing or unreadable file: its sentence before the hash
    analyzer = Analyzer(AnalysisOptions(preparation=preparation, use_cache=use_cache))
    sha = sha256_file(path, progress=progress)

    def track(p: Path, prog: Any) -> tuple[Any, Any]:
        face, _gray = analyzer.mouth_roi(p, sha, prog)
        return face.landmarks, face.detected

    result = measure_clip(path, preparation=preparation, progress=progress, track=track)
    return {"file": str(path), "sha256": sha, "preparation": preparation, **result.to_dict()}


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.files.atomic import write_text_atomic
    from forensics_gui.core.progress import ConsoleProgress

    progress = ConsoleProgress(enabled=not args.quiet and not args.json)
    doc = measure_file(args.video, preparation="fast" if args.fast_landmarks else "official",
                       use_cache=not args.no_cache, progress=progress)
    text = json.dumps(doc, indent=1, allow_nan=False)
    if args.output:
        write_text_atomic(args.output, text + "\n")
    if args.json:
        print(text)
    else:
        print(f"{Path(args.video).name}: mouth and voice")
        for line in doc["readings"]:
            print(f"  {line}")
        if args.output:
            print(f"wrote {args.output}", file=sys.stderr)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path | None], list[tuple[Path | None, str]]]:
    """OUT.json (if any) and what it must not overwrite (see forensics_gui.cli)."""
    return [args.output], [(args.video, "the video")]
