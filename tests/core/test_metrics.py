"""Metrics (AUC/AP, temporal IoU, AP@IoU, AR@N, proposals) and the `eval` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.results import metrics as m


def test_auc_and_ap_values() -> None:
    labels, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert m.auc(labels, scores) == pytest.approx(0.75)
    assert m.average_precision(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_auc_errors() -> None:
    with pytest.raises(ForensicsError, match="both real and fake.*all 3 .* fake"):
        m.auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ForensicsError, match="both real and fake"):
        m.average_precision([0, 0], [0.1, 0.2])
    with pytest.raises(ForensicsError, match="NaN"):
        m.auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ForensicsError, match="as many labels"):
        m.auc([0, 1, 1], [0.1, 0.2])


def test_temporal_iou() -> None:
    iou = m.temporal_iou((0.0, 1.0), [(0.0, 1.0), (0.5, 1.5), (2.0, 3.0), (0.0, 0.6)])
    np.testing.assert_allclose(iou, [1.0, 1 / 3, 0.0, 0.6])


def test_ap_hand_computed() -> None:
    gt = {"a": [(0.0, 1.0), (2.0, 3.0)], "real": []}
    props = {"a": [(0.9, 5.0, 6.0), (0.8, 0.0, 1.0), (0.7, 2.0, 3.0)], "real": []}
    ap = m.ap_at_iou(gt, props, thresholds=[0.5])
    # precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> envelope 2/3 over the whole recall range
    assert ap[0.5] == pytest.approx(2 / 3)
    # Duplicates are false positives once the segment is matched; a false positive in a real
    # video ranked first halves the precision.
    ap2 = m.ap_at_iou({"a": [(0.0, 1.0)], "r": []},
                      {"a": [(0.9, 0.0, 1.0), (0.8, 0.0, 1.0)], "r": [(0.95, 0.0, 1.0)]}, [0.5])
    assert ap2[0.5] == pytest.approx(0.5)


def test_ap_iou_threshold_and_greedy_matching() -> None:
    gt = {"a": [(0.0, 1.0)]}
    props = {"a": [(0.9, 0.0, 0.6)]}  # IoU 0.6
    ap = m.ap_at_iou(gt, props, thresholds=[0.5, 0.75])
    assert ap == {0.5: pytest.approx(1.0), 0.75: 0.0}
    # The best-IoU unmatched segment is taken: the second proposal still finds segment 2.
    gt2 = {"a": [(0.0, 1.0), (0.9, 2.0)]}
    props2 = {"a": [(0.9, 0.0, 1.0), (0.8, 0.0, 1.0)]}
    assert m.ap_at_iou(gt2, props2, [0.04])[0.04] == pytest.approx(1.0)  # IoU ~0.05


def test_ar_at_n() -> None:
    gt = {"a": [(0.0, 1.0), (2.0, 3.0)]}
    props = {"a": [(0.5, 2.0, 2.75), (0.9, 0.0, 1.0)]}  # second-best has IoU 0.75
    ar = m.ar_at_n(gt, props, ns=[1, 5])
    assert ar[1] == pytest.approx(0.5)
    assert ar[5] == pytest.approx((6 * 1.0 + 4 * 0.5) / 10)
    with pytest.raises(ForensicsError, match="fake segments"):
        m.ar_at_n({"r": []}, {})


def test_proposals_from_curve() -> None:
    x = np.zeros(50)
    x[10:20] = 1.0
    x[30:35] = 2.0
    props = m.proposals_from_curve(x, thresholds=[0.5])
    assert props == [(2.0, 1.2, 1.4), (1.0, 0.4, 0.8)]
    x[12] = 3.0
    both = m.proposals_from_curve(x, thresholds=[0.5, 1.5], confidence="max")
    assert (3.0, 12 / 25, 13 / 25) in both and (3.0, 0.4, 0.8) in both
    assert len(both) == 3  # the 30..34 run appears at both thresholds but is kept once
    nms = m.proposals_from_curve(x, thresholds=[0.5, 2.5], nms_iou=0.05)
    # the 3.0 peak (12/25..13/25 s) suppresses the wider 0.4..0.8 s run it lies in (IoU 0.1)
    assert nms == [(3.0, 12 / 25, 13 / 25), (2.0, 1.2, 1.4)]
    assert len(m.proposals_from_curve(x, thresholds=[0.5, 2.5])) == 3
    assert len(m.proposals_from_curve(np.random.default_rng(0).normal(size=200))) > 0
    assert m.proposals_from_curve([np.nan, np.nan]) == []


def _run_eval(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forensics_gui", "eval", *argv],
                          capture_output=True, text=True, timeout=120)


def _dataset(tmp_path: Path) -> Path:
    meta = [
        {"file": "test/000001.mp4", "n_fakes": 0, "fake_periods": [], "duration": 2.0,
         "modify_video": False, "modify_audio": False, "split": "test"},
        {"file": "test/000002.mp4", "n_fakes": 1, "fake_periods": [[0.4, 0.8]], "duration": 2.0,
         "modify_video": True, "modify_audio": True, "split": "test"},
        {"file": "test/000003.mp4", "n_fakes": 1, "fake_periods": [[1.0, 1.2]], "duration": 2.0,
         "modify_video": False, "modify_audio": True, "split": "test"},
        {"file": "test/000004.mp4", "n_fakes": 0, "fake_periods": [], "duration": 2.0,
         "modify_video": False, "modify_audio": False, "split": "test"},
    ]
    p = tmp_path / "metadata.min.json"
    p.write_text(json.dumps(meta), encoding="utf-8")
    return p


@pytest.mark.slow
def test_eval_json_output(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    curve2 = [0.0] * 50
    curve2[10:20] = [5.0] * 10  # 0.4..0.8 s
    curve3 = [0.0] * 50
    curve3[25:30] = [4.0] * 5  # 1.0..1.2 s
    scores = tmp_path / "results.csv"
    scores.write_text(
        "file,video_score,frame_scores\n"
        "/data/lavdf/test/000001.mp4,0.1,\"[0,0,0,0]\"\n"
        f"/data/lavdf/test/000002.mp4,0.9,\"{json.dumps(curve2)}\"\n"
        f"000003.mp4,0.3,{' '.join(map(str, curve3))}\n"
        "test/000004.mp4,0.4,\n"
        "other/zzz.mp4,0.5,\n"
        "test/failed.mp4,,\n", encoding="utf-8")
    trimmed = tmp_path / "trimmed.txt"
    trimmed.write_text("test/000001.mp4;0.6\ntest/000002.mp4;0.2\ntest/000003.mp4;0.7\n"
                       "test/000004.mp4;0.3\n", encoding="utf-8")
    out = _run_eval("--metadata", str(meta), "--scores", str(scores),
                    "--scores-trimmed", str(trimmed), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    orig, trim = report["results"]["original"], report["results"]["trimmed"]
    assert report["format"] == "lav-df" and report["metadata_clips"] == 4
    assert orig["matched"] == 4 and orig["unmatched"] == 1 and orig["unscored_rows"] == 1
    assert orig["n_real"] == 2 and orig["n_fake"] == 2
    assert orig["auc"] == pytest.approx(0.75)  # fakes 0.9, 0.3 vs reals 0.1, 0.4
    assert trim["auc"] == pytest.approx(0.5) and trim["matched"] == 4
    loc = orig["localisation"]
    # Every metadata clip counts; 000001 (flat curve) and 000004 (no curve) have no proposal.
    assert loc["videos"] == 4 and loc["segments"] == 2 and loc["videos_without_proposals"] == 2
    # Two perfect proposals: av1m never counts the first rank's step, so AP = 1/2 * 1.
    assert loc["protocol"] == "av1m" and loc["ap_at_iou"]["0.5"] == pytest.approx(0.5)
    assert loc["ar_at_n"]["5"] == pytest.approx(1.0)
    assert trim["localisation"] is None
    text = _run_eval("--metadata", str(meta), "--scores", str(scores))
    assert text.returncode == 0 and "AUC" in text.stdout and "0.7500" in text.stdout


def test_eval_curves_dir(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    scores = tmp_path / "results.csv"
    scores.write_text("file,video_score\ntest/000001.mp4,0.1\ntest/000002.mp4,0.9\n"
                      "test/000003.mp4,0.8\n", encoding="utf-8")
    curves = tmp_path / "curves"
    curves.mkdir()
    c = [0.0] * 50
    c[10:20] = [3.0] * 10
    (curves / "r2.json").write_text(json.dumps({"file": "test/000002.mp4", "frame_scores": c}))
    c3 = [0.0] * 40
    c3[5:10] = [3.0] * 5  # frames 5..9 + 20-frame offset = 1.0..1.2 s
    (curves / "000003.json").write_text(json.dumps({"frame_scores": c3, "curve_start_s": 0.8}))
    out = _run_eval("--metadata", str(meta), "--scores", str(scores), "--curves", str(curves),
                    "--json")
    assert out.returncode == 0, out.stderr
    loc = json.loads(out.stdout)["results"]["original"]["localisation"]
    assert loc["videos"] == 4 and loc["ap_at_iou"]["0.95"] == pytest.approx(0.5)  # two perfect


@pytest.mark.slow
def test_eval_localisation_predictions(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    scores = tmp_path / "pred.txt"
    scores.write_text("test/000001.mp4;0.2\ntest/000002.mp4;0.9\ntest/000003.mp4;0.1\n"
                      "test/000004.mp4;0.3\n", encoding="utf-8")
    props = tmp_path / "loc.json"
    # 000002 found exactly; 000003 (a fake with a segment) has no prediction: recall 1/2.
    props.write_text(json.dumps({"test/000002.mp4": [[0.9, 0.4, 0.8]],
                                 "test/000001.mp4": [[0.1, 0.0, 0.5]]}), encoding="utf-8")
    args = ("--metadata", str(meta), "--scores", str(scores), "--proposals", str(props),
            "--proposal-unit", "seconds", "--json")
    out = _run_eval(*args)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)["results"]["original"]
    assert res["auc"] == pytest.approx(0.5)  # fakes 0.9, 0.1 vs reals 0.2, 0.3
    loc = res["localisation"]
    assert loc["videos"] == 4 and loc["segments"] == 2
    # Ranked TP then FP: av1m counts no step after the first rank; ActivityNet counts it.
    assert loc["ap_at_iou"]["0.5"] == 0.0
    assert loc["ar_at_n"]["50"] == pytest.approx(0.5)
    out = _run_eval(*args, "--protocol", "activitynet")
    assert out.returncode == 0, out.stderr
    loc = json.loads(out.stdout)["results"]["original"]["localisation"]
    assert loc["ap_at_iou"]["0.5"] == pytest.approx(0.5)
    assert loc["ar_at_n"]["100"] == pytest.approx(0.5)


@pytest.mark.slow
def test_eval_errors(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\ntest/000001.mp4,1\n", encoding="utf-8")
    out = _run_eval("--metadata", str(meta), "--scores", str(bad), "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "no a 'video_score' column" not in out.stderr
    assert "'video_score' column" in out.stderr and "file, label" in out.stderr
    nomatch = tmp_path / "nomatch.csv"
    nomatch.write_text("file,video_score\nzzz/a.mp4,0.3\n", encoding="utf-8")
    out = _run_eval("--metadata", str(meta), "--scores", str(nomatch))
    assert out.returncode == 2 and "None of the 1 files" in out.stderr
    one = tmp_path / "one.csv"
    one.write_text("file,video_score\ntest/000002.mp4,0.3\n", encoding="utf-8")
    # Clips without a score count as misses (AUC over all 4 clips), or fail with --strict.
    out = _run_eval("--metadata", str(meta), "--scores", str(one))
    assert out.returncode == 0 and "3 metadata clips without a score count as misses" in out.stdout
    out = _run_eval("--metadata", str(meta), "--scores", str(one), "--strict")
    assert out.returncode == 2 and "3 metadata clips have no score" in out.stderr


def test_metrics_refuse_impossible_segments() -> None:
    gt = {"a": [(0.5, 1.0)]}
    for bad in ([(np.nan, 1.0)], [(0.2, np.inf)], [(-0.1, 0.3)], [(0.9, 0.4)]):
        with pytest.raises(m.MetricError, match="of a is impossible"):
            m.ap_at_iou({"a": bad}, {"a": [(0.9, 0.5, 1.0)]})
        with pytest.raises(m.MetricError, match="of a is impossible"):
            m.ar_at_n(gt, {"a": [(0.9, *bad[0])]})
    with pytest.raises(m.MetricError, match=r"proposal \[nan, 0.5, 1.0\] of a"):
        m.ap_at_iou(gt, {"a": [(np.nan, 0.5, 1.0)]})


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("cell", "shown"), [("nan", "'nan'"), ("inf", "'inf'"), ("-Infinity", "'-Infinity'"),
                                             ("0.3x", "'0.3x'")])
def test_eval_refuses_scores_that_are_not_finite_numbers(tmp_path: Path, cell: str, shown: str) -> None:
    meta = _dataset(tmp_path)
    scores = tmp_path / "results.csv"
    scores.write_text("file,video_score\ntest/000001.mp4,0.1\ntest/000002.mp4,0.9\n"
                      f"test/000003.mp4,{cell}\ntest/000004.mp4,0.2\ntest/failed.mp4,\n", encoding="utf-8")
    before = _sha(scores), _sha(meta)
    out = _run_eval("--metadata", str(meta), "--scores", str(scores))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == (f"forensics-gui eval: results.csv row 4: the score of test/000003.mp4 is "
                          f"{shown}, not a finite number; fix or remove that row.\n")
    assert (_sha(scores), _sha(meta)) == before


def test_eval_refuses_duplicate_rows_for_one_clip_and_variant(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    scores = tmp_path / "results.csv"
    # Duplicated rows used to take AUC from 1.0 to 0.5 without a word.
    scores.write_text("file,video_score\ntest/000001.mp4,0.1\ntest/000002.mp4,0.9\n"
                      "test/000003.mp4,0.8\ntest/000004.mp4,0.2\n./test/000002.mp4,0.05\n",
                      encoding="utf-8")
    out = _run_eval("--metadata", str(meta), "--scores", str(scores))
    assert out.returncode == 2
    assert out.stderr == ("forensics-gui eval: results.csv rows 3 and 6 both score ./test/000002.mp4; "
                          "keep one row per clip and variant.\n")
    det = tmp_path / "pred.txt"
    det.write_text("test/000001.mp4;0.1\ntest/000002.mp4;0.9\ntest/000002.mp4;0.05\n")
    out = _run_eval("--metadata", str(meta), "--scores", str(det))
    assert out.returncode == 2 and "pred.txt line 3: test/000002.mp4 is scored twice" in out.stderr


def test_eval_refuses_impossible_segments_naming_file_and_entry(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    data = json.loads(meta.read_text())
    data[2]["fake_periods"] = [[1.2, 1.0]]
    meta.write_text(json.dumps(data))
    scores = tmp_path / "results.csv"
    scores.write_text("file,video_score\ntest/000001.mp4,0.1\ntest/000002.mp4,0.9\n")
    out = _run_eval("--metadata", str(meta), "--scores", str(scores))
    assert out.returncode == 2
    assert out.stderr.startswith("forensics-gui eval: metadata.min.json entry 2 (test/000003.mp4): the "
                                 "segment [1.2, 1] ends before it starts;")
    props = tmp_path / "loc.json"
    props.write_text('{"test/000002.mp4": [[0.9, -0.4, 0.8]]}')
    meta.write_text(json.dumps(json.loads(_dataset(tmp_path).read_text())))
    out = _run_eval("--metadata", str(meta), "--scores", str(scores), "--proposals", str(props))
    assert out.returncode == 2 and "loc.json (test/000002.mp4): the segment [-0.4, 0.8] starts " \
                                   "before 0 s" in out.stderr


def _batch_csv(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    """A RESULTS.csv + RESULTS.curves/ in batch's layout, written the way batch writes them."""
    from forensics_gui.core.results import batch_results as br

    out = tmp_path / "results.csv"
    with open(out, "wb") as fh:
        fh.write(br.header_line())
        for r in rows:
            r = dict(r)
            curve = r.pop("frame_scores", None)
            if curve is not None:
                r["curve"] = br.write_curve(out, file=str(r["file"]), sha256=str(r["sha256"]),
                                            variant=str(r["variant"]), pool="lse",
                                            frame_scores=curve, first_model_frame=0)
            br.append_rows(fh, [r])
    return out


def test_eval_reads_batch_results_with_long_curves_and_both_variants(tmp_path: Path) -> None:
    from forensics_gui.core.results import batch_results as br

    meta = _dataset(tmp_path)
    n = 20_000  # a 13-minute curve: over csv's 128 KiB field limit as one cell
    long2 = [0.0] * n
    long2[10:20] = [5.0] * 10  # 0.4..0.8 s, the fake segment of 000002
    flat = [0.0] * n
    rows: list[dict[str, object]] = []
    for variant, scores in (("untrimmed", (0.1, 0.9, 0.8, 0.2)), ("trimmed", (0.9, 0.1, 0.8, 0.2))):
        for i, s in enumerate(scores, start=1):
            rows.append({"file": f"test/00000{i}.mp4", "video_score": s, "variant": variant,
                         "sha256": f"{i:064x}", "status": "ok",
                         "frame_scores": long2 if i == 2 else flat})
    rows.append({"file": "test/broken.mp4", "status": "error", "error": "not a video"})
    out = _batch_csv(tmp_path, rows)
    res = _run_eval("--metadata", str(meta), "--scores", str(out), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)["results"]
    assert list(report) == ["untrimmed", "trimmed"]
    assert report["untrimmed"]["auc"] == pytest.approx(1.0)
    assert report["trimmed"]["auc"] == pytest.approx(0.25)  # only fake 0.8 beats real 0.2
    assert report["untrimmed"]["unscored_rows"] == 1 and report["untrimmed"]["rows"] == 5
    loc = report["untrimmed"]["localisation"]
    assert loc["videos"] == 4 and loc["segments"] == 2  # 000003 (flat curve) is missed
    assert loc["ap_at_iou"]["0.5"] == 0.0  # one TP, ranked first: av1m counts no step
    assert loc["ar_at_n"]["50"] == pytest.approx(0.5)
    # The curve folder also works as --curves.
    plain = tmp_path / "plain.csv"
    plain.write_text("file,video_score\n" + "".join(
        f"test/00000{i}.mp4,{s}\n" for i, s in enumerate((0.1, 0.9, 0.8, 0.2), start=1)))
    res = _run_eval("--metadata", str(meta), "--scores", str(plain), "--curves",
                    str(br.curves_dir(out)), "--json")
    assert res.returncode == 0, res.stderr
    # A damaged batch row is refused (batch repairs it on its next run).
    lines = out.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",0.8,", b",0.7,")
    out.write_bytes(b"\n".join(lines))
    res = _run_eval("--metadata", str(meta), "--scores", str(out))
    assert res.returncode == 2 and res.stderr == (
        "forensics-gui eval: results.csv row 4 is damaged (an interrupted write or an edit); run "
        "the same batch command again to redo that clip.\n")


def test_eval_still_reads_old_results_with_huge_frame_score_cells(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    n = 20_000
    curve2 = [0.0] * n
    curve2[10:20] = [5.0] * 10
    old = tmp_path / "old.csv"
    cells = {2: " ".join(f"{v:.4f}" for v in curve2)}
    old.write_text("file,video_score,pool,variant,status,frame_scores\n" + "".join(
        f"test/00000{i}.mp4,{s},lse,untrimmed,ok,{cells.get(i, '')}\n"
        for i, s in enumerate((0.1, 0.9, 0.8, 0.2), start=1)))
    assert len(cells[2]) > 131_072
    res = _run_eval("--metadata", str(meta), "--scores", str(old), "--json")
    assert res.returncode == 0, res.stderr
    orig = json.loads(res.stdout)["results"]["original"]
    assert orig["auc"] == pytest.approx(1.0)
    assert orig["localisation"]["videos"] == 4 and orig["localisation"]["proposals"] == 1


def test_eval_refuses_a_curve_file_with_infinite_scores(tmp_path: Path) -> None:
    meta = _dataset(tmp_path)
    scores = tmp_path / "results.csv"
    scores.write_text("file,video_score\ntest/000001.mp4,0.1\ntest/000002.mp4,0.9\n")
    curves = tmp_path / "curves"
    curves.mkdir()
    (curves / "notes.json").write_text('{"comment": "not a result"}')  # skipped
    (curves / "r2.json").write_text('{"file": "test/000002.mp4", "frame_scores": [0.1, 1e999]}')
    out = _run_eval("--metadata", str(meta), "--scores", str(scores), "--curves", str(curves))
    assert out.returncode == 2 and out.stderr == (
        "forensics-gui eval: Curves folder curves: its curve file r2.json holds infinite scores or "
        "an impossible fps or start time.\n")
