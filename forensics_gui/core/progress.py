"""The progress/cancel contract shared by every long core function.

A long function takes ``progress: Progress | None``; it calls ``progress.report(stage, done, total)``
between units of work and ``check_cancelled(progress)`` between batches. The core never touches a
Qt signal: the GUI worker adapts this object to signals, the CLI prints a bar on stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

from forensics_gui.core.errors import Cancelled


class Progress(Protocol):
    def report(self, stage: str, done: float, total: float | None = None) -> None:
        """``stage`` is a short user-facing name ("decode", "landmarks", ...); ``total`` None = unknown."""

    def cancelled(self) -> bool:
        """True once the user asked to stop."""


class NullProgress:
    """Reports nowhere and never cancels."""

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        pass

    def cancelled(self) -> bool:
        return False


def check_cancelled(progress: Progress | None) -> None:
    """Raise :class:`Cancelled` if the user asked to stop."""
    if progress is not None and progress.cancelled():
        raise Cancelled()


class ClipRunProgress:
    """Progress of a run over ``total`` clips, reported to ``outer`` as ``(stage, clips_done, total)``.

    Clip ``i`` spans ``i .. i+1``: the first half is its preparation (face tracking, reported by
    :meth:`waiting` as a fraction 0..1), the second half the encoder (:meth:`for_clip` gives the
    Progress to pass to it). Nothing is reported after the run reached ``total``, so a console
    bar ends once. Cancel requests come from ``outer``.
    """

    def __init__(self, outer: Progress | None, stage: str, total: int) -> None:
        self.outer, self.stage, self.total = outer, stage, total
        self.finished = False

    def show(self, clips_done: float) -> None:
        """Report ``clips_done`` (fractional) of ``total`` clips."""
        if self.outer is not None and not self.finished:
            self.finished = clips_done >= self.total
            self.outer.report(self.stage, clips_done, self.total)

    def waiting(self, index: int, fraction: float) -> None:
        """Clip ``index`` is being prepared, ``fraction`` (0..1) of it done."""
        self.show(index + 0.5 * fraction)

    def for_clip(self, index: int) -> Progress:
        """The Progress for the encoder on clip ``index`` (its "encoder" stage fills the 2nd half)."""
        return _EncoderHalf(self, index)

    def cancelled(self) -> bool:
        return self.outer is not None and self.outer.cancelled()


class _EncoderHalf:
    def __init__(self, run: ClipRunProgress, index: int) -> None:
        self.run, self.index = run, index

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if stage == "encoder" and total:
            self.run.show(self.index + 0.5 + 0.5 * min(1.0, done / total))

    def cancelled(self) -> bool:
        return self.run.cancelled()


class StageClock:
    """Estimates the remaining seconds of the current stage from its rate so far."""

    def __init__(self) -> None:
        self.stage = ""
        self.started = time.monotonic()

    def eta_s(self, stage: str, done: float, total: float | None) -> float | None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.started = stage, now
            return None
        if not total or done <= 0:
            return None
        elapsed = now - self.started
        return max(0.0, elapsed * (total - done) / done)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ConsoleProgress:
    """A one-line progress bar on stderr (for the CLI).

    Silent when ``enabled`` is False or the stream is not a terminal (logs and pipes get no
    carriage-return noise).
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool = True, min_interval_s: float = 0.2):
        self.stream = stream or sys.stderr
        self.enabled = enabled and _isatty(self.stream)
        self.clock = StageClock()
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._last_stage = ""

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        eta = self.clock.eta_s(stage, done, total)
        if not self.enabled:
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if stage == self._last_stage and not finished and now - self._last < self.min_interval_s:
            return
        self._last, self._last_stage = now, stage
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            tail = f"in {format_eta(now - self.clock.started)}" if finished else f"ETA {format_eta(eta)}"
            line = f"\r{stage:<16} [{bar:<30}] {frac * 100:5.1f}%  {tail}"
        else:
            line = f"\r{stage:<16} {done:g}"
        self.stream.write(line + ("\n" if finished else ""))
        self.stream.flush()

    def cancelled(self) -> bool:
        return False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
