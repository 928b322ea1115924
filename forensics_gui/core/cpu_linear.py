"""Linear layers through oneDNN on the CPU: the same fp32 arithmetic, a faster kernel.

PyTorch's CPU ``F.linear`` calls MKL's SGEMM, whose fastest code paths are tuned for Intel
processors; on the AMD processor this project is built on it reaches less than half of the fp32
throughput that oneDNN (bundled with PyTorch as ``torch.ops.mkldnn``, kernels chosen by the CPU's
instruction set) reaches with the same inputs. Measured on the 2-core AMD EPYC (Zen 4) this project is built on, a 500x1024 by
1024x4096 product: MKL 144-166 GFLOP/s, oneDNN 336-386 GFLOP/s, both fp32 (``benchmarks/bench_encoder.py``
prints the effect on the whole encoder). The results agree to rounding (summation order only:
~1e-7 relative), so the exact-fp32 features stay within the parity tolerance.

:func:`linear` is for inference (no autograd). It falls back to ``F.linear`` when oneDNN is
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


def uses_onednn(x: Any) -> bool:
    """Whether :func:`linear` sends this input to oneDNN (CPU, fp32 or bf16, no autograd)."""
    import torch

    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16)
            and not (torch.is_grad_enabled() and x.requires_grad) and x.dim() >= 2
            and onednn_linear_available())


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weight.T + bias`` for inference, through oneDNN where :func:`uses_onednn` says so."""
    import torch
    import torch.nn.functional as F

    if (uses_onednn(x) and weight.dtype == x.dtype and weight.dim() == 2
            and (bias is None or bias.dtype == x.dtype)):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


def kernel_name(device: Any = None) -> str:
    """"oneDNN" or "PyTorch default" for the CPU linear layers (for benchmark and result records)."""
    if device is not None and getattr(device, "type", str(device)) != "cpu":
        return "PyTorch default"
    return "oneDNN" if onednn_linear_available() else "PyTorch default"
