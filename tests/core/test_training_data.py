"""Training data from a folder of videos: features per usable clip, skipped clips with reasons,
resuming, cancel, and ``forensics-gui train --videos DIR`` end to end (tiny random AV-HuBERT)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.encoder.features import load_features
from forensics_gui.core.errors import Cancelled, ForensicsError, NoFaceError
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.core.training_data import (
    ExtractionReport,
    extract_features_for_videos,
    is_up_to_date,
    output_names,
)
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.synth import make_clip, make_text_as_video

DIM = 32


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(2)
    d = tmp_path_factory.mktemp("models")
    return write_fake_avhubert_checkpoint(d / "tiny.pt", layers=1, dim=DIM, heads=2, ffn=64)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """talk.mkv (2 s, a face), sub/noface.mkv (a moving pattern), broken.mp4 (text)."""
    d = tmp_path_factory.mktemp("videos")
    make_clip(d / "talk.mkv", duration_s=2.0, width=256, height=256, seed=3)
    (d / "sub").mkdir()
    make_clip(d / "sub" / "noface.mkv", duration_s=1.0, width=128, height=96, face=False, pattern=True)
    make_text_as_video(d / "broken.mp4")
    return d


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One cache for the module (ROIs are reused between tests, as between analyses).
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(shared_cache))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("FORENSICS_GUI_DATA", str(tmp_path / "data"))


class _Recorder:
    def __init__(self, cancel_at: float | None = None) -> None:
        self.reports: list[tuple[str, float, float | None]] = []
        self.cancel_at = cancel_at

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.reports.append((stage, done, total))

    def cancelled(self) -> bool:
        return self.cancel_at is not None and any(d >= self.cancel_at for _, d, _ in self.reports)


@pytest.mark.slow
def test_one_feature_file_two_skipped_with_reasons_then_resumed(videos: Path, ckpt: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "features"
    progress = _Recorder()
    report = extract_features_for_videos(videos, out, checkpoint=ckpt, device="cpu", progress=progress)
    assert report.videos == 3
    assert report.feature_files == [out / "talk.npz"] and report.reused == []
    reasons = {p.name: r for p, r in report.skipped}
    assert set(reasons) == {"broken.mp4", "noface.mkv"}
    assert reasons["noface.mkv"] == "No face was found in noface.mkv."
    assert "broken.mp4" in reasons["broken.mp4"] and reasons["broken.mp4"].endswith(".")
    # Progress: one stage, clips done out of 3, never backwards, ending at 3/3.
    dones = [d for s, d, t in progress.reports if s == "extracting features" and t == 3]
    assert dones[-1] == 3 and dones == sorted(dones)

    fs = load_features(out / "talk.npz")
    assert fs.visual is not None and fs.visual.shape == (50, DIM) and fs.audio.shape == (50, DIM)
    assert fs.visual.dtype == np.float32 and np.isfinite(fs.visual).all()
    assert fs.meta["source_sha256"] == sha256_file(videos / "talk.mkv")
    assert fs.checkpoint_sha256 == report.checkpoint_sha256 == sha256_file(ckpt)
    summary = json.loads((out / "extraction.json").read_text())
    assert {Path(s["file"]).name for s in summary["skipped"]} == {"broken.mp4", "noface.mkv"}
    assert not [p for p in out.rglob(".*")], "no temporary files left"

    # The same features an analysis computes (mouth ROI round trip + both encoder passes).
    from forensics_gui.core.encoder.features import FeatureExtractor
    from forensics_gui.core.face.roi import extract_mouth_roi, roi_roundtrip
    from forensics_gui.core.media.decode import decode_audio

    clip = videos / "talk.mkv"
    direct = FeatureExtractor(ckpt, device="cpu").extract(
        roi_roundtrip(extract_mouth_roi(clip)), decode_audio(clip, sample_rate=16000, mono=True).samples[0])
    np.testing.assert_allclose(fs.visual, direct.visual, atol=1e-5)
    np.testing.assert_allclose(fs.audio, direct.audio, atol=1e-5)

    # Second run: the done clip is kept as it is (not rewritten), the bad ones are listed again.
    stamp = (out / "talk.npz").stat().st_mtime_ns
    again = extract_features_for_videos(videos, out, checkpoint=ckpt, device="cpu", workers=1)
    assert again.reused == [out / "talk.npz"] == again.feature_files
    assert len(again.skipped) == 2
    assert (out / "talk.npz").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_another_checkpoint_or_trim_is_not_up_to_date(videos: Path, ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "f"
    clip = videos / "talk.mkv"
    report = extract_features_for_videos([clip], out, checkpoint=ckpt, device="cpu")
    assert report.feature_files == [out / "talk.npz"]
    sha, ck = sha256_file(clip), report.checkpoint_sha256
    assert is_up_to_date(out / "talk.npz", sha, ck, trim=False)
    assert not is_up_to_date(out / "talk.npz", sha, ck, trim=True)
    assert not is_up_to_date(out / "talk.npz", sha, "0" * 64, trim=False)
    assert not is_up_to_date(out / "talk.npz", "1" * 64, ck, trim=False)
    other = write_fake_avhubert_checkpoint(tmp_path / "other.pt", layers=1, dim=DIM, heads=2, ffn=64,
                                           seed=5)
    redo = extract_features_for_videos([clip], out, checkpoint=other, device="cpu")
    assert redo.reused == [] and redo.feature_files == [out / "talk.npz"]
    assert load_features(out / "talk.npz").checkpoint_sha256 == sha256_file(other)
    # Trimmed features of a clip without leading silence drop no frame but are recomputed.
    trimmed = extract_features_for_videos([clip], out, checkpoint=other, device="cpu", trim=True)
    assert trimmed.reused == [] and load_features(out / "talk.npz").meta["trim_leading_silence"] is True


def test_cancel_leaves_no_partial_file(videos: Path, ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "f"
    with pytest.raises(Cancelled):
        extract_features_for_videos(videos, out, checkpoint=ckpt, device="cpu",
                                    progress=_Recorder(cancel_at=0.0))
    assert not out.exists() or not list(out.rglob("*.npz"))


def test_output_names_follow_relative_paths() -> None:
    root = Path("/data/real")
    vids = [root / "a.mp4", root / "x" / "b.mov", root / "x" / "c.mp4", root / "x" / "c.mkv"]
    assert output_names(vids, root) == [Path("a.npz"), Path("x/b.npz"), Path("x/c.mp4.npz"),
                                        Path("x/c.mkv.npz")]


def test_no_usable_clip_is_one_sentence(tmp_path: Path, videos: Path, ckpt: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = extract_features_for_videos(empty, tmp_path / "o", checkpoint=ckpt)
    with pytest.raises(ForensicsError, match="There are no video files in"):
        report.require_features(empty)
    with pytest.raises(ForensicsError, match="does not exist"):
        extract_features_for_videos(tmp_path / "missing", tmp_path / "o", checkpoint=ckpt)
    no_face = ExtractionReport(videos=2, skipped=[(Path("a.mp4"), "No face was found in a.mp4."),
                                                  (Path("b.mp4"), "No face was found in b.mp4.")])
    with pytest.raises(NoFaceError, match="No face was found in any of the 2 videos"):
        no_face.require_features()
    report = extract_features_for_videos([videos / "broken.mp4", videos / "sub" / "noface.mkv"],
                                         tmp_path / "o", checkpoint=ckpt, device="cpu")
    with pytest.raises(ForensicsError, match=r"None of the 2 videos could be used \(1 without a face"):
        report.require_features()


@pytest.mark.slow
def test_cli_train_from_videos_writes_a_loadable_phi(videos: Path, ckpt: Path, tmp_path: Path,
                                                      shared_cache: Path) -> None:
    from forensics_gui.core.alignment.phi import load_phi

    models = tmp_path / "models"
    models.mkdir()
    os.link(ckpt, models / "self_large_vox_433h.pt")  # where the registry looks for the default
    env = {**os.environ, "FORENSICS_GUI_MODELS": str(models), "FORENSICS_GUI_CACHE": str(shared_cache),
           "OMP_NUM_THREADS": "2"}
    out = tmp_path / "phi.pt"
    proc = subprocess.run([sys.executable, "-m", "forensics_gui", "train", "--videos", str(videos),
                           "-o", str(out), "--epochs", "2", "--device", "cpu", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stderr and "No face was found in noface.mkv." in proc.stderr
    phi = load_phi(out)
    fs = load_features(next((shared_cache / "training-features").rglob("talk.npz")))
    scores = phi.frame_scores(fs.visual, fs.audio)
    assert scores.shape == (50,) and np.isfinite(scores).all()

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "forensics_gui", "train", "--videos", str(empty),
                           "-o", str(tmp_path / "x.pt"), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "No video files" in proc.stderr and "Traceback" not in proc.stderr
