"""Training throughput of Phi: our fast loop against the published structure, same data and CPU.

Published sizes (D = 1024, Phi 512/512/256/128), batch 1024 frames, Adam. Per batch: gather from
the memory-mapped store + forward + backward + optimizer step. The methods run interleaved, one
batch each per round, so changes in machine load hit all alike. Prints frames/s (median and best
over batches) for

- fast (chunks of 32): projections and mlp.0 once per frame, the MLP tail on the 31 pairs;
- fast (chunks of 1): the same loss with every frame shuffled on its own (31 audio rows each);
- shared tail only: the LN/ReLU/Linear tail on the 31 pairs alone (+ log-softmax), which both
  loops must run, so published/tail is the best ratio any exact method could reach here;
- published: 31 copies of every visual frame through the whole network,

the ratios to the published structure, and the loss both give for the same weights and batch.

Upper bound of the ratio from multiply-adds alone: the published structure spends
31 x (1024*512*2 [projections] + 1024*512 [mlp.0] + 512*256 + 256*128 + 128) per frame, the
fast one (1 + (C+30)/C) x 1024*512 + ... + 31 x (512*256 + 256*128 + 128): about 10.6x at most,
so ~7-9x measured is close to the limit.

    python benchmarks/bench_training.py [--threads 2] [--batches 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _make_store(root: Path, videos: int, frames: int, dim: int):  # type: ignore[no-untyped-def]
    from forensics_gui.core.alignment.feature_store import build_feature_store

    rng = np.random.default_rng(0)
    files = []
    for i in range(videos):
        p = root / f"v{i:03d}.npz"
        np.savez(p, visual=rng.standard_normal((frames, dim), dtype=np.float32),
                 audio=rng.standard_normal((frames, dim), dtype=np.float32))
        files.append(p)
    return build_feature_store(files, root / "store")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, default=5, help="timed batches per loop (+1 warm-up)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch

    from forensics_gui.core.alignment.training import (
        fast_loss,
        gather_batch,
        make_chunks,
        naive_loss,
    )
    from forensics_gui.testing.phi import random_phi_module

    torch.set_num_threads(args.threads)
    dev = args.device
    with tempfile.TemporaryDirectory() as tmp:
        store = _make_store(Path(tmp), videos=48, frames=250, dim=args.dim)
        print(f"store: {store.num_videos} videos, {store.num_frames} frames, D={args.dim}, "
              f"device {dev}, {args.threads} threads, batch {args.batch_size} frames")

        def make_step(loss_fn, module, opt):  # type: ignore[no-untyped-def]
            def step(chunks):  # type: ignore[no-untyped-def]
                v, a, m = (torch.from_numpy(x).to(dev) for x in gather_batch(store, chunks))
                loss = loss_fn(module, v, a, m)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return int(m.sum())
            return step

        hidden_cache: dict[tuple[int, ...], torch.Tensor] = {}

        def tail_only(module, v, a, m):  # type: ignore[no-untyped-def]
            """The part both loops share: the MLP tail on [n, C, 31, 512] + log-softmax."""
            shape = (*m.shape, 31, module.mlp[0].out_features)
            if shape not in hidden_cache:
                hidden_cache[shape] = torch.randn(shape, device=dev, requires_grad=True)
            logp = torch.log_softmax(module.tail(hidden_cache[shape]), dim=-1)[..., 15]
            return -(logp * m).sum() / m.sum()

        methods = (("fast (chunks of 64)", fast_loss, 64), ("fast (chunks of 32)", fast_loss, 32),
                   ("fast (chunks of 1)", fast_loss, 1), ("shared tail only", tail_only, 32),
                   ("published structure", naive_loss, 32))
        steps, batches = {}, {}
        for name, loss_fn, size in methods:
            chunks = make_chunks(store.offsets, range(store.num_videos), size)
            order = np.random.default_rng(1).permutation(len(chunks))
            per = args.batch_size // size
            batches[name] = [chunks.take(order[i * per:(i + 1) * per]) for i in range(args.batches + 1)]
            module = random_phi_module(args.dim, args.dim, seed=0).to(dev)
            steps[name] = make_step(loss_fn, module, torch.optim.Adam(module.parameters(), lr=1e-5))
        # Rounds interleave the methods, so a change in machine load hits all of them alike.
        times: dict[str, list[float]] = {name: [] for name, _, _ in methods}
        frames: dict[str, list[int]] = {name: [] for name, _, _ in methods}
        for r in range(args.batches + 1):
            for name, _, _ in methods:
                t0 = time.perf_counter()
                n = steps[name](batches[name][r])
                if dev == "cuda":
                    torch.cuda.synchronize()
                if r > 0:  # round 0 warms up
                    times[name].append(time.perf_counter() - t0)
                    frames[name].append(n)
        results, best = {}, {}
        for name, _, _ in methods:
            med, low = statistics.median(times[name]), min(times[name])
            results[name] = statistics.median(frames[name]) / med
            best[name] = statistics.median(frames[name]) / low
            print(f"{name:<22} median {results[name]:7.0f} frames/s ({med * 1000:5.0f} ms per batch); "
                  f"best {best[name]:7.0f} frames/s ({low * 1000:5.0f} ms)")
        for label, res in (("median", results), ("best", best)):
            base = res["published structure"]
            ratios = ", ".join(f"{name} {res[name] / base:.1f}x" for name in
                               ("fast (chunks of 64)", "fast (chunks of 32)", "fast (chunks of 1)"))
            print(f"ratio to published ({label}): {ratios}; upper bound for any exact method "
                  f"(shared tail only) {res['shared tail only'] / base:.1f}x")

        module = random_phi_module(args.dim, args.dim, seed=3).to(dev)
        chunks = make_chunks(store.offsets, range(store.num_videos), 32)
        batch = chunks.take(np.arange(args.batch_size // 32))
        v, a, m = (torch.from_numpy(x).to(dev) for x in gather_batch(store, batch))
        with torch.no_grad():
            lf, ln = float(fast_loss(module, v, a, m)), float(naive_loss(module, v, a, m))
        print(f"loss, same weights and batch: fast {lf:.7f}  published {ln:.7f}  "
              f"relative difference {abs(lf - ln) / abs(ln):.1e}")


if __name__ == "__main__":
    main()
