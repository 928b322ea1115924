"""Fixtures shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.phi import write_published_phi

TINY_DIM = 32


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny random-weight AV-HuBERT (1 layer, 32 dims, official layout) and a matching Phi in
    the published layout: (checkpoint, phi)."""
    d = tmp_path_factory.mktemp("models")
    ckpt = write_fake_avhubert_checkpoint(d / "tiny_avhubert.pt", layers=1, dim=TINY_DIM, heads=2, ffn=64)
    phi = write_published_phi(d / "phi.pt", visual_dim=TINY_DIM, audio_dim=TINY_DIM)
    return ckpt, phi


@pytest.fixture
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's cache, model and data folders inside the test's tmp_path (no models installed)."""
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("FORENSICS_GUI_DATA", str(tmp_path / "data"))
