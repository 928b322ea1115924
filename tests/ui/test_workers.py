"""The frame decoder serves the latest request; the clip-info worker reports and cancels; the
one throttled progress."""

from __future__ import annotations

import hashlib

import pytest

from forensics_gui.testing.synth import decode_pattern_index


def test_decoder_coalesces_to_latest_request(qtbot, clips) -> None:
    from forensics_gui.ui.workers import FrameDecoder

    dec = FrameDecoder()
    got: list[tuple[int, int]] = []
    dec.frame_ready.connect(lambda tok, i, t, img: got.append((i, decode_pattern_index(img))))
    dec.start()
    try:
        dec.open(str(clips["av"].path), 7)
        with qtbot.waitSignal(dec.frame_times_ready, timeout=10000) as blocker:
            dec.request_index(0)
        assert blocker.args[0] == 7 and len(blocker.args[1]) == clips["av"].n_frames
        got.clear()
        for i in range(1, 40):  # a burst of scrubbing requests
            dec.request_index(i)
        dec.request(1.0)  # by time: frame 25 at 25 fps
        qtbot.waitUntil(lambda: bool(got) and got[-1][0] == 25, timeout=10000)
        qtbot.wait(100)  # a stale frame after 25 would fail below; a slow machine cannot fake one
        assert got[-1] == (25, 25)  # the decoded pixels are frame 25's
        assert len(got) < 40  # stale requests were dropped
        with qtbot.waitSignal(dec.failed, timeout=30000) as failed:
            dec.request_index(10_000)
        assert failed.args[0] == 7 and "outside" in failed.args[1]
    finally:
        dec.stop()
    assert not dec.isRunning()


def test_clip_info_worker_results_and_cancel(qtbot, clips) -> None:
    from forensics_gui.ui.workers import ClipInfoWorker

    path = clips["av"].path
    worker = ClipInfoWorker(str(path), 3, with_audio=True)
    with qtbot.waitSignal(worker.finished, timeout=15000) as sha:
        with qtbot.waitSignal(worker.partial, timeout=15000) as audio:
            worker.start()
    worker.wait()
    analysis = audio.args[1]
    assert audio.args[0] == 3
    assert analysis.track.sample_rate == 48000
    assert analysis.sweep_ms[analysis.sweep_taus.index(0.0005)] == pytest.approx(30.0, abs=0.05)
    assert analysis.max_amplitudes[0] == 0.0  # first 10 ms are digital silence
    assert sha.args[1] == hashlib.sha256(path.read_bytes()).hexdigest()

    cancelled = ClipInfoWorker(str(path), 4, with_audio=True)
    results: list[object] = []
    cancelled.partial.connect(lambda *a: results.append(a))
    cancelled.finished.connect(lambda *a: results.append(a))
    cancelled.cancel()
    cancelled.start()
    cancelled.stop()  # joined: whatever it emitted is already posted
    qtbot.wait(50)  # delivers the posted signals, all of them however slow the machine
    assert results == []


def test_throttled_progress_throttles_reports_eta_and_cancel(monkeypatch) -> None:
    from forensics_gui.core import progress as core_progress
    from forensics_gui.ui.worker_base import CancelFlag

    now = [10.0]
    monkeypatch.setattr(core_progress.time, "monotonic", lambda: now[0])  # the one clock
    seen: list[tuple[str, float, float, float]] = []
    flag = CancelFlag()
    progress = core_progress.ThrottledProgress(lambda *a: seen.append(a), flag.cancelled)
    progress.report("decode", 0, None)  # new stage: always sent; unknown total/ETA are -1
    progress.report("decode", 1, None)  # same stage within 0.1 s: dropped
    now[0] += 0.05
    progress.report("landmarks", 0, 10)  # a new stage is never dropped
    now[0] += 2.0
    progress.report("landmarks", 4, 10)  # 4 frames in 2 s: 6 left take 3 s
    now[0] += 0.01
    progress.report("landmarks", 10, 10)  # the last unit is always sent
    assert [s[:3] for s in seen] == [("decode", 0.0, -1.0), ("landmarks", 0.0, 10.0),
                                     ("landmarks", 4.0, 10.0), ("landmarks", 10.0, 10.0)]
    assert seen[0][3] == -1.0 and seen[1][3] == -1.0
    assert seen[2][3] == pytest.approx(3.0)
    assert not progress.cancelled() and not flag.cancelled()
    flag.cancel()
    assert progress.cancelled()
