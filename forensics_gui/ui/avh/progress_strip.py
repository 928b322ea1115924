"""The status-bar progress widget of the AVH-Align analysis: stage, bar, ETA and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from forensics_gui.core.progress import format_eta


class ProgressStrip(QWidget):
    """Status-bar widget: stage name, progress bar, ETA and a Cancel button (hidden when idle)."""

    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage_label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.eta_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the analysis (takes effect within a second)")
        self.cancel_button.clicked.connect(self._on_cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.stage_label, self.bar, self.eta_label, self.cancel_button):
            row.addWidget(w)
        self.setVisible(False)

    def start(self, text: str = "Starting analysis…") -> None:
        self.stage_label.setText(text)
        self.bar.setRange(0, 0)
        self.eta_label.setText("")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def show_progress(self, stage: str, done: float, total: float, eta_s: float) -> None:
        """``total`` <= 0 = unknown (busy bar); ``eta_s`` < 0 = unknown."""
        self.stage_label.setText(stage)
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(1000 * min(1.0, done / total))))
        else:
            self.bar.setRange(0, 0)
        self.eta_label.setText(f"ETA {format_eta(eta_s if eta_s >= 0 else None)}")

    def _on_cancel(self) -> None:
        self.stage_label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
        self.cancel_clicked.emit()

    def finish(self) -> None:
        self.setVisible(False)
