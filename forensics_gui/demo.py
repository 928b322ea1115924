"""The demo clip and the synthetic talking-face clips it is made from (known fps, audio layout
and leading silence).

:func:`ensure_demo_clip` writes the viewer's demo once into the user data folder. The same
generator makes every test clip (:mod:`forensics_gui.testing.synth` adds the broken-file makers),
so nothing needs a real dataset; it lives here, not under ``testing/``, because the app ships it.

- Face: scikit-image's ``astronaut`` photograph, cropped so the face is large, with the mouth
  opened frame by frame (the lips part, a dark mouth interior appears, the jaw moves down), so
  dlib's 68 landmarks see the inner-lip gap (landmarks 62-66) follow ``openness``.
- Audio: speech-like voiced syllables (harmonics of a 110-220 Hz f0, ~4 syllables/s), a room
  noise floor well above the 0.0005 silence threshold, and an exact leading digital silence of
  ``leading_silence_ms`` (zeros).
- Containers from the suffix (.mp4 .mov .mkv .avi .webm). The default audio codec is PCM (s16)
  wherever the container takes it, so the leading silence survives the round trip exactly; AAC
  and Opus are lossy, do not keep digital zeros and add encoder priming (see
  :data:`AUDIO_CODEC_NOTES`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from forensics_gui.core.files.atomic import atomic_path

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream

DEMO_NAME = "demo_talking_face.mp4"

# Default (video codec, audio codec) per container suffix.
DEFAULT_CODECS: dict[str, tuple[str, str]] = {
    ".mp4": ("libx264", "pcm_s16le"),
    ".mov": ("libx264", "pcm_s16le"),
    ".mkv": ("libx264", "pcm_s16le"),
    ".avi": ("mpeg4", "pcm_s16le"),
    ".webm": ("libvpx-vp9", "libopus"),
}

AUDIO_CODEC_NOTES = (
    "PCM keeps the leading digital silence sample-exact. AAC (audio_codec='aac') is lossy: the "
    "decoder removes the encoder priming, but the first sound is smeared back into the silent "
    "samples (pre-echo within one 1024-sample frame) and zeros come back only near zero. "
    "Measured with FFmpeg's native AAC encoder on 30 ms of silence (3 seeds): 44.1/48 kHz gave "
    "29.2-30.0 ms (at most 0.9 ms early); 16 kHz gave 28.7, 4.4 and 1.4 ms, i.e. the pre-echo can "
    "rise above the 0.0005 threshold and hide the silence. Opus (.webm, 48 kHz) gave 30.0 ms. "
    "Tests check the AAC figure at 48 kHz (tests/core/test_synth.py::test_aac_moves_the_silence)."
)

ROOM_NOISE_STD = 0.004  # [-1, 1] scale: ~8x the 0.0005 silence threshold
SPEECH_PEAK = 0.35

# Astronaut photo (512x512): dlib face box (175,76)-(265,166); lip centre line ~y=145, mouth
# corners x=201..246; chin at y~178. The crop keeps the face large and away from the second
# (patch) face at the bottom left.
_CROP = (122, 28, 200)  # x0, y0, side in astronaut pixels
_MOUTH_C = (223.5, 145.5)  # mouth centre (x, y) in astronaut pixels
_MOUTH_HALF_W = 22.0  # half mouth width in astronaut pixels
_MAX_GAP = 16.0  # inner-lip gap at openness 1, astronaut pixels


@dataclass
class SynthClip:
    """What :func:`make_clip` wrote: the ground truth a test compares against."""

    path: Path
    fps: Fraction
    n_frames: int
    sample_rate: int
    channels: int
    leading_silence_ms: float  # exact, = first_sound_sample / sample_rate * 1000
    first_sound_sample: int  # index of the first sample above the 0.0005 threshold
    mouth_openness: np.ndarray  # per video frame, 0..1
    audio: np.ndarray  # float32 [channels, N] as written (before PCM quantisation)
    video_codec: str | None = None
    audio_codec: str | None = None
    rotation: int = 0


@functools.lru_cache(maxsize=4)
def _face_base(side: int) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    x0, y0, s = _CROP
    crop = data.astronaut()[y0:y0 + s, x0:x0 + s].astype(np.float32) / 255.0
    out = resize(crop, (side, side, 3), order=1, anti_aliasing=True)
    return np.asarray(out, dtype=np.float32)


def _open_mouth(face: np.ndarray, openness: float) -> tuple[np.ndarray, int, int] | None:
    """Warp a ``_face_base`` image so the lips part by ``openness`` (0..1).

    Returns ``(window, y0, x0)``: the changed region (float RGB) and its top-left corner in the
    face image, or None when the mouth stays closed.

    Inverse mapping: above the lip line pixels come from lower down (the upper lip rises a
    little), below it from higher up (the lower lip and jaw drop more, fading towards the neck);
    the lens-shaped gap left between the lips is painted as a dark mouth with a hint of teeth.
    """
    from scipy.ndimage import map_coordinates

    side = face.shape[0]
    scale = side / _CROP[2]
    xc = (_MOUTH_C[0] - _CROP[0]) * scale
    yc = (_MOUTH_C[1] - _CROP[1]) * scale
    hw = _MOUTH_HALF_W * scale
    gap_max = _MAX_GAP * scale * float(np.clip(openness, 0.0, 1.0))
    if gap_max < 0.25:
        return None
    y0, y1 = int(max(0, yc - 0.25 * side)), int(min(side, yc + 0.45 * side))
    x0, x1 = int(max(0, xc - 1.2 * hw)), int(min(side, xc + 1.2 * hw))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u = (xx - xc) / hw
    lens = np.clip(1.0 - u * u, 0.0, 1.0) ** 0.75  # 1 in the middle, 0 at the mouth corners
    dy = yy - yc
    r = np.abs(dy)
    half_gap = 0.5 * gap_max * lens
    up = 0.5 * half_gap * np.exp(-r / (0.05 * side))
    taper = np.clip(1.0 - (dy / (y1 - yc)) ** 2, 0.0, 1.0)  # no seam at the window's bottom
    down = 1.5 * half_gap * np.exp(-r / (0.25 * side)) * taper
    shift = np.where(dy < 0, up, down)
    src_y = yy - np.sign(dy) * shift
    win = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    for c in range(3):
        win[..., c] = map_coordinates(face[..., c], [src_y, xx], order=1, mode="nearest")
    # the gap between the displaced lips: dy in (-up_at_lip, down_at_lip)
    top = -0.5 * half_gap
    bottom = 1.5 * half_gap
    inside_depth = np.minimum(dy - top, bottom - dy) / np.maximum(0.5, 0.2 * gap_max)
    alpha = np.clip(inside_depth, 0.0, 1.0)[..., None] * (lens > 0)[..., None]
    shade = np.clip((dy - top) / np.maximum(1.0, bottom - top), 0.0, 1.0)[..., None]
    mouth = np.array([0.30, 0.08, 0.10], np.float32) * (1.0 - 0.5 * shade)
    teeth = np.array([0.88, 0.84, 0.78], np.float32)
    teeth_band = ((dy - top) < 0.22 * (bottom - top))[..., None] & (np.abs(u) < 0.6)[..., None]
    interior = np.where(teeth_band, teeth, mouth)
    return win * (1.0 - alpha) + interior * alpha, y0, x0


@functools.lru_cache(maxsize=4)
def _scene(width: int, height: int) -> np.ndarray:
    """The closed-mouth frame (uint8): the face square centred on a soft blue-gray gradient."""
    side = min(width, height)
    canvas = np.empty((height, width, 3), np.float32)
    gy = np.linspace(0.25, 0.45, height, dtype=np.float32)[:, None]
    canvas[...] = np.stack([gy, gy * 1.05, gy * 1.15], axis=-1)
    y0, x0 = (height - side) // 2, (width - side) // 2
    canvas[y0:y0 + side, x0:x0 + side] = _face_base(side)
    return _to_u8(canvas)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def talking_face_frame(openness: float, width: int = 320, height: int = 320) -> np.ndarray:
    """An RGB uint8 [height, width, 3] frame: the astronaut's face with the mouth ``openness`` open.

    The face fills a ``min(width, height)`` square centred on a plain background, so 320x320 is a
    close-up and 1280x720 is a face in a larger scene.
    """
    side = min(width, height)
    out = _scene(width, height).copy()
    warped = _open_mouth(_face_base(side), openness)
    if warped is not None:
        win, wy, wx = warped
        y0, x0 = (height - side) // 2 + wy, (width - side) // 2 + wx
        out[y0:y0 + win.shape[0], x0:x0 + win.shape[1]] = _to_u8(win)
    return out


PATTERN_BITS = 12


def pattern_frame(index: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A face-free RGB frame whose content encodes ``index``.

    The top fifth is ``PATTERN_BITS`` black/white blocks (the index in binary, MSB first) that
    survive lossy compression; below, a bright bar moves one step per frame on a gray field.
    Read it back with :func:`decode_pattern_index`.
    """
    img = np.full((height, width, 3), 90, np.uint8)
    strip = max(8, height // 5)
    bw = width // PATTERN_BITS
    for b in range(PATTERN_BITS):
        bit = (index >> (PATTERN_BITS - 1 - b)) & 1
        img[:strip, b * bw:(b + 1) * bw] = 235 if bit else 20
    bar_w = max(4, width // 16)
    x = (index * bar_w // 2) % max(1, width - bar_w)
    img[strip + 4:, x:x + bar_w] = (250, 220, 60)
    return img


def decode_pattern_index(image: np.ndarray) -> int:
    """Read back the index written by :func:`pattern_frame` (image H,W,3 as displayed)."""
    height, width = image.shape[:2]
    strip = max(8, height // 5)
    bw = width // PATTERN_BITS
    value = 0
    for b in range(PATTERN_BITS):
        block = image[2:strip - 2, b * bw + 2:(b + 1) * bw - 2]
        value = (value << 1) | int(block.mean() > 128)
    return value


def speech_signal(duration_s: float, sample_rate: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speech-like voiced syllables without noise floor.

    Returns ``(signal, envelope)``, both float32 [N] with N = round(duration_s * sample_rate);
    the envelope is 0..1 (the syllable loudness the mouth follows).
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    env = np.zeros(n)
    f0 = np.full(n, 150.0)
    pos, k = 0.12, 0
    while pos < duration_s:
        dur = rng.uniform(0.12, 0.24)
        a, b = int(pos * sample_rate), min(n, int((pos + dur) * sample_rate))
        if b > a:
            ph = np.linspace(0.0, np.pi, b - a, endpoint=False)
            env[a:b] = np.maximum(env[a:b], rng.uniform(0.6, 1.0) * np.sin(ph) ** 2)
            start_f0 = rng.uniform(110.0, 220.0)
            f0[a:b] = start_f0 * np.linspace(1.0, rng.uniform(0.85, 1.15), b - a)
        k += 1
        pos += dur + (rng.uniform(0.25, 0.4) if k % 5 == 0 else rng.uniform(0.03, 0.1))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = np.zeros(n)
    for h in range(1, 13):
        if h * 220.0 >= sample_rate / 2:
            break
        # a gentle formant bump near 500-800 Hz
        weight = (1.0 / h) * (1.0 + 1.5 * np.exp(-((h * 150.0 - 650.0) / 250.0) ** 2))
        voice += weight * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    voice /= np.max(np.abs(voice)) + 1e-9
    noise = rng.standard_normal(n) * 0.15
    sig = SPEECH_PEAK * env * (0.9 * voice + noise)
    return sig.astype(np.float32), env.astype(np.float32)


def _envelope_of(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """Smoothed RMS envelope (40 ms window) of a [channels, N] or [N] signal, scaled to 0..1."""
    mono = np.abs(np.atleast_2d(signal)).mean(axis=0)
    win = max(1, int(0.04 * sample_rate))
    kernel = np.ones(win) / win
    env = np.sqrt(np.convolve(mono.astype(np.float64) ** 2, kernel, mode="same"))
    peak = env.max()
    return (env / peak if peak > 0 else env).astype(np.float32)


def _layout_for(channels: int) -> str:
    layouts = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 6: "5.1", 8: "7.1"}
    if channels not in layouts:
        raise ValueError(f"unsupported channel count {channels}")
    return layouts[channels]


def _build_audio(duration_s: float, sample_rate: int, channels: int, leading_silence_ms: float,
                 seed: int, speech: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (audio [C, N] float32, envelope [N] 0..1, first_sound_sample)."""
    n = int(round(duration_s * sample_rate))
    rng = np.random.default_rng(seed + 1)
    if speech is None:
        sig, env = speech_signal(duration_s, sample_rate, seed)
        audio = np.empty((channels, n), np.float32)
        for c in range(channels):
            gain = 1.0 if c < 2 else 0.5  # quieter surround channels
            room = rng.standard_normal(n) * ROOM_NOISE_STD
            hum = 0.0015 * np.sin(2 * np.pi * 50.0 * np.arange(n) / sample_rate + c)
            audio[c] = gain * sig + room + hum
    else:
        given = np.atleast_2d(np.asarray(speech, dtype=np.float32))
        if given.shape[1] < n:
            given = np.pad(given, ((0, 0), (0, n - given.shape[1])))
        given = given[:, :n]
        audio = np.repeat(given, channels, axis=0) if given.shape[0] == 1 else given.copy()
        if audio.shape[0] != channels:
            raise ValueError(f"speech has {audio.shape[0]} channels, expected {channels}")
        env = _envelope_of(audio, sample_rate)
    n0 = min(n, int(round(leading_silence_ms * sample_rate / 1000.0)))
    audio[:, :n0] = 0.0
    if speech is None and n0 < n:
        # the first sound sample must clear the silence threshold in every clip we make
        first = audio[0, n0]
        audio[0, n0] = np.sign(first if first != 0 else 1.0) * max(abs(first), 0.003)
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio, env, n0


def _frame_openness(env: np.ndarray, sample_rate: int, fps: Fraction, n_frames: int) -> np.ndarray:
    """Envelope sampled at each video frame's time (mouth leads sound slightly, like real speech)."""
    times = np.arange(n_frames) * float(1 / fps)
    idx = np.clip(np.round((times + 0.02) * sample_rate).astype(int), 0, max(0, len(env) - 1))
    if len(env) == 0:
        return np.zeros(n_frames, np.float32)
    op = env[idx]
    peak = op.max() if op.size else 0.0
    return (op / peak if peak > 0 else op).astype(np.float32)


def _to_coded(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate the displayed image into the stored orientation (inverse of the display rotation)."""
    k = (rotation // 90) % 4
    # displayed = rotate clockwise by `rotation`; so stored = rotate counter-clockwise
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


def _exact_rate(fps: float | Fraction) -> Fraction:
    """Keep Fractions; map 23.976/29.97/59.94 to the exact NTSC rates (24000/1001, ...)."""
    if isinstance(fps, Fraction):
        return fps
    for base in (24, 30, 60):
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def make_clip(path: str | os.PathLike[str], *, duration_s: float = 3.0, fps: float | Fraction = 25,
              width: int = 320, height: int = 320, sample_rate: int = 16000, channels: int = 1,
              leading_silence_ms: float = 0.0, video: bool = True, audio: bool = True,
              face: bool = True, video_codec: str | None = None, audio_codec: str | None = None,
              rotation: int = 0, seed: int = 0, openness: np.ndarray | None = None,
              speech: np.ndarray | None = None, crf: int = 18, preset: str = "veryfast",
              pattern: bool = False, keyint: int | None = None,
              faststart: bool = False) -> SynthClip:
    """Write a synthetic clip to ``path`` (container from the suffix) and return its ground truth.

    ``duration_s`` seconds; ``fps`` frames/s (a Fraction such as 24000/1001 is kept exact);
    ``width`` x ``height`` is the *displayed* size; ``rotation`` (0/90/180/270, clockwise) stores
    the frames turned the other way with a display matrix, as phones do, so a correct reader shows
    them upright. ``face=False`` writes a face-free moving pattern (``pattern=True`` forces the
    index-encoding :func:`pattern_frame` even when ``face`` is True). ``openness`` (per frame,
    0..1) and ``speech`` (float [N] or [C, N] at ``sample_rate``) override the generated mouth
    motion or sound, to make mismatched "fakes". ``leading_silence_ms`` of exact zeros start
    the audio. ``keyint``: frames between keyframes (default 2 s worth); ``faststart`` puts the
    mp4/mov index first (a truncated copy then stays partly readable).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DEFAULT_CODECS:
        raise ValueError(f"unsupported container {suffix!r}; use one of {sorted(DEFAULT_CODECS)}")
    if not video and not audio:
        raise ValueError("a clip needs video or audio")
    vcodec = video_codec or DEFAULT_CODECS[suffix][0]
    acodec = audio_codec or DEFAULT_CODECS[suffix][1]
    fps = _exact_rate(fps)
    rotation = int(rotation) % 360
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90 degrees")
    if rotation and suffix == ".avi":
        raise ValueError("AVI cannot store a display rotation; use .mp4, .mov or .mkv")
    if video and (width % 2 or height % 2):
        raise ValueError("width and height must be even (yuv420p)")
    n_frames = int(round(duration_s * fps)) if video else 0

    wav, env, n0 = _build_audio(duration_s, sample_rate, channels, leading_silence_ms, seed, speech)
    if openness is None:
        mouth = _frame_openness(env, sample_rate, fps, n_frames)
    else:
        mouth = np.asarray(openness, dtype=np.float32)
        if video and len(mouth) < n_frames:
            mouth = np.pad(mouth, (0, n_frames - len(mouth)), mode="edge")
        mouth = np.clip(mouth[:n_frames], 0.0, 1.0)

    _write(path, fps=fps, n_frames=n_frames, width=width, height=height, vcodec=vcodec,
           acodec=acodec, wav=wav if audio else None, sample_rate=sample_rate,
           mouth=mouth, face=face and not pattern, rotation=rotation, crf=crf, preset=preset,
           keyint=keyint or max(1, round(2 * fps)), faststart=faststart)
    return SynthClip(path=path, fps=fps, n_frames=n_frames, sample_rate=sample_rate,
                     channels=channels, leading_silence_ms=n0 / sample_rate * 1000.0,
                     first_sound_sample=n0, mouth_openness=mouth, audio=wav,
                     video_codec=vcodec if video else None, audio_codec=acodec if audio else None,
                     rotation=rotation)


def _write(path: Path, *, fps: Fraction, n_frames: int, width: int, height: int, vcodec: str,
           acodec: str, wav: np.ndarray | None, sample_rate: int, mouth: np.ndarray, face: bool,
           rotation: int, crf: int, preset: str, keyint: int, faststart: bool) -> None:
    import av
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

    with atomic_path(path) as tmp:
        options = {"movflags": "+faststart"} if faststart and path.suffix.lower() in (".mp4", ".mov") else {}
        container = av.open(str(tmp), mode="w", options=options)
        try:
            vstream: VideoStream | None = None
            astream: AudioStream | None = None
            if n_frames:
                added = container.add_stream(vcodec, rate=fps)
                if not isinstance(added, VideoStream):
                    raise ValueError(f"{vcodec!r} is not a video codec")
                vstream = added
                coded_w, coded_h = (height, width) if rotation in (90, 270) else (width, height)
                vstream.width, vstream.height = coded_w, coded_h
                vstream.pix_fmt = "yuv420p"
                vstream.gop_size = keyint
                if vcodec == "libx264":
                    vstream.options = {"crf": str(crf), "preset": preset, "g": str(keyint)}
                elif vcodec in ("mpeg4", "libvpx-vp9", "libvpx"):
                    vstream.bit_rate = max(400_000, coded_w * coded_h * 8)
                if rotation:
                    # PyAV's angle is counter-clockwise; the display turns the stored frame clockwise
                    vstream.set_display_rotation(-rotation)
            if wav is not None:
                added = container.add_stream(acodec, rate=sample_rate,
                                             layout=_layout_for(wav.shape[0]))
                if not isinstance(added, AudioStream):
                    raise ValueError(f"{acodec!r} is not an audio codec")
                astream = added
            apos = 0
            chunk = 1024
            n_audio = 0 if wav is None else wav.shape[1]
            for i in range(max(n_frames, 1)):
                if vstream is not None:
                    img = (talking_face_frame(float(mouth[i]), width, height) if face
                           else pattern_frame(i, width, height))
                    frame = av.VideoFrame.from_ndarray(_to_coded(img, rotation), format="rgb24")
                    frame.pts = i
                    for packet in vstream.encode(frame):
                        container.mux(packet)
                # interleave: audio up to the end of this video frame
                a_until = n_audio if vstream is None else min(
                    n_audio, int(round((i + 1) / fps * sample_rate)))
                if i == n_frames - 1:
                    a_until = n_audio
                while astream is not None and wav is not None and apos < a_until:
                    end = min(a_until, apos + chunk)
                    for packet in astream.encode(_audio_frame(wav[:, apos:end], astream, apos,
                                                              sample_rate)):
                        container.mux(packet)
                    apos = end
            for stream in (vstream, astream):
                if stream is not None:
                    for packet in stream.encode(None):
                        container.mux(packet)
        finally:
            container.close()


def _audio_frame(block: np.ndarray, stream: AudioStream, pts: int, sample_rate: int) -> AudioFrame:
    import av

    fmt = stream.codec_context.format
    layout = stream.codec_context.layout.name
    if fmt.name.startswith("s16"):
        data = np.clip(np.round(block * 32767.0), -32768, 32767).astype(np.int16)
    elif fmt.name.startswith("s32"):
        data = np.clip(np.round(block * 2147483647.0), -2147483648, 2147483647).astype(np.int32)
    else:
        data = block.astype(np.float32)
    if not fmt.is_planar:
        data = data.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt.name, layout=layout)
    frame.sample_rate = sample_rate
    frame.pts = pts
    return frame


def ensure_demo_clip() -> Path:
    """The demo clip (talking face, 8 s, 30 ms leading silence), generated once into the user
    data folder and reused afterwards."""
    from forensics_gui.core.files.paths import user_data_dir

    path = user_data_dir() / "demo" / DEMO_NAME
    if not path.is_file() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        make_clip(path, duration_s=8.0, fps=25, width=480, height=480, sample_rate=48000,
                  leading_silence_ms=30.0, face=True)
    return path
