"""The one pipeline (media -> ROI -> features -> Phi) and the analyze / batch commands, end to end
with random-weight checkpoints written in the official layouts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError
from forensics_gui.core.media.folders import iter_videos
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
from forensics_gui.testing.synth import make_clip, make_text_as_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    return make_clip(d / "talk.mkv", duration_s=2.0, leading_silence_ms=50, width=256, height=256).path


pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


@pytest.mark.slow
def test_analyze_scores_every_model_frame_and_matches_direct_phi(models, clip) -> None:
    from forensics_gui.core.alignment.phi import load_phi

    ckpt, phi_path = models
    seen: list[tuple[str, str]] = []
    analysis = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi_path, variants=("untrimmed", "trimmed"),
                                        device="cpu")).analyze(
        clip, on_partial=lambda kind, variant, res: seen.append((kind, variant)))
    assert seen == [("unsupervised", "untrimmed"), ("unsupervised", "trimmed")]
    main = analysis.scores["untrimmed"]
    assert main.num_frames == 50  # 2 s at 25 fps
    assert np.all(np.isfinite(main.frame_scores))
    assert main.times_s[0] == 0.0 and main.times_s[1] == pytest.approx(0.04)
    # The video score is the log-sum-exp of the frame curve (the published pooling).
    lse = float(np.log(np.sum(np.exp(main.frame_scores.astype(np.float64)))))
    assert main.video_score == pytest.approx(lse, rel=1e-5)
    # 50 ms of digital silence: AVH-Align's trim drops int(0.05*25)+1 = 2 video frames, and the
    # trimmed curve is placed back on the clip's time axis.
    trimmed = analysis.scores["trimmed"]
    assert analysis.trims["trimmed"]["trimmed_video_frames"] == 2
    assert trimmed.times_s[0] == pytest.approx(0.08)
    assert trimmed.num_frames <= 48
    assert analysis.silence.leading_silence_ms == pytest.approx(50.0, abs=0.1)
    # The curve equals Phi applied directly to features of the same clip.
    from forensics_gui.core.encoder.features import FeatureExtractor
    from forensics_gui.core.face.roi import extract_mouth_roi, roi_roundtrip
    from forensics_gui.core.media.decode import decode_audio

    fs = FeatureExtractor(ckpt, device="cpu").extract(
        roi_roundtrip(extract_mouth_roi(clip)), decode_audio(clip, sample_rate=16000, mono=True).samples[0])
    direct = load_phi(phi_path).frame_scores(fs.visual, fs.audio)
    np.testing.assert_allclose(main.frame_scores, direct, atol=1e-5)
    d = analysis.to_dict()
    assert d["sha256"] == analysis.sha256 and len(d["sha256"]) == 64
    assert {m["role"] for m in d["models"]} == {"features", "phi"}
    # the result JSON carries the integer first model frame; its seconds come from the timebase
    assert d["variants"]["trimmed"]["first_model_frame"] == 2
    assert d["variants"]["trimmed"]["times_s"][0] == pytest.approx(0.08)
    assert d["variants"]["untrimmed"]["first_model_frame"] == 0 and d["first_model_frame"] == 0


@pytest.mark.slow
def test_second_analysis_comes_from_the_cache_and_a_corrupt_entry_is_recomputed(models, clip, tmp_path) -> None:
    ckpt, phi = models
    opts = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu")
    first = Analyzer(opts).analyze(clip)
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 2  # ROI + features
    for e in entries:
        e.write_bytes(e.read_bytes()[:100])  # truncate: must be treated as missing
    again = Analyzer(opts).analyze(clip)
    np.testing.assert_allclose(first.main.frame_scores, again.main.frame_scores, atol=1e-6)


def test_cancel_stops_the_pipeline(models, clip) -> None:
    ckpt, phi = models

    class CancelAtLandmarks:
        def report(self, stage, done, total=None):
            self.stage = stage

        def cancelled(self) -> bool:
            return getattr(self, "stage", "") == "landmarks"

    with pytest.raises(Cancelled):
        Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", use_cache=False)).analyze(
            clip, progress=CancelAtLandmarks())


def test_missing_weights_say_what_to_download(clip) -> None:
    with pytest.raises(CheckpointError) as err:
        Analyzer(AnalysisOptions()).analyze(clip)
    assert "self_large_vox_433h.pt" in str(err.value)
    assert "AVH-Align_AV1M.pt" in str(err.value)


def test_no_face_is_a_clear_error(models, tmp_path) -> None:
    ckpt, phi = models
    clip = make_clip(tmp_path / "noface.mkv", duration_s=1.0, face=False, width=128, height=128).path
    with pytest.raises(ForensicsError, match="No face"):
        Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu")).analyze(clip)


def _cli(*args: str, env_dir: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "FORENSICS_GUI_CACHE": str(env_dir / "cache"),
           "FORENSICS_GUI_MODELS": str(env_dir / "no-models")}
    return subprocess.run([sys.executable, "-m", "forensics_gui", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.mark.slow
def test_analyze_cli_writes_result_json(models, clip, tmp_path) -> None:
    ckpt, phi = models
    out = tmp_path / "result.json"
    r = _cli("analyze", str(clip), "--checkpoint", str(ckpt), "--phi", str(phi), "--device", "cpu",
             "-o", str(out), env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    for key in ("file", "sha256", "fps", "frame_scores", "video_score", "pool", "leading_silence_ms",
                "suspicious_segments", "models"):
        assert key in data
    assert data["pool"] == "lse" and len(data["frame_scores"]) == 50
    assert all(len(m["sha256"]) == 64 for m in data["models"])


def test_analyze_cli_without_weights_exits_2_with_guidance(clip, tmp_path) -> None:
    r = _cli("analyze", str(clip), env_dir=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "self_large_vox_433h.pt" in r.stderr


@pytest.mark.slow
def test_batch_lists_failures_and_resumes(models, tmp_path) -> None:
    ckpt, phi = models
    folder = tmp_path / "clips"
    make_clip(folder / "a.mkv", duration_s=1.0, width=192, height=192)
    make_clip(folder / "sub" / "b.mkv", duration_s=1.0, width=192, height=192, seed=3)
    make_text_as_video(folder / "broken.mp4")
    assert [p.name for p in iter_videos(folder)] == ["a.mkv", "broken.mp4", "b.mkv"]
    out = tmp_path / "results.csv"
    args = ("batch", str(folder), "-o", str(out), "--checkpoint", str(ckpt), "--phi", str(phi),
            "--device", "cpu")
    r = _cli(*args, env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert {r["file"]: r["status"] for r in rows} == {"a.mkv": "ok", "broken.mp4": "error", "sub/b.mkv": "ok"}
    assert "broken.mp4" in r.stderr
    # Interrupted run: drop the last row, run again; only the missing clip is scored.
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n")
    r2 = _cli(*args, env_dir=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert "1 to score" in r2.stderr
    assert len(list(csv.DictReader(out.open()))) == 3
