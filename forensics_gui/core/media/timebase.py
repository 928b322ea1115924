"""The one authority for time: float seconds, converted to and from every index the app uses.

- source frame index: the frame of the video file displayed at a time (from its real frame
  times, so variable frame rates work);
- sample index: a position in the decoded audio track (native or resampled rate);
- model frame index: the 25 fps grid the mouth-ROI and AV-HuBERT features use
  (model frame ``k`` covers ``[k / 25, (k + 1) / 25)`` seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from forensics_gui.core.media.decode import MediaInfo

MODEL_FPS = 25  # frames per second of the ROI video and of the feature rows
_EPS = 1e-9  # seconds; absorbs float error when a time is exactly on a frame boundary


def format_timecode(t: float) -> str:
    """``t`` seconds as ``hh:mm:ss.mmm`` (rounded to the millisecond; negative gets a ``-``)."""
    if not math.isfinite(t):
        return "--:--:--.---"
    sign = "-" if t < 0 else ""
    ms = int(round(abs(t) * 1000.0))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def parse_timecode(text: str) -> float:
    """Seconds from ``hh:mm:ss.mmm``, ``mm:ss.mmm`` or plain seconds (``12.5``)."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    parts = text.lstrip("-").split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"not a time: {text!r}")
    value = 0.0
    for part in parts:
        value = value * 60.0 + float(part)
    return sign * value


def seconds_to_model_frame(t: float, fps: float = MODEL_FPS) -> int:
    """Model-grid frame (25 fps by default) whose interval contains ``t`` seconds."""
    return int(math.floor(t * fps + _EPS))


def model_frame_to_seconds(k: int | np.ndarray, fps: float = MODEL_FPS) -> float | np.ndarray:
    """Start time in seconds of model frame ``k``."""
    return k / fps


def seconds_to_sample(t: float, sample_rate: int, start_time_s: float = 0.0) -> int:
    """Index of the sample at ``t`` seconds in a track whose first sample is at ``start_time_s``."""
    return int(math.floor((t - start_time_s) * sample_rate + 1e-6))


def samples_to_ms(n: int | float, sample_rate: int) -> float:
    """Duration of ``n`` samples in milliseconds."""
    return float(n) * 1000.0 / sample_rate


@dataclass(frozen=True)
class Timebase:
    """Time conversions for one media file.

    ``frame_times``: presentation time (s) of each source frame, sorted (from
    ``VideoReader.frame_times()``), or ``None`` for audio-only media. ``fps``: the source's
    average frame rate. ``sample_rate`` / ``audio_start_s``: of the decoded audio track the sample
    indices refer to. ``duration_s``: the clip length the playhead is clamped to.
    """

    duration_s: float
    frame_times: np.ndarray | None = None
    fps: Fraction = Fraction(MODEL_FPS)
    sample_rate: int | None = None
    audio_start_s: float = 0.0
    model_fps: int = MODEL_FPS
    _frame_end: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        if self.frame_times is not None:
            times = np.asarray(self.frame_times, dtype=np.float64)
            object.__setattr__(self, "frame_times", times)
            end = float(times[-1] + 1.0 / float(self.fps)) if len(times) else 0.0
            object.__setattr__(self, "_frame_end", end)

    @classmethod
    def from_fps(cls, fps: float | Fraction, n_frames: int, *, sample_rate: int | None = None,
                 start_s: float = 0.0, audio_start_s: float = 0.0) -> Timebase:
        """A constant-frame-rate timebase: frame ``i`` at ``start_s + i / fps`` seconds."""
        rate = Fraction(fps).limit_denominator(1_000_000)
        times = start_s + np.arange(n_frames, dtype=np.float64) / float(rate)
        return cls(duration_s=start_s + n_frames / float(rate), frame_times=times, fps=rate,
                   sample_rate=sample_rate, audio_start_s=audio_start_s)

    @classmethod
    def from_media(cls, info: MediaInfo, frame_times: np.ndarray | None = None, *,
                   sample_rate: int | None = None, audio_start_s: float | None = None) -> Timebase:
        """Timebase of a probed file. Pass ``VideoReader.frame_times()`` for exact (VFR) frame
        times, else a constant rate is assumed; ``sample_rate`` is that of the decoded track the
        sample indices refer to (default: the native rate)."""
        v, a = info.video, info.audio
        rate = sample_rate or (a.sample_rate if a else None)
        a_start = audio_start_s if audio_start_s is not None else (a.start_time_s if a else 0.0)
        if v is None:
            return cls(duration_s=info.duration_s, sample_rate=rate, audio_start_s=a_start)
        if frame_times is None:
            frame_times = v.start_time_s + np.arange(v.frame_count) / float(v.fps)
        return cls(duration_s=info.duration_s, frame_times=frame_times, fps=v.fps,
                   sample_rate=rate, audio_start_s=a_start)

    # -- clamping
    def clamp(self, t: float) -> float:
        """``t`` limited to ``[0, duration_s]``."""
        return min(max(0.0, t), self.duration_s)

    # -- source frames
    @property
    def n_frames(self) -> int:
        return 0 if self.frame_times is None else len(self.frame_times)

    def frame_at(self, t: float) -> int:
        """Source frame displayed at ``t`` s (last frame starting at or before ``t``), clamped."""
        if self.frame_times is None or len(self.frame_times) == 0:
            raise ValueError("this media has no video frames")
        i = int(np.searchsorted(self.frame_times, t + _EPS, side="right")) - 1
        return min(max(i, 0), len(self.frame_times) - 1)

    def time_of_frame(self, i: int) -> float:
        """Presentation time in seconds of source frame ``i``."""
        if self.frame_times is None:
            raise ValueError("this media has no video frames")
        return float(self.frame_times[i])

    def step(self, t: float, frames: int) -> float:
        """Time of the frame ``frames`` source frames after (or before) the one shown at ``t``."""
        i = self.frame_at(t) + frames
        return self.time_of_frame(min(max(i, 0), self.n_frames - 1))

    # -- audio samples
    def sample_at(self, t: float) -> int:
        """Sample index (in the decoded track) at ``t`` seconds, clamped at 0."""
        if not self.sample_rate:
            raise ValueError("this media has no audio track")
        return max(0, seconds_to_sample(t, self.sample_rate, self.audio_start_s))

    def time_of_sample(self, n: int | float) -> float:
        """Time in seconds of sample ``n`` of the decoded track."""
        if not self.sample_rate:
            raise ValueError("this media has no audio track")
        return self.audio_start_s + float(n) / self.sample_rate

    # -- the 25 fps model grid
    @property
    def n_model_frames(self) -> int:
        """Model-grid frames that start within the clip: ``ceil(duration_s * 25)``."""
        return int(math.ceil(self.duration_s * self.model_fps - 1e-6))

    def model_frame_at(self, t: float) -> int:
        """Model-grid frame containing ``t`` seconds, clamped to the clip."""
        k = seconds_to_model_frame(t, self.model_fps)
        return min(max(k, 0), max(0, self.n_model_frames - 1))

    def time_of_model_frame(self, k: int) -> float:
        """Start time in seconds of model frame ``k``."""
        return k / self.model_fps

    def model_frame_to_frame(self, k: int) -> int:
        """Source frame displayed at the start of model frame ``k``."""
        return self.frame_at(self.time_of_model_frame(k))

    def frame_to_model_frame(self, i: int) -> int:
        """Model frame containing the start of source frame ``i``."""
        return self.model_frame_at(self.time_of_frame(i))

    def model_frame_times(self) -> np.ndarray:
        """Start time (s) of every model frame in the clip."""
        return np.arange(self.n_model_frames, dtype=np.float64) / self.model_fps
