"""Read-ahead: the one way the core runs a producer ahead of its consumer in a background thread.

Two users: the mouth-ROI preparation decodes frames while the consumer tracks faces
(:mod:`forensics_gui.core.face.roi`), and :func:`forensics_gui.core.pipeline.prefetch` prepares
the next clips while the consumer runs the model. Both overlap because the slow native code
(FFmpeg, dlib, torch) drops the GIL.

:class:`ReadAhead` iterates ``source`` in ONE background thread, at most ``depth`` items ahead
of the consumer, and hands the items over in order. An exception from ``source`` is raised in
the consumer where the item would have been. :meth:`ReadAhead.close` (also on leaving the
``with`` block, e.g. on an exception or a Cancel in the consumer) stops the producer before its
next item, sets ``stop`` so that a producer which checks it stops inside an item too, and joins
the thread. ``depth=0`` runs ``source`` in the consumer's thread, with no thread at all.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from forensics_gui.core.errors import Cancelled

T = TypeVar("T")

_ITEM, _END, _ERROR = range(3)


class ReadAhead(Generic[T]):
    """The items of ``source`` in order, produced up to ``depth`` items ahead in a thread.

    ``depth`` counts the items the producer may have finished or started beyond the one the
    consumer asked for last (so at most ``depth + 1`` items are alive besides those the consumer
    keeps). ``name`` names the thread (tests look for leftovers by name). ``stop`` is the event
    :meth:`close` sets; pass one that ``source`` also checks (e.g. through its Progress'
    ``cancelled``) to stop it inside a long item; set from elsewhere, it ends the items with
    Cancelled. The thread starts here; a generator ``source`` is closed in the thread that ran
    it when the producer stops.
    """

    def __init__(self, source: Iterable[T], *, depth: int, name: str,
                 stop: threading.Event | None = None) -> None:
        if depth < 0:
            raise ValueError(f"read-ahead depth must be 0 or more, not {depth}")
        self.stop = stop if stop is not None else threading.Event()
        self._source = iter(source)
        self._finished = False
        self._asked = False  # the current request's permit was given (a poll may raise)
        self._thread: threading.Thread | None = None
        if depth == 0:
            return
        self._ready: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        self._permits = threading.Condition()
        self._allowed = depth  # items the producer may still start
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    # -- the producer (background thread) ---------------------------------------------------

    def _produce(self) -> None:
        try:
            while True:
                with self._permits:
                    while not self._allowed and not self.stop.is_set():
                        self._permits.wait()
                    if self.stop.is_set():  # a take() then gets Cancelled rather than hanging
                        raise Cancelled()
                    self._allowed -= 1
                try:
                    item = next(self._source)
                except StopIteration:
                    self._ready.put((_END, None))
                    return
                self._ready.put((_ITEM, item))
        except BaseException as err:  # raised in the consumer, where the item would have been
            self._ready.put((_ERROR, err))
        finally:
            _close_source(self._source)

    # -- the consumer ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return self.take()

    def take(self, *, poll_s: float | None = None,
             on_poll: Callable[[], None] | None = None) -> T:
        """The next item (StopIteration after the last one).

        While it is not ready, ``on_poll()`` is called every ``poll_s`` seconds (it may raise,
        e.g. Cancelled, which leaves the item to a later call). Re-raises what the producer
        raised for this item.
        """
        if self._finished:
            raise StopIteration
        if self._thread is None:
            if self.stop.is_set():
                raise Cancelled()
            try:
                return next(self._source)
            except BaseException:
                self._finished = True
                raise
        if not self._asked:
            with self._permits:
                self._allowed += 1
                self._permits.notify()
            self._asked = True
        while True:
            try:
                kind, value = self._ready.get(timeout=poll_s if on_poll is not None else None)
                break
            except queue.Empty:
                assert on_poll is not None  # the get times out only when polling
                on_poll()
        self._asked = False
        if kind == _ITEM:
            return value  # type: ignore[return-value]  # what the producer put: a T
        self._finished = True
        self._thread.join()
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the producer (before its next item, or inside one that checks ``stop``), drop
        what it read ahead and join its thread. Idempotent."""
        self.stop.set()
        self._finished = True
        if self._thread is None:
            _close_source(self._source)
            return
        with self._permits:
            self._permits.notify_all()
        self._thread.join()
        while True:
            try:
                self._ready.get_nowait()
            except queue.Empty:
                break

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_source(source: Iterator[object]) -> None:
    """Close a generator source (releases what its ``finally`` holds: a file, a decoder)."""
    close = getattr(source, "close", None)
    if close is not None:
        close()
