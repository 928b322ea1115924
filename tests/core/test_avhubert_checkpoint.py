"""Loading official-layout checkpoints: layouts, dtypes, strictness, and refusing unsafe pickles."""

from __future__ import annotations

import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert, read_checkpoint
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig, config_from_checkpoint, plain
from forensics_gui.core.errors import CheckpointError
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.set_num_threads(2)
    d = tmp_path_factory.mktemp("ckpt")
    return {
        "fp16": write_fake_avhubert_checkpoint(d / "fp16.pt", seed=7),
        "fp32": write_fake_avhubert_checkpoint(d / "fp32.pt", seed=7, fp16=False),
        "ft": write_fake_avhubert_checkpoint(d / "ft.pt", seed=7, finetuned=True),
    }


def _resave(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = torch.load(src, weights_only=False) if "fairseq" in sys.modules else None
    if data is None:
        from forensics_gui.testing.checkpoints import fake_modules

        with fake_modules():
            data = torch.load(src, weights_only=False)
            edit(data)
            torch.save(data, dst)
    return dst


def _features(path: Path) -> torch.Tensor:
    model = load_avhubert(path).model
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        return model.extract_features(audio=torch.randn(1, 9, 104, generator=g),
                                      video=torch.randn(1, 1, 9, 88, 88, generator=g))


def test_checkpoint_file_has_the_official_layout(ckpts: dict[str, Path]) -> None:
    assert "fairseq" not in sys.modules and not any(m.startswith("fairseq.") for m in sys.modules)
    data = read_checkpoint(ckpts["ft"])
    assert data["args"] is None
    assert {"cfg", "model", "criterion", "optimizer_history", "task_state", "extra_state"} <= set(data)
    assert data["cfg"]["model"]["w2v_args"]["model"]["encoder_embed_dim"] == 64
    assert type(data["task_state"]["target_dictionary"]).__name__ == "Dictionary"
    assert data["task_state"]["target_dictionary"].symbols[-1] == "1"
    assert "fairseq" not in sys.modules
    state = data["model"]
    assert state["encoder.w2v_model.encoder.pos_conv.0.weight_v"].dtype == torch.float16
    assert state["encoder.w2v_model.feature_extractor_video.resnet.trunk.layer4.1.conv2.weight"].shape == (512, 512, 3, 3)
    assert any(k.startswith("decoder.") for k in state)


def test_fp16_weights_are_cast_exactly(ckpts: dict[str, Path]) -> None:
    m16 = load_avhubert(ckpts["fp16"])
    m32 = load_avhubert(ckpts["fp32"])
    assert m16.stored_dtype == "float16" and m32.stored_dtype == "float32"
    s16, s32 = m16.model.state_dict(), m32.model.state_dict()
    raw32 = read_checkpoint(ckpts["fp32"])["model"]
    for key, value in s16.items():
        assert value.dtype == s32[key].dtype
        if key == "encoder.pos_conv.0.weight":
            g = raw32["encoder.pos_conv.0.weight_g"].half().float()
            v = raw32["encoder.pos_conv.0.weight_v"].half().float()
            assert torch.equal(value, g * v / v.norm(dim=(0, 1), keepdim=True))
        elif torch.is_floating_point(value):
            assert value.dtype == torch.float32
            assert torch.equal(value, s32[key].half().float()), key


@pytest.mark.slow
def test_pretrained_and_finetuned_layouts_give_identical_features(ckpts: dict[str, Path]) -> None:
    ft = load_avhubert(ckpts["ft"])
    assert ft.config.finetuned and ft.config.state_prefix == "encoder.w2v_model."
    assert torch.equal(_features(ckpts["fp16"]), _features(ckpts["ft"]))


@pytest.mark.slow
def test_parametrization_key_names_and_omegaconf_cfg_and_legacy_format(ckpts, tmp_path: Path) -> None:
    def rename(data: dict) -> None:
        p = "encoder.pos_conv.0."
        data["model"][p + "parametrizations.weight.original0"] = data["model"].pop(p + "weight_g")
        data["model"][p + "parametrizations.weight.original1"] = data["model"].pop(p + "weight_v")

    renamed = _resave(ckpts["fp16"], tmp_path / "renamed.pt", rename)
    reference = _features(ckpts["fp16"])
    assert torch.equal(_features(renamed), reference)
    omega = write_fake_avhubert_checkpoint(tmp_path / "omega.pt", seed=7, cfg_style="omegaconf")
    assert load_avhubert(omega).config == load_avhubert(ckpts["fp16"]).config
    assert torch.equal(_features(omega), reference)
    legacy = write_fake_avhubert_checkpoint(tmp_path / "legacy.pt", seed=7, zip_format=False)
    assert not zipfile.is_zipfile(legacy)
    assert torch.equal(_features(legacy), reference)


def test_missing_key_is_named(ckpts: dict[str, Path], tmp_path: Path) -> None:
    key = "feature_extractor_video.resnet.trunk.layer2.0.relu1.weight"
    path = _resave(ckpts["fp16"], tmp_path / "missing.pt", lambda d: d["model"].pop(key))
    with pytest.raises(CheckpointError, match=r"missing 1 weight\(s\): " + key.replace(".", r"\.")):
        load_avhubert(path)
    ft_key = "encoder.w2v_model.encoder.layers.1.fc2.bias"
    path = _resave(ckpts["ft"], tmp_path / "missing_ft.pt", lambda d: d["model"].pop(ft_key))
    with pytest.raises(CheckpointError, match=ft_key.replace(".", r"\.")):
        load_avhubert(path)


def test_unexpected_encoder_key_and_wrong_shape_are_refused(ckpts: dict[str, Path], tmp_path: Path) -> None:
    def extra_layer(d: dict) -> None:
        d["model"]["encoder.layers.2.fc1.weight"] = torch.zeros(128, 64)

    with pytest.raises(CheckpointError, match=r"encoder\.layers\.2\.fc1\.weight"):
        load_avhubert(_resave(ckpts["fp16"], tmp_path / "extra.pt", extra_layer))

    def wider(d: dict) -> None:
        d["model"]["encoder.layers.0.fc1.weight"] = torch.zeros(256, 64)

    with pytest.raises(CheckpointError, match=r"shape \(256, 64\)"):
        load_avhubert(_resave(ckpts["fp16"], tmp_path / "wider.pt", wider))


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    zipped = tmp_path / "evil.pt"
    torch.save({"model": {}, "cfg": {}, "x": _RunsCommand(marker)}, zipped)
    with pytest.raises(CheckpointError, match=r"refuses to load 'evil\.pt': it asks to run (posix|os|nt)\.system, "
                                              r"which a model checkpoint never needs"):
        load_avhubert(zipped)
    raw = tmp_path / "evil_raw.pt"
    raw.write_bytes(pickle.dumps({"a": _RunsCommand(marker)}, protocol=2))
    with pytest.raises(CheckpointError, match=r"(posix|os|nt)\.system"):
        load_avhubert(raw)
    raw.write_bytes(pickle.dumps([_Evals()], protocol=4))
    with pytest.raises(CheckpointError, match=r"builtins\.eval"):
        read_checkpoint(raw)
    # a protocol-4 dotted name reaching through an allowed class is refused too
    raw.write_bytes(b"\x80\x04\x8c\x0bcollections\x94\x8c\x14OrderedDict.fromkeys\x94\x93\x94.")
    with pytest.raises(CheckpointError, match=r"collections\.OrderedDict\.fromkeys"):
        read_checkpoint(raw)
    assert not marker.exists()
    # plain pickle really would run it: the test would notice if the payload were inert
    pickle.loads(pickle.dumps(_RunsCommand(marker)))
    assert marker.exists()


def test_protocol_2_spellings_of_allowed_builtins_load(tmp_path: Path) -> None:
    # torch.save pickles with protocol 2, which names builtins.set "__builtin__ set" and
    # copyreg._reconstructor "copy_reg _reconstructor"; both are on the allow-list.
    path = tmp_path / "sets.pt"
    cfg = {"langs": {"en", "de"}, "span": slice(1, 3), "frozen": frozenset({2})}
    torch.save({"model": {}, "cfg": cfg}, path)
    assert b"__builtin__" in zipfile.ZipFile(path).read("sets/data.pkl")
    assert read_checkpoint(path)["cfg"] == cfg
    raw = tmp_path / "evil_p2.pt"
    raw.write_bytes(pickle.dumps([_Evals()], protocol=2))
    assert b"__builtin__\neval" in raw.read_bytes()
    with pytest.raises(CheckpointError, match=r"builtins\.eval"):
        read_checkpoint(raw)


@pytest.mark.parametrize("kind", ["random", "zip", "phi", "no_model", "empty", "absent", "list", "script"])
def test_files_that_are_not_avhubert_checkpoints(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.pt"
    expected = {
        "random": "not a readable PyTorch checkpoint", "zip": "not a readable PyTorch checkpoint",
        "phi": "AVH-Align \\(Phi\\) checkpoint", "no_model": "no 'model' weights",
        "empty": "is empty", "absent": "does not exist", "list": "holds a list",
        "script": "is a TorchScript model",
    }[kind]
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    elif kind == "phi":
        torch.save({"epoch": 3, "state_dict": {"visual_proj.weight": torch.zeros(2, 2),
                                               "mlp.0.weight": torch.zeros(2, 2)}}, path)
    elif kind == "no_model":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "list":
        torch.save([torch.zeros(1)], path)
    elif kind == "script":  # the layout torch.jit.save writes (torch.load would jit-load it)
        with zipfile.ZipFile(path, "w") as zf:
            for name in ("data.pkl", "constants.pkl", "code/__torch__.py", "version"):
                zf.writestr(f"model/{name}", b"x")
    with pytest.raises(CheckpointError, match=expected):
        load_avhubert(path)


def test_config_reading() -> None:
    large = {"model": {"encoder_embed_dim": 1024, "encoder_layers": 24, "encoder_attention_heads": 16,
                       "encoder_ffn_embed_dim": 4096}, "task": {"image_mean": 0.5}}
    cfg = config_from_checkpoint({"cfg": large})
    assert cfg.size_name == "LARGE" and cfg.image_mean == 0.5 and cfg.image_std == 0.165
    assert not cfg.finetuned
    ft = config_from_checkpoint({"cfg": {"model": {"_name": "av_hubert_seq2seq", "decoder_embed_dim": 1,
                                                    "w2v_args": {"model": {"encoder_embed_dim": 768}}}}})
    assert ft.finetuned and ft.size_name == "BASE" and ft == AVHubertConfig(embed_dim=768, layers=12, heads=12,
                                                                            ffn_dim=3072, finetuned=True)
    with pytest.raises(CheckpointError, match="modality_fuse='add'"):
        config_from_checkpoint({"cfg": {"model": {"modality_fuse": "add"}}})
    with pytest.raises(CheckpointError, match="neither 'cfg' nor 'args'"):
        config_from_checkpoint({"model": {}})
    import argparse

    legacy = config_from_checkpoint({"cfg": None, "args": argparse.Namespace(encoder_embed_dim=1024, encoder_attention_heads=16,
                                                                            encoder_layers=24)})
    assert legacy.embed_dim == 1024 and legacy.layers == 24
    assert plain({"a": (1, io.BytesIO)}) == {"a": [1, io.BytesIO]}


# --------------------------------------------------------------------------- what real files hold

@pytest.mark.parametrize(("finetuned", "cfg_style", "zip_format", "fp16"), [
    (True, "dict", False, True),  # legacy (pre-zip) format with fairseq objects and sentencepiece
    (False, "omegaconf", True, False),  # older fairseq: cfg as pickled DictConfig, fp32
    (True, "omegaconf", False, True),
    (True, "args", True, True),  # fairseq before hydra: argparse.Namespace under args, cfg None
    (False, "args", False, False),
], ids=["legacy-ft-fp16", "omegaconf-pt-fp32", "legacy-omegaconf-ft-fp16", "args-ft-fp16",
        "legacy-args-pt-fp32"])
@pytest.mark.slow
def test_every_fairseq_layout_gives_the_same_features(finetuned: bool, cfg_style: str, zip_format: bool,
                                                      fp16: bool, ckpts: dict[str, Path], tmp_path: Path) -> None:
    path = write_fake_avhubert_checkpoint(tmp_path / "v.pt", seed=7, finetuned=finetuned, cfg_style=cfg_style,
                                          zip_format=zip_format, fp16=fp16)
    assert zipfile.is_zipfile(path) == zip_format
    data = read_checkpoint(path)
    assert (data["cfg"] is None) == (cfg_style == "args")
    if cfg_style == "omegaconf":
        assert type(data["cfg"]).__name__ == "DictConfig"
        assert type(data["cfg"]._metadata.ref_type).__name__ == "GlobalReference"  # typing.Any
    loaded = load_avhubert(path)
    assert loaded.config.finetuned == finetuned
    assert loaded.stored_dtype == ("float16" if fp16 else "float32")
    assert torch.equal(_features(path), _features(ckpts["fp16" if fp16 else "fp32"]))


def test_finetuned_file_holds_sentencepiece_with_protocol_2_names(ckpts: dict[str, Path]) -> None:
    from forensics_gui.core.files.unpickler import GlobalReference

    pkl = zipfile.ZipFile(ckpts["ft"]).read("ft/data.pkl")
    assert pkl[:2] == b"\x80\x02"  # torch.save writes protocol 2 ...
    assert b"c__builtin__\nlong\n" in pkl  # ... so the int type is spelled __builtin__ long
    assert b"csentencepiece\nSentencePieceProcessor\n" in pkl
    sp = read_checkpoint(ckpts["ft"])["task_state"]["s2s_tokenizer"].sp
    assert sp._return_type == GlobalReference("builtins", "int")
    assert isinstance(sp.model_proto, bytes)  # _codecs.encode(..., 'latin1'): bytes, not text
    assert "sentencepiece" not in sys.modules


def test_real_omegaconf_dictconfig_cfg(ckpts: dict[str, Path], tmp_path: Path) -> None:
    omegaconf = pytest.importorskip("omegaconf")
    from forensics_gui.testing.checkpoints import fairseq_cfg

    cfg = omegaconf.OmegaConf.create(fairseq_cfg(2, 64, 4, 128, finetuned=True))
    path = tmp_path / "omega_real.pt"
    torch.save({"cfg": cfg, "args": None, "model": {}}, path)
    names = zipfile.ZipFile(path).read("omega_real/data.pkl")
    assert b"omegaconf.base\nContainerMetadata" in names and b"typing\nAny" in names
    data = read_checkpoint(path)
    assert type(data["cfg"]).__module__ != "omegaconf.dictconfig"  # a stand-in: no omegaconf code
    config = config_from_checkpoint(data)
    assert config.finetuned and (config.embed_dim, config.layers, config.heads) == (64, 2, 4)


@pytest.mark.parametrize("finetuned", [False, True], ids=["pretrained", "finetuned"])
@pytest.mark.parametrize(("size", "dims"), [("BASE", (12, 768, 12, 3072)), ("LARGE", (24, 1024, 16, 4096))])
def test_base_and_large_configs_and_key_layout(size: str, dims: tuple[int, int, int, int], finetuned: bool) -> None:
    """The released sizes, checked on shape-only tensors (no gigabytes of random weights)."""
    from forensics_gui.core.encoder.avhubert.checkpoint import (
        check_architecture_fits,
        convert_state_dict,
    )
    from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder
    from forensics_gui.testing.checkpoints import fairseq_cfg

    config = config_from_checkpoint({"cfg": fairseq_cfg(*dims, finetuned=finetuned)})
    assert config.size_name == size and config.finetuned == finetuned
    with torch.device("meta"):
        model = AVHubertEncoder(config)
    actual = sum(v.numel() for v in model.state_dict().values())
    assert 0.95 * actual <= config.parameter_count <= actual  # a lower bound, and a close one
    state = {config.state_prefix + k: torch.empty(v.shape, dtype=torch.float16, device="meta")
             for k, v in model.state_dict().items() if k != "encoder.pos_conv.0.weight"}
    d, k = dims[1], config.conv_pos
    state[config.state_prefix + "encoder.pos_conv.0.weight_g"] = torch.empty(1, 1, k, device="meta")
    state[config.state_prefix + "encoder.pos_conv.0.weight_v"] = torch.empty(d, d // 16, k, device="meta")
    assert set(convert_state_dict(state, config, model)) == set(model.state_dict())
    check_architecture_fits(config, 2 * actual, "'x.pt'")
    with pytest.raises(CheckpointError, match=rf"has a cfg describing an encoder of .* \({size}\), more than its "):
        check_architecture_fits(config, actual, "'x.pt'")


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("encoder_attention_heads", 0, r"encoder_attention_heads=0 in its cfg, which is not a whole number from 1"),
    ("encoder_layers", "12L", r"encoder_layers='12L' in its cfg"),
    ("encoder_layers", 20_000, r"encoder_layers=20000 in its cfg"),
    ("encoder_layers", 12.5, r"encoder_layers=12\.5 in its cfg"),
    ("encoder_embed_dim", True, r"encoder_embed_dim=True in its cfg"),
    ("conv_pos_groups", 7, r"not divisible by its 12 attention heads and 7 pos_conv groups"),
])
def test_cfg_values_that_cannot_describe_an_encoder(field: str, value: object, expected: str) -> None:
    cfg = {"model": {"encoder_embed_dim": 768, "encoder_attention_heads": 12, field: value}}
    with pytest.raises(CheckpointError, match=expected):
        config_from_checkpoint({"cfg": cfg}, "'x.pt'")
    assert config_from_checkpoint({"cfg": {"model": {"encoder_layers": 24.0}}}).layers == 24


def test_self_referencing_and_deep_cfgs_are_one_sentence() -> None:
    cyclic: dict = {"model": {}}
    cyclic["model"]["w2v_args"] = cyclic
    with pytest.raises(CheckpointError, match="has a cfg that refers to itself"):
        config_from_checkpoint({"cfg": cyclic}, "'x.pt'")
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(CheckpointError, match="has a cfg that nests deeper than 64 levels"):
        config_from_checkpoint({"cfg": {"model": deep}}, "'x.pt'")
