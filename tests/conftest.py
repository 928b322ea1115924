import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    # PySide6 6.12 on CPython < 3.12 drops a reference to None on every void Qt call; every Qt
    # test gets the guard, not only those that import forensics_gui.ui (see ui/_refcount_guard.py).
    try:
        from forensics_gui.ui import _refcount_guard
    except ImportError:
        return
    _refcount_guard.install()
