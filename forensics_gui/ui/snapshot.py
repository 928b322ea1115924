"""The exported picture: a QImage painted from plain data (built Qt-free by
:mod:`forensics_gui.core.evidence.snapshot`), so the viewer and the headless
``forensics-gui snapshot`` command share one renderer.

Only a QGuiApplication is needed (no window). Layout, top to bottom:

- the frame with the face box; beside it the mouth crop (what the model sees) and an inset of the
  first 100 ms of sound with the leading silence shaded and its length;
- a legend row, then the lanes, all on the WHOLE clip's time axis: the waveform, each mismatch
  lane on its true scale (value axis in the left margin, the dashed "unusually high for this
  clip" line with its value in the right margin), the ground truth as bands; the stretches to
  check are shaded across every lane, the playhead crosses every lane; the time axis under them;
- the caption: warnings on a red band, the summary, what the picture means, the provenance.

Labels and legends sit in the margins, never on the data.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QImage,
    QPainter,
    QPen,
    QPolygonF,
)

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence import wording
from forensics_gui.core.evidence.snapshot import (
    INSET_S,
    LIPSYNC_FLAG_COLOUR,
    LIPSYNC_NAME,
    LOUDNESS_COLOUR,
    MOUTH_COLOUR,
    Curve,
    SnapshotData,
    meaning_paragraphs,
    provenance_lines,
    summary_lines,
)
from forensics_gui.core.media.timebase import MODEL_FRAME_S

MARGIN = 16
WIDTH = 1280
GUTTER = 150  # left margin of the lanes: lane names and value axes
RIGHT = 72  # right margin of the lanes: threshold values
FRAME_MAX_W = 640
FRAME_MAX_H = 360
TOP_MIN_H = 250
MOUTH_SCALE = 2  # the 96x96 crop drawn at 192x192, pixels kept sharp
MOUTH_W = 96 * MOUTH_SCALE
LEGEND_H = 24
WAVE_H = 96
CURVE_H = 150
LIPSYNC_H = 70  # the mouth-and-voice lane: two traces on 0-1 scales
GT_ROW_H = 18
AXIS_H = 22
LANE_GAP = 6
LINE_H = 18

BG = QColor("#1e2127")
PANEL = QColor("#262a31")
GRID = QColor("#353b45")
TEXT = QColor("#d7dae0")
MUTED = QColor("#8b929e")
WAVE = QColor("#7fd4a8")
PLAYHEAD = QColor("#ff5c5c")
SILENCE = QColor(255, 196, 0, 90)
SILENCE_EDGE = QColor("#ffc400")
SEGMENT = QColor(199, 125, 255, 60)  # stretches to check, across every lane
SEGMENT_EDGE = QColor("#c77dff")
FACE_BOX = QColor("#4cff7a")
FACE_BOX_GUESSED = QColor("#ff5c5c")
WARN_BG = QColor("#5c1f1f")
WARN_EDGE = QColor("#ff5c5c")
WARN_TEXT = QColor("#ffffff")


@dataclass
class SnapshotLayout:
    """Rectangles (image pixels) of each part of the picture. The lanes' data areas are
    ``wave``, ``curves[i]`` and ``gt``; they share the x axis ``x_of``."""

    frame: QRect
    frame_box: QRect
    mouth: QRect
    inset: QRect
    legend: QRect
    wave: QRect
    curves: list[QRect]
    curve_ranges: list[tuple[float, float]]
    curve_lanes: list[list[Curve]]
    gt: QRect | None
    gt_rows: list[QRect]
    axis: QRect
    warnings: QRect | None
    caption: QRect
    size: tuple[int, int]
    window: tuple[float, float] = (0.0, 1.0)
    caption_parts: list[tuple[str, list[str]]] = field(default_factory=list)
    lipsync: QRect | None = None  # the mouth-and-voice lane's data area, under the waveform

    def x_of(self, t: float) -> float:
        t0, t1 = self.window
        return self.wave.left() + (t - t0) / max(t1 - t0, 1e-9) * self.wave.width()

    def y_of(self, lane: int, value: float) -> float:
        """The y of ``value`` (true scale) in curve lane ``lane``."""
        lo, hi = self.curve_ranges[lane]
        r = self.curves[lane]
        return r.bottom() - 4 - (value - lo) / max(hi - lo, 1e-12) * (r.height() - 8)


def _font(size: float, mono: bool = False, bold: bool = False) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) if mono else QFont()
    font.setPointSizeF(size)
    font.setBold(bold)
    return font


def _text_height(font: QFont, text: str, width: int) -> int:
    flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
    return QFontMetrics(font).boundingRect(QRect(0, 0, width, 100000), flags, text).height()


def lanes_of(curves: list[Curve]) -> list[list[Curve]]:
    """Curves grouped by ``lane`` in order of first appearance."""
    out: dict[str, list[Curve]] = {}
    for c in curves:
        out.setdefault(c.lane, []).append(c)
    return list(out.values())


def value_range(curves: list[Curve]) -> tuple[float, float]:
    """The value axis of a lane: every finite value and threshold, with 6 % room."""
    vals = [c.values[np.isfinite(c.values)] for c in curves]
    vals += [np.array([c.threshold]) for c in curves if c.threshold is not None]
    finite = np.concatenate(vals) if vals else np.zeros(0)
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def nice_ticks(lo: float, hi: float, most: int = 5) -> list[float]:
    """Round values between ``lo`` and ``hi`` (at most ``most`` + 1)."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return []
    raw = span / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def caption_parts(data: SnapshotData) -> list[tuple[str, list[str]]]:
    return [("summary", summary_lines(data)), ("meaning", meaning_paragraphs(data)),
            ("provenance", provenance_lines(data))]


_PART_FONTS = {"summary": (10.0, False), "meaning": (9.5, False), "provenance": (8.5, True)}


def snapshot_layout(data: SnapshotData, width: int = WIDTH) -> SnapshotLayout:
    inner_w = width - 2 * MARGIN
    y = MARGIN
    # -- top row: frame, mouth crop, first 100 ms
    if data.frame is not None:
        h, w = data.frame.shape[:2]
        scale = min(1.0, FRAME_MAX_W / w, FRAME_MAX_H / h)
        fw, fh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    else:
        fw, fh = 320, 180
    top_h = max(fh, TOP_MIN_H)
    frame_box = QRect(MARGIN, y, max(fw, 320), top_h)
    frame = QRect(MARGIN, y + (top_h - fh) // 2, fw, fh) if data.frame is not None else QRect()
    mx = frame_box.right() + 1 + MARGIN
    mouth = QRect(mx, y + 20, MOUTH_W, MOUTH_W)
    ix = mouth.right() + 1 + MARGIN
    inset = QRect(ix, y + 20, width - MARGIN - ix, min(top_h - 20 - 40, 190))
    y += top_h + MARGIN
    # -- lanes
    legend = QRect(MARGIN, y, inner_w,
                   LEGEND_H + LEGEND_ROW_H * (len(_legend_rows(data, inner_w)) - 1))
    y = legend.bottom() + 1 + 4
    lx, lw = MARGIN + GUTTER, inner_w - GUTTER - RIGHT
    wave = QRect(lx, y, lw, WAVE_H)
    y = wave.bottom() + 1 + LANE_GAP
    lipsync = None
    if data.lipsync is not None:
        lipsync = QRect(lx, y, lw, LIPSYNC_H)
        y = lipsync.bottom() + 1 + LANE_GAP
    lanes = lanes_of(data.curves)
    curves, ranges = [], []
    for lane in lanes:
        curves.append(QRect(lx, y, lw, CURVE_H))
        ranges.append(value_range(lane))
        y += CURVE_H + LANE_GAP
    gt, rows = None, []
    if data.groundtruth:
        gt = QRect(lx, y, lw, GT_ROW_H * len(data.groundtruth))
        rows = [QRect(lx, y + i * GT_ROW_H, lw, GT_ROW_H) for i in range(len(data.groundtruth))]
        y = gt.bottom() + 1 + LANE_GAP
    axis = QRect(lx, y, lw, AXIS_H)
    y = axis.bottom() + 1 + MARGIN
    # -- caption
    text_w = inner_w - 20
    warnings = None
    if data.warnings:
        wh = sum(_text_height(_font(10.5, bold=True), s, text_w) + 4 for s in data.warnings)
        warnings = QRect(MARGIN, y, inner_w, wh + 16)
        y = warnings.bottom() + 1 + 8
    parts = caption_parts(data)
    ch = 16
    for name, lines in parts:
        size, mono = _PART_FONTS[name]
        ch += sum(_text_height(_font(size, mono), s, text_w) + 3 for s in lines) + 10
    caption = QRect(MARGIN, y, inner_w, ch)
    return SnapshotLayout(frame, frame_box, mouth, inset, legend, wave, curves, ranges, lanes, gt,
                          rows, axis, warnings, caption, (width, caption.bottom() + 1 + MARGIN),
                          data.window, parts, lipsync)


def render_snapshot(data: SnapshotData, width: int = WIDTH) -> QImage:
    """Paint the picture; needs a QGuiApplication (fonts), no window."""
    lay = snapshot_layout(data, width)
    image = QImage(lay.size[0], lay.size[1], QImage.Format.Format_RGB32)
    image.fill(BG)
    p = QPainter(image)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        _draw_frame(p, data, lay)
        _draw_mouth(p, data, lay)
        _draw_inset(p, data, lay.inset)
        _draw_legend(p, data, lay)
        _draw_waveform(p, data, lay)
        _draw_lipsync(p, data, lay)
        for i, lane in enumerate(lay.curve_lanes):
            _draw_curve_lane(p, data, lay, i, lane)
        _draw_groundtruth(p, data, lay)
        _draw_time_axis(p, data, lay)
        _draw_caption(p, data, lay)
    finally:
        p.end()
    return image


# -- top row -----------------------------------------------------------------------------------

def _draw_frame(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    from forensics_gui.ui.player import rgb_to_qimage

    p.fillRect(lay.frame_box, QColor("#000000"))
    if data.frame is None:
        p.setPen(MUTED)
        p.setFont(_font(10))
        p.drawText(lay.frame_box, Qt.AlignmentFlag.AlignCenter, data.frame_notice or "No frame")
        return
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    p.drawImage(QRectF(lay.frame), rgb_to_qimage(data.frame))
    if data.face_box is not None:
        h, w = data.frame.shape[:2]
        sx, sy = lay.frame.width() / w, lay.frame.height() / h
        x0, y0, x1, y1 = data.face_box
        rect = QRectF(lay.frame.left() + x0 * sx, lay.frame.top() + y0 * sy,
                      (x1 - x0) * sx, (y1 - y0) * sy).intersected(QRectF(lay.frame))
        colour = FACE_BOX if data.face_detected else FACE_BOX_GUESSED
        pen = QPen(colour, 2)
        if not data.face_detected:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect)


def _draw_mouth(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    r = lay.mouth
    p.setPen(TEXT)
    p.setFont(_font(9.5, bold=True))
    p.drawText(QPointF(r.left(), r.top() - 6), "Mouth crop")
    p.fillRect(r, PANEL)
    if data.mouth is not None:
        mouth = np.ascontiguousarray(data.mouth, np.uint8)
        img = QImage(mouth.data, mouth.shape[1], mouth.shape[0], mouth.shape[1],
                     QImage.Format.Format_Grayscale8).copy()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(QRectF(r), img)
    else:
        p.setPen(MUTED)
        p.setFont(_font(9))
        p.drawText(r, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap),
                   "no face" if data.frame is not None else "no video")
    note = data.mouth_note or ("What the model sees: the 96×96 grey mouth region."
                               if data.mouth is not None else "")
    if note:
        p.setPen(MUTED)
        p.setFont(_font(8.5))
        below = QRect(r.left(), r.bottom() + 6, r.width(), lay.frame_box.bottom() - r.bottom() - 6)
        p.drawText(below, int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignTop), note)


def _draw_inset(p: QPainter, data: SnapshotData, r: QRect) -> None:
    p.setPen(TEXT)
    p.setFont(_font(9.5, bold=True))
    p.drawText(QPointF(r.left(), r.top() - 6), f"First {INSET_S * 1000:.0f} ms of sound")
    p.fillRect(r, PANEL)
    t0, t1 = data.audio_start_s, data.audio_start_s + INSET_S
    p.setFont(_font(8))
    for tick in (0, 25, 50, 75, 100):
        x = r.left() + tick / (INSET_S * 1000) * r.width()
        p.setPen(QPen(GRID, 1))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(MUTED)
        label = f"{tick} ms"
        tw = p.fontMetrics().horizontalAdvance(label)
        p.drawText(QPointF(min(max(x - tw / 2, r.left()), r.right() - tw), r.bottom() + 14), label)
    if data.silence is not None:
        ms = float(data.silence.leading_silence_ms)
        x1 = r.left() + min(ms / (INSET_S * 1000), 1.0) * r.width()
        if ms > 0:
            p.fillRect(QRectF(r.left(), r.top(), max(x1 - r.left(), 2.0), r.height()), SILENCE)
            p.setPen(QPen(SILENCE_EDGE, 1))
            p.drawLine(QPointF(x1, r.top()), QPointF(x1, r.bottom()))
    _draw_envelope(p, data.inset, t0, t1, r)
    p.setFont(_font(9.5, bold=True))
    if data.silence is not None:
        ms = float(data.silence.leading_silence_ms)
        text = (f"{ms:.1f} ms of digital silence" if ms > 0 else "no leading silence")
        if ms > INSET_S * 1000:
            text += " (continues past 100 ms)"
        p.setPen(SILENCE_EDGE if ms > 0 else TEXT)
    else:
        text = data.silence_note or "no sound"
        p.setPen(MUTED)
    p.drawText(QPointF(r.left(), r.bottom() + 32), text)


def _draw_envelope(p: QPainter, env: object, t0: float, t1: float, r: QRect) -> None:
    if env is None or not len(env.times):  # type: ignore[attr-defined]
        return
    mid = r.center().y()
    half = r.height() / 2 - 4
    p.setPen(QPen(WAVE, 1))
    times = np.asarray(env.times)  # type: ignore[attr-defined]
    xs = r.left() + (times - t0) / max(t1 - t0, 1e-9) * r.width()
    if env.samples_per_bucket == 1:  # type: ignore[attr-defined]
        ys = mid - np.clip(env.maxs, -1, 1) * half  # type: ignore[attr-defined]
        keep = (xs >= r.left()) & (xs <= r.right())
        p.drawPolyline(QPolygonF([QPointF(float(x), float(y))
                                  for x, y in zip(xs[keep], ys[keep], strict=True)]))
        return
    lo = mid - np.clip(env.mins, -1, 1) * half  # type: ignore[attr-defined]
    hi = mid - np.clip(env.maxs, -1, 1) * half  # type: ignore[attr-defined]
    for x, a, b in zip(xs, lo, hi, strict=True):
        if r.left() <= x <= r.right():
            p.drawLine(QPointF(float(x), float(a)), QPointF(float(x), float(b) - 0.5))


# -- lanes -------------------------------------------------------------------------------------

def legend_items(data: SnapshotData) -> list[tuple[str, QColor, str]]:
    """(kind, colour, text) of each legend entry: "vline", "box", "dash" or "line"."""
    items = [("vline", PLAYHEAD, "time shown")]
    if data.silence is not None and data.silence.leading_silence_ms > 0:
        items.append(("box", SILENCE_EDGE, wording.SILENCE_NAME.lower()))
    if data.curves:
        items.append(("box", SEGMENT_EDGE, wording.SUSPICIOUS_STRETCH.lower()))
        if any(c.threshold is not None for c in data.curves):
            items.append(("dash", TEXT, wording.UNUSUAL_LINE.lower()))
    items += [("line", QColor(c.colour), c.name) for c in data.curves]
    if data.lipsync is not None:
        items += [("line", QColor(MOUTH_COLOUR), "mouth opening (0-1)"),
                  ("box", QColor(LOUDNESS_COLOUR), "speech loudness (0-1)"),
                  ("box", QColor(LIPSYNC_FLAG_COLOUR), "mouth and voice stop agreeing")]
    return items


LEGEND_TITLE = "Whole clip:"
LEGEND_ROW_H = 20


def _legend_rows(data: SnapshotData, width: int) -> list[list[tuple[float, str, QColor, str]]]:
    """The legend entries placed in rows of ``width`` pixels: (x offset, kind, colour, text)."""
    bold, plain = QFontMetrics(_font(9, bold=True)), QFontMetrics(_font(9))
    start = bold.horizontalAdvance(LEGEND_TITLE) + 14
    rows: list[list[tuple[float, str, QColor, str]]] = [[]]
    x = float(start)
    for kind, colour, text in legend_items(data):
        w = 22 + plain.horizontalAdvance(text) + 18
        if rows[-1] and x + w > width:
            rows.append([])
            x = float(start)
        rows[-1].append((x, kind, colour, text))
        x += w
    return rows


def _legend_item(p: QPainter, x: float, y: float, kind: str, colour: QColor, text: str) -> None:
    if kind == "box":
        p.fillRect(QRectF(x, y - 9, 14, 10), colour)
    elif kind == "dash":
        pen = QPen(colour, 2)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(x, y - 4), QPointF(x + 18, y - 4))
    else:  # line
        p.setPen(QPen(colour, 2))
        if kind == "vline":
            p.drawLine(QPointF(x + 7, y - 11), QPointF(x + 7, y + 1))
        else:
            p.drawLine(QPointF(x, y - 4), QPointF(x + 18, y - 4))
    p.setPen(TEXT)
    p.drawText(QPointF(x + 22, y), text)


def _draw_legend(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    y = lay.legend.top() + 16
    p.setPen(TEXT)
    p.setFont(_font(9, bold=True))
    p.drawText(QPointF(lay.legend.left(), y), LEGEND_TITLE)
    p.setFont(_font(9))
    for row in _legend_rows(data, lay.legend.width()):
        for x, kind, colour, text in row:
            _legend_item(p, lay.legend.left() + x, y, kind, colour, text)
        y += LEGEND_ROW_H


def _lane_base(p: QPainter, data: SnapshotData, lay: SnapshotLayout, r: QRect, title: str) -> None:
    p.fillRect(r, PANEL)
    t0, t1 = lay.window
    for t in _time_ticks(t0, t1):
        x = lay.x_of(t)
        p.setPen(QPen(GRID, 1))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
    for s, e in data.segments:
        x0, x1 = max(r.left(), lay.x_of(s)), min(r.right() + 1, lay.x_of(e))
        if x1 > r.left() and x0 < r.right():
            p.fillRect(QRectF(x0, r.top(), max(x1 - x0, 2.0), r.height()), SEGMENT)
    p.setPen(TEXT)
    p.setFont(_font(9, bold=True))
    box = QRect(MARGIN, r.top(), GUTTER - 44, r.height())
    p.drawText(box, int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignTop), title)


def _playhead(p: QPainter, data: SnapshotData, lay: SnapshotLayout, r: QRect) -> None:
    t0, t1 = lay.window
    if t0 <= data.time_s <= t1:
        x = lay.x_of(data.time_s)
        p.setPen(QPen(PLAYHEAD, 2))
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))


def _draw_waveform(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    r = lay.wave
    _lane_base(p, data, lay, r, "Sound")
    p.setFont(_font(8))
    p.setPen(MUTED)
    for label, frac in (("+1", 0.0), ("0", 0.5), ("−1", 1.0)):
        y = r.top() + 4 + frac * (r.height() - 8)
        tw = p.fontMetrics().horizontalAdvance(label)
        p.drawText(QPointF(r.left() - 6 - tw, y + 4), label)
    t0, t1 = lay.window
    if data.silence is not None and data.silence.leading_silence_ms > 0:
        s0 = data.audio_start_s
        s1 = s0 + data.silence.leading_silence_ms / 1000.0
        x0 = max(r.left(), lay.x_of(s0))
        x1 = min(r.right(), max(lay.x_of(s1), x0 + 3))
        p.fillRect(QRectF(x0, r.top(), x1 - x0, r.height()), SILENCE)
        p.setPen(QPen(SILENCE_EDGE, 2))
        p.drawLine(QPointF(x1, r.top()), QPointF(x1, r.bottom()))
    if data.envelope is None:
        p.setPen(MUTED)
        p.setFont(_font(9.5))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, data.silence_note or "No sound")
    _draw_envelope(p, data.envelope, t0, t1, r)
    _playhead(p, data, lay, r)


def _draw_lipsync(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    """The mouth-and-voice lane: the loudness as a filled area, the mouth opening as a line over
    it (each 0-1), the stretches where they stop agreeing shaded red."""
    r, lane = lay.lipsync, data.lipsync
    if r is None or lane is None:
        return
    _lane_base(p, data, lay, r, LIPSYNC_NAME)
    p.setPen(MUTED)
    p.setFont(_font(8))
    p.drawText(QRect(MARGIN, r.bottom() - 30, GUTTER - 50, 30),
               int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignBottom), "each 0-1")
    flag = QColor(LIPSYNC_FLAG_COLOUR)
    fill = QColor(flag)
    fill.setAlpha(70)
    for s, e in lane.flagged:
        x0, x1 = max(r.left(), lay.x_of(s)), min(r.right() + 1, lay.x_of(e))
        if x1 > r.left() and x0 < r.right():
            p.fillRect(QRectF(x0, r.top(), max(x1 - x0, 2.0), r.height()), fill)
            p.fillRect(QRectF(x0, r.bottom() - 3, max(x1 - x0, 2.0), 4), flag)
    t = np.asarray(lane.times, np.float64)
    if not len(t):
        _playhead(p, data, lay, r)
        return
    loud = np.nan_to_num(np.asarray(lane.loudness, np.float64), nan=0.0)
    mouth = np.asarray(lane.mouth, np.float64)
    per = int(np.ceil(len(t) / max(1, r.width() // 2)))  # at most two frames per pixel
    spread: tuple[np.ndarray, np.ndarray] | None = None
    if per > 1:  # a long clip: per column, the loudest loudness and the mouth's range
        pad = (-len(t)) % per
        loud = np.concatenate([loud, np.zeros(pad)]).reshape(-1, per).max(axis=1)
        blocks = np.concatenate([mouth, np.full(pad, np.nan)]).reshape(-1, per)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
            spread = (np.nanmin(blocks, axis=1), np.nanmax(blocks, axis=1))
        mouth = spread[1]
        t = t[::per]
    xs = np.asarray(lay.x_of(np.append(t, t[-1] + per * MODEL_FRAME_S)), np.float64)  # type: ignore[arg-type]

    def y_of(v: float) -> float:
        return float(r.bottom() - 3 - v * (r.height() - 6))

    p.save()
    p.setClipRect(r)
    area = QColor(LOUDNESS_COLOUR)
    area.setAlpha(110)
    poly = [QPointF(float(xs[0]), float(y_of(0.0)))]
    for i, v in enumerate(loud):
        poly += [QPointF(float(xs[i]), float(y_of(v))), QPointF(float(xs[i + 1]), float(y_of(v)))]
    poly.append(QPointF(float(xs[-1]), float(y_of(0.0))))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(area)
    p.drawPolygon(QPolygonF(poly))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(QColor(MOUTH_COLOUR), 1.8))
    if spread is not None:  # one vertical stroke per column, lowest to highest opening
        ok = np.isfinite(spread[0])
        p.drawLines([QLineF(float(x), y_of(a), float(x), y_of(b) - 0.5)
                     for x, a, b in zip((xs[:-1] + xs[1:])[ok] / 2, spread[0][ok], spread[1][ok],
                                        strict=True)])
        p.restore()
        _playhead(p, data, lay, r)
        return
    run: list[QPointF] = []
    for i, v in enumerate(mouth):
        if np.isfinite(v):
            run += [QPointF(float(xs[i]), float(y_of(v))), QPointF(float(xs[i + 1]), float(y_of(v)))]
        elif run:
            p.drawPolyline(QPolygonF(run))
            run = []
    if run:
        p.drawPolyline(QPolygonF(run))
    p.restore()
    _playhead(p, data, lay, r)


def _draw_curve_lane(p: QPainter, data: SnapshotData, lay: SnapshotLayout, i: int,
                     curves: list[Curve]) -> None:
    r = lay.curves[i]
    _lane_base(p, data, lay, r, curves[0].lane)
    lo, hi = lay.curve_ranges[i]
    p.setFont(_font(8))
    for v in nice_ticks(lo, hi):
        y = lay.y_of(i, v)
        p.setPen(QPen(GRID, 1))
        p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        label = f"{v:.4g}"
        p.setPen(MUTED)
        tw = p.fontMetrics().horizontalAdvance(label)
        p.drawText(QPointF(r.left() - 6 - tw, y + 4), label)
    p.setPen(MUTED)
    p.setFont(_font(8))
    box = QRect(MARGIN, r.bottom() - 30, GUTTER - 50, 30)
    p.drawText(box, int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignBottom),
               "higher = worse fit")
    p.save()
    p.setClipRect(r)
    for c in curves:
        _draw_curve(p, lay, i, c)
    p.restore()
    ty: list[float] = []
    for c in curves:
        if c.threshold is None:
            continue
        y = lay.y_of(i, c.threshold)
        pen = QPen(QColor(c.colour), 1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        ly = y + 4
        while any(abs(ly - other) < 12 for other in ty):
            ly += 12
        ty.append(ly)
        p.setPen(QColor(c.colour))
        p.setFont(_font(8))
        p.drawText(QPointF(r.right() + 6, ly), f"{c.threshold:.4g}")
    _playhead(p, data, lay, r)


def _draw_curve(p: QPainter, lay: SnapshotLayout, i: int, c: Curve) -> None:
    t = np.asarray(c.times, np.float64)
    v = np.asarray(c.values, np.float64)
    if not len(t):
        return
    xs = lay.wave.left() + (t - lay.window[0]) / max(lay.window[1] - lay.window[0], 1e-9) \
        * lay.wave.width()
    lo, hi = lay.curve_ranges[i]
    r = lay.curves[i]
    ys = r.bottom() - 4 - (v - lo) / max(hi - lo, 1e-12) * (r.height() - 8)
    p.setPen(QPen(QColor(c.colour), 1.6))
    ok = np.isfinite(ys)
    # one polyline per run of finite values (a gap stays a gap)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a == 1:
            p.drawPoint(QPointF(float(xs[a]), float(ys[a])))
            continue
        columns = column_ranges(xs[a:b], ys[a:b])
        if columns is None:
            p.drawPolyline(QPolygonF([QPointF(float(x), float(y))
                                      for x, y in zip(xs[a:b], ys[a:b], strict=True)]))
            continue
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # pixel-aligned vertical lines
        p.drawLines([QLineF(float(x), float(y0), float(x), float(y1))
                     for x, y0, y1 in zip(*columns, strict=True)])
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)


def column_ranges(xs: np.ndarray, ys: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """None when a curve has fewer than two points per pixel column (drawn as a line), else
    each column's x and the lowest and highest y it covers, including the step from the previous
    column's last point (so the columns join): a long clip is drawn as the same picture in a
    fraction of the time. ``xs`` sorted."""
    cols = np.floor(xs).astype(np.int64)
    if len(xs) <= 2 * (int(cols[-1] - cols[0]) + 1):
        return None
    starts = np.flatnonzero(np.concatenate([[True], np.diff(cols) != 0]))
    lo = np.minimum.reduceat(ys, starts)
    hi = np.maximum.reduceat(ys, starts)
    prev_last = ys[starts[1:] - 1]
    lo[1:] = np.minimum(lo[1:], prev_last)
    hi[1:] = np.maximum(hi[1:], prev_last)
    return cols[starts] + 0.5, lo, hi


def _draw_groundtruth(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    if lay.gt is None:
        return
    _lane_base(p, data, lay, lay.gt, "")
    p.setFont(_font(8.5))
    p.setPen(TEXT)
    p.setFont(_font(9, bold=True))
    p.drawText(QRect(MARGIN, lay.gt.top(), GUTTER - 64, max(lay.gt.height(), 36)),
               int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignTop),
               "Ground truth: changed")
    p.setFont(_font(8.5))
    for row, band in zip(lay.gt_rows, data.groundtruth, strict=True):
        colour = QColor(band.colour)
        fill = QColor(colour)
        fill.setAlpha(170)
        for s, e in band.regions:
            x0, x1 = max(row.left(), lay.x_of(s)), min(row.right() + 1, lay.x_of(e))
            if x1 > x0 - 2:
                p.fillRect(QRectF(x0, row.top() + 3, max(x1 - x0, 2.0), row.height() - 6), fill)
        p.setPen(colour)
        label = band.name
        tw = p.fontMetrics().horizontalAdvance(label)
        p.drawText(QPointF(row.left() - 6 - tw, row.bottom() - 4), label)
    _playhead(p, data, lay, lay.gt)


def _time_ticks(t0: float, t1: float) -> list[float]:
    span = t1 - t0
    steps = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
             3600, 7200)
    step = next((s for s in steps if span / s <= 10), steps[-1])
    first = math.ceil(t0 / step - 1e-9) * step
    return [first + k * step for k in range(int((t1 - first) / step + 1e-9) + 1)]


def _time_label(t: float, span: float) -> str:
    if span < 10:
        return f"{t:.2f} s" if span < 2 else f"{t:.1f} s"
    m, s = divmod(int(round(t)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _draw_time_axis(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    r = lay.axis
    t0, t1 = lay.window
    p.setFont(_font(8))
    p.setPen(QPen(MUTED, 1))
    p.drawLine(QPointF(r.left(), r.top()), QPointF(r.right(), r.top()))
    for t in _time_ticks(t0, t1):
        x = lay.x_of(t)
        p.drawLine(QPointF(x, r.top()), QPointF(x, r.top() + 4))
        label = _time_label(t, t1 - t0)
        tw = p.fontMetrics().horizontalAdvance(label)
        p.drawText(QPointF(min(max(x - tw / 2, r.left()), r.right() + RIGHT - tw), r.top() + 16),
                   label)
    p.setPen(MUTED)
    p.drawText(QRect(MARGIN, r.top(), GUTTER - 10, r.height()), int(Qt.AlignmentFlag.AlignLeft)
               | int(Qt.AlignmentFlag.AlignVCenter), "time")


# -- caption -----------------------------------------------------------------------------------

def _draw_caption(p: QPainter, data: SnapshotData, lay: SnapshotLayout) -> None:
    flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
    text_w = lay.caption.width() - 20
    if lay.warnings is not None:
        w = lay.warnings
        p.fillRect(w, WARN_BG)
        p.setPen(QPen(WARN_EDGE, 2))
        p.drawRect(w.adjusted(1, 1, -1, -1))
        p.setPen(WARN_TEXT)
        font = _font(10.5, bold=True)
        p.setFont(font)
        y = w.top() + 8
        for s in data.warnings:
            h = _text_height(font, s, text_w)
            p.drawText(QRect(w.left() + 10, y, text_w, h), flags, s)
            y += h + 4
    p.fillRect(lay.caption, PANEL)
    y = lay.caption.top() + 8
    for name, lines in lay.caption_parts:
        size, mono = _PART_FONTS[name]
        font = _font(size, mono)
        p.setFont(font)
        p.setPen(TEXT if name != "provenance" else MUTED)
        for s in lines:
            h = _text_height(font, s, text_w)
            p.drawText(QRect(lay.caption.left() + 10, y, text_w, h), flags, s)
            y += h + 3
        y += 10


def save_png(image: QImage, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` as PNG atomically (never a half-written file)."""
    from forensics_gui.core.files.atomic import atomic_path

    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            if not image.save(str(tmp), "PNG"):  # type: ignore[call-overload]
                raise ForensicsError(f"Could not write the PNG {path}; check the folder is writable.")
    except OSError as err:
        raise ForensicsError(f"Could not write {path} ({err.strerror or err}).") from err
    return path
