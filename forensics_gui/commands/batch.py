"""`forensics-gui batch` (not yet implemented)."""

from __future__ import annotations

import argparse

from forensics_gui.core.errors import ForensicsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs="*")


def run(args: argparse.Namespace) -> int:
    raise ForensicsError("this command is not available in this version yet.")
