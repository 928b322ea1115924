"""The status-bar progress widget of the AVH-Align analysis: stage, bar, time left and Cancel.

The core names its stages for developers and the CLI ("ROI round trip", "video front end"); the
strip shows a plain label for each (:data:`STAGE_LABELS`) with the core's name in the tooltip,
so the core's stage strings, which tests and the CLI rely on, stay as they are.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from forensics_gui.core.progress import format_eta

STAGE_LABELS: dict[str, str] = {
    "hash": "Fingerprinting the file",
    "read": "Reading the file",
    "decode": "Reading the video",
    "decode audio": "Reading the sound",
    "audio": "Reading the sound",
    "loading models": "Loading the detector",
    "landmarks": "Finding the face",
    "mouth crop": "Cutting out the mouth",
    "ROI round trip": "Preparing the mouth images",
    "video front end": "Reading the lips",
    "encoder": "Listening and lip-reading",
    "scoring": "Comparing mouth and voice",
    "reference videos": "Scoring the reference clips",
}
"""Core stage name -> what the strip says (an unknown stage is shown with a capital letter)."""


def stage_label(stage: str) -> str:
    """The plain label of a core progress stage."""
    return STAGE_LABELS.get(stage, stage[:1].upper() + stage[1:])


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
        self.stage_label.setText(stage_label(stage))
        self.stage_label.setToolTip(f"stage: {stage}")
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(1000 * min(1.0, done / total))))
        else:
            self.bar.setRange(0, 0)
        self.eta_label.setText(f"{format_eta(eta_s)} left" if eta_s >= 0 else "")
        self.eta_label.setToolTip("Estimated time left in this step (ETA)")

    def _on_cancel(self) -> None:
        self.stage_label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
        self.cancel_clicked.emit()

    def finish(self) -> None:
        self.setVisible(False)
