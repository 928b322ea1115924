"""GUI-thread cost of the "Mouth and voice" lane (offscreen). Prints medians; no assertions.

For clips of 10 s, 10 min and 1 h (25 measures per second, hand-made arrays with one flagged
stretch per minute): drawing the result in the lane (``LipSyncLane.set_result``: the 0-1
scaling, the two traces, the shading) and repainting the timeline; one hover read-out; and
drawing the lane in the exported picture (``render_snapshot`` of a picture with the lane, minus
the same picture without it).

Run: ``python benchmarks/bench_lipsync_lane.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


@dataclass
class Measures:
    """The LipSyncResult fields the lane reads."""

    times_s: np.ndarray
    first_model_frame: int
    mouth_opening: np.ndarray
    loudness: np.ndarray
    best_offset_frames: np.ndarray
    agreement_best: np.ndarray
    agreement_zero: np.ndarray
    flagged: list[tuple[float, float]] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"times_s": self.times_s.tolist(), "mouth_opening": self.mouth_opening.tolist(),
                "loudness_db": self.loudness.tolist(), "flagged": [list(f) for f in self.flagged],
                "readings": self.readings}


def measures(seconds: float) -> Measures:
    n = int(seconds * 25)
    rng = np.random.default_rng(0)
    t = np.arange(n) / 25.0
    mouth = np.abs(np.sin(t * 7.0) + 0.1 * rng.standard_normal(n)).astype(np.float32)
    loud = (-45.0 + 25.0 * np.abs(np.sin(t * 7.0))).astype(np.float32)
    flagged = [(m * 60.0 + 10.0, m * 60.0 + 11.5) for m in range(int(seconds // 60))] or [(2.0, 3.0)]
    return Measures(t, 0, mouth, loud, np.zeros(n, np.int16), np.full(n, 0.7, np.float32),
                    np.full(n, 0.6, np.float32), flagged, ["reading"])


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.2f} ms (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from forensics_gui.core.evidence.snapshot import SnapshotData, apply_result
    from forensics_gui.ui.lipsync_lane import LipSyncLane
    from forensics_gui.ui.snapshot import render_snapshot
    from forensics_gui.ui.timeline import Timeline

    for seconds in (10.0, 600.0, 3600.0):
        res = measures(seconds)
        tl = Timeline()
        tl.resize(1000, 400)
        tl.show()
        tl.set_clip(seconds)
        lane = LipSyncLane(tl)
        lane.ensure_plot()
        app.processEvents()
        draw, paint, hover = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            lane.set_result(res)
            draw.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            tl.graphics.grab()  # a full repaint of the lanes
            paint.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lane.readout_at(seconds / 2)
            hover.append(time.perf_counter() - t0)
        pic, base = [], []
        for _ in range(max(3, args.repeats // 2)):
            for with_lane, out in ((True, pic), (False, base)):
                data = SnapshotData(frame=np.zeros((360, 480, 3), np.uint8), time_s=1.0,
                                    file_name="x.mp4", sha256="0" * 64, version="bench",
                                    window=(0.0, seconds))
                if with_lane:
                    apply_result(data, {"mouth_and_voice": res.to_dict()})
                t0 = time.perf_counter()
                render_snapshot(data)
                out.append(time.perf_counter() - t0)
        extra = statistics.median(pic) - statistics.median(base)
        print(f"{seconds:6.0f} s clip ({len(res.times_s):6d} frames): set_result {_ms(draw)}; "
              f"repaint {_ms(paint)}; read-out {_ms(hover)}; picture lane +{extra * 1000:.1f} ms "
              f"(picture {statistics.median(pic) * 1000:.1f} ms)")
        tl.close()
        tl.deleteLater()
        app.processEvents()


if __name__ == "__main__":
    main()
