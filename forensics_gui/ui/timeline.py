"""The timeline: a vertical stack of pyqtgraph plots sharing one x axis (seconds).

The first plot is the waveform (peak-pyramid envelope, redrawn for the visible range only),
with the leading silence shaded and labelled and the ±tau threshold lines. More plots (fakeness
curves, ground-truth lanes) are added below with :meth:`Timeline.add_plot`; each gets its own
playhead and click-to-seek.

Lanes are either fixed (``height``: the sync and ground-truth lanes) or growing (``min_height`` and
``stretch``: the waveform and the curves share what the splitter gives the timeline). The plots'
minimum heights add up to the widget's minimum height, so a small window shrinks the video above,
never overlaps two lanes. The mouse wheel and dragging zoom and pan TIME only (every lane keeps
its amplitude scale); :meth:`Timeline.reset_view` ("Reset zoom" beside the time axis label,
View > Reset zoom, Ctrl+0) shows the whole clip.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QToolButton, QVBoxLayout, QWidget

from forensics_gui.ui import theme

LAYOUT_MARGIN_PX = 4
LANE_SPACING_PX = 2
WAVEFORM_MIN_PX = 40  # the smallest plotting height at which the waveform and its labels read
LEFT_AXIS_PX = 56
LANE_LABEL_SIZE = "8pt"  # lane names beside the smallest lanes (the time axis keeps its size)


class Timeline(QWidget):
    """Waveform panel plus any number of x-linked plots below it.

    ``seek_requested(seconds)`` is emitted when the user clicks a plot; :meth:`seek` moves the
    playheads without emitting anything.
    """

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(LAYOUT_MARGIN_PX, LAYOUT_MARGIN_PX, LAYOUT_MARGIN_PX,
                                            LAYOUT_MARGIN_PX)
        self.graphics.ci.setSpacing(LANE_SPACING_PX)
        # "Reset zoom" sits in the free corner right of the time axis' "time (s)" label: on
        # screen whenever the axis is, and it costs the lanes no height
        self.reset_zoom_button = QToolButton(self.graphics)
        self.reset_zoom_button.setObjectName("resetZoom")
        self.reset_zoom_button.setText("Reset zoom")
        self.reset_zoom_button.setToolTip("Show the whole clip again (View > Reset zoom, Ctrl+0). "
                                          "The mouse wheel zooms the time axis; drag to move "
                                          "along it.")
        self.reset_zoom_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reset_zoom_button.clicked.connect(self.reset_view)
        self.graphics.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.plots: list[pg.PlotItem] = []
        self.playheads: list[pg.InfiniteLine] = []
        self._view_heights: list[int | None] = []
        self._min_heights: list[int] = []
        self._spares: dict[tuple[str, str], pg.PlotItem] = {}  # prebuilt, keyed (name, y_label)
        # "sound": short enough to read beside the smallest waveform lane; the term in the tooltip
        self.waveform_plot = self.add_plot("waveform", y_label="sound",
                                           min_height=WAVEFORM_MIN_PX, stretch=2)
        self.waveform_plot.getAxis("left").setToolTip(
            "The sound wave: amplitude, -1..1 of full scale (the digital maximum)")
        self.waveform_plot.setYRange(-1.0, 1.0, padding=0.02)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(theme.WAVEFORM, width=1), connect="all")
        self.waveform_plot.addItem(self.curve)
        self.curve.setZValue(5)

        self.silence_region = pg.LinearRegionItem(
            values=(0.0, 0.0), movable=False, brush=pg.mkBrush(*theme.SILENCE),
            pen=pg.mkPen(theme.SILENCE_EDGE, width=1),
        )
        self.silence_region.setZValue(2)
        self.silence_region.setVisible(False)
        self.waveform_plot.addItem(self.silence_region, ignoreBounds=True)
        self.silence_label = pg.TextItem("", color=theme.SILENCE_EDGE, anchor=(0, 0))
        self.silence_label.setZValue(20)
        self.silence_label.setVisible(False)
        self.waveform_plot.addItem(self.silence_label, ignoreBounds=True)
        tau_pen = pg.mkPen(theme.TAU_LINE, width=1, style=Qt.PenStyle.DashLine)
        self.tau_lines = (
            pg.InfiniteLine(angle=0, movable=False, pen=tau_pen),
            pg.InfiniteLine(angle=0, movable=False, pen=tau_pen),
        )
        for line in self.tau_lines:
            line.setZValue(6)
            self.waveform_plot.addItem(line, ignoreBounds=True)
        self.notice = pg.TextItem("", color=theme.MUTED, anchor=(0.5, 0.5))
        self.waveform_plot.addItem(self.notice, ignoreBounds=True)
        # past the end of a cut-short file's sound: marked, so it never reads as silence
        self.no_data_region = pg.LinearRegionItem(
            values=(0.0, 0.0), movable=False, brush=pg.mkBrush(theme.BORDER),
            pen=pg.mkPen(theme.PLAYHEAD, width=1))
        self.no_data_region.setZValue(8)  # above the tau lines and the waveform
        self.no_data_region.setVisible(False)
        self.waveform_plot.addItem(self.no_data_region, ignoreBounds=True)
        self.no_data_label = pg.TextItem("no data (file cut short)", color=theme.TEXT,
                                         anchor=(0.5, 0.5))
        self.no_data_label.setZValue(21)
        self.no_data_label.setVisible(False)
        self.waveform_plot.addItem(self.no_data_label, ignoreBounds=True)
        self.data_end_s: float | None = None
        self.set_silence(None, None)

        self.pyramid: Any = None
        self.duration_s = 1.0
        self.time_s = 0.0
        self.set_notice("The waveform appears here.")
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self.redraw_waveform)
        self.waveform_plot.vb.sigXRangeChanged.connect(self._on_range_changed)
        self.waveform_plot.vb.sigResized.connect(self._on_range_changed)
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)

    # -- structure -----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.graphics and event.type() == QEvent.Type.Resize:
            self._place_zoom_button()
        return super().eventFilter(watched, event)

    def _place_zoom_button(self) -> None:
        """Bottom right of the plots, beside the time axis label."""
        button = self.reset_zoom_button
        button.adjustSize()
        button.move(self.graphics.width() - button.width() - LAYOUT_MARGIN_PX,
                    self.graphics.height() - button.height() - 1)
        button.raise_()

    def add_plot(self, name: str, y_label: str = "", height: int | None = None,
                 min_height: int = 40, stretch: int = 0) -> pg.PlotItem:
        """Append a plot under the others, x-linked to the waveform, with its own playhead.

        Only the bottom-most plot shows the time axis values and its "time (s)" label; the plots
        above keep the x grid only. ``height``: a fixed lane, that height of plotting area in
        pixels (the bottom plot grows by its time axis so every lane keeps that area); None: a
        growing lane of at least ``min_height`` pixels that takes ``stretch`` shares of the
        height left over (the waveform has 2).
        """
        row = len(self.plots)
        plot = self._spares.pop((name, y_label), None)
        if plot is None:
            plot = self._new_plot(name, y_label)
        self.graphics.addItem(plot, row=row, col=0)
        if self.plots:
            plot.setXLink(self.plots[0])
            above = self.plots[-1].getAxis("bottom")
            above.setStyle(showValues=False)
            above.showLabel(False)
        playhead = pg.InfiniteLine(pos=self.time_s if self.plots else 0.0, angle=90, movable=False,
                                   pen=pg.mkPen(theme.PLAYHEAD, width=2))
        playhead.setZValue(30)
        plot.addItem(playhead, ignoreBounds=True)
        self.plots.append(plot)
        self.playheads.append(playhead)
        self._view_heights.append(height)
        self._min_heights.append(int(min_height))
        self.graphics.ci.layout.setRowStretchFactor(row, 0 if height is not None else int(stretch))
        self._fix_heights()
        return plot

    def prebuild_plot(self, name: str, y_label: str = "") -> bool:
        """Construct (not show) the plot a later ``add_plot(name, y_label)`` will use; True when
        one was built now (False: already built, or already in the timeline).

        A pyqtgraph PlotItem costs ~10-20 ms of GUI-thread time to build (axes, context menus);
        calling this at idle time keeps that cost out of the action that makes the lane appear.
        """
        key = (name, y_label)
        if key in self._spares or any(p.vb.name == name for p in self.plots):
            return False
        self._spares[key] = self._new_plot(name, y_label)
        return True

    @staticmethod
    def _new_plot(name: str, y_label: str) -> pg.PlotItem:
        """A configured plot, not yet in the layout (x grid, no menu/buttons, "time (s)" axis)."""
        plot = pg.PlotItem(name=name)
        plot.showGrid(x=True, y=False, alpha=0.15)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.vb.setMouseEnabled(x=True, y=False)  # the wheel zooms time, never the amplitude
        if y_label:
            plot.setLabel("left", y_label, **{"font-size": LANE_LABEL_SIZE})
        left = plot.getAxis("left")
        left.setWidth(LEFT_AXIS_PX)
        left.setStyle(hideOverlappingLabels=True)  # no tick text spilling into the next lane
        plot.setLabel("bottom", "time", units="s")
        return plot

    @staticmethod
    def _chrome_height(plot: pg.PlotItem) -> float:
        """The plot's height outside its plotting area: the bottom axis (values and label only on
        the last lane) and a reserved top row (a legend above the data)."""
        return float(plot.getAxis("bottom").minimumHeight() + plot.layout.rowMinimumHeight(0))

    def _fix_heights(self) -> None:
        """Fixed lanes get plotting-area height + chrome; growing lanes at least their minimum.
        The sum is the widget's minimum height, so lanes never overlap when space runs short."""
        total = 2.0 * LAYOUT_MARGIN_PX + LANE_SPACING_PX * max(0, len(self.plots) - 1)
        for plot, height, low in zip(self.plots, self._view_heights, self._min_heights, strict=True):
            chrome = self._chrome_height(plot)
            if height is not None:
                plot.setFixedHeight(height + chrome)
                total += height + chrome
            else:
                plot.setMinimumHeight(low + chrome)
                plot.setMaximumHeight(16777215)
                total += low + chrome
        self.graphics.setMinimumHeight(int(total) + 2)

    def refresh_heights(self) -> None:
        """Recompute the lane heights after a lane changed its chrome (e.g. a legend row)."""
        self._fix_heights()

    def lane_heights(self) -> dict[str, float]:
        """Plotting-area height in pixels of each lane, by plot name (for tests and layout)."""
        return {str(p.vb.name): float(p.vb.height()) for p in self.plots}

    def time_axis_plots(self) -> list[pg.PlotItem]:
        """The plots whose time axis shows values and the "time (s)" label (the bottom one)."""
        return [p for p in self.plots
                if p.getAxis("bottom").style["showValues"] and p.getAxis("bottom").label.isVisible()]

    # -- data ----------------------------------------------------------------------------
    def set_clip(self, duration_s: float) -> None:
        """Reset for a new clip of ``duration_s`` seconds (no audio drawn yet)."""
        self.pyramid = None
        self.duration_s = max(float(duration_s), 1e-3)
        self.curve.setData([], [])
        self.set_silence(None, None)
        self.set_data_end(None)
        for plot in self.plots:
            plot.vb.setLimits(xMin=-0.05 * self.duration_s, xMax=1.05 * self.duration_s,
                              minXRange=1e-4)
        self.waveform_plot.vb.setLimits(yMin=-1.1, yMax=1.1, minYRange=1e-5)
        self.waveform_plot.setXRange(0.0, self.duration_s, padding=0.0)
        self.set_notice("")
        self.seek(0.0)

    def set_notice(self, text: str) -> None:
        """A centred message in the waveform plot ("No audio stream", "Decoding audio…")."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self.notice.setPos(self.duration_s / 2, 0.0)

    def set_data_end(self, end_s: float | None) -> None:
        """Mark [end_s, clip end] of the waveform "no data (file cut short)" (None: whole); the
        waveform is not drawn past ``end_s``."""
        self.data_end_s = None if end_s is None or end_s >= self.duration_s else float(end_s)
        visible = self.data_end_s is not None
        self.no_data_region.setVisible(visible)
        self.no_data_label.setVisible(visible)
        if self.data_end_s is not None:
            self.no_data_region.setRegion((self.data_end_s, self.duration_s))
            self.no_data_label.setPos((self.data_end_s + self.duration_s) / 2, 0.0)
        self.redraw_waveform()

    def set_pyramid(self, pyramid: Any) -> None:
        self.pyramid = pyramid
        self.set_notice("")
        self.redraw_waveform()

    def set_silence(self, silence_ms: float | None, tau: float | None) -> None:
        """Shade [0, silence_ms] (ms from the start of the audio) and draw ±tau lines."""
        if silence_ms is None:
            self.silence_region.setVisible(False)
            self.silence_label.setVisible(False)
        else:
            start = self.pyramid.start_time_s if self.pyramid is not None else 0.0
            end = start + silence_ms / 1000.0
            self.silence_region.setRegion((start, end))
            self.silence_region.setVisible(True)
            self.silence_label.setText(f"silence {silence_ms:.1f} ms")
            self.silence_label.setPos(end, 0.98)
            self.silence_label.setVisible(True)
        for line, sign in zip(self.tau_lines, (1.0, -1.0), strict=True):
            line.setVisible(tau is not None)
            if tau is not None:
                line.setPos(sign * tau)

    def silence_region_s(self) -> tuple[float, float] | None:
        """The shaded region in seconds, or None when nothing is shaded."""
        if not self.silence_region.isVisible():
            return None
        lo, hi = self.silence_region.getRegion()
        return float(lo), float(hi)

    def _on_range_changed(self, *args: Any) -> None:
        self._redraw_timer.start()

    def redraw_waveform(self) -> None:
        """Recompute the envelope for the visible x range and plot width."""
        if self.pyramid is None:
            return
        (t0, t1), _ = self.waveform_plot.vb.viewRange()
        n_pixels = max(50, int(self.waveform_plot.vb.width()))
        if self.data_end_s is not None:
            t1 = min(t1, self.data_end_s)
        env = self.pyramid.envelope(t0, max(t0, t1), n_pixels)
        x, y = env.polyline()
        if self.data_end_s is not None and len(x):
            keep = x <= self.data_end_s
            x, y = x[keep], y[keep]
        self.curve.setData(x, y)

    # -- time ----------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        """Move every playhead to ``t`` seconds; pan if it left the visible range."""
        self.time_s = float(t)
        for line in self.playheads:
            line.setPos(self.time_s)
        (x0, x1), _ = self.waveform_plot.vb.viewRange()
        width = x1 - x0
        if width > 0 and not (x0 <= self.time_s <= x1) and width < self.duration_s:
            new0 = min(max(self.time_s - 0.1 * width, 0.0), max(0.0, self.duration_s - width))
            self.waveform_plot.setXRange(new0, new0 + width, padding=0.0)

    def seek_at_scene_pos(self, scene_pos: QPointF) -> bool:
        """Emit ``seek_requested`` for a click at ``scene_pos``; True if it hit a plot."""
        for plot in self.plots:
            if plot.vb.sceneBoundingRect().contains(scene_pos):
                t = plot.vb.mapSceneToView(scene_pos).x()
                self.seek_requested.emit(float(min(max(t, 0.0), self.duration_s)))
                return True
        return False

    def _on_scene_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if event.double():
            self.reset_view()
            event.accept()
        elif self.seek_at_scene_pos(event.scenePos()):
            event.accept()

    def reset_view(self) -> None:
        """Show the whole clip at full amplitude ("Reset zoom", Ctrl+0, or a double-click)."""
        self.waveform_plot.setXRange(0.0, self.duration_s, padding=0.0)
        self.waveform_plot.setYRange(-1.0, 1.0, padding=0.02)
        # the other lanes follow through the x link; their amplitude never changed (no y zoom)

    def is_zoomed(self) -> bool:
        """True when the lanes show less than the whole clip."""
        (x0, x1), _ = self.waveform_plot.vb.viewRange()
        return x0 > 1e-9 or x1 < self.duration_s - 1e-9

    def scene_pos_for_time(self, t: float, plot_index: int = 0) -> QPointF:
        """Scene position of time ``t`` at the vertical middle of a plot (for tests/automation)."""
        vb = self.plots[plot_index].vb
        _, (y0, y1) = vb.viewRange()
        return vb.mapViewToScene(QPointF(t, (y0 + y1) / 2))
