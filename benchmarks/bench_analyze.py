"""End-to-end ``analyze`` of a 10 s talking-face clip with LARGE-size models on this CPU.

Single clip (default): a 10 s, 25 fps, 1280x720 synthetic talking face (``make_clip``) through
:meth:`Analyzer.analyze` with a random-weight AV-HuBERT LARGE checkpoint in the official layout
(dim 1024, 24 layers, 16 heads, FFN 4096, fp16 storage as the published files; written once to
``bench-out/`` and reused) and a published-size Phi (1024-dim features). Every cold run uses a new
empty cache folder (FORENSICS_GUI_CACHE), so every stage runs; a Progress object timestamps each
stage change, giving the per-stage breakdown (hash, audio, landmarks, mouth crop, ROI round trip,
video front end, encoder, scoring). Then the same clip again with the cache kept (second
analysis). Model loading is a one-time cost per process (the GUI and ``batch`` keep the models
loaded between clips), so it is printed separately and NOT counted in the per-clip total.
Target: per-clip total <= 15 s on the 2-core CPU.

Batch (``--batch``): N short clips (default 4 x 3 s, 640x480) through
:meth:`Analyzer.analyze_many` (what ``forensics-gui batch`` runs) one after the other
(lookahead 0) and with the next clip's hashing/audio/face tracking/ROI round trip in a background
thread while the current one is encoded (lookahead 1), with the default encoder threads and with
one fewer; cold cache each time, round-robin, median of ``--batch-runs``; prints the ratios.

    python benchmarks/bench_analyze.py [--runs 3] [--threads 2] [--width 1280 --height 720]
                                       [--seconds 10] [--batch] [--batch-only] [--clips 4]
                                       [--batch-seconds 3] [--batch-runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-out"
LAYERS, DIM, HEADS, FFN = 24, 1024, 16, 4096  # AV-HuBERT LARGE


class StageTimer:
    """Progress that records when each stage starts (seconds since ``start``)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: list[tuple[float, str]] = []

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if not self.marks or self.marks[-1][1] != stage:
            self.marks.append((time.perf_counter() - self.t0, stage))

    def cancelled(self) -> bool:
        return False

    def durations(self, end_s: float) -> dict[str, float]:
        """Seconds spent per stage name (a stage seen twice is summed)."""
        out: dict[str, float] = {}
        bounds = [t for t, _ in self.marks[1:]] + [end_s]
        for (t, stage), stop in zip(self.marks, bounds, strict=True):
            out[stage] = out.get(stage, 0.0) + stop - t
        if self.marks and self.marks[0][0] > 0:
            out["(before first stage)"] = self.marks[0][0]
        return out


def models() -> tuple[Path, Path]:
    """The LARGE fp16 AV-HuBERT and a 1024-dim Phi under bench-out/ (written on first use)."""
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi

    OUT.mkdir(exist_ok=True)
    ckpt = OUT / "bench_avhubert_large_fp16.pt"
    phi = OUT / "bench_phi_1024.pt"
    if not ckpt.is_file():
        t = time.perf_counter()
        write_fake_avhubert_checkpoint(ckpt, layers=LAYERS, dim=DIM, heads=HEADS, ffn=FFN,
                                       finetuned=False, fp16=True)
        print(f"wrote {ckpt.name} ({ckpt.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    if not phi.is_file():
        write_published_phi(phi, visual_dim=DIM, audio_dim=DIM)
    return ckpt, phi


def clip(name: str, seconds: float, width: int, height: int, seed: int = 0) -> Path:
    from forensics_gui.testing.synth import make_clip

    path = OUT / name
    if not path.is_file():
        make_clip(path, duration_s=seconds, width=width, height=height, leading_silence_ms=120,
                  seed=seed)
    return path


def fresh_cache(tmp: Path, tag: str) -> None:
    os.environ["FORENSICS_GUI_CACHE"] = str(tmp / f"cache-{tag}-{time.perf_counter_ns()}")


def bench_single(args: argparse.Namespace, tmp: Path) -> None:
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    ckpt, phi = models()
    video = clip(f"bench_talk_{args.width}x{args.height}_{args.seconds:g}s.mp4", args.seconds,
                 args.width, args.height)
    print(f"clip: {video.name} ({args.seconds:g} s, 25 fps, {args.width}x{args.height}); "
          f"AV-HuBERT LARGE random weights (fp16 file, float32 compute), Phi 1024-dim; "
          f"torch threads {args.threads}")
    options = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu")
    fresh_cache(tmp, "load")
    t = time.perf_counter()
    analyzer = Analyzer(options)
    analyzer.load_models()
    from forensics_gui.core.face.landmarks import preload_models

    preload_models()
    load_s = time.perf_counter() - t
    print(f"model loading (one-time per process, not in the per-clip total): {load_s:.2f} s")

    totals: list[float] = []
    stage_runs: list[dict[str, float]] = []
    for r in range(args.runs):
        fresh_cache(tmp, f"cold{r}")
        analyzer._cache = None  # the cache object reads FORENSICS_GUI_CACHE when first used
        timer = StageTimer()
        analysis = analyzer.analyze(video, progress=timer)
        total = time.perf_counter() - timer.t0
        totals.append(total)
        stage_runs.append(timer.durations(total))
        score = analysis.main.video_score if analysis.main is not None else float("nan")
        print(f"  cold run {r + 1}: {total:.2f} s  (video score {score:.4f})")
    names: list[str] = []
    for run in stage_runs:
        for s in run:
            if s not in names:
                names.append(s)
    med = statistics.median(totals)
    print(f"cold analysis, median of {len(totals)}: {med:.2f} s  (target <= 15 s: "
          f"{'met' if med <= 15 else 'NOT met'}); with model loading {med + load_s:.2f} s")
    for s in names:
        vals = [run.get(s, 0.0) for run in stage_runs]
        print(f"    {s:<22} {statistics.median(vals):6.2f} s")
    cached: list[float] = []
    for _ in range(args.runs):
        timer = StageTimer()
        analyzer.analyze(video, progress=timer)
        cached.append(time.perf_counter() - timer.t0)
    print(f"second (cached) analysis, median of {len(cached)}: {statistics.median(cached):.2f} s  "
          f"(stages: {', '.join(s for _, s in timer.marks)})")


def bench_batch(args: argparse.Namespace, tmp: Path) -> None:
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    ckpt, phi = models()
    videos = [clip(f"bench_batch_{i}_{args.batch_seconds:g}s.mp4", args.batch_seconds, 640, 480,
                   seed=i) for i in range(args.clips)]
    analyzer = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu"))
    analyzer.load_models()
    print(f"batch: {args.clips} clips x {args.batch_seconds:g} s (640x480), LARGE, cold cache")
    import torch

    threads = torch.get_num_threads()
    configs = [(0, threads), (1, threads)] + ([(1, threads - 1)] if threads > 1 else [])
    times: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    for _ in range(args.batch_runs):
        for lookahead, n in configs:  # round-robin, so a load change hits each alike
            torch.set_num_threads(n)
            fresh_cache(tmp, f"batch{lookahead}-{n}")
            analyzer._cache = None
            t = time.perf_counter()
            results = list(analyzer.analyze_many(videos, lookahead=lookahead))
            times[(lookahead, n)].append(time.perf_counter() - t)
            bad = [r for r in results if r.error is not None]
            if bad:
                raise SystemExit(f"batch clip failed: {bad[0].error}")
    torch.set_num_threads(threads)
    seq = statistics.median(times[configs[0]])
    print(f"  sequential (lookahead 0), {threads} encoder threads: {seq:.2f} s  "
          f"(runs: {', '.join(f'{x:.2f}' for x in times[configs[0]])})")
    for c in configs[1:]:
        med = statistics.median(times[c])
        print(f"  overlapped (lookahead 1), {c[1]} encoder thread(s): {med:.2f} s  speed-up x{seq / med:.2f}"
              f"  (runs: {', '.join(f'{x:.2f}' for x in times[c])})")
    print(f"  (median of {args.batch_runs}; `forensics-gui batch` overlaps by default, --sequential "
          "turns it off, --threads N sets the encoder threads)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batch", action="store_true", help="also run the batch overlap benchmark")
    ap.add_argument("--batch-only", action="store_true", help="only the batch benchmark")
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--batch-seconds", type=float, default=3.0)
    ap.add_argument("--batch-runs", type=int, default=3)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="fg-bench-analyze-") as tmp:
        if not args.batch_only:
            bench_single(args, Path(tmp))
        if args.batch or args.batch_only:
            bench_batch(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
