"""Which mouth-crop preparation made a result ("official" or "fast") is recorded everywhere a
result goes (analyze JSON, feature files, training features) and is part of the cache key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics_gui.core.face import roi
from forensics_gui.testing.synth import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("prep")
    return make_clip(d / "talk.mkv", duration_s=1.0, width=256, height=256).path


pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


@pytest.mark.slow
def test_analyze_records_the_preparation_and_never_serves_a_fast_result_for_an_exact_one(
        models, clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.cli import main

    ckpt, phi = models
    calls: list[str] = []
    real = roi.extract_mouth_roi

    def spy(path, **kw):  # type: ignore[no-untyped-def]
        calls.append(kw.get("preparation", "official"))
        return real(path, **kw)

    monkeypatch.setattr(roi, "extract_mouth_roi", spy)
    base = ["analyze", str(clip), "--checkpoint", str(ckpt), "--phi", str(phi), "--device", "cpu", "-q"]
    assert main([*base, "--fast-landmarks", "-o", str(tmp_path / "fast.json")]) == 0
    assert main([*base, "-o", str(tmp_path / "exact.json")]) == 0
    assert main([*base, "-o", str(tmp_path / "again.json")]) == 0  # from the cache
    assert calls == ["fast", "official"]
    fast = json.loads((tmp_path / "fast.json").read_text())
    exact = json.loads((tmp_path / "exact.json").read_text())
    again = json.loads((tmp_path / "again.json").read_text())
    assert fast["preparation"] == roi.preparation_record("fast")
    assert exact["preparation"] == again["preparation"] == roi.preparation_record("official")
    assert exact["frame_scores"] == again["frame_scores"]
    assert exact["frame_scores"] != fast["frame_scores"]  # different crops, different scores


def test_feature_files_record_the_preparation(models, clip, tmp_path: Path) -> None:
    from forensics_gui.cli import main
    from forensics_gui.core.encoder.features import FeatureSet, load_features, save_features
    from forensics_gui.core.training_data import is_up_to_date

    ckpt, _phi = models
    out = tmp_path / "f.npz"
    assert main(["features", str(clip), "--checkpoint", str(ckpt), "--device", "cpu", "-o",
                 str(out), "--quiet"]) == 0
    assert load_features(out).meta["preparation"] == roi.preparation_record("official")

    # training extraction re-uses a features file only when it was made with the same preparation
    import numpy as np

    fs = FeatureSet(visual=np.zeros((4, 8), np.float32), audio=np.zeros((4, 8), np.float32),
                    checkpoint_sha256="c" * 64, meta={"source_sha256": "s" * 64})
    path = tmp_path / "train.npz"
    save_features(path, fs, preparation=roi.preparation_record("fast"))
    assert is_up_to_date(path, "s" * 64, "c" * 64, False, "fast")
    assert not is_up_to_date(path, "s" * 64, "c" * 64, False, "official")
    save_features(path, fs)  # no record: made before records existed, so extracted again
    assert not is_up_to_date(path, "s" * 64, "c" * 64, False, "official")
