"""Choosing the compute device and the numerics settings that keep features reproducible."""

from __future__ import annotations

import sys
from typing import Any

from forensics_gui.core.cpu_linear import cpu_supports_bf16
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


PRECISION_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
DEFAULT_PRECISION = "float32"
PRECISION_SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
NO_CPU_BF16 = ("This CPU lacks bfloat16 support (no AVX-512 BF16, AMX or Arm BF16 instructions), "
               "so bfloat16 would be slower, not faster; use float32 (exact).")
FP16_GPU_ONLY = "Precision float16 is only supported on a GPU; use float32 (exact) on the CPU."
PRECISION_HELP = (
    "encoder precision: float32 (fp32, the default) is exact and matches the official features; "
    "bfloat16 (bf16) is faster on CPUs with bf16 support and on GPUs, scores may differ slightly; "
    "float16 (fp16) is for GPUs only")


def precision_name(name: str | None) -> str:
    """The canonical precision name ("float32", "bfloat16", "float16") of ``name`` (the short
    names fp32/bf16/fp16 are accepted too; None or "" = float32); ForensicsError otherwise."""
    key = (name or DEFAULT_PRECISION).strip().lower()
    key = PRECISION_ALIASES.get(key, key)
    if key not in DTYPES:
        raise ForensicsError(f"Unknown precision {name!r}; use one of {', '.join(DTYPES)} "
                             "(or fp32, bf16, fp16).")
    return key


def precision_problem(name: str, device: Any) -> str | None:
    """None when precision ``name`` runs on ``device`` (a torch.device or a device name such as
    "auto"), else the one sentence saying why not and what to use instead."""
    canonical = precision_name(name)
    if canonical == "float32":
        return None
    if isinstance(device, str):
        device = resolve_device(device)
    if device.type == "cuda":
        if canonical == "bfloat16":
            import torch

            try:
                ok = bool(torch.cuda.is_bf16_supported())
            except (AssertionError, RuntimeError):
                ok = False
            if not ok:
                return ("Precision bfloat16 is not supported by this GPU; use float16 or float32 "
                        "(exact).")
        return None
    if canonical == "float16":
        return FP16_GPU_ONLY
    if device.type == "cpu":
        if cpu_supports_bf16():
            return None
        return NO_CPU_BF16
    return f"Precision {canonical} is not supported on {device.type}; use float32 (exact)."


def resolve_dtype(name: str, device: Any) -> Any:
    """The torch dtype of precision ``name`` on ``device``: ``"float32"`` (default; exact, matches
    the official features) anywhere; ``"bfloat16"`` on a GPU and on a CPU with bf16 support;
    ``"float16"`` on a GPU only. Short names fp32/bf16/fp16 are accepted. Raises
    :class:`ForensicsError` (one sentence) for an unknown name or one this device lacks."""
    import torch

    canonical = precision_name(name)
    problem = precision_problem(canonical, device)
    if problem is not None:
        raise ForensicsError(problem)
    return getattr(torch, canonical)


def available_precisions(device: str = "auto", *, import_torch: bool = True) -> dict[str, str | None]:
    """Every precision (in :data:`DTYPES` order) -> None when this machine offers it on
    ``device``, else the sentence saying why not (for the viewer's menu).

    ``import_torch`` False (the viewer's GUI thread, where importing PyTorch would freeze the
    window): when PyTorch is not imported yet, an estimate from the CPU's flags and the NVIDIA
    driver's files instead (the analysis itself still checks with PyTorch, in one sentence).
    """
    if not import_torch and "torch" not in sys.modules:
        return _estimated_precisions()
    try:
        resolved = resolve_device(device)
    except ForensicsError as err:
        return {name: (None if name == "float32" else str(err)) for name in DTYPES}
    return {name: precision_problem(name, resolved) for name in DTYPES}


def _estimated_precisions() -> dict[str, str | None]:
    """:func:`available_precisions` for device "auto" without importing PyTorch."""
    gpu = _nvidia_gpu_likely()
    cpu_bf16 = _cpu_flags_bf16()
    return {
        "float32": None,
        "bfloat16": None if gpu or cpu_bf16 is not False else NO_CPU_BF16,
        "float16": None if gpu else FP16_GPU_ONLY,
    }


def _cpu_flags_bf16() -> bool | None:
    """Whether the CPU's flags (Linux /proc/cpuinfo) name bfloat16 instructions; None when the
    flags cannot be read (another system)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    except OSError:
        return None
    return None


def _nvidia_gpu_likely() -> bool:
    """A CUDA build of PyTorch is installed and an NVIDIA driver is present (without importing
    PyTorch: its CUDA library file and the driver's device node or tool)."""
    import importlib.util
    import os
    import shutil

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    lib_dir = os.path.join(os.path.dirname(spec.origin or ""), "lib") if spec else ""
    try:
        cuda_build = any(name.startswith(("libtorch_cuda", "torch_cuda"))
                         for name in os.listdir(lib_dir))
    except OSError:
        return False
    return cuda_build and (os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi") is not None)


def recorded_precision(models: Any) -> str:
    """The encoder precision a result records: the ``precision`` of the "features" entry of its
    ``models`` list (RESULT.json's, or ``ClipAnalysis.models``); "float32" when none is recorded
    (results from before the choice existed were all float32)."""
    for m in models if isinstance(models, list) else []:
        if isinstance(m, dict) and m.get("role") == "features" and m.get("precision"):
            return str(m["precision"])
    return DEFAULT_PRECISION


def set_parity_numerics() -> None:
    """Disable TF32 for matmuls and cuDNN convolutions so fp32 means fp32 on Ampere+ GPUs.

    (cuDNN's TF32 is on by default and would change the Conv3d/Conv2d/pos_conv results.)
    """
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
