"""Smoke test of the one-folder desktop bundle (packaging/build_bundle.sh, PyInstaller).

Building the bundle takes minutes and GBs, so these tests run only where a built bundle exists
(``dist/forensics-gui/forensics-gui``, or the program named by ``FORENSICS_BUNDLE``) or when
``FORENSICS_BUNDLE_TEST=1`` asks for them (then a missing bundle is built first). They run the
bundle as a user would: ``--version``, ``silence`` and ``models list`` (the registry inside the
bundle), ``roi`` on a generated face clip (dlib and its landmark model), and the viewer on its demo
clip, opened offscreen and closed with SIGTERM once it listens for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forensics_gui import __version__

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("FORENSICS_BUNDLE", ROOT / "dist" / "forensics-gui" / "forensics-gui"))
ASKED = os.environ.get("FORENSICS_BUNDLE_TEST") == "1"

pytestmark = [
    pytest.mark.skipif(not (ASKED or BUNDLE.is_file()),
                       reason="no built bundle (bash packaging/build_bundle.sh, or "
                       "FORENSICS_BUNDLE_TEST=1 to build and test it)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bundle is built on Linux"),
]


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not BUNDLE.is_file():
        subprocess.run(["bash", str(ROOT / "packaging" / "build_bundle.sh")], cwd=ROOT, check=True)
    assert BUNDLE.is_file() and os.access(BUNDLE, os.X_OK)
    return BUNDLE


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), FORENSICS_GUI_DATA=str(tmp_path / "data"),
               FORENSICS_GUI_CACHE=str(tmp_path / "cache"),
               FORENSICS_GUI_MODELS=str(tmp_path / "models"))
    return env


@pytest.mark.slow
def test_bundle_version(bundle: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, timeout=300,
                          env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"forensics-gui {__version__}"


@pytest.mark.slow
def test_bundle_measures_silence_and_lists_its_models(bundle: Path, tmp_path: Path) -> None:
    from forensics_gui.demo import make_clip

    clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0, leading_silence_ms=40.0, face=False).path
    done = subprocess.run([str(bundle), "silence", str(clip), "--json"], capture_output=True,
                          text=True, timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert abs(result["leading_silence_ms"] - 40.0) < 2.0
    # The registry is found inside the bundle (package data), not in a source tree.
    done = subprocess.run([str(bundle), "models", "list", "--json", "--quiet"], capture_output=True,
                          text=True, timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert str(bundle.parent) in listed["registry"]
    assert {"self_large_vox_433h.pt", "AVH-Align_AV1M.pt"} <= {m["name"] for m in listed["models"]}


@pytest.mark.slow
def test_bundle_finds_the_face_landmark_model(bundle: Path, tmp_path: Path) -> None:
    """dlib and its 68-landmark model work inside the bundle: the mouth crop of a face clip."""
    from forensics_gui.demo import make_clip

    clip = make_clip(tmp_path / "face.mp4", duration_s=1.0, face=True).path
    done = subprocess.run([str(bundle), "roi", str(clip), "-o", str(tmp_path / "roi")],
                          capture_output=True, text=True, timeout=300, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "roi" / "face_roi.mp4").stat().st_size > 0
    assert (tmp_path / "roi" / "face_landmarks.npz").is_file()


def _catches_sigterm(pid: int) -> bool:
    """True once the process has a SIGTERM handler (the viewer's clean quit is installed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")),
                  "0")
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow
def test_bundle_opens_the_viewer_offscreen_and_closes(bundle: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen([str(bundle), "--demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        demo = tmp_path / "data" / "demo"
        deadline = time.monotonic() + 300  # bounds a hang only
        while time.monotonic() < deadline and proc.poll() is None:
            if _catches_sigterm(proc.pid) and any(demo.glob("*.mp4")):
                break
            time.sleep(0.1)  # polling a condition
        assert proc.poll() is None, proc.communicate()[1]
        assert any(demo.glob("*.mp4")), "the viewer did not make its demo clip"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
