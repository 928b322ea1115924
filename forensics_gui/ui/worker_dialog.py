"""A dialog that runs one background :class:`~forensics_gui.ui.worker_base.Worker` at a time
(Analysis > Train, Tools > Audit dataset): the shared start, cancel, shutdown and close, and the
one-line status under the form.

A subclass builds ``status_label`` and ``stage_label`` (QLabels), and implements
``_update_buttons()`` (enable what fits :attr:`running`) and ``_on_thread_finished()`` (which
calls :meth:`_end_run` first and returns when it gives False).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QLabel, QWidget

from forensics_gui.ui import theme
from forensics_gui.ui.worker_base import Worker


class WorkerDialog(QDialog):
    """See the module docstring."""

    status_label: QLabel
    stage_label: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker: Worker | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def _launch(self, worker: Worker, slots: dict[Any, Any]) -> None:
        """Connect ``slots`` ({signal of ``worker``: slot}) and the thread's end, then start it."""
        for signal, slot in slots.items():
            signal.connect(slot)
        worker.qthread.finished.connect(self._on_thread_finished)
        self._worker = worker
        self._update_buttons()
        worker.start()

    def _end_run(self) -> bool:
        """Forget the finished worker; False when there was none (the end was already handled)."""
        if self._worker is None:
            return False
        self._worker = None
        return True

    def cancel(self) -> None:
        """Ask the run to stop at its next check (what it finished is kept)."""
        if self._worker is not None:
            self._worker.cancel()
            self.stage_label.setText("cancelling")

    def shutdown(self) -> None:
        """Cancel any run and wait for its thread (call before the app quits)."""
        worker = self._worker
        if worker is not None:
            self.cancel()
            worker.wait()
            QCoreApplication.sendPostedEvents(self)  # deliver the worker's last signals now
            self._on_thread_finished()

    def _show_status(self, sentence: str, error: bool = False) -> None:
        self.status_label.setText(sentence)
        self.status_label.setStyleSheet(f"color: {theme.PLAYHEAD};" if error else "")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    # -- for the subclass ---------------------------------------------------------------------
    def _update_buttons(self) -> None:
        raise NotImplementedError

    def _on_thread_finished(self) -> None:
        raise NotImplementedError
