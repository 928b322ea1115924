"""Linear layers through oneDNN on the CPU: the same fp32 arithmetic, a faster kernel.

PyTorch's CPU ``F.linear`` calls MKL's SGEMM, whose fastest code paths are tuned for Intel
processors; on the AMD processor this project is built on it reaches less than half of the fp32
throughput that oneDNN (bundled with PyTorch as ``torch.ops.mkldnn``, kernels chosen by the CPU's
instruction set) reaches with the same inputs: for a 500x1024 by 1024x4096 product on the 2-core
AMD EPYC (Zen 4) here, MKL 144-166 GFLOP/s, oneDNN 336-386 GFLOP/s, both fp32
(``benchmarks/bench_encoder.py`` prints the effect on the whole encoder). The results agree to
rounding (summation order only: ~1e-7 relative), so the exact-fp32 features stay within the
parity tolerance.

:func:`linear` is for inference (no autograd). It can add a residual in the same kernel (exact:
the sum is the same fp32 or bf16 addition) and, for bf16 only, apply the erf GELU to the fp32
accumulator before rounding (what fairseq's fp32 GELU does, minus one rounding to bf16; in fp32
oneDNN's GELU differs from PyTorch's by a few units in the last place, so fp32 keeps PyTorch's). It falls back to ``F.linear`` when oneDNN is
missing (e.g. an ARM build), for other dtypes or devices, and when ``FORENSICS_GUI_ONEDNN=0`` is
set in the environment (to compare against the stock kernel).
"""

from __future__ import annotations

import functools
import os
from typing import Any

#: Set to "0" to route every linear layer through PyTorch's stock kernel instead.
ENV_SWITCH = "FORENSICS_GUI_ONEDNN"


@functools.cache
def onednn_linear_available() -> bool:
    """True when this PyTorch build runs ``mkldnn::_linear_pointwise`` and it agrees with F.linear."""
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    try:
        import torch
        import torch.nn.functional as F

        if not torch.backends.mkldnn.is_available():
            return False
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(3, 5, 16, generator=gen)
        w = torch.randn(8, 16, generator=gen)
        b = torch.randn(8, generator=gen)
        with torch.inference_mode():
            got = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
            want = F.linear(x, w, b)
        return bool(got.shape == want.shape and torch.allclose(got, want, rtol=1e-5, atol=1e-5))
    except Exception:  # noqa: BLE001 - any failure means: use the stock kernel
        return False


@functools.cache
def onednn_bf16_available() -> bool:
    """True when oneDNN has bf16 kernels on this CPU (AVX-512 BF16 or AMX); without them its bf16
    inner product refuses to run (e.g. on AVX2-only processors) and bf16 stays with PyTorch."""
    if not onednn_linear_available():
        return False
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - any failure means: not available
        return False


def uses_onednn(x: Any) -> bool:
    """Whether :func:`linear` sends this input to oneDNN (CPU, fp32, or bf16 where the CPU has
    bf16 kernels; no autograd)."""
    import torch

    if x.device.type != "cpu" or x.dim() < 2 or (torch.is_grad_enabled() and x.requires_grad):
        return False
    if x.dtype == torch.float32:
        return onednn_linear_available()
    return x.dtype == torch.bfloat16 and onednn_bf16_available()


def linear(x: Any, weight: Any, bias: Any = None, *, residual: Any = None, gelu: bool = False) -> Any:
    """``x @ weight.T + bias`` (then ``+ residual``, or the erf GELU of it) for inference, through
    oneDNN where :func:`uses_onednn` says so. ``gelu`` and ``residual`` do not go together."""
    import torch
    import torch.nn.functional as F

    if gelu and residual is not None:
        raise ValueError("linear(): gelu and residual cannot be combined")
    if (uses_onednn(x) and weight.dtype == x.dtype and weight.dim() == 2
            and (bias is None or bias.dtype == x.dtype)):
        ops = torch.ops.mkldnn
        if residual is not None and residual.shape[:-1] == x.shape[:-1] and residual.dtype == x.dtype:
            return ops._linear_pointwise.binary(x, residual.contiguous(), weight, bias, "add")
        if gelu and x.dtype == torch.bfloat16:
            return ops._linear_pointwise(x, weight, bias, "gelu", [], "none")
        y = ops._linear_pointwise(x, weight, bias, "none", [], "")
    else:
        y = F.linear(x, weight, bias)
    if residual is not None:
        return residual + y
    if gelu:
        return F.gelu(y.float()).type_as(y)
    return y


def kernel_name(device: Any = None) -> str:
    """"oneDNN" or "PyTorch default" for the CPU linear layers (for benchmark and result records)."""
    if device is not None and getattr(device, "type", str(device)) != "cpu":
        return "PyTorch default"
    return "oneDNN" if onednn_linear_available() else "PyTorch default"
