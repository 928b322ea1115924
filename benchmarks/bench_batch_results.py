"""What batch's crash-safe results cost: one row (curve file + fsynced CSV line) and a resume scan.

    .venv/bin/python benchmarks/bench_batch_results.py [--frames 16500] [--rows 100000] [--runs 5]

Prints, median of ``--runs``: the time to write one clip's curve file (``--frames`` frames: 16,500
is an 11-minute clip) and its fsynced row; the time to scan (and check every row of) a results
CSV of ``--rows`` rows, as batch does on every start; and the size of one curve file. The model
takes seconds per clip, so anything in milliseconds here is noise in a batch run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from forensics_gui.core.results import batch_results as br


def _row(i: int) -> dict[str, object]:
    return {"file": f"clips/id{i:06d}/clip.mp4", "video_score": "1.234567", "pool": "lse",
            "variant": "untrimmed", "num_frames": 250, "leading_silence_ms": "25.000",
            "suspicious_segments": "[[1.2, 3.4]]", "sha256": f"{i:064x}", "status": "ok",
            "error": "", "curve": f"r.curves/{i:064x}.untrimmed.json", "setup": "0123456789abcdef"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=16_500)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    curve = np.random.default_rng(0).normal(size=args.frames).astype(np.float32).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "r.csv"
        write_s = []
        with open(csv_path, "wb") as fh:
            fh.write(br.header_line())
            for i in range(args.runs):
                t0 = time.perf_counter()
                rel = br.write_curve(csv_path, file=f"clip{i}.mp4", sha256=f"{i:064x}",
                                     variant="untrimmed", pool="lse", frame_scores=curve,
                                     first_model_frame=0)
                br.append_rows(fh, [_row(i)])
                write_s.append(time.perf_counter() - t0)
        size = (csv_path.parent / rel).stat().st_size
        big = Path(tmp) / "big.csv"
        big.write_bytes(br.header_line() + b"".join(br.format_row(_row(i)) for i in range(args.rows)))
        scan_s = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            found = br.scan(big)
            scan_s.append(time.perf_counter() - t0)
            assert len(found.rows) == args.rows and not found.damaged
    print(f"one clip, {args.frames} frames: curve file + fsynced row "
          f"{1000 * statistics.median(write_s):.1f} ms, curve file {size / 1024:.0f} KiB")
    print(f"resume scan of {args.rows} rows (every check verified): "
          f"{statistics.median(scan_s):.2f} s ({1e6 * statistics.median(scan_s) / args.rows:.1f} us "
          "per row)")


if __name__ == "__main__":
    main()
