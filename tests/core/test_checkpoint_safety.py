"""Hostile and broken model files: nothing from them runs, memory stays bounded, one sentence, exit 2.

Each case feeds the exact bad input of issue 9 and checks what a user sees: the message, the exit
code of a command, that no output was written and that the inputs are unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from forensics_gui.core.alignment.phi import load_phi
from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert, read_checkpoint
from forensics_gui.core.errors import CheckpointError
from forensics_gui.testing.checkpoints import fairseq_cfg, write_fake_avhubert_checkpoint
from forensics_gui.testing.phi import random_phi_module

torch.set_num_threads(2)


def one_sentence(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message and message.endswith(".")
    assert len(message) < 400
    return message


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- files that attack

def torchscript_with_stray_end_record(path: Path) -> Path:
    """Issue 9.1: a TorchScript archive + ``PK\\x05\\x06\\x00\\x00`` (is_zipfile() says no)."""

    class Tiny(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1

    torch.jit.save(torch.jit.script(Tiny()), str(path))
    with path.open("ab") as fh:
        fh.write(b"PK\x05\x06\x00\x00")
    return path


class _StoragePickler(pickle.Pickler):
    """Pickles the string "STORAGE" as a persistent storage id of our choosing."""

    def __init__(self, file: Any, pid: tuple[Any, ...]) -> None:
        super().__init__(file, protocol=2)
        self.pid = pid

    def persistent_id(self, obj: Any) -> Any:
        return self.pid if isinstance(obj, str) and obj == "STORAGE" else None


def legacy_storage_declaring(path: Path, numel: int) -> Path:
    """Legacy format whose one storage declares ``numel`` floats but holds none."""
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001,
                   {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}):
        pickle.dump(header, buf, protocol=2)
    _StoragePickler(buf, ("storage", torch.FloatStorage, "0", "cpu", numel, None)).dump(
        {"model": {"w": "STORAGE"}})
    pickle.dump(["0"], buf, protocol=2)
    buf.write(struct.pack("<q", numel))
    path.write_bytes(buf.getvalue())
    return path


def zip_record_smaller_than_storage(path: Path, numel: int) -> Path:
    buf = io.BytesIO()
    _StoragePickler(buf, ("storage", torch.FloatStorage, "0", "cpu", numel)).dump(
        {"model": {"w": "STORAGE"}})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/data/0", b"\0" * 16)
    return path


def memory_bombs(folder: Path) -> dict[str, tuple[str, Path, str]]:
    """name -> (loader, file, expected message regex); each would take gigabytes if obeyed."""
    folder.mkdir(exist_ok=True)
    bombs: dict[str, tuple[str, Path, str]] = {}

    def raw(name: str, data: bytes, loader: str, expected: str) -> None:
        (folder / name).write_bytes(data)
        bombs[name] = (loader, folder / name, expected)

    # bytearray(3 GiB) in a 32-byte pickle (LONG1 3221225472)
    raw("bytearray.pt", b"\x80\x02c__builtin__\nbytearray\n\x8a\x05\x00\x00\x00\xc0\x00\x85R.",
        "avhubert", "bytearray of a given size")
    # memo index 2**31 - 1: the C unpickler would grow its memo table to 16 GiB
    raw("memo.pt", b"\x80\x02Nr\xff\xff\xff\x7f.", "avhubert", r"memo index \(2147483647\)")
    # set(range(10**10)): range may not be called
    raw("range.pt", b"\x80\x02c__builtin__\nset\nc__builtin__\nxrange\n\x8a\x05\x00\xe4\x0bT\x02"
        b"\x85R\x85R.", "avhubert", r"it asks to run builtins\.range")
    # protocol 5 BYTEARRAY8 declaring 3 GiB: the C unpickler allocates before reading
    with zipfile.ZipFile(folder / "bytearray8.pt", "w") as zf:
        zf.writestr("bytearray8/data.pkl", b"\x80\x05\x96" + struct.pack("<Q", 3 << 30) + b".")
    bombs["bytearray8.pt"] = ("avhubert", folder / "bytearray8.pt", r"expected 3221225472 bytes in a bytearray8")
    torch.save({"cfg": fairseq_cfg(2, 64, 4, 128, False), "model": {
        "encoder.layers.0.fc1.weight": torch.zeros(1, dtype=torch.float16).expand(100_000, 200_000)}},
        folder / "stride0.pt")  # an 80 GB fp32 copy if expanded
    bombs["stride0.pt"] = ("avhubert", folder / "stride0.pt", r"stride-0 or out-of-bounds view")
    torch.save({"cfg": fairseq_cfg(20_000, 64, 4, 128, False), "model": {}}, folder / "layers.pt")
    bombs["layers.pt"] = ("avhubert", folder / "layers.pt", r"encoder_layers=20000 .* not a whole number from 1 to 128")
    torch.save({"cfg": fairseq_cfg(128, 8192, 64, 32768, False), "model": {}}, folder / "wide.pt")
    bombs["wide.pt"] = ("avhubert", folder / "wide.pt", r"has a cfg describing an encoder of [\d,]+ weights .* more than its")
    bombs["legacy.pt"] = ("avhubert", legacy_storage_declaring(folder / "legacy.pt", 10**9),
                          r"declare 4,000,000,000 bytes but the file holds only")
    bombs["record.pt"] = ("avhubert", zip_record_smaller_than_storage(folder / "record.pt", 10**9),
                          r"holds 16 bytes but its tensor claims 4,000,000,000")
    sd = random_phi_module(16, 16, seed=0, proj_dim=16, hidden=(16, 8, 4)).state_dict()
    sd["visual_proj.weight"] = torch.zeros(1).expand(30_000, 30_000)  # 3.6 GB if materialised
    torch.save({"state_dict": sd}, folder / "phi_stride0.pt")
    bombs["phi_stride0.pt"] = ("phi", folder / "phi_stride0.pt", r"stride-0 or out-of-bounds view")
    return bombs


_PROBE = textwrap.dedent("""
    import json, resource, sys
    from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
    from forensics_gui.core.errors import CheckpointError
    from forensics_gui.core.alignment.phi import load_phi
    import torch
    vm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize")][0] * 1024
    limit = vm + (768 << 20)  # what the process maps now, plus 768 MiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    def hwm_kib():  # peak RSS of this process image (ru_maxrss would include the forking parent's)
        return [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    before = hwm_kib()
    out = {}
    for name, loader, path in json.loads(sys.argv[1]):
        try:
            (load_phi if loader == "phi" else load_avhubert)(path)
            out[name] = "LOADED"
        except CheckpointError as err:
            out[name] = str(err)
        except MemoryError:
            out[name] = "MemoryError"
    out["_grew_kib"] = hwm_kib() - before
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_small_files_cannot_make_the_app_allocate_gigabytes(tmp_path: Path) -> None:
    bombs = memory_bombs(tmp_path / "bombs")
    assert max(p.stat().st_size for _, p, _ in bombs.values()) < 200_000
    args = json.dumps([[name, loader, str(path)] for name, (loader, path, _) in bombs.items()])
    run = subprocess.run([sys.executable, "-c", _PROBE, args], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for name, (_, _, expected) in bombs.items():
        assert re.search(expected, one_sentence(result[name])), (name, result[name])
    assert result["_grew_kib"] < 200 * 1024  # peak RSS grew by less than 200 MiB in all


@pytest.mark.slow
def test_the_memory_probe_would_notice_an_allocation(tmp_path: Path) -> None:
    """The probe's limit is real: a file that does allocate (plain pickle, 1 GiB) hits it."""
    probe = _PROBE.replace("(load_phi if loader == \"phi\" else load_avhubert)(path)",
                           "bytearray(1 << 30)")
    run = subprocess.run([sys.executable, "-c", probe, json.dumps([["x", "avhubert", "x"]])],
                         capture_output=True, text=True, timeout=300)
    assert json.loads(run.stdout.strip().splitlines()[-1])["x"] == "MemoryError"
    # and its peak-RSS measure sees an allocation below that limit (300 MiB, touched)
    probe = _PROBE.replace("(load_phi if loader == \"phi\" else load_avhubert)(path)",
                           "bytearray(300 << 20)")
    run = subprocess.run([sys.executable, "-c", probe, json.dumps([["x", "avhubert", "x"]])],
                         capture_output=True, text=True, timeout=300)
    assert json.loads(run.stdout.strip().splitlines()[-1])["_grew_kib"] > 200 * 1024


# --------------------------------------------------------------------------- code never runs

def test_torchscript_with_a_stray_end_record_is_refused_and_never_jit_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = torchscript_with_stray_end_record(tmp_path / "model.pt")
    assert not zipfile.is_zipfile(path)  # the old guard's test says "not a zip"
    calls: list[Any] = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: calls.append(a) or "ran")
    # torch.load would hand this file to torch.jit.load (so this test can fail) ...
    assert torch.load(path, weights_only=False) == "ran" and len(calls) == 1
    calls.clear()
    before = _sha(path)
    # ... our loaders never reach it
    for load in (read_checkpoint, load_avhubert, load_phi):
        with pytest.raises(CheckpointError) as err:
            load(path)
        assert "cannot be opened as a whole" in one_sentence(str(err.value))
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(plain))
    with pytest.raises(CheckpointError, match="is a TorchScript model"):
        load_avhubert(plain)
    assert calls == [] and _sha(path) == before


def test_data_types_are_inert_markers_that_cannot_be_called(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # sentencepiece state naming int loads; calling the int marker (REDUCE) is refused
    cases = {
        b"\x80\x02c__builtin__\nlong\nX\x01\x00\x00\x009\x85R.": r"builtins\.int",
        b"\x80\x02c__builtin__\nbytes\n\x8a\x05\x00\xe4\x0bT\x02\x85R.": r"builtins\.bytes",
        b"\x80\x02ccollections\ndefaultdict\ncos\nsystem\n\x85R.": r"(os|posix)\.system",
        b"\x80\x02ccopy_reg\n_reconstructor\nc__builtin__\nbytearray\nc__builtin__\nbytearray\n"
        b"\x8a\x05\x00\x00\x00\xc0\x00\x87R.": "rebuilds an object of a class that is not plain data",
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00K\x01\x85K\x01\x85tR.": "not one of the file's storages",
        b"\x80\x02ctorch\nFloatStorage\n\x8a\x05\x00\xe4\x0bT\x02\x85R.": r"torch\.FloatStorage directly",
        b"\x80\x02cnumpy\nndarray\n\x8a\x05\x00\xe4\x0bT\x02\x85\x85R.": r"numpy\.ndarray",
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n\x8a\x05\x00\xe4\x0bT\x02"
        b"\x85C\x01b\x87R.": "array of a given shape",
    }
    for i, (data, expected) in enumerate(cases.items()):
        raw, zipped = tmp_path / f"case{i}.pt", tmp_path / f"case{i}z.pt"
        raw.write_bytes(data)  # legacy layout: the first pickle
        with zipfile.ZipFile(zipped, "w") as zf:  # zip layout: data.pkl
            zf.writestr(f"case{i}z/data.pkl", data)
        for path in ((zipped,) if b"torch" in data else (raw, zipped)):
            with pytest.raises(CheckpointError, match=expected) as err:
                read_checkpoint(path)
            one_sentence(str(err.value))
    ok = tmp_path / "types.pt"
    with zipfile.ZipFile(ok, "w") as zf:
        zf.writestr("types/data.pkl", pickle.dumps(
            {"t": int, "n": type(None), "s": {1, 2}, "b": bytearray(b"xy")}, protocol=2))
    data = read_checkpoint(ok)
    assert repr(data["t"]) == "<type builtins.int>" and data["s"] == {1, 2} and data["b"] == b"xy"
    assert not marker.exists()


# --------------------------------------------------------------------------- broken files, via the CLI

@pytest.fixture(scope="module")
def roi_and_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import av
    from scipy.io import wavfile

    d = tmp_path_factory.mktemp("media")
    roi, wav = d / "roi.mp4", d / "a.wav"
    rng = np.random.default_rng(1)
    with av.open(str(roi), "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=25)
        st.width = st.height = 96
        st.pix_fmt = "yuv420p"
        for _ in range(10):
            img = np.repeat(rng.integers(0, 256, (96, 96, 1), dtype=np.uint8), 3, axis=2)
            out.mux(st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(st.encode(None))
    wavfile.write(wav, 16000, (3000 * rng.standard_normal(6400)).astype(np.int16))
    return roi, wav


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_avhubert_checkpoint(tmp_path_factory.mktemp("good") / "good.pt", seed=3)


def _nan_norm(payload: dict[str, Any]) -> None:
    weight = payload["model"]["encoder.layer_norm.weight"]
    payload["model"]["encoder.layer_norm.weight"] = torch.full_like(weight, float("nan"))


def _bad_checkpoint(kind: str, folder: Path) -> tuple[Path, str]:
    path = folder / f"{kind}.pt"
    cfg = fairseq_cfg(2, 64, 4, 128, False)
    if kind == "heads0":
        cfg["model"]["encoder_attention_heads"] = 0
        torch.save({"cfg": cfg, "model": {}}, path)
        return path, r"encoder_attention_heads=0 in its cfg, which is not a whole number from 1"
    if kind == "layers12L":
        cfg["model"]["encoder_layers"] = "12L"
        torch.save({"cfg": cfg, "model": {}}, path)
        return path, r"encoder_layers='12L' in its cfg, which is not a whole number"
    if kind == "selfref":
        cfg["model"]["w2v_args"] = cfg
        torch.save({"cfg": cfg, "model": {}}, path)
        return path, "has a cfg that refers to itself"
    if kind == "nan":
        write_fake_avhubert_checkpoint(path, seed=3, edit=_nan_norm)
        return path, r"NaN or infinite values in encoder\.layer_norm\.weight"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "is not a regular file"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["heads0", "layers12L", "selfref", "nan", "fifo"])
def test_broken_checkpoints_give_one_sentence_and_exit_2(kind: str, tmp_path: Path, roi_and_wav: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from forensics_gui.cli import main

    path, expected = _bad_checkpoint(kind, tmp_path)
    roi, wav = roi_and_wav
    inputs = [roi, wav] + ([] if kind == "fifo" else [path])
    before = [_sha(p) for p in inputs]
    out = tmp_path / "f.npz"
    code = main(["features", "--roi", str(roi), "--audio", str(wav), "--checkpoint", str(path),
                 "-o", str(out), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert re.search(expected, one_sentence(err.splitlines()[-1])), err
    assert not out.exists() and [_sha(p) for p in inputs] == before
    with pytest.raises(CheckpointError, match=expected):
        load_avhubert(path)


@pytest.mark.slow
def test_a_good_checkpoint_still_extracts(good_checkpoint: Path, roi_and_wav: tuple[Path, Path], tmp_path: Path) -> None:
    """The control for the cases above: same command, a sound file, exit 0 and finite features."""
    from forensics_gui.cli import main

    roi, wav = roi_and_wav
    out = tmp_path / "f.npz"
    assert main(["features", "--roi", str(roi), "--audio", str(wav), "--checkpoint", str(good_checkpoint),
                 "-o", str(out), "--device", "cpu", "--quiet"]) == 0
    with np.load(out) as f:
        assert np.isfinite(f["visual"]).all() and f["visual"].shape == (10, 64)


# --------------------------------------------------------------------------- broken Phi files

@pytest.mark.parametrize("kind", ["int_key", "complex", "int_dtype", "nan", "mismatch", "fifo"])
def test_broken_phi_files_give_one_sentence(kind: str, tmp_path: Path) -> None:
    sd: dict[Any, Any] = dict(random_phi_module(16, 16, seed=0, proj_dim=16, hidden=(16, 8, 4)).state_dict())
    path = tmp_path / f"{kind}.pt"
    expected = {"int_key": r"names a weight by the int 3 instead of by text",
                "complex": r"it holds torch\.ComplexFloatStorage, which a Phi checkpoint never needs",
                "int_dtype": r"mlp\.3\.weight of dtype int64",
                "nan": r"NaN or infinite values in mlp\.1\.weight",
                "mismatch": r"mlp\.3\.weight of shape \(8, 100000\), but the other weights imply \(8, 16\)",
                "fifo": "is not a regular file"}[kind]
    if kind == "int_key":
        sd[3] = torch.zeros(1)
    elif kind == "complex":
        sd["mlp.0.weight"] = sd["mlp.0.weight"].to(torch.complex64)
    elif kind == "int_dtype":
        sd["mlp.3.weight"] = sd["mlp.3.weight"].long()
    elif kind == "nan":
        sd["mlp.1.weight"][0] = float("nan")
    elif kind == "mismatch":  # a layer whose sizes, if trusted, would build a 100000-wide network
        sd["mlp.3.weight"] = torch.zeros(8, 100_000)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError, match=expected) as err:
        load_phi(path)
    one_sentence(str(err.value))


# --------------------------------------------------------------------------- seeded fuzzing

_FUZZ = textwrap.dedent("""
    import io, json, random, resource, sys, tempfile, zipfile
    from pathlib import Path
    from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
    from forensics_gui.core.errors import CheckpointError
    from forensics_gui.core.alignment.phi import load_phi
    import torch
    vm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize")][0] * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (768 << 20),) * 2)
    rng = random.Random(int(sys.argv[2]))
    SPECIAL = [b"\\xff\\xff\\xff\\x7f", b"\\x00\\x00\\x00\\x80", b"\\xff", b"\\x00", b"\\x8a\\x05\\x00\\x00\\x00\\xc0\\x00"]

    def mutate(data):
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            op = rng.randrange(4)
            if op == 0:
                data[i] = rng.randrange(256)
            elif op == 1:
                del data[i:i + rng.randint(1, 16)]
            elif op == 2:
                data[i:i] = rng.choice(SPECIAL)
            else:
                j = rng.randrange(len(data))
                data[i:i] = data[j:j + rng.randint(1, 32)]
        return bytes(data)

    out = {"loaded": 0, "refused": 0, "bad": []}
    tmp = Path(tempfile.mkdtemp())
    for spec in json.loads(sys.argv[1]):
        loader = load_phi if spec["loader"] == "phi" else load_avhubert
        source = zipfile.ZipFile(spec["path"]) if spec["zip"] else None
        raw = Path(spec["path"]).read_bytes()
        for n in range(spec["mutants"]):
            path = tmp / f"m{n}.pt"
            if source is not None and n % 4:  # mutate data.pkl, keep the archive sound
                with zipfile.ZipFile(path, "w") as zf:
                    for info in source.infolist():
                        data = source.read(info)
                        zf.writestr(info.filename, mutate(data) if info.filename.endswith("data.pkl") else data)
            else:  # mutate the file's bytes
                path.write_bytes(mutate(raw))
            try:
                loader(path)
                out["loaded"] += 1
            except CheckpointError as err:
                text = str(err)
                if "\\n" in text or not text.endswith(".") or len(text) > 600:
                    out["bad"].append(["message", text[:300]])
                out["refused"] += 1
            except BaseException as err:
                out["bad"].append([type(err).__name__, str(err)[:300]])
    out["peak_rss_kib"] = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    print(json.dumps(out))
""")


def _trim_model(payload: dict[str, Any]) -> None:
    keep = [k for k in payload["model"] if "layers.0." in k or "pos_conv" in k][:12]
    payload["model"] = {k: payload["model"][k] for k in keep}


@pytest.mark.slow
def test_seeded_mutants_of_valid_files_are_loaded_or_refused_in_one_sentence(tmp_path: Path) -> None:
    small = write_fake_avhubert_checkpoint(tmp_path / "ft.pt", seed=1, finetuned=True, edit=_trim_model)
    legacy = write_fake_avhubert_checkpoint(tmp_path / "legacy.pt", seed=1, cfg_style="omegaconf",
                                            zip_format=False, edit=_trim_model)
    phi = tmp_path / "phi.pt"
    torch.save({"state_dict": random_phi_module(16, 16, seed=0, proj_dim=16, hidden=(16, 8, 4)).state_dict(),
                "epoch": 3, "args": argparse_namespace()}, phi)
    specs = [{"path": str(small), "zip": True, "loader": "avhubert", "mutants": 160},
             {"path": str(legacy), "zip": False, "loader": "avhubert", "mutants": 80},
             {"path": str(phi), "zip": True, "loader": "phi", "mutants": 120}]
    run = subprocess.run([sys.executable, "-c", _FUZZ, json.dumps(specs), "20261202"], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["bad"] == []
    assert result["refused"] > 100 and result["loaded"] + result["refused"] == 360


def argparse_namespace() -> Any:
    import argparse

    return argparse.Namespace(lr=1e-5, tau=15, save_path="checkpoints/phi.pt")


def test_no_product_code_reaches_torch_jit_or_an_unrestricted_unpickler() -> None:
    """Model files go through the data-only reader; any other torch.load must be weights_only=True
    (which refuses TorchScript before torch.jit); nothing unpickles a file with plain pickle."""
    import forensics_gui

    root = Path(forensics_gui.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "testing" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(root))
        if re.search(r"torch\.jit\.(load|script)\(", text):
            offenders.append(name)
        for match in re.finditer(r"torch\.load\(", text):
            if "weights_only=True" not in text[match.end():match.end() + 200]:
                offenders.append(name)
        # children round-trips a child's own exceptions through pickle, never a file's bytes
        if re.search(r"pickle\.(load|loads)\(", text) and name != "core/children.py":
            offenders.append(name)
    assert offenders == []
