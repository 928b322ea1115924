"""Phi: loading the published layouts safely, outputs against an independent numpy MLP, the band."""

from __future__ import annotations

import argparse
import sys
import types

import numpy as np
import pytest
import torch

from forensics_gui.core.alignment.phi import l2_normalize, load_phi, offsets_from_band
from forensics_gui.core.errors import CheckpointError, ForensicsError
from forensics_gui.testing.phi import random_phi_module, write_published_phi, write_supervised_phi

torch.set_num_threads(2)


def numpy_phi(sd: dict[str, np.ndarray], v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Independent float64 re-implementation of the published FusionModel from a state dict."""

    def lin(name: str, x: np.ndarray) -> np.ndarray:
        return x @ sd[f"{name}.weight"].T + sd[f"{name}.bias"]

    def ln(name: str, x: np.ndarray) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * sd[f"{name}.weight"] + sd[f"{name}.bias"]

    h = np.concatenate([lin("visual_proj", v), lin("audio_proj", a)], axis=-1)
    for i in (0, 3, 6):
        h = np.maximum(ln(f"mlp.{i + 1}", lin(f"mlp.{i}", h)), 0.0)
    return lin("mlp.9", h)[..., 0]


def np_state(path) -> dict[str, np.ndarray]:
    sd = torch.load(path, weights_only=False)["state_dict"]
    return {k.removeprefix("model."): v.double().numpy() for k, v in sd.items()}


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return write_published_phi(tmp_path_factory.mktemp("phi") / "AVH-Align_AV1M.pt", 1024, 1024, seed=3)


def test_published_layout_loads_and_matches_numpy(published):
    phi = load_phi(published)
    assert (phi.kind, phi.variant, phi.visual_dim, phi.audio_dim) == ("unsupervised", "mlp", 1024, 1024)
    assert phi.metadata["epoch"] == 7 and phi.metadata["best_val_loss"] == 1234.5
    assert isinstance(phi.metadata["args"], argparse.Namespace) and phi.metadata["args"].tau == 15
    assert len(phi.sha256) == 64
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 1024)).astype(np.float32) * 7.0
    a = rng.normal(size=(40, 1024)).astype(np.float32) * 0.3
    ref = numpy_phi(np_state(published), unit(v.astype(np.float64)), unit(a.astype(np.float64)))
    out = phi.frame_outputs(v, a)
    assert np.abs(out - ref).max() <= 1e-5
    assert np.abs(phi.frame_scores(v, a) + ref).max() <= 1e-5
    assert ref.std() > 1e-3  # the comparison is not between constants


def test_bare_state_dict_and_custom_sizes(tmp_path):
    module = random_phi_module(48, 40, seed=1, proj_dim=32, hidden=(24, 16, 8))
    path = tmp_path / "bare.pt"
    torch.save({"state_dict": module.state_dict()}, path)
    phi = load_phi(path)
    assert (phi.visual_dim, phi.audio_dim) == (48, 40)
    assert phi.module.mlp[0].weight.shape == (24, 64) and phi.module.mlp[6].out_features == 8
    rng = np.random.default_rng(1)
    v, a = rng.normal(size=(9, 48)), rng.normal(size=(9, 40))
    ref = numpy_phi({k: t.double().numpy() for k, t in module.state_dict().items()}, unit(v), unit(a))
    assert np.abs(phi.frame_outputs(v, a) - ref).max() <= 1e-5


def test_zero_rows_give_zero_not_nan():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = l2_normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)


def test_supervised_checkpoints(tmp_path):
    rng = np.random.default_rng(2)
    v, a = rng.normal(size=(12, 64)), rng.normal(size=(12, 64))
    for prefix in ("", "model."):
        path = write_supervised_phi(tmp_path / f"sup{prefix}.ckpt", 64, 64, seed=4, prefix=prefix)
        phi = load_phi(path)
        assert (phi.kind, phi.variant) == ("supervised", "mlp")
        ref = numpy_phi(np_state(path), unit(v), unit(a))
        assert np.abs(phi.frame_scores(v, a) - ref).max() <= 1e-5  # +output for /sup
    path = write_supervised_phi(tmp_path / "lin.ckpt", 64, 64, seed=5, variant="linear")
    phi = load_phi(path)
    sd = np_state(path)
    ref = np.concatenate([unit(v), unit(a)], 1) @ sd["head.weight"][0] + sd["head.bias"][0]
    assert (phi.kind, phi.variant) == ("supervised", "linear")
    assert np.abs(phi.frame_scores(v, a) - ref).max() <= 1e-5
    assert np.abs(phi.band_scores(v, a)[:, 15] - ref).max() <= 1e-5


def test_band_matches_direct_pairs(tmp_path):
    module = random_phi_module(32, 24, seed=6, proj_dim=32, hidden=(32, 16, 8))
    path = tmp_path / "phi.pt"
    torch.save({"state_dict": module.state_dict()}, path)
    phi = load_phi(path)
    rng = np.random.default_rng(3)
    t = 20
    v, a = rng.normal(size=(t, 32)), rng.normal(size=(t, 24))
    band = phi.band_scores(v, a)
    assert band.shape == (t, 31)
    np.testing.assert_allclose(band[:, 15], -phi.frame_scores(v, a), atol=1e-5)
    sd = {k: x.double().numpy() for k, x in module.state_dict().items()}
    vn, an = unit(v), unit(a)
    for o in (-15, -7, -1, 1, 4, 15):
        k = np.arange(t) + o
        inside = (k >= 0) & (k < t)
        a_pair = np.where(inside[:, None], an[np.clip(k, 0, t - 1)], 0.0)  # zero vector outside
        np.testing.assert_allclose(band[:, 15 + o], numpy_phi(sd, vn, a_pair), atol=1e-5)
    best, prob = phi.sync_offsets(v, a)
    np.testing.assert_array_equal(best, band.argmax(1) - 15)
    assert np.all((prob > 0) & (prob < 1))


def test_offsets_from_band_values():
    band = np.zeros((2, 31))
    band[0, 18] = 5.0  # audio 3 frames later aligns best
    band[1, 15] = np.log(30.0)  # p(true) = 30 / (30 + 30)
    best, prob = offsets_from_band(band)
    assert best.tolist() == [3, 0]
    assert prob[0] == pytest.approx(1 / (30 + np.exp(5.0)))
    assert prob[1] == pytest.approx(0.5)


def test_dimension_mismatch_is_a_clear_error(published):
    phi = load_phi(published)
    with pytest.raises(CheckpointError, match="1024 / 1024"):
        phi.frame_scores(np.ones((5, 768)), np.ones((5, 768)))
    bad = np.ones((5, 1024))
    bad[2, 7] = np.nan
    with pytest.raises(ForensicsError, match="NaN"):
        phi.band_scores(bad, np.ones((5, 1024)))


def test_not_a_phi_checkpoint(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_phi(junk)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_phi(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"visual_proj.weight": torch.zeros(4, 4)}}, other)
    with pytest.raises(CheckpointError, match=r"lacks audio_proj\.bias"):
        load_phi(other)


def test_avhubert_style_checkpoint_is_refused_without_running_code(tmp_path, monkeypatch):
    """A fairseq checkpoint pickles fairseq classes: refused by name, nothing is imported/run."""
    mod = types.ModuleType("fairseq.data.dictionary")

    class Dictionary:
        def __init__(self) -> None:
            self.symbols = ["<s>"]

    Dictionary.__module__ = "fairseq.data.dictionary"
    Dictionary.__qualname__ = "Dictionary"
    mod.Dictionary = Dictionary
    for name in ("fairseq", "fairseq.data"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "fairseq.data.dictionary", mod)
    path = tmp_path / "large_vox_433h.pt"
    torch.save({"cfg": {"model": {}}, "model": {"encoder.layer_norm.weight": torch.ones(4)},
                "task_state": {"dictionaries": [Dictionary()]}}, path)
    for name in ("fairseq", "fairseq.data", "fairseq.data.dictionary"):
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(CheckpointError, match=r"not a Phi checkpoint.*fairseq\.data\.dictionary"):
        load_phi(path)


def test_plain_data_extras_load(tmp_path, monkeypatch):
    """numpy scalars, pathlib paths in args, and Lightning's AttributeDict (read as a dict)."""
    import pathlib

    mod = types.ModuleType("lightning.fabric.utilities.data")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__ = "lightning.fabric.utilities.data"
    AttributeDict.__qualname__ = "AttributeDict"
    mod.AttributeDict = AttributeDict
    for name in ("lightning", "lightning.fabric", "lightning.fabric.utilities"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "lightning.fabric.utilities.data", mod)
    module = random_phi_module(16, 16, seed=1, proj_dim=16, hidden=(16, 8, 4))
    path = tmp_path / "extras.ckpt"
    torch.save({"state_dict": module.state_dict(), "best_val_loss": np.float64(2.5),
                "args": argparse.Namespace(out=pathlib.PurePosixPath("/x/phi.pt")),
                "hyper_parameters": AttributeDict(config={"model_type": "mlp"})}, path)
    for name in ("lightning", "lightning.fabric", "lightning.fabric.utilities",
                 "lightning.fabric.utilities.data"):
        monkeypatch.delitem(sys.modules, name)
    phi = load_phi(path)
    assert phi.kind == "supervised"  # Lightning hyper_parameters
    assert phi.metadata["best_val_loss"] == 2.5
    assert phi.metadata["hyper_parameters"] == {"config": {"model_type": "mlp"}}
    assert str(phi.metadata["args"].out) == "/x/phi.pt"
