"""Synthetic clips for tests and benchmarks: the demo's generator plus files that are broken on
purpose.

The talking-face generator (:func:`make_clip`, :func:`talking_face_frame`, :func:`speech_signal`,
the index-encoding :func:`pattern_frame`) lives in :mod:`forensics_gui.demo`, because the app's
demo clip is made with it; it is re-exported here so tests keep one import. Test-only helpers:
:func:`make_noise_roi`, :func:`make_zero_byte`, :func:`make_text_as_video`,
:func:`truncate_file`, :func:`corrupt_bytes`, :func:`corrupt_packets`,
:func:`corrupt_audio_packets`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from forensics_gui.demo import (
    _CROP,
    _MOUTH_C,
    AUDIO_CODEC_NOTES,
    DEFAULT_CODECS,
    PATTERN_BITS,
    ROOM_NOISE_STD,
    SPEECH_PEAK,
    SynthClip,
    decode_pattern_index,
    make_clip,
    pattern_frame,
    speech_signal,
    talking_face_frame,
)

__all__ = [
    "_CROP", "_MOUTH_C", "AUDIO_CODEC_NOTES", "DEFAULT_CODECS", "PATTERN_BITS", "ROOM_NOISE_STD",
    "SPEECH_PEAK", "SynthClip", "decode_pattern_index", "make_clip", "pattern_frame",
    "speech_signal", "talking_face_frame", "make_noise_roi", "make_zero_byte",
    "make_text_as_video", "truncate_file", "corrupt_bytes", "corrupt_packets",
    "corrupt_audio_packets",
]


def make_noise_roi(path: str | os.PathLike[str], frames: int = 8, seed: int = 1) -> Path:
    """A 96x96 25 fps grey-noise mp4 shaped like a mouth-ROI video (for encoder tests)."""
    import av

    path = Path(path)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=25)
        st.width = st.height = 96
        st.pix_fmt = "yuv420p"
        for _ in range(frames):
            img = np.repeat(rng.integers(0, 256, (96, 96, 1), dtype=np.uint8), 3, axis=2)
            out.mux(st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(st.encode(None))
    return path


def make_zero_byte(path: str | os.PathLike[str]) -> Path:
    """An empty file."""
    p = Path(path)
    p.write_bytes(b"")
    return p


def make_text_as_video(path: str | os.PathLike[str]) -> Path:
    """A text file with a video suffix."""
    p = Path(path)
    p.write_text("This is not a video, just some text renamed to look like one.\n" * 20)
    return p


def truncate_file(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                  fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst`` (an interrupted download)."""
    data = Path(src).read_bytes()
    out = Path(dst)
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def corrupt_bytes(path: str | os.PathLike[str], offset: int, length: int, seed: int = 0) -> None:
    """Overwrite ``length`` bytes at ``offset`` with random bytes, in place."""
    rng = np.random.default_rng(seed)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(rng.integers(0, 256, size=length, dtype=np.uint8).tobytes())


def corrupt_packets(path: str | os.PathLike[str], kind: str = "audio", every: int = 3,
                    seed: int = 0, max_packets: int | None = None) -> int:
    """Overwrite the payload of every ``every``-th packet of the first ``kind`` ("audio" or
    "video") stream with random bytes, in place.

    Only the packet data is touched (found by demuxing and locating each payload in the file),
    not the container's framing, so the file still demuxes and the decoder meets the damage.
    Returns how many packets were corrupted.
    """
    import av

    raw = Path(path).read_bytes()
    spans: list[tuple[int, int]] = []
    with av.open(str(path)) as container:
        stream = (container.streams.audio if kind == "audio" else container.streams.video)[0]
        for k, packet in enumerate(container.demux(stream)):
            if not packet.size or packet.pos is None or packet.pos < 0 or k % every != 1:
                continue
            payload = bytes(packet)
            at = raw.find(payload, int(packet.pos))
            if at >= 0 and len(payload) > 4:
                spans.append((at + 1, len(payload) - 1))  # keep the first byte
    if max_packets is not None:
        spans = spans[:max_packets]
    for j, (pos, size) in enumerate(spans):
        corrupt_bytes(path, pos, size, seed=seed + j)
    return len(spans)


def corrupt_audio_packets(path: str | os.PathLike[str], every: int = 3, seed: int = 0,
                          max_packets: int | None = None) -> int:
    """:func:`corrupt_packets` on the audio stream. Use a compressed codec (e.g.
    ``audio_codec="aac"`` or ``"libopus"``); PCM has no structure to break."""
    return corrupt_packets(path, "audio", every=every, seed=seed, max_packets=max_packets)
