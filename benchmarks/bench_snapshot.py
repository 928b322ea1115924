"""The exported picture: how long the data and the painting take (medians, no asserts).

- ``face_and_mouth`` at one time of a 1280x720 talking-face clip: re-detected (no analysis in
  the cache: the official landmarks on the 12 frames of the smoothing window) and from the
  analysis cache (what the model saw);
- ``build_snapshot_data`` of that clip (hash, frame, face, audio, silence) with a result;
- ``render_snapshot`` of a 3 s clip and of a 12-minute clip (18,000 model frames per curve,
  two curves, 100 stretches to check, ground truth).

    python benchmarks/bench_snapshot.py [--runs 5] [--width 1280 --height 720]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_s(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def synthetic_data(duration: float):  # type: ignore[no-untyped-def]
    from forensics_gui.core.evidence.snapshot import (
        INSET_PIXELS,
        WAVE_PIXELS,
        Band,
        Curve,
        SnapshotData,
        inset_window,
        waveform_window,
    )
    from forensics_gui.core.media.silence import leading_silence
    from forensics_gui.core.media.waveform import PeakPyramid

    sr = 16000
    rng = np.random.default_rng(0)
    x = (rng.normal(size=int(sr * duration)) * 0.1).astype(np.float32)
    x[:480] = 0
    pyr = PeakPyramid(x, sr)
    window = waveform_window(0.0, duration)
    times = np.arange(0, duration, 0.04)
    curves = [Curve("a", times, rng.normal(size=times.size), "#4fa3ff", 2.0),
              Curve("b", times, rng.normal(size=times.size), "#ff9f43", 2.1)]
    segs = [(float(s), float(s) + 0.4) for s in np.linspace(0, duration - 1, 100)]
    return SnapshotData(
        frame=np.zeros((720, 1280, 3), np.uint8), time_s=duration / 2, file_name="x.mp4",
        sha256="0" * 64, version="bench", envelope=pyr.envelope(*window, WAVE_PIXELS),
        inset=pyr.envelope(*inset_window(0.0), INSET_PIXELS), window=window,
        silence=leading_silence(x[None], sr, 0.0005), curves=curves, segments=segs,
        groundtruth=[Band("sound", segs[:10], "#ff9f43"), Band("picture", [], "#4fa3ff"),
                     Band("either", segs[:10], "#ff5c5c")],
        face_box=(400.0, 100.0, 800.0, 500.0), mouth=np.zeros((96, 96), np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FORENSICS_GUI_CACHE"] = str(Path(tmp) / "cache")
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(["bench"])
        from forensics_gui.core.evidence.frames import face_and_mouth
        from forensics_gui.core.evidence.snapshot import build_snapshot_data
        from forensics_gui.core.face.landmarks import preload_models
        from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
        from forensics_gui.testing.synth import make_clip
        from forensics_gui.ui.snapshot import render_snapshot

        preload_models()
        clip = make_clip(Path(tmp) / "talk.mp4", duration_s=4.0, width=args.width,
                         height=args.height, leading_silence_ms=30).path
        print(f"clip: 4 s, {args.width}x{args.height}, 25 fps; median of {args.runs} runs")
        t = median_s(lambda: face_and_mouth(clip, [2.0], use_cache=False), args.runs)
        print(f"face_and_mouth, re-detected (12 frames of landmarks): {t:.3f} s")
        import hashlib

        sha = hashlib.sha256(clip.read_bytes()).hexdigest()
        Analyzer(AnalysisOptions()).mouth_roi(clip, sha, None)  # what an analysis caches
        t = median_s(lambda: face_and_mouth(clip, [2.0], sha256=sha), args.runs)
        print(f"face_and_mouth, from the analysis cache: {t:.3f} s")
        t = median_s(lambda: build_snapshot_data(clip, 2.0, version="bench"), args.runs)
        print(f"build_snapshot_data (hash, frame, cached face, audio, silence): {t:.3f} s")
        render_snapshot(synthetic_data(3.0))  # fonts and glyph caches: once per process
        for seconds in (3.0, 720.0):
            data = synthetic_data(seconds)
            t = median_s(lambda data=data: render_snapshot(data), args.runs)
            print(f"render_snapshot, {seconds:g} s clip ({int(seconds * 25)} model frames x 2 "
                  f"curves): {t:.3f} s")
        del app


if __name__ == "__main__":
    main()
