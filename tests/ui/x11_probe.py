"""Child process of tests/ui/test_screens_x11.py: the viewer in a real X server, as a user gets it.

Run as ``python tests/ui/x11_probe.py CONFIG.json`` with DISPLAY set and QT_QPA_PLATFORM=xcb
(:func:`forensics_gui.testing.xvfb.x_env`). It opens the viewer with no size given (the window
places itself on the screen), opens the clip, runs an AVH-Align analysis with the tiny models
the config names, and prints one JSON object on stdout: the screen's available geometry, the
window frame and the global rectangles of what must be on screen (time axis, status bar,
progress strip and Cancel while the analysis runs, lanes, legend, read-out, info tables), the
lane heights before and after dragging the splitter, the x/y ranges before and after a wheel
turn and after "Reset zoom", and labels whose text does not fit. It saves a screenshot of the
root window (the real X framebuffer) to the config's ``screenshot`` path.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HANG_S = 240.0  # bounds a hang only; a run takes a few seconds


def _rect(r: Any) -> list[int]:
    return [int(r.x()), int(r.y()), int(r.width()), int(r.height())]


def main(config_path: str) -> int:  # noqa: C901, PLR0915 (one linear script)
    cfg = json.loads(Path(config_path).read_text())
    for key, value in cfg["env"].items():
        os.environ[key] = value
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent, QWheelEvent
    from PySide6.QtWidgets import QApplication, QLabel, QTableWidget, QWidget

    app = QApplication([sys.argv[0]])
    from forensics_gui.ui.main_window import MainWindow
    from forensics_gui.ui.theme import apply_theme

    apply_theme(app)
    report: dict[str, Any] = {}

    def pump(seconds: float = 0.0) -> None:
        end = time.monotonic() + seconds
        app.processEvents()
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def wait(cond: Any, what: str) -> None:
        start = time.monotonic()
        while not cond():
            pump(0.01)
            if time.monotonic() - start > HANG_S:
                raise SystemExit(f"hang: {what}")

    def grect(w: QWidget) -> list[int]:
        top_left = w.mapToGlobal(QPoint(0, 0))
        return [top_left.x(), top_left.y(), w.width(), w.height()]

    def scene_rect_global(view: Any, rect: Any) -> list[int]:
        poly = view.mapFromScene(rect)
        b = poly.boundingRect()
        top_left = view.viewport().mapToGlobal(b.topLeft())
        return [top_left.x(), top_left.y(), b.width(), b.height()]

    window = MainWindow(use_audio=False)
    window.show()
    wait(lambda: window.isVisible() and window.windowHandle() is not None and window.windowHandle().isExposed(),
         "window shown")
    if cfg.get("window_manager"):  # the frame (title bar, borders) is the window manager's
        start = time.monotonic()
        while window.frameGeometry() == window.geometry() and time.monotonic() - start < 30:
            pump(0.02)
        report["framed"] = window.frameGeometry() != window.geometry()
    pump(0.3)  # the first show's keep_on_screen settles
    avh = window.avh
    avh.trimmed_action.setChecked(bool(cfg.get("trimmed", True)))
    if cfg.get("supervised"):  # a fifth lane: the supervised detector's curve
        avh.set_supervised_checkpoint(cfg["supervised"])
    finished: list[Any] = []
    avh.analysis_finished.connect(finished.append)
    assert window.open_path(cfg["clip"]), window.last_error
    wait(lambda: window.video_view.frame is not None and window.session.silence is not None, "clip open")

    # while the analysis runs: the status bar with the progress strip and Cancel
    running: dict[str, Any] = {}

    def on_progress(*_args: Any) -> None:
        if not running and avh.progress.isVisible():
            running["status_bar"] = grect(window.statusBar())
            running["progress"] = grect(avh.progress)
            running["cancel"] = grect(avh.progress.cancel_button)
            running["cancel_visible"] = avh.progress.cancel_button.isVisible()
            running["bar"] = grect(avh.progress.bar)

    avh.runner.progressed.connect(on_progress)
    assert avh.analyze(), window.last_error
    wait(lambda: bool(finished), "analysis")
    report["running"] = running
    window.session.set_time(float(cfg.get("at_s", 1.0)))
    wait(lambda: window.frame_index is not None, "frame shown")
    pump(0.3)

    screen = window.screen()
    report["available"] = _rect(screen.availableGeometry())
    report["frame"] = _rect(window.frameGeometry())
    report["geometry"] = _rect(window.geometry())
    report["minimum"] = [window.minimumSizeHint().width(), window.minimumSizeHint().height()]
    tl = window.timeline
    view = tl.graphics
    bottom = tl.plots[-1]
    axis = bottom.getAxis("bottom")  # its layout rectangle (its bounding rect spans the grid)
    report["time_axis"] = scene_rect_global(view, axis.mapRectToScene(axis.rect()))
    report["timeline"] = grect(tl)
    report["graphics"] = grect(view)
    report["reset_zoom_button"] = grect(tl.reset_zoom_button)
    report["status_bar"] = grect(window.statusBar())
    report["video"] = grect(window.video_view)
    report["transport"] = grect(window.transport)
    report["docks"] = {d.objectName(): {"rect": grect(d), "visible": d.isVisible()}
                       for d in (window.info_dock, avh.dock)}
    report["lanes"] = {str(p.vb.name): scene_rect_global(view, p.vb.sceneBoundingRect())
                       for p in tl.plots}
    curves = avh.curves
    report["legend"] = scene_rect_global(view, curves._legend.sceneBoundingRect())
    report["legend_visible"] = curves._legend.isVisible()
    report["legends"] = [scene_rect_global(view, legend.sceneBoundingRect())
                         for legend in (curves._legend, curves._sup_legend)
                         if legend is not None and legend.isVisible()]
    # each lane's name (the left axis label) fits beside its lane, not cut by the lane above
    def glyphs(label: Any) -> Any:  # the text's own extent, without the text item's margins
        m = label.document().documentMargin()
        return label.mapRectToScene(label.boundingRect().adjusted(m, m, -m, -m))

    report["axis_labels"] = {
        str(p.vb.name): {"label": scene_rect_global(view, glyphs(p.getAxis("left").label)),
                         "plot": scene_rect_global(view, p.sceneBoundingRect()),
                         "text": p.getAxis("left").label.toPlainText()}
        for p in tl.plots}
    report["threshold_labels_visible"] = [line.label.isVisible()
                                          for line in curves.threshold_lines.values()]
    # the mouth-and-voice lane's legend words ("mouth" over "voice") beside its data
    report["lipsync_words"] = {w: scene_rect_global(view, glyphs(item.textItem))
                               for w, item in avh.lipsync.legend_words.items()}
    report["lipsync_plot"] = scene_rect_global(view, avh.lipsync.plot.sceneBoundingRect())

    # the hover read-out near the right edge and near the left edge of the curve lane
    vb_scene = curves.plot.vb.sceneBoundingRect()
    readouts = []
    for fx in (0.98, 0.02, 0.5):
        pos = QPointF(vb_scene.left() + fx * vb_scene.width(), vb_scene.center().y())
        vpos = view.mapFromScene(pos)
        move = QMouseEvent(QEvent.Type.MouseMove, QPointF(vpos), QPointF(view.viewport().mapToGlobal(vpos)),
                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(view.viewport(), move)
        pump(0.05)
        readouts.append({"text": curves.hover_text, "visible": curves._readout.isVisible(),
                         "rect": scene_rect_global(view, curves.readout_rect()),
                         "legend_visible": curves._legend.isVisible()})
    report["readouts"] = readouts
    leave = QMouseEvent(QEvent.Type.MouseMove, QPointF(2, 2), QPointF(view.viewport().mapToGlobal(QPoint(2, 2))),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), leave)  # the pointer leaves: the legend is back
    pump(0.05)
    report["legend_back"] = curves._legend.isVisible() and not curves._readout.isVisible()
    report["curve_lane"] = report["lanes"]["fakeness"]

    # the info panel's tables: heading above the first row, every row inside the table
    tables = []
    window.info_dock.raise_()
    pump(0.1)
    for table in window.info_panel.findChildren(QTableWidget):
        if not table.isVisible() or table.rowCount() == 0:
            continue
        last = table.visualItemRect(table.item(table.rowCount() - 1, 0))
        tables.append({"header": grect(table.horizontalHeader()), "viewport": grect(table.viewport()),
                       "last_row_bottom": last.bottom(), "viewport_height": table.viewport().height(),
                       "first_row_top": table.visualItemRect(table.item(0, 0)).top()})
    report["tables"] = tables
    # what the docks hold fits their width (a scroll area clips on the right without a bar)
    report["dock_contents"] = {}
    for dock in (window.info_dock, avh.dock):
        dock.raise_()
        pump(0.1)
        scroll = dock.widget()
        report["dock_contents"][dock.objectName()] = {
            "content_width": scroll.widget().width(), "viewport_width": scroll.viewport().width(),
            "content_min": scroll.widget().minimumSizeHint().width()}

    # labels whose text is cut (a single-line label narrower than its text)
    cut = []
    for label in window.findChildren(QLabel):
        if not label.isVisible() or not label.text() or label.wordWrap():
            continue
        if label.width() + 1 < label.minimumSizeHint().width() or \
                label.height() + 1 < label.minimumSizeHint().height():
            cut.append({"text": label.text()[:60], "size": [label.width(), label.height()],
                        "needs": [label.minimumSizeHint().width(), label.minimumSizeHint().height()]})
    report["cut_labels"] = cut
    for dock in (window.info_dock, avh.dock):  # wrapped labels get the lines they need
        dock.raise_()
        pump(0.1)
        for label in dock.findChildren(QLabel):
            if label.isVisible() and label.text() and label.wordWrap() and label.width() > 0 \
                    and label.height() + 1 < label.heightForWidth(label.width()):
                cut.append({"text": label.text()[:60], "size": [label.width(), label.height()],
                            "needs": [label.width(), label.heightForWidth(label.width())]})

    # the screenshot: the root window, i.e. the real X framebuffer
    shot = screen.grabWindow(0)
    report["screenshot_size"] = [shot.width(), shot.height()]
    shot.save(cfg["screenshot"])

    # the splitter: dragging its handle up gives the lanes more room; the curve lane grows
    def lane_heights() -> dict[str, float]:
        return tl.lane_heights()

    report["lane_heights_before"] = lane_heights()
    handle = window.splitter.handle(1)
    centre = QPointF(handle.width() / 2, handle.height() / 2)
    drag = float(cfg.get("drag_px", 120))

    def mouse(kind: Any, pos: QPointF, buttons: Any) -> None:
        button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
        event = QMouseEvent(kind, pos, QPointF(handle.mapToGlobal(pos)), button, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(handle, event)

    mouse(QEvent.Type.MouseButtonPress, centre, Qt.MouseButton.LeftButton)
    mouse(QEvent.Type.MouseMove, centre - QPointF(0, drag / 2), Qt.MouseButton.LeftButton)
    mouse(QEvent.Type.MouseMove, centre - QPointF(0, drag), Qt.MouseButton.LeftButton)
    mouse(QEvent.Type.MouseButtonRelease, centre - QPointF(0, drag), Qt.MouseButton.NoButton)
    pump(0.3)
    report["lane_heights_after"] = lane_heights()
    report["time_axis_after_drag"] = scene_rect_global(view, axis.mapRectToScene(axis.rect()))

    # the wheel over the curve lane zooms time, not amplitude; Reset zoom shows it all again
    def ranges() -> dict[str, list[list[float]]]:
        return {str(p.vb.name): [list(map(float, r)) for r in p.vb.viewRange()] for p in tl.plots}

    report["ranges_before"] = ranges()
    centre_scene = curves.plot.vb.sceneBoundingRect().center()
    vpos = QPointF(view.mapFromScene(centre_scene))
    for _ in range(3):
        wheel = QWheelEvent(vpos, QPointF(view.viewport().mapToGlobal(vpos)), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), wheel)
        pump(0.05)
    pump(0.2)
    report["ranges_zoomed"] = ranges()
    window.reset_zoom_action.trigger()
    pump(0.2)
    report["ranges_reset"] = ranges()
    report["reset_zoom_shortcut"] = window.reset_zoom_action.shortcut().toString()
    report["reset_zoom_text"] = tl.reset_zoom_button.text()
    report["reset_zoom_button_visible"] = tl.reset_zoom_button.isVisible()
    print(json.dumps(report), flush=True)
    window.shutdown()
    return 0


if __name__ == "__main__":  # the analysis spawns a face-tracking child that imports this module
    raise SystemExit(main(sys.argv[1]))
