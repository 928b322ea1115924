"""Media access latency and memory. Prints numbers (medians); asserts nothing.

    python benchmarks/bench_media.py [--out bench-out] [--seeks 30]

Generates (once, cached in ``--out``) a 10-minute 1080p H.264 clip and a 2-minute 720p clip
(textured scrolling content, 2-second keyframe interval, 16 kHz PCM audio), then measures in a fresh child process each:
- open to first frame: ``VideoReader(path).frame_at(0)`` (probe + open + first decode),
- frame-time index build (demux only, runs in the background after open),
- random seek to the displayed frame at a random time (median / p90 over ``--seeks``),
- frame stepping (next frame, sequential decode),
- peak resident memory (VmHWM) of the child while opening and seeking the 1080p clip,
- decode_audio of the whole 10-minute track (native rate and 16 kHz mono).
Targets: first frame <= 1 s, seek <= 50 ms median, peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLIPS = {
    "1080p_10min": dict(duration_s=600.0, width=1920, height=1080),
    "720p_2min": dict(duration_s=120.0, width=1280, height=720),
}


def write_bench_clip(path: Path, duration_s: float, width: int, height: int, fps: int = 25) -> None:
    """A textured scrolling scene (so decoding costs what real footage costs) with the frame
    index in binary blocks, H.264 ultrafast, 2 s keyframe interval, 16 kHz mono PCM speech.

    Frames go to the encoder as yuv420p planes (no RGB conversion), to keep generation short.
    """
    import av
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from forensics_gui.core.files.atomic import atomic_path
    from forensics_gui.testing.synth import speech_signal

    rng = np.random.default_rng(0)
    tex = gaussian_filter(rng.uniform(0, 255, (height, width * 2)), 3.0)
    tex = (60 + (tex - tex.mean()) * 6).clip(16, 235).astype(np.uint8)
    chroma = np.full((height // 2, width), 128, np.uint8)
    n = int(round(duration_s * fps))
    sr = 16000
    speech, _ = speech_signal(duration_s, sr, seed=1)
    pcm = (np.clip(speech + rng.standard_normal(len(speech)) * 0.004, -1, 1) * 32767).astype(np.int16)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w") as c:
            vs = c.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"preset": "ultrafast", "crf": "23", "g": str(2 * fps)}
            aus = c.add_stream("pcm_s16le", rate=sr, layout="mono")
            bw = width // 12
            for i in range(n):
                off = (i * 7) % width
                y = np.empty((height * 3 // 2, width), np.uint8)
                y[:height] = tex[:, off:off + width]
                for b in range(12):
                    y[: height // 5, b * bw:(b + 1) * bw] = 235 if (i >> (11 - b)) & 1 else 16
                y[height:] = chroma
                frame = av.VideoFrame.from_ndarray(y, format="yuv420p")
                frame.pts = i
                for p in vs.encode(frame):
                    c.mux(p)
                a0, a1 = i * sr // fps, (i + 1) * sr // fps
                af = av.AudioFrame.from_ndarray(pcm[None, a0:a1], format="s16", layout="mono")
                af.sample_rate, af.pts = sr, a0
                for p in aus.encode(af):
                    c.mux(p)
            for stream in (vs, aus):
                for p in stream.encode(None):
                    c.mux(p)


def ensure_clip(out: Path, name: str) -> Path:
    path = out / f"bench_{name}.mp4"
    if not path.exists():
        t0 = time.perf_counter()
        print(f"generating {path} (once) ...", file=sys.stderr, flush=True)
        write_bench_clip(path, **CLIPS[name])  # type: ignore[arg-type]
        print(f"  done in {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 1e6:.0f} MB",
              file=sys.stderr)
    return path


def _vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def measure(path: str, seeks: int, audio: bool) -> dict[str, float]:
    """Run in a child process so its peak memory is that of the reader alone."""
    import numpy as np

    from forensics_gui.core.media.decode import VideoReader, decode_audio

    res: dict[str, float] = {"rss_start_mb": _vm_hwm_mb()}
    opens = []
    for _ in range(5):
        t0 = time.perf_counter()
        with VideoReader(path) as reader:
            reader.frame_at(0.0)
            opens.append(time.perf_counter() - t0)
    res["open_first_frame_s"] = statistics.median(opens)
    rng = np.random.default_rng(0)
    with VideoReader(path) as reader:
        reader.frame_at(0.0)
        t0 = time.perf_counter()
        times = reader.frame_times()
        res["index_wait_s"] = time.perf_counter() - t0
        res["frames"] = len(times)
        lat = []
        for t in rng.uniform(0, times[-1], seeks):
            t0 = time.perf_counter()
            reader.frame_at(float(t))
            lat.append(time.perf_counter() - t0)
        res["seek_median_ms"] = 1000 * statistics.median(lat)
        res["seek_p90_ms"] = 1000 * float(np.percentile(lat, 90))
        start = reader.frame_at(float(times[len(times) // 2])).index
        t0 = time.perf_counter()
        for i in range(start + 1, start + 101):
            reader.frame_by_index(i)
        res["step_ms"] = 1000 * (time.perf_counter() - t0) / 100
    res["peak_rss_mb"] = _vm_hwm_mb()
    if audio:
        t0 = time.perf_counter()
        track = decode_audio(path)
        res["audio_native_s"] = time.perf_counter() - t0
        res["audio_seconds"] = track.duration_s
        del track
        t0 = time.perf_counter()
        decode_audio(path, sample_rate=16000, mono=True)
        res["audio_16k_mono_s"] = time.perf_counter() - t0
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--seeks", type=int, default=30)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "AUDIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.seeks, args.child[1] == "1")))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for name in CLIPS:
        path = ensure_clip(args.out, name)
        out = subprocess.run([sys.executable, __file__, "--seeks", str(args.seeks), "--child",
                              str(path), "1" if name.startswith("1080p") else "0"],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"[{name}] {int(r['frames'])} frames")
        print(f"  open to first frame   median {r['open_first_frame_s'] * 1000:7.1f} ms  (target <= 1000)")
        print(f"  frame index ready     after  {r['index_wait_s'] * 1000:7.1f} ms more (background demux)")
        print(f"  random seek           median {r['seek_median_ms']:7.1f} ms  p90 {r['seek_p90_ms']:.1f} ms"
              f"  (target <= 50, {args.seeks} seeks)")
        print(f"  next-frame step       mean   {r['step_ms']:7.1f} ms")
        print(f"  peak RSS              {r['peak_rss_mb']:7.0f} MB  (interpreter alone "
              f"{r['rss_start_mb']:.0f} MB; target < 500)")
        if "audio_native_s" in r:
            print(f"  decode_audio {r['audio_seconds']:.0f} s    native {r['audio_native_s']:.2f} s, "
                  f"16 kHz mono {r['audio_16k_mono_s']:.2f} s")


if __name__ == "__main__":
    main()
