"""The Qt layer: the viewer window, its views, workers and the annotated screenshot renderer."""

from forensics_gui.ui import _refcount_guard

_refcount_guard.install()
