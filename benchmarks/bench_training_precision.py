"""Is bf16 training of Phi "within noise" of fp32? Validation-loss curves from the same start.

A synthetic but learnable store (``forensics_gui.testing.phi.SyntheticCorpus``: per clip a smooth
latent drives both streams, ``visual = tanh(z Wv) + noise``, ``audio = tanh(z Wa) + noise``, D=1024,
so the true alignment is learnable and the loss falls). Phi at the published sizes, one fixed
initialisation, trained with ``fast_loss`` as ``train_phi`` runs it on the CPU (chunks of 32,
batch 256, Adam lr 1e-4: the app's defaults) for the same number of steps:

- in float32 with several seeds, where the seed only changes the batch order: the seed-to-seed
  spread of the curves is the noise of training itself;
- in bfloat16 with the same seeds (same batch orders).

Every ``--every`` steps the validation loss (held-out clips, always evaluated in float32, mean
-log p(true offset) per frame) is printed for every run. The rule, fixed before looking: at every
evaluation after the start, (a) each bf16 curve lies inside the fp32 min..max envelope widened on
each side by half its width, and (b) |bf16 mean - fp32 mean| <= the fp32 spread (max - min). The
last line says whether it passed.

    python benchmarks/bench_training_precision.py [--seeds 3] [--steps 150] [--every 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--every", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=1024)
    args = ap.parse_args()
    if args.seeds < 2 or args.steps < 1 or args.every < 1:
        raise SystemExit("--seeds must be at least 2 and --steps and --every at least 1.")

    import torch

    from forensics_gui.core.alignment.feature_store import build_feature_store
    from forensics_gui.core.alignment.training import fast_loss, gather_batch, make_chunks
    from forensics_gui.core.cpu_linear import kernel_name
    from forensics_gui.testing.phi import SyntheticCorpus, random_phi_module, write_features

    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise SystemExit("This CPU has no fast bfloat16 arithmetic, so there is no bf16 run to judge.")
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = SyntheticCorpus(dim=args.dim, latent_dim=16, noise=0.5, seed=7)
        files = [write_features(Path(tmp) / f"clip_{i:03d}.npz", corpus.clip(200)) for i in range(48)]
        store = build_feature_store(files, Path(tmp) / "store")
        train = make_chunks(store.offsets, range(40), 32)
        val = make_chunks(store.offsets, range(40, 48), 32)
        per_batch = 256 // 32
        val_batch = [gather_batch(store, val.take(np.arange(i, min(i + per_batch, len(val)))))
                     for i in range(0, len(val), per_batch)]

        def evaluate(module) -> float:  # type: ignore[no-untyped-def]
            total = frames = 0.0
            with torch.no_grad():
                for v, a, m in val_batch:
                    n = float(m.sum())
                    total += float(fast_loss(module, *(torch.from_numpy(x) for x in (v, a, m)),
                                             precision="float32")) * n
                    frames += n
            return total / frames

        def run(precision: str, seed: int) -> list[float]:
            module = random_phi_module(args.dim, args.dim, seed=0)  # the same start for every run
            opt = torch.optim.Adam(module.parameters(), lr=1e-4)
            rng = np.random.default_rng(seed)
            order: list[int] = []
            curve = [evaluate(module)]
            for step in range(1, args.steps + 1):
                if len(order) < per_batch:
                    order += rng.permutation(len(train)).tolist()
                idx, order = np.asarray(order[:per_batch]), order[per_batch:]
                v, a, m = (torch.from_numpy(x) for x in gather_batch(store, train.take(idx)))
                loss = fast_loss(module, v, a, m, precision=precision)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if step % args.every == 0:
                    curve.append(evaluate(module))
            return curve

        curves = {(p, s): run(p, s) for s in range(args.seeds) for p in ("float32", "bfloat16")}
    points = [0] + list(range(args.every, args.steps + 1, args.every))
    print(f"{len(files)} synthetic clips (40 train, 8 validation), D={args.dim}, published Phi sizes, "
          f"batch 256, Adam lr 1e-4, {args.seeds} seeds (batch order), linear kernel {kernel_name()}")
    print("validation loss (nats per frame; evaluated in float32)")
    head = " ".join(f"fp32 s{s}" for s in range(args.seeds)) + "  " + " ".join(f"bf16 s{s}" for s in range(args.seeds))
    print(f"{'step':>5}  {head}   fp32 spread  |bf16-fp32| mean  ratio")
    ok = True
    worst = 0.0
    for j, step in enumerate(points):
        f = [curves["float32", s][j] for s in range(args.seeds)]
        b = [curves["bfloat16", s][j] for s in range(args.seeds)]
        spread = max(f) - min(f)
        diff = abs(statistics.mean(b) - statistics.mean(f))
        ratio = diff / spread if spread > 0 else (0.0 if diff == 0 else float("inf"))
        if step > 0:
            lo, hi = min(f) - spread / 2, max(f) + spread / 2
            inside = all(lo <= x <= hi for x in b)
            ok = ok and inside and diff <= spread
            worst = max(worst, ratio)
        print(f"{step:>5}  " + " ".join(f"{x:7.4f}" for x in f) + "  " + " ".join(f"{x:7.4f}" for x in b)
              + f"   {spread:10.5f}  {diff:15.5f}  {ratio:5.2f}")
    print(f"largest |bf16 mean - fp32 mean| / fp32 spread after the start: {worst:.2f}")
    print(f"rule: every bf16 curve inside the fp32 min..max envelope widened by half its width on each "
          f"side, and |bf16 mean - fp32 mean| <= fp32 spread, at every evaluation after the start: "
          f"{'PASSED' if ok else 'FAILED'}")
    print(f"{time.perf_counter() - t_start:.0f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
