"""A cached re-analysis does not load the AV-HuBERT (only a features-cache miss does), yet
reports the same model (name, SHA-256, architecture, device); and :class:`PrepareProcess` runs
``Analyzer.prepare`` in a child process with the same result, forwarding progress and Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from forensics_gui.core.encoder import features
from forensics_gui.core.errors import Cancelled, MediaError
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.phi import write_published_phi
from forensics_gui.testing.synth import make_clip

DIM = 32


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lazy")
    ckpt = write_fake_avhubert_checkpoint(d / "tiny_avhubert.pt", layers=1, dim=DIM, heads=2, ffn=64)
    phi = write_published_phi(d / "phi.pt", visual_dim=DIM, audio_dim=DIM)
    clip = make_clip(d / "talk.mkv", duration_s=2.0, leading_silence_ms=50, width=224, height=224).path
    return {"ckpt": Path(ckpt), "phi": Path(phi), "clip": clip, "root": d}


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))


def _count_extractors(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    original = features.FeatureExtractor

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(features, "FeatureExtractor", Counting)
    return made


@pytest.mark.slow
def test_cached_reanalysis_does_not_load_the_extractor(setup, monkeypatch) -> None:
    made = _count_extractors(monkeypatch)
    options = AnalysisOptions(checkpoint=setup["ckpt"], phi=setup["phi"], device="cpu",
                              variants=("untrimmed", "trimmed"))
    first = Analyzer(options).analyze(setup["clip"])
    assert len(made) == 1
    again = Analyzer(options)
    second = again.analyze(setup["clip"])
    assert len(made) == 1 and again._extractor is None  # only re-scored from the cache
    assert second.models == first.models
    feats = next(m for m in second.models if m["role"] == "features")
    assert feats["name"] == "tiny_avhubert.pt" and feats["architecture"] and feats["device"] == "cpu"
    for variant in ("untrimmed", "trimmed"):
        np.testing.assert_array_equal(second.scores[variant].frame_scores,
                                      first.scores[variant].frame_scores)
    # Without the cache the model is loaded when the features are needed.
    Analyzer(AnalysisOptions(checkpoint=setup["ckpt"], phi=setup["phi"], device="cpu",
                             use_cache=False)).analyze(setup["clip"])
    assert len(made) == 2


class _Recorder:
    def __init__(self, cancel_at_stage: str | None = None) -> None:
        self.stages: list[tuple[str, float, float | None]] = []
        self.cancel_at_stage = cancel_at_stage
        self.cancel_requested = False

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        self.stages.append((stage, done, total))
        if stage == self.cancel_at_stage and total:
            self.cancel_requested = True

    def cancelled(self) -> bool:
        return self.cancel_requested


@pytest.mark.slow
def test_prepare_process_matches_in_thread_forwards_progress_and_cancels(setup, tmp_path,
                                                                         monkeypatch) -> None:
    from forensics_gui.core import subprocess_prepare
    from forensics_gui.core.children import ChildUnavailable
    from forensics_gui.core.subprocess_prepare import PrepareProcess

    options = AnalysisOptions(use_cache=False)
    proc = PrepareProcess()
    try:
        rec = _Recorder()
        clip = proc.prepare(setup["clip"], options, progress=rec)
        local = Analyzer(options).prepare(setup["clip"])
        np.testing.assert_array_equal(clip.gray, local.gray)
        np.testing.assert_array_equal(clip.audio_16k, local.audio_16k)
        assert clip.sha256 == local.sha256 and clip.caveats == local.caveats
        names = [s for s, _, _ in rec.stages]
        assert names.index("hash") < names.index("landmarks") < names.index("ROI round trip")
        assert ("landmarks", 50.0, 50.0) in rec.stages
        pid = proc.pid
        # A bad input raises the same error in the parent; the child stays for the next job.
        (tmp_path / "broken.mp4").write_bytes(b"not a video")
        with pytest.raises(MediaError):
            proc.prepare(tmp_path / "broken.mp4", options)
        # Cancel during the landmarks: the child stops at its next check by itself (one that
        # ignored Cancel would finish the clip and prepare would return). Terminating it after
        # CANCEL_GRACE_S is the fallback for a stuck child; a long grace keeps a slow machine
        # from taking that path, which the pid below would tell.
        monkeypatch.setattr(subprocess_prepare, "CANCEL_GRACE_S", 60.0)
        rec = _Recorder(cancel_at_stage="landmarks")
        with pytest.raises(Cancelled):
            proc.prepare(setup["clip"], options, progress=rec)
        assert rec.cancel_requested
        assert proc.pid == pid  # the same child, reused (dlib loaded once): not terminated
    finally:
        proc.shutdown()
    assert not proc.is_alive()
    with pytest.raises(ChildUnavailable):
        proc.prepare(setup["clip"], options)
