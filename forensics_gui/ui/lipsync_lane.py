"""The "Mouth and voice" lane on the timeline: the mouth opening drawn over the speech loudness,
each on its own 0-1 scale, the stretches where they stop agreeing shaded, and a hover read-out
with the sound offset that fits best there.

It shows a core ``LipSyncResult`` (:mod:`forensics_gui.core.lipsync`): ``times_s`` (start of
each 25 fps model frame), ``mouth_opening``, ``loudness``, ``best_offset_frames``,
``agreement_best``, ``agreement_zero``, ``flagged`` (start_s, end_s) and ``readings``. It needs no
model files, so it is drawn on the first Analyze of a fresh install too. The lane is a
:meth:`~forensics_gui.ui.timeline.Timeline.add_plot` lane: it shares the time axis, the playhead
and click-to-seek. It is small (a 1024x600 screen holds it with every other lane), so its legend
is in the name column beside it, never on the data: "mouth" in the mouth's colour over "voice"
in the loudness's, beside the axis name "0-1" (each trace on its own 0-1 scale; the tooltip says
so in full). The hover read-out is one line in the lane's top corner away from the pointer.
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer

from forensics_gui.core.evidence import snapshot as evidence
from forensics_gui.core.evidence import wording
from forensics_gui.core.evidence.snapshot import looks_like_decibels, scaled
from forensics_gui.core.media.timebase import MODEL_FRAME_S, format_timecode, model_frame_of
from forensics_gui.ui import theme
from forensics_gui.ui.curves import READOUT_FONT_PT, add_span, translucent

LANE_NAME = "mouth and voice"  # the plot's name (tests, layout probes)
Y_LABEL = "0-1"  # the axis name: both traces are on 0-1 scales of their own
LIPSYNC_MIN_PX = 28  # smallest plotting height: two legend words stacked beside it
LIPSYNC_STRETCH = 1  # grows with the timeline, less than the mismatch lane (3)
LEGEND_FONT_PT = 7.5
STALE_COLOUR = "#6b717b"  # as AvhViews greys out-of-date curves
MOUTH_COLOUR = evidence.MOUTH_COLOUR  # the exported picture uses the same colours
LOUDNESS_COLOUR = evidence.LOUDNESS_COLOUR  # the sound's green, as the waveform lane above
FLAG_COLOUR = evidence.LIPSYNC_FLAG_COLOUR  # magenta: not the playhead's red
MOUTH_LEGEND = "mouth opening (0-1)"
LOUDNESS_LEGEND = "speech loudness (0-1)"


def lane_title() -> str:
    """The lane's plain name (wording.MOUTH_AND_VOICE when the core wording has it)."""
    return str(getattr(wording, "MOUTH_AND_VOICE", "Mouth and voice"))


def lane_tooltip() -> str:
    """The lane's tooltip: what is drawn, in plain words, then the technical terms."""
    terms = wording.TECHNICAL_TERMS
    names = (wording.MOUTH_AND_VOICE, wording.MOUTH_VOICE_AGREEMENT, wording.MOUTH_VOICE_OFFSET,
             wording.MOUTH_VOICE_STRETCH)
    return (f"{lane_title()}: the mouth opening (yellow) drawn over the speech loudness (green), "
            "each scaled to its own range 0-1, so their shapes can be compared; shaded magenta: "
            "where they stop agreeing. Hover for the sound offset that fits the lips best and how "
            "well they agree there. No model files needed.\n\n"
            + "\n".join(f"{name}: {terms[name]}" for name in names))


def offset_text(frames: int) -> str:
    """"+200 ms (+5 frames), sound late" in plain words (ms first, the lanes' convention)."""
    ms = frames * MODEL_FRAME_S * 1000.0
    if frames == 0:
        return "0 ms (in sync)"
    side = "sound late" if frames > 0 else "sound early"
    return f"{ms:+.0f} ms ({frames:+d} frame{'s' if abs(frames) != 1 else ''}, {side})"


class LipSyncLane:
    """The lane and what it shows (see the module docstring).

    Items the tests and the snapshot read: ``plot``, ``mouth_item`` and ``loudness_item``
    (PlotDataItems, x = seconds, y = 0-1), ``flag_regions`` (LinearRegionItems of the flagged
    stretches), ``result`` (the LipSyncResult shown), ``notice_text``, ``hover_text``.
    """

    def __init__(self, timeline: Any) -> None:
        self.timeline = timeline
        self.plot: pg.PlotItem | None = None
        self.mouth_item: pg.PlotDataItem | None = None
        self.loudness_item: pg.PlotDataItem | None = None
        self.flag_regions: list[pg.LinearRegionItem] = []
        self.result: Any = None
        self.times = np.zeros(0)  # frame starts (s) of the result shown
        self.mouth01 = np.zeros(0)  # what is drawn (0-1), kept for the read-out and redraws
        self.loudness01 = np.zeros(0)
        self.stale = False  # drawn grey: measured with another face tracking than now set
        self.notice_text = ""
        self.hover_text = ""
        self.legend_words: dict[str, pg.TextItem] = {}  # "mouth", "voice", in the name column
        self._notice: pg.TextItem | None = None
        self._readout: pg.TextItem | None = None
        # t -> (the video's "frame N", tooltip); set by the owner like CurvePanel.frame_label
        self.frame_label: Any = None

    # -- structure ------------------------------------------------------------------------
    def prebuild(self) -> bool:
        """Build the lane's plot off screen at idle time (see ``Timeline.prebuild_plot``)."""
        if self.plot is not None:
            return False
        return bool(self.timeline.prebuild_plot(LANE_NAME, Y_LABEL))

    def ensure_plot(self) -> pg.PlotItem:
        if self.plot is not None:
            return self.plot
        tl = self.timeline
        plot = tl.add_plot(LANE_NAME, y_label=Y_LABEL, min_height=LIPSYNC_MIN_PX,
                           stretch=LIPSYNC_STRETCH)
        left = plot.getAxis("left")
        left.setStyle(showValues=False)  # each trace has its own 0-1 scale: no shared values
        left.setToolTip(lane_tooltip())
        plot.setYRange(0.0, 1.0, padding=0.05)
        plot.vb.setLimits(xMin=-0.05 * tl.duration_s, xMax=1.05 * tl.duration_s, minXRange=1e-4)
        self.loudness_item = pg.PlotDataItem([], [], pen=pg.mkPen(LOUDNESS_COLOUR, width=1),
                                             fillLevel=0.0,
                                             brush=translucent(LOUDNESS_COLOUR, 70),
                                             name=LOUDNESS_LEGEND)
        self.loudness_item.setZValue(5)
        self.mouth_item = pg.PlotDataItem([], [], pen=pg.mkPen(MOUTH_COLOUR, width=2),
                                          name=MOUTH_LEGEND)
        self.mouth_item.setZValue(10)
        plot.addItem(self.loudness_item)
        plot.addItem(self.mouth_item)
        for word, colour, tip, term in (
                ("mouth", MOUTH_COLOUR, MOUTH_LEGEND, wording.MOUTH_OPENING),
                ("voice", LOUDNESS_COLOUR, LOUDNESS_LEGEND, wording.SPEECH_LOUDNESS)):
            item = pg.TextItem(word, color=colour, anchor=(0, 0.5))
            wfont = item.textItem.font()
            wfont.setPointSizeF(LEGEND_FONT_PT)
            wfont.setBold(True)
            item.setFont(wfont)
            item.textItem.document().setDocumentMargin(0)
            item.setToolTip(f"{tip}: each trace on its own 0-1 scale.\n"
                            f"{term}: {wording.TECHNICAL_TERMS[term]}")
            item.setParentItem(plot)  # beside the data, in the name column
            self.legend_words[word] = item
        self._notice = pg.TextItem("", color=theme.MUTED, anchor=(0.5, 0.5))
        font = self._notice.textItem.font()
        font.setPointSize(READOUT_FONT_PT)
        self._notice.setFont(font)
        self._notice.setZValue(35)
        plot.addItem(self._notice, ignoreBounds=True)
        self._readout = pg.TextItem("", color=theme.TEXT, anchor=(0, 0),
                                    fill=pg.mkBrush(38, 42, 49, 230))
        rfont = self._readout.textItem.font()
        rfont.setPointSize(READOUT_FONT_PT)
        self._readout.setFont(rfont)
        self._readout.textItem.document().setDocumentMargin(2)
        self._readout.setZValue(40)
        self._readout.setVisible(False)
        self._readout.setParentItem(plot)
        self.plot = plot
        tl.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        plot.vb.sigResized.connect(self._place_notice)
        plot.vb.sigXRangeChanged.connect(self._place_notice)  # stays centred when zoomed
        self._redraw_timer = QTimer()
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self.redraw)
        plot.vb.sigXRangeChanged.connect(self._redraw_timer.start)  # detail follows the zoom
        plot.vb.sigResized.connect(self._redraw_timer.start)
        plot.vb.sigResized.connect(self._place_legend)
        self._place_legend()
        self.set_notice("Analysis > Analyze (Ctrl+R) draws the mouth opening over the speech "
                        "loudness here (no model files needed).")
        return plot

    def set_duration(self, duration_s: float) -> None:
        if self.plot is not None:
            self.plot.vb.setLimits(xMin=-0.05 * duration_s, xMax=1.05 * duration_s,
                                   minXRange=1e-4)
            self._place_notice()

    def set_notice(self, text: str) -> None:
        """A centred one-line message in the lane ("Measuring…", why there is nothing)."""
        self.ensure_plot()
        assert self._notice is not None
        self.notice_text = text
        self._notice.setHtml(f'<div align="center">{html.escape(text)}</div>')
        self._notice.setVisible(bool(text))
        self._place_notice()

    def _place_legend(self, *args: Any) -> None:
        """"mouth" over "voice", right of the rotated axis name, centred on the lane."""
        if self.plot is None:
            return
        axis = self.plot.getAxis("left").geometry()
        data = self.plot.vb.geometry()
        mid = data.center().y()
        x = axis.left() + 15.0
        self.legend_words["mouth"].setPos(x, mid - 6.0)
        self.legend_words["voice"].setPos(x, mid + 6.0)

    def legend_rects(self) -> dict[str, Any]:
        """The legend words' rectangles in scene coordinates (for layout checks)."""
        return {w: item.sceneBoundingRect() for w, item in self.legend_words.items()}

    def _place_notice(self, *args: Any) -> None:
        if self._notice is None or self.plot is None:
            return
        self._notice.setTextWidth(max(120.0, self.plot.vb.width() - 24.0))
        (x0, x1), _ = self.plot.vb.viewRange()
        self._notice.setPos((x0 + x1) / 2, 0.5)

    # -- data -----------------------------------------------------------------------------
    def clear(self, notice: str = "") -> None:
        """Forget the result shown (new clip, new analysis); keeps the lane."""
        self.result = None
        self.hover_text = ""
        self.times = np.zeros(0)
        if self.plot is None:
            return
        assert self.mouth_item is not None and self.loudness_item is not None
        self.mouth_item.setData([], [])
        self.loudness_item.setData([], [])
        for region in self.flag_regions:
            self.plot.removeItem(region)
        self.flag_regions = []
        self._hide_readout()
        self.set_notice(notice)

    def set_result(self, result: Any) -> None:
        """Draw a LipSyncResult (None: clear)."""
        if result is None:
            self.clear()
            return
        plot = self.ensure_plot()
        assert self.mouth_item is not None and self.loudness_item is not None
        self.set_stale(False)
        self.clear()
        self.result = result
        times = self.times = np.asarray(result.times_s, np.float64)
        self.mouth01 = scaled(result.mouth_opening)
        self.loudness01 = scaled(result.loudness, decibels=looks_like_decibels(result.loudness))
        self.redraw()
        for s, e in result.flagged:
            self.flag_regions.append(add_span(plot, s, e, FLAG_COLOUR, 60))
        if not len(times):
            self.set_notice("No frames to compare.")
        elif not np.isfinite(np.asarray(result.mouth_opening, np.float64)).any():
            self.set_notice("No face was found, so there is no mouth to compare with the voice.")

    def redraw(self, *args: Any) -> None:
        """Draw the traces for the visible time range: one step per 25 fps frame when there are
        at most two frames per pixel, else per pixel column the loudest loudness and the mouth's
        lowest and highest opening (an hour is 90,000 frames; drawing them all costs ~130 ms a
        repaint)."""
        if self.plot is None or self.mouth_item is None or self.loudness_item is None:
            return
        t = self.times
        if not len(t):
            self.mouth_item.setData([], [])
            self.loudness_item.setData([], [])
            return
        (x0, x1), _ = self.plot.vb.viewRange()
        i0 = max(0, int(np.searchsorted(t, x0)) - 1)
        i1 = min(len(t), int(np.searchsorted(t, x1)) + 1)
        if i1 <= i0:
            i0, i1 = 0, len(t)
        columns = max(50, int(self.plot.vb.width()))
        n = i1 - i0
        mouth, loud = self.mouth01[i0:i1], np.nan_to_num(self.loudness01[i0:i1], nan=0.0)
        if n <= 2 * columns:  # step lines: one value per frame, drawn over its 40 ms
            edges = np.append(t[i0:i1], t[i1 - 1] + MODEL_FRAME_S)
            self.loudness_item.setData(edges, loud, stepMode="center")
            self.mouth_item.setData(edges, mouth, stepMode="center", connect="finite")
            return
        per = int(np.ceil(n / columns))
        pad = (-n) % per
        lo = np.concatenate([mouth, np.full(pad, np.nan)]).reshape(-1, per)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            m_lo, m_hi = np.nanmin(lo, axis=1), np.nanmax(lo, axis=1)
        l_hi = np.concatenate([loud, np.zeros(pad)]).reshape(-1, per).max(axis=1)
        starts = t[i0:i1:per]
        edges = np.append(starts, t[i1 - 1] + MODEL_FRAME_S)
        self.loudness_item.setData(edges, l_hi, stepMode="center")
        half = 0.5 * per * MODEL_FRAME_S
        xs = np.stack([starts, starts + half], axis=1).ravel()
        self.mouth_item.setData(xs, np.stack([m_lo, m_hi], axis=1).ravel(), stepMode=None,
                                connect="finite")

    def set_stale(self, stale: bool) -> None:
        """Grey the traces and the shading (the face tracking changed since they were measured:
        Analyze again), or give them back their colours."""
        if stale == self.stale:
            return
        self.stale = stale
        if self.mouth_item is None or self.loudness_item is None:
            return
        grey = STALE_COLOUR
        self.mouth_item.setPen(pg.mkPen(grey if stale else MOUTH_COLOUR, width=2))
        loud = grey if stale else LOUDNESS_COLOUR
        self.loudness_item.setPen(pg.mkPen(loud, width=1))
        self.loudness_item.setBrush(translucent(loud, 70))
        for region in self.flag_regions:
            colour = grey if stale else FLAG_COLOUR
            region.setBrush(translucent(colour, 60))
            for edge in region.lines:
                edge.setPen(pg.mkPen(colour, width=1))

    def flagged_spans(self) -> list[tuple[float, float]]:
        """(start_s, end_s) of the shaded stretches."""
        return [tuple(float(v) for v in r.getRegion()) for r in self.flag_regions]  # type: ignore[misc]

    def plotted(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What is drawn: {"mouth": (x, y), "loudness": (x, y)} on the 0-1 scale."""
        out = {}
        for name, item in (("mouth", self.mouth_item), ("loudness", self.loudness_item)):
            if item is not None:
                x, y = item.getData()
                out[name] = (np.asarray(x if x is not None else [], np.float64),
                             np.asarray(y if y is not None else [], np.float64))
        return out

    # -- read-out -------------------------------------------------------------------------
    def frame_index_at(self, t: float) -> int | None:
        """Index into the result's arrays of the frame covering ``t`` seconds, or None."""
        res = self.result
        if res is None:
            return None
        i = model_frame_of(max(t, 0.0)) - int(getattr(res, "first_model_frame", 0))
        return i if 0 <= i < len(res.times_s) else None

    def readout_at(self, t: float, short: bool = False) -> str:
        """The hover text at ``t`` seconds: time, frame, both traces and the best sound offset
        there with how well mouth and voice agree at it and in sync ("" off the data);
        ``short``: the time and the best offset only (a narrow lane)."""
        i = self.frame_index_at(t)
        if i is None:
            return ""
        res = self.result
        frame = self.frame_label(t)[0] if self.frame_label is not None else \
            f"frame {model_frame_of(max(t, 0.0))}"
        parts = [format_timecode(max(t, 0.0))] + ([frame] if frame and not short else [])
        if short:
            off = int(res.best_offset_frames[i])
            return "   ".join(parts + [f"best fit: sound {offset_text(off)}"])
        mouth, loud = self.mouth01[i], self.loudness01[i]
        parts.append("mouth " + ("no face" if not np.isfinite(mouth) else f"{mouth:.2f}"))
        parts.append("voice " + ("—" if not np.isfinite(loud) else f"{loud:.2f}"))
        best = float(res.agreement_best[i])
        zero = float(res.agreement_zero[i])
        if np.isfinite(best):
            off = int(res.best_offset_frames[i])
            parts.append(f"best fit: sound {offset_text(off)}, agreement {best:.2f}"
                         + (f" (in sync {zero:.2f})" if off != 0 and np.isfinite(zero) else ""))
        if any(s <= t < e for s, e in self.flagged_spans()):
            parts.append("— stops agreeing here")
        return "   ".join(parts)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.plot is None or self._readout is None:
            return
        if not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            if self._readout.isVisible():
                self._hide_readout()
            return
        t = float(self.plot.vb.mapSceneToView(scene_pos).x())
        self.hover_text = self.readout_at(t)
        if not self.hover_text:
            self._hide_readout()
            return
        self.place_readout(scene_pos, t)
        self._readout.setVisible(True)

    def place_readout(self, scene_pos: QPointF, t: float) -> None:
        """One line in the lane's top corner away from the pointer (the short form when the
        full one is wider than the lane)."""
        assert self.plot is not None and self._readout is not None
        data = self.plot.vb.geometry()
        self._readout.setTextWidth(-1)
        self._readout.setText(self.hover_text)
        if self._readout.textItem.boundingRect().width() > data.width() - 8.0:
            self.hover_text = self.readout_at(t, short=True)
            self._readout.setText(self.hover_text)
        right = self.plot.mapFromScene(scene_pos).x() < data.center().x()
        self._readout.setAnchor((1, 0) if right else (0, 0))
        self._readout.setPos(data.right() if right else data.left(), data.top())

    def _hide_readout(self) -> None:
        if self._readout is not None:
            self._readout.setVisible(False)

    def readout_rect(self) -> Any:
        assert self._readout is not None
        return self._readout.sceneBoundingRect()
