"""Many clips in a row: the prefetch overlap (shared by ``batch`` and training-data extraction),
its equivalence with one analysis per clip, failures in the middle and a clean Ctrl+C."""

from __future__ import annotations

import argparse
import csv
import json
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


pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


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
            assert started[item.index + 1].wait(60.0)  # bounds a hang only
        seen.append((item.index, item.value, None if item.error is None else str(item.error)))
    assert seen == [(0, 0, None), (1, 10, None), (2, None, "clip 2 is bad"), (3, 30, None)]
    assert not _prefetch_threads()
    # lookahead 0: everything in this thread, same results.
    same = [(it.index, it.value) for it in prefetch(list(range(4)), prepare, lookahead=0)]
    assert same == [(0, 0), (1, 10), (2, None), (3, 30)]


def test_closing_early_stops_the_background_thread_at_its_next_check() -> None:
    checks = []
    preparing = threading.Event()
    finished: list[int] = []

    def prepare(i: int, progress: object) -> int:
        if i == 0:
            return 0
        for _ in range(6000):  # a long clip (60 s): checks for cancellation between frames
            checks.append(i)
            preparing.set()
            if progress is not None and progress.cancelled():  # type: ignore[attr-defined]
                raise Cancelled()
            time.sleep(0.01)  # paces the fake clip only; the test waits on events, not time
        finished.append(i)
        return i

    gen = prefetch(list(range(3)), prepare, lookahead=1)
    first = next(gen)
    assert first.index == 0 and first.value == 0
    assert preparing.wait(60.0)  # clip 1 is now being prepared in the background
    gen.close()  # what contextlib.closing / an exception in the consumer does
    assert finished == []  # clip 1 (60 s of work) was stopped, not finished
    assert 1 in checks
    assert not _prefetch_threads()
    assert 2 not in checks  # clip 2 never started


def test_cancel_from_the_callers_progress_propagates() -> None:
    class CancelSoon:
        """Says "cancelled" from its 30th question on (by count, not by clock)."""

        def __init__(self) -> None:
            self.asked = 0

        def report(self, stage: str, done: float, total: float | None = None) -> None:
            pass

        def cancelled(self) -> bool:
            self.asked += 1
            return self.asked > 30

    def prepare(i: int, progress: object) -> int:
        while not progress.cancelled():  # type: ignore[attr-defined]
            time.sleep(0.01)  # a clip being prepared; each pass asks once
        raise Cancelled()

    with pytest.raises(Cancelled):
        list(prefetch([0, 1], prepare, lookahead=1, progress=CancelSoon()))
    assert not _prefetch_threads()


@pytest.mark.slow
def test_overlapped_batch_equals_one_analysis_per_clip_and_survives_bad_clips(models, folder) -> None:
    from forensics_gui.core.media.folders import iter_videos

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


@pytest.mark.slow
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
    assert rows[-1]["status"] == "ok" and rows[-1]["num_frames"] == "30"
    curve = json.loads((out.parent / rows[-1]["curve"]).read_text())
    assert len(curve["frame_scores"]) == 30 and curve["sha256"] == rows[-1]["sha256"]


@pytest.mark.slow
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


# -- a batch never gets stuck, and never says "done" when nothing was scored --------------------

def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from forensics_gui.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


def _cli_batch(capsys, folder: Path, out: Path, ckpt: Path, phi: Path, *extra: str) -> tuple[int, str]:
    return _cli(capsys, "batch", str(folder), "-o", str(out), "--checkpoint", str(ckpt),
                "--phi", str(phi), "--device", "cpu", "--sequential", *extra)


@pytest.fixture(scope="module")
def two_good(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Path:
    d = tmp_path_factory.mktemp("two")
    for name in ("a.mkv", "d.mkv"):
        (d / name).write_bytes((folder / name).read_bytes())
    return d


def _finished(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the clips that reach the model (the ones a run actually scores)."""
    original = Analyzer.finish
    calls: list[str] = []

    def finish(self, clip, progress=None, on_partial=None):
        calls.append(clip.path.name)
        return original(self, clip, progress, on_partial)

    monkeypatch.setattr(Analyzer, "finish", finish)
    return calls


@pytest.mark.slow
def test_a_long_curve_goes_to_its_own_file_not_a_csv_cell(models, two_good, tmp_path, monkeypatch,
                                                          capsys) -> None:
    import dataclasses

    from forensics_gui.core.results import batch_results as br

    ckpt, phi = models
    original = Analyzer.finish
    n = 20_000  # 13 min 20 s at 25 fps: 100,000+ characters as one CSV cell before

    def long_finish(self, clip, progress=None, on_partial=None):
        analysis = original(self, clip, progress, on_partial)
        for variant, res in analysis.scores.items():
            curve = np.linspace(-1, 1, n).astype(np.float32)
            analysis.scores[variant] = dataclasses.replace(res, frame_scores=curve)
        return analysis

    monkeypatch.setattr(Analyzer, "finish", long_finish)
    out = tmp_path / "results.csv"
    code, err = _cli_batch(capsys, two_good, out, ckpt, phi, "--both")
    assert code == 0, err
    assert max(len(line) for line in out.read_text().splitlines()) < 1000
    rows = list(csv.DictReader(out.open()))
    assert [(r["file"], r["variant"]) for r in rows] == [
        ("a.mkv", "untrimmed"), ("a.mkv", "trimmed"), ("d.mkv", "untrimmed"), ("d.mkv", "trimmed")]
    for r in rows:
        assert r["curve"] == f"results.curves/{r['sha256']}.{r['variant']}.json"
        curve = br.read_curve(out.parent / r["curve"], "test")
        assert len(curve.frame_scores) == n and curve.fps == 25.0
        assert curve.frame_scores[0] == -1.0 and curve.frame_scores[-1] == 1.0
    assert not list((out.parent / "results.curves").glob(".*"))  # no temp files left
    # Resume reads the new layout: nothing left to do.
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, two_good, out, ckpt, phi, "--both")
    assert code == 0 and calls == [] and "2 already in" in err and "0 to score" in err


@pytest.mark.slow
def test_a_torn_last_row_is_removed_and_exactly_that_clip_redone(models, two_good, tmp_path,
                                                                  monkeypatch, capsys) -> None:
    ckpt, phi = models
    before = {p.name: _sha(p) for p in two_good.iterdir()}
    out = tmp_path / "results.csv"
    assert _cli_batch(capsys, two_good, out, ckpt, phi)[0] == 0
    complete = out.read_bytes()
    lines = complete.split(b"\n")
    assert len(lines) == 4 and lines[-1] == b""  # header, a, d, and the final line end
    # Power loss in the middle of d's row.
    torn = complete[: len(complete) - len(lines[2]) // 2]
    out.write_bytes(torn)
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, two_good, out, ckpt, phi)
    assert code == 0, err
    assert "Removed 1 damaged row from results.csv" in err and "1 to score" in err
    assert calls == ["d.mkv"]
    assert out.read_bytes() == complete  # the same rows as an uninterrupted run, nothing glued
    assert {p.name: _sha(p) for p in two_good.iterdir()} == before
    # A row whose check does not match (edited, or glued by an old version) is redone too.
    bad = complete.replace(lines[1], lines[1].replace(b",ok,", b",ok ,"))
    out.write_bytes(bad)
    calls.clear()
    code, err = _cli_batch(capsys, two_good, out, ckpt, phi)
    assert code == 0 and calls == ["a.mkv"] and "Removed 1 damaged row" in err
    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == ["d.mkv", "a.mkv"]


def test_a_file_name_that_is_not_utf8_is_scored_and_resumed(models, folder, tmp_path, monkeypatch,
                                                            capsys) -> None:
    import os

    from forensics_gui.core.results import batch_results as br

    ckpt, phi = models
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    raw = os.fsencode(clips / "sub") + b"/caf\xe9 \\x41.mkv"  # Latin-1 name with a backslash
    with open(raw, "wb") as fh:
        fh.write((folder / "a.mkv").read_bytes())
    out = tmp_path / "results.csv"
    code, err = _cli_batch(capsys, clips, out, ckpt, phi)
    assert code == 0, err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["file"] for r in rows] == ["sub/caf\\xe9 \\\\x41.mkv"] and rows[0]["status"] == "ok"
    assert os.fsencode(clips / br.unescape_name(rows[0]["file"])) == raw
    curve = json.loads((out.parent / rows[0]["curve"]).read_text())
    assert curve["file"] == rows[0]["file"]
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, clips, out, ckpt, phi)
    assert code == 0 and calls == [] and "0 to score" in err


def test_escaped_names_round_trip() -> None:
    import os

    from forensics_gui.core.results import batch_results as br

    for raw in (b"plain/clip.mp4", b"caf\xc3\xa9.mp4", b"caf\xe9.mp4", b"a\\b\\x41.mp4",
                b"new\nline,\"quoted\".mp4", b"\xff\xfe\x80.mkv"):
        name = os.fsdecode(raw)
        text = br.escape_name(name)
        text.encode("utf-8")  # always writable
        assert "\n" not in text and br.unescape_name(text) == name


@pytest.mark.slow
def test_every_clip_failing_exits_2_and_some_failing_says_so(models, folder, tmp_path, capsys) -> None:
    ckpt, phi = models
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("b_broken.mp4", "c_noface.mkv"):
        (bad / name).write_bytes((folder / name).read_bytes())
    out = tmp_path / "bad.csv"
    code, err = _cli_batch(capsys, bad, out, ckpt, phi)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "forensics-gui batch: None of the 2 clips could be scored (reasons above); if they failed "
        "for the same reason, fix the models or options and run again: failures under other models "
        "are retried.")
    assert "c_noface.mkv: No face" in err
    # Per-clip failures stay recorded: the same command skips them and says why.
    code, err = _cli_batch(capsys, bad, out, ckpt, phi)
    assert code == 0 and "2 already in" in err and "2 failed earlier; --retry-failed" in err
    mixed = tmp_path / "results.csv"
    code, err = _cli_batch(capsys, folder, mixed, ckpt, phi)
    assert code == 0
    assert "Scored 2 of 4 clips; 2 FAILED (listed above; --retry-failed scores them again)." in err


@pytest.mark.slow
def test_a_model_failure_is_not_recorded_as_a_clip_failure(models, two_good, tmp_path, monkeypatch,
                                                           capsys) -> None:
    from forensics_gui.testing.phi import write_published_phi

    ckpt, phi = models
    broken = tmp_path / "broken.pt"
    broken.write_bytes(ckpt.read_bytes()[:5000])  # a download cut short
    out = tmp_path / "results.csv"
    code, err = _cli_batch(capsys, two_good, out, broken, phi)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the plan, then one sentence about the checkpoint
    assert not out.exists() or len(out.read_text().splitlines()) <= 1  # no clip marked as failed
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, two_good, out, ckpt, phi)
    assert code == 0 and calls == ["a.mkv", "d.mkv"]
    # A failure recorded under other models is tried again when the models change.
    monkeypatch.setattr(Analyzer, "finish", _raise_value_error)
    out2 = tmp_path / "mismatch.csv"
    assert _cli_batch(capsys, two_good, out2, ckpt, phi)[0] == 2
    monkeypatch.undo()
    calls = _finished(monkeypatch)
    assert _cli_batch(capsys, two_good, out2, ckpt, phi)[0] == 0 and calls == []  # same setup
    other_phi = write_published_phi(tmp_path / "phi2.pt", visual_dim=32, audio_dim=32, seed=3)
    code, err = _cli_batch(capsys, two_good, out2, ckpt, other_phi)
    assert code == 0 and calls == ["a.mkv", "d.mkv"] and "Scored 2 clips." in err


def _raise_value_error(self, clip, progress=None, on_partial=None):
    raise ValueError("shapes (30,32) and (1024,) not aligned")


def test_a_failing_clip_with_a_non_utf8_name_is_recorded(models, folder, tmp_path, monkeypatch,
                                                         capsys) -> None:
    import os

    ckpt, phi = models
    clips = tmp_path / "clips"
    clips.mkdir()
    raw = os.fsencode(clips) + b"/\xff\xfeface.mkv"
    with open(raw, "wb") as fh:
        fh.write((folder / "c_noface.mkv").read_bytes())
    out = tmp_path / "results.csv"
    code, err = _cli_batch(capsys, clips, out, ckpt, phi)
    assert code == 2 and "None of the 1 clips could be scored" in err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["file"], r["status"]) for r in rows] == [("\\xff\\xfeface.mkv", "error")]
    assert rows[0]["error"].startswith("No face was found in \\udcff\\udcfeface.mkv")
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, clips, out, ckpt, phi)
    assert code == 0 and calls == [] and "1 failed earlier" in err


@pytest.mark.slow
def test_results_of_an_earlier_version_are_converted_and_resumed(models, folder, tmp_path, monkeypatch,
                                                                  capsys) -> None:
    from forensics_gui.core.results import batch_results as br

    ckpt, phi = models
    old_fields = ["file", "video_score", "pool", "variant", "num_frames", "leading_silence_ms",
                  "suspicious_segments", "sha256", "status", "error", "frame_scores"]
    out = tmp_path / "old.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:  # as the earlier version wrote it
        writer = csv.DictWriter(fh, fieldnames=old_fields)
        writer.writeheader()
        writer.writerow({"file": "a.mkv", "video_score": "1.5", "pool": "lse", "variant": "untrimmed",
                         "num_frames": 30_000, "leading_silence_ms": "0.000", "suspicious_segments": "[]",
                         "sha256": "ab" * 32, "status": "ok", "error": "",
                         "frame_scores": " ".join(["0.2500"] * 30_000)})  # 180,000 characters
        writer.writerow({"file": "b_broken.mp4", "status": "error", "error": "not a video"})
    torn = 'c_noface.mkv,,,,,,,,error,"No fa'  # power loss mid-row; the next run glued d's row on
    with open(out, "a", newline="", encoding="utf-8") as fh:
        fh.write(torn)
        csv.writer(fh).writerow(["d.mkv", "0.5", "lse", "untrimmed", "30", "0", "[]", "cd" * 32, "ok",
                                 "", "0.1 0.2"])
    calls = _finished(monkeypatch)
    code, err = _cli_batch(capsys, folder, out, ckpt, phi)
    assert code == 0, err
    assert ("Converted old.csv from an earlier forensics-gui: 2 rows kept, per-frame curves moved to "
            "old.curves/; 1 damaged row was dropped and scored again.") in err
    assert calls == ["d.mkv"]  # a.mkv kept; b and c (failures of unknown setup) retried, fail early
    rows = br.scan(out).rows
    assert [(r["file"], r["status"]) for r in rows] == [
        ("a.mkv", "ok"), ("b_broken.mp4", "error"), ("b_broken.mp4", "error"),
        ("c_noface.mkv", "error"), ("d.mkv", "ok")]
    curve = br.read_curve(out.parent / rows[0]["curve"], "test")
    assert len(curve.frame_scores) == 30_000 and curve.frame_scores[0] == 0.25
    assert max(len(line) for line in out.read_text().splitlines()) < 1000
    # eval reads the converted file (the earlier one too: see test_metrics).
    calls.clear()
    assert _cli_batch(capsys, folder, out, ckpt, phi)[0] == 0 and calls == []


def test_another_kind_of_file_as_output_is_refused_untouched(models, folder, tmp_path, capsys) -> None:
    ckpt, phi = models
    out = tmp_path / "notes.csv"
    out.write_bytes(b"name,comment\nx,\xff\n")
    code, err = _cli_batch(capsys, folder, out, ckpt, phi)
    assert code == 2 and out.read_bytes() == b"name,comment\nx,\xff\n"
    assert err == ("forensics-gui batch: notes.csv is not a batch results file (its first line is not "
                   "batch's header); give batch a new -o file.\n")


@pytest.mark.slow
def test_a_clip_without_a_finite_score_leaves_the_score_empty(models, two_good, tmp_path, monkeypatch,
                                                              capsys) -> None:
    import dataclasses

    ckpt, phi = models
    original = Analyzer.finish

    def nan_finish(self, clip, progress=None, on_partial=None):
        analysis = original(self, clip, progress, on_partial)
        for variant, res in analysis.scores.items():
            analysis.scores[variant] = dataclasses.replace(
                res, video_score=float("nan"), frame_scores=np.full(res.num_frames, np.nan, np.float32))
        return analysis

    monkeypatch.setattr(Analyzer, "finish", nan_finish)
    out = tmp_path / "results.csv"
    assert _cli_batch(capsys, two_good, out, ckpt, phi)[0] == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["video_score"], r["status"], r["error"]) for r in rows] == [
        ("", "ok", "no finite video score (no frame could be scored)")] * 2
    curve = json.loads((out.parent / rows[0]["curve"]).read_text())
    assert curve["frame_scores"] == [None] * int(rows[0]["num_frames"])
