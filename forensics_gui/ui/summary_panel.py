"""The plain-language summary of an AVH-Align analysis: video score, a verdict that states its
limits, the suspicious segments (click to seek), the leading silence, the models and caveats.

The verdict is honest about calibration: AVH-Align's video score has no universal threshold, so
without a reference set of real videos the panel says the score is relative. With a reference
(Analysis > Reference folder of real videos…) it gives the percentile of this clip's score among
them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from forensics_gui.core.media.silence import TRIMMED_RULE_NOTE, summary_line
from forensics_gui.ui import theme

POOL_NAMES = {"lse": "log-sum-exp", "mean": "mean"}


@dataclass
class ReferenceScores:
    """Video scores of a folder of real videos (same models, same pooling, same variant)."""

    folder: str
    scores: list[float]
    failures: int = 0

    def percentile(self, score: float) -> float:
        """Percentage of reference scores strictly below ``score`` (0-100)."""
        ref = np.asarray(self.scores, dtype=np.float64)
        if ref.size == 0:
            return float("nan")
        return float(100.0 * np.mean(ref < score))


def _fmt_time(t: float) -> str:
    from forensics_gui.core.media.timebase import format_timecode

    return format_timecode(t)


def _silence_text(sil: Any) -> str:
    """One line about a SilenceResult (None: the clip has no audio)."""
    return "no audio" if sil is None else summary_line(sil)


def verdict_lines(analysis: Any, reference: ReferenceScores | None = None) -> list[str]:
    """The verdict as plain sentences (no markup)."""
    main = analysis.main
    if main is None:
        return ["No score: the detector produced no curve for this clip."]
    pool = POOL_NAMES.get(main.pool, main.pool)
    lines = [f"Video score {main.video_score:.3f} ({pool} of {main.num_frames} frame scores; "
             "higher = mouth and sound agree less)."]
    if reference is not None and reference.scores:
        pct = reference.percentile(main.video_score)
        lines.append(
            f"Higher than {pct:.0f} % of the {len(reference.scores)} real reference videos' scores "
            f"(same models and pooling). "
            + ("That is unusual for real videos from this source; look at the segments below."
               if pct >= 95 else
               "That is within the range of the real reference videos."
               if pct <= 80 else "That is towards the top of the real reference range."))
    else:
        lines.append(
            "This score is relative: AVH-Align has no calibrated threshold, so the number alone "
            "does not say real or fake, and typical values depend on the source. Compare it with "
            "real videos from the same source (Analysis > Reference folder of real videos…).")
    segs = main.suspicious_segments
    if segs:
        total = sum(e - s for s, e in segs)
        lines.append(f"{len(segs)} segment(s), {total:.2f} s in all, stand out from the rest of this "
                     "clip's curve (where mouth and sound agree least); they are relative to the "
                     "clip itself, so a real clip can have one too.")
    else:
        lines.append("No stretch of frames stands out from the rest of this clip's curve.")
    if "trimmed" in analysis.scores and "untrimmed" in analysis.scores:
        a, b = analysis.scores["untrimmed"].video_score, analysis.scores["trimmed"].video_score
        lines.append(f"With the leading silence trimmed the score is {b:.3f} (untrimmed {a:.3f}); "
                     "AVH-Align does not rely on the silence, so the two should be close. "
                     + TRIMMED_RULE_NOTE)
    return lines


class SummaryPanel(QWidget):
    """Shows one ClipAnalysis; ``seek_requested(seconds)`` when a segment is clicked."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.status_label = self._label("")
        self.status_label.setObjectName("notice")
        self.score_label = self._label("—", rich=True)
        self.verdict_label = self._label("")
        self.segments_list = QListWidget()
        self.segments_list.setFont(theme.monospace_font(9))
        self.segments_list.setMaximumHeight(110)
        self.segments_list.setToolTip("Click a segment to move the playhead to its start")
        self.segments_list.itemClicked.connect(self._on_segment_clicked)
        self.segments_list.itemActivated.connect(self._on_segment_clicked)
        self.silence_label = self._label("—")
        self.models_label = self._label("—", rich=True)
        self.caveats_label = self._label("—", rich=True)
        for title, widget in (("", self.status_label), ("AVH-Align score", self.score_label),
                              ("Verdict", self.verdict_label),
                              ("Suspicious segments", self.segments_list),
                              ("Leading silence", self.silence_label),
                              ("Models", self.models_label), ("Caveats", self.caveats_label)):
            if title:
                heading = QLabel(title)
                heading.setObjectName("heading")
                layout.addWidget(heading)
            layout.addWidget(widget)
        layout.addStretch(1)
        self.analysis: Any = None
        self.reference: ReferenceScores | None = None
        self.measured_silence: Any = None  # session.silence: THE SilenceResult of the clip at tau
        self.clear("Analysis > Analyze (Ctrl+R) scores this clip with AVH-Align.")

    @staticmethod
    def _label(text: str, rich: bool = False) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        return label

    def clear(self, status: str = "") -> None:
        self.analysis = None
        self.status_label.setText(status)
        self.status_label.setVisible(bool(status))
        self.score_label.setText("—")
        self.verdict_label.setText("")
        self.segments_list.clear()
        self.silence_label.setText(_silence_text(self.measured_silence)
                                   if self.measured_silence is not None else "—")
        self.models_label.setText("—")
        self.caveats_label.setText("—")

    def set_measured_silence(self, silence: Any) -> None:
        """Show the leading silence the viewer measured (``session.silence``, a core SilenceResult;
        None = not yet), with or without an analysis: it is known before, and without, any
        AVH-Align run, and it follows tau, so the summary and the info panel always agree."""
        self.measured_silence = silence
        if silence is not None:
            self.silence_label.setText(_silence_text(silence))
        elif self.analysis is None:
            self.silence_label.setText("—")

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    def set_reference(self, reference: ReferenceScores | None) -> None:
        self.reference = reference
        if self.analysis is not None:
            self.set_analysis(self.analysis, keep_status=True)

    def set_analysis(self, analysis: Any, keep_status: bool = False) -> None:
        """Fill every section from a core ClipAnalysis."""
        self.analysis = analysis
        if not keep_status:
            self.set_status("")
        main = analysis.main
        rows = []
        for kind, table in (("", analysis.scores), ("supervised ", analysis.supervised)):
            for variant, res in table.items():
                rows.append(f"{kind}{variant}: <b>{res.video_score:.3f}</b> "
                            f"<span style='color:{theme.MUTED}'>({POOL_NAMES.get(res.pool, res.pool)}"
                            f"; mean {res.other_pool_scores.get('mean', float('nan')):.3f})</span>")
        self.score_label.setText("<br>".join(rows) or "—")
        self.verdict_label.setText("\n\n".join(verdict_lines(analysis, self.reference)))
        self.segments_list.clear()
        if main is not None:
            for s, e in main.suspicious_segments:
                item = QListWidgetItem(f"{_fmt_time(s)} – {_fmt_time(e)}  ({e - s:.2f} s)")
                item.setData(Qt.ItemDataRole.UserRole, float(s))
                self.segments_list.addItem(item)
            if not main.suspicious_segments:
                item = QListWidgetItem("none")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.segments_list.addItem(item)
        # The viewer's own measurement at the current tau; the analysis's copy (the same
        # measurement when the GUI passed it in) only stands in before the viewer has one.
        shown = self.measured_silence if self.measured_silence is not None else analysis.silence
        self.silence_label.setText(_silence_text(shown))
        models = []
        for m in analysis.models:
            extra = f", {m['device']}" if m.get("device") else ""
            models.append(f"{html.escape(m.get('role', ''))}: {html.escape(m.get('name', ''))} "
                          f"<span style='color:{theme.MUTED}'>sha256 {str(m.get('sha256', ''))[:12]}…"
                          f"{html.escape(extra)}</span>")
        record = getattr(analysis, "preparation", None)
        if record:
            models.append(f"mouth crop: {html.escape(str(record.get('preparation', '?')))} landmarks "
                          f"<span style='color:{theme.MUTED}'>dlib {html.escape(str(record.get('dlib_version', '?')))}, "
                          f"landmark model sha256 {str(record.get('landmark_model_sha256', ''))[:12]}…, "
                          f"mean face sha256 {str(record.get('mean_face_sha256', ''))[:12]}…</span>")
        self.models_label.setText("<br>".join(models) or "—")
        self.caveats_label.setText("<br>".join(f"• {html.escape(c)}" for c in analysis.caveats) or "none")

    def segment_starts(self) -> list[float]:
        """Start times (s) of the listed segments, in list order."""
        out = []
        for i in range(self.segments_list.count()):
            v = self.segments_list.item(i).data(Qt.ItemDataRole.UserRole)
            if v is not None:
                out.append(float(v))
        return out

    def _on_segment_clicked(self, item: QListWidgetItem) -> None:
        v = item.data(Qt.ItemDataRole.UserRole)
        if v is not None:
            self.seek_requested.emit(float(v))
