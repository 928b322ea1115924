"""The video view, the transport bar and the playback clock.

Frames are drawn by the app (QPainter on a QImage), so ``grab()`` and screenshots show them.
Playback runs on a QElapsedTimer clock (the picture's); when a sound device exists, the sound is
pushed to it by :mod:`forensics_gui.ui.sound`, scheduled against that clock at every speed.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QElapsedTimer,
    QEvent,
    QMargins,
    QObject,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.ui import theme

SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
MAX_OFFSET_MS = 500


def rgb_to_qimage(image: np.ndarray) -> QImage:
    """Wrap an HxWx3 uint8 RGB array as a QImage (a deep copy, safe to keep)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    """Draws the current frame scaled to fit (aspect kept) or a centred notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 120)  # a 1024x600 screen still shows every lane below
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._image: QImage | None = None
        self.frame: np.ndarray | None = None  # the RGB array on screen
        self.notice = "Open a clip: File > Open (Ctrl+O) or drop a file here."
        self.face_box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 source px
        self.face_detected = True

    def set_frame(self, image: np.ndarray) -> None:
        self.frame = image
        self._image = rgb_to_qimage(image)
        self.notice = ""
        # painted now, not at the next pass of the event loop: a frame reaches the screen when
        # its time comes, even while the lanes repaint (lip sync is judged on it)
        self.repaint() if self.isVisible() else self.update()

    def set_notice(self, text: str) -> None:
        """Show ``text`` instead of a frame (audio-only clip, no clip, errors)."""
        self.notice = text
        self._image = None
        self.frame = None
        self.update()

    def set_face_box(self, box: tuple[float, float, float, float] | None, detected: bool = True) -> None:
        """Outline the face box (x0, y0, x1, y1 in source-frame pixels); a red dashed outline
        when the detector missed this frame (the box is interpolated); None hides it."""
        self.face_box = None if box is None else tuple(float(v) for v in box)  # type: ignore[assignment]
        self.face_detected = bool(detected)
        self.update()

    def face_box_rect(self) -> QRectF:
        """The face box in widget pixels (empty when none is shown)."""
        rect = self.frame_rect()
        if self.face_box is None or self._image is None or rect.isEmpty():
            return QRectF()
        sx = rect.width() / self._image.width()
        sy = rect.height() / self._image.height()
        x0, y0, x1, y1 = self.face_box
        return QRectF(rect.left() + x0 * sx, rect.top() + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)

    def frame_rect(self) -> QRect:
        """Where the frame is drawn, in widget pixels (empty when no frame)."""
        if self._image is None:
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(QRectF(self.frame_rect()), self._image)
            box = self.face_box_rect()
            if not box.isEmpty():
                colour = QColor(theme.WAVEFORM if self.face_detected else theme.PLAYHEAD)
                style = Qt.PenStyle.SolidLine if self.face_detected else Qt.PenStyle.DashLine
                painter.setPen(QPen(colour, 2, style))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(box)
        elif self.notice:
            painter.setPen(QColor(theme.MUTED))
            font = painter.font()
            font.setPointSize(12)
            painter.setFont(font)
            painter.drawText(self.rect().adjusted(20, 20, -20, -20),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.notice)
        painter.end()


class Transport(QWidget):
    """Play/pause, frame step, scrub slider, speed and the time/frame display."""

    play_clicked = Signal()
    step_requested = Signal(int)  # -1 / +1 frames
    seek_requested = Signal(float)  # seconds
    speed_changed = Signal(float)
    offset_changed = Signal(float)  # the sound's shift against the picture, ms (> 0: later)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self.back_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward),
                                        "Previous frame (Left)")
        self.play_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                                        "Play/pause (Space)")
        self.step_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward),
                                        "Next frame (Right)")
        self.back_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.step_button.clicked.connect(lambda: self.step_requested.emit(1))
        self.play_button.clicked.connect(self.play_clicked)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self._on_slider_moved)

        self.time_label = QLabel("00:00:00.000")
        self.time_label.setObjectName("timeDisplay")
        self.time_label.setFont(theme.monospace_font(11))
        self.time_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.speed_box = QComboBox()
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}x", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed (J slower, L faster)")
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.speed_changed.emit(float(self.speed_box.itemData(i))))

        # the sound offset (a player's "audio delay"): 1 ms steps in the box, frame steps beside
        self.offset_box = QSpinBox()
        self.offset_box.setRange(-MAX_OFFSET_MS, MAX_OFFSET_MS)
        self.offset_box.setSuffix(" ms")
        self.offset_box.setPrefix("Sound offset ")
        self.offset_box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.offset_box.setToolTip(
            "Shift the sound against the picture (audio delay): positive plays the sound later. "
            "1 ms per arrow step; the buttons move it by one frame. Shown in exports.")
        self.offset_box.valueChanged.connect(lambda v: self.offset_changed.emit(float(v)))
        self.frame_ms = 40.0
        self.offset_earlier = QToolButton()
        self.offset_earlier.setText("−1 frame")
        self.offset_earlier.setToolTip("Sound one frame earlier")
        self.offset_earlier.clicked.connect(lambda: self.nudge_offset(-1))
        self.offset_later = QToolButton()
        self.offset_later.setText("+1 frame")
        self.offset_later.setToolTip("Sound one frame later")
        self.offset_later.clicked.connect(lambda: self.nudge_offset(1))
        self.offset_reset = QToolButton()
        self.offset_reset.setText("Reset")
        self.offset_reset.setToolTip("Sound offset back to 0 ms")
        self.offset_reset.clicked.connect(lambda: self.offset_box.setValue(0))
        self.lane_offset_label = QLabel("")
        self.lane_offset_label.setToolTip(
            "The sync lane's estimate for this frame: how far the sound seems shifted against "
            "the lips (sync offset, in frames and ms)")
        for b in (self.offset_earlier, self.offset_later, self.offset_reset):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        # The scrub slider gets the full width on its own row: beside the buttons, the time and
        # frame read-out left it a few dozen pixels in a 1280 px window.
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 2, 4, 2)
        column.setSpacing(2)
        column.addWidget(self.slider)
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(0, 0, 0, 0)
        for w in (self.back_button, self.play_button, self.step_button):
            self.controls.addWidget(w)
        self.controls.addStretch(1)
        self.controls.addWidget(self.time_label)
        self.controls.addWidget(self.speed_box)
        offset_widgets: tuple[QWidget, ...] = (self.offset_box, self.offset_earlier,
                                               self.offset_later, self.offset_reset,
                                               self.lane_offset_label)
        # the sound offset sits beside the playback controls on a wide window and under them on
        # a narrow one (see _wrap_rows), so the window fits a 1024 px screen
        self.offset_row = QHBoxLayout()
        self.offset_row.setContentsMargins(0, 0, 0, 0)
        for widget in offset_widgets:
            self.offset_row.addWidget(widget)
        self.offset_row.addStretch(1)
        self.rows = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.addLayout(self.controls, 1)
        self.rows.addLayout(self.offset_row)
        column.addLayout(self.rows)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """As narrow as the wider of the two control rows (they stack on a narrow window)."""
        hint = super().minimumSizeHint()
        margins = self._margins()
        widest = max(self.controls.minimumSize().width(), self.offset_row.minimumSize().width())
        return QSize(widest + margins.left() + margins.right(), hint.height())

    def _margins(self) -> QMargins:
        layout = self.layout()
        return layout.contentsMargins() if layout is not None else QMargins()

    def _wrap_rows(self) -> None:
        """Stack the sound-offset row under the playback row when both do not fit side by side."""
        margins = self._margins()
        need = (self.controls.sizeHint().width() + self.offset_row.sizeHint().width()
                + self.rows.spacing() + margins.left() + margins.right())
        direction = (QBoxLayout.Direction.LeftToRight if self.width() >= need
                     else QBoxLayout.Direction.TopToBottom)
        if self.rows.direction() != direction:
            self.rows.setDirection(direction)
            self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._wrap_rows()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # a label's text (and width) changed
            self._wrap_rows()
        return super().event(event)

    def _button(self, icon: Any, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return b

    def set_duration(self, duration_s: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, int(round(duration_s * 1000))))
        self.slider.blockSignals(False)

    def seek(self, t: float, text: str) -> None:
        """Show time ``t`` (seconds) with ``text``; emits nothing."""
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(t * 1000)))
        self.slider.blockSignals(False)
        self.time_label.setText(text)

    def set_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def set_speed(self, speed: float) -> None:
        self.speed_box.setCurrentIndex(SPEEDS.index(speed))

    @property
    def offset_ms(self) -> float:
        return float(self.offset_box.value())

    def set_offset_ms(self, ms: float) -> None:
        self.offset_box.setValue(int(round(max(-MAX_OFFSET_MS, min(MAX_OFFSET_MS, ms)))))

    def nudge_offset(self, frames: int) -> None:
        """Move the sound offset by ``frames`` frames (``frame_ms`` each)."""
        self.set_offset_ms(self.offset_ms + frames * self.frame_ms)

    @property
    def speed(self) -> float:
        return float(self.speed_box.currentData())

    def _on_slider_moved(self, value: int) -> None:
        self.seek_requested.emit(value / 1000.0)


def _linux_sound_server_or_card() -> bool:
    """Cheap check (no QtMultimedia import) for a PulseAudio/PipeWire socket or an ALSA card."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    sockets = [os.environ.get("PULSE_SERVER", ""),
               os.path.join(runtime, "pulse", "native") if runtime else "",
               os.path.join(runtime, "pipewire-0") if runtime else ""]
    if any(s and os.path.exists(s.removeprefix("unix:")) for s in sockets):
        return True
    return bool(glob.glob("/dev/snd/pcmC*D*p"))


def audio_output_available() -> bool:
    """True when the system has at least one audio output device.

    QtMultimedia is imported only when a device is plausible: it loads Qt's own FFmpeg next to
    PyAV's, which we keep out of the process when there is nothing to play sound on.
    ``$FORENSICS_GUI_NO_AUDIO=1`` forces silent playback.
    """
    if os.environ.get("FORENSICS_GUI_NO_AUDIO") == "1":
        return False
    if sys.platform.startswith("linux") and not _linux_sound_server_or_card():
        return False
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return False
    return bool(QMediaDevices.audioOutputs())


class PlaybackClock(QObject):
    """Media time that advances in real time × rate while playing: the picture's clock.

    ``ticked(seconds)`` at every frame boundary (``next_boundary``) and at least every 15 ms
    while playing; ``finished`` when the end is reached. With a sound device and a track
    (:meth:`set_track`), :class:`~forensics_gui.ui.sound.SoundOutput` plays the sound scheduled
    against this clock, pitch kept at every speed, shifted by ``audio_offset_s``.
    """

    ticked = Signal(float)
    finished = Signal()
    sound_changed = Signal(str)  # the status sentence about the sound device

    def __init__(self, parent: QObject | None = None, use_audio: bool | None = None) -> None:
        super().__init__(parent)
        self._elapsed = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)
        self._origin_s = 0.0
        self.rate = 1.0
        self.end_s = 0.0
        self.playing = False
        self.has_audio = False
        self._track_failed = False
        self._sound_problem = ""  # why the sound device cannot be used, once it failed
        self.audio_offset_s = 0.0
        self.next_boundary: Any = None  # callable t -> the next frame's start time (s) or None
        self.use_audio = audio_output_available() if use_audio is None else use_audio
        self.device_name: str | None = None
        self.sound: Any = None
        if self.use_audio:
            from forensics_gui.ui.sound import SoundOutput, default_device_name

            self.device_name = default_device_name() or ("default output" if use_audio else None)
            if self.device_name is not None:
                self.sound = SoundOutput(self.device_name, self)
                self.sound.failed.connect(self._on_sound_failed)
            else:
                self.use_audio = False

    def set_media(self, path: str | None, end_s: float, has_audio: bool) -> None:
        self.pause()
        self.end_s = end_s
        self.has_audio = bool(path) and has_audio
        self._track_failed = False
        if self.sound is not None:
            self.sound.set_track(None)
        self.sound_changed.emit(self.sound_state())

    def set_track(self, samples: np.ndarray | None, rate_hz: int = 0, start_s: float = 0.0) -> None:
        """The open clip's decoded sound ``[channels, n]`` at ``rate_hz`` (its first sample at
        ``start_s``); plays from now on if the clock runs."""
        if self.sound is None:
            return
        self.sound.set_track(samples, rate_hz, start_s)
        if self.playing:
            self._start_sound()
        self.sound_changed.emit(self.sound_state())

    def sound_ready(self) -> bool:
        """True when nothing more is awaited before sound can play (no device, no audio stream,
        or the track is loaded)."""
        return (self.sound is None or not self.has_audio or self.sound.has_track
                or self._track_failed)

    def track_failed(self) -> None:
        """The open clip's sound could not be decoded: it plays silently (and says so)."""
        self._track_failed = True
        self.sound_changed.emit(self.sound_state())

    def sound_state(self) -> str:
        """What the status bar says about sound."""
        if self._sound_problem:
            return self._sound_problem
        if self.sound is None:
            return "No sound device — playing silently"
        if not self.has_audio:
            return f"Sound: {self.device_name} (this clip has no sound)"
        if self._track_failed:
            return f"Sound: {self.device_name} (this clip's sound cannot be decoded: silent)"
        if not self.sound.has_track:
            return f"Sound: {self.device_name} (preparing the sound…)"
        return f"Sound: {self.device_name}"

    def _on_sound_failed(self, sentence: str) -> None:
        self.sound = None
        self.use_audio = False
        self._sound_problem = sentence
        self.sound_changed.emit(sentence)

    def position(self) -> float:
        if not self.playing:
            return self._origin_s
        return self._origin_s + self.rate * self._elapsed.nsecsElapsed() / 1e9

    def position_ahead(self, ahead_s: float) -> float:
        """The media time the picture will show ``ahead_s`` seconds of wall time from now."""
        return self.position() + self.rate * ahead_s

    def start(self, from_s: float) -> None:
        if self.sound is not None and self.has_audio:
            self.sound.prepare()  # may wait for the sound server: before the clock starts
        self._origin_s = 0.0 if from_s >= self.end_s else from_s
        self._elapsed.start()
        self.playing = True
        self._start_sound()
        self._on_tick()

    def pause(self) -> None:
        if self.playing:
            self._origin_s = self.position()
        self.playing = False
        self._timer.stop()
        if self.sound is not None:
            self.sound.stop()

    def set_rate(self, rate: float) -> None:
        if self.playing:
            self._origin_s = self.position()
            self._elapsed.start()
        self.rate = rate
        if self.playing and self.sound is not None and self.sound.playing:
            self.sound.set_speed(rate)

    def close(self) -> None:
        """Stop playing and let go of the sound device."""
        self.pause()
        if self.sound is not None:
            self.sound.close()

    def set_audio_offset(self, offset_s: float) -> None:
        """Shift the sound against the picture (> 0: later); applies while playing."""
        self.audio_offset_s = float(offset_s)
        if self.sound is not None:
            self.sound.set_offset(self.audio_offset_s)

    def _start_sound(self) -> None:
        if self.sound is not None and self.has_audio and self.sound.has_track:
            self.sound.offset_s = self.audio_offset_s
            self.sound.start(self.position_ahead, self.rate)

    def _on_tick(self) -> None:
        if not self.playing:
            return
        t = self.position()
        if t >= self.end_s:
            self.pause()
            self._origin_s = self.end_s
            self.ticked.emit(self.end_s)
            self.finished.emit()
            return
        self.ticked.emit(t)
        # the next tick: at the next frame boundary (a frame is shown on time), at most 15 ms on
        wait_s = 0.015
        boundary = self.next_boundary(t) if self.next_boundary is not None else None
        if boundary is not None and boundary > t:
            wait_s = min(wait_s, (boundary - self.position()) / self.rate)
        self._timer.start(max(0, int(np.ceil(wait_s * 1000))))
