"""The one worker idiom: how a job ends (finished, failed, cancelled), with its token, and the
retired-thread holder that joins what is left."""

from __future__ import annotations

import threading

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.progress import check_cancelled


def _worker(job):  # type: ignore[no-untyped-def]
    from forensics_gui.ui.worker_base import Worker

    class Job(Worker):
        what = "The test job"

        def work(self):  # type: ignore[no-untyped-def]
            return job(self)

    return Job(token=9)


def test_a_job_ends_in_exactly_one_of_finished_failed_cancelled(qtbot) -> None:
    def ok(w):  # type: ignore[no-untyped-def]
        w.progress.report("stage", 1, 2)
        w.partial.emit(w.token, "half")
        return 42

    worker = _worker(ok)
    seen: list[tuple[object, ...]] = []
    worker.progressed.connect(lambda *a: seen.append(("progressed", *a)))
    worker.partial.connect(lambda *a: seen.append(("partial", *a)))
    with qtbot.waitSignal(worker.finished, timeout=30000) as done:
        worker.start()
    assert worker.wait(30000) and done.args == [9, 42]
    assert seen == [("progressed", 9, "stage", 1.0, 2.0, -1.0), ("partial", 9, "half")]

    def bad(_w):  # type: ignore[no-untyped-def]
        raise ForensicsError("The file is gone; choose another one.")

    worker = _worker(bad)
    with qtbot.waitSignal(worker.failed, timeout=30000) as failed:
        worker.start()
    assert failed.args == [9, "The file is gone; choose another one."]

    def bug(_w):  # type: ignore[no-untyped-def]
        raise KeyError("x")

    worker = _worker(bug)
    with qtbot.waitSignal(worker.failed, timeout=30000) as failed:
        worker.start()
    assert failed.args == [9, "The test job failed unexpectedly (KeyError: 'x')."]
    worker.wait(30000)


def test_cancel_ends_in_cancelled_and_retired_threads_are_joined(qtbot) -> None:
    from forensics_gui.ui.worker_base import RetiredThreads

    started = threading.Event()

    def endless(w):  # type: ignore[no-untyped-def]
        started.set()
        while True:
            check_cancelled(w.progress)
            threading.Event().wait(0.01)

    worker = _worker(endless)
    ended: list[str] = []
    for name in ("finished", "failed", "cancelled"):
        getattr(worker, name).connect(lambda *a, n=name: ended.append(n))
    worker.start()
    assert started.wait(30)
    retired = RetiredThreads()
    retired.retire(worker)  # cancels it
    assert worker.cancel_requested
    assert retired.join_all(5000) and len(retired) == 0 and not worker.isRunning()
    qtbot.waitUntil(lambda: ended == ["cancelled"], timeout=30000)


def test_run_in_the_calling_thread_delivers_directly() -> None:
    worker = _worker(lambda w: "done")
    got: list[object] = []
    worker.finished.connect(lambda *a: got.append(a))
    worker.run()
    assert got == [(9, "done")]
    assert not worker.isRunning()


def test_a_job_cancelled_before_it_starts_does_not_run(qtbot) -> None:
    ran: list[bool] = []
    worker = _worker(lambda w: ran.append(True))
    worker.cancel()
    with qtbot.waitSignal(worker.cancelled, timeout=30000):
        worker.start()
    assert worker.wait(30000) and ran == []


def test_a_result_after_cancel_is_kept_only_when_the_job_says_so() -> None:
    def stops_at_a_batch(w):  # type: ignore[no-untyped-def]
        w.cancel()  # Cancel arrives while the job finishes its batch and saves its result
        return "best so far"

    plain, keeps = _worker(stops_at_a_batch), _worker(stops_at_a_batch)
    keeps.finish_when_cancelled = True  # e.g. training: the best model so far is its result
    got: list[tuple[str, tuple[object, ...]]] = []
    for w in (plain, keeps):
        w.finished.connect(lambda *a: got.append(("finished", a)))
        w.cancelled.connect(lambda *a: got.append(("cancelled", a)))
        w.run()
    assert got == [("cancelled", (9,)), ("finished", (9, "best so far"))]
