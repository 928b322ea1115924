"""Random-weight AV-HuBERT checkpoints in the official fairseq layout, for tests and benchmarks.

The file looks like what fairseq's trainer saves (``torch.save``: pickle protocol 2, so Python 3
names are written as Python 2 ones, ``int`` as ``__builtin__ long``): a top-level dict with
``args=None``, ``cfg`` (plain nested dict, fairseq key names), ``model`` (state dict, fp16 when
asked, ``pos_conv`` as ``weight_g``/``weight_v``), ``criterion``, ``optimizer_history``,
``extra_state`` and ``task_state`` holding pickled objects whose classes live in ``fairseq.*``
modules; a fine-tuned file's ``s2s_tokenizer`` wraps a ``sentencepiece.SentencePieceProcessor``
whose state names the ``int`` type and holds the model proto as bytes, as the released
``self_large_vox_433h.pt`` does. Older layouts: ``cfg_style="omegaconf"`` pickles ``cfg`` as
OmegaConf ``DictConfig``/``ListConfig``/``AnyNode`` objects with their metadata (``typing.Any``,
``dict``/``list`` types, a ``defaultdict(dict)`` resolver cache, parent links, a fairseq enum
member), the global names real OmegaConf writes; ``cfg_style="args"`` stores an
``argparse.Namespace`` under ``args`` and ``cfg=None`` (fairseq before hydra). Those modules exist
only while saving, so loading the file really needs no fairseq, omegaconf or sentencepiece. The
video ResNet always has the real ResNet-18 sizes; only the transformer is shrunk.
"""

from __future__ import annotations

import argparse
import collections
import enum
import sys
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_FAKE_CLASSES = {
    "fairseq.data.dictionary": ("Dictionary",),
    "fairseq.data.encoders.sentencepiece_bpe": ("SentencepieceBPE",),
    "fairseq.dataclass.constants": ("DDP_BACKEND_CHOICES",),
    "sentencepiece": ("SentencePieceProcessor",),
    "omegaconf.dictconfig": ("DictConfig",),
    "omegaconf.listconfig": ("ListConfig",),
    "omegaconf.nodes": ("AnyNode",),
    "omegaconf.base": ("ContainerMetadata", "Metadata"),
}


class _DdpBackendChoices(enum.Enum):
    """Stands for fairseq's ``DDP_BACKEND_CHOICES`` (a ``ChoiceEnum``) while saving."""

    C10D = "c10d"
    NO_C10D = "no_c10d"


@contextmanager
def fake_modules() -> Iterator[dict[str, type]]:
    """Temporarily register throw-away ``fairseq``/``omegaconf`` modules with one class each."""
    names: set[str] = set()
    for dotted in _FAKE_CLASSES:
        parts = dotted.split(".")
        names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    classes: dict[str, type] = {}
    try:
        for name in sorted(names):
            sys.modules[name] = types.ModuleType(name)
        for name in sorted(names):
            if "." in name:
                parent, child = name.rsplit(".", 1)
                setattr(sys.modules[parent], child, sys.modules[name])
        for module, cls_names in _FAKE_CLASSES.items():
            for cls_name in cls_names:
                cls: type
                if cls_name.endswith("_CHOICES"):  # fairseq's ChoiceEnum: an enum.Enum
                    cls = _DdpBackendChoices
                    cls.__module__, cls.__qualname__ = module, cls_name
                else:
                    cls = type(cls_name, (), {"__module__": module, "__qualname__": cls_name})
                setattr(sys.modules[module], cls_name, cls)
                classes[f"{module}.{cls_name}"] = cls
        yield classes
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def model_cfg(layers: int, dim: int, heads: int, ffn: int) -> dict[str, Any]:
    """``cfg['model']`` of a pretrained AV-HuBERT as fairseq names its fields."""
    return {
        "_name": "av_hubert", "label_rate": 25, "input_modality": "image", "extractor_mode": "default",
        "encoder_layers": layers, "encoder_embed_dim": dim, "encoder_ffn_embed_dim": ffn,
        "encoder_attention_heads": heads, "activation_fn": "gelu", "dropout": 0.1,
        "attention_dropout": 0.1, "activation_dropout": 0.0, "encoder_layerdrop": 0.05,
        "dropout_input": 0.1, "dropout_features": 0.1, "final_dim": 256, "untie_final_proj": True,
        "layer_norm_first": True, "conv_feature_layers": "[(512,10,5)] + [(512,2,2)] * 2",
        "conv_bias": False, "logit_temp": 0.1, "target_glu": False, "feature_grad_mult": 1.0,
        "mask_length_audio": 10, "mask_prob_audio": 0.8, "mask_length_image": 5,
        "mask_prob_image": 0.3, "conv_pos": 128, "conv_pos_groups": 16, "latent_temp": [2.0, 0.5, 0.999995],
        "skip_masked": False, "skip_nomask": False, "resnet_relu_type": "prelu",
        "resnet_weights": None, "sim_type": "cosine", "sub_encoder_layers": 0,
        "audio_feat_dim": 104, "modality_dropout": 0.5, "audio_dropout": 0.5,
        "modality_fuse": "concat", "selection_type": "same_other_seq", "masking_type": "input",
        "decoder_embed_dim": 768, "decoder_layers": 6,
    }


def task_cfg() -> dict[str, Any]:
    return {
        "_name": "av_hubert_pretraining", "data": "/data", "labels": ["km"], "label_rate": 25,
        "sample_rate": 25, "normalize": True, "stack_order_audio": 4, "image_aug": True,
        "image_mean": 0.421, "image_std": 0.165, "image_crop_size": 88, "pad_audio": False,
        "modalities": ["video", "audio"], "max_sample_size": 500,
    }


def fairseq_cfg(layers: int, dim: int, heads: int, ffn: int, finetuned: bool) -> dict[str, Any]:
    """The whole ``cfg`` fairseq saves (plain dicts): a fine-tuned one keeps the pretrained
    model's cfg under ``model.w2v_args``, as the released checkpoints do."""
    model_section = model_cfg(layers, dim, heads, ffn)
    task = task_cfg()
    if finetuned:
        model_section = {
            "_name": "av_hubert_seq2seq", "w2v_path": "/checkpoint/large_vox_iter5.pt",
            "apply_mask": False, "freeze_finetune_updates": 22500, "decoder_embed_dim": dim,
            "decoder_layers": 1, "w2v_args": {"_name": None, "model": model_section, "task": task,
                                              "common": {"fp16": True}},
        }
        task = {**task, "_name": "av_hubert_pretraining", "labels": ["wrd"], "fine_tuning": True}
    return {"_name": None, "common": {"fp16": True, "seed": 1337}, "model": model_section, "task": task,
            "criterion": {"_name": "label_smoothed_cross_entropy" if finetuned else "av_hubert"},
            "optimization": {"max_update": 400000, "lr": [0.002]}}


def _random_state(layers: int, dim: int, heads: int, ffn: int, seed: int) -> dict[str, Any]:
    """Official-named encoder state (fp32) with every tensor randomised, pos_conv as g/v."""
    import torch

    from forensics_gui.core.encoder.avhubert.config import AVHubertConfig
    from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder

    config = AVHubertConfig(embed_dim=dim, layers=layers, heads=heads, ffn_dim=ffn)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = AVHubertEncoder(config)
    state: dict[str, Any] = {}
    for key, value in model.state_dict().items():
        if key.startswith("encoder.pos_conv.0.weight"):
            continue
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=gen)
        elif key.endswith("running_mean") or (key.endswith(".bias") and value.dim() == 1):
            state[key] = 0.1 * torch.randn(value.shape, generator=gen)
        elif ("norm" in key or ".bn" in key or "frontend3D.1" in key or "downsample.1" in key) \
                and key.endswith("weight"):
            state[key] = 0.75 + 0.5 * torch.rand(value.shape, generator=gen)
        elif "relu" in key or "frontend3D.2" in key:
            state[key] = 0.1 + 0.3 * torch.rand(value.shape, generator=gen)  # PReLU slopes
        else:
            fan_in = value[0].numel() if value.dim() > 1 else value.numel()
            state[key] = torch.randn(value.shape, generator=gen) / fan_in ** 0.5
    k = config.conv_pos
    state["encoder.pos_conv.0.weight_v"] = torch.randn(dim, dim // config.conv_pos_groups, k, generator=gen)
    state["encoder.pos_conv.0.weight_g"] = 0.5 + torch.rand(1, 1, k, generator=gen)
    state["mask_emb"] = torch.randn(104, generator=gen)
    state["label_embs_concat"] = torch.randn(2 * 100, 256, generator=gen)
    state["final_proj.weight"] = torch.randn(256 * 2, dim, generator=gen)
    state["final_proj.bias"] = torch.zeros(256 * 2)
    return state


def write_fake_avhubert_checkpoint(path: str | Path, *, layers: int = 2, dim: int = 64, heads: int = 4,
                                   ffn: int = 128, finetuned: bool = False, fp16: bool = True,
                                   seed: int = 0, cfg_style: str = "dict",
                                   zip_format: bool = True, edit: typing.Callable[[dict[str, Any]], None] | None = None
                                   ) -> Path:
    """Write a random-weight AV-HuBERT checkpoint in the official layout; returns ``path``.

    Same ``seed`` and sizes give the same encoder weights whether ``finetuned`` (keys under
    ``encoder.w2v_model.``, architecture under ``cfg['model']['w2v_args']['model']``, plus
    ``decoder.*`` keys) or pretrained. ``cfg_style``: ``"dict"`` (today's fairseq),
    ``"omegaconf"`` (pickled ``DictConfig`` objects) or ``"args"`` (``argparse.Namespace`` under
    ``args``, ``cfg=None``); ``zip_format=False`` uses torch's legacy (pre-1.6) serialization.
    ``edit`` may change the payload (a dict) just before it is saved, while the fake modules exist.
    """
    import numpy as np
    import torch

    path = Path(path)
    state = _random_state(layers, dim, heads, ffn, seed)
    if finetuned:
        state = {"encoder.w2v_model." + k: v for k, v in state.items()}
        gen = torch.Generator().manual_seed(seed + 1)
        for name, shape in {"decoder.embed_tokens.weight": (1000, dim), "decoder.embed_out": (1000, dim),
                            "decoder.layers.0.fc1.weight": (ffn, dim),
                            "decoder.layers.0.fc1.bias": (ffn,), "decoder.layer_norm.weight": (dim,),
                            "decoder.embed_positions._float_tensor": (1,)}.items():
            state[name] = torch.randn(shape, generator=gen)
    if fp16:
        state = {k: v.half() if torch.is_floating_point(v) else v for k, v in state.items()}
    cfg: Any = fairseq_cfg(layers, dim, heads, ffn, finetuned)
    model_section, task = cfg["model"], cfg["task"]
    with fake_modules() as classes:
        dictionary_cls = classes["fairseq.data.dictionary.Dictionary"]
        dictionary = dictionary_cls()
        dictionary.__dict__.update({"bos_word": "<s>", "unk_word": "<unk>", "pad_word": "<pad>",
                                    "eos_word": "</s>", "symbols": ["<s>", "<pad>", "</s>", "<unk>", "1"],
                                    "count": [1, 1, 1, 1, 5], "indices": {"1": 4}, "nspecial": 4})
        task_state: dict[str, Any] = {"dictionaries": [dictionary]}
        if finetuned:
            processor = classes["sentencepiece.SentencePieceProcessor"]()
            processor.__dict__.update({  # what SentencePieceProcessor pickles: names the int type
                "_return_type": int, "_add_bos": False, "_add_eos": False, "_reverse": False,
                "_emit_unk_piece": False, "_enable_sampling": False, "_nbest_size": -1,
                "_alpha": 0.1, "_num_threads": -1,
                "model_proto": b"\n\x0c\n\x03<s>\x15\x00\x00\x00\x00\x18\x03\xe2\x96\x81the"})
            bpe = classes["fairseq.data.encoders.sentencepiece_bpe.SentencepieceBPE"]()
            bpe.__dict__.update({"enable_sampling": False, "alpha": None, "sp": processor})
            task_state = {"target_dictionary": dictionary, "s2s_tokenizer": bpe}
        args = None
        if cfg_style == "omegaconf":
            cfg["common"]["ddp_backend"] = classes["fairseq.dataclass.constants.DDP_BACKEND_CHOICES"]("c10d")
            cfg = _to_fake_omegaconf(cfg, classes, None)
        elif cfg_style == "args":
            flat = {**task, **(model_section if not finetuned else model_section["w2v_args"]["model"])}
            args, cfg = argparse.Namespace(**flat, arch="av_hubert", task="av_hubert_pretraining"), None
        payload = {
            "args": args, "cfg": cfg, "model": state, "criterion": None,
            "optimizer_history": [{"criterion_name": "AVHubertCriterion", "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {"best": None}, "num_updates": 400000}],
            "task_state": task_state,
            "extra_state": {"epoch": 12, "best": np.float64(1.25), "train_iterator": {"epoch": 12},
                            "previous_training_time": 1.0e5, "metrics": {},
                            "loss_trace": np.arange(3, dtype=np.float32)},
        }
        if edit is not None:
            edit(payload)
        torch.save(payload, path, _use_new_zipfile_serialization=zip_format)
    return path


def _metadata(classes: dict[str, type], container: bool, object_type: type | None) -> Any:
    """OmegaConf's node metadata, with the references real OmegaConf pickles (typing.Any, types)."""
    meta = classes["omegaconf.base.ContainerMetadata" if container else "omegaconf.base.Metadata"]()
    meta.__dict__.update({"ref_type": typing.Any, "object_type": object_type, "optional": True,
                          "key": None, "flags": {}, "flags_root": False,
                          "resolver_cache": collections.defaultdict(dict)})
    if container:
        meta.__dict__.update({"key_type": typing.Any, "element_type": typing.Any})
    return meta


def _to_fake_omegaconf(node: Any, classes: dict[str, type], parent: Any) -> Any:
    if isinstance(node, (dict, list)):
        kind = "omegaconf.dictconfig.DictConfig" if isinstance(node, dict) else "omegaconf.listconfig.ListConfig"
        obj = classes[kind]()
        obj.__dict__.update({"_metadata": _metadata(classes, True, type(node)), "_parent": parent})
        items = node.items() if isinstance(node, dict) else enumerate(node)
        content = {k: _to_fake_omegaconf(v, classes, obj) for k, v in items}
        obj.__dict__["_content"] = content if isinstance(node, dict) else list(content.values())
        return obj
    leaf = classes["omegaconf.nodes.AnyNode"]()
    leaf.__dict__.update({"_metadata": _metadata(classes, False, None), "_parent": parent, "_val": node})
    return leaf
