"""The encoder's fast CPU paths compute the same numbers as PyTorch's stock kernels and 3-D ops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from forensics_gui.core import cpu_linear
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig
from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder, VideoResNet

needs_onednn = pytest.mark.skipif(not cpu_linear.onednn_linear_available(),
                                  reason="this PyTorch build has no usable oneDNN linear")


@pytest.fixture
def fp32_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """fp32 through oneDNN whatever this CPU's default (AVX2-only CPUs keep the stock kernel)."""
    monkeypatch.setattr(cpu_linear, "onednn_fp32_preferred", lambda: True)


@needs_onednn
@pytest.mark.parametrize("shape", [(7, 48), (2, 9, 48), (1, 1, 48)])
def test_onednn_linear_equals_stock_linear_in_fp32(shape: tuple[int, ...], fp32_onednn: None) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    w, b = torch.randn(40, 48, generator=gen), torch.randn(40, generator=gen)
    with torch.inference_mode():
        got = cpu_linear.linear(x, w, b)
        got_nobias = cpu_linear.linear(x, w)
    assert cpu_linear.uses_onednn(x)
    assert got.dtype == torch.float32 and got.shape == (*shape[:-1], 40)
    torch.testing.assert_close(got, F.linear(x, w, b), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(got_nobias, F.linear(x, w), rtol=1e-6, atol=1e-5)


def test_linear_falls_back_where_onednn_does_not_apply() -> None:
    x = torch.randn(3, 8, requires_grad=True)
    w = torch.randn(4, 8, requires_grad=True)
    y = cpu_linear.linear(x, w)  # autograd: the stock kernel, gradients flow
    assert not cpu_linear.uses_onednn(x)
    y.sum().backward()
    assert x.grad is not None and w.grad is not None
    x64, w64 = torch.randn(3, 8, dtype=torch.float64), torch.randn(4, 8, dtype=torch.float64)
    assert cpu_linear.linear(x64, w64).dtype == torch.float64  # other dtypes: stock kernel


def _clear_caches() -> None:
    for probe in (cpu_linear.onednn_linear_available, cpu_linear.onednn_bf16_available,
                  cpu_linear.onednn_fp32_preferred):
        probe.cache_clear()


def test_environment_switch_turns_onednn_off(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_caches()
    monkeypatch.setenv(cpu_linear.ENV_SWITCH, "0")
    try:
        assert not cpu_linear.onednn_linear_available()
        assert cpu_linear.kernel_name() == "PyTorch default"
        assert cpu_linear.kernel_name(dtype=torch.bfloat16) == "PyTorch default"
    finally:
        monkeypatch.delenv(cpu_linear.ENV_SWITCH)
        _clear_caches()


@needs_onednn
@pytest.mark.parametrize(("capability", "switch", "expected"), [
    ("AVX512", None, "oneDNN"),       # measured ~2x MKL on an AVX-512 AMD EPYC
    ("AVX2", None, "PyTorch default"),  # level with MKL on an AVX2-only one: keep the stock kernel
    ("AVX2", "1", "oneDNN"),          # asked for
    ("AVX512", "0", "PyTorch default"),
])
def test_fp32_kernel_follows_the_cpu(monkeypatch: pytest.MonkeyPatch, capability: str,
                                     switch: str | None, expected: str) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    if switch is None:
        monkeypatch.delenv(cpu_linear.ENV_SWITCH, raising=False)
    else:
        monkeypatch.setenv(cpu_linear.ENV_SWITCH, switch)
    _clear_caches()
    try:
        assert cpu_linear.kernel_name() == expected
        assert cpu_linear.uses_onednn(torch.zeros(2, 3)) == (expected == "oneDNN")
        assert not cpu_linear.onednn_for(torch.float32, "cuda")
    finally:
        monkeypatch.undo()
        _clear_caches()


def _randomise_norms(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for mod in module.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.normal_(0.0, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.normal_(1.0, 0.2)
                mod.bias.normal_(0.0, 0.2)
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.uniform_(0.0, 0.5)


def _official_front(resnet: VideoResNet, x: torch.Tensor) -> torch.Tensor:
    y = resnet.frontend3D(x)  # Conv3d, BatchNorm3d, PReLU, MaxPool3d as the official code
    b, c, t, h, w = y.shape
    return resnet.trunk(y.transpose(1, 2).reshape(b * t, c, h, w)).view(b, t, -1)


@pytest.mark.parametrize("negative_slope", [False, True])
@pytest.mark.parametrize("derived", [False, True])
def test_folded_stem_equals_the_3d_ops(derived: bool, negative_slope: bool) -> None:
    """The stem as a Conv2d over 5 frames, BatchNorm folded or not, PReLU after the max-pool
    (non-negative slopes) or before it (a negative slope: they do not commute) = the 5-D ops."""
    torch.manual_seed(0)
    resnet = VideoResNet().eval()
    _randomise_norms(resnet)
    if negative_slope:
        with torch.no_grad():
            resnet.frontend3D[2].weight[3] = -0.7
    if derived:
        resnet.derive()
        assert resnet._derived[2] is not negative_slope  # PReLU moved after the pool only if it commutes
    x = torch.randn(2, 1, 9, 88, 88)
    with torch.inference_mode():
        got = resnet(x)
        want = _official_front(resnet, x)
    assert got.shape == (2, 9, 512)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [3, 4, 128])
def test_context_frames_give_the_whole_clips_numbers(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Pieces of a clip with up to 2 frames of context on each side (what the extractor feeds
    the front end) give the whole clip's frames; context frames get no output."""
    from forensics_gui.core.encoder.avhubert import model as model_mod

    torch.manual_seed(1)
    resnet = VideoResNet().eval()
    _randomise_norms(resnet)
    resnet.derive()
    x = torch.randn(1, 1, 11, 88, 88)
    monkeypatch.setattr(model_mod, "RESNET_CHUNK_FRAMES", chunk)
    with torch.inference_mode():
        whole = _official_front(resnet, x)
        seen: list[tuple[int, int]] = []
        middle = resnet(x[:, :, 2:10], on_chunk=lambda d, t: seen.append((d, t)), context=(2, 2))
        head = resnet(x[:, :, 0:3], context=(0, 2))
        tail = resnet(x[:, :, 7:11], context=(2, 0))  # the clip ends: zeros beyond it
        with pytest.raises(ValueError, match="at most 2 frames"):
            resnet(x, context=(3, 0))
    assert middle.shape == (1, 4, 512) and head.shape == (1, 1, 512)
    assert seen[-1] == (4, 4)
    torch.testing.assert_close(middle, whole[:, 4:8], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(head, whole[:, 0:1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(tail, whole[:, 9:11], rtol=1e-5, atol=1e-5)


def test_resnet_refuses_training_mode() -> None:
    resnet = VideoResNet().train()
    with pytest.raises(RuntimeError, match="eval mode"):
        resnet(torch.randn(1, 1, 3, 88, 88))


def test_batched_two_passes_equal_one_clip_at_a_time() -> None:
    torch.manual_seed(0)
    model = AVHubertEncoder(AVHubertConfig(embed_dim=64, layers=2, heads=4, ffn_dim=128,
                                           conv_pos=8, conv_pos_groups=4)).eval()
    _randomise_norms(model)
    audio, video = torch.randn(3, 12, 104), torch.randn(3, 1, 12, 88, 88)
    with torch.inference_mode():
        a_all, v_all = model.extract_two_passes(audio, video)
        for i in range(3):
            a_i, v_i = model.extract_two_passes(audio[i:i + 1], video[i:i + 1], batched=False)
            torch.testing.assert_close(a_all[i:i + 1], a_i, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(v_all[i:i + 1], v_i, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_fused_residual_is_the_same_addition(fp32_onednn: None) -> None:
    gen = torch.Generator().manual_seed(2)
    x, res = torch.randn(2, 5, 32, generator=gen), torch.randn(2, 5, 24, generator=gen)
    w, b = torch.randn(24, 32, generator=gen), torch.randn(24, generator=gen)
    with torch.inference_mode():
        got = cpu_linear.linear(x, w, b, residual=res)
        want = res + cpu_linear.linear(x, w, b)
    assert torch.equal(got, want)


@pytest.mark.skipif(not cpu_linear.onednn_bf16_available(), reason="this CPU has no oneDNN bf16 kernels")
def test_fused_gelu_in_bf16_is_closer_to_fp32_than_one_bf16_rounding() -> None:
    gen = torch.Generator().manual_seed(3)
    x, w, b = torch.randn(64, 32, generator=gen), torch.randn(48, 32, generator=gen) / 4, torch.randn(48, generator=gen)
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    with torch.inference_mode():
        got = cpu_linear.linear(xb, wb, bb, gelu=True)
        exact = F.gelu(F.linear(xb.float(), wb.float(), bb.float()))
        fp32 = cpu_linear.linear(x, w, b, gelu=True)
    assert got.dtype == torch.bfloat16
    # one bf16 rounding of the exact value: relative error <= 2**-8
    assert float(((got.float() - exact).abs() / exact.abs().clamp_min(1e-2)).max()) <= 2 ** -7
    torch.testing.assert_close(fp32, F.gelu(F.linear(x, w, b)), rtol=1e-6, atol=1e-6)


def test_bf16_without_cpu_support_stays_with_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    # AVX2-only processors: oneDNN refuses bf16 inner products, so bf16 must not be sent there
    monkeypatch.setattr(cpu_linear, "onednn_bf16_available", lambda: False)
    gen = torch.Generator().manual_seed(5)
    x, w = torch.randn(6, 16, generator=gen).bfloat16(), torch.randn(8, 16, generator=gen).bfloat16()
    with torch.inference_mode():
        assert not cpu_linear.uses_onednn(x)
        got = cpu_linear.linear(x, w, gelu=True)
        assert torch.equal(got, F.gelu(F.linear(x, w).float()).bfloat16())
        assert cpu_linear.uses_onednn(x.float()) == cpu_linear.onednn_fp32_preferred()


def test_gelu_and_residual_do_not_combine() -> None:
    with pytest.raises(ValueError, match="cannot be combined"):
        cpu_linear.linear(torch.randn(2, 4), torch.randn(3, 4), residual=torch.randn(2, 3), gelu=True)


def test_folded_batchnorm_equals_the_modules_and_follows_dtype_moves() -> None:
    torch.manual_seed(4)
    resnet = VideoResNet().eval()
    _randomise_norms(resnet)
    x = torch.randn(1, 1, 6, 88, 88)
    with torch.inference_mode():
        want = resnet(x)
        resnet.derive()
        got = resnet(x)
        assert not torch.equal(got, want)  # the folded path really ran
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        resnet.to(torch.bfloat16)  # the folded copies are rebuilt in the new dtype
        low = resnet(x.bfloat16())
    assert resnet._derived is not None and resnet._derived[0].dtype == torch.bfloat16
    assert low.dtype == torch.bfloat16
    assert float(F.cosine_similarity(low.float().flatten(), want.flatten(), dim=0)) > 0.999


def test_prepare_for_inference_keeps_the_state_dict() -> None:
    torch.manual_seed(5)
    model = AVHubertEncoder(AVHubertConfig(embed_dim=64, layers=1, heads=4, ffn_dim=128,
                                           conv_pos=8, conv_pos_groups=4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.prepare_for_inference()
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
