"""Evaluation metrics: clip-level AUC/AP and temporal localisation AP@IoU / AR@N.

Clip level: labels are 1 = fake, 0 = real; higher scores mean more likely fake.

Localisation: :func:`localisation_metrics` computes AP@IoU and AR@N by one of two protocols,
whose rules its docstring states:

* ``av1m`` (default in ``eval``): the official AV-Deepfake1M SDK (``avdeepfake1m`` 0.0.4, same
  algorithm as LAV-DF's ``metrics.py``), reproduced to float32 rounding.
* ``activitynet``: the ActivityNet-style rules this project used before (greedy best-IoU
  matching by confidence, IoU >= t, precision envelope; AR@N over the N most confident), also
  available as :func:`ap_at_iou` and :func:`ar_at_n`.

:func:`proposals_from_curve` turns a frame-level fakeness curve into segment proposals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np

from forensics_gui.core.alignment.scoring import true_runs
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.media.timebase import model_frame_start

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
    """Area under the ROC curve (fake = 1, higher score = more fake); tied scores count half.

    The Mann-Whitney statistic from average ranks, equal to scikit-learn's ``roc_auc_score``
    (numpy only: importing scikit-learn alone takes ~2 s).
    """
    y, s = _check_binary(labels, scores, "AUC")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    ranks = (upper - (counts - 1) / 2.0)[inverse]  # average 1-based rank of each score
    n_pos = float(y.sum())
    n_neg = float(y.size) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Average precision with fake as the positive class, as scikit-learn's ``average_precision_score``.

    Sum over distinct score thresholds, highest first, of (recall gain) x precision at that
    threshold; tied scores enter together (no interpolation).
    """
    y, s = _check_binary(labels, scores, "AP")
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss) != 0), ys.size - 1]  # last index of each distinct score
    tps = np.cumsum(ys)[last].astype(np.float64)
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


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


def _flatten(lists: Sequence[Sequence[Sequence[float]]], n: int, width: int, need: str) -> np.ndarray:
    """Rows of many lists as one float64 [n, width] array (2-3x faster than np.array on tuples)."""
    rows = list(chain.from_iterable(lists))
    if set(map(len, rows)) - {width}:
        bad = next(r for r in rows if len(r) != width)
        raise MetricError(f"{need}, but one is {list(bad)}.")
    try:
        return np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=n * width).reshape(n, width)
    except (TypeError, ValueError):
        raise MetricError(f"{need} as numbers, but one is not.") from None


class _Flat:
    """Segments and proposals of a set of videos as flat arrays (metadata order, then file order)."""

    def __init__(self, ground_truth: Mapping[str, Sequence[Segment]],
                 proposals: Mapping[str, Sequence[Proposal]]) -> None:
        keys = list(ground_truth)
        gt_lists = [ground_truth[k] for k in keys]
        p_lists = [proposals.get(k, ()) for k in keys]
        n_gt = np.fromiter(map(len, gt_lists), dtype=np.int64, count=len(keys))
        n_p = np.fromiter(map(len, p_lists), dtype=np.int64, count=len(keys))
        gt = _flatten(gt_lists, int(n_gt.sum()), 2, "A ground-truth segment needs a start and an end")
        pr = _flatten(p_lists, int(n_p.sum()), 3, "A proposal needs a confidence, a start and an end")
        for what, arr, seg, by in (("ground-truth segment", gt, gt, n_gt), ("proposal", pr, pr[:, 1:], n_p)):
            bad = ~np.isfinite(arr).all(axis=1) | (seg[:, 0] < 0) | (seg[:, 1] < seg[:, 0])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                key = keys[int(np.searchsorted(np.cumsum(by), i, side="right"))]
                raise MetricError(f"The {what} {arr[i].tolist()} of {key} is impossible (NaN, "
                                  "infinite, negative or ending before it starts).")
        self.n_gt = int(gt.shape[0])
        if self.n_gt == 0:
            raise MetricError("Localisation metrics need fake segments, but the matched clips have none.")
        self.confidence = pr[:, 0]
        self.segments, self.proposal_times = gt, pr[:, 1:]
        self.p_video = np.repeat(np.arange(len(keys)), n_p)
        p_first = np.concatenate([[0], np.cumsum(n_p)[:-1]])
        self.p_local = np.arange(len(pr)) - np.repeat(p_first, n_p)  # index in its video's file order
        # Every (segment, proposal of the same video) pair, by segment then proposal file order.
        gt_video = np.repeat(np.arange(len(keys)), n_gt)
        g_first = np.concatenate([[0], np.cumsum(n_gt)[:-1]])
        self.g_local = np.arange(self.n_gt) - np.repeat(g_first, n_gt)
        per_gt = n_p[gt_video]
        self.pair_gt = np.repeat(np.arange(self.n_gt), per_gt)
        starts = np.repeat(p_first[gt_video] - np.concatenate([[0], np.cumsum(per_gt)[:-1]]), per_gt)
        self.pair_p = np.arange(int(per_gt.sum())) + starts
        g32, p32 = gt.astype(np.float32), pr[:, 1:].astype(np.float32)
        gs, ge = g32[self.pair_gt, 0], g32[self.pair_gt, 1]
        ps, pe = p32[self.pair_p, 0], p32[self.pair_p, 1]
        inter = np.maximum(np.minimum(ge, pe) - np.maximum(gs, ps), np.float32(0))
        span = np.maximum(ge, pe) - np.minimum(gs, ps)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / span
        self.pair_iou = np.where(span > 0, iou, np.float32(0)).astype(np.float32)

    def pair_iou_union(self) -> np.ndarray:
        """float64 intersection over union of every pair (the ActivityNet definition)."""
        g, pt = self.segments[self.pair_gt], self.proposal_times[self.pair_p]
        inter = np.clip(np.minimum(pt[:, 1], g[:, 1]) - np.maximum(pt[:, 0], g[:, 0]), 0.0, None)
        union = (pt[:, 1] - pt[:, 0]) + (g[:, 1] - g[:, 0]) - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(union > 0, inter / union, 0.0)

    def rank_in_video(self) -> np.ndarray:
        """Each proposal's rank among its video's proposals by confidence (descending, stable)."""
        order = np.lexsort((self.p_local, -self.confidence, self.p_video))
        rank = np.empty(len(order), dtype=np.int64)
        # Videos are contiguous, in the same places, in both orders: rank = sorted place - video start.
        rank[order] = np.arange(len(order)) - (order - self.p_local[order])
        return rank


def _av1m_true_positives(flat: _Flat, t: float) -> np.ndarray:
    """Per proposal: taken by a segment (segments in metadata order, first unused match in file order)."""
    used = np.zeros(len(flat.confidence), dtype=bool)
    hit = flat.pair_iou > np.float32(t)
    g, p = flat.pair_gt[hit], flat.pair_p[hit]
    round_of = flat.g_local[g]
    for r in range(int(round_of.max()) + 1 if len(g) else 0):
        # Segments with the same rank in their video never share a proposal: one round each.
        sel = round_of == r
        gr, pr = g[sel], p[sel]
        free = ~used[pr]
        gr, pr = gr[free], pr[free]
        if len(gr) == 0:
            continue
        first = np.concatenate([[True], gr[1:] != gr[:-1]])
        used[pr[first]] = True
    return used


def _av1m_ap(tp: np.ndarray, order: np.ndarray, n_gt: int) -> float:
    ranked = tp[order]
    ctp = np.cumsum(ranked, dtype=np.float64)
    precision = ctp / np.arange(1, len(ranked) + 1)
    recall = ctp / n_gt
    if len(ranked) < 2:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or later
    return float(np.sum((recall[1:] - recall[:-1]) * envelope[1:]))


def av1m_ap_ar(ground_truth: Mapping[str, Sequence[Segment]], proposals: Mapping[str, Sequence[Proposal]],
               ap_thresholds: Sequence[float], ar_ns: Sequence[int],
               ar_thresholds: Sequence[float]) -> tuple[dict[float, float], dict[int, float]]:
    """AP per threshold and AR per N by the official AV-Deepfake1M rules (see :func:`localisation_metrics`)."""
    flat = _Flat(ground_truth, proposals)
    order = np.argsort(-flat.confidence, kind="stable")
    ap = {t: _av1m_ap(_av1m_true_positives(flat, t), order, flat.n_gt) for t in ap_thresholds}
    ar: dict[int, float] = {}
    ts = np.asarray(ar_thresholds, dtype=np.float32)
    for n in ar_ns:
        keep = flat.p_local[flat.pair_p] < n
        best = np.zeros(flat.n_gt, dtype=np.float32)
        np.maximum.at(best, flat.pair_gt[keep], flat.pair_iou[keep])
        recalled = (best[None, :] > ts[:, None]).sum(axis=1)
        ar[int(n)] = float(np.mean(recalled / flat.n_gt))
    return ap, ar


def activitynet_ap_ar(ground_truth: Mapping[str, Sequence[Segment]], proposals: Mapping[str, Sequence[Proposal]],
                      ap_thresholds: Sequence[float], ar_ns: Sequence[int],
                      ar_thresholds: Sequence[float]) -> tuple[dict[float, float], dict[int, float]]:
    """AP per threshold and AR per N by the ActivityNet-style rules (see :func:`localisation_metrics`).

    Vectorised form of :func:`ap_at_iou` and :func:`ar_at_n` (same values).
    """
    flat = _Flat(ground_truth, proposals)
    iou = flat.pair_iou_union()
    rank = flat.rank_in_video()
    order = np.argsort(-flat.confidence, kind="stable")
    ap: dict[float, float] = {}
    # A video's proposals match one after another, most confident first: round r holds every
    # video's r-th proposal; videos never compete for a segment.
    pair_rank = rank[flat.pair_p]
    by_round = np.lexsort((flat.pair_gt, flat.pair_p, pair_rank))
    bounds = np.searchsorted(pair_rank[by_round], np.arange(int(pair_rank.max(initial=-1)) + 2))
    for t in ap_thresholds:
        used = np.zeros(flat.n_gt, dtype=bool)
        tp = np.zeros(len(flat.confidence))
        for r in range(len(bounds) - 1):
            sel = by_round[bounds[r]:bounds[r + 1]]
            sel = sel[(iou[sel] >= t) & ~used[flat.pair_gt[sel]]]
            if len(sel) == 0:
                continue
            # Per proposal, the free segment of highest IoU (the first one on ties).
            best = sel[np.lexsort((flat.pair_gt[sel], -iou[sel], flat.pair_p[sel]))]
            first = np.concatenate([[True], flat.pair_p[best][1:] != flat.pair_p[best][:-1]])
            used[flat.pair_gt[best[first]]] = True
            tp[flat.pair_p[best[first]]] = 1.0
        ranked = tp[order]
        ctp = np.cumsum(ranked)
        cfp = np.cumsum(1.0 - ranked)
        with np.errstate(divide="ignore", invalid="ignore"):
            ap[t] = interpolated_ap(ctp / (ctp + cfp), ctp / flat.n_gt)
    ar: dict[int, float] = {}
    ts = np.asarray(ar_thresholds, dtype=np.float64)
    for n in ar_ns:
        keep = pair_rank < n
        best_iou = np.zeros(flat.n_gt)
        np.maximum.at(best_iou, flat.pair_gt[keep], iou[keep])
        recalled = (best_iou[None, :] >= ts[:, None]).sum(axis=1)
        ar[int(n)] = float(np.mean(recalled / flat.n_gt))
    return ap, ar


PROTOCOLS: tuple[str, ...] = ("av1m", "activitynet")
AV1M_AP_IOU_THRESHOLDS: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95)
AV1M_AR_NS: tuple[int, ...] = (50, 30, 20, 10, 5)


def localisation_metrics(
    ground_truth: Mapping[str, Sequence[Segment]],
    proposals: Mapping[str, Sequence[Proposal]],
    protocol: str = "av1m",
    ap_thresholds: Iterable[float] | None = None,
    ar_ns: Iterable[int] | None = None,
    ar_thresholds: Iterable[float] = AR_IOU_THRESHOLDS,
) -> dict[str, Any]:
    """Temporal localisation AP@IoU and AR@N over a set of videos, by ``protocol``.

    ``ground_truth`` maps every evaluated video (in metadata order) to its fake segments
    ``(start_s, end_s)`` (empty for a real video); ``proposals`` maps a video to its proposals
    ``(confidence, start_s, end_s)`` in file order. A video of ``ground_truth`` without
    proposals counts with none (its segments are misses); proposals of videos absent from
    ``ground_truth`` are ignored and counted in ``ignored_proposals``.

    Returns ``{"protocol", "ap": {threshold: AP}, "ar": {n: AR}, "n_videos", "n_segments",
    "n_proposals", "videos_without_proposals", "ignored_proposals"}``. Defaults: AP at
    0.5/0.75/0.9/0.95; AR@50/30/20/10/5 for av1m, AR@1/5/10/20/50/100 for activitynet; AR
    averaged over IoU 0.5:0.05:0.95. Raises :class:`MetricError` for an unknown protocol, no
    fake segment at all, or NaN/infinite/negative/inverted segments.

    ``av1m`` (the official AV-Deepfake1M SDK ``avdeepfake1m`` 0.0.4, as LAV-DF's metrics):
    IoU = intersection / (latest end - earliest start), in float32; a proposal matches a
    segment when IoU > t (strictly). Each true segment, in metadata order, takes the first
    still unused matching proposal of its video in file order (true positive); every other
    proposal is a false positive. All proposals of all videos are ranked by confidence with a
    stable sort (ties keep metadata order, then file order). AP = sum over ranks k >= 2 of
    (recall_k - recall_(k-1)) * the highest precision at rank k or later, walking from the last
    rank back: the step from recall 0 to the first-ranked proposal is never counted (one clip
    with one perfect proposal scores 0.0). AR@N keeps each video's first N proposals in file order; a segment is recalled
    at t when one of them has IoU > t; recalled segments are summed over all videos, divided
    by all segments and averaged over the IoU thresholds.

    ``activitynet``: proposals ranked by confidence (stable); each is matched to the unused
    segment of its video with the highest IoU (the first in metadata order on ties), a true
    positive when IoU >= t (float64, intersection over union); AP is the area under the precision envelope (ActivityNet's
    ``interpolated_prec_rec``). AR@N keeps each video's N most confident proposals; a segment
    is recalled when any kept proposal has IoU >= t.
    """
    if protocol not in PROTOCOLS:
        raise MetricError(f"Unknown localisation protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}.")
    ap_t = list(AV1M_AP_IOU_THRESHOLDS if ap_thresholds is None else ap_thresholds)
    ns = [int(n) for n in ((AV1M_AR_NS if protocol == "av1m" else AR_NS) if ar_ns is None else ar_ns)]
    ar_t = list(ar_thresholds)
    gt_set = ground_truth.keys()
    counts = {
        "n_videos": len(ground_truth),
        "n_segments": sum(len(v) for v in ground_truth.values()),
        "n_proposals": sum(len(proposals.get(k, ())) for k in ground_truth),
        "videos_without_proposals": sum(1 for k in ground_truth if len(proposals.get(k, ())) == 0),
        "ignored_proposals": sum(len(v) for k, v in proposals.items() if k not in gt_set),
    }
    if protocol == "av1m":
        ap, ar = av1m_ap_ar(ground_truth, proposals, ap_t, ns, ar_t)
    else:
        ap, ar = activitynet_ap_ar(ground_truth, proposals, ap_t, ns, ar_t)
    return {"protocol": protocol, "ap": ap, "ar": ar, **counts}


def proposals_from_curve(
    frame_scores: Sequence[float] | np.ndarray,
    *,
    first_model_frame: int = 0,
    thresholds: Sequence[float] | None = None,
    confidence: str = "mean",
    min_frames: int = 1,
    nms_iou: float | None = None,
) -> list[Proposal]:
    """Segment proposals ``(confidence, start_s, end_s)`` from a frame-level fakeness curve.

    ``frame_scores[i]`` belongs to model frame ``first_model_frame + i``, whose seconds come from
    the timebase (model frame k covers ``[k/25, (k+1)/25)``). For every threshold, each contiguous run of
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
    k = first_model_frame
    props = sorted(((c, model_frame_start(k + a), model_frame_start(k + b)) for (a, b), c in found.items()),
                   key=lambda p: -p[0])
    if nms_iou is None:
        return props
    kept: list[Proposal] = []
    for p in props:
        if not kept or temporal_iou((p[1], p[2]), [(k[1], k[2]) for k in kept]).max() <= nms_iou:
            kept.append(p)
    return kept
