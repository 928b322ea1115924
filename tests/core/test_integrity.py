"""A damaged or cut-short file: stated against decodable duration, one sentence (issue 12)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from forensics_gui.core.errors import MediaError
from forensics_gui.core.media.decode import VideoReader, decode_audio
from forensics_gui.core.media.integrity import check_integrity
from forensics_gui.testing.synth import make_clip, truncate_file


def cut_copy(src: Path, dst: Path, fraction: float) -> Path:
    return truncate_file(src, dst, fraction)


def remux_ordered(src: Path, dst: Path, first: str, audio_shift_s: float = 0.0) -> Path:
    """Remux ``src`` writing every packet of stream ``first`` ("video"/"audio") before the
    other's, so that cutting the bytes cuts only the stream written last. ``audio_shift_s``
    delays the audio (a clip whose sound starts late)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w",
                                          options={"max_interleave_delta": "1"}) as out:
        ins = {s.type: s for s in inp.streams}
        outs = {k: out.add_stream_from_template(s) for k, s in ins.items()}
        for kind in [first] + [k for k in ins if k != first]:
            inp.seek(0)
            shift = 0
            if kind == "audio" and audio_shift_s:
                shift = int(round(audio_shift_s / ins[kind].time_base))
            for pkt in inp.demux(ins[kind]):
                if pkt.dts is None:
                    continue
                pkt.pts, pkt.dts = pkt.pts + shift, pkt.dts + shift
                pkt.stream = outs[kind]
                out.mux(pkt)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("integrity")
    out = {
        "mkv": make_clip(d / "a.mkv", face=False).path,
        "mp4": make_clip(d / "a.mp4", face=False, faststart=True).path,
        "aac_mkv": make_clip(d / "b.mkv", face=False, audio_codec="aac").path,
    }
    return out


@pytest.mark.parametrize("kind", ["mkv", "mp4", "aac_mkv"])
def test_cut_file_says_stated_and_decodable(clips: dict[str, Path], kind: str, tmp_path: Path) -> None:
    cut = cut_copy(clips[kind], tmp_path / f"cut{clips[kind].suffix}", 0.3)
    integ = check_integrity(cut)
    assert integ.damaged and integ.full_scan
    assert integ.stated_s == pytest.approx(3.0, abs=0.1)  # aac priming makes 3.064
    assert integ.video_end_s is not None and integ.audio_end_s is not None
    assert 0.3 < integ.video_end_s < 1.5 and 0.3 < integ.audio_end_s < 1.5
    text = integ.sentence
    assert text.startswith("This file is damaged or cut short: it says ")
    assert f"{integ.stated_s:.2f} s, but only " in text
    assert f"{integ.video_end_s:.2f} s of picture" in text
    assert f"{integ.audio_end_s:.2f} s of sound" in text
    assert text.endswith(" can be decoded.") and "\n" not in text
    # what the player and the audio decoder actually get ends where the check says
    with VideoReader(cut) as reader:
        n = len(reader)
        last = reader.frame_by_index(n - 1)
    assert integ.video_frames == n
    assert last.time_s + last.duration_s == pytest.approx(integ.video_end_s, abs=0.005)
    track = decode_audio(cut)
    assert track.start_time_s + track.duration_s <= integ.audio_end_s + 0.03
    doc = integ.to_dict()
    assert doc["damaged"] is True and doc["sentence"] == text
    assert doc["video_frames_decodable"] == n and doc["stated_duration_s"] == pytest.approx(integ.stated_s)


def test_audio_only_cut_and_video_only_cut(clips: dict[str, Path], tmp_path: Path) -> None:
    audio_last = remux_ordered(clips["mkv"], tmp_path / "audio_last.mkv", first="video")
    data = audio_last.read_bytes()
    cut = tmp_path / "audio_cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    integ = check_integrity(cut)
    assert integ.damaged
    assert integ.video_end_s == pytest.approx(3.0)
    assert integ.audio_end_s is not None and integ.audio_end_s < 2.5
    assert integ.analysable_end_s == pytest.approx(integ.audio_end_s)
    assert "3.00 s of picture" in integ.sentence
    assert f"so the lip-sync analysis, which needs both, stops at {integ.audio_end_s:.2f} s" \
        in integ.sentence

    video_last = remux_ordered(clips["mkv"], tmp_path / "video_last.mkv", first="audio")
    data = video_last.read_bytes()
    cut2 = tmp_path / "video_cut.mkv"
    cut2.write_bytes(data[: int(len(data) * 0.9)])
    integ2 = check_integrity(cut2)
    assert integ2.damaged
    assert integ2.audio_end_s == pytest.approx(3.0, abs=0.1)
    assert integ2.video_end_s is not None and integ2.video_end_s < 2.5
    assert integ2.analysable_end_s == pytest.approx(integ2.video_end_s)
    # the remuxed (uncut) files are whole
    assert check_integrity(audio_last).sentence == ""
    assert check_integrity(video_last).sentence == ""


def test_nothing_of_one_stream(clips: dict[str, Path], tmp_path: Path) -> None:
    video_last = remux_ordered(clips["mkv"], tmp_path / "video_last.mkv", first="audio")
    data = video_last.read_bytes()
    cut = tmp_path / "no_picture.mkv"
    cut.write_bytes(data[: int(len(data) * 0.5)])  # the sound only (pcm is most of the bytes)
    try:
        integ = check_integrity(cut)
    except MediaError:
        return  # refusing to open it at all is also a clear sentence
    if integ.video_end_s == 0:
        assert "none of the picture" in integ.sentence and "cannot run" in integ.sentence


def test_audio_only_file_cut(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "s.mkv", video=False).path
    cut = cut_copy(src, tmp_path / "s_cut.mkv", 0.4)
    integ = check_integrity(cut)
    assert integ.video is None and integ.damaged
    assert "s of sound can be decoded." in integ.sentence and "picture" not in integ.sentence


@pytest.mark.parametrize("suffix,kwargs", [
    (".mkv", {}),
    (".mp4", {}),
    (".mp4", {"faststart": True}),
    (".avi", {}),
    (".webm", {}),
    (".mkv", {"fps": Fraction(30000, 1001)}),  # 29.97 fps: 3.003 s, stored in ms
    (".mp4", {"fps": Fraction(30000, 1001), "audio_codec": "aac"}),  # container rounds
    (".mkv", {"duration_s": 2.37, "fps": 24}),  # a duration no frame boundary hits
])
def test_whole_files_raise_no_alarm(tmp_path: Path, suffix: str, kwargs: dict) -> None:
    clip = make_clip(tmp_path / f"w{suffix}", face=False, width=96, height=96, **kwargs).path
    integ = check_integrity(clip)
    assert integ.sentence == "" and not integ.damaged, (integ.video, integ.audio, integ.stated_s)
    assert not integ.full_scan  # a whole file costs only its tail
    assert integ.analysable_end_s == integ.stated_s
    assert integ.to_dict()["damaged"] is False


def test_vfr_and_late_audio_are_whole(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "v.mkv", face=False, width=96, height=96).path
    late = remux_ordered(src, tmp_path / "late.mkv", first="video", audio_shift_s=0.5)
    assert check_integrity(late).sentence == ""
    # variable frame rate: frames at uneven times, as phones write
    vfr = tmp_path / "vfr.mkv"
    with av.open(str(vfr), "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width = st.height = 64
        st.pix_fmt = "yuv420p"
        st.codec_context.time_base = Fraction(1, 1000)
        t = 0
        rng = np.random.default_rng(0)
        for k in range(60):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), k * 4 % 256, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            out.mux(st.encode(frame))
            t += int(rng.choice([20, 33, 50]))
        out.mux(st.encode(None))
    assert check_integrity(vfr).sentence == ""


def test_unreadable_file_is_a_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "x.mkv"
    bad.write_text("not a video\n" * 50)
    with pytest.raises(MediaError):
        check_integrity(bad)


# -- the analysis of a cut-short file: scored where the data exists, and it says so -------------


def _cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORENSICS_GUI_CACHE": str(env_dir / "cache"),
           "FORENSICS_GUI_MODELS": str(env_dir / "no-models")}
    return subprocess.run([sys.executable, "-m", "forensics_gui", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def face_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("face")
    whole = make_clip(d / "whole.mkv", duration_s=3.0, width=192, height=192).path
    audio_last = remux_ordered(whole, d / "audio_last.mkv", first="video")
    data = audio_last.read_bytes()
    audio_cut = d / "audio_cut.mkv"
    audio_cut.write_bytes(data[: int(len(data) * 0.7)])
    return {"whole": whole, "cut": truncate_file(whole, d / "cut.mkv", 0.35),
            "audio_cut": audio_cut}


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_dirs")
@pytest.mark.parametrize("kind", ["cut", "audio_cut"])
def test_analysis_of_a_cut_file_stops_where_the_data_stops(models, face_clips, kind) -> None:
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    ckpt, phi = models
    integ = check_integrity(face_clips[kind])
    assert integ.damaged
    end = integ.analysable_end_s
    analysis = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu",
                                        variants=("untrimmed", "trimmed"))).analyze(face_clips[kind])
    for res in analysis.scores.values():
        assert res.num_frames >= 1
        # nothing extrapolated: the last scored frame starts before the end of the data
        assert float(res.times_s[-1]) + 0.04 <= end + 0.02  # (half a frame of rounding)
        assert res.num_frames <= int(round(end * 25)) + 1
    doc = analysis.to_dict()
    assert doc["damage"]["damaged"] is True and doc["damage"]["sentence"] == integ.sentence
    assert doc["caveats"][0] == integ.sentence
    assert doc["caveats"][1] == (f"Only {end:.2f} s could be scored; very short clips give "
                                 "unstable scores.")
    assert max(doc["times_s"]) <= end
    if kind == "audio_cut":
        assert "3.00 s of picture" in integ.sentence and "stops at" in integ.sentence


@pytest.mark.slow
def test_cli_analyze_silence_and_batch_say_so(models, face_clips, tmp_path) -> None:
    ckpt, phi = models
    cut = face_clips["cut"]
    sentence = check_integrity(cut).sentence
    out = tmp_path / "result.json"
    r = _cli("analyze", str(cut), "--checkpoint", str(ckpt), "--phi", str(phi), "--device", "cpu",
             "-o", str(out), "-q", env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["damage"]["sentence"] == sentence and sentence in data["caveats"]
    assert len(data["frame_scores"]) <= int(round(data["damage"]["video_decodable_s"] * 25)) + 1

    r = _cli("silence", str(cut), "--json", env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["damage"]["sentence"] == sentence
    r = _cli("silence", str(cut), env_dir=tmp_path)
    assert f"Warning:          {sentence}" in r.stdout
    r = _cli("silence", str(face_clips["whole"]), "--json", env_dir=tmp_path)
    whole = json.loads(r.stdout)["damage"]
    assert whole["damaged"] is False and whole["sentence"] == ""

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "cut.mkv").write_bytes(cut.read_bytes())
    (folder / "whole.mkv").write_bytes(face_clips["whole"].read_bytes())
    csv_path = tmp_path / "results.csv"
    r = _cli("batch", str(folder), "-o", str(csv_path), "--checkpoint", str(ckpt), "--phi", str(phi),
             "--device", "cpu", env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {row["file"]: row for row in csv.DictReader(csv_path.open())}
    assert rows["cut.mkv"]["status"] == "ok" and rows["cut.mkv"]["error"] == sentence
    assert rows["whole.mkv"]["error"] == ""
    assert f"cut.mkv: {sentence}" in r.stderr


def test_exported_picture_data_carries_the_sentence(clips: dict[str, Path], tmp_path: Path) -> None:
    from forensics_gui.core.evidence.snapshot import build_snapshot_data, caption_lines

    cut = cut_copy(clips["mkv"], tmp_path / "cut.mkv", 0.3)
    sentence = check_integrity(cut).sentence
    data = build_snapshot_data(cut, 0.2, groundtruth=None, face=False)
    assert data.warnings[0] == sentence
    assert caption_lines(data)[0] == sentence
    whole = build_snapshot_data(clips["mkv"], 0.2, groundtruth=None, face=False)
    assert sentence not in whole.warnings and not any("damaged" in w for w in whole.warnings)
