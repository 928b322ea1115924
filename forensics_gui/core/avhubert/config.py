"""Encoder sizes and preprocessing constants read from an AV-HuBERT checkpoint's ``cfg``.

The official checkpoints store ``cfg`` as a plain nested dict (fairseq ``OmegaConf.to_container``);
older or re-saved files may hold an OmegaConf ``DictConfig`` (or our inert stand-in of one) or an
``argparse.Namespace``. :func:`plain` turns all of these into plain Python containers.
A fine-tuned (``av_hubert_seq2seq``) checkpoint keeps the encoder's architecture under
``cfg['model']['w2v_args']['model']``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_gui.core.errors import CheckpointError

FINETUNED_PREFIX = "encoder.w2v_model."


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


def plain(obj: Any) -> Any:
    """Return ``obj`` as plain dicts/lists/scalars (OmegaConf, stand-ins and Namespaces included)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, argparse.Namespace):
        return {k: plain(v) for k, v in vars(obj).items()}
    if type(obj).__module__.startswith("omegaconf"):  # a real ListConfig (DictConfig is a Mapping)
        try:
            from omegaconf import OmegaConf

            return plain(OmegaConf.to_container(obj, resolve=True))
        except Exception:  # noqa: BLE001 - fall through to the attribute-based reading below
            pass
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and "_content" in state:
        # An OmegaConf node (real or our inert stand-in): containers keep children in _content,
        # value nodes keep the value in _val.
        return plain(state["_content"])
    if isinstance(state, dict) and "_val" in state:
        return plain(state["_val"])
    return obj


def _section(cfg: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    node: Any = cfg
    for key in keys:
        if not isinstance(node, Mapping) or node.get(key) is None:
            return None
        node = node[key]
    return node if isinstance(node, Mapping) else None


def config_from_checkpoint(ckpt: Mapping[str, Any], source: str = "the checkpoint") -> AVHubertConfig:
    """Read the encoder architecture from a loaded checkpoint dict (``cfg`` or legacy ``args``)."""
    cfg = plain(ckpt.get("cfg"))
    if not isinstance(cfg, Mapping) or not cfg:
        args = plain(ckpt.get("args"))
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
        raise CheckpointError(f"{source} uses modality_fuse={fuse!r}; only 'concat' is supported.")
    if not bool(get("layer_norm_first", True)):
        raise CheckpointError(f"{source} uses post-LN layers (layer_norm_first=false), which is not supported.")
    if str(get("activation_fn", "gelu")) != "gelu":
        raise CheckpointError(f"{source} uses activation {get('activation_fn', '')!r}; only gelu is supported.")
    if int(get("sub_encoder_layers", 0)) != 0:
        raise CheckpointError(f"{source} has per-modality sub-encoder layers, which are not supported.")
    if str(get("resnet_relu_type", "prelu")) != "prelu":
        raise CheckpointError(f"{source} uses resnet_relu_type={get('resnet_relu_type', '')!r}; only prelu is supported.")
    def task_value(key: str, default: float) -> Any:
        value = task.get(key)
        return default if value is None else value

    config = AVHubertConfig(
        embed_dim=int(get("encoder_embed_dim", 768)),
        layers=int(get("encoder_layers", 12)),
        heads=int(get("encoder_attention_heads", 12)),
        ffn_dim=int(get("encoder_ffn_embed_dim", 3072)),
        conv_pos=int(get("conv_pos", 128)),
        conv_pos_groups=int(get("conv_pos_groups", 16)),
        audio_feat_dim=int(get("audio_feat_dim", 104)),
        image_mean=float(task_value("image_mean", 0.421)),
        image_std=float(task_value("image_std", 0.165)),
        image_crop_size=int(task_value("image_crop_size", 88)),
        finetuned=finetuned,
    )
    if config.embed_dim % config.heads or config.embed_dim % config.conv_pos_groups:
        raise CheckpointError(
            f"{source} has encoder_embed_dim={config.embed_dim}, which is not divisible by its "
            f"{config.heads} attention heads and {config.conv_pos_groups} pos_conv groups."
        )
    return config
