"""Per-dataset statistics of an audit: which cheap cue gives the labels away.

**AUC.** Each cue is used alone as a classifier of fake (1) against real (0): the Mann-Whitney
AUC (the probability that a random fake scores above a random real, ties counted half;
:func:`forensics_gui.core.results.metrics.auc`, equal to scikit-learn's ``roc_auc_score``),
with "higher value = fake". A cue that is *lower* in fakes has AUC < 0.5; the ranking uses the
separation ``max(AUC, 1 - AUC)`` and says in which direction the fakes lie. A categorical cue
(codec, encoder tag) scores each clip by the share of fakes among clips of its category, in the
same data: the best any rule on that cue can do here (an in-sample, optimistic figure). Clips
without a label or without a value for the cue are left out of that cue's AUC.

**Confidence interval.** A stratified percentile bootstrap: :data:`BOOTSTRAP` resamples (with
replacement, reals and fakes separately, so both classes keep their size) from a generator
seeded with :data:`SEED`; the interval is the 2.5th and 97.5th percentile of the resampled AUCs.
The same data gives the same interval.

**Trimmed.** The ``trimmed_*`` cues are measured after removing the leading samples quieter
than AVH-Align's fixed 0.0005 (see :mod:`forensics_gui.core.audit.cues`); the AUC-vs-tau and
AUC-vs-delta curves (the paper's Figure 3) are given for both.

**Detector scores.** A ``batch --both`` CSV (``file``, ``video_score``, ``variant``) gives each
variant's AUC and AP (:func:`forensics_gui.core.results.metrics.average_precision`) on the audited
clips it scores, beside the leading-silence classifier's own untrimmed and trimmed figures.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.audit.clips import ClipEntry
from forensics_gui.core.audit.cues import (
    CATEGORICAL_COLUMNS,
    DELTAS_MS,
    NUMERIC_COLUMNS,
    TAUS,
    TRIM_TAU,
    max_amp_column,
    silence_column,
)
from forensics_gui.core.errors import ForensicsError

BOOTSTRAP = 200
SEED = 0
HIST_BINS = 30
SILENCE_TAU = TRIM_TAU  # the silence classifier's tau in the original-vs-trimmed table
AUC_SENTENCE = ("AUC: the Mann-Whitney AUC of each cue used alone (fake = 1, ties counted half, "
                "as scikit-learn's roc_auc_score); 95 % interval from a stratified percentile "
                f"bootstrap of {BOOTSTRAP} resamples seeded with {SEED}.")


@dataclass
class Histogram:
    """Counts per group (``real``, ``fake``, ``fake: <manipulation>``, ``unlabelled``)."""

    edges: list[float] | None  # numeric cue: bin edges (len = bins + 1)
    categories: list[str] | None  # categorical cue: the categories, most frequent first
    counts: dict[str, list[int]]


@dataclass
class CueStat:
    column: str
    label: str  # plain words
    kind: str  # "numeric" / "categorical"
    n: int  # labelled clips with a value
    auc: float | None  # higher value = fake; None when one class is missing
    ci: tuple[float, float] | None
    histogram: Histogram
    per_manipulation: dict[str, float | None] = field(default_factory=dict)  # AUC real vs type

    @property
    def separation(self) -> float | None:
        return None if self.auc is None else max(self.auc, 1.0 - self.auc)

    @property
    def direction(self) -> str:
        if self.auc is None or self.auc == 0.5:
            return ""
        if self.kind == "categorical":
            return "categories differ"
        return "higher in fakes" if self.auc > 0.5 else "lower in fakes"


@dataclass
class DetectorRow:
    detector: str  # e.g. the scores file's name, or "leading silence (this audit)"
    variant: str  # "untrimmed" / "trimmed" / ...
    n: int
    auc: float | None
    ap: float | None
    ci: tuple[float, float] | None = None
    note: str = ""


@dataclass
class AuditSummary:
    n_clips: int
    n_real: int
    n_fake: int
    n_unlabelled: int
    manipulations: dict[str, int]
    cues: list[CueStat]  # ranked: best separation first
    tau_curve: dict[str, list[float | None]]  # "tau", "untrimmed", "trimmed"
    delta_curve: dict[str, list[float | None]]  # "delta_ms", "untrimmed", "trimmed"
    detectors: list[DetectorRow]
    problems: list[tuple[str, str]]  # (clip or file, reason): listing problems and failed clips
    rows: list[dict[str, Any]]  # the table rows, with "label" and "manipulation" added
    notes: list[str] = field(default_factory=list)

    def cue(self, column: str) -> CueStat | None:
        return next((c for c in self.cues if c.column == column), None)


def _auc_from_counts(fakes: np.ndarray, reals: np.ndarray) -> float:
    """AUC from per-value counts (values sorted ascending)."""
    nf, nr = fakes.sum(), reals.sum()
    above = nf - np.cumsum(fakes)  # fakes strictly above each value
    return float(np.sum(reals * (above + 0.5 * fakes)) / (nf * nr))


def auc_ci(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray,
           n_boot: int = BOOTSTRAP, seed: int = SEED) -> tuple[float | None, tuple[float, float] | None]:
    """``(AUC, (low, high))`` of ``scores`` for ``labels`` (1 = fake); ``(None, None)`` when a
    class is missing. See the module docstring for the definitions."""
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    keep = np.isfinite(s)
    y, s = y[keep], s[keep]
    if y.size == 0 or y.min() == y.max():
        return None, None
    values, inverse = np.unique(s, return_inverse=True)
    pos, neg = inverse[y == 1], inverse[y == 0]
    m = len(values)
    value = _auc_from_counts(np.bincount(pos, minlength=m).astype(float),
                             np.bincount(neg, minlength=m).astype(float))
    if n_boot <= 0:
        return value, None
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        f = np.bincount(pos[rng.integers(0, pos.size, pos.size)], minlength=m).astype(float)
        r = np.bincount(neg[rng.integers(0, neg.size, neg.size)], minlength=m).astype(float)
        boots[b] = _auc_from_counts(f, r)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return value, (float(lo), float(hi))


def plain_label(column: str) -> str:
    """The cue's name in plain words (the column name is the technical term)."""
    trimmed = column.startswith("trimmed_")
    base = column[len("trimmed_"):] if trimmed else column
    text = {
        "trailing_silence_ms": "silence at the end (ms)",
        "duration_s": "length of the file (s)",
        "audio_duration_s": "length of the sound (s)",
        "video_duration_s": "length of the picture (s)",
        "av_mismatch_ms": "sound longer than picture by (ms)",
        "sample_rate": "sound sample rate (Hz)",
        "channels": "sound channels",
        "bit_rate": "file bit rate (bit/s)",
        "audio_bit_rate": "sound bit rate (bit/s)",
        "file_size": "file size (bytes)",
        "loudness_dbfs": "loudness of first and last second (dBFS)",
        "dc_offset": "DC offset (mean sample value)",
        "frame_count": "number of video frames",
        "fps": "frame rate",
        "audio_codec": "sound codec",
        "video_codec": "video codec",
        "container": "container format",
        "encoder": "encoder tag of the file",
        "audio_encoder": "encoder/handler tag of the sound",
    }.get(base)
    if text is None and base.startswith("silence_ms_tau"):
        text = f"leading silence (ms), threshold {base[len('silence_ms_tau'):]}"
    if text is None and base.startswith("max_amp_"):
        text = f"loudest sample in the first {base[len('max_amp_'):-2]} ms"
    text = text or base
    return f"after trimming: {text}" if trimmed else text


def histogram_groups(label: str | None, manipulation: str | None) -> list[str]:
    """The histogram groups a clip counts in: "real", or "fake" and "fake: <manipulation>", or
    "unlabelled"."""
    if label is None:
        return ["unlabelled"]
    if label == "real":
        return ["real"]
    out = ["fake"]
    if manipulation and manipulation != "real":
        out.append(f"fake: {manipulation}")
    return out


def _masks(groups: list[list[str]], names: list[str]) -> dict[str, np.ndarray]:
    return {g: np.array([g in gs for gs in groups], dtype=bool) for g in names}


def _numeric_hist(values: np.ndarray, masks: dict[str, np.ndarray]) -> Histogram:
    finite_mask = np.isfinite(values)
    finite = values[finite_mask]
    if finite.size == 0:
        return Histogram(edges=[0.0, 1.0], categories=None, counts={g: [0] for g in masks})
    lo, hi = np.percentile(finite, [0.5, 99.5]) if finite.size > 200 else (finite.min(), finite.max())
    if hi <= lo:
        lo, hi = float(lo) - 0.5, float(lo) + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    idx = np.clip(np.searchsorted(edges, np.where(finite_mask, values, lo), side="right") - 1,
                  0, HIST_BINS - 1)
    counts = {g: np.bincount(idx[m & finite_mask], minlength=HIST_BINS).tolist()
              for g, m in masks.items()}
    return Histogram(edges=[float(e) for e in edges], categories=None, counts=counts)


def _categorical(values: list[str], groups: list[list[str]], names: list[str]) -> Histogram:
    freq: dict[str, int] = {}
    for v in values:
        freq[v] = freq.get(v, 0) + 1
    cats = sorted(freq, key=lambda c: (-freq[c], c))[:40]
    pos = {c: i for i, c in enumerate(cats)}
    counts = {g: [0] * len(cats) for g in names}
    for v, gs in zip(values, groups, strict=True):
        if v in pos:
            for g in gs:
                counts[g][pos[v]] += 1
    return Histogram(edges=None, categories=cats, counts=counts)


def _num(value: Any) -> float:
    if value is None or isinstance(value, bool) or isinstance(value, str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _column(rows: list[dict[str, Any]], col: str) -> np.ndarray:
    """A numeric column as float64, NaN where a row has no number."""
    values = [r.get(col) for r in rows]
    try:
        return np.array(values, dtype=np.float64)  # None -> NaN
    except (TypeError, ValueError):
        return np.array([_num(v) for v in values], dtype=np.float64)


def _fake_share_scores(values: list[str], y: np.ndarray) -> np.ndarray:
    share: dict[str, list[int]] = {}
    for v, lab in zip(values, y, strict=True):
        if lab >= 0:
            share.setdefault(v, [0, 0])
            share[v][0] += int(lab)
            share[v][1] += 1
    return np.array([share[v][0] / share[v][1] if v in share else math.nan for v in values])


def summarise(table_rows: Iterable[dict[str, Any]], entries: Sequence[ClipEntry],
              scores: Path | Sequence[Path] | None = None,
              problems: Sequence[tuple[str, str]] = ()) -> AuditSummary:
    """Statistics of an audit (see the module docstring); ``problems`` from listing are kept."""
    by_key = {e.key: e for e in entries}
    rows: list[dict[str, Any]] = []
    for row in table_rows:
        e = by_key.get(row.get("key", ""))
        label = e.label if e else row.get("label")
        manip = e.manipulation if e else row.get("manipulation")
        rows.append({**row, "label": label, "manipulation": manip})
    labels = [r["label"] for r in rows]
    y = np.array([1 if lab == "fake" else 0 if lab == "real" else -1 for lab in labels])
    groups = [histogram_groups(r["label"], r["manipulation"]) for r in rows]
    names: list[str] = []
    for gs in groups:
        for g in gs:
            if g not in names:
                names.append(g)
    order = {"real": 0, "fake": 1, "unlabelled": 9}
    names.sort(key=lambda g: (order.get(g, 2), g))
    manipulations: dict[str, int] = {}
    for r in rows:
        if r["label"] == "fake" and r["manipulation"] and r["manipulation"] != "real":
            manipulations[r["manipulation"]] = manipulations.get(r["manipulation"], 0) + 1
    labelled = y >= 0
    masks = _masks(groups, names)
    of_kind = {m: np.array([r["manipulation"] == m for r in rows], dtype=bool) for m in manipulations}
    cues: list[CueStat] = []
    for col in NUMERIC_COLUMNS:
        v = _column(rows, col)
        ok = labelled & np.isfinite(v)
        value, ci = auc_ci(y[ok], v[ok])
        per = {}
        for m in manipulations:
            sel = ok & ((y == 0) | of_kind[m])
            per[m] = auc_ci(y[sel], v[sel], n_boot=0)[0]
        cues.append(CueStat(col, plain_label(col), "numeric", int(ok.sum()), value, ci,
                            _numeric_hist(v, masks), per))
    for col in CATEGORICAL_COLUMNS:
        vals = [str(r.get(col)) if r.get(col) not in (None, "") else "(none)" for r in rows]
        s = _fake_share_scores(vals, y)
        value, ci = auc_ci(y[labelled], s[labelled])
        cues.append(CueStat(col, plain_label(col), "categorical", int(labelled.sum()), value, ci,
                            _categorical(vals, groups, names)))
    cues.sort(key=lambda c: (-(c.separation if c.separation is not None else -1), c.column))

    def curve(cols: list[str], sign: float) -> list[float | None]:
        out: list[float | None] = []
        for col in cols:
            c = next(x for x in cues if x.column == col)
            out.append(None if c.auc is None else (c.auc if sign > 0 else 1.0 - c.auc))
        return out

    tau_curve: dict[str, list[float | None]] = {
        "tau": list(TAUS),
        "untrimmed": curve([silence_column(t) for t in TAUS], 1),
        "trimmed": curve([silence_column(t, True) for t in TAUS], 1),
    }
    delta_curve: dict[str, list[float | None]] = {
        "delta_ms": list(DELTAS_MS),
        "untrimmed": curve([max_amp_column(d) for d in DELTAS_MS], -1),
        "trimmed": curve([max_amp_column(d, True) for d in DELTAS_MS], -1),
    }
    detectors = []
    for variant, trimmed in (("untrimmed", False), ("trimmed", True)):
        c = next(x for x in cues if x.column == silence_column(SILENCE_TAU, trimmed))
        ap = None
        if c.auc is not None:
            from forensics_gui.core.results.metrics import average_precision

            v = _column(rows, c.column)
            ok = labelled & np.isfinite(v)
            ap = average_precision(y[ok], v[ok])
        detectors.append(DetectorRow(f"leading silence at threshold {SILENCE_TAU:g} (this audit)",
                                     variant, c.n, c.auc, ap, c.ci))
    notes: list[str] = []
    if scores is not None:
        files = [scores] if isinstance(scores, (str, Path)) else list(scores)
        for f in files:
            detectors.extend(_detector_rows(Path(f), rows, y, notes))
    all_problems = list(problems) + [(r.get("name") or r.get("path") or "?", r["error"])
                                     for r in rows if r.get("error")]
    return AuditSummary(
        n_clips=len(rows), n_real=int((y == 0).sum()), n_fake=int((y == 1).sum()),
        n_unlabelled=int((y < 0).sum()), manipulations=manipulations, cues=cues,
        tau_curve=tau_curve, delta_curve=delta_curve, detectors=detectors,
        problems=all_problems, rows=rows, notes=notes)


def _detector_rows(path: Path, rows: list[dict[str, Any]], y: np.ndarray,
                   notes: list[str]) -> list[DetectorRow]:
    """AUC/AP per variant of a batch CSV on the audited clips it scores."""
    from forensics_gui.core.results.groundtruth import PathIndex
    from forensics_gui.core.results.metrics import average_precision

    index: PathIndex[int] = PathIndex()
    for i, r in enumerate(rows):
        index[str(r.get("name") or r.get("path"))] = i
    per_variant: dict[str, dict[int, float]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            file_col = next((c for c in ("file", "path", "video", "filename") if c in fields), None)
            score_col = next((c for c in ("video_score", "score") if c in fields), None)
            if file_col is None or score_col is None:
                raise ForensicsError(f"The scores file {path.name} has no 'file' and 'video_score' "
                                     "columns; give a CSV written by forensics-gui batch.")
            unmatched = 0
            for rec in reader:
                found = index.lookup(rec.get(file_col) or "")
                text = (rec.get(score_col) or "").strip()
                if found is None:
                    unmatched += 1
                    continue
                i = found
                try:
                    value = float(text)
                except ValueError:
                    continue
                if math.isfinite(value):
                    per_variant.setdefault(rec.get("variant") or "untrimmed", {})[i] = value
    except OSError as err:
        raise ForensicsError(f"The scores file {path} cannot be read ({err.strerror or err}).") from None
    if unmatched:
        notes.append(f"{path.name}: {unmatched} scored clips are not among the audited clips.")
    out = []
    for variant, scored in per_variant.items():
        idx = np.array([i for i in scored if y[i] >= 0], dtype=int)
        s = np.array([scored[i] for i in idx])
        det_auc, det_ci = auc_ci(y[idx], s) if idx.size else (None, None)
        det_ap = average_precision(y[idx], s) if det_auc is not None else None
        out.append(DetectorRow(path.stem, variant, int(idx.size), det_auc, det_ap, det_ci))
    return out
