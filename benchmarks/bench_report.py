"""How long ``forensics-gui report`` takes for a 10-second and a 10-minute clip. Prints medians;
asserts nothing.

    python benchmarks/bench_report.py [--out bench-out/report] [--repeat 3] [--long-s 600]

Generates (once, cached in ``--out``) a talking-face clip of 10 s and one of ``--long-s``
seconds (320x320, 25 fps, 48 kHz sound starting with 30 ms of digital silence) and a result of
each in the layout ``analyze -o`` writes (scores with 3 and 20 stretches to check; no model is
run, so the time is the report's own). Each run is the whole command in this process (after a
first warm-up run that loads the libraries and the landmark model): the picture (decode, face
box and mouth crop, waveform, renderer), the key frame and mouth crop of every stretch (no
analysis cache, so their landmarks are found again), the silence panel, the PDF or HTML.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import statistics
import time
from pathlib import Path


def make_result(clip: Path, duration_s: float, n_segments: int) -> dict:
    import numpy as np

    n = int(duration_s * 25)
    times = np.arange(n) / 25.0
    scores = np.sin(np.arange(n) * 0.3) * 0.1
    starts = np.linspace(0.5, duration_s - 1.0, n_segments)
    segments = [[float(s), float(s) + 0.4] for s in starts]
    for s, e in segments:
        scores[(times >= s) & (times < e)] += 2.0
    variant = {"frame_scores": scores.tolist(), "times_s": times.tolist(), "video_score": 3.0,
               "pool": "lse", "threshold": 0.5, "suspicious_segments": segments}
    return {"file": str(clip), "sha256": hashlib.sha256(clip.read_bytes()).hexdigest(),
            "models": [{"role": "phi", "name": "AVH-Align_AV1M.pt", "sha256": "0" * 64}],
            "caveats": [], **variant, "variants": {"untrimmed": variant}}


def run_report(argv: list[str]) -> float:
    from forensics_gui import cli

    t = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli.main(["report", *argv, "-q"])
    if code != 0:
        raise SystemExit(f"report failed: {err.getvalue()}")
    return time.perf_counter() - t


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from forensics_gui.testing.synth import make_clip

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-out/report"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--long-s", type=float, default=600.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cases = [("10 s", 10.0, 3), (f"{args.long_s / 60:g} min", args.long_s, 20)]
    runs = []
    for label, duration, n_seg in cases:
        clip = args.out / f"face_{int(duration)}s.mp4"
        if not clip.exists():
            t = time.perf_counter()
            make_clip(clip, duration_s=duration, width=320, height=320, sample_rate=48000,
                      leading_silence_ms=30.0, face=True)
            print(f"made {clip} in {time.perf_counter() - t:.1f} s")
        result = args.out / f"face_{int(duration)}s.result.json"
        result.write_text(json.dumps(make_result(clip, duration, n_seg)))
        runs.append((label, clip, result, n_seg))
    run_report([str(runs[0][1]), "-o", str(args.out / "warmup.pdf")])  # imports, landmark model
    print(f"{'clip':>8} {'stretches':>9} {'format':>6} {'median s':>9}  (runs)")
    for label, clip, result, n_seg in runs:
        for suffix in ("pdf", "html"):
            out = args.out / f"report_{int(clip.stat().st_size)}.{suffix}"
            times = [run_report([str(clip), "--result", str(result), "-o", str(out)])
                     for _ in range(args.repeat)]
            print(f"{label:>8} {n_seg:>9} {suffix:>6} {statistics.median(times):9.2f}  "
                  f"({', '.join(f'{t:.2f}' for t in times)}; {out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
