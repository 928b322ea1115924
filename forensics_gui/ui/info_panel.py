"""The info panel: file facts, SHA-256, the silence verdict, the tau control and sweep tables."""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.core.evidence import wording
from forensics_gui.core.media.silence import THRESHOLD_RULE, validate_threshold
from forensics_gui.ui import theme

PANEL_WIDTH = 300  # px, at least: the tables and the wrapped SHA-256 fit (a dock may be wider)
TABLE_ROW_PX = 20
TAU_DECIMALS = 6
TAU_STEPS = tuple(m * 10.0**e for e in range(-TAU_DECIMALS, 0) for m in (1.0, 2.0, 5.0))
TAU_MAX = 1.0 - 10.0**-TAU_DECIMALS  # the largest shown value below 1 (tau must be < 1)


class TauSpinBox(QDoubleSpinBox):
    """Amplitude threshold with 1-2-5 log steps (1e-6 … 0.5); any valid value can be typed.

    Its range is the core's tau rule (0 < tau < 1) at 6 decimals: a typed value outside it is
    refused (the box goes back to the previous value).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(TAU_DECIMALS)
        self.setRange(TAU_STEPS[0], TAU_MAX)
        self.setKeyboardTracking(False)
        self.setToolTip(f"{wording.QUIET_LEVEL}: samples quieter than this fraction of full scale "
                        f"count as silence.\nTechnical: {THRESHOLD_RULE} (tau).\nUp/Down: 1-2-5 "
                        "steps; Enter applies and gives the keys back to the video.")
        self.focus_target: QWidget | None = None  # who gets the keys after Enter (None: the window)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Enter (or Escape) ends the edit and gives the keyboard back to the video, so Space and
        the arrows play and step again instead of editing the number."""
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            target = self.focus_target if self.focus_target is not None else self.window()
            if target is not None and target is not self:
                target.setFocus(Qt.FocusReason.OtherFocusReason)

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        v = self.value()
        if steps > 0:
            bigger = [s for s in TAU_STEPS if s > v * (1 + 1e-9)]
            idx = min(len(bigger) - 1, steps - 1) if bigger else -1
            self.setValue(bigger[idx] if bigger else TAU_STEPS[-1])
        elif steps < 0:
            smaller = [s for s in TAU_STEPS if s < v * (1 - 1e-9)]
            idx = max(0, len(smaller) + steps) if smaller else 0
            self.setValue(smaller[idx] if smaller else TAU_STEPS[0])

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def _human_size(n: int | None) -> str:
    if not n:
        return "—"
    units = ("B", "KB", "MB", "GB", "TB")
    i = min(len(units) - 1, int(math.log(n, 1024)))
    return f"{n / 1024**i:.1f} {units[i]}" if i else f"{n} B"


def _table_height(table: QTableWidget) -> int:
    """The height that shows the heading and every row, none drawn over another: the heading's
    and the rows' real sizes (fonts and styles change them) plus the frame."""
    rows = table.verticalHeader().length() if table.rowCount() else 0
    return table.horizontalHeader().sizeHint().height() + rows + 2 * table.frameWidth() + 2


def _table(headers: tuple[str, str], tooltips: tuple[str, str] = ("", "")) -> QTableWidget:
    t = QTableWidget(0, 2)
    for column, (text, tip) in enumerate(zip(headers, tooltips, strict=True)):
        item = QTableWidgetItem(text)
        item.setToolTip(tip)  # the technical term behind the plain heading
        t.setHorizontalHeaderItem(column, item)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setFont(theme.monospace_font(9))
    row_px = max(TABLE_ROW_PX, QFontMetrics(t.font()).height() + 6)  # the text never clipped
    t.verticalHeader().setMinimumSectionSize(row_px)
    t.verticalHeader().setDefaultSectionSize(row_px)
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setFixedHeight(_table_height(t))
    return t


class InfoPanel(QWidget):
    """Shows what is known about the clip; ``threshold_edited(tau)`` when the user changes tau."""

    threshold_edited = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(PANEL_WIDTH)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)

        outer.addWidget(self._heading("Clip"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(3)
        self.fields: dict[str, QLabel] = {}
        for key in ("File", "Container", "Video", "Audio", "Duration", "Size", "SHA-256"):
            label = QLabel("—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
            form.addRow(key, label)
        self.fields["SHA-256"].setFont(theme.monospace_font(8))
        outer.addLayout(form)
        # a damaged or cut-short file (core.media.integrity): one sentence, in warning colours
        self.damage_label = QLabel("")
        self.damage_label.setObjectName("damage")
        self.damage_label.setWordWrap(True)
        self.damage_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.damage_label.setStyleSheet(
            f"QLabel#damage {{ color: {theme.PLAYHEAD}; border: 1px solid {theme.PLAYHEAD}; "
            "border-radius: 3px; padding: 4px; }")
        self.damage_label.setVisible(False)
        outer.addWidget(self.damage_label)

        outer.addWidget(self._heading("Leading silence"))
        self.silence_box = QWidget()
        box = QVBoxLayout(self.silence_box)
        box.setContentsMargins(0, 0, 0, 0)
        tau_form = QFormLayout()
        self.tau_spin = TauSpinBox()
        self.tau_spin.valueChanged.connect(self._on_tau_changed)
        tau_form.addRow(wording.QUIET_LEVEL, self.tau_spin)
        tau_label = tau_form.labelForField(self.tau_spin)
        if tau_label is not None:
            tau_label.setToolTip(wording.TECHNICAL_TERMS[wording.QUIET_LEVEL])
        box.addLayout(tau_form)
        self.verdict_label = QLabel("—")
        self.verdict_label.setObjectName("verdict")
        self.verdict_label.setTextFormat(Qt.TextFormat.RichText)
        self.verdict_label.setWordWrap(True)
        box.addWidget(self.verdict_label)
        self.sweep_table = _table(("quiet level", "silence (ms)"),
                                  ("tau (fraction of full scale)", "leading silence length at that tau"))
        self.amplitude_table = _table(
            ("first (ms)", "loudest sample"),
            ("delta: the first Δ ms of the sound",
             "max |amp|: the largest absolute sample value in the first Δ ms (fraction of full scale)"))
        sweep_heading = self._heading("Silence at other quiet levels")
        sweep_heading.setToolTip("Leading silence length vs tau")
        box.addWidget(sweep_heading)
        box.addWidget(self.sweep_table)
        amp_heading = self._heading("Loudest sample near the start")
        amp_heading.setToolTip("Max |amplitude| in the first Δ ms, for several Δ")
        box.addWidget(amp_heading)
        box.addWidget(self.amplitude_table)
        outer.addWidget(self.silence_box)
        self.silence_notice = QLabel("")
        self.silence_notice.setObjectName("notice")
        self.silence_notice.setWordWrap(True)
        outer.addWidget(self.silence_notice)
        self.silence_box.setVisible(False)
        self.silence_notice.setText("Open a clip to measure its leading silence.")
        outer.addStretch(1)

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("heading")
        label.setWordWrap(True)  # a narrow dock wraps a long heading instead of cutting it
        return label

    def _on_tau_changed(self, value: float) -> None:
        try:
            tau = validate_threshold(value)
        except ValueError:
            return  # the spin box's range keeps it valid; never pass on a tau the core refuses
        self.threshold_edited.emit(tau)

    def set_threshold(self, tau: float) -> None:
        self.tau_spin.blockSignals(True)
        self.tau_spin.setValue(tau)
        self.tau_spin.blockSignals(False)

    def set_media(self, info: Any, format_time: Any) -> None:
        """Fill the clip facts from a MediaInfo; reset the results."""
        from pathlib import Path

        self.fields["File"].setText(Path(info.path).name)
        self.fields["File"].setToolTip(str(info.path))
        container = str(info.container or "—")
        if "," in container:  # FFmpeg demuxer names ("mov,mp4,m4a,..."): show the file's type
            suffix = Path(info.path).suffix.lstrip(".").upper()
            self.fields["Container"].setText(f"{suffix or container.split(',')[0]}")
            self.fields["Container"].setToolTip(f"demuxer: {container}")
        else:
            self.fields["Container"].setText(container)
        v = info.video
        if v is not None:
            fps = float(v.fps) if v.fps else 0.0
            frames = f", {v.frame_count} frames" if v.frame_count else ""
            self.fields["Video"].setText(f"{v.codec} {v.width}×{v.height} @ {fps:.3f} fps{frames}")
        else:
            self.fields["Video"].setText("none")
        a = info.audio
        if a is not None:
            self.fields["Audio"].setText(
                f"{a.codec}, {a.sample_rate} Hz, {a.channels} ch" + (f" ({a.layout})" if a.layout else ""))
        else:
            self.fields["Audio"].setText("none")
        self.fields["Duration"].setText(format_time(info.duration_s or 0.0))
        self.fields["Size"].setText(_human_size(info.size_bytes))
        self.fields["SHA-256"].setText("computing…")
        self.damage_label.setText("")
        self.damage_label.setVisible(False)
        self.sweep_table.setRowCount(0)
        self.amplitude_table.setRowCount(0)
        has_audio = a is not None
        self.silence_box.setVisible(has_audio)
        self.silence_notice.setVisible(not has_audio)
        self.silence_notice.setText(
            "" if has_audio else "No audio stream: leading-silence analysis is not available.")
        self.verdict_label.setText("Decoding audio…" if has_audio else "")

    def set_damage(self, integrity: Any, format_time: Any) -> None:
        """Show a damaged or cut-short file's sentence (media.integrity.Integrity); whole: hide."""
        sentence = integrity.sentence if integrity is not None else ""
        self.damage_label.setText(sentence)
        self.damage_label.setVisible(bool(sentence))
        if not sentence:
            return
        ends = [e for e in (integrity.video_end_s, integrity.audio_end_s) if e is not None]
        self.fields["Duration"].setText(
            f"{format_time(integrity.stated_s)} stated, {format_time(max(ends))} readable")
        frames = integrity.video_frames
        video = self.fields["Video"]
        if frames is not None and " frames" in video.text():
            video.setText(video.text().rsplit(", ", 1)[0] + f", {frames} frames readable")

    def set_sha256(self, digest: str) -> None:
        self.fields["SHA-256"].setText(f"{digest[:32]}\n{digest[32:]}")
        self.fields["SHA-256"].setToolTip(digest)

    def set_silence(self, result: Any, verdict: str) -> None:
        if result is None:
            self.verdict_label.setText(html.escape(verdict))
            return
        self.verdict_label.setText(
            f"<b>{result.leading_silence_ms:.1f} ms</b> at quiet level {result.threshold:g}<br>"
            f"<span style='color:{theme.MUTED}'>{html.escape(verdict)}</span>")

    def set_sweeps(self, taus: list[float], ms: list[float], deltas: list[float],
                   amps: list[float]) -> None:
        self._fill(self.sweep_table, [(f"{t:g}", f"{m:.1f}") for t, m in zip(taus, ms, strict=False)])
        self._fill(self.amplitude_table,
                   [(f"{d:g}", f"{a:.5f}") for d, a in zip(deltas, amps, strict=False)])

    @staticmethod
    def _fill(table: QTableWidget, rows: list[tuple[str, str]]) -> None:
        table.setRowCount(len(rows))
        table.setFixedHeight(_table_height(table))
        for r, (a, b) in enumerate(rows):
            for c, text in enumerate((a, b)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)

    def show_audio_error(self, sentence: str) -> None:
        self.verdict_label.setText(html.escape(sentence))

    def sha_text(self) -> str:
        return self.fields["SHA-256"].toolTip()
