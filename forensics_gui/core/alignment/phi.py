"""The alignment network Phi of AVH-Align (``FusionModel``) and its supervised sibling AVH-Align/sup.

Layout (the published one, key names included)::

    visual_proj  Linear(Dv -> P)          audio_proj  Linear(Da -> P)
    mlp.0 Linear(2P -> 512)  mlp.1 LayerNorm(512)  mlp.2 ReLU
    mlp.3 Linear(512 -> 256) mlp.4 LayerNorm(256)  mlp.5 ReLU
    mlp.6 Linear(256 -> 128) mlp.7 LayerNorm(128)  mlp.8 ReLU
    mlp.9 Linear(128 -> 1)

(P = 512, Dv = Da = 1024 in the published checkpoint; every size is read from the state dict's
shapes). The supervised ``linear`` variant is one ``head`` Linear(Dv + Da -> 1) on [v, a].

Inputs are AV-HuBERT features, one row per 25 fps frame, L2-normalised per frame
(:func:`l2_normalize`). Fakeness per frame is ``-Phi(v_t, a_t)`` for the unsupervised Phi and
``+output`` for AVH-Align/sup (higher = more likely fake in both cases).

The band: because ``visual_proj``, ``audio_proj`` and ``mlp.0`` are linear, ``mlp.0([v', a'])``
splits into ``V_t + A_k`` with ``V_t = W0v visual_proj(v_t) + b0`` and ``A_k = W0a audio_proj(a_k)``.
Phi(v_t, a_k) for all 31 offsets ``|k - t| <= 15`` then costs one projection per frame plus the
small tail of the MLP per pair. Audio frames outside the clip are the ZERO vector (as in training),
whose projection is ``W0a · audio_proj.bias``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from forensics_gui.core.errors import CheckpointError, ForensicsError
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.core.files.unpickler import printable

if TYPE_CHECKING:
    import torch

BAND_RADIUS = 15
"""Offsets -15..+15 audio frames (0.6 s at 25 fps) around each visual frame, as in training."""

LN_EPS = 1e-5
PUBLISHED_HIDDEN = (512, 256, 128)
PUBLISHED_PROJ = 512
MLP_LINEAR_INDICES = (0, 3, 6, 9)
MLP_NORM_INDICES = (1, 4, 7)

Kind = Literal["unsupervised", "supervised"]


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Divide each row (frame) by its L2 norm, as AVH-Align does (no eps).

    Unlike the published code, an all-zero row stays zero instead of becoming NaN (0/0). Returns
    float32 [T, D].
    """
    x = np.asarray(features, dtype=np.float32)
    norms = np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=-1, keepdims=True))
    safe = np.where(norms > 0.0, norms, 1.0)
    return (x / safe).astype(np.float32, copy=False)


def _torch_modules() -> tuple[Any, Any, Any]:
    import torch
    from torch import nn

    class FusionModel(nn.Module):
        """The published Phi / AVH-Align/sup ``mlp`` network (same parameter names)."""

        visual_proj: nn.Linear
        audio_proj: nn.Linear
        mlp: nn.Sequential

        def __init__(self, visual_dim: int, audio_dim: int, proj_dim: int = PUBLISHED_PROJ,
                     hidden: Sequence[int] = PUBLISHED_HIDDEN, audio_proj_dim: int | None = None):
            super().__init__()
            audio_proj_dim = proj_dim if audio_proj_dim is None else audio_proj_dim
            self.visual_proj = nn.Linear(visual_dim, proj_dim)
            self.audio_proj = nn.Linear(audio_dim, audio_proj_dim)
            h0, h1, h2 = hidden
            self.mlp = nn.Sequential(
                nn.Linear(proj_dim + audio_proj_dim, h0), nn.LayerNorm(h0, eps=LN_EPS), nn.ReLU(),
                nn.Linear(h0, h1), nn.LayerNorm(h1, eps=LN_EPS), nn.ReLU(),
                nn.Linear(h1, h2), nn.LayerNorm(h2, eps=LN_EPS), nn.ReLU(),
                nn.Linear(h2, 1),
            )

        def forward(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
            """Phi(v, a) for aligned pairs: [..., Dv], [..., Da] -> [...]."""
            fused = torch.cat((self.visual_proj(visual), self.audio_proj(audio)), dim=-1)
            return self.mlp(fused)[..., 0]

        def halves(self, visual: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """``V = W0v·visual_proj(v) + b0`` and ``A = W0a·audio_proj(a)``: mlp.0 = V + A.

            The two linear maps are folded first (``W0v·Wv`` is [H, Dv], as big as ``Wv``), so
            each row costs one Dv->H product; autograd still yields the gradients of ``Wv``,
            ``W0`` and the biases (through weight-sized products that do not grow with the batch).
            """
            first = cast(nn.Linear, self.mlp[0])
            p = self.visual_proj.out_features
            w0v, w0a = first.weight[:, :p], first.weight[:, p:]
            mv = w0v @ self.visual_proj.weight
            bv = w0v @ self.visual_proj.bias + first.bias
            ma = w0a @ self.audio_proj.weight
            ba = w0a @ self.audio_proj.bias
            return torch.addmm(bv, visual.reshape(-1, visual.shape[-1]), mv.T).reshape(
                *visual.shape[:-1], -1), torch.addmm(ba, audio.reshape(-1, audio.shape[-1]), ma.T
                                                     ).reshape(*audio.shape[:-1], -1)

        def zero_audio_half(self) -> torch.Tensor:
            """``A`` of the zero audio vector (out-of-clip frames): ``W0a · audio_proj.bias``."""
            p = self.visual_proj.out_features
            return self.audio_proj.bias @ cast(nn.Linear, self.mlp[0]).weight[:, p:].T

        def tail(self, hidden: torch.Tensor) -> torch.Tensor:
            """The MLP after mlp.0, on pre-LN activations [..., h0] -> [...]."""
            return self.mlp[1:](hidden)[..., 0]

    class LinearHead(nn.Module):
        """AVH-Align/sup ``linear``/``both``: ``head`` Linear(Dv + Da -> 1) on [v, a]."""

        def __init__(self, visual_dim: int, audio_dim: int):
            super().__init__()
            self.visual_dim = visual_dim
            self.head = nn.Linear(visual_dim + audio_dim, 1)

        def forward(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
            return self.head(torch.cat((visual, audio), dim=-1))[..., 0]

        def halves(self, visual: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            w = self.head.weight
            v = visual @ w[:, : self.visual_dim].T + self.head.bias
            return v, audio @ w[:, self.visual_dim:].T

        def zero_audio_half(self) -> torch.Tensor:
            return self.head.weight.new_zeros(1)

        def tail(self, hidden: torch.Tensor) -> torch.Tensor:
            return hidden[..., 0]

    return torch, FusionModel, LinearHead


def build_fusion_model(visual_dim: int, audio_dim: int, proj_dim: int = PUBLISHED_PROJ,
                       hidden: Sequence[int] = PUBLISHED_HIDDEN) -> Any:
    """A fresh (randomly initialised) Phi ``nn.Module`` with the published parameter names."""
    _, fusion_model, _ = _torch_modules()
    return fusion_model(visual_dim, audio_dim, proj_dim, tuple(hidden))


# --------------------------------------------------------------------------- loading

def safe_torch_load(path: str | Path) -> Any:
    """Read a Phi/Lightning file as plain data (never ``torch.load``); errors become sentences.

    Uses :func:`forensics_gui.core.files.torchfile.read_torch_file` with no inert stand-ins: a Phi file
    holds tensors, builtins, ``argparse.Namespace``, paths, numpy scalars and Lightning's
    ``AttributeDict`` (read as a dict); any other class is refused by name and never loaded.
    """
    import os

    from forensics_gui.core.files.torchfile import read_torch_file
    from forensics_gui.core.files.unpickler import RefusedGlobal

    path = Path(path)
    if not os.path.lexists(path):
        raise CheckpointError(f"The Phi checkpoint {path} does not exist.")
    try:
        return read_torch_file(path, printable(path.name), inert_prefixes=())
    except RefusedGlobal as err:
        raise CheckpointError(
            f"{printable(path.name)} is not a Phi checkpoint: it holds {err.qualname}, which a Phi checkpoint "
            "never needs and which is not loaded for safety (an AV-HuBERT checkpoint goes to "
            "--checkpoint; a Phi you trust can be re-saved as {'state_dict': ...} alone)."
        ) from err


def _find_state_dict(obj: Any, path: Path) -> tuple[dict[str, Any], str]:
    """The weights dict (prefix ``model.`` removed) and the prefix that was removed."""
    if not isinstance(obj, dict):
        raise CheckpointError(f"{printable(path.name)} is not a Phi checkpoint: it holds no state_dict.")
    sd = obj.get("state_dict", obj)
    if not isinstance(sd, dict):
        raise CheckpointError(f"{printable(path.name)} is not a Phi checkpoint: its state_dict is not a dict.")
    odd = next((k for k in sd if not isinstance(k, str)), None)
    if odd is not None or any(not isinstance(k, str) for k in sd):
        raise CheckpointError(
            f"{printable(path.name)} is not a valid Phi checkpoint: its state_dict names a weight by the "
            f"{type(odd).__name__} {printable(str(odd), 40)} instead of by text.")
    for prefix in ("", "model.", "module."):
        if any(k == f"{prefix}visual_proj.weight" or k == f"{prefix}head.weight" for k in sd):
            out = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            return out, prefix
    return sd, ""


def _expected_mlp_keys() -> list[str]:
    keys = [f"{m}.{p}" for m in ("visual_proj", "audio_proj") for p in ("weight", "bias")]
    keys += [f"mlp.{i}.{p}" for i in MLP_LINEAR_INDICES + MLP_NORM_INDICES for p in ("weight", "bias")]
    return sorted(keys)


@dataclass
class PhiModel:
    """A loaded Phi (or AVH-Align/sup) network with what the viewer needs to know about it.

    ``kind``: "unsupervised" (AVH-Align Phi; fakeness = -output) or "supervised" (AVH-Align/sup;
    fakeness = +output). ``variant``: "mlp" or "linear". ``metadata``: every top-level entry of
    the file other than weights/optimizer (epoch, best_val_loss, our training record, ...).
    """

    module: Any
    kind: Kind
    variant: str
    visual_dim: int
    audio_dim: int
    sha256: str = ""
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def sign(self) -> float:
        """Fakeness = sign * output: -1 for Phi, +1 for AVH-Align/sup."""
        return -1.0 if self.kind == "unsupervised" else 1.0

    def _tensors(self, visual: np.ndarray, audio: np.ndarray) -> tuple[Any, Any, Any]:
        import torch

        visual = np.asarray(visual)
        audio = np.asarray(audio)
        if visual.ndim != 2 or audio.ndim != 2:
            raise CheckpointError("Features must be 2-D arrays [frames, dims].")
        if visual.shape[1] != self.visual_dim or audio.shape[1] != self.audio_dim:
            raise CheckpointError(
                f"The features are {visual.shape[1]}-dim visual / {audio.shape[1]}-dim audio but this "
                f"Phi expects {self.visual_dim} / {self.audio_dim}; use features from the AV-HuBERT "
                "model Phi was trained on."
            )
        t = min(len(visual), len(audio))
        if not (np.isfinite(visual[:t]).all() and np.isfinite(audio[:t]).all()):
            raise ForensicsError("The features contain NaN or infinite values; extract them again.")
        v = torch.from_numpy(l2_normalize(visual[:t]))
        a = torch.from_numpy(l2_normalize(audio[:t]))
        return torch, v, a

    def frame_outputs(self, visual: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """Raw network output per aligned frame pair, float32 [T] (features normalised here)."""
        torch, v, a = self._tensors(visual, audio)
        with torch.inference_mode():
            return self.module(v, a).float().numpy().astype(np.float32)

    def frame_scores(self, visual: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """Fakeness per 25 fps frame, float32 [T]: -Phi(v_t, a_t) (or +output for /sup)."""
        return (self.sign * self.frame_outputs(visual, audio)).astype(np.float32)

    def band_scores(self, visual: np.ndarray, audio: np.ndarray,
                    radius: int = BAND_RADIUS) -> np.ndarray:
        """Network output Phi(v_t, a_{t+o}) for o = -radius..radius, float32 [T, 2*radius+1].

        Column ``radius`` is the aligned pair (``== -frame_scores`` for Phi). Audio frames outside
        the clip are the zero vector, as in training.
        """
        torch, v, a = self._tensors(visual, audio)
        with torch.inference_mode():
            return band_outputs(self.module, v, a, radius).float().numpy().astype(np.float32)

    def sync_offsets(self, visual: np.ndarray, audio: np.ndarray,
                     radius: int = BAND_RADIUS) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: the audio offset in frames that aligns best (argmax over k - t, int [T]) and
        the probability of the true alignment (softmax over the offsets, at offset 0; float [T])."""
        return offsets_from_band(self.band_scores(visual, audio, radius), radius)


def offsets_from_band(band: np.ndarray, radius: int = BAND_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """(best offset in frames [T] int32, softmax probability of offset 0 [T] float32) from a band."""
    band = np.asarray(band, dtype=np.float64)
    if band.size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    best = (np.argmax(band, axis=1) - radius).astype(np.int32)
    shifted = band - band.max(axis=1, keepdims=True)
    prob = np.exp(shifted[:, radius]) / np.exp(shifted).sum(axis=1)
    return best, prob.astype(np.float32)


def band_outputs(module: Any, visual: torch.Tensor, audio: torch.Tensor,
                 radius: int = BAND_RADIUS, block: int = 128) -> torch.Tensor:
    """Phi(v_t, a_{t+o}) for all |o| <= radius from normalised [T, D] tensors -> [T, 2r+1]."""
    import torch

    t = visual.shape[0]
    vh, ah = module.halves(visual, audio)
    zero = module.zero_audio_half().to(ah.dtype).expand(radius, ah.shape[-1])
    padded = torch.cat((zero, ah, zero), dim=0)  # [T + 2r, H]
    window = padded.unfold(0, 2 * radius + 1, 1).permute(0, 2, 1)  # [T, 2r+1, H] (a view)
    # Blocks of frames keep the [block, 31, H] activations in cache (same result as one pass).
    parts = [module.tail(vh[s:s + block, None, :] + window[s:s + block])
             for s in range(0, t, block)]
    return torch.cat(parts, dim=0) if parts else vh.new_zeros((0, 2 * radius + 1))


def load_phi(path: str | Path, kind: Kind | None = None) -> PhiModel:
    """Load a Phi checkpoint (published ``AVH-Align_AV1M.pt``, a bare ``{"state_dict": ...}``, one
    this app trained, or an AVH-Align/sup Lightning ``.ckpt``) without running code from the file.

    Sizes come from the state dict's shapes. ``kind`` is detected (Lightning keys or the ``linear``
    head mean "supervised") unless given. Raises :class:`CheckpointError` for anything else.
    """
    path = Path(path)
    obj = safe_torch_load(path)
    sd, prefix = _find_state_dict(obj, path)
    top = obj if isinstance(obj, dict) else {}
    lightning = "pytorch-lightning_version" in top or "hyper_parameters" in top
    _, fusion_model, linear_head = _torch_modules()
    try:
        if "head.weight" in sd:
            w = _weight(sd, "head.weight", path, dims=2)
            hp = top.get("hyper_parameters") or {}
            dv = _nested_get(hp, "visual_dim")
            dv = int(w.shape[1]) // 2 if dv is None else dv
            if isinstance(dv, bool) or not isinstance(dv, int) or not 0 < dv < int(w.shape[1]):
                raise CheckpointError(
                    f"{printable(path.name)} has visual_dim={printable(repr(dv), 40)} in its hyper-parameters, which does not "
                    f"split its {int(w.shape[1])} head inputs; the file is damaged.")
            build: tuple[Any, tuple[Any, ...]] = (linear_head, (dv, int(w.shape[1]) - dv))
            variant, detected = "linear", "supervised"
        else:
            missing = [k for k in _expected_mlp_keys() if k not in sd]
            if missing:
                shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
                raise CheckpointError(
                    f"{printable(path.name)} is not a Phi checkpoint: its state_dict lacks {shown} "
                    f"({len(missing)} of {len(_expected_mlp_keys())} expected keys missing)."
                )
            vw = _weight(sd, "visual_proj.weight", path, dims=2)
            aw = _weight(sd, "audio_proj.weight", path, dims=2)
            hidden = tuple(int(_weight(sd, f"mlp.{i}.weight", path, dims=2).shape[0])
                           for i in (0, 3, 6))
            build = (fusion_model, (int(vw.shape[1]), int(aw.shape[1]), int(vw.shape[0]), hidden,
                                    int(aw.shape[0])))
            variant, detected = "mlp", ("supervised" if lightning else "unsupervised")
        module = _build_checked(build[0], build[1], sd, path)
    except CheckpointError:
        raise
    except (RuntimeError, KeyError, AttributeError, IndexError, ValueError, TypeError) as err:
        raise CheckpointError(
            f"{printable(path.name)} has Phi key names but shapes that do not fit together ({printable(str(err), 160)})."
        ) from err
    module.eval()
    meta = {k: v for k, v in top.items()
            if k not in ("state_dict", "optimizer", "scheduler", "optimizer_states", "lr_schedulers")}
    if prefix:
        meta["state_dict_prefix"] = prefix
    final_kind: Kind = kind or ("supervised" if detected == "supervised" else "unsupervised")
    return PhiModel(
        module=module, kind=final_kind, variant=variant,
        visual_dim=int(module.visual_proj.in_features if variant == "mlp" else module.visual_dim),
        audio_dim=int(module.audio_proj.in_features if variant == "mlp"
                      else module.head.in_features - module.visual_dim),
        sha256=sha256_file(path), path=path, metadata=meta,
    )


def _nested_get(obj: Any, key: str) -> Any:
    """``obj[...][key]`` at the shallowest depth where it is found (breadth first; each dict once)."""
    queue, seen = [obj], set()
    while queue:
        node = queue.pop(0)
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        if key in node:
            return node[key]
        queue.extend(node.values())
    return None


_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _weight(sd: dict[str, Any], key: str, path: Path, dims: int | None = None) -> Any:
    """``sd[key]`` if it is a floating-point tensor (of ``dims`` dimensions); else one sentence."""
    import torch

    value = sd[key]
    if not torch.is_tensor(value):
        raise CheckpointError(f"{printable(path.name)} has {key} that is a {type(value).__name__}, not a "
                              "tensor; the file is damaged.")
    if str(value.dtype).replace("torch.", "") not in _FLOAT_DTYPES:
        raise CheckpointError(f"{printable(path.name)} has {key} of dtype {str(value.dtype).replace('torch.', '')}; "
                              "Phi weights must be floating-point numbers.")
    if dims is not None and value.dim() != dims:
        raise CheckpointError(f"{printable(path.name)} has {key} of shape {tuple(value.shape)}, which is not a "
                              f"{dims}-D weight.")
    return value


def _build_checked(factory: Any, args: tuple[Any, ...], sd: dict[str, Any], path: Path) -> Any:
    """Build the network after checking every stored shape against it on the meta device.

    Nothing is allocated for a network whose shapes the file does not hold, so sizes read from
    one tensor cannot make another layer huge; NaN or infinite weights are refused.
    """
    import torch

    from forensics_gui.core.encoder.avhubert.checkpoint import all_finite

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in factory(*args).state_dict().items()}
    for key, shape in expected.items():
        value = _weight(sd, key, path)
        if tuple(value.shape) != shape:
            raise CheckpointError(f"{printable(path.name)} has {key} of shape {tuple(value.shape)}, but the "
                                  f"other weights imply {shape}.")
        if not all_finite(value):
            raise CheckpointError(f"{printable(path.name)} has NaN or infinite values in {key}; the file is "
                                  "damaged.")
    module = factory(*args)
    module.load_state_dict({k: sd[k].float() for k in expected}, strict=True)
    return module
