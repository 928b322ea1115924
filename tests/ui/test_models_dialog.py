"""Help > Models…: what each installed model file is, read off the GUI thread, and whether the
chosen Phi fits the chosen feature extractor."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path

import pytest

from forensics_gui.core.files import hashing as file_hashing
from forensics_gui.core.models import registry as models_registry
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.phi import write_published_phi, write_supervised_phi


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("dialog_models")
    return {
        "extractor": write_fake_avhubert_checkpoint(d / "ft.pt", layers=1, dim=64, heads=4, ffn=128,
                                                    finetuned=True, fp16=True),
        "phi768": write_published_phi(d / "phi768.pt", visual_dim=768, audio_dim=768),
        "phi64": write_published_phi(d / "phi64.pt", visual_dim=64, audio_dim=64),
        "sup": write_supervised_phi(d / "sup.ckpt", 64, 64, variant="mlp"),
    }


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(folder))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_hashing, "_memory_cache", {})
    return folder


def install(folder: Path, name: str, source: Path) -> Path:
    target = folder / name
    target.write_bytes(source.read_bytes())
    return target


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_dialog(qtbot, extra=None):  # type: ignore[no-untyped-def]
    from forensics_gui.ui.models_dialog import ModelsDialog

    dialog = ModelsDialog(extra=extra)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.hashing, timeout=30000)
    return dialog


def row_cells(dialog, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.models_dialog import COLUMNS

    row = dialog.row_of(name)
    assert row >= 0, f"{name} is not in the table"
    return {column: dialog.cell(row, c) for c, column in enumerate(COLUMNS)}


def test_rows_say_what_each_file_is_and_that_phi_does_not_fit(qtbot, files, models_dir) -> None:
    ckpt = install(models_dir, "self_large_vox_433h.pt", files["extractor"])
    phi = install(models_dir, "AVH-Align_AV1M.pt", files["phi768"])
    dialog = open_dialog(qtbot)
    enc = row_cells(dialog, "self_large_vox_433h.pt")
    assert enc["Kind"] == "AV-HuBERT fine-tuned"
    assert enc["Sizes"] == "custom (embed dim 64, 1 layers, 4 heads, FFN 128)"
    assert enc["Precision"] == "fp16"
    assert enc["Parameters"].endswith("in the encoder, of " + enc["Parameters"].split("of ")[-1])
    assert enc["SHA-256"] == digest(ckpt)
    assert enc["Status"] == f"present: {ckpt} ({ckpt.stat().st_size / 1e6:.1f} MB)"
    assert enc["Registry"] == ("not verifiable: named like self_large_vox_433h.pt, but the "
                               "registry has no SHA-256 for it")
    assert enc["Can serve as"] == "feature extractor (64-dim features)"
    p = row_cells(dialog, "AVH-Align_AV1M.pt")
    assert p["Kind"] == "AVH-Align Phi" and p["SHA-256"] == digest(phi)
    assert p["Sizes"].startswith("custom (input features 768-dim visual / 768-dim audio")
    assert p["Parameters"].startswith("1,478,401 ") and p["Precision"] == "fp32"
    assert p["Can serve as"] == "Phi (768-dim features)"
    assert row_cells(dialog, "base_vox_iter5.pt")["Status"] == "missing"
    assert dialog.compatibility_text() == (
        "Does not fit: 'AVH-Align_AV1M.pt' was trained on 768-dim features (AV-HuBERT BASE) and "
        "cannot score the 64-dim features of 'self_large_vox_433h.pt' (custom); use a Phi trained "
        "on this extractor's features, or the extractor that Phi was trained with.")
    from forensics_gui.ui import theme

    assert dialog.compat_labels[0].styleSheet() == f"color: {theme.PLAYHEAD};"
    # The details under the table show every fact of the selected file, the full digest included.
    assert dialog.details_label.text().splitlines()[1] == "kind: AV-HuBERT fine-tuned"
    dialog.table.setCurrentCell(dialog.row_of("AVH-Align_AV1M.pt"), 0)
    details = dialog.details_label.text().splitlines()
    assert details[1] == "kind: AVH-Align Phi" and f"sha256: {digest(phi)}" in details
    assert "can serve as: Phi (768-dim features)" in details


def test_verified_unknown_and_unreadable_files(qtbot, tmp_path, files, models_dir, monkeypatch) -> None:
    install(models_dir, "self_large_vox_433h.pt", files["extractor"])
    install(models_dir, "AVH-Align_AV1M.pt", files["phi64"])
    install(models_dir, "my_phi.pt", files["phi768"])
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    (models_dir / "evil.pt").write_bytes(pickle.dumps({"model": Evil()}, protocol=2))
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [
        {"name": "self_large_vox_433h.pt", "kind": "avhubert", "role": "default", "description": "",
         "approx_size": "", "license": "", "source": "", "sha256": digest(files["extractor"])},
        {"name": "AVH-Align_AV1M.pt", "kind": "phi", "role": "default", "description": "",
         "approx_size": "", "license": "", "source": "", "sha256": "ab" * 32}]}))
    monkeypatch.setattr(models_registry, "REGISTRY_FILE", registry)
    dialog = open_dialog(qtbot)
    enc = row_cells(dialog, "self_large_vox_433h.pt")
    assert enc["Status"].startswith("verified: ")
    assert enc["Registry"] == "verified: SHA-256 matches self_large_vox_433h.pt"
    phi = row_cells(dialog, "AVH-Align_AV1M.pt")
    assert phi["Status"].startswith("unknown file: ")
    assert phi["Registry"].startswith("unknown file: named like AVH-Align_AV1M.pt, but its SHA-256 differs")
    mine = row_cells(dialog, "my_phi.pt")
    assert mine["Kind"] == "AVH-Align Phi" and mine["Status"].startswith("unknown file: ")
    evil = row_cells(dialog, "evil.pt")
    assert evil["Kind"] == "unreadable" and evil["Can serve as"] == "nothing here"
    assert "refuses to load 'evil.pt'" in dialog.table.item(dialog.row_of("evil.pt"), 1).toolTip()
    assert not marker.exists()
    # The 64-dim Phi fits the 64-dim extractor, which is the encoder the registry names.
    assert dialog.compatibility_text().startswith(
        "Fits: 'AVH-Align_AV1M.pt' can score the features of 'self_large_vox_433h.pt'.")


def test_supervised_checkpoint_in_use_is_inspected_and_checked(qtbot, files, models_dir) -> None:
    install(models_dir, "self_large_vox_433h.pt", files["extractor"])
    install(models_dir, "AVH-Align_AV1M.pt", files["phi64"])
    dialog = open_dialog(qtbot, extra=[("supervised Phi", str(files["sup"]))])
    sup = row_cells(dialog, "sup.ckpt")
    assert sup["Kind"] == "AVH-Align/sup supervised Phi (mlp variant)"
    assert sup["Can serve as"] == "supervised Phi (64-dim features)"
    assert sup["SHA-256"] == digest(files["sup"])
    lines = dialog.compatibility_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Fits: 'sup.ckpt' can score the features")
    assert [label.property("level") for label in dialog.compat_labels] == ["ok", "ok"]


def test_hashing_runs_off_the_gui_thread(qtbot, files, models_dir, monkeypatch) -> None:
    """A slow SHA-256 (a 1-2 GB checkpoint) leaves the dialog responsive and shows progress."""
    import threading

    from forensics_gui.core.files import hashing
    from forensics_gui.ui.models_dialog import COMPUTING, ModelsDialog

    install(models_dir, "self_large_vox_433h.pt", files["extractor"])
    real = hashing.sha256_file
    release = threading.Event()
    in_gui_thread: list[bool] = []

    def slow(path, progress=None, chunk=1 << 20):  # type: ignore[no-untyped-def]
        in_gui_thread.append(threading.current_thread() is threading.main_thread())
        for i in range(10):
            if progress is not None:
                progress.report("hash", i, 10)
        # A hash that lasts until the test has watched the GUI thread run; the bound only ends
        # a regression that hashes in the GUI thread (the dialog would then block for it).
        release.wait(60.0)
        return real(path, progress, chunk)

    monkeypatch.setattr(file_hashing, "sha256_file", slow)
    dialog = ModelsDialog()
    qtbot.addWidget(dialog)
    row = dialog.row_of("self_large_vox_433h.pt")
    assert dialog.cell(row, 2) == COMPUTING and dialog.hashing  # shown before the hash ends
    ticks: list[int] = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(len(ticks)))
    timer.start(20)
    qtbot.waitUntil(lambda: "SHA-256" in dialog.progress_label.text(), timeout=30000)
    assert dialog.progress_label.text().startswith("self_large_vox_433h.pt: SHA-256 ")
    # The event loop keeps running while the hash is still in progress, in another thread.
    qtbot.waitUntil(lambda: len(ticks) >= 20, timeout=30000)
    assert dialog.hashing and in_gui_thread == [False]
    release.set()
    qtbot.waitUntil(lambda: not dialog.hashing, timeout=30000)
    timer.stop()
    assert len(ticks) >= 20
    assert dialog.cell(row, 2) == digest(files["extractor"])
    assert dialog.cell(row, 1) == "AV-HuBERT fine-tuned"


def test_closing_the_dialog_cancels_the_background_work(qtbot, files, models_dir, monkeypatch) -> None:
    from forensics_gui.core.progress import check_cancelled
    from forensics_gui.ui.models_dialog import ModelsDialog

    install(models_dir, "self_large_vox_433h.pt", files["extractor"])
    blocks: list[int] = []

    def endless(path, progress=None, chunk=1 << 20):  # type: ignore[no-untyped-def]
        for _ in range(400):  # 20 s unless cancelled, checked between blocks like the real one
            check_cancelled(progress)
            blocks.append(1)
            time.sleep(0.05)  # only paces the fake hash; the checks below count blocks, not time
        return "0" * 64

    monkeypatch.setattr(file_hashing, "sha256_file", endless)
    dialog = ModelsDialog()
    qtbot.addWidget(dialog)
    worker = dialog.worker
    assert worker is not None and dialog.hashing
    dialog.reject()
    at_cancel = len(blocks)
    assert worker.flag.cancelled()
    # Stopped at its next check: at most the block in progress ran after the cancel.
    assert worker.wait(30000) and len(blocks) <= at_cancel + 1
    # Quitting the app stops a dialog's work too (no thread outlives the application).
    from forensics_gui.ui.models_dialog import stop_all_workers

    other = ModelsDialog()
    qtbot.addWidget(other)
    assert other.worker is not None and other.worker.isRunning()
    before_quit = len(blocks)
    stop_all_workers()
    assert other.worker.isFinished() and len(blocks) <= before_quit + 1


# -- Fetch… ---------------------------------------------------------------------------------------
FETCHED = bytes(range(256)) * 12289  # 3.1 MB


@pytest.fixture
def fetch_registry(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A registry naming one fetchable model; returns a function pointing its url at a server."""
    registry = tmp_path / "registry.json"
    monkeypatch.setattr(models_registry, "REGISTRY_FILE", registry)

    def serve_from(url: str) -> None:
        registry.write_text(json.dumps({"version": 1, "models": [
            {"name": "AVH-Align_AV1M.pt", "kind": "phi", "role": "default", "description": "",
             "approx_size": "3 MB", "license": "Test licence (non-commercial)",
             "license_text": "Use it kindly, never commercially.",
             "license_url": "https://example.org/licence", "source": "the test",
             "sha256": hashlib.sha256(FETCHED).hexdigest(), "url": url}]}))

    return serve_from


def _select(dialog, name: str) -> None:  # type: ignore[no-untyped-def]
    dialog.table.setCurrentCell(dialog.row_of(name), 0)


def test_refused_licence_fetches_nothing(qtbot, models_dir, fetch_registry) -> None:
    from forensics_gui.testing.model_server import ServedFile, model_server

    with model_server({"phi.pt": ServedFile(FETCHED)}) as server:
        fetch_registry(server.url("phi.pt"))
        dialog = open_dialog(qtbot)
        _select(dialog, "AVH-Align_AV1M.pt")
        assert dialog.fetch_button.isEnabled()
        dialog.fetch_button.click()
        licence = dialog.licence_dialog
        assert licence is not None and not licence.isHidden()
        assert "Use it kindly, never commercially." in licence.licence_text()
        assert "Test licence (non-commercial)" in licence.intro.text()
        assert licence.cancel_button.isDefault()  # Enter does not accept
        licence.cancel_button.click()
        assert not dialog.fetching() and server.requests == []
    assert "not downloaded" in dialog.fetch_label.text()
    assert list(models_dir.iterdir()) == []


@pytest.mark.slow
def test_fetch_shows_progress_then_the_verified_row(qtbot, models_dir, fetch_registry) -> None:
    from forensics_gui.testing.model_server import ServedFile, model_server

    with model_server({"phi.pt": ServedFile(FETCHED, pace_s=0.02)}) as server:
        fetch_registry(server.url("phi.pt"))
        dialog = open_dialog(qtbot)
        assert row_cells(dialog, "AVH-Align_AV1M.pt")["Status"] == "missing"
        _select(dialog, "AVH-Align_AV1M.pt")
        dialog.fetch_button.click()
        assert dialog.licence_dialog is not None
        dialog.licence_dialog.accept_button.click()
        assert dialog.fetching() and not dialog.fetch_row.isHidden()
        assert not dialog.fetch_button.isEnabled()
        seen: list[tuple[str, int]] = []
        dialog.fetch_worker.progressed.connect(  # after the dialog's own slot: what it shows
            lambda *_: seen.append((dialog.fetch_label.text(), dialog.fetch_bar.value())))
        qtbot.waitUntil(lambda: not dialog.fetching(), timeout=60000)
        qtbot.waitUntil(lambda: not dialog.hashing, timeout=30000)
    shown = [text for text, _ in seen if text.startswith("Downloading AVH-Align_AV1M.pt: ")]
    assert shown and any("MB/s" in t for t in shown) and any(v > 0 for _, v in seen)
    assert "of 3.1 MB" in shown[-1]
    assert "verified" in dialog.fetch_label.text() and dialog.fetch_row.isHidden()
    assert (models_dir / "AVH-Align_AV1M.pt").read_bytes() == FETCHED
    assert row_cells(dialog, "AVH-Align_AV1M.pt")["Status"].startswith("verified")


def test_cancel_stops_the_download_and_keeps_it_for_a_resume(qtbot, models_dir, fetch_registry) -> None:
    from forensics_gui.core.models.fetch import partial_bytes
    from forensics_gui.testing.model_server import ServedFile, model_server

    with model_server({"phi.pt": ServedFile(FETCHED, pace_s=0.05)}) as server:
        fetch_registry(server.url("phi.pt"))
        dialog = open_dialog(qtbot)
        _select(dialog, "AVH-Align_AV1M.pt")
        dialog.fetch_button.click()
        dialog.licence_dialog.accept_button.click()
        qtbot.waitUntil(lambda: dialog.fetch_bar.value() > 0, timeout=30000)
        worker = dialog.fetch_worker
        dialog.fetch_cancel_button.click()
        assert "Cancelling" in dialog.fetch_label.text()
        qtbot.waitUntil(lambda: not dialog.fetching(), timeout=30000)
        assert worker.wait(30000)
    text = dialog.fetch_label.text()
    assert text.startswith("Download of AVH-Align_AV1M.pt cancelled") and "resumes" in text
    assert 0 < partial_bytes("AVH-Align_AV1M.pt") < len(FETCHED)
    assert not (models_dir / "AVH-Align_AV1M.pt").exists()
    qtbot.waitUntil(lambda: not dialog.hashing, timeout=30000)
    assert "MB downloaded: Fetch resumes" in row_cells(dialog, "AVH-Align_AV1M.pt")["Status"]
    assert dialog.fetch_button.isEnabled()


def test_remove_asks_then_deletes_only_the_user_file(qtbot, models_dir, fetch_registry) -> None:
    from PySide6.QtWidgets import QMessageBox

    fetch_registry("http://127.0.0.1:9/unused")
    (models_dir / "AVH-Align_AV1M.pt").write_bytes(b"not the model")
    dialog = open_dialog(qtbot)
    assert row_cells(dialog, "AVH-Align_AV1M.pt")["Status"].startswith("unknown file")
    _select(dialog, "AVH-Align_AV1M.pt")
    assert dialog.remove_button.isEnabled() and not dialog.fetch_button.isEnabled()
    dialog.remove_button.click()
    box = dialog.remove_box
    assert box is not None and "AVH-Align_AV1M.pt" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # the default: nothing deleted
    assert (models_dir / "AVH-Align_AV1M.pt").exists()
    dialog.remove_button.click()
    dialog.remove_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: not (models_dir / "AVH-Align_AV1M.pt").exists(), timeout=10000)
    assert dialog.fetch_label.text().startswith("Removed ")
    qtbot.waitUntil(lambda: not dialog.hashing, timeout=30000)
    assert row_cells(dialog, "AVH-Align_AV1M.pt")["Status"] == "missing"
    assert dialog.fetch_button.isEnabled() and not dialog.remove_button.isEnabled()
