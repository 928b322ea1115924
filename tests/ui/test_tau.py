"""One tau in the viewer: the tau control and the saved setting keep the core's rule, and the one
measurement per (clip, tau) in ``session.silence`` is what the info panel and the summary show,
before and after an analysis and after a tau change."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QSettings, Qt

from forensics_gui.core.media.silence import DEFAULT_THRESHOLD, leading_silence

DIM = 32
HIGH_TAU = 0.05  # above the synthetic clips' room noise: the silence grows


def _shown_ms(text: str) -> str:
    """The "<ms> ms ... quiet level <tau>" a panel shows, as "<ms> ms at tau <tau>"."""
    found = re.search(r"([0-9.]+) ms(?:</b>)?\D*?quiet level ([0-9.e-]+)", text)
    assert found, text
    return f"{found.group(1)} ms at tau {found.group(2)}"


@pytest.mark.parametrize("saved", ["abc", "0", "-0.001", "1", "1.5", "nan", "inf", ""])
def test_a_corrupt_saved_tau_falls_back_to_the_default(tmp_path: Path, saved: str) -> None:
    from forensics_gui.ui.settings import ViewerSettings

    qsettings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    qsettings.setValue("silence/tau", saved)
    assert ViewerSettings(qsettings).threshold() == DEFAULT_THRESHOLD
    qsettings.setValue("silence/tau", "0.002")
    assert ViewerSettings(qsettings).threshold() == pytest.approx(0.002)


def test_a_corrupt_saved_tau_opens_the_viewer_at_the_default(qtbot, tmp_path: Path) -> None:
    import os

    from forensics_gui.ui.main_window import MainWindow

    QSettings(os.environ["FORENSICS_GUI_SETTINGS"], QSettings.Format.IniFormat).setValue(
        "silence/tau", "1.5")
    w = MainWindow(use_audio=False)
    qtbot.addWidget(w)
    assert w.session.threshold == DEFAULT_THRESHOLD
    assert w.info_panel.tau_spin.value() == pytest.approx(DEFAULT_THRESHOLD)
    w.shutdown()


@pytest.mark.parametrize("typed", ["0", "1", "1.5", "-0.01"])
def test_the_tau_control_refuses_a_value_the_core_refuses(qtbot, typed: str) -> None:
    from forensics_gui.ui.info_panel import InfoPanel

    panel = InfoPanel()
    qtbot.addWidget(panel)
    panel.set_threshold(0.002)
    edited: list[float] = []
    panel.threshold_edited.connect(edited.append)
    line = panel.tau_spin.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, typed)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    panel.tau_spin.clearFocus()
    # Keys that would make an invalid tau are refused (what is left of the text may be valid)
    value = panel.tau_spin.value()
    assert 0.0 < value < 1.0 and value != pytest.approx(float(typed))
    assert all(0.0 < tau < 1.0 for tau in edited)
    for steps in (40, -40):  # the 1-2-5 steps stay inside the rule too
        panel.tau_spin.stepBy(steps)
        assert 0.0 < panel.tau_spin.value() < 1.0 and 0.0 < edited[-1] < 1.0


def test_the_summary_shows_the_viewers_measurement_not_the_analysis_copy(qtbot) -> None:
    import numpy as np

    from forensics_gui.ui.summary_panel import SummaryPanel

    x = np.zeros(48000, np.float32)
    x[1440:] = 0.01  # 30 ms of digital silence, then sound at 0.01
    at_default = leading_silence(x, 48000, DEFAULT_THRESHOLD)
    at_high = leading_silence(x, 48000, HIGH_TAU)  # nothing above 0.05: the whole second
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.set_measured_silence(at_default)
    assert _shown_ms(panel.silence_label.text()) == "30.0 ms at tau 0.0005"
    stale = SimpleNamespace(main=None, scores={}, supervised={}, silence=at_high, models=[],
                            caveats=[], preparation=None)
    panel.set_analysis(stale)
    assert _shown_ms(panel.silence_label.text()) == "30.0 ms at tau 0.0005"
    panel.set_measured_silence(at_high)  # tau changed after the analysis
    assert _shown_ms(panel.silence_label.text()) == "1000.0 ms at tau 0.05"


def test_the_summary_says_the_trimmed_variant_follows_the_fixed_rule() -> None:
    from forensics_gui.ui.summary_panel import verdict_lines

    main = SimpleNamespace(video_score=0.5, pool="lse", num_frames=25, suspicious_segments=[])
    both = SimpleNamespace(main=main, scores={"untrimmed": main, "trimmed": main})
    text = " ".join(verdict_lines(both))
    assert ("official fixed rule (everything before the first sample above 0.0005 of full "
            "scale), whatever quiet level the display uses") in text


@pytest.fixture
def talk(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny random-weight models under the registry names and a 1 s talking-face clip with 50 ms
    of leading digital silence (as tests/ui/test_analysis.py installs them)."""
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi
    from forensics_gui.testing.synth import make_clip

    d = tmp_path_factory.mktemp("tau")
    models = d / "models"
    models.mkdir()
    write_fake_avhubert_checkpoint(models / "self_large_vox_433h.pt", layers=1, dim=DIM, heads=2, ffn=64)
    write_published_phi(models / "AVH-Align_AV1M.pt", visual_dim=DIM, audio_dim=DIM)
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(models))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(d / "cache"))
    return make_clip(d / "talk.mkv", duration_s=1.0, leading_silence_ms=50, width=192, height=192).path


@pytest.mark.slow
def test_info_panel_and_summary_show_the_same_silence_after_analyse_and_tau_change(
        qtbot, window, talk: Path, open_and_wait) -> None:
    open_and_wait(window, talk)
    first = window.session.silence
    assert first.threshold == DEFAULT_THRESHOLD and first.leading_silence_ms == pytest.approx(50.0, abs=0.1)
    with qtbot.waitSignal(window.avh.analysis_finished, timeout=90000) as blocker:
        window.avh.analyze_action.trigger()
        assert window.avh.runner.worker is not None, window.last_error
    analysis = blocker.args[0]
    assert analysis.silence == first  # the analysis carries the viewer's measurement
    shown = "50.0 ms at tau 0.0005"
    assert _shown_ms(window.info_panel.verdict_label.text()) == shown
    assert _shown_ms(window.avh.summary.silence_label.text()) == shown

    window.info_panel.tau_spin.setValue(HIGH_TAU)
    now = window.session.silence
    assert now is not first and now.threshold == pytest.approx(HIGH_TAU)
    assert now.leading_silence_ms > first.leading_silence_ms + 1.0
    shown = f"{now.leading_silence_ms:.1f} ms at tau {HIGH_TAU:g}"
    assert _shown_ms(window.info_panel.verdict_label.text()) == shown
    assert _shown_ms(window.avh.summary.silence_label.text()) == shown
    window.info_panel.tau_spin.setValue(HIGH_TAU)  # the same tau again: no new measurement
    assert window.session.silence is now
