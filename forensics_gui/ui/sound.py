"""The viewer's sound: the clip's decoded samples pushed to a QAudioSink, time-stretched (pitch
kept) at speeds other than 1x, always scheduled against the playback clock.

Why not QMediaPlayer: measured with a PulseAudio null sink, its sound ran 150-180 ms late at 0.5x
(its position moves in 50 ms steps, so it cannot be corrected finely) and its time-stretch
smeared a 40 ms beep to 106 ms at 0.5x and broke it into pieces at 0.25x. Here every sample
written is known: the sample about to be written is heard after what the sink still holds
(``bufferSize - bytesFree``), so it is chosen to be the media time the picture will show then.

The time-stretch is WSOLA (waveform-similarity overlap-add): 20 ms Hann frames taken from the
input every ``10 ms x speed``, each shifted by up to a few ms to continue the previous frame's
waveform, overlap-added every 10 ms. Speech keeps its pitch; at 1x the samples are copied as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

FRAME_S = 0.020  # WSOLA frame at 0.75x and faster


def frame_s(speed: float) -> float:
    """The WSOLA frame for ``speed``: shorter when slow, so a sound's onset is not smeared ahead
    of its place by more than a few ms (a frame shows an onset up to ~frame*(1-s)/(2s) early)."""
    return FRAME_S if speed >= 0.75 else 0.012 if speed >= 0.5 else 0.008
FEED_MS = 5  # how often the sink is topped up while playing
IDLE_FEED_MS = 20  # and with silence while paused
BUFFER_S = 0.080  # what the sink holds at most: rides out an 80 ms stall of the window's thread;
# accounted for when choosing what to write, so it is no delay (Pause drops it)
RESYNC_S = 0.004  # re-place the sound when it is this far (wall time) from where it should be
FADE_S = 0.003


class Stretcher:
    """Reads a track ``[channels, n]`` from a media position at a speed, pitch kept."""

    def __init__(self, samples: np.ndarray, rate_hz: int) -> None:
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.rate_hz = int(rate_hz)
        self.channels = int(self.samples.shape[0])
        self.mono = self.samples.mean(axis=0) if self.channels > 1 else self.samples[0]
        self.start(0.0, 1.0)

    def _take(self, start: int, length: int, mono: bool = False) -> np.ndarray:
        """``length`` samples from ``start`` (zeros outside the track)."""
        src = self.mono[None, :] if mono else self.samples
        out = np.zeros((src.shape[0], length), np.float32)
        a, b = max(0, start), min(src.shape[1], start + length)
        if b > a:
            out[:, a - start:b - start] = src[:, a:b]
        return out[0] if mono else out

    def start(self, media_sample: float, speed: float) -> None:
        """Output from now on: sample ``o`` carries media sample ``media_sample + o * speed``."""
        self.speed = float(speed)
        self.media0 = float(media_sample)
        self.emitted = 0
        self._fade_in = True
        self._pending = np.zeros((self.channels, 0), np.float32)
        if self.speed != 1.0:
            self.n = max(2, int(round(frame_s(self.speed) * self.rate_hz)) // 2 * 2)
            self.hop = self.n // 2
            self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n) / self.n)
                           ).astype(np.float32)
            # frame k starts at p_k and is centred on output k*hop + n/2, so its centre carries
            # media media0 + (k*hop + n/2) * speed: p_k = media0 + n/2 (speed - 1) + k*hop*speed
            self._pos = self.media0 + self.n / 2 * (self.speed - 1.0)
            self._prev: int | None = None
            self._tail = np.zeros((self.channels, self.n - self.hop), np.float32)
            self.tolerance = max(1, int(round(min(0.005, 0.005 * self.speed) * self.rate_hz)))

    @property
    def next_media_s(self) -> float:
        """The media time (s) the next output sample carries."""
        return (self.media0 + self.emitted * self.speed) / self.rate_hz

    def read(self, count: int) -> np.ndarray:
        """The next ``count`` output samples, ``[channels, count]``."""
        if self.speed == 1.0:
            out = self._take(int(round(self.media0)) + self.emitted, count)
        else:
            while self._pending.shape[1] < count:
                self._pending = np.concatenate([self._pending, self._frame()], axis=1)
            out, self._pending = self._pending[:, :count], self._pending[:, count:]
        if self._fade_in:
            k = min(count, int(FADE_S * self.rate_hz))
            out = out.copy()
            out[:, :k] *= np.linspace(0.0, 1.0, k, dtype=np.float32)
            self._fade_in = False
        self.emitted += count
        return out

    def _frame(self) -> np.ndarray:
        """One WSOLA hop: ``hop`` finished output samples."""
        nominal = int(round(self._pos))
        if self._prev is None:
            chosen = nominal
        else:
            natural = self._take(self._prev + self.hop, self.n, mono=True)
            tol = self.tolerance
            region = self._take(nominal - tol, self.n + 2 * tol, mono=True)
            if not natural.any() or not region.any():
                chosen = nominal
            else:
                chosen = nominal - tol + int(np.argmax(_correlate(region, natural)))
        frame = self._take(chosen, self.n) * self.window
        frame[:, : self.n - self.hop] += self._tail
        self._tail = frame[:, self.hop:].copy()
        self._prev = chosen
        self._pos += self.hop * self.speed
        return frame[:, : self.hop]


def default_device_name() -> str | None:
    """The description of the default sound output, None when there is none."""
    from forensics_gui.ui.player import audio_output_available

    if not audio_output_available():
        return None
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return None
    device = QMediaDevices.defaultAudioOutput()
    return None if device.isNull() else (device.description() or "default output")


class SoundOutput(QObject):
    """Plays a track in step with a clock: ``target()`` is the media time (s) that should be heard
    when the next sample written reaches the speaker, before the offset."""

    failed = Signal(str)

    def __init__(self, device_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device_name = device_name
        self._sink: Any = None
        self._io: Any = None
        self._stretcher: Stretcher | None = None
        self._track_start_s = 0.0
        self._bytes_per_frame = 4
        self._int16 = False  # the device takes 16-bit integers, not floats
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FEED_MS)
        self._timer.timeout.connect(self._feed)
        self._target: Any = None  # callable: seconds ahead -> media time the picture shows then
        self._speed = 1.0
        self.offset_s = 0.0  # > 0: the sound comes later than the picture
        self.resyncs = 0
        self._errors: list[float] = []
        self._force = False

    @property
    def has_track(self) -> bool:
        return self._stretcher is not None

    def set_track(self, samples: np.ndarray | None, rate_hz: int = 0, start_s: float = 0.0) -> None:
        """The clip's samples ``[channels, n]`` (None: no sound); stops what plays."""
        self._halt()
        if samples is None or samples.size == 0 or rate_hz <= 0:
            self._stretcher = None
            self._close_sink()
            return
        if samples.shape[0] > 2:
            samples = samples.mean(axis=0, keepdims=True)
        channels = int(samples.shape[0])
        if self._sink is not None and (self._sink.format().sampleRate() != rate_hz
                                       or self._sink.format().channelCount() != channels):
            self._close_sink()
        self._stretcher = Stretcher(samples, rate_hz)
        self._track_start_s = float(start_s)
        self.prepare()  # now, so that Play does not wait for the sound server

    def _open_sink(self) -> bool:
        if self._sink is not None:
            return True
        assert self._stretcher is not None
        try:
            from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

            fmt = QAudioFormat()
            fmt.setSampleRate(self._stretcher.rate_hz)
            fmt.setChannelCount(self._stretcher.channels)
            fmt.setSampleFormat(QAudioFormat.SampleFormat.Float)
            device = QMediaDevices.defaultAudioOutput()
            if device.isNull():
                raise RuntimeError("no sound output device")
            self._int16 = not device.isFormatSupported(fmt)
            if self._int16:  # e.g. a bare ALSA device: 16-bit is the format every device takes
                fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
            sink = QAudioSink(device, fmt, self)
            self._bytes_per_frame = (2 if self._int16 else 4) * self._stretcher.channels
            sink.setBufferSize(int(BUFFER_S * self._stretcher.rate_hz) * self._bytes_per_frame)
            self._sink = sink
            return True
        except Exception as err:  # sound is a bonus: the picture plays on
            self.failed.emit(f"The sound device could not be opened ({err}); playing silently.")
            self._sink = None
            return False

    def _close_sink(self) -> None:
        if self._sink is not None:
            self._sink.reset()
            self._sink.stop()
            self._sink.deleteLater()
        self._sink = self._io = None

    def prepare(self) -> None:
        """Open the stream to the sound server and keep it running on a few ms of silence.

        A new stream starts playing 100 ms or more after its first samples are written, only
        once its buffer is full (and the very first connection of a process takes longer), so
        sound started on a new stream comes late. A running stream plays what is written after
        what it holds, which is known: Play then puts the first sound exactly where the picture
        will be, after at most BUFFER_S of silence."""
        if self._io is None and self._stretcher is not None and self._open_sink():
            from PySide6.QtMultimedia import QtAudio

            self._io = self._sink.start()
            if self._io is None or self._sink.error() != QtAudio.Error.NoError:
                self._halt()
                self._close_sink()
                self.failed.emit(f"The sound device {self.device_name} could not be started; "
                                 "playing silently.")
                return
            self._timer.start(IDLE_FEED_MS)

    def start(self, target: Any, speed: float) -> None:
        """Play from now on; ``target(ahead_s)`` is the picture's media time ``ahead_s`` from now.
        Already playing (a seek): the sound is re-placed after what the sink holds."""
        if self._stretcher is None:
            return
        self.prepare()
        if self._io is None:
            return
        self._target, self._speed = target, float(speed)
        self._errors = []
        self._force = True
        self._feed()
        self._timer.start(FEED_MS)

    def set_speed(self, speed: float) -> None:
        """A new speed while playing: the sound is re-placed at the next top-up (what the sink
        already holds, at most BUFFER_S, plays out; no gap)."""
        self._speed = float(speed)
        self._force = True

    def set_offset(self, offset_s: float) -> None:
        """Shift the sound against the picture (> 0: later); while playing, the sound is
        re-placed at the next top-up, so even a 1 ms step takes effect."""
        if float(offset_s) != self.offset_s:
            self.offset_s = float(offset_s)
            self._force = self._target is not None

    def stop(self) -> None:
        """Silence at once: what the sink still holds is dropped (no sound twice on resume);
        the stream is opened again at once and kept running on silence (see :meth:`prepare`)."""
        was_open = self._io is not None
        self._halt()
        if was_open:
            self.prepare()

    def close(self) -> None:
        """Stop and close the stream (the window closes)."""
        self._halt()
        self._close_sink()

    def _halt(self) -> None:
        self._timer.stop()
        self._target = None
        if self._sink is not None and self._io is not None:
            self._sink.reset()
            self._sink.stop()
        self._io = None

    @property
    def playing(self) -> bool:
        return self._io is not None and self._target is not None

    def _place(self, picture_s: float) -> None:
        assert self._stretcher is not None
        media = picture_s - self.offset_s - self._track_start_s
        self._stretcher.start(media * self._stretcher.rate_hz, self._speed)

    def queued_s(self) -> float:
        if self._sink is None or self._stretcher is None:
            return 0.0
        queued = max(0, self._sink.bufferSize() - self._sink.bytesFree())
        return queued / self._bytes_per_frame / self._stretcher.rate_hz

    def _feed(self) -> None:
        if self._io is None or self._stretcher is None:
            return
        free_frames = self._sink.bytesFree() // self._bytes_per_frame
        if self._target is None:  # paused: keep the stream running on silence
            if free_frames > 0:
                self._io.write(bytes(free_frames * self._bytes_per_frame))
            return
        if free_frames <= 0:
            return
        ahead = self.queued_s()
        want = self._target(ahead) - self.offset_s - self._track_start_s
        error_wall = (self._stretcher.next_media_s - want) / max(self._speed, 1e-6)
        # what the sink reports it holds moves in steps: act on the median of the last ~75 ms,
        # at once only on a jump (a new offset)
        self._errors = (self._errors + [error_wall])[-15:]
        typical = float(np.median(self._errors))
        if self._force or abs(error_wall) > 0.030 or (len(self._errors) >= 5
                                                      and abs(typical) > RESYNC_S):
            self.resyncs += 1
            self._force = False
            self._errors = []
            self._place(want + self.offset_s + self._track_start_s)
        block = self._stretcher.read(int(free_frames))
        if self._int16:
            data = np.round(np.clip(block.T, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        else:
            data = np.ascontiguousarray(block.T, dtype="<f4").tobytes()
        self._io.write(data)


def _correlate(region: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``sum(region[k + j] * template[j])`` for every ``k`` where the template fits (FFT)."""
    lags = len(region) - len(template) + 1
    size = 1 << int(np.ceil(np.log2(len(region) + len(template))))
    spectrum = np.fft.rfft(region, size) * np.conj(np.fft.rfft(template, size))
    return np.fft.irfft(spectrum, size)[:lags]
