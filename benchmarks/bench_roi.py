"""Speed of the mouth-ROI preparation on a 10 s synthetic talking-face clip (720p by default).

Prints frames/s, in one run, for the three ways to get the landmarks:

- ``official`` (the default): the official detection reproduced exactly, skipping the pyramid
  levels that cannot hold the tracked face (core/landmarks.py, OfficialDetector);
- ``official call``: the plain official ``detector(gray, 1)`` on every whole frame (what
  ``--official-landmarks`` runs; timed on the first ``--official-frames`` frames only);
- ``fast``: the windowed face tracker (``--fast-landmarks``);

each as detection + landmarks alone and as landmarks + ROI warp (the 96x96 crops, decode not
included), plus the whole ``extract_mouth_roi`` (decode in a background thread) for the two
preparations (and the default with ``--processes`` landmark worker processes; their CPU time is
not counted in that row). Wall-clock fps are medians over ``--repeats`` runs; the CPU-time fps
beside them do not depend on what else the machine runs (on a shared machine the wall clock
does).
Target: >= 50 fps of landmarks + ROI at 720p on 2 cores.

Run: ``python benchmarks/bench_roi.py [--height 720] [--repeats 3] [--official-frames 25]
[--processes 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

SIZES = {240: (320, 240), 480: (854, 480), 720: (1280, 720), 1080: (1920, 1080)}


def _clip(path: Path, width: int, height: int) -> Path:
    from forensics_gui.testing.synth import make_clip

    if not path.exists():
        t = np.arange(250) / 25.0
        make_clip(path, duration_s=10.0, fps=25, width=width, height=height, audio=False,
                  openness=0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t))
    return path


def _timed(fn, n: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(wall fps, CPU-time fps, result) of ``fn()`` over ``n`` frames."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return n / wall, n / max(cpu, 1e-9), out


def main() -> None:
    from forensics_gui.core.face import roi
    from forensics_gui.core.face.landmarks import FaceTracker
    from forensics_gui.core.files.paths import cache_dir
    from forensics_gui.core.media.decode import iter_frames_on_grid

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--height", type=int, default=720, choices=sorted(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--official-frames", type=int, default=25,
                    help="frames timed with the plain official call (~0.3 s each at 720p)")
    ap.add_argument("--processes", type=int, default=2,
                    help="also time extract_mouth_roi with this many landmark worker processes "
                         "(0: skip)")
    args = ap.parse_args()
    width, height = SIZES[args.height]
    path = _clip(Path(cache_dir()) / f"bench_roi_{height}p_10s.mp4", width, height)
    frames = [rgb.copy() for _k, _t, rgb in iter_frames_on_grid(path)]
    n = len(frames)
    size = (frames[0].shape[1], frames[0].shape[0])

    def landmarks(**kw):  # type: ignore[no-untyped-def]
        tracker = FaceTracker(size, **kw)
        return tracker, [tracker.process(f) for f in frames]

    def warp(res) -> None:  # type: ignore[no-untyped-def]
        lm = np.stack([r.points for r in res]).astype(np.float64)
        tf = roi.roi_transforms(lm)
        org = roi.crop_origins(lm, tf)
        for k, f in enumerate(frames):
            roi.warp_crop(f, tf[k], (int(org[k, 0]), int(org[k, 1])))

    landmarks(preparation="fast")  # load the models outside the timing
    rows: dict[str, list[tuple[float, float]]] = {}
    scans = (0, 0)
    for _ in range(args.repeats):
        for name, kw in (("official", {"preparation": "official"}), ("fast", {"preparation": "fast"})):
            w, c, out = _timed(lambda kw=kw: landmarks(**kw), n)
            tracker, res = out  # type: ignore[misc]
            rows.setdefault(f"{name} landmarks", []).append((w, c))
            ww, wc, _ = _timed(lambda res=res: warp(res), n)
            rows.setdefault("ROI warp", []).append((ww, wc))
            rows.setdefault(f"{name} landmarks + ROI", []).append(
                (1 / (1 / w + 1 / ww), 1 / (1 / c + 1 / wc)))
            if name == "official":
                scans = (tracker.exact.partial_scans, tracker.exact.full_scans)
        m = min(args.official_frames, n)
        ref = FaceTracker(size, official=True)
        w, c, _ = _timed(lambda ref=ref, m=m: [ref.process(f) for f in frames[:m]], m)
        rows.setdefault("official call landmarks", []).append((w, c))
        for name in ("official", "fast"):
            w, c, _ = _timed(lambda name=name: roi.extract_mouth_roi(path, preparation=name,
                                                                     processes=0), n)
            rows.setdefault(f"extract_mouth_roi {name} (with decode)", []).append((w, c))
        if args.processes > 0:
            w, c, _ = _timed(lambda: roi.extract_mouth_roi(path, processes=args.processes), n)
            rows.setdefault(f"extract_mouth_roi official, {args.processes} processes",
                            []).append((w, c))

    med = statistics.median
    print(f"clip: {path} ({n} frames, {width}x{height}, 25 fps); medians of {args.repeats} runs; "
          f"official call timed on {min(args.official_frames, n)} frames; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':42s} {'wall fps':>9s} {'CPU-time fps':>13s}")
    for name, vals in rows.items():
        print(f"{name:42s} {med(v[0] for v in vals):9.1f} {med(v[1] for v in vals):13.1f}")
    base = med(v[1] for v in rows["official call landmarks"])
    ours = med(v[1] for v in rows["official landmarks"])
    print(f"default (official) landmarks vs the plain official call: {ours / base:.1f}x "
          f"(CPU time); {scans[0]} frames from the level-skipping scan, {scans[1]} full calls")
    print("target: >= 50 fps of landmarks + ROI at 720p")


if __name__ == "__main__":
    main()
