"""Is the whole file there? The stated duration against what can actually be read.

A download that stopped half way, or a recording that was cut off, still carries the header
written for the whole file: the container says 3.00 s and 75 frames, but the bytes stop at
0.88 s. :func:`check_integrity` finds, per stream, where the readable data ends, by demuxing
packets (reading their timestamps, not decoding them), and :attr:`Integrity.sentence` says it in
one plain sentence ("" when the file is whole).

Cost: a whole file needs only its last few seconds demuxed (a seek near the stated end); only a
file whose streams end early is demuxed from the start, which reads its bytes once without
decoding (``benchmarks/bench_integrity.py`` prints both). Times are seconds from the container's
start, as in :mod:`forensics_gui.core.media.decode`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from forensics_gui.core.media.decode import (
    MediaInfo,
    _check_file,
    _frame_rate,
    _open,
    _origin_s,
    _video_stream,
    probe,
)
from forensics_gui.core.progress import Progress, check_cancelled

TAIL_WINDOW_S = 3.0  # seconds before the earliest stated stream end demuxed by the fast check
MIN_TOLERANCE_S = 0.25  # a stream may end this much (or 3 packets) before its stated end


@dataclass(frozen=True)
class StreamExtent:
    """Where one stream is said to end and where its readable packets end (seconds)."""

    stated_end_s: float  # the stream's own stated end, else the container's duration
    decodable_end_s: float  # end of its last readable packet (0.0 when none could be read)
    packets: int | None  # readable packets counted by a full scan (None: only the tail was read)
    tolerance_s: float  # how much earlier than stated it may end and still count as whole

    @property
    def short(self) -> bool:
        return self.decodable_end_s < self.stated_end_s - self.tolerance_s


@dataclass(frozen=True)
class Integrity:
    """The stated duration of a file against the duration its packets actually cover."""

    stated_s: float  # the container's duration (what players and the info panel show)
    video: StreamExtent | None
    audio: StreamExtent | None
    full_scan: bool  # True when the file was demuxed from the start

    @property
    def damaged(self) -> bool:
        return any(s is not None and s.short for s in (self.video, self.audio))

    @property
    def video_end_s(self) -> float | None:
        """Where the readable picture ends (None without a video stream)."""
        return None if self.video is None else self.video.decodable_end_s

    @property
    def audio_end_s(self) -> float | None:
        """Where the readable sound ends (None without an audio stream)."""
        return None if self.audio is None else self.audio.decodable_end_s

    @property
    def data_end_s(self) -> float:
        """Where the last readable data ends (the furthest any stream reaches); the stated
        duration when the file is whole."""
        if not self.damaged:
            return self.stated_s
        return max(s.decodable_end_s for s in (self.video, self.audio) if s is not None)

    @property
    def analysable_end_s(self) -> float:
        """Where both picture and sound exist (the lip-sync model needs both); the stated
        duration when the file is whole."""
        if not self.damaged:
            return self.stated_s
        return min(s.decodable_end_s for s in (self.video, self.audio) if s is not None)

    @property
    def video_frames(self) -> int | None:
        """Readable video frames, when a full scan counted them (damaged files)."""
        return None if self.video is None else self.video.packets

    @property
    def sentence(self) -> str:
        """One plain sentence about the damage; "" when the file is whole."""
        if not self.damaged:
            return ""
        read, none = [], []
        for stream, what in ((self.video, "picture"), (self.audio, "sound")):
            if stream is None:
                continue
            if stream.decodable_end_s > 0:
                read.append(f"{stream.decodable_end_s:.2f} s of {what}")
            else:
                none.append(what)
        text = f"This file is damaged or cut short: it says {self.stated_s:.2f} s, but "
        if read:
            text += f"only {' and '.join(read)} can be decoded"
            if none:
                text += f" and none of the {none[0]}"
        else:
            text += "nothing in it can be decoded"
        if self.video is not None and self.audio is not None and read:
            gap = abs(self.video.decodable_end_s - self.audio.decodable_end_s)
            if none:
                text += ", so the lip-sync analysis, which needs both, cannot run"
            elif gap > max(self.video.tolerance_s, self.audio.tolerance_s):
                text += (f", so the lip-sync analysis, which needs both, stops at "
                         f"{self.analysable_end_s:.2f} s")
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """The ``damage`` record of a RESULT.json (also written for whole files)."""
        return {
            "damaged": self.damaged,
            "sentence": self.sentence,
            "stated_duration_s": round(self.stated_s, 6),
            "video_decodable_s": None if self.video is None else round(self.video.decodable_end_s, 6),
            "audio_decodable_s": None if self.audio is None else round(self.audio.decodable_end_s, 6),
            "video_frames_decodable": self.video_frames if self.damaged else None,
        }


_DURATION_TAG = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")


def _tag_seconds(text: str | None) -> float | None:
    """Matroska's ``DURATION`` tag ("00:00:03.000000000") in seconds."""
    m = _DURATION_TAG.match(text or "")
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def _stated_end(stream: Any, origin: float, container_s: float) -> float:
    """The stream's own stated end (seconds from the container start), else the container's."""
    tb = stream.time_base
    if stream.duration is not None and stream.duration > 0 and tb:
        start = float(stream.start_time * tb) if stream.start_time is not None else origin
        return start + float(stream.duration * tb) - origin
    tag = _tag_seconds(dict(stream.metadata).get("DURATION"))
    if tag is not None and tag > 0:
        return tag
    return container_s


class _Ends:
    """Per stream: the furthest ``pts + duration`` of readable packets, and their count."""

    def __init__(self, streams: dict[int, Any], origin: float) -> None:
        self.origin = origin
        self.tb = {i: Fraction(s.time_base or Fraction(1, 1000)) for i, s in streams.items()}
        self.default = {i: 0 for i in streams}  # default packet duration (ticks)
        for i, s in streams.items():
            if s.type == "video":
                self.default[i] = max(1, int(round(1 / (_frame_rate(s) * self.tb[i]))))
        self.end: dict[int, int | None] = {i: None for i in streams}
        self.count = {i: 0 for i in streams}
        self.longest = {i: 0 for i in streams}  # longest packet duration seen (ticks)
        self.last_t: dict[int, int | None] = {i: None for i in streams}

    def add(self, packet: Any) -> None:
        i = packet.stream.index
        if i not in self.end or not packet.size or packet.is_corrupt:
            return
        t = packet.pts if packet.pts is not None else packet.dts
        if t is None:
            return
        dur = int(packet.duration or 0)
        if dur <= 0:  # no duration stored: the last spacing seen, else one frame
            prev = self.last_t[i]
            dur = t - prev if prev is not None and 0 < t - prev else self.default[i]
        self.last_t[i] = t
        self.longest[i] = max(self.longest[i], dur)
        end = int(t) + dur
        cur = self.end[i]
        self.end[i] = end if cur is None or end > cur else cur
        self.count[i] += 1

    def seconds(self, i: int) -> float:
        end = self.end[i]
        return 0.0 if end is None else max(0.0, float(end * self.tb[i]) - self.origin)

    def tolerance(self, i: int) -> float:
        return max(MIN_TOLERANCE_S, 3 * float(self.longest[i] * self.tb[i]))


def _demux_into(container: Any, ends: _Ends, progress: Progress | None) -> None:
    """Demux every stream of ``ends`` to the end of the file; damage ends the reading."""
    import av

    streams = [container.streams[i] for i in ends.end]
    n = 0
    errors = 0
    it = container.demux(streams)
    while True:
        try:
            packet = next(it)
        except (StopIteration, av.error.EOFError):
            return
        except av.FFmpegError:
            errors += 1  # damaged framing: the demuxer may resync; a cut file just ends
            if errors > 50:
                return
            it = container.demux(streams)
            continue
        ends.add(packet)
        n += 1
        if progress is not None and n % 2000 == 0:
            check_cancelled(progress)


def check_integrity(path: str | os.PathLike[str], info: MediaInfo | None = None,
                    progress: Progress | None = None) -> Integrity:
    """Compare ``path``'s stated duration with the end of its readable packets, per stream.

    ``info``: the file's :func:`~forensics_gui.core.media.decode.probe` (probed here when None).
    Reads the last seconds of a whole file; demuxes a file whose streams end early from the
    start (no decoding). Raises MediaError for a file that cannot be opened at all (as probe).
    """
    p = _check_file(path)
    if info is None:
        info = probe(p)
    container = _open(p)
    try:
        origin = _origin_s(container)
        vs = _video_stream(container) if info.video is not None else None
        aus = container.streams.audio[0] if info.audio is not None and container.streams.audio else None
        streams = {s.index: s for s in (vs, aus) if s is not None}
        vi = None if vs is None else int(vs.index)  # indices: the stream objects die with a reopen
        ai = None if aus is None else int(aus.index)
        stated = float(info.duration_s or 0.0)
        stated_ends = {i: _stated_end(s, origin, stated) for i, s in streams.items()}
        full = False
        ends = _Ends(streams, origin)
        if streams and stated > 0:
            start = max(0.0, min(stated_ends.values()) - TAIL_WINDOW_S)
            try:
                container.seek(int((start + origin) * 1_000_000), backward=True, any_frame=False)
                _demux_into(container, ends, progress)
            except Exception:  # noqa: BLE001 - an unseekable file is read from the start below
                ends = _Ends(streams, origin)
            whole = all(ends.end[i] is not None
                        and ends.seconds(i) >= stated_ends[i] - ends.tolerance(i) for i in streams)
            if not whole:
                full = True
                ends = _Ends(streams, origin)
                container.close()
                container = _open(p)
                _demux_into(container, ends, progress)

        def extent(i: int | None) -> StreamExtent | None:
            if i is None:
                return None
            return StreamExtent(stated_end_s=stated_ends[i], decodable_end_s=ends.seconds(i),
                                packets=ends.count[i] if full else None,
                                tolerance_s=ends.tolerance(i))

        return Integrity(stated_s=stated, video=extent(vi), audio=extent(ai), full_scan=full)
    finally:
        container.close()


def damage_sentence(path: str | os.PathLike[str], info: MediaInfo | None = None) -> str:
    """:attr:`Integrity.sentence` of ``path`` ("" when whole)."""
    return check_integrity(Path(path), info).sentence


__all__ = ["Integrity", "StreamExtent", "check_integrity", "damage_sentence"]
