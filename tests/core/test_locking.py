"""Two runs never write one output at once: the second says which process holds it and exits 2;
a lock left by a dead process never blocks; training's temp cleanup spares a live run's files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from forensics_gui import cli
from forensics_gui.core.files.locking import OutputBusyError, lock_path, output_lock
from forensics_gui.testing.phi import write_corpus
from forensics_gui.testing.synth import make_clip

HOLDER = """
import sys, time
from forensics_gui.core.files.locking import output_lock
with output_lock(sys.argv[1], sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


pytestmark = pytest.mark.usefixtures("isolated_dirs")  # cache, models and data in tmp_path


@pytest.fixture
def hold(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """hold(output, command) -> the process (another Python) that holds the lock on output."""
    procs: list[subprocess.Popen[str]] = []

    def start(output: Path, command: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(output), command], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.communicate("", timeout=10)


def _busy_pattern(name: str, pid: int, command: str) -> str:
    return (rf"^{re.escape(name)} is being written by process {pid} \(forensics-gui {command}, "
            r"started \d\d:\d\d:\d\d\); wait for it to finish or stop it\.$")


def test_a_second_batch_on_one_csv_names_the_first_and_scores_nothing(tmp_path: Path, hold, capsys) -> None:  # type: ignore[no-untyped-def]
    clips = tmp_path / "clips"
    make_clip(clips / "a.mp4", duration_s=0.4, width=96, height=96)
    csv_path = tmp_path / "RESULTS.csv"
    csv_path.write_text("file,status\nalready.mp4,ok\n", encoding="utf-8")
    first = hold(csv_path, "batch")
    rc = cli.main(["batch", str(clips), "-o", str(csv_path), "--checkpoint", str(tmp_path / "none.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert re.match(_busy_pattern("RESULTS.csv", first.pid, "batch"),
                    err.removeprefix("forensics-gui batch: ")), err
    assert csv_path.read_text(encoding="utf-8") == "file,status\nalready.mp4,ok\n"
    first.communicate("", timeout=10)
    assert not lock_path(csv_path).exists()  # released and removed by its holder


def test_a_second_train_on_one_output_fails_and_keeps_the_live_runs_temp_files(tmp_path: Path, hold, capsys) -> None:  # type: ignore[no-untyped-def]
    write_corpus(tmp_path / "features", 2, frames=40, dim=8)
    out = tmp_path / "phi.pt"
    live_temps = [tmp_path / ".phi.pt.0123abcd.pt", tmp_path / ".phi.pt.resume.pt.89abcdef.pt"]
    for t in live_temps:
        t.write_bytes(b"being written by the live run")
    first = hold(out, "train")
    rc = cli.main(["train", "--features", str(tmp_path / "features"), "-o", str(out), "--epochs", "1",
                   "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert re.match(_busy_pattern("phi.pt", first.pid, "train"), err.removeprefix("forensics-gui train: ")), err
    assert all(t.read_bytes() == b"being written by the live run" for t in live_temps)
    assert not out.exists()


def test_train_phi_takes_the_lock_itself_so_the_viewer_and_cli_exclude_each_other(tmp_path: Path, hold) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.core.alignment.training import train_phi

    files = write_corpus(tmp_path / "features", 2, frames=40, dim=8)
    out = tmp_path / "phi.pt"
    first = hold(out, "train (viewer)")
    with pytest.raises(OutputBusyError, match=_busy_pattern("phi.pt", first.pid, r"train \(viewer\)")):
        train_phi(files, out, epochs=1, store_dir=tmp_path / "store")
    first.communicate("", timeout=10)
    # free again: the run trains, and at its start removes only the temp files of dead runs
    dead_temp = tmp_path / ".phi.pt.0123abcd.pt"
    dead_temp.write_bytes(b"left by a killed run")
    unrelated = tmp_path / ".phi.pt.notes"
    unrelated.write_text("mine", encoding="utf-8")
    result = train_phi(files, out, epochs=1, store_dir=tmp_path / "store")
    assert result.checkpoint == out and out.is_file()
    assert not dead_temp.exists() and unrelated.read_text(encoding="utf-8") == "mine"
    assert not lock_path(out).exists()


def test_a_lock_file_left_by_a_killed_process_does_not_block(tmp_path: Path, hold) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "RESULTS.csv"
    first = hold(out, "batch")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert lock_path(out).is_file() and str(first.pid) in lock_path(out).read_text(encoding="utf-8")
    with output_lock(out, "batch"):
        assert f'"pid": {os.getpid()}' in lock_path(out).read_text(encoding="utf-8")
    assert not lock_path(out).exists()


def test_a_stale_lock_file_with_any_content_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    lock_path(out).write_text('{"pid": 999999, "host": "elsewhere", "command": "train"}', encoding="utf-8")
    with output_lock(out, "train"):
        pass
    lock_path(out).write_text("garbage", encoding="utf-8")
    with output_lock(out, "train"):
        pass


def test_the_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    errors: list[str] = []

    def other_thread() -> None:
        try:
            with output_lock(out, "train"):
                pass
        except OutputBusyError as err:
            errors.append(str(err))

    with output_lock(out, "train (viewer)"):
        with output_lock(out, "train"):  # e.g. the dialog's lock, then train_phi's
            pass
        assert lock_path(out).is_file()  # the inner block did not release it
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert len(errors) == 1 and re.match(_busy_pattern("phi.pt", os.getpid(), r"train \(viewer\)"), errors[0])
    with output_lock(out, "train"):  # released
        pass


def test_a_lock_another_run_just_created_says_so_without_details(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "phi.pt"
    fd = os.open(lock_path(out), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked, record not written yet
        with pytest.raises(OutputBusyError, match=r"^phi\.pt is being written by another run; wait "):
            with output_lock(out, "train"):
                pass
    finally:
        os.close(fd)


def test_the_viewer_training_worker_says_who_holds_its_output(tmp_path: Path, hold) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("PySide6")
    from forensics_gui.ui.training_dialog import TrainingParams, TrainingWorker

    write_corpus(tmp_path / "features", 2, frames=40, dim=8)
    out = tmp_path / "phi.pt"
    first = hold(out, "train")
    worker = TrainingWorker(TrainingParams(source=tmp_path / "features", output=out, epochs=1))
    failed: list[str] = []
    finished: list[object] = []
    worker.failed.connect(lambda _token, sentence: failed.append(sentence))
    worker.finished.connect(lambda _token, result: finished.append(result))
    worker.run()  # in this thread: the signals arrive directly
    assert len(failed) == 1 and re.match(_busy_pattern("phi.pt", first.pid, "train"), failed[0]), failed
    assert not finished and not out.exists()
