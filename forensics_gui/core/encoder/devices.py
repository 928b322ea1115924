"""Choosing the compute device and the numerics settings that keep features reproducible."""

from __future__ import annotations

from typing import Any

from forensics_gui.core.errors import ForensicsError

DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(name: str = "auto") -> Any:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` -> torch.device.

    Raises :class:`ForensicsError` when CUDA is asked for but this PyTorch build or machine has none.
    """
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            build = "a CPU-only PyTorch build" if torch.version.cuda is None else "no visible NVIDIA GPU"
            raise ForensicsError(
                f"--device {name} was asked for, but this machine has {build}; use --device cpu "
                "or install a CUDA build of PyTorch."
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ForensicsError(
                f"--device {name} does not exist; this machine has {torch.cuda.device_count()} GPU(s)."
            )
        return device
    raise ForensicsError(f"Unknown device {name!r}; use auto, cpu or cuda.")


def resolve_dtype(name: str, device: Any) -> Any:
    """``"float32"`` (default, parity), or ``"bfloat16"``/``"float16"`` (GPU only, faster, not exact)."""
    import torch

    name = (name or "float32").strip().lower()
    if name not in DTYPES:
        raise ForensicsError(f"Unknown precision {name!r}; use one of {', '.join(DTYPES)}.")
    if name != "float32" and device.type != "cuda":
        raise ForensicsError(f"Precision {name} is only supported on a GPU; use float32 on the CPU.")
    return getattr(torch, name)


def set_parity_numerics() -> None:
    """Disable TF32 for matmuls and cuDNN convolutions so fp32 means fp32 on Ampere+ GPUs.

    (cuDNN's TF32 is on by default and would change the Conv3d/Conv2d/pos_conv results.)
    """
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
