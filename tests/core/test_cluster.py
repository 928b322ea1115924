"""Ray (``--ray``): on a local Ray instance with 2 CPUs, the audit and ``batch`` give the same
results as the single-machine run; without Ray, one sentence says how to install it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forensics_gui.core import cluster
from forensics_gui.core.errors import ForensicsError
from forensics_gui.testing.synth import make_clip, make_text_as_video


def test_without_ray_the_sentence_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ForensicsError) as err:
        cluster.require_ray()
    assert "pip install 'forensics-gui[cluster]'" in str(err.value)
    mapper = cluster.ray_map("auto")
    with pytest.raises(ForensicsError, match=r"forensics-gui\[cluster\]"):
        list(mapper(os.path.getsize, [__file__]))


def test_scorer_plan_one_per_gpu_else_one_per_four_cores() -> None:
    assert cluster.scorer_plan(cpus=64, gpus=8) == (8, {"num_gpus": 1.0, "num_cpus": 1}, 0)
    assert cluster.scorer_plan(cpus=16, gpus=0) == (4, {"num_cpus": 4}, 4)
    assert cluster.scorer_plan(cpus=2, gpus=0) == (1, {"num_cpus": 2}, 2)
    assert cluster.scorer_plan(cpus=2, gpus=0, workers=2) == (2, {"num_cpus": 1}, 1)
    assert cluster.scorer_plan(cpus=8, gpus=2, workers=4) == (4, {"num_gpus": 0.5, "num_cpus": 1}, 0)
    assert cluster.scorer_plan(cpus=8, gpus=2, workers=3)[1]["num_gpus"] == 0.5  # two fit per GPU
    # never more scorers, or bigger ones, than the nodes hold (they would wait forever)
    assert cluster.scorer_plan(cpus=2, gpus=0, workers=8) == (2, {"num_cpus": 1}, 1)
    assert cluster.scorer_plan(cpus=8, gpus=0, nodes=[2, 2, 2, 2]) == (4, {"num_cpus": 2}, 2)
    assert cluster.scorer_plan(cpus=12, gpus=0, nodes=[8, 4]) == (3, {"num_cpus": 4}, 4)


# -- on a local Ray instance -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A private local Ray instance with 2 CPUs; its workers use a cache folder in tmp."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'forensics-gui[cluster]')")
    if ray.is_initialized():
        ray.shutdown()
    d = tmp_path_factory.mktemp("ray-env")
    with pytest.MonkeyPatch.context() as mp:
        # the workers inherit these at start: they must never write the user's real folders
        mp.setenv("FORENSICS_GUI_CACHE", str(d / "cache"))
        mp.setenv("FORENSICS_GUI_MODELS", str(d / "no-models"))
        mp.setenv("FORENSICS_GUI_DATA", str(d / "data"))
        mp.setenv("RAY_AUTH_MODE", "disabled")
        temp = Path("/tmp") / f"ray-fg-{os.getpid()}"  # short: Ray's socket paths live there
        ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, _temp_dir=str(temp))
        try:
            yield ray
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_ray_map_streams_every_result_of_the_same_function(ray_local) -> None:
    files = sorted(str(p) for p in Path(cluster.__file__).parent.glob("*.py"))
    got = list(cluster.ray_map("auto", clips_per_task=2)(os.path.getsize, files))
    assert sorted(p for p, _ in got) == files  # each once
    assert dict(got) == {f: os.path.getsize(f) for f in files}
    assert ray_local.is_initialized()  # a Ray the caller started is left running


class _CancelAfter:
    """A Progress whose user presses Cancel once ``n`` results have come back."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, 0

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        pass

    def cancelled(self) -> bool:
        return self.seen >= self.n


@pytest.mark.slow
def test_ray_map_stops_on_cancel_and_drops_the_queued_tasks(ray_local) -> None:
    from forensics_gui.core.errors import Cancelled

    files = sorted(str(p) for p in Path(cluster.__file__).parent.rglob("*.py"))
    progress = _CancelAfter(1)
    got = []
    with pytest.raises(Cancelled):
        for item in cluster.ray_map("auto", clips_per_task=1, progress=progress)(os.path.getsize, files):
            got.append(item)
            progress.seen += 1
    assert 1 <= len(got) < len(files)
    # Ray is still usable: nothing of the cancelled run is left queued in front of new work
    assert dict(cluster.ray_map("auto")(os.path.getsize, files[:3])) == {
        f: os.path.getsize(f) for f in files[:3]}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good face clips around two bad ones (not a video; no face)."""
    d = tmp_path_factory.mktemp("clips")
    make_clip(d / "a.mkv", duration_s=1.0, width=192, height=192)
    make_text_as_video(d / "b_broken.mp4")
    make_clip(d / "c_noface.mkv", duration_s=1.0, width=128, height=128, face=False)
    make_clip(d / "d.mkv", duration_s=1.2, width=192, height=192, seed=5, leading_silence_ms=80)
    return d


def _batch(capsys: pytest.CaptureFixture[str], folder: Path, out: Path, models: tuple[Path, Path],
           *extra: str) -> tuple[int, str]:
    from forensics_gui.cli import main

    ckpt, phi = models
    code = main(["batch", str(folder), "-o", str(out), "--checkpoint", str(ckpt), "--phi", str(phi),
                 "--device", "cpu", "--both", *extra])
    return code, capsys.readouterr().err


def _rows(out: Path) -> list[dict[str, str]]:
    rows = sorted(csv.DictReader(out.open()), key=lambda r: (r["file"], r["variant"]))
    for r in rows:
        if r["curve"]:
            curve = json.loads((out.parent / r["curve"]).read_text())
            r["curve"] = json.dumps([round(x, 5) for x in curve["frame_scores"]])
        r["video_score"] = r["video_score"] and f"{float(r['video_score']):.5f}"  # threads: 7th digit
        r.pop("check")
    return rows


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_dirs")
def test_batch_on_ray_writes_the_rows_of_the_local_run_and_resumes(ray_local, clips, models, tmp_path,
                                                                  capsys) -> None:
    local, remote = tmp_path / "local.csv", tmp_path / "ray.csv"
    code, _ = _batch(capsys, clips, local, models, "--sequential")
    assert code == 0
    code, err = _batch(capsys, clips, remote, models, "--ray", "auto", "--ray-workers", "2")
    assert code == 0, err
    assert "Ray: 2 scorers on 2 CPUs (CPU), each loading the models once." in err
    assert "Scored 2 of 4 clips; 2 FAILED" in err
    rows = _rows(remote)
    assert rows == _rows(local)
    assert [(r["file"], r["variant"], r["status"]) for r in rows if r["status"] == "ok"] == [
        ("a.mkv", "trimmed", "ok"), ("a.mkv", "untrimmed", "ok"),
        ("d.mkv", "trimmed", "ok"), ("d.mkv", "untrimmed", "ok")]
    # the same resumable table: a second run finds everything there
    code, err = _batch(capsys, clips, remote, models, "--ray", "auto")
    assert code == 0 and "4 clips, 4 already in" in err and "0 to score" in err


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_dirs")
def test_audit_on_ray_equals_the_local_audit_and_resumes(ray_local, tmp_path, capsys) -> None:
    from forensics_gui.cli import main
    from forensics_gui.core.audit import make_demo_corpus, read_table

    corpus = tmp_path / "corpus"
    make_demo_corpus(corpus, clips=10, seed=2, bad=True)  # + an empty, a text and a silent file
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["audit", str(corpus), "-o", str(local), "-q"]) == 0
    assert main(["audit", str(corpus), "-o", str(remote), "--ray", "auto"]) == 0
    err = capsys.readouterr().err
    assert "Measured 13 clips (0 already measured)" in err
    rows_local, rows_ray = read_table(local / "cues.jsonl")[0], read_table(remote / "cues.jsonl")[0]
    assert len(rows_ray) == 13 and rows_ray == rows_local  # every cue of every clip, errors too
    assert sum(1 for r in rows_ray.values() if r.get("error")) == 3
    assert (remote / "cue_auc.csv").read_text() == (local / "cue_auc.csv").read_text()
    # the same resumable table: a second run on Ray measures nothing again
    assert main(["audit", str(corpus), "-o", str(remote), "--ray", "auto"]) == 0
    assert "Measured 0 clips (13 already measured)" in capsys.readouterr().err
