"""packaging/: the menu entry script and the PyTorch choice, run as a user would run them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _desktop_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "HOME": str(tmp_path)}


def test_install_desktop_puts_entry_and_icon_into_the_users_menu(tmp_path: Path) -> None:
    folder = tmp_path / 'odd "$dir"'  # quoting per the Desktop Entry spec
    folder.mkdir()
    program = folder / "forensics-gui"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    done = subprocess.run(["bash", str(PACKAGING / "install_desktop.sh"), str(program)],
                          capture_output=True, text=True, env=_desktop_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    entry = tmp_path / "share" / "applications" / "forensics-gui.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "forensics-gui.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "forensics-gui.svg").read_bytes()
    lines = entry.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]" and "Icon=forensics-gui" in lines
    (exec_line,) = [line for line in lines if line.startswith("Exec=")]
    escaped = str(folder).replace('"', '\\\\"').replace("$", "\\\\$")
    assert exec_line == f'Exec="{escaped}/forensics-gui" %f'
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    done = subprocess.run(["bash", str(PACKAGING / "install_desktop.sh"), "--uninstall"],
                          capture_output=True, text=True, env=_desktop_env(tmp_path), timeout=60)
    assert done.returncode == 0 and not entry.exists() and not icon.exists()


def test_install_desktop_without_a_bundle_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(PACKAGING / "install_desktop.sh"), str(tmp_path / "none")],
                          capture_output=True, text=True, env=_desktop_env(tmp_path), timeout=60)
    assert done.returncode == 2
    assert "build the bundle first (bash packaging/build_bundle.sh)" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "share").exists()


def test_torch_choice_tries_the_cpu_index_then_pypi(tmp_path: Path) -> None:
    """install_torch with a stand-in pip: the CPU index first; PyPI only when it fails."""
    log = tmp_path / "pip.log"
    fake = tmp_path / "python"
    fake.write_text(f"""#!/bin/bash
if [ "$1" = "-c" ]; then echo "PyTorch 2.13.0+cpu (CPU build)"; exit 0; fi
echo "$*" >> {log}
case "$*" in *download.pytorch.org*) exit "${{CPU_INDEX_RC:-0}}";; esac
exit 0
""")
    fake.chmod(0o755)
    script = f'source {PACKAGING / "torch.sh"}; install_torch {fake}'
    env = {k: v for k, v in os.environ.items() if k != "FORENSICS_TORCH"}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and "--index-url https://download.pytorch.org/whl/cpu" in calls[0]
    assert "torch==2.13.0" in calls[0] and "(CPU build)" in done.stdout
    log.unlink()
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={**env, "CPU_INDEX_RC": "1"}, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and calls[1].endswith("install -q torch==2.13.0")
    assert "cannot be reached" in done.stdout and "CUDA build" in done.stdout
    log.unlink()
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**env, "FORENSICS_TORCH": "torch==2.13.0 --index-url https://x/cu126"})
    assert log.read_text().splitlines() == ["-m pip install -q torch==2.13.0 --index-url https://x/cu126"]
