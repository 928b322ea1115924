"""Background work of the player: the frame decoder thread and the clip-info worker (audio,
silence sweeps, SHA-256).

The decoder is a long-lived QThread that serves only the latest seek request: requests that
arrive while a frame is being decoded replace each other, so scrubbing never queues up stale
work; its owner stops and joins it (:meth:`FrameDecoder.stop`, or
:class:`~forensics_gui.ui.worker_base.RetiredThreads`). :class:`ClipInfoWorker` is one job in
the viewer's one worker idiom (:class:`~forensics_gui.ui.worker_base.Worker`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.media.audio_analysis import analyse_audio
from forensics_gui.core.progress import check_cancelled
from forensics_gui.ui.worker_base import Worker

log = logging.getLogger(__name__)


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

    def cancel(self) -> None:
        """Ask the thread to finish (it ends after the frame being decoded)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def stop(self) -> None:
        """Ask the thread to finish and wait for it."""
        self.cancel()
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


class ClipInfoWorker(Worker):
    """The info panel's facts about one clip: checks that the whole file is there, decodes the
    audio (peak pyramid + silence sweeps), then hashes the file.

    ``integrity_ready(token, Integrity)`` first (stated against readable duration; skipped when
    the check itself fails), ``partial(token, AudioAnalysis)`` when the audio is ready (``audio_failed(token, sentence)``
    when it cannot be decoded: the hash still follows), then ``finished(token, sha256 hex)``, or
    ``failed(token, sentence)`` when the file cannot be hashed.
    """

    audio_failed = Signal(int, str)
    integrity_ready = Signal(int, object)
    what = "Reading the clip"

    def __init__(self, path: str, token: int, with_audio: bool) -> None:
        super().__init__(token)
        self.path = path
        self.with_audio = with_audio

    def work(self) -> str:
        from forensics_gui.core.files.hashing import sha256_file
        from forensics_gui.core.media.integrity import check_integrity

        try:
            self.integrity_ready.emit(self.token, check_integrity(self.path, progress=self.progress))
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - the check is a bonus: the rest still follows
            log.warning("integrity check failed: %s", err)
        check_cancelled(self.progress)
        if self.with_audio:
            try:
                analysis = analyse_audio(self.path, self.progress)
                check_cancelled(self.progress)
                self.partial.emit(self.token, analysis)
            except ForensicsError as err:
                self.audio_failed.emit(self.token, str(err))
            except Cancelled:
                raise
            except Exception as err:  # the hash still follows
                log.error("audio analysis failed", exc_info=err)
                self.audio_failed.emit(self.token, f"Audio analysis failed ({err}).")
        check_cancelled(self.progress)
        return sha256_file(self.path, progress=self.progress)

    def explain(self, err: Exception) -> str:
        if isinstance(err, OSError):
            return str(err)
        return super().explain(err)
