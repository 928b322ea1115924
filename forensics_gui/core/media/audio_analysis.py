"""The viewer's audio analysis of one clip: decoded track, waveform peaks and silence sweeps (no Qt).

Computed once per clip in a worker thread; the leading silence at the user's tau is then measured
from the kept track with :meth:`AudioAnalysis.silence_at`, once per (clip, tau), and that one
:class:`~forensics_gui.core.media.silence.SilenceResult` is what every panel shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from forensics_gui.core.media.decode import AudioTrack, decode_audio
from forensics_gui.core.media.silence import (
    TABLE_DELTAS_MS,
    TABLE_TAUS,
    SilenceResult,
    leading_silence,
    max_amplitude_sweep,
    silence_sweep,
)
from forensics_gui.core.media.waveform import PeakPyramid
from forensics_gui.core.progress import Progress


@dataclass
class AudioAnalysis:
    """Decoded audio and its silence numbers.

    ``track`` is the AudioTrack (samples float32 [channels, N] in [-1, 1], native rate);
    ``pyramid`` the waveform peak pyramid; ``sweep_taus``/``sweep_ms`` the leading silence (ms)
    for each tau of :data:`~forensics_gui.core.media.silence.TABLE_TAUS`;
    ``deltas_ms``/``max_amplitudes`` the max |amplitude| within the first delta ms for each
    delta of :data:`~forensics_gui.core.media.silence.TABLE_DELTAS_MS`.
    """

    track: AudioTrack
    pyramid: PeakPyramid
    sweep_taus: list[float] = field(default_factory=list)
    sweep_ms: list[float] = field(default_factory=list)
    deltas_ms: list[float] = field(default_factory=list)
    max_amplitudes: list[float] = field(default_factory=list)

    def silence_at(self, threshold: float) -> SilenceResult:
        """The leading silence of the track at tau ``threshold`` ([-1, 1] amplitude)."""
        return leading_silence(self.track.samples, self.track.sample_rate, threshold)


def analyse_audio(path: str | Path, progress: Progress | None = None) -> AudioAnalysis:
    """Decode the audio of ``path`` at its native rate and compute the pyramid and silence sweeps."""
    track = decode_audio(path, progress=progress)
    pyramid = PeakPyramid(track.samples, track.sample_rate, track.start_time_s)
    taus = [float(t) for t in TABLE_TAUS]
    sweep_ms = silence_sweep(track.samples, track.sample_rate, np.asarray(taus))
    deltas = [float(d) for d in TABLE_DELTAS_MS]
    amps = max_amplitude_sweep(track.samples, track.sample_rate, np.asarray(deltas))
    return AudioAnalysis(track, pyramid, taus, [float(v) for v in sweep_ms], deltas,
                         [float(v) for v in amps])

