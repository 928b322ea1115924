"""Encoder sizes and preprocessing constants read from an AV-HuBERT checkpoint's ``cfg``.

The official checkpoints store ``cfg`` as a plain nested dict (fairseq ``OmegaConf.to_container``);
older or re-saved files hold an OmegaConf ``DictConfig`` (loaded as an inert stand-in: no OmegaConf
code runs) or an ``argparse.Namespace`` under ``args``. :func:`plain` turns all of these into plain
Python containers. Every architecture field must be a whole number in a generous range
(:data:`_LIMITS`); anything else is one sentence.
A fine-tuned (``av_hubert_seq2seq``) checkpoint keeps the encoder's architecture under
``cfg['model']['w2v_args']['model']``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.files.unpickler import printable

FINETUNED_PREFIX = "encoder.w2v_model."
#: Weights of the video ResNet-18 trunk (about 11.2 M), a lower bound for :attr:`parameter_count`.
RESNET_WEIGHTS = 11_000_000
#: Deepest nesting of a cfg that :func:`plain` follows (fairseq's is about 5 levels).
MAX_CFG_DEPTH = 64
#: Accepted ranges of the architecture fields (generous: LARGE is 1024/24/16/4096).
_LIMITS = {"encoder_embed_dim": (1, 8192), "encoder_layers": (1, 128),
           "encoder_attention_heads": (1, 1024), "encoder_ffn_embed_dim": (1, 65536),
           "conv_pos": (1, 1024), "conv_pos_groups": (1, 8192), "audio_feat_dim": (1, 4096),
           "image_crop_size": (8, 1024)}


@dataclass(frozen=True)
class AVHubertConfig:
    """Architecture of the AV-HuBERT encoder (only what feature extraction needs)."""

    embed_dim: int = 1024
    layers: int = 24
    heads: int = 16
    ffn_dim: int = 4096
    conv_pos: int = 128
    conv_pos_groups: int = 16
    audio_feat_dim: int = 104
    image_mean: float = 0.421
    image_std: float = 0.165
    image_crop_size: int = 88
    finetuned: bool = False

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.heads

    @property
    def state_prefix(self) -> str:
        """Prefix of the encoder's keys in the checkpoint's ``model`` state dict."""
        return FINETUNED_PREFIX if self.finetuned else ""

    @property
    def size_name(self) -> str:
        if (self.embed_dim, self.layers, self.heads, self.ffn_dim) == (1024, 24, 16, 4096):
            return "LARGE"
        if (self.embed_dim, self.layers, self.heads, self.ffn_dim) == (768, 12, 12, 3072):
            return "BASE"
        return f"custom {self.embed_dim}/{self.layers}/{self.heads}/{self.ffn_dim}"

    @property
    def parameter_count(self) -> int:
        """Weights of the encoder this config describes (ResNet-18 trunk as a fixed lower bound)."""
        d, f = self.embed_dim, self.ffn_dim
        layer = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d
        pos_conv = d * (d // self.conv_pos_groups) * self.conv_pos + d
        front = 512 * d + d + self.audio_feat_dim * d + d + 2 * d * d + d + 4 * d
        return self.layers * layer + pos_conv + front + RESNET_WEIGHTS


def plain(obj: Any, _path: tuple[int, ...] = ()) -> Any:
    """Return ``obj`` as plain dicts/lists/scalars (OmegaConf, stand-ins and Namespaces included).

    Raises :class:`CfgShapeError` for a cfg that refers to itself or nests deeper than
    :data:`MAX_CFG_DEPTH`.
    """
    if id(obj) in _path:
        raise CfgShapeError("refers to itself")
    if len(_path) > MAX_CFG_DEPTH:
        raise CfgShapeError(f"nests deeper than {MAX_CFG_DEPTH} levels")
    inner = (*_path, id(obj))
    if isinstance(obj, Mapping):
        return {str(k): plain(v, inner) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, inner) for v in obj]
    if isinstance(obj, argparse.Namespace):
        return {k: plain(v, inner) for k, v in vars(obj).items()}
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and "_content" in state:
        # An OmegaConf node (our inert stand-in): containers keep children in _content, value
        # nodes keep the value in _val.
        return plain(state["_content"], inner)
    if isinstance(state, dict) and "_val" in state:
        return plain(state["_val"], inner)
    return obj


class CfgShapeError(ValueError):
    """The cfg cannot be read as a tree (it refers to itself or nests too deeply)."""


def _section(cfg: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    node: Any = cfg
    for key in keys:
        if not isinstance(node, Mapping) or node.get(key) is None:
            return None
        node = node[key]
    return node if isinstance(node, Mapping) else None


def config_from_checkpoint(ckpt: Mapping[str, Any], source: str = "the checkpoint") -> AVHubertConfig:
    """Read the encoder architecture from a loaded checkpoint dict (``cfg`` or legacy ``args``)."""
    try:
        cfg = plain(ckpt.get("cfg"))
        args = plain(ckpt.get("args")) if not isinstance(cfg, Mapping) or not cfg else None
    except CfgShapeError as err:
        raise CheckpointError(f"{source} has a cfg that {err}, so its architecture cannot be read.") from err
    if not isinstance(cfg, Mapping) or not cfg:
        if not isinstance(args, Mapping):
            raise CheckpointError(
                f"{source} has neither 'cfg' nor 'args', so its AV-HuBERT architecture is unknown."
            )
        cfg = {"model": args, "task": args}
    model = _section(cfg, "model")
    if model is None:
        raise CheckpointError(f"{source} has no 'cfg.model' section describing the AV-HuBERT encoder.")
    finetuned = False
    inner = _section(model, "w2v_args", "model")
    task = _section(cfg, "task") or {}
    if inner is not None:
        finetuned = True
        task = _section(model, "w2v_args", "task") or task
        model = inner
    return _build(model, task, finetuned, source)


def _build(model: Mapping[str, Any], task: Mapping[str, Any], finetuned: bool, source: str
           ) -> AVHubertConfig:
    def get(key: str, default: Any) -> Any:
        value = model.get(key, default)
        return default if value is None else value

    fuse = str(get("modality_fuse", "concat"))
    if fuse != "concat":
        raise CheckpointError(f"{source} uses modality_fuse={printable(repr(fuse), 40)}; only 'concat' is supported.")
    if not bool(get("layer_norm_first", True)):
        raise CheckpointError(f"{source} uses post-LN layers (layer_norm_first=false), which is not supported.")
    if str(get("activation_fn", "gelu")) != "gelu":
        raise CheckpointError(f"{source} uses activation {printable(repr(get('activation_fn', '')), 40)}; "
                              "only gelu is supported.")
    if int(get("sub_encoder_layers", 0)) != 0:
        raise CheckpointError(f"{source} has per-modality sub-encoder layers, which are not supported.")
    if str(get("resnet_relu_type", "prelu")) != "prelu":
        raise CheckpointError(f"{source} uses resnet_relu_type={printable(repr(get('resnet_relu_type', '')), 40)}; "
                              "only prelu is supported.")
    def task_value(key: str, default: float) -> Any:
        value = task.get(key)
        return default if value is None else value

    def whole(key: str, value: Any) -> int:
        low, high = _LIMITS[key]
        if isinstance(value, float) and value.is_integer():  # 24.0 from a re-saved cfg
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CheckpointError(
                f"{source} has {key}={printable(repr(value), 40)} in its cfg, which is not a whole number from "
                f"{low} to {high}; the file is damaged or not an AV-HuBERT checkpoint.")
        return value

    def real(key: str, value: Any, positive: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value) or (positive and value <= 0):
            raise CheckpointError(
                f"{source} has {key}={printable(repr(value), 40)} in its cfg, which is not a finite"
                f"{' positive' if positive else ''} number; the file is damaged.")
        return float(value)

    config = AVHubertConfig(
        embed_dim=whole("encoder_embed_dim", get("encoder_embed_dim", 768)),
        layers=whole("encoder_layers", get("encoder_layers", 12)),
        heads=whole("encoder_attention_heads", get("encoder_attention_heads", 12)),
        ffn_dim=whole("encoder_ffn_embed_dim", get("encoder_ffn_embed_dim", 3072)),
        conv_pos=whole("conv_pos", get("conv_pos", 128)),
        conv_pos_groups=whole("conv_pos_groups", get("conv_pos_groups", 16)),
        audio_feat_dim=whole("audio_feat_dim", get("audio_feat_dim", 104)),
        image_mean=real("image_mean", task_value("image_mean", 0.421), False),
        image_std=real("image_std", task_value("image_std", 0.165), True),
        image_crop_size=whole("image_crop_size", task_value("image_crop_size", 88)),
        finetuned=finetuned,
    )
    if config.embed_dim % config.heads or config.embed_dim % config.conv_pos_groups:
        raise CheckpointError(
            f"{source} has encoder_embed_dim={config.embed_dim}, which is not divisible by its "
            f"{config.heads} attention heads and {config.conv_pos_groups} pos_conv groups."
        )
    return config
