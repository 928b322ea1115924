"""`forensics-gui snapshot VIDEO --at SECONDS -o OUT.png`: the viewer's annotated screenshot, headless.

Qt is imported inside :func:`run` only. Without a display, Qt runs on the "offscreen" platform.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="clip to render")
    parser.add_argument("--at", type=float, required=True, metavar="SECONDS",
                        help="media time of the frame to show, in seconds")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    parser.add_argument("--note", default="", help="analyst note printed in the caption")
    parser.add_argument("--threshold", type=float, default=0.0005, metavar="TAU",
                        help="silence amplitude threshold (full scale 1.0; default 0.0005)")
    parser.add_argument("--result", metavar="RESULT.json",
                        help="an analysis result JSON (its name goes in the caption; curves later)")


def _result_lines(path: str | None) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            json.load(fh)
    except OSError as err:
        raise ForensicsError(f"Cannot read the result file {path} ({err.strerror or err}).") from err
    except ValueError as err:
        raise ForensicsError(f"The result file {path} is not valid JSON ({err}).") from err
    return [f"Result: {Path(path).name}"]


def _ensure_gui_app() -> Any:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(["forensics-gui"])


def run(args: argparse.Namespace) -> int:
    import forensics_gui

    if not Path(args.video).is_file():
        raise ForensicsError(f"{args.video} does not exist or is not a file.")
    if args.threshold <= 0:
        raise ForensicsError("--threshold must be a positive amplitude such as 0.0005.")
    extra = _result_lines(args.result)
    _app = _ensure_gui_app()
    from forensics_gui.ui.snapshot import build_snapshot_data, render_snapshot, save_png

    data = build_snapshot_data(args.video, args.at, note=args.note, threshold=args.threshold,
                               extra_lines=extra, version=forensics_gui.__version__)
    out = save_png(render_snapshot(data), args.output)
    print(f"wrote {out}", file=sys.stderr)
    del _app
    return 0
