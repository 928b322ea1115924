"""A Progress object for tests: records every report and can cancel after N of them."""

from __future__ import annotations


class RecordingProgress:
    """``calls`` lists every ``(stage, done, total)`` reported; ``cancelled()`` turns True once
    ``stop_after`` reports have arrived (never when ``stop_after`` is None)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[str, float, float | None]] = []
        self.stop_after = stop_after

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.calls.append((stage, done, total))

    def cancelled(self) -> bool:
        return self.stop_after is not None and len(self.calls) >= self.stop_after
