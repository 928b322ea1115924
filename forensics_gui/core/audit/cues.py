"""One row of cheap cues per clip, read from the container and the first and last seconds of sound.

:func:`clip_cues` opens the file with PyAV, reads the container's and streams' metadata, decodes
the first seconds of the first audio stream (until one second past the first sound, at most
:data:`HEAD_MAX_S`), seeks near the end and demuxes the last packets of every stream (their
end times give the true audio and video lengths) and decodes the last :data:`TAIL_S` of sound.
No picture is decoded, and the middle of the file is never read.

The cues (:data:`CUE_COLUMNS`; units in the names):

* ``silence_ms_tau<T>``: leading silence in ms at amplitude threshold T (a sample is sound when
  any channel's |x| > T, [-1, 1] scale), for each T in :data:`TAUS`; a silence longer than
  :data:`HEAD_MAX_S` is given as :data:`HEAD_MAX_S` (a lower bound)
  (:data:`forensics_gui.core.media.silence.TABLE_TAUS`);
* ``max_amp_<D>ms``: the largest |x| in the first D ms, for each D in :data:`DELTAS_MS`;
* ``trimmed_silence_ms_tau<T>`` / ``trimmed_max_amp_<D>ms``: the same after **trimming**: the
  samples before the first one with any channel's |x| > 0.0005 (AVH-Align's fixed trim
  threshold, :data:`forensics_gui.core.media.silence.OFFICIAL_TRIM_THRESHOLD`, applied here at
  the clip's own rate) are removed, as AVH-Align's ``--trimmed`` variant does;
* ``trailing_silence_ms``: silence at the end (|x| <= 0.0005) in ms;
* ``duration_s`` (container), ``audio_duration_s``, ``video_duration_s`` (end of the last
  packet of each stream, from the demuxer), ``av_mismatch_ms`` (audio minus video);
* ``sample_rate``, ``channels``, ``audio_codec``, ``video_codec``, ``container``,
  ``encoder`` (the container's encoder tag), ``audio_encoder`` (the audio stream's encoder or
  handler tag), ``bit_rate`` and ``audio_bit_rate`` (bit/s, as stated), ``file_size``;
* ``loudness_dbfs``: RMS level of the decoded first and last seconds (dB full scale; not LUFS),
  ``dc_offset``: their mean sample value;
* ``frame_count`` (the container's count, else video length x frame rate) and ``fps``;
* ``error``: empty, or the sentence saying why the clip (or its sound) could not be measured.
  A clip without sound keeps its container cues.

:func:`clip_cues` is pure, module-level and picklable (process pools and Ray call it), and never
raises: an unreadable clip gives a row with ``error`` set.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD, TABLE_TAUS

TAUS: tuple[float, ...] = tuple(float(t) for t in TABLE_TAUS)
DELTAS_MS: tuple[float, ...] = (10.0, 20.0, 30.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0)
TRIM_TAU = OFFICIAL_TRIM_THRESHOLD
HEAD_S = 1.0  # sound decoded past the first sound sample (covers the largest delta)
HEAD_MAX_S = 3.0  # never decode more than this from the start
TAIL_S = 1.0  # sound decoded at the end


def silence_column(tau: float, trimmed: bool = False) -> str:
    return f"{'trimmed_' if trimmed else ''}silence_ms_tau{tau:g}"


def max_amp_column(delta_ms: float, trimmed: bool = False) -> str:
    return f"{'trimmed_' if trimmed else ''}max_amp_{delta_ms:g}ms"


SILENCE_COLUMNS = tuple(silence_column(t) for t in TAUS)
TRIMMED_SILENCE_COLUMNS = tuple(silence_column(t, True) for t in TAUS)
MAX_AMP_COLUMNS = tuple(max_amp_column(d) for d in DELTAS_MS)
TRIMMED_MAX_AMP_COLUMNS = tuple(max_amp_column(d, True) for d in DELTAS_MS)
NUMERIC_COLUMNS: tuple[str, ...] = (
    *SILENCE_COLUMNS, *MAX_AMP_COLUMNS, *TRIMMED_SILENCE_COLUMNS, *TRIMMED_MAX_AMP_COLUMNS,
    "trailing_silence_ms", "duration_s", "audio_duration_s", "video_duration_s", "av_mismatch_ms",
    "sample_rate", "channels", "bit_rate", "audio_bit_rate", "file_size", "loudness_dbfs",
    "dc_offset", "frame_count", "fps",
)
CATEGORICAL_COLUMNS: tuple[str, ...] = ("audio_codec", "video_codec", "container", "encoder",
                                        "audio_encoder")
CUE_COLUMNS: tuple[str, ...] = (*NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS, "error")
"""Every column of a cue row (``path`` is added by the table)."""

_SCALE = {"u8": None, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0,
          "flt": 1.0, "dbl": 1.0}


def _empty_row() -> dict[str, Any]:
    return {c: None for c in CUE_COLUMNS}


def _to_float(frame: Any) -> np.ndarray:
    """An audio frame as float32 ``[channels, n]`` in [-1, 1]."""
    name = frame.format.name
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels) or 1
    if not name.endswith("p"):
        arr = arr.reshape(-1, channels).T
    base = name.rstrip("p")
    if base == "u8":
        return (arr.astype(np.float32) - 128.0) / 128.0
    scale = _SCALE.get(base, 1.0) or 1.0
    out = arr.astype(np.float32)
    if scale != 1.0:
        out *= np.float32(1.0 / scale)
    return out


def _first_above(x: np.ndarray, tau: float) -> int:
    if x.shape[1] == 0:
        return 0
    hit = (np.abs(x) > tau).any(axis=0)
    return int(np.argmax(hit)) if hit.any() else x.shape[1]


def _head_cues(x: np.ndarray, sr: int, row: dict[str, Any], prefix_trimmed: bool,
               complete: bool) -> None:
    """Silence over TAUS and max amplitude over DELTAS_MS of ``x`` (the start of the sound)."""
    n = x.shape[1]
    peak = np.maximum.accumulate(np.abs(x).max(axis=0)) if n else np.zeros(0, np.float32)
    for tau in TAUS:
        first = int(np.searchsorted(peak, tau, side="right")) if n else 0
        col = silence_column(tau, prefix_trimmed)
        # a silence longer than what was decoded (HEAD_MAX_S) is given as that length: a lower
        # bound, which still ranks it above every shorter silence
        row[col] = first * 1000.0 / sr
    for delta in DELTAS_MS:
        count = int(math.ceil(delta * sr / 1000.0 - 1e-9))
        col = max_amp_column(delta, prefix_trimmed)
        if count <= n:
            row[col] = float(peak[count - 1]) if count > 0 else 0.0
        else:
            row[col] = float(peak[-1]) if (complete and n) else None


def _time(value: Any, tb: Any) -> float | None:
    return None if value is None or tb is None else float(value * tb)


def _tag(meta: Any, *names: str) -> str | None:
    for name in names:
        value = meta.get(name) if meta else None
        if value:
            return str(value).strip()
    return None


def clip_cues(path: str) -> dict[str, Any]:
    """The cue row of the clip at ``path`` (see the module docstring); never raises."""
    row = _empty_row()
    try:
        _measure(Path(path), row)
    except MemoryError:
        row["error"] = "out of memory while reading this clip"
    except Exception as err:  # noqa: BLE001 - a bad clip is a row with a reason, never a stopped run
        row["error"] = f"could not be measured ({type(err).__name__}: {str(err)[:200]})"
    return row


def _measure(p: Path, row: dict[str, Any]) -> None:
    import av

    try:
        st = os.stat(p)
    except FileNotFoundError:
        row["error"] = "the file does not exist"
        return
    except OSError as err:
        row["error"] = f"the file cannot be read ({err.strerror or err})"
        return
    row["file_size"] = st.st_size
    if st.st_size == 0:
        row["error"] = "the file is empty (0 bytes), perhaps an interrupted download"
        return
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except av.error.PermissionError:
        row["error"] = "the file cannot be read (permission denied)"
        return
    except (av.FFmpegError, UnicodeDecodeError, OSError) as err:
        reason = (getattr(err, "strerror", None) or str(err)).split(":")[0].strip()
        row["error"] = f"not a readable media file or damaged ({reason or type(err).__name__})"
        return
    try:
        _read(container, row)
    finally:
        container.close()


def _read(container: Any, row: dict[str, Any]) -> None:
    import av

    row["container"] = container.format.name if container.format else None
    row["encoder"] = _tag(container.metadata, "encoder", "ENCODER")
    row["bit_rate"] = int(container.bit_rate) if container.bit_rate else None
    origin = (container.start_time or 0) / 1e6
    row["duration_s"] = container.duration / 1e6 if container.duration else None
    vstream = next((s for s in container.streams.video if not s.disposition & 0x400), None)
    astream = container.streams.audio[0] if container.streams.audio else None
    if vstream is not None:
        row["video_codec"] = vstream.codec_context.name
        rate = vstream.average_rate or vstream.guessed_rate
        row["fps"] = float(rate) if rate else None
        stated = _time(vstream.duration, vstream.time_base)
        row["video_duration_s"] = stated
    if astream is None:
        _tail(container, None, vstream, origin, row, None)
        _finish(row, vstream)
        row["error"] = "the file has no audio stream, so no sound cue can be measured"
        return
    cc = astream.codec_context
    sr = int(cc.sample_rate or 0)
    row["audio_codec"] = cc.name
    row["sample_rate"] = sr or None
    row["channels"] = int(cc.channels or 0) or None
    row["audio_bit_rate"] = int(astream.bit_rate) if astream.bit_rate else None
    row["audio_encoder"] = _tag(astream.metadata, "encoder", "ENCODER", "handler_name")
    row["audio_duration_s"] = _time(astream.duration, astream.time_base)
    if sr <= 0:
        row["error"] = "the sound stream states no sample rate, so it cannot be measured"
        return
    # --- the head: decode until one second past the first sound (bounded) ---
    chunks: list[np.ndarray] = []
    have, trim_at, complete = 0, -1, True
    max_n = int(HEAD_MAX_S * sr)
    try:
        for packet in container.demux(astream):
            if not packet.size:
                continue
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                block = _to_float(frame)
                if trim_at < 0:
                    local = _first_above(block, TRIM_TAU)
                    if local < block.shape[1]:
                        trim_at = have + local
                chunks.append(block)
                have += block.shape[1]
            if have >= max_n or (trim_at >= 0 and have >= trim_at + HEAD_S * sr
                                 and have >= HEAD_S * sr):
                complete = False
                break
    except (av.error.EOFError, av.FFmpegError):
        pass
    channels = row["channels"] or 1
    head = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    if head.shape[1] == 0:
        row["error"] = "the sound stream holds no decodable sound"
        _finish(row, vstream)
        return
    _head_cues(head, sr, row, False, complete)
    if trim_at >= 0:
        _head_cues(head[:, trim_at:], sr, row, True, complete)
    # --- the tail: last packets of every stream, last second of sound ---
    tail: np.ndarray | None
    if complete:
        tail = head[:, -int(TAIL_S * sr):]
        _tail(container, astream, vstream, origin, row, None)
    else:
        tail = _tail(container, astream, vstream, origin, row, sr)
    level = np.concatenate([head[:, :int(TAIL_S * sr)], tail], axis=1) if tail is not None \
        else head[:, :int(TAIL_S * sr)]
    rms = float(np.sqrt(np.mean(np.square(level, dtype=np.float64)))) if level.size else 0.0
    row["loudness_dbfs"] = 20.0 * math.log10(rms) if rms > 0 else -200.0
    row["dc_offset"] = float(level.mean()) if level.size else None
    if tail is not None and tail.shape[1]:
        loud = (np.abs(tail) > TRIM_TAU).any(axis=0)
        last = int(np.flatnonzero(loud)[-1]) if loud.any() else -1
        row["trailing_silence_ms"] = (tail.shape[1] - 1 - last) * 1000.0 / sr
    _finish(row, vstream)


def _tail(container: Any, astream: Any, vstream: Any, origin: float, row: dict[str, Any],
          sr: int | None) -> np.ndarray | None:
    """Demux from near the end: stream ends into ``row``; the last TAIL_S of sound (or None)."""
    import av

    end_s = row.get("duration_s") or row.get("audio_duration_s") or row.get("video_duration_s")
    streams = [s for s in (vstream, astream) if s is not None]
    if not streams:
        return None
    ends: dict[int, float] = {}
    chunks: list[np.ndarray] = []
    try:
        # any_frame: the picture is never decoded, so its packets need no keyframe; seeking to
        # a keyframe could go back to the start of a clip with one keyframe
        target = max(0.0, origin + float(end_s or 0.0) - TAIL_S - 0.1)
        ref = astream if astream is not None else vstream
        container.seek(int(target / ref.time_base), stream=ref, backward=True, any_frame=True)
        for packet in container.demux(*streams):
            if packet.pts is None or not packet.size:
                continue
            tb = packet.time_base
            end = float((packet.pts + (packet.duration or 0)) * tb) - origin
            idx = packet.stream.index
            ends[idx] = max(ends.get(idx, end), end)
            if sr is not None and astream is not None and idx == astream.index:
                try:
                    for frame in packet.decode():
                        chunks.append(_to_float(frame))
                except av.FFmpegError:
                    continue
    except (av.error.EOFError, av.FFmpegError):
        pass
    if vstream is not None and vstream.index in ends:
        row["video_duration_s"] = ends[vstream.index]
    if astream is not None and astream.index in ends:
        row["audio_duration_s"] = ends[astream.index]
    if not chunks or sr is None:
        return None
    tail = np.concatenate(chunks, axis=1)
    return tail[:, -int(TAIL_S * sr):]


def _finish(row: dict[str, Any], vstream: Any) -> None:
    a, v = row.get("audio_duration_s"), row.get("video_duration_s")
    if a is not None and v is not None:
        row["av_mismatch_ms"] = (a - v) * 1000.0
    if vstream is not None:
        frames = int(vstream.frames or 0)
        if frames <= 0 and v and row.get("fps"):
            frames = int(round(v * row["fps"]))
        row["frame_count"] = frames or None
