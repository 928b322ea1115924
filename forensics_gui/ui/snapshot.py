"""The annotated screenshot: a QImage painted from plain data (frame, waveform envelope, silence,
caption), so the viewer and the headless ``forensics-gui snapshot`` command share one renderer.

Only a QGuiApplication is needed (no window). Layout, top to bottom: the frame (never upscaled),
the waveform around the current time with the silence shaded and the playhead, optional curve
strips, then the caption block.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPainter, QPen, QPolygonF

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.media.timebase import model_frame_times

WIDTH = 1280
MARGIN = 16
FRAME_MAX_H = 480
WAVE_H = 170
CURVE_H = 90
WAVE_PIXELS = WIDTH - 2 * MARGIN
WINDOW_S = 4.0  # waveform window around the current time (seconds)
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
class Curve:
    """A value-per-time curve drawn in its own strip (``values`` in [0, 1], ``times`` seconds)."""

    name: str
    times: np.ndarray
    values: np.ndarray
    colour: str = "#4fa3ff"


@dataclass
class SnapshotData:
    """Plain data for one screenshot. ``envelope`` is a core.waveform.Envelope or None."""

    frame: np.ndarray | None  # HxWx3 uint8 RGB
    time_s: float
    file_name: str
    sha256: str
    version: str
    created: str = ""
    frame_index: int | None = None
    frame_notice: str = ""
    envelope: Any = None
    window: tuple[float, float] = (0.0, WINDOW_S)
    silence: Any = None  # SilenceResult (leading_silence_ms, threshold) or None
    silence_note: str = ""  # shown when ``silence`` is None ("no audio stream")
    audio_start_s: float = 0.0
    note: str = ""
    extra_lines: list[str] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)


def normalise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``values`` mapped to [0, 1] (min -> 0, max -> 1; a flat curve -> 0.5) and the raw min, max.

    Non-finite values stay NaN and are ignored for the range.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.full(v.shape, np.nan), float("nan"), float("nan")
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo <= 1e-12:
        return np.where(np.isfinite(v), 0.5, np.nan), lo, hi
    return (v - lo) / (hi - lo), lo, hi


RESULT_COLOURS = {"untrimmed": "#4fa3ff", "trimmed": "#ff9f43"}


def curves_from_result(result: dict[str, Any]) -> tuple[list[Curve], list[str]]:
    """Curve strips and caption lines from an ``analyze`` RESULT.json dict.

    Uses ``variants`` ({name: {frame_scores, times_s, video_score, pool}}) when present, else the
    top-level ``frame_scores``/``times_s``/``video_score``. Each curve is normalised to 0..1 and
    its raw range is stated in the strip title and the caption. A result without scores gives
    no curve.
    """
    variants = result.get("variants")
    if not isinstance(variants, dict) or not variants:
        variants = {"untrimmed": result} if "frame_scores" in result else {}
    curves: list[Curve] = []
    lines: list[str] = []
    for name, v in variants.items():
        if not isinstance(v, dict) or "frame_scores" not in v:
            continue
        scores = np.asarray([np.nan if x is None else x for x in v["frame_scores"]], np.float64)
        times = v.get("times_s")
        times = (np.asarray(times, np.float64) if times is not None and len(times) == len(scores)
                 else model_frame_times(len(scores), int(v.get("first_model_frame") or 0)))
        values, lo, hi = normalise(scores)
        rng = f"raw {lo:.3f} … {hi:.3f}"
        curves.append(Curve(f"fakeness −Φ {name} ({rng}, shown 0..1)", times, values,
                            RESULT_COLOURS.get(str(name), "#4fa3ff")))
        score = v.get("video_score")
        score_text = "n/a" if score is None else f"{float(score):.3f}"
        lines.append(f"Video score {name}: {score_text} ({v.get('pool', result.get('pool', '?'))}); "
                     f"curve {rng} drawn as 0..1")
    if curves:
        lines.append(preparation_line(result.get("preparation")))
    return curves, lines


def preparation_line(record: dict[str, Any] | None) -> str:
    """One caption line saying which mouth-crop preparation made the scores
    (``roi.preparation_record()``; "not recorded" for results from before it existed)."""
    if not isinstance(record, dict) or not record.get("preparation"):
        return "Mouth crop: preparation not recorded"
    return (f"Mouth crop: {record['preparation']} landmarks (dlib {record.get('dlib_version', '?')}, "
            f"landmark model sha256 {str(record.get('landmark_model_sha256', ''))[:16]}, "
            f"mean face sha256 {str(record.get('mean_face_sha256', ''))[:16]})")


def waveform_window(t: float, duration_s: float, width_s: float = WINDOW_S) -> tuple[float, float]:
    """A ``width_s`` window around ``t`` seconds, kept inside [0, duration]."""
    width_s = min(width_s, max(duration_s, 1e-3))
    t0 = min(max(0.0, t - width_s / 2), max(0.0, duration_s - width_s))
    return t0, t0 + width_s


def caption_lines(data: SnapshotData) -> list[str]:
    """The caption text, one string per line."""
    from forensics_gui.core.media.timebase import format_timecode

    frame = f"   frame {data.frame_index}" if data.frame_index is not None else ""
    if data.silence is not None:
        silence = (f"Leading silence: {data.silence.leading_silence_ms:.1f} ms "
                   f"at tau {data.silence.threshold:g}")
    else:
        silence = f"Leading silence: {data.silence_note or 'not available'}"
    lines = [
        f"File: {data.file_name}",
        f"SHA-256: {data.sha256}",
        f"Time: {format_timecode(data.time_s)}{frame}",
        silence,
        *data.extra_lines,
        f"forensics-gui {data.version}   created {data.created or _now()}",
    ]
    if data.note:
        lines += [f"Note: {line}" if i == 0 else f"      {line}"
                  for i, line in enumerate(data.note.strip().splitlines())]
    return lines


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


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


def build_snapshot_data(path: str | os.PathLike[str], at_s: float, note: str = "",
                        threshold: float = 0.0005, extra_lines: list[str] | None = None,
                        version: str = "") -> SnapshotData:
    """Decode what the screenshot of ``path`` at ``at_s`` seconds needs (no Qt, no window)."""
    from forensics_gui.core.files.hashing import sha256_file
    from forensics_gui.core.media.decode import VideoReader, decode_audio, probe
    from forensics_gui.core.media.silence import leading_silence
    from forensics_gui.core.media.waveform import PeakPyramid

    info = probe(path)
    duration = float(info.duration_s or 0.0)
    if at_s < 0 or (duration and at_s > duration):
        raise ForensicsError(f"--at {at_s:g} is outside the clip (0 to {duration:.3f} seconds).")
    frame = index = None
    if info.video is not None:
        reader = VideoReader(path)
        try:
            vf = reader.frame_at(at_s)
            frame, index = vf.image, vf.index
        finally:
            reader.close()
    env = silence = None
    audio_start = 0.0
    window = waveform_window(at_s, duration)
    if info.audio is not None:
        track = decode_audio(path)
        audio_start = float(track.start_time_s)
        env = PeakPyramid(track.samples, track.sample_rate, audio_start).envelope(
            window[0], window[1], WAVE_PIXELS)
        silence = leading_silence(track.samples, track.sample_rate, threshold)
    return SnapshotData(
        frame=frame, frame_index=index, time_s=at_s, file_name=Path(path).name,
        sha256=sha256_file(path), version=version, created=_now(),
        frame_notice="No video stream" if info.video is None else "",
        envelope=env, window=window, silence=silence,
        silence_note="" if info.audio is not None else "no audio stream",
        audio_start_s=audio_start, note=note, extra_lines=list(extra_lines or []),
    )
