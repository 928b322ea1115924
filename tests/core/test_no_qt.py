"""The core must import without Qt: a script, the CLI and the tests use it without a display."""

import pkgutil
import subprocess
import sys

import pytest

import forensics_gui.core


@pytest.mark.slow
def test_core_modules_import_no_qt() -> None:
    names = [m.name for m in pkgutil.walk_packages(forensics_gui.core.__path__, "forensics_gui.core.")]
    assert names, "no core modules found"
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout}"


def test_cli_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from forensics_gui import cli\n"
        "cli._build_parser()\n"
        "bad = [m for m in ('torch', 'dlib', 'PySide6', 'pyqtgraph') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"--help imported heavy modules: {out.stdout}"
