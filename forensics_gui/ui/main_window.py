"""The viewer's main window: wires the session state to the video view, transport, timeline and
info panel, owns the worker threads, menus, shortcuts, drag and drop and settings.

Frame <-> time goes through the open clip's :class:`~forensics_gui.core.media.timebase.Timebase`
(``session.timebase``). The AVH-Align analysis (``self.avh``) reaches the window only through the
typed public API of :class:`~forensics_gui.ui.window_api.WindowApi` (menus, actions, docks,
status, errors, seek)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

import forensics_gui
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence import snapshot as evidence
from forensics_gui.core.media.timebase import Timebase
from forensics_gui.ui import screen_fit
from forensics_gui.ui import snapshot as snap
from forensics_gui.ui.avh.views import AvhViews
from forensics_gui.ui.info_panel import InfoPanel
from forensics_gui.ui.player import SPEEDS, PlaybackClock, Transport, VideoView
from forensics_gui.ui.report_export import ReportExport
from forensics_gui.ui.session import AudioAnalysis, Session
from forensics_gui.ui.settings import ViewerSettings
from forensics_gui.ui.timeline import Timeline
from forensics_gui.ui.worker_base import RetiredThreads
from forensics_gui.ui.workers import ClipInfoWorker, FrameDecoder

MEDIA_FILTER = "Media files (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.wav *.flac *.mp3 *.m4a *.ogg);;All files (*)"
NO_VIDEO_STEP_S = 0.04  # frame-step size (seconds) for clips without video
WM_SETTLE_MS = 700  # after the first show: the window manager has added its frame by then
VIDEO_MIN_HEIGHT_PX = 64  # with six lanes (mouth and voice too) a 1024x600 screen still fits


def _format_time(t: float) -> str:
    from forensics_gui.core.media.timebase import format_timecode

    return format_timecode(t)


class MainWindow(QMainWindow):
    """One clip at a time. ``open_path`` returns False (and keeps the previous clip) on errors."""

    phi_checkpoint_changed = Signal(str)  # the Phi the analysis uses from now on (a file path)

    def __init__(self, settings: QSettings | None = None, use_audio: bool | None = None) -> None:
        super().__init__()
        self.setWindowTitle("forensics-gui")
        self.setAcceptDrops(True)
        self.settings = ViewerSettings(settings)
        self.session = Session(self)
        self.token = 0
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None
        self.retired = RetiredThreads()  # info workers of earlier clips, until they end
        self.info_worker: ClipInfoWorker | None = None
        self.frame_index: int | None = None
        self.frame_time_s: float | None = None
        # while playing, the next frame is decoded ahead and held until its time (see
        # _on_time_changed), so it reaches the screen on time, not a decode later
        self._held_frame: tuple[int, int, float, Any] | None = None  # token, index, time, image
        self._requested_index: int | None = None
        self.training_dialog: Any = None
        self.audit_dialog: Any = None
        stored_phi = self.settings.qsettings.value("models/phi_path")  # set by "Use this model"
        self.phi_checkpoint: Path | None = (Path(str(stored_phi)) if stored_phi
                                            and Path(str(stored_phi)).is_file() else None)

        self.video_view = VideoView()
        self.transport = Transport()
        self.timeline = Timeline()
        self.info_panel = InfoPanel()
        self.clock = PlaybackClock(self, use_audio=use_audio)
        self.clock.next_boundary = self._next_frame_time
        self.decoder = FrameDecoder()
        self.decoder.frame_ready.connect(self._on_frame_ready)
        self.decoder.failed.connect(self._on_decoder_failed)
        self.decoder.frame_times_ready.connect(self._on_frame_times_ready)
        self.decoder.start()
        self._build_layout()
        self._build_actions()
        self._connect()
        self._placed = False  # set by the first show, once the window manager's frame is known
        self._screen_check = QTimer(self)  # keep_on_screen, once the resizes of a turn are done
        self._screen_check.setSingleShot(True)
        self._screen_check.setInterval(0)
        self._screen_check.timeout.connect(self.keep_on_screen)
        self._restore_settings()
        self.avh = AvhViews(self)  # Analysis menu, lanes, ROI preview, summary dock
        self.report_export = ReportExport(self)  # File > Export report… (after the screenshot)
        self._arrange_docks()
        layout = self.settings.window_state()
        if layout is not None:  # after the docks exist, so their places are restored too
            self.restoreState(layout)
            self._fit_docks()
        self.avh.analysis_finished.connect(lambda _analysis: self._show_analysis_dock())
        self._update_actions()

    # -- construction --------------------------------------------------------------------
    def _build_layout(self) -> None:
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(2)
        # the picture gives way first on a small screen (1024x600 with five lanes still fits)
        self.video_view.setMinimumHeight(VIDEO_MIN_HEIGHT_PX)
        top_layout.addWidget(self.video_view, 1)
        top_layout.addWidget(self.transport)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.timeline)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)  # neither the video nor a lane disappears
        self.splitter.setSizes([470, 260])
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(6, 6, 6, 6)
        row.setSpacing(6)
        row.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        # The clip facts in a dock that scrolls: on a small screen it shares tabs with the
        # analysis dock instead of squeezing the video and the lanes (see _arrange_docks).
        info_scroll = QScrollArea()
        info_scroll.setObjectName("infoScroll")
        info_scroll.setWidgetResizable(True)
        info_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        info_scroll.setWidget(self.info_panel)
        # the dock never narrower than the panel (a scroll area would not say so by itself)
        info_scroll.setMinimumWidth(
            max(self.info_panel.minimumWidth(), self.info_panel.minimumSizeHint().width())
            + info_scroll.verticalScrollBar().sizeHint().width() + 2 * info_scroll.frameWidth())
        self.info_dock = QDockWidget("Clip", self)
        self.info_dock.setObjectName("clipDock")
        self.info_dock.setWidget(info_scroll)
        self.info_dock.toggleViewAction().setText("Show the &clip panel")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.info_dock)
        self.statusBar().showMessage("Ready")
        self.playback_label = QLabel()  # sound device and speed, always shown
        self.playback_label.setObjectName("playbackStatus")
        self.statusBar().addPermanentWidget(self.playback_label)
        self._update_playback_label()

    # -- the public API the analysis views use (WindowApi) -----------------------------------
    def add_action(self, menu: QMenu | None, text: str, slot: Any, shortcut: Any = None) -> QAction:
        """A window-wide action (its shortcut works anywhere in the window), added to ``menu``
        when given; ``shortcut`` is a key sequence, a standard key or a list of them."""
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)
        return action

    def menu(self, title: str) -> QMenu | None:
        """The menu-bar menu called ``title`` (without the ``&`` mnemonic), None if none."""
        for action in self.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and action.text().replace("&", "") == title:
                return menu
        return None

    def add_menu(self, title: str, before: str | None = None) -> QMenu:
        """A new menu-bar menu, placed before the menu called ``before`` when there is one."""
        menu = QMenu(title, self)
        anchor = self.menu(before) if before else None
        if anchor is not None:
            self.menuBar().insertMenu(anchor.menuAction(), menu)
        else:
            self.menuBar().addMenu(menu)
        return menu

    def add_dock(self, dock: QDockWidget) -> None:
        """Dock ``dock`` on the right."""
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent widget on the right of the status bar."""
        self.statusBar().addPermanentWidget(widget)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` in the status bar (for ``timeout_ms`` ms; 0: until replaced)."""
        self.statusBar().showMessage(text, timeout_ms)

    def _arrange_docks(self) -> None:
        """The window's place and size on its screen, and the docks on the right: side by side
        on a wide screen, tabs (Clip first) on a narrower one."""
        available = self._available()
        if screen_fit.side_by_side(available):
            self.splitDockWidget(self.info_dock, self.avh.dock, Qt.Orientation.Horizontal)
        else:
            self.tabifyDockWidget(self.info_dock, self.avh.dock)
            self.info_dock.raise_()
        if not self._geometry_restored:
            self.setGeometry(screen_fit.default_geometry(available, self.minimumSizeHint()))

    def _fit_docks(self) -> None:
        """A dock layout saved on a wider screen (docks side by side) that does not fit this one:
        the two docks share tabs instead (each stays shown or hidden as it was)."""
        docks = (self.info_dock, self.avh.dock)
        if self.minimumSizeHint().width() <= self._available().width() or any(
                d.isFloating() or self.dockWidgetArea(d) != Qt.DockWidgetArea.RightDockWidgetArea
                for d in docks) or self.avh.dock in self.tabifiedDockWidgets(self.info_dock):
            return
        shown = [not d.isHidden() for d in docks]
        self.tabifyDockWidget(self.info_dock, self.avh.dock)
        for dock, visible in zip(docks, shown, strict=True):
            dock.setVisible(visible)
        self.info_dock.raise_()

    def _show_analysis_dock(self) -> None:
        """After an analysis, bring its dock to the front when it shares tabs with the clip's."""
        dock = self.avh.dock
        if dock in self.tabifiedDockWidgets(self.info_dock):
            dock.raise_()

    def _available(self) -> QRect:
        """The available geometry (without panels/taskbars) of the screen the window is on."""
        return self.screen().availableGeometry()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._placed:
            self._placed = True
            # now, and once a window manager has framed the window; not when it was resized
            # meanwhile (that size was asked for)
            shown_size = self.size()
            for delay_ms in (0, WM_SETTLE_MS):
                QTimer.singleShot(delay_ms, self, lambda: self.keep_on_screen()
                                  if self.size() == shown_size else None)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        size = event.size()
        if self._placed and (size.height() <= self.minimumHeight()
                             or size.width() <= self.minimumWidth()):
            # grown to a new minimum (new lanes, say): stay on the screen. A size asked for by
            # the user or a script is left alone.
            self._screen_check.start()

    def keep_on_screen(self) -> None:
        """Once the window manager has framed the window: pull it inside the available area of
        its screen (shrunk by what sticks out, never below the minimum size)."""
        if self.isMaximized() or self.isFullScreen():
            return
        available = self._available()
        frame = self.frameGeometry()
        if not screen_fit.fits(frame, available):
            self.setGeometry(screen_fit.pulled_inside(frame, self.geometry(), available))

    def give_lanes_half(self) -> None:
        """Split the height evenly between the video and the timeline lanes."""
        total = sum(self.splitter.sizes())
        self.splitter.setSizes([int(total * 0.5), total - int(total * 0.5)])

    def as_widget(self) -> QMainWindow:
        """This window as the parent of dialogs and message boxes."""
        return self

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_action(file_menu, "&Open…", self._on_open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.add_action(file_menu, "Open &demo clip", self.open_demo)
        file_menu.addSeparator()
        self.export_action = self.add_action(file_menu, "&Export annotated screenshot…",
                                          self._on_export_dialog, "Ctrl+E")
        self.export_action.setEnabled(False)
        file_menu.addSeparator()
        self.add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        play = self.menuBar().addMenu("&Playback")
        self.add_action(play, "Play/Pause", self.toggle_play, "Space")
        self.add_action(play, "Next frame", lambda: self.step(1), "Right")
        self.add_action(play, "Previous frame", lambda: self.step(-1), "Left")
        self.add_action(play, "First frame", self.go_first, "Home")
        self.add_action(play, "Last frame", self.go_last, "End")
        play.addSeparator()
        self.add_action(play, "Slower (J)", self.slower, "J")
        self.add_action(play, "Pause (K)", self.pause, "K")
        self.add_action(play, "Faster (L)", self.faster, "L")
        play.addSeparator()
        self.add_action(play, "Sound one frame earlier", lambda: self.transport.nudge_offset(-1),
                        "Ctrl+Shift+Left")
        self.add_action(play, "Sound one frame later", lambda: self.transport.nudge_offset(1),
                        "Ctrl+Shift+Right")
        self.add_action(play, "Reset sound offset", lambda: self.set_audio_offset_ms(0.0))
        view = self.menuBar().addMenu("&View")
        self.reset_zoom_action = self.add_action(view, "&Reset zoom (whole clip)",
                                                 self.timeline.reset_view, "Ctrl+0")
        self.reset_zoom_action.setToolTip("Show the whole clip in the waveform and the lanes")
        view.addSeparator()
        view.addAction(self.info_dock.toggleViewAction())
        self.view_menu = view
        tools = self.menuBar().addMenu("&Tools")
        self.add_action(tools, "&Train alignment network…", self.open_training_dialog)
        self.add_action(tools, "&Audit dataset…", self.open_audit_dialog)
        help_menu = self.menuBar().addMenu("&Help")
        self.add_action(help_menu, "&About", self._on_about)
        self._refresh_recent_menu()

    def _connect(self) -> None:
        s = self.session
        s.time_changed.connect(self._on_time_changed)
        s.threshold_changed.connect(self._on_threshold_changed)
        s.audio_analysed.connect(self._on_audio_analysed)
        s.silence_changed.connect(self._on_silence_changed)
        s.sha256_computed.connect(self.info_panel.set_sha256)
        self.transport.seek_requested.connect(self.seek)
        self.transport.step_requested.connect(self.step)
        self.transport.play_clicked.connect(self.toggle_play)
        self.transport.speed_changed.connect(self._on_speed_changed)
        self.transport.offset_changed.connect(self._on_offset_changed)
        self.clock.sound_changed.connect(lambda _sentence: self._update_playback_label())
        s.time_changed.connect(self._update_lane_offset)
        self.timeline.seek_requested.connect(self.seek)
        self.info_panel.threshold_edited.connect(s.set_threshold)
        self.clock.ticked.connect(s.set_time)
        self.clock.finished.connect(lambda: self.transport.set_playing(False))

    # -- opening -------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open a clip; on a bad file, show the error and keep the current clip."""
        from forensics_gui.core.media.decode import probe

        path = str(path)
        try:
            info = probe(path)
            if info.video is None and info.audio is None:
                raise ForensicsError(f"{Path(path).name} has neither a video nor an audio stream.")
        except ForensicsError as err:
            self.show_error(f"Cannot open {Path(path).name}", str(err))
            return False
        except OSError as err:
            self.show_error(f"Cannot open {Path(path).name}", f"The file cannot be read ({err}).")
            return False
        self.pause()
        self.token += 1
        self.retired.retire(self.info_worker)
        self.info_worker = None
        self.retired.prune()
        self.frame_index = self.frame_time_s = None
        has_video, has_audio = info.video is not None, info.audio is not None
        self.decoder.open(path if has_video else None, self.token)
        self.transport.set_speed(1.0)  # every clip opens at 1x, whatever the last one played at
        if info.video is not None and info.video.fps:
            self.transport.frame_ms = 1000.0 / float(info.video.fps)
        self.clock.set_media(path, float(info.duration_s or 0.0), has_audio)
        self.info_panel.set_media(info, _format_time)
        self.timeline.set_clip(float(info.duration_s or 0.0))
        self.timeline.set_notice("Decoding audio…" if has_audio else "No audio stream in this file.")
        self.transport.set_duration(float(info.duration_s or 0.0))
        if has_video:
            self.video_view.set_notice("Decoding…")
        else:
            self.video_view.set_notice("No video stream: audio only.\nThe waveform is shown below.")
        # frame times estimated from the rate until the decoder sends the exact ones
        self.session.open_media(info, Timebase.from_media(info))
        worker = ClipInfoWorker(path, self.token, with_audio=has_audio)
        worker.integrity_ready.connect(self._on_integrity_ready)
        worker.partial.connect(self._on_audio_ready)
        worker.audio_failed.connect(self._on_audio_failed)
        worker.finished.connect(self._on_sha256_ready)
        worker.failed.connect(self._on_sha256_failed)
        worker.progressed.connect(self._on_info_progressed)
        self.info_worker = worker
        worker.start()
        self._update_actions()
        self.setWindowTitle(f"{Path(path).name} — forensics-gui")
        self.statusBar().showMessage(f"Opened {path}")
        self._remember(path)
        return True

    def _on_frame_times_ready(self, token: int, times: np.ndarray) -> None:
        if token == self.token and len(times) and self.session.info is not None:
            self.session.timebase = Timebase.from_media(self.session.info, times)
            self._update_time_label()

    def show_error(self, title: str, sentence: str) -> None:
        """Non-blocking message box + status bar; the sentence is kept in ``last_error``."""
        self.last_error = sentence
        self.statusBar().showMessage(f"{title}: {sentence}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, sentence, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self._error_box = box

    def open_demo(self) -> bool:
        from forensics_gui.demo import ensure_demo_clip

        try:
            return self.open_path(ensure_demo_clip())
        except (OSError, ValueError) as err:
            self.show_error("Cannot create the demo clip", str(err))
            return False

    # -- worker results ------------------------------------------------------------------
    def _on_integrity_ready(self, token: int, integrity: Any) -> None:
        """A damaged or cut-short file: say so once in the status bar and in the info panel,
        mark the missing part of the waveform, and keep the playhead within the readable data."""
        if token != self.token:
            return
        self.session.set_integrity(integrity)
        if not integrity.damaged:
            return
        self.info_panel.set_damage(integrity, _format_time)
        if integrity.audio_end_s is not None:
            self.timeline.set_data_end(integrity.audio_end_s)
        end = self.session.duration_s
        self.transport.set_duration(end)
        self.clock.end_s = end
        self.statusBar().showMessage(integrity.sentence)
        self._update_time_label()

    def _on_audio_ready(self, token: int, analysis: AudioAnalysis) -> None:
        if token == self.token:
            self.session.set_audio(analysis)

    def _on_sha256_ready(self, token: int, digest: str) -> None:
        if token == self.token:
            self.session.set_sha256(digest)
            info = self.session.info
            ready = ("waveform, leading silence and SHA-256 ready"
                     if info is not None and info.audio is not None else "SHA-256 ready")
            self.statusBar().showMessage(f"{Path(self.session.path or '').name}: {ready}")

    def _on_info_progressed(self, token: int, stage: str, done: float, total: float,
                            _eta_s: float) -> None:
        fraction = min(1.0, done / total) if total > 0 else -1.0
        if token == self.token and fraction < 1.0:
            shown = f" {fraction * 100:.0f}%" if fraction >= 0 else "…"
            self.statusBar().showMessage(f"{stage}{shown}", 3000)

    def _on_audio_failed(self, token: int, sentence: str) -> None:
        if token == self.token:
            self.timeline.set_notice("Audio could not be decoded.")
            self.clock.track_failed()  # the status bar: this clip plays silently
            self.info_panel.show_audio_error(sentence)
            self.statusBar().showMessage(sentence, 15000)

    def _on_sha256_failed(self, token: int, sentence: str) -> None:
        if token == self.token:
            self.info_panel.fields["SHA-256"].setText("unavailable")
            self.statusBar().showMessage(sentence, 15000)

    def _on_audio_analysed(self, analysis: AudioAnalysis) -> None:
        self.timeline.set_pyramid(analysis.pyramid)
        track = analysis.track
        self.clock.set_track(track.samples, track.sample_rate, float(track.start_time_s))
        self.info_panel.set_sweeps(analysis.sweep_taus, analysis.sweep_ms, analysis.deltas_ms,
                                   analysis.max_amplitudes)
        self._update_silence()

    def _update_silence(self) -> None:
        self.session.measure_silence()

    def _on_silence_changed(self, result: Any) -> None:
        from forensics_gui.core.media.silence import verdict

        if result is None:
            self.timeline.set_silence(None, None)
            return
        self.timeline.set_silence(float(result.leading_silence_ms), float(result.threshold))
        self.info_panel.set_silence(result, verdict(result))

    def _on_threshold_changed(self, tau: float) -> None:
        self.info_panel.set_threshold(tau)
        self.settings.set_threshold(tau)
        self._update_silence()

    def _on_frame_ready(self, token: int, index: int, time_s: float, image: Any) -> None:
        if token != self.token:
            return
        tb = self._video_timebase()
        if self.clock.playing and tb is not None and index > tb.frame_at(self.session.time_s):
            self._held_frame = (token, index, time_s, image)  # shown when its time comes
            return
        self._show_frame(index, time_s, image)

    def _show_frame(self, index: int, time_s: float, image: Any) -> None:
        self.frame_index, self.frame_time_s = index, time_s
        self.video_view.set_frame(image)
        self._update_time_label()

    def _on_decoder_failed(self, token: int, sentence: str) -> None:
        if token == self.token:
            self.statusBar().showMessage(sentence, 15000)
            if self.frame_index is None:
                self.video_view.set_notice(sentence)

    # -- time ----------------------------------------------------------------------------
    def _video_timebase(self) -> Timebase | None:
        """The open clip's timebase when it has video frames."""
        tb = self.session.timebase
        return tb if tb is not None and tb.n_frames else None

    def seek(self, t: float) -> None:
        """Move the playhead to ``t`` seconds (keeps playing if playing)."""
        if self.clock.playing:
            self.clock.start(t)
        self.session.set_time(t)

    def _on_time_changed(self, t: float) -> None:
        self.timeline.seek(t)
        self._update_time_label()
        tb = self._video_timebase()
        if tb is None:
            return
        i = tb.frame_at(t)
        if not self.clock.playing:
            self._held_frame = self._requested_index = None
            self.decoder.request_index(i)
            return
        held = self._held_frame
        if held is not None and (held[0] != self.token or held[1] <= i):
            self._held_frame = None
            if held[0] == self.token and held[1] == i:  # decoded ahead: on screen at its time
                self._show_frame(*held[1:])
        # the frame due now if it is not on screen (late), else the next one, to hold
        wanted = i if self.frame_index != i else i + 1
        held = self._held_frame
        if wanted < tb.n_frames and wanted != self._requested_index \
                and (held is None or held[1] != wanted):
            self._requested_index = wanted
            self.decoder.request_index(wanted)

    def _update_time_label(self) -> None:
        t = self.session.time_s
        text = _format_time(t)
        tb = self._video_timebase()
        if tb is not None:
            text += f"   frame {tb.frame_at(t)} / {tb.n_frames - 1}"
        self.transport.seek(t, text)

    def step(self, frames: int) -> None:
        """Move ``frames`` frames forward (negative: back) and pause."""
        if self.session.info is None:
            return
        self.pause()
        tb = self._video_timebase()
        if tb is None:
            self.session.set_time(self.session.time_s + frames * NO_VIDEO_STEP_S)
            return
        self.session.set_time(tb.step(self.session.time_s, frames))

    def go_first(self) -> None:
        self.pause()
        self.session.set_time(0.0)

    def go_last(self) -> None:
        self.pause()
        tb = self._video_timebase()
        if tb is not None:
            self.session.set_time(tb.time_of_frame(tb.n_frames - 1))
        else:
            self.session.set_time(self.session.duration_s)

    # -- playback ------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.clock.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.session.info is None:
            return
        self.clock.start(self.session.time_s)
        self.transport.set_playing(True)

    def pause(self) -> None:
        self.clock.pause()
        self.transport.set_playing(False)

    def slower(self) -> None:
        """J: halve the speed (down to 0.25x); starts playing if paused."""
        i = SPEEDS.index(self.transport.speed)
        self.transport.set_speed(SPEEDS[max(0, i - 1)])
        if not self.clock.playing:
            self.play()

    def faster(self) -> None:
        """L: play, or go one speed step faster (up to 2x) when already playing."""
        if not self.clock.playing:
            self.play()
            return
        i = SPEEDS.index(self.transport.speed)
        self.transport.set_speed(SPEEDS[min(len(SPEEDS) - 1, i + 1)])

    def set_speed(self, speed: float) -> None:
        """Play at ``speed`` (one of SPEEDS) from now on."""
        self.transport.set_speed(speed)

    def _on_speed_changed(self, speed: float) -> None:
        self.clock.set_rate(speed)
        self._update_playback_label()

    def set_audio_offset_ms(self, ms: float) -> None:
        """Shift the sound against the picture by ``ms`` (> 0: later; +-500 ms)."""
        self.transport.set_offset_ms(ms)

    @property
    def audio_offset_ms(self) -> float:
        return self.transport.offset_ms

    def _on_offset_changed(self, ms: float) -> None:
        self.clock.set_audio_offset(ms / 1000.0)
        self._update_playback_label()

    def _next_frame_time(self, t: float) -> float | None:
        """The start of the frame after the one shown at ``t`` (the clock ticks there)."""
        tb = self._video_timebase()
        if tb is None:
            return None
        i = tb.frame_at(t) + 1
        return tb.time_of_frame(i) if i < tb.n_frames else None

    def _update_playback_label(self) -> None:
        text = f"{self.clock.sound_state()}   ·   Speed {self.transport.speed:g}x"
        if self.transport.offset_ms:
            text += f"   ·   Sound offset {self.transport.offset_ms:+.0f} ms"
        self.playback_label.setText(text)

    def _update_lane_offset(self, t: float) -> None:
        """Beside the sound offset: the sync lane's estimate for this frame, if there is one."""
        from forensics_gui.core.media.timebase import MODEL_FRAME_S, model_frame_of

        text = ""
        results = getattr(getattr(self.avh, "curves", None), "results", {}) or {}
        for (kind, _variant), res in results.items():
            i = model_frame_of(max(t, 0.0)) - res.first_model_frame
            if kind != "supervised" and res.sync_offset_frames is not None \
                    and 0 <= i < len(res.sync_offset_frames):
                off = int(res.sync_offset_frames[i])
                text = f"sound delay lane here: {off * MODEL_FRAME_S * 1000:+.0f} ms ({off:+d} frames)"
                break
        self.transport.lane_offset_label.setText(text)

    # -- export --------------------------------------------------------------------------
    def snapshot_data(self, note: str = "") -> evidence.SnapshotData:
        """Everything the exported picture shows, as plain data: the same fields, result dict
        (:func:`evidence.apply_result`) and ground-truth bands as ``forensics-gui snapshot``."""
        from forensics_gui.core.evidence.frames import view_from_track

        s = self.session
        info = s.info
        window = evidence.waveform_window(s.time_s, s.duration_s)
        data = evidence.SnapshotData(
            frame=self.video_view.frame,
            frame_notice="No video stream" if info is not None and info.video is None else "",
            window=window,
            time_s=s.time_s,
            frame_index=self.frame_index,
            silence=s.silence,
            silence_note=("no audio stream" if info is not None and info.audio is None
                          else "audio still being analysed" if s.audio is None else ""),
            file_name=Path(info.path).name if info is not None else "",
            sha256=s.sha256 or "(still computing)",
            version=forensics_gui.__version__,
            created=evidence.utc_stamp(),
            note=note,
        )
        if s.audio is not None:
            data.audio_start_s = float(s.audio.track.start_time_s)
            data.envelope = s.audio.pyramid.envelope(window[0], window[1], evidence.WAVE_PIXELS)
            data.inset = s.audio.pyramid.envelope(*evidence.inset_window(data.audio_start_s),
                                                  evidence.INSET_PIXELS)
        integrity = getattr(s, "integrity", None)
        if integrity is not None and getattr(integrity, "damaged", False):
            data.warnings.append(str(integrity.sentence))
        evidence.apply_result(data, self.avh.exports.snapshot_result())
        evidence.apply_groundtruth(data, self.avh.exports.snapshot_groundtruth())
        analysis = self.avh.state.analysis or self.avh.model_free  # (a run without model files)
        if analysis is not None and analysis.face is not None:
            evidence.apply_face(data, view_from_track(analysis.face, analysis.roi_gray, s.time_s,
                                                      data.frame, data.frame_index))
        if self.audio_offset_ms:  # the analyst's sound shift while judging lip sync (issue 17)
            data.extra_lines.append(f"Sound offset set in the player: {self.audio_offset_ms:+.0f} ms "
                                    "(positive: sound played later than the picture)")
        return data

    def export_screenshot(self, path: str | os.PathLike[str], note: str = "") -> Path:
        from forensics_gui.core.files.outputs import refuse_overwriting_inputs

        info = self.session.info
        refuse_overwriting_inputs([path], [(info.path if info is not None else None, "the open clip")])
        image = snap.render_snapshot(self.snapshot_data(note))
        out = snap.save_png(image, path)
        self.statusBar().showMessage(f"Saved {out}", 10000)
        return out

    def _on_export_dialog(self) -> None:
        if self.session.info is None:
            self.show_error("Nothing to export", "Open a clip first.")
            return
        default = Path(self.settings.last_folder()) / f"{Path(self.session.info.path).stem}_snapshot.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export annotated screenshot", str(default),
                                              "PNG image (*.png)")
        if not path:
            return
        note, ok = QInputDialog.getMultiLineText(self, "Analyst note", "Note (optional):", "")
        if not ok:
            return
        try:
            self.export_screenshot(path, note)
        except (OSError, ForensicsError) as err:
            self.show_error("Cannot save the screenshot", str(err))

    # -- settings, recent files, drag and drop --------------------------------------------
    def _update_actions(self) -> None:
        """File > Export annotated screenshot needs an open clip."""
        self.export_action.setEnabled(self.session.info is not None)

    def _on_open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", self.settings.last_folder(), MEDIA_FILTER)
        if path:
            self.open_path(path)

    def recent_files(self) -> list[str]:
        return self.settings.recent_files()

    def _remember(self, path: str) -> None:
        self.settings.remember_file(path)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for p in recent:
            action = self.recent_menu.addAction(Path(p).name)
            action.setToolTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry()
        self._geometry_restored = False
        if geometry is not None and self.restoreGeometry(geometry):
            # a geometry saved on a bigger screen (or another monitor) is not used here
            self._geometry_restored = self.isMaximized() or screen_fit.restorable(
                self.geometry(), self._available())
        tau = self.settings.threshold()
        self.session.threshold = tau
        self.info_panel.set_threshold(tau)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                event.acceptProposedAction()
                return

    def open_training_dialog(self) -> Any:
        """Tools -> Train alignment network…: the (single, non-modal) Train-Phi dialog."""
        from forensics_gui.ui.training_dialog import TrainingDialog

        if self.training_dialog is None:
            self.training_dialog = TrainingDialog(self, self.settings.qsettings)
            self.training_dialog.model_chosen.connect(self.set_phi_checkpoint)
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def open_audit_dialog(self) -> Any:
        """Tools -> Audit dataset…: the (single, non-modal) dataset audit; its clips open here."""
        from forensics_gui.ui.audit_dialog import AuditDialog

        if self.audit_dialog is None:
            self.audit_dialog = AuditDialog(self, window=self)
        self.audit_dialog.show()
        self.audit_dialog.raise_()
        return self.audit_dialog

    def set_phi_checkpoint(self, path: str) -> None:
        """Analyse with this Phi from now on: QSettings "models/phi_path" + phi_checkpoint_changed."""
        self.phi_checkpoint = Path(path)
        self.settings.qsettings.setValue("models/phi_path", str(path))
        self.statusBar().showMessage(f"Analyses now use the alignment network {Path(path).name}.", 8000)
        self.phi_checkpoint_changed.emit(str(path))

    def _on_about(self) -> None:
        QMessageBox.about(self, "About forensics-gui",
                          f"forensics-gui {forensics_gui.__version__}\n"
                          "Offline forensic viewer for audio-visual deepfakes.")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop playback and join every worker thread (idempotent)."""
        self.pause()
        self.clock.close()  # lets go of the sound device
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_window_state(self.saveState())
        self.settings.sync()
        self.retired.retire(self.info_worker)
        self.info_worker = None
        self.avh.shutdown()
        if self.training_dialog is not None:
            self.training_dialog.shutdown()
        if self.audit_dialog is not None:
            self.audit_dialog.shutdown()
        self.retired.retire(self.decoder)
        self.retired.join_all()
