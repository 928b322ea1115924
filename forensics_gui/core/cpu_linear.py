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

Which kernel is faster depends on the processor, so fp32 goes to oneDNN only on CPUs with
AVX-512, where it was measured at about twice MKL (above). On an AVX2-only AMD EPYC (2 cores) the
two were level (116-146 against 125-130 GFLOP/s on the encoder's shapes; the whole encoder 57
against 53 frames/s, Phi training 6.4x against 6.1x the official step, all with MKL ahead), so
fp32 stays with PyTorch there; ``FORENSICS_GUI_ONEDNN=1`` sends it to oneDNN anyway. bf16 goes to
oneDNN only where the CPU has bf16 kernels (AVX-512 BF16 or AMX): elsewhere oneDNN refuses it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

#: "0": every linear layer through PyTorch's stock kernel; "1": fp32 through oneDNN on any CPU
#: where it runs; unset or "auto": fp32 through oneDNN on AVX-512 CPUs only.
ENV_SWITCH = "FORENSICS_GUI_ONEDNN"


def _switch() -> str:
    return os.environ.get(ENV_SWITCH, "auto").strip().lower() or "auto"


@functools.cache
def onednn_linear_available() -> bool:
    """True when this PyTorch build runs ``mkldnn::_linear_pointwise`` and it agrees with F.linear."""
    if _switch() == "0":
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


def cpu_supports_bf16() -> bool:
    """True when this CPU runs bfloat16 natively through oneDNN (AVX-512 BF16, AMX, or Arm BF16)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


@functools.cache
def onednn_bf16_available() -> bool:
    """True when oneDNN has bf16 kernels on this CPU (AVX-512 BF16 or AMX); without them its bf16
    inner product refuses to run (e.g. on AVX2-only processors) and bf16 stays with PyTorch."""
    return onednn_linear_available() and cpu_supports_bf16()


@functools.cache
def onednn_fp32_preferred() -> bool:
    """True when fp32 linear layers go to oneDNN: it runs here, and the CPU has AVX-512 (or
    ``FORENSICS_GUI_ONEDNN=1``). See the module's notes for the measurements behind the rule."""
    if not onednn_linear_available():
        return False
    if _switch() == "1":
        return True
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability()).upper().startswith("AVX512")
    except Exception:  # noqa: BLE001 - unknown CPU: keep the stock kernel
        return False


def onednn_for(dtype: Any, device: Any = "cpu") -> bool:
    """Whether linear layers of this dtype on this device go to oneDNN (inference and training)."""
    import torch

    if getattr(device, "type", str(device)) != "cpu":
        return False
    if dtype == torch.float32:
        return onednn_fp32_preferred()
    return dtype == torch.bfloat16 and onednn_bf16_available()


def uses_onednn(x: Any) -> bool:
    """Whether :func:`linear` sends this input to oneDNN (see :func:`onednn_for`; no autograd)."""
    import torch

    if x.dim() < 2 or (torch.is_grad_enabled() and x.requires_grad):
        return False
    return onednn_for(x.dtype, x.device)


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


def kernel_name(device: Any = None, dtype: Any = None) -> str:
    """"oneDNN" or "PyTorch default": the kernel of the linear layers for this device and dtype
    (fp32 when not given), for benchmark and result records."""
    import torch

    return "oneDNN" if onednn_for(torch.float32 if dtype is None else dtype,
                                   "cpu" if device is None else device) else "PyTorch default"
