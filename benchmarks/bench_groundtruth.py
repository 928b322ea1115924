"""How long a large AV-Deepfake1M metadata list takes to parse and to look a clip up in.

:func:`forensics_gui.core.results.groundtruth.load_metadata` reads the file with one
``json.load`` and parses each entry once (tests/core/test_groundtruth.py checks that shape);
this prints what it costs. Printed: median of ``--runs`` for 50,000 and ``--large`` entries
(1,000,000 by default, the size of AV-Deepfake1M's train list), and one suffix lookup.

    python benchmarks/bench_groundtruth.py [--runs 3] [--large 1000000]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from forensics_gui.core.results.groundtruth import load_metadata


def _entries(n: int) -> list[dict[str, object]]:
    return [{"file": f"train/id{i:07d}/v/fake.mp4", "modify_type": "both_modified",
             "fake_segments": [[0.5, 1.0]], "audio_fake_segments": [[0.5, 1.0]],
             "visual_fake_segments": [[0.5, 1.0]], "video_frames": 100, "audio_frames": 64000}
            for i in range(n)]


def _median_s(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (50_000, args.large):
            path = Path(tmp) / f"metadata_{n}.json"
            path.write_text(json.dumps(_entries(n)), encoding="utf-8")
            parse = _median_s(functools.partial(load_metadata, path), args.runs)
            index = load_metadata(path)
            lookup = _median_s(functools.partial(index.lookup, "/x/train/id0012345/v/fake.mp4"),
                               args.runs)
            print(f"{n:>9} entries: parse {parse:6.2f} s, one suffix lookup {lookup * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
