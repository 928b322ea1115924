"""Ground-truth parsing (AV-Deepfake1M, LAV-DF, FakeAVCeleb), lookup and prediction files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.results import groundtruth as gtm

AV1M = [
    {"file": "test/id001/a/real.mp4", "modify_type": "real", "fake_segments": [],
     "audio_fake_segments": [], "visual_fake_segments": [], "video_frames": 100, "audio_frames": 64000},
    {"file": "test/id001/a/fake_v.mp4", "modify_type": "visual_modified",
     "fake_segments": [[1.0, 1.5]], "audio_fake_segments": [],
     "visual_fake_segments": [[1.0, 1.5]], "video_frames": 100, "audio_frames": 64000},
    {"file": "test/id002/b/fake_av.mp4", "modify_type": "both-modified",
     "fake_segments": [[0.5, 1.0], [2.0, 2.4]], "audio_fake_segments": [[0.5, 1.0], [2.0, 2.4]],
     "visual_fake_segments": [[0.6, 1.0]], "video_frames": 80, "audio_frames": 51200},
    {"file": "test/id003/c/fake_a.mp4", "modify_type": "audio_modified",
     "fake_segments": [[0.2, 0.7]]},  # per-modality lists absent: derived from modify_type
]


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_av_deepfake1m_list(tmp_path: Path) -> None:
    index = gtm.load_metadata(_write(tmp_path / "val_metadata.json", AV1M))
    assert len(index) == 4
    real = index["test/id001/a/real.mp4"]
    assert real.label == "real" and real.is_fake is False and real.fake_segments == []
    assert real.whole_clip_labels == {"audio_fake": False, "video_fake": False}
    assert real.video_frames == 100 and real.audio_frames == 64000
    both = index["test/id002/b/fake_av.mp4"]
    assert both.modify_type == "both_modified" and both.label == "fake"
    assert both.audio_segments == [(0.5, 1.0), (2.0, 2.4)]
    assert both.visual_segments == [(0.6, 1.0)]
    assert both.both_segments == [(0.6, 1.0)]
    assert both.whole_clip_labels == {"audio_fake": True, "video_fake": True}
    assert both.source_format == "av-deepfake1m" and both.has_timestamps
    vis = index["test/id001/a/fake_v.mp4"]
    assert vis.whole_clip_labels == {"audio_fake": False, "video_fake": True}
    aud = index["test/id003/c/fake_a.mp4"]
    assert aud.audio_segments == [(0.2, 0.7)] and aud.visual_segments == []


def test_av_deepfake1m_per_clip_json(tmp_path: Path) -> None:
    entry = dict(AV1M[1])
    del entry["file"]
    index = gtm.load_metadata(_write(tmp_path / "clip7.json", entry))
    assert list(index) == ["clip7.mp4"]
    assert index["clip7.mp4"].visual_segments == [(1.0, 1.5)]


def test_lav_df(tmp_path: Path) -> None:
    data = [
        {"file": "test/000001.mp4", "n_fakes": 0, "fake_periods": [], "duration": 3.2,
         "original": None, "modify_video": False, "modify_audio": False, "split": "test"},
        {"file": "test/000002.mp4", "n_fakes": 2, "fake_periods": [[0.4, 0.9], [1.5, 2.0]],
         "duration": 4.0, "original": "test/000001.mp4", "modify_video": True,
         "modify_audio": False, "split": "test", "video_frames": 100},
    ]
    index = gtm.load_metadata(_write(tmp_path / "metadata.min.json", data))
    real, fake = index["test/000001.mp4"], index["test/000002.mp4"]
    assert real.label == "real" and real.modify_type == "real" and real.duration_s == 3.2
    assert fake.label == "fake" and fake.modify_type == "visual_modified"
    assert fake.fake_segments == [(0.4, 0.9), (1.5, 2.0)] == fake.visual_segments
    assert fake.audio_segments == [] and fake.split == "test" and fake.video_frames == 100
    assert fake.source_format == "lav-df"


FAVC_ROWS = [
    ("id00076", "-", "-", "real", "A", "RealVideo-RealAudio", "African", "men", "00109.mp4",
     "FakeAVCeleb/RealVideo-RealAudio/African/men/id00076"),
    ("id00076", "id00166", "-", "wav2lip", "D", "FakeVideo-FakeAudio", "African", "men",
     "00109_id00166_wavtolip.mp4", "FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00076"),
    ("id00077", "-", "id00078", "rtvc", "B", "RealVideo-FakeAudio", "Asian", "women", "00109.mp4",
     "FakeAVCeleb/RealVideo-FakeAudio/Asian/women/id00077"),
]


@pytest.mark.parametrize("header_trailing_comma", [False, True])
def test_fakeavceleb_csv(tmp_path: Path, header_trailing_comma: bool) -> None:
    header = "source,target1,target2,method,category,type,race,gender,path"
    lines = [header + ("," if header_trailing_comma else "")] + [",".join(r) for r in FAVC_ROWS]
    p = tmp_path / "meta_data.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = gtm.load_metadata(p)
    assert len(index) == 3
    key = "FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00076/00109_id00166_wavtolip.mp4"
    fake = index[key]
    assert fake.label == "fake" and fake.modify_type == "both_modified"
    assert fake.whole_clip_labels == {"audio_fake": True, "video_fake": True}
    assert not fake.has_timestamps and fake.fake_segments == []
    rf = index["FakeAVCeleb/RealVideo-FakeAudio/Asian/women/id00077/00109.mp4"]
    assert rf.whole_clip_labels == {"audio_fake": True, "video_fake": False}
    # 00109.mp4 exists in two folders: basename alone is ambiguous, a longer tail is not.
    assert index.lookup("00109.mp4") is None
    assert index.lookup("/data/x/FakeAVCeleb/RealVideo-RealAudio/African/men/id00076/00109.mp4").label == "real"
    assert index.lookup("men/id00076/00109.mp4").label == "real"
    assert index.lookup("elsewhere/00109_id00166_wavtolip.mp4") is fake
    # Another root folder (no "FakeAVCeleb/" part): the longest shared trailing path decides.
    assert index.match("/mnt/favc_v1.2/RealVideo-FakeAudio/Asian/women/id00077/00109.mp4") == (
        "FakeAVCeleb/RealVideo-FakeAudio/Asian/women/id00077/00109.mp4", "suffix")
    assert index.lookup("/mnt/favc_v1.2/RealVideo-RealAudio/African/men/id00076/00109.mp4").label == "real"


def test_fakeavceleb_full_path_column_and_bad_type(tmp_path: Path) -> None:
    p = tmp_path / "meta_data.csv"
    p.write_text("type,path\nFakeVideo-RealAudio,a/b/c.mp4\n", encoding="utf-8")
    gt = gtm.load_metadata(p)["a/b/c.mp4"]
    assert gt.whole_clip_labels == {"audio_fake": False, "video_fake": True}
    p.write_text("type,path\nSomethingElse,a/b/c.mp4\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match="RealVideo-RealAudio"):
        gtm.load_metadata(p)
    p.write_text("kind,path\nreal,a.mp4\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match="'type' column"):
        gtm.load_metadata(p)


def test_lookup_relative_path_and_basename(tmp_path: Path) -> None:
    index = gtm.load_metadata(_write(tmp_path / "m.json", AV1M))
    assert index.lookup("test/id001/a/real.mp4").modify_type == "real"
    assert index.lookup("/mnt/av1m/test/id001/a/real.mp4").modify_type == "real"
    assert index.lookup(r"C:\data\test\id001\a\fake_v.mp4").modify_type == "visual_modified"
    assert index.lookup("fake_av.mp4").modify_type == "both_modified"  # unique basename
    assert index.lookup("other/real_clip.mp4") is None


def test_bad_json_and_unknown_format_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "metadata.json"
    bad.write_text('[{"file": "a.mp4", "modify_type": "real",', encoding="utf-8")
    with pytest.raises(ForensicsError, match="not valid JSON.*line 1"):
        gtm.load_metadata(bad)
    with pytest.raises(ForensicsError, match="AV-Deepfake1M.*LAV-DF.*FakeAVCeleb"):
        gtm.load_metadata(_write(tmp_path / "other.json", [{"name": "a.mp4", "label": 1}]))
    with pytest.raises(ForensicsError, match="modify_type"):
        gtm.load_metadata(_write(tmp_path / "mt.json", [{"file": "a.mp4", "modify_type": "weird"}]))
    with pytest.raises(ForensicsError, match="segments"):
        gtm.load_metadata(_write(tmp_path / "seg.json", [{"file": "a.mp4", "fake_segments": [1]}]))
    with pytest.raises(ForensicsError, match="does not exist"):
        gtm.load_metadata(tmp_path / "missing.json")


def test_find_groundtruth_for_clip(tmp_path: Path) -> None:
    root = tmp_path / "av1m"
    _write(root / "metadata.json", AV1M)
    clip = root / "test" / "id002" / "b" / "fake_av.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"")
    gt = gtm.find_groundtruth_for(clip)
    assert gt is not None and gt.modify_type == "both_modified"
    # A per-clip JSON next to the clip wins; a result JSON (not ground truth) is ignored.
    side = dict(AV1M[0], file="fake_av.mp4")
    _write(clip.with_suffix(".json"), side)
    assert gtm.find_groundtruth_for(clip).modify_type == "real"
    _write(clip.with_suffix(".json"), {"video_score": 1.0, "frame_scores": [1, 2]})
    assert gtm.find_groundtruth_for(clip).modify_type == "both_modified"
    # The cache notices a changed metadata file (mtime + size).
    changed = [dict(e) for e in AV1M]
    changed[2]["modify_type"] = "audio_modified"
    meta = _write(root / "metadata.json", changed)
    os.utime(meta, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert gtm.find_groundtruth_for(clip).modify_type == "audio_modified"
    lonely = tmp_path / "else" / "x.mp4"
    lonely.parent.mkdir()
    lonely.write_bytes(b"")
    assert gtm.find_groundtruth_for(lonely) is None


def test_prediction_files(tmp_path: Path) -> None:
    det = tmp_path / "pred.txt"
    det.write_text("file;score\ntest/a.mp4;0.25\ntest/b.mp4;0.75\n", encoding="utf-8")
    assert gtm.load_detection_predictions(det) == {"test/a.mp4": 0.25, "test/b.mp4": 0.75}
    det.write_text("test/a.mp4;0.25\nbroken line\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match="line 2"):
        gtm.load_detection_predictions(det)
    loc = _write(tmp_path / "loc.json", {"test/a.mp4": [[0.9, 0.5, 1.0], [0.1, 2, 3]]})
    assert gtm.load_localisation_predictions(loc) == {"test/a.mp4": [(0.9, 0.5, 1.0), (0.1, 2.0, 3.0)]}


@pytest.mark.slow
def test_large_list_parses_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps ~1M entries at seconds (benchmarks/bench_groundtruth.py times it): one
    JSON read and one parse per entry."""
    n = 50_000
    data = [{"file": f"train/id{i:06d}/v/fake.mp4", "modify_type": "both_modified",
             "fake_segments": [[0.5, 1.0]], "audio_fake_segments": [[0.5, 1.0]],
             "visual_fake_segments": [[0.5, 1.0]], "video_frames": 100, "audio_frames": 64000}
            for i in range(n)]
    p = _write(tmp_path / "train_metadata.json", data)
    calls = {"json.load": 0, "entry": 0}  # json.load: the one JSON read (read_json_file)
    real_load, real_entry = gtm.read_json_file, gtm._parse_av1m

    def load(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["json.load"] += 1
        return real_load(*args, **kwargs)

    def entry(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["entry"] += 1
        return real_entry(*args, **kwargs)

    monkeypatch.setattr(gtm, "read_json_file", load)
    monkeypatch.setattr(gtm, "_parse_av1m", entry)
    index = gtm.load_metadata(p)
    assert len(index) == n
    assert index.lookup("/x/train/id012345/v/fake.mp4").fake_segments == [(0.5, 1.0)]
    assert calls == {"json.load": 1, "entry": n}


@pytest.mark.parametrize(("segment", "problem"), [
    ("[NaN, 1.0]", "not a finite number"), ("[0.5, 1e999]", "not a finite number"),
    ("[-0.5, 1.0]", "starts before 0 s"), ("[1.5, 1.0]", "ends before it starts"),
])
def test_impossible_segments_name_the_file_and_entry(tmp_path: Path, segment: str, problem: str) -> None:
    good = '{"file": "a.mp4", "modify_type": "real", "fake_segments": []}'
    bad = f'{{"file": "b.mp4", "modify_type": "visual_modified", "fake_segments": [{segment}]}}'
    meta = tmp_path / "metadata.json"
    meta.write_text(f"[{good}, {bad}]", encoding="utf-8")
    with pytest.raises(gtm.GroundTruthError) as info:
        gtm.load_metadata(meta)
    assert str(info.value).startswith("metadata.json entry 1 (b.mp4): the segment [")
    assert problem in str(info.value)
    lavdf = tmp_path / "metadata.min.json"
    lavdf.write_text(f'[{{"file": "c.mp4", "n_fakes": 1, "fake_periods": [{segment}]}}]')
    with pytest.raises(gtm.GroundTruthError, match=rf"metadata.min.json entry 0 \(c.mp4\).*{problem}"):
        gtm.load_metadata(lavdf)
    loc = tmp_path / "loc.json"
    loc.write_text(f'{{"b.mp4": [[0.9, {segment[1:-1]}]]}}')
    with pytest.raises(gtm.GroundTruthError, match=rf"loc.json \(b.mp4\).*{problem}"):
        gtm.load_localisation_predictions(loc)


def test_bad_scores_in_prediction_files_are_refused(tmp_path: Path) -> None:
    det = tmp_path / "pred.txt"
    det.write_text("test/a.mp4;0.25\ntest/b.mp4;nan\n", encoding="utf-8")
    with pytest.raises(gtm.GroundTruthError, match="line 2: the score of test/b.mp4 is nan"):
        gtm.load_detection_predictions(det)
    det.write_text("test/a.mp4;0.25\ntest/b.mp4;0.5\n./test/a.mp4;0.75\n", encoding="utf-8")
    with pytest.raises(gtm.GroundTruthError, match="line 3: ./test/a.mp4 is scored twice"):
        gtm.load_detection_predictions(det)
    loc = _write(tmp_path / "loc.json", {"a.mp4": [[float("inf"), 0.1, 0.2]]})
    with pytest.raises(gtm.GroundTruthError, match="confidence inf"):
        gtm.load_localisation_predictions(loc)
    loc.write_text('{"a.mp4": [[0.9, 0.1, 0.2]], "b.mp4": [], "./a.mp4": [[0.1, 3, 4]]}')
    with pytest.raises(gtm.GroundTruthError, match=r"loc.json: ./a.mp4 has two lists of proposals"):
        gtm.load_localisation_predictions(loc)
    loc.write_text('{"a.mp4": {"conf": 0.9}}')
    with pytest.raises(gtm.GroundTruthError, match="must be \\[conf, start_s, end_s\\] triples"):
        gtm.load_localisation_predictions(loc)


def _bad_metadata(folder: Path, kind: str) -> Path:
    """One metadata file next to a clip that used to end in a traceback."""
    if kind == "duration":
        return _write(folder / "metadata.min.json", [
            {"file": "x.mp4", "n_fakes": 0, "fake_periods": [], "duration": "3.2 s",
             "modify_video": False, "modify_audio": False}])
    if kind == "nested":
        p = folder / "metadata.json"
        p.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
        return p
    p = folder / "meta_data.csv"
    p.write_text("source,type,path\nid1,RealVideo-RealAudio,\"" + "a" * 140_000 + ".mp4\"\n")
    return p


@pytest.mark.parametrize(("kind", "message"), [
    ("duration", r"metadata.min.json entry 0 \(x.mp4\): 'duration' must be a number of seconds, "
                 r"got '3.2 s'\."),
    ("nested", r"metadata.json nests JSON arrays or objects too deeply to be metadata"),
    ("csv", r"meta_data.csv line 2: a field is longer than csv's limit of 128 KiB"),
])
def test_bad_metadata_is_one_sentence_and_the_search_goes_on(tmp_path: Path, kind: str,
                                                             message: str) -> None:
    clip = tmp_path / "ds" / "test" / "x.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"")
    bad = _bad_metadata(clip.parent, kind)
    with pytest.raises(gtm.GroundTruthError, match=message) as info:
        gtm.load_metadata(bad)
    assert "\n" not in str(info.value) and str(info.value).endswith(".")
    # A good metadata file two folders up is still found; the bad one is named in the problems.
    _write(tmp_path / "metadata.json", [{"file": "ds/test/x.mp4", "modify_type": "real"}])
    gt, problems = gtm.find_groundtruth(clip)
    assert gt is not None and gt.file == "ds/test/x.mp4" and gt.label == "real"
    assert len(problems) == 1 and problems[0].startswith(f"{bad} was skipped: ")
    assert gtm.find_groundtruth_for(clip) == gt


@pytest.mark.parametrize("kind", ["duration", "nested", "csv"])
def test_eval_with_bad_metadata_exits_2_with_one_sentence(tmp_path: Path, kind: str) -> None:
    import subprocess
    import sys

    bad = _bad_metadata(tmp_path, kind)
    scores = tmp_path / "results.csv"
    scores.write_text("file,video_score\nx.mp4,0.5\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "forensics_gui", "eval", "--metadata", str(bad),
                          "--scores", str(scores)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forensics-gui eval: {bad.name}")
    assert "Traceback" not in out.stderr


def test_sdk_minimal_json_empty_fake_segments_is_real(tmp_path: Path) -> None:
    meta = [{"file": "test/a.mp4", "fake_segments": []},
            {"file": "test/b.mp4", "fake_segments": [[0.5, 1.0]]},
            {"file": "test/c.mp4", "visual_fake_segments": []}]  # no fake_segments key: unknown
    index = gtm.load_metadata(_write(tmp_path / "test_metadata.json", meta))
    assert [index[k].label for k in ("test/a.mp4", "test/b.mp4", "test/c.mp4")] == [
        "real", "fake", None]
    assert index["test/b.mp4"].fake_segments == [(0.5, 1.0)]
    assert index["test/a.mp4"].has_timestamps


def test_avh_align_av1m_label_csv(tmp_path: Path) -> None:
    p = tmp_path / "test_labels.csv"
    p.write_text("path,label,num_frames\ntest/id1/a/real.mp4,0,100\ntest/id1/a/fake.mp4,1,80\n",
                 encoding="utf-8")
    index = gtm.load_metadata(p)
    assert index["test/id1/a/real.mp4"].label == "real"
    assert index["test/id1/a/fake.mp4"].label == "fake"
    assert index["test/id1/a/fake.mp4"].video_frames == 80
    assert not index["test/id1/a/fake.mp4"].has_timestamps
    p.write_text("path,label\nx.mp4,1\ny.mp4,real\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match=r"test_labels.csv line 3: label 'real' of y.mp4 is not 0"):
        gtm.load_metadata(p)
    p.write_text("path,label\nx.mp4,1\nx.mp4,0\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match="x.mp4 is listed twice"):
        gtm.load_metadata(p)


def test_avh_align_fakeavceleb_split_csv(tmp_path: Path) -> None:
    p = tmp_path / "test_split.csv"
    p.write_text(
        "source,category,full_path\n"
        "id00076,A,FakeAVCeleb/RealVideo-RealAudio/African/men/id00076/00109.mp4\n"
        "id00076,B,FakeAVCeleb/RealVideo-FakeAudio/African/men/id00076/00109.mp4\n"
        "id00076,C,FakeAVCeleb/FakeVideo-RealAudio/African/men/id00076/00109_id1_wavtolip.mp4\n"
        "id00076,D,FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00076/00109_id2_wavtolip.mp4\n",
        encoding="utf-8")
    index = gtm.load_metadata(p)
    real = index["FakeAVCeleb/RealVideo-RealAudio/African/men/id00076/00109.mp4"]
    fake_a = index["FakeAVCeleb/RealVideo-FakeAudio/African/men/id00076/00109.mp4"]
    assert (real.label, fake_a.label) == ("real", "fake")
    assert fake_a.whole_clip_labels == {"audio_fake": True, "video_fake": False}
    assert [g.label for g in index.values()] == ["real", "fake", "fake", "fake"]
    assert not real.has_timestamps
    # Another root prefix: the longest shared trailing path decides between equal file names.
    key, how = index.match("/data/favc/RealVideo-FakeAudio/African/men/id00076/00109.mp4")
    assert (key, how) == ("FakeAVCeleb/RealVideo-FakeAudio/African/men/id00076/00109.mp4", "suffix")
    assert index.match("men/id00076/00109.mp4") == (None, "ambiguous")
    assert index.match("/data/elsewhere/99999.mp4") == (None, "unmatched")
    p.write_text("source,category,full_path\nid1,E,x/1.mp4\n", encoding="utf-8")
    with pytest.raises(ForensicsError, match=r"line 2: unknown category 'E'; expected A"):
        gtm.load_metadata(p)


def test_longest_suffix_prefers_the_deeper_shared_path() -> None:
    index = gtm.PathIndex({"x/a.mp4": 1, "y/x/a.mp4": 2, "z/a.mp4": 3})
    assert index.match("root/y/x/a.mp4") == ("y/x/a.mp4", "suffix")
    assert index.match("q/x/a.mp4") == (None, "ambiguous")  # x/a.mp4 and y/x/a.mp4 share 2 parts
    assert index.match("x/a.mp4") == ("x/a.mp4", "exact")
    assert index.match("w/z/a.mp4") == ("z/a.mp4", "suffix")


def _plain_longest_suffix(keys: list[str], query: str) -> str | None:
    """Reference: the key sharing the most trailing path parts with ``query``, if unique."""
    if query in keys:
        return query
    q = query.split("/")

    def shared(key: str) -> int:
        k = key.split("/")
        n = 0
        while n < min(len(k), len(q)) and k[-1 - n] == q[-1 - n]:
            n += 1
        return n

    scores = {key: shared(key) for key in keys}
    best = max(scores.values(), default=0)
    winners = [k for k, v in scores.items() if v == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


@pytest.mark.slow
def test_path_matching_agrees_with_a_plain_longest_suffix_rule() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    part = st.sampled_from(["a", "b", "c", "id1", "x.mp4", "y.mp4"])
    path = st.lists(part, min_size=1, max_size=4).map("/".join)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(path, min_size=1, max_size=8, unique=True), path, st.sampled_from(["", "/mnt/r/"]))
    def check(keys: list[str], query: str, prefix: str) -> None:
        index = gtm.PathIndex({k: k for k in keys})
        q = gtm.normalise_key(prefix + query)
        assert index.match_key(prefix + query) == _plain_longest_suffix(keys, q)

    check()
