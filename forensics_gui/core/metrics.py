"""Evaluation metrics: clip-level AUC/AP and temporal localisation AP@IoU / AR@N.

Clip level: labels are 1 = fake, 0 = real; higher scores mean more likely fake.

Localisation (ActivityNet-style, as used by AV-Deepfake1M / LAV-DF):

* **AP@IoU** (:func:`ap_at_iou`): all proposals of all videos sorted by confidence (descending,
  stable); each proposal is matched greedily to the unmatched ground-truth segment of its video
  with the highest IoU; it is a true positive when that IoU >= threshold (each ground-truth
  segment matches at most once), otherwise a false positive. AP is the area under the
  precision-recall curve with the *precision envelope* (all-point interpolation: precision at
  recall r = max precision at recall >= r), summed over recall steps (ActivityNet's
  ``interpolated_prec_rec``). Proposals in videos without fake segments are false positives.
* **AR@N** (:func:`ar_at_n`): for each video keep its N most confident proposals; a
  ground-truth segment is recalled at threshold t when any kept proposal overlaps it with
  IoU >= t (no one-to-one matching). Recall = recalled / all ground-truth segments, averaged
  over the IoU thresholds 0.5:0.05:0.95 (10 values).

:func:`proposals_from_curve` turns a frame-level fakeness curve into segment proposals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.timebase import MODEL_FPS

Segment = tuple[float, float]
Proposal = tuple[float, float, float]  # (confidence, start_s, end_s)

AP_IOU_THRESHOLDS: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95)
AR_NS: tuple[int, ...] = (1, 5, 10, 20, 50, 100)
AR_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())


class MetricError(ForensicsError):
    """Metric inputs are unusable (one class only, no ground-truth segments, NaN scores, ...)."""


def _check_binary(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray,
                  what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise MetricError(f"{what} needs as many labels as scores ({y.size} vs {s.size}).")
    if not np.all(np.isfinite(s)):
        raise MetricError(f"{what} cannot use NaN or infinite scores ({int((~np.isfinite(s)).sum())} found).")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise MetricError(f"{what} needs labels 0 (real) and 1 (fake).")
    n_fake = int(y.sum())
    if n_fake == 0 or n_fake == y.size:
        only = "fake" if n_fake else "real"
        raise MetricError(
            f"{what} needs both real and fake clips, but all {y.size} matched clips are {only}.")
    return y, s


def auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (fake = 1, higher score = more fake), via scikit-learn."""
    from sklearn.metrics import roc_auc_score

    y, s = _check_binary(labels, scores, "AUC")
    return float(roc_auc_score(y, s))


def average_precision(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Average precision with fake as the positive class, via scikit-learn."""
    from sklearn.metrics import average_precision_score

    y, s = _check_binary(labels, scores, "AP")
    return float(average_precision_score(y, s))


def temporal_iou(segment: Segment, segments: Sequence[Segment] | np.ndarray) -> np.ndarray:
    """IoU in time between one ``(start_s, end_s)`` and each of ``segments`` -> float64 [n]."""
    segs = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    s0, e0 = float(segment[0]), float(segment[1])
    inter = np.clip(np.minimum(e0, segs[:, 1]) - np.maximum(s0, segs[:, 0]), 0.0, None)
    union = (e0 - s0) + (segs[:, 1] - segs[:, 0]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def _iou_matrix(props: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU between proposals [P, 2] and ground truth [G, 2] -> [P, G]."""
    if props.size == 0 or gts.size == 0:
        return np.zeros((len(props), len(gts)))
    inter = np.clip(np.minimum(props[:, None, 1], gts[None, :, 1])
                    - np.maximum(props[:, None, 0], gts[None, :, 0]), 0.0, None)
    union = (props[:, 1] - props[:, 0])[:, None] + (gts[:, 1] - gts[:, 0])[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision envelope (all-point interpolation, ActivityNet)."""
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def _check_segments(ground_truth: Mapping[str, Sequence[Segment]],
                    proposals: Mapping[str, Sequence[Proposal]]) -> None:
    """Refuse NaN, infinite, negative or inverted segments (they would skew AP/AR silently)."""
    for what, table, cols in (("ground-truth segment", ground_truth, slice(0, 2)),
                              ("proposal", proposals, slice(1, 3))):
        for key, rows in table.items():
            if len(rows) == 0:
                continue
            arr = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
            seg = arr[:, cols]
            bad = ~np.isfinite(arr).all(axis=1) | (seg[:, 0] < 0) | (seg[:, 1] < seg[:, 0])
            if bad.any():
                row = arr[int(np.flatnonzero(bad)[0])].tolist()
                raise MetricError(f"The {what} {row} of {key} is impossible (NaN, infinite, "
                                  "negative or ending before it starts).")


def _total_gt(ground_truth: Mapping[str, Sequence[Segment]]) -> int:
    n = sum(len(v) for v in ground_truth.values())
    if n == 0:
        raise MetricError("Localisation metrics need fake segments, but the matched clips have none.")
    return n


def ap_at_iou(
    ground_truth: Mapping[str, Sequence[Segment]],
    proposals: Mapping[str, Sequence[Proposal]],
    thresholds: Iterable[float] = AP_IOU_THRESHOLDS,
) -> dict[float, float]:
    """AP at each IoU threshold over a set of videos (see the module docstring).

    ``ground_truth`` maps a video key to its fake segments (possibly empty); ``proposals`` maps
    a key to ``(confidence, start_s, end_s)``. Proposals for keys not in ``ground_truth`` are
    ignored. Returns ``{threshold: AP}``.
    """
    thresholds = list(thresholds)
    _check_segments(ground_truth, proposals)
    n_gt = _total_gt(ground_truth)
    rows = []  # (conf, video index, start, end)
    keys = list(ground_truth)
    gts = [np.asarray(ground_truth[k], dtype=np.float64).reshape(-1, 2) for k in keys]
    for vi, k in enumerate(keys):
        for c, s, e in proposals.get(k, ()):
            rows.append((float(c), vi, float(s), float(e)))
    out: dict[float, float] = {}
    if not rows:
        return {t: 0.0 for t in thresholds}
    arr = np.array(rows, dtype=np.float64)
    order = np.argsort(-arr[:, 0], kind="stable")
    arr = arr[order]
    vid = arr[:, 1].astype(int)
    # IoU of every proposal with its own video's ground truth, best first.
    ious = [temporal_iou((s, e), gts[v]) for v, s, e in zip(vid, arr[:, 2], arr[:, 3], strict=True)]
    ranked = [np.argsort(-iou, kind="stable") for iou in ious]
    for t in thresholds:
        used = [np.zeros(len(g), dtype=bool) for g in gts]
        tp = np.zeros(len(arr))
        for p in range(len(arr)):
            iou, v = ious[p], vid[p]
            for g in ranked[p]:
                if iou[g] < t:
                    break
                if used[v][g]:
                    continue
                used[v][g] = True
                tp[p] = 1.0
                break
        ctp = np.cumsum(tp)
        cfp = np.cumsum(1.0 - tp)
        out[t] = interpolated_ap(ctp / (ctp + cfp), ctp / n_gt)
    return out


def ar_at_n(
    ground_truth: Mapping[str, Sequence[Segment]],
    proposals: Mapping[str, Sequence[Proposal]],
    ns: Iterable[int] = AR_NS,
    thresholds: Iterable[float] = AR_IOU_THRESHOLDS,
) -> dict[int, float]:
    """Average recall with at most N proposals per video, averaged over IoU thresholds."""
    thresholds_arr = np.asarray(list(thresholds), dtype=np.float64)
    _check_segments(ground_truth, proposals)
    n_gt = _total_gt(ground_truth)
    out: dict[int, float] = {}
    best: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k, segs in ground_truth.items():
        g = np.asarray(segs, dtype=np.float64).reshape(-1, 2)
        props = np.asarray(proposals.get(k, ()), dtype=np.float64).reshape(-1, 3)
        order = np.argsort(-props[:, 0], kind="stable")
        best[k] = (g, props[order, 1:])
    for n in ns:
        recalled = np.zeros(len(thresholds_arr))
        for g, props in best.values():
            if len(g) == 0 or len(props) == 0:
                continue
            max_iou = _iou_matrix(props[:n], g).max(axis=0)  # [G]
            recalled += (max_iou[None, :] >= thresholds_arr[:, None]).sum(axis=1)
        out[int(n)] = float(np.mean(recalled / n_gt))
    return out


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous True runs of a boolean [T] array as (first, last_exclusive) frame indices."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def proposals_from_curve(
    frame_scores: Sequence[float] | np.ndarray,
    fps: float = MODEL_FPS,
    thresholds: Sequence[float] | None = None,
    confidence: str = "mean",
    min_frames: int = 1,
    nms_iou: float | None = None,
) -> list[Proposal]:
    """Segment proposals ``(confidence, start_s, end_s)`` from a frame-level fakeness curve.

    Frame i covers ``[i/fps, (i+1)/fps)`` seconds. For every threshold, each contiguous run of
    frames with score > threshold (at least ``min_frames`` long) is a proposal whose confidence
    is the ``mean`` (default) or ``max`` score in the run (in the curve's own units, so
    proposals from curves of the same model compare across videos). Default thresholds are the
    curve's 50/75/90/95 % quantiles. Identical segments found at several thresholds are kept
    once (highest confidence). No NMS unless ``nms_iou`` is given (greedy: drop a proposal that
    overlaps a more confident kept one with IoU > nms_iou). NaN frames never belong to a run.
    Sorted by confidence, descending.
    """
    x = np.asarray(frame_scores, dtype=np.float64).ravel()
    if confidence not in ("mean", "max"):
        raise ValueError("confidence must be 'mean' or 'max'")
    finite = np.isfinite(x)
    if not finite.any():
        return []
    if thresholds is None:
        thresholds = np.unique(np.quantile(x[finite], [0.5, 0.75, 0.9, 0.95])).tolist()
    found: dict[tuple[int, int], float] = {}
    for t in thresholds:
        with np.errstate(invalid="ignore"):
            mask = finite & (x > t)
        for a, b in true_runs(mask):
            if b - a < min_frames:
                continue
            run = x[a:b]
            c = float(run.mean() if confidence == "mean" else run.max())
            if c > found.get((a, b), -np.inf):
                found[(a, b)] = c
    props = sorted(((c, a / fps, b / fps) for (a, b), c in found.items()), key=lambda p: -p[0])
    if nms_iou is None:
        return props
    kept: list[Proposal] = []
    for p in props:
        if not kept or temporal_iou((p[1], p[2]), [(k[1], k[2]) for k in kept]).max() <= nms_iou:
            kept.append(p)
    return kept
