"""Analysis > Encoder precision: float32 by default, remembered, precisions this machine lacks
disabled with the reason, a change marks the analysis shown out of date, and the summary says
when a result was computed in a reduced precision."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from forensics_gui.core.encoder.devices import available_precisions

CAVEAT = "Reduced precision (bf16): scores may differ slightly from the exact float32 ones."


def _analysis(precision: str | None, scores=None):  # type: ignore[no-untyped-def]
    features = {"role": "features", "name": "ckpt.pt", "sha256": "f" * 64, "device": "cpu"}
    if precision is not None:
        features["precision"] = precision
    main = None
    if scores is not None:
        from forensics_gui.core.alignment.scoring import ScoreResult, find_segments, pool_scores

        main = ScoreResult(scores, pool_scores(scores, "lse"), "lse", find_segments(scores, 0.5),
                           0.5, "unsupervised", "ab" * 32,
                           other_pool_scores={"mean": float(np.mean(scores))})
    return SimpleNamespace(main=main, scores={"untrimmed": main} if main is not None else {},
                           supervised={}, silence=None, models=[features], caveats=["Other."],
                           preparation=None, face=None, roi_gray=None)


def test_the_menu_offers_the_precisions_float32_first_and_by_default(window) -> None:  # type: ignore[no-untyped-def]
    avh = window.avh
    analysis_menu = window.menu("Analysis")
    assert avh.precision_menu.menuAction() in analysis_menu.actions()
    texts = [a.text().replace("&", "") for a in avh.precision_menu.actions()]
    assert texts == ["Exact (float32)", "Fast (bfloat16)", "Fast (float16, GPU)"]
    actions = avh.precision_actions
    assert all(a.isCheckable() for a in actions.values())
    assert actions["float32"].isChecked() and avh.state.precision == "float32"
    assert sum(a.isChecked() for a in actions.values()) == 1
    assert avh.state.options(0.001, require_models=False).precision == "float32"
    offered = available_precisions("auto", import_torch=False)
    for name, action in actions.items():  # lacking ones: disabled, the reason as tooltip
        assert action.isEnabled() == (offered[name] is None)
        if offered[name] is not None:
            assert action.toolTip() == offered[name]
    assert "Exact" in actions["float32"].toolTip()


def test_the_choice_is_remembered(window) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.avh.state import AvhState
    from forensics_gui.ui.settings import make_settings

    avh = window.avh
    avh.precision_actions["bfloat16"].setEnabled(True)  # whatever this CPU offers
    avh.precision_actions["bfloat16"].trigger()
    assert avh.state.precision == "bfloat16" and avh.precision_actions["bfloat16"].isChecked()
    assert not avh.precision_actions["float32"].isChecked()
    assert avh.state.options(0.001, require_models=False).precision == "bfloat16"
    avh.state.settings.sync()
    assert AvhState(make_settings()).precision == "bfloat16"  # the next start reads it
    avh.precision_actions["float32"].trigger()
    avh.state.settings.sync()
    assert AvhState(make_settings()).precision == "float32"
    settings = make_settings()
    settings.setValue("analysis/precision", "fp8")  # a damaged settings file: the exact default
    assert AvhState(settings).precision == "float32"


def test_a_new_window_checks_the_saved_precision(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.settings import make_settings

    settings = make_settings()
    settings.setValue("analysis/precision", "bfloat16")
    settings.sync()
    w = MainWindow(use_audio=False)
    qtbot.addWidget(w)
    try:
        assert w.avh.state.precision == "bfloat16"
        assert w.avh.precision_actions["bfloat16"].isChecked()
        assert w.avh.precision_actions["bfloat16"].isEnabled()  # checked: never greyed out
    finally:
        w.shutdown()


def test_changing_the_precision_marks_the_analysis_out_of_date(window, clips, open_and_wait) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.core.evidence import wording

    open_and_wait(window, clips["av"].path, audio=False)
    avh, summary = window.avh, window.avh.summary
    scores = np.zeros(50, np.float32)
    scores[10:20] = 1.0
    avh._run_signature = avh.state.signature(window.phi_checkpoint)
    avh._on_finished(_analysis("float32", scores), False)
    assert not avh.stale
    avh.precision_actions["bfloat16"].setEnabled(True)
    avh.precision_actions["bfloat16"].trigger()
    assert avh.stale and summary.stale_bar.isVisibleTo(summary)
    assert summary.stale_label.text() == wording.OUT_OF_DATE
    assert not avh.lipsync.stale  # mouth and voice use no encoder
    avh.precision_actions["float32"].trigger()  # set back: the mark goes
    assert not avh.stale and not summary.stale_bar.isVisibleTo(summary)
    # reference scores of another precision are not compared with this analysis
    key = avh.reference_key(avh.state.signature(window.phi_checkpoint))
    avh.state.precision = "bfloat16"
    assert avh.reference_key(avh.state.signature(window.phi_checkpoint)) != key


def test_the_summary_says_when_a_result_is_of_reduced_precision(qtbot) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.summary_panel import SummaryPanel

    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.set_analysis(_analysis("bfloat16"))
    assert "cpu, bfloat16" in panel.models_label.text()
    assert panel.caveats_label.text().startswith(f"• {CAVEAT}")
    assert "Other." in panel.caveats_label.text()
    for exact in ("float32", None):  # exact (or recorded before the choice existed): nothing said
        panel.set_analysis(_analysis(exact))
        assert "float" not in panel.models_label.text()
        assert "precision" not in panel.caveats_label.text()
