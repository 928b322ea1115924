import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

LEAK_GRACE_S = 30.0
"""How long a test module's child processes and threads get to end after it (bounds a hang only)."""


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    # PySide6 6.12 on CPython < 3.12 drops a reference to None on every void Qt call; every Qt
    # test gets the guard, not only those that import forensics_gui.ui (see ui/_refcount_guard.py).
    try:
        from forensics_gui.ui import _refcount_guard
    except ImportError:
        return
    _refcount_guard.install()


def _live_children() -> set[int]:
    """PIDs of this process's children that are still running (Linux /proc), except zombies and
    the helpers multiprocessing keeps for the whole session (resource tracker, fork server)."""
    import multiprocessing
    from multiprocessing import forkserver, resource_tracker

    multiprocessing.active_children()  # reaps the multiprocessing children that have ended
    helpers = {getattr(resource_tracker._resource_tracker, "_pid", None),
               getattr(forkserver._forkserver, "_forkserver_pid", None)}
    me, pids = os.getpid(), set[int]()
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if int(fields[1]) == me and fields[0] != "Z" and int(entry.name) not in helpers:
            pids.add(int(entry.name))
    return pids


def _live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive() and not t.daemon}


@pytest.fixture(autouse=True, scope="module")
def _no_leaked_children_or_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test module ends the child processes and non-daemon threads it started (its tests and
    its fixtures, e.g. a child process shared by the module): one left running would make a
    later module depend on the order, and a CI run end with strays."""
    children, threads = _live_children(), _live_threads()
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    while True:
        new_children = _live_children() - children
        new_threads = _live_threads() - threads
        if not (new_children or new_threads) or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # polling a condition: ends as soon as nothing new is running
    assert not new_children, f"{request.node.nodeid} left child processes running: {sorted(new_children)}"
    assert not new_threads, f"{request.node.nodeid} left threads running: {sorted(t.name for t in new_threads)}"
