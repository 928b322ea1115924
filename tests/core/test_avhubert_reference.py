"""The encoder against independent references built from torch building blocks.

The reference below reads the *official* state-dict keys directly and uses only torch.nn.functional
ops, ``torch.nn.utils.parametrizations.weight_norm(dim=2)`` and ``torch.nn.TransformerEncoderLayer``
(pre-LN, exact GELU), so it shares no code with forensics_gui.core.encoder.avhubert.model.
Tolerances are at least as strict as the official parity targets (max-abs <= 1e-4, cosine >= 0.99999).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from forensics_gui.core.encoder.avhubert import model as model_mod
from forensics_gui.core.encoder.avhubert.checkpoint import (
    fold_weight_norm,
    load_avhubert,
    read_checkpoint,
)
from forensics_gui.core.encoder.avhubert.model import SelfAttention
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint

DIM, LAYERS, HEADS, FFN = 64, 2, 4, 128


def assert_parity(ours: torch.Tensor, ref: torch.Tensor, atol: float = 1e-5) -> None:
    assert ours.shape == ref.shape
    diff = (ours - ref).abs().max().item()
    assert diff <= atol, f"max-abs diff {diff}"
    a, b = ours.reshape(-1, ours.shape[-1]), ref.reshape(-1, ref.shape[-1])
    cos = F.cosine_similarity(a.double(), b.double(), dim=-1).min().item()
    assert cos >= 0.999999, f"min per-frame cosine {cos}"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(2)
    path = write_fake_avhubert_checkpoint(tmp_path_factory.mktemp("ref") / "pre.pt", layers=LAYERS,
                                          dim=DIM, heads=HEADS, ffn=FFN, fp16=True, seed=3)
    state = {k: (v.float() if torch.is_floating_point(v) else v)
             for k, v in read_checkpoint(path)["model"].items()}
    return load_avhubert(path).model, state


def _bn(x: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    return F.batch_norm(x, sd[p + "running_mean"], sd[p + "running_var"], sd[p + "weight"],
                        sd[p + "bias"], training=False, eps=1e-5)


def ref_video(sd: dict, video: torch.Tensor) -> torch.Tensor:
    r = "feature_extractor_video.resnet."
    x = F.conv3d(video, sd[r + "frontend3D.0.weight"], stride=(1, 2, 2), padding=(2, 3, 3))
    x = F.prelu(_bn(x, sd, r + "frontend3D.1."), sd[r + "frontend3D.2.weight"])
    x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
    b, c, t, h, w = x.shape
    x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    for li in range(1, 5):
        for bi in range(2):
            p = f"{r}trunk.layer{li}.{bi}."
            stride = 2 if li > 1 and bi == 0 else 1
            out = F.conv2d(x, sd[p + "conv1.weight"], stride=stride, padding=1)
            out = F.prelu(_bn(out, sd, p + "bn1."), sd[p + "relu1.weight"])
            out = _bn(F.conv2d(out, sd[p + "conv2.weight"], padding=1), sd, p + "bn2.")
            if p + "downsample.0.weight" in sd:
                x = _bn(F.conv2d(x, sd[p + "downsample.0.weight"], stride=stride), sd, p + "downsample.1.")
            x = F.prelu(out + x, sd[p + "relu2.weight"])
    x = F.adaptive_avg_pool2d(x, 1).flatten(1).view(b, t, 512)
    return F.linear(x, sd["feature_extractor_video.proj.weight"], sd["feature_extractor_video.proj.bias"])


def ref_layer(sd: dict, i: int) -> nn.TransformerEncoderLayer:
    p = f"encoder.layers.{i}."
    layer = nn.TransformerEncoderLayer(DIM, HEADS, FFN, dropout=0.0, activation="gelu",
                                       layer_norm_eps=1e-5, batch_first=True, norm_first=True)
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([sd[p + f"self_attn.{n}_proj.weight"] for n in "qkv"]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([sd[p + f"self_attn.{n}_proj.bias"] for n in "qkv"]))
        layer.self_attn.out_proj.weight.copy_(sd[p + "self_attn.out_proj.weight"])
        layer.self_attn.out_proj.bias.copy_(sd[p + "self_attn.out_proj.bias"])
        for ours, theirs in (("fc1", layer.linear1), ("fc2", layer.linear2),
                             ("self_attn_layer_norm", layer.norm1), ("final_layer_norm", layer.norm2)):
            theirs.weight.copy_(sd[p + ours + ".weight"])
            theirs.bias.copy_(sd[p + ours + ".bias"])
    return layer.train()  # train() with dropout 0 keeps the plain (non fast-path) computation


def ref_forward(sd: dict, audio: torch.Tensor | None, video: torch.Tensor | None,
                padding_mask: torch.Tensor | None = None, output_layer: int | None = None) -> torch.Tensor:
    fa = None if audio is None else F.linear(audio, sd["feature_extractor_audio.proj.weight"],
                                             sd["feature_extractor_audio.proj.bias"])
    fv = None if video is None else ref_video(sd, video)
    fa = torch.zeros_like(fv) if fa is None else fa
    fv = torch.zeros_like(fa) if fv is None else fv
    x = F.layer_norm(torch.cat([fa, fv], -1), (2 * DIM,), sd["layer_norm.weight"], sd["layer_norm.bias"], 1e-5)
    x = F.linear(x, sd["post_extract_proj.weight"], sd["post_extract_proj.bias"])
    if padding_mask is not None:
        x = x.masked_fill(padding_mask[..., None], 0.0)
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(DIM, DIM, 128, padding=64, groups=16), dim=2)
    with torch.no_grad():
        conv.parametrizations.weight.original0.copy_(sd["encoder.pos_conv.0.weight_g"])
        conv.parametrizations.weight.original1.copy_(sd["encoder.pos_conv.0.weight_v"])
        conv.bias.copy_(sd["encoder.pos_conv.0.bias"])
    pos = conv(x.transpose(1, 2))
    assert pos.shape[-1] == x.shape[1] + 1
    x = x + F.gelu(pos[..., :-1]).transpose(1, 2)
    for i in range(LAYERS):
        x = ref_layer(sd, i)(x, src_key_padding_mask=padding_mask)
        if output_layer == i + 1:
            return x
    return F.layer_norm(x, (DIM,), sd["encoder.layer_norm.weight"], sd["encoder.layer_norm.bias"], 1e-5)


def _inputs(t: int = 12, b: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(b, t, 104, generator=g)
    video = torch.randn(b, 1, t, 88, 88, generator=g)
    return audio, video


def test_weight_norm_folding_matches_torch_parametrization() -> None:
    g = torch.Generator().manual_seed(1)
    conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(32, 32, 8, padding=4, groups=4), dim=2)
    assert tuple(conv.parametrizations.weight.original0.shape) == (1, 1, 8)  # one g per tap
    with torch.no_grad():
        conv.parametrizations.weight.original0.copy_(0.5 + torch.rand(1, 1, 8, generator=g))
        conv.parametrizations.weight.original1.copy_(torch.randn(32, 8, 8, generator=g))
        folded = fold_weight_norm(conv.parametrizations.weight.original0.half(),
                                  conv.parametrizations.weight.original1.half())
        expected = torch._weight_norm(conv.parametrizations.weight.original1.half().float(),
                                      conv.parametrizations.weight.original0.half().float(), 2)
    assert folded.dtype == torch.float32
    assert (folded - expected).abs().max().item() < 1e-6
    with torch.no_grad():
        exact = fold_weight_norm(conv.parametrizations.weight.original0, conv.parametrizations.weight.original1)
        assert (exact - conv.weight).abs().max().item() < 1e-6
        # the norm of dim=0 (PyTorch's default: over dims 1, 2) gives a different weight
        g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
        wrong = g * v / v.norm(dim=(1, 2), keepdim=True)
        assert (wrong - conv.weight).abs().max().item() > 1e-2


@pytest.mark.parametrize("fused", [False, True])
def test_attention_matches_multihead_attention(fused: bool) -> None:
    torch.manual_seed(0)
    ours = SelfAttention(DIM, HEADS).eval()
    if fused:
        ours.derive()
    mha = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        mha.out_proj.load_state_dict(ours.out_proj.state_dict())
    x = torch.randn(2, 17, DIM)
    pad = torch.zeros(2, 17, dtype=torch.bool)
    pad[1, 11:] = True
    with torch.no_grad():
        ref, _ = mha(x, x, x, key_padding_mask=pad, need_weights=False)
        got = ours(x, (~pad)[:, None, None, :])
    assert_parity(got, ref, atol=1e-6)


@pytest.mark.slow
def test_whole_model_matches_reference_all_modes(ckpt) -> None:
    model, sd = ckpt
    audio, video = _inputs(t=14)
    with torch.inference_mode():
        for a, v in ((audio, None), (None, video), (audio, video)):
            got = model.extract_features(audio=a, video=v)
            ref = ref_forward(sd, a, v)
            assert got.abs().mean().item() > 0.1
            assert_parity(got, ref)
        for k in (1, LAYERS):
            assert_parity(model.extract_features(audio=audio, output_layer=k),
                          ref_forward(sd, audio, None, output_layer=k))
        last = model.extract_features(audio=audio, output_layer=LAYERS)
        final = model.extract_features(audio=audio)
        assert (last - final).abs().max().item() > 1e-2  # the final LayerNorm only for None
        assert_parity(model.encoder.layer_norm(last), final)


@pytest.mark.slow
def test_two_passes_batched_equal_separate_and_reference(ckpt) -> None:
    model, sd = ckpt
    audio, video = _inputs(t=20, seed=1)
    with torch.inference_mode():
        a_b, v_b = model.extract_two_passes(audio, video, batched=True)
        a_s, v_s = model.extract_two_passes(audio, video, batched=False)
        model.prepare_for_inference()
        a_f, v_f = model.extract_two_passes(audio, video, batched=True)
    assert_parity(a_b, ref_forward(sd, audio, None))
    assert_parity(v_b, ref_forward(sd, None, video))
    assert_parity(a_b, a_s, atol=1e-5)
    assert_parity(v_f, v_s, atol=1e-5)
    assert_parity(a_f, a_s, atol=1e-5)


def test_batched_with_padding_equals_unbatched(ckpt) -> None:
    model, sd = ckpt
    g = torch.Generator().manual_seed(5)
    lengths = (30, 45)
    audio = torch.randn(2, 45, 104, generator=g)
    pad = torch.arange(45)[None, :] >= torch.tensor(lengths)[:, None]
    audio = audio.masked_fill(pad[..., None], 7.0)  # garbage in padded frames must not matter
    with torch.inference_mode():
        batched = model.extract_features(audio=audio, padding_mask=pad)
        ref_batched = ref_forward(sd, audio, None, padding_mask=pad)
        for i, n in enumerate(lengths):
            alone = model.extract_features(audio=audio[i:i + 1, :n])
            assert_parity(batched[i:i + 1, :n], alone)
            assert_parity(ref_batched[i:i + 1, :n], alone)


def test_prelu_is_used_relu_would_change_output(ckpt) -> None:
    model, _ = ckpt
    prelus = [m for m in model.feature_extractor_video.resnet.modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == 17
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert not model.training and all(not m.training for m in model.modules())
    _, video = _inputs(t=6, seed=2)
    with torch.inference_mode():
        before = model.extract_features(video=video)
        saved = [p.weight.clone() for p in prelus]
        for p in prelus:
            p.weight.zero_()  # PReLU with slope 0 is ReLU
        after = model.extract_features(video=video)
        for p, w in zip(prelus, saved, strict=True):
            p.weight.copy_(w)
    assert (before - after).abs().max().item() > 1e-2


def test_resnet_chunking_is_exact(ckpt, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = ckpt
    _, video = _inputs(t=19, seed=4)
    resnet = model.feature_extractor_video.resnet
    with torch.inference_mode():
        whole = resnet(video)
        monkeypatch.setattr(model_mod, "RESNET_CHUNK_FRAMES", 5)
        seen: list[tuple[int, int]] = []
        chunked = resnet(video, on_chunk=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (19, 19) and len(seen) == 4
    assert_parity(chunked, whole, atol=1e-5)


def test_sizes_come_from_cfg(tmp_path) -> None:
    path = write_fake_avhubert_checkpoint(tmp_path / "odd.pt", layers=3, dim=96, heads=6, ffn=80)
    loaded = load_avhubert(path)
    enc = loaded.model.encoder
    assert len(enc.layers) == 3 and enc.layers[0].fc1.out_features == 80
    assert enc.layers[0].self_attn.heads == 6 and loaded.config.head_dim == 16
    out = loaded.model.extract_features(audio=torch.zeros(1, 5, 104))
    assert out.shape == (1, 5, 96) and np.isfinite(out.detach().numpy()).all()
