"""AV-HuBERT audio input features and the AVH-Align leading-silence trim (numpy only).

Pipeline (see ``shared/design/avhubert-reference.md`` section 1):

1. :func:`log_fbank`: 26 log mel filterbank energies per 10 ms frame (100 frames per second),
   numerically identical to ``python_speech_features.logfbank`` 0.6 with its defaults.
2. :func:`stacked_features`: 4 consecutive fbank frames stacked into one 104-dim row (25 rows per
   second, one per video frame at 25 fps), then a per-row layer norm.

Input scale. AVH-Align reads audio with librosa, i.e. float samples in [-1, 1]; the official
AV-HuBERT reads int16 with scipy. An int16 signal gives log values shifted by
``2*ln(32768) = 20.794`` everywhere; the per-row layer norm cancels that shift except in bins
floored at ``eps`` (digital silence) and in zero-padded stack slots. This project always passes
float samples in [-1, 1] (the AVH-Align convention); integer arrays given to
:func:`leading_silence_trim` are converted to that scale (divided by 32768).

Pre-emphasis is evaluated exactly as python_speech_features does it, in the input's dtype
(float32 input -> float32 pre-emphasis, as in AVH-Align, which feeds librosa's float32 samples);
everything after it runs in float64.

Trimming. :func:`leading_silence_trim` reproduces AVH-Align's ``--trimmed`` arithmetic,
including its float rounding (``int(s*25)`` with ``s = i/16000``, which differs from ``i//640``
at 34 indices in the first 20 s). :func:`apply_trim` skips the samples/frames; the CALLER then
truncates the video frames and the stacked audio rows to their common length (AVH-Align does
``min(T_video, T_audio)`` after feature extraction), e.g. with :func:`truncate_to_common`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD
from forensics_gui.core.media.timebase import samples_per_model_frame, truncated_model_frame

SAMPLE_RATE = 16000
FRAME_LEN = 400  # samples (25 ms at 16 kHz)
FRAME_STEP = 160  # samples (10 ms at 16 kHz)
NFFT = 512
NFILT = 26
PREEMPH = 0.97
STACK_ORDER = 4
LN_EPS = 1e-5
_CHUNK_FRAMES = 8192  # fbank frames per vectorised block (bounds memory on hour-long audio)


def _hz2mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595 * np.log10(1 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel2hz(mel: np.ndarray) -> np.ndarray:
    return 700 * (10 ** (mel / 2595.0) - 1)


@functools.lru_cache(maxsize=8)
def mel_filterbank(nfilt: int = NFILT, nfft: int = NFFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular mel filters from 0 Hz to sample_rate/2, shape [nfilt, nfft//2+1] (read-only).

    Bin edges are ``floor((nfft+1) * mel2hz(linspace(mel(0), mel(sr/2), nfilt+2)) / sr)``; the
    rising edge covers ``[b_j, b_{j+1})`` and the falling edge ``[b_{j+1}, b_{j+2})``.
    """
    mels = np.linspace(_hz2mel(0.0), _hz2mel(sample_rate / 2), nfilt + 2)
    edges = np.floor((nfft + 1) * _mel2hz(mels) / sample_rate)
    bins = np.arange(nfft // 2 + 1, dtype=np.float64)[None, :]
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = np.where((bins >= lo) & (bins < mid), (bins - lo) / (mid - lo), 0.0)
        falling = np.where((bins >= mid) & (bins < hi), (hi - bins) / (hi - mid), 0.0)
    fb = rising + falling
    fb.setflags(write=False)
    return fb


def num_fbank_frames(n_samples: int) -> int:
    """Number of 10 ms fbank frames for ``n_samples`` samples: 1 if N<=400, else 1+ceil((N-400)/160)."""
    if n_samples <= FRAME_LEN:
        return 1
    return 1 + int(math.ceil((1.0 * n_samples - FRAME_LEN) / FRAME_STEP))


def _preemphasis(signal: np.ndarray) -> np.ndarray:
    # Same expression (and so the same dtype promotion) as python_speech_features.
    return np.append(signal[0], signal[1:] - PREEMPH * signal[:-1])


def log_fbank(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Log mel filterbank energies, float64 [n_frames, 26], one row per 10 ms (hop 160 samples).

    Equals ``python_speech_features.logfbank(signal, sample_rate)`` (pre-emphasis 0.97, 400-sample
    rectangular frames, end zero-padded, ``|rfft(frame, 512)|^2 / 512``, 26 mel filters, zeros
    replaced by float64 eps, natural log). ``signal`` is mono; an empty signal gives [0, 26]
    (python_speech_features would raise instead).
    """
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"log_fbank expects a mono 1-D signal, got shape {x.shape}")
    if x.size == 0:
        return np.zeros((0, NFILT), dtype=np.float64)
    emph = _preemphasis(x).astype(np.float64, copy=False)
    n = emph.size
    n_frames = num_fbank_frames(n)
    padded = np.zeros((n_frames - 1) * FRAME_STEP + FRAME_LEN, dtype=np.float64)
    padded[:n] = emph
    fb_t = np.ascontiguousarray(mel_filterbank(NFILT, NFFT, sample_rate).T)
    windows = np.lib.stride_tricks.sliding_window_view(padded, FRAME_LEN)[::FRAME_STEP]
    out = np.empty((n_frames, NFILT), dtype=np.float64)
    eps = np.finfo(np.float64).eps
    for start in range(0, n_frames, _CHUNK_FRAMES):
        frames = windows[start:start + _CHUNK_FRAMES]
        spec = np.fft.rfft(frames, NFFT)
        pspec = 1.0 / NFFT * np.square(np.absolute(spec))
        feat = np.dot(pspec, fb_t)
        feat[feat == 0] = eps
        out[start:start + len(frames)] = np.log(feat)
    return out


def stack_frames(feats: np.ndarray, stack_order: int = STACK_ORDER) -> np.ndarray:
    """Zero-pad rows to a multiple of ``stack_order`` and reshape [N, D] -> [ceil(N/k), k*D]."""
    n, d = feats.shape
    rem = (-n) % stack_order
    if rem:
        feats = np.concatenate([feats, np.zeros((rem, d), dtype=feats.dtype)])
    return feats.reshape(-1, stack_order * d)


def layer_norm(x: np.ndarray, eps: float = LN_EPS) -> np.ndarray:
    """Per-row layer norm without affine, as ``F.layer_norm(x, (D,))``: biased variance, float32 out."""
    x64 = np.asarray(x, dtype=np.float64)
    mean = x64.mean(axis=-1, keepdims=True)
    var = np.square(x64 - mean).mean(axis=-1, keepdims=True)
    return ((x64 - mean) / np.sqrt(var + eps)).astype(np.float32)


def stacked_features(audio_16k: np.ndarray) -> np.ndarray:
    """AV-HuBERT audio input: float32 [T, 104], one row per 25 fps video frame (40 ms).

    ``audio_16k`` is mono 16 kHz float in [-1, 1]. Row t is
    ``layer_norm([f_{4t} | f_{4t+1} | f_{4t+2} | f_{4t+3}])`` of the float32-cast log fbank
    frames (missing frames at the end are zeros before the norm). For N = 640*T samples, T rows.
    """
    fb = log_fbank(audio_16k, SAMPLE_RATE).astype(np.float32)
    return layer_norm(stack_frames(fb))


@dataclass(frozen=True)
class TrimInfo:
    """AVH-Align's leading-silence trim.

    ``start_s``: first-sound time in seconds (``first_sound_sample / sample_rate``);
    ``first_sound_sample``: index of the first sample with |x| > threshold (the signal length
    when there is none); ``audio_skip_samples``: samples to drop from the start of the audio
    before feature extraction; ``video_skip_frames``: 25 fps frames to drop from the video.
    """

    start_s: float
    first_sound_sample: int
    audio_skip_samples: int
    video_skip_frames: int


def trim_frame_index(first_sound_sample: np.ndarray | int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``int(s*25)`` with ``s = i/sample_rate`` evaluated in float64 exactly as AVH-Align does.

    Works element-wise on arrays (the float rounding makes this differ from ``i // 640`` at 34
    indices in the first 20 s at 16 kHz, e.g. i=18560 -> 28). Returns int64.
    """
    s = np.asarray(first_sound_sample, dtype=np.int64) / float(sample_rate)
    return truncated_model_frame(s)


def to_float_scale(audio: np.ndarray) -> np.ndarray:
    """Samples on the [-1, 1] scale: integer PCM is divided by 32768 (to float32), float is kept."""
    a = np.asarray(audio)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / 32768.0
    return a


def leading_silence_trim(
    audio_16k: np.ndarray, threshold: float = OFFICIAL_TRIM_THRESHOLD, sample_rate: int = SAMPLE_RATE
) -> TrimInfo:
    """Compute AVH-Align's ``--trimmed`` skips for mono audio (float in [-1, 1]; ints are /32768).

    ``i`` = first sample with ``|x| > threshold`` (``len`` if none), ``s = i / sample_rate``.
    If ``s > 0``: audio skips ``int(s*25) * spf + spf`` samples and video skips ``int(s*25) + 1``
    frames, with ``spf = sample_rate // 25`` (640 at 16 kHz). ``s == 0`` skips nothing.
    All-silent audio gives ``s = len/sample_rate``; the skips then usually remove everything, so
    the caller gets empty (or nearly empty) streams and must report that to the user.
    """
    a = to_float_scale(audio_16k)
    if a.ndim != 1:
        raise ValueError(f"leading_silence_trim expects mono 1-D audio, got shape {a.shape}")
    loud = np.abs(a) > threshold
    i = int(np.argmax(loud)) if loud.size and loud.any() else int(a.size)
    s = i / sample_rate
    if s <= 0:
        return TrimInfo(start_s=0.0, first_sound_sample=i, audio_skip_samples=0, video_skip_frames=0)
    k = truncated_model_frame(s)
    spf = samples_per_model_frame(sample_rate)
    return TrimInfo(start_s=s, first_sound_sample=i, audio_skip_samples=k * spf + spf,
                    video_skip_frames=k + 1)


def apply_trim(
    audio_16k: np.ndarray, video_frames_or_none: np.ndarray | None, trim: TrimInfo
) -> tuple[np.ndarray, np.ndarray | None]:
    """Drop ``trim.audio_skip_samples`` samples and ``trim.video_skip_frames`` frames (axis 0).

    Returns views (possibly empty). The caller truncates both streams to
    ``min(T_video, T_audio)`` after feature extraction (:func:`truncate_to_common`).
    """
    audio = np.asarray(audio_16k)[trim.audio_skip_samples:]
    video = None if video_frames_or_none is None else video_frames_or_none[trim.video_skip_frames:]
    return audio, video


def truncate_to_common(*streams: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cut every array to the shortest length along axis 0 (AVH-Align's min(T_video, T_audio))."""
    n = min(len(s) for s in streams)
    return tuple(s[:n] for s in streams)
