"""The one read-ahead (core/readahead.py): order, the bound on items in flight, errors in the
consumer, and no thread left behind however the consumer stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from forensics_gui.core.errors import Cancelled
from forensics_gui.core.readahead import ReadAhead

NAME = "test-readahead"


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == NAME]


class Counted:
    """A source of 0..n-1 that records how many items it has started."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.started = 0
        self.closed = threading.Event()
        self.changed = threading.Condition()

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                with self.changed:
                    self.started += 1
                    self.changed.notify_all()
                yield i
        finally:
            self.closed.set()

    def wait_started(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.started >= count, timeout=60.0)  # a hang bound


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_items_arrive_in_order_and_the_thread_ends(depth: int) -> None:
    with ReadAhead(iter(range(50)), depth=depth, name=NAME) as ahead:
        assert list(ahead) == list(range(50))
        assert list(ahead) == []  # stays exhausted
    assert not _threads()


def test_depth_0_runs_in_the_consumers_thread() -> None:
    where = []

    def source() -> Iterator[int]:
        for i in range(3):
            where.append(threading.current_thread())
            yield i

    with ReadAhead(source(), depth=0, name=NAME) as ahead:
        assert not _threads()
        assert list(ahead) == [0, 1, 2]
    assert where == [threading.current_thread()] * 3


def test_at_most_depth_items_are_started_ahead_of_the_consumer() -> None:
    source = Counted(20)
    with ReadAhead(source, depth=3, name=NAME) as ahead:
        assert source.wait_started(3)
        for k in range(5):
            assert next(ahead) == k
            # the consumer holds item k: the producer may start k+1 .. k+3, never k+4
            assert source.wait_started(k + 4)
            assert source.started == k + 4
    assert not _threads()


def test_an_error_from_the_source_is_raised_in_the_consumer_at_its_place() -> None:
    def source() -> Iterator[int]:
        yield 0
        yield 1
        raise ValueError("frame 2 is damaged")

    got = []
    with ReadAhead(source(), depth=4, name=NAME) as ahead:
        with pytest.raises(ValueError, match="frame 2 is damaged"):
            for item in ahead:
                got.append(item)
        assert not _threads()
    assert got == [0, 1]


def test_closing_early_stops_the_producer_closes_the_source_and_joins() -> None:
    source = Counted(10_000)
    ahead = ReadAhead(source, depth=2, name=NAME)
    assert next(ahead) == 0
    ahead.close()
    assert not _threads()
    assert source.closed.is_set()
    assert source.started <= 3
    with pytest.raises(StopIteration):
        next(ahead)
    ahead.close()  # idempotent


def test_an_exception_in_the_consumer_joins_the_thread() -> None:
    source = Counted(10_000)
    with pytest.raises(RuntimeError), ReadAhead(source, depth=2, name=NAME) as ahead:
        for item in ahead:
            if item == 5:
                raise RuntimeError("the consumer failed")
    assert not _threads()
    assert source.closed.is_set()


def test_close_sets_stop_so_a_long_item_can_stop_inside() -> None:
    stop = threading.Event()
    inside = threading.Event()
    stopped_inside = []

    def source() -> Iterator[int]:
        yield 0
        inside.set()
        while not stop.wait(0.01):  # a long item that checks the stop between its units of work
            pass
        stopped_inside.append(True)
        raise Cancelled()

    ahead = ReadAhead(source(), depth=1, name=NAME, stop=stop)
    assert next(ahead) == 0
    assert inside.wait(60.0)  # bounds a hang only
    ahead.close()  # the producer's Cancelled is dropped: the consumer has gone
    assert stopped_inside == [True]
    assert not _threads()


@pytest.mark.parametrize("depth", [0, 2])
def test_a_stop_set_by_the_caller_ends_the_items_with_cancelled(depth: int) -> None:
    stop = threading.Event()
    with ReadAhead(iter(range(100)), depth=depth, name=NAME, stop=stop) as ahead:
        assert next(ahead) == 0
        stop.set()
        with pytest.raises(Cancelled):
            for _ in range(100):  # items read ahead before the stop may still come
                next(ahead)
    assert not _threads()


def test_on_poll_runs_while_waiting_and_may_cancel() -> None:
    release = threading.Event()
    polls = []

    def source() -> Iterator[int]:
        release.wait(60.0)  # bounds a hang only
        yield 0

    def poll() -> None:
        polls.append(len(polls))
        if len(polls) == 3:
            raise Cancelled()

    with ReadAhead(source(), depth=1, name=NAME) as ahead:
        with pytest.raises(Cancelled):
            ahead.take(poll_s=0.01, on_poll=poll)
        assert polls == [0, 1, 2]
        release.set()
        assert ahead.take(poll_s=0.01, on_poll=lambda: None) == 0  # the item is still there
    assert not _threads()


def test_a_negative_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        ReadAhead(iter(()), depth=-1, name=NAME)
