"""Qt-free core: everything the CLI, the GUI and the tests share.

Nothing under this package may import PySide6 or pyqtgraph (tests/core/test_no_qt.py checks).
Heavy imports (torch, dlib) happen inside the functions that need them.
"""
