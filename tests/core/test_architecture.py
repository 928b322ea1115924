"""The architecture rules hold: import-linter's contracts (pyproject.toml, README "Code layout"),
and, without import-linter, that the app never imports the test factories."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import forensics_gui

PACKAGE = Path(forensics_gui.__file__).resolve().parent
ROOT = PACKAGE.parent


def test_import_linter_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                        no_logo=True) == 0


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement in ``path`` names (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_app_never_imports_the_test_factories() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        if any(n == "forensics_gui.testing" or n.startswith("forensics_gui.testing.")
               for n in _imported_modules(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_demo_clip_generator_needs_neither_qt_nor_the_test_factories() -> None:
    code = (
        "import sys\n"
        "import forensics_gui.demo\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')\n"
        "       or m.startswith('forensics_gui.testing')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
