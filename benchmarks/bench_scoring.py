"""Scoring precomputed features with Phi (D = 1024, published sizes), in x real time at 25 fps.

Prints the median and the best wall time over runs (the best shows an unloaded machine when
other jobs share the CPU) of :func:`score_features` on a 60 s clip (1500 frames)
without and with the +-15-frame band (sync offsets), and the speed in x real time
(clip seconds / wall seconds).

    python benchmarks/bench_scoring.py [--threads 2] [--seconds 60] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()

    import torch

    from forensics_gui.core.alignment.phi import load_phi
    from forensics_gui.core.alignment.scoring import score_features
    from forensics_gui.testing.phi import write_published_phi

    torch.set_num_threads(args.threads)
    frames = int(args.seconds * 25)
    rng = np.random.default_rng(0)
    visual = rng.standard_normal((frames, 1024), dtype=np.float32)
    audio = rng.standard_normal((frames, 1024), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        phi = load_phi(write_published_phi(Path(tmp) / "phi.pt"))
        print(f"write + load a published-layout Phi: {time.perf_counter() - t0:.2f} s")
    print(f"clip: {args.seconds:g} s = {frames} frames, D=1024, {args.threads} threads")
    for band in (False, True):
        score_features(visual, audio, phi, band=band)  # warm-up
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            score_features(visual, audio, phi, band=band)
            times.append(time.perf_counter() - t0)
        med, best = statistics.median(times), min(times)
        label = "with band (31 offsets)" if band else "frame scores only"
        print(f"{label:<24} median {med * 1000:7.1f} ms = {args.seconds / med:6.0f}x real time;  "
              f"best {best * 1000:7.1f} ms = {args.seconds / best:6.0f}x real time")


if __name__ == "__main__":
    main()
