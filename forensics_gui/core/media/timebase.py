"""The one authority for time: float seconds, converted to and from every index the app uses.

- source frame index: the frame of the video file displayed at a time (from its real frame
  times, so variable frame rates work);
- sample index: a position in the decoded audio track (native or resampled rate);
- model frame index: the 25 fps grid the mouth-ROI and AV-HuBERT features use
  (model frame ``k`` covers ``[k / 25, (k + 1) / 25)`` seconds).

This is the only module that knows the model rate (:data:`MODEL_FPS`) and converts with it.
Rounding rules, one function each:

- :func:`model_frame_of`: seconds -> the model frame whose interval contains them (floor, with
  :data:`_EPS` so a time computed as ``k / 25`` lands in frame ``k`` despite float error);
- :func:`index_at`: seconds -> index into any sorted array of start times (the last start at
  or before the time, same epsilon, clamped); the source-frame lookup of :class:`Timebase`;
- :func:`model_frame_count`: the frames that start within a duration (ceil, 1e-6 frame slack);
- :func:`truncated_model_frame`: AVH-Align's ``int(s * 25)`` (truncation without epsilon) for
  the leading-silence trim, kept bit for bit so the trim equals the official one;
- :func:`model_frame_near`: a stored start time back to its frame, refusing times off the grid
  (reads results of earlier versions that stored ``curve_start_s``).

Seconds come from frames only through :func:`model_frame_start` / :func:`model_frame_times`.
Results carry the integer ``first_model_frame`` of their first value (0 untrimmed, the dropped
frames for a trimmed analysis), never a start time in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, overload

import numpy as np

if TYPE_CHECKING:
    from forensics_gui.core.media.decode import MediaInfo

MODEL_FPS = 25  # frames per second of the ROI video and of the feature rows
MODEL_FRAME_S = 1 / MODEL_FPS  # seconds one model frame lasts (0.04)
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


def model_frame_of(t: float) -> int:
    """Model frame whose interval ``[k / 25, (k + 1) / 25)`` contains ``t`` seconds (floor with
    :data:`_EPS`: exactly on a boundary is the later frame; negative times give negative frames)."""
    return int(math.floor(t * MODEL_FPS + _EPS))


@overload
def model_frame_start(k: int) -> float: ...
@overload
def model_frame_start(k: np.ndarray) -> np.ndarray: ...
def model_frame_start(k: int | np.ndarray) -> float | np.ndarray:
    """Start time in seconds of model frame ``k`` (element-wise on arrays)."""
    return k / MODEL_FPS


def model_frame_times(n: int, first: int = 0) -> np.ndarray:
    """Start times (s, float64 [n]) of ``n`` consecutive model frames from frame ``first``: the
    time axis of a curve whose first value belongs to model frame ``first``."""
    return (first + np.arange(n, dtype=np.float64)) / MODEL_FPS


def model_frame_count(duration_s: float) -> int:
    """Model frames that start within ``duration_s`` seconds: ``ceil(duration_s * 25)`` with
    1e-6 frame of slack, so a duration of ``n / 25`` s (with float error) counts ``n`` frames."""
    return int(math.ceil(duration_s * MODEL_FPS - 1e-6))


def model_frame_near(t: float, tol_s: float = 1e-6) -> int | None:
    """The model frame that starts at ``t`` seconds (within ``tol_s``), or None when ``t`` is not
    on the grid. For start times stored by earlier versions (rounded to the microsecond)."""
    k = round(t * MODEL_FPS)
    return k if abs(k / MODEL_FPS - t) <= tol_s else None


@overload
def truncated_model_frame(s: float) -> int: ...
@overload
def truncated_model_frame(s: np.ndarray) -> np.ndarray: ...
def truncated_model_frame(s: float | np.ndarray) -> int | np.ndarray:
    """AVH-Align's trim rule ``int(s * 25)``: truncation of ``s`` seconds to a model frame, with
    no epsilon, so float error (``18560 / 16000 * 25`` is 28.999...) gives what the official code
    gives. Only the leading-silence trim uses it; everything else uses :func:`model_frame_of`.
    Element-wise on numpy arrays and scalars (int64)."""
    if isinstance(s, (np.ndarray, np.generic)):
        return np.trunc(s * MODEL_FPS).astype(np.int64)
    return int(s * MODEL_FPS)


def samples_per_model_frame(sample_rate: int) -> int:
    """Whole audio samples in one model frame, ``sample_rate // 25`` (640 at 16 kHz)."""
    return sample_rate // MODEL_FPS


def index_at(times_s: np.ndarray | None, t: float) -> int | None:
    """Index of the last of the sorted start times ``times_s`` (s) at or before ``t`` seconds
    (with :data:`_EPS`), clamped to the array; None when there are no times."""
    if times_s is None or len(times_s) == 0:
        return None
    i = int(np.searchsorted(times_s, t + _EPS, side="right")) - 1
    return min(max(i, 0), len(times_s) - 1)


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
        i = index_at(self.frame_times, t)
        assert i is not None
        return i

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
        return model_frame_count(self.duration_s)

    def model_frame_at(self, t: float) -> int:
        """Model-grid frame containing ``t`` seconds, clamped to the clip."""
        k = model_frame_of(t)
        return min(max(k, 0), max(0, self.n_model_frames - 1))

    def time_of_model_frame(self, k: int) -> float:
        """Start time in seconds of model frame ``k``."""
        return model_frame_start(k)

    def model_frame_to_frame(self, k: int) -> int:
        """Source frame displayed at the start of model frame ``k``."""
        return self.frame_at(self.time_of_model_frame(k))

    def frame_to_model_frame(self, i: int) -> int:
        """Model frame containing the start of source frame ``i``."""
        return self.model_frame_at(self.time_of_frame(i))

    def model_frame_times(self) -> np.ndarray:
        """Start time (s) of every model frame in the clip."""
        return model_frame_times(self.n_model_frames)
