"""`models fetch|remove`: downloads only when asked, licence first, resumable, verified or recorded.

Every test serves the files from a local HTTP server on 127.0.0.1 (forensics_gui.testing.
model_server, with Range support); nothing reaches the network. Each failure must give one
sentence and leave nothing but the partial area in the models folder proper.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import namedtuple
from pathlib import Path

import pytest

from forensics_gui.cli import main
from forensics_gui.core.errors import Cancelled
from forensics_gui.core.files import hashing as file_hashing
from forensics_gui.core.models import fetch
from forensics_gui.core.models import registry as models_registry
from forensics_gui.core.models.fetch import FetchError, TransferMeter, fetch_model, remove_model
from forensics_gui.core.models.info import registry_match
from forensics_gui.core.models.inventory import list_models
from forensics_gui.testing.model_server import ServedFile, model_server
from forensics_gui.testing.progress import RecordingProgress

DATA = (bytes(range(256)) * 4096 + b"tail") * 3  # 3.1 MB: a few 1 MiB download blocks
FREE = DATA[::-1]  # served for nodigest.pt: no registry entry has its digest
OTHER = b"another file" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User models folder and cache inside tmp_path; the registry names good.pt (with its
    digest), nodigest.pt (none) and wrong.pt (a digest the served file does not have)."""
    models = tmp_path / "models"
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(models))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_hashing, "_memory_cache", {})
    registry = tmp_path / "registry.json"
    monkeypatch.setattr(models_registry, "REGISTRY_FILE", registry)
    entries = [("good.pt", sha(DATA)), ("nodigest.pt", None), ("wrong.pt", "ab" * 32)]
    registry.write_text(json.dumps({"version": 1, "models": [
        {"name": n, "kind": "phi", "role": "default" if i == 0 else "alternative",
         "description": "", "approx_size": "3 MB", "sha256": d, "license": "Test licence (NC)",
         "license_url": "https://example.org/licence", "license_text": "Be nice.",
         "source": "the test", "url": f"http://127.0.0.1:9/{n}"}
        for i, (n, d) in enumerate(entries)]}))
    return models


def assert_clean(folder: Path, name: str) -> None:
    """Nothing but the partial area (and the recorded digests) in the models folder proper."""
    assert not (folder / name).exists()
    if folder.is_dir():
        strays = [p.name for p in folder.iterdir()
                  if p.name not in (fetch.PARTIAL_DIR, fetch.RECORDED_FILE)]
        assert strays == []


def one_sentence(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text
    return text


def test_good_file_is_verified_and_moved_in_whole(folder: Path) -> None:
    progress = RecordingProgress()
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        result = fetch_model("good.pt", True, progress, url=server.url("good.pt"))
    assert result.state == "verified" and result.sha256 == sha(DATA) and result.resumed_from == 0
    assert (folder / "good.pt").read_bytes() == DATA
    assert list((folder / fetch.PARTIAL_DIR).iterdir()) == []
    downloads = [c for c in progress.calls if c[0] == "download"]
    assert downloads[-1] == ("download", len(DATA), len(DATA)) and len(downloads) >= 3
    assert "verified" in result.sentence
    rows = {r.name: r for r in list_models()}
    assert rows["good.pt"].state == "verified"


def test_licence_not_accepted_fetches_nothing(folder: Path) -> None:
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("good.pt", False, url=server.url("good.pt"))
        assert server.requests == []
    assert "licence" in one_sentence(err.value) and "Test licence (NC)" in str(err.value)
    assert not folder.exists()


def test_no_registry_digest_records_the_first_one_never_verified(folder: Path) -> None:
    with model_server({"nodigest.pt": ServedFile(FREE)}) as server:
        result = fetch_model("nodigest.pt", True, url=server.url("nodigest.pt"))
        assert result.state == "recorded" and "not verified" in result.sentence
        recorded = json.loads((folder / fetch.RECORDED_FILE).read_text())["models"]
        assert recorded["nodigest.pt"]["sha256"] == sha(FREE)
        row = {r.name: r for r in list_models()}["nodigest.pt"]
        assert row.state == "recorded" and "recorded" in row.detail and "verified" not in row.state
        assert registry_match(folder / "nodigest.pt", sha(FREE)).state == "recorded"
        # A later download must match the first one: a changed file is refused.
        remove_model("nodigest.pt")
        server.files["nodigest.pt"] = ServedFile(OTHER)
        with pytest.raises(FetchError) as err:
            fetch_model("nodigest.pt", True, url=server.url("nodigest.pt"))
    assert "recorded when this model was first downloaded" in one_sentence(err.value)
    assert_clean(folder, "nodigest.pt")
    assert not fetch.partial_path("nodigest.pt").exists()


def test_wrong_digest_is_deleted_not_installed(folder: Path) -> None:
    with model_server({"wrong.pt": ServedFile(DATA)}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("wrong.pt", True, url=server.url("wrong.pt"))
    text = one_sentence(err.value)
    assert "does not match" in text and "deleted and not installed" in text
    assert_clean(folder, "wrong.pt")
    assert not fetch.partial_path("wrong.pt").exists()


def test_interrupted_transfer_resumes_with_a_range_request(folder: Path) -> None:
    cut = len(DATA) // 3
    with model_server({"good.pt": ServedFile(DATA, cut_after=cut)}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("good.pt", True, url=server.url("good.pt"))
        assert "fetch it again to resume" in one_sentence(err.value)
        assert_clean(folder, "good.pt")
        kept = fetch.partial_bytes("good.pt")  # whole blocks of what arrived
        assert cut - fetch.CHUNK_BYTES < kept <= cut
        assert {r.name: r for r in list_models()}["good.pt"].partial_bytes == kept
        result = fetch_model("good.pt", True, url=server.url("good.pt"))
        assert server.requests[-1] == ("good.pt", f"bytes={kept}-")
    assert result.state == "verified" and result.resumed_from == kept
    assert (folder / "good.pt").read_bytes() == DATA
    assert list((folder / fetch.PARTIAL_DIR).iterdir()) == []


def test_a_server_without_ranges_starts_again_from_zero(folder: Path) -> None:
    cut = len(DATA) // 2
    with model_server({"good.pt": ServedFile(DATA, cut_after=cut, ranges=False)}) as server:
        with pytest.raises(FetchError):
            fetch_model("good.pt", True, url=server.url("good.pt"))
        result = fetch_model("good.pt", True, url=server.url("good.pt"))
    assert result.resumed_from == 0 and (folder / "good.pt").read_bytes() == DATA


def test_404_says_where_to_get_it_by_hand(folder: Path) -> None:
    with model_server({}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("good.pt", True, url=server.url("good.pt"))
    text = one_sentence(err.value)
    assert "HTTP 404" in text and "by hand from the test" in text
    assert_clean(folder, "good.pt")


def test_unreachable_server_is_one_sentence(folder: Path) -> None:
    with model_server({}) as server:
        port = server.port
    with pytest.raises(FetchError) as err:  # the server is gone: connection refused
        fetch_model("good.pt", True, url=f"http://127.0.0.1:{port}/good.pt")
    assert "Could not reach 127.0.0.1" in one_sentence(err.value)
    assert_clean(folder, "good.pt")


def test_a_stalled_server_times_out_and_the_download_resumes_later(folder: Path) -> None:
    stall = len(DATA) // 2
    with model_server({"good.pt": ServedFile(DATA, stall_after=stall)}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("good.pt", True, url=server.url("good.pt"), timeout_s=(5, 0.5))
        text = one_sentence(err.value)
        assert "stopped sending good.pt for 0.5 s" in text and "resume" in text
        assert_clean(folder, "good.pt")
        result = fetch_model("good.pt", True, url=server.url("good.pt"))
    assert result.state == "verified" and result.resumed_from > 0


def test_too_big_for_the_disk_writes_nothing(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda _p: usage(10 << 30, 10 << 30, 1 << 20))
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        with pytest.raises(FetchError) as err:
            fetch_model("good.pt", True, url=server.url("good.pt"))
    text = one_sentence(err.value)
    assert "Not enough free disk space for good.pt" in text and "3.1 MB" in text
    assert_clean(folder, "good.pt")
    assert fetch.partial_bytes("good.pt") == 0


def test_cancel_keeps_the_partial_for_a_resume(folder: Path) -> None:
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        with pytest.raises(Cancelled) as err:
            # cancelled once a second block has been reported
            fetch_model("good.pt", True, RecordingProgress(stop_after=2, counting="download"),
                        url=server.url("good.pt"))
        assert "cancelled" in one_sentence(err.value)
        assert_clean(folder, "good.pt")
        kept = fetch.partial_bytes("good.pt")
        assert 0 < kept < len(DATA)
        result = fetch_model("good.pt", True, url=server.url("good.pt"))
    assert result.resumed_from == kept and (folder / "good.pt").read_bytes() == DATA


def test_already_installed_and_unknown_names(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "good.pt").write_bytes(b"mine")
    with pytest.raises(FetchError) as err:
        fetch_model("good.pt", True)
    assert "already in" in one_sentence(err.value)
    assert (folder / "good.pt").read_bytes() == b"mine"
    with pytest.raises(FetchError) as err:
        fetch_model("nope.pt", True)
    assert "not a known model" in one_sentence(err.value)


def test_remove_deletes_only_the_user_file_and_its_partial(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "good.pt").write_bytes(b"x")
    part = fetch.partial_path("good.pt")
    part.parent.mkdir()
    part.write_bytes(b"y")
    assert sorted(p.name for p in remove_model("good.pt")) == ["good.pt", "good.pt.part"]
    assert not (folder / "good.pt").exists() and not part.exists()
    for bad in ("../good.pt", "", fetch.RECORDED_FILE):
        with pytest.raises(FetchError):
            remove_model(bad)
    with pytest.raises(FetchError) as err:
        remove_model("good.pt")
    assert "There is no good.pt" in one_sentence(err.value)


def test_transfer_meter_speed_and_time_left() -> None:
    now = [0.0]
    meter = TransferMeter(100e6, clock=lambda: now[0])
    assert "measuring speed" in meter.text()
    now[0] = 2.0
    meter.update(20e6)
    assert meter.speed == pytest.approx(10e6) and meter.seconds_left == pytest.approx(8.0)
    assert meter.text() == "20.0 of 100.0 MB (20 %), 10.0 MB/s, 8 s left"


# -- the command line -----------------------------------------------------------------------------
def _registry_url(folder: Path, server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = models_registry.REGISTRY_FILE
    doc = json.loads(path.read_text())
    for m in doc["models"]:
        m["url"] = server_url + m["name"]
    path.write_text(json.dumps(doc))


def test_cli_fetch_needs_the_licence_accepted(folder, monkeypatch, capsys) -> None:
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        _registry_url(folder, server.url(""), monkeypatch)
        monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 (not a terminal)
        assert main(["models", "fetch", "good.pt", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "--accept-licence" in err and err.count("\n") == 1 and server.requests == []
        assert main(["models", "fetch", "good.pt", "--accept-licence", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Be nice." in out and "verified" in out
    assert (folder / "good.pt").read_bytes() == DATA
    assert main(["models", "list", "--json", "--quiet"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert rows["good.pt"]["state"] == "verified" and rows["nodigest.pt"]["can_fetch"]
    assert main(["models", "remove", "good.pt", "--yes"]) == 0
    assert not (folder / "good.pt").exists()


def test_cli_fetch_interactive_yes_and_progress_line(folder, monkeypatch, capsys) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = Tty("y\n")
    monkeypatch.setattr("sys.stdin", answers)
    err_stream = Tty()
    monkeypatch.setattr("sys.stderr", err_stream)
    with model_server({"nodigest.pt": ServedFile(FREE)}) as server:
        _registry_url(folder, server.url(""), monkeypatch)
        assert main(["models", "fetch", "nodigest.pt"]) == 0
    out = capsys.readouterr().out
    assert "Accept this licence" in out and "recorded" in out
    line = err_stream.getvalue()
    assert "nodigest.pt" in line and "MB" in line and "MB/s" in line


def test_cli_fetch_refused_interactively_fetches_nothing(folder, monkeypatch, capsys) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("n\n"))
    with model_server({"good.pt": ServedFile(DATA)}) as server:
        _registry_url(folder, server.url(""), monkeypatch)
        assert main(["models", "fetch", "good.pt"]) == 2
        assert server.requests == []
    assert "not downloaded" in capsys.readouterr().err
    assert not (folder / "good.pt").exists()


def test_cli_failure_is_one_line_and_exit_2(folder, monkeypatch, capsys) -> None:
    with model_server({}) as server:
        _registry_url(folder, server.url(""), monkeypatch)
        assert main(["models", "fetch", "good.pt", "--accept-licence", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 404" in err


# -- the registry ships inside the package ---------------------------------------------------------
def test_the_registry_is_package_data_found_by_importlib_resources() -> None:
    from importlib import resources

    import forensics_gui

    package = Path(forensics_gui.__file__).resolve().parent
    shipped = Path(str(resources.files("forensics_gui.core.models") / "registry.json"))
    assert models_registry.REGISTRY_FILE == shipped and shipped.is_file()
    assert package in shipped.resolve().parents
    names = {m.name for m in models_registry.known_models()}
    assert {"self_large_vox_433h.pt", "AVH-Align_AV1M.pt"} <= names
    for model in models_registry.known_models():  # official addresses, a licence to accept
        assert model.url.startswith("https://") and model.license_text and model.license_url


@pytest.mark.slow
def test_a_built_wheel_carries_the_registry(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "forensics_gui", src / "forensics_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # This environment's setuptools when it knows SPDX licences (>= 77), else pip's isolated build
    # (which installs the build-system requirement from the package index).
    from importlib.metadata import version

    isolation = [] if int(version("setuptools").split(".")[0]) < 77 else ["--no-build-isolation"]
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                           "-q", str(src), "-w", str(tmp_path / "wheel")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "project.license" not in done.stderr  # no setuptools deprecation of a TOML table
    (wheel,) = (tmp_path / "wheel").glob("forensics_gui-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "forensics_gui/core/models/registry.json" in names
    assert "License-Expression: MIT" in meta


def test_a_second_fetch_of_the_same_model_is_told_who_has_it(folder: Path) -> None:
    from forensics_gui.core.files.locking import OutputBusyError, output_lock

    part = fetch.partial_path("good.pt")
    part.parent.mkdir(parents=True)
    started: list[bool] = []
    import threading

    release = threading.Event()

    def other_run() -> None:  # another thread holds the download's lock, as another process would
        with output_lock(part, "models fetch"):
            started.append(True)
            release.wait(60)

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        while not started and thread.is_alive():
            thread.join(0.01)
        with model_server({"good.pt": ServedFile(DATA)}) as server:
            with pytest.raises(OutputBusyError) as err:
                fetch_model("good.pt", True, url=server.url("good.pt"))
            assert server.requests == []
    finally:
        release.set()
        thread.join(60)
    assert "good.pt.part is being written by process" in one_sentence(err.value)
    assert "models fetch" in str(err.value)
    assert_clean(folder, "good.pt")
