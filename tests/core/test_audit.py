"""The dataset audit (issue 14): cues, resumable table, statistics, HTML report, demo corpus, CLI."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.audit import (
    auc_ci,
    clip_cues,
    list_clips,
    local_map,
    make_demo_corpus,
    read_table,
    run_audit,
    summarise,
    write_report,
)
from forensics_gui.core.audit.cues import CUE_COLUMNS
from forensics_gui.core.errors import Cancelled
from forensics_gui.core.results.metrics import auc
from forensics_gui.testing.synth import make_clip, make_zero_byte


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "corpus"
    make_demo_corpus(out, 24, seed=3)
    return out


@pytest.fixture(scope="module")
def audited(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    entries, problems = list_clips(corpus)
    out = tmp_path_factory.mktemp("report")
    result = run_audit(entries, out)
    summary = summarise(result.rows, entries, problems=problems)
    return entries, result, summary, write_report(summary, out)


def test_cues_on_clips_with_known_silence(tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "s.mp4", duration_s=4.0, face=False, width=64, height=64,
                       leading_silence_ms=30.0, channels=2, sample_rate=16000)
    loud = make_clip(tmp_path / "l.mkv", duration_s=4.0, face=False, width=64, height=64,
                     leading_silence_ms=0.0, sample_rate=44100)
    a = clip_cues(str(silent.path))
    b = clip_cues(str(loud.path))
    assert set(a) == set(CUE_COLUMNS)
    assert a["error"] is None and b["error"] is None
    assert a["silence_ms_tau0.0005"] == pytest.approx(silent.leading_silence_ms)
    assert a["silence_ms_tau0.0001"] == pytest.approx(30.0)
    assert b["silence_ms_tau0.0005"] == 0.0
    assert a["max_amp_10ms"] == 0.0 and a["max_amp_20ms"] == 0.0
    assert a["max_amp_50ms"] > 0.0005 and b["max_amp_10ms"] > 0.0005
    assert a["trimmed_silence_ms_tau0.0005"] == 0.0 and a["trimmed_max_amp_10ms"] > 0.0005
    assert (a["sample_rate"], a["channels"], b["sample_rate"], b["channels"]) == (16000, 2, 44100, 1)
    assert a["audio_codec"] == "pcm_s16le" and a["video_codec"] == "h264"
    assert a["frame_count"] == silent.n_frames == 100 and a["fps"] == pytest.approx(25.0)
    assert abs(a["av_mismatch_ms"]) < 45 and abs(b["av_mismatch_ms"]) < 45
    assert a["audio_duration_s"] == pytest.approx(4.0, abs=0.05)
    assert a["trailing_silence_ms"] is not None and a["trailing_silence_ms"] < 5
    assert -60 < a["loudness_dbfs"] < -3 and abs(a["dc_offset"]) < 0.01


def test_long_and_total_silence(tmp_path: Path) -> None:
    long = make_clip(tmp_path / "long.mkv", duration_s=5.0, face=False, width=64, height=64,
                     leading_silence_ms=4000.0)
    row = clip_cues(str(long.path))
    assert row["error"] is None
    assert row["silence_ms_tau0.0005"] == 3000.0  # read up to 3 s: a lower bound
    mute = make_clip(tmp_path / "zeros.mp4", duration_s=2.0, face=False, width=64, height=64,
                     speech=np.zeros(32000))
    row = clip_cues(str(mute.path))
    assert row["silence_ms_tau0.0005"] == pytest.approx(2000.0)  # the whole (short) track
    assert row["trimmed_silence_ms_tau0.0005"] is None  # nothing to trim to
    assert row["loudness_dbfs"] == -200.0


def test_bad_clips_are_rows_with_a_reason(tmp_path: Path) -> None:
    empty = make_zero_byte(tmp_path / "empty.mp4")
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n")
    mute = make_clip(tmp_path / "mute.mp4", duration_s=1.0, face=False, width=64, height=64,
                     audio=False)
    rows = {p.name: clip_cues(str(p)) for p in (empty, text, mute.path, tmp_path / "gone.mp4")}
    assert "empty" in rows["empty.mp4"]["error"]
    assert "not a readable media file" in rows["text.mp4"]["error"]
    assert "no audio stream" in rows["mute.mp4"]["error"]
    assert rows["mute.mp4"]["frame_count"] == 25 and rows["mute.mp4"]["video_codec"] == "h264"
    assert "does not exist" in rows["gone.mp4"]["error"]


def test_bad_inputs_are_listed_in_the_report(audited) -> None:
    _, result, summary, report = audited
    reasons = dict(summary.problems)
    assert "empty" in reasons["train/broken/empty/real.mp4"]
    assert "not a readable media file" in reasons["train/broken/text/real.mp4"]
    assert "no audio stream" in reasons["train/broken/nosound/fake_0.mp4"]
    assert "missing" in reasons["train/broken/missing/real.mp4"]
    page = report.read_text()
    for name in reasons:
        assert name in page
    assert result.measured == 27  # 24 clips + 3 broken files: none stopped the run


def test_resume_skips_measured_clips_and_redoes_torn_or_changed_ones(corpus: Path, tmp_path: Path) -> None:
    entries, _ = list_clips(corpus)
    calls: list[str] = []

    def counting_map(func, paths):
        for p in paths:
            calls.append(p)
            yield p, func(p)

    first = run_audit(entries, tmp_path, map_clips=counting_map)
    assert first.measured == len(entries) and first.skipped == 0
    calls.clear()
    again = run_audit(entries, tmp_path, map_clips=counting_map)
    assert again.measured == 0 and again.skipped == len(entries) and calls == []
    assert [r["key"] for r in again.rows] == [e.key for e in entries]
    # a torn last line (a crash mid-write) is dropped and its clip measured again
    table = tmp_path / "cues.jsonl"
    text = table.read_text()
    table.write_text(text[:-40])
    repaired = run_audit(entries, tmp_path, map_clips=counting_map)
    assert repaired.measured == 1 and len(calls) == 1
    rows, torn = read_table(table)
    assert not torn and len(rows) == len(entries)
    # a changed clip (new mtime) is measured again
    calls.clear()
    os.utime(entries[0].path, ns=(1, 1))
    entries2, _ = list_clips(corpus)
    changed = run_audit(entries2, tmp_path, map_clips=counting_map)
    assert changed.measured == 1 and calls == [str(entries[0].path)]


def test_cancel_keeps_what_was_measured(corpus: Path, tmp_path: Path) -> None:
    entries, _ = list_clips(corpus)

    class StopAfter:
        def __init__(self, n: int) -> None:
            self.n, self.seen = n, 0.0

        def report(self, stage: str, done: float, total: float | None = None) -> None:
            self.seen = done

        def cancelled(self) -> bool:
            return self.seen >= self.n

    with pytest.raises(Cancelled):
        run_audit(entries, tmp_path, progress=StopAfter(5))
    rows, _ = read_table(tmp_path / "cues.jsonl")
    assert len(rows) == 5
    rest = run_audit(entries, tmp_path)
    assert rest.skipped == 5 and rest.measured == len(entries) - 5


def test_auc_and_bootstrap_interval_on_known_data() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    assert auc_ci(y, [1, 2, 3, 4, 5, 6])[0] == 1.0
    assert auc_ci(y, [6, 5, 4, 3, 2, 1])[0] == 0.0
    assert auc_ci(y, [1, 1, 1, 1, 1, 1]) == (0.5, (0.5, 0.5))  # ties count half
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    scores = rng.normal(size=400) + labels * 0.8
    scores[::7] = np.round(scores[::7])  # some ties
    value, ci = auc_ci(labels, scores)
    assert value == pytest.approx(auc(labels, scores), abs=1e-12)
    assert ci is not None and ci[0] < value < ci[1] and ci[1] - ci[0] < 0.2
    assert auc_ci(labels, scores) == (value, ci)  # seeded: the same interval every time
    assert auc_ci([1, 1], [0.1, 0.2]) == (None, None)  # one class only
    nan_scores = scores.copy()
    nan_scores[0] = np.nan
    assert auc_ci(labels, nan_scores)[0] == pytest.approx(auc(labels[1:], scores[1:]))


def test_demo_corpus_silence_auc_untrimmed_and_trimmed(audited) -> None:
    _, _, summary, _ = audited
    assert summary.n_real == 14 and summary.n_fake == 13  # 12 + 12 clips, plus broken ones
    untrimmed = summary.cue("silence_ms_tau0.0005")
    trimmed = summary.cue("trimmed_silence_ms_tau0.0005")
    assert untrimmed is not None and trimmed is not None
    assert untrimmed.auc is not None and untrimmed.auc > 0.95
    assert trimmed.auc is not None and 0.3 <= trimmed.auc <= 0.7
    assert untrimmed.direction == "higher in fakes"
    assert summary.delta_curve["untrimmed"][0] == 1.0  # nothing in the first 10 ms of a fake
    assert summary.tau_curve["untrimmed"] == [1.0] * len(summary.tau_curve["tau"])
    assert summary.cues[0].separation == 1.0
    tag = summary.cue("audio_encoder")
    assert tag is not None and tag.auc > 0.95  # the handler tag of the tool that made the fakes
    assert set(summary.manipulations) == {"visual_modified", "audio_modified", "both_modified"}
    assert summary.cue("silence_ms_tau0.0005").per_manipulation["audio_modified"] == 1.0


def test_detector_scores_untrimmed_and_trimmed(audited, tmp_path: Path) -> None:
    entries, result, _, _ = audited
    scores = tmp_path / "batch.csv"
    with open(scores, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "video_score", "variant"])
        for e in entries:
            if e.label is None:
                continue
            fake = e.label == "fake"
            w.writerow([e.name, 0.9 if fake else 0.1, "untrimmed"])
            w.writerow([e.name, 0.5, "trimmed"])
        w.writerow(["not/audited.mp4", 0.3, "untrimmed"])
    summary = summarise(result.rows, entries, scores=scores)
    rows = {(d.detector, d.variant): d for d in summary.detectors}
    assert rows[("batch", "untrimmed")].auc == 1.0 and rows[("batch", "untrimmed")].ap == 1.0
    assert rows[("batch", "trimmed")].auc == 0.5
    assert any("not among the audited" in n for n in summary.notes)


def test_report_is_self_contained(audited) -> None:
    _, _, summary, report = audited
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 10
    # no external resource: every URL is the SVG namespace, nothing is fetched
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>)]+", page)
    assert set(urls) <= {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert "url(" not in page and "@import" not in page
    out = report.parent
    header = next(csv.reader(open(out / "cues.csv")))
    assert header[:4] == ["name", "path", "label", "manipulation"]
    assert len(list(csv.reader(open(out / "cues.csv")))) == summary.n_clips + 1
    ranked = list(csv.DictReader(open(out / "cue_auc.csv")))
    assert float(ranked[0]["auc"]) in (0.0, 1.0)
    assert "pyarrow" in page or (out / "cues.parquet").exists()


def test_metadata_listing_names_missing_files(corpus: Path, tmp_path: Path) -> None:
    entries, problems = list_clips(metadata=corpus / "metadata.json")
    assert len(entries) == 27 and ("train/broken/missing/real.mp4" in dict(problems))
    moved = tmp_path / "meta.json"
    shutil.copy(corpus / "metadata.json", moved)
    entries2, problems2 = list_clips(metadata=moved, root=corpus)
    assert [e.key for e in entries2] == [e.key for e in entries]
    entries3, problems3 = list_clips(metadata=moved)  # wrong root: every clip missing, listed
    assert entries3 == [] and len(problems3) == 28


def test_worker_processes_give_the_same_rows(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0, face=False, width=64, height=64,
                     leading_silence_ms=25.0)
    paths = []
    for i in range(140):
        p = tmp_path / f"c{i}.mp4"
        os.link(clip.path, p)
        paths.append(str(p))
    local = dict(local_map(clip_cues, paths, workers=1))
    pooled = dict(local_map(clip_cues, paths, workers=4))
    assert pooled == local and len(pooled) == 140


def test_cli_audit_and_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from forensics_gui.cli import main

    corpus = tmp_path / "corpus"
    assert main(["audit", "--make-demo", str(corpus), "--clips", "6", "-q"]) == 0
    assert (corpus / "metadata.json").is_file()
    out = tmp_path / "report"
    assert main(["audit", str(corpus), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Measured 9 clips" in err and "Report:" in err
    assert (out / "report.html").is_file() and (out / "cues.jsonl").is_file()
    assert main(["audit", str(corpus), "-o", str(out), "-q"]) == 0
    assert json.loads((out / "cues.jsonl").read_text().splitlines()[0])["key"]
    # the report may not go inside the clips' folder, nor the demo into a full folder
    assert main(["audit", str(corpus), "-o", str(corpus / "rep")]) == 2
    assert "inside the folder of clips" in capsys.readouterr().err
    assert main(["audit", "--make-demo", str(corpus)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["audit", "-o", str(out)]) == 2
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines (and hyphens)
    assert "Mann-WhitneyAUC" in text and "ties" in text
    assert "bootstrap,200resamples,seed0" in text
