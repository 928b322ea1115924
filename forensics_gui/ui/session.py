"""Evented session state: the open clip, the current time, the silence threshold and results.

Views never talk to each other; they call setters here and react to the signals. Setters emit
only when the value changes, which keeps the fan-out free of echo loops.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from forensics_gui.core.media.audio_analysis import AudioAnalysis
from forensics_gui.core.media.silence import DEFAULT_THRESHOLD, SilenceResult
from forensics_gui.core.media.timebase import Timebase


class Session(QObject):
    """State of the viewer; one per main window."""

    media_opened = Signal(object)  # MediaInfo
    time_changed = Signal(float)  # seconds
    threshold_changed = Signal(float)  # amplitude, full scale 1.0
    audio_analysed = Signal(object)  # AudioAnalysis
    silence_changed = Signal(object)  # SilenceResult or None: THE measurement every panel shows
    sha256_computed = Signal(str)
    integrity_checked = Signal(object)  # media.integrity.Integrity of the open clip

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: Any = None
        self.time_s = 0.0
        self.threshold = DEFAULT_THRESHOLD
        self.audio: AudioAnalysis | None = None
        self.silence: SilenceResult | None = None  # of self.audio at self.threshold
        self.sha256: str | None = None
        self.timebase: Timebase | None = None  # frame <-> time of the open clip
        self.integrity: Any = None  # media.integrity.Integrity once checked (damaged or cut files)

    @property
    def path(self) -> str | None:
        return str(self.info.path) if self.info is not None else None

    def open_media(self, info: Any, timebase: Timebase | None) -> None:
        """Make ``info`` the current clip; results of the previous clip are dropped."""
        self.info = info
        self.timebase = timebase
        self.audio = None
        self.silence = None
        self.sha256 = None
        self.integrity = None
        self.time_s = 0.0
        self.media_opened.emit(info)
        self.time_changed.emit(0.0)

    def set_time(self, t: float) -> None:
        """Move the playhead to ``t`` seconds (clamped to the clip)."""
        t = max(0.0, min(float(t), self.duration_s))
        if t != self.time_s:
            self.time_s = t
            self.time_changed.emit(t)

    @property
    def duration_s(self) -> float:
        """How far the playhead goes: the stated duration, or where the readable data ends in
        a damaged or cut-short file."""
        if self.info is None:
            return 0.0
        if self.integrity is not None and self.integrity.damaged:
            return float(self.integrity.data_end_s)
        return float(self.info.duration_s or 0.0)

    def set_integrity(self, integrity: Any) -> None:
        """The open clip's stated-against-readable check; the playhead stays within the data."""
        self.integrity = integrity
        self.integrity_checked.emit(integrity)
        if self.time_s > self.duration_s:
            self.set_time(self.duration_s)

    def set_threshold(self, tau: float) -> None:
        if tau != self.threshold:
            self.threshold = float(tau)
            self.threshold_changed.emit(self.threshold)

    def set_audio(self, analysis: AudioAnalysis) -> None:
        self.audio = analysis
        self.silence = None  # measured from the previous audio, if any
        self.audio_analysed.emit(analysis)

    def set_silence(self, result: SilenceResult | None) -> None:
        self.silence = result
        self.silence_changed.emit(result)

    def measure_silence(self) -> None:
        """Measure the leading silence of the analysed audio at the current tau and publish it.

        Once per (clip, tau): nothing happens when :attr:`silence` already holds that measurement
        (the clip's ``open_media`` drops it), so every panel shows the same result.
        """
        if self.audio is None:
            return
        if self.silence is not None and self.silence.threshold == self.threshold:
            return
        self.set_silence(self.audio.silence_at(self.threshold))

    def set_sha256(self, digest: str) -> None:
        self.sha256 = digest
        self.sha256_computed.emit(digest)
