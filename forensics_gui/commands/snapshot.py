"""`forensics-gui snapshot VIDEO --at SECONDS -o OUT.png`: the viewer's exported picture, headless
(the same data builder and renderer: :mod:`forensics_gui.core.evidence.snapshot`,
:mod:`forensics_gui.ui.snapshot`).

Qt is imported inside :func:`run` only. Without a display, Qt runs on the "offscreen" platform.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.checks import read_json_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from forensics_gui.commands.silence import threshold_arg, threshold_help
    from forensics_gui.core.media.silence import DEFAULT_THRESHOLD

    parser.add_argument("video", help="clip to render")
    parser.add_argument("--at", type=float, required=True, metavar="SECONDS",
                        help="media time of the frame to show, in seconds")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    parser.add_argument("--note", default="", help="analyst note printed in the caption")
    parser.add_argument("--threshold", type=threshold_arg, default=DEFAULT_THRESHOLD, metavar="TAU",
                        help=threshold_help())
    parser.add_argument("--result", metavar="RESULT.json",
                        help="an analysis result JSON (forensics-gui analyze -o) of this clip: its "
                             "mismatch curves, threshold and stretches to check are drawn on the "
                             "whole clip's time axis and its scores, models and mouth-crop "
                             "preparation go in the caption; a result of another clip (by "
                             "SHA-256) is refused")


def _load_result(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    data = read_json_file(path, "result file", should_be="an analysis result")
    if not isinstance(data, dict):
        raise ForensicsError(f"The result file {path} is not an analysis result (expected a JSON "
                             "object as written by 'forensics-gui analyze -o').")
    return data


def _ensure_gui_app() -> Any:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    # A QApplication (not the lighter QGuiApplication): painting needs only the latter, but a
    # viewer opened later in the same process (a script, the test session) needs the widgets one,
    # and Qt allows one application object per process.
    return QGuiApplication.instance() or QApplication(["forensics-gui"])


def run(args: argparse.Namespace) -> int:
    import forensics_gui

    if not Path(args.video).is_file():
        raise ForensicsError(f"{args.video} does not exist or is not a file.")
    result = _load_result(args.result)
    _app = _ensure_gui_app()
    from forensics_gui.core.evidence.snapshot import build_snapshot_data
    from forensics_gui.ui.snapshot import render_snapshot, save_png

    data = build_snapshot_data(args.video, args.at, note=args.note, threshold=args.threshold,
                               version=forensics_gui.__version__, result=result,
                               result_name=Path(args.result).name if args.result else "")
    for sentence in data.warnings:
        print(f"warning: {sentence}", file=sys.stderr)
    out = save_png(render_snapshot(data), args.output)
    print(f"wrote {out}", file=sys.stderr)
    del _app
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[str], list[tuple[str | None, str]]]:
    """The PNG and what it must not overwrite (see forensics_gui.cli)."""
    return [args.output], [(args.video, "the video"), (args.result, "the --result file")]
