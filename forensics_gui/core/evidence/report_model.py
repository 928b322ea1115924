"""The report's content as plain data (no Qt, no I/O): the stretches to check with their key
frames, the silence panel and the whole report, plus the layout constants the PDF and HTML
writers share. Built by :func:`forensics_gui.core.evidence.report.build_report`; written by
:mod:`~forensics_gui.core.evidence.report_pdf` and :mod:`~forensics_gui.core.evidence.report_html`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from forensics_gui.core.media.timebase import format_timecode

SUFFIXES = (".pdf", ".html", ".htm")
SILENCE_WINDOW_MS = 100.0  # the silence panel shows the first 100 ms of the sound
SILENCE_COLUMNS = 400  # loudness columns across that window
FLOOR_DB = -100.0  # loudness of exact digital silence in the panel (dB below full scale)
SEGMENTS_ON_PAGE_ONE = 4  # more stretches go to a second page
MAX_SEGMENT_PICTURES = 24  # stretches shown with their frames; any more are listed as times
THUMB_HEIGHT = 200  # px of a key frame picture (about 2x its printed size)
MAX_NOTE_ON_PAGE_ONE = 600  # characters of the note on page one; a longer note continues overleaf

NO_RESULT_CLI = ("No analysis result was given, so this report shows the sound's leading silence "
                 "only. To add the mouth-voice mismatch, run 'forensics-gui analyze VIDEO -o "
                 "RESULT.json' and pass '--result RESULT.json'.")
NO_RESULT_VIEWER = ("The clip has not been analysed, so this report shows the sound's leading "
                    "silence only. Run Analysis > Analyze (Ctrl+R) first to add the mouth-voice "
                    "mismatch.")
SILENCE_PANEL_MEANING = ("The plot shows the loudness of the first 100 ms of the sound (top: "
                         "full scale; bottom: exact digital silence); the shaded band is the "
                         "leading digital silence, the dashed line the quiet level.")


@dataclass
class KeyFrame:
    """One stretch to check: its times, the key frame at its peak and the mouth crop there."""

    start_s: float
    end_s: float
    peak_s: float  # time of the highest score within the stretch
    peak_value: float | None  # that score (None when the result has no curve values there)
    frame_png: bytes | None = None  # the frame at peak_s with the face box drawn, scaled down
    mouth_png: bytes | None = None  # the 96x96 grey mouth crop the model sees
    note: str = ""  # where the crop comes from, or why there is none

    @property
    def times_text(self) -> str:
        return f"{format_timecode(self.start_s)} – {format_timecode(self.end_s)}"


@dataclass
class SilencePanel:
    """The leading silence: one measurement, the loudness of the first 100 ms, a tau table."""

    leading_ms: float | None  # None: no sound track
    threshold: float  # the quiet level tau the measurement used
    sentence: str  # wording.silence_sentence of the measurement
    loudness_db: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per column, dBFS
    window_ms: float = SILENCE_WINDOW_MS
    tau_table: list[tuple[float, float]] = field(default_factory=list)  # (tau, silence ms)

    @property
    def threshold_db(self) -> float:
        return 20.0 * math.log10(self.threshold) if self.threshold > 0 else FLOOR_DB


@dataclass
class Report:
    """Everything the report shows (see the module docstring)."""

    file_name: str
    sha256: str
    created_utc: str
    app_version: str
    picture_png: bytes | None
    picture_size: tuple[int, int]  # pixels of picture_png (0, 0 without one)
    summary: list[str]
    warnings: list[str]
    caveats: list[str]
    silence: SilencePanel
    segments: list[KeyFrame]
    more_segments: list[tuple[float, float]]  # stretches beyond MAX_SEGMENT_PICTURES
    provenance: list[tuple[str, str]]
    glossary: list[tuple[str, str]]
    note: str = ""
    mouth_and_voice: list[str] = field(default_factory=list)  # plain readings (no model needed)

    @property
    def title(self) -> str:
        return f"Forensic report: {self.file_name}"
