"""Malformed resume states: ``train --resume`` says one sentence, exits 2 and changes nothing.

A real one-epoch run writes a valid ``PHI.pt.resume.pt``; each case edits it the way a damaged,
hand-edited or foreign file would differ, and resumes through the CLI in-process.
"""

from __future__ import annotations

import copy
import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from forensics_gui.cli import main
from forensics_gui.core.alignment.resume_state import _pickle_globals
from forensics_gui.core.alignment.training import resume_path
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.testing.phi import write_corpus

SENTENCE = "is not a resume state of this training run"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("resume")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSICS_GUI_CACHE", str(root / "cache"))
        files = write_corpus(root / "feats", 3, frames=60, dim=16)
        out = root / "phi.pt"
        argv = ["train", "--features", str(root / "feats"), "-o", str(out), "--batch-size", "32",
                "--device", "cpu", "--quiet"]
        assert main([*argv, "--epochs", "1"]) == 0
        state = torch.load(resume_path(out), map_location="cpu", weights_only=True)
        yield {"argv": [*argv, "--epochs", "2", "--resume"], "out": out, "files": files,
               "state": state, "good": resume_path(out).read_bytes()}


def _edit(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    def make(state: dict[str, Any]) -> Any:
        s = copy.deepcopy(state)
        result = fn(s)
        return s if result is None else result
    return make


def _other_architecture_optimizer(s: dict[str, Any]) -> None:
    from forensics_gui.core.alignment.phi import build_fusion_model

    other = build_fusion_model(16, 16, 32, (64, 32, 16))
    s["optimizer"] = torch.optim.Adam(other.parameters()).state_dict()
    other(torch.zeros(2, 16), torch.zeros(2, 16)).sum().backward()
    opt = torch.optim.Adam(other.parameters())
    opt.step()
    s["optimizer"] = opt.state_dict()


def _first_weight(s: dict[str, Any]) -> str:
    return next(iter(s["model"]))


CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "a list": (_edit(lambda s: [s]), "it holds a list, not a dict"),
    "missing optimizer": (_edit(lambda s: (s.pop("optimizer"), None)[1]), "'optimizer' is missing"),
    "missing rng": (_edit(lambda s: (s.pop("torch_rng"), None)[1]), "'torch_rng' is missing"),
    "epoch a string": (_edit(lambda s: s.update(epoch="1")), "'epoch' is a str"),
    "epoch a bool": (_edit(lambda s: s.update(epoch=True)), "'epoch' is a bool"),
    "negative epoch": (_edit(lambda s: s.update(epoch=-3)), "its epoch count is -3"),
    "history too short": (_edit(lambda s: s.update(history=[])),
                          "it records 0 epoch(s) of losses for 1 epoch(s)"),
    "NaN loss history": (_edit(lambda s: s["history"][0].update(train_loss=math.nan)),
                         "the loss history of epoch 1 holds a non-finite"),
    "NaN best": (_edit(lambda s: s.update(best=math.nan)), "its best loss is nan"),
    "best epoch after the last": (_edit(lambda s: s.update(best_epoch=5)), "best epoch 5"),
    "negative bad epochs": (_edit(lambda s: s.update(bad_epochs=-1)), "epoch(s) without improvement"),
    "weight of the wrong shape": (
        _edit(lambda s: s["model"].update({_first_weight(s): s["model"][_first_weight(s)].T})),
        "has shape"),
    "weight with NaN": (
        _edit(lambda s: s["model"][_first_weight(s)].view(-1).__setitem__(0, math.nan)),
        "holds NaN or infinite values"),
    "integer weight": (
        _edit(lambda s: s["model"].update({_first_weight(s): s["model"][_first_weight(s)].long()})),
        "not floating point"),
    "extra layer": (_edit(lambda s: s["model"].update({"mlp.99.weight": torch.zeros(2)})),
                    "its model has other layers (unexpected mlp.99.weight)"),
    "huge stride-0 weight": (
        _edit(lambda s: s["model"].update({_first_weight(s): torch.zeros(1).expand(10**6, 10**5)})),
        "has shape (1000000, 100000)"),
    "optimizer of another architecture": (_edit(_other_architecture_optimizer),
                                          "the optimizer's exp_avg 0 has shape (32, 16), not"),
    "optimizer moment of the wrong shape": (
        _edit(lambda s: s["optimizer"]["state"][0].update(exp_avg=torch.zeros(3))),
        "the optimizer's exp_avg 0 has shape (3,)"),
    "negative learning rate": (
        _edit(lambda s: s["optimizer"]["param_groups"][0].update(lr=-1.0)),
        "its optimizer lr is -1.0"),
    "scheduler of another kind": (
        _edit(lambda s: s.update(scheduler=torch.optim.lr_scheduler.StepLR(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 1).state_dict())),
        "its learning-rate schedule state is of another kind"),
    "scheduler maximising": (_edit(lambda s: s["scheduler"].update(mode="max")),
                             "its learning-rate schedule 'mode' is 'max'"),
    "float rng": (_edit(lambda s: s.update(torch_rng=s["torch_rng"].float())),
                  "the random-number state"),
    "bytearray": (_edit(lambda s: s.update(store=bytearray(16))),
                  "bytearray, _codecs encode, which a resume state never holds"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_resume_state(run: dict[str, Any], name: str, capsys: pytest.CaptureFixture[str],
                                tmp_path: Path) -> None:
    make, detail = CASES[name]
    rpath = resume_path(run["out"])
    buf = io.BytesIO()
    torch.save(make(run["state"]), buf)
    rpath.write_bytes(buf.getvalue())
    _expect_refusal(run, capsys, detail)


@pytest.mark.parametrize(("name", "content"), [
    ("text", b"epoch: 3\n"), ("empty zip", b"PK\x05\x06" + bytes(18)),
    ("legacy pickle", b"\x80\x02}q\x00."),
])
def test_not_an_archive(run: dict[str, Any], name: str, content: bytes,
                        capsys: pytest.CaptureFixture[str]) -> None:
    resume_path(run["out"]).write_bytes(content)
    _expect_refusal(run, capsys, "it is not a PyTorch archive")


def test_truncated_archive(run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    resume_path(run["out"]).write_bytes(run["good"][: len(run["good"]) // 2])
    _expect_refusal(run, capsys, "damaged or truncated")


@pytest.mark.slow
def test_the_valid_state_still_resumes(run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    resume_path(run["out"]).write_bytes(run["good"])
    assert main(run["argv"]) == 0
    state = torch.load(resume_path(run["out"]), map_location="cpu", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    resume_path(run["out"]).write_bytes(run["good"])
    capsys.readouterr()


def test_stack_global_fed_from_the_memo_is_not_trusted() -> None:
    import pickle

    # push "torch" "FloatStorage" into the memo, then STACK_GLOBAL from memo gets
    data = (b"\x80\x04\x8c\x08builtins\x94\x8c\tbytearray\x94h\x00h\x01\x93K\x10\x85R.")
    assert pickle.loads(data) == bytearray(16)
    assert "?" in _pickle_globals(data)


def _expect_refusal(run: dict[str, Any], capsys: pytest.CaptureFixture[str], detail: str) -> None:
    watched = [run["out"], resume_path(run["out"]), *run["files"]]
    before = {p: sha256_file(p) for p in watched}
    code = main(run["argv"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert SENTENCE in err and "delete it or run without --resume" in err, err
    assert detail in err, err
    assert {p: sha256_file(p) for p in watched} == before


def test_resume_without_the_best_model_is_refused(run: dict[str, Any],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    resume_path(run["out"]).write_bytes(run["good"])
    moved = run["out"].with_name("moved.pt")
    run["out"].rename(moved)
    try:
        before = sha256_file(resume_path(run["out"]))
        assert main(run["argv"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "phi.pt, the best model of the run that phi.pt.resume.pt " \
            "continues, is missing; put it back or train without --resume" in err, err
        assert not run["out"].exists() and sha256_file(resume_path(run["out"])) == before
    finally:
        moved.rename(run["out"])


def test_member_size_beyond_the_file_is_refused_before_reading(run: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # fuzz finding resume:223 (seed 99): data.pkl's central-directory size set to 2 GiB made the
    # pickle scan allocate 2 GiB before anything was refused
    import struct
    import zipfile

    data = bytearray(run["good"])
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        name = next(i.filename for i in zf.infolist() if i.filename.endswith("/data.pkl"))
    at = data.find(b"PK\x01\x02")
    while data[at + 46:at + 46 + len(name)] != name.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 20:at + 24] = struct.pack("<I", 1 << 31)
    resume_path(run["out"]).write_bytes(bytes(data))

    import tracemalloc

    tracemalloc.start()
    try:
        _expect_refusal(run, capsys, "it is damaged or truncated")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 << 20  # Python allocations only; the bug asked for 2 GiB at once
