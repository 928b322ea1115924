"""Localisation metrics speed and agreement: ours (av1m protocol) against the official SDK.

Builds a synthetic AV-Deepfake1M-like set (default 20,000 clips, ~175,000 proposals: half the
clips fake with 1-3 segments, 1-16 proposals per clip in file order, confidences on a coarse grid
so ties happen) and prints, for ours and for the SDK ``avdeepfake1m`` 0.0.4 when it is installed
(its compiled ``ap_ar_1d``, reading the same JSON files, as a user runs it), the median wall time
over several runs, the ratio, and the largest absolute difference of every AP and AR.

    .venv/bin/python benchmarks/bench_eval_metrics.py [--clips 20000] [--repeats 5] [--cli]

``--cli`` also times whole processes: ``forensics-gui eval --metadata labels.json --scores
scores.txt --proposals preds.json --proposal-unit seconds --json`` against a Python process that
loads the SDK's compiled module and calls ``ap_ar_1d`` on the same files (a lower bound of the
SDK's own process, which also imports pandas).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.results.metrics import (
    AR_IOU_THRESHOLDS,
    AV1M_AP_IOU_THRESHOLDS,
    AV1M_AR_NS,
    localisation_metrics,
)
from forensics_gui.testing.official_sdk import load_official_sdk, sdk_module_path


def synthetic(clips: int, seed: int = 0) -> tuple[dict[str, list[tuple[float, float]]],
                                                  dict[str, list[tuple[float, float, float]]]]:
    rng = np.random.default_rng(seed)
    gt: dict[str, list[tuple[float, float]]] = {}
    props: dict[str, list[tuple[float, float, float]]] = {}
    for i in range(clips):
        key = f"train/id{i:05d}/clip_{i}.mp4"
        n_seg = int(rng.integers(1, 4)) if rng.random() < 0.5 else 0
        starts = np.sort(rng.uniform(0, 8, n_seg))
        segs = [(round(float(s), 2), round(float(s + rng.uniform(0.1, 1.0)), 2)) for s in starts]
        gt[key] = segs
        rows = []
        for _ in range(int(rng.integers(1, 17))):
            if segs and rng.random() < 0.5:
                s, e = segs[int(rng.integers(len(segs)))]
                s, e = s + rng.normal(0, 0.05), e + rng.normal(0, 0.05)
                conf = float(rng.integers(40, 100))
            else:
                conf = float(rng.integers(0, 60))
                s = rng.uniform(0, 9)
                e = s + rng.uniform(0.04, 1.0)
            s = max(0.0, float(s))
            rows.append((conf / 100, round(s, 3), round(max(s, float(e)), 3)))
        props[key] = rows
    return gt, props


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cli", action="store_true", help="also time forensics-gui eval against an SDK process")
    args = ap.parse_args()
    gt, props = synthetic(args.clips)
    n_props = sum(len(v) for v in props.values())
    print(f"{args.clips} clips, {sum(len(v) for v in gt.values())} segments, {n_props} proposals")
    ours_t, ours = [], {}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = localisation_metrics(gt, props, "av1m")
        ours_t.append(time.perf_counter() - t0)
    ours_med = statistics.median(ours_t)
    print(f"ours (in memory):        median {ours_med:.3f} s over {args.repeats}")
    anet_t = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        localisation_metrics(gt, props, "activitynet")
        anet_t.append(time.perf_counter() - t0)
    print(f"ours, activitynet protocol (in memory): median {statistics.median(anet_t):.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        labels_path, props_path = Path(tmp, "labels.json"), Path(tmp, "proposals.json")
        labels_path.write_text(json.dumps([{"file": k, "fake_segments": [list(s) for s in v]} for k, v in gt.items()]))
        props_path.write_text(json.dumps({k: [list(r) for r in v] for k, v in props.items()}))
        files_t = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            g = {d["file"]: d["fake_segments"] for d in json.loads(labels_path.read_text())}
            localisation_metrics(g, json.loads(props_path.read_text()), "av1m")
            files_t.append(time.perf_counter() - t0)
        files_med = statistics.median(files_t)
        print(f"ours (JSON files + metric): median {files_med:.3f} s")
        sdk = load_official_sdk()
        if sdk is None:
            print("SDK avdeepfake1m not installed: ours alone.")
            return
        sdk_t, theirs = [], {}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            theirs = sdk.ap_ar_1d(str(props_path), str(labels_path), "file", "fake_segments", 1.0,
                                  list(AV1M_AP_IOU_THRESHOLDS), list(AV1M_AR_NS), list(AR_IOU_THRESHOLDS))
            sdk_t.append(time.perf_counter() - t0)
        if args.cli:
            time_processes(Path(tmp), gt, args.repeats)
    sdk_med = statistics.median(sdk_t)
    print(f"SDK ap_ar_1d (JSON files): median {sdk_med:.3f} s")
    print(f"ratio SDK / ours: {sdk_med / files_med:.2f} (files), {sdk_med / ours_med:.2f} (in memory)")
    report_diff(ours, theirs)


SDK_PROCESS = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("avdeepfake1m._evaluation", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
m.ap_ar_1d(sys.argv[2], sys.argv[3], "file", "fake_segments", 1.0, [0.5, 0.75, 0.9, 0.95],
           [50, 30, 20, 10, 5], [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
"""


def time_processes(tmp: Path, gt: dict[str, list[tuple[float, float]]], repeats: int) -> None:
    """Whole processes on the same files: forensics-gui eval and a bare SDK call."""
    scores = tmp / "scores.txt"
    scores.write_text("".join(f"{k};{0.9 if segs else 0.1}\n" for k, segs in gt.items()))
    so = str(sdk_module_path())
    cmds = {
        "forensics-gui eval": [sys.executable, "-m", "forensics_gui", "eval", "--metadata",
                               str(tmp / "labels.json"), "--scores", str(scores), "--proposals",
                               str(tmp / "proposals.json"), "--proposal-unit", "seconds", "--json"],
        "SDK process": [sys.executable, "-c", SDK_PROCESS, so, str(tmp / "proposals.json"), str(tmp / "labels.json")],
    }
    med = {}
    for name, cmd in cmds.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0:
                print(f"{name} failed: {done.stderr.strip()[-300:]}")
                return
        med[name] = statistics.median(times)
        print(f"{name} (whole process): median {med[name]:.3f} s")
    print(f"ratio SDK process / forensics-gui eval: {med['SDK process'] / med['forensics-gui eval']:.2f}")


def report_diff(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    sdk_ap = list(theirs["ap"].values())  # the SDK keys thresholds by their float32 value
    worst = 0.0
    for (t, a), b in zip(ours["ap"].items(), sdk_ap, strict=True):
        print(f"  AP@{t}: ours {a:.6f}  SDK {b:.6f}  |diff| {abs(a - b):.2e}")
        worst = max(worst, abs(a - b))
    for n, a in ours["ar"].items():
        b = theirs["ar"][n]
        print(f"  AR@{n}: ours {a:.6f}  SDK {b:.6f}  |diff| {abs(a - b):.2e}")
        worst = max(worst, abs(a - b))
    print(f"max |diff| over every AP and AR: {worst:.2e}")


if __name__ == "__main__":
    main()
