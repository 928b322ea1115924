"""No command writes over one of its inputs, whatever the output is called.

Every command is given ``-o`` = each of its inputs, spelled four ways (the same name, a hard
link, a symbolic link, a relative path through ``..``); each run must end with one sentence
naming the file, exit code 2, every input's SHA-256 unchanged and nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import wave
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from forensics_gui import cli
from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.core.files.outputs import (
    OutputIsInputError,
    guarded_outputs,
    protect_inputs,
    refuse_overwriting_inputs,
)
from forensics_gui.testing.phi import write_corpus
from forensics_gui.testing.synth import make_clip

SPELLINGS = ("same", "hardlink", "symlink", "dotdot")


@pytest.fixture(scope="module")
def evidence_source(tmp_path_factory: pytest.TempPathFactory, models: tuple[Path, Path]) -> Path:
    """Every kind of input a command reads: clips, a wav, models, a result JSON, feature files."""
    d = tmp_path_factory.mktemp("evidence")
    make_clip(d / "clip.mp4", duration_s=0.4, width=96, height=96)
    shutil.copy(d / "clip.mp4", d / "roi.mp4")
    with wave.open(str(d / "audio.wav"), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(16000)
        wf.writeframes(np.zeros(1600, "<i2").tobytes())
    shutil.copy(models[0], d / "ckpt.pt")
    shutil.copy(models[1], d / "phi.pt")
    (d / "result.json").write_text(json.dumps({"frame_scores": [0.1, 0.2]}), encoding="utf-8")
    (d / "videos").mkdir()
    shutil.copy(d / "clip.mp4", d / "videos" / "take1.mp4")
    write_corpus(d / "features", 2, frames=30, dim=8)
    return d


@pytest.fixture
def evidence(evidence_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy per test, so a failing test cannot spoil the next one."""
    d = tmp_path / "case"
    shutil.copytree(evidence_source, d)
    (d / "sub").mkdir()
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("FORENSICS_GUI_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(d)
    return d


def _fingerprint(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every regular file (links are listed by what they point to)."""
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _spell(target: Path, how: str, folder: Path) -> str:
    """Another name for ``target``: itself, a hard link, a symlink, or ``sub/../<name>`` (the
    tests run in ``folder``)."""
    if how == "same":
        return str(target)
    if how == "hardlink":
        alias = folder / f"hard-alias{target.suffix}"
        os.link(target, alias)
        return str(alias)
    if how == "symlink":
        alias = folder / f"soft-alias{target.suffix}"
        alias.symlink_to(target)
        return str(alias)
    return os.path.join("sub", "..", os.path.relpath(target, folder))  # relative to the cwd


# (command line with OUT for the output, the input given as -o, the role the message names)
Case = tuple[Callable[[Path, str], list[str]], str, str]
CASES: dict[str, Case] = {
    "snapshot video": (lambda d, o: ["snapshot", str(d / "clip.mp4"), "--at", "0.1", "-o", o],
                       "clip.mp4", "the video"),
    "snapshot result": (lambda d, o: ["snapshot", str(d / "clip.mp4"), "--at", "0.1",
                                      "--result", str(d / "result.json"), "-o", o],
                        "result.json", "the --result file"),
    "features video": (lambda d, o: ["features", str(d / "clip.mp4"), "--checkpoint",
                                     str(d / "ckpt.pt"), "-o", o], "clip.mp4", "the video"),
    "features checkpoint": (lambda d, o: ["features", str(d / "clip.mp4"), "--checkpoint",
                                          str(d / "ckpt.pt"), "-o", o], "ckpt.pt", "the checkpoint"),
    "features roi": (lambda d, o: ["features", "--roi", str(d / "roi.mp4"), "--audio",
                                   str(d / "audio.wav"), "--checkpoint", str(d / "ckpt.pt"), "-o", o],
                     "roi.mp4", "the --roi video"),
    "features audio": (lambda d, o: ["features", "--roi", str(d / "roi.mp4"), "--audio",
                                     str(d / "audio.wav"), "--checkpoint", str(d / "ckpt.pt"), "-o", o],
                       "audio.wav", "the --audio file"),
    "analyze video": (lambda d, o: ["analyze", str(d / "clip.mp4"), "--checkpoint", str(d / "ckpt.pt"),
                                    "--phi", str(d / "phi.pt"), "-o", o], "clip.mp4", "the video"),
    "analyze phi": (lambda d, o: ["analyze", str(d / "clip.mp4"), "--checkpoint", str(d / "ckpt.pt"),
                                  "--phi", str(d / "phi.pt"), "-o", o], "phi.pt", "the Phi checkpoint"),
    "analyze checkpoint": (lambda d, o: ["analyze", str(d / "clip.mp4"), "--checkpoint",
                                         str(d / "ckpt.pt"), "--phi", str(d / "phi.pt"), "-o", o],
                           "ckpt.pt", "the AV-HuBERT checkpoint"),
    "batch clip": (lambda d, o: ["batch", str(d / "videos"), "--checkpoint", str(d / "ckpt.pt"),
                                 "--phi", str(d / "phi.pt"), "-o", o],
                   "videos/take1.mp4", "a clip under"),
    "batch phi": (lambda d, o: ["batch", str(d / "videos"), "--checkpoint", str(d / "ckpt.pt"),
                                "--phi", str(d / "phi.pt"), "-o", o], "phi.pt", "the Phi checkpoint"),
    "train feature file": (lambda d, o: ["train", "--features", str(d / "features"), "-o", o],
                           "features/clip_001.npz", "a feature file under"),
    "train video": (lambda d, o: ["train", "--videos", str(d / "videos"), "--checkpoint",
                                  str(d / "ckpt.pt"), "-o", o], "videos/take1.mp4", "a video under"),
    "train checkpoint": (lambda d, o: ["train", "--videos", str(d / "videos"), "--checkpoint",
                                       str(d / "ckpt.pt"), "-o", o], "ckpt.pt", "the AV-HuBERT checkpoint"),
}


@pytest.mark.parametrize("how", SPELLINGS)
@pytest.mark.parametrize("case", list(CASES))
def test_no_command_writes_over_an_input(case: str, how: str, evidence: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv_of, input_name, role = CASES[case]
    out = _spell(evidence / input_name, how, evidence)
    before = _fingerprint(evidence)
    rc = cli.main(argv_of(evidence, out))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith(f"forensics-gui {case.split()[0]}: Refusing to write {Path(out).name}:"), err
    assert Path(input_name).name in err and f"({role}" in err and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert _fingerprint(evidence) == before  # inputs unchanged, nothing written (no lock file)


@pytest.mark.parametrize("how", ["same", "symlink", "dotdot"])
def test_roi_refuses_a_folder_where_a_file_it_writes_is_the_video(how: str, evidence: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # roi writes <stem>.wav into OUT_DIR: a clip named take.wav, with OUT_DIR its own folder
    video = evidence / "take.wav"
    shutil.copy(evidence / "clip.mp4", video)
    out_dir = {"same": str(evidence), "dotdot": os.path.join("sub", "..")}.get(how)
    if out_dir is None:
        (evidence.parent / "link-to-case").symlink_to(evidence, target_is_directory=True)
        out_dir = str(evidence.parent / "link-to-case")
    before = _fingerprint(evidence)
    rc = cli.main(["roi", str(video), "-o", out_dir])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Refusing to write take.wav: it is one of this command's inputs (the video)" in err
    assert _fingerprint(evidence) == before


def test_an_output_inside_an_input_folder_is_fine(evidence: Path) -> None:
    from forensics_gui.commands import batch, train

    args = cli._build_parser().parse_args(
        ["batch", str(evidence / "videos"), "-o", str(evidence / "videos" / "RESULTS.csv"),
         "--checkpoint", str(evidence / "ckpt.pt"), "--phi", str(evidence / "phi.pt")])
    outputs, inputs = batch.outputs_and_inputs(args)
    assert any(str(p).endswith("take1.mp4") for p, _ in inputs)
    with guarded_outputs("batch", outputs, inputs):
        assert (evidence / "videos" / "RESULTS.csv.lock").is_file()
    assert not (evidence / "videos" / "RESULTS.csv.lock").exists()
    args = cli._build_parser().parse_args(
        ["train", "--features", str(evidence / "features"), "-o", str(evidence / "features" / "phi.pt")])
    outputs, inputs = train.outputs_and_inputs(args)
    assert [p.name for p in outputs] == ["phi.pt", "phi.pt.resume.pt"]
    refuse_overwriting_inputs(outputs, inputs)  # no error


def test_train_phi_refuses_a_feature_file_and_its_resume_state(evidence: Path) -> None:
    from forensics_gui.core.alignment.training import train_phi

    files = sorted((evidence / "features").glob("*.npz"))
    before = _fingerprint(evidence)
    with pytest.raises(OutputIsInputError, match=r"Refusing to write clip_000\.npz: .*a training feature file"):
        train_phi(files, files[0], epochs=1)
    assert _fingerprint(evidence) == before


def test_the_lock_file_beside_an_output_may_not_be_an_input(evidence: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # out.png.lock would be truncated to hold the lock record: an input may not be called so
    shutil.copy(evidence / "clip.mp4", evidence / "out.png.lock")
    before = _fingerprint(evidence)
    rc = cli.main(["snapshot", str(evidence / "out.png.lock"), "--at", "0.1", "-o", "out.png"])
    assert rc == 2
    assert capsys.readouterr().err == (
        "forensics-gui snapshot: Refusing to use out.png.lock as the lock file of out.png: it is one "
        "of this command's inputs (the video); choose another output path.\n")
    assert _fingerprint(evidence) == before


def test_atomic_writes_refuse_protected_inputs_while_a_command_runs(evidence: Path) -> None:
    clip = evidence / "clip.mp4"
    alias = evidence / "alias.mp4"
    os.link(clip, alias)
    digest = sha256_file(clip)
    with protect_inputs([(clip, "the video")]):
        for target in (clip, alias, evidence / "sub" / ".." / "clip.mp4"):
            with pytest.raises(OutputIsInputError, match="one of this command's inputs"):
                write_text_atomic(target, "not a video")
        write_text_atomic(evidence / "other.txt", "fine")
    assert sha256_file(clip) == digest
    assert sorted(p.name for p in evidence.glob(".*")) == []  # no temp file left
    write_text_atomic(alias, "free again")  # protection ends with the block
    assert sha256_file(clip) == digest  # the alias name was replaced, not the clip's content


def test_viewer_exports_refuse_the_clip_and_its_models(evidence: Path) -> None:
    from forensics_gui.core.results import exports

    analysis = SimpleNamespace(file=evidence / "clip.mp4", models=[
        {"role": "features", "path": str(evidence / "ckpt.pt")}, {"role": "phi", "path": str(evidence / "phi.pt")}],
        scores={}, supervised={}, face=None, to_dict=lambda: {})
    os.link(evidence / "phi.pt", evidence / "phi-copy.pt")
    before = _fingerprint(evidence)
    for write, target, what in [(exports.write_frame_scores_csv, "clip.mp4", "the analysed clip"),
                                (exports.write_frame_scores_json, "ckpt.pt", "the features model"),
                                (exports.write_analysis_labels, "phi-copy.pt", "the phi model")]:
        with pytest.raises(OutputIsInputError, match=f"Refusing to write {target}: .*\\({what}\\)"):
            write(analysis, evidence / target)
    assert _fingerprint(evidence) == before
    assert exports.write_analysis_labels(analysis, evidence / "labels.txt").is_file()


@pytest.fixture
def write_opens_of(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """write_opens_of(folder) -> list that collects every open of a file under ``folder`` (by
    identity) for writing, through Python's open() or os.open()."""
    import builtins
    import io

    watched: set[tuple[int, int]] = set()
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def note(path: object, writing: bool) -> None:
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            try:
                st = os.stat(path)
            except OSError:
                return
            if (st.st_dev, st.st_ino) in watched:
                seen.append(os.fsdecode(path))

    def open_(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        note(file, any(c in mode for c in "wax+"))
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        note(path, bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC)))
        return real_os_open(path, flags, *args, **kwargs)

    def watch(folder: Path) -> list[str]:
        watched.update((st.st_dev, st.st_ino) for st in (p.stat() for p in folder.rglob("*") if p.is_file()))
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(os, "open", os_open)
        return seen

    return watch


@pytest.mark.parametrize("argv", [
    ["features", "clip.mp4", "--checkpoint", "ckpt.pt", "-o", "out/f.npz", "--device", "cpu"],
    ["features", "--roi", "roi.mp4", "--audio", "audio.wav", "--checkpoint", "ckpt.pt", "-o", "out/f.npz",
     "--device", "cpu"],
    ["train", "--features", "features", "-o", "out/phi.pt", "--epochs", "1", "--device", "cpu"],
    ["snapshot", "clip.mp4", "--at", "0.1", "--result", "result.json", "-o", "out/shot.png"],
    ["analyze", "clip.mp4", "--checkpoint", "ckpt.pt", "--phi", "phi.pt", "-o", "out/r.json", "--device", "cpu"],
    ["batch", "videos", "--checkpoint", "ckpt.pt", "--phi", "phi.pt", "-o", "out/R.csv", "--device", "cpu"],
    ["roi", "clip.mp4", "-o", "out/roi"],
], ids=["features-video", "features-roi", "train", "snapshot", "analyze", "batch", "roi"])
def test_inputs_are_opened_read_only(argv: list[str], evidence: Path, write_opens_of, capsys) -> None:  # type: ignore[no-untyped-def]
    before = _fingerprint(evidence)
    opened_for_writing = write_opens_of(evidence)
    rc = cli.main([*argv, "--quiet"] if argv[0] in ("features", "train", "analyze", "roi") else argv)
    err = capsys.readouterr().err
    assert rc == 0, err
    out = evidence / argv[argv.index("-o") + 1]
    assert (out / "clip_roi.mp4" if argv[0] == "roi" else out).is_file()
    assert opened_for_writing == []
    open(evidence / "clip.mp4", "ab").close()  # the watch works: this open is seen
    assert opened_for_writing == [str(evidence / "clip.mp4")]
    assert {k: v for k, v in _fingerprint(evidence).items() if not k.startswith("out/")} == before


def test_the_viewer_training_refuses_an_output_that_is_one_of_its_source_files(evidence: Path) -> None:
    pytest.importorskip("PySide6")
    from forensics_gui.ui.training_dialog import TrainingParams, TrainingWorker

    alias = evidence / "model.pt"
    alias.symlink_to(evidence / "videos" / "take1.mp4")
    before = _fingerprint(evidence)
    worker = TrainingWorker(TrainingParams(source=evidence / "videos", output=alias, epochs=1,
                                           checkpoint=evidence / "ckpt.pt"))
    failed: list[str] = []
    worker.failed.connect(lambda _token, sentence: failed.append(sentence))
    worker.run()  # in this thread: the signal arrives directly
    assert failed == [f"Refusing to write model.pt: it is the same file as take1.mp4, one of this "
                      f"command's inputs (a video file under {evidence / 'videos'}); choose another "
                      "output path."]
    assert _fingerprint(evidence) == before
