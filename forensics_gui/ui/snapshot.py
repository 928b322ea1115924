"""The annotated screenshot: a QImage painted from plain data (frame, waveform envelope, silence,
caption; built Qt-free by :mod:`forensics_gui.core.evidence.snapshot`), so the viewer and the
headless ``forensics-gui snapshot`` command share one renderer.

Only a QGuiApplication is needed (no window). Layout, top to bottom: the frame (never upscaled),
the waveform around the current time with the silence shaded and the playhead, optional curve
strips, then the caption block.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPainter, QPen, QPolygonF

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence.snapshot import WAVE_PIXELS, Curve, SnapshotData, caption_lines

MARGIN = 16
WIDTH = WAVE_PIXELS + 2 * MARGIN  # the waveform strip has one envelope column per pixel
FRAME_MAX_H = 480
WAVE_H = 170
CURVE_H = 90
LINE_H = 20

BG = QColor("#1e2127")
PANEL = QColor("#262a31")
TEXT = QColor("#d7dae0")
MUTED = QColor("#8b929e")
WAVE = QColor("#7fd4a8")
PLAYHEAD = QColor("#ff5c5c")
SILENCE = QColor(255, 196, 0, 80)
SILENCE_EDGE = QColor("#ffc400")


@dataclass
class SnapshotLayout:
    """Rectangles (image pixels) of each part of the screenshot."""

    frame: QRect
    frame_box: QRect
    wave: QRect
    curves: list[QRect]
    caption: QRect
    size: tuple[int, int]


def snapshot_layout(data: SnapshotData, width: int = WIDTH) -> SnapshotLayout:
    inner_w = width - 2 * MARGIN
    y = MARGIN
    if data.frame is not None:
        h, w = data.frame.shape[:2]
        scale = min(1.0, inner_w / w, FRAME_MAX_H / h)
        fw, fh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        box = QRect(MARGIN, y, inner_w, fh)
        frame = QRect(MARGIN + (inner_w - fw) // 2, y, fw, fh)
    else:
        box = QRect(MARGIN, y, inner_w, 120)
        frame = QRect()
    y = box.bottom() + 1 + MARGIN
    wave = QRect(MARGIN, y, inner_w, WAVE_H)
    y = wave.bottom() + 1 + 8
    curves = []
    for _ in data.curves:
        curves.append(QRect(MARGIN, y, inner_w, CURVE_H))
        y += CURVE_H + 8
    n_lines = len(caption_lines(data))
    caption = QRect(MARGIN, y + 4, inner_w, n_lines * LINE_H + 16)
    return SnapshotLayout(frame, box, wave, curves, caption, (width, caption.bottom() + 1 + MARGIN))


def render_snapshot(data: SnapshotData, width: int = WIDTH) -> QImage:
    """Paint the screenshot; needs a QGuiApplication (fonts), no window."""
    from forensics_gui.ui.player import rgb_to_qimage

    lay = snapshot_layout(data, width)
    image = QImage(lay.size[0], lay.size[1], QImage.Format.Format_RGB32)
    image.fill(BG)
    p = QPainter(image)
    try:
        p.fillRect(lay.frame_box, QColor("#000000"))
        if data.frame is not None:
            qimg = rgb_to_qimage(data.frame)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(QRectF(lay.frame), qimg)
        else:
            p.setPen(MUTED)
            p.drawText(lay.frame_box, Qt.AlignmentFlag.AlignCenter, data.frame_notice or "No frame")
        _draw_waveform(p, data, lay.wave)
        for rect, curve in zip(lay.curves, data.curves, strict=True):
            _draw_curve(p, data, rect, curve)
        _draw_caption(p, data, lay.caption)
    finally:
        p.end()
    return image


def _x_of(t: float, t0: float, t1: float, rect: QRect) -> float:
    return rect.left() + (t - t0) / max(t1 - t0, 1e-9) * rect.width()


def _draw_time_axis(p: QPainter, rect: QRect, t0: float, t1: float) -> None:
    from forensics_gui.core.media.timebase import format_timecode

    span = t1 - t0
    steps = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
    step = next((s for s in steps if span / s <= 8), steps[-1])
    p.setFont(_mono(8))
    t = np.ceil(t0 / step) * step
    while t <= t1 + 1e-9:
        x = _x_of(t, t0, t1, rect)
        p.setPen(QPen(QColor("#353b45"), 1))
        p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        label = format_timecode(float(t))[3:]
        if x + 3 + p.fontMetrics().horizontalAdvance(label) <= rect.right():
            p.setPen(MUTED)
            p.drawText(QPointF(x + 3, rect.bottom() - 4), label)
        t += step


def _draw_waveform(p: QPainter, data: SnapshotData, rect: QRect) -> None:
    p.fillRect(rect, PANEL)
    t0, t1 = data.window
    _draw_time_axis(p, rect, t0, t1)
    mid = rect.center().y()
    half = rect.height() / 2 - 6
    if data.silence is not None:
        s0 = data.audio_start_s
        s1 = s0 + data.silence.leading_silence_ms / 1000.0
        if s1 > t0 and s0 < t1:
            x0 = max(rect.left(), _x_of(s0, t0, t1, rect))
            x1 = min(rect.right(), max(_x_of(s1, t0, t1, rect), x0 + 2))
            p.fillRect(QRectF(x0, rect.top(), x1 - x0, rect.height()), SILENCE)
            p.setPen(QPen(SILENCE_EDGE, 1))
            p.drawLine(QPointF(x1, rect.top()), QPointF(x1, rect.bottom()))
            p.setFont(_mono(9))
            p.drawText(QPointF(x1 + 4, rect.top() + 14),
                       f"silence {data.silence.leading_silence_ms:.1f} ms")
    env = data.envelope
    if env is not None and len(env.times):
        p.setPen(QPen(WAVE, 1))
        xs = rect.left() + (np.asarray(env.times) - t0) / max(t1 - t0, 1e-9) * rect.width()
        if env.samples_per_bucket == 1:
            ys = mid - np.clip(env.maxs, -1, 1) * half
            p.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]))
        else:
            lo = mid - np.clip(env.mins, -1, 1) * half
            hi = mid - np.clip(env.maxs, -1, 1) * half
            for x, a, b in zip(xs, lo, hi, strict=True):
                if rect.left() <= x <= rect.right():
                    p.drawLine(QPointF(float(x), float(a)), QPointF(float(x), float(b) - 0.5))
    elif env is None:
        p.setPen(MUTED)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, data.silence_note or "No audio")
    if t0 <= data.time_s <= t1:
        x = _x_of(data.time_s, t0, t1, rect)
        p.setPen(QPen(PLAYHEAD, 2))
        p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))


def _draw_curve(p: QPainter, data: SnapshotData, rect: QRect, curve: Curve) -> None:
    p.fillRect(rect, PANEL)
    t0, t1 = data.window
    sel = (curve.times >= t0) & (curve.times <= t1) & np.isfinite(curve.values)
    xs = rect.left() + (curve.times[sel] - t0) / max(t1 - t0, 1e-9) * rect.width()
    ys = rect.bottom() - 4 - np.clip(curve.values[sel], 0, 1) * (rect.height() - 8)
    p.setPen(QPen(QColor(curve.colour), 2))
    if len(xs) > 1:
        p.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]))
    p.setPen(MUTED)
    p.setFont(_mono(9))
    p.drawText(QPointF(rect.left() + 6, rect.top() + 14), curve.name)
    x = _x_of(data.time_s, t0, t1, rect)
    p.setPen(QPen(PLAYHEAD, 2))
    p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))


def _draw_caption(p: QPainter, data: SnapshotData, rect: QRect) -> None:
    p.fillRect(rect, PANEL)
    p.setPen(TEXT)
    p.setFont(_mono(10))
    y = rect.top() + 8 + LINE_H - 6
    for line in caption_lines(data):
        p.drawText(QPointF(rect.left() + 10, y), line)
        y += LINE_H


def _mono(size: int) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSize(size)
    return font


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

