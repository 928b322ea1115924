"""Face detection and dlib 68-point landmarks along ONE consistent face track.

Models: dlib's HOG frontal face detector and ``shape_predictor_68_face_landmarks.dat`` from the
``face-recognition-models`` package (located on disk, never imported, never downloaded).

Grey input: the official preparation runs dlib on ``cv2.cvtColor(rgb, COLOR_RGB2GRAY)``;
:func:`rgb_to_gray_cv2` is that conversion bit for bit (see its docstring).

Track rule of ``"fast"`` (the official code takes the *last* detection of each frame, which can jump between
people): the first frame with any detection starts the track on the **largest** face; in every
later frame the track keeps the detection **nearest to the previous box** (centre distance under
0.5 box sizes and a size ratio within 0.6..1.6). A frame without such a detection is "not
detected" (flagged, later interpolated); while lost, the window around the last box is still
searched every frame, and a full-frame scan every ``rescan_every`` frames re-acquires the
detection nearest to the last known box. Before any face is found, every frame of the first
second is scanned, then every ``rescan_every``-th frame (so a face-free hour stays affordable).

Two preparations (the name is recorded with every result, :data:`PREPARATIONS`):

``"official"`` (the default): the official detection, bit for bit, faster. The official call
``detector(gray, 1)`` resizes the whole grey frame 2x (dlib ``pyramid_up``: a bilinear
``resize_image``), builds the pyramid ``pyramid_down<6>`` (each level a ``resize_image`` of the one
above to ``floor(5/6)`` of its size) and scans HOG filters on every level, then keeps the
detections that do not overlap a higher-scoring one (non-maximum suppression across levels). Most
of the time goes into the big top levels, where a tracked face of the previous frame's size
cannot be found. :class:`OfficialDetector` builds the same pyramid with dlib's own functions
(``dlib.resize_image``, ``dlib.pyramid_down(6)``: identical pixels, checked in the tests), runs the
same detector from level ``s`` = (previous face level - 3) down, and maps each box back with
dlib's own ``rect_up``/``rect_down``. Why the result is the official one: if the official scan
finds exactly one face F at a level >= s, every other official candidate overlaps F and scores
lower, so the scan from ``s`` (a subset of the candidates with the same scores) returns exactly
F. The partial scan is accepted only when it returns exactly one face at level >= s + 2;
otherwise (no face, several faces, a face near ``s``, the first frame) the frame gets the full
official call. The one case this cannot rule out by construction: the official finds a single
face at least 1.7x smaller than a lower-scoring face-sized detection it suppressed; never seen
(the tests compare every frame against the full official call at 240p..1080p). With several
faces the official result (the LAST box) is used, as in the official preparation.

``"fast"`` (``--fast-landmarks``): a tracker whose boxes come from a rescaled window; a few ms
per frame, but its landmarks differ from the official ones by a few pixels, and its crops by
2-4 grey levels (benchmarks/parity_roi.py --fast).

Speed of ``"fast"`` (the official pipeline runs the detector on the full-resolution frame with one 2x
upsampling, ~300 ms per 720p frame): while the track is held, the detector runs only on a window
of 1.5 box sizes around the previous box, rescaled so the face is 100-120 px (a few ms). The
scale is taken from the ladder 2 x (5/6)^m that the official ``detector(gray, 1)`` scans
(:func:`ladder_scale`), so the box size does not jitter with the previous box. Full-frame scans
(start, re-acquisition) use a scale at which faces of ``min_face_px`` (default: 1/8 of the
shorter frame side, at least 40 px) are found, then re-detect locally. The shape predictor
always runs at full resolution on the exact cv2 grey of a window of 1.4 box sizes around the
box; it reads only pixels near the box, so this equals running it on the whole frame (tested).
The detector boxes come from a rescaled image and differ from the official full-resolution
boxes by a few pixels, which moves the landmarks by ~1 px on average (measured on the synthetic
720p clip).

Coordinates are (x, y) source-frame pixels. Frames are the 25 fps grid frames.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import ForensicsError

# OpenCV >= 4 (modules/imgproc/src/color_rgb.simd.hpp, RGB2Gray<uchar>; color.simd_helpers.hpp):
# 8-bit RGB/BGR -> GRAY is fixed point with 15 fractional bits:
#   gray = (R*9798 + G*19235 + B*3735 + (1 << 14)) >> 15
# Older OpenCV (3.x) used 14 bits (R*4899 + G*9617 + B*1868 + (1 << 13)) >> 14; the two differ
# by 1 grey level on 0.26 % of all RGB triples. cv2 wheels installed today use 15 bits.
GRAY_COEFFS_15 = (9798, 19235, 3735)
GRAY_COEFFS_14 = (4899, 9617, 1868)

DETECT_BOX_PX = 100.0  # box size the local detector sees (dlib's HOG window is 80 px)
MAX_UPSCALE = 2.0  # like dlib's one 2x upsampling
WINDOW_HALF = 0.75  # half side of the local detection window, in box sizes
STARTUP_FRAMES = 25  # before any face: scan every frame for 1 s, then every rescan_every
SP_HALF = 0.7  # half side of the window the shape predictor needs (checked == full frame)

PREPARATIONS = ("official", "fast")  # names recorded with every result (see the module docstring)
DEFAULT_PREPARATION = "official"
LEVEL_RATIO = 1.2  # pyramid_down<6>: each level is 5/6 of the one above
LEVEL_BOX_PX = 73  # side of a detection box at the level it was found on (80 px HOG window)
SKIP_MARGIN = 3  # partial scan starts this many levels above the previous face's level
ACCEPT_GAP = 2  # ... and is accepted when its single face lies at least this far below the start


def rgb_to_gray_cv2(rgb: np.ndarray, *, legacy14: bool = False) -> np.ndarray:
    """cv2.cvtColor(rgb, COLOR_RGB2GRAY) (== COLOR_BGR2GRAY of the BGR image) for uint8 input.

    ``rgb``: uint8 [..., 3] in R, G, B order. Returns uint8 [...]. Fixed point as in OpenCV >= 4
    (15 bits); ``legacy14=True`` gives OpenCV 3.x's 14-bit variant.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError("rgb_to_gray_cv2 expects a uint8 [..., 3] RGB array")
    (cr, cg, cb), shift = (GRAY_COEFFS_14, 14) if legacy14 else (GRAY_COEFFS_15, 15)
    acc = rgb[..., 0].astype(np.uint32)
    acc *= np.uint32(cr)
    acc += rgb[..., 1].astype(np.uint32) * np.uint32(cg)
    acc += rgb[..., 2].astype(np.uint32) * np.uint32(cb)
    acc += np.uint32(1 << (shift - 1))
    acc >>= np.uint32(shift)
    return acc.astype(np.uint8)


def shape_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` (face-recognition-models package)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ForensicsError(
            "The face landmark model is missing; install it with "
            "'pip install face-recognition-models'."
        )
    path = Path(os.path.dirname(spec.origin)) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise ForensicsError(f"The face landmark model {path} is missing; reinstall "
                             "face-recognition-models.")
    return path


_PREDICTOR: list[Any] = []  # the shape predictor, shared: dlib's predictor call is const
_PREDICTOR_LOCK = threading.Lock()
_DETECTORS = threading.local()  # one detector per thread: dlib's detector is not thread-safe


def preload_models() -> None:
    """Load the landmark models now (about 1 s, holding the GIL) rather than on the first frame."""
    _models()


def models_loaded() -> bool:
    """True when this thread already holds a detector and the predictor is loaded."""
    return bool(_PREDICTOR) and hasattr(_DETECTORS, "det")


def _models() -> tuple[Any, Any]:
    """(detector, shape predictor): the predictor loaded once per process, a detector per thread
    (an analysis in the viewer and a feature extraction for training may run at once)."""
    import dlib

    with _PREDICTOR_LOCK:
        if not _PREDICTOR:
            _PREDICTOR.append(dlib.shape_predictor(str(shape_predictor_path())))
    if not hasattr(_DETECTORS, "det"):
        _DETECTORS.det = dlib.get_frontal_face_detector()
    return _DETECTORS.det, _PREDICTOR[0]


def _detector_gray(gray: np.ndarray, scale: float) -> np.ndarray:
    """``gray`` resized by ``scale`` for the detector: a k x k box average for big reductions,
    then dlib's bilinear resize (only the detector sees it, so speed beats exactness here)."""
    import dlib

    k = int(1.0 / scale) if scale < 0.5 else 1
    if k > 1:
        h, w = (gray.shape[0] // k) * k, (gray.shape[1] // k) * k
        acc = np.zeros((h // k, w // k), np.uint16)
        for dy in range(k):
            for dx in range(k):
                acc += gray[dy:h:k, dx:w:k]
        gray = (acc // (k * k)).astype(np.uint8)
        scale *= k
    rows = max(1, int(round(gray.shape[0] * scale)))
    cols = max(1, int(round(gray.shape[1] * scale)))
    if (rows, cols) == gray.shape:
        return np.ascontiguousarray(gray)
    return dlib.resize_image(np.ascontiguousarray(gray), rows, cols)


def ladder_scale(box_px: float) -> float:
    """Scale for a local detection of a face box of ``box_px`` source pixels.

    One of the scales at which the official call ``detector(gray, 1)`` scans (2 x (5/6)^m: one
    2x upsampling, then dlib's 5/6 pyramid), chosen so the face is DETECT_BOX_PX..1.2x that in
    the rescaled window; a fixed ladder (not DETECT_BOX_PX / box_px) keeps the box size from
    jittering frame to frame and close to the official boxes.
    """
    m = max(0, int(np.floor(np.log(2.0 * max(box_px, 1.0) / DETECT_BOX_PX) / np.log(1.2))))
    return float(MAX_UPSCALE * (5.0 / 6.0) ** m)


def _clip_window(cx: float, cy: float, half: float, w: int, h: int) -> tuple[int, int, int, int]:
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))
    return x0, y0, x1, y1


def _box_center_size(box: np.ndarray) -> tuple[float, float, float]:
    return (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2,
            float(max(box[2] - box[0], box[3] - box[1])))


def _rect_tuple(rect: Any) -> tuple[int, int, int, int]:
    return int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom())


class OfficialDetector:
    """``detector(gray, 1)`` of the official preparation, skipping the pyramid levels that cannot
    hold the tracked face when the result is provably the same (see the module docstring).

    One instance per thread (dlib's detector is not thread-safe). ``partial_scans`` and
    ``full_scans`` count how each frame was answered.
    """

    def __init__(self, detector: Any) -> None:
        import dlib

        self._dlib = dlib
        self.detector = detector
        self._pyr2 = dlib.pyramid_down(2)
        self._pyr6 = dlib.pyramid_down(6)
        self.level: int | None = None  # pyramid level of the last face found (the hint)
        self.partial_scans = 0
        self.full_scans = 0

    def full(self, gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        """The official call itself: boxes (left, top, right, bottom), dlib's order."""
        self.full_scans += 1
        return [_rect_tuple(r) for r in self.detector(gray, 1)]

    def _upsampled(self, gray: np.ndarray) -> np.ndarray:
        """dlib's ``pyramid_up(gray, pyramid_down<2>)``: resize_image to rect_up's size."""
        h, w = gray.shape
        up = self._pyr2.rect_up(self._dlib.rectangle(0, 0, w - 1, h - 1))
        return self._dlib.resize_image(gray, int(up.bottom()) + 1, int(up.right()) + 1)

    def _level_rect(self, rect: Any) -> tuple[int, Any] | None:
        """(levels below the scanned image, the box on its own level) of a box the scan returned
        in the scanned image's coordinates; None when the mapping is not unambiguous."""
        rect_down, rect_up = self._pyr6.rect_down, self._pyr6.rect_up
        guess = int(round(np.log(max(rect.width(), 1) / LEVEL_BOX_PX) / np.log(LEVEL_RATIO)))
        found: list[tuple[int, Any]] = []
        for lv in sorted({max(0, guess - 1), max(0, guess), guess + 1}):
            base = rect_down(rect, lv) if lv else rect
            for dl in (-1, 0, 1):
                for dt in (-1, 0, 1):
                    for dr in (-1, 0, 1):
                        for db in (-1, 0, 1):
                            c = self._dlib.rectangle(base.left() + dl, base.top() + dt,
                                                     base.right() + dr, base.bottom() + db)
                            if abs(c.width() - LEVEL_BOX_PX) <= 3 and \
                                    (rect_up(c, lv) if lv else c) == rect:
                                found.append((lv, c))
        return found[0] if len({(lv, _rect_tuple(c)) for lv, c in found}) == 1 else None

    def detect(self, gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Boxes of ``detector(gray, 1)`` (left, top, right, bottom, inclusive; the official
        order), exact wherever the official call finds exactly one face."""
        gray = np.ascontiguousarray(gray)
        start = None if self.level is None else self.level - SKIP_MARGIN
        if start is not None and start > 0:
            img = self._upsampled(gray)
            for _ in range(start):
                img = self._pyr6(img)
            rects = self.detector.run(img, 0, 0.0)[0]
            if len(rects) == 1:
                mapped = self._level_rect(rects[0])
                if mapped is not None and mapped[0] >= ACCEPT_GAP:
                    level = start + mapped[0]
                    box = self._pyr2.rect_down(self._pyr6.rect_up(mapped[1], level))
                    self.level = level
                    self.partial_scans += 1
                    return [_rect_tuple(box)]
        boxes = self.full(gray)
        # the hint: the level of the box the official code uses (the last); None without faces
        self.level = None if not boxes else _box_level(boxes[-1])
        return boxes


def _box_level(box: tuple[int, int, int, int]) -> int:
    """Pyramid level (0 = the 2x upsampled frame) at which a box of this size is found."""
    side = 2.0 * max(box[2] - box[0] + 1, 1)
    return max(0, int(round(np.log(side / LEVEL_BOX_PX) / np.log(LEVEL_RATIO))))


@dataclass
class FrameLandmarks:
    """One frame's result: ``points`` int32 [68, 2] (x, y) and ``box`` float32 [4] x0,y0,x1,y1."""

    points: np.ndarray | None
    box: np.ndarray | None


class FaceTracker:
    """Detect and follow one face through consecutive frames (see the module docstring).

    ``frame_size`` = (width, height) of the source frames in pixels. ``preparation`` is one of
    :data:`PREPARATIONS`: ``"official"`` (default) gives the official landmarks through
    :class:`OfficialDetector`; ``"fast"`` is the windowed tracker. ``official=True`` is the
    reference mode for parity checks: every frame runs ``detector(gray, 1)`` on the whole frame
    and the shape predictor on the LAST detection, as the official preparation does (no CNN
    fallback, no tracking; ~0.3 s per 720p frame).
    """

    def __init__(self, frame_size: tuple[int, int], *, min_face_px: float | None = None,
                 rescan_every: int = 5, official: bool = False,
                 preparation: str = DEFAULT_PREPARATION) -> None:
        if preparation not in PREPARATIONS:
            raise ValueError(f"unknown landmark preparation {preparation!r}")
        self.preparation = "official" if official else preparation
        self.official = bool(official)
        self.width, self.height = int(frame_size[0]), int(frame_size[1])
        self.min_face_px = float(min_face_px or max(40.0, min(self.width, self.height) / 8.0))
        self.rescan_every = max(1, int(rescan_every))
        self.prev_box: np.ndarray | None = None  # last box of the track (None before the start)
        self.lost_for = 0  # frames since the track was last seen
        self.frames_seen = 0
        self.detector, self.predictor = _models()
        self.exact = OfficialDetector(self.detector)
        self._win: tuple[int, int, int, int, np.ndarray] | None = None  # this frame's grey window

    def _gray(self, rgb: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Exact cv2 grey of rgb[y0:y1, x0:x1], reusing this frame's window when it covers it."""
        if self._win is not None:
            wx0, wy0, wx1, wy1, g = self._win
            if wx0 <= x0 and wy0 <= y0 and x1 <= wx1 and y1 <= wy1:
                return g[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
        g = rgb_to_gray_cv2(rgb[y0:y1, x0:x1])
        self._win = (x0, y0, x1, y1, g)
        return g

    # -- detection ---------------------------------------------------------------------------
    def _detect(self, gray: np.ndarray, scale: float, ox: float, oy: float) -> list[np.ndarray]:
        """Run the HOG detector on ``gray`` rescaled by ``scale``; boxes in source pixels."""
        small = _detector_gray(gray, scale)
        sy, sx = small.shape[0] / gray.shape[0], small.shape[1] / gray.shape[1]
        return [np.array([ox + r.left() / sx, oy + r.top() / sy,
                          ox + (r.right() + 1) / sx, oy + (r.bottom() + 1) / sy], np.float32)
                for r in self.detector(small, 0)]

    def _full_scan(self, rgb: np.ndarray) -> list[np.ndarray]:
        scale = min(MAX_UPSCALE, 80.0 / self.min_face_px)
        return self._detect(self._gray(rgb, 0, 0, self.width, self.height), scale, 0.0, 0.0)

    def _local_scan(self, rgb: np.ndarray, box: np.ndarray) -> list[np.ndarray]:
        cx, cy, size = _box_center_size(box)
        x0, y0, x1, y1 = _clip_window(cx, cy, WINDOW_HALF * size, self.width, self.height)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        gray = self._gray(rgb, x0, y0, x1, y1)
        return self._detect(gray, ladder_scale(size), float(x0), float(y0))

    @staticmethod
    def _nearest(dets: list[np.ndarray], ref: np.ndarray, strict: bool) -> np.ndarray | None:
        rcx, rcy, rsize = _box_center_size(ref)
        best, best_d = None, np.inf
        for d in dets:
            cx, cy, size = _box_center_size(d)
            dist = float(np.hypot(cx - rcx, cy - rcy))
            if strict and (dist > 0.5 * rsize or not 0.6 <= size / max(rsize, 1.0) <= 1.6):
                continue
            if dist < best_d:
                best, best_d = d, dist
        return best

    # -- landmarks ---------------------------------------------------------------------------
    def _landmarks(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        import dlib

        left, top = int(round(float(box[0]))), int(round(float(box[1])))
        right, bottom = int(round(float(box[2]))) - 1, int(round(float(box[3]))) - 1
        cx, cy, size = _box_center_size(box)
        x0, y0, x1, y1 = _clip_window(cx, cy, SP_HALF * size, self.width, self.height)
        gray = self._gray(rgb, x0, y0, x1, y1)
        shape = self.predictor(gray, dlib.rectangle(left - x0, top - y0, right - x0, bottom - y0))
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int32)
        pts += np.array([x0, y0], dtype=np.int32)
        return pts

    def process(self, rgb: np.ndarray) -> FrameLandmarks:
        """Landmarks of the tracked face in one RGB uint8 [H, W, 3] frame (None if not found)."""
        found: np.ndarray | None = None
        self._win = None
        if self.official:
            return self._process_official(rgb)
        if self.preparation == "official":
            return self._process_exact(rgb)
        if self.prev_box is not None:
            found = self._nearest(self._local_scan(rgb, self.prev_box), self.prev_box, True)
        self.frames_seen += 1
        startup = self.prev_box is None and self.frames_seen <= STARTUP_FRAMES
        if found is None and (startup or self.lost_for % self.rescan_every == 0):
            dets = self._full_scan(rgb)
            if dets and self.prev_box is None:
                found = max(dets, key=lambda d: float((d[2] - d[0]) * (d[3] - d[1])))
            elif dets and self.prev_box is not None:
                found = self._nearest(dets, self.prev_box, False)
            if found is not None:
                # re-detect locally so every box comes from the same detector scale
                local = self._nearest(self._local_scan(rgb, found), found, True)
                found = found if local is None else local
        if found is None:
            self.lost_for += 1
            return FrameLandmarks(None, None)
        self.prev_box, self.lost_for = found, 0
        return FrameLandmarks(self._landmarks(rgb, found), found)

    def _process_exact(self, rgb: np.ndarray) -> FrameLandmarks:
        import dlib

        gray = rgb_to_gray_cv2(rgb)
        boxes = self.exact.detect(gray)
        if not boxes:
            return FrameLandmarks(None, None)
        left, top, right, bottom = boxes[-1]
        shape = self.predictor(gray, dlib.rectangle(left, top, right, bottom))
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int32)
        return FrameLandmarks(pts, np.array([left, top, right + 1, bottom + 1], np.float32))

    def _process_official(self, rgb: np.ndarray) -> FrameLandmarks:
        gray = rgb_to_gray_cv2(rgb)
        rects = self.detector(gray, 1)
        if len(rects) == 0:
            return FrameLandmarks(None, None)
        rect = rects[len(rects) - 1]
        shape = self.predictor(gray, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int32)
        box = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float32)
        return FrameLandmarks(pts, box)


def interpolate_track(values: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Fill frames without detection: linear between detected frames, nearest at the ends.

    ``values``: [T, ...] (landmarks [T, 68, 2] or boxes [T, 4]); entries of undetected frames are
    ignored. ``detected``: bool [T]. Returns float64 of the same shape (detected frames keep
    their values). Raises ValueError when no frame is detected.
    """
    detected = np.asarray(detected, bool)
    idx = np.flatnonzero(detected)
    if idx.size == 0:
        raise ValueError("no detected frame to interpolate from")
    flat = np.asarray(values, np.float64).reshape(len(detected), -1)
    t = np.arange(len(detected))
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t, idx, flat[idx, j])  # np.interp holds the ends constant
    return out.reshape(np.shape(values))
