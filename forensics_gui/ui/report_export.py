"""File > Export report…: the one-page report (PDF or HTML) of the open clip, written in the
background.

The picture is the one File > Export annotated screenshot saves (the window's
``snapshot_data``, painted by :func:`forensics_gui.ui.snapshot.render_snapshot`); the rest is
:func:`forensics_gui.core.evidence.report.build_report`, as ``forensics-gui report`` does, with
the viewer's analysis (if any) as the result. Finding the key frames and mouth crops and
decoding the sound take from a fraction of a second to several seconds, so the work runs in a
:class:`~forensics_gui.ui.worker_base.Worker`; the window stays usable, the status bar says when
the file is saved, and a failure is one sentence in a message box. The paper size comes from
the save dialog's file type (PDF A4, PDF Letter, or HTML).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QFileDialog, QInputDialog

from forensics_gui.core.errors import ForensicsError
from forensics_gui.ui.worker_base import Worker

FILTERS = {"PDF, A4 (*.pdf)": "a4", "PDF, Letter (*.pdf)": "letter", "HTML page (*.html)": "a4"}
ACTION_TEXT = "Export &report (PDF or HTML)…"


def picture_png(image: QImage) -> bytes:
    """A QImage as PNG bytes (the report takes the picture as PNG)."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buf, "PNG")  # type: ignore[call-overload]
    buf.close()
    if not ok:
        raise ForensicsError("The report's picture could not be encoded as PNG.")
    return bytes(data.data())


class ReportWorker(Worker):
    """Paints the picture, builds the report and writes it; ``finished`` carries the Path."""

    what = "Writing the report"

    def __init__(self, token: int, video: str, output: str | os.PathLike[str], snapshot: Any,
                 result: dict[str, Any] | None, note: str, threshold: float, paper: str,
                 audio_track: Any = None) -> None:
        super().__init__(token)
        self.video, self.output, self.snapshot = video, Path(output), snapshot
        self.result, self.note, self.threshold, self.paper = result, note, threshold, paper
        self.audio_track = audio_track  # the session's decoded sound (read only), or None

    def work(self) -> Path:
        import forensics_gui
        from forensics_gui.core.evidence.report import NO_RESULT_VIEWER, build_report, write_report
        from forensics_gui.ui.snapshot import render_snapshot

        self.progress.report("picture", 0, None)
        png = picture_png(render_snapshot(self.snapshot))
        report = build_report(self.video, snapshot=self.snapshot, picture_png=png,
                              result=self.result, note=self.note, threshold=self.threshold,
                              version=forensics_gui.__version__, no_result=NO_RESULT_VIEWER,
                              audio_track=self.audio_track, progress=self.progress)
        self.progress.report("writing", 0, None)
        return write_report(report, self.output, self.paper)


class ReportExport(QObject):
    """File > Export report… of one main window (``window``: the MainWindow).

    :meth:`export` starts a report in the background (what tests call); :meth:`on_export_dialog`
    asks for the file, its type and a note first. A new export replaces one still running. The
    worker is kept in the window's retired threads, so the window's shutdown joins it.
    """

    saved = Signal(object)  # Path of the report written
    failed = Signal(str)  # the sentence shown

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.worker: ReportWorker | None = None
        self.action = QAction(ACTION_TEXT, window)
        self.action.setToolTip("A one-page report (PDF or a self-contained HTML page): the "
                               "picture, the stretches to check, the leading silence, the "
                               "caveats and where it all comes from")
        self.action.triggered.connect(self.on_export_dialog)
        self.action.setEnabled(False)
        self._insert_action()
        window.session.media_opened.connect(lambda _info: self.action.setEnabled(True))

    def _insert_action(self) -> None:
        """Put the action right after File > Export annotated screenshot."""
        menu = self.window.menu("File")
        if menu is None:
            return
        actions = menu.actions()
        shot = getattr(self.window, "export_action", None)
        after = actions.index(shot) + 1 if shot in actions else len(actions)
        menu.insertAction(actions[after] if after < len(actions) else None,
                          self.action)

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def why_not(self) -> str:
        """"" when a report can be made now, else the sentence that says why not."""
        session = self.window.session
        if session.info is None:
            return "Open a clip first."
        if not session.sha256:
            return ("The file's SHA-256 fingerprint is still being computed; export the report "
                    "when it is shown in the information panel.")
        return ""

    def export(self, path: str | os.PathLike[str], note: str = "", paper: str = "a4") -> ReportWorker:
        """Start writing the report of the open clip to ``path`` (.pdf or .html) in the
        background; ``saved`` or ``failed`` tells how it ended. Raises ForensicsError (one
        sentence) when it cannot start: no clip, no SHA-256 yet, a wrong suffix, or ``path`` is
        the open clip."""
        from forensics_gui.core.evidence.report import report_format
        from forensics_gui.core.files.outputs import refuse_overwriting_inputs

        why = self.why_not()
        if why:
            raise ForensicsError(why)
        session = self.window.session
        refuse_overwriting_inputs([path], [(session.info.path, "the open clip")])
        report_format(path)
        snapshot = self.window.snapshot_data(note)
        result = self.window.avh.exports.snapshot_result()
        if self.worker is not None:
            self.worker.cancel()
        audio = getattr(session, "audio", None)
        worker = ReportWorker(self.window.token, str(session.info.path), path, snapshot, result,
                              note, float(session.threshold), paper,
                              audio.track if audio is not None else None)
        worker.finished.connect(lambda _token, out, w=worker: self._on_finished(w, out))
        worker.failed.connect(lambda _token, sentence, w=worker: self._on_failed(w, sentence))
        self.window.retired.prune()
        self.window.retired.retire(worker, cancel=False)  # joined by the window's shutdown
        self.worker = worker
        self.window.status(f"Writing the report {Path(path).name}…")
        worker.start()
        return worker

    def _on_finished(self, worker: ReportWorker, path: Path) -> None:
        if worker is not self.worker:  # replaced by a newer export
            return
        self.worker = None
        self.window.status(f"Saved {path}", 10000)
        self.saved.emit(path)

    def _on_failed(self, worker: ReportWorker, sentence: str) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self.window.show_error("Cannot write the report", sentence)
        self.failed.emit(sentence)

    def on_export_dialog(self) -> None:
        why = self.why_not()
        if why:
            self.window.show_error("Cannot export a report yet", why)
            return
        stem = Path(self.window.session.info.path).stem
        default = Path(self.window.settings.last_folder()) / f"{stem}_report.pdf"
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export report", str(default),
                                                   ";;".join(FILTERS))
        if not path:
            return
        if not Path(path).suffix:
            path += ".html" if chosen.startswith("HTML") else ".pdf"
        note, ok = QInputDialog.getMultiLineText(self.window, "Analyst note",
                                                 "Note printed in the report (optional):", "")
        if not ok:
            return
        try:
            self.export(path, note, FILTERS.get(chosen, "a4"))
        except (OSError, ForensicsError) as err:
            self.window.show_error("Cannot write the report", str(err))
            self.failed.emit(str(err))
