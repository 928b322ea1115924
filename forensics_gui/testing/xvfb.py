"""A real X server for tests that must see what a user sees (Xvfb, from Debian's ``xvfb``).

The test process itself runs Qt on the offscreen platform (one platform per process), so a test
that needs a real X window starts Xvfb with :func:`xvfb` and runs the viewer in a child process
with ``DISPLAY`` set and ``QT_QPA_PLATFORM=xcb`` (:func:`x_env`).

:func:`require_xvfb` skips a test where Xvfb is not installed, except under CI (``CI=true``),
where ``bash packaging/install.sh --test`` installs it, so a missing X server fails there.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

START_TIMEOUT_S = 20.0


class XvfbUnavailable(RuntimeError):
    """Xvfb is not installed or did not start."""


def require_xvfb() -> str:
    """The Xvfb executable; skips the calling test when there is none (fails under CI)."""
    import pytest

    exe = shutil.which("Xvfb")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Xvfb is missing under CI: packaging/install.sh --test installs 'xvfb'.")
        pytest.skip("Xvfb is not installed (apt-get install xvfb; packaging/install.sh --test does)")
    return exe


@contextmanager
def xvfb(width: int = 1280, height: int = 720, depth: int = 24,
         fbdir: str | None = None) -> Iterator[str]:
    """Run an Xvfb screen of ``width`` x ``height`` and yield its DISPLAY (e.g. ``":7"``).

    ``fbdir``: a folder where Xvfb keeps the screen as a memory-mapped XWD file
    (``fbdir/Xvfb_screen0``), so a test can read the pixels as they are drawn."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise XvfbUnavailable("Xvfb is not installed")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x{depth}",
         "-nolisten", "tcp", "-noreset", "+extension", "RANDR",
         *(["-fbdir", fbdir] if fbdir else [])],
        pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT_S)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number.isdigit():
            raise XvfbUnavailable(f"Xvfb did not start within {START_TIMEOUT_S:g} s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a helper process (X server, sound server, window manager), killing it after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def x_env(display: str, **extra: str) -> dict[str, str]:
    """The environment for a child process that opens real X windows on ``display``."""
    env = dict(os.environ)
    env.update({"DISPLAY": display, "QT_QPA_PLATFORM": "xcb"})
    env.pop("WAYLAND_DISPLAY", None)
    env.update(extra)
    return env
