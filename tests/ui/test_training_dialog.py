"""The Train-Phi dialog: a worker thread trains on a small synthetic feature corpus, the loss plot
gets one point per epoch per curve, Cancel keeps the best model, Resume continues, "Use this
model" stores the setting and emits the signal, and bad input is one sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_gui.testing.phi import write_corpus


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "models"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real synthetic clips of 100 frames, 32-dim features."""
    import torch

    torch.set_num_threads(2)
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder, n_clips=8, frames=100, dim=32, seed=1)
    return folder


@pytest.fixture
def dialog(qtbot):  # type: ignore[no-untyped-def]
    from forensics_gui.ui.training_dialog import TrainingDialog

    dlg = TrainingDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg.shutdown()
    assert not dlg.running


def _configure(dlg, source: Path, out: Path, epochs: int) -> None:  # type: ignore[no-untyped-def]
    dlg.source_edit.setText(str(source))
    dlg.output_edit.setText(str(out))
    dlg.epochs_spin.setValue(epochs)
    dlg.batch_spin.setValue(64)
    dlg.lr_edit.setText("1e-3")
    dlg.val_spin.setValue(0.25)
    dlg.device_combo.setCurrentText("cpu")


def _run(qtbot, dlg, button) -> object:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    with qtbot.waitSignal(dlg.training_finished, timeout=60000) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert dlg.running and not dlg.start_button.isEnabled() and dlg.cancel_button.isEnabled()
    return blocker.args[0]


@pytest.mark.slow
def test_trains_plots_each_epoch_and_uses_the_model(qtbot, dialog, corpus: Path, tmp_path: Path) -> None:
    import torch
    from PySide6.QtCore import QObject, QSettings, Qt, Slot

    from forensics_gui.core.alignment.phi import load_phi
    from forensics_gui.core.alignment.training import resume_path
    from forensics_gui.ui.training_dialog import PHI_SETTINGS_KEY

    out = tmp_path / "models" / "phi_mine.pt"
    _configure(dialog, corpus, out, epochs=3)
    assert not dialog.use_button.isEnabled() and not dialog.resume_button.isEnabled()
    seen: list[tuple[str, float, str]] = []
    original = dialog._on_progressed

    class Spy(QObject):  # a GUI-thread QObject slot, so the worker's signal is queued to it
        @Slot(int, str, float, float, float)
        def on_progressed(self, token: int, stage: str, done: float, total: float, eta_s: float) -> None:
            original(token, stage, done, total, eta_s)
            seen.append((stage, done / total if total > 0 else -1.0, dialog.eta_label.text()))

    spy = Spy()
    dialog._on_progressed = spy.on_progressed  # connected when Start is clicked
    result = _run(qtbot, dialog, dialog.start_button)
    assert result is dialog.result and result.stop_reason == "completed" and result.epochs_run == 3
    assert result.train_videos == 6 and result.val_videos == 2
    assert not dialog.running and dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()

    # One point per epoch per curve, with the values on_epoch reported ...
    assert [s.epoch for s in dialog.history] == [1, 2, 3]
    x, y = dialog.train_curve.getData()
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_allclose(y, [s.train_loss for s in dialog.history])
    vx, vy = dialog.val_curve.getData()
    np.testing.assert_array_equal(vx, [1, 2, 3])
    np.testing.assert_allclose(vy, [s.val_loss for s in dialog.history])
    # ... which are the losses the core recorded in its resume state.
    state = torch.load(resume_path(out), map_location="cpu", weights_only=True)
    np.testing.assert_allclose(y, [h["train_loss"] for h in state["history"]])
    np.testing.assert_allclose(vy, [h["val_loss"] for h in state["history"]])
    assert y[-1] < y[0]  # it learns on the synthetic corpus
    assert "Training finished after 3 epoch(s); the best model" in dialog.status_label.text()
    assert result.precision == "float32"  # "Automatic" on the CPU
    assert dialog.progress_bar.value() == 1000 and dialog.resume_button.isEnabled()
    training = [(f, eta) for stage, f, eta in seen if stage == "training"]
    assert training and training[-1][0] == 1.0 and all(eta.startswith("ETA ") for _, eta in training)

    assert dialog.use_button.isEnabled()
    with qtbot.waitSignal(dialog.model_chosen, timeout=30000) as chosen:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert chosen.args == [str(out.resolve())]
    import os

    stored = QSettings(os.environ["FORENSICS_GUI_SETTINGS"], QSettings.Format.IniFormat)
    assert stored.value(PHI_SETTINGS_KEY) == str(out.resolve())
    phi = load_phi(out)
    visual = np.random.default_rng(0).normal(size=(10, 32)).astype(np.float32)
    assert np.isfinite(phi.frame_scores(visual, visual)).all()


@pytest.mark.slow
def test_cancel_keeps_the_best_model_and_resume_continues(qtbot, dialog, corpus: Path,
                                                          tmp_path: Path) -> None:
    from forensics_gui.core.alignment.phi import load_phi

    out = tmp_path / "phi_cancel.pt"
    _configure(dialog, corpus, out, epochs=500)
    dialog.start()
    # Cancel as soon as the first epoch is on the plot (the core stops at the next batch).
    qtbot.waitUntil(lambda: len(dialog.history) >= 1, timeout=30000)
    with qtbot.waitSignal(dialog.training_finished, timeout=30000) as blocker:
        dialog.cancel()
    result = blocker.args[0]
    assert result.stop_reason == "cancelled" and 1 <= result.epochs_run < 500
    assert not dialog.running and dialog._worker is None
    assert out.is_file() and load_phi(out) is not None
    assert "Training cancelled" in dialog.status_label.text()
    assert dialog.resume_button.isEnabled() and dialog.use_button.isEnabled()

    done = result.epochs_run
    first_run = list(dialog.history)
    assert len(first_run) == done
    dialog.epochs_spin.setValue(done + 2)
    resumed = _run(qtbot, dialog, dialog.resume_button)
    assert resumed.stop_reason == "completed" and resumed.epochs_run == done + 2
    assert [s.epoch for s in dialog.history] == [done + 1, done + 2]
    # The plot shows the earlier epochs (from the resume state) and the new ones.
    x, y = dialog.train_curve.getData()
    np.testing.assert_array_equal(x, list(range(1, done + 3)))
    np.testing.assert_allclose(y[:done], [s.train_loss for s in first_run])
    np.testing.assert_allclose(y[done:], [s.train_loss for s in dialog.history])
    assert len(dialog.val_curve.getData()[0]) == done + 2


def test_bad_input_is_one_sentence(qtbot, dialog, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _configure(dialog, empty, tmp_path / "phi.pt", epochs=2)
    assert _run(qtbot, dialog, dialog.start_button) is None
    assert dialog.status_label.text() == (f"{empty} holds no video files and no features (.npz) "
                                          "files; choose a folder of real videos.")
    _configure(dialog, tmp_path / "missing", tmp_path / "phi.pt", epochs=2)
    assert _run(qtbot, dialog, dialog.start_button) is None
    assert "does not exist" in dialog.status_label.text()
    dialog.lr_edit.setText("fast")
    assert dialog.start() is False and not dialog.running
    assert dialog.status_label.text().startswith("The learning rate 'fast' must be a number")
    assert not dialog.use_button.isEnabled()


@pytest.mark.parametrize("bf16_reason", [None, "This CPU lacks bfloat16 support; use float32 (exact)."])
def test_precision_choice_follows_the_machine(qtbot, monkeypatch: pytest.MonkeyPatch,
                                              bf16_reason: str | None) -> None:
    from PySide6.QtCore import Qt

    from forensics_gui.core.encoder import devices
    from forensics_gui.ui.training_dialog import TrainingDialog

    monkeypatch.setattr(devices, "available_precisions", lambda *a, **k: {
        "float32": None, "bfloat16": bf16_reason, "float16": "GPU only"})
    dlg = TrainingDialog()
    qtbot.addWidget(dlg)
    combo = dlg.precision_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [None, "float32", "bfloat16"]
    assert combo.currentData() is None and combo.currentText().startswith("Automatic")
    bf16 = combo.model().item(2)
    assert bf16.isEnabled() is (bf16_reason is None)
    tip = combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert tip == bf16_reason if bf16_reason else "faster" in tip
    dlg.source_edit.setText("/videos")
    combo.setCurrentIndex(1)
    assert dlg.params().precision == "float32"
    combo.setCurrentIndex(0)
    assert dlg.params().precision is None
    dlg.shutdown()


def test_bf16_on_a_cpu_without_it_is_one_sentence(qtbot, dialog, corpus: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    _configure(dialog, corpus, tmp_path / "phi.pt", epochs=1)
    dialog.precision_combo.setCurrentIndex(dialog.precision_combo.findData("bfloat16"))
    assert _run(qtbot, dialog, dialog.start_button) is None
    assert dialog.status_label.text().startswith("This CPU has no fast bfloat16 arithmetic")
    assert not (tmp_path / "phi.pt").exists() and not dialog.use_button.isEnabled()


@pytest.mark.slow
def test_a_folder_of_videos_without_faces_then_with_one(qtbot, dialog, tmp_path: Path) -> None:
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.synth import make_clip

    videos = tmp_path / "videos"
    videos.mkdir()
    make_clip(videos / "pattern.mkv", duration_s=1.0, width=128, height=96, face=False, pattern=True)
    ckpt = write_fake_avhubert_checkpoint(tmp_path / "tiny.pt", layers=1, dim=32, heads=2, ffn=64)
    _configure(dialog, videos, tmp_path / "phi.pt", epochs=2)
    dialog.checkpoint_edit.setText(str(ckpt))
    assert _run(qtbot, dialog, dialog.start_button) is None
    assert dialog.status_label.text() == (f"The only video in {videos} cannot be used: "
                                          "No face was found in pattern.mkv.")
    assert dialog.extraction is not None and len(dialog.extraction.skipped) == 1
    # With a talking face next to it, the dialog extracts, trains and names the skipped clip.
    make_clip(videos / "talk.mkv", duration_s=1.5, width=256, height=256, seed=2)
    result = _run(qtbot, dialog, dialog.start_button)
    assert result is not None and result.epochs_run == 2 and result.train_videos == 1
    assert dialog.status_label.text().endswith(
        "1 of 2 videos were skipped (pattern.mkv; no face, no sound or unreadable).")
    assert [p.name for p in dialog.extraction.feature_files] == ["talk.npz"]


def test_main_window_tools_menu_opens_the_dialog_and_switches_phi(qtbot, window, tmp_path: Path) -> None:
    from forensics_gui.testing.phi import write_published_phi

    tools = [a for a in window.menuBar().actions() if a.text() == "&Tools"]
    assert len(tools) == 1
    entries = [a for a in tools[0].menu().actions() if a.text() == "&Train alignment network…"]
    assert len(entries) == 1
    entries[0].trigger()
    dlg = window.training_dialog
    assert dlg is not None and dlg.isVisible() and window.open_training_dialog() is dlg
    # "Use this model" on a finished run reaches the window through the signal.
    phi = write_published_phi(tmp_path / "phi_done.pt", visual_dim=32, audio_dim=32)
    dlg.result = type("R", (), {"checkpoint": phi})()
    with qtbot.waitSignal(window.phi_checkpoint_changed, timeout=30000) as changed:
        dlg.use_model()
    assert changed.args == [str(phi.resolve())]
    assert window.phi_checkpoint == phi.resolve()
    assert window.settings.qsettings.value("models/phi_path") == str(phi.resolve())


def test_stage_eta_counts_only_this_runs_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.core import progress as core_progress

    now = [100.0]
    monkeypatch.setattr(core_progress.time, "monotonic", lambda: now[0])  # the one clock
    eta = core_progress.StageClock()  # the training dialog's ETA
    assert eta.eta_s("training", 50, 100) is None  # a resumed run starts at 50 of 100
    now[0] += 10.0
    assert eta.eta_s("training", 60, 100) == pytest.approx(40.0)  # 10 steps per 10 s, 40 left
    assert eta.eta_s("building store", 1, 4) is None  # a new stage starts over
