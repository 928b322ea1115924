"""How long ``models check`` and the Models dialog take on a LARGE-size checkpoint, and how long
the dialog ever blocks the GUI thread while it hashes and reads one.

Uses the random-weight AV-HuBERT LARGE checkpoint in the official layout (fp16, ~650 MB) and the
1024-dim Phi that ``bench_analyze.py`` writes under ``bench-out/`` (written here on first use).
Prints, median of ``--runs`` (the file is in the page cache after the first read, as it is
when a user re-opens the dialog; the first, uncached read depends on the disk):

- ``inspect_model_file`` with a fresh SHA-256: total, of which hashing (and MB/s);
- the same with the digest cache (what the dialog and ``models list`` use after the first time);
- ``forensics-gui models check FILE`` as a process (Python and torch start-up included);
- the Models dialog (offscreen) with both files installed and an empty digest cache: time for the
  table to appear, time until every row is filled, and the longest gap between two runs of a 10 ms
  GUI timer meanwhile (the GUI thread's longest stall; a frozen window would show seconds).

    python benchmarks/bench_models_check.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import models  # noqa: E402  (LARGE fp16 checkpoint + 1024-dim Phi)


class Stamps:
    """Progress that timestamps the first report of each stage."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: dict[str, float] = {}

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.first.setdefault(stage, time.perf_counter() - self.start)

    def cancelled(self) -> bool:
        return False


def bench_core(ckpt: Path, runs: int) -> None:
    from forensics_gui.core.files import hashing
    from forensics_gui.core.models.info import inspect_model_file

    size_mb = ckpt.stat().st_size / 1e6
    totals, hashes, cached = [], [], []
    for _ in range(runs):
        stamps = Stamps()
        info = inspect_model_file(ckpt, stamps)
        totals.append(time.perf_counter() - stamps.start)
        hashes.append(stamps.first["read"])
        hashing._memory_cache.clear()
        hashing.sha256_of(ckpt)  # fill the cache, then time a cached inspection
        t = time.perf_counter()
        inspect_model_file(ckpt, cached_sha256=True)
        cached.append(time.perf_counter() - t)
    h = statistics.median(hashes)
    print(f"file: {ckpt.name} {size_mb:.0f} MB, {info.kind_label}, {info.sizes_text}, "
          f"{info.precision}, {info.parameters:,} encoder parameters")
    print(f"inspect, fresh SHA-256:  {statistics.median(totals):6.2f} s "
          f"(hash {h:.2f} s = {size_mb / h:.0f} MB/s, reading without running "
          f"{statistics.median(totals) - h:.2f} s)")
    print(f"inspect, cached SHA-256: {statistics.median(cached):6.2f} s")


def bench_cli(ckpt: Path, runs: int) -> None:
    exe = Path(sys.executable).with_name("forensics-gui")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([str(exe), "models", "check", str(ckpt), "--json"],
                              capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t)
        assert done.returncode == 0, done.stderr
    print(f"forensics-gui models check (process): {statistics.median(times):6.2f} s")


def bench_dialog(ckpt: Path, phi: Path, runs: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from forensics_gui.core.files import hashing
    from forensics_gui.ui.models_dialog import ModelsDialog

    app = QApplication.instance() or QApplication([])
    shown, filled, stalls = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        os.link(ckpt, folder / "self_large_vox_433h.pt")
        os.link(phi, folder / "AVH-Align_AV1M.pt")
        os.environ["FORENSICS_GUI_MODELS"] = str(folder)
        for run in range(runs):
            os.environ["FORENSICS_GUI_CACHE"] = str(Path(tmp) / f"cache{run}")
            hashing._memory_cache.clear()
            ticks: list[float] = []
            timer = QTimer()
            timer.timeout.connect(lambda ticks=ticks: ticks.append(time.perf_counter()))
            t = time.perf_counter()
            dialog = ModelsDialog()
            dialog.show()
            shown.append(time.perf_counter() - t)
            ticks.append(time.perf_counter())
            timer.start(10)
            while dialog.hashing:
                app.processEvents()
                time.sleep(0.002)
            filled.append(time.perf_counter() - t)
            timer.stop()
            stalls.append(max(b - a for a, b in zip(ticks, ticks[1:], strict=False)))
            dialog.close()
            dialog.deleteLater()
            app.processEvents()
    print(f"Models dialog: table shown {statistics.median(shown) * 1e3:.0f} ms, every row filled "
          f"{statistics.median(filled):.2f} s, longest GUI-thread stall meanwhile "
          f"{statistics.median(stalls) * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ckpt, phi = models()
    scratch = tempfile.mkdtemp(prefix="bench_models_")  # no user folder or cache is touched
    os.environ["FORENSICS_GUI_CACHE"] = str(Path(scratch) / "cache")
    os.environ["FORENSICS_GUI_MODELS"] = str(Path(scratch) / "no_models")
    bench_core(ckpt, args.runs)
    bench_cli(ckpt, args.runs)
    bench_dialog(ckpt, phi, args.runs)


if __name__ == "__main__":
    main()
