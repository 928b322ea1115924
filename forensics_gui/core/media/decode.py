"""Media access with PyAV: probe, frame-accurate video reading, audio decoding, the 25 fps grid.

Time convention: every time in this module is in seconds from the container's start (ffmpeg's
format ``start_time``; 0 for ordinary mp4/mkv files), computed from timestamps
(``pts * time_base``), never by counting frames, so variable frame rates and edit lists work.
Video frames are RGB uint8 ``[H, W, 3]`` with the container's display rotation already applied.
"""

from __future__ import annotations

import collections
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import MediaError
from forensics_gui.core.media.timebase import MODEL_FPS
from forensics_gui.core.progress import Progress, check_cancelled

# ---------------------------------------------------------------------------------------------
# Probe


@dataclass(frozen=True)
class VideoStreamInfo:
    codec: str
    width: int  # displayed width in pixels (after rotation)
    height: int  # displayed height in pixels (after rotation)
    fps: Fraction  # exact average frame rate (frames/s)
    frame_count: int
    frame_count_exact: bool  # False when estimated from duration * fps
    duration_s: float
    rotation: int  # clockwise degrees (0/90/180/270) applied to the decoded frames
    start_time_s: float


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    sample_rate: int  # Hz
    channels: int
    layout: str
    duration_s: float
    start_time_s: float


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    container: str
    duration_s: float
    size_bytes: int
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None
    warnings: tuple[str, ...]


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise MediaError(f"The file '{p}' does not exist; check the path.")
    if p.is_dir():
        raise MediaError(f"'{p}' is a folder, not a media file.")
    if p.stat().st_size == 0:
        raise MediaError(f"The file '{p.name}' is empty (0 bytes); it may be an interrupted download.")
    return p


def _open(path: Path) -> Any:
    """Open with PyAV, turning every FFmpeg failure into a :class:`MediaError` sentence."""
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FileNotFoundError:
        raise MediaError(f"The file '{path}' does not exist; check the path.") from None
    except av.error.PermissionError:
        raise MediaError(f"The file '{path.name}' cannot be read (permission denied).") from None
    except (av.FFmpegError, UnicodeDecodeError, OSError) as err:
        raise MediaError(f"'{path.name}' is not a readable media file or it is damaged "
                         f"({_reason(err)}).") from None


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return text.split(":")[0].strip().rstrip(".") or type(err).__name__


def _video_stream(container: Any) -> Any | None:
    for s in container.streams.video:
        if not s.disposition & 0x400:  # AV_DISPOSITION_ATTACHED_PIC (cover art)
            return s
    return None


def _origin_s(container: Any) -> float:
    st = container.start_time
    return 0.0 if st is None else st / 1_000_000.0


def _stream_time(stream: Any, value: int | None) -> float | None:
    return None if value is None else float(value * stream.time_base)


def _frame_rate(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    return Fraction(25)


def _rotation_cw(frame: Any, stream: Any) -> int:
    """Clockwise display rotation: from the frame's display matrix (PyAV >= 14 reports it
    counter-clockwise as ``frame.rotation``), else the legacy ``rotate`` stream tag."""
    try:
        return int(round(-float(frame.rotation) / 90.0)) * 90 % 360
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        return int(round(float(stream.metadata.get("rotate", 0)) / 90.0)) * 90 % 360
    except (TypeError, ValueError):
        return 0


def _first_frame(container: Any, stream: Any) -> Any | None:
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError:
        return None
    return None


def _video_info(container: Any, stream: Any, origin: float, warnings: list[str]) -> VideoStreamInfo:
    cc = stream.codec_context
    fps = _frame_rate(stream)
    duration = _stream_time(stream, stream.duration)
    if duration is None or duration <= 0:
        duration = (container.duration or 0) / 1_000_000.0
    start = _stream_time(stream, stream.start_time)
    first = _first_frame(container, stream)
    rotation = _rotation_cw(first, stream) if first is not None else 0
    if first is None:
        warnings.append("No video frame could be decoded.")
    if start is None and first is not None and first.time is not None:
        start = float(first.time)
    width, height = int(cc.width), int(cc.height)
    if rotation in (90, 270):
        width, height = height, width
        warnings.append(f"The video is stored rotated; frames are shown turned {rotation} degrees.")
    count = int(stream.frames or 0)
    exact = count > 0
    if not exact:
        count = max(1, int(round(duration * fps)))
    return VideoStreamInfo(codec=cc.name, width=width, height=height, fps=fps, frame_count=count,
                           frame_count_exact=exact, duration_s=float(duration), rotation=rotation,
                           start_time_s=(start or 0.0) - origin)


def _audio_info(container: Any, stream: Any, origin: float) -> AudioStreamInfo:
    cc = stream.codec_context
    duration = _stream_time(stream, stream.duration)
    if duration is None or duration <= 0:
        duration = (container.duration or 0) / 1_000_000.0
    start = _stream_time(stream, stream.start_time) or 0.0
    layout = _layout_name(cc)
    return AudioStreamInfo(codec=cc.name, sample_rate=int(cc.sample_rate), channels=int(cc.channels),
                           layout=layout, duration_s=float(duration), start_time_s=start - origin)


_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


def _layout_name(cc: Any) -> str:
    """Channel layout name; a container that stores no layout gets the usual one for its count."""
    name = cc.layout.name if cc.layout is not None else ""
    if not name or name.endswith("channels"):
        return _DEFAULT_LAYOUTS.get(int(cc.channels), name)
    return str(name)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe a media file. Raises :class:`MediaError` with one sentence for any bad input."""
    p = _check_file(path)
    container = _open(p)
    try:
        warnings: list[str] = []
        origin = _origin_s(container)
        vs = _video_stream(container)
        aus = container.streams.audio[0] if container.streams.audio else None
        if vs is None and aus is None:
            raise MediaError(f"'{p.name}' has neither a video nor an audio stream.")
        video = _video_info(container, vs, origin, warnings) if vs is not None else None
        audio = _audio_info(container, aus, origin) if aus is not None else None
        duration = (container.duration or 0) / 1_000_000.0
        if duration <= 0:
            duration = max(video.duration_s if video else 0.0, audio.duration_s if audio else 0.0)
        if video is not None and not video.frame_count_exact:
            warnings.append("The frame count is estimated from the duration.")
        return MediaInfo(path=p, container=container.format.name, duration_s=float(duration),
                         size_bytes=p.stat().st_size, video=video, audio=audio,
                         warnings=tuple(warnings))
    finally:
        container.close()


# ---------------------------------------------------------------------------------------------
# Video


@dataclass(frozen=True)
class VideoFrame:
    index: int  # source frame index (0-based, presentation order)
    time_s: float  # presentation time in seconds
    duration_s: float  # seconds until the next frame
    image: np.ndarray  # [H, W, 3] uint8 RGB, rotation applied


def _to_rgb(frame: Any, rotation: int) -> np.ndarray:
    img = frame.to_ndarray(format="rgb24")
    k = rotation // 90
    if k:
        img = np.ascontiguousarray(np.rot90(img, k=-k))  # clockwise
    return img


class _FrameIndex:
    """Presentation timestamps (stream ticks, sorted) and keyframe flags, from demuxing only."""

    def __init__(self, pts: np.ndarray, key: np.ndarray, default_duration: int) -> None:
        self.pts = pts
        self.key = key
        self.key_pts = pts[key] if key.any() else pts[:1]
        self.default_duration = default_duration

    def end_of(self, i: int) -> int:
        return int(self.pts[i + 1]) if i + 1 < len(self.pts) else int(self.pts[i]) + self.default_duration


def _build_index(path: Path, stream_index: int, stop: threading.Event) -> _FrameIndex:
    import av

    pts: list[int] = []
    key: list[bool] = []
    last_dur = 0
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        try:
            for packet in container.demux(stream):
                if stop.is_set():
                    break
                if packet.size == 0 or packet.is_discard:
                    continue
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:
                    continue
                pts.append(int(t))
                key.append(bool(packet.is_keyframe))
                last_dur = int(packet.duration or last_dur)
        except av.FFmpegError:
            pass  # a damaged tail: index what was readable
        tb = Fraction(stream.time_base or Fraction(1, 1000))
        default = last_dur or max(1, int(round(1 / (_frame_rate(stream) * tb))))
    arr = np.asarray(pts, dtype=np.int64)
    order = np.argsort(arr, kind="stable")
    arr, keys = arr[order], np.asarray(key, dtype=bool)[order]
    arr, first = np.unique(arr, return_index=True)
    return _FrameIndex(arr, keys[first], default)


class VideoReader:
    """Frame-accurate random access to one video stream. One per thread; not thread-safe.

    Seeks to the keyframe before the wanted time and decodes forward; decoded RGB frames are kept
    in a bounded LRU cache (``cache_size`` frames and at most ``max_cache_bytes``). The frame-time
    index is built by demuxing (no decoding) in a background thread started on open, so the first
    frame is available at once.
    """

    def __init__(self, path: str | os.PathLike[str], cache_size: int = 48,
                 max_cache_bytes: int = 200 << 20) -> None:
        self.path = _check_file(path)
        info = probe(self.path)
        if info.video is None:
            raise MediaError(f"'{self.path.name}' has no video stream.")
        self.info: VideoStreamInfo = info.video
        self._container = _open(self.path)
        stream = _video_stream(self._container)
        assert stream is not None
        stream.thread_type = "AUTO"
        self._stream = stream
        self._tb = Fraction(stream.time_base)
        self._origin_ticks = int(round(Fraction(_origin_s(self._container)) / self._tb))
        self._cache: collections.OrderedDict[int, VideoFrame] = collections.OrderedDict()
        self._cache_size = max(1, cache_size)
        self._max_cache_bytes = max_cache_bytes
        self._decoder: Iterator[Any] | None = None
        self._last_pts: int | None = None  # pts of the last frame the decoder produced
        self._index: _FrameIndex | None = None
        self._index_error: BaseException | None = None
        self._stop = threading.Event()
        self._index_thread = threading.Thread(target=self._index_worker, daemon=True,
                                              name="frame-index")
        self._index_thread.start()

    # -- context manager
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the index thread and close the file (idempotent)."""
        self._stop.set()
        if self._index_thread.is_alive():
            self._index_thread.join()
        if self._container is not None:
            self._decoder = None
            self._container.close()
            self._container = None
        self._cache.clear()

    # -- index
    def _index_worker(self) -> None:
        try:
            self._index = _build_index(self.path, self._stream.index, self._stop)
        except BaseException as err:  # reported on first use
            self._index_error = err

    def _frame_index(self) -> _FrameIndex:
        if self._index is None:
            self._index_thread.join()
        if self._index is None or len(self._index.pts) == 0:
            raise MediaError(f"No video frame of '{self.path.name}' could be read.") \
                from self._index_error
        return self._index

    def frame_times(self) -> np.ndarray:
        """Presentation time (s) of every frame, sorted, from the packet index."""
        idx = self._frame_index()
        return (idx.pts - self._origin_ticks).astype(np.float64) * float(self._tb)

    def __len__(self) -> int:
        return len(self._frame_index().pts)

    # -- access
    def frame_at(self, t: float) -> VideoFrame:
        """The frame displayed at ``t`` seconds (last frame with pts <= t), clamped to the clip."""
        if self._index is None and self._last_pts is None and t <= self.info.start_time_s + 1e-9:
            return self._first_frame()
        idx = self._frame_index()
        ticks = math.floor(t / float(self._tb) + 1e-3) + self._origin_ticks
        i = int(np.searchsorted(idx.pts, ticks, side="right")) - 1
        return self.frame_by_index(min(max(i, 0), len(idx.pts) - 1))

    def frame_by_index(self, i: int) -> VideoFrame:
        """Frame number ``i`` (0-based, presentation order). Raises IndexError out of range."""
        idx = self._frame_index()
        n = len(idx.pts)
        if not -n <= i < n:
            raise IndexError(f"frame {i} is outside the clip (0..{n - 1})")
        i %= n
        pts = int(idx.pts[i])
        cached = self._cache.get(pts)
        if cached is not None:
            self._cache.move_to_end(pts)
            return cached
        raw = self._decode_to(pts, idx)
        return self._remember(pts, i, raw, idx.end_of(i) - pts)

    def _first_frame(self) -> VideoFrame:
        self._seek(None)
        raw = self._next_raw()
        if raw is None:
            raise MediaError(f"No video frame of '{self.path.name}' could be decoded.")
        pts = self._pts_of(raw)
        dur = int(round(1 / (self.info.fps * self._tb)))
        return self._remember(pts, 0, raw, dur)

    def _remember(self, pts: int, i: int, raw: Any, dur_ticks: int) -> VideoFrame:
        frame = VideoFrame(index=i, time_s=float((pts - self._origin_ticks) * self._tb),
                           duration_s=float(dur_ticks * self._tb),
                           image=_to_rgb(raw, self.info.rotation))
        self._cache[pts] = frame
        used = sum(f.image.nbytes for f in self._cache.values())
        while len(self._cache) > 1 and (len(self._cache) > self._cache_size
                                        or used > self._max_cache_bytes):
            _, old = self._cache.popitem(last=False)
            used -= old.image.nbytes
        return frame

    # -- decoding
    def _pts_of(self, raw: Any) -> int:
        if raw.pts is not None:
            return int(raw.pts)
        if raw.dts is not None:
            return int(raw.dts)
        return 0 if self._last_pts is None else self._last_pts + 1

    def _seek(self, ticks: int | None) -> None:
        assert self._container is not None, "the reader is closed"
        if ticks is None:
            self._container.seek(0, backward=True, any_frame=False, stream=self._stream)
        else:
            self._container.seek(int(ticks), backward=True, any_frame=False, stream=self._stream)
        self._decoder = _decode_tolerant(self._container, self._stream)
        self._last_pts = None

    def _next_raw(self) -> Any | None:
        assert self._decoder is not None
        raw = next(self._decoder, None)
        if raw is not None:
            self._last_pts = self._pts_of(raw)
        return raw

    def _decode_to(self, pts: int, idx: _FrameIndex) -> Any:
        """Decode the raw frame with presentation timestamp ``pts`` (exact)."""
        k = int(np.searchsorted(idx.key_pts, pts, side="right")) - 1
        key_pts = int(idx.key_pts[max(k, 0)])
        sequential = (self._decoder is not None and self._last_pts is not None
                      and self._last_pts < pts and (self._last_pts >= key_pts))
        margin = 0
        for _attempt in range(4):
            if not sequential:
                target = key_pts - margin
                self._seek(None if target <= int(idx.pts[0]) else target)
            sequential = False
            best = None
            first_seen: int | None = None
            while True:
                raw = self._next_raw()
                if raw is None:
                    break
                p = self._pts_of(raw)
                if first_seen is None:
                    first_seen = p
                if p <= pts:
                    best = raw
                if p >= pts:
                    break
            if best is not None and (self._pts_of(best) == pts or first_seen is not None
                                     and first_seen <= pts):
                return best
            # landed after the wanted frame (keyframe pts > dts): seek further back
            margin = max(margin * 2, int(round(1 / self._tb)))
        raise MediaError(f"Frame at {float(pts * self._tb):.3f} s of '{self.path.name}' "
                         "could not be decoded.")


def _decode_tolerant(container: Any, stream: Any, max_errors: int = 50) -> Iterator[Any]:
    """Decoded frames of ``stream``; a damaged packet is skipped instead of ending the iteration."""
    import av

    errors = 0
    while True:
        try:
            yield from container.decode(stream)
            return
        except av.error.EOFError:
            return
        except av.FFmpegError:
            errors += 1  # PyAV's generator is finished after an error: start a new one
            if errors > max_errors:
                return


def iter_frames_on_grid(path: str | os.PathLike[str], fps: float = MODEL_FPS, *,
                        progress: Progress | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Decode sequentially and yield ``(k, k / fps, rgb)`` for every grid time within the clip.

    ``rgb`` is the frame displayed at ``k / fps`` seconds (rotation applied). For a source at
    ``fps`` this is exactly every frame; other rates are mapped onto the grid by timestamp
    (frames repeated or dropped). Times before the first frame show the first frame.
    """

    p = _check_file(path)
    info = probe(p)
    if info.video is None:
        raise MediaError(f"'{p.name}' has no video stream.")
    rate = Fraction(fps).limit_denominator(1_000_000)
    container = _open(p)
    try:
        stream = _video_stream(container)
        assert stream is not None
        stream.thread_type = "AUTO"
        tb = Fraction(stream.time_base)
        origin = Fraction(_origin_s(container)).limit_denominator(10**9)
        default_dur = 1 / info.video.fps
        total = max(1, math.ceil(info.video.duration_s * float(rate)))
        k = 0
        held: tuple[Fraction, Any] | None = None  # (time_s, raw frame) waiting for its successor
        held_rgb: np.ndarray | None = None

        def emit(until: Fraction) -> Iterator[tuple[int, float, np.ndarray]]:
            nonlocal k, held_rgb
            assert held is not None
            while Fraction(k) / rate < until:
                if held_rgb is None:
                    held_rgb = _to_rgb(held[1], info.video.rotation)  # type: ignore[union-attr]
                yield k, float(Fraction(k) / rate), held_rgb
                k += 1
                if progress is not None and k % 25 == 0:
                    progress.report("decode", k, total)
                    check_cancelled(progress)

        for raw in _decode_tolerant(container, stream):
            if raw.pts is None:
                continue
            t = raw.pts * tb - origin
            if held is not None:
                if t <= held[0]:
                    continue  # non-increasing timestamp: keep the earlier frame
                yield from emit(t)
            held, held_rgb = (t, raw), None
        if held is not None:
            yield from emit(held[0] + default_dur)
        if progress is not None:
            progress.report("decode", k, k)
    finally:
        container.close()


# ---------------------------------------------------------------------------------------------
# Audio


@dataclass
class AudioTrack:
    samples: np.ndarray  # float32 [channels, N] in [-1, 1]
    sample_rate: int  # Hz
    start_time_s: float  # time of samples[:, 0] in seconds
    corrupt_packets: int  # packets that failed to decode and were skipped

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate if self.sample_rate else 0.0


def decode_audio(path: str | os.PathLike[str], *, sample_rate: int | None = None,
                 mono: bool = False, progress: Progress | None = None) -> AudioTrack:
    """Decode the first audio stream to float32 ``[channels, N]`` in [-1, 1].

    ``sample_rate=None`` keeps the native rate, otherwise PyAV's ``AudioResampler`` converts
    (``sample_rate=16000, mono=True`` for the models). ``mono=True`` averages the channels (as
    librosa's ``to_mono`` does), ``mono=False`` keeps every channel.
    Packets that fail to decode are skipped and counted in ``corrupt_packets``; the hole they
    leave after the first decoded frame is filled with zeros so the track stays in sync with the
    video (``start_time_s`` is the time of the first decoded sample).
    """
    import av
    from av.audio.resampler import AudioResampler

    p = _check_file(path)
    container = _open(p)
    try:
        if not container.streams.audio:
            raise MediaError(f"'{p.name}' has no audio stream, so there is no audio to analyse.")
        stream = container.streams.audio[0]
        cc = stream.codec_context
        rate = int(sample_rate or cc.sample_rate)
        layout = cc.layout.name if cc.layout is not None else None
        resampler = AudioResampler(format="fltp", layout=layout, rate=rate)
        duration = _stream_time(stream, stream.duration) or (container.duration or 0) / 1e6
        origin = _origin_s(container)
        chunks: list[np.ndarray] = []
        corrupt = 0
        start: float | None = None
        expected: float | None = None  # time (s) where the next decoded frame should start
        n_packets = 0
        for packet in _demux_tolerant(container, stream):
            n_packets += 1
            try:
                frames = packet.decode()
            except av.FFmpegError:
                corrupt += 1
                continue
            for frame in frames:
                t = None if frame.pts is None else float(frame.pts * frame.time_base) - origin
                if start is None and t is not None:
                    start = t
                if t is not None and expected is not None and frame.sample_rate:
                    # a hole left by skipped packets: fill it with zeros to keep A/V sync
                    gap = int(round((t - expected) * frame.sample_rate))
                    if gap > max(0.005 * frame.sample_rate, frame.samples // 2):
                        for out in resampler.resample(_zeros_like(frame, gap)):
                            chunks.append(out.to_ndarray())
                if t is not None and frame.sample_rate:
                    expected = t + frame.samples / frame.sample_rate
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            if progress is not None and n_packets % 200 == 0:
                done = float(packet.pts * stream.time_base) if packet.pts is not None else 0.0
                progress.report("decode audio", done, duration or None)
                check_cancelled(progress)
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    finally:
        container.close()
    n_ch = max(1, cc.channels)
    samples = (np.concatenate(chunks, axis=1) if chunks else np.zeros((n_ch, 0), np.float32))
    if mono and samples.shape[0] > 1:
        # the mean of the channels, as librosa.to_mono (AVH-Align's loader) does; never clips
        samples = samples.mean(axis=0, keepdims=True)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    np.clip(samples, -1.0, 1.0, out=samples)
    if progress is not None:
        progress.report("decode audio", 1, 1)
    return AudioTrack(samples=samples, sample_rate=rate, start_time_s=start or 0.0,
                      corrupt_packets=corrupt)


_SAMPLE_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64,
                  "flt": np.float32, "dbl": np.float64}


def _zeros_like(frame: Any, n: int) -> Any:
    """An audio frame of ``n`` silent samples in ``frame``'s format, layout and rate."""
    import av

    name = frame.format.name
    planar = name.endswith("p")
    dtype = _SAMPLE_DTYPES[name.rstrip("p")]
    channels = len(frame.layout.channels)
    shape = (channels, n) if planar else (1, n * channels)
    data = np.full(shape, 128 if dtype is np.uint8 else 0, dtype=dtype)
    out = av.AudioFrame.from_ndarray(data, format=name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out


def _demux_tolerant(container: Any, stream: Any) -> Iterator[Any]:
    """Demux packets of one stream; a damaged container ends the iteration instead of raising."""
    import av

    errors = 0
    it = container.demux(stream)
    while True:
        try:
            packet = next(it)
        except StopIteration:
            return
        except av.error.EOFError:
            return
        except av.FFmpegError:
            errors += 1  # the demuxer usually resyncs after damaged framing; give up if not
            if errors > 50:
                return
            it = container.demux(stream)
            continue
        if packet.size:
            yield packet


__all__ = [
    "AudioStreamInfo", "AudioTrack", "MediaInfo", "VideoFrame", "VideoReader", "VideoStreamInfo",
    "decode_audio", "iter_frames_on_grid", "probe",
]
