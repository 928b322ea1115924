"""Checkpoint reading: our data-only reader against ``torch.load`` on the same file, in one run.

Prints the median of ``--runs`` reads of a random-weight fine-tuned checkpoint in the official
layout (fp16, zip and legacy formats) with (a) ``read_checkpoint`` (allow-list unpickler, own zip
and legacy reader, storages as views of a private map) and (b) ``torch.load(mmap=True)`` with
fairseq stand-in classes registered (the unsafe loader, only as a speed reference), then the
full ``load_avhubert`` (read + checks + fp32 cast + weight-norm fold + NaN check), and the peak
RSS growth over the imports and the memory still resident afterwards, each in a fresh process.

    .venv/bin/python benchmarks/bench_checkpoint_load.py --size BASE --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = {"TINY": (2, 64, 4, 128), "BASE": (12, 768, 12, 3072), "LARGE": (24, 1024, 16, 4096)}

_STEP = """
import json, sys, time
import torch
torch.set_num_threads(2)
step, path = sys.argv[1], sys.argv[2]
def status_kib(field):  # VmHWM, unlike ru_maxrss, is not inherited from the forking parent
    return [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field)][0]
before, resident = status_kib("VmHWM"), status_kib("VmRSS")
t0 = time.perf_counter()
if step == "read":
    from forensics_gui.core.encoder.avhubert.checkpoint import read_checkpoint
    read_checkpoint(path)
elif step == "torch.load":
    from forensics_gui.testing.checkpoints import fake_modules
    with fake_modules():
        torch.load(path, weights_only=False, mmap=path.endswith("zip.pt"))
else:
    from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
    load_avhubert(path)
seconds = time.perf_counter() - t0
grew = status_kib("VmHWM") - before
print(json.dumps({"s": seconds, "rss_mib": grew / 1024, "held_mib": (status_kib("VmRSS") - resident) / 1024}))
"""


def run_step(step: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _STEP, step, str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="BASE")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint

    layers, dim, heads, ffn = SIZES[args.size]
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        for fmt in ("zip", "legacy"):
            path = Path(tmp) / f"{args.size.lower()}_{fmt}.pt"
            write_fake_avhubert_checkpoint(path, layers=layers, dim=dim, heads=heads, ffn=ffn, finetuned=True,
                                           zip_format=fmt == "zip")
            print(f"{args.size} fine-tuned fp16, {fmt} format, {path.stat().st_size / 1e6:.0f} MB "
                  f"(median of {args.runs}, fresh process each):")
            results = {}
            for step in ("read", "torch.load", "load_avhubert"):
                runs = [run_step(step, path) for _ in range(args.runs)]
                results[step] = statistics.median(r["s"] for r in runs)
                rss = statistics.median(r["rss_mib"] for r in runs)
                held = statistics.median(r["held_mib"] for r in runs)
                print(f"  {step:14s} {results[step]:6.2f} s   peak RSS +{rss:6.0f} MiB   resident after "
                      f"+{held:6.0f} MiB")
            print(f"  read_checkpoint / torch.load time: x{results['read'] / results['torch.load']:.2f}")


if __name__ == "__main__":
    main()
