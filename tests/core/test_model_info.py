"""`models check` / `models list`: what a model file is, read without running anything from it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

from forensics_gui.cli import main
from forensics_gui.core.errors import Cancelled, CheckpointError
from forensics_gui.core.files import hashing as file_hashing
from forensics_gui.core.models import registry as models_registry
from forensics_gui.core.models.info import compatibility, inspect_model_file
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.phi import random_phi_module, write_published_phi, write_supervised_phi
from forensics_gui.testing.progress import RecordingProgress

OFFICIAL = Path(__file__).resolve().parents[2] / "../shared/fixtures/avhubert-official"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("model_files")
    return {
        "finetuned_fp16": write_fake_avhubert_checkpoint(d / "ft16.pt", layers=2, dim=64, heads=4,
                                                         ffn=128, finetuned=True, fp16=True),
        "pretrained_fp32": write_fake_avhubert_checkpoint(d / "pre32.pt", layers=1, dim=48, heads=3,
                                                          ffn=96, fp16=False, zip_format=False,
                                                          cfg_style="omegaconf"),
        "phi1024": write_published_phi(d / "phi1024.pt", visual_dim=1024, audio_dim=1024),
        "phi768": write_published_phi(d / "phi768.pt", visual_dim=768, audio_dim=768),
        "phi64": write_published_phi(d / "phi64.pt", visual_dim=64, audio_dim=64),
        "sup_mlp": write_supervised_phi(d / "sup_mlp.ckpt", 64, 64, variant="mlp", prefix="model."),
        "sup_linear": write_supervised_phi(d / "sup_linear.ckpt", 64, 64, variant="linear"),
    }


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point the registry at a temporary file; returns a function writing its entries."""
    path = tmp_path / "registry.json"
    monkeypatch.setattr(models_registry, "REGISTRY_FILE", path)
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "user_models"))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_hashing, "_memory_cache", {})

    def write(*entries: tuple[str, str, str | None]) -> None:
        models = [{"name": n, "kind": k, "role": "default" if i == 0 else "alternative",
                   "description": "", "approx_size": "", "sha256": digest, "license": "",
                   "source": ""} for i, (n, k, digest) in enumerate(entries)]
        path.write_text(json.dumps({"version": 1, "models": models}))

    write()
    return write


# ------------------------------------------------------------------ AV-HuBERT


def test_finetuned_fp16_checkpoint_is_described(files, registry) -> None:
    path = files["finetuned_fp16"]
    progress = RecordingProgress()
    info = inspect_model_file(path, progress)
    assert info.kind == "avhubert_finetuned" and info.kind_label == "AV-HuBERT fine-tuned"
    assert (info.embed_dim, info.layers, info.heads, info.ffn_dim) == (64, 2, 4, 128)
    assert info.size_name == "custom" and info.precision == "fp16"
    assert info.sha256 == sha(path) and info.size_bytes == path.stat().st_size
    assert info.serves_as == ("feature extractor",) and info.feature_dim == 64
    # The decoder is stored but is not part of the feature extractor.
    assert 0 < info.parameters < info.stored_parameters
    assert "in the encoder" in info.parameters_text
    assert [c[0] for c in progress.calls][0] == "hash" and progress.calls[-1] == ("read", 1, 1)
    summary = dict(info.summary())
    assert summary["kind"] == "AV-HuBERT fine-tuned"
    assert summary["sizes"] == "custom (embed dim 64, 2 layers, 4 heads, FFN 128)"
    assert summary["can serve as"] == "feature extractor (64-dim features)"
    assert summary["registry"] == "unknown file: no registry entry has this SHA-256"


def test_pretrained_fp32_legacy_omegaconf_checkpoint_says_features_differ(files, registry) -> None:
    info = inspect_model_file(files["pretrained_fp32"])
    assert info.kind == "avhubert_pretrained" and info.precision == "fp32"
    assert (info.embed_dim, info.layers, info.heads, info.ffn_dim) == (48, 1, 3, 96)
    assert info.serves_as == ("feature extractor",)
    assert any("Pretrained only" in n and "self_large_vox_433h.pt" in n for n in info.notes)
    # The pretraining heads (final_proj, label_embs_concat, mask_emb) are not encoder weights.
    assert info.parameters < info.stored_parameters


def test_parameter_count_matches_the_loaded_encoder(files, registry) -> None:
    from forensics_gui.core.encoder.avhubert import load_avhubert

    loaded = load_avhubert(files["finetuned_fp16"])
    params = sum(p.numel() for p in loaded.model.parameters())
    info = inspect_model_file(files["finetuned_fp16"])
    # pos_conv is stored as weight_g [1,1,K] + weight_v, the encoder holds the folded weight.
    k = loaded.config.conv_pos
    assert info.parameters == params + k


def test_encoder_with_a_missing_weight_cannot_serve(tmp_path, files, registry) -> None:
    import torch

    from forensics_gui.core.encoder.avhubert.checkpoint import read_checkpoint
    from forensics_gui.testing.checkpoints import model_cfg, task_cfg

    state = dict(read_checkpoint(files["pretrained_fp32"])["model"])
    del state["encoder.layers.0.fc1.weight"]
    broken = tmp_path / "broken.pt"
    torch.save({"cfg": {"model": model_cfg(1, 48, 3, 96), "task": task_cfg()}, "model": state}, broken)
    info = inspect_model_file(broken)
    assert info.kind == "avhubert_pretrained" and info.serves_as == ()
    assert "missing 1 weight(s): encoder.layers.0.fc1.weight" in info.not_usable_reason
    assert info.serves_as_text.startswith("nothing here: ")
    # A cfg that claims a LARGE encoder in a small file is refused before any model is built.
    claims = tmp_path / "claims_large.pt"
    torch.save({"cfg": {"model": model_cfg(24, 1024, 16, 4096), "task": task_cfg()}, "model": state},
               claims)
    info = inspect_model_file(claims)
    assert info.size_name == "LARGE" and info.serves_as == ()
    assert "more than its" in info.not_usable_reason and "bytes can hold" in info.not_usable_reason


def test_official_fixture_is_a_tiny_finetuned_fp16_model(registry) -> None:
    path = OFFICIAL / "avhubert_tiny_finetuned_fp16.pt"
    if not path.is_file():
        pytest.skip("../shared/fixtures/avhubert-official is not available")
    before = sha(path)
    info = inspect_model_file(path)
    assert info.kind == "avhubert_finetuned"
    assert (info.embed_dim, info.layers, info.heads, info.ffn_dim) == (96, 3, 3, 192)
    assert info.precision == "fp16" and info.serves_as == ("feature extractor",)
    assert info.sha256 == before == sha(path)


# ------------------------------------------------------------------ Phi


def test_published_phi_1024_and_768(files, registry) -> None:
    big = inspect_model_file(files["phi1024"])
    assert big.kind == "phi" and big.kind_label == "AVH-Align Phi" and big.variant == "mlp"
    assert big.input_dims == (1024, 1024) and big.size_name == "published"
    assert big.projection_dims == (512, 512) and big.hidden_dims == (512, 256, 128)
    assert big.parameters == sum(p.numel() for p in random_phi_module(1024, 1024).parameters())
    assert big.precision == "fp32" and big.serves_as == ("Phi",) and big.feature_dim == 1024
    assert dict(big.summary())["sizes"] == ("published (input features 1024-dim visual / 1024-dim "
                                            "audio, projections 512/512, hidden 512/256/128)")
    small = inspect_model_file(files["phi768"])
    assert small.input_dims == (768, 768) and small.size_name == "custom"


def test_supervised_lightning_checkpoints(files, registry) -> None:
    mlp = inspect_model_file(files["sup_mlp"])
    assert mlp.kind == "phi_supervised" and mlp.variant == "mlp"
    assert mlp.kind_label == "AVH-Align/sup supervised Phi (mlp variant)"
    assert mlp.hidden_dims == (64, 32, 16) and mlp.serves_as == ("supervised Phi",)
    assert any("not an unsupervised Phi" in n for n in mlp.notes)
    linear = inspect_model_file(files["sup_linear"])
    assert linear.kind_label == "AVH-Align/sup supervised Phi (linear variant)"
    assert linear.input_dims == (64, 64) and linear.parameters == 129 and linear.hidden_dims == ()


def test_fp16_phi_precision(tmp_path, registry) -> None:
    import torch

    path = tmp_path / "half.pt"
    module = random_phi_module(32, 32)
    torch.save({"state_dict": {k: v.half() for k, v in module.state_dict().items()}}, path)
    info = inspect_model_file(path)
    assert info.kind == "phi" and info.precision == "fp16"


# ------------------------------------------------------------------ compatibility


def test_phi_for_base_features_cannot_score_large_features(files, registry) -> None:
    extractor = inspect_model_file(files["finetuned_fp16"])
    large = dataclasses.replace(extractor, embed_dim=1024, size_name="LARGE")
    result = compatibility(large, inspect_model_file(files["phi768"]))
    assert result.level == "incompatible" and not result.fits
    assert result.message.startswith("'phi768.pt' was trained on 768-dim features (AV-HuBERT BASE) "
                                     "and cannot score the 1024-dim features of 'ft16.pt' (LARGE)")
    assert compatibility(large, inspect_model_file(files["phi1024"])).fits


def test_pretrained_extractor_gives_other_features_than_avh_align_used(files, registry) -> None:
    pre = inspect_model_file(files["pretrained_fp32"])
    phi = dataclasses.replace(inspect_model_file(files["phi64"]), input_dims=(48, 48))
    result = compatibility(pre, phi)
    assert result.level == "warning" and result.fits
    assert "'pre32.pt' is a pretrained AV-HuBERT: its features differ from those of the " \
           "fine-tuned self_large_vox_433h.pt" in result.message


def test_supervised_is_not_an_unsupervised_phi(files, registry) -> None:
    extractor = inspect_model_file(files["finetuned_fp16"])
    sup = inspect_model_file(files["sup_mlp"])
    as_phi = compatibility(extractor, sup)
    assert as_phi.level == "warning"
    assert "is a supervised AVH-Align/sup checkpoint, not an unsupervised Phi" in as_phi.message
    assert compatibility(extractor, sup, role="supervised Phi").level == "ok"


def test_phi_trained_here_knows_its_extractor(tmp_path, files, registry) -> None:
    import torch

    extractor = inspect_model_file(files["finetuned_fp16"])
    path = tmp_path / "phi_trained.pt"
    torch.save({"state_dict": random_phi_module(64, 64).state_dict(), "best_val_loss": 1.0,
                "forensics_gui": {"feature_checkpoint_sha256": [extractor.sha256],
                                  "training_files": [{"path": "a.npz"}]}}, path)
    phi = inspect_model_file(path)
    assert phi.trained_on_sha256 == (extractor.sha256,)
    ok = compatibility(extractor, phi)
    assert ok.level == "ok" and "trained on features of this very checkpoint 'ft16.pt'" in ok.message
    other = dataclasses.replace(extractor, sha256="0" * 64)
    bad = compatibility(other, phi)
    assert bad.level == "warning" and "another AV-HuBERT checkpoint" in bad.message


def test_a_phi_is_not_a_feature_extractor(files, registry) -> None:
    phi = inspect_model_file(files["phi64"])
    result = compatibility(phi, phi)
    assert result.level == "incompatible"
    assert result.message == "'phi64.pt' cannot serve as the feature extractor: it is an AVH-Align Phi."


# ------------------------------------------------------------------ registry


def test_registry_match_verified_not_verifiable_and_differs(tmp_path, files, registry) -> None:
    path = files["phi64"]
    registry(("AVH-Align_AV1M.pt", "phi", sha(path)))
    assert inspect_model_file(path).registry.text == "verified: SHA-256 matches AVH-Align_AV1M.pt"
    named = tmp_path / "AVH-Align_AV1M.pt"
    named.write_bytes(path.read_bytes())
    registry(("AVH-Align_AV1M.pt", "phi", None))
    text = inspect_model_file(named).registry.text
    assert text.startswith("not verifiable: named like AVH-Align_AV1M.pt") and "verified:" not in text
    registry(("AVH-Align_AV1M.pt", "phi", "ab" * 32))
    assert inspect_model_file(named).registry.state == "differs"


# ------------------------------------------------------------------ bad files


def _malicious(path: Path, marker: Path) -> Path:
    import pickle

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"model": Evil()}, protocol=2))
    return path


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pt"
    text.write_text("hello, this is not a checkpoint\n" * 20)
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    return {
        "missing": (tmp_path / "nope.pt", "does not exist"),
        "empty": (empty, "is empty"),
        "folder": (tmp_path, "is a folder"),
        "fifo": (fifo, "is not a regular file"),
        "text": (text, "not a readable PyTorch checkpoint"),
        "malicious": (_malicious(tmp_path / "evil.pt", tmp_path / "PWNED"), "refuses to load"),
    }


def test_bad_files_give_one_sentence_and_run_nothing(tmp_path, registry) -> None:
    for name, (path, words) in _bad_files(tmp_path).items():
        with pytest.raises(CheckpointError) as caught:
            inspect_model_file(path)
        message = str(caught.value)
        assert words in message, name
        assert "\n" not in message and message.endswith("."), name
    assert not (tmp_path / "PWNED").exists()


def test_cli_bad_files_exit_2_with_one_line(tmp_path, registry, capsys) -> None:
    for name, (path, words) in _bad_files(tmp_path).items():
        assert main(["models", "check", str(path), "--json"]) == 2, name
        out, err = capsys.readouterr()
        assert out == "", name
        assert err.startswith("forensics-gui models: ") and words in err, name
        assert err.count("\n") == 1 and "Traceback" not in err, name
    assert not (tmp_path / "PWNED").exists()


def test_a_checkpoint_of_another_kind_is_not_a_model_we_know(tmp_path, registry, capsys) -> None:
    import torch

    other = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(4)}, other)
    info = inspect_model_file(other)
    assert info.kind == "unknown" and info.kind_label == "not a model we know"
    assert info.serves_as == () and "top-level keys: conv1.weight, fc.bias" in info.not_usable_reason
    assert main(["models", "check", str(other)]) == 0
    out = capsys.readouterr().out
    assert "kind:" in out and "not a model we know" in out
    resume = tmp_path / "phi.pt.resume.pt"
    torch.save({"model": random_phi_module(8, 8).state_dict(), "optimizer": {}}, resume)
    assert "training resume state" in inspect_model_file(resume).not_usable_reason


def test_cancel_while_hashing(files, registry) -> None:
    with pytest.raises(Cancelled):
        inspect_model_file(files["finetuned_fp16"], RecordingProgress(stop_after=1))


# ------------------------------------------------------------------ CLI


def test_cli_check_json_is_the_only_stdout_and_input_is_unchanged(files, registry, capsys) -> None:
    path = files["finetuned_fp16"]
    before = sha(path)
    assert main(["models", "check", str(path), "--json", "--with", str(files["phi768"])]) == 0
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert doc["kind"] == "avhubert_finetuned" and doc["sha256"] == before == sha(path)
    assert doc["embed_dim"] == 64 and doc["precision"] == "fp16"
    assert doc["serves_as"] == ["feature extractor"]
    assert doc["registry"]["state"] == "unknown"
    assert doc["compatibility"]["level"] == "incompatible" and doc["compatibility"]["fits"] is False
    assert "cannot score the 64-dim features of 'ft16.pt'" in doc["compatibility"]["message"]


def test_cli_check_text_compares_with_the_installed_counterpart(files, registry, capsys) -> None:
    user = Path(os.environ["FORENSICS_GUI_MODELS"])
    user.mkdir(parents=True)
    (user / "self_large_vox_433h.pt").write_bytes(files["finetuned_fp16"].read_bytes())
    registry(("self_large_vox_433h.pt", "avhubert", None), ("AVH-Align_AV1M.pt", "phi", None))
    assert main(["models", "check", str(files["phi768"])]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert lines["kind"].strip() == "AVH-Align Phi"
    assert lines["can serve as"].strip() == "Phi (768-dim features)"
    assert "cannot score the 64-dim features of 'self_large_vox_433h.pt'" in \
        lines["with self_large_vox_433h.pt"]


def test_cli_list_states(tmp_path, files, registry, capsys) -> None:
    user = Path(os.environ["FORENSICS_GUI_MODELS"])
    user.mkdir(parents=True)
    for name, src in (("self_large_vox_433h.pt", "finetuned_fp16"), ("AVH-Align_AV1M.pt", "phi64"),
                      ("base_vox_433h.pt", "pretrained_fp32"), ("my_copy.pt", "phi768"),
                      ("mine.ckpt", "sup_linear")):
        (user / name).write_bytes(files[src].read_bytes())
    (user / "phi.pt.resume.pt").write_bytes(b"x")  # a training resume state, not a model
    registry(("self_large_vox_433h.pt", "avhubert", None),
             ("AVH-Align_AV1M.pt", "phi", sha(files["phi64"])),
             ("base_vox_433h.pt", "avhubert", "cd" * 32),
             ("large_vox_iter5.pt", "avhubert", None),
             ("phi_base.pt", "phi", sha(files["phi768"])))
    assert main(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    states = {m["name"]: m["state"] for m in doc["models"]}
    assert states == {"self_large_vox_433h.pt": "present", "AVH-Align_AV1M.pt": "verified",
                      "base_vox_433h.pt": "unknown file", "large_vox_iter5.pt": "missing",
                      "phi_base.pt": "missing", "my_copy.pt": "verified", "mine.ckpt": "unknown file"}
    copy = next(m for m in doc["models"] if m["name"] == "my_copy.pt")
    assert copy["matches"] == "phi_base.pt" and "a copy of phi_base.pt" in copy["detail"]
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[:-1]}
    assert "not verifiable: the registry has no SHA-256" in rows["self_large_vox_433h.pt"]
    assert "verified" not in rows["self_large_vox_433h.pt"]
    assert "SHA-256 differs from the registry's" in rows["base_vox_433h.pt"]
    assert "unregistered" in rows["mine.ckpt"] and "unknown file" in rows["mine.ckpt"]
    assert out.splitlines()[-1].startswith(f"Models folder: {user}")


def test_cli_check_says_when_there_is_nothing_to_compare_with(files, registry, capsys) -> None:
    assert main(["models", "check", str(files["phi64"]), "--json"]) == 0
    compat = json.loads(capsys.readouterr().out)["compatibility"]
    assert compat == {"with": None, "level": "unknown", "fits": None,
                      "message": "No AV-HuBERT checkpoint is installed to check it against; "
                                 "pass one with --with."}
