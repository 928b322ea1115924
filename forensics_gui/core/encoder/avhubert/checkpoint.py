"""Load official AV-HuBERT checkpoints (pretrained or fine-tuned) into :class:`AVHubertEncoder`.

- The file is read by :mod:`forensics_gui.core.files.torchfile` (never ``torch.load``), unpickled with
  an allow-list (:mod:`.unpickler`): no fairseq, no code from the file, memory bounded by its size.
- The cfg is checked (whole numbers in range, no cycles) and the architecture it describes must
  fit in the file (2 bytes a weight) before any module is built; every name, type and shape is
  checked before a weight is copied; NaN or infinite weights are refused.
- Pretrained checkpoints keep the encoder at the top of ``model``; fine-tuned ``av_hubert_seq2seq``
  ones under ``encoder.w2v_model.``. Pretraining heads (``mask_emb``, ``label_embs_concat``,
  ``final_proj.*``) and the decoder (``decoder.*``) are ignored.
- Weights may be stored in fp16: every floating tensor is cast to fp32, and the weight-norm of
  ``pos_conv`` (``weight_g``/``weight_v`` or ``parametrizations.weight.original0/1``, norm over
  dims 0 and 1, i.e. ``dim=2``) is folded into a plain Conv1d weight in fp32.
- Key matching is strict: a missing key or an unexpected encoder key raises
  :class:`~forensics_gui.core.errors.CheckpointError` naming them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_gui.core.encoder.avhubert.config import AVHubertConfig, config_from_checkpoint
from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.files.unpickler import printable

_POS_CONV = "encoder.pos_conv.0."
_IGNORED = re.compile(r"^(mask_emb|label_embs_concat|final_proj\.|final_proj_list\.|label_embs\.)")
_WEIGHT_NORM_NAMES = (("weight_g", "weight_v"),
                      ("parametrizations.weight.original0", "parametrizations.weight.original1"))
_MAX_LISTED = 6


@dataclass(frozen=True)
class LoadedCheckpoint:
    """An encoder ready for inference (eval mode, fp32, CPU) and what was read with it."""

    model: Any  # AVHubertEncoder (typed Any to keep torch out of module import time)
    config: AVHubertConfig
    path: Path
    stored_dtype: str  # dtype of the stored weights, e.g. "float16"


def _label(path: Path) -> str:
    return f"'{printable(path.name)}'"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a ``.pt`` file safely (allow-list, no torch.load) onto the CPU; return its top-level dict.

    See :func:`forensics_gui.core.files.torchfile.read_torch_file`: nothing from the file runs, and the
    memory it can make the app allocate is bounded by its own size.
    """
    from forensics_gui.core.files.torchfile import read_torch_file

    path = Path(path)
    if not os.path.lexists(path):
        raise CheckpointError(f"The checkpoint {path} does not exist; check the path or the Models dialog.")
    data = read_torch_file(path, _label(path))
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{_label(path)} is not an AV-HuBERT checkpoint: it holds a {type(data).__name__}, "
            "not a fairseq checkpoint dictionary."
        )
    return data


def _is_phi_like(data: Mapping[str, Any]) -> bool:
    state = data.get("state_dict")
    return isinstance(state, Mapping) and any(str(k).startswith(("visual_proj.", "mlp.")) for k in state)


def _expected_keys(model: Any) -> list[str]:
    return [k for k in model.state_dict() if not k.startswith(_POS_CONV)]


def fold_weight_norm(g: Any, v: Any) -> Any:
    """Weight of a weight-normed conv with ``dim=2``: ``w[:,:,k] = g[k] * v[:,:,k] / ||v[:,:,k]||``.

    Computed in float32 whatever the stored dtype (``g [1,1,K]``, ``v [Cout,Cin/groups,K]``).
    """
    g32, v32 = g.float(), v.float()
    return g32 * v32 / v32.norm(dim=(0, 1), keepdim=True)


def _listing(keys: list[str]) -> str:
    shown = ", ".join(printable(k, 80) for k in keys[:_MAX_LISTED])
    return shown + (f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else "")


def _shape_error(label: str, key: str, value: Any, expected: tuple[int, ...]) -> CheckpointError:
    return CheckpointError(
        f"{label} has {key} of shape {tuple(value.shape)}, but its cfg implies {expected}.")


def convert_state_dict(state: Mapping[str, Any], config: AVHubertConfig, model: Any,
                       label: str = "the checkpoint") -> dict[str, Any]:
    """Map an official ``model`` state dict onto ``model``'s parameter names, strictly.

    ``model`` only provides names and shapes (it may live on the meta device). Every name, type
    and shape is checked before anything is copied, so a file cannot make this allocate more
    than the declared architecture (shape-only meta tensors work too: nothing is then copied or
    checked for NaN). Returns fp32 tensors (``num_batches_tracked`` stays integer)
    with pos_conv's weight folded; refuses NaN or infinite weights.
    """
    import torch

    prefix = config.state_prefix
    ours = {str(k)[len(prefix):]: v for k, v in state.items() if str(k).startswith(prefix)}
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    sources: dict[str, Any] = {}
    missing: list[str] = []
    for key in _expected_keys(model):
        value = ours.get(key)
        if value is None and key.endswith("num_batches_tracked"):
            value = torch.tensor(0, dtype=torch.long)  # bookkeeping only; eval BN ignores it
        if value is None:
            missing.append(prefix + key)
        else:
            sources[key] = value
    weight_key = _POS_CONV + "weight"
    pos_keys = {_POS_CONV + "bias"}
    if _POS_CONV + "bias" in ours:
        sources[_POS_CONV + "bias"] = ours[_POS_CONV + "bias"]
    else:
        missing.append(prefix + _POS_CONV + "bias")
    norm_pair: tuple[Any, Any] | None = None
    if weight_key in ours:  # already folded (re-saved without weight norm)
        sources[weight_key] = ours[weight_key]
        pos_keys.add(weight_key)
    else:
        for g_name, v_name in _WEIGHT_NORM_NAMES:
            g, v = ours.get(_POS_CONV + g_name), ours.get(_POS_CONV + v_name)
            if g is not None and v is not None:
                norm_pair = (g, v)
                pos_keys |= {_POS_CONV + g_name, _POS_CONV + v_name}
                break
        else:
            missing.append(prefix + _POS_CONV + "weight_g/weight_v")
    if missing:
        raise CheckpointError(
            f"{label} does not match the AV-HuBERT {config.size_name} encoder its cfg describes: "
            f"missing {len(missing)} weight(s): {_listing(missing)}."
        )
    known = set(sources) | pos_keys
    unexpected = [prefix + k for k in ours if k not in known and not _IGNORED.match(k)]
    if unexpected:
        raise CheckpointError(
            f"{label} has encoder weights this implementation does not know, so its features would "
            f"be wrong: {_listing(unexpected)}."
        )
    for key, value in sources.items():
        if not torch.is_tensor(value):
            raise CheckpointError(f"{label} has {prefix + key} that is a {type(value).__name__}, "
                                  "not a tensor; the file is damaged.")
        if tuple(value.shape) != own[key]:
            raise _shape_error(label, prefix + key, value, own[key])
    if norm_pair is not None:
        g, v = norm_pair
        kernel = own[weight_key][-1]
        for name, value, expected in (("g", g, (1, 1, kernel)), ("v", v, own[weight_key])):
            if not torch.is_tensor(value) or tuple(value.shape) != expected:
                raise _shape_error(label, f"{prefix}{_POS_CONV}weight_{name}", value, expected)
    out: dict[str, Any] = {}
    for key, value in sources.items():
        # copies: nothing may keep the (memory-mapped) checkpoint file in use
        out[key] = value.to(torch.float32, copy=True) if torch.is_floating_point(value) else value.clone()
    if norm_pair is not None:
        out[weight_key] = fold_weight_norm(*norm_pair)
    for key, value in out.items():
        if torch.is_floating_point(value) and not value.is_meta and not all_finite(value):
            raise CheckpointError(
                f"{label} has NaN or infinite values in {prefix + key}; the file is damaged and "
                "its features would be meaningless."
            )
    return out


def all_finite(tensor: Any) -> bool:
    """No NaN or infinity in ``tensor``: one reduction (min and max propagate NaN and keep
    infinities), about 15x faster than ``isfinite().all()``, which allocates a mask."""
    import torch

    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor.detach())
    return math.isfinite(float(low)) and math.isfinite(float(high))


def check_architecture_fits(config: AVHubertConfig, file_size: int, label: str) -> None:
    """Refuse a cfg whose encoder needs more weights than the file can hold (>= 2 bytes each).

    Runs before the model is built, so a cfg of 20,000 layers costs nothing.
    """
    needed = 2 * config.parameter_count
    if needed > file_size:
        raise CheckpointError(
            f"{label} has a cfg describing an encoder of {config.parameter_count:,} weights "
            f"({config.size_name}), more than its {file_size:,} bytes can hold; the file is "
            "damaged or not what it claims."
        )


def load_avhubert(path: str | Path) -> LoadedCheckpoint:
    """Read an official AV-HuBERT checkpoint and return the encoder in eval mode, fp32, on CPU."""
    import torch

    from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder

    path = Path(path)
    label = _label(path)
    data = read_checkpoint(path)
    if "model" not in data or not isinstance(data.get("model"), Mapping):
        if _is_phi_like(data):
            raise CheckpointError(
                f"{label} is an AVH-Align (Phi) checkpoint, not an AV-HuBERT checkpoint; "
                "pass it with --phi instead."
            )
        raise CheckpointError(
            f"{label} is not an AV-HuBERT checkpoint: it has no 'model' weights "
            f"(top-level keys: {_listing(sorted(map(str, data))) or 'none'})."
        )
    config = config_from_checkpoint(data, label)
    state = data["model"]
    if not config.finetuned and any(str(k).startswith("encoder.w2v_model.") for k in state):
        config = _with_finetuned(config)
    check_architecture_fits(config, path.stat().st_size, label)
    floats = [v for v in state.values() if torch.is_tensor(v) and torch.is_floating_point(v)]
    stored = str(floats[0].dtype).replace("torch.", "") if floats else "unknown"
    with torch.device("meta"):  # no random init of weights that are overwritten anyway
        model = AVHubertEncoder(config)
    converted = convert_state_dict(state, config, model, label)
    model.load_state_dict({k: v.contiguous() for k, v in converted.items()}, strict=True, assign=True)
    model.eval()
    model.requires_grad_(False)
    return LoadedCheckpoint(model=model, config=config, path=path, stored_dtype=stored)


def _with_finetuned(config: AVHubertConfig) -> AVHubertConfig:
    from dataclasses import replace

    return replace(config, finetuned=True)
