"""Many clips in a row: the prefetch overlap (shared by ``batch`` and training-data extraction),
its equivalence with one analysis per clip, failures in the middle and a clean Ctrl+C."""

from __future__ import annotations

import argparse
import csv
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.errors import Cancelled, ForensicsError, MediaError
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer, prefetch
from forensics_gui.testing.synth import make_clip, make_text_as_video


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a.mkv, b_broken.mp4 (not a video), c_noface.mkv, d.mkv: two good clips around two bad."""
    d = tmp_path_factory.mktemp("clips")
    make_clip(d / "a.mkv", duration_s=1.0, width=192, height=192)
    make_text_as_video(d / "b_broken.mp4")
    make_clip(d / "c_noface.mkv", duration_s=1.0, width=128, height=128, face=False)
    make_clip(d / "d.mkv", duration_s=1.2, width=192, height=192, seed=5, leading_silence_ms=80)
    return d


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("FORENSICS_GUI_DATA", str(tmp_path / "data"))


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fg-prefetch")]


def test_prefetch_keeps_order_overlaps_and_hands_errors_over() -> None:
    started = {i: threading.Event() for i in range(4)}

    def prepare(i: int, _progress: object) -> int:
        started[i].set()
        if i == 2:
            raise ValueError("clip 2 is bad")
        return i * 10

    seen = []
    for item in prefetch(list(range(4)), prepare, lookahead=1):
        # While the consumer holds clip i, clip i+1 is being prepared in the background.
        if item.index < 3:
            assert started[item.index + 1].wait(5.0)
        seen.append((item.index, item.value, None if item.error is None else str(item.error)))
    assert seen == [(0, 0, None), (1, 10, None), (2, None, "clip 2 is bad"), (3, 30, None)]
    assert not _prefetch_threads()
    # lookahead 0: everything in this thread, same results.
    same = [(it.index, it.value) for it in prefetch(list(range(4)), prepare, lookahead=0)]
    assert same == [(0, 0), (1, 10), (2, None), (3, 30)]


def test_closing_early_stops_the_background_thread_at_its_next_check() -> None:
    checks = []

    def prepare(i: int, progress: object) -> int:
        if i == 0:
            return 0
        for _ in range(500):  # a long clip (5 s): checks for cancellation between frames
            time.sleep(0.01)
            checks.append(i)
            if progress is not None and progress.cancelled():  # type: ignore[attr-defined]
                raise Cancelled()
        return i

    gen = prefetch(list(range(3)), prepare, lookahead=1)
    t0 = time.perf_counter()
    first = next(gen)
    assert first.index == 0 and first.value == 0
    time.sleep(0.2)  # clip 1 is now being prepared in the background
    gen.close()  # what contextlib.closing / an exception in the consumer does
    assert time.perf_counter() - t0 < 3.0  # clip 1 (5 s of work) was stopped, not finished
    assert 1 in checks
    assert not _prefetch_threads()
    assert 2 not in checks  # clip 2 never started


def test_cancel_from_the_callers_progress_propagates() -> None:
    class CancelSoon:
        def __init__(self) -> None:
            self.t0 = time.perf_counter()

        def report(self, stage: str, done: float, total: float | None = None) -> None:
            pass

        def cancelled(self) -> bool:
            return time.perf_counter() - self.t0 > 0.3

    def prepare(i: int, progress: object) -> int:
        while not progress.cancelled():  # type: ignore[attr-defined]
            time.sleep(0.01)
        raise Cancelled()

    with pytest.raises(Cancelled):
        list(prefetch([0, 1], prepare, lookahead=1, progress=CancelSoon()))
    assert not _prefetch_threads()


def test_overlapped_batch_equals_one_analysis_per_clip_and_survives_bad_clips(models, folder) -> None:
    from forensics_gui.core.pipeline import iter_videos

    ckpt, phi = models
    videos = list(iter_videos(folder))
    assert [v.name for v in videos] == ["a.mkv", "b_broken.mp4", "c_noface.mkv", "d.mkv"]
    opts = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", use_cache=False,
                           variants=("untrimmed", "trimmed"))
    analyzer = Analyzer(opts)
    waited: list[int] = []
    results = list(analyzer.analyze_many(videos, lookahead=1,
                                         on_wait=lambda i, _f: waited.append(i)))
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.item.name for r in results] == [v.name for v in videos]
    assert isinstance(results[1].error, MediaError)
    assert isinstance(results[2].error, ForensicsError) and "No face" in str(results[2].error)
    assert results[0].error is None and results[3].error is None
    alone = Analyzer(opts)
    for r in (results[0], results[3]):
        single = alone.analyze(r.item)
        assert r.value is not None and r.value.sha256 == single.sha256
        for variant in ("untrimmed", "trimmed"):
            got, ref = r.value.scores[variant], single.scores[variant]
            assert got.num_frames == ref.num_frames > 0
            np.testing.assert_array_equal(got.frame_scores, ref.frame_scores)  # bit-identical
            np.testing.assert_allclose(got.times_s, ref.times_s)
            assert got.video_score == ref.video_score
    last = results[3].value
    assert last is not None and last.trims["trimmed"]["trimmed_video_frames"] == 3  # int(.08*25)+1
    assert not _prefetch_threads()


def _batch_args(folder: Path, out: Path, ckpt: Path, phi: Path, **extra: object) -> argparse.Namespace:
    from forensics_gui.commands import batch

    parser = argparse.ArgumentParser()
    batch.add_arguments(parser)
    argv = [str(folder), "-o", str(out), "--checkpoint", str(ckpt), "--phi", str(phi),
            "--device", "cpu"]
    for key, value in extra.items():
        argv.append(f"--{key}")
        if value is not True:
            argv.append(str(value))
    return parser.parse_args(argv)


def test_ctrl_c_keeps_the_rows_written_and_stops_the_thread(models, folder, tmp_path, monkeypatch) -> None:
    from forensics_gui.commands import batch

    ckpt, phi = models
    out = tmp_path / "results.csv"
    original = Analyzer.finish
    calls = []

    def finish(self, clip, progress=None, on_partial=None):
        calls.append(clip.path.name)
        if clip.path.name == "d.mkv":
            raise KeyboardInterrupt
        return original(self, clip, progress, on_partial)

    monkeypatch.setattr(Analyzer, "finish", finish)
    with pytest.raises(KeyboardInterrupt):
        batch.run(_batch_args(folder, out, ckpt, phi))
    assert not _prefetch_threads()
    rows = list(csv.DictReader(out.open()))
    assert {r["file"]: r["status"] for r in rows} == {
        "a.mkv": "ok", "b_broken.mp4": "error", "c_noface.mkv": "error"}
    # The next run scores only what is missing.
    monkeypatch.setattr(Analyzer, "finish", original)
    assert batch.run(_batch_args(folder, out, ckpt, phi)) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == ["a.mkv", "b_broken.mp4", "c_noface.mkv", "d.mkv"]
    assert rows[-1]["status"] == "ok" and len(rows[-1]["frame_scores"].split()) == 30


def test_sequential_and_overlapped_batch_write_the_same_scores(models, folder, tmp_path) -> None:
    from forensics_gui.commands import batch

    ckpt, phi = models
    a, b = tmp_path / "overlap.csv", tmp_path / "sequential.csv"
    assert batch.run(_batch_args(folder, a, ckpt, phi)) == 0
    assert batch.run(_batch_args(folder, b, ckpt, phi, sequential=True)) == 0
    ra, rb = list(csv.DictReader(a.open())), list(csv.DictReader(b.open()))
    assert [(r["file"], r["status"], r["video_score"]) for r in ra] == \
        [(r["file"], r["status"], r["video_score"]) for r in rb]
    assert [r["status"] for r in ra] == ["ok", "error", "error", "ok"]
