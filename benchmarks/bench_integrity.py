"""Cost of the damaged-file check (core.media.integrity.check_integrity). Prints medians;
asserts nothing.

    python benchmarks/bench_integrity.py [--out bench-out/integrity] [--repeat 5]

Generates (once, cached in ``--out``) a 10-second and a 10-minute 640x360 H.264 clip with 16 kHz
PCM sound (mkv, and mp4 with the index first), and copies of each cut at 30 % of its bytes.
For each it prints the median time of ``check_integrity`` (with the probe given, as the viewer
calls it) and whether the full demux from the start was needed: a whole file reads only its
last seconds, a cut one is demuxed once without decoding.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def write_clip(path: Path, duration_s: float, faststart: bool) -> None:
    import av
    import numpy as np

    fps, w, h, sr = 25, 640, 360, 16000
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (h, w * 2), dtype=np.uint8)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": "50"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("pcm_s16le", rate=sr, layout="mono")
        chroma = np.full((h // 2, w // 2), 128, np.uint8)
        per_frame = sr // fps
        for k in range(int(duration_s * fps)):
            x = (k * 7) % w
            frame = av.VideoFrame(w, h, "yuv420p")
            frame.planes[0].update(np.ascontiguousarray(texture[:, x:x + w]).tobytes())
            frame.planes[1].update(chroma.tobytes())
            frame.planes[2].update(chroma.tobytes())
            frame.pts = k
            for p in vs.encode(frame):
                out.mux(p)
            t = (np.arange(per_frame) + k * per_frame) / sr
            pcm = (3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)[None, :]
            af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            af.sample_rate, af.pts = sr, k * per_frame
            for p in aus.encode(af):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        for p in aus.encode(None):
            out.mux(p)


def main() -> None:
    from forensics_gui.core.media.decode import probe
    from forensics_gui.core.media.integrity import check_integrity

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench-out/integrity"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'clip':<26} {'size MB':>8} {'full scan':>9} {'median ms':>10}")
    for name, seconds in (("10s", 10.0), ("10min", 600.0)):
        for suffix, faststart in ((".mkv", False), (".mp4", True)):
            whole = args.out / f"{name}{suffix}"
            if not whole.exists():
                write_clip(whole, seconds, faststart)
            cut = args.out / f"{name}_cut30{suffix}"
            if not cut.exists():
                data = whole.read_bytes()
                cut.write_bytes(data[: int(len(data) * 0.3)])
            for path in (whole, cut):
                info = probe(path)
                times = []
                integ = None
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    integ = check_integrity(path, info)
                    times.append(time.perf_counter() - t0)
                assert integ is not None
                print(f"{path.name:<26} {path.stat().st_size / 1e6:8.1f} {str(integ.full_scan):>9} "
                      f"{statistics.median(times) * 1000:10.1f}")


if __name__ == "__main__":
    main()
