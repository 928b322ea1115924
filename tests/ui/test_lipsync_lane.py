"""The "Mouth and voice" lane, its summary section, the picture's lane and the report's paragraph,
from hand-made measures (the window's no-weights run is in test_analysis.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

N = 75  # 3 s at 25 fps
FLAG = (1.2, 2.0)


@dataclass
class FakeLipSync:
    """The fields of core.lipsync.LipSyncResult the views read."""

    times_s: np.ndarray
    first_model_frame: int
    mouth_opening: np.ndarray
    loudness: np.ndarray
    best_offset_frames: np.ndarray
    agreement_best: np.ndarray
    agreement_zero: np.ndarray
    flagged: list[tuple[float, float]] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)
    window_frames: int = 25
    max_offset_frames: int = 15

    def to_dict(self) -> dict[str, Any]:
        def floats(a: np.ndarray) -> list[Any]:
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, np.float64)]

        return {"times_s": floats(self.times_s), "first_model_frame": self.first_model_frame,
                "mouth_opening": floats(self.mouth_opening), "loudness_db": floats(self.loudness),
                "best_offset_frames": [int(v) for v in self.best_offset_frames],
                "agreement_best": floats(self.agreement_best),
                "agreement_zero": floats(self.agreement_zero),
                "flagged": [list(s) for s in self.flagged], "readings": list(self.readings),
                "window_frames": self.window_frames, "max_offset_frames": self.max_offset_frames}


def _result() -> FakeLipSync:
    t = np.arange(N) / 25.0
    mouth = (0.2 + 0.15 * np.sin(t * 9.0)).astype(np.float32)
    mouth[10] = np.nan  # no face on one frame
    loud = (-40.0 + 20.0 * np.sin(t * 9.0)).astype(np.float32)  # dB re full scale
    offset = np.zeros(N, np.int16)
    offset[30:50] = 5
    best = np.full(N, 0.8, np.float32)
    zero = np.full(N, 0.8, np.float32)
    zero[30:50] = 0.1
    return FakeLipSync(t, 0, mouth, loud, offset, best, zero, [FLAG],
                       ["Mouth and voice stop agreeing from 00:00:01.200 to 00:00:02.000.",
                        "Elsewhere the mouth moves with the voice."])


@pytest.fixture
def lane(qtbot):  # type: ignore[no-untyped-def]
    from forensics_gui.ui.curves import CurvePanel
    from forensics_gui.ui.lipsync_lane import LipSyncLane
    from forensics_gui.ui.timeline import Timeline

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(900, 420)
    tl.show()
    tl.set_clip(3.0)
    lane = LipSyncLane(tl)
    lane.ensure_plot()
    CurvePanel(tl).ensure_plots()  # AVH-Align's lanes come after it
    lane.set_result(_result())
    qtbot.waitUntil(lambda: lane.plot.vb.height() > 0, timeout=30000)
    return lane


def test_the_lane_draws_mouth_over_loudness_each_on_its_own_scale(qtbot, lane) -> None:
    from forensics_gui.core.evidence.snapshot import scaled
    from forensics_gui.ui.lipsync_lane import LOUDNESS_COLOUR, MOUTH_COLOUR, MOUTH_LEGEND

    tl = lane.timeline
    assert [str(p.vb.name) for p in tl.plots][:3] == ["waveform", "mouth and voice", "fakeness"]
    drawn = lane.plotted()
    res = lane.result
    x, y = drawn["mouth"]
    assert x[:-1] == pytest.approx(res.times_s) and x[-1] == pytest.approx(3.0)
    assert np.isnan(y[10]) and np.nanmax(y) == pytest.approx(1.0) and np.nanmin(y) >= 0.0
    assert y == pytest.approx(scaled(res.mouth_opening), nan_ok=True)
    _x, loud = drawn["loudness"]
    assert loud.min() >= 0.0 and loud.max() == pytest.approx(1.0)
    # louder frames are higher: the order of the dB values is kept
    assert np.argsort(loud[:20]).tolist() == np.argsort(res.loudness[:20]).tolist()
    assert lane.flagged_spans() == [pytest.approx(FLAG)]
    # the legend: "mouth" over "voice" in their colours, beside the data (never on it), inside
    # the lane's own row; the axis name says both are 0-1 scales
    data = lane.plot.vb.sceneBoundingRect()
    rects = lane.legend_rects()
    for word, colour in (("mouth", MOUTH_COLOUR), ("voice", LOUDNESS_COLOUR)):
        item = lane.legend_words[word]
        assert item.textItem.toPlainText() == word and item.isVisible()
        assert item.textItem.defaultTextColor().name() == colour.lower()
        assert rects[word].right() <= data.left() + 1, (word, rects[word], data)
        assert lane.plot.sceneBoundingRect().contains(rects[word]), word
    assert rects["mouth"].bottom() <= rects["voice"].top() + 2
    assert lane.plot.getAxis("left").label.toPlainText().strip() == "0-1"
    assert "0-1" in MOUTH_LEGEND and "0-1" in lane.legend_words["voice"].toolTip()
    tip = lane.plot.getAxis("left").toolTip()  # plain words first, the technical terms after
    assert "own range 0-1" in tip and "correlation" in tip and "±15 frames" in tip
    assert "dBFS" in lane.legend_words["voice"].toolTip()
    assert "landmarks" in lane.legend_words["mouth"].toolTip()
    # out of date (another face tracking chosen since): grey, then its colours again
    from forensics_gui.ui.lipsync_lane import STALE_COLOUR

    lane.set_stale(True)
    assert lane.mouth_item.opts["pen"].color().name() == STALE_COLOUR
    lane.set_stale(False)
    assert lane.mouth_item.opts["pen"].color().name() == MOUTH_COLOUR.lower()


def test_the_read_out_gives_the_best_sound_offset_and_the_agreement(qtbot, lane) -> None:
    text = lane.readout_at(1.5)
    assert "+200 ms (+5 frames, sound late)" in text and "agreement 0.80" in text
    assert "in sync 0.10" in text and "stops agreeing here" in text
    assert "0 ms (in sync)" in lane.readout_at(0.2) and "stops agreeing" not in lane.readout_at(0.2)
    assert "mouth no face" in lane.readout_at(10 / 25.0 + 0.01)
    assert lane.readout_at(5.0) == ""  # past the data
    # hovering shows it on one line in the lane's top corner away from the pointer
    vb = lane.plot.vb
    for t in (0.3, 2.7):
        lane._on_mouse_moved(vb.mapViewToScene(pg_point(t, 0.5)))
        rect, data = lane.readout_rect(), vb.sceneBoundingRect()
        assert lane.hover_text and lane._readout.isVisible()
        assert rect.top() >= data.top() - 1 and rect.height() < 20  # one line, in the lane
        pointer_x = vb.mapViewToScene(pg_point(t, 0.5)).x()
        assert not rect.left() <= pointer_x <= rect.right(), (t, rect)
    lane._on_mouse_moved(pg_point(-100.0, -100.0))  # off the lane: gone
    assert not lane._readout.isVisible()


def test_lane_pixels_show_the_mouth_colour_and_the_flag(qtbot, lane) -> None:
    from forensics_gui.ui.lipsync_lane import MOUTH_COLOUR

    qtbot.wait(50)
    img = lane.timeline.graphics.grab().toImage()
    vb = lane.plot.vb
    rect = vb.sceneBoundingRect().toRect()
    want = np.array([int(MOUTH_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    hits = 0
    for yy in range(rect.top() + 1, rect.bottom() - 1):
        for xx in range(rect.left() + 1, rect.right() - 1, 2):
            c = img.pixelColor(xx, yy)
            if np.abs(np.array([c.red(), c.green(), c.blue()]) - want).max() < 40:
                hits += 1
    assert hits > 30, hits

    def redness(t0: float, t1: float) -> float:  # mean magenta minus green at the top rows
        x0 = int(vb.mapViewToScene(vb.mapToView(vb.rect().topLeft())).x())
        xs = [int(vb.mapViewToScene(pg_point(t, 1.0)).x()) for t in (t0, t1)]
        assert xs[0] >= x0
        vals = [img.pixelColor(xx, rect.top() + 2).blue() - img.pixelColor(xx, rect.top() + 2).green()
                for xx in range(xs[0] + 2, xs[1] - 2)]
        return float(np.mean(vals))

    assert redness(*FLAG) > redness(0.1, 0.9) + 20  # the flagged stretch is shaded magenta


def pg_point(t: float, y: float) -> Any:
    from PySide6.QtCore import QPointF

    return QPointF(t, y)


def test_summary_section_lists_the_readings_and_a_click_seeks(qtbot) -> None:
    from forensics_gui.ui.summary_panel import SummaryPanel

    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.lipsync_heading.isVisible()
    res = _result()
    panel.set_lipsync(res)
    texts = panel.lipsync_texts()
    assert texts[0] == "\n".join(res.readings)
    assert texts[1].startswith("00:00:01.200 – 00:00:02.000")
    assert panel.lipsync_heading.isVisible() and panel.lipsync_heading.text() == "Mouth and voice"
    panel.clear("Analysing…")  # AVH-Align's part only: the section stays
    assert panel.lipsync_texts()
    with qtbot.waitSignal(panel.seek_requested) as blocker:
        panel.lipsync_list.itemClicked.emit(panel.lipsync_list.item(0))
    assert blocker.args == [pytest.approx(1.2)]
    panel.set_lipsync(None)
    assert panel.lipsync_texts() == [] and not panel.lipsync_heading.isVisible()


def _data_with_lane() -> Any:
    from forensics_gui.core.evidence.snapshot import SnapshotData, apply_result

    data = SnapshotData(frame=np.zeros((120, 160, 3), np.uint8), time_s=1.0, file_name="x.mp4",
                        sha256="ab" * 32, version="test", window=(0.0, 3.0))
    apply_result(data, {"mouth_and_voice": _result().to_dict()})
    return data


def test_the_picture_gets_its_own_mouth_and_voice_lane_and_caption_line(qtbot) -> None:
    from forensics_gui.core.evidence.snapshot import caption_lines
    from forensics_gui.ui.snapshot import render_snapshot, snapshot_layout

    data = _data_with_lane()
    assert data.lipsync is not None and data.lipsync.flagged == [FLAG] and not data.curves
    lines = caption_lines(data)
    line = next(s for s in lines if s.startswith("Mouth and voice"))
    assert "01.200–00:02.000" in line and "separate from AVH-Align" in line
    assert any("0-1 scale" in s for s in lines)  # what the lane means
    lay = snapshot_layout(data)
    assert lay.lipsync is not None and lay.lipsync.top() > lay.wave.bottom()
    img = render_snapshot(data)
    r = lay.lipsync
    yellow = magenta = green = 0
    for yy in range(r.top() + 1, r.bottom()):
        for xx in range(r.left() + 1, r.right(), 2):
            c = img.pixelColor(xx, yy)
            if c.red() > 200 and c.green() > 170 and c.blue() < 140:
                yellow += 1
            if c.red() > 150 and c.green() < 110 and c.blue() > 150:
                magenta += 1
            if c.green() > 100 and c.red() < 120 and c.blue() < 120 and c.green() > c.red() + 30:
                green += 1
    assert yellow > 50 and magenta > 20 and green > 200, (yellow, magenta, green)
    # the flag sits where the stretch is on the time axis
    xs = [xx for xx in range(r.left(), r.right())
          if img.pixelColor(xx, r.bottom() - 1).blue() > 200
          and img.pixelColor(xx, r.bottom() - 1).green() < 110]
    assert min(xs) == pytest.approx(lay.x_of(FLAG[0]), abs=3)
    assert max(xs) == pytest.approx(lay.x_of(FLAG[1]), abs=3)


def test_the_report_has_a_mouth_and_voice_paragraph() -> None:
    from forensics_gui.core.evidence.report import Report, SilencePanel, mouth_and_voice_lines
    from forensics_gui.core.evidence.report_html import html_text

    res = _result()
    lines = mouth_and_voice_lines({"mouth_and_voice": res.to_dict()})
    assert lines[:2] == res.readings and len(lines) == 3  # + what the lane means
    assert mouth_and_voice_lines({"variants": {}}) == []
    report = Report("x.mp4", "ab" * 32, "2026-01-01T00:00:00Z", "test", None, (0, 0), ["s"], [],
                    [], SilencePanel(None, 0.0005, "no sound"), [], [], [("File", "x.mp4")],
                    [("Mouth and voice", "windowed correlation")],
                    mouth_and_voice=lines)
    page = html_text(report)
    assert "<h2>Mouth and voice" in page and res.readings[0] in page
    import io

    from pypdf import PdfReader

    from forensics_gui.core.evidence.report_pdf import pdf_bytes

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes(report))).pages)
    assert "Mouth and voice" in text and "Elsewhere the mouth moves" in " ".join(text.split())


@pytest.mark.slow
def test_no_weights_and_no_face_says_why_in_the_lane_without_a_box(qtbot, window, clips,
                                                                   open_and_wait, tmp_path,
                                                                   monkeypatch) -> None:
    from forensics_gui.ui.avh.views import MODELS_NOTICE

    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    open_and_wait(window, clips["av"].path)  # a test pattern: no face in it
    avh = window.avh
    assert avh.analyze()
    qtbot.waitUntil(lambda: not avh.runner.running and "face" in avh.lipsync.notice_text,
                    timeout=120000)
    assert "No face was found" in avh.lipsync.notice_text and avh.lipsync.result is None
    assert avh.models_notice.isVisible() and avh.missing_box is None
    assert MODELS_NOTICE in avh.summary.status_label.text()
    assert avh.curves.plot is None  # AVH-Align's lanes are not made for a run that cannot score
    assert window.last_error is None  # no message box over the evidence


def test_a_report_of_mouth_and_voice_alone_says_why_there_is_no_mismatch_curve(clips) -> None:
    from forensics_gui.core.evidence.report import NO_MISMATCH_WITH_LIPSYNC, build_report

    data = _data_with_lane()
    result = {"mouth_and_voice": _result().to_dict()}
    report = build_report(clips["av"].path, snapshot=data, picture_png=None, result=result)
    assert report.summary[0] == NO_MISMATCH_WITH_LIPSYNC
    assert report.mouth_and_voice[:2] == _result().readings


def test_an_hour_is_drawn_per_pixel_and_zooming_in_shows_every_frame(qtbot) -> None:
    from forensics_gui.ui.lipsync_lane import LipSyncLane
    from forensics_gui.ui.snapshot import render_snapshot, snapshot_layout
    from forensics_gui.ui.timeline import Timeline

    n = 3600 * 25
    t = np.arange(n) / 25.0
    res = FakeLipSync(t, 0, np.abs(np.sin(t)).astype(np.float32),
                      (-40 + 20 * np.sin(t)).astype(np.float32), np.zeros(n, np.int16),
                      np.full(n, 0.7, np.float32), np.full(n, 0.7, np.float32), [(600.0, 602.0)])
    res.mouth_opening[5000] = 3.0  # one wide-open frame: kept by the per-pixel drawing
    tl = Timeline()
    qtbot.addWidget(tl)
    tl.resize(900, 420)
    tl.show()
    tl.set_clip(3600.0)
    lane = LipSyncLane(tl)
    lane.set_result(res)
    qtbot.waitUntil(lambda: lane.plot.vb.width() > 100
                    and lane.plot.vb.viewRange()[0][1] > 3000, timeout=30000)
    lane.redraw()
    x, y = lane.plotted()["mouth"]
    assert len(x) <= 4 * lane.plot.vb.width() + 4  # per pixel column, not 90,000 steps
    assert np.nanmax(y) == pytest.approx(1.0)  # the peak survives
    tl.waveform_plot.setXRange(100.0, 102.0, padding=0.0)
    qtbot.waitUntil(lambda: len(lane.plotted()["mouth"][0]) < 100, timeout=30000)
    x, y = lane.plotted()["mouth"]
    assert np.diff(x) == pytest.approx(0.04)  # every frame, as steps
    assert y == pytest.approx(lane.mouth01[int(x[0] * 25):int(x[0] * 25) + len(y)], nan_ok=True)
    # the picture of the whole hour: a stroke per column, the flag where it is
    from forensics_gui.core.evidence.snapshot import SnapshotData, apply_result

    data = SnapshotData(frame=None, time_s=0.0, file_name="x.mp4", sha256="", version="",
                        window=(0.0, 3600.0))
    apply_result(data, {"mouth_and_voice": res.to_dict()})
    img, lay = render_snapshot(data), snapshot_layout(data)
    r = lay.lipsync
    yellow = sum(1 for xx in range(r.left(), r.right(), 3) for yy in range(r.top(), r.bottom())
                 if img.pixelColor(xx, yy).red() > 200 and img.pixelColor(xx, yy).blue() < 140
                 and img.pixelColor(xx, yy).green() > 170)
    assert yellow > 100
