"""What guarding a command's outputs costs before its work starts.

:func:`forensics_gui.core.files.outputs.guarded_outputs` stats every input once (``batch`` and ``train``
pass every clip or feature file found in their folder), checks the outputs against them, takes the
output's lock and releases it. Printed: median of ``--runs`` for folders of 100, 1,000 and 10,000
files (empty files in a temporary folder), and the check every atomic write makes
(:func:`forensics_gui.core.files.outputs.check_not_protected`, one ``stat``) while 10,000 inputs are
protected, against the atomic write itself (which fsyncs).

    python benchmarks/bench_output_guard.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.files.outputs import check_not_protected, guarded_outputs, protect_inputs


def _median_ms(func, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips = root / "clips"
        clips.mkdir()
        for n in (100, 1_000, 10_000):
            for i in range(n):
                (clips / f"clip{i:05d}.mp4").touch()
            inputs = [(p, "a clip") for p in sorted(clips.iterdir())[:n]]

            def guard(inputs=inputs) -> None:  # type: ignore[no-untyped-def]
                with guarded_outputs("batch", [root / "RESULTS.csv"], inputs):
                    pass

            print(f"guard, {n:>6} inputs: {_median_ms(guard, args.runs):8.2f} ms")
        write_text_atomic(root / "out.json", "{}")
        with protect_inputs(inputs):
            check = _median_ms(lambda: [check_not_protected(root / "out.json") for _ in range(1000)],
                               args.runs) / 1000
            write = _median_ms(lambda: write_text_atomic(root / "out.json", "{}"), args.runs * 4)
        print(f"atomic write: {write:.3f} ms, of which the protected-input check: {check * 1000:.1f} us "
              f"({check / write:.2%})")


if __name__ == "__main__":
    main()
