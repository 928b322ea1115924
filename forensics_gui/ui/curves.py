"""Analysis lanes on the timeline: the fakeness curve (-Phi per 25 fps frame), the sync-offset lane,
the supervised curve and the ground-truth lanes. Each lane is a plot made with
:meth:`forensics_gui.ui.timeline.Timeline.add_plot`, so it shares the time axis (seconds), the
playhead and click-to-seek with the waveform and the video.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from forensics_gui.core.evidence import wording
from forensics_gui.core.media.timebase import MODEL_FRAME_S, format_timecode, model_frame_of
from forensics_gui.ui import theme
from forensics_gui.ui.timeline import Timeline

VARIANT_COLOURS = {"untrimmed": "#4fa3ff", "trimmed": "#ff9f43"}
SUPERVISED_COLOURS = {"untrimmed": "#c58cff", "trimmed": "#ff6fb5"}
NO_FACE_COLOUR = "#ff5c5c"
GT_LANES = (("audio", "sound changed", "#ff9f43"), ("visual", "picture changed", "#4fa3ff"),
            ("both", "changed (any)", "#ff5c5c"))
LEGEND_ROW_PX = 22  # the row above a curve lane's data that holds its legend
LEGEND_MAX_ENTRIES = 4
READOUT_FONT_PT = 8
LANE_FONT_PT = 8
FAKENESS_MIN_PX = 58  # the mismatch lane's smallest plotting height; it grows with the splitter
SUPERVISED_MIN_PX = 36
SYNC_LANE_PX = 44  # enough for the -0.6 s / 0 / +0.6 s ticks
GT_LANE_PX = 48  # three rows of 8 pt labels
NO_GT_TEXT = "no ground truth for this clip (File > Load ground truth…)"


def curve_label(kind: str, variant: str) -> str:
    """Short plain legend / read-out name of one curve (the full names are in the summary)."""
    base = "2nd detector" if kind == "supervised" else "mismatch"
    return f"{base} (silence removed)" if variant == "trimmed" else base


def curve_colour(kind: str, variant: str) -> str:
    table = SUPERVISED_COLOURS if kind == "supervised" else VARIANT_COLOURS
    return table.get(variant, theme.ACCENT)


def legend_above(plot: pg.PlotItem) -> pg.LegendItem:
    """A one-row legend in a reserved strip above the plot's data (never over a curve), right
    aligned; :func:`fill_legend` sets its entries."""
    plot.layout.setRowFixedHeight(0, LEGEND_ROW_PX)
    legend = pg.LegendItem(offset=None, labelTextSize=f"{LANE_FONT_PT}pt", frame=False,
                           horSpacing=4, verSpacing=0, colCount=LEGEND_MAX_ENTRIES)
    legend.layout.setContentsMargins(0, 0, 0, 0)  # its height is one row of text, no more
    legend.setParentItem(plot)
    legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-4, 0))
    legend.setVisible(False)
    return legend


def fill_legend(legend: pg.LegendItem, entries: list[tuple[Any, str]]) -> None:
    """Show ``entries`` (item whose pen the sample copies, name) on one row; hidden when none
    (an empty legend would be a stray box)."""
    legend.clear()
    for item, name in entries[:LEGEND_MAX_ENTRIES]:
        legend.addItem(item, name)
    legend.setVisible(bool(entries))


def translucent(colour: str, alpha: int) -> pg.QtGui.QBrush:
    c = pg.mkColor(colour)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


def add_span(plot: pg.PlotItem, start_s: float, end_s: float, colour: str, alpha: int,
             z: float = 1, span: tuple[float, float] = (0.0, 1.0)) -> pg.LinearRegionItem:
    """A fixed, shaded time span on ``plot`` (stretches to check, flagged stretches, ground truth
    bands; ``span``: the part of the lane's height it covers)."""
    region = pg.LinearRegionItem(values=(float(start_s), float(end_s)), movable=False,
                                 brush=translucent(colour, alpha), pen=pg.mkPen(colour, width=1),
                                 span=span)
    region.setZValue(z)
    plot.addItem(region, ignoreBounds=True)
    return region


class CurvePanel:
    """The fakeness lane (+ sync lane, + supervised lane when present) on a :class:`Timeline`.

    Plots are created on first use (:meth:`ensure_plots`). Items the tests and the snapshot read:
    ``curve_items[(kind, variant)]`` (PlotDataItem, x = frame start times in seconds, y = score),
    ``segment_regions[variant]`` (LinearRegionItems of the suspicious segments),
    ``threshold_lines[variant]``, ``sync_items[variant]``, ``no_face_ticks``.
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.plot: pg.PlotItem | None = None
        self.sync_plot: pg.PlotItem | None = None
        self.supervised_plot: pg.PlotItem | None = None
        self.results: dict[tuple[str, str], Any] = {}
        self.curve_items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.segment_regions: dict[str, list[pg.LinearRegionItem]] = {}
        self.threshold_lines: dict[str, pg.InfiniteLine] = {}
        self.sync_items: dict[str, pg.PlotDataItem] = {}
        self.no_face_ticks: pg.ScatterPlotItem | None = None
        self.no_face_times: np.ndarray = np.zeros(0)
        self.hover_text = ""
        self._legend: Any = None
        self._sup_legend: Any = None
        # the dashed-line legend entry of the thresholds (the lines carry no label on the data)
        self._threshold_sample = pg.PlotDataItem(
            [], [], pen=pg.mkPen(theme.TEXT, width=1, style=Qt.PenStyle.DashLine))
        self._notice: pg.TextItem | None = None
        self._readout: pg.TextItem | None = None
        # t -> (the user-facing "frame N" of the video, tooltip text with the model frame);
        # set by the owner (AvhViews.frame_label); None: the model frame is shown.
        self.frame_label: Any = None

    # -- structure ------------------------------------------------------------------------
    LANE_PLOTS = (("fakeness", "mismatch"), ("sync", "delay"))
    """(name, y label) of the lanes :meth:`ensure_plots` adds to the timeline."""

    def prebuild(self) -> bool:
        """Construct one not-yet-built lane plot off screen (see ``Timeline.prebuild_plot``) so the
        first Analyze does not pay it; True while more remain. Call at idle time."""
        if self.plot is not None:
            return False
        return any(self.timeline.prebuild_plot(name, y_label) for name, y_label in self.LANE_PLOTS)

    def ensure_plots(self) -> None:
        if self.plot is not None:
            return
        tl = self.timeline
        (fake_name, fake_label), (sync_name, sync_label) = self.LANE_PLOTS
        self.plot = tl.add_plot(fake_name, y_label=fake_label, min_height=FAKENESS_MIN_PX,
                                stretch=3)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("left").setToolTip(
            f"{wording.MISMATCH_CURVE}: {wording.TECHNICAL_TERMS[wording.MISMATCH_CURVE]}")
        self._legend = legend_above(self.plot)
        self._notice = pg.TextItem("", color=theme.MUTED, anchor=(0.5, 0.5))
        self.plot.vb.sigResized.connect(self._wrap_notice)
        self.plot.addItem(self._notice, ignoreBounds=True)
        self._readout = pg.TextItem("", color=theme.TEXT, anchor=(0, 0), fill=pg.mkBrush(38, 42, 49, 220))
        font = self._readout.textItem.font()
        font.setPointSize(READOUT_FONT_PT)
        self._readout.setFont(font)
        self._readout.textItem.document().setDocumentMargin(2)  # one line fits the legend strip
        self._readout.setZValue(40)
        self._readout.setVisible(False)
        # a child of the plot, not of its data area: it may sit in the legend strip above the data
        self._readout.setParentItem(self.plot)
        self.no_face_ticks = pg.ScatterPlotItem(symbol="t", size=7, pen=None,
                                                brush=pg.mkBrush(NO_FACE_COLOUR))
        self.no_face_ticks.setZValue(25)
        self.plot.addItem(self.no_face_ticks)
        self.sync_plot = tl.add_plot(sync_name, y_label=sync_label, height=SYNC_LANE_PX)
        self.sync_plot.getAxis("left").enableAutoSIPrefix(False)
        self.sync_plot.getAxis("left").setTicks([[(-15, "−0.6 s"), (0, "0"), (15, "+0.6 s")]])
        self.sync_plot.getAxis("left").setToolTip(
            f"{wording.SYNC_LANE}: {wording.TECHNICAL_TERMS[wording.SYNC_LANE]}")
        self.sync_plot.setYRange(-15, 15, padding=0.25)
        zero = pg.InfiniteLine(pos=0, angle=0, movable=False,
                               pen=pg.mkPen(theme.BORDER, width=1, style=Qt.PenStyle.DashLine))
        self.sync_plot.addItem(zero, ignoreBounds=True)
        for plot in (self.plot, self.sync_plot):
            plot.vb.setLimits(xMin=-0.05 * tl.duration_s, xMax=1.05 * tl.duration_s, minXRange=1e-4)
        tl.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        tl.refresh_heights()  # the legend row above the data
        self.set_notice("Analysis > Analyze (Ctrl+R) draws the mouth-voice mismatch curve here.")

    def _ensure_supervised_plot(self) -> pg.PlotItem:
        if self.supervised_plot is None:
            self.supervised_plot = self.timeline.add_plot("supervised", y_label="2nd det.",
                                                          min_height=SUPERVISED_MIN_PX, stretch=1)
            self.supervised_plot.getAxis("left").enableAutoSIPrefix(False)
            self.supervised_plot.getAxis("left").setToolTip(
                f"{wording.SUPERVISED_CURVE}: {wording.TECHNICAL_TERMS[wording.SUPERVISED_CURVE]}")
            self._sup_legend = legend_above(self.supervised_plot)
            self.timeline.refresh_heights()
        return self.supervised_plot

    def set_notice(self, text: str) -> None:
        """A centred message in the fakeness lane ("Analysing…", errors)."""
        self.ensure_plots()
        assert self._notice is not None
        self._notice.setHtml(f'<div align="center">{html.escape(text)}</div>')
        self._notice.setVisible(bool(text))
        self._wrap_notice()
        _, (y0, y1) = self.plot.vb.viewRange()  # type: ignore[union-attr]
        self._notice.setPos(self.timeline.duration_s / 2, (y0 + y1) / 2)

    def _wrap_notice(self, *args: Any) -> None:
        """Wrap the notice to the lane width (pixels) so a long sentence is never cut off."""
        if self._notice is not None and self.plot is not None:
            self._notice.setTextWidth(max(120.0, self.plot.vb.width() - 24.0))

    # -- data -----------------------------------------------------------------------------
    def clear(self) -> None:
        """Drop every curve (new clip or new analysis); keeps the lanes."""
        for (kind, _variant), item in self.curve_items.items():
            target = self.supervised_plot if kind == "supervised" else self.plot
            if target is not None:
                target.removeItem(item)
        for legend in (self._legend, self._sup_legend):
            if legend is not None:
                legend.clear()
                legend.setVisible(False)  # an empty legend would be a stray dark box
        if self.plot is not None:
            for regions in self.segment_regions.values():
                for r in regions:
                    self.plot.removeItem(r)
            for line in self.threshold_lines.values():
                self.plot.removeItem(line)
        if self.sync_plot is not None:
            for item in self.sync_items.values():
                self.sync_plot.removeItem(item)
        if self.plot is not None:  # no stale score axis from the previous clip
            self.plot.setYRange(0.0, 1.0, padding=0.0)
        self.results.clear()
        self.curve_items.clear()
        self.segment_regions.clear()
        self.threshold_lines.clear()
        self.sync_items.clear()
        self.no_face_times = np.zeros(0)
        if self.no_face_ticks is not None:
            self.no_face_ticks.setData([], [])
        if self._readout is not None:
            self._hide_readout()
        self.hover_text = ""

    def set_duration(self, duration_s: float) -> None:
        for plot in (self.plot, self.sync_plot, self.supervised_plot):
            if plot is not None:
                plot.vb.setLimits(xMin=-0.05 * duration_s, xMax=1.05 * duration_s, minXRange=1e-4)

    def set_result(self, kind: str, variant: str, result: Any) -> None:
        """Draw (or replace) the curve of one ScoreResult; unsupervised curves also get their
        threshold line, suspicious-segment regions and sync-offset trace."""
        self.ensure_plots()
        self.set_notice("")
        key = (kind, variant)
        colour = curve_colour(kind, variant)
        plot = self._ensure_supervised_plot() if kind == "supervised" else self.plot
        assert plot is not None and self.sync_plot is not None
        if key in self.curve_items:
            plot.removeItem(self.curve_items[key])
        times = np.asarray(result.times_s, dtype=np.float64)
        scores = np.asarray(result.frame_scores, dtype=np.float64)
        item = pg.PlotDataItem(times, scores, stepMode="left", pen=pg.mkPen(colour, width=2),
                               name=curve_label(kind, variant))
        item.setZValue(10)
        plot.addItem(item)
        plot.enableAutoRange(axis=pg.ViewBox.YAxis)
        self.curve_items[key] = item
        self.results[key] = result
        if kind == "supervised":
            self._refresh_legends()
            return
        for r in self.segment_regions.pop(variant, []):
            plot.removeItem(r)
        regions = []
        for s, e in result.suspicious_segments:
            regions.append(add_span(plot, s, e, colour, 50))
        self.segment_regions[variant] = regions
        if variant in self.threshold_lines:
            plot.removeItem(self.threshold_lines[variant])
        if np.isfinite(result.threshold):
            line = pg.InfiniteLine(pos=float(result.threshold), angle=0, movable=False,
                                   pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
                                   label=wording.UNUSUAL_LINE if variant == "untrimmed"
                                   else f"{wording.UNUSUAL_LINE} (silence removed)",
                                   labelOpts={"position": 0.01 if variant == "untrimmed" else 0.4,
                                              "color": colour, "anchors": [(0, 0), (0, 0)]})
            line.setZValue(8)
            line.label.setVisible(False)  # named in the legend above the lane, not on the data
            plot.addItem(line)
            self.threshold_lines[variant] = line
        self._refresh_legends()
        if result.sync_offset_frames is not None:
            if variant in self.sync_items:
                self.sync_plot.removeItem(self.sync_items[variant])
            sync = pg.PlotDataItem(times, np.asarray(result.sync_offset_frames, np.float64),
                                   stepMode="left", pen=pg.mkPen(colour, width=1))
            self.sync_plot.addItem(sync)
            self.sync_items[variant] = sync
        self._place_no_face_ticks()

    def _refresh_legends(self) -> None:
        """The legends above the lanes: each curve, then the dashed threshold line."""
        lanes: dict[str, list[tuple[Any, str]]] = {"unsupervised": [], "supervised": []}
        for (kind, variant), item in self.curve_items.items():
            lanes["supervised" if kind == "supervised" else "unsupervised"].append(
                (item, curve_label(kind, variant)))
        if self.threshold_lines:
            lanes["unsupervised"].append((self._threshold_sample, wording.UNUSUAL_LINE))
        for legend, kind in ((self._legend, "unsupervised"), (self._sup_legend, "supervised")):
            if legend is not None:
                fill_legend(legend, lanes[kind])

    def set_face_track(self, face: Any) -> None:
        """Mark the model frames where no face was detected with small ticks under the curve."""
        self.ensure_plots()
        if face is None:
            self.no_face_times = np.zeros(0)
        else:
            self.no_face_times = np.asarray(face.times_s, np.float64)[~np.asarray(face.detected, bool)]
        self._place_no_face_ticks()

    def _place_no_face_ticks(self) -> None:
        if self.no_face_ticks is None:
            return
        lows = [float(np.nanmin(r.frame_scores)) for (k, _), r in self.results.items()
                if k != "supervised" and len(r.frame_scores)]
        highs = [float(np.nanmax(r.frame_scores)) for (k, _), r in self.results.items()
                 if k != "supervised" and len(r.frame_scores)]
        y = min(lows) - 0.05 * max(max(highs) - min(lows), 1e-3) if lows else 0.0
        times = self.no_face_times + 0.5 * MODEL_FRAME_S  # mid-frame
        self.no_face_ticks.setData(times, np.full(len(times), y))

    # -- read-out -------------------------------------------------------------------------
    def readout_at(self, t: float) -> str:
        """Text of the hover read-out at ``t`` seconds: time, the video's frame (the one frame
        number the viewer shows; see ``frame_label``), each curve's score and sound delay."""
        if not self.results:
            return ""
        if self.frame_label is not None:
            frame = self.frame_label(t)[0]
        else:
            frame = f"frame {model_frame_of(max(t, 0.0))}"
        parts = [format_timecode(max(t, 0.0))] + ([frame] if frame else [])
        for (kind, variant), res in self.results.items():
            i = model_frame_of(t) - res.first_model_frame  # this curve's value at t, if it has one
            if not 0 <= i < res.num_frames:
                continue
            name = curve_label(kind, variant)
            text = f"{name} {float(res.frame_scores[i]):.3f}"
            if kind != "supervised" and res.sync_offset_frames is not None:
                off = int(res.sync_offset_frames[i])
                text += f" (sound delay {off * MODEL_FRAME_S * 1000:+.0f} ms)"
            parts.append(text)
        return "   ".join(parts)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.plot is None or self._readout is None:
            return
        if not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            self._hide_readout()
            return
        p = self.plot.vb.mapSceneToView(scene_pos)
        self.hover_text = self.readout_at(float(p.x()))
        if not self.hover_text:
            self._hide_readout()
            return
        self._readout.setText(self.hover_text)
        self.place_readout(scene_pos)
        self._readout.setVisible(True)

    def _hide_readout(self) -> None:
        assert self._readout is not None
        self._readout.setVisible(False)
        if self._legend is not None:  # back in its strip
            self._legend.setVisible(bool(self._legend.items))

    def place_readout(self, scene_pos: QPointF) -> None:
        """Put the read-out where it covers no data: on one line in the strip above the lane
        (the legend steps aside while the pointer is on the lane) when it fits there; else
        wrapped to the lane's width in the top corner away from the pointer."""
        if self.plot is None or self._readout is None:
            return
        data = self.plot.vb.geometry()  # the plotting area, in the plot's coordinates
        self._readout.setTextWidth(-1)
        natural = self._readout.textItem.boundingRect().width()
        if natural <= data.width() - 4.0:
            if self._legend is not None:
                self._legend.setVisible(False)
            self._readout.setAnchor((0, 1))
            self._readout.setPos(data.left(), data.top() - 1.0)
            return
        if self._legend is not None:
            self._legend.setVisible(bool(self._legend.items))
        self._readout.setTextWidth(max(80.0, data.width() - 8.0))
        right = self.plot.mapFromScene(scene_pos).x() < data.center().x()
        self._readout.setAnchor((1, 0) if right else (0, 0))
        self._readout.setPos(data.right() if right else data.left(), data.top())

    def readout_rect(self) -> Any:
        """The read-out's rectangle in scene coordinates (for layout checks)."""
        assert self._readout is not None
        return self._readout.sceneBoundingRect()


class GroundTruthLanes:
    """One plot with three rows (audio / visual / both) of ground-truth segments, in seconds.

    ``regions[lane]`` holds the LinearRegionItems; whole-clip labels without timestamps
    (FakeAVCeleb) span the whole clip and the lane label says so.
    """

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.plot: pg.PlotItem | None = None
        self.regions: dict[str, list[pg.LinearRegionItem]] = {lane: [] for lane, _, _ in GT_LANES}
        self.labels: dict[str, pg.TextItem] = {}
        self.groundtruth: Any = None
        self.source = ""

    def ensure_plot(self) -> pg.PlotItem:
        if self.plot is None:
            self.plot = self.timeline.add_plot("ground truth", y_label="truth", height=GT_LANE_PX)
            self.plot.setYRange(0, 3, padding=0)
            self.plot.getAxis("left").setStyle(showValues=False)
            self.plot.vb.setMouseEnabled(x=True, y=False)
            for i, (lane, title, colour) in enumerate(GT_LANES):
                label = pg.TextItem(title, color=colour, anchor=(0, 0.5))
                font = label.textItem.font()
                font.setPointSize(LANE_FONT_PT)
                label.setFont(font)
                label.setZValue(20)
                label.setPos(0, 2.5 - i)
                self.plot.addItem(label, ignoreBounds=True)
                self.labels[lane] = label
        return self.plot

    def clear(self) -> None:
        if self.plot is not None:
            for regions in self.regions.values():
                for r in regions:
                    self.plot.removeItem(r)
        self.regions = {lane: [] for lane, _, _ in GT_LANES}
        self.groundtruth = None
        self.source = ""
        for lane, _, _ in GT_LANES:
            if lane in self.labels:  # empty lanes titled "audio fake" would read as "not fake"
                self.labels[lane].setText("")
        if "visual" in self.labels:
            self.labels["visual"].setText(NO_GT_TEXT)
            self.labels["visual"].setColor(theme.MUTED)

    def set_groundtruth(self, gt: Any, duration_s: float, source: str = "") -> None:
        """Show ``gt`` (core GroundTruth) for a clip of ``duration_s`` seconds."""
        plot = self.ensure_plot()
        self.clear()
        self.groundtruth, self.source = gt, source
        plot.vb.setLimits(xMin=-0.05 * duration_s, xMax=1.05 * duration_s, minXRange=1e-4)
        if gt.has_timestamps:
            spans = {"audio": gt.audio_segments, "visual": gt.visual_segments,
                     "both": gt.fake_segments}
            suffix = {lane: "" for lane in spans}
        else:
            flags = gt.whole_clip_labels
            whole = [(0.0, float(duration_s))]
            spans = {"audio": whole if flags.get("audio_fake") else [],
                     "visual": whole if flags.get("video_fake") else [],
                     "both": whole if (flags.get("audio_fake") and flags.get("video_fake")) else []}
            suffix = {lane: (" (whole clip)" if spans[lane] else " — real (whole clip)")
                      for lane in spans}
        for i, (lane, title, colour) in enumerate(GT_LANES):
            lo, hi = (2 - i) / 3, (3 - i) / 3
            for s, e in spans[lane]:
                self.regions[lane].append(add_span(plot, s, e, colour, 110, z=5,
                                                   span=(lo + 0.04, hi - 0.04)))
            self.labels[lane].setText(title + suffix[lane])
            self.labels[lane].setColor(colour)
        if gt.label == "real" and gt.has_timestamps:
            self.labels["both"].setText("real clip: no fake segments")

    def spans(self, lane: str) -> list[tuple[float, float]]:
        """The (start_s, end_s) of the regions drawn in ``lane``."""
        return [tuple(float(v) for v in r.getRegion()) for r in self.regions[lane]]  # type: ignore[misc]

    def fake_mask(self, times_s: np.ndarray) -> np.ndarray:
        """1.0 where ``times_s`` fall in any drawn region of any lane, else 0.0 (for snapshots)."""
        out = np.zeros(len(times_s))
        for regions in self.regions.values():
            for r in regions:
                s, e = r.getRegion()
                out[(times_s >= s) & (times_s < e)] = 1.0
        return out
