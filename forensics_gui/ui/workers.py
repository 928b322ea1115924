"""Background work: the frame decoder thread and the audio/silence/SHA-256 analysis worker.

Both are QThreads started once and stopped + joined by their owner (:meth:`stop`). The decoder
serves only the latest seek request: requests that arrive while a frame is being decoded
replace each other, so scrubbing never queues up stale work.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from forensics_gui.core.errors import Cancelled, ForensicsError

SWEEP_TAUS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01)
SWEEP_DELTAS_MS = (10.0, 20.0, 50.0, 100.0, 200.0)


class FrameDecoder(QThread):
    """Owns one VideoReader; decodes the frame at the latest requested time.

    ``frame_ready(token, index, time_s, image)``: ``image`` is an HxWx3 uint8 RGB array;
    ``token`` identifies the clip (see :meth:`open`) so frames of a previous clip are ignored.
    """

    frame_ready = Signal(int, int, float, object)
    frame_times_ready = Signal(int, object)  # token, np.ndarray of frame start times (seconds)
    failed = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._path: str | None = None
        self._token = 0
        self._request: float | None = None
        self._index_request: int | None = None
        self._stopping = False

    def open(self, path: str | None, token: int) -> None:
        """Switch to a new clip (``None`` closes the current one)."""
        with self._cond:
            self._path = path
            self._token = token
            self._request = None
            self._index_request = None
            self._cond.notify()

    def request(self, t: float) -> None:
        """Ask for the frame shown at ``t`` seconds; replaces any pending request."""
        with self._cond:
            self._request = float(t)
            self._index_request = None
            self._cond.notify()

    def request_index(self, index: int) -> None:
        """Ask for frame number ``index`` (0-based); replaces any pending request."""
        with self._cond:
            self._index_request = int(index)
            self._request = None
            self._cond.notify()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        from forensics_gui.core.media import VideoReader

        reader: Any = None
        reader_path: str | None = None
        times_sent = True
        while True:
            with self._cond:
                while (
                    not self._stopping
                    and self._request is None
                    and self._index_request is None
                    and self._path == reader_path
                ):
                    self._cond.wait()
                if self._stopping:
                    break
                path, token = self._path, self._token
                t, index = self._request, self._index_request
                self._request = self._index_request = None
            if path != reader_path:
                if reader is not None:
                    reader.close()
                reader, reader_path = None, path
                if path is not None:
                    try:
                        reader = VideoReader(path)
                        times_sent = False
                    except ForensicsError as err:
                        self.failed.emit(token, str(err))
                        continue
            if reader is None or (t is None and index is None):
                continue
            try:
                frame = reader.frame_by_index(index) if index is not None else reader.frame_at(t)
            except ForensicsError as err:
                self.failed.emit(token, str(err))
                continue
            except Exception as err:  # a decoder bug must not kill the thread
                self.failed.emit(token, f"Could not decode this frame ({err}).")
                continue
            self.frame_ready.emit(token, int(frame.index), float(frame.time_s), frame.image)
            if not times_sent:
                times_sent = True
                try:
                    self.frame_times_ready.emit(token, np.asarray(reader.frame_times(), np.float64))
                except ForensicsError as err:
                    self.failed.emit(token, str(err))
        if reader is not None:
            reader.close()


class _CancelFlag:
    """Progress object (core contract): a cancel flag plus an optional report callback."""

    def __init__(self, on_report: Any = None) -> None:
        self.event = threading.Event()
        self.on_report = on_report

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if self.on_report is not None:
            self.on_report(stage, done, total)

    def cancelled(self) -> bool:
        return self.event.is_set()


def analyse_audio(path: str, progress: Any = None) -> Any:
    """Decode the audio of ``path`` and compute the pyramid and silence sweeps (no Qt)."""
    from forensics_gui.core.media import decode_audio
    from forensics_gui.core.silence import max_amplitude_sweep, silence_sweep
    from forensics_gui.core.waveform import PeakPyramid
    from forensics_gui.ui.session import AudioAnalysis

    track = decode_audio(path, progress=progress)
    pyramid = PeakPyramid(track.samples, track.sample_rate, track.start_time_s)
    taus = list(SWEEP_TAUS)
    sweep_ms = [float(v) for v in
                np.asarray(silence_sweep(track.samples, track.sample_rate, np.asarray(taus)))]
    deltas = list(SWEEP_DELTAS_MS)
    amps = np.asarray(max_amplitude_sweep(track.samples, track.sample_rate, np.asarray(deltas)))
    return AudioAnalysis(track, pyramid, taus, sweep_ms, deltas, [float(v) for v in amps])


class AnalysisWorker(QThread):
    """Decodes the audio (+ pyramid + sweeps) then hashes the file, for one clip.

    Signals carry the clip ``token``. Errors become ``failed(token, stage, sentence)``.
    """

    audio_ready = Signal(int, object)  # AudioAnalysis
    sha256_ready = Signal(int, str)
    failed = Signal(int, str, str)
    progressed = Signal(int, str, float)  # token, stage, fraction done (-1 when unknown)

    def __init__(self, path: str, token: int, with_audio: bool, parent: Any = None) -> None:
        super().__init__(parent)
        self.path = path
        self.token = token
        self.with_audio = with_audio
        self._flag = _CancelFlag(self._report)
        self._last_fraction = -1.0

    def _report(self, stage: str, done: float, total: float | None) -> None:
        fraction = min(1.0, done / total) if total else -1.0
        if fraction < 0 or fraction >= 1.0 or fraction - self._last_fraction >= 0.02:
            self._last_fraction = fraction
            self.progressed.emit(self.token, stage, fraction)

    def cancel(self) -> None:
        self._flag.event.set()

    def stop(self) -> None:
        self.cancel()
        self.wait()

    def run(self) -> None:
        from forensics_gui.core.hashing import sha256_file

        if self._flag.cancelled():
            return
        if self.with_audio:
            try:
                analysis = analyse_audio(self.path, self._flag)
                if self._flag.cancelled():
                    return
                self.audio_ready.emit(self.token, analysis)
            except Cancelled:
                return
            except ForensicsError as err:
                self.failed.emit(self.token, "audio", str(err))
            except Exception as err:
                traceback.print_exc()
                self.failed.emit(self.token, "audio", f"Audio analysis failed ({err}).")
        if self._flag.cancelled():
            return
        try:
            digest = sha256_file(self.path, progress=self._flag)
        except Cancelled:
            return
        except (ForensicsError, OSError) as err:
            self.failed.emit(self.token, "sha256", str(err))
            return
        if not self._flag.cancelled():
            self.sha256_ready.emit(self.token, digest)
