"""Background work: the frame decoder thread and the audio/silence/SHA-256 analysis worker.

Both are QThreads started once and stopped + joined by their owner (:meth:`stop`).
:class:`CancelFlag` and :class:`SignalProgress` adapt the core's progress/cancel contract to Qt
signals for every worker of the viewer (audio, AVH-Align analysis, training). The decoder
serves only the latest seek request: requests that arrive while a frame is being decoded
replace each other, so scrubbing never queues up stale work.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QThread, Signal

from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.media.audio_analysis import analyse_audio


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
        from forensics_gui.core.media.decode import VideoReader

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


REPORT_INTERVAL_S = 0.1  # at most ~10 progress signals per second within one stage


class CancelFlag:
    """A thread-safe "please stop" that the GUI thread sets and the core polls.

    It is also a complete core Progress object (reports nowhere), for work that only needs Cancel.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        """Progress is not shown."""


class EtaClock(Protocol):
    def eta_s(self, stage: str, done: float, total: float | None) -> float | None: ...


class SignalProgress:
    """The core's Progress protocol (``report``/``cancelled``) for a worker thread.

    ``report`` computes the stage's ETA (seconds, with ``clock``: a core StageClock unless given)
    and calls ``emit(stage, done, total, eta_s)`` — usually a signal's ``emit`` — at most every
    ``interval_s`` seconds within a stage, always for a new stage and for the last unit of work;
    ``total`` and ``eta_s`` are -1.0 when unknown. ``cancelled`` reads ``flag``.
    """

    def __init__(self, emit: Callable[[str, float, float, float], Any], flag: CancelFlag,
                 clock: EtaClock | None = None, interval_s: float = REPORT_INTERVAL_S) -> None:
        from forensics_gui.core.progress import StageClock

        self.emit = emit
        self.flag = flag
        self.clock: EtaClock = clock if clock is not None else StageClock()
        self.interval_s = interval_s
        self._last_stage = ""
        self._last_emit = 0.0

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        eta = self.clock.eta_s(stage, done, total)
        now = time.monotonic()
        finished = total is not None and done >= total
        if stage == self._last_stage and not finished and now - self._last_emit < self.interval_s:
            return
        self._last_stage, self._last_emit = stage, now
        self.emit(stage, float(done), -1.0 if total is None else float(total),
                  -1.0 if eta is None else float(eta))

    def cancelled(self) -> bool:
        return self.flag.cancelled()


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
        self._flag = CancelFlag()
        self._progress = SignalProgress(self._emit_progress, self._flag)

    def _emit_progress(self, stage: str, done: float, total: float, eta_s: float) -> None:
        self.progressed.emit(self.token, stage, min(1.0, done / total) if total > 0 else -1.0)

    def cancel(self) -> None:
        self._flag.cancel()

    def stop(self) -> None:
        self.cancel()
        self.wait()

    def run(self) -> None:
        from forensics_gui.core.files.hashing import sha256_file

        if self._flag.cancelled():
            return
        if self.with_audio:
            try:
                analysis = analyse_audio(self.path, self._progress)
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
            digest = sha256_file(self.path, progress=self._progress)
        except Cancelled:
            return
        except (ForensicsError, OSError) as err:
            self.failed.emit(self.token, "sha256", str(err))
            return
        if not self._flag.cancelled():
            self.sha256_ready.emit(self.token, digest)
