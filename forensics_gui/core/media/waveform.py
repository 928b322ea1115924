"""A min/max peak pyramid for drawing long waveforms fast without losing peaks. No Qt.

The pyramid is built once from the samples. Each block's minimum and maximum are taken over all
channels (the per-sample min and max over channels), so the drawn envelope covers every channel.
Level ``k`` holds, for blocks of ``2**k`` samples, the block's minimum and maximum. Levels start
at ``2**FIRST_LEVEL`` samples per block, so the whole pyramid holds ``2 * N * (1/8 + 1/16 + ...)
= N / 2`` floats: half a mono track, a quarter of a stereo one. The samples themselves are kept
by reference (no copy) for the finest zoom, where raw samples are drawn.

:meth:`PeakPyramid.envelope` picks the coarsest level that still has at least ~2 blocks per
pixel, so every sample, including a single-sample spike, lies inside some drawn min/max pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIRST_LEVEL = 3  # blocks of 8 samples; below that, raw samples are drawn
MIN_BLOCKS_PER_PIXEL = 2.0


@dataclass(frozen=True)
class Envelope:
    """Per-bucket waveform envelope over a time window.

    ``times`` are bucket start times in seconds (media time), ``mins``/``maxs`` are amplitudes
    (full scale = 1.0). ``samples_per_bucket`` is 1 when raw samples are returned.
    """

    times: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    samples_per_bucket: int

    def polyline(self) -> tuple[np.ndarray, np.ndarray]:
        """Interleaved (x, y) polyline: min then max for each bucket (raw samples stay single)."""
        return interleave(self.times, self.mins, self.maxs, self.samples_per_bucket)


def interleave(
    times: np.ndarray, mins: np.ndarray, maxs: np.ndarray, samples_per_bucket: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Return x, y arrays alternating min and max of each bucket (length 2n; n for raw samples)."""
    if samples_per_bucket == 1:
        return times, maxs
    x = np.repeat(times, 2)
    y = np.empty(2 * len(mins), dtype=np.float32)
    y[0::2] = mins
    y[1::2] = maxs
    return x, y


def _reduce_pairs(mins: np.ndarray, maxs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Halve a level: min/max of consecutive pairs (an odd last block stands alone)."""
    n = len(mins)
    even = n - (n % 2)
    new_min = np.minimum(mins[0:even:2], mins[1:even:2])
    new_max = np.maximum(maxs[0:even:2], maxs[1:even:2])
    if n % 2:
        new_min = np.append(new_min, mins[-1])
        new_max = np.append(new_max, maxs[-1])
    return new_min, new_max


def _block_reduce(x: np.ndarray, block: int, op: np.ufunc) -> np.ndarray:
    """``op`` (np.minimum / np.maximum) over consecutive ``block``-sample blocks of ``x``.

    The last partial block is included.
    """
    starts = np.arange(0, len(x), block)
    return op.reduceat(x, starts).astype(np.float32, copy=False)


class PeakPyramid:
    """Min/max pyramid over an audio track.

    ``samples``: float array, shape ``[N]`` or ``[channels, N]``, full scale 1.0.
    ``sample_rate``: samples per second. ``start_time_s``: media time of sample 0 in seconds.
    """

    def __init__(self, samples: np.ndarray, sample_rate: int, start_time_s: float = 0.0) -> None:
        samples = np.asarray(samples)
        if samples.ndim == 1:
            samples = samples[np.newaxis, :]
        if samples.ndim != 2:
            raise ValueError("samples must have shape [N] or [channels, N]")
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.sample_rate = int(sample_rate)
        self.start_time_s = float(start_time_s)
        self.n_samples = int(samples.shape[1])
        self._samples = samples  # kept by reference (no copy) for the raw-sample zoom level
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []  # index i -> block 2**(FIRST_LEVEL+i)
        if self.n_samples == 0:
            return
        mins, maxs = _reduce_chunked(samples, 1 << FIRST_LEVEL)
        self.levels.append((mins, maxs))
        while len(mins) > 1:
            mins, maxs = _reduce_pairs(mins, maxs)
            self.levels.append((mins, maxs))

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def nbytes(self) -> int:
        """Bytes held by the pyramid levels (excluding the raw samples)."""
        return sum(a.nbytes + b.nbytes for a, b in self.levels)

    def block_size(self, level: int) -> int:
        """Samples per block at pyramid level index ``level`` (0 = first stored level)."""
        return 1 << (FIRST_LEVEL + level)

    def envelope(self, t0: float, t1: float, n_pixels: int) -> Envelope:
        """Envelope of the window ``[t0, t1]`` seconds for a plot ``n_pixels`` wide.

        Chooses the coarsest level with at least ~2 blocks per pixel; returns raw samples when
        even the finest level is too coarse. Times are clipped to the track.
        """
        n_pixels = max(1, int(n_pixels))
        sr = self.sample_rate
        s0 = int(np.floor((t0 - self.start_time_s) * sr))
        s1 = int(np.ceil((t1 - self.start_time_s) * sr)) + 1
        s0 = min(max(0, s0), self.n_samples)
        s1 = min(max(s0, s1), self.n_samples)
        span = s1 - s0
        empty = np.zeros(0, dtype=np.float32)
        if span <= 0:
            return Envelope(empty.astype(np.float64), empty, empty, 1)
        samples_per_pixel = span / n_pixels
        level = -1
        for i in range(len(self.levels)):
            if samples_per_pixel / self.block_size(i) >= MIN_BLOCKS_PER_PIXEL:
                level = i
            else:
                break
        if level < 0:
            times = self.start_time_s + np.arange(s0, s1, dtype=np.float64) / sr
            raw = self._samples[:, s0:s1]
            if raw.shape[0] == 1:
                lo = hi = raw[0].astype(np.float32, copy=False)
            else:
                lo, hi = raw.min(axis=0).astype(np.float32), raw.max(axis=0).astype(np.float32)
            return Envelope(times, lo, hi, 1)
        block = self.block_size(level)
        b0 = s0 // block
        b1 = -(-s1 // block)
        mins, maxs = self.levels[level]
        block_times = self.start_time_s + np.arange(b0, b1, dtype=np.float64) * (block / sr)
        return Envelope(block_times, mins[b0:b1], maxs[b0:b1], block)


def _reduce_chunked(
    samples: np.ndarray, block: int, chunk_blocks: int = 1 << 18
) -> tuple[np.ndarray, np.ndarray]:
    """First level from ``samples`` [channels, N]: min/max over channels and ``block``-sample
    blocks, computed in chunks so the temporary memory stays small (a few MB)."""
    n = samples.shape[1]
    n_blocks = -(-n // block)
    mins = np.empty(n_blocks, dtype=np.float32)
    maxs = np.empty(n_blocks, dtype=np.float32)
    step = chunk_blocks * block
    for start in range(0, n, step):
        stop = min(n, start + step)
        chunk = samples[:, start:stop]
        lo = chunk[0] if chunk.shape[0] == 1 else chunk.min(axis=0)
        hi = chunk[0] if chunk.shape[0] == 1 else chunk.max(axis=0)
        m = _block_reduce(lo, block, np.minimum)
        x = _block_reduce(hi, block, np.maximum)
        b = start // block
        mins[b : b + len(m)] = m
        maxs[b : b + len(x)] = x
    return mins, maxs
