"""A cut-short file in the viewer: the sentence in the info panel and the status bar, the
waveform marked "no data" past the end, and the playhead stops at the last readable frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from forensics_gui.testing.synth import make_clip, truncate_file


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("damaged")
    src = make_clip(d / "whole.mkv", duration_s=3.0, fps=25, width=160, height=120,
                    sample_rate=16000, face=False, pattern=True).path
    return truncate_file(src, d / "cut.mkv", 0.3)


def test_cut_file_says_so_and_stops_at_the_data(qtbot, window, cut_clip, clips,
                                                open_and_wait) -> None:
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    open_and_wait(window, cut_clip)
    qtbot.waitUntil(lambda: window.session.integrity is not None, timeout=60000)
    integ = window.session.integrity
    assert integ.damaged
    sentence = integ.sentence
    assert sentence.startswith("This file is damaged or cut short: it says 3.00 s, but only ")

    # the info panel: a visible warning with the sentence; the duration says both
    panel = window.info_panel
    assert panel.damage_label.isVisible() and panel.damage_label.text() == sentence
    img = panel.damage_label.grab().toImage()
    reds = sum(1 for yy in range(0, img.height(), 2) for xx in range(0, img.width(), 2)
               if img.pixelColor(xx, yy).red() > 200 and img.pixelColor(xx, yy).green() < 140)
    assert reds > 20  # drawn in the warning red (text and frame), not as plain text
    assert "stated" in panel.fields["Duration"].text()
    assert "readable" in panel.fields["Duration"].text()
    assert f"{integ.video_frames} frames readable" in panel.fields["Video"].text()
    # the status bar said it once on open
    assert messages.count(sentence) == 1

    # the waveform stops where the sound stops; the rest is marked, not drawn as silence
    tl = window.timeline
    x, _ = tl.curve.getData()
    assert x is not None and len(x) and float(x.max()) <= integ.audio_end_s + 1e-6
    assert tl.no_data_region.isVisible()
    lo, hi = tl.no_data_region.getRegion()
    assert lo == pytest.approx(integ.audio_end_s) and hi == pytest.approx(3.0)
    assert tl.no_data_label.isVisible() and "no data (file cut short)" in tl.no_data_label.toPlainText()

    # the player: slider and End stop at the last readable frame
    assert window.transport.slider.maximum() == int(round(integ.data_end_s * 1000))
    last = integ.video_frames - 1
    window.video_view.setFocus()
    qtbot.keyClick(window.video_view, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: window.frame_index == last, timeout=30000)
    qtbot.waitUntil(lambda: f"frame {last} / {last}" in window.transport.time_label.text(),
                    timeout=30000)
    assert window.session.time_s <= integ.data_end_s

    # the exported picture leads with the sentence
    data = window.snapshot_data()
    assert data.warnings and data.warnings[0] == sentence

    # a whole file clears it all
    open_and_wait(window, clips["av"].path)
    qtbot.waitUntil(lambda: window.session.integrity is not None, timeout=60000)
    assert window.session.integrity.sentence == ""
    assert not panel.damage_label.isVisible()
    assert not tl.no_data_region.isVisible()
    assert not any("damaged" in w for w in window.snapshot_data().warnings)


@pytest.mark.slow
def test_analysis_of_a_cut_file_plots_only_the_data_and_says_so(qtbot, window, tmp_path,
                                                                 monkeypatch, open_and_wait) -> None:
    """The curve of a cut-short clip ends where picture and sound end; the summary's caveats
    start with the sentence."""
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi

    models = tmp_path / "models"
    models.mkdir()
    write_fake_avhubert_checkpoint(models / "self_large_vox_433h.pt", layers=1, dim=32, heads=2,
                                   ffn=64)
    write_published_phi(models / "AVH-Align_AV1M.pt", visual_dim=32, audio_dim=32)
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(models))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    whole = make_clip(tmp_path / "talk.mkv", duration_s=3.0, width=192, height=192).path
    cut = truncate_file(whole, tmp_path / "talk_cut.mkv", 0.35)
    open_and_wait(window, cut)
    qtbot.waitUntil(lambda: window.session.integrity is not None, timeout=60000)
    integ = window.session.integrity
    assert integ.damaged
    with qtbot.waitSignal(window.avh.analysis_finished, timeout=120000) as blocker:
        window.avh.analyze_action.trigger()
        assert window.avh.runner.worker is not None, window.last_error
    analysis = blocker.args[0]
    x, y = window.avh.curves.curve_items[("unsupervised", "untrimmed")].getData()
    assert x is not None and len(x) == len(analysis.scores["untrimmed"].times_s)
    assert float(np.max(x)) + 0.04 <= integ.analysable_end_s + 0.02  # no point past the data
    assert analysis.caveats[0] == integ.sentence
    assert integ.sentence in window.avh.summary.caveats_label.text()
