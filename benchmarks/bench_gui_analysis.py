"""Event-loop lateness of the viewer while the AVH-Align analysis runs in its worker thread.

A QTimer fires every 10 ms on the GUI thread; each firing records how late it came (actual gap
minus 10 ms). The figures are printed for an idle window (baseline) and while the main window
analyses a generated talking-face clip with random-weight checkpoints in the official layout,
through the real GUI path (Analysis > Analyze, untrimmed + trimmed, empty cache, so every stage
runs: hash, audio, landmarks, mouth crop, video front end, encoder, scoring). Target: p95 and
max lateness <= 50 ms. The face tracking runs in the viewer's child process (started by the
first analysis; ``--in-thread`` runs it in the worker thread instead, as before). ``--torch-at-startup``
imports torch in the GUI thread before the event loop starts (what an app launcher could do), to
show what is left of the first analysis' stall without loading PyTorch's libraries during it.
Then the same probe while a clip's ground truth is looked up in a big
metadata file (in a thread, and in the child process the viewer uses). Prints numbers; asserts
nothing.

Run: ``python benchmarks/bench_gui_analysis.py [--seconds 6] [--dim 256 --layers 4]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FORENSICS_GUI_NO_AUDIO", "1")

import numpy as np  # noqa: E402

INTERVAL_MS = 10


class LatenessProbe:
    """Records how late a 10 ms QTimer fires (seconds) while running."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self.at: list[float] = []  # perf_counter() of each firing
        self._last = 0.0

    def start(self) -> None:
        self.late.clear()
        self.at.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, now - self._last - INTERVAL_MS / 1000))
        self.at.append(now)
        self._last = now


def _summary(name: str, late: list[float]) -> str:
    ms = np.asarray(late) * 1000
    return (f"{name:<28} n={len(ms):5d}  median {statistics.median(ms):6.2f} ms  "
            f"p95 {np.percentile(ms, 95):6.2f} ms  max {ms.max():7.2f} ms")


def _run_loop(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _analyse_once(window, probe: LatenessProbe, cache: Path) -> dict:  # type: ignore[no-untyped-def]
    """Analyse the open clip through Analysis > Analyze with an emptied cache; lateness + stages."""
    shutil.rmtree(cache, ignore_errors=True)
    stages: list[tuple[float, str]] = []
    done: dict[str, float] = {}
    window.avh.analysis_finished.connect(lambda _a: done.setdefault("t", time.perf_counter()))

    def on_progress(_token: int, stage: str, *_: float) -> None:
        if not stages or stages[-1][1] != stage:
            stages.append((time.perf_counter(), stage))

    probe.start()
    t0 = time.perf_counter()
    window.avh.analyze_action.trigger()  # runs in the GUI thread: sets up the lanes, starts the worker
    trigger_s = time.perf_counter() - t0
    worker = window.avh.runner.worker
    if worker is None:
        raise SystemExit(f"analysis did not start: {window.last_error or window.avh.last_guidance}")
    worker.progressed.connect(on_progress)
    while "t" not in done and window.avh.runner.worker is not None:
        _run_loop(100)
    probe.stop()
    window.avh.analysis_finished.disconnect()
    if "t" not in done:
        raise SystemExit(f"analysis failed: {window.last_error}")
    return {"late": list(probe.late), "at": list(probe.at), "t0": t0, "wall": done["t"] - t0,
            "stages": stages, "trigger_s": trigger_s}


def _report(name: str, run: dict, worst: bool = False) -> None:  # type: ignore[type-arg]
    late = run["late"]
    print(f"{name}: wall {run['wall']:.2f} s; stages: {' > '.join(s for _, s in run['stages'])}")
    print(f"  Analyze action in the GUI thread (lanes, plots, worker start): "
          f"{run['trigger_s'] * 1000:.1f} ms")
    print(_summary("  while analysing", late))
    print(f"  firings more than 50 ms late: {np.mean(np.asarray(late) > 0.050) * 100:.2f} %")
    if worst:
        for i in np.argsort(late)[::-1][:3]:
            end = run["at"][i]
            stage = next((st for t, st in reversed(run["stages"]) if t <= end - late[i]), "start")
            print(f"  {late[i] * 1000:7.1f} ms late, ending at t={end - run['t0']:5.2f} s "
                  f"(last stage reported: {stage})")


def bench_groundtruth(tmp: Path, entries: int) -> None:
    """Lateness while the ground truth of a clip is looked up in a big AV-Deepfake1M list JSON,
    parsed in the worker thread (holds the GIL) and in a child process (the viewer's choice
    above :data:`groundtruth_worker.CHILD_MIN_BYTES`)."""
    import json

    from forensics_gui.ui import groundtruth_worker as gw

    root = tmp / "dataset"
    (root / "train").mkdir(parents=True)
    meta = [{"file": f"train/id{i:06d}/real.mp4", "modify_type": "both_modified",
             "fake_segments": [[1.2, 1.6]], "audio_fake_segments": [[1.2, 1.6]],
             "visual_fake_segments": [[1.2, 1.6]], "video_frames": 250, "audio_frames": 160000}
            for i in range(entries)]
    (root / "metadata.json").write_text(json.dumps(meta))
    size_mb = (root / "metadata.json").stat().st_size / 1e6
    probe = LatenessProbe()
    for label, limit in (("thread", 1 << 62), ("child process", 0)):
        gw.CHILD_MIN_BYTES = limit
        from PySide6.QtCore import QEventLoop

        worker = gw.GroundTruthWorker(1, "find", str(root / "train" / "id000005" / "real.mp4"))
        loop = QEventLoop()
        worker.finished.connect(loop.quit)
        probe.start()
        t0 = time.perf_counter()
        worker.start()
        loop.exec()
        probe.stop()
        print(f"ground truth from a {entries}-entry metadata.json ({size_mb:.0f} MB), {label}: "
              f"wall {time.perf_counter() - t0:.2f} s")
        print(_summary("  event loop", probe.late))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length (s)")
    parser.add_argument("--size", type=int, default=320, help="frame width and height (px)")
    parser.add_argument("--dim", type=int, default=32, help="encoder width of the random model")
    parser.add_argument("--layers", type=int, default=1, help="encoder layers of the random model")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--warm-runs", type=int, default=2, help="analyses after the first one")
    parser.add_argument("--in-thread", action="store_true",
                        help="face tracking in the worker thread instead of the child process")
    parser.add_argument("--torch-at-startup", action="store_true",
                        help="import torch before the window opens (not during the first analysis)")
    parser.add_argument("--gt-entries", type=int, default=200000,
                        help="entries of the metadata file for the ground-truth lookup (0: skip)")
    args = parser.parse_args()

    # torch is imported by the analysis worker, as in the app (OMP_NUM_THREADS sets its threads).
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_gui_analysis_"))
    os.environ["FORENSICS_GUI_MODELS"] = str(tmp / "models")
    os.environ["FORENSICS_GUI_CACHE"] = str(tmp / "cache")
    os.environ["FORENSICS_GUI_SETTINGS"] = str(tmp / "settings.ini")
    os.environ["FORENSICS_GUI_DATA"] = str(tmp / "data")

    # Models and clip are written by a child process, so torch is first imported by the analysis
    # worker, as in the app.
    models = tmp / "models"
    clip = tmp / "talk.mkv"
    heads = 2 if args.dim < 64 else max(1, args.dim // 64)
    subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path\n"
        "from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint\n"
        "from forensics_gui.testing.phi import write_published_phi\n"
        "from forensics_gui.testing.synth import make_clip\n"
        f"m = Path({str(models)!r}); m.mkdir(parents=True)\n"
        f"write_fake_avhubert_checkpoint(m / 'self_large_vox_433h.pt', layers={args.layers}, "
        f"dim={args.dim}, heads={heads}, ffn={args.dim * 2})\n"
        f"write_published_phi(m / 'AVH-Align_AV1M.pt', visual_dim={args.dim}, audio_dim={args.dim})\n"
        f"make_clip(Path({str(clip)!r}), duration_s={args.seconds}, leading_silence_ms=30, "
        f"width={args.size}, height={args.size})\n")], check=True)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench"])
    app.setQuitOnLastWindowClosed(False)
    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.theme import apply_theme

    apply_theme(app)  # type: ignore[arg-type]
    if args.torch_at_startup:
        import torch  # noqa: F401
    window = MainWindow(use_audio=False)
    if args.in_thread:
        window.avh.runner.prepare_process.shutdown()
        window.avh.runner.prepare_process = None
    window.show()
    if args.torch_at_startup:
        window.avh.runner.start_prepare_process()  # what run_app does after importing torch
    window.open_path(clip)
    deadline = time.monotonic() + 30
    while window.session.sha256 is None and time.monotonic() < deadline:
        _run_loop(50)
    window.avh.trimmed_action.setChecked(True)

    probe = LatenessProbe()
    probe.start()
    _run_loop(2000)
    probe.stop()
    idle = list(probe.late)

    print(f"torch imported before the first analysis: {'torch' in sys.modules}")
    cold = _analyse_once(window, probe, tmp / "cache")
    warm = [_analyse_once(window, probe, tmp / "cache") for _ in range(args.warm_runs)]
    print(f"clip {args.seconds:g} s {args.size}x{args.size} @ 25 fps; random AV-HuBERT dim {args.dim}, "
          f"{args.layers} layer(s); torch threads {args.threads}; untrimmed + trimmed, empty cache")
    print(_summary("idle window (baseline)", idle))
    where = "worker thread" if args.in_thread else "child process"
    _report(f"first analysis (cold: imports torch, loads dlib models; face tracking in the {where})",
            cold, worst=True)
    for i, run in enumerate(warm, 1):
        _report(f"analysis {i + 1} (models already loaded)", run, worst=True)
    warm_late = [v for run in warm for v in run["late"]]
    if warm_late:
        print(_summary("all warm runs together", warm_late))
    window.shutdown()
    if args.gt_entries:
        bench_groundtruth(tmp, args.gt_entries)


if __name__ == "__main__":
    main()
