"""Landmark worker processes: :func:`forensics_gui.core.face.roi.extract_mouth_roi` sends frames to
child processes computing the "official" landmarks, to use more than one core
(:func:`pooled_landmarks`; :func:`landmark_processes` says when).

Started as ``python -m forensics_gui.core.face.landmark_worker`` (a plain subprocess, not
multiprocessing: nothing of the parent's ``__main__`` runs again here). Protocol on binary
pipes, little-endian: the child writes ``b"R"`` when its models are loaded; then for each
request ``HEADER`` (height, width, hint level or -1) and height * width * 3 RGB bytes, it answers
``RESULT`` (face found 0/1, pyramid level of the face or -1), then, when found, the 68 points as
int32 (x, y) and the box as float32 x0, y0, x1, y1. End of input ends the child.

Why not :mod:`forensics_gui.core.children`'s spawn child and queues: this is a pool fed frame by
frame (a 720p frame is 2.7 MB, about 15 per second per worker), so the frames go as raw bytes on
a pipe, written by a thread, without pickling them or a queue's feeder thread; the workers live
only for one clip's landmarks. It shares the rest of the idiom: :func:`child_process_supported`
(no pool in a frozen build) and :func:`stop_child` (ask, wait, terminate, kill, reap).
"""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterator
from typing import IO

import numpy as np

from forensics_gui.core.children import child_process_supported, stop_child
from forensics_gui.core.face.landmarks import FaceTracker, FrameLandmarks

HEADER = struct.Struct("<iii")
RESULT = struct.Struct("<ii")
POINTS_BYTES = 68 * 2 * 4
BOX_BYTES = 4 * 4


def read_exact(stream: IO[bytes], n: int) -> bytes | None:
    """``n`` bytes from ``stream``, or None at end of input."""
    chunks, got = [], 0
    while got < n:
        block = stream.read(n - got)
        if not block:
            return None
        chunks.append(block)
        got += len(block)
    return b"".join(chunks)


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Answer requests from ``inp`` on ``out`` until ``inp`` ends (see the module docstring)."""
    from forensics_gui.core.face.landmarks import preload_models

    preload_models()
    out.write(b"R")
    out.flush()
    tracker: FaceTracker | None = None
    while True:
        head = read_exact(inp, HEADER.size)
        if head is None:
            return
        h, w, hint = HEADER.unpack(head)
        data = read_exact(inp, h * w * 3)
        if data is None:
            return
        rgb = np.frombuffer(data, np.uint8).reshape(h, w, 3)
        if tracker is None or (tracker.width, tracker.height) != (w, h):
            tracker = FaceTracker((w, h), preparation="official")
        tracker.exact.level = None if hint < 0 else hint
        res = tracker.process(rgb)
        level = tracker.exact.level
        found = res.points is not None and res.box is not None
        out.write(RESULT.pack(int(found), -1 if level is None else int(level)))
        if found:
            assert res.points is not None and res.box is not None
            out.write(np.ascontiguousarray(res.points, "<i4").tobytes())
            out.write(np.ascontiguousarray(res.box, "<f4").tobytes())
        out.flush()


POOL_MIN_PIXELS = 640 * 360  # below this the official detection is cheap: one process does it
POOL_MIN_FRAMES = 100  # starting the processes (~1-2 s: imports, model) pays off from ~4 s
POOL_MIN_CORES = 4
MAX_PROCESSES = 4


def landmark_processes(requested: int | None, *, workers: int, preparation: str, official: bool,
                       size: tuple[int, int], frames: int) -> int:
    """How many worker processes run the "official" landmarks (0 = in this process).

    ``requested`` None = automatic: one per core (at most :data:`MAX_PROCESSES`) for the default
    preparation on frames of 640x360 and more and clips of ``POOL_MIN_FRAMES`` frames and more,
    when ``workers`` >= 2 and there are ``POOL_MIN_CORES`` cores or more; never in a frozen app.
    The landmarks do not depend on it (every frame's detection is exact on its own). On the
    2-core development machine two workers gave 14-17 fps against 11-13.5 in-process (720p)
    when it was otherwise idle, but 9-11 against 11-11.5 while another job used a core: with
    only 2 cores the decode and the workers compete, so automatic use starts at 4 cores.
    """
    if preparation != "official" or official or not child_process_supported():
        return 0
    if requested is not None:
        return max(0, int(requested))
    cores = os.cpu_count() or 1
    if workers < 2 or cores < POOL_MIN_CORES or size[0] * size[1] < POOL_MIN_PIXELS \
            or frames < POOL_MIN_FRAMES:
        return 0
    return min(cores, MAX_PROCESSES)


class _Worker:
    """One ``landmark_worker`` child; requests are written by a thread (a 720p frame does not
    fit a pipe buffer, and the child reads it only when the previous frame is done)."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forensics_gui.core.face.landmark_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.requests: queue.Queue[bytes | None] = queue.Queue()
        self.thread = threading.Thread(target=self._write, name="landmark-worker-writer",
                                       daemon=True)
        self.thread.start()
        self.ready = False

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (data := self.requests.get()) is not None:
                stdin.write(data)
                stdin.flush()
            stdin.close()
        except (OSError, ValueError):
            pass

    def submit(self, rgb: np.ndarray, hint: int | None) -> None:
        h, w = rgb.shape[:2]
        self.requests.put(HEADER.pack(h, w, -1 if hint is None else int(hint))
                          + np.ascontiguousarray(rgb, np.uint8).tobytes())

    def result(self) -> tuple[FrameLandmarks, int | None]:
        """The next answer; RuntimeError when the child is gone."""
        out = self.proc.stdout
        assert out is not None
        if not self.ready:
            if read_exact(out, 1) != b"R":
                raise RuntimeError("landmark worker did not start")
            self.ready = True
        head = read_exact(out, RESULT.size)
        if head is None:
            raise RuntimeError("landmark worker stopped")
        found, level = RESULT.unpack(head)
        pts = box = None
        if found:
            data = read_exact(out, POINTS_BYTES + BOX_BYTES)
            if data is None:
                raise RuntimeError("landmark worker stopped")
            pts = np.frombuffer(data[:POINTS_BYTES], "<i4").reshape(68, 2).astype(np.int32)
            box = np.frombuffer(data[POINTS_BYTES:], "<f4").astype(np.float32)
        return FrameLandmarks(pts, box), (None if level < 0 else level)

    def close(self, kill: bool = False) -> None:
        """End the child: at once with ``kill``, else after it has read the end of input (at most
        5 s)."""
        self.requests.put(None)
        stop_child(self.proc, grace_s=0.0 if kill else 5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.thread.join(timeout=5)


def pooled_landmarks(frames: Iterator[tuple[int, float, np.ndarray]], processes: int
                      ) -> Generator[tuple[int, float, np.ndarray, FrameLandmarks]]:
    """(k, t, rgb, landmarks) in frame order, the detection running in ``processes`` worker
    processes (frame k in worker k mod processes), two frames per worker in flight. Frame k is
    scanned from the pyramid level found in frame k - 2 * processes (deterministic for a given
    count). If a worker fails, the remaining frames are done in this process."""
    depth = 2 * processes
    pool: list[_Worker] | None = [_Worker() for _ in range(processes)]
    local: FaceTracker | None = None
    pending: deque[tuple[int, float, np.ndarray, int | None]] = deque()
    hint: int | None = None
    done = False

    def finish() -> tuple[int, float, np.ndarray, FrameLandmarks]:
        nonlocal hint, local, pool
        k, t, rgb, own_hint = pending.popleft()
        if pool is not None:
            try:
                res, hint = pool[k % processes].result()
                return k, t, rgb, res
            except (RuntimeError, OSError):
                for w in pool:
                    w.close(kill=True)
                pool = None
        if local is None:
            local = FaceTracker((int(rgb.shape[1]), int(rgb.shape[0])), preparation="official")
        local.exact.level = own_hint
        res = local.process(rgb)
        hint = local.exact.level
        return k, t, rgb, res

    try:
        for k, t, rgb in frames:
            while len(pending) >= depth:
                yield finish()
            if pool is not None:
                pool[k % processes].submit(rgb, hint)
            pending.append((k, t, rgb, hint))
        while pending:
            yield finish()
        done = True
    finally:
        for w in pool or []:
            w.close(kill=not done)


def main() -> None:
    # the answers get their own copy of stdout; anything a library prints goes to stderr
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
