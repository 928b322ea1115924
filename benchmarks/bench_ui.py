"""Viewer latency benchmarks (offscreen). Prints medians; no assertions.

1. Waveform redraw while zooming a 1-hour 48 kHz mono track: the envelope computation alone,
   and envelope + pyqtgraph setData + repaint of the plot (target <= 16 ms median).
2. Seek-to-decoded-frame latency through the frame decoder thread on a 720p clip (random seeks
   and single-frame steps).
3. Window open to first frame displayed (720p clip).

Run: ``python benchmarks/bench_ui.py [--hours 1.0]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.2f} ms  (p90 {np.percentile(values, 90) * 1000:7.2f} ms, n={len(values)})"


def _spin(app, ms: int) -> None:  # type: ignore[no-untyped-def]
    """Run the event loop for ``ms`` milliseconds.

    (A QEventLoop, not a processEvents() busy loop: PySide6 6.12 on Python 3.11 leaks a None
    reference per processEvents() call and aborts after a few hundred thousand calls.)
    """
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def long_track(hours: float, sr: int = 48000) -> np.ndarray:
    """Speech-like bursts + noise, built in chunks (float32, ~691 MB per hour at 48 kHz)."""
    n = int(hours * 3600 * sr)
    x = np.empty(n, np.float32)
    rng = np.random.default_rng(0)
    chunk = sr * 60
    t = np.arange(chunk, dtype=np.float32) / sr
    burst = (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x[start:start + m] = burst[:m] + rng.standard_normal(m, dtype=np.float32) * 0.004
    x[n // 3] = 0.99  # a single-sample spike
    return x


def bench_waveform(app, hours: float) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.core.media.waveform import PeakPyramid
    from forensics_gui.ui.timeline import Timeline

    sr = 48000
    x = long_track(hours, sr)
    t0 = time.perf_counter()
    pyr = PeakPyramid(x, sr)
    build = time.perf_counter() - t0
    print(f"[waveform] {hours:g} h at {sr} Hz: {x.nbytes / 2**20:.0f} MiB samples, pyramid "
          f"{pyr.nbytes / 2**20:.0f} MiB ({pyr.nbytes / x.nbytes:.2f}x), built in {build:.2f} s")
    tl = Timeline()
    tl.resize(1200, 300)
    tl.show()
    tl.set_clip(pyr.duration_s)
    tl.set_pyramid(pyr)
    _spin(app, 200)
    dur = pyr.duration_s
    rng = np.random.default_rng(1)
    spans = np.geomspace(dur, 0.005, 40)
    env_times, total_times = [], []
    for _ in range(3):
        for span in spans:
            c = rng.uniform(span / 2, dur - span / 2)
            a, b = c - span / 2, c + span / 2
            s = time.perf_counter()
            pyr.envelope(a, b, 1150)
            env_times.append(time.perf_counter() - s)
            s = time.perf_counter()
            tl.waveform_plot.setXRange(a, b, padding=0.0)
            tl.redraw_waveform()  # envelope + setData
            tl.graphics.viewport().repaint()
            total_times.append(time.perf_counter() - s)
            _spin(app, 1)
    print(f"[waveform] envelope only:                    {_ms(env_times)}")
    print(f"[waveform] zoom step: envelope+setData+repaint: {_ms(total_times)}  (target <= 16 ms)")
    tl.close()


def make_720p(folder: Path) -> Path:
    from forensics_gui.testing.synth import make_clip

    path = folder / "bench_720p.mp4"
    make_clip(path, duration_s=10.0, fps=25, width=1280, height=720, sample_rate=48000,
              face=False, pattern=True)
    return path


def bench_seek(app, path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEventLoop, QTimer

    from forensics_gui.ui.workers import FrameDecoder

    dec = FrameDecoder()
    got: list[int] = []
    loop = QEventLoop()
    dec.frame_ready.connect(lambda tok, i, t, img: (got.append(i), loop.quit()))
    dec.start()
    dec.open(str(path), 1)

    def wait_for(i: int) -> float:
        got.clear()
        s = time.perf_counter()
        dec.request_index(i)
        QTimer.singleShot(10000, loop.quit)
        while not got or got[-1] != i:
            loop.exec()
        return time.perf_counter() - s

    wait_for(0)
    rng = np.random.default_rng(2)
    seeks = [wait_for(int(i)) for i in rng.integers(0, 250, 30)]
    start = 100
    wait_for(start)
    steps = [wait_for(start + k) for k in range(1, 31)]
    dec.stop()
    print(f"[decoder] 720p random seek -> frame delivered:  {_ms(seeks)}")
    print(f"[decoder] 720p next-frame step -> delivered:    {_ms(steps)}")


def bench_open(app, path: Path) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.main_window import MainWindow

    times = []
    for _ in range(5):
        s = time.perf_counter()
        w = MainWindow(use_audio=False)
        w.show()
        w.open_path(path)
        while w.video_view.frame is None:
            _spin(app, 1)
        w.video_view.repaint()
        times.append(time.perf_counter() - s)
        w.shutdown()
        w.close()
        w.deleteLater()
        _spin(app, 50)
    print(f"[window] open window + clip -> first frame shown: {_ms(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="length of the waveform track")
    args = parser.parse_args()
    os.environ.setdefault("FORENSICS_GUI_SETTINGS", str(Path(tempfile.gettempdir()) / "bench_ui.ini"))
    from PySide6.QtWidgets import QApplication

    from forensics_gui.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app)  # type: ignore[arg-type]
    bench_waveform(app, args.hours)
    with tempfile.TemporaryDirectory() as d:
        path = make_720p(Path(d))
        bench_seek(app, path)
        bench_open(app, path)


if __name__ == "__main__":
    main()
