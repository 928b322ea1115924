"""Remake ``resources/screenshot.png`` (the README picture): the viewer at 1280x800 after an
analysis of a generated 4 s talking-face clip, with both curves (untrimmed and trimmed), the sync
lane, AV-Deepfake1M ground-truth lanes, the summary and the mouth-crop preview.

The models are tiny random-weight stand-ins in the official checkpoint layouts, so the curves
show the interface, not a real detection. Everything happens in a temporary folder (settings,
cache, models), offscreen:

    QT_QPA_PLATFORM=offscreen python resources/make_screenshot.py [OUT.png]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZE = (1280, 800)  # pixels
AT_S = 1.52  # playhead position (seconds): inside the manipulated segment


def _wait(app: Any, condition: Any, timeout_s: float = 300.0) -> None:
    t0 = time.monotonic()
    while not condition():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit("the viewer did not get there in time")


def make(out: Path, work: Path) -> Path:
    """Write the screenshot to ``out``; ``work`` holds the clip, models, cache and settings."""
    for key, sub in (("FORENSICS_GUI_SETTINGS", "settings.ini"), ("FORENSICS_GUI_DATA", "data"),
                     ("FORENSICS_GUI_CACHE", "cache"), ("FORENSICS_GUI_MODELS", "models")):
        os.environ[key] = str(work / sub)
    from PySide6.QtWidgets import QApplication

    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi
    from forensics_gui.testing.synth import make_clip

    app = QApplication.instance() or QApplication(sys.argv)
    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.theme import apply_theme

    apply_theme(app)
    models = work / "models"
    models.mkdir(parents=True, exist_ok=True)
    write_fake_avhubert_checkpoint(models / "self_large_vox_433h.pt", layers=1, dim=32, heads=2,
                                   ffn=64)
    write_published_phi(models / "AVH-Align_AV1M.pt", visual_dim=32, audio_dim=32)
    clip = work / "clips" / "interview_042.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    make_clip(clip, duration_s=4.0, leading_silence_ms=30, width=480, height=360,
              sample_rate=48000, seed=3)
    clip.with_suffix(".json").write_text(json.dumps({
        "file": clip.name, "modify_type": "both_modified",
        "fake_segments": [[1.2, 2.0], [2.9, 3.3]], "audio_fake_segments": [[1.2, 2.0]],
        "visual_fake_segments": [[1.2, 2.0], [2.9, 3.3]], "video_frames": 100,
        "audio_frames": 192000}))

    window = MainWindow(use_audio=False)
    window.show()
    window.resize(*SIZE)
    window.avh.trimmed_action.setChecked(True)
    loaded: list[Any] = []
    window.avh.groundtruth_loaded.connect(loaded.append)
    finished: list[Any] = []
    window.avh.analysis_finished.connect(finished.append)
    try:
        if not window.open_path(clip):
            raise SystemExit(f"cannot open {clip}: {window.last_error}")
        _wait(app, lambda: window.video_view.frame is not None
              and window.session.silence is not None and loaded)
        window.avh.analyze_action.trigger()
        _wait(app, lambda: finished)
        window.session.set_time(AT_S)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:  # let the frame, crop and face box arrive
            app.processEvents()
            time.sleep(0.01)
        image = window.grab()
        if (image.width(), image.height()) != SIZE:
            raise SystemExit(f"the window is {image.width()}x{image.height()}, not {SIZE}")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out)):
            raise SystemExit(f"cannot write {out}")
    finally:
        window.shutdown()
    return out


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(argv[0]) if argv else Path(__file__).with_name("screenshot.png")
    with tempfile.TemporaryDirectory(prefix="forensics-gui-shot-") as tmp:
        print(make(out.resolve(), Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
