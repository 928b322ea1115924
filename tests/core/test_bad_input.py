"""Every bad input gives a MediaError sentence (or degrades gracefully), never a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.errors import MediaError
from forensics_gui.core.media.decode import VideoReader, decode_audio, iter_frames_on_grid, probe
from forensics_gui.core.media.silence import leading_silence
from forensics_gui.testing.synth import (
    corrupt_audio_packets,
    decode_pattern_index,
    make_clip,
    make_text_as_video,
    make_zero_byte,
    truncate_file,
)

W, H = 160, 120


def _all_entry_points_fail(path: Path, match: str) -> None:
    for call in (probe, decode_audio, VideoReader, lambda p: list(iter_frames_on_grid(p))):
        with pytest.raises(MediaError, match=match) as info:
            call(path)
        message = str(info.value)
        assert message.endswith(".") and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    _all_entry_points_fail(tmp_path / "nope.mp4", "does not exist")


def test_folder(tmp_path: Path) -> None:
    _all_entry_points_fail(tmp_path, "folder")


def test_zero_byte_file(tmp_path: Path) -> None:
    _all_entry_points_fail(make_zero_byte(tmp_path / "empty.mp4"), "empty")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    _all_entry_points_fail(make_text_as_video(tmp_path / "notes.mp4"), "not a readable media file")


def test_mp4_cut_in_half_without_index_is_a_clear_error(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4", duration_s=2.0, width=W, height=H, face=False)
    half = truncate_file(clip.path, tmp_path / "half.mp4", 0.5)
    assert half.stat().st_size == clip.path.stat().st_size // 2
    _all_entry_points_fail(half, "damaged")


def test_mp4_cut_in_half_with_index_first_works_as_far_as_it_goes(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4", duration_s=2.0, width=W, height=H, face=False,
                     faststart=True, keyint=10)
    half = truncate_file(clip.path, tmp_path / "half.mp4", 0.5)
    info = probe(half)
    assert info.video is not None
    with VideoReader(half) as reader:
        n = len(reader.frame_times())
        assert 5 < n < clip.n_frames
        assert decode_pattern_index(reader.frame_by_index(3).image) == 3
        reader.frame_at(1.99)  # past the readable part: clamped, no crash
    frames = list(iter_frames_on_grid(half))
    assert 5 < len(frames) < clip.n_frames
    track = decode_audio(half)
    assert 0 < track.samples.shape[1] < 2 * 16000


def test_audio_only_file(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "voice.mkv", duration_s=1.0, video=False, leading_silence_ms=30)
    info = probe(clip.path)
    assert info.video is None and info.audio is not None
    result = leading_silence(decode_audio(clip.path))
    assert result.first_sound_sample == 480 and result.leading_silence_ms == pytest.approx(30.0)
    with pytest.raises(MediaError, match="no video"):
        VideoReader(clip.path)


def test_video_only_file(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "mute.mp4", duration_s=1.0, width=W, height=H, face=False,
                     audio=False)
    info = probe(clip.path)
    assert info.audio is None and info.video is not None
    with pytest.raises(MediaError, match="no audio"):
        decode_audio(clip.path)
    out = subprocess.run([sys.executable, "-m", "forensics_gui", "silence", str(clip.path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "no audio" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("suffix,codec", [(".mkv", "aac"), (".webm", "libopus")])
def test_corrupt_audio_packets_are_skipped(tmp_path: Path, suffix: str, codec: str) -> None:
    clip = make_clip(tmp_path / f"c{suffix}", duration_s=2.0, width=W, height=H, face=False,
                     video=suffix != ".webm", audio_codec=codec, sample_rate=16000)
    clean = decode_audio(clip.path)
    n_bad = corrupt_audio_packets(clip.path, every=4)
    assert n_bad > 3
    track = decode_audio(clip.path)  # must not raise
    if codec == "aac":  # the AAC decoder rejects the damaged packets (Opus conceals them)
        assert track.corrupt_packets > 0
    assert track.samples.shape[0] == 1
    # holes are filled with zeros: the track keeps its length, so it stays in sync
    assert abs(track.samples.shape[1] - clean.samples.shape[1]) <= 1024
    assert np.isfinite(track.samples).all() and np.abs(track.samples).max() <= 1.0
    probe(clip.path)


def test_damaged_video_packets_do_not_stop_decoding(tmp_path: Path) -> None:
    from forensics_gui.testing.synth import corrupt_packets

    clip = make_clip(tmp_path / "v.mkv", duration_s=2.0, width=W, height=H, face=False,
                     audio=False, keyint=10)
    assert corrupt_packets(clip.path, "video", every=17) >= 2
    frames = list(iter_frames_on_grid(clip.path))
    assert len(frames) >= 45  # a damaged packet costs a frame or a few, not the rest of the clip
    assert decode_pattern_index(frames[-1][2]) == 49
    with VideoReader(clip.path) as reader:
        assert decode_pattern_index(reader.frame_by_index(49).image) == 49
        reader.frame_by_index(18)  # a damaged frame: whatever the decoder makes of it, no crash


def test_cli_reports_a_failed_file_operation_as_one_sentence(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from forensics_gui import cli

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")

    def writes_below_a_file(_args: argparse.Namespace) -> int:
        (blocker / "out").mkdir(parents=True)
        return 0

    rc = cli._run_reporting_errors(writes_below_a_file, argparse.Namespace(command="roi"))
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err == (f"forensics-gui roi: cannot use {blocker / 'out'} (Not a directory); check the "
                   "path, its permissions and free disk space.\n")
