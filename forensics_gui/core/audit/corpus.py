"""A small AV-Deepfake1M-like corpus to try the audit on (``forensics-gui audit --make-demo``).

Layout, as AV-Deepfake1M: ``OUT/<split>/<speaker>/<clip>/real.mp4`` and ``.../fake_<n>.mp4``
(h264 picture, AAC sound at 48 kHz, 25 fps, lengths 0.8-1.2 x ``duration_s``), plus ``OUT/metadata.json``: a JSON list of
AV-Deepfake1M objects (``file``, ``modify_type``, ``fake_segments``, ``audio_fake_segments``,
``visual_fake_segments``, ``video_frames``, ``audio_frames``, ``split``), the format
:func:`forensics_gui.core.results.groundtruth.load_metadata` reads.

What differs between the classes, as in the real dataset:

* **leading silence**: real clips start with room noise at once; every fake starts with
  20-40 ms of exact digital zeros (the pipeline that made the fakes prepended it);
* the sound of a fake is therefore longer than its picture by that silence;
* the sound stream's **handler tag**: reals keep the tag of the site the source videos came
  from (:data:`REAL_ENCODER`), fakes carry the tag of the tool that wrote them
  (:data:`FAKE_ENCODER`);
* **loudness**: fakes are about 1 dB louder on average (normalised speech), with overlap.

After trimming the silence (AVH-Align's 0.0005 rule) nothing of the start separates the classes
any more. With ``bad=True`` the corpus also holds what a real dataset holds: an empty file, a
text file named ``.mp4``, a clip without sound and a metadata entry whose file is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.files.atomic import atomic_path, write_text_atomic

SAMPLE_RATE = 48000
CLIP_FPS = 25
SIZE = 64  # picture width and height (pixels)
DURATION_S = 2.0
# the sound stream's handler tag (FFmpeg always writes its own container encoder tag)
REAL_ENCODER = "ISO Media file produced by Google Inc."  # the source videos came from YouTube
FAKE_ENCODER = "SoundHandler"  # FFmpeg's default, written by the tool that made the fakes
FAKE_TYPES = ("visual_modified", "audio_modified", "both_modified")
ROOM_NOISE = 0.004


def speechlike(n: int, rng: np.random.Generator, gain: float) -> np.ndarray:
    """Room noise plus syllable-like bursts of a harmonic voice, float32 [n] in [-1, 1]."""
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(95, 220)
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    rate = rng.uniform(3.0, 5.0)
    env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3)), 0, None) ** 2
    x = gain * 0.25 * env * voice + rng.standard_normal(n) * ROOM_NOISE
    return np.clip(x, -1, 1).astype(np.float32)


def write_clip(path: Path, audio: np.ndarray | None, n_frames: int, encoder: str,
               seed: int) -> None:
    """An mp4 with a moving-bar picture (h264) and ``audio`` (AAC, mono) whose handler tag is
    ``encoder``."""
    import av

    rng = np.random.default_rng(seed)
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w")
        try:
            vs = container.add_stream("libx264", rate=CLIP_FPS)
            vs.width = vs.height = SIZE
            vs.pix_fmt = "yuv420p"
            vs.options = {"preset": "ultrafast", "crf": "30"}
            astream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio is not None else None
            if astream is not None:
                astream.metadata["handler_name"] = encoder
            base = rng.integers(40, 200)
            apos = 0
            for i in range(n_frames):
                img = np.full((SIZE, SIZE, 3), base, np.uint8)
                x = (i * 3) % SIZE
                img[:, x:x + 6] = 255 - base
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in vs.encode(frame):
                    container.mux(packet)
                if astream is not None and audio is not None:
                    until = audio.size if i == n_frames - 1 else min(
                        audio.size, int(round((i + 1) * SAMPLE_RATE / CLIP_FPS)))
                    while apos < until:
                        end = min(until, apos + 1024)
                        block = audio[apos:end][None, :].astype(np.float32)
                        af = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                        af.sample_rate = SAMPLE_RATE
                        af.pts = apos
                        for packet in astream.encode(af):
                            container.mux(packet)
                        apos = end
            for stream in (vs, astream):
                if stream is not None:
                    for packet in stream.encode(None):
                        container.mux(packet)
        finally:
            container.close()


def make_demo_corpus(out_dir: Path, clips: int = 40, *, seed: int = 0, bad: bool = True,
                     duration_s: float = DURATION_S,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``clips`` clips (half real, half fake) and ``metadata.json`` into ``out_dir``.

    Returns the metadata file's path. ``progress(done, total)`` is called after each clip.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base_frames = int(round(duration_s * CLIP_FPS))
    meta: list[dict[str, Any]] = []
    total = clips + (3 if bad else 0)
    n_real = (clips + 1) // 2
    for k in range(clips):
        fake = k >= n_real
        speaker = f"id{k % 7:05d}"
        group = f"clip{k // 2:05d}"
        name = f"fake_{k}.mp4" if fake else "real.mp4"
        rel = f"train/{speaker}/{group}_{k}/{name}"
        n_frames = max(CLIP_FPS, int(round(base_frames * rng.uniform(0.8, 1.2))))
        n_audio = int(round(n_frames * SAMPLE_RATE / CLIP_FPS))
        gain = float(rng.uniform(0.5, 1.0)) * (10 ** (1 / 20) if fake else 1.0)
        voice = speechlike(n_audio, rng, gain)
        entry: dict[str, Any] = {"file": rel, "split": "train", "video_frames": n_frames}
        if fake:
            silence = int(round(rng.uniform(20.0, 40.0) * SAMPLE_RATE / 1000.0))
            audio = np.concatenate([np.zeros(silence, np.float32), voice])
            mt = FAKE_TYPES[k % len(FAKE_TYPES)]
            t0 = round(float(rng.uniform(0.1, max(0.2, n_frames / CLIP_FPS - 0.6))), 2)
            seg = [[t0, round(t0 + 0.5, 2)]]
            entry.update(modify_type=mt, fake_segments=seg,
                         audio_fake_segments=seg if mt != "visual_modified" else [],
                         visual_fake_segments=seg if mt != "audio_modified" else [])
        else:
            audio = voice
            entry.update(modify_type="real", fake_segments=[], audio_fake_segments=[],
                         visual_fake_segments=[])
        entry["audio_frames"] = int(audio.size)
        write_clip(out_dir / rel, audio, n_frames, FAKE_ENCODER if fake else REAL_ENCODER,
                   seed=seed * 100003 + k)
        meta.append(entry)
        if progress is not None:
            progress(k + 1, total)
    if bad:
        empty = "train/broken/empty/real.mp4"
        (out_dir / empty).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_dir / empty, "")
        text = "train/broken/text/real.mp4"
        (out_dir / text).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_dir / text, "this is a web page saved under a video name\n")
        silent = "train/broken/nosound/fake_0.mp4"
        write_clip(out_dir / silent, None, base_frames, FAKE_ENCODER, seed=seed + 7)
        for rel, mt in ((empty, "real"), (text, "real"), (silent, "visual_modified"),
                        ("train/broken/missing/real.mp4", "real")):
            seg = [] if mt == "real" else [[0.2, 0.7]]
            meta.append({"file": rel, "split": "train", "modify_type": mt, "fake_segments": seg,
                         "audio_fake_segments": [], "visual_fake_segments": seg,
                         "video_frames": base_frames, "audio_frames": 0})
        if progress is not None:
            progress(total, total)
    target = out_dir / "metadata.json"
    write_text_atomic(target, json.dumps(meta, indent=1) + "\n")
    return target


__all__ = ["FAKE_ENCODER", "REAL_ENCODER", "make_demo_corpus", "speechlike", "write_clip"]
