"""Checking a training run's resume state (``<out>.resume.pt``) before any of it is used.

The state is written by :func:`forensics_gui.core.alignment.training.train_phi` after every epoch: model,
Adam and ReduceLROnPlateau states, the torch RNG, the loss history and the early-stopping
counters, plus what identifies the run (feature store, seed, fixed hyper-parameters). A file
that was damaged, edited, written by another program or another architecture must not half-load
(a tensor of the wrong shape into Adam, NaN into the history) or allocate what it claims: it is
checked piece by piece against the freshly built model and refused with one sentence.

Before unpickling, the file must be a torch zip archive of bounded size whose pickle names only
the few globals a resume state needs (no ``bytearray``, which ``weights_only`` would allow).
"""

from __future__ import annotations

import math
import os
import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.files.checks import open_regular_file

MAX_RESUME_BYTES = 2 << 30
_ALLOWED_GLOBALS = frozenset({
    "collections OrderedDict", "torch._utils _rebuild_tensor_v2",
    *(f"torch {t}Storage" for t in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Byte",
                                    "Bool")),
})
_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "model": (dict,), "optimizer": (dict,), "scheduler": (dict,), "epoch": (int,),
    "history": (list,), "best": (float, int), "best_epoch": (int,), "bad_epochs": (int,),
    "seed": (int,), "store": (str,), "hyper_parameters": (dict,),
}


class ResumeStateError(CheckpointError):
    """``<out>.resume.pt`` is not a usable resume state of this training run."""


@dataclass
class ResumePoint:
    """Where a resumed run continues: the epochs done and the early-stopping counters."""

    epoch: int
    history: list[dict[str, Any]]
    best: float
    best_epoch: int
    bad_epochs: int


class _Bad(Exception):
    """One thing wrong with the state (its text completes the sentence)."""


def _refuse(path: Path, why: str) -> ResumeStateError:
    return ResumeStateError(f"{path.name} is not a resume state of this training run ({why}); "
                            "delete it or run without --resume.")


def _pickle_globals(data: bytes) -> set[str]:
    """Every global a pickle names. A STACK_GLOBAL counts as the two strings pushed just before
    it; one fed from anywhere else (the memo, say) reads as "?", which no allow-list holds."""
    names: set[str] = set()
    pushed: list[str | None] = []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
            continue
        if op.name == "GLOBAL":
            names.add(str(arg))
        elif op.name == "STACK_GLOBAL":
            last = pushed[-2:]
            names.add(" ".join(last) if len(last) == 2 and None not in last else "?")  # type: ignore[arg-type]
        is_string = op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE")
        pushed = (pushed + [str(arg) if is_string else None])[-2:]
    return names


def _check_archive(path: Path, fh: BinaryIO, st: os.stat_result) -> None:
    """Refuse the open resume state ``fh`` (of ``path``, stat ``st``) unless it is a bounded
    torch archive whose pickle names only allow-listed globals."""
    if st.st_size > MAX_RESUME_BYTES:
        raise _refuse(path, f"it is {st.st_size >> 20} MiB, far more than a resume state takes")
    if fh.read(4) != b"PK\x03\x04":
        raise _refuse(path, "it is not a PyTorch archive")
    try:
        with zipfile.ZipFile(fh) as zf:
            for info in zf.infolist():  # torch stores members uncompressed, inside the file
                if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
                        or info.header_offset + info.compress_size > st.st_size:
                    raise _refuse(path, "it is damaged or truncated")
            pickles = [i for i in zf.infolist() if i.filename.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise _refuse(path, "it is not a PyTorch archive")
            names = _pickle_globals(zf.read(pickles[0]))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError, RuntimeError,
            UnicodeDecodeError) as err:
        raise _refuse(path, "it is damaged or truncated") from err
    unknown = sorted(names - _ALLOWED_GLOBALS)
    if unknown:
        raise _refuse(path, f"it refers to {', '.join(unknown[:3])}, which a resume state never holds")


def read_resume_file(path: Path) -> dict[str, Any]:
    """The unpickled state (weights-only, after :func:`_check_archive`). Raises ResumeStateError."""
    import torch

    # An empty file is refused below as "not a PyTorch archive", with the resume advice.
    fh, st = open_regular_file(path, "resume state", ResumeStateError, allow_empty=True)
    with fh:  # the file checked is the file loaded
        _check_archive(path, fh, st)
        fh.seek(0)
        try:
            state = torch.load(fh, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - whatever torch raises on a bad file, it is one case
            raise _refuse(path, "it is damaged or truncated") from err
    if not isinstance(state, dict):
        raise _refuse(path, f"it holds a {type(state).__name__}, not a dict")
    for key, types in _STATE_TYPES.items():
        if key not in state:
            raise _refuse(path, f"'{key}' is missing")
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _refuse(path, f"'{key}' is a {type(value).__name__}")
    if "torch_rng" not in state:
        raise _refuse(path, "'torch_rng' is missing")
    return state


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_tensor(t: Any, shape: tuple[int, ...], what: str, floating: bool = True) -> None:
    import torch

    if not isinstance(t, torch.Tensor):
        raise _Bad(f"{what} is a {type(t).__name__}, not a tensor")
    if tuple(t.shape) != shape:
        raise _Bad(f"{what} has shape {tuple(t.shape)}, not {shape}")
    if floating:
        if not t.is_floating_point():
            raise _Bad(f"{what} is {t.dtype}, not floating point")
        if not bool(torch.isfinite(t).all()):
            raise _Bad(f"{what} holds NaN or infinite values")


def _check_history(state: dict[str, Any]) -> ResumePoint:
    epoch, history = state["epoch"], state["history"]
    if epoch < 1:
        raise _Bad(f"its epoch count is {epoch}")
    if len(history) != epoch:
        raise _Bad(f"it records {len(history)} epoch(s) of losses for {epoch} epoch(s)")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or row.get("epoch") != i + 1:
            raise _Bad(f"the loss history entry {i + 1} is malformed")
        val = row.get("val_loss")
        if not (_finite(row.get("train_loss")) and (val is None or _finite(val))
                and _finite(row.get("lr")) and row["lr"] > 0):
            raise _Bad(f"the loss history of epoch {i + 1} holds a non-finite or missing value")
    best, best_epoch, bad = state["best"], state["best_epoch"], state["bad_epochs"]
    if not _finite(best):
        raise _Bad(f"its best loss is {best}")
    if not 1 <= best_epoch <= epoch or not 0 <= bad <= epoch - best_epoch:
        raise _Bad(f"best epoch {best_epoch} and {bad} epoch(s) without improvement do not fit "
                   f"{epoch} epoch(s)")
    return ResumePoint(epoch, list(history), float(best), best_epoch, bad)


def _check_model(sd: dict[str, Any], module: Any) -> None:
    expected = module.state_dict()
    if set(sd) != set(expected):
        extra = sorted(set(sd) - set(expected))[:2]
        missing = sorted(set(expected) - set(sd))[:2]
        raise _Bad("its model has other layers (" + ", ".join(
            [f"unexpected {k}" for k in extra] + [f"missing {k}" for k in missing]) + ")")
    for key, ref in expected.items():
        _check_tensor(sd[key], tuple(ref.shape), f"model weight {key}")


def _check_optimizer(opt: dict[str, Any], module: Any) -> None:
    params = list(module.parameters())
    groups, per_param = opt.get("param_groups"), opt.get("state")
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        raise _Bad("its optimizer state has no single parameter group")
    group = groups[0]
    if group.get("params") != list(range(len(params))):
        raise _Bad("its optimizer state is for another model")
    for name in ("lr", "eps", "weight_decay"):
        if not _finite(group.get(name)) or group[name] < 0:
            raise _Bad(f"its optimizer {name} is {group.get(name)!r}")
    betas = group.get("betas")
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2
            and all(_finite(b) and 0 <= b < 1 for b in betas)):
        raise _Bad("its optimizer betas are malformed")
    if not isinstance(per_param, dict) or not set(per_param) <= set(range(len(params))):
        raise _Bad("its optimizer state is for another model")
    for index, entry in per_param.items():
        shape = tuple(params[index].shape)
        if not isinstance(entry, dict) or set(entry) != {"step", "exp_avg", "exp_avg_sq"}:
            raise _Bad(f"its optimizer state of parameter {index} is malformed")
        _check_tensor(entry["exp_avg"], shape, f"the optimizer's exp_avg {index}")
        _check_tensor(entry["exp_avg_sq"], shape, f"the optimizer's exp_avg_sq {index}")
        _check_tensor(entry["step"], (), f"the optimizer's step {index}")
        if float(entry["step"]) < 0 or bool((entry["exp_avg_sq"] < 0).any()):
            raise _Bad(f"its optimizer state of parameter {index} is negative")


def _check_scheduler(sd: dict[str, Any], fresh: dict[str, Any]) -> None:
    if set(sd) != set(fresh):
        raise _Bad("its learning-rate schedule state is of another kind")
    for key, ref in fresh.items():
        value = sd[key]
        if isinstance(ref, (int, float)) and not isinstance(ref, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise _Bad(f"its learning-rate schedule '{key}' is {value!r}")
            if isinstance(ref, int) and not isinstance(value, int):
                raise _Bad(f"its learning-rate schedule '{key}' is {value!r}")
        elif isinstance(ref, list):
            if not (isinstance(value, list) and len(value) == len(ref)
                    and all(_finite(v) and v >= 0 for v in value)):
                raise _Bad(f"its learning-rate schedule '{key}' is malformed")
        elif type(value) is not type(ref) or (isinstance(ref, str) and value != ref):
            raise _Bad(f"its learning-rate schedule '{key}' is {value!r}")
    if not _finite(sd.get("last_epoch", 0)) or sd.get("num_bad_epochs", 0) < 0:
        raise _Bad("its learning-rate schedule counters are malformed")


def restore(path: Path, state: dict[str, Any], module: Any, optimizer: Any, scheduler: Any
            ) -> ResumePoint:
    """Check every part of ``state`` against the new run's objects, then load it into them.

    Nothing is loaded unless everything fits. Raises ResumeStateError (one sentence).
    """
    import torch

    rng = state["torch_rng"]
    try:
        point = _check_history(state)
        _check_model(state["model"], module)
        _check_optimizer(state["optimizer"], module)
        _check_scheduler(state["scheduler"], scheduler.state_dict())
        ref_rng = torch.get_rng_state()
        _check_tensor(rng, tuple(ref_rng.shape), "the random-number state", floating=False)
        if rng.dtype != torch.uint8:
            raise _Bad("the random-number state is not bytes")
    except _Bad as bad:
        raise _refuse(path, str(bad)) from None
    try:
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(rng)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        raise _refuse(path, "its parts do not fit the model") from err
    return point
