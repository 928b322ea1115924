"""A small dark theme: palette, stylesheet, plot colours and the monospace font for times."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1e2127"
PANEL = "#262a31"
BORDER = "#353b45"
TEXT = "#d7dae0"
MUTED = "#8b929e"
ACCENT = "#4fa3ff"
WAVEFORM = "#7fd4a8"
PLAYHEAD = "#ff5c5c"
SILENCE = (255, 196, 0, 70)  # translucent amber
SILENCE_EDGE = "#ffc400"
TAU_LINE = "#c58cff"

STYLESHEET = f"""
QWidget {{ color: {TEXT}; }}
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QFrame#panel, QWidget#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 6px; }}
QLabel#heading {{ color: {MUTED}; font-weight: 600; text-transform: uppercase; }}
QLabel#notice {{ color: {MUTED}; font-size: 14px; }}
QToolButton#resetZoom {{ font-size: 11px; padding: 1px 6px; }}
QScrollArea#infoScroll, QScrollArea#infoScroll > QWidget > QWidget {{ background: {BACKGROUND}; border: none; }}
QLabel#timeDisplay {{ color: {TEXT}; font-size: 15px; }}
QToolButton, QPushButton {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 4px;
    padding: 4px 8px; }}
QToolButton:hover, QPushButton:hover {{ border-color: {ACCENT}; }}
QToolButton:checked {{ background: {ACCENT}; color: #101216; }}
QToolButton:disabled, QPushButton:disabled {{ color: {MUTED}; border-color: {BACKGROUND}; }}
QSlider::groove:horizontal {{ height: 4px; background: {BORDER}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 2px; }}
QTableWidget {{ background: {PANEL}; gridline-color: {BORDER}; border: none; }}
QHeaderView::section {{ background: {BACKGROUND}; color: {MUTED}; border: none; padding: 2px 4px; }}
QStatusBar {{ color: {MUTED}; }}
"""


def monospace_font(point_size: int | None = None) -> QFont:
    """The system fixed-width font, for timecodes, hashes and numbers."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSize(point_size)
    return font


def apply_theme(app: QApplication) -> None:
    """Fusion style with a dark palette, the stylesheet and matching pyqtgraph defaults."""
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(BACKGROUND))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Base, QColor(PANEL))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(BACKGROUND))
    pal.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Button, QColor(PANEL))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#101216"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(PANEL))
    pal.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(MUTED))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
    configure_pyqtgraph()


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(background=PANEL, foreground=MUTED, antialias=False)
