"""Guard against a PySide6/shiboken6 6.12 bug on Python < 3.12.

With shiboken6 6.12 (abi3 wheel) on CPython 3.10/3.11, every Qt method that returns ``void``
gives back ``None`` without taking a reference, so each call (``QPainter.drawLine``,
``QWidget.update``, ``processEvents`` ...) lowers ``None``'s reference count by one. After some
tens of thousands of calls, i.e. seconds of playback or zooming, CPython aborts with
"Fatal Python error: none_dealloc". Python 3.12+ makes ``None``/``True``/``False`` immortal, so
the bug is harmless there.

:func:`install` measures the leak once and, only when it is present, adds a huge constant to the
reference counts of those singletons (what 3.12 does by design), which makes the leak harmless.
"""

from __future__ import annotations

import sys

_BALLAST = 1 << 40
_installed = False


def leaks_none() -> bool:
    """True when a void Qt call drops a reference to ``None`` (the 6.12 bug)."""
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        obj.setObjectName("probe")
    return sys.getrefcount(None) < before - 32


def install() -> bool:
    """Apply the guard if needed; returns True when it was applied (idempotent)."""
    global _installed
    if _installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if not leaks_none():
        return False
    import ctypes

    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BALLAST
    _installed = True
    return True
