"""Throughput of the AV-HuBERT audio front-end (log fbank + stack + layer norm).

Prints, for a 10 s clip and a 1-hour clip, the median wall time over repeats and the throughput
in 25 fps video frames per second of :func:`stacked_features`, next to python_speech_features'
``logfbank`` (+ the same stacking/norm) on the same samples, and the speed ratio.

    python benchmarks/bench_audio_features.py [--repeats N] [--long-seconds S]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from forensics_gui.core.encoder import audio_features as af


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000.0
    x = 0.1 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(n)
    return x.astype(np.float32)


def _median_time(fn, x: np.ndarray, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _psf_stacked(x: np.ndarray) -> np.ndarray:
    from python_speech_features import logfbank

    return af.layer_norm(af.stack_frames(logfbank(x).astype(np.float32)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats for the 10 s clip")
    parser.add_argument("--long-seconds", type=float, default=3600.0, help="length of the long clip")
    parser.add_argument("--long-repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        import python_speech_features  # noqa: F401

        have_psf = True
    except ImportError:
        have_psf = False
    for seconds, repeats in ((10.0, args.repeats), (args.long_seconds, args.long_repeats)):
        x = _signal(seconds)
        frames = len(x) // 640  # 25 fps video frames covered by the clip
        ours = _median_time(af.stacked_features, x, repeats)
        line = (f"{seconds:>7.0f} s clip: stacked_features {ours * 1000:9.1f} ms median of {repeats}"
                f" = {frames / ours:12.0f} frames/s (25 fps frames)")
        if have_psf:
            ref = _median_time(_psf_stacked, x, repeats)
            line += f"; python_speech_features {ref * 1000:9.1f} ms = {frames / ref:12.0f} frames/s;"
            line += f" speed-up x{ref / ours:.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
