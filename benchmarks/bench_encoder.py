"""Throughput of the AV-HuBERT feature stages on a 10 s clip (250 frames at 25 fps), CPU.

Prints frames/s (median of several runs) for: log-fbank + stacking, the ResNet video front end,
and the encoder at BASE (768/12/12/3072) and LARGE (1024/24/16/4096) sizes running both passes
(audio-only + video-only) -- ours (SDPA attention, fused q/k/v, both passes as one batch of two,
channels-last ResNet) against a naive baseline in the same run with the same weights
(matmul-softmax attention, separate q/k/v, passes one after the other, NCHW ResNet, and the
zero-filled modality's front end computed and thrown away). Variants are timed round-robin so a
load change on a shared machine hits them alike; "best" is the fastest run. Random weights, sizes
as the official checkpoints. Also times loading a LARGE fp16 checkpoint file (unless --skip-load).

    python benchmarks/bench_encoder.py [--threads 2] [--runs 3] [--skip-load] [--sizes BASE,LARGE]
                                       [--device cpu|cuda] [--dtype float32|bfloat16|float16]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from forensics_gui.core.encoder.audio_features import stacked_features
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig
from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder, SelfAttention, VideoResNet

FRAMES = 250
SIZES = {"BASE": (768, 12, 12, 3072), "LARGE": (1024, 24, 16, 4096)}


_MIN_TIMES: dict[float, float] = {}
DEVICE = torch.device("cpu")
DTYPE = torch.float32


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def median_time(fn: Callable[[], object], runs: int, warmup: int = 1) -> float:
    """Median wall time in seconds; the fastest run is remembered for :func:`frames_per_s`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        _sync()
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    _MIN_TIMES[median] = min(times)
    return median


def naive_attention(self: SelfAttention, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    b, t, d = x.shape
    h = self.heads
    q = (self.q_proj(x) * (d // h) ** -0.5).view(b, t, h, -1).transpose(1, 2)
    k = self.k_proj(x).view(b, t, h, -1).transpose(1, 2)
    v = self.v_proj(x).view(b, t, h, -1).transpose(1, 2)
    scores = q @ k.transpose(-1, -2)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, -math.inf)
    y = torch.softmax(scores.float(), dim=-1).type_as(q) @ v
    return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


def make_model(size: str) -> AVHubertEncoder:
    d, layers, heads, ffn = SIZES[size]
    torch.manual_seed(0)
    model = AVHubertEncoder(AVHubertConfig(embed_dim=d, layers=layers, heads=heads, ffn_dim=ffn)).eval()
    model.requires_grad_(False)
    return model.to(DEVICE, DTYPE)


def naive_resnet_run(self: VideoResNet, x: torch.Tensor) -> torch.Tensor:
    y = self.frontend3D(x)
    b, c, t, h, w = y.shape
    y = y.transpose(1, 2).reshape(b * t, c, h, w)  # plain NCHW layout
    return self.trunk(y).view(b, t, -1)


def make_naive(size: str) -> AVHubertEncoder:
    """Same weights as :func:`make_model`, with matmul-softmax attention and NCHW ResNet layout."""
    model = make_model(size)
    for layer in model.encoder.layers:
        layer.self_attn.forward = types.MethodType(naive_attention, layer.self_attn)
    resnet = model.feature_extractor_video.resnet
    resnet._run = types.MethodType(naive_resnet_run, resnet)
    return model


def frames_per_s(seconds: float) -> str:
    """Median frames/s, with the best run in brackets (the CPUs may be shared with other jobs)."""
    best = _MIN_TIMES.get(seconds, seconds)
    return (f"{FRAMES / seconds:7.1f} frames/s (best {FRAMES / best:6.1f}; "
            f"{seconds * 1000:7.1f} ms per 10 s clip)")


def race(variants: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds per variant, timing the variants in turn (round-robin) so that a load
    change on a shared machine hits all of them alike; best runs go to :data:`_MIN_TIMES`."""
    for fn in variants.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            _sync()
            t0 = time.perf_counter()
            fn()
            _sync()
            times[name].append(time.perf_counter() - t0)
    medians = {}
    for name, ts in times.items():
        medians[name] = statistics.median(ts)
        _MIN_TIMES[medians[name]] = min(ts)
    return medians


def bench_size(size: str, stacked: torch.Tensor, video: torch.Tensor, runs: int) -> None:
    """Ours vs naive for one model size (same random weights), encoder only and with front ends."""
    d = SIZES[size][0]
    ours = make_model(size)
    ours.fuse_qkv()
    naive = make_naive(size)
    fa = ours.feature_extractor_audio(stacked)
    fv = torch.randn(1, FRAMES, d, device=DEVICE, dtype=DTYPE)

    def ours_encoder() -> None:
        zeros = torch.zeros_like(fa)
        x = torch.cat([torch.cat([fa, zeros], -1), torch.cat([zeros, fv], -1)])
        ours.encoder(ours.post_extract_proj(ours.layer_norm(x)))

    def ours_separate() -> None:
        ours.encoder(ours._fuse(fa, None))
        ours.encoder(ours._fuse(None, fv))

    def naive_encoder() -> None:
        naive.encoder(naive._fuse(fa, None))
        naive.encoder(naive._fuse(None, fv))

    t = race({"ours": ours_encoder, "separate": ours_separate, "naive": naive_encoder}, runs)
    print(f"{size:5s} encoder, both passes, ours     {frames_per_s(t['ours'])}")
    print(f"{size:5s} encoder, ours, passes separate {frames_per_s(t['separate'])}")
    print(f"{size:5s} encoder, both passes, naive    {frames_per_s(t['naive'])}"
          f"   -> ours x{t['naive'] / t['ours']:.2f}")

    def naive_full() -> None:
        a = naive.feature_extractor_audio(stacked)
        naive.feature_extractor_video(torch.zeros_like(video))  # wasted: zeroed anyway
        naive.encoder(naive._fuse(a, None))
        naive.feature_extractor_audio(torch.zeros_like(stacked))  # wasted
        naive.encoder(naive._fuse(None, naive.feature_extractor_video(video)))

    t = race({"ours": lambda: ours.extract_two_passes(stacked, video), "naive": naive_full},
             max(1, runs // 2))
    print(f"{size:5s} front ends + both passes, ours {frames_per_s(t['ours'])}")
    print(f"{size:5s} front ends + both passes, naive{frames_per_s(t['naive'])}"
          f"   -> ours x{t['naive'] / t['ours']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="BASE,LARGE")
    parser.add_argument("--skip-load", action="store_true", help="do not write/load a LARGE checkpoint")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--dtype", default="float32", help="float32 (default); bfloat16/float16 on a GPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE, DTYPE
    from forensics_gui.core.encoder.devices import (
        resolve_device,
        resolve_dtype,
        set_parity_numerics,
    )

    DEVICE = resolve_device(args.device)
    DTYPE = resolve_dtype(args.dtype, DEVICE)
    set_parity_numerics()
    print(f"device {DEVICE}, dtype {str(DTYPE).replace('torch.', '')}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, clip = {FRAMES} frames (10 s), "
          f"load average {load} on {os.cpu_count()} CPUs")

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(FRAMES * 640)).astype(np.float32)
    t = median_time(lambda: stacked_features(audio), max(args.runs, 5))
    print(f"log-fbank + stack (numpy)            {frames_per_s(t)}")
    stacked = torch.from_numpy(stacked_features(audio))[None].to(DEVICE, DTYPE)
    video = torch.randn(1, 1, FRAMES, 88, 88).to(DEVICE, DTYPE)

    with torch.inference_mode():
        front = make_model("BASE").feature_extractor_video
        naive_front = make_naive("BASE").feature_extractor_video
        t = race({"ours": lambda: front(video), "naive": lambda: naive_front(video)}, args.runs)
        print(f"ResNet-18 video front end, ours      {frames_per_s(t['ours'])}")
        print(f"ResNet-18 video front end, NCHW      {frames_per_s(t['naive'])}"
              f"   -> ours x{t['naive'] / t['ours']:.2f}")
        for size in [s.strip().upper() for s in args.sizes.split(",") if s.strip()]:
            bench_size(size, stacked, video, args.runs)

    if not args.skip_load:
        from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
        from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint

        with tempfile.TemporaryDirectory(prefix="bench-avh-") as tmp:
            path = Path(tmp) / "large_fp16.pt"
            t0 = time.perf_counter()
            write_fake_avhubert_checkpoint(path, layers=24, dim=1024, heads=16, ffn=4096, finetuned=True)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_avhubert(path)
            t_load = time.perf_counter() - t0
            size_mb = path.stat().st_size / 1e6
            print(f"LARGE fp16 checkpoint ({size_mb:.0f} MB): written in {t_write:.1f} s, "
                  f"loaded (safe unpickle + fp32 cast + fold + strict) in {t_load:.1f} s")


if __name__ == "__main__":
    main()
