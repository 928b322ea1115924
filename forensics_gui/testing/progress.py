"""A Progress object for tests: records every report and can cancel after N of them."""

from __future__ import annotations


class RecordingProgress:
    """``calls`` lists every ``(stage, done, total)`` reported; ``cancelled()`` turns True once
    ``stop_after`` reports have arrived (never when ``stop_after`` is None), counting only the
    reports of stage ``counting`` when it is given."""

    def __init__(self, stop_after: int | None = None, counting: str | None = None) -> None:
        self.calls: list[tuple[str, float, float | None]] = []
        self.stop_after = stop_after
        self.counting = counting

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.calls.append((stage, done, total))

    def cancelled(self) -> bool:
        if self.stop_after is None:
            return False
        counted = [c for c in self.calls if self.counting is None or c[0] == self.counting]
        return len(counted) >= self.stop_after
