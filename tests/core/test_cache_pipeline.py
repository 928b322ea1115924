"""The analysis cache as the pipeline uses it: swapped or stale entries are recomputed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.encoder.cache import Cache
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
from forensics_gui.testing.synth import make_clip


@pytest.mark.slow
def test_swapped_roi_and_features_entries_are_recomputed(models: tuple[Path, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    clip = make_clip(tmp_path / "talk.mkv", duration_s=1.0, width=192, height=192).path
    ckpt, phi = models
    opts = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu")
    first = Analyzer(opts).analyze(clip)
    a, b = sorted((tmp_path / "cache").rglob("*.npz"))
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    for _ in range(2):  # the first rerun recomputes, the second reads the rewritten entries
        again = Analyzer(opts).analyze(clip)
        np.testing.assert_allclose(first.main.frame_scores, again.main.frame_scores, atol=1e-6)
    cache = Cache(tmp_path / "cache")
    assert cache.count() == 2
    assert cache.get_npz_meta(a.stem) is not None and cache.get_npz_meta(b.stem) is not None
