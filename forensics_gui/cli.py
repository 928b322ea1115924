"""The one entry point: ``forensics-gui [VIDEO]`` opens the viewer; sub-commands work headless.

Each sub-command lives in ``forensics_gui.commands.<name>`` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``; one that writes files also declares them in
``outputs_and_inputs(args)``, so no command writes over one of its inputs and two runs never
write one output at once (:func:`forensics_gui.core.files.outputs.guarded_outputs`). Those modules
import heavy libraries (torch, dlib, Qt) inside ``run`` only, so ``--help`` stays fast. Errors
derived from :class:`~forensics_gui.core.errors.ForensicsError` become one sentence on stderr
and exit code 2; ``--json`` output is the only thing a command writes to stdout.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Sequence

from forensics_gui import __version__

COMMANDS: dict[str, str] = {
    "silence": "measure the leading digital silence of a clip's audio",
    "snapshot": "render an annotated screenshot PNG of a clip at a given time",
    "report": "write a one-page report (PDF or HTML) of a clip and its analysis",
    "roi": "write the 96x96 25 fps mouth-ROI video and the 16 kHz mono wav of a clip",
    "features": "extract AV-HuBERT audio-only and video-only features to an .npz file",
    "score": "score a features .npz with the alignment network Phi",
    "analyze": "run the whole pipeline on one clip and write a result JSON",
    "sync": "check whether the mouth moves with the voice (no model files needed)",
    "batch": "score every clip under a folder into a CSV (resumable)",
    "train": "train Phi on real videos or on feature files",
    "eval": "compute AUC/AP of a score CSV against dataset metadata",
    "audit": "measure cheap cues of every clip of a dataset and rank which gives the labels away",
    "models": "list, check, fetch or remove the model files (the detector's weights)",
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forensics-gui",
        description="Offline forensic viewer for audio-visual deepfakes. "
        "Without a sub-command, opens the viewer (optionally on VIDEO).",
    )
    parser.add_argument("--version", action="version", version=f"forensics-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"forensics_gui.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        module.add_arguments(p)
    return parser


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forensics-gui",
        description="Open the viewer. Sub-commands (headless): " + ", ".join(COMMANDS) + ". "
        "Run 'forensics-gui COMMAND --help' for each.",
    )
    parser.add_argument("--version", action="version", version=f"forensics-gui {__version__}")
    parser.add_argument("video", nargs="?", help="clip to open")
    parser.add_argument("--demo", action="store_true", help="generate a demo clip and open it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        args = _build_parser().parse_args(argv)
        module = importlib.import_module(f"forensics_gui.commands.{args.command}")
        return _run_reporting_errors(functools.partial(_run_guarded, module), args)
    if argv and argv[0] in ("-h", "--help"):
        _build_parser().print_help()
        return 0
    gui_args = _gui_parser().parse_args(argv)
    from forensics_gui.ui.app import run_app

    return run_app(gui_args.video, demo=gui_args.demo)


def _run_guarded(module, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """``module.run(args)`` with the command's outputs locked and its inputs protected.

    A command that writes files declares them in ``outputs_and_inputs(args)``: (output paths,
    (input path, role) pairs); see :func:`forensics_gui.core.files.outputs.guarded_outputs`.
    """
    declared = getattr(module, "outputs_and_inputs", None)
    if declared is None:
        return int(module.run(args) or 0)
    from forensics_gui.core.files.outputs import guarded_outputs

    outputs, inputs = declared(args)
    with guarded_outputs(args.command, outputs, inputs):
        return int(module.run(args) or 0)


def _run_reporting_errors(func, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from forensics_gui.core.errors import ForensicsError

    try:
        return int(func(args) or 0)
    except ForensicsError as err:
        print(f"forensics-gui {args.command}: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        # e.g. an output folder that cannot be created or written: a sentence, not a traceback
        print(f"forensics-gui {args.command}: {_os_error_sentence(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"forensics-gui {args.command}: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"forensics-gui {args.command}: out of memory; try a shorter clip.", file=sys.stderr)
        return 2


def _one_line(message: str) -> str:
    """The message as one line: text quoted from a file (a name, a metadata value) may hold
    newlines or other control characters, which are shown escaped instead of breaking the line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _os_error_sentence(err: OSError) -> str:
    """One sentence for a failed file operation, naming the path when the error has one."""
    what = (err.strerror or str(err) or type(err).__name__).rstrip(".")
    if err.filename is None:
        return f"a file operation failed ({what}); check the paths, permissions and free disk space."
    return f"cannot use {err.filename} ({what}); check the path, its permissions and free disk space."


if __name__ == "__main__":
    raise SystemExit(main())
