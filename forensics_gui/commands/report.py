"""``forensics-gui report VIDEO [--result RESULT.json] -o REPORT.pdf|.html``: the one-page report.

The picture is painted by the viewer's renderer (:mod:`forensics_gui.ui.snapshot`, Qt on the
"offscreen" platform without a display), everything else comes from
:mod:`forensics_gui.core.evidence.report`. Qt is imported inside :func:`run` only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from forensics_gui.commands.silence import threshold_arg, threshold_help
    from forensics_gui.core.media.silence import DEFAULT_THRESHOLD

    parser.add_argument("video", help="the clip to report on")
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.pdf|REPORT.html",
                        help="the report to write: PDF (fonts embedded) or one self-contained "
                             "HTML file, by the suffix")
    parser.add_argument("--result", metavar="RESULT.json",
                        help="the analysis result of this clip (forensics-gui analyze -o): its "
                             "curves, score and stretches to check go in the report; a result "
                             "of another clip (by SHA-256) is refused")
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4",
                        help="page size of the PDF and of the printed HTML (default a4)")
    parser.add_argument("--note", default="", help="analyst note printed in the report")
    parser.add_argument("--at", type=float, metavar="SECONDS",
                        help="media time of the frame in the picture (default: the highest "
                             "point of the highest stretch to check, else the middle of the clip)")
    parser.add_argument("--threshold", type=threshold_arg, default=DEFAULT_THRESHOLD, metavar="TAU",
                        help=threshold_help())
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def picture_png(image: Any) -> bytes:
    """A QImage as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buf, "PNG")
    buf.close()
    if not ok:
        raise ForensicsError("The report's picture could not be encoded as PNG.")
    return bytes(data.data())


def run(args: argparse.Namespace) -> int:
    import forensics_gui
    from forensics_gui.commands.snapshot import _ensure_gui_app, _load_result
    from forensics_gui.core.evidence.report import (
        build_report,
        picture_time,
        report_format,
        write_report,
    )
    from forensics_gui.core.media.decode import decode_audio, probe
    from forensics_gui.core.progress import ConsoleProgress

    if not Path(args.video).is_file():
        raise ForensicsError(f"{args.video} does not exist or is not a file.")
    report_format(args.output)  # a wrong suffix is refused before any work
    result = _load_result(args.result)
    result_name = Path(args.result).name if args.result else ""
    info = probe(args.video)
    at = args.at if args.at is not None else picture_time(result, float(info.duration_s or 0.0))
    _app = _ensure_gui_app()
    from forensics_gui.core.evidence.snapshot import build_snapshot_data
    from forensics_gui.ui.snapshot import render_snapshot

    version = forensics_gui.__version__
    # decoded once, for the picture's waveform and the report's silence panel
    track = decode_audio(args.video) if info.audio is not None else None
    data = build_snapshot_data(args.video, at, note=args.note, threshold=args.threshold,
                               version=version, result=result, result_name=result_name,
                               audio_track=track)
    for warning in getattr(data, "warnings", None) or []:
        print(f"warning: {warning}", file=sys.stderr)
    png = picture_png(render_snapshot(data))
    report = build_report(args.video, snapshot=data, picture_png=png, result=result,
                          result_name=result_name, note=args.note, threshold=args.threshold,
                          version=version, audio_track=track,
                          progress=ConsoleProgress(enabled=not args.quiet))
    out = write_report(report, args.output, args.paper)
    print(f"wrote {out}", file=sys.stderr)
    del _app
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[str], list[tuple[str | None, str]]]:
    """The report and what it must not overwrite (see forensics_gui.cli)."""
    return [args.output], [(args.video, "the video"), (args.result, "the --result file")]
