"""Scoring: pooling values, segments from a known bump, ScoreResult JSON, the `score` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from forensics_gui.cli import main
from forensics_gui.core.alignment.phi import load_phi
from forensics_gui.core.alignment.scoring import (
    find_segments,
    pool_scores,
    robust_threshold,
    score_features,
)
from forensics_gui.testing.phi import random_phi_module

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def small_phi(tmp_path_factory):
    path = tmp_path_factory.mktemp("phi") / "phi.pt"
    module = random_phi_module(32, 24, seed=2, proj_dim=32, hidden=(32, 16, 8))
    torch.save({"state_dict": module.state_dict(), "epoch": 1}, path)
    return path


def test_pooling_values():
    s = np.array([0.0, np.log(2.0), np.log(5.0)], dtype=np.float32)
    assert pool_scores(s, "lse") == pytest.approx(np.log(8.0), abs=1e-6)
    assert pool_scores(s, "mean") == pytest.approx(np.log(10.0) / 3, abs=1e-6)
    assert pool_scores(np.array([1000.0, 1000.0]), "lse") == pytest.approx(1000.0 + np.log(2.0))
    with pytest.raises(ValueError):
        pool_scores(s, "max")


def test_segments_from_a_known_bump():
    rng = np.random.default_rng(0)
    curve = rng.normal(0.0, 0.1, size=250)
    curve[50:70] += 3.0  # frames 50..69 = 2.0 s .. 2.8 s
    curve[120:122] += 3.0  # too short (2 frames) to count
    curve[200:206] += 3.0
    curve[208:214] += 3.0  # a 2-frame gap: merged with the run before
    thr = robust_threshold(curve)
    assert 0.1 < thr < 0.6
    segs = find_segments(curve, thr)
    assert segs == [(2.0, 2.8), (8.0, 8.56)]
    assert find_segments(curve, thr, merge_gap_frames=0) == [(2.0, 2.8), (8.0, 8.24), (8.32, 8.56)]
    assert find_segments(np.zeros(10), robust_threshold(np.zeros(10))) == []


def test_score_features_and_to_dict(small_phi):
    phi = load_phi(small_phi)
    rng = np.random.default_rng(1)
    v, a = rng.normal(size=(60, 32)), rng.normal(size=(55, 24))
    res = score_features(v, a, phi, "mean")
    assert res.num_frames == 55
    np.testing.assert_allclose(res.frame_scores, phi.frame_scores(v, a), atol=1e-6)
    assert res.video_score == pytest.approx(float(np.mean(res.frame_scores.astype(np.float64))), abs=1e-6)
    assert res.other_pool_scores["lse"] == pytest.approx(pool_scores(res.frame_scores, "lse"))
    assert res.times_s[1] == pytest.approx(0.04)
    assert res.sync_offset_frames.shape == (55,) and res.sync_prob.dtype == np.float32
    doc = json.loads(json.dumps(res.to_dict()))
    assert doc["pool"] == "mean" and doc["num_frames"] == 55 and doc["kind"] == "unsupervised"
    assert doc["phi_sha256"] == phi.sha256 and len(doc["frame_scores"]) == 55
    fast = score_features(v, a, phi, "lse", band=False)
    np.testing.assert_allclose(fast.frame_scores, res.frame_scores, atol=1e-5)
    assert fast.sync_offset_frames is None and "sync_prob" not in fast.to_dict()


def test_score_cli_json(small_phi, tmp_path, capsys):
    rng = np.random.default_rng(2)
    npz = tmp_path / "clip.npz"
    np.savez(npz, visual=rng.normal(size=(30, 32)).astype(np.float32),
             audio=rng.normal(size=(32, 24)).astype(np.float32))
    assert main(["score", str(npz), "--phi", str(small_phi), "--json", "--pool", "lse"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert {"features", "phi", "kind", "pool", "video_score", "video_scores", "fps", "num_frames",
            "frame_scores", "times_s", "threshold", "suspicious_segments", "phi_sha256",
            "sync_offset_frames", "sync_prob"} <= set(doc)
    assert doc["num_frames"] == 30 and doc["pool"] == "lse" and doc["fps"] == 25.0
    assert doc["video_score"] == pytest.approx(pool_scores(np.array(doc["frame_scores"]), "lse"), abs=1e-5)
    assert "30 visual vs 32 audio" in captured.err  # truncation is announced on stderr

    assert main(["score", str(npz), "--phi", str(small_phi)]) == 0
    text = capsys.readouterr().out
    assert "video_score:" in text and "frame_scores:" in text


def test_score_cli_errors(small_phi, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.npz"
    np.savez(bad, video=np.zeros((3, 32), np.float32))
    assert main(["score", str(bad), "--phi", str(small_phi)]) == 2
    assert "lacks the array(s) visual, audio" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, visual=np.ones((5, 1024), np.float32), audio=np.ones((5, 1024), np.float32))
    assert main(["score", str(wrong), "--phi", str(small_phi)]) == 2
    assert "this Phi expects 32 / 24" in capsys.readouterr().err
    noface = tmp_path / "noface.npz"
    np.savez(noface, audio=np.ones((5, 24), np.float32))
    assert main(["score", str(noface), "--phi", str(small_phi)]) == 2
    assert "no face was found" in capsys.readouterr().err
    import forensics_gui.core.models.registry as registry

    monkeypatch.setattr(registry, "find_phi_checkpoint", lambda: None)
    assert main(["score", str(wrong)]) == 2
    assert "pass one with --phi" in capsys.readouterr().err
