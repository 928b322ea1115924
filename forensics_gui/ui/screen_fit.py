"""Where the main window opens: inside the available area of its screen (what the desktop's
panels and docks leave), at a comfortable size, and never larger than that area.

Pure geometry on QRects, so it is tested without a window manager (dialogs open through
:func:`fit_dialog`); :class:`MainWindow` calls
:func:`default_geometry` before the first show, :func:`restorable` to decide whether a saved
geometry may be restored, and :func:`pulled_inside` after the window manager added its frame.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

PREFERRED = QSize(1440, 900)  # px: the size the window opens at when the screen has room
FRAME_ALLOWANCE = QSize(8, 40)  # px: a window manager's borders and title bar, before it tells us
SIDE_BY_SIDE_MIN_WIDTH = 1500  # px of screen: below this the Clip and Analysis docks share tabs


def default_geometry(available: QRect, minimum: QSize) -> QRect:
    """The client-area rectangle the window opens at on a screen whose available geometry is
    ``available``: the preferred size, shrunk to fit (frame included), never below ``minimum``
    (unless the screen itself is smaller), centred."""
    room = QSize(max(1, available.width() - FRAME_ALLOWANCE.width()),
                 max(1, available.height() - FRAME_ALLOWANCE.height()))
    width = max(min(PREFERRED.width(), room.width()), min(minimum.width(), room.width()))
    height = max(min(PREFERRED.height(), room.height()), min(minimum.height(), room.height()))
    frame_w, frame_h = width + FRAME_ALLOWANCE.width(), height + FRAME_ALLOWANCE.height()
    frame_x = available.x() + max(0, (available.width() - frame_w) // 2)
    frame_y = available.y() + max(0, (available.height() - frame_h) // 2)
    border = FRAME_ALLOWANCE.width() // 2  # the title bar is the rest of the height allowance
    return QRect(frame_x + border, frame_y + FRAME_ALLOWANCE.height() - border, width, height)


def fits(frame: QRect, available: QRect) -> bool:
    """True when the window's frame lies wholly inside the screen's available area."""
    return available.contains(frame)


def restorable(client: QRect, available: QRect) -> bool:
    """Whether a saved window (client area ``client``) fits this screen with a frame around it."""
    border = FRAME_ALLOWANCE.width() // 2
    frame = client.adjusted(-border, -(FRAME_ALLOWANCE.height() - border), border, border)
    return fits(frame, available)


def pulled_inside(frame: QRect, client: QRect, available: QRect) -> QRect:
    """The client rectangle that puts a window whose frame is ``frame`` (and client area
    ``client``) wholly inside ``available``: shrunk by what sticks out, then moved in."""
    left, top = client.x() - frame.x(), client.y() - frame.y()
    extra_w, extra_h = frame.width() - client.width(), frame.height() - client.height()
    width = min(client.width(), available.width() - extra_w)
    height = min(client.height(), available.height() - extra_h)
    x = min(max(frame.x(), available.x()), available.right() + 1 - (width + extra_w))
    y = min(max(frame.y(), available.y()), available.bottom() + 1 - (height + extra_h))
    return QRect(x + left, y + top, max(1, width), max(1, height))


def dialog_size(available: QRect, width: int, height: int) -> QSize:
    """A dialog's opening size: ``width`` x ``height``, or smaller where the screen's available
    area is (1024x600 laptops), leaving room for the frame so its buttons stay on screen."""
    return QSize(min(width, int(available.width() * 0.95)), min(height, int(available.height() * 0.9)))


def available_area(widget: QWidget | None) -> QRect | None:
    """The available geometry of ``widget``'s screen (the primary one without a widget)."""
    screen = (widget.screen() if widget is not None else None) or QGuiApplication.primaryScreen()
    return None if screen is None else screen.availableGeometry()


def fit_dialog(dialog: QWidget, parent: QWidget | None, width: int, height: int) -> None:
    """Resize ``dialog`` to :func:`dialog_size` on its parent's screen (or the primary one)."""
    room = available_area(parent)
    dialog.resize(QSize(width, height) if room is None else dialog_size(room, width, height))


def side_by_side(available: QRect) -> bool:
    """Whether the docks on the right sit side by side (wide screens) or share tabs."""
    return available.width() >= SIDE_BY_SIDE_MIN_WIDTH
