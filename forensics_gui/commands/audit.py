"""``forensics-gui audit``: find the cheap cues that give a dataset's labels away.

``forensics-gui audit (DIR | --metadata META [--root DIR]) -o REPORT_DIR [--scores BATCH.csv]``
measures every clip's cheap cues (container facts and the first and last seconds of sound,
:mod:`forensics_gui.core.audit.cues`) into ``REPORT_DIR/cues.jsonl`` (resumable: a re-run skips
clips already measured, keyed by relative path + size + modification time), then writes
``REPORT_DIR/report.html`` (self-contained) and the tables (``cues.csv``, ``cue_auc.csv``,
``detectors.csv``, ``problems.csv``; ``cues.parquet`` when pyarrow is installed).

``forensics-gui audit --make-demo OUT_DIR [--clips N]`` writes a small AV-Deepfake1M-like corpus
(:mod:`forensics_gui.core.audit.corpus`) to try it on.

REPORT_DIR must not be inside the folder of clips (or the metadata root): the report would be
audited with the clips and could shadow one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = (
    "Measures cheap cues of every clip (leading silence over a grid of thresholds tau, the "
    "loudest sample in the first delta ms over a grid of windows, the same after trimming the "
    "leading silence with AVH-Align's fixed 0.0005 rule, trailing silence, lengths of file, "
    "sound and picture and their mismatch, sample rate, channels, codecs, encoder tags, bit "
    "rates, loudness, DC offset, frame count) reading only the container and the first and "
    "last seconds of sound, then ranks how well each cue alone tells real from fake. AUC: the "
    "Mann-Whitney AUC (probability that a random fake scores above a random real, ties "
    "counted half; equal to scikit-learn's roc_auc_score); a cue lower in fakes has AUC < 0.5 "
    "and is ranked by max(AUC, 1-AUC); a categorical cue scores each clip by the share of "
    "fakes in its category (in-sample). 95 % intervals: stratified percentile bootstrap, 200 "
    "resamples, seed 0 (the same data gives the same interval). Resumable: clips already in "
    "REPORT_DIR/cues.jsonl with the same path, size and modification time are not measured "
    "again. Unreadable, empty or soundless clips and metadata entries whose file is missing "
    "are listed with the reason in the report; they never stop the run.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.add_argument("folder", nargs="?", type=Path, metavar="DIR",
                        help="folder of clips (searched recursively; labels from --metadata or a "
                             "metadata file found in it)")
    parser.add_argument("--metadata", type=Path, metavar="META",
                        help="dataset metadata (AV-Deepfake1M JSON, LAV-DF, FakeAVCeleb CSV, "
                             "AVH-Align label CSVs): labels, and without DIR the clips to audit")
    parser.add_argument("--root", type=Path, metavar="DIR",
                        help="folder the metadata's file names are relative to (default: the "
                             "metadata file's folder)")
    parser.add_argument("-o", "--output", type=Path, metavar="REPORT_DIR",
                        help="folder for report.html, the tables and the resumable cues.jsonl "
                             "(not inside the folder of clips)")
    parser.add_argument("--scores", type=Path, action="append", metavar="BATCH.csv",
                        help="a 'batch --both' CSV: AUC/AP of the detector untrimmed and trimmed "
                             "on the audited clips (repeat for several detectors)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    from forensics_gui.core.cluster import RAY_HELP

    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help=RAY_HELP + ". The same per-clip measurement, a few clips per Ray "
                        "task; rows stream into the same resumable cues.jsonl")
    parser.add_argument("--make-demo", type=Path, metavar="OUT_DIR",
                        help="instead of auditing, write an AV-Deepfake1M-like demo corpus "
                             "(reals without leading silence, fakes with 20-40 ms of it, "
                             "metadata.json) into OUT_DIR (new or empty)")
    parser.add_argument("--clips", type=int, default=40, metavar="N",
                        help="clips in the demo corpus (default 40, half real)")


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except (ValueError, OSError):
        return False


def _check_args(args: argparse.Namespace) -> None:
    from forensics_gui.core.errors import ForensicsError

    if args.make_demo is not None:
        if args.clips < 2:
            raise ForensicsError("--clips must be at least 2 (one real and one fake).")
        out = args.make_demo
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ForensicsError(f"{out} is not an empty folder; give a new or empty folder for "
                                 "the demo corpus.")
        return
    if args.folder is None and args.metadata is None:
        raise ForensicsError("Give a folder of clips (DIR) or --metadata META to audit.")
    if args.output is None:
        raise ForensicsError("Give the report folder with -o REPORT_DIR.")
    if args.output.exists() and not args.output.is_dir():
        raise ForensicsError(f"{args.output} is a file; -o names a folder for the report.")
    bases = [p for p in (args.folder, args.root,
                         args.metadata.parent if args.metadata and not args.root and not args.folder
                         else None) if p is not None]
    for base in bases:
        if _inside(args.output, base):
            raise ForensicsError(f"Refusing to write the report into {args.output}: it is inside "
                                 f"the folder of clips {base}; choose a folder outside it.")


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[Any, str]]]:
    """The report files and what they must not overwrite (see forensics_gui.cli)."""
    _check_args(args)
    if args.make_demo is not None:
        return [], []  # a new or empty folder (checked above); every file is written atomically
    out: Path = args.output
    outputs = [out / n for n in ("report.html", "cues.jsonl", "cues.csv", "cue_auc.csv",
                                 "detectors.csv", "problems.csv", "cues.parquet")]
    inputs: list[tuple[Any, str]] = [(args.metadata, "the --metadata file")]
    inputs += [(s, "a --scores file") for s in args.scores or []]
    return outputs, inputs


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.audit import list_clips, run_audit, summarise, write_report
    from forensics_gui.core.progress import ConsoleProgress

    _check_args(args)
    quiet = args.quiet
    if args.make_demo is not None:
        from forensics_gui.core.audit.corpus import make_demo_corpus

        bar = ConsoleProgress(enabled=not quiet)
        meta = make_demo_corpus(args.make_demo, args.clips,
                                progress=lambda d, t: bar.report("demo corpus", d, t))
        if not quiet:
            print(f"Demo corpus: {args.clips} clips (half real) and a few broken files in "
                  f"{args.make_demo}; metadata {meta.name}. Audit it with: forensics-gui audit "
                  f"{args.make_demo} -o REPORT_DIR", file=sys.stderr)
        return 0
    entries, problems = list_clips(args.folder, args.metadata, args.root)
    progress = ConsoleProgress(enabled=not quiet)
    map_clips = _map_clips(args, progress)
    result = run_audit(entries, args.output, progress=progress, map_clips=map_clips)
    summary = summarise(result.rows, entries, scores=args.scores, problems=problems)
    report = write_report(summary, args.output)
    if not quiet:
        print(f"Measured {result.measured} clips ({result.skipped} already measured); "
              f"{summary.n_real} real, {summary.n_fake} fake, {summary.n_unlabelled} unlabelled; "
              f"{len(summary.problems)} clips or files could not be used.", file=sys.stderr)
        for cue in summary.cues[:5]:
            if cue.auc is not None:
                print(f"  {cue.label}: AUC {cue.auc:.3f} ({cue.direction})", file=sys.stderr)
        for d in summary.detectors:
            if d.auc is not None:
                print(f"  {d.detector}, {d.variant}: AUC {d.auc:.3f}", file=sys.stderr)
        print(f"Report: {report}", file=sys.stderr)
    return 0


def _map_clips(args: argparse.Namespace, progress: Any) -> Any:
    """The per-clip runner: local processes (default), or Ray tasks with ``--ray``."""
    if not getattr(args, "ray", None):
        return None
    from forensics_gui.core.cluster import ray_map

    return ray_map(args.ray, progress=progress)
