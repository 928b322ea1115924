"""Fuzz findings turned into fixed cases: each bad input ends in one line on stderr, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics_gui import cli
from forensics_gui.testing.synth import make_clip


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, err


def test_error_message_with_a_newline_from_the_file_stays_on_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps([{"file": "a.mp4", "modify_type": "x\ny", "fake_segments": []}]))
    scores = tmp_path / "scores.csv"
    scores.write_text("file,video_score\na.mp4,0.5\n")
    code, err = _run(["eval", "--metadata", str(meta), "--scores", str(scores)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "x\\ny" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "1e309", "NaN"])
def test_non_finite_frame_counts_in_metadata_are_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    meta = tmp_path / "val_metadata.json"
    meta.write_text('[{"file": "test/a/real.mp4", "modify_type": "real", "fake_segments": [], '
                    f'"video_frames": {value}, "audio_frames": 64000}}, '
                    '{"file": "test/a/fake.mp4", "modify_type": "audio_modified", '
                    '"fake_segments": [[0.5, 1.0]], "video_frames": 75}]')
    scores = tmp_path / "scores.csv"
    scores.write_text("file,video_score\ntest/a/real.mp4,0.5\ntest/a/fake.mp4,0.9\n")
    code, err = _run(["eval", "--metadata", str(meta), "--scores", str(scores)], capsys)
    assert "Traceback" not in err
    assert code in (0, 2) and err.count("\n") <= 1, err


def test_deeply_nested_result_json_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "clip.mp4", duration_s=1.0).path
    result = tmp_path / "result.json"
    result.write_text('{"sha256": "x", "frame_scores": ' + "[" * 5000 + "]" * 5000 + "}")
    out = tmp_path / "out.png"
    code, err = _run(["snapshot", str(clip), "--at", "0.5", "-o", str(out), "--result", str(result)],
                     capsys)
    assert code == 2 and "too deeply" in err and err.count("\n") == 1, err
    assert not out.exists()
