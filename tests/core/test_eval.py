"""`forensics-gui eval`: protocols, proposal units, every metadata clip evaluated, path matching,
the real dataset files and the untrimmed/trimmed table. Each case is small and hand-computed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics_gui import cli
from forensics_gui.commands import eval as ev
from forensics_gui.core.results import groundtruth as gtm
from forensics_gui.testing.official_sdk import load_official_sdk


def _eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["eval", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _write(path: Path, text: str | object) -> Path:
    path.write_text(text if isinstance(text, str) else json.dumps(text), encoding="utf-8")
    return path


# SDK minimal metadata: file + fake_segments only (empty = real).
AV1M_MIN = [
    {"file": "test/v1.mp4", "fake_segments": [[1.0, 2.0]]},
    {"file": "test/v2.mp4", "fake_segments": [[0.0, 1.0]]},
    {"file": "test/v3.mp4", "fake_segments": []},
]
PERFECT = {"test/v1.mp4": [[0.9, 1.0, 2.0]], "test/v2.mp4": [[0.8, 0.0, 1.0]]}


def _av1m(tmp_path: Path, extra: list[dict[str, object]] | None = None) -> tuple[Path, Path]:
    meta = _write(tmp_path / "test_metadata.json", AV1M_MIN + (extra or []))
    scores = _write(tmp_path / "pred.txt", "test/v1.mp4;0.9\ntest/v2.mp4;0.3\ntest/v3.mp4;0.5\n")
    return meta, scores


def test_sdk_minimal_metadata_counts_empty_fake_segments_as_real(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, scores = _av1m(tmp_path)
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json")
    assert code == 0, err
    res = json.loads(out)["results"]["original"]
    assert (res["n_real"], res["n_fake"]) == (1, 2)
    assert res["auc"] == pytest.approx(0.5)  # fakes 0.9 and 0.3 against the real 0.5


def test_protocols_differ_as_documented(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, scores = _av1m(tmp_path)
    props = _write(tmp_path / "loc.json", PERFECT)
    args = ["--metadata", str(meta), "--scores", str(scores), "--proposals", str(props), "--json"]
    code, out, err = _eval(capsys, *args)
    assert code == 0, err
    loc = json.loads(out)["results"]["original"]["localisation"]
    # av1m: two perfect proposals reach recall 1/2 then 1; the first step is never counted.
    assert loc["protocol"] == "av1m"
    assert loc["ap_at_iou"] == {t: pytest.approx(0.5) for t in ("0.5", "0.75", "0.9", "0.95")}
    assert list(loc["ar_at_n"]) == ["50", "30", "20", "10", "5"]
    assert loc["ar_at_n"]["30"] == pytest.approx(1.0)
    code, out, err = _eval(capsys, *args, "--protocol", "activitynet")
    assert code == 0, err
    loc = json.loads(out)["results"]["original"]["localisation"]
    assert loc["protocol"] == "activitynet" and loc["ap_at_iou"]["0.95"] == pytest.approx(1.0)


def test_help_states_each_protocol_and_the_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    text = "".join(capsys.readouterr().out.split())  # wrapping may split words anywhere
    for phrase in ("av1m (default): the official AV-Deepfake1M", "IoU > t",
                   "first unused matching proposal in file order",
                   "never counts the step from recall 0", "first N proposals in file order",
                   "activitynet:", "precision envelope", "--proposal-unit {seconds,frames}",
                   "frames (default for LAV-DF", "--strict"):
        assert phrase.replace(" ", "") in text, phrase


def test_metadata_clips_without_predictions_are_misses_and_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, scores = _av1m(tmp_path, [{"file": "test/v4.mp4", "fake_segments": [[0.0, 1.0]]}])
    props = _write(tmp_path / "loc.json", PERFECT)
    args = ["--metadata", str(meta), "--scores", str(scores), "--proposals", str(props)]
    code, out, err = _eval(capsys, *args, "--json")
    assert code == 0, err
    res = json.loads(out)["results"]["original"]
    assert res["missing"] == 1 and res["missing_examples"] == ["test/v4.mp4"]
    # v4 (fake, no score) ranks below all: fakes .9, .3, v4 against the real .5 -> 1/3.
    assert res["auc"] == pytest.approx(1 / 3) and res["auc_scored_only"] == pytest.approx(0.5)
    loc = res["localisation"]
    assert (loc["videos"], loc["segments"], loc["videos_without_proposals"]) == (4, 3, 2)
    assert loc["videos_without_proposals_examples"] == ["test/v3.mp4", "test/v4.mp4"]
    assert loc["ap_at_iou"]["0.5"] == pytest.approx(1 / 3)  # recall 1/3 -> 2/3, first step uncounted
    assert loc["ar_at_n"]["5"] == pytest.approx(2 / 3)
    assert json.loads(out)["proposals"]["missing_examples"] == ["test/v3.mp4", "test/v4.mp4"]
    code, out, err = _eval(capsys, *args)
    assert code == 0 and "original: 1 clips without a score: test/v4.mp4" in out
    assert "original: 2 clips without proposals: test/v3.mp4, test/v4.mp4" in out
    code, out, err = _eval(capsys, *args, "--strict")
    assert code == 2 and out == ""
    assert err == ("forensics-gui eval: --strict: in loc.json, 2 metadata clips have no proposals "
                   "(first: test/v3.mp4, test/v4.mp4).\n")
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--strict")
    assert code == 2
    assert err == ("forensics-gui eval: --strict: in pred.txt, 1 metadata clip has no score "
                   "(first: test/v4.mp4).\n")


LAVDF = [
    {"file": "test/000001.mp4", "n_fakes": 1, "fake_periods": [[1.0, 2.0]], "duration": 4.0,
     "modify_video": True, "modify_audio": False, "split": "test"},
    {"file": "test/000002.mp4", "n_fakes": 0, "fake_periods": [], "duration": 4.0,
     "modify_video": False, "modify_audio": False, "split": "test"},
]


def test_proposal_units_lavdf_frames_by_default_and_wrong_units_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "metadata.min.json", LAVDF)
    scores = _write(tmp_path / "pred.txt", "test/000001.mp4;0.9\ntest/000002.mp4;0.1\n")
    frames = _write(tmp_path / "frames.json", {"test/000001.mp4": [[0.9, 25, 50]],
                                               "test/000002.mp4": [[0.1, 0, 10]]})
    seconds = _write(tmp_path / "seconds.json", {"test/000001.mp4": [[0.9, 1.0, 2.0]],
                                                 "test/000002.mp4": [[0.1, 0.0, 0.4]]})
    base = ["--metadata", str(meta), "--scores", str(scores), "--json"]
    code, out, err = _eval(capsys, *base, "--proposals", str(frames))
    assert code == 0, err
    report = json.loads(out)
    assert report["proposals"]["unit"] == "frames" and report["proposals"]["fps"] == 25
    assert report["results"]["original"]["localisation"]["ar_at_n"]["50"] == pytest.approx(1.0)
    # A file in seconds read as LAV-DF frames ends ~0.02x into the clips: refused, not AP 0.
    code, out, err = _eval(capsys, *base, "--proposals", str(seconds))
    assert code == 2 and out == ""
    assert err.startswith("forensics-gui eval: seconds.json: read as frames, the proposals end at "
                          "about 0.0")
    assert err.endswith("as if they were seconds; pass --proposal-unit seconds.\n")
    code, out, err = _eval(capsys, *base, "--proposals", str(seconds), "--proposal-unit", "seconds")
    assert code == 0, err
    assert json.loads(out)["results"]["original"]["localisation"]["ar_at_n"]["5"] == pytest.approx(1.0)
    # Given explicitly, the wrong unit is used but warned about on stderr.
    code, out, err = _eval(capsys, *base, "--proposals", str(seconds), "--proposal-unit", "frames")
    assert code == 0 and "Warning: seconds.json: read as frames" in err
    assert json.loads(out)["results"]["original"]["localisation"]["ar_at_n"]["5"] == 0.0
    # --fps scales frames: at 50 fps the segment 25..50 is 0.5..1.0 s, IoU 0 with 1..2 s.
    code, out, err = _eval(capsys, *base, "--proposals", str(frames), "--fps", "50")
    assert code == 0, err
    assert json.loads(out)["results"]["original"]["localisation"]["ar_at_n"]["5"] == 0.0
    code, out, err = _eval(capsys, *base, "--proposals", str(frames), "--fps", "0",
                           "--proposal-unit", "frames")
    assert code == 2 and "--fps must be a positive number" in err


def test_frame_proposals_against_av1m_seconds_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "test_metadata.json", [
        {"file": "a.mp4", "modify_type": "visual_modified", "fake_segments": [[1.0, 2.0]],
         "video_frames": 100}])
    scores = _write(tmp_path / "pred.txt", "a.mp4;0.9\n")
    props = _write(tmp_path / "loc.json", {"a.mp4": [[0.9, 25, 50]]})  # 50 / 4 s = 12.5x
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores),
                           "--proposals", str(props))
    assert code == 2
    assert err == ("forensics-gui eval: loc.json: the proposals end about 12x past the clip "
                   "lengths, as if they were frames; pass --proposal-unit frames (and --fps, 25 "
                   "for LAV-DF).\n")


def test_unit_ratio_is_the_median_of_last_end_over_clip_length() -> None:
    index = gtm.GroundTruthIndex({
        "a": gtm.GroundTruth("a", "fake", None, fake_segments=[(0.0, 1.0)], duration_s=2.0),
        "b": gtm.GroundTruth("b", "real", None, video_frames=50),  # 2 s at 25 fps
        "c": gtm.GroundTruth("c", "fake", None, fake_segments=[(0.5, 4.0)]),  # last end: 4 s
    })
    props = {"a": [(1.0, 0.0, 1.0), (0.5, 0.0, 3.0)], "b": [(1.0, 0.0, 50.0)],
             "c": [(1.0, 0.0, 8.0)]}
    assert ev.unit_ratio(index, props) == pytest.approx(2.0)  # ratios 1.5, 25, 2
    assert ev.unit_problem(2.0, "seconds") is None
    assert ev.unit_problem(9.0, "seconds") is not None and ev.unit_problem(9.0, "frames") is None
    assert ev.unit_problem(0.1, "frames") is not None and ev.unit_problem(0.2, "frames") is None


FAVC_SPLIT = (
    "source,category,full_path\n"
    "id00076,A,FakeAVCeleb/RealVideo-RealAudio/African/men/id00076/00109.mp4\n"
    "id00076,B,FakeAVCeleb/RealVideo-FakeAudio/African/men/id00076/00109.mp4\n"
    "id00077,A,FakeAVCeleb/RealVideo-RealAudio/African/men/id00077/00001.mp4\n"
    "id00077,D,FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00077/00001_fake.mp4\n"
)


def test_favc_split_paths_under_another_root_match_and_problems_are_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "test_split.csv", FAVC_SPLIT)
    scores = _write(tmp_path / "results.csv", (
        "file,video_score\n"
        "/mnt/x/RealVideo-RealAudio/African/men/id00076/00109.mp4,0.2\n"
        "/mnt/x/RealVideo-FakeAudio/African/men/id00076/00109.mp4,0.7\n"
        "/mnt/x/RealVideo-RealAudio/African/men/id00077/00001.mp4,0.6\n"
        "00109.mp4,0.5\n"  # two metadata clips share this name: ambiguous
        "elsewhere/zzz.mp4,0.5\n"))
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json")
    assert code == 0, err
    res = json.loads(out)["results"]["original"]
    assert res["matched"] == 3 and res["n_real"] == 2 and res["n_fake"] == 1
    # The unscored fake D counts as a miss (below every score): 0.7 beats both reals, D neither.
    assert res["auc"] == pytest.approx(0.5)
    assert res["auc_scored_only"] == pytest.approx(1.0)  # fake 0.7 above reals 0.2 and 0.6
    assert (res["ambiguous"], res["ambiguous_examples"]) == (1, ["00109.mp4"])
    assert (res["unmatched"], res["unmatched_examples"]) == (1, ["elsewhere/zzz.mp4"])
    assert res["missing_examples"] == [
        "FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00077/00001_fake.mp4"]
    assert res["localisation"] is None  # no timestamps in FakeAVCeleb
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores))
    assert "original: 1 ambiguous files: 00109.mp4" in out
    assert "original: 1 unmatched files: elsewhere/zzz.mp4" in out


def test_two_files_for_one_metadata_clip_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, _ = _av1m(tmp_path)
    scores = _write(tmp_path / "dup.txt", "test/v1.mp4;0.9\n/root/test/v1.mp4;0.1\ntest/v3.mp4;0.2\n")
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores))
    assert code == 2
    assert err == ("forensics-gui eval: dup.txt: test/v1.mp4 and root/test/v1.mp4 both match the "
                   "metadata clip test/v1.mp4; keep one entry per clip or give longer paths.\n")


def test_avh_align_av1m_csv_and_untrimmed_trimmed_side_by_side(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "test_labels.csv",
                  "path,label,num_frames\ntest/a.mp4,0,100\ntest/b.mp4,1,100\ntest/c.mp4,1,90\n")
    # Trimmed rows first: the table still reads untrimmed | trimmed, as in the paper.
    scores = _write(tmp_path / "results.csv", (
        "file,video_score,variant\n"
        "test/a.mp4,0.5,trimmed\ntest/b.mp4,0.1,trimmed\ntest/c.mp4,0.9,trimmed\n"
        "test/a.mp4,0.1,untrimmed\ntest/b.mp4,0.8,untrimmed\ntest/c.mp4,0.9,untrimmed\n"))
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json")
    assert code == 0, err
    results = json.loads(out)["results"]
    assert list(results) == ["untrimmed", "trimmed"]
    assert results["untrimmed"]["auc"] == pytest.approx(1.0)
    assert results["trimmed"]["auc"] == pytest.approx(0.5)  # c 0.9 > a 0.5 > b 0.1
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores))
    header = next(line for line in out.splitlines() if "untrimmed" in line)
    assert header.split() == ["untrimmed", "trimmed"]
    auc_row = next(line for line in out.splitlines() if line.startswith("AUC"))
    assert auc_row.split() == ["AUC", "1.0000", "0.5000"]


def test_curves_count_every_timed_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "metadata.min.json", LAVDF + [
        {"file": "test/000003.mp4", "n_fakes": 1, "fake_periods": [[0.0, 0.4]], "duration": 4.0,
         "modify_video": False, "modify_audio": True, "split": "test"}])
    curve = [0.0] * 100
    curve[25:50] = [3.0] * 25  # 1.0..2.0 s
    scores = _write(tmp_path / "results.csv", (
        f"file,video_score,frame_scores\ntest/000001.mp4,0.9,\"{json.dumps(curve)}\"\n"
        "test/000002.mp4,0.1,\ntest/000003.mp4,0.5,\n"))
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json")
    assert code == 0, err
    loc = json.loads(out)["results"]["original"]["localisation"]
    assert loc["proposal_source"] == "frame curves"
    assert (loc["videos"], loc["segments"], loc["videos_without_proposals"]) == (3, 2, 2)
    assert loc["ar_at_n"]["50"] == pytest.approx(0.5)  # 000003 has no curve: its segment is missed
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--strict")
    assert code == 2 and "2 metadata clips have no frame curve" in err


def test_eval_writes_nothing_and_declares_no_outputs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, scores = _av1m(tmp_path)
    before = sorted(tmp_path.iterdir())
    code, _, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores))
    assert code == 0, err
    assert sorted(tmp_path.iterdir()) == before
    assert not hasattr(ev, "outputs_and_inputs")  # stdout only: the output guard has nothing to lock



@pytest.mark.parametrize("dataset", ["av1m", "lavdf"])
def test_eval_reproduces_the_official_sdk_end_to_end(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str) -> None:
    sdk = load_official_sdk()
    if sdk is None:
        pytest.skip("the official SDK avdeepfake1m 0.0.4 is not installed "
                    "(pip install avdeepfake1m==0.0.4 --no-deps)")
    import numpy as np

    rng = np.random.default_rng(7)
    fps = 25.0 if dataset == "lavdf" else 1.0
    meta, props, lines = [], {}, []
    for i in range(300):
        name = f"test/id{i % 40:03d}/clip{i:04d}.mp4"
        segs = []
        for _ in range(int(rng.integers(0, 3))):
            s = round(float(rng.uniform(0, 6)), 2)
            segs.append([s, round(s + float(rng.uniform(0.2, 1.5)), 2)])
        entry: dict[str, object] = {"file": name}
        if dataset == "lavdf":
            entry.update(fake_periods=segs, n_fakes=len(segs), duration=8.0,
                         modify_video=bool(segs), modify_audio=False)
        else:
            entry["fake_segments"] = segs
        meta.append(entry)
        plist = []
        for _ in range(int(rng.integers(1, 8))):  # the SDK fails on a clip with none
            if segs and rng.random() < 0.5:  # near a true segment
                s, e = segs[int(rng.integers(len(segs)))]
                s, e = max(0.0, s + float(rng.normal(0, 0.1))), e + float(rng.normal(0, 0.1))
            else:
                s = float(rng.uniform(0, 7))
                e = s + float(rng.uniform(0.1, 1.0))
            conf = round(float(rng.uniform(0, 1)), 1)  # a coarse grid: ties across clips
            plist.append([conf, round(s * fps, 3), round(max(e, s) * fps, 3)])
        props[name] = plist  # the SDK needs an entry for every clip, empty or not
        lines.append(f"{name};{rng.random():.3f}")
    meta_path = _write(tmp_path / ("metadata.min.json" if dataset == "lavdf" else "test.json"), meta)
    props_path = _write(tmp_path / "loc.json", props)
    scores = _write(tmp_path / "pred.txt", "\n".join(lines) + "\n")
    code, out, err = _eval(capsys, "--metadata", str(meta_path), "--scores", str(scores),
                           "--proposals", str(props_path), "--json")
    assert code == 0, err
    loc = json.loads(out)["results"]["original"]["localisation"]
    key = "fake_periods" if dataset == "lavdf" else "fake_segments"
    theirs = sdk.ap_ar_1d(str(props_path), str(meta_path), "file", key, fps,  # type: ignore[attr-defined]
                          [0.5, 0.75, 0.9, 0.95], [50, 30, 20, 10, 5],
                          [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
    for t, v in theirs["ap"].items():
        assert loc["ap_at_iou"][f"{t:g}"] == pytest.approx(v, abs=1e-6), t
    for n, v in theirs["ar"].items():
        assert loc["ar_at_n"][str(n)] == pytest.approx(v, abs=1e-6), n


def test_metadata_with_several_splits_is_narrowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = _write(tmp_path / "metadata.min.json", [
        {**e, "split": "test"} for e in LAVDF] + [
        {"file": "train/000009.mp4", "n_fakes": 1, "fake_periods": [[0.0, 1.0]], "duration": 4.0,
         "modify_video": True, "modify_audio": False, "split": "train"}])
    scores = _write(tmp_path / "pred.txt", "test/000001.mp4;0.9\ntest/000002.mp4;0.1\n")
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["metadata_clips"] == 2
    assert report["split"] == "test (2 of 3 clips; the split of every predicted clip)"
    assert report["results"]["original"]["missing"] == 0
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--json",
                           "--split", "train")
    assert code == 2 and "none of the 2 files" in err.lower()
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(scores), "--split", "val")
    assert code == 2
    assert err == ("forensics-gui eval: No clip of metadata.min.json is in split 'val'; its splits "
                   "are test, train.\n")
    mixed = _write(tmp_path / "mixed.txt", "test/000001.mp4;0.9\ntrain/000009.mp4;0.8\n")
    code, out, err = _eval(capsys, "--metadata", str(meta), "--scores", str(mixed), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["split"] is None and report["results"]["original"]["missing"] == 1
