"""Leading digital silence: how long a clip's audio stays below an amplitude threshold tau.

In FakeAVCeleb and AV-Deepfake1M, fake videos start with ~25-30 ms of (near) digital silence while
real ones start with room noise; one feature, the length of that silence, separates them with
AUC > 98 %. It is a dataset artefact, not proof of manipulation. The display default tau
(:data:`DEFAULT_THRESHOLD`, 0.0005 on the [-1, 1] scale) is the value AVH-Align uses to trim the
silence; the user may change it. AVH-Align's ``--trimmed`` variant uses its own FIXED rule,
:data:`OFFICIAL_TRIM_THRESHOLD`, whatever tau the display uses, so trimmed scores match the paper.

This module owns everything about tau: the default, the one validity rule
(:func:`validate_threshold`, used by the CLI, the settings and the viewer's tau control), the sweep
grids, the analysis and the verdict text.

All functions work on native-rate samples, float ``[channels, N]`` (or ``[N]``) in [-1, 1]; a
sample counts as sound when ANY channel's ``|x|`` exceeds tau.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from forensics_gui.core.media.timebase import samples_to_ms

DEFAULT_THRESHOLD = 0.0005  # the display tau until the user changes it, [-1, 1] amplitude scale
# AVH-Align's --trimmed rule: trim up to the first 16 kHz mono sample with |x| > 0.0005 (float
# [-1, 1] scale). Fixed by the paper's code, independent of the display tau even though equal today.
OFFICIAL_TRIM_THRESHOLD = 0.0005
THRESHOLD_RULE = "a number greater than 0 and less than 1 (an amplitude on the [-1, 1] scale)"
TRIM_RULE = (f"AVH-Align's official fixed rule: trim up to the first 16 kHz mono sample with "
             f"|x| > {OFFICIAL_TRIM_THRESHOLD:g}")

SWEEP_THRESHOLDS = np.logspace(-5, -1, 41)  # tau values for silence_sweep (amplitude)
SWEEP_DELTAS_MS = np.arange(5.0, 205.0, 5.0)  # delta values for max_amplitude_sweep (ms)
# The viewer's sweep table: the 1-2-5 steps of its tau control from 1e-4 to 1e-2 (amplitude) ...
TABLE_TAUS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01)
# ... and five windows picked from SWEEP_DELTAS_MS (ms), so the table agrees with `silence --json`.
TABLE_DELTAS_MS = (10.0, 20.0, 50.0, 100.0, 200.0)

NONE_BELOW_MS = 1.0  # shorter than this counts as "no leading silence"
FAKE_BAND_MS = (20.0, 40.0)  # where the fakes of FakeAVCeleb / AV-Deepfake1M fall (~25-30 ms)

_FIRST_CHUNK = 1 << 14  # samples scanned first: the answer is nearly always in the first second


def validate_threshold(value: float | str) -> float:
    """``value`` as a tau (float, [-1, 1] amplitude) if it is valid, else ValueError (one sentence).

    The one rule for every entry point: finite, greater than 0 and less than 1.
    """
    try:
        tau = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The silence threshold {value!r} is not a number; use {THRESHOLD_RULE}, "
                         f"e.g. {DEFAULT_THRESHOLD:g}.") from None
    if not (math.isfinite(tau) and 0.0 < tau < 1.0):
        raise ValueError(f"The silence threshold {value!r} is out of range; use {THRESHOLD_RULE}, "
                         f"e.g. {DEFAULT_THRESHOLD:g}.")
    return tau


@dataclass(frozen=True)
class SilenceResult:
    """The leading silence of one track."""

    leading_silence_ms: float  # time before the first sound sample, milliseconds
    first_sound_sample: int  # index of the first sample above tau (= N when all silent)
    threshold: float  # tau, [-1, 1] amplitude
    sample_rate: int  # Hz
    all_silent: bool  # no sample of the track exceeds tau
    duration_ms: float  # length of the analysed track, milliseconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_2d(samples: Any, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """Accept an AudioTrack-like object (``.samples``, ``.sample_rate``) or an array."""
    if hasattr(samples, "samples") and hasattr(samples, "sample_rate"):
        sample_rate = sample_rate or int(samples.sample_rate)
        samples = samples.samples
    if not sample_rate or sample_rate <= 0:
        raise ValueError("sample_rate must be a positive number of samples per second")
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError("samples must be [N] or [channels, N]")
    return x, int(sample_rate)


def _first_above(x: np.ndarray, threshold: float) -> int:
    """Index of the first sample where any channel's |x| exceeds ``threshold`` (N if none)."""
    n = x.shape[1]
    start, chunk = 0, _FIRST_CHUNK
    while start < n:
        block = x[:, start:start + chunk]
        hit = (np.abs(block) > threshold).any(axis=0)
        if hit.any():
            return start + int(np.argmax(hit))
        start += block.shape[1]
        chunk = min(chunk * 4, 1 << 22)  # grow, but keep temporary arrays bounded
    return n


def leading_silence(track_or_samples: Any, sample_rate: int | None = None,
                    threshold: float = DEFAULT_THRESHOLD) -> SilenceResult:
    """Leading silence of ``track_or_samples`` (an AudioTrack or float ``[C, N]`` / ``[N]``).

    ``sample_rate`` (Hz) is required for a bare array; ``threshold`` is tau on the [-1, 1] scale.
    A user's tau is checked where it enters (:func:`validate_threshold`); the measurement itself
    is defined for any tau >= 0 (0: the first non-zero sample), which analyses may use.
    """
    if threshold < 0:
        raise ValueError("the threshold must not be negative")
    x, sr = _as_2d(track_or_samples, sample_rate)
    n = x.shape[1]
    first = _first_above(x, threshold)
    return SilenceResult(leading_silence_ms=samples_to_ms(first, sr), first_sound_sample=first,
                         threshold=float(threshold), sample_rate=sr, all_silent=first >= n,
                         duration_ms=samples_to_ms(n, sr))


def _running_peak(x: np.ndarray, limit: float | None = None, max_len: int | None = None) -> np.ndarray:
    """Running maximum of |x| over channels and time from the start.

    Stops early once the peak exceeds ``limit`` (later values cannot change an answer below it)
    or after ``max_len`` samples.
    """
    n = x.shape[1] if max_len is None else min(x.shape[1], max_len)
    parts: list[np.ndarray] = []
    peak, start, chunk = 0.0, 0, _FIRST_CHUNK
    while start < n:
        block = np.abs(x[:, start:min(n, start + chunk)]).max(axis=0)
        run = np.maximum.accumulate(np.maximum(block, peak))
        parts.append(run)
        peak = float(run[-1])
        start += len(block)
        chunk = min(chunk * 4, 1 << 22)
        if limit is not None and peak > limit:
            break
    return np.concatenate(parts) if parts else np.zeros(0)


def silence_sweep(samples: Any, sample_rate: int | None = None,
                  thresholds: np.ndarray | None = None) -> np.ndarray:
    """Leading silence in ms for each threshold tau (default :data:`SWEEP_THRESHOLDS`).

    Non-decreasing in tau. A track that never exceeds tau gives its whole duration.
    """
    x, sr = _as_2d(samples, sample_rate)
    taus = np.asarray(SWEEP_THRESHOLDS if thresholds is None else thresholds, dtype=np.float64)
    if taus.size == 0:
        return np.zeros(0)
    peak = _running_peak(x, limit=float(taus.max()))
    first = np.searchsorted(peak, taus, side="right")  # first index with peak > tau
    first = np.where(first >= len(peak), x.shape[1], first)
    return first * 1000.0 / sr


def max_amplitude_sweep(samples: Any, sample_rate: int | None = None,
                        deltas_ms: np.ndarray | None = None) -> np.ndarray:
    """Maximum |x| (any channel) within the first delta ms, for each delta (default
    :data:`SWEEP_DELTAS_MS`). Non-decreasing in delta; 0 for an empty window."""
    x, sr = _as_2d(samples, sample_rate)
    deltas = np.asarray(SWEEP_DELTAS_MS if deltas_ms is None else deltas_ms, dtype=np.float64)
    if deltas.size == 0:
        return np.zeros(0)
    counts = np.ceil(deltas * sr / 1000.0 - 1e-9).astype(np.int64)
    peak = _running_peak(x, max_len=int(counts.max()))
    if len(peak) == 0:
        return np.zeros(len(deltas))
    idx = np.clip(counts - 1, 0, len(peak) - 1)
    return np.where(counts > 0, peak[idx], 0.0)


def summary_line(result: SilenceResult) -> str:
    """One line about ``result`` for a summary: length, tau and the caveat (plain text)."""
    return (f"{result.leading_silence_ms:.1f} ms at tau {result.threshold:g} (fake clips of "
            "FakeAVCeleb and AV-Deepfake1M start with ~25-30 ms of digital silence; silence "
            "alone proves nothing)")


TRIMMED_RULE_NOTE = (f"The trimmed variant uses AVH-Align's official fixed {OFFICIAL_TRIM_THRESHOLD:g} "
                     "rule, whatever tau the display uses.")


def verdict(result: SilenceResult) -> str:
    """A short plain-language reading of ``result`` with its caveat."""
    ms = result.leading_silence_ms
    lo, hi = FAKE_BAND_MS
    if result.all_silent:
        return ("The whole audio track is digital silence (nothing above the threshold), "
                "so the leading-silence cue cannot be used.")
    if ms < NONE_BELOW_MS:
        return ("No leading silence: the audio starts with sound at once, as real videos in "
                "FakeAVCeleb and AV-Deepfake1M do. This alone does not prove the clip is authentic.")
    if ms < lo:
        return (f"Short leading silence ({ms:.1f} ms), below the ~25-30 ms typical of fake videos "
                "in FakeAVCeleb and AV-Deepfake1M; inconclusive on its own.")
    if ms <= hi:
        return (f"Leading silence of {ms:.1f} ms, in the {lo:.0f}-{hi:.0f} ms band typical of fake "
                "videos in FakeAVCeleb and AV-Deepfake1M (a one-feature rule on it reaches AUC > "
                "98 % there). It is a dataset artefact, not proof of manipulation.")
    return (f"Long leading silence ({ms:.1f} ms): longer than the fake-typical ~25-30 ms; most "
            "likely a pause before the sound or an edited (trimmed) start. Not evidence either way.")
