"""Training throughput of Phi: the official AVH-Align step against ours, same CPU, same run.

Published sizes (D = 1024, Phi 512/512/256/128), batch 1024 frames, Adam lr 1e-5. Rows:

- official step (the baseline of every ratio): the published computation order and kernels. Each of
  the 1024 visual frames repeated 31 times against audio frames t-15..t+15 (zero vector outside
  the clip): inputs [1024, 31, 1024]; FusionModel forward with stock ``nn.Linear`` (PyTorch's
  default CPU kernel, MKL SGEMM); LogSoftmax(dim=1), index 15, loss = -sum; zero_grad, backward,
  Adam.step. Its inputs are built before the clock starts (the published loader builds them in
  32 worker processes), so the baseline is timed on compute alone.
- ours, fp32 / bf16 (chunks of 32): ``fast_loss`` as ``train_phi`` runs it on the CPU (projections
  and mlp.0 once per frame through oneDNN, the tail in cache-sized blocks; see
  ``forensics_gui/core/alignment/fast_ops.py``), timed WITH the gather from the memory-mapped store;
- ours, fp32, chunks of 1: the same with every frame shuffled on its own (31 audio rows each);
- ours before issue 16 (stock kernels, unblocked, fp32, chunks of 32): the previous implementation.

The methods run interleaved, one batch each per round (round 0 warms up), so changes in machine
load hit all alike; medians over the timed rounds. Also printed: the loss of ours and of the
official step on the same weights and batch (official = sum over the batch; ours = mean, so ours x
frames is compared) and the machine load before and after.

GPU (``--device cuda``): the official step in fp32 on the GPU, ours in fp32 and in bf16 autocast
(what ``train_phi`` runs there by default), each with its peak GPU memory; the CPU-only rows
(chunks of 1, before issue 16) are left out.

    python benchmarks/bench_training.py [--threads 2] [--batches 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

BASE = "official step"


def _make_store(root: Path, videos: int, frames: int, dim: int):  # type: ignore[no-untyped-def]
    from forensics_gui.core.alignment.feature_store import build_feature_store

    rng = np.random.default_rng(0)
    files = []
    for i in range(videos):
        p = root / f"v{i:03d}.npz"
        np.savez(p, visual=rng.standard_normal((frames, dim), dtype=np.float32),
                 audio=rng.standard_normal((frames, dim), dtype=np.float32))
        files.append(p)
    return build_feature_store(files, root / "store")  # L2-normalised per frame


def official_inputs(v, a, m):  # type: ignore[no-untyped-def]
    """The published batch from our gather: visual [B, 31, D] (frame repeated), audio [B, 31, D]."""
    vis = v[m]  # [B, D]
    aud = a.unfold(1, 31, 1).transpose(-1, -2)[m]  # [B, 31, D]; zeros outside the clip
    return vis[:, None, :].repeat(1, 31, 1).contiguous(), aud.contiguous()


def official_loss(model, vis, aud):  # type: ignore[no-untyped-def]
    import torch

    logits = model(vis, aud)  # [B, 31] (FusionModel: mlp(...)[..., 0])
    return -torch.nn.LogSoftmax(dim=1)(logits)[:, 15].sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, default=5, help="timed batches per method (+1 warm-up)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = ap.parse_args()
    if args.batches < 1 or args.batch_size < 32 or args.threads < 1:
        raise SystemExit("--batches and --threads must be at least 1 and --batch-size at least 32.")

    import torch

    from forensics_gui.core.alignment.training import fast_loss, gather_batch, make_chunks
    from forensics_gui.core.cpu_linear import kernel_name
    from forensics_gui.testing.phi import random_phi_module

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if gpu and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no GPU here.")
    bf16 = bool(torch.cuda.is_bf16_supported()) if gpu else bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    where = torch.cuda.get_device_name(device) if gpu else (
        f"CPU {platform.processor() or platform.machine()} "
        f"({torch.backends.cpu.get_cpu_capability()}), {args.threads} threads")

    def sync() -> None:
        if gpu:
            torch.cuda.synchronize(device)

    def to_dev(arrays):  # type: ignore[no-untyped-def]
        return tuple(torch.from_numpy(x).to(device) for x in arrays)
    with tempfile.TemporaryDirectory() as tmp:
        store = _make_store(Path(tmp), videos=48, frames=250, dim=args.dim)
        print(f"store: {store.num_videos} videos, {store.num_frames} frames, D={args.dim}; {where}, "
              f"torch {torch.__version__}; our linear kernel: {kernel_name(device)}; bf16 arithmetic: "
              f"{bf16}; batch {args.batch_size} frames")

        def batches_for(size: int, seed: int = 1):  # type: ignore[no-untyped-def]
            chunks = make_chunks(store.offsets, range(store.num_videos), size)
            order = np.random.default_rng(seed).permutation(len(chunks))
            per = args.batch_size // size
            return [chunks.take(order[i * per:(i + 1) * per]) for i in range(args.batches + 1)]

        def ours(size: int, **kw):  # type: ignore[no-untyped-def]
            module = random_phi_module(args.dim, args.dim, seed=0).to(device)
            opt = torch.optim.Adam(module.parameters(), lr=1e-5)
            parts = batches_for(size)
            amp = gpu and kw.get("precision") == "bfloat16"

            def step(r: int) -> int:
                v, a, m = to_dev(gather_batch(store, parts[r]))
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                    loss = fast_loss(module, v, a, m, **kw)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return int(m.sum())
            return step

        def official():  # type: ignore[no-untyped-def]
            module = random_phi_module(args.dim, args.dim, seed=0).to(device)
            opt = torch.optim.Adam(module.parameters(), lr=1e-5)
            inputs = []
            for part in batches_for(32):
                v, a, m = to_dev(gather_batch(store, part))
                inputs.append(official_inputs(v, a, m))

            def step(r: int) -> int:
                vis, aud = inputs[r]
                loss = official_loss(module, vis, aud)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return int(vis.shape[0])
            return step

        methods = {BASE: official(),
                   "ours fp32 (chunks of 32)": ours(32, precision="float32"),
                   "ours bf16 (chunks of 32)": ours(32, precision="bfloat16") if bf16 else None,
                   "ours fp32 (chunks of 1)": None if gpu else ours(1, precision="float32"),
                   "ours before issue 16 (fp32)": None if gpu else ours(32, blocked=False)}
        steps = {k: s for k, s in methods.items() if s is not None}
        times: dict[str, list[float]] = {k: [] for k in steps}
        frames: dict[str, list[int]] = {k: [] for k in steps}
        peak: dict[str, float] = {}
        for r in range(args.batches + 1):  # rounds interleave the methods
            for name, step in steps.items():
                if gpu:
                    torch.cuda.reset_peak_memory_stats(device)
                sync()
                t0 = time.perf_counter()
                n = step(r)
                sync()
                if r > 0:
                    times[name].append(time.perf_counter() - t0)
                    frames[name].append(n)
                if gpu:
                    peak[name] = max(peak.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)
        rate = {k: statistics.median(frames[k]) / statistics.median(times[k]) for k in steps}
        for name in steps:
            med = statistics.median(times[name])
            ratio = "" if name == BASE else f"   {rate[name] / rate[BASE]:5.1f}x vs official step"
            print(name, [round(t * 1000) for t in times[name]]) if os.environ.get("BENCH_VERBOSE") else None
            memory = f", peak {peak[name]:.2f} GiB" if name in peak else ""
            print(f"{name:<30} median {rate[name]:7.0f} frames/s ({med * 1000:6.0f} ms per batch, "
                  f"min {min(times[name]) * 1000:6.0f}{memory}){ratio}")

        # The same weights and batch through ours and the official step (no training).
        module = random_phi_module(args.dim, args.dim, seed=3).to(device)
        part = make_chunks(store.offsets, range(store.num_videos), 32).take(np.arange(args.batch_size // 32))
        v, a, m = to_dev(gather_batch(store, part))
        with torch.no_grad():
            ref = float(official_loss(module, *official_inputs(v, a, m)))
            frames_n = int(m.sum())
            for prec in ("float32", "bfloat16") if bf16 else ("float32",):
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                    enabled=gpu and prec == "bfloat16"):
                    got = float(fast_loss(module, v, a, m, precision=prec)) * frames_n
                print(f"loss, same weights and batch: official (sum) {ref:.4f}, ours {prec} (mean x "
                      f"{frames_n} frames) {got:.4f}: relative difference {abs(got - ref) / abs(ref):.1e}")
    print(f"load average (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, after "
          "{:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
