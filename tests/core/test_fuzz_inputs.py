"""Fuzz: mutants of every kind of file the CLI reads end in a result or in one sentence.

Valid seeds of each kind (AV-HuBERT checkpoints, Phi files, feature .npz, AV-Deepfake1M /
LAV-DF / FakeAVCeleb metadata, analyze result JSON, batch CSVs, training resume states) are
mutated by :class:`forensics_gui.testing.fuzz.Mutator` with a fixed seed and fed to the command
that reads them, in one worker process whose address space is capped (RLIMIT_AS: what it uses
after importing torch and Qt plus ``FORENSICS_FUZZ_MEMORY_MIB``, default 1536). For each mutant:
exit 0 with a valid result, or exit 2 with one sentence (``forensics-gui CMD: ...``, warnings
aside) and no traceback; nothing at the output path after a failure; every input's SHA-256
unchanged; no process spawned; no stray file anywhere in the sandbox.

``FORENSICS_FUZZ_ITERATIONS=N`` runs N mutants per kind (default: a CI-sized count per kind,
~35 s in all on 2 cores), ``FORENSICS_FUZZ_KINDS=features,resume`` only those kinds (the others
run their seeds only), ``FORENSICS_FUZZ_SEED`` changes the seed, ``FORENSICS_FUZZ_SAVE=DIR``
keeps every failing mutant there with a description.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from forensics_gui.testing.fuzz import Mutator
from forensics_gui.testing.synth import make_noise_roi

SEED = int(os.environ.get("FORENSICS_FUZZ_SEED", "20261202"))
ITERATIONS = os.environ.get("FORENSICS_FUZZ_ITERATIONS")
MEMORY_MIB = int(os.environ.get("FORENSICS_FUZZ_MEMORY_MIB", "1536"))
PER_MUTANT_TIMEOUT_S = 120
"""A mutant still running after this long (seconds) is a hang: far above any mutant's time on a
loaded machine, so it cannot fail a slow run."""
DIM = 32
DEFAULT_COUNTS = {"checkpoint": 6, "phi": 25, "features": 60, "train_features": 12, "av1m": 30,
                  "lavdf": 25, "favc": 25, "result": 20, "batch_csv": 40, "resume": 8}


def mutant_seed(kind: str, index: int) -> int:
    """The mutator seed of mutant ``index`` of ``kind`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(f"{SEED}:{kind}:{index}".encode()).digest()[:8], "little")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Kind:
    """One kind of input: its seeds, the command reading a mutant, and what success means."""

    name: str
    seeds: list[Path]
    argv: Callable[[Path, Path], list[str]]  # (mutant, output) -> argv
    out_suffix: str
    valid: Callable[[Path, str], bool]  # (output, stdout) -> the result is sound
    other_inputs: list[Path] = field(default_factory=list)
    mutant_name: Callable[[Path, int], str] | None = None  # where the mutant must live
    mutated_on_success: bool = False  # train --resume rewrites its resume state
    existing_out: Path | None = None  # copied to the output path first (the model a resume needs)
    companions: list[Path] = field(default_factory=list)  # good files put next to each mutant


# --------------------------------------------------------------------------- seeds


def _json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def _npz_ok(out: Path, _stdout: str) -> bool:
    from forensics_gui.core.files.npz import read_feature_npz

    f = read_feature_npz(out)
    return f.audio is not None and bool(np.isfinite(f.audio).all())


def _json_ok(_out: Path, stdout: str) -> bool:
    doc = json.loads(stdout)
    return isinstance(doc, dict)


def _score_ok(_out: Path, stdout: str) -> bool:
    doc = json.loads(stdout)
    return bool(np.isfinite(doc["video_score"]))


def _png_ok(out: Path, _stdout: str) -> bool:
    return out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def _file_ok(out: Path, _stdout: str) -> bool:
    return out.is_file() and out.stat().st_size > 0


def _build_kinds(root: Path) -> list[Kind]:
    from scipy.io import wavfile

    from forensics_gui.cli import main
    from forensics_gui.core.alignment.training import resume_path
    from forensics_gui.core.encoder.features import FeatureSet, save_features
    from forensics_gui.core.results import batch_results as br
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_corpus, write_published_phi
    from forensics_gui.testing.synth import make_clip

    seeds = root / "seeds"
    seeds.mkdir()
    rng = np.random.default_rng(0)
    kinds: list[Kind] = []

    # AV-HuBERT checkpoints (zip and legacy layouts), read by `features --roi --audio`
    ckpts = [write_fake_avhubert_checkpoint(seeds / "avhubert_zip.pt", layers=1, dim=DIM, heads=2,
                                            ffn=64),
             write_fake_avhubert_checkpoint(seeds / "avhubert_legacy.pt", layers=1, dim=DIM, heads=2,
                                            ffn=64, zip_format=False, fp16=False)]
    roi = make_noise_roi(seeds / "roi.mp4")
    wav = seeds / "audio.wav"
    wavfile.write(wav, 16000, (3000 * rng.standard_normal(8 * 640)).astype(np.int16))
    kinds.append(Kind("checkpoint", ckpts, lambda m, o: [
        "features", "--roi", str(roi), "--audio", str(wav), "--checkpoint", str(m), "-o", str(o),
        "--device", "cpu", "--quiet"], ".npz", _npz_ok, [roi, wav]))

    # Phi files and feature files, read by `score`
    phi = write_published_phi(seeds / "phi.pt", DIM, DIM)
    feats = seeds / "features.npz"
    np.savez(feats, visual=rng.normal(size=(20, DIM)).astype(np.float32),
             audio=rng.normal(size=(20, DIM)).astype(np.float32))
    ours = seeds / "features_ours.npz"
    save_features(ours, FeatureSet(visual=rng.normal(size=(12, DIM)).astype(np.float32),
                                   audio=rng.normal(size=(12, DIM)).astype(np.float32),
                                   trimmed_video_frames=1, checkpoint_sha256="ab" * 32,
                                   meta={"model": "tiny"}))
    kinds.append(Kind("phi", [phi], lambda m, o: ["score", str(feats), "--phi", str(m), "--json"],
                      ".none", _score_ok, [feats]))
    kinds.append(Kind("features", [feats, ours], lambda m, o: ["score", str(m), "--phi", str(phi),
                                                                "--json"],
                      ".none", _score_ok, [phi]))
    # ... and by `train --features` (a folder holding the mutant and one good file)
    kinds.append(Kind("train_features", [feats, ours], lambda m, o: [
        "train", "--features", str(m.parent), "-o", str(o), "--epochs", "1", "--batch-size", "32",
        "--device", "cpu", "--quiet"], ".pt", _file_ok, [],
        mutant_name=lambda out, i: f"set{i}/m.npz", companions=[feats]))

    # Metadata, read by `eval` against a score CSV of the same clips
    av1m = _json(seeds / "val_metadata.json", [
        {"file": "test/a/real.mp4", "modify_type": "real", "fake_segments": [],
         "audio_fake_segments": [], "visual_fake_segments": [], "video_frames": 100,
         "audio_frames": 64000},
        {"file": "test/a/fake_v.mp4", "modify_type": "visual_modified", "fake_segments": [[1.0, 1.5]],
         "audio_fake_segments": [], "visual_fake_segments": [[1.0, 1.5]], "video_frames": 100,
         "audio_frames": 64000},
        {"file": "test/b/fake_av.mp4", "modify_type": "both-modified",
         "fake_segments": [[0.5, 1.0], [2.0, 2.4]], "audio_fake_segments": [[0.5, 1.0]],
         "visual_fake_segments": [[0.6, 1.0]], "video_frames": 80, "audio_frames": 51200},
        {"file": "test/c/real2.mp4", "modify_type": "real", "fake_segments": []}])
    lavdf = _json(seeds / "metadata.min.json", [
        {"file": "test/000001.mp4", "n_fakes": 0, "fake_periods": [], "duration": 3.2,
         "original": None, "modify_video": False, "modify_audio": False, "split": "test"},
        {"file": "test/000002.mp4", "n_fakes": 2, "fake_periods": [[0.4, 0.9], [1.5, 2.0]],
         "duration": 4.0, "original": "test/000001.mp4", "modify_video": True,
         "modify_audio": False, "split": "test", "video_frames": 100},
        {"file": "test/000003.mp4", "n_fakes": 1, "fake_periods": [[0.1, 0.5]], "duration": 2.0,
         "original": "test/000001.mp4", "modify_video": False, "modify_audio": True,
         "split": "test"}])
    favc = seeds / "meta_data.csv"
    favc_rows = [("id00076", "-", "-", "real", "A", "RealVideo-RealAudio", "African", "men",
                  "00109.mp4", "FakeAVCeleb/RealVideo-RealAudio/African/men/id00076"),
                 ("id00076", "id00166", "-", "wav2lip", "D", "FakeVideo-FakeAudio", "African", "men",
                  "00109_id00166_wavtolip.mp4", "FakeAVCeleb/FakeVideo-FakeAudio/African/men/id00076"),
                 ("id00077", "-", "id00078", "rtvc", "B", "RealVideo-FakeAudio", "Asian", "women",
                  "00110.mp4", "FakeAVCeleb/RealVideo-FakeAudio/Asian/women/id00077")]
    favc.write_text("source,target1,target2,method,category,type,race,gender,path\n"
                    + "".join(",".join(r) + "\n" for r in favc_rows), encoding="utf-8")
    scores = {"av1m": ("test/a/real.mp4", "test/a/fake_v.mp4", "test/b/fake_av.mp4",
                       "test/c/real2.mp4"),
              "lavdf": ("test/000001.mp4", "test/000002.mp4", "test/000003.mp4"),
              "favc": tuple(f"{r[9]}/{r[8]}" for r in favc_rows)}
    score_csvs = {}
    for name, files in scores.items():
        p = seeds / f"scores_{name}.csv"
        p.write_text("file,video_score\n" + "".join(f"{f},{0.1 + 0.3 * i}\n" for i, f in
                                                    enumerate(files)), encoding="utf-8")
        score_csvs[name] = p
    for name, meta in (("av1m", av1m), ("lavdf", lavdf), ("favc", favc)):
        csv_path = score_csvs[name]
        kinds.append(Kind(name, [meta], lambda m, o, c=csv_path: [
            "eval", "--metadata", str(m), "--scores", str(c), "--json"], ".none", _json_ok, [csv_path]))

    # Batch CSVs (a plain one and batch's own layout), read by `eval`
    batch = seeds / "results.csv"
    rows = [{"file": f, "video_score": f"{0.2 + 0.2 * i:.4f}", "pool": "lse", "variant": "untrimmed",
             "num_frames": "50", "leading_silence_ms": "25.0", "suspicious_segments": "[[0.1, 0.3]]",
             "sha256": f"{i:064x}", "status": "ok", "error": "", "curve": "", "setup": "abc"}
            for i, f in enumerate(scores["av1m"])]
    batch.write_bytes(br.header_line() + b"".join(br.format_row(r) for r in rows))
    kinds.append(Kind("batch_csv", [batch, score_csvs["av1m"]], lambda m, o: [
        "eval", "--metadata", str(av1m), "--scores", str(m), "--json"], ".none", _json_ok, [av1m]))

    # analyze result JSON, read by `snapshot --result` (with the clip it was made from)
    clip = make_clip(seeds / "clip.mp4", duration_s=1.0, width=128, height=96, face=False).path
    frame_scores = [round(float(x), 4) for x in rng.normal(size=25)]
    result = _json(seeds / "result.json", {
        "file": str(clip), "sha256": _sha(clip), "fps": 25.0, "pool": "lse", "video_score": 1.25,
        "frame_scores": frame_scores, "times_s": [i / 25 for i in range(25)],
        "leading_silence_ms": 25.0, "suspicious_segments": [[0.2, 0.4]],
        "variants": {"untrimmed": {"frame_scores": frame_scores, "video_score": 1.25, "pool": "lse",
                                   "times_s": [i / 25 for i in range(25)]}},
        "models": [{"role": "phi", "name": "phi.pt", "sha256": "0" * 64}]})
    kinds.append(Kind("result", [result], lambda m, o: [
        "snapshot", str(clip), "--at", "0.5", "-o", str(o), "--result", str(m)], ".png", _png_ok,
        [clip]))

    # Training resume states, read by `train --resume`
    corpus = write_corpus(root / "train_features", 3, frames=40, dim=16)
    first = root / "first" / "phi.pt"
    argv = ["train", "--features", str(root / "train_features"), "--batch-size", "32",
            "--device", "cpu", "--quiet"]
    assert main([*argv, "-o", str(first), "--epochs", "1"]) == 0
    state = seeds / "resume.pt"
    shutil.copy(resume_path(first), state)
    kinds.append(Kind("resume", [state], lambda m, o: [*argv, "-o", str(o), "--epochs", "2",
                                                         "--resume"],
                      ".pt", _file_ok, list(corpus),
                      mutant_name=lambda out, i: out.name + ".resume.pt", mutated_on_success=True,
                      existing_out=first))
    return kinds


# --------------------------------------------------------------------------- running


def _mutants(kind: Kind, count: int, folder: Path) -> list[dict[str, Any]]:
    folder.mkdir(parents=True)
    jobs = []
    for i in range(-len(kind.seeds), count):  # negative: a seed as it is, which must succeed
        seed_file = kind.seeds[i % len(kind.seeds)]
        original = seed_file.read_bytes()
        mutator = Mutator(mutant_seed(kind.name, i))
        if i < 0:
            data, what = original, "unchanged"
        elif original.startswith(b"\x80") and len(original) > 1 << 20:
            # a legacy torch file: the pickle is at the start, the tensors follow
            head, what = mutator.mutate(original[:1 << 16])
            data = head + original[1 << 16:]
        else:
            data, what = mutator.mutate(original)
        out = folder / f"out{i}{kind.out_suffix}"
        name = kind.mutant_name(out, i) if kind.mutant_name else f"m{i}{seed_file.suffix}"
        mutant = folder / name
        mutant.parent.mkdir(parents=True, exist_ok=True)
        mutant.write_bytes(data)
        for k, good in enumerate(kind.companions):
            shutil.copy(good, mutant.parent / f"good{k}{good.suffix}")
        if kind.existing_out is not None:
            shutil.copy(kind.existing_out, out)
        jobs.append({"id": f"{kind.name}:{i}", "argv": kind.argv(mutant, out), "mutant": str(mutant),
                     "out": str(out), "what": f"{seed_file.name}: {what}",
                     "out_sha": _sha(out) if out.exists() else None,
                     "sha": {str(p): _sha(p) for p in [mutant, *kind.other_inputs,
                                                       *sorted(mutant.parent.glob("good*"))]}})
    return jobs


def _run_worker(jobs: list[dict[str, Any]], root: Path) -> dict[str, dict[str, Any]]:
    """Run every job in worker processes (a new one after a crash); results by job id."""
    results: dict[str, dict[str, Any]] = {}
    env = {**os.environ, "FORENSICS_GUI_CACHE": str(root / "cache"),
           "FORENSICS_GUI_MODELS": str(root / "no-models"), "FORENSICS_GUI_DATA": str(root / "data"),
           "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    pending = list(jobs)
    attempt = 0
    while pending:
        attempt += 1
        jobs_file, results_file = root / f"jobs{attempt}.jsonl", root / f"results{attempt}.jsonl"
        jobs_file.write_text("".join(json.dumps({"id": j["id"], "argv": j["argv"]}) + "\n"
                                     for j in pending), encoding="utf-8")
        results_file.write_text("")
        proc = subprocess.Popen([sys.executable, "-m", "forensics_gui.testing.fuzz", str(jobs_file),
                                 str(results_file), str(MEMORY_MIB << 20)], env=env, cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        last_progress, seen = time.monotonic(), 0
        while proc.poll() is None:
            time.sleep(0.2)  # polls the worker's progress; the timeout below only bounds a hang
            lines = results_file.read_text(encoding="utf-8").splitlines()
            if len(lines) != seen:
                seen, last_progress = len(lines), time.monotonic()
            elif time.monotonic() - last_progress > PER_MUTANT_TIMEOUT_S:
                proc.kill()
        output = proc.communicate()[0].decode("utf-8", "replace")[-3000:]
        started = None
        for line in results_file.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if "start" in rec:
                started = rec["start"]
            else:
                results[rec["id"]] = rec
                started = None
        if started is not None:  # the worker died (or hung) on this mutant
            results[started] = {"id": started, "rc": f"worker died (exit {proc.returncode})",
                                "stderr": output, "stdout": "", "spawned": [], "traceback": None,
                                "seconds": 0.0, "maxrss_kib": 0}
        elif proc.returncode != 0 and len(results) < len(jobs):
            raise RuntimeError(f"the fuzz worker failed to start: {output}")
        pending = [j for j in pending if j["id"] not in results]
    return results


def _problems(kind: Kind, job: dict[str, Any], res: dict[str, Any]) -> list[str]:
    out = Path(job["out"])
    cmd = job["argv"][0]
    problems = []
    rc, err = res["rc"], res["stderr"]
    if job["what"].endswith(": unchanged") and rc != 0:
        problems.append("the valid seed itself fails")
    if res["spawned"]:
        problems.append(f"spawned a process: {res['spawned']}")
    if rc == 0:
        try:
            ok = kind.valid(out, res["stdout"])
        except Exception as exc:  # noqa: BLE001 - any failure to read the result is the finding
            ok, err = False, f"{err}\n(result unreadable: {exc!r})"
        if not ok:
            problems.append("exit 0 but the result is not valid")
    elif rc == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith(f"forensics-gui {cmd}: ")]
        others = [ln for ln in lines if not ln.startswith((f"forensics-gui {cmd}: ", "warning: "))]
        if len(errors) != 1 or others or "Traceback" in err or not errors[0].rstrip().endswith("."):
            problems.append("exit 2 without exactly one sentence")
        if "out of memory" in err:
            problems.append("ran out of memory")
        written = (_sha(out) != job["out_sha"]) if out.exists() else job["out_sha"] is not None
        if written or list(out.parent.glob(f".{out.name}.*")):
            problems.append(f"failed but wrote (or removed) {out.name}")
    else:
        problems.append(f"exit {rc}")
    if rc != 0 or not kind.mutated_on_success:
        changed = [p for p, h in job["sha"].items() if Path(p).exists() and _sha(Path(p)) != h]
        if changed:
            problems.append(f"changed its input(s) {changed}")
    if not problems:
        return []
    detail = (res.get("traceback") or err or "").strip()[-1500:]
    return [f"{job['id']} ({job['what']}): {', '.join(problems)}\n    argv: {job['argv']}\n    "
            + detail.replace("\n", "\n    ")]


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fuzz")
    t0 = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSICS_GUI_CACHE", str(root / "cache"))
        kinds = _build_kinds(root)
    setup_s = time.monotonic() - t0
    before = {p for p in root.rglob("*")}
    jobs: dict[str, list[dict[str, Any]]] = {}
    only = os.environ.get("FORENSICS_FUZZ_KINDS")
    for kind in kinds:
        count = int(ITERATIONS) if ITERATIONS else DEFAULT_COUNTS[kind.name]
        if only and kind.name not in only.split(","):
            count = 0
        jobs[kind.name] = _mutants(kind, count, root / "mutants" / kind.name)
    all_jobs = [j for js in jobs.values() for j in js]
    expected = {Path(j["mutant"]) for j in all_jobs}
    t1 = time.monotonic()
    results = _run_worker(all_jobs, root)
    run_s = time.monotonic() - t1
    report: dict[str, Any] = {"kinds": {}, "setup_s": setup_s, "run_s": run_s}
    save = os.environ.get("FORENSICS_FUZZ_SAVE")
    for kind in kinds:
        problems, outcomes, seconds = [], {"ok": 0, "refused": 0}, []
        for job in jobs[kind.name]:
            res = results[job["id"]]
            seconds.append(res["seconds"])
            outcomes["ok" if res["rc"] == 0 else "refused"] += 1
            found = _problems(kind, job, res)
            problems += found
            if found and save:
                dest = Path(save) / job["id"].replace(":", "_")
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(job["mutant"], dest / Path(job["mutant"]).name)
                (dest / "finding.txt").write_text(found[0], encoding="utf-8")
        report["kinds"][kind.name] = {"problems": problems, "outcomes": outcomes,
                                      "max_s": max(seconds), "mean_s": float(np.mean(seconds))}
    # No payload: nothing appeared outside the outputs, the mutants, the cache and the worker files.
    stray = sorted(str(p) for p in root.rglob("*") if p not in before and p not in expected
                   and not p.name.startswith(("out", "jobs", "results", ".out"))
                   and "cache" not in p.relative_to(root).parts[:1]
                   and "mutants" != p.relative_to(root).parts[0] and p.is_file())
    stray += sorted(str(p) for p in (root / "mutants").rglob("*") if p.is_file()
                    and p not in expected and not p.name.startswith(("out", ".out", "good")))
    report["stray"] = stray
    report["maxrss_mib"] = max(r["maxrss_kib"] for r in results.values()) / 1024
    print(f"\nfuzz: seed {SEED}, {len(all_jobs)} mutants, setup {setup_s:.1f} s, run {run_s:.1f} s, "
          f"worker peak RSS {report['maxrss_mib']:.0f} MiB; "
          + ", ".join(f"{k}: {v['outcomes']['ok']} ok / {v['outcomes']['refused']} refused"
                      for k, v in report["kinds"].items()))
    return report


@pytest.mark.parametrize("kind", list(DEFAULT_COUNTS))
@pytest.mark.slow
def test_mutants_end_in_a_result_or_one_sentence(fuzz_run: dict[str, Any], kind: str) -> None:
    problems = fuzz_run["kinds"][kind]["problems"]
    assert not problems, f"{len(problems)} bad mutant(s):\n" + "\n".join(problems[:5])


@pytest.mark.slow
def test_no_mutant_left_a_file_behind_or_ran_anything(fuzz_run: dict[str, Any]) -> None:
    assert not fuzz_run["stray"]


def test_mutator_is_seeded_and_mutates() -> None:
    original = json.dumps([{"file": "a.mp4", "duration": 3.2}]).encode()
    a = [Mutator(7).mutate(original) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    many = {Mutator(s).mutate(original)[0] for s in range(40)}
    assert len(many) > 30 and original not in many
