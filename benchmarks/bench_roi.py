"""Speed of the mouth-ROI preparation on a 10 s 720p 25 fps synthetic talking-face clip.

Prints frames/s (medians over ``--repeats`` runs) for: decode (to RGB on the 25 fps grid),
detection + landmarks, ROI warp (the 96x96 crops), and the whole ``extract_mouth_roi`` (one
decode in a background thread overlapping the dlib work; the crops come from the mouth patches
kept during that read).
Target: >= 50 fps for landmarks + ROI. Run: ``python benchmarks/bench_roi.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np


def _clip(path: Path) -> Path:
    from forensics_gui.testing.synth import make_clip

    if not path.exists():
        t = np.arange(250) / 25.0
        make_clip(path, duration_s=10.0, fps=25, width=1280, height=720, audio=False,
                  openness=0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t))
    return path


def main() -> None:
    from forensics_gui.core import roi
    from forensics_gui.core.landmarks import FaceTracker
    from forensics_gui.core.media import iter_frames_on_grid
    from forensics_gui.core.paths import cache_dir

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    path = _clip(Path(cache_dir()) / "bench_roi_720p_10s.mp4")

    dec, lmk, warp, total, total1 = [], [], [], [], []
    lmk_cpu, warp_cpu = [], []  # single-threaded stages: CPU time is immune to other load
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        frames = [rgb.copy() for _k, _t, rgb in iter_frames_on_grid(path)]
        dec.append(len(frames) / (time.perf_counter() - t0))
        n = len(frames)

        tracker = FaceTracker((frames[0].shape[1], frames[0].shape[0]))
        t0, c0 = time.perf_counter(), time.process_time()
        res = [tracker.process(f) for f in frames]
        lmk.append(n / (time.perf_counter() - t0))
        lmk_cpu.append(n / (time.process_time() - c0))

        lm = np.stack([r.points for r in res]).astype(np.float64)
        t0, c0 = time.perf_counter(), time.process_time()
        tf = roi.roi_transforms(lm)
        org = roi.crop_origins(lm, tf)
        for k, f in enumerate(frames):
            roi.warp_crop(f, tf[k], (int(org[k, 0]), int(org[k, 1])))
        warp.append(n / (time.perf_counter() - t0))
        warp_cpu.append(n / (time.process_time() - c0))
        del frames

        t0 = time.perf_counter()
        result = roi.extract_mouth_roi(path, workers=2)
        total.append(len(result.times_s) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        result = roi.extract_mouth_roi(path, workers=1)
        total1.append(len(result.times_s) / (time.perf_counter() - t0))

    med = statistics.median
    both = 1.0 / (1.0 / med(lmk) + 1.0 / med(warp))
    both_cpu = 1.0 / (1.0 / med(lmk_cpu) + 1.0 / med(warp_cpu))
    print(f"clip: {path} ({n} frames, 1280x720, 25 fps); medians of {args.repeats} runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"decode (RGB, 25 fps grid):   {med(dec):7.1f} fps")
    print(f"detection + landmarks:       {med(lmk):7.1f} fps  (CPU time: {med(lmk_cpu):.1f})")
    print(f"ROI warp (96x96 crops):      {med(warp):7.1f} fps  (CPU time: {med(warp_cpu):.1f})")
    print(f"landmarks + ROI (no decode): {both:7.1f} fps  (CPU time: {both_cpu:.1f}; "
          "target >= 50)")
    print(f"extract_mouth_roi total:     {med(total):7.1f} fps  (workers=2: decode thread)")
    print(f"extract_mouth_roi total:     {med(total1):7.1f} fps  (workers=1)")


if __name__ == "__main__":
    main()
