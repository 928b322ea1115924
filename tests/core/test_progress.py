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
