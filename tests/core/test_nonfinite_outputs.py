"""Features or scores that come out NaN/infinite are never written as a success.

A broken checkpoint (NaN normalisation, say) is simulated by an encoder that returns NaN, so the
test holds whatever the checkpoint loader later refuses by itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_gui.cli import main
from forensics_gui.core.encoder.features import FeatureExtractor, FeatureSet, save_features
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.testing.phi import write_published_phi
from forensics_gui.testing.synth import make_clip


@pytest.fixture
def nan_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    real = FeatureExtractor._encode

    def encode(self, stacked, video, progress):  # type: ignore[no-untyped-def]
        audio, visual, windows = real(self, stacked, video, progress)
        audio[len(audio) // 2] = np.nan
        return audio, visual, windows

    monkeypatch.setattr(FeatureExtractor, "_encode", encode)


def _one_sentence(argv: list[str], capsys: pytest.CaptureFixture[str], match: str,
                  inputs: list[Path], out: Path | None) -> None:
    before = {p: sha256_file(p) for p in inputs}
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and match in err, err
    assert {p: sha256_file(p) for p in inputs} == before
    if out is not None:
        assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


@pytest.mark.slow
def test_features_and_analyze_refuse_nan_features(models: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   nan_encoder: None) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    ckpt, phi = models
    clip = make_clip(tmp_path / "talk.mkv", duration_s=1.0, width=192, height=192).path
    out = tmp_path / "talk.npz"
    match = f"The AV-HuBERT checkpoint {ckpt.name} gave NaN or infinite features"
    _one_sentence(["features", str(clip), "--checkpoint", str(ckpt), "-o", str(out),
                   "--device", "cpu", "--quiet"], capsys, match, [clip, ckpt], out)
    result = tmp_path / "result.json"
    _one_sentence(["analyze", str(clip), "--checkpoint", str(ckpt), "--phi", str(phi),
                   "--device", "cpu", "-o", str(result)], capsys, match, [clip, ckpt, phi], result)
    assert not [p for p in (tmp_path / "cache").rglob("*.npz") if "audio" in np.load(p).files]


def test_score_refuses_nan_features_and_nan_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    phi = write_published_phi(tmp_path / "phi.pt", 8, 8)
    feats = tmp_path / "f.npz"
    visual = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    visual[3, 2] = np.inf
    np.savez(feats, visual=visual, audio=np.ones((30, 8), np.float32))
    _one_sentence(["score", str(feats), "--phi", str(phi)], capsys,
                  "f.npz holds NaN or infinite features", [feats, phi], None)

    np.savez(feats, visual=np.ones((30, 8), np.float32), audio=np.ones((30, 8), np.float32))
    from forensics_gui.core.alignment import scoring

    real = scoring.score_features

    def nan_scores(*args, **kwargs):  # type: ignore[no-untyped-def]
        res = real(*args, **kwargs)
        res.frame_scores[:] = np.nan
        return res

    monkeypatch.setattr(scoring, "score_features", nan_scores)
    _one_sentence(["score", str(feats), "--phi", str(phi), "--json"], capsys,
                  "phi.pt gave NaN or infinite scores for f.npz", [feats, phi], None)


def test_save_features_refuses_nan(tmp_path: Path) -> None:
    from forensics_gui.core.errors import ForensicsError

    out = tmp_path / "x.npz"
    with pytest.raises(ForensicsError, match="hold NaN or infinite values, so they were not written"):
        save_features(out, FeatureSet(visual=None, audio=np.full((2, 3), np.nan, np.float32)))
    assert not out.exists()
