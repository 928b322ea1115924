"""Mouth and voice: does the mouth open and close with the loudness of the speech?

A measure that needs no trained network, only what the pipeline has anyway: dlib's 68 landmarks
on the 25 fps model grid and the 16 kHz mono sound.

Background. Audio-visual synchrony of a talking face has been measured since the late 1990s and
2000s with simple statistics between a lip feature and an audio feature: Hershey and Movellan
("Audio Vision", NIPS 1999) located the speaker from the correlation of pixel changes with audio
energy; Slaney and Covell ("FaceSync", NIPS 2000) and Fisher and Darrell (mutual information,
NIPS 2000 / 2004) learned the linear projections (canonical correlation) under which lips and
sound agree most; Bredin and Chollet (2007) and Sargin et al. (2007) used canonical correlation
and co-inertia of lip and speech features to detect replayed or dubbed audio in speaker
verification; Eveno and Besacier (2005) the same for liveness. The common idea, used here in its
simplest form: while someone speaks, how wide the mouth is open rises and falls with how loud
the voice is, a fraction of a second at a time; in a dubbed, swapped or shifted sound track it
does not, or it does only at another time offset.

What is computed, per 25 fps model frame ``t`` (frame ``t`` covers ``[t/25, (t+1)/25)`` s):

- **mouth opening**: the gap between the inner lips (mean distance of landmark pairs 61-67,
  62-66, 63-65) divided by the distance between the eye centres (mean of 36-41 and of 42-47),
  so it does not depend on the face's size in the picture; NaN where no face was detected;
- **speech loudness**: the energy of the frame's 640 samples between 150 and 4000 Hz (from
  their spectrum, :func:`loudness_db`), as RMS in dB relative to full scale (0 dB = a
  full-scale sine; -120 dB for digital silence);
- **agreement at an offset d** (``-15 <= d <= 15`` frames, +-0.6 s): the correlation of the
  mouth opening at frames ``i`` with the loudness at frames ``i + d`` over a centred window of
  :data:`WINDOW_FRAMES` frames around ``t``. Loudness is floored at 45 dB below the clip's
  loud speech (its 99th percentile) so the noise floor does not count, and each variance gets a
  small floor (:data:`MOUTH_STILL`, :data:`LOUDNESS_FLAT_DB`) so a mouth that does not move, or
  sound that does not change, gives an agreement near 0, not a number made of noise. Positive
  ``d`` = the sound comes late: the voice at ``t + d`` fits the lips at ``t``.
- ``best_offset_frames`` / ``agreement_best``: the offset with the highest agreement and that
  agreement; ``agreement_zero``: the agreement at offset 0.

**Where they stop agreeing** (the rule, :func:`_disagreeing`): only where there is something to
compare (speech in at least :data:`ACTIVE_FRACTION` of the window, or a moving mouth), a frame
disagrees when the agreement at offset 0 is below :data:`ZERO_AGREEMENT_LOW` and at least
:data:`ZERO_DROP` below the clip's own typical (median) agreement (real mouths follow the voice
more or less closely: a clip that agrees little everywhere is not flagged everywhere), or when
another offset at least :data:`SHIFT_MIN_FRAMES` frames away agrees clearly better (by
:data:`SHIFT_GAIN`) and well (at least :data:`SHIFT_MIN_AGREEMENT`; the best of 31 offsets of
two unrelated signals is often 0.25 above offset 0 by chance). The values were chosen on generated clips with a loose, realistic
mouth-to-voice coupling (``benchmarks/bench_lipsync.py``, other seeds than the ones it reports). Disagreeing frames less than :data:`MERGE_GAP_FRAMES` apart are merged and
stretches shorter than :data:`MIN_STRETCH_FRAMES` are dropped. The per-frame **disagreement**
score, ``1 - agreement_zero`` plus the gain of the best offset over zero where that offset is
far from 0, is what the benchmark ranks (``benchmarks/bench_lipsync.py``).

Limits, plainly: the measure compares how much the mouth opens with how loud the voice is; it
cannot tell which words are spoken, so a voice swapped for another one with a similar rhythm can
agree; profiles, several faces (dlib follows one face), music under the speech, a hand over the
mouth or a speaker off screen make it disagree on real clips. It points to stretches to look at
and listen to; it is not proof.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.media.timebase import (
    MODEL_FPS,
    model_frame_start,
    model_frame_times,
    samples_per_model_frame,
)
from forensics_gui.core.progress import Progress, check_cancelled

VERSION = "lipsync-1"
SAMPLE_RATE = 16000
MAX_OFFSET_FRAMES = 15  # +-0.6 s at 25 fps
WINDOW_FRAMES = 25  # the sliding window, frames (1 s), centred on the frame
MIN_VALID_FRAMES = 16  # frames of the window (0.64 s) that must have both signals, else no value
BAND_HZ = (150.0, 4000.0)  # the speech band of the loudness
SILENT_DB = -120.0  # dB value of digital silence
LOUDNESS_RANGE_DB = 45.0  # loudness below (99th percentile - this) counts as the floor
MOUTH_STILL = 0.02  # std (inter-ocular units) of a mouth that does not move: the variance floor
LOUDNESS_FLAT_DB = 3.0  # std (dB) of sound that does not change: the variance floor
SPEECH_BELOW_PEAK_DB = 30.0  # a frame is speech when within this of the clip's loud speech ...
SPEECH_MIN_DB = -60.0  # ... and above this absolute level
MOUTH_MOVING = 0.03  # window std of the opening (inter-ocular units) that counts as moving
ACTIVE_FRACTION = 0.2  # speech frames in the window needed to compare
ZERO_AGREEMENT_LOW = 0.3  # agreement at offset 0 below this ...
ZERO_DROP = 0.3  # ... and this far below the clip's own typical (median) agreement = no agreement
SHIFT_MIN_FRAMES = 3  # a best offset this far from 0 (120 ms) ...
SHIFT_GAIN = 0.25  # ... that agrees this much better than offset 0 ...
SHIFT_MIN_AGREEMENT = 0.5  # ... and at least this well = shifted sound
WEAK_AGREEMENT = 0.2  # a clip whose typical agreement at offset 0 is below this: said so
MERGE_GAP_FRAMES = 6  # disagreeing runs this close are one stretch
MIN_STRETCH_FRAMES = 13  # shorter stretches (0.52 s) are not reported

_INNER_PAIRS = ((61, 67), (62, 66), (63, 65))


@dataclass
class LipSyncResult:
    """The mouth-and-voice measures of one clip on the 25 fps model grid (see the module doc)."""

    times_s: np.ndarray  # [T] float64, start of each model frame (timebase.model_frame_times)
    first_model_frame: int
    mouth_opening: np.ndarray  # [T] float32, inner-lip gap / eye distance (NaN where no face)
    loudness: np.ndarray  # [T] float32, speech-band RMS in dB re full scale (NaN past the sound)
    best_offset_frames: np.ndarray  # [T] int16, +-MAX_OFFSET; + = sound late
    agreement_best: np.ndarray  # [T] float32, correlation at that offset (NaN: not measurable)
    agreement_zero: np.ndarray  # [T] float32, correlation at offset 0 (NaN: not measurable)
    flagged: list[tuple[float, float]]  # stretches (s) where mouth and voice stop agreeing
    readings: list[str]  # one plain sentence per flagged stretch, then an overall one
    window_frames: int = WINDOW_FRAMES
    max_offset_frames: int = MAX_OFFSET_FRAMES
    disagreement: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """[T] float32, the per-frame "stop agreeing" score (higher = less agreement; NaN where
    nothing can be compared: no face, no speech and a still mouth)."""
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    """[T] bool, something to compare in the window (speech or a moving mouth)."""
    status: str = "measured"
    """"measured", or why not: "no face", "no sound", "silent", "too short"."""

    @property
    def flagged_frames(self) -> np.ndarray:
        """bool [T]: the frames inside a flagged stretch."""
        out = np.zeros(len(self.times_s), bool)
        for s, e in self.flagged:
            out |= (self.times_s >= s - 1e-9) & (self.times_s < e - 1e-9)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN -> None); :meth:`from_dict` reads it back."""
        return {
            "version": VERSION,
            "status": self.status,
            "fps": float(MODEL_FPS),
            "first_model_frame": int(self.first_model_frame),
            "window_frames": int(self.window_frames),
            "max_offset_frames": int(self.max_offset_frames),
            "times_s": _floats(self.times_s, 6),
            "mouth_opening": _floats(self.mouth_opening, 5),
            "loudness_db": _floats(self.loudness, 2),
            "best_offset_frames": [int(v) for v in self.best_offset_frames],
            "agreement_best": _floats(self.agreement_best, 4),
            "agreement_zero": _floats(self.agreement_zero, 4),
            "disagreement": _floats(self.disagreement, 4),
            "active": [bool(v) for v in self.active],
            "flagged": [[round(float(s), 4), round(float(e), 4)] for s, e in self.flagged],
            "readings": list(self.readings),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LipSyncResult:
        """Read :meth:`to_dict`'s output (ValueError when it is not one)."""
        try:
            first = int(d["first_model_frame"])
            n = len(d["mouth_opening"])
            times = model_frame_times(n, first)
            active = d.get("active")
            return cls(
                times_s=times, first_model_frame=first,
                mouth_opening=_array(d["mouth_opening"], n),
                loudness=_array(d["loudness_db"], n),
                best_offset_frames=np.asarray(d["best_offset_frames"], np.int16).reshape(n),
                agreement_best=_array(d["agreement_best"], n),
                agreement_zero=_array(d["agreement_zero"], n),
                flagged=[(float(s), float(e)) for s, e in d["flagged"]],
                readings=[str(r) for r in d["readings"]],
                window_frames=int(d.get("window_frames", WINDOW_FRAMES)),
                max_offset_frames=int(d.get("max_offset_frames", MAX_OFFSET_FRAMES)),
                disagreement=_array(d.get("disagreement", [None] * n), n),
                active=np.zeros(n, bool) if active is None else np.asarray(active, bool).reshape(n),
                status=str(d.get("status", "measured")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a mouth-and-voice result: {err}") from err


def _floats(a: np.ndarray, digits: int) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(a, np.float64)]


def _array(values: Any, n: int) -> np.ndarray:
    out = np.asarray([np.nan if v is None else float(v) for v in values], np.float32)
    if out.shape != (n,):
        raise ValueError(f"expected {n} values, got {out.shape[0]}")
    return out


# -- the two signals --------------------------------------------------------------------------

def mouth_opening(landmarks: np.ndarray, detected: np.ndarray | None = None) -> np.ndarray:
    """Inner-lip gap / distance between the eye centres, per frame (float32 [T]; NaN where the
    face was not detected or the landmarks are not finite)."""
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must be [T, 68, 2], not {list(lm.shape)}")
    gap = np.mean([np.linalg.norm(lm[:, a] - lm[:, b], axis=1) for a, b in _INNER_PAIRS], axis=0)
    eyes = np.linalg.norm(lm[:, 36:42].mean(axis=1) - lm[:, 42:48].mean(axis=1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(eyes > 1e-6, gap / eyes, np.nan)
    if detected is not None:
        out = np.where(np.asarray(detected, bool).reshape(-1), out, np.nan)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def loudness_db(audio_16k: np.ndarray, n_frames: int, first_model_frame: int = 0) -> np.ndarray:
    """Speech-band loudness (dB re full scale) of model frames ``first .. first + n_frames - 1``
    of 16 kHz mono samples that start at time 0 (float32 [n_frames]; NaN where a frame has less
    than half its samples).

    The band energy of each frame's 640 samples is read from their spectrum (real FFT, 25 Hz
    bins, the bins from 150 to 4000 Hz; by Parseval the mean square of the band-limited frame):
    no filter state, no delay, and nothing to import beyond numpy."""
    x = np.asarray(audio_16k, np.float32).reshape(-1)
    hop = samples_per_model_frame(SAMPLE_RATE)
    out = np.full(n_frames, np.nan, np.float32)
    start = first_model_frame * hop
    x = x[start:start + n_frames * hop]
    full = x.size // hop
    rest = x.size - full * hop
    m = min(n_frames, full + (1 if rest >= hop // 2 else 0))
    if m == 0:
        return out
    frames = np.zeros((m, hop), np.float32)
    frames.reshape(-1)[:min(x.size, m * hop)] = x[:m * hop]
    frames[~np.isfinite(frames)] = 0.0
    lo, hi = (int(np.ceil(f * hop / SAMPLE_RATE)) for f in BAND_HZ)
    db = np.empty(m)
    for a in range(0, m, 4096):  # bounded memory for long clips
        spec = np.fft.rfft(frames[a:a + 4096], axis=1)[:, lo:hi + 1]
        power = 2.0 * (np.abs(spec) ** 2).sum(axis=1) / hop ** 2  # mean square of the band
        # relative to a full-scale sine (mean square 1/2): 0 dB = full scale
        db[a:a + 4096] = 10.0 * np.log10(np.maximum(2.0 * power, 10 ** (SILENT_DB / 10)))
    out[:m] = db.astype(np.float32)
    return out


# -- the measure ------------------------------------------------------------------------------

def _window_sums(a: np.ndarray, half: int) -> np.ndarray:
    """Sum of ``a[..., i-half : i+half+1]`` (clipped to the array) for every i, along the last axis."""
    t = a.shape[-1]
    c = np.concatenate([np.zeros(a.shape[:-1] + (1,)), np.cumsum(a, axis=-1)], axis=-1)
    i = np.arange(t)
    lo = np.clip(i - half, 0, t)
    hi = np.clip(i + half + 1, 0, t)
    return np.asarray(c[..., hi] - c[..., lo])


def _agreement(x: np.ndarray, y: np.ndarray, window: int, max_offset: int) -> np.ndarray:
    """[2*max_offset+1, T] windowed, variance-floored correlation of x[i] with y[i+d]."""
    t = x.size
    offsets = np.arange(-max_offset, max_offset + 1)
    ypad = np.concatenate([np.full(max_offset, np.nan), y, np.full(max_offset, np.nan)])
    yd = np.stack([ypad[max_offset + d:max_offset + d + t] for d in offsets])
    xd = np.broadcast_to(x, yd.shape)
    m = np.isfinite(xd) & np.isfinite(yd)
    xm, ym = np.where(m, xd, 0.0), np.where(m, yd, 0.0)
    half = window // 2
    n = _window_sums(m.astype(np.float64), half)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = _window_sums(xm, half) / n
        my = _window_sums(ym, half) / n
        vx = np.maximum(_window_sums(xm * xm, half) / n - mx * mx, 0.0)
        vy = np.maximum(_window_sums(ym * ym, half) / n - my * my, 0.0)
        cov = _window_sums(xm * ym, half) / n - mx * my
        corr = cov / np.sqrt((vx + MOUTH_STILL ** 2) * (vy + LOUDNESS_FLAT_DB ** 2))
    corr[n < min(MIN_VALID_FRAMES, window)] = np.nan
    return np.asarray(corr)


def _disagreeing(zero: np.ndarray, best: np.ndarray, offset: np.ndarray,
                 active: np.ndarray) -> np.ndarray:
    """The rule (module doc): frames where mouth and voice stop agreeing."""
    ok = active & np.isfinite(zero) & np.isfinite(best)
    if not ok.any():
        return ok
    typical = float(np.median(zero[ok]))
    with np.errstate(invalid="ignore"):
        shifted = (np.abs(offset) >= SHIFT_MIN_FRAMES) & (best - zero >= SHIFT_GAIN) \
            & (best >= SHIFT_MIN_AGREEMENT)
        low = (zero < ZERO_AGREEMENT_LOW) & (zero < typical - ZERO_DROP)
        return ok & (low | shifted)


def _score(zero: np.ndarray, best: np.ndarray, offset: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The per-frame disagreement score (module doc); NaN where nothing can be compared."""
    gain = np.where(np.abs(offset) >= SHIFT_MIN_FRAMES, best - zero, 0.0)
    with np.errstate(invalid="ignore"):
        s = (1.0 - zero) + np.maximum(gain, 0.0)
    return np.where(active & np.isfinite(s), s, np.nan).astype(np.float32)


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """True runs of ``mask`` merged across gaps <= MERGE_GAP_FRAMES, at least MIN_STRETCH_FRAMES."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    runs = list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= MERGE_GAP_FRAMES:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged if b - a >= MIN_STRETCH_FRAMES]


def measure(landmarks: np.ndarray, detected: np.ndarray, audio_16k: np.ndarray,
            first_model_frame: int = 0) -> LipSyncResult:
    """The mouth-and-voice measures of a clip.

    ``landmarks``: [T, 68, 2] dlib points on the 25 fps model grid, frame ``i`` = model frame
    ``first_model_frame + i`` (interpolated or NaN where ``detected`` [T] is False);
    ``audio_16k``: the clip's 16 kHz mono samples from time 0 (may be empty: no sound).
    Never raises for what a clip holds (no face, no sound, silence): the result says so in
    ``status`` and ``readings``.
    """
    lm = np.asarray(landmarks, np.float64)
    t = int(lm.shape[0]) if lm.ndim == 3 else 0
    det = np.asarray(detected, bool).reshape(-1)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2) or det.shape[0] != t:
        raise ValueError(f"landmarks [T, 68, 2] and detected [T] expected, got {list(lm.shape)} "
                         f"and {list(det.shape)}")
    times = model_frame_times(t, first_model_frame)
    mouth = mouth_opening(lm, det) if t else np.zeros(0, np.float32)
    audio = np.asarray(audio_16k, np.float32).reshape(-1)
    loud = loudness_db(audio, t, first_model_frame)
    w, k = WINDOW_FRAMES, MAX_OFFSET_FRAMES

    finite_loud = loud[np.isfinite(loud)]
    ref = float(np.percentile(finite_loud, 99)) if finite_loud.size else SILENT_DB
    speech = np.isfinite(loud) & (loud > max(ref - SPEECH_BELOW_PEAK_DB, SPEECH_MIN_DB))
    y = np.where(np.isfinite(loud), np.maximum(loud, ref - LOUDNESS_RANGE_DB), np.nan)
    x = mouth.astype(np.float64)

    corr = _agreement(x, y, w, k) if t else np.zeros((2 * k + 1, 0))
    zero = corr[k]
    any_finite = np.isfinite(corr).any(axis=0)
    filled = np.where(np.isfinite(corr), corr, -np.inf)
    best_idx = np.where(any_finite, np.argmax(filled, axis=0), k)
    best = np.where(any_finite, corr[best_idx, np.arange(t)], np.nan)
    offset = (best_idx - k).astype(np.int16)

    half = w // 2
    speech_frac = _window_sums(speech.astype(np.float64), half) / w
    xm = np.where(np.isfinite(x), x, 0.0)
    nx = _window_sums(np.isfinite(x).astype(np.float64), half)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = _window_sums(xm, half) / nx
        sx = np.sqrt(np.maximum(_window_sums(xm * xm, half) / nx - mx * mx, 0.0))
    moving = np.isfinite(sx) & (sx > MOUTH_MOVING)
    active = (speech_frac >= ACTIVE_FRACTION) | moving

    status = "measured"
    if t == 0:
        status = "too short"
    elif not np.isfinite(mouth).any():
        status = "no face"
    elif audio.size == 0 or not np.isfinite(loud).any():
        status = "no sound"
    elif not speech.any():
        status = "silent"
    if status != "measured":
        active = np.zeros(t, bool)
    if status in ("no face", "no sound"):
        zero = np.full(t, np.nan)
        best = np.full(t, np.nan)
        offset = np.zeros(t, np.int16)

    bad = _disagreeing(zero, best, offset, active)
    runs = _stretches(bad)
    flagged = [(float(times[a]), float(times[b - 1] + model_frame_start(1))) for a, b in runs]
    result = LipSyncResult(
        times_s=times, first_model_frame=int(first_model_frame), mouth_opening=mouth,
        loudness=loud, best_offset_frames=offset, agreement_best=best.astype(np.float32),
        agreement_zero=zero.astype(np.float32), flagged=flagged, readings=[],
        window_frames=w, max_offset_frames=k, disagreement=_score(zero, best, offset, active),
        active=active, status=status)
    result.readings = _readings(result, runs, speech, moving)
    return result


# -- plain words ------------------------------------------------------------------------------

def _ms(frames: float) -> str:
    return f"{abs(frames) * model_frame_start(1) * 1000.0:.0f} ms"


def _readings(r: LipSyncResult, runs: list[tuple[int, int]], speech: np.ndarray,
              moving: np.ndarray) -> list[str]:
    """One sentence per flagged stretch, then one about the whole clip."""
    if r.status == "too short":
        return ["The clip has no video frames on the 25 fps grid, so the mouth cannot be "
                "compared with the voice."]
    if r.status == "no face":
        return ["No face was found, so the mouth cannot be compared with the voice."]
    if r.status == "no sound":
        return ["The clip has no sound, so the mouth cannot be compared with the voice."]
    if r.status == "silent":
        return ["The sound holds no speech loud enough to compare with the mouth (it is silent "
                "or nearly so)."]
    out = []
    for a, b in runs:
        seg = slice(a, b)
        off = r.best_offset_frames[seg]
        gain = (r.agreement_best - r.agreement_zero)[seg]
        med_off = float(np.median(off))
        when = f"From {r.times_s[a]:.2f} s to {r.times_s[b - 1] + model_frame_start(1):.2f} s"
        if abs(med_off) >= SHIFT_MIN_FRAMES and np.nanmedian(gain) >= SHIFT_GAIN \
                and np.mean(np.abs(off - med_off) <= 2) >= 0.5:
            side = "later" if med_off > 0 else "earlier"
            why = (f"the voice fits the lips best about {_ms(med_off)} {side}, as if the sound "
                   "were shifted")
        elif speech[seg].mean() >= 0.5 and moving[seg].mean() < 0.3:
            why = "there is speech while the mouth barely moves"
        elif speech[seg].mean() < 0.2 and moving[seg].mean() >= 0.5:
            why = "the mouth moves while there is no speech"
        else:
            why = ("the voice fits the lips at no offset within 0.6 s, as if the sound came "
                   "from another recording")
        out.append(f"{when} the mouth and the voice stop moving together: {why}.")
    measured = r.active & np.isfinite(r.agreement_zero)
    if not measured.any():
        out.append("Too little speech or mouth movement to compare the mouth with the voice.")
        return out
    flagged_s = model_frame_start(sum(b - a for a, b in runs))
    total_s = model_frame_start(int(measured.sum()))
    good = measured & ~r.flagged_frames
    level = float(np.median(r.agreement_zero[measured]))
    if not runs and level < WEAK_AGREEMENT:
        out.append(f"No stretch stands out ({total_s:.1f} s compared).")
    elif not runs:
        typical = int(np.median(r.best_offset_frames[measured]))
        lag = "" if typical == 0 else \
            f" (they fit best with the voice {_ms(typical)} {'later' if typical > 0 else 'earlier'})"
        out.append(f"The mouth opens and closes with the voice wherever both can be compared "
                   f"({total_s:.1f} s){lag}.")
    elif flagged_s >= 0.6 * total_s:
        out.append(f"The mouth and the voice disagree over most of what can be compared "
                   f"({flagged_s:.1f} of {total_s:.1f} s); this also happens on real clips when "
                   "the voice belongs to someone off screen, with several faces or profiles, or "
                   "with music under the speech.")
    else:
        agree = f"; in the other {model_frame_start(int(good.sum())):.1f} s nothing stands out" if good.any() else ""
        n = len(runs)
        out.append(f"The mouth and the voice stop moving together in {n} stretch{'es' if n > 1 else ''} "
                   f"({flagged_s:.1f} s in all){agree}.")
    if level < WEAK_AGREEMENT and flagged_s < 0.6 * total_s:
        out.append(f"Over the whole clip the mouth follows the voice only weakly (typical "
                   f"agreement {level:.2f}, where 1 means together and 0 unrelated), so this "
                   "lane says little here: the voice may belong to someone off screen, or there "
                   "may be several faces, profiles or music.")
    return out


# -- from a file ------------------------------------------------------------------------------

TrackSource = Callable[[Path, "Progress | None"], tuple[np.ndarray, np.ndarray]]
"""``track(path, progress) -> (landmarks [T, 68, 2], detected [T])`` on the 25 fps grid."""


def measure_clip(path: str | os.PathLike[str], *, preparation: str = "official",
                 progress: Progress | None = None, track: TrackSource | None = None) -> LipSyncResult:
    """:func:`measure` of a video file: its 16 kHz mono sound and its face track.

    ``track`` gives the landmarks (the ``sync`` command passes the pipeline's cached face track,
    :meth:`forensics_gui.core.pipeline.Analyzer.mouth_roi`, so a clip analysed before costs only
    the measure); by default they come from :func:`forensics_gui.core.face.roi.extract_mouth_roi`
    with ``preparation``. Raises MediaError for a file that is not a readable video, Cancelled.
    """
    from forensics_gui.core.errors import MediaError
    from forensics_gui.core.media import decode as media

    p = Path(path)
    info = media.probe(p)
    if info.video is None:
        raise MediaError(f"{p.name} has no video stream, so there is no mouth to compare with the "
                         "voice (the silence analysis still works).")
    audio = np.zeros(0, np.float32)
    if info.audio is not None:
        if progress is not None:
            progress.report("audio", 0, None)
        audio = media.decode_audio(p, sample_rate=SAMPLE_RATE, mono=True).samples[0]
    check_cancelled(progress)
    if track is None:
        from forensics_gui.core.face import roi

        def track(path: Path, prog: Progress | None) -> tuple[np.ndarray, np.ndarray]:
            res = roi.extract_mouth_roi(path, progress=prog, preparation=preparation)
            return res.landmarks, res.detected

    landmarks, detected = track(p, progress)
    check_cancelled(progress)
    if progress is not None:
        progress.report("mouth and voice", 0, 1)
    result = measure(landmarks, detected, audio)
    if progress is not None:
        progress.report("mouth and voice", 1, 1)
    return result
