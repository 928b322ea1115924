"""The timeline: a vertical stack of pyqtgraph plots sharing one x axis (seconds).

The first plot is the waveform (peak-pyramid envelope, redrawn for the visible range only),
with the leading silence shaded and labelled and the ±tau threshold lines. More plots (fakeness
curves, ground-truth lanes) are added below with :meth:`Timeline.add_plot`; each gets its own
playhead and click-to-seek.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from forensics_gui.ui import theme


class Timeline(QWidget):
    """Waveform panel plus any number of x-linked plots below it.

    ``seek_requested(seconds)`` is emitted when the user clicks a plot; :meth:`seek` moves the
    playheads without emitting anything.
    """

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(4, 4, 4, 4)
        self.graphics.ci.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.plots: list[pg.PlotItem] = []
        self.playheads: list[pg.InfiniteLine] = []
        self._view_heights: list[int | None] = []
        self._spares: dict[tuple[str, str], pg.PlotItem] = {}  # prebuilt, keyed (name, y_label)
        self.waveform_plot = self.add_plot("waveform", y_label="amplitude")
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
    def add_plot(self, name: str, y_label: str = "", height: int | None = None) -> pg.PlotItem:
        """Append a plot under the others, x-linked to the waveform, with its own playhead.

        Only the bottom-most plot shows the time axis values and its "time (s)" label; the plots
        above keep the x grid only. ``height`` is the height of the plotting area in pixels (the
        bottom plot grows by its time axis so every lane keeps that area).
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
        if y_label:
            plot.setLabel("left", y_label)
        left = plot.getAxis("left")
        left.setWidth(56)
        left.setStyle(hideOverlappingLabels=True)  # no tick text spilling into the next lane
        plot.setLabel("bottom", "time", units="s")
        return plot

    def _fix_heights(self) -> None:
        """Fixed lanes: plotting-area height + their bottom axis (only the last one has values)."""
        for plot, height in zip(self.plots, self._view_heights, strict=True):
            if height is not None:
                plot.setFixedHeight(height + plot.getAxis("bottom").minimumHeight())

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
        """Show the whole clip at full amplitude (double-click on a plot)."""
        self.waveform_plot.setXRange(0.0, self.duration_s, padding=0.0)
        self.waveform_plot.setYRange(-1.0, 1.0, padding=0.02)

    def scene_pos_for_time(self, t: float, plot_index: int = 0) -> QPointF:
        """Scene position of time ``t`` at the vertical middle of a plot (for tests/automation)."""
        vb = self.plots[plot_index].vb
        _, (y0, y1) = vb.viewRange()
        return vb.mapViewToScene(QPointF(t, (y0 + y1) / 2))
