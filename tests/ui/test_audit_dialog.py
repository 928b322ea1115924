"""Tools > Audit dataset: the audit runs in the background on a generated AV-Deepfake1M-like
corpus; the user sees the ranked cues (bar lengths = the summary's AUCs), the AUC-vs-tau/delta
curves, a histogram whose bar, when clicked, lists exactly its clips, and a double-click that
opens the clip in the viewer; Cancel keeps a table that the next Start resumes; bad entries get
one sentence."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

N_CLIPS = 8  # 4 real, 4 fake (+ 3 bad files and a metadata entry without its file)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from forensics_gui.core.audit import make_demo_corpus

    folder = tmp_path_factory.mktemp("corpus") / "av1m"
    make_demo_corpus(folder, clips=N_CLIPS, seed=3, bad=True)
    return folder


class FakeWindow:
    """Stands in for the main window: records the clips it is asked to open."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open_path(self, path: str) -> bool:
        self.opened.append(path)
        return True

    def raise_(self) -> None:
        pass

    def activateWindow(self) -> None:  # noqa: N802 (Qt's name)
        pass


@pytest.fixture
def dialog(qtbot):  # type: ignore[no-untyped-def]
    from forensics_gui.ui.audit_dialog import AuditDialog

    dlg = AuditDialog(window=FakeWindow())
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg.shutdown()
    assert not dlg.running


def _run(qtbot, dlg, corpus: Path, out: Path) -> Any:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    dlg.folder_edit.setText(str(corpus))
    dlg.output_edit.setText(str(out))
    with qtbot.waitSignal(dlg.audit_finished, timeout=120000) as blocker:
        qtbot.mouseClick(dlg.start_button, Qt.MouseButton.LeftButton)
        assert dlg.running and not dlg.start_button.isEnabled() and dlg.cancel_button.isEnabled()
    assert not dlg.running and dlg.start_button.isEnabled() and not dlg.cancel_button.isEnabled()
    return blocker.args[0]


def test_audit_shows_the_ranked_cues_and_the_curves(qtbot, dialog, corpus: Path, tmp_path: Path) -> None:
    from forensics_gui.ui.audit_dialog import ranked_bars

    outcome = _run(qtbot, dialog, corpus, tmp_path / "report")
    assert outcome is not None and outcome.report.is_file()
    summary = outcome.summary
    total = N_CLIPS + 3  # the unreadable files are rows (with their reason), never a stopped run
    assert dialog.progress_label.text().startswith(f"{total} of {total} clips")
    status = dialog.status_label.text()
    assert status.startswith(f"Measured {total} clips. {summary.n_real} real, {summary.n_fake} fake")
    assert summary.n_real >= N_CLIPS // 2 and summary.n_fake >= N_CLIPS // 2
    assert "problems (unreadable clips, missing files) are listed in the report" in status
    assert dialog.report_button.isEnabled()
    # the ranked bars: one per cue, their lengths the cues' AUCs (either way), best on top
    bars = ranked_bars(summary)
    opts = dialog.ranked_bars.opts
    np.testing.assert_allclose(opts["width"], [b[1] for b in bars])
    assert list(opts["y"]) == list(range(len(bars) - 1, -1, -1))
    assert opts["width"][0] == pytest.approx(1.0)  # the demo's fakes give themselves away
    names = [label.toPlainText() for label in dialog.ranked_labels]  # written on each bar
    assert names[0] == f"{bars[0][0].label}: AUC {bars[0][0].auc:.2f} ({bars[0][0].direction})"
    assert [label.pos().y() for label in dialog.ranked_labels] == list(opts["y"])
    silence = summary.cue("silence_ms_tau0.0005")
    assert silence.auc == pytest.approx(1.0)
    # AUC against tau: near 1 untrimmed, near chance once the silence is trimmed
    curve = dialog.tau_curves["untrimmed"]  # xData/yData: as plotted, before the log axis
    assert list(curve.xData) == list(summary.tau_curve["tau"]) and min(curve.yData) > 0.95
    np.testing.assert_allclose(dialog.tau_curves["trimmed"].yData, summary.tau_curve["trimmed"])
    np.testing.assert_allclose(dialog.delta_curves["untrimmed"].yData, summary.delta_curve["untrimmed"])
    # what a click on any bar lists is what that bar counts, for every cue, class and bin
    from forensics_gui.ui.audit_dialog import clips_in_bin

    for cue in summary.cues:
        for group, counts in cue.histogram.counts.items():
            assert [len(clips_in_bin(summary, cue, i, group)) for i in range(len(counts))] == counts


def test_without_ray_the_ray_field_says_how_to_install_it(qtbot, dialog, corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    dialog.ray_edit.setText("auto")
    dialog.folder_edit.setText(str(corpus))
    dialog.output_edit.setText(str(tmp_path / "report"))
    with qtbot.waitSignal(dialog.audit_finished, timeout=60000) as blocker:
        assert dialog.start()
    assert blocker.args[0] is None  # no outcome: the run stopped with a sentence
    assert "install it with pip install 'forensics-gui[cluster]'" in dialog.status_label.text()


def test_clicking_a_bar_lists_its_clips_and_a_double_click_opens_one(qtbot, dialog, corpus: Path,
                                                                    tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from forensics_gui.ui.audit_dialog import view_to_widget

    outcome = _run(qtbot, dialog, corpus, tmp_path / "report")
    summary = outcome.summary
    # clicking the silence cue's bar on the ranked chart shows its histogram
    ranked = [b[0].column for b in dialog.ranked]
    i = ranked.index("silence_ms_tau0.0005")
    dialog.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: dialog.ranked_plot.isVisible())
    at = view_to_widget(dialog.ranked_plot, 0.3, len(ranked) - 1 - i)
    qtbot.mouseClick(dialog.ranked_plot.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert dialog.tabs.currentIndex() == 2
    cue = dialog.current_cue
    assert cue.column == "silence_ms_tau0.0005"
    assert dialog.cue_combo.currentData() == "silence_ms_tau0.0005"
    qtbot.waitUntil(lambda: dialog.hist_plot.isVisible())
    # the bar heights are the histogram's counts per class
    for group in ("real", "fake"):
        heights = dialog.hist_bars[group].opts["height"]
        assert list(heights) == cue.histogram.counts[group]
    assert sum(cue.histogram.counts["fake"]) >= N_CLIPS // 2 and sum(cue.histogram.counts["real"]) >= N_CLIPS // 2
    # click the tallest fake bar: its clips are listed, and they are exactly the fakes in that bin
    counts = cue.histogram.counts["fake"]
    b = int(np.argmax(counts))
    x, _w, h = dialog.bar_geometry(b, "fake")
    qtbot.mouseClick(dialog.hist_plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=view_to_widget(dialog.hist_plot, x, h / 2))
    assert dialog.selected_bin == (b, "fake")
    lo, hi = cue.histogram.edges[b], cue.histogram.edges[b + 1]
    expected = sorted(r["name"] for r in summary.rows if r.get("label") == "fake"
                      and r.get(cue.column) is not None
                      and (lo <= r[cue.column] < hi or (b == len(counts) - 1 and r[cue.column] == hi)))
    assert sorted(dialog.listed_clips()) == expected and len(expected) == counts[b]
    assert all("fake_" in name for name in expected)
    assert f"{counts[b]} fake clip" in dialog.hist_note.text()
    # a double-click opens the clip in the viewer
    item = dialog.clip_list.topLevelItem(0)
    rect = dialog.clip_list.visualItemRect(item)
    with qtbot.waitSignal(dialog.clip_opened, timeout=10000) as opened:
        # a real double-click: press-release, then the double-click (Qt wants the press first)
        qtbot.mouseClick(dialog.clip_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(dialog.clip_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args[0] == str(corpus / item.text(0))
    assert dialog.viewer.opened == [str(corpus / item.text(0))]


def test_cancel_keeps_a_table_that_the_next_start_resumes(qtbot, dialog, corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import Qt

    from forensics_gui.core.audit import read_table, table

    original = table.clip_cues
    measured: list[str] = []

    def clip_cues(path: str) -> dict[str, Any]:
        measured.append(path)
        if len(measured) == 4:  # the user presses Cancel while the 4th clip is measured
            dialog._worker.flag.cancel()
        return original(path)

    monkeypatch.setattr(table, "clip_cues", clip_cues)
    out = tmp_path / "report"
    dialog.folder_edit.setText(str(corpus))
    dialog.output_edit.setText(str(out))
    with qtbot.waitSignal(dialog.audit_finished, timeout=120000) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] is None  # no outcome: cancelled
    total = N_CLIPS + 3
    assert re.match(rf"\d+ of {total} clips", dialog.progress_label.text())
    kept = read_table(out / "cues.jsonl")[0]
    assert len(kept) == 4
    assert dialog.status_label.text() == (f"Cancelled. The 4 clips measured so far are kept in {out}; "
                                          "Start continues with the rest.")
    assert dialog.start_button.isEnabled() and not dialog.report_button.isEnabled()
    # Start again: only the rest is measured, and the text says the first 4 were skipped
    measured.clear()
    monkeypatch.setattr(table, "clip_cues", original)
    with qtbot.waitSignal(dialog.audit_finished, timeout=120000) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    outcome = blocker.args[0]
    assert outcome.result.measured == total - 4 and outcome.result.skipped == 4
    assert dialog.status_label.text().startswith(
        f"Measured {total - 4} clips; 4 already in the table were skipped (resumed). "
        f"{outcome.summary.n_real} real, {outcome.summary.n_fake} fake")
    assert len(read_table(out / "cues.jsonl")[0]) == total


def test_bad_entries_get_one_sentence_and_nothing_starts(qtbot, dialog, corpus: Path, tmp_path: Path) -> None:
    def refused(sentence: str) -> None:
        assert not dialog.start() and not dialog.running
        assert dialog.status_label.text() == sentence

    refused("Choose the folder of clips to audit.")
    dialog.folder_edit.setText(str(tmp_path / "nowhere"))
    refused(f"{tmp_path / 'nowhere'} is not a folder; choose the folder that holds the clips.")
    dialog.folder_edit.setText(str(corpus))
    refused("Choose a report folder (the table of measurements is kept there).")
    dialog.output_edit.setText(str(corpus / "report"))
    refused(f"The report folder {corpus / 'report'} is inside the dataset ({corpus}); choose a folder "
            "outside it, so the audit never writes among its clips.")
    dialog.metadata_radio.setChecked(True)
    dialog.output_edit.setText(str(tmp_path / "report"))
    refused("Choose the metadata file that lists the clips.")
    # an empty folder: the worker says there is nothing to audit
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.folder_radio.setChecked(True)
    dialog.folder_edit.setText(str(empty))
    with qtbot.waitSignal(dialog.audit_finished, timeout=60000):
        assert dialog.start()
    assert dialog.status_label.text() == (f"No clips to audit were found in {empty} (no video files "
                                          "found in this folder).")


def test_tools_menu_opens_the_audit_dialog_on_the_viewer(qtbot, window) -> None:
    action = next(a for m in window.menuBar().actions() if m.text() == "&Tools"
                  for a in m.menu().actions() if a.text() == "&Audit dataset…")
    action.trigger()
    dlg = window.audit_dialog
    assert dlg is not None and dlg.isVisible() and dlg.viewer is window
    action.trigger()
    assert window.audit_dialog is dlg  # one dialog, brought to the front
