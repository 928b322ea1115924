"""CPU kernels for training Phi fast: oneDNN linear layers with autograd, and a cache-blocked tail.

Why (measured on the 2-core AMD EPYC Zen 4 this project is built on, see
``benchmarks/bench_training.py``):

- PyTorch's stock fp32 ``F.linear``/``mm`` on the CPU is MKL's SGEMM, which takes a generic AVX2
  path on AMD processors (~70-170 GFLOP/s); oneDNN (``torch.ops.mkldnn._linear_pointwise``) runs
  the same fp32 product at ~340-390 GFLOP/s, results equal to rounding (summation order only).
  That op has no autograd, so :class:`OneDnnLinear` supplies one: forward and grad_input through
  oneDNN; grad_weight ``g^T x`` through oneDNN with ``g^T`` copied and ``x^T`` passed as a strided
  view (oneDNN reorders its weight operand anyway), which measured faster than MKL's
  ``g.t() @ x`` and than copying both operands.
- The MLP tail after ``mlp.0`` runs on 31 (visual, audio) pairs per frame: a [pairs, 512] tensor of
  ~65 MB per batch of 1024 frames. At that size every LayerNorm, ReLU and their backward passes,
  and even oneDNN's GEMM (~160 GFLOP/s instead of ~380), are bound by memory. :class:`BlockedTail`
  runs the tail on blocks of ~4000 pairs that stay in the caches: the forward pass keeps only the
  logits; the backward pass recomputes one block's forward with autograd and differentiates it at
  once (activation checkpointing per block, ~1/3 more tail arithmetic, far less memory traffic).

Precision (``compute_dtype``): ``torch.float32`` is the exact path (the published arithmetic up to
summation order). ``torch.bfloat16`` runs the matrix products in bf16 (oneDNN, fp32 accumulation)
from bf16 copies of fp32 master weights; LayerNorm statistics, the bias gradients and the
log-softmax stay fp32 and gradients reach the fp32 parameters (the recipe of CPU autocast, done by
hand so that every product goes through the fast kernel). Other dtypes (float64 in tests) and other
devices use the stock kernels with the same blocking.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from forensics_gui.core.cpu_linear import onednn_for

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
#: Pairs (frame, offset) per block of the tail: [8192, 512] fp32 is 16 MB, inside the 32 MB L3.
BLOCK_PAIRS = 8192


def _product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` without autograd: oneDNN where it applies, else F.linear."""
    if onednn_for(x.dtype, x.device) and weight.dtype == x.dtype and (bias is None or bias.dtype == x.dtype):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


class OneDnnLinear(torch.autograd.Function):
    """``F.linear(x, weight, bias)`` computed in ``compute_dtype`` through oneDNN, with backward.

    Gradients come back in the dtypes of ``x``, ``weight`` and ``bias`` (fp32 master weights get
    fp32 gradients in bf16 mode; the bias gradient is summed in fp32).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                compute_dtype: torch.dtype) -> torch.Tensor:
        xc = x.to(compute_dtype).contiguous()
        wc = weight.to(compute_dtype).contiguous()
        bc = None if bias is None else bias.to(compute_dtype)
        ctx.save_for_backward(xc, wc)
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        return _product(xc, wc, bc)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        xc, wc = ctx.saved_tensors
        x_dtype, w_dtype, b_dtype = ctx.dtypes
        g = grad.to(xc.dtype).contiguous()
        g2 = g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _product(g, wc.t().contiguous()).to(x_dtype)
        if ctx.needs_input_grad[1]:
            gw = _product(g2.t().contiguous(), xc.reshape(-1, xc.shape[-1]).t()).to(w_dtype)
        if ctx.needs_input_grad[2]:
            gb = g2.sum(0, dtype=torch.float32 if g2.element_size() < 4 else g2.dtype).to(b_dtype)
        return gx, gw, gb, None


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           compute_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Differentiable ``F.linear`` through oneDNN (CPU fp32/bf16); the stock op elsewhere."""
    dtype = x.dtype if compute_dtype is None else compute_dtype
    if onednn_for(dtype, x.device):
        return OneDnnLinear.apply(x, weight, bias, dtype)
    if dtype != x.dtype:
        return F.linear(x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype))
    return F.linear(x, weight, bias)


def fused_halves(module: Any, visual: torch.Tensor, audio: torch.Tensor,
                 compute_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``FusionModel.halves`` through :func:`linear`: V = W0v·visual_proj(v) + b0, A = W0a·audio_proj(a).

    The folded weights ``W0v·Wv`` / ``W0a·Wa`` are formed in the parameters' dtype (fp32), then
    each row costs one D->H product in ``compute_dtype``.
    """
    first = module.mlp[0]
    p = module.visual_proj.out_features
    w0v, w0a = first.weight[:, :p], first.weight[:, p:]
    mv = linear(w0v, module.visual_proj.weight.t())  # [H, Dv]
    ma = linear(w0a, module.audio_proj.weight.t())  # [H, Da]
    bv = w0v @ module.visual_proj.bias + first.bias
    ba = w0a @ module.audio_proj.bias
    return linear(visual, mv, bv, compute_dtype), linear(audio, ma, ba, compute_dtype)


def tail_params(module: Any) -> list[torch.Tensor]:
    """The tail's parameters in the order :class:`BlockedTail` takes them (mlp.1 .. mlp.9)."""
    mlp = module.mlp
    return [mlp[1].weight, mlp[1].bias, mlp[3].weight, mlp[3].bias, mlp[4].weight, mlp[4].bias,
            mlp[6].weight, mlp[6].bias, mlp[7].weight, mlp[7].bias, mlp[9].weight, mlp[9].bias]


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.element_size() < 4 else x


def _pairs(v: torch.Tensor, a: torch.Tensor, radius: int) -> torch.Tensor:
    """[n, C, H] + [n, C + 2r, H] -> pre-LN activations of every pair [n, C, 2r+1, H]."""
    return v[:, :, None, :] + a.unfold(1, 2 * radius + 1, 1).transpose(-1, -2)


def tail_forward(h: torch.Tensor, params: list[torch.Tensor], eps: float,
                 compute_dtype: torch.dtype | None) -> torch.Tensor:
    """LN-ReLU-Linear x3 after mlp.0 (the published order) on [..., H0] -> logits [...]."""
    ln1w, ln1b, w3, b3, ln4w, ln4b, w6, b6, ln7w, ln7b, w9, b9 = params
    x = F.layer_norm(h, (h.shape[-1],), ln1w, ln1b, eps).relu_()
    x = linear(x, w3, b3, compute_dtype)
    x = F.layer_norm(x, (x.shape[-1],), ln4w, ln4b, eps).relu_()
    x = linear(x, w6, b6, compute_dtype)
    x = F.layer_norm(x, (x.shape[-1],), ln7w, ln7b, eps).relu_()
    return linear(x, w9, b9, compute_dtype)[..., 0]


class BlockedPairLoss(torch.autograd.Function):
    """Mean ``-log softmax(logits)[offset 0]`` over the valid frames, with the tail run in blocks.

    Inputs: V [n, C, H], A [n, C + 2r, H] (``fused_halves``), frame mask [n, C], the tail's
    parameters. Each frame's loss depends only on its own 2r+1 logits, so the gradient of a block
    is known as soon as its forward pass is done: with ``want_grad`` the forward pass
    differentiates each block at once, while its activations are still in cache, and keeps only
    the gradients (nothing is recomputed, no [n, C, 2r+1, H] tensor is ever stored); backward
    scales them by the incoming gradient.
    """

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, a: torch.Tensor, mask: torch.Tensor, radius: int,
                block: int, eps: float, compute_dtype: torch.dtype | None, want_grad: bool,
                *params: torch.Tensor) -> torch.Tensor:
        out_dtype = torch.promote_types(v.dtype, torch.float32)
        weights = mask.to(out_dtype)
        count = weights.sum().clamp_min(1.0)
        total = torch.zeros((), dtype=out_dtype)
        grads: list[torch.Tensor] = []
        if want_grad:
            # fp32 accumulators: each audio row gathers 2r+1 pair gradients, each weight one per block.
            grads = [torch.zeros_like(v), torch.zeros_like(a, dtype=torch.promote_types(a.dtype, torch.float32)),
                     *(torch.zeros_like(p) for p in params)]
        # Weight matrices cast once per batch, not per block (LayerNorm affine stays fp32); each
        # block's gradients (in the compute dtype) are summed into the fp32 accumulators.
        cast = [p.detach().to(compute_dtype) if compute_dtype is not None and p.dim() == 2
                else p.detach() for p in params]
        for s in range(0, v.shape[0], block):
            with torch.enable_grad() if want_grad else torch.no_grad():
                # The pairs are the leaf: the unfold's adjoint (a slow generic kernel) is
                # replaced by 2r+1 shifted slice additions below.
                with torch.no_grad():
                    hb = _pairs(v[s:s + block], a[s:s + block], radius)
                pb = [c.detach() for c in cast]
                if want_grad:
                    for t in (hb, *pb):
                        t.requires_grad_()
                logits = _at_least_fp32(tail_forward(hb, pb, eps, compute_dtype))
                logp = torch.log_softmax(logits.to(out_dtype), dim=-1)[..., radius]
                nll = -(logp * weights[s:s + block]).sum() / count
                if want_grad:
                    got = torch.autograd.grad(nll, [hb, *pb])
                    gh = got[0]  # [nb, C, 2r+1, H]
                    torch.sum(gh, dim=2, out=grads[0][s:s + block])
                    gab = grads[1][s:s + block]
                    for o in range(2 * radius + 1):
                        gab[:, o:o + gh.shape[1]] += gh[:, :, o]
                    for acc, g in zip(grads[2:], got[1:], strict=True):
                        acc += g
            total += nll.detach()
        ctx.save_for_backward(*grads)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        if not ctx.saved_tensors:
            raise RuntimeError("BlockedPairLoss was computed without gradients (want_grad=False).")
        gv, ga, *gp = (g * grad.to(g.dtype) for g in ctx.saved_tensors)
        return (gv, ga, None, None, None, None, None, None, *gp)


def pair_loss(module: Any, v: torch.Tensor, a: torch.Tensor, mask: torch.Tensor, radius: int,
              compute_dtype: torch.dtype | None = None, block_pairs: int = BLOCK_PAIRS) -> torch.Tensor:
    """Mean -log p(offset 0) over the frames where ``mask`` is set, from V and A (see
    :class:`BlockedPairLoss`); blocks of whole chunks of about ``block_pairs`` pairs."""
    params = tail_params(module)
    per_chunk = max(1, v.shape[1] * (2 * radius + 1))
    block = max(1, block_pairs // per_chunk)
    want = torch.is_grad_enabled() and any(t.requires_grad for t in (v, a, *params))
    return BlockedPairLoss.apply(v, a, mask, radius, block, float(module.mlp[1].eps),
                                 compute_dtype, want, *params)
