"""The annotated screenshot's content as plain data: the frame, the waveform envelope around the
current time, the leading silence, curve strips and the caption lines.

Qt-free, so the viewer and the headless ``forensics-gui snapshot`` command build the same data
and one renderer (:mod:`forensics_gui.ui.snapshot`) paints it. Times are seconds on the media
time axis; curve values are normalised to [0, 1].
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.media.silence import DEFAULT_THRESHOLD
from forensics_gui.core.media.timebase import model_frame_times

WINDOW_S = 4.0  # waveform window around the current time (seconds)
# Envelope columns: one per pixel of the renderer's waveform strip, which is this wide.
WAVE_PIXELS = 1248


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


def fakeness_strip(name: str, times_s: np.ndarray, frame_scores: np.ndarray,
                   colour: str) -> tuple[Curve, str]:
    """The screenshot strip of one fakeness curve, normalised to 0..1, and its raw range as
    stated in the strip title ("raw lo … hi"), for the caption."""
    values, lo, hi = normalise(frame_scores)
    rng = f"raw {lo:.3f} … {hi:.3f}"
    return Curve(f"fakeness −Φ {name} ({rng}, shown 0..1)", np.asarray(times_s, np.float64), values,
                 colour), rng


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
        curve, rng = fakeness_strip(str(name), times, scores, RESULT_COLOURS.get(str(name), "#4fa3ff"))
        curves.append(curve)
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
        f"forensics-gui {data.version}   created {data.created or now_stamp()}",
    ]
    if data.note:
        lines += [f"Note: {line}" if i == 0 else f"      {line}"
                  for i, line in enumerate(data.note.strip().splitlines())]
    return lines


def now_stamp() -> str:
    """The local date and time as the caption prints it (creation stamp)."""
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def build_snapshot_data(path: str | os.PathLike[str], at_s: float, note: str = "",
                        threshold: float = DEFAULT_THRESHOLD, extra_lines: list[str] | None = None,
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
        sha256=sha256_file(path), version=version, created=now_stamp(),
        frame_notice="No video stream" if info.video is None else "",
        envelope=env, window=window, silence=silence,
        silence_note="" if info.audio is not None else "no audio stream",
        audio_start_s=audio_start, note=note, extra_lines=list(extra_lines or []),
    )
