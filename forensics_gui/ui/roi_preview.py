"""The mouth-ROI preview: the 96x96 grey crop the model saw for the current model frame
(25 fps grid, frame k covers [k/25, (k+1)/25) s), scaled up with nearest-neighbour pixels, with
a red "no face" marker when the face detector missed that frame (its crop is interpolated)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from forensics_gui.core.media.timebase import index_at, model_frame_times
from forensics_gui.ui import theme

SCALE = 2  # screen pixels per ROI pixel
ROI_SIZE = 96
CAPTION_H = 20
NO_FACE = QColor("#ff5c5c")


def gray_to_qimage(gray: np.ndarray) -> QImage:
    """Wrap an HxW uint8 array as a Grayscale8 QImage (a deep copy)."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape
    return QImage(gray.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class RoiPreview(QWidget):
    """Shows ``roi_gray[k]`` for the model frame ``k`` covering the current time.

    ``index`` is the shown frame (None when nothing is shown); ``pixels`` the array on screen;
    :meth:`image_rect` where it is drawn (widget pixels, ``SCALE`` x ``SCALE`` per ROI pixel).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        side = ROI_SIZE * SCALE
        self.setFixedHeight(side + CAPTION_H + 8)
        self.setMinimumWidth(side + 8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.roi_gray: np.ndarray | None = None
        self.times_s: np.ndarray | None = None
        self.detected: np.ndarray | None = None
        self.index: int | None = None
        self.pixels: np.ndarray | None = None
        self.face_detected = True
        self._image: QImage | None = None
        self.notice = "The mouth crop the model sees appears here after an analysis."
        # t -> (the video's "frame N", tooltip with the model frame); set by the owner
        # (AvhViews.frame_label) so the caption uses the viewer's one frame number.
        self.frame_label: Any = None
        self.time_s = 0.0

    def set_track(self, roi_gray: np.ndarray | None, times_s: np.ndarray | None,
                  detected: np.ndarray | None, t: float = 0.0) -> None:
        """New ROI frames (uint8 [T, 96, 96]), their start times (s) and detected flags."""
        self.roi_gray, self.times_s, self.detected = roi_gray, times_s, detected
        if roi_gray is None or len(roi_gray) == 0:
            self.clear("No mouth crop: no face was found in this clip.")
            return
        if self.times_s is None or len(self.times_s) != len(roi_gray):
            self.times_s = model_frame_times(len(roi_gray))
        self.seek(t)

    def clear(self, notice: str = "") -> None:
        self.roi_gray = self.times_s = self.detected = None
        self.index = None
        self.pixels = None
        self._image = None
        self.notice = notice or "The mouth crop the model sees appears here after an analysis."
        self.update()

    def seek(self, t: float) -> None:
        """Show the crop of the model frame covering ``t`` seconds."""
        if self.roi_gray is None or self.times_s is None:
            return
        self.time_s = t
        k = index_at(self.times_s, t)
        if k is None:
            return
        if self.frame_label is not None:
            self.setToolTip(f"The mouth crop the model saw: {self.frame_label(t)[1]}")
        if k == self.index:
            if self.frame_label is not None:
                self.update()  # the same crop, but the video's frame number may have moved on
            return
        self.index = k
        self.pixels = self.roi_gray[k]
        self.face_detected = bool(self.detected[k]) if self.detected is not None else True
        self._image = gray_to_qimage(self.pixels)
        self.update()

    def image_rect(self) -> QRect:
        side = ROI_SIZE * SCALE
        return QRect((self.width() - side) // 2, 4, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(theme.PANEL))
        rect = self.image_rect()
        if self._image is None:
            p.fillRect(rect, QColor("#000000"))
            p.setPen(QColor(theme.MUTED))
            p.drawText(rect.adjusted(8, 8, -8, -8),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.notice)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(rect, self._image)
            label = (self.frame_label(self.time_s)[0] if self.frame_label is not None
                     else f"model frame {self.index}")
            caption = f"at {label}" if label else ""
            if not self.face_detected:
                p.setPen(QPen(NO_FACE, 3, Qt.PenStyle.DashLine))
                p.drawRect(rect.adjusted(1, 1, -2, -2))
                caption += "   no face found (position estimated)"
            p.setPen(NO_FACE if not self.face_detected else QColor(theme.MUTED))
            p.drawText(QRect(0, rect.bottom() + 4, self.width(), CAPTION_H),
                       Qt.AlignmentFlag.AlignCenter, caption)
        p.end()

    def face_marker_shown(self) -> bool:
        """True while the "no face" marker is drawn."""
        return self._image is not None and not self.face_detected

