"""The video view, the transport bar and the playback clock.

Frames are drawn by the app (QPainter on a QImage), so ``grab()`` and screenshots show them.
Playback runs on a QElapsedTimer clock; when an audio output exists, sound is played through
QMediaPlayer + QAudioOutput started at the same position and rate (no video output used).
"""

from __future__ import annotations

import glob
import os
import sys
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QRect, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_gui.ui import theme

SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def rgb_to_qimage(image: np.ndarray) -> QImage:
    """Wrap an HxWx3 uint8 RGB array as a QImage (a deep copy, safe to keep)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class VideoView(QWidget):
    """Draws the current frame scaled to fit (aspect kept) or a centred notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 200)
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
        self.update()

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
        column.addLayout(self.controls)

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
    """Media time that advances in real time × rate while playing.

    ``ticked(seconds)`` about every 15 ms while playing; ``finished`` when the end is reached.
    With an audio device, a QMediaPlayer plays the file's sound from the same position.
    """

    ticked = Signal(float)
    finished = Signal()

    def __init__(self, parent: QObject | None = None, use_audio: bool | None = None) -> None:
        super().__init__(parent)
        self._elapsed = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._on_tick)
        self._origin_s = 0.0
        self.rate = 1.0
        self.end_s = 0.0
        self.playing = False
        self._path: str | None = None
        self._player: Any = None
        self._audio_output: Any = None
        self._sound_started = False
        self._sound_t0 = 0.0
        self.use_audio = audio_output_available() if use_audio is None else use_audio

    def set_media(self, path: str | None, end_s: float, has_audio: bool) -> None:
        self.pause()
        self.end_s = end_s
        self._path = path if has_audio else None
        if self._player is not None:
            self._player.setSource(QUrl.fromLocalFile(self._path) if self._path else QUrl())

    def position(self) -> float:
        if not self.playing:
            return self._origin_s
        return self._origin_s + self.rate * self._elapsed.elapsed() / 1000.0

    def start(self, from_s: float) -> None:
        self._origin_s = 0.0 if from_s >= self.end_s else from_s
        self._elapsed.start()
        self.playing = True
        self._timer.start()
        self._start_sound()

    def pause(self) -> None:
        if self.playing:
            self._origin_s = self.position()
        self.playing = False
        self._sound_started = False
        self._timer.stop()
        if self._player is not None:
            self._player.pause()

    def set_rate(self, rate: float) -> None:
        if self.playing:
            self._origin_s = self.position()
            self._elapsed.start()
        self.rate = rate
        if self._player is not None:
            self._player.setPlaybackRate(rate)

    def _on_tick(self) -> None:
        t = self.position()
        if self._player is not None and self._sound_started \
                and time.monotonic() - self._sound_t0 > 0.5:
            # the clock is the authority: put the sound back when it drifts by more than 150 ms
            # (also covers a setPosition() ignored while the media was still loading)
            heard = self._player.position() / 1000.0
            if abs(heard - t) > 0.15:
                self._player.setPosition(int(t * 1000))
                self._sound_t0 = time.monotonic()
        if t >= self.end_s:
            self.pause()
            self._origin_s = self.end_s
            self.ticked.emit(self.end_s)
            self.finished.emit()
            return
        self.ticked.emit(t)

    def _start_sound(self) -> None:
        if not self.use_audio or self._path is None:
            return
        try:
            if self._player is None:
                from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

                self._player = QMediaPlayer(self)
                self._audio_output = QAudioOutput(self)
                self._player.setAudioOutput(self._audio_output)
                self._player.setSource(QUrl.fromLocalFile(self._path))
            self._player.setPlaybackRate(self.rate)
            self._player.setPosition(int(self._origin_s * 1000))
            self._player.play()
            self._sound_started = True
            self._sound_t0 = time.monotonic()
        except Exception:  # sound is a bonus: playback continues silently
            self.use_audio = False
            self._player = None
            self._sound_started = False
