"""The progress/cancel contract shared by every long core function.

A long function takes ``progress: Progress | None``; it calls ``progress.report(stage, done, total)``
between units of work and ``check_cancelled(progress)`` between batches. The core never touches a
Qt signal: the GUI worker adapts this object to signals, the CLI prints a bar on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
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
    """The one ETA clock: remaining seconds of the current stage from its rate since it began.

    The rate counts only the work done since the stage's first report (a resumed training run's
    counter starts above 0, so its earlier epochs do not make the estimate optimistic).
    """

    def __init__(self) -> None:
        self.stage = ""
        self.started = time.monotonic()
        self.done0 = 0.0

    def eta_s(self, stage: str, done: float, total: float | None) -> float | None:
        """Seconds left in ``stage`` (None: unknown, e.g. on its first report)."""
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.started, self.done0 = stage, now, float(done)
            return None
        if not total or done <= self.done0:
            return None
        return max(0.0, (now - self.started) * (total - done) / (done - self.done0))


REPORT_INTERVAL_S = 0.1  # at most ~10 reports per second within one stage


class ThrottledProgress:
    """The one throttled Progress: forwards ``report`` with the stage's ETA, not too often.

    ``emit(stage, done, total, eta_s)`` is called at most every ``interval_s`` seconds within a
    stage, always for a new stage and for the last unit of work; ``total`` and ``eta_s`` (seconds)
    are -1.0 when unknown. ``cancelled`` answers :meth:`cancelled` (never cancelled by default).
    The GUI workers emit a Qt signal from ``emit``; the CLI's :class:`ConsoleProgress` draws a bar.
    """

    def __init__(self, emit: Callable[[str, float, float, float], object],
                 cancelled: Callable[[], bool] | None = None, clock: StageClock | None = None,
                 interval_s: float = REPORT_INTERVAL_S) -> None:
        self.emit = emit
        self.is_cancelled = cancelled
        self.clock = clock if clock is not None else StageClock()
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
        return self.is_cancelled is not None and self.is_cancelled()


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
        self.throttle = ThrottledProgress(self._draw, interval_s=min_interval_s)

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if self.enabled:
            self.throttle.report(stage, done, total)

    def _draw(self, stage: str, done: float, total: float, eta_s: float) -> None:
        finished = total >= 0 and done >= total
        if total > 0:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            elapsed = time.monotonic() - self.throttle.clock.started
            tail = (f"in {format_eta(elapsed)}" if finished
                    else f"ETA {format_eta(eta_s if eta_s >= 0 else None)}")
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
