"""``forensics-gui batch DIR -o RESULTS.csv``: score every clip under a folder, resumably.

Output: ``RESULTS.csv``, one row per clip and variant (columns: file, video_score, pool,
variant, num_frames, leading_silence_ms, suspicious_segments, sha256, status, error, curve,
setup, check), and ``RESULTS.curves/``, one small JSON per clip content and variant with the
per-frame fakeness curve (``<sha256>.<variant>.json``; the ``curve`` column gives its path
relative to the CSV). File names that are not UTF-8 are written with ``\\xNN`` escapes. The
format is described in :mod:`forensics_gui.core.results.batch_results`.

Resuming: clips already in the CSV (by path relative to DIR, and variant) are skipped, so an
interrupted run continues where it stopped. Each row is written whole, flushed and fsynced;
a torn last line (power loss, disk full) or a damaged row is removed at the next start and
its clip scored again. A clip that fails gets a row with ``status`` = error and the reason; the
run goes on. A failure is retried when the models, device, precision or version change
(``setup``), or with ``--retry-failed``. ``--precision bfloat16``/``float16`` rows say so in their
``error`` cell (a note on an ``ok`` row: the scores may differ slightly from float32 ones). A model that cannot be loaded stops the run (exit 2) without marking
any clip as failed. The exit code is 2 when every clip of the run failed. A CSV written by an
earlier version (every frame score in one ``frame_scores`` cell) is converted on the next run.

Overlap: while the encoder scores clip i (on the GPU when there is one, ``--device auto``), one
background thread hashes, decodes and tracks the face of clip i+1
(:meth:`forensics_gui.core.pipeline.Analyzer.analyze_many`); ``--sequential`` turns that off.

Cluster: ``--ray auto|ADDRESS`` scores on Ray scorer actors instead (one per GPU, else one per
4 CPU cores; each loads the models once and runs the same Analyzer), rows streamed into the
same CSV in the order clips finish, resumable the same way (:mod:`forensics_gui.core.cluster`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from forensics_gui.commands._scoring import add_scoring_arguments, check_precision, variants

FORMAT_HELP = (
    "RESULTS.csv gets one row per clip and variant: file (relative to DIR; non-UTF-8 bytes as "
    "\\xNN), video_score, pool, variant, num_frames, leading_silence_ms, suspicious_segments "
    "(JSON), sha256, status (ok/error), error, curve, setup, check. Per-frame curves go to "
    "RESULTS.curves/<sha256>.<variant>.json (the 'curve' column points there; 'eval --curves "
    "RESULTS.curves' reads them). A torn last row is detected by its 'check' and redone. A CSV "
    "of an earlier version is converted to this layout.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = FORMAT_HELP
    parser.add_argument("folder", type=Path, help="folder of clips (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="RESULTS.csv (appended to; curves go to RESULTS.curves/ beside it)")
    add_scoring_arguments(parser, both_help="one row per clip for untrimmed and trimmed")
    parser.add_argument("--retry-failed", action="store_true",
                        help="re-run clips whose row is an error (failures under other models, "
                             "device, precision or version are retried anyway)")
    parser.add_argument("--fast-landmarks", action="store_true",
                        help="mouth crops from the windowed face tracker instead of the official "
                        "detection: faster at 720p and above, landmarks a few px off the official ones "
                        "(recorded as preparation 'fast' in the results)")
    parser.add_argument("--sequential", action="store_true",
                        help="no overlap: prepare the next clip only after this one is scored")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for the encoder (default: PyTorch's, one per core); on a "
                             "busy CPU, one fewer than the cores leaves the face tracker a core. "
                             "Scores can differ in the 7th digit between thread counts")
    from forensics_gui.core.cluster import RAY_HELP

    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help=RAY_HELP + ". Each scorer (one per GPU, else one per 4 CPU cores) "
                        "loads the models once; rows arrive in the order clips finish")
    parser.add_argument("--ray-workers", type=int, metavar="N",
                        help="with --ray: number of scorers (default: one per GPU of the cluster, "
                             "else one per 4 CPU cores)")


def _previous_rows(csv_path: Path) -> list[dict[str, str]]:
    """Rows already in the CSV, after removing a torn last line and damaged rows (said on stderr)."""
    from forensics_gui.core.results import batch_results as br

    found = br.scan(csv_path)
    if found.legacy and br.LEGACY_CURVE_FIELD.encode() in found.header:
        kept, dropped = br.migrate_legacy(csv_path)
        lost = (f"; {dropped} damaged row{' was' if dropped == 1 else 's were'} dropped and "
                "scored again" if dropped else "")
        print(f"Converted {csv_path.name} from an earlier forensics-gui: {kept} rows kept, per-frame "
              f"curves moved to {br.curves_dir(csv_path).name}/{lost}.", file=sys.stderr)
        found = br.scan(csv_path)
    if found.legacy:
        raise br.ResultsFileError(
            f"{csv_path.name} is not a batch results file (its first line is not batch's header); "
            "give batch a new -o file.")
    if found.torn or found.damaged:
        br.repair(csv_path, found)
        n = len(found.damaged) + int(found.torn)
        print(f"Removed {n} damaged row{'s' if n != 1 else ''} from {csv_path.name} (an interrupted "
              "write); those clips are scored again.", file=sys.stderr)
    return found.rows


def _todo(videos: list[Path], folder: Path, rows: list[dict[str, str]], wanted: tuple[str, ...],
          setup: str, retry_failed: bool) -> tuple[list[Path], dict[str, set[str]], int]:
    """(clips to score, {rel: variants already scored}, clips skipped for an earlier failure)."""
    done: dict[str, set[str]] = {}
    failed: set[str] = set()
    for r in rows:
        if r["status"] == "ok":
            done.setdefault(r["file"], set()).add(r["variant"])
        elif not retry_failed and r["setup"] == setup:
            failed.add(r["file"])
    todo, skipped_failed = [], 0
    for v in videos:
        rel = v.relative_to(folder).as_posix()
        if set(wanted) <= done.get(rel, set()):
            continue
        if rel in failed and not done.get(rel):
            skipped_failed += 1
            continue
        todo.append(v)
    return todo, done, skipped_failed


def _row(rel: str, variant: str, res: Any, analysis: Any, curve: str, setup: str) -> dict[str, Any]:
    finite = math.isfinite(res.video_score)  # NaN would be refused by eval: leave it empty, say why
    notes = [] if finite else ["no finite video score (no frame could be scored)"]
    damage = getattr(analysis, "damage", None) or {}
    if damage.get("sentence"):  # a cut-short file: scored only where its data exists
        notes.append(damage["sentence"])
    from forensics_gui.core.evidence.wording import precision_caveat

    reduced = precision_caveat(getattr(analysis, "precision", None))
    if reduced:  # bf16/fp16 features: the row says so (float32, the exact default, says nothing)
        notes.append(reduced)
    return {
        "file": rel, "video_score": f"{res.video_score:.6f}" if finite else "", "pool": res.pool,
        "variant": variant, "num_frames": res.num_frames,
        "leading_silence_ms": f"{analysis.silence.leading_silence_ms:.3f}",
        "suspicious_segments": json.dumps([[round(s, 3), round(e, 3)]
                                           for s, e in res.suspicious_segments]),
        "sha256": analysis.sha256, "status": "ok", "curve": curve, "setup": setup,
        "error": " ".join(notes),  # for an ok row, a note
    }


def _setup(options: Any) -> str:
    """What a failure depends on besides the clip: model contents, device, app version,
    preparation and encoder precision (left out when float32, so the setups of runs from before
    the choice existed stay the same)."""
    import forensics_gui
    from forensics_gui.core.files.hashing import sha256_of
    from forensics_gui.core.pipeline import resolve_models
    from forensics_gui.core.results import batch_results as br

    ckpt, phi = resolve_models(options)
    precision = getattr(options, "precision", "float32")
    return br.setup_fingerprint(sha256_of(ckpt), sha256_of(phi),
                                options.device, forensics_gui.__version__,
                                getattr(options, "preparation", "official"),
                                *([] if precision == "float32" else [precision]))


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import CheckpointError, ForensicsError
    from forensics_gui.core.media.folders import iter_videos
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
    from forensics_gui.core.progress import ClipRunProgress, ConsoleProgress
    from forensics_gui.core.results import batch_results as br

    check_precision(args)
    if args.ray_workers is not None and (args.ray_workers < 1 or not args.ray):
        raise ForensicsError("--ray-workers needs --ray and must be 1 or more.")
    videos = list(iter_videos(args.folder))
    if not videos:
        raise ForensicsError(f"No video files were found under {args.folder}.")
    rows = _previous_rows(args.output)
    if args.threads is not None:
        if args.threads < 1:
            raise ForensicsError("--threads must be 1 or more.")
        import torch

        torch.set_num_threads(args.threads)
    wanted = variants(args)
    options = AnalysisOptions(checkpoint=args.checkpoint, phi=args.phi, variants=wanted,
                              pool=args.pool, device=args.device,
                              preparation="fast" if args.fast_landmarks else "official",
                              precision=args.precision)
    analyzer = Analyzer(options)
    analyzer.load_models()
    setup = _setup(options)
    todo, done, skipped_failed = _todo(videos, args.folder, rows, wanted, setup, args.retry_failed)
    earlier = f" ({skipped_failed} failed earlier; --retry-failed tries them again)" if skipped_failed else ""
    print(f"{len(videos)} clips, {len(videos) - len(todo)} already in {args.output}{earlier}, "
          f"{len(todo)} to score.", file=sys.stderr)
    other = len({r["file"] for r in rows if r["status"] == "ok" and r["setup"] != setup})
    if other:
        print(f"Note: {other} clip{'s' if other != 1 else ''} in {args.output.name} were scored with "
              "other models, device, precision or version and are kept as they are; use a new "
              "-o file to score every clip with these.", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []  # scored, but the file is damaged or cut short
    scored = 0
    bar = ClipRunProgress(ConsoleProgress(enabled=sys.stderr.isatty()), "batch", len(todo))
    with open(args.output, "ab") as fh:
        if fh.tell() == 0:
            fh.write(br.header_line())
            fh.flush()
        if args.ray:  # the same Analyzer on Ray scorers; rows in the order clips finish
            from forensics_gui.core.cluster import analyze_many_on_ray

            results = analyze_many_on_ray(options, todo, address=args.ray, workers=args.ray_workers,
                                          progress=bar,
                                          on_start=lambda s: print(s, file=sys.stderr))
        else:
            results = analyzer.analyze_many(todo, lookahead=0 if args.sequential else 1,
                                            on_wait=bar.waiting, clip_progress=bar.for_clip)
        finished = 0
        try:
            with contextlib.closing(results):
                for item in results:
                    raw = item.item.relative_to(args.folder).as_posix()
                    rel = br.escape_name(raw)
                    if item.value is None:
                        if isinstance(item.error, CheckpointError):
                            raise item.error  # the models, not this clip: nothing is recorded
                        why = " ".join((str(item.error) or type(item.error).__name__).split())
                        why = why.encode("utf-8", "backslashreplace").decode("utf-8")  # OS names
                        failures.append((rel, why))
                        br.append_rows(fh, [{"file": rel, "status": "error", "error": why,
                                             "setup": setup}])
                    else:
                        new_rows = []
                        for variant, res in item.value.scores.items():
                            if variant in done.get(raw, set()):
                                continue
                            curve = br.write_curve(
                                args.output, file=rel, sha256=item.value.sha256, variant=variant,
                                pool=res.pool, frame_scores=res.frame_scores.tolist(),
                                first_model_frame=res.first_model_frame)
                            new_rows.append(_row(rel, variant, res, item.value, curve, setup))
                        br.append_rows(fh, new_rows)
                        scored += 1
                        damage = item.value.damage or {}
                        if damage.get("sentence"):
                            notes.append((rel, damage["sentence"]))
                    finished += 1
                    bar.show(finished)
        except KeyboardInterrupt:
            print(f"\nInterrupted after {scored + len(failures)} of {len(todo)} clips; their rows are in "
                  f"{args.output}. Run the same command again to continue.", file=sys.stderr)
            raise
    for rel, note in notes:
        print(f"  {rel}: {note}", file=sys.stderr)
    for rel, why in failures:
        print(f"  {rel}: {why}", file=sys.stderr)
    if failures and not scored:
        raise ForensicsError(
            f"None of the {len(failures)} clips could be scored (reasons above); if they failed "
            "for the same reason, fix the models or options and run again: failures under other "
            "models are retried.")
    if failures:
        print(f"Scored {scored} of {len(todo)} clips; {len(failures)} FAILED (listed above; "
              f"--retry-failed scores them again).", file=sys.stderr)
    else:
        print(f"Scored {scored} clips.", file=sys.stderr)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[Path | None, str]]]:
    """RESULTS.csv and what it must not overwrite: every clip found and the models (see
    forensics_gui.cli). The CSV may live inside the folder; it may not be one of the clips."""
    from forensics_gui.commands._scoring import model_inputs
    from forensics_gui.core.media.folders import iter_videos

    clips: list[tuple[Path | None, str]] = [(v, f"a clip under {args.folder}")
                                            for v in iter_videos(args.folder)]
    return [args.output], [*clips, *model_inputs(args)]
