"""Localisation metrics by protocol: the official AV-Deepfake1M rules (``av1m``) and ActivityNet's.

Each av1m rule has a small hand-computed case; property tests compare both protocols with plain,
slow reference implementations written here; a last test compares with the official SDK
(``avdeepfake1m`` 0.0.4) when it is installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.results import metrics as m
from forensics_gui.testing.official_sdk import load_official_sdk

GT = Mapping[str, Sequence[tuple[float, float]]]
PROPS = Mapping[str, Sequence[tuple[float, float, float]]]


def av1m(gt: GT, props: PROPS, **kw: Any) -> dict[str, Any]:
    return m.localisation_metrics(gt, props, "av1m", **kw)


# ---------------------------------------------------------------- hand-computed av1m rules

def test_one_clip_one_perfect_proposal_scores_ap_zero() -> None:
    # The step from recall 0 to the first-ranked proposal is never counted.
    res = av1m({"a": [(0.0, 1.0)]}, {"a": [(0.9, 0.0, 1.0)]})
    assert res["ap"] == {0.5: 0.0, 0.75: 0.0, 0.9: 0.0, 0.95: 0.0}
    assert res["ar"] == {50: 1.0, 30: 1.0, 20: 1.0, 10: 1.0, 5: 1.0}
    # Two clips, each perfect: rank 2 adds (1 - 1/2) * precision 1.
    two = av1m({"a": [(0.0, 1.0)], "b": [(0.0, 2.0)]}, {"a": [(0.9, 0.0, 1.0)], "b": [(0.8, 0.0, 2.0)]})
    assert two["ap"][0.5] == pytest.approx(0.5)
    # ActivityNet counts the first step: 1.0.
    assert m.localisation_metrics({"a": [(0.0, 1.0)]}, {"a": [(0.9, 0.0, 1.0)]}, "activitynet")["ap"][0.5] == 1.0


def test_match_needs_iou_strictly_above_threshold() -> None:
    gt = {"a": [(0.0, 1.0)], "b": [(0.0, 1.0)]}
    props = {"a": [(0.9, 0.0, 1.0)], "b": [(0.8, 0.0, 0.5)]}  # b: IoU exactly 0.5
    res = av1m(gt, props, ap_thresholds=[0.5, 0.45], ar_ns=[1], ar_thresholds=[0.5])
    assert res["ap"] == {0.5: 0.0, 0.45: pytest.approx(0.5)}
    assert res["ar"][1] == pytest.approx(0.5)
    anet = m.localisation_metrics(gt, props, "activitynet", ap_thresholds=[0.5])
    assert anet["ap"][0.5] == pytest.approx(1.0)  # >= there


def test_iou_is_float32() -> None:
    # IoU 0.9000000001 in float64 is above 0.9, but rounds to float32(0.9), not above it.
    gt = {"a": [(0.0, 1.0)]}
    props = {"a": [(0.9, 0.0, 0.9000000001)]}
    assert av1m(gt, props, ar_ns=[1], ar_thresholds=[0.9])["ar"][1] == 0.0
    assert av1m(gt, {"a": [(0.9, 0.0, 0.9000001)]}, ar_ns=[1], ar_thresholds=[0.9])["ar"][1] == 1.0
    # Intersection over the span from the earliest start to the latest end: 0.5 / 2 here.
    assert av1m(gt, {"a": [(0.9, 0.5, 2.0)]}, ar_ns=[1], ar_thresholds=[0.24, 0.25])["ar"][1] == 0.5


def test_segments_take_first_unused_match_in_file_order() -> None:
    gt = {"a": [(0.0, 1.0), (1.0, 3.0)]}
    wide, exact = (0.9, 0.0, 2.0), (0.8, 0.0, 1.0)  # wide: IoU 0.5 with seg 1, 1/3 with seg 2
    # Segment 1 takes `wide` (first in file order), segment 2 then finds nothing: TP, FP.
    first = av1m(gt, {"a": [wide, exact]}, ap_thresholds=[0.3])
    assert first["ap"][0.3] == 0.0
    # `exact` first in the file: segment 1 takes it, segment 2 takes `wide`: TP, TP.
    second = av1m(gt, {"a": [exact, wide]}, ap_thresholds=[0.3])
    assert second["ap"][0.3] == pytest.approx(0.5)
    # ActivityNet matches by confidence, whatever the file order: `wide` takes segment 1.
    for rows in ([wide, exact], [exact, wide]):
        anet = m.localisation_metrics(gt, {"a": rows}, "activitynet", ap_thresholds=[0.3])
        assert anet["ap"][0.3] == pytest.approx(0.5)


def test_ties_keep_metadata_order_not_proposal_file_order() -> None:
    props = {"c": [(0.9, 0.0, 1.0)], "b": [(0.5, 5.0, 6.0)], "a": [(0.5, 0.0, 1.0)]}
    segs = [(0.0, 1.0)]
    # a before b: ranks TP, TP, FP -> (2/3 - 1/3) * 1.
    assert av1m({"c": segs, "a": segs, "b": segs}, props)["ap"][0.5] == pytest.approx(1 / 3)
    # b before a: TP, FP, TP -> (2/3 - 1/3) * 2/3.
    assert av1m({"c": segs, "b": segs, "a": segs}, props)["ap"][0.5] == pytest.approx(2 / 9)


def test_ar_keeps_first_n_proposals_in_file_order() -> None:
    gt = {"a": [(0.0, 1.0)]}
    perfect_last = {"a": [(0.9, 5.0, 6.0), (0.1, 0.0, 1.0)]}
    assert av1m(gt, perfect_last, ar_ns=[1, 2])["ar"] == {1: 0.0, 2: 1.0}
    assert av1m(gt, {"a": perfect_last["a"][::-1]}, ar_ns=[1])["ar"] == {1: 1.0}
    # ActivityNet keeps the most confident ones.
    assert m.localisation_metrics(gt, perfect_last, "activitynet", ar_ns=[1])["ar"] == {1: 0.0}


def test_ar_sums_hits_over_videos_and_averages_over_ious() -> None:
    gt = {"a": [(0.0, 1.0)], "b": [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]}
    props = {"a": [(0.5, 0.0, 0.72)], "b": [(0.5, 0.0, 1.0)]}
    # a: IoU 0.72 is above 0.5..0.7 (5 of 10); b: one segment of three at every IoU.
    res = av1m(gt, props, ar_ns=[5])
    assert res["ar"][5] == pytest.approx((5 + 10) / 40)  # not the mean of per-video recalls (0.417)


def test_videos_without_proposals_and_unknown_videos() -> None:
    gt = {"a": [(0.0, 1.0)], "b": [(0.0, 1.0)], "r": []}
    props = {"a": [(0.9, 0.0, 1.0)], "elsewhere": [(1.0, 0.0, 1.0)]}
    res = av1m(gt, props)
    assert res["ar"][50] == pytest.approx(0.5)
    assert res["ap"][0.5] == 0.0
    assert (res["n_videos"], res["n_segments"], res["n_proposals"]) == (3, 2, 1)
    assert (res["videos_without_proposals"], res["ignored_proposals"]) == (2, 1)


def test_proposals_in_real_videos_are_false_positives() -> None:
    gt = {"a": [(0.0, 1.0)], "b": [(0.0, 1.0)], "r": []}
    props = {"a": [(0.9, 0.0, 1.0)], "b": [(0.8, 0.0, 1.0)], "r": [(0.95, 0.0, 1.0)]}
    # FP, TP, TP: rank 2 (recall 1/2, envelope 2/3) + rank 3 (recall 1, precision 2/3).
    assert av1m(gt, props)["ap"][0.5] == pytest.approx(2 / 3)


def test_activitynet_takes_the_free_segment_of_highest_iou_first_on_ties() -> None:
    gt = {"a": [(0.0, 1.0), (1.0, 2.0)]}
    # The middle proposal overlaps both segments with IoU 1/3: it takes the first, so the
    # exact proposal of segment 1 finds it used: TP, FP -> 1/2 (taking the second would give 1).
    props = {"a": [(0.9, 0.5, 1.5), (0.8, 0.0, 1.0)]}
    assert m.localisation_metrics(gt, props, "activitynet", ap_thresholds=[0.3])["ap"][0.3] == pytest.approx(0.5)
    # Best IoU wins over segment order: segment 2 (IoU 0.5) over segment 1 (IoU 0.2).
    props2 = {"a": [(0.9, 0.8, 1.8), (0.8, 0.0, 1.0)]}
    assert m.localisation_metrics(gt, props2, "activitynet", ap_thresholds=[0.1])["ap"][0.1] == pytest.approx(1.0)


def test_protocol_errors() -> None:
    with pytest.raises(ForensicsError, match="protocol 'lavdf'"):
        m.localisation_metrics({"a": [(0.0, 1.0)]}, {}, "lavdf")
    with pytest.raises(ForensicsError, match="fake segments"):
        av1m({"r": []}, {"r": [(0.5, 0.0, 1.0)]})
    with pytest.raises(ForensicsError, match="proposal .* of a is impossible"):
        av1m({"r": [], "a": [(0.0, 1.0)]}, {"a": [(0.5, 2.0, 1.0)]})
    with pytest.raises(ForensicsError, match="ground-truth segment .* of b is impossible"):
        av1m({"a": [(0.0, 1.0)], "b": [(0.0, float("nan"))]}, {})
    with pytest.raises(ForensicsError, match=r"confidence, a start and an end, but one is \[0.5, 1.0\]"):
        av1m({"a": [(0.0, 1.0)]}, {"a": [(0.9, 0.0, 1.0), (0.5, 1.0)]})  # type: ignore[list-item]
    with pytest.raises(ForensicsError, match="as numbers"):
        av1m({"a": [(0.0, 1.0)]}, {"a": [(0.9, 0.0, "end")]})  # type: ignore[list-item]


# ---------------------------------------------------------------- plain reference implementations

def _iou32(g: Sequence[float], p: Sequence[float]) -> np.float32:
    gs, ge, ps, pe = (np.float32(x) for x in (g[0], g[1], p[0], p[1]))
    inter = max(min(ge, pe) - max(gs, ps), np.float32(0))
    span = max(ge, pe) - min(gs, ps)
    return inter / span if span > 0 else np.float32(0)


def ref_av1m(gt: GT, props: PROPS, ap_ts: Sequence[float], ns: Sequence[int],
             ar_ts: Sequence[float]) -> tuple[dict[float, float], dict[int, float]]:
    n_gt = sum(len(v) for v in gt.values())
    ap = {}
    for t in ap_ts:
        ranked = []
        for k, segs in gt.items():
            rows = list(props.get(k, ()))
            used = [False] * len(rows)
            for g in segs:
                for j, row in enumerate(rows):
                    if not used[j] and _iou32(g, row[1:]) > np.float32(t):
                        used[j] = True
                        break
            ranked += [(row[0], u) for row, u in zip(rows, used, strict=True)]
        ranked.sort(key=lambda x: -x[0])  # stable
        tp, prec, rec = 0, [], []
        for i, (_, u) in enumerate(ranked, 1):
            tp += u
            prec.append(tp / i)
            rec.append(tp / n_gt)
        total, best = 0.0, 0.0
        for i in range(len(ranked) - 1, 0, -1):
            best = max(best, prec[i])
            total += (rec[i] - rec[i - 1]) * best
        ap[t] = total
    ar = {}
    for n in ns:
        recalls = []
        for t in ar_ts:
            hits = sum(any(_iou32(g, row[1:]) > np.float32(t) for row in list(props.get(k, ()))[:n])
                       for k, segs in gt.items() for g in segs)
            recalls.append(hits / n_gt)
        ar[n] = sum(recalls) / len(recalls)
    return ap, ar


def _iou64(g: Sequence[float], p: Sequence[float]) -> float:
    inter = max(min(g[1], p[1]) - max(g[0], p[0]), 0.0)
    union = (g[1] - g[0]) + (p[1] - p[0]) - inter
    return inter / union if union > 0 else 0.0


def ref_activitynet(gt: GT, props: PROPS, ap_ts: Sequence[float], ns: Sequence[int],
                    ar_ts: Sequence[float]) -> tuple[dict[float, float], dict[int, float]]:
    n_gt = sum(len(v) for v in gt.values())
    ranked = sorted(((row[0], k, row) for k in gt for row in props.get(k, ())), key=lambda x: -x[0])
    ap = {}
    for t in ap_ts:
        used = {k: [False] * len(v) for k, v in gt.items()}
        tp, prec, rec = 0, [], []
        for i, (_, k, row) in enumerate(ranked, 1):
            free = [(_iou64(g, row[1:]), -j) for j, g in enumerate(gt[k]) if not used[k][j]]
            if free and max(free)[0] >= t:
                used[k][-max(free)[1]] = True
                tp += 1
            prec.append(tp / i)
            rec.append(tp / n_gt)
        # ActivityNet's interpolated_prec_rec: envelope over [0, recall..., 1].
        mprec, mrec = [0.0, *prec, 0.0], [0.0, *rec, 1.0]
        for i in range(len(mprec) - 2, -1, -1):
            mprec[i] = max(mprec[i], mprec[i + 1])
        ap[t] = sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])
    ar = {}
    for n in ns:
        recalls = []
        for t in ar_ts:
            hits = 0
            for k, segs in gt.items():
                top = sorted(props.get(k, ()), key=lambda r: -r[0])[:n]
                hits += sum(any(_iou64(g, row[1:]) >= t for row in top) for g in segs)
            recalls.append(hits / n_gt)
        ar[n] = sum(recalls) / len(recalls)
    return ap, ar


_grid = st.integers(0, 20).map(lambda i: i / 10)


@st.composite
def _segment(draw: st.DrawFn) -> tuple[float, float]:
    s = draw(_grid)
    return (s, s + draw(st.integers(0, 12)) / 10)


@st.composite
def _dataset(draw: st.DrawFn) -> tuple[dict[str, list[tuple[float, float]]],
                                       dict[str, list[tuple[float, float, float]]]]:
    n = draw(st.integers(1, 5))
    gt = {f"v{i}": draw(st.lists(_segment().filter(lambda s: s[1] > s[0]), max_size=3)) for i in range(n)}
    props = {}
    for k in [*gt, "not_in_metadata"]:
        if draw(st.booleans()) or k in gt:
            rows = draw(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0]), _segment()), max_size=6))
            props[k] = [(c, s, e) for c, (s, e) in rows]
    keys = list(props)
    order = draw(st.permutations(keys))  # the proposals file's own order must not matter
    return gt, {k: props[k] for k in order}


AP_TS = (0.1, 0.3, 0.5, 0.75, 0.9)
AR_NS = (1, 2, 5)


@settings(max_examples=200, deadline=None)
@given(_dataset())
@pytest.mark.slow
def test_av1m_matches_plain_reference(data: tuple[GT, PROPS]) -> None:
    gt, props = data
    assume(any(gt.values()))
    res = av1m(gt, props, ap_thresholds=AP_TS, ar_ns=AR_NS)
    ap, ar = ref_av1m(gt, props, AP_TS, AR_NS, m.AR_IOU_THRESHOLDS)
    assert res["ap"] == pytest.approx(ap, abs=1e-12)
    assert res["ar"] == pytest.approx(ar, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(_dataset())
@pytest.mark.slow
def test_activitynet_matches_plain_reference(data: tuple[GT, PROPS]) -> None:
    gt, props = data
    assume(any(gt.values()))
    res = m.localisation_metrics(gt, props, "activitynet", ap_thresholds=AP_TS, ar_ns=AR_NS)
    ap, ar = ref_activitynet(gt, props, AP_TS, AR_NS, m.AR_IOU_THRESHOLDS)
    assert res["ap"] == pytest.approx(ap, abs=1e-12)
    assert res["ar"] == pytest.approx(ar, abs=1e-12)
    # The vectorised form equals the loop form kept as ap_at_iou / ar_at_n.
    assert res["ap"] == pytest.approx(m.ap_at_iou(gt, props, AP_TS), abs=1e-12)
    assert res["ar"] == pytest.approx(m.ar_at_n(gt, props, AR_NS), abs=1e-12)


# ---------------------------------------------------------------- the official SDK, when installed


def _random_set(rng: np.random.Generator, clips: int = 0) -> tuple[dict[str, list[tuple[float, float]]],
                                                                   dict[str, list[tuple[float, float, float]]]]:
    gt, props = {}, {}
    for i in range(clips or int(rng.integers(1, 60))):
        segs = []
        for _ in range(int(rng.integers(0, 4))):
            s = int(rng.integers(0, 100)) * 0.04
            segs.append((s, s + int(rng.integers(1, 30)) * 0.04))
        gt[f"clip{i}"] = segs
        rows = []
        for _ in range(int(rng.integers(0, 12))):
            s = int(rng.integers(0, 100)) * 0.04
            rows.append((int(rng.integers(0, 5)) / 4, s, s + int(rng.integers(0, 30)) * 0.04))
        props[f"clip{i}"] = rows
    props["not_in_metadata"] = [(1.0, 0.0, 1.0)]
    return gt, props


def test_av1m_matches_official_sdk(tmp_path: Path) -> None:
    sdk = load_official_sdk()
    if sdk is None:
        pytest.skip("the official SDK avdeepfake1m 0.0.4 is not installed (pip install avdeepfake1m==0.0.4 --no-deps)")
    worst = 0.0
    for seed in range(41):
        gt, props = _random_set(np.random.default_rng(seed), 3000 if seed == 40 else 0)
        if not any(gt.values()):
            continue
        ours = av1m(gt, props)
        # The SDK panics on a clip without proposals; a zero-length proposal ranked last that
        # matches nothing is the same as none.
        low = min((r[0] for v in props.values() for r in v), default=0.0) - 1.0
        filled = {k: v or [(low, 0.0, 0.0)] for k, v in props.items()}
        labels, preds = tmp_path / "labels.json", tmp_path / "preds.json"
        labels.write_text(json.dumps([{"file": k, "fake_segments": [list(s) for s in v]} for k, v in gt.items()]))
        preds.write_text(json.dumps({k: [list(r) for r in v] for k, v in filled.items()}))
        theirs = sdk.ap_ar_1d(str(preds), str(labels), "file", "fake_segments", 1.0, list(m.AV1M_AP_IOU_THRESHOLDS),
                              list(m.AV1M_AR_NS), list(m.AR_IOU_THRESHOLDS))
        for a, b in zip(ours["ap"].values(), theirs["ap"].values(), strict=True):
            worst = max(worst, abs(a - b))
        for n, a in ours["ar"].items():
            worst = max(worst, abs(a - theirs["ar"][n]))
    assert worst < 1e-5  # the SDK sums in float32 (~3e-6 over 170,000 proposals)


# ---------------------------------------------------------------- clip level, without scikit-learn

@pytest.mark.slow
def test_auc_and_ap_equal_scikit_learn_with_ties() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, int(rng.integers(1, 8)), n) / 4.0  # few distinct values: many ties
        assert m.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert m.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    # All tied: AUC 1/2, AP = the fake fraction.
    assert m.auc([0, 1, 1], [0.3, 0.3, 0.3]) == 0.5
    assert m.average_precision([0, 1, 1], [0.3, 0.3, 0.3]) == pytest.approx(2 / 3)
