"""`forensics-gui eval`: AUC/AP (and AP@IoU, AR@N) of score files against dataset metadata.

Score files: a CSV with a header row holding at least ``file`` and ``video_score`` (``score`` is
accepted too; ``path``/``video``/``filename`` for the file column), or AV-Deepfake1M ``file;score``
lines. Rows with an empty score (clips that failed) are counted as unscored. A score that is NaN,
infinite or not a number, two rows for one clip and variant, and a ``batch`` row whose ``check``
does not match are refused with a sentence naming the file and row. A CSV with a ``variant``
column holding several variants (``batch --both``) is evaluated per variant.
Frame-level curves for localisation come from ``batch``'s curve files (the ``curve`` column, see
:mod:`forensics_gui.core.batch_results`), a ``frame_scores`` CSV column of earlier versions (a
JSON list or space/semicolon separated numbers; cells of any size) or from ``--curves DIR``:
result JSON files holding
``frame_scores`` and the clip's path in ``file``/``video``/``input``/``path`` (else the JSON's
own name is matched by stem), optionally ``fps`` (default 25) and ``curve_start_s`` (seconds of
the first curve frame, e.g. after a leading-silence trim; default 0). AV-Deepfake1M localisation
predictions (``{"file": [[conf, start_s, end_s]]}``) can be given directly with ``--proposals``.

Files are matched to metadata by relative path, then trailing path, then unique basename;
unmatched counts are reported. Labels: fake = 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from pathlib import Path, PurePosixPath
from typing import Any

FILE_COLUMNS = ("file", "path", "video", "filename")
SCORE_COLUMNS = ("video_score", "score")
CURVE_ID_KEYS = ("file", "video", "input", "path", "input_path", "source")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metadata", required=True, metavar="META",
                        help="AV-Deepfake1M / LAV-DF metadata JSON or FakeAVCeleb meta_data.csv")
    parser.add_argument("--scores", required=True, metavar="RESULTS.csv",
                        help="scores: CSV with 'file' and 'video_score' columns (e.g. from batch, "
                             "whose curve files are read for localisation), or 'file;score' lines")
    parser.add_argument("--scores-trimmed", metavar="RESULTS2.csv",
                        help="a second score file (e.g. with leading silence trimmed), shown side by side")
    parser.epilog = (
        "Refused with a sentence naming the file and row: scores that are NaN, infinite or not "
        "numbers, two rows for one clip and variant, NaN/negative/inverted segments, damaged "
        "batch rows. A batch --both CSV is evaluated per variant; empty scores (failed clips) "
        "count as unscored.")
    parser.add_argument("--curves", metavar="DIR",
                        help="folder of result JSON files with 'frame_scores' (localisation "
                             "metrics), e.g. RESULTS.curves written by batch")
    parser.add_argument("--curves-trimmed", metavar="DIR",
                        help="like --curves, for the --scores-trimmed set")
    parser.add_argument("--proposals", metavar="PRED.json",
                        help="AV-Deepfake1M localisation predictions {file: [[conf, start_s, end_s]]}")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


class ScoreSet:
    """Scores (and optional curves) of one variant read from one file. Keys are normalised paths."""

    def __init__(self, path: Path, variant: str = "") -> None:
        self.path = path
        self.variant = variant
        self.scores: dict[str, float] = {}
        self.curves: dict[str, tuple[list[float], float, float]] = {}  # key -> (scores, fps, t0)
        self.curve_files: dict[str, tuple[Path, str]] = {}  # key -> (curve file, "FILE row N")
        self.rows = 0
        self.unscored = 0
        self.score_rows: dict[str, int] = {}  # key -> line of the row that scored it

    def curve(self, key: str) -> tuple[list[float], float, float] | None:
        """The curve of ``key``: from a ``frame_scores`` cell, else its batch curve file."""
        from forensics_gui.core.batch_results import read_curve

        if key in self.curves:
            return self.curves[key]
        if key in self.curve_files:
            f, where = self.curve_files[key]
            c = read_curve(f, where)
            self.curves[key] = (c.frame_scores, c.fps, c.curve_start_s)
            return self.curves[key]
        return None

    def curve_keys(self) -> set[str]:
        return set(self.curves) | set(self.curve_files)


def _parse_curve(text: str) -> list[float] | None:
    text = text.strip()
    if not text:
        return None
    try:
        if text.startswith("["):
            values = json.loads(text)
        else:
            values = text.replace(";", " ").replace(",", " ").split()
        return [float(v) for v in values]
    except (ValueError, TypeError, RecursionError):
        return None


def load_scores(path: str | os.PathLike[str]) -> ScoreSet:
    """The one score set of a file that holds a single variant (see :func:`load_score_sets`)."""
    return load_score_sets(path)[0]


def load_score_sets(path: str | os.PathLike[str]) -> list[ScoreSet]:
    """Read a score CSV (header with file + video_score) or ``file;score`` lines: one
    :class:`ScoreSet` per ``variant`` (a batch run with ``--both`` holds two).

    Refused with a sentence naming the file and row: a score that is NaN, infinite or not a
    number, two rows scoring one clip and variant, a batch row whose ``check`` does not match.
    An empty score (a clip that failed) counts as unscored.
    """
    from forensics_gui.core import batch_results as br
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.groundtruth import load_detection_predictions, normalise_key

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ForensicsError(f"Score file {p} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ForensicsError(f"Cannot read score file {p}: {err}.") from err
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not first:
        raise ForensicsError(f"Score file {p.name} is empty.")
    if ";" in first and "," not in first:
        out = ScoreSet(p)
        out.scores = load_detection_predictions(p)
        out.rows = len(out.scores)
        return [out]
    reader = csv.DictReader(io.StringIO(text))
    with br.big_csv_fields():  # results of earlier versions kept whole curves in one cell
        fieldnames = reader.fieldnames or []
        fields = {(h or "").strip().lower(): h for h in fieldnames}
        file_col = next((fields[c] for c in FILE_COLUMNS if c in fields), None)
        score_col = next((fields[c] for c in SCORE_COLUMNS if c in fields), None)
        found = ", ".join(h for h in fieldnames if h) or "none"
        if file_col is None or score_col is None:
            missing = "'file'" if file_col is None else "'video_score'"
            raise ForensicsError(
                f"{p.name} has no {missing} column (columns found: {found}); write a header row "
                "with 'file' and 'video_score', or use 'file;score' lines.")
        batch_layout = list(fieldnames) == br.FIELDS
        curve_col = fields.get("frame_scores")
        variant_col = fields.get("variant")
        sets: dict[str, ScoreSet] = {}
        row_start = reader.line_num + 1
        for row in reader:
            line, row_start = row_start, reader.line_num + 1
            if batch_layout and br.row_check(row) != row.get("check"):
                raise ForensicsError(
                    f"{p.name} row {line} is damaged (an interrupted write or an edit); run the "
                    "same batch command again to redo that clip.")
            file = (row.get(file_col) or "").strip()
            if not file:
                continue
            if batch_layout:
                file = br.unescape_name(file)
            variant = (row.get(variant_col) or "").strip() if variant_col else ""
            status = (row.get("status") or "").strip() if batch_layout else ""
            out = sets.setdefault(variant, ScoreSet(p, variant))
            out.rows += 1
            key = normalise_key(file)
            cell = (row.get(score_col) or "").strip()
            if not cell or status == "error":
                out.unscored += 1
                continue
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ForensicsError(
                    f"{p.name} row {line}: the score of {file} is {cell[:40]!r}, not a finite "
                    "number; fix or remove that row.")
            if key in out.scores:
                which = f" (variant {variant})" if variant else ""
                raise ForensicsError(
                    f"{p.name} rows {out.score_rows[key]} and {line} both score {file}{which}; "
                    "keep one row per clip and variant.")
            out.scores[key] = value
            out.score_rows[key] = line
            if curve_col is not None:
                curve = _parse_curve(row.get(curve_col) or "")
                if curve:
                    out.curves[key] = (curve, 25.0, 0.0)
            if batch_layout and row.get("curve"):
                out.curve_files[key] = (p.parent / row["curve"], f"{p.name} row {line}")
    if not sets:
        return [ScoreSet(p)]
    # Rows without a variant (failed clips of a batch run) belong to every variant's set.
    blank = sets.pop("") if len(sets) > 1 and "" in sets and not sets[""].scores else None
    for s in sets.values():
        if blank is not None:
            s.rows += blank.rows
            s.unscored += blank.unscored
    return list(sets.values())


def _curve_identity(data: dict[str, Any]) -> str | None:
    for k in CURVE_ID_KEYS:
        v = data.get(k)
        if isinstance(v, dict):
            v = v.get("path") or v.get("file")
        if isinstance(v, str) and v:
            return v
    return None


def load_curve_dir(folder: str | os.PathLike[str]) -> dict[str, tuple[list[float], float, float]]:
    """``{key: (frame_scores, fps, curve_start_s)}`` from result JSONs under ``folder``.

    JSON files without a ``frame_scores`` list are skipped; one with infinite scores or an
    impossible ``fps``/``curve_start_s`` is refused with a sentence naming it.
    """
    from forensics_gui.core.batch_results import read_curve, unescape_name
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.groundtruth import normalise_key

    d = Path(folder)
    if not d.is_dir():
        raise ForensicsError(f"Curves folder {d} does not exist.")
    out: dict[str, tuple[list[float], float, float]] = {}
    for f in sorted(d.rglob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("frame_scores"), list):
            continue  # not a result: other JSON files may share the folder
        c = read_curve(f, f"Curves folder {d.name}")  # infinite scores, bad fps: a sentence
        ident = _curve_identity(data)
        key = normalise_key(unescape_name(ident)) if ident else f.stem
        if key in out and data.get("variant") == "trimmed":
            continue  # a batch --both folder: the untrimmed curve, whichever file comes first
        out[key] = (c.frame_scores, c.fps, c.curve_start_s)
    return out


def _find_curve(curves: Any, key: str) -> Any:
    hit = curves.lookup(key)
    if hit is None:
        hit = curves.get(PurePosixPath(key).stem)
    return hit


def evaluate(index: Any, scores: ScoreSet, curves: dict[str, Any] | None,
             proposals: dict[str, list[tuple[float, float, float]]] | None) -> dict[str, Any]:
    """All metrics for one score set against a :class:`GroundTruthIndex`."""
    from forensics_gui.core.groundtruth import PathIndex
    from forensics_gui.core.metrics import (
        MetricError,
        ap_at_iou,
        ar_at_n,
        auc,
        average_precision,
        proposals_from_curve,
    )

    matched: dict[str, tuple[str, Any]] = {}  # score key -> (metadata key, gt)
    unmatched: list[str] = []
    for key in list(scores.scores) + sorted(k for k in scores.curve_keys() if k not in scores.scores):
        mk = index.match_key(key)
        if mk is None:
            unmatched.append(key)
        else:
            matched[key] = (mk, index[mk])
    labels, values = [], []
    unlabelled = 0
    for key, value in scores.scores.items():
        if key not in matched:
            continue
        fake = matched[key][1].is_fake
        if fake is None:
            unlabelled += 1
            continue
        labels.append(1 if fake else 0)
        values.append(value)
    res: dict[str, Any] = {
        "scores_file": str(scores.path), "rows": scores.rows, "unscored_rows": scores.unscored,
        "matched": sum(1 for k in scores.scores if k in matched), "unmatched": len(unmatched),
        "unmatched_examples": unmatched[:5], "unlabelled": unlabelled,
        "n_real": labels.count(0), "n_fake": labels.count(1), "auc": None, "ap": None,
        "localisation": None, "notes": [],
    }
    if labels:
        try:
            res["auc"] = auc(labels, values)
            res["ap"] = average_precision(labels, values)
        except MetricError as err:
            res["notes"].append(str(err))
    elif scores.scores:
        res["notes"].append("No scored file matches a labelled metadata entry.")
    # Localisation: explicit proposals, else proposals derived from frame curves.
    dir_curves = PathIndex(curves or {})
    gt_segs: dict[str, list[tuple[float, float]]] = {}
    props: dict[str, list[tuple[float, float, float]]] = {}
    if proposals:
        # Every matched clip with timestamps counts; a clip without predictions recalls nothing.
        for _key, (mk, gt) in matched.items():
            if gt.has_timestamps:
                gt_segs[mk] = list(gt.fake_segments)
                props[mk] = []
        for key, plist in proposals.items():
            mk = index.match_key(key)
            if mk is not None and index[mk].has_timestamps:
                gt_segs[mk] = list(index[mk].fake_segments)
                props[mk] = plist
    elif dir_curves or scores.curve_keys():
        # Only clips with a curve count (a missing curve is unknown, not a miss).
        for key, (mk, gt) in matched.items():
            if not gt.has_timestamps:
                continue
            hit = _find_curve(dir_curves, key) if dir_curves else None
            if hit is None:
                hit = scores.curve(key)
            if hit is None:
                continue
            curve, fps, t0 = hit
            gt_segs[mk] = list(gt.fake_segments)
            props[mk] = [(c, s + t0, e + t0) for c, s, e in proposals_from_curve(curve, fps=fps)]
    if gt_segs:
        try:
            ap = ap_at_iou(gt_segs, props)
            ar = ar_at_n(gt_segs, props)
            res["localisation"] = {
                "videos": len(gt_segs), "segments": sum(len(v) for v in gt_segs.values()),
                "proposal_source": "predictions" if proposals else "frame curves",
                "ap_at_iou": {f"{t:g}": v for t, v in ap.items()},
                "ar_at_n": {str(n): v for n, v in ar.items()},
            }
        except MetricError as err:
            res["notes"].append(str(err))
    return res


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _print_table(report: dict[str, Any]) -> None:
    sets = report["results"]
    names = list(sets)
    rows: list[tuple[str, list[Any]]] = [
        ("score rows", [sets[n]["rows"] for n in names]),
        ("unscored rows", [sets[n]["unscored_rows"] for n in names]),
        ("matched to metadata", [sets[n]["matched"] for n in names]),
        ("unmatched", [sets[n]["unmatched"] for n in names]),
        ("real / fake", [f"{sets[n]['n_real']} / {sets[n]['n_fake']}" for n in names]),
        ("AUC", [sets[n]["auc"] for n in names]),
        ("AP", [sets[n]["ap"] for n in names]),
    ]
    locs = [sets[n]["localisation"] for n in names]
    if any(locs):
        ref = next(x for x in locs if x)
        rows.append(("videos with segments", [x and x["videos"] for x in locs]))
        for t in ref["ap_at_iou"]:
            rows.append((f"AP@{t}", [x and x["ap_at_iou"].get(t) for x in locs]))
        for n in ref["ar_at_n"]:
            rows.append((f"AR@{n}", [x and x["ar_at_n"].get(n) for x in locs]))
    print(f"Metadata: {report['metadata']} ({report['format']}, {report['metadata_clips']} clips)")
    width = max(len(r[0]) for r in rows) + 2
    print(" " * width + "".join(f"{n:>14}" for n in names))
    for label, vals in rows:
        print(f"{label:<{width}}" + "".join(f"{_fmt(v):>14}" for v in vals))
    for n in names:
        for ex in sets[n]["unmatched_examples"][:3]:
            print(f"{n}: unmatched example: {ex}")
        for note in sets[n]["notes"]:
            print(f"{n}: {note}")


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.groundtruth import load_localisation_predictions, load_metadata

    index = load_metadata(args.metadata)
    if not index:
        raise ForensicsError(f"Metadata file {args.metadata} has no entries.")
    formats = sorted({gt.source_format for gt in index.values()})
    proposals = load_localisation_predictions(args.proposals) if args.proposals else None
    sets = {"original": (args.scores, args.curves)}
    if args.scores_trimmed:
        sets["trimmed"] = (args.scores_trimmed, args.curves_trimmed)
    results = {}
    for name, (score_path, curve_dir) in sets.items():
        curves = load_curve_dir(curve_dir) if curve_dir else None
        variant_sets = load_score_sets(score_path)
        for scores in variant_sets:
            res = evaluate(index, scores, curves, proposals if name == "original" else None)
            if res["matched"] == 0 and res["localisation"] is None:
                raise ForensicsError(
                    f"None of the {scores.rows} files in {Path(score_path).name} matches an entry "
                    f"of {Path(args.metadata).name}; check that both refer to the same dataset "
                    "(files are matched by relative path, then by file name).")
            # A batch run with --both holds two variants: each is a column of its own.
            label = name if len(variant_sets) == 1 else (
                scores.variant if name == "original" else f"{name} {scores.variant}")
            res["variant"] = scores.variant or None
            results[label] = res
    report = {"metadata": str(args.metadata), "format": ",".join(formats),
              "metadata_clips": len(index), "results": results}
    if all(r["auc"] is None and r["localisation"] is None for r in results.values()):
        raise ForensicsError(" ".join(n for r in results.values() for n in r["notes"][:1])
                             or "No metric could be computed.")
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(report)
    return 0
