"""`forensics-gui snapshot VIDEO --at SECONDS -o OUT.png`: the viewer's annotated screenshot, headless.

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
                             "fakeness curves are drawn under the waveform and its video score goes "
                             "in the caption; a result of another clip (by SHA-256) is refused")


def _load_result(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    data = read_json_file(path, "result file", should_be="an analysis result")
    if not isinstance(data, dict):
        raise ForensicsError(f"The result file {path} is not an analysis result (expected a JSON "
                             "object as written by 'forensics-gui analyze -o').")
    return data


def _check_result_is_of_this_clip(result: dict[str, Any], result_path: str, video: str,
                                  data: Any) -> None:
    """Refuse a result made from another clip (its curves would be drawn under this clip's
    SHA-256); a result without a SHA-256 is drawn with a warning in the caption and on stderr."""
    claimed = result.get("sha256")
    name, clip = Path(result_path).name, Path(video).name
    if claimed is None:
        data.extra_lines[0] += " (NOT checked against this clip: the result has no SHA-256)"
        print(f"warning: {name} has no SHA-256, so it cannot be checked against {clip}; its curves "
              "are drawn as they are.", file=sys.stderr)
        return
    if not isinstance(claimed, str) or claimed.strip().lower() != data.sha256.lower():
        shown = f"SHA-256 {claimed[:12]}..." if isinstance(claimed, str) else "an invalid SHA-256"
        raise ForensicsError(
            f"The result file {name} was made from another clip ({shown}), not from {clip} "
            f"(SHA-256 {data.sha256[:12]}...); pass the result that 'forensics-gui analyze' "
            "wrote for this clip.")


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
    from forensics_gui.core.evidence.snapshot import build_snapshot_data, curves_from_result
    from forensics_gui.ui.snapshot import render_snapshot, save_png

    extra: list[str] = []
    curves: list[Any] = []
    if result is not None:
        try:
            curves, extra = curves_from_result(result)
        except (TypeError, ValueError) as err:
            raise ForensicsError(f"The result file {args.result} has malformed scores ({err}).") from err
        extra.insert(0, f"Result: {Path(args.result).name}")
    data = build_snapshot_data(args.video, args.at, note=args.note, threshold=args.threshold,
                               extra_lines=extra, version=forensics_gui.__version__)
    if result is not None:
        _check_result_is_of_this_clip(result, args.result, args.video, data)
    data.curves = curves
    out = save_png(render_snapshot(data), args.output)
    print(f"wrote {out}", file=sys.stderr)
    del _app
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[str], list[tuple[str | None, str]]]:
    """The PNG and what it must not overwrite (see forensics_gui.cli)."""
    return [args.output], [(args.video, "the video"), (args.result, "the --result file")]
