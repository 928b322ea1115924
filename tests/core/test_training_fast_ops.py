"""The fast CPU training path: oneDNN linear with autograd, the blocked pair loss, bf16 precision."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from forensics_gui.cli import main
from forensics_gui.core import cpu_linear
from forensics_gui.core.alignment import fast_ops
from forensics_gui.core.alignment.training import (
    check_precision,
    compute_dtype,
    fast_loss,
    naive_loss,
    train_phi,
)
from forensics_gui.core.cpu_linear import onednn_linear_available
from forensics_gui.core.errors import ForensicsError
from forensics_gui.testing.phi import (
    SyntheticCorpus,
    random_phi_module,
    write_corpus,
    write_features,
)

torch.set_num_threads(2)
SMALL = {"proj_dim": 64, "hidden": (64, 32, 16)}
BF16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _batch(n: int = 3, c: int = 8, dim: int = 24, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    v = F.normalize(torch.randn(n, c, dim, generator=gen), dim=-1)
    a = F.normalize(torch.randn(n, c + 30, dim, generator=gen), dim=-1)
    a[0, :5] = 0.0  # audio outside the clip
    m = torch.ones(n, c, dtype=torch.bool)
    m[-1, c - 3:] = False  # a short last chunk
    return v, a, m


@pytest.mark.parametrize("with_bias", [True, False])
def test_onednn_linear_gradients_equal_f_linear(with_bias, monkeypatch):
    assert onednn_linear_available()  # this project's CPUs; otherwise the test below is moot
    # fp32 goes to oneDNN by default on AVX-512 CPUs only; test its autograd on any CPU
    monkeypatch.setattr(cpu_linear, "onednn_fp32_preferred", lambda: True)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 7, 33, generator=gen, requires_grad=True)
    w = torch.randn(19, 33, generator=gen, requires_grad=True)
    b = torch.randn(19, generator=gen, requires_grad=True) if with_bias else None
    g = torch.randn(4, 7, 19, generator=gen)
    ins = [t for t in (x, w, b) if t is not None]
    got = fast_ops.linear(x, w, b)
    assert got.grad_fn is not None and "OneDnnLinear" in type(got.grad_fn).__name__
    want = F.linear(x, w, b)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)
    for a, e in zip(torch.autograd.grad(got, ins, g), torch.autograd.grad(want, ins, g), strict=True):
        assert a.dtype == e.dtype and torch.allclose(a, e, atol=1e-5, rtol=1e-5)
    # Only the weight needs a gradient (the projections' inputs): no input gradient is formed.
    w2 = w.detach().requires_grad_()
    (gw,) = torch.autograd.grad(fast_ops.linear(x.detach(), w2, None), [w2], g)
    assert torch.allclose(gw, torch.einsum("ntk,nti->ki", g, x.detach()), atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not BF16, reason="no bf16 arithmetic on this CPU")
def test_bf16_linear_keeps_fp32_master_gradients():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(64, 48, generator=gen, requires_grad=True)
    w = torch.randn(32, 48, generator=gen, requires_grad=True)
    b = torch.randn(32, generator=gen, requires_grad=True)
    got = fast_ops.linear(x, w, b, torch.bfloat16)
    assert got.dtype == torch.bfloat16
    grads = torch.autograd.grad(got.float().square().sum(), [x, w, b])
    want = torch.autograd.grad(F.linear(x, w, b).square().sum(), [x, w, b])
    for a, e in zip(grads, want, strict=True):
        assert a.dtype == torch.float32
        assert (a - e).abs().max() <= 0.05 * e.abs().max()  # bf16: 8 significant bits
        assert (a - e).abs().max() > 0  # it really ran in bf16


@pytest.mark.parametrize("block_pairs", [1, 300, 10_000])
def test_blocked_loss_and_gradients_equal_unblocked(block_pairs):
    """Blocks of any size (one chunk, several, all) give the loss and gradients of one pass."""
    v, a, m = _batch()
    module = random_phi_module(24, 24, seed=3)  # published hidden sizes
    params = list(module.parameters())
    ref = fast_loss(module, v, a, m, blocked=False)
    g_ref = torch.autograd.grad(ref, params)
    hv, ha = fast_ops.fused_halves(module, v, a)
    got = fast_ops.pair_loss(module, hv, ha, m, 15, block_pairs=block_pairs)
    g_got = torch.autograd.grad(got * 2.5, params)  # the incoming gradient scales all of them
    assert abs(got.item() - ref.item()) <= 1e-6 * ref.item()
    for name, gg, gr in zip(dict(module.named_parameters()), g_got, g_ref, strict=True):
        if name == "mlp.9.bias":  # zero: the softmax is shift-invariant
            continue
        assert torch.allclose(gg, 2.5 * gr, atol=1e-5 * gr.abs().max().item(), rtol=1e-4), name
    with torch.no_grad():  # evaluation: no gradients kept
        assert fast_ops.pair_loss(module, hv, ha, m, 15).item() == pytest.approx(ref.item(), rel=1e-6)


def test_fast_loss_equals_published_loss_fp32():
    v, a, m = _batch(seed=4)
    module = random_phi_module(24, 24, seed=5)
    fast, naive = fast_loss(module, v, a, m), naive_loss(module, v, a, m)
    assert abs(fast.item() - naive.item()) <= 1e-5 * naive.item()
    g_fast = torch.autograd.grad(fast, list(module.parameters()))
    g_naive = torch.autograd.grad(naive_loss(module, v, a, m), list(module.parameters()))
    for gf, gn in list(zip(g_fast, g_naive, strict=True))[:-1]:  # mlp.9.bias: zero
        assert torch.allclose(gf, gn, atol=2e-5 * gn.abs().max().item(), rtol=1e-3)


@pytest.mark.skipif(not BF16, reason="no bf16 arithmetic on this CPU")
def test_bf16_loss_close_to_fp32():
    v, a, m = _batch(seed=6)
    module = random_phi_module(24, 24, seed=7)
    f32 = fast_loss(module, v, a, m, precision="float32").item()
    b16 = fast_loss(module, v, a, m, precision="bfloat16").item()
    assert b16 != f32 and abs(b16 - f32) <= 1e-2 * f32


def test_bad_precision_is_one_sentence(store_env, monkeypatch):
    with pytest.raises(ForensicsError, match="must be 'float32' or 'bfloat16', not 'fp8'"):
        compute_dtype("fp8")
    files = write_corpus(store_env / "c", 3, frames=40, dim=16, seed=1)
    with pytest.raises(ForensicsError, match="must be 'float32' or 'bfloat16'"):
        train_phi(files, store_env / "phi.pt", epochs=1, device="cpu", precision="half", **SMALL)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(ForensicsError, match="no fast bfloat16 arithmetic.*float32"):
        check_precision("bfloat16", "cpu")
    check_precision("float32", "cpu")
    with pytest.raises(SystemExit):
        main(["train", "--features", str(store_env / "c"), "-o", str(store_env / "p.pt"),
              "--precision", "float16"])


@pytest.mark.skipif(not BF16, reason="no bf16 arithmetic on this CPU")
def test_short_bf16_training_lowers_the_loss_and_is_recorded(store_env):
    corpus = SyntheticCorpus(dim=32, seed=0)
    files = [write_features(store_env / f"real_{i}.npz", corpus.clip(100)) for i in range(8)]
    out = store_env / "phi.pt"
    result = train_phi(files, out, epochs=3, batch_size=128, lr=1e-3, val_fraction=0.25, seed=0,
                       device="cpu", precision="bfloat16", **SMALL)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.8 * losses[0] < 0.8 * 3.434  # log(31) at the start
    assert result.precision == "bfloat16" and result.linear_kernel == "oneDNN"
    rec = torch.load(out, weights_only=True)["forensics_gui"]
    assert rec["precision"] == "bfloat16" and rec["linear_kernel"] == "oneDNN"
    assert rec["hyper_parameters"]["precision"] == "bfloat16"
    assert all(v.dtype == torch.float32 for v in torch.load(out, weights_only=True)["state_dict"].values())


def test_cli_precision_flag_recorded(store_env, capsys):
    write_corpus(store_env / "feats", 3, frames=40, dim=16, seed=4)
    out = store_env / "phi.pt"
    rc = main(["train", "--features", str(store_env / "feats"), "-o", str(out), "--epochs", "1",
               "--batch-size", "64", "--device", "cpu", "--precision", "float32", "--quiet"])
    assert rc == 0
    kernel = cpu_linear.kernel_name()  # oneDNN on AVX-512 CPUs, PyTorch's own on AVX2-only ones
    assert f"float32 ({kernel} linear layers)" in capsys.readouterr().err
    rec = torch.load(out, weights_only=True)["forensics_gui"]
    assert rec["precision"] == "float32" and rec["linear_kernel"] == kernel
