"""The plain-language summary of an AVH-Align analysis: video score, a verdict that states its
limits, the stretches to check (click to seek) and the brief peaks that were not marked, the
leading silence, the models and caveats, and an "out of date" bar when an option changed since.

The verdict is honest about calibration: AVH-Align's video score has no universal threshold, so
without a reference set of real videos the panel says the score is relative. With a reference
(Analysis > Reference folder of real videos…) it says how many of those real clips score lower,
on a score that does not depend on the clip's length (:func:`comparable_score`), and how many
reference clips there were and how long.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.alignment.scoring import DEFAULT_MIN_FRAMES, find_segments
from forensics_gui.core.encoder.devices import recorded_precision
from forensics_gui.core.evidence import wording
from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_start
from forensics_gui.ui import theme

POOL_NAMES = {"lse": "log-sum-exp", "mean": "mean"}
"""Technical pooling names (tooltips only)."""

FEW_REFERENCES = 20
"""Below this many reference clips the comparison is called rough and never "unusual"."""

MAX_PEAKS_LISTED = 5
"""Brief peaks listed one by one (more are only counted)."""

PEAK_ROLE = Qt.ItemDataRole.UserRole + 1  # list items of brief peaks (not marked segments)

LIPSYNC_HEADING = "Mouth and voice"
LIPSYNC_TOOLTIP = ("Mouth opening against speech loudness, measured without any model file; "
                   "separate from AVH-Align's verdict. Click a stretch to go there.")

VARIANT_NAMES = {"untrimmed": wording.MISMATCH_CURVE, "trimmed": wording.MISMATCH_CURVE_TRIMMED}


def curve_name(kind: str, variant: str) -> str:
    """The plain name of one curve (the lane legends and the summary use it)."""
    if kind == "supervised":
        return wording.SUPERVISED_CURVE + (" (leading silence removed)" if variant == "trimmed" else "")
    return VARIANT_NAMES.get(variant, variant)


def comparable_score(result: Any) -> float:
    """A video score that does not grow with the clip's length, for comparing clips of different
    lengths (the reference percentile).

    The published video score is log-sum-exp over the frames, which grows with log N: a 10 s clip
    (250 frames) scores about log(250/75) = 1.2 higher than a 3 s clip (75 frames) with the same
    per-frame scores. Subtracting log N gives the log-mean-exp, an average in the same spirit
    (dominated by the highest frames) whose expected value does not depend on N; with mean
    pooling the mean already is one. Non-finite frames are left out.
    """
    s = np.asarray(result.frame_scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("nan")
    if getattr(result, "pool", "lse") == "mean":
        return float(s.mean())
    m = float(s.max())
    return m + float(np.log(np.mean(np.exp(s - m))))


@dataclass
class ReferenceScores:
    """Scores of a folder of real videos (same models, same pooling, untrimmed).

    ``scores`` are :func:`comparable_score` values (length-independent), ``durations_s`` the
    scored length of each clip (its frames / 25), in the same order.
    """

    folder: str
    scores: list[float]
    failures: int = 0
    durations_s: list[float] = field(default_factory=list)
    options_key: tuple[Any, ...] | None = None  # the models / preparation they were scored with

    def percentile(self, score: float) -> float:
        """Percentage of reference scores strictly below ``score`` (0-100)."""
        ref = np.asarray(self.scores, dtype=np.float64)
        if ref.size == 0:
            return float("nan")
        return float(100.0 * np.mean(ref < score))

    def count_below(self, score: float) -> int:
        """How many reference scores are strictly below ``score``."""
        return int(np.sum(np.asarray(self.scores, dtype=np.float64) < score))

    def length_text(self) -> str:
        """"2.0–3.0 s long" (or "3.0 s long"); "" when the lengths are unknown."""
        if not self.durations_s:
            return ""
        lo, hi = min(self.durations_s), max(self.durations_s)
        return f"{lo:.1f} s long" if abs(hi - lo) < 0.05 else f"{lo:.1f}–{hi:.1f} s long"


def reference_sentence(reference: ReferenceScores, result: Any) -> str:
    """How ``result`` compares with the real reference clips, in modest words: a count ("higher
    than 9 of the 10"), never a bare percentage, and how few the references are when they are."""
    n = len(reference.scores)
    score = comparable_score(result)
    below = reference.count_below(score)
    length = reference.length_text()
    length = f" ({length})" if length else ""
    about = f"{n} real reference clips{length}"
    if n == 1:
        head = ("This clip's typical mismatch is " + ("" if below else "not ")
                + f"higher than that of the one real reference clip{length}")
    elif below == n:
        head = f"This clip's typical mismatch is higher than that of all {about}"
    elif below == 0:
        head = f"This clip's typical mismatch is not higher than that of any of the {about}"
    else:
        head = f"This clip's typical mismatch is higher than that of {below} of the {about}"
    head += " (same models; compared per frame, so the clips' lengths do not matter)."
    if n < FEW_REFERENCES:
        return (head + f" With only {n} reference clip{'s' if n != 1 else ''} this is a rough "
                f"comparison; {FEW_REFERENCES} or more real clips from the same source make it "
                "firmer.")
    share = below / n
    if share >= 0.95:
        return head + " That is unusual for real clips from this source; look at the stretches below."
    if share <= 0.8:
        return head + " That is within the range of the real reference clips."
    return head + " That is towards the top of the real reference range."


def brief_peaks(result: Any) -> list[tuple[float, float]]:
    """Stretches above the dashed line that are too short to be marked (fewer than
    ``DEFAULT_MIN_FRAMES`` frames after merging gaps, the core's segment rule), as (start_s,
    end_s) on the clip's time axis."""
    scores = np.asarray(getattr(result, "frame_scores", ()), dtype=np.float64)
    threshold = float(getattr(result, "threshold", float("nan")))
    if scores.size == 0 or not np.isfinite(threshold):
        return []
    runs = find_segments(scores, threshold, min_frames=1,
                         first_model_frame=int(getattr(result, "first_model_frame", 0)))
    short = model_frame_start(DEFAULT_MIN_FRAMES) - 0.5 * model_frame_start(1)
    return [(s, e) for s, e in runs if e - s < short]


def peaks_sentence(peaks: list[tuple[float, float]]) -> str:
    """"2 brief peaks above the line, each shorter than 0.2 s, not marked" ("" when none)."""
    if not peaks:
        return ""
    n = len(peaks)
    limit = model_frame_start(DEFAULT_MIN_FRAMES)
    each = "shorter" if n == 1 else "each shorter"
    return (f"{n} brief peak{'s' if n != 1 else ''} above the line, {each} than {limit:.1f} s, "
            "not marked")


def _fmt_time(t: float) -> str:
    from forensics_gui.core.media.timebase import format_timecode

    return format_timecode(t)


def _silence_text(sil: Any) -> str:
    """One plain line about a SilenceResult (None: the clip has no audio)."""
    if sil is None:
        return "no audio"
    return (f"{sil.leading_silence_ms:.1f} ms of digital silence at the start (quiet level "
            f"{sil.threshold:g}). The fakes of FakeAVCeleb and AV-Deepfake1M start with about "
            "25–30 ms of it; silence alone proves nothing.")


def verdict_lines(analysis: Any, reference: ReferenceScores | None = None) -> list[str]:
    """The verdict as plain sentences (no markup)."""
    main = analysis.main
    if main is None:
        return ["No score: the detector produced no curve for this clip."]
    lines = [f"Video score {main.video_score:.3f} for the {model_frame_start(main.num_frames):.1f} s "
             "scored; higher means mouth and voice fit less well."]
    if reference is not None and reference.scores:
        lines.append(reference_sentence(reference, main))
    else:
        lines.append(
            "This score is relative: AVH-Align has no calibrated threshold, so the number alone "
            "does not say real or fake, and typical values depend on the source. Compare it with "
            "real videos from the same source (Analysis > Reference folder of real videos…).")
    segs = main.suspicious_segments
    if segs:
        total = sum(e - s for s, e in segs)
        lines.append(f"{len(segs)} stretch{'es' if len(segs) != 1 else ''} to check, {total:.2f} s "
                     "in all, where the curve stays above the dashed line (unusually high for this "
                     "clip); the line is relative to the clip itself, so a real clip can have "
                     "such stretches too.")
    else:
        peaks = peaks_sentence(brief_peaks(main))
        lines.append("No stretch of frames stands out from the rest of this clip's curve"
                     + (f" ({peaks})." if peaks else "."))
    if "trimmed" in analysis.scores and "untrimmed" in analysis.scores:
        a, b = analysis.scores["untrimmed"].video_score, analysis.scores["trimmed"].video_score
        lines.append(f"With the leading silence removed the score is {b:.3f} (with it {a:.3f}); "
                     "AVH-Align does not rely on the silence, so the two should be close. The "
                     "silence is removed with AVH-Align's official fixed rule (everything before "
                     f"the first sample above {OFFICIAL_TRIM_THRESHOLD:g} of full scale), whatever "
                     "quiet level the display uses.")
    return lines


def _heading(text: str, tooltip: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    label.setToolTip(tooltip)
    return label


class SummaryPanel(QWidget):
    """Shows one ClipAnalysis; ``seek_requested(seconds)`` when a stretch or a brief peak is
    clicked, ``analyze_again_requested()`` from the out-of-date bar's button."""

    seek_requested = Signal(float)
    analyze_again_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.stale_bar = QWidget()
        bar = QHBoxLayout(self.stale_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        self.stale_label = self._label(wording.OUT_OF_DATE)
        self.stale_label.setObjectName("notice")
        self.stale_label.setStyleSheet(f"color: {theme.SILENCE_EDGE};")
        self.analyze_again_button = QPushButton("Analyze again")
        self.analyze_again_button.setToolTip("Analyse this clip with the current options (Ctrl+R)")
        self.analyze_again_button.clicked.connect(self.analyze_again_requested)
        bar.addWidget(self.stale_label, 1)
        bar.addWidget(self.analyze_again_button, 0, Qt.AlignmentFlag.AlignTop)
        self.stale_bar.setVisible(False)
        self.stale = False
        layout.addWidget(self.stale_bar)
        self.status_label = self._label("")
        self.status_label.setObjectName("notice")
        self.score_label = self._label("—", rich=True)
        self.score_label.setToolTip(wording.TECHNICAL_TERMS[wording.VIDEO_SCORE])
        self.verdict_label = self._label("")
        self.verdict_label.setToolTip(
            f"{wording.RELATIVE_NOT_PROOF}\n\nReference comparison: "
            f"{wording.TECHNICAL_TERMS[wording.REFERENCE_SCORE]}.")
        self.segments_list = QListWidget()
        self.segments_list.setFont(theme.monospace_font(9))
        self.segments_list.setMaximumHeight(110)
        self.segments_list.setToolTip(
            "Click a stretch (or a brief peak) to move the playhead to its start.\n"
            f"{wording.THRESHOLD_MEANING}")
        self.segments_list.itemClicked.connect(self._on_segment_clicked)
        self.segments_list.itemActivated.connect(self._on_segment_clicked)
        self.silence_label = self._label("—")
        self.silence_label.setToolTip(f"{wording.SILENCE_MEANING}\n\n{wording.QUIET_LEVEL}: "
                                      f"{wording.TECHNICAL_TERMS[wording.QUIET_LEVEL]}")
        self.models_label = self._label("—", rich=True)
        self.caveats_label = self._label("—", rich=True)
        # mouth and voice: its own section, filled by set_lipsync (no model files needed)
        self.lipsync_heading = _heading(
            str(getattr(wording, "MOUTH_AND_VOICE", LIPSYNC_HEADING)),
            f"{LIPSYNC_TOOLTIP}\n\n"
            + str(wording.TECHNICAL_TERMS.get(getattr(wording, "MOUTH_AND_VOICE", ""), "")))
        self.lipsync_label = self._label("")
        self.lipsync_label.setToolTip(str(getattr(wording, "MOUTH_AND_VOICE_MEANING", "")))
        self.lipsync_list = QListWidget()
        self.lipsync_list.setFont(theme.monospace_font(9))
        self.lipsync_list.setMaximumHeight(80)
        self.lipsync_list.setToolTip(
            "Click a stretch to move the playhead to its start.\n"
            f"{wording.MOUTH_VOICE_STRETCH}: {wording.TECHNICAL_TERMS[wording.MOUTH_VOICE_STRETCH]}")
        self.lipsync_list.itemClicked.connect(self._on_segment_clicked)
        self.lipsync_list.itemActivated.connect(self._on_segment_clicked)
        self.lipsync: Any = None
        stretches = wording.SUSPICIOUS_STRETCH.replace("Stretch", "Stretches")
        for heading, widget in (
                (None, self.status_label),
                (self.lipsync_heading, self.lipsync_label), (None, self.lipsync_list),
                (_heading(wording.VIDEO_SCORE, wording.TECHNICAL_TERMS[wording.VIDEO_SCORE]),
                 self.score_label),
                (_heading("Verdict"), self.verdict_label),
                (_heading(stretches, wording.TECHNICAL_TERMS[wording.SUSPICIOUS_STRETCH]),
                 self.segments_list),
                (_heading(wording.SILENCE_NAME, wording.TECHNICAL_TERMS[wording.SILENCE_NAME]),
                 self.silence_label),
                (_heading("Models"), self.models_label), (_heading("Caveats"), self.caveats_label)):
            if heading is not None:
                layout.addWidget(heading)
            layout.addWidget(widget)
        layout.addStretch(1)
        self.set_lipsync(None)
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
        self.set_stale(False)
        self.status_label.setText(status)
        self.status_label.setVisible(bool(status))
        self.score_label.setText("—")
        self.verdict_label.setText("")
        self.segments_list.clear()
        self.silence_label.setText(_silence_text(self.measured_silence)
                                   if self.measured_silence is not None else "—")
        self.models_label.setText("—")
        self.caveats_label.setText("—")

    def set_lipsync(self, result: Any) -> None:
        """The "Mouth and voice" section from a core LipSyncResult (None: hidden): its plain
        readings, and its flagged stretches as a list (click to seek). Kept apart from
        AVH-Align's verdict; :meth:`clear` leaves it alone (the owner clears it with None)."""
        self.lipsync = result
        self.lipsync_list.clear()
        shown = result is not None
        for widget in (self.lipsync_heading, self.lipsync_label):
            widget.setVisible(shown)
        if result is None:
            self.lipsync_label.setText("")
            self.lipsync_list.setVisible(False)
            return
        readings = [str(r) for r in getattr(result, "readings", []) or [] if str(r).strip()]
        self.lipsync_label.setText("\n".join(readings) or "Mouth and voice were measured.")
        for s, e in getattr(result, "flagged", []) or []:
            item = QListWidgetItem(f"{_fmt_time(s)} – {_fmt_time(e)}  ({e - s:.2f} s)")
            item.setData(Qt.ItemDataRole.UserRole, float(s))
            self.lipsync_list.addItem(item)
        self.lipsync_list.setVisible(self.lipsync_list.count() > 0)

    def lipsync_texts(self) -> list[str]:
        """The section as the user reads it: the readings, then the listed stretches."""
        if self.lipsync is None:
            return []
        return [self.lipsync_label.text()] + [self.lipsync_list.item(i).text()
                                              for i in range(self.lipsync_list.count())]

    def set_stale(self, stale: bool) -> None:
        """Mark the shown analysis as out of date (an option that changes the result changed
        since): the bar with "Analyze again" shows and the scores, verdict and list are greyed."""
        self.stale = bool(stale)
        self.stale_bar.setVisible(self.stale)
        for widget in (self.score_label, self.verdict_label, self.segments_list):
            widget.setEnabled(not self.stale)

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
        for kind, table in (("unsupervised", analysis.scores), ("supervised", analysis.supervised)):
            for variant, res in table.items():
                rows.append(f"{html.escape(curve_name(kind, variant))}: <b>{res.video_score:.3f}</b> "
                            f"<span style='color:{theme.MUTED}'>(typical per frame "
                            f"{comparable_score(res):.3f})</span>")
        self.score_label.setText("<br>".join(rows) or "—")
        if main is not None:
            self.score_label.setToolTip(
                f"{wording.TECHNICAL_TERMS[wording.VIDEO_SCORE]}. This clip: "
                f"{POOL_NAMES.get(main.pool, main.pool)} pooling of {main.num_frames} frame scores "
                f"(one per 1/{MODEL_FPS:g} s), mean "
                f"{main.other_pool_scores.get('mean', float('nan')):.3f}. Typical per frame: "
                f"{wording.TECHNICAL_TERMS[wording.REFERENCE_SCORE]}.")
        self.verdict_label.setText("\n\n".join(verdict_lines(analysis, self.reference)))
        self._fill_segments(main)
        # The viewer's own measurement at the current tau; the analysis's copy (the same
        # measurement when the GUI passed it in) only stands in before the viewer has one.
        shown = self.measured_silence if self.measured_silence is not None else analysis.silence
        self.silence_label.setText(_silence_text(shown))
        models = []
        precision = recorded_precision(analysis.models)
        for m in analysis.models:
            extra = f", {m['device']}" if m.get("device") else ""
            if m.get("role") == "features" and precision != "float32":
                extra += f", {precision}"
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
        reduced = wording.precision_caveat(precision)  # a bf16/fp16 result says so first
        caveats = ([reduced] if reduced else []) + list(analysis.caveats)
        self.caveats_label.setText("<br>".join(f"• {html.escape(c)}" for c in caveats) or "none")

    def _fill_segments(self, main: Any) -> None:
        """The marked stretches (click to seek), then the brief peaks above the line that were
        too short to be marked, so a curve crossing the dashed line never meets "none"."""
        self.segments_list.clear()
        if main is None:
            return
        for s, e in main.suspicious_segments:
            item = QListWidgetItem(f"{_fmt_time(s)} – {_fmt_time(e)}  ({e - s:.2f} s)")
            item.setData(Qt.ItemDataRole.UserRole, float(s))
            self.segments_list.addItem(item)
        peaks = brief_peaks(main)
        if not main.suspicious_segments:
            item = QListWidgetItem("none marked" if peaks else "none")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.segments_list.addItem(item)
        if peaks:
            tip = (f"{wording.BRIEF_PEAK}: {wording.TECHNICAL_TERMS[wording.BRIEF_PEAK]}. "
                   "Click to go to the first one.")
            item = QListWidgetItem(peaks_sentence(peaks))
            item.setData(Qt.ItemDataRole.UserRole, float(peaks[0][0]))
            item.setData(PEAK_ROLE, True)
            item.setToolTip(tip)
            item.setForeground(theme_colour(theme.MUTED))
            self.segments_list.addItem(item)
            if len(peaks) <= MAX_PEAKS_LISTED:
                for s, e in peaks:
                    item = QListWidgetItem(f"  brief peak at {_fmt_time(s)}  ({e - s:.2f} s)")
                    item.setData(Qt.ItemDataRole.UserRole, float(s))
                    item.setData(PEAK_ROLE, True)
                    item.setToolTip(tip)
                    item.setForeground(theme_colour(theme.MUTED))
                    self.segments_list.addItem(item)

    def list_texts(self) -> list[str]:
        """The texts of the stretch list, in order (what the user reads)."""
        return [self.segments_list.item(i).text() for i in range(self.segments_list.count())]

    def segment_starts(self) -> list[float]:
        """Start times (s) of the listed stretches (marked segments only), in list order."""
        out = []
        for i in range(self.segments_list.count()):
            item = self.segments_list.item(i)
            v = item.data(Qt.ItemDataRole.UserRole)
            if v is not None and not item.data(PEAK_ROLE):
                out.append(float(v))
        return out

    def _on_segment_clicked(self, item: QListWidgetItem) -> None:
        v = item.data(Qt.ItemDataRole.UserRole)
        if v is not None:
            self.seek_requested.emit(float(v))


def theme_colour(name: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(name))
