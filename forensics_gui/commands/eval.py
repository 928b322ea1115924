"""`forensics-gui eval`: AUC/AP (and AP@IoU, AR@N) of score files against dataset metadata.

Score files: a CSV with a header row holding at least ``file`` and ``video_score`` (``score`` is
accepted too; ``path``/``video``/``filename`` for the file column), or AV-Deepfake1M ``file;score``
lines. Rows with an empty score (clips that failed) are counted as unscored. A score that is NaN,
infinite or not a number, two rows for one clip and variant, and a ``batch`` row whose ``check``
does not match are refused with a sentence naming the file and row. A CSV with a ``variant``
column holding several variants (``batch --both``) is evaluated per variant.
Frame-level curves for localisation come from ``batch``'s curve files (the ``curve`` column, see
:mod:`forensics_gui.core.results.batch_results`), a ``frame_scores`` CSV column of earlier versions (a
JSON list or space/semicolon separated numbers; cells of any size) or from ``--curves DIR``:
result JSON files holding
``frame_scores`` and the clip's path in ``file``/``video``/``input``/``path`` (else the JSON's
own name is matched by stem), optionally ``first_model_frame`` (the model frame of the first
value, e.g. after a leading-silence trim; default 0; an earlier version's ``curve_start_s`` in
seconds is read too) and ``fps`` (the model rate, 25, when given), see
:func:`forensics_gui.core.results.batch_results.read_curve`. AV-Deepfake1M localisation
predictions (``{"file": [[conf, start_s, end_s]]}``) can be given directly with ``--proposals``.

Localisation rules: ``--protocol av1m`` (default; the official AV-Deepfake1M / LAV-DF metric)
or ``activitynet``, see :func:`forensics_gui.core.results.metrics.localisation_metrics`. Proposal files
are in seconds (AV-Deepfake1M) or frames (``--proposal-unit frames --fps 25``, LAV-DF's default);
proposals whose ends do not fit the clip lengths in the chosen unit are refused (a warning when
the unit was given).

Every metadata clip is evaluated: one without a score is reported and counts as a miss in AUC/AP
(a fake below every score, a real above; AUC/AP of the scored clips alone are given too), one
without proposals or curve counts with none (its segments are missed); ``--strict`` fails
instead. Metadata with several splits (LAV-DF) is narrowed to ``--split``, else to the one split
that every predicted clip belongs to. Files are matched to metadata by exact path, else by the longest trailing path shared
with a metadata key of the same file name; unmatched and ambiguous files are listed.
Labels: fake = 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forensics_gui.core.results.batch_results import Curve

FILE_COLUMNS = ("file", "path", "video", "filename")
SCORE_COLUMNS = ("video_score", "score")
CURVE_ID_KEYS = ("file", "video", "input", "path", "input_path", "source")
LAVDF_FPS = 25.0
"""Default --fps: LAV-DF's proposal files count frames of its 25 fps videos (the dataset's rate,
which happens to equal the model grid's; proposals never touch the model grid)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metadata", required=True, metavar="META",
                        help="AV-Deepfake1M metadata JSON (full or the SDK's minimal file + "
                        "fake_segments form), LAV-DF metadata.min.json, FakeAVCeleb meta_data.csv, "
                        "or AVH-Align's av1m_metadata/*.csv (path,label[,num_frames]) and "
                        "avh_sup/csv_metadata/favc/*.csv (source,category,full_path)")
    parser.add_argument("--scores", required=True, metavar="RESULTS.csv",
                        help="scores: CSV with 'file' and 'video_score' columns (e.g. from batch, "
                             "whose curve files are read for localisation), or 'file;score' lines")
    parser.add_argument("--scores-trimmed", metavar="RESULTS2.csv",
                        help="a second score file (e.g. with leading silence trimmed), shown side by side")
    parser.epilog = (
        "Refused with a sentence naming the file and row: scores that are NaN, infinite or not "
        "numbers, two rows for one clip and variant, NaN/negative/inverted segments, damaged "
        "batch rows. A batch --both CSV is evaluated per variant, untrimmed and trimmed side "
        "by side; empty scores (failed clips) count as unscored. Every metadata clip is "
        "evaluated: one without a score is reported (count and first names) and counts as a "
        "miss in AUC/AP (a fake below every score, a real above; the scored clips alone are "
        "shown too); one without proposals (or curve) counts with none, its segments missed. "
        "Metadata holding several splits is narrowed to --split, else to the one split all "
        "predicted clips belong to. "
        "Paths match by the longest shared trailing path; ambiguous and unmatched files are "
        "listed. Proposal ends far beyond the clip durations (or far short of them) are "
        "refused as a wrong --proposal-unit.")
    parser.add_argument("--curves", metavar="DIR",
                        help="folder of result JSON files with 'frame_scores' (localisation "
                             "metrics), e.g. RESULTS.curves written by batch")
    parser.add_argument("--curves-trimmed", metavar="DIR",
                        help="like --curves, for the --scores-trimmed set")
    parser.add_argument("--proposals", metavar="PRED.json",
                        help="AV-Deepfake1M localisation predictions {file: [[conf, start_s, end_s]]}")
    parser.add_argument("--protocol", choices=("av1m", "activitynet"), default="av1m",
                        help="localisation metric. av1m (default): the official AV-Deepfake1M / "
                             "LAV-DF definition (SDK avdeepfake1m 0.0.4): a proposal matches when "
                             "IoU > t; each true segment, in metadata order, takes the first unused "
                             "matching proposal in file order; AP walks the precision-recall sum "
                             "from recall 1 down and never counts the step from recall 0 to the "
                             "first rank; AR@N keeps each clip's first N proposals in file order. "
                             "activitynet: each proposal, most confident first, takes its unused "
                             "segment of highest IoU >= t; AP under the precision envelope; AR@N "
                             "keeps each clip's N most confident proposals")
    parser.add_argument("--proposal-unit", choices=("seconds", "frames"), default=None,
                        help="time unit of --proposals: seconds (default for AV-Deepfake1M) or "
                             "frames (default for LAV-DF, whose proposal files count 25 fps frames)")
    parser.add_argument("--fps", type=float, default=LAVDF_FPS,
                        help="frame rate of --proposals in frames (default 25)")
    parser.add_argument("--strict", action="store_true",
                        help="fail when a metadata clip has no score (or no proposals/curve), "
                             "instead of counting it as a miss and reporting it")
    parser.add_argument("--split", metavar="NAME",
                        help="evaluate only the metadata clips of this split (e.g. test); by default "
                             "the one split that every predicted clip belongs to")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


class ScoreSet:
    """Scores (and optional curves) of one variant read from one file. Keys are normalised paths."""

    def __init__(self, path: Path, variant: str = "") -> None:
        self.path = path
        self.variant = variant
        self.scores: dict[str, float] = {}
        self.curves: dict[str, Curve] = {}
        self.curve_files: dict[str, tuple[Path, str]] = {}  # key -> (curve file, "FILE row N")
        self.rows = 0
        self.unscored = 0
        self.score_rows: dict[str, int] = {}  # key -> line of the row that scored it

    def curve(self, key: str) -> Curve | None:
        """The curve of ``key``: from a ``frame_scores`` cell, else its batch curve file."""
        from forensics_gui.core.results.batch_results import read_curve

        if key in self.curves:
            return self.curves[key]
        if key in self.curve_files:
            f, where = self.curve_files[key]
            self.curves[key] = read_curve(f, where)
            return self.curves[key]
        return None

    def curve_keys(self) -> set[str]:
        return set(self.curves) | set(self.curve_files)


def _parse_curve(text: str) -> list[float] | None:
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.files.checks import parse_json_text

    text = text.strip()
    if not text:
        return None
    try:
        if text.startswith("["):
            values = parse_json_text(text, "A frame_scores cell")
        else:
            values = text.replace(";", " ").replace(",", " ").split()
        return [float(v) for v in values]
    except (ForensicsError, ValueError, TypeError):
        return None


def load_score_sets(path: str | os.PathLike[str]) -> list[ScoreSet]:
    """Read a score CSV (header with file + video_score) or ``file;score`` lines: one
    :class:`ScoreSet` per ``variant`` (a batch run with ``--both`` holds two).

    Refused with a sentence naming the file and row: a score that is NaN, infinite or not a
    number, two rows scoring one clip and variant, a batch row whose ``check`` does not match.
    An empty score (a clip that failed) counts as unscored.
    """
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.files.checks import open_regular_file
    from forensics_gui.core.results import batch_results as br
    from forensics_gui.core.results.groundtruth import load_detection_predictions, normalise_key

    p = Path(path)
    fh, _ = open_regular_file(p, "score file", allow_empty=True)  # a FIFO would block the read
    try:
        with fh:
            # newlines translated as read_text did (universal newlines)
            text = fh.read().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
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
                    out.curves[key] = br.Curve(curve, first_model_frame=0)
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


def load_curve_dir(folder: str | os.PathLike[str]) -> dict[str, Curve]:
    """``{key: Curve}`` from result JSONs under ``folder``.

    JSON files without a ``frame_scores`` list are skipped; one with infinite scores or an
    impossible ``fps`` or start is refused with a sentence naming it (see ``curve_from_json``).
    """
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.files.checks import read_json_file
    from forensics_gui.core.results.batch_results import curve_from_json, unescape_name
    from forensics_gui.core.results.groundtruth import normalise_key

    d = Path(folder)
    if not d.is_dir():
        raise ForensicsError(f"Curves folder {d} does not exist.")
    out: dict[str, Curve] = {}
    for f in sorted(d.rglob("*.json")):
        try:
            data = read_json_file(f, "curve file")
        except ForensicsError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("frame_scores"), list):
            continue  # not a result: other JSON files may share the folder
        c = curve_from_json(data, f, f"Curves folder {d.name}")  # infinite scores, bad fps: a sentence
        ident = _curve_identity(data)
        key = normalise_key(unescape_name(ident)) if ident else f.stem
        if key in out and data.get("variant") == "trimmed":
            continue  # a batch --both folder: the untrimmed curve, whichever file comes first
        out[key] = c
    return out


def _find_curve(curves: Any, key: str) -> Any:
    hit = curves.lookup(key)
    if hit is None:
        hit = curves.get(PurePosixPath(key).stem)
    return hit


EXAMPLES = 5  # names shown for each kind of problem
UNIT_RATIO = 8.0  # proposal ends this many times past (or short of) the clip lengths: wrong unit


class Matching:
    """Files of one prediction source matched to metadata keys (see ``PathIndex.match``)."""

    def __init__(self, index: Any, keys: list[str], what: str) -> None:
        from forensics_gui.core.errors import ForensicsError

        self.to_meta: dict[str, str] = {}  # source key -> metadata key
        self.unmatched: list[str] = []
        self.ambiguous: list[str] = []
        owner: dict[str, str] = {}
        for key in keys:
            mk, how = index.match(key)
            if mk is None:
                (self.ambiguous if how == "ambiguous" else self.unmatched).append(key)
                continue
            if mk in owner:
                raise ForensicsError(
                    f"{what}: {owner[mk]} and {key} both match the metadata clip {mk}; keep one "
                    "entry per clip or give longer paths.")
            owner[mk] = key
            self.to_meta[key] = mk

    def report(self) -> dict[str, Any]:
        return {"unmatched": len(self.unmatched), "unmatched_examples": self.unmatched[:EXAMPLES],
                "ambiguous": len(self.ambiguous), "ambiguous_examples": self.ambiguous[:EXAMPLES]}


def _clip_length(gt: Any) -> float | None:
    """Seconds the clip lasts, from the metadata (duration, 25 fps frames, else last segment)."""
    from forensics_gui.core.media.timebase import model_frame_start

    if gt.duration_s:
        return float(gt.duration_s)
    if gt.video_frames:
        return model_frame_start(int(gt.video_frames))
    if gt.fake_segments:
        return max(e for _, e in gt.fake_segments) or None
    return None


def unit_ratio(index: Any, props: dict[str, list[tuple[float, float, float]]]) -> float | None:
    """Median over clips of (last proposal end / clip length); ~1 when the unit is right."""
    ratios = []
    for mk, plist in props.items():
        length = _clip_length(index[mk])
        if plist and length:
            ratios.append(max(e for _, _, e in plist) / length)
    if not ratios:
        return None
    ratios.sort()
    return ratios[len(ratios) // 2]


def unit_problem(ratio: float | None, unit: str) -> str | None:
    """A sentence when the proposals' ends say that ``unit`` is the wrong time unit."""
    if ratio is None:
        return None
    if unit == "seconds" and ratio > UNIT_RATIO:
        return (f"the proposals end about {ratio:.0f}x past the clip lengths, as if they were "
                "frames; pass --proposal-unit frames (and --fps, 25 for LAV-DF)")
    if unit == "frames" and 0 < ratio < 1 / UNIT_RATIO:
        return (f"read as frames, the proposals end at about {ratio:.2g}x the clip lengths, as if "
                "they were seconds; pass --proposal-unit seconds")
    return None


def evaluate(index: Any, scores: ScoreSet, curves: dict[str, Any] | None,
             proposals: dict[str, list[tuple[float, float, float]]] | None,
             protocol: str = "av1m", strict: bool = False) -> dict[str, Any]:
    """All metrics for one score set against a :class:`GroundTruthIndex`.

    ``proposals`` are in seconds, keyed by metadata key (see :func:`match_proposals`). Every
    labelled metadata clip is evaluated: one without a score is reported and counts as a miss
    in AUC/AP (a fake ranks below every score, a real above); for localisation every clip with timestamps counts, one without proposals with none.
    """
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.results.groundtruth import PathIndex
    from forensics_gui.core.results.metrics import (
        MetricError,
        auc,
        average_precision,
        localisation_metrics,
        proposals_from_curve,
    )

    keys = list(scores.scores) + sorted(k for k in scores.curve_keys() if k not in scores.scores)
    matching = Matching(index, keys, Path(scores.path).name)
    by_meta = {mk: key for key, mk in matching.to_meta.items()}
    labels, values = [], []
    unlabelled = 0
    missing: list[str] = []
    missing_labels: list[int] = []
    for mk, gt in index.items():  # metadata order
        fake = gt.is_fake
        key = by_meta.get(mk)
        if key is None or key not in scores.scores:
            if fake is not None:
                missing.append(mk)
                missing_labels.append(1 if fake else 0)
            continue
        if fake is None:
            unlabelled += 1
            continue
        labels.append(1 if fake else 0)
        values.append(scores.scores[key])
    res: dict[str, Any] = {
        "scores_file": str(scores.path), "rows": scores.rows, "unscored_rows": scores.unscored,
        "matched": sum(1 for k in scores.scores if k in matching.to_meta), **matching.report(),
        "missing": len(missing), "missing_examples": missing[:EXAMPLES],
        "unlabelled": unlabelled, "n_real": labels.count(0), "n_fake": labels.count(1),
        "auc": None, "ap": None, "auc_scored_only": None, "ap_scored_only": None,
        "localisation": None, "notes": [],
    }
    if strict and (missing or matching.unmatched or matching.ambiguous):
        raise ForensicsError(_strict_sentence(Path(scores.path).name, "score", missing, matching))
    if labels and missing:
        try:
            res["auc_scored_only"] = auc(labels, values)
            res["ap_scored_only"] = average_precision(labels, values)
        except MetricError:
            pass
        # A clip without a score is a miss: a fake ranks below every score, a real above.
        low, high = min(values) - 1.0, max(values) + 1.0
        values = values + [high if y == 0 else low for y in missing_labels]
        labels = labels + missing_labels
        res["notes"].append(
            f"{_n(len(missing), 'metadata clip without a score counts', 'metadata clips without a score count')} as misses in AUC/AP (a fake "
            "below every score, a real above); see 'scored only' for the scored clips alone.")
    if labels:
        try:
            res["auc"] = auc(labels, values)
            res["ap"] = average_precision(labels, values)
        except MetricError as err:
            res["notes"].append(str(err))
    elif scores.scores:
        res["notes"].append("No scored file matches a labelled metadata entry.")
    # Localisation: explicit proposals, else proposals derived from frame curves.
    dir_curves: PathIndex[Any] = PathIndex(curves or {})
    timed = [mk for mk, gt in index.items() if gt.has_timestamps]
    props: dict[str, list[tuple[float, float, float]]] | None = None
    source = "predictions"
    if proposals is not None:
        props = proposals
    elif dir_curves or scores.curve_keys():
        source = "frame curves"
        props = {}
        for mk in timed:
            key = by_meta.get(mk)
            if key is None:
                continue
            hit = _find_curve(dir_curves, key) if dir_curves else None
            if hit is None:
                hit = scores.curve(key)
            if hit is None:
                continue
            props[mk] = proposals_from_curve(hit.frame_scores, first_model_frame=hit.first_model_frame)
    if props is not None and timed:
        gt_segs = {mk: list(index[mk].fake_segments) for mk in timed}
        no_props = [mk for mk in timed if not props.get(mk)]
        if strict and source == "frame curves" and no_props:
            raise ForensicsError(
                f"{_n(len(no_props), 'metadata clip has', 'metadata clips have')} no frame curve (first: "
                f"{', '.join(no_props[:3])}); without --strict they count as misses.")
        try:
            loc = localisation_metrics(gt_segs, props, protocol=protocol)
            res["localisation"] = {
                "protocol": protocol, "videos": loc["n_videos"], "segments": loc["n_segments"],
                "proposals": loc["n_proposals"], "proposal_source": source,
                "videos_without_proposals": loc["videos_without_proposals"],
                "videos_without_proposals_examples": no_props[:EXAMPLES],
                "ap_at_iou": {f"{t:g}": v for t, v in loc["ap"].items()},
                "ar_at_n": {str(n): v for n, v in loc["ar"].items()},
            }
        except MetricError as err:
            res["notes"].append(str(err))
    return res


def _n(count: int, one: str, many: str) -> str:
    """``count`` with the words that agree with it: "1 file matches", "3 files match"."""
    return f"{count} {one if count == 1 else many}"


def _strict_sentence(name: str, what: str, missing: list[str], matching: Matching) -> str:
    parts = []
    if missing:
        parts.append(f"{_n(len(missing), 'metadata clip has', 'metadata clips have')} no {what} (first: "
                     f"{', '.join(missing[:3])})")
    if matching.unmatched:
        parts.append(f"{_n(len(matching.unmatched), 'file matches', 'files match')} no metadata clip (first: "
                     f"{', '.join(matching.unmatched[:3])})")
    if matching.ambiguous:
        parts.append(f"{_n(len(matching.ambiguous), 'file matches', 'files match')} several metadata clips (first: "
                     f"{', '.join(matching.ambiguous[:3])})")
    return f"--strict: in {name}, " + "; ".join(parts) + "."


def match_proposals(index: Any, raw: dict[str, list[tuple[float, float, float]]], name: str,
                    unit: str, fps: float, unit_given: bool,
                    strict: bool) -> tuple[dict[str, list[tuple[float, float, float]]], dict[str, Any]]:
    """Proposals keyed by metadata key, in seconds, with a report of what did not match.

    Refused (a sentence naming --proposal-unit) when the proposal ends do not fit the clip
    lengths in the chosen unit and the unit was not given; a warning note when it was.
    """
    from forensics_gui.core.errors import ForensicsError

    if unit == "frames" and not (math.isfinite(fps) and fps > 0):
        raise ForensicsError(f"--fps must be a positive number of frames per second, not {fps:g}.")
    matching = Matching(index, list(raw), name)
    scale = 1.0 / fps if unit == "frames" else 1.0
    out = {mk: ([(c, s * scale, e * scale) for c, s, e in raw[key]] if scale != 1.0 else raw[key])
           for key, mk in matching.to_meta.items()}
    timed = [mk for mk, gt in index.items() if gt.has_timestamps]
    missing = [mk for mk in timed if mk not in out]
    if strict and (missing or matching.unmatched or matching.ambiguous):
        raise ForensicsError(_strict_sentence(name, "proposals", missing, matching))
    info = {"file": name, "unit": unit, "fps": fps if unit == "frames" else None,
            **matching.report(), "missing": len(missing), "missing_examples": missing[:EXAMPLES],
            "notes": []}
    problem = unit_problem(unit_ratio(index, out), unit)
    if problem is not None:
        if not unit_given:
            raise ForensicsError(f"{name}: {problem}.")
        info["notes"].append(f"Warning: {name}: {problem}.")
    return out, info


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
        ("ambiguous", [sets[n]["ambiguous"] for n in names]),
        ("clips without score", [sets[n]["missing"] for n in names]),
        ("real / fake", [f"{sets[n]['n_real']} / {sets[n]['n_fake']}" for n in names]),
        ("AUC", [sets[n]["auc"] for n in names]),
        ("AP", [sets[n]["ap"] for n in names]),
    ]
    if any(sets[n]["auc_scored_only"] is not None for n in names):
        rows.append(("AUC scored only", [sets[n]["auc_scored_only"] for n in names]))
        rows.append(("AP scored only", [sets[n]["ap_scored_only"] for n in names]))
    locs = [sets[n]["localisation"] for n in names]
    if any(locs):
        ref = next(x for x in locs if x)
        rows.append((f"localisation ({ref['protocol']})", [x and x["proposal_source"] for x in locs]))
        rows.append(("videos / segments", [x and f"{x['videos']} / {x['segments']}" for x in locs]))
        rows.append(("videos without proposals", [x and x["videos_without_proposals"] for x in locs]))
        for t in ref["ap_at_iou"]:
            rows.append((f"AP@{t}", [x and x["ap_at_iou"].get(t) for x in locs]))
        for n in ref["ar_at_n"]:
            rows.append((f"AR@{n}", [x and x["ar_at_n"].get(n) for x in locs]))
    print(f"Metadata: {report['metadata']} ({report['format']}, {report['metadata_clips']} clips)")
    if report.get("split"):
        print(f"Split: {report['split']}")
    width = max(len(r[0]) for r in rows) + 2
    colw = max(14, *(len(n) + 2 for n in names))
    print(" " * width + "".join(f"{n:>{colw}}" for n in names))
    for label, vals in rows:
        print(f"{label:<{width}}" + "".join(f"{_fmt(v):>{colw}}" for v in vals))
    for n in names:
        r = sets[n]
        _print_examples(n, "clips without a score", r["missing"], r["missing_examples"])
        _print_examples(n, "unmatched files", r["unmatched"], r["unmatched_examples"])
        _print_examples(n, "ambiguous files", r["ambiguous"], r["ambiguous_examples"])
        loc = r["localisation"]
        if loc:
            _print_examples(n, "clips without proposals", loc["videos_without_proposals"],
                            loc["videos_without_proposals_examples"])
        for note in r["notes"]:
            print(f"{n}: {note}")
    pinfo = report.get("proposals")
    if pinfo:
        unit = pinfo["unit"] + (f" at {pinfo['fps']:g} fps" if pinfo["fps"] else "")
        print(f"proposals: {pinfo['file']} read in {unit}")
        _print_examples("proposals", "unmatched files", pinfo["unmatched"], pinfo["unmatched_examples"])
        _print_examples("proposals", "ambiguous files", pinfo["ambiguous"], pinfo["ambiguous_examples"])
        for note in pinfo["notes"]:
            print(note)


def _print_examples(name: str, what: str, count: int, examples: list[str]) -> None:
    if count:
        more = ", ..." if count > len(examples) else ""
        print(f"{name}: {count} {what}: {', '.join(examples)}{more}")



def _select_split(index: Any, args: argparse.Namespace,
                  predicted: Iterable[str]) -> tuple[Any, str | None]:
    """The metadata narrowed to ``--split``, or to the single split of every predicted clip
    (``predicted``: the file keys of the first score file and of the proposals)."""
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.results.groundtruth import GroundTruthIndex

    splits = sorted({str(gt.split) for gt in index.values() if gt.split is not None})
    chosen = args.split
    how = "--split"
    if chosen is None:
        if len(splits) < 2:
            return index, None
        found = set()
        for key in predicted:
            mk = index.match_key(key)
            if mk is not None:
                found.add(index[mk].split)
        if len(found) != 1 or None in found:
            return index, None
        chosen = str(found.pop())
        how = "the split of every predicted clip"
    sub = GroundTruthIndex({k: gt for k, gt in index.items() if str(gt.split) == chosen})
    if not sub:
        raise ForensicsError(
            f"No clip of {Path(args.metadata).name} is in split {chosen!r}; its splits are "
            f"{', '.join(splits) or 'not given'}.")
    return sub, f"{chosen} ({len(sub)} of {len(index)} clips; {how})"


def _column_order(label: str) -> tuple[int, str]:
    return ({"original": 0, "untrimmed": 0, "trimmed": 1}.get(label, 2), label)


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.results.groundtruth import load_localisation_predictions, load_metadata

    index = load_metadata(args.metadata)
    if not index:
        raise ForensicsError(f"Metadata file {args.metadata} has no entries.")
    formats = sorted({gt.source_format for gt in index.values()})
    # Each file is read once: the first score file and the proposals also choose the split.
    raw = load_localisation_predictions(args.proposals) if args.proposals else None
    original_sets = load_score_sets(args.scores)
    index, split_note = _select_split(
        index, args, itertools.chain((k for s in original_sets for k in s.scores), raw or ()))
    proposals = None
    pinfo = None
    if raw is not None:
        unit = args.proposal_unit or ("frames" if formats == ["lav-df"] else "seconds")
        proposals, pinfo = match_proposals(index, raw, Path(args.proposals).name, unit, args.fps,
                                           args.proposal_unit is not None, args.strict)
    sets = {"original": (args.scores, args.curves)}
    if args.scores_trimmed:
        sets["trimmed"] = (args.scores_trimmed, args.curves_trimmed)
    results = {}
    first = True
    for name, (score_path, curve_dir) in sets.items():
        curves = load_curve_dir(curve_dir) if curve_dir else None
        variant_sets = original_sets if name == "original" else load_score_sets(score_path)
        # A batch run with --both holds two variants: each is a column, untrimmed first.
        variant_sets.sort(key=lambda s: _column_order(s.variant))
        for scores in variant_sets:
            # Proposals are one set: shown in the first column only.
            res = evaluate(index, scores, curves, proposals if first else None,
                           protocol=args.protocol, strict=args.strict)
            first = False
            if res["matched"] == 0 and res["localisation"] is None:
                raise ForensicsError(
                    f"None of the {scores.rows} files in {Path(score_path).name} matches an entry "
                    f"of {Path(args.metadata).name}; check that both refer to the same dataset "
                    "(files are matched by their longest shared trailing path).")
            label = name if len(variant_sets) == 1 else (
                scores.variant if name == "original" else f"{name} {scores.variant}")
            res["variant"] = scores.variant or None
            results[label] = res
    report = {"metadata": str(args.metadata), "format": ",".join(formats),
              "metadata_clips": len(index), "split": split_note, "protocol": args.protocol,
              "proposals": pinfo, "results": results}
    if all(r["auc"] is None and r["localisation"] is None for r in results.values()):
        raise ForensicsError(" ".join(n for r in results.values() for n in r["notes"][:1])
                             or "No metric could be computed.")
    if pinfo:
        for note in pinfo["notes"]:
            print(f"forensics-gui eval: {note}", file=sys.stderr)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(report)
    return 0
