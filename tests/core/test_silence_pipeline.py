"""The pipeline and tau: one measurement per (clip, tau), and a trimmed variant that follows the
official fixed AVH-Align rule (whatever tau the display uses), recorded in its cache key."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from forensics_gui.core.encoder.cache import Cache
from forensics_gui.core.media.decode import decode_audio
from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD, leading_silence
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
from forensics_gui.testing.synth import make_clip

HIGH_TAU = 0.1  # above the synthetic clips' room noise: the displayed silence gets longer


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    return make_clip(d / "talk.mkv", duration_s=1.0, leading_silence_ms=50, width=192, height=192).path


pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


@pytest.mark.parametrize("tau", [0.0, 1.0, float("nan"), -0.001])
def test_analysis_options_refuse_a_bad_tau(tau: float) -> None:
    with pytest.raises(ValueError, match="The silence threshold"):
        AnalysisOptions(silence_threshold=tau)


def test_prepare_uses_the_callers_measurement_when_its_tau_matches(clip: Path) -> None:
    measured = leading_silence(decode_audio(clip), threshold=0.001)
    marked = dataclasses.replace(measured, leading_silence_ms=measured.leading_silence_ms + 1.0)
    analyzer = Analyzer(AnalysisOptions(silence_threshold=0.001))
    assert analyzer.prepare(clip, silence=marked).silence is marked  # used as is, not re-measured
    again = analyzer.prepare(clip, silence=dataclasses.replace(marked, threshold=0.002))
    assert again.silence.threshold == 0.001 and again.silence == measured  # another tau: measured
    assert analyzer.prepare(clip).silence == measured


@pytest.mark.slow
def test_tau_moves_the_displayed_silence_but_never_the_trimmed_variant(
        models: tuple[Path, Path], clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt, phi = models
    keys: list[dict[str, Any]] = []
    real_key = Cache.key

    def spy(*parts: Any) -> str:
        keys.extend(p for p in parts if isinstance(p, dict) and "trimmed" in p)
        return real_key(*parts)

    monkeypatch.setattr(Cache, "key", staticmethod(spy))
    results = {}
    for tau in (0.0005, HIGH_TAU):
        opts = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", silence_threshold=tau,
                               variants=("untrimmed", "trimmed"), use_cache=False)
        results[tau] = Analyzer(opts).analyze(clip)
    low, high = results[0.0005], results[HIGH_TAU]
    assert low.silence.leading_silence_ms == pytest.approx(50.0, abs=0.1)
    assert high.silence.threshold == HIGH_TAU
    assert high.silence.leading_silence_ms > low.silence.leading_silence_ms + 5.0
    assert low.trims["trimmed"] == high.trims["trimmed"] and low.trims["trimmed"]["trimmed_video_frames"] == 2
    np.testing.assert_array_equal(low.scores["trimmed"].frame_scores, high.scores["trimmed"].frame_scores)
    np.testing.assert_array_equal(low.scores["trimmed"].times_s, high.scores["trimmed"].times_s)
    trimmed_keys = [k for k in keys if k["trimmed"]]
    assert trimmed_keys and all(k["trim_threshold"] == OFFICIAL_TRIM_THRESHOLD for k in trimmed_keys)
    assert all("trim_threshold" not in k for k in keys if not k["trimmed"])


def test_a_different_trim_rule_never_reuses_cached_trimmed_features(
        models: tuple[Path, Path], clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.core import pipeline

    ckpt, phi = models
    opts = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", variants=("trimmed",))
    analyzer = Analyzer(opts)
    clip_sha = analyzer.prepare(clip).sha256
    analyzer.load_models()
    prepared = analyzer.prepare(clip, sha256=clip_sha)
    analyzer.features(clip_sha, prepared.gray, prepared.audio_16k, True, None)
    entries = Cache().count()
    analyzer.features(clip_sha, prepared.gray, prepared.audio_16k, True, None)
    assert Cache().count() == entries  # same rule: a cache hit
    monkeypatch.setattr(pipeline, "OFFICIAL_TRIM_THRESHOLD", 0.001)
    analyzer.features(clip_sha, prepared.gray, prepared.audio_16k, True, None)
    assert Cache().count() == entries + 1  # another rule: another key, never the stale entry


@pytest.mark.slow
def test_the_prepare_child_process_also_uses_the_callers_measurement(clip: Path) -> None:
    from forensics_gui.core.subprocess_prepare import PrepareProcess

    measured = leading_silence(decode_audio(clip))
    marked = dataclasses.replace(measured, leading_silence_ms=measured.leading_silence_ms + 1.0)
    proc = PrepareProcess()
    try:
        prepared = proc.prepare(clip, AnalysisOptions(), silence=marked)
    finally:
        proc.shutdown()
    assert prepared.silence == marked


@pytest.mark.slow
def test_trimmed_training_features_record_the_rule_and_another_rule_is_not_reused(
        models: tuple[Path, Path], clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.core import training_data
    from forensics_gui.core.encoder.features import load_features
    from forensics_gui.core.files.hashing import sha256_file

    ckpt, _ = models
    out = tmp_path / "features"
    report = training_data.extract_features_for_videos([clip], out, checkpoint=ckpt, device="cpu",
                                                       trim=True, workers=1)
    path, sha = out / "talk.npz", sha256_file(clip)
    assert load_features(path).meta["trim_threshold"] == OFFICIAL_TRIM_THRESHOLD
    assert training_data.is_up_to_date(path, sha, report.checkpoint_sha256, trim=True)
    monkeypatch.setattr(training_data, "OFFICIAL_TRIM_THRESHOLD", 0.001)
    assert not training_data.is_up_to_date(path, sha, report.checkpoint_sha256, trim=True)
