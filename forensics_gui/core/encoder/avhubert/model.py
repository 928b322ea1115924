"""The AV-HuBERT encoder as plain PyTorch modules (no fairseq), for feature extraction only.

Module and parameter names follow the official state dict (``feature_extractor_video.resnet...``,
``encoder.layers.{i}.self_attn.q_proj...``), so a converted checkpoint loads with
``load_state_dict(strict=True)``. Differences from the training code are inference-only:
``pos_conv`` is a plain Conv1d whose weight-norm was folded at load time, attention runs
through :func:`torch.nn.functional.scaled_dot_product_attention`, linear layers run through oneDNN
on the CPU (:mod:`forensics_gui.core.cpu_linear`: the same fp32 products, ~2x faster than the stock
kernel on AMD processors), and the stem's per-frame BatchNorm/PReLU/max-pool run on frames folded
into the batch in channels-last layout (the same arithmetic; PyTorch's 3-D max-pool is ~4x slower).

Shapes: audio features ``[B, T, 104]`` (stacked log filterbanks, 25 fps frames), video
``[B, 1, T, 88, 88]`` (normalised grey mouth crops, 25 fps), outputs ``[B, T, D]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from forensics_gui.core import cpu_linear
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig

#: Frames of video pushed through the ResNet at once (bounds memory on long clips).
RESNET_CHUNK_FRAMES = 128
#: Half of the Conv3d stem's temporal kernel: frames of context a chunk needs on each side.
_STEM_HALO = 2


class _Derived(nn.Module):
    """A module that keeps inference-only tensors derived from its parameters (a fused or folded
    copy) in ``_derived``; a device/dtype move drops them and :meth:`derive` rebuilds them from
    the moved parameters."""

    _derived: Any = None

    def derive(self) -> None:
        raise NotImplementedError

    def _apply(self, fn, recurse=True):
        had = self._derived is not None
        self._derived = None
        out = super()._apply(fn, recurse)
        if had:
            self.derive()
        return out


def fold_batchnorm(weight: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight', bias') of a bias-free convolution followed by ``bn`` in eval mode, computed in
    float64: conv(x, weight') + bias' = bn(conv(x, weight)) up to rounding (~1e-7 relative)."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    folded = weight.double() * scale.view(-1, *([1] * (weight.dim() - 1)))
    bias = bn.bias.double() - bn.running_mean.double() * scale
    return folded.to(weight.dtype), bias.to(weight.dtype)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and names) whose inference goes through :func:`cpu_linear.linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cpu_linear.linear(x, self.weight, self.bias)


class BasicBlock(_Derived):
    """ResNet-18 basic block with PReLU activations (``relu1``/``relu2``), as in AV-HuBERT.

    After :meth:`derive` (inference) each BatchNorm is folded into the convolution before it.
    """

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.PReLU(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.PReLU(planes)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def derive(self) -> None:
        """Fold bn1, bn2 (and the downsample's BatchNorm) into their convolutions."""
        pairs: list[tuple[nn.Module, nn.Module]] = [(self.conv1, self.bn1), (self.conv2, self.bn2)]
        if self.downsample is not None:
            pairs.append((self.downsample[0], self.downsample[1]))
        folded = []
        with torch.no_grad():
            for conv, bn in pairs:
                assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                folded.append(fold_batchnorm(conv.weight, bn))
        self._derived = folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._derived is None or self.training:
            residual = x if self.downsample is None else self.downsample(x)
            out = self.relu1(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu2(out + residual)
        (w1, b1), (w2, b2), *down = self._derived
        stride = self.conv1.stride[0]  # the 1x1 downsample has the same stride as conv1
        residual = x
        if down:
            residual = F.conv2d(x, down[0][0], down[0][1], stride=stride)
        out = self.relu1(F.conv2d(x, w1, b1, stride=stride, padding=1))
        return self.relu2(F.conv2d(out, w2, b2, padding=1) + residual)


class ResNetTrunk(nn.Module):
    """ResNet-18 without stem and classifier: 64 -> 512 channels, then global average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


class VideoResNet(_Derived):
    """Conv3d stem (5x7x7) + per-frame ResNet-18 trunk: ``[B,1,T,88,88]`` -> ``[B,T,512]``.

    :meth:`derive` folds every BatchNorm into the convolution before it (inference only).
    """

    def __init__(self) -> None:
        super().__init__()
        self.frontend3D = nn.Sequential(
            nn.Conv3d(1, 64, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.PReLU(64),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        self.trunk = ResNetTrunk()

    def derive(self) -> None:
        conv, bn = self.frontend3D[0], self.frontend3D[1]
        assert isinstance(conv, nn.Conv3d) and isinstance(bn, nn.BatchNorm3d)
        with torch.no_grad():
            weight, bias = fold_batchnorm(conv.weight, bn)
            prelu = self.frontend3D[2]
            assert isinstance(prelu, nn.PReLU)
            non_decreasing = bool((prelu.weight >= 0).all())
            self._derived = (_stem_weight_2d(weight), bias, non_decreasing)
        for block in self.trunk.modules():
            if isinstance(block, BasicBlock):
                block.derive()

    def _run(self, padded: torch.Tensor) -> torch.Tensor:
        """``padded [B, n + 4, H, W]``: n frames with the stem's 2 frames of context (or zeros)
        on each side -> ``[B, n, 512]``."""
        conv, bn, prelu, pool = self.frontend3D
        assert isinstance(conv, nn.Conv3d) and isinstance(bn, nn.BatchNorm3d) and isinstance(pool, nn.MaxPool3d)
        # The stem's Conv3d has one input channel, so it equals a Conv2d whose 5 input channels
        # are the frames t-2..t+2: time folds into the batch *before* the convolution, which then
        # writes channels-last [B*n, 64, 44, 44] directly (~1.5x faster than Conv3d plus the copy
        # that folds time after it; the same products, summed in another order). BatchNorm (eval),
        # PReLU and the (1,3,3) max-pool act on each frame alone, so the 2-D ops give the 3-D
        # ones' numbers; PReLU with non-negative slopes (checked) is non-decreasing, so it commutes
        # with the max-pool and runs on the pooled quarter of the values (the same numbers).
        folded = self._derived
        b, n4, height, width = padded.shape
        n = n4 - 2 * _STEM_HALO
        taps = padded.unfold(1, 2 * _STEM_HALO + 1, 1).reshape(b * n, height, width, -1)
        weight = _stem_weight_2d(conv.weight) if folded is None else folded[0]
        padding = conv.padding
        assert isinstance(padding, tuple)
        y = F.conv2d(taps.permute(0, 3, 1, 2), weight, None if folded is None else folded[1],
                     _pair_tail(conv.stride), _pair_tail(padding))  # [B*n, 64, 44, 44]
        if folded is None:
            y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        pool_args = _pair_tail(pool.kernel_size), _pair_tail(pool.stride), _pair_tail(pool.padding)
        if folded is not None and folded[2]:
            y = prelu(F.max_pool2d(y, *pool_args))
        else:
            y = F.max_pool2d(prelu(y), *pool_args)  # [B*n, 64, 22, 22], channels-last
        return self.trunk(y).view(b, n, -1)

    def forward(self, x: torch.Tensor, on_chunk: Callable[[int, int], None] | None = None,
                context: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """``[B, 1, T, 88, 88]`` -> ``[B, T - lead - trail, 512]`` with ``context = (lead, trail)``.

        The first ``lead`` and last ``trail`` frames (at most 2 each) are context only: frames of
        a longer clip around a piece of it, seen by the stem's 5-frame kernel but given no output,
        so a clip cut into pieces with their context gives the numbers of the whole clip. Beyond
        the context the stem sees zeros (its time padding). The frames go through the network in
        chunks of ``RESNET_CHUNK_FRAMES``; ``on_chunk(frames_done, frames_total)`` follows each.
        """
        if self.frontend3D[1].training:
            raise RuntimeError("the AV-HuBERT encoder runs in eval mode only")
        conv = self.frontend3D[0]
        assert isinstance(conv, nn.Conv3d)
        if (conv.in_channels != 1 or conv.kernel_size[0] != 2 * _STEM_HALO + 1
                or conv.stride[0] != 1 or conv.padding != (_STEM_HALO, 3, 3)):
            raise ValueError("the video stem must be a one-channel Conv3d, 5 frames of kernel, "
                             "stride 1 and padding 2 in time")
        lead, trail = context
        if not (0 <= lead <= _STEM_HALO and 0 <= trail <= _STEM_HALO):
            raise ValueError(f"context {context}: at most {_STEM_HALO} frames on each side")
        total = x.shape[2] - lead - trail
        padded = F.pad(x[:, 0], (0, 0, 0, 0, _STEM_HALO - lead, _STEM_HALO - trail))
        outs = []
        for start in range(0, total, RESNET_CHUNK_FRAMES):
            stop = min(total, start + RESNET_CHUNK_FRAMES)
            outs.append(self._run(padded[:, start:stop + 2 * _STEM_HALO]))
            if on_chunk is not None:
                on_chunk(stop, total)
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


def _stem_weight_2d(weight: torch.Tensor) -> torch.Tensor:
    """The stem's Conv3d weight [64, 1, 5, 7, 7] as a channels-last Conv2d weight [64, 5, 7, 7]
    (the 5 frames of its time kernel become input channels)."""
    return weight[:, 0].contiguous(memory_format=torch.channels_last)


def _pair_tail(value: int | tuple[int, ...]) -> tuple[int, int]:
    """The (H, W) part of a 3-D pooling parameter."""
    if isinstance(value, int):
        return value, value
    return value[-2], value[-1]


class VideoFrontEnd(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.resnet = VideoResNet()
        self.proj = Linear(512, dim)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.proj(self.resnet(video))


class AudioFrontEnd(nn.Module):
    def __init__(self, feat_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = Linear(feat_dim, dim)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.proj(audio)


class SelfAttention(_Derived):
    """Multi-head self-attention with separate q/k/v/out projections (fairseq names)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = Linear(dim, dim)
        self.k_proj = Linear(dim, dim)
        self.v_proj = Linear(dim, dim)
        self.out_proj = Linear(dim, dim)

    def derive(self) -> None:
        """Concatenate q/k/v into one matrix (one GEMM instead of three); call after loading.

        The q/k/v parameters become views into the fused tensors, so no memory is duplicated.
        """
        projs = (self.q_proj, self.k_proj, self.v_proj)
        w = torch.cat([p.weight.detach() for p in projs])
        b = torch.cat([p.bias.detach() for p in projs])
        d = self.q_proj.out_features
        for i, proj in enumerate(projs):
            proj.weight = nn.Parameter(w[i * d:(i + 1) * d], requires_grad=False)
            proj.bias = nn.Parameter(b[i * d:(i + 1) * d], requires_grad=False)
        self._derived = (w, b)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                residual: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of ``x``; with ``residual``, ``residual + attention`` (added in the output GEMM)."""
        b, t, d = x.shape
        if self._derived is not None:
            qkv = cpu_linear.linear(x, *self._derived).view(b, t, 3, self.heads, d // self.heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            shape = (b, t, self.heads, d // self.heads)
            q = self.q_proj(x).view(shape).transpose(1, 2)
            k = self.k_proj(x).view(shape).transpose(1, 2)
            v = self.v_proj(x).view(shape).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.out_proj
        return cpu_linear.linear(y.transpose(1, 2).reshape(b, t, d), out.weight, out.bias, residual=residual)


def gelu_fp32(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU computed in float32, cast back to the input dtype (as fairseq does)."""
    return F.gelu(x.float()).type_as(x)


class EncoderLayer(nn.Module):
    """Pre-LN transformer layer: x + Attn(LN(x)), then x + FC2(GELU(FC1(LN(x))))."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=1e-5)
        self.fc1 = Linear(dim, ffn_dim)
        self.fc2 = Linear(ffn_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.self_attn(self.self_attn_layer_norm(x), attn_mask, residual=x)
        h = cpu_linear.linear(self.final_layer_norm(x), self.fc1.weight, self.fc1.bias, gelu=True)
        return cpu_linear.linear(h, self.fc2.weight, self.fc2.bias, residual=x)


class TransformerEncoder(nn.Module):
    """Convolutional relative position embedding + pre-LN layers + final LayerNorm."""

    def __init__(self, config: AVHubertConfig) -> None:
        super().__init__()
        d, k = config.embed_dim, config.conv_pos
        self.pos_conv = nn.Sequential(nn.Conv1d(d, d, k, padding=k // 2, groups=config.conv_pos_groups))
        self._drop_last = k % 2 == 0  # SamePad: an even kernel yields T+1 frames
        self.layers = nn.ModuleList(
            EncoderLayer(d, config.heads, config.ffn_dim) for _ in range(config.layers)
        )
        self.layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None,
                output_layer: int | None = None,
                on_layer: Callable[[int], None] | None = None) -> torch.Tensor:
        """``x [B,T,D]``; ``padding_mask [B,T]`` True on padded frames; ``output_layer`` 1-based.

        ``on_layer(k)`` is called after layer k (progress reports and cancellation points).
        With ``output_layer=k`` the k-th layer's output is returned without the final LayerNorm
        (as fairseq does); with None, the last layer's output after ``layer_norm``.
        """
        attn_mask = None
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
            attn_mask = (~padding_mask)[:, None, None, :]
        pos = self.pos_conv(x.transpose(1, 2))
        if self._drop_last:
            pos = pos[..., :-1]
        x = x + gelu_fp32(pos).transpose(1, 2)
        for index, layer in enumerate(self.layers, start=1):
            x = layer(x, attn_mask)
            if on_layer is not None:
                on_layer(index)
            if output_layer == index:
                return x
        return self.layer_norm(x)


class AVHubertEncoder(nn.Module):
    """Front ends + concat fusion [audio, video] + LayerNorm(2D) + post_extract_proj + encoder."""

    def __init__(self, config: AVHubertConfig) -> None:
        super().__init__()
        self.config = config
        d = config.embed_dim
        self.feature_extractor_audio = AudioFrontEnd(config.audio_feat_dim, d)
        self.feature_extractor_video = VideoFrontEnd(d)
        self.layer_norm = nn.LayerNorm(2 * d, eps=1e-5)
        self.post_extract_proj = Linear(2 * d, d)
        self.encoder = TransformerEncoder(config)

    def prepare_for_inference(self) -> None:
        """Fuse q/k/v and fold the video front end's BatchNorms (call once after loading, in
        eval mode; the parameters and the state dict are unchanged)."""
        self.eval()
        for module in self.modules():
            if isinstance(module, (SelfAttention, VideoResNet)):
                module.derive()

    def _fuse(self, fa: torch.Tensor | None, fv: torch.Tensor | None) -> torch.Tensor:
        """Concatenate [audio, video] (zeros *after* projection for a missing one), LN, project."""
        if fa is None and fv is None:
            raise ValueError("at least one of audio and video is needed")
        if fa is None:
            fa = torch.zeros_like(fv)  # type: ignore[arg-type]
        if fv is None:
            fv = torch.zeros_like(fa)
        if fa.shape != fv.shape:
            raise ValueError(f"audio {tuple(fa.shape)} and video {tuple(fv.shape)} differ in length")
        return self.post_extract_proj(self.layer_norm(torch.cat([fa, fv], dim=-1)))

    def extract_features(self, audio: torch.Tensor | None = None, video: torch.Tensor | None = None,
                         padding_mask: torch.Tensor | None = None,
                         output_layer: int | None = None) -> torch.Tensor:
        """Equivalent of AV-HuBERT ``extract_finetune``: audio-only, video-only or both.

        ``audio [B,T,104]``, ``video [B,1,T,88,88]``, ``padding_mask [B,T]`` (True = padding).
        The missing modality's front end is not run at all. Returns ``[B,T,D]``.
        """
        fa = self.feature_extractor_audio(audio) if audio is not None else None
        fv = self.feature_extractor_video(video) if video is not None else None
        return self.encoder(self._fuse(fa, fv), padding_mask, output_layer)

    def extract_two_passes(self, audio: torch.Tensor, video: torch.Tensor,
                           output_layer: int | None = None, batched: bool = True
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio-only and video-only features of B clips of equal length T:
        ``audio [B,T,104]``, ``video [B,1,T,88,88]``.

        Returns ``(audio_only [B,T,D], video_only [B,T,D])``. With ``batched`` both passes go
        through the encoder as one batch of 2B rows (same T, so no padding).
        """
        fa = self.feature_extractor_audio(audio)
        fv = self.feature_extractor_video(video)
        if not batched:
            xa = self.encoder(self._fuse(fa, None), None, output_layer)
            xv = self.encoder(self._fuse(None, fv), None, output_layer)
            return xa, xv
        zeros = torch.zeros_like(fa)
        x = torch.cat([torch.cat([fa, zeros], -1), torch.cat([zeros, fv], -1)], dim=0)
        y = self.encoder(self.post_extract_proj(self.layer_norm(x)), None, output_layer)
        b = fa.shape[0]
        return y[:b], y[b:]
