"""The whole `forensics-gui eval` command on an AV-Deepfake1M-sized test set, against the SDK.

Writes a synthetic set (default 20,000 clips in the SDK's minimal metadata, ~170,000 proposals in
file order, a `file;score` detection file) and prints, as median wall time of separate processes:
`forensics-gui eval --metadata M --scores S --proposals P --json` (reading, path matching, AUC/AP,
AP@IoU, AR@N), and, when `avdeepfake1m` 0.0.4 is installed, a process that runs the SDK's
compiled `ap_ar_1d` on the same two JSON files; then the largest difference of their AP and AR.

    .venv/bin/python benchmarks/bench_eval_command.py [--clips 20000] [--repeats 3]
        [--sdk-python /path/to/sdk-venv/bin/python]

``--sdk-python`` also times the SDK the way its users run it: ``from avdeepfake1m.evaluation
import ap_ar_1d`` in an environment where ``pip install avdeepfake1m==0.0.4`` installed it with
its own dependencies (torch, torchmetrics, pandas, OpenCV), which it imports on start.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SDK_SCRIPT = """
import importlib.util, json, sys
from pathlib import Path
spec = importlib.util.find_spec("avdeepfake1m")
so = sorted(Path(list(spec.submodule_search_locations)[0]).glob("_evaluation*.so"))[0]
s = importlib.util.spec_from_file_location("avdeepfake1m._evaluation", so)
m = importlib.util.module_from_spec(s); s.loader.exec_module(m)
r = m.ap_ar_1d(sys.argv[1], sys.argv[2], "file", "fake_segments", 1.0, [0.5, 0.75, 0.9, 0.95],
               [50, 30, 20, 10, 5], [round(0.5 + 0.05 * i, 2) for i in range(10)])
print(json.dumps({"ap": {f"{k:g}": v for k, v in r["ap"].items()},
                  "ar": {str(k): v for k, v in r["ar"].items()}}))
"""


def write_set(folder: Path, clips: int, seed: int = 0) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    meta, props, lines = [], {}, []
    for i in range(clips):
        name = f"test/id{i % 500:04d}/v{i:05d}/{i % 7:05d}.mp4"  # file names repeat across folders
        segs = []
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 4))):
                s = round(float(rng.uniform(0, 8)), 2)
                segs.append([s, round(s + float(rng.uniform(0.2, 1.5)), 2)])
        meta.append({"file": name, "fake_segments": segs})
        plist = []
        for _ in range(int(rng.integers(1, 17))):  # the SDK needs one proposal per clip at least
            s = float(rng.uniform(0, 9))
            plist.append([round(float(rng.uniform()), 2), round(s, 2),
                          round(s + float(rng.uniform(0.1, 1.5)), 2)])
        props[name] = plist
        lines.append(f"{name};{rng.random():.4f}")
    paths = folder / "test_metadata.json", folder / "prediction.json", folder / "prediction.txt"
    paths[0].write_text(json.dumps(meta))
    paths[1].write_text(json.dumps(props))
    paths[2].write_text("\n".join(lines) + "\n")
    return paths


SDK_AS_INSTALLED = """
import sys
from avdeepfake1m.evaluation import ap_ar_1d
ap_ar_1d(sys.argv[1], sys.argv[2], "file", "fake_segments", 1.0, [0.5, 0.75, 0.9, 0.95],
         [50, 30, 20, 10, 5], [round(0.5 + 0.05 * i, 2) for i in range(10)])
"""


def timed(cmd: list[str], repeats: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sdk-python", metavar="PYTHON",
                        help="interpreter of an environment with the SDK installed by pip with its "
                        "dependencies: also time it as its users run it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        meta, props, scores = write_set(Path(tmp), args.clips)
        n_props = sum(len(v) for v in json.loads(props.read_text()).values())
        print(f"{args.clips} clips, {n_props} proposals")
        ours_s, out = timed([sys.executable, "-m", "forensics_gui", "eval", "--metadata", str(meta),
                             "--scores", str(scores), "--proposals", str(props), "--json"],
                            args.repeats)
        loc = json.loads(out)["results"]["original"]["localisation"]
        print(f"forensics-gui eval (process, AUC + AP + AR): median {ours_s:.3f} s")
        if args.sdk_python:
            user_s, _ = timed([args.sdk_python, "-c", SDK_AS_INSTALLED, str(props), str(meta)],
                              args.repeats)
            print(f"SDK as installed by pip (process, `from avdeepfake1m.evaluation import "
                  f"ap_ar_1d`, AP + AR only): median {user_s:.3f} s; ratio ours/SDK "
                  f"{ours_s / user_s:.2f}")
        if importlib.util.find_spec("avdeepfake1m") is None:
            print("SDK avdeepfake1m not installed: ours alone")
            return
        sdk_s, out = timed([sys.executable, "-c", SDK_SCRIPT, str(props), str(meta)], args.repeats)
        theirs = json.loads(out)
        print(f"SDK ap_ar_1d (process, AP + AR only): median {sdk_s:.3f} s; ratio ours/SDK "
              f"{ours_s / sdk_s:.2f}")
        diff = max([abs(loc["ap_at_iou"][k] - v) for k, v in theirs["ap"].items()]
                   + [abs(loc["ar_at_n"][k] - v) for k, v in theirs["ar"].items()])
        print(f"largest |ours - SDK| over AP@0.5/0.75/0.9/0.95 and AR@50/30/20/10/5: {diff:.2e}")


if __name__ == "__main__":
    main()
