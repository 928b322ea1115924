"""The CLI progress bar: drawn on a terminal, silent in logs and pipes; ETA from the stage's rate."""

import io

import pytest

from forensics_gui.core.errors import Cancelled
from forensics_gui.core.progress import ConsoleProgress, NullProgress, check_cancelled, format_eta


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_ends_with_a_newline_when_done() -> None:
    out = Tty()
    bar = ConsoleProgress(stream=out, min_interval_s=0.0)
    bar.report("landmarks", 0, 10)
    bar.report("landmarks", 5, 10)
    bar.report("landmarks", 10, 10)
    text = out.getvalue()
    assert "landmarks" in text and " 50.0%" in text and "100.0%" in text
    assert text.endswith("\n") and "ETA" in text and " in 00:0" in text


def test_no_output_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = ConsoleProgress(stream=out, min_interval_s=0.0)
    bar.report("encoder", 1, 2)
    bar.report("encoder", 2, 2)
    assert out.getvalue() == ""


def test_format_eta_and_cancel() -> None:
    assert format_eta(None) == "--:--"
    assert format_eta(75) == "01:15"
    assert format_eta(3725) == "1:02:05"
    check_cancelled(NullProgress())

    class Stop(NullProgress):
        def cancelled(self) -> bool:
            return True

    with pytest.raises(Cancelled):
        check_cancelled(Stop())


class _Log:
    def __init__(self, cancel: bool = False) -> None:
        self.reports: list[tuple[str, float, float | None]] = []
        self.cancel = cancel

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.reports.append((stage, done, total))

    def cancelled(self) -> bool:
        return self.cancel


def test_clip_run_progress_halves_and_ends_once() -> None:
    from forensics_gui.core.progress import ClipRunProgress

    log = _Log()
    run = ClipRunProgress(log, "batch", 2)
    run.waiting(0, 0.5)  # preparing clip 0: a quarter of it
    enc = run.for_clip(0)
    enc.report("video front end", 3, 4)  # not the encoder: ignored
    enc.report("encoder", 1, 4)
    run.for_clip(1).report("encoder", 4, 4)
    run.show(2)  # already at the end: not reported again
    assert log.reports == [("batch", 0.25, 2), ("batch", 0.625, 2), ("batch", 2.0, 2)]
    assert not enc.cancelled() and ClipRunProgress(_Log(cancel=True), "x", 1).for_clip(0).cancelled()
    ClipRunProgress(None, "x", 1).for_clip(0).report("encoder", 1, 1)  # no outer: no error
