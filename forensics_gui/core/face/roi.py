"""The 96x96 mouth region of interest (ROI) at 25 fps, as AV-HuBERT's preparation makes it.

Steps (design/avhubert-reference.md section 5), per frame i of the 25 fps grid:

1. 68 dlib landmarks (:mod:`forensics_gui.core.face.landmarks`); frames without a detection get
   landmarks interpolated linearly between detected frames (ends copy the nearest one).
2. Smoothing: mean of the landmarks of frames i .. i+margin-1, ``margin = min(T, 12)`` (a
   FORWARD window); the last ``margin-1`` frames reuse the final transform.
3. Similarity transform (Umeyama: rotation + uniform scale + translation) of the smoothed stable
   points [33, 36, 39, 42, 45] onto the mean-face points of the 256x256 reference frame.
4. Centre = mean of frame i's OWN (unsmoothed) mouth points 48..67 after the transform, clamped
   to [48, 208]; crop rows ``round(cy)-48 .. +48``, cols ``round(cx)-48 .. +48`` (Python
   ``round``: halves to even).
5. The warp is scikit-image's float path (``warp(img, tform.inverse, output_shape=(256, 256))``:
   uint8 * (1/255) in float64, bilinear, constant 0 outside, clipped to the input range), then
   ``* 255`` and ``astype(uint8)`` (truncation). Only the 96x96 crop is computed, by sampling
   those output pixels through the inverse transform with the same arithmetic.

The crops are colour (what the official pipeline writes as PNGs and then encodes with libx264
crf 20 at 25 fps, see :data:`ROI_PIX_FMT`); the model re-decodes that mp4 and converts it to
grey with OpenCV's fixed-point BGR2GRAY: :func:`roi_roundtrip` reproduces that, and
:attr:`RoiResult.gray` is the grey of the crops before the mp4 round trip.

The crops need the landmarks of the next 11 frames (smoothing) and of the next detected frame
(interpolation), so the video is read once for the landmarks while the pixels around each
detected mouth are kept (bounded by ``patch_budget_bytes``); only frames those patches do not
cover are decoded a second time. Memory stays bounded for any length.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from forensics_gui.core.errors import MediaError, NoFaceError
from forensics_gui.core.face.landmark_worker import landmark_processes, pooled_landmarks
from forensics_gui.core.face.landmarks import (
    DEFAULT_PREPARATION,
    PREPARATIONS,
    FaceTracker,
    FrameLandmarks,
    interpolate_track,
    rgb_to_gray_cv2,
)
from forensics_gui.core.files.atomic import atomic_path
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_count
from forensics_gui.core.progress import Progress, check_cancelled
from forensics_gui.core.readahead import ReadAhead

__all__ = [
    "RoiResult", "LandmarkTrack", "extract_mouth_roi", "write_roi_video", "load_roi_video",
    "roi_roundtrip", "save_landmarks", "load_landmarks", "rgb_to_gray_cv2", "umeyama_similarity",
    "roi_transforms", "crop_origins", "warp_crop", "MEAN_FACE_STABLE", "ROI_PIX_FMT",
    "preparation_record", "PREPARATIONS", "DEFAULT_PREPARATION",
]

STD_SIZE = 256  # side of the reference frame, pixels
CROP = 96  # side of the mouth crop, pixels
HALF = CROP // 2
WINDOW = 12  # forward smoothing window, frames
STABLE_IDS = [33, 36, 39, 42, 45]
MOUTH = slice(48, 68)
# Mean-face points of the stable indices in the 256x256 frame, (x, y) (20words_mean_face.npy).
MEAN_FACE_STABLE = np.array([
    [128.870, 137.303],
    [92.523, 94.369],
    [112.772, 94.944],
    [145.525, 94.535],
    [166.677, 93.566],
])


@dataclass
class RoiResult:
    """Mouth crops and the face track of one clip; T = frames of the 25 fps grid."""

    frames_rgb: np.ndarray  # uint8 [T, 96, 96, 3] colour crops ([0, 96, 96, 3] without a face)
    gray: np.ndarray  # uint8 [T, 96, 96] rgb_to_gray_cv2 of frames_rgb (before an mp4 round trip)
    times_s: np.ndarray  # float64 [T] grid times, seconds
    landmarks: np.ndarray  # float32 [T, 68, 2] (x, y) source pixels, interpolated; NaN w/o face
    detected: np.ndarray  # bool [T] the tracked face was detected in this frame
    face_boxes: np.ndarray  # float32 [T, 4] x0, y0, x1, y1 source pixels (interpolated; NaN)
    face_found: bool
    source_fps: float
    source_size: tuple[int, int]  # (width, height) of the displayed source frames
    preparation: str = DEFAULT_PREPARATION  # "official" or "fast" (core.landmarks.PREPARATIONS)


@dataclass
class LandmarkTrack:
    """What :func:`save_landmarks` stores (no pixels)."""

    landmarks: np.ndarray
    detected: np.ndarray
    face_boxes: np.ndarray
    times_s: np.ndarray
    face_found: bool
    source_fps: float
    source_size: tuple[int, int]
    preparation: str = DEFAULT_PREPARATION
    provenance: dict[str, str] | None = None  # preparation_record() as stored (None: older file)


_LANDMARK_MODEL_SHA: dict[tuple[str, int, int], str] = {}


def preparation_record(preparation: str = DEFAULT_PREPARATION) -> dict[str, str]:
    """Which mouth-crop preparation made a result, so two results can be told apart.

    ``preparation`` ("official": the official detection, "fast": the windowed tracker),
    ``dlib_version``, ``landmark_model_sha256`` (SHA-256 of the 68-point model file) and
    ``mean_face_sha256`` (SHA-256 of :data:`MEAN_FACE_STABLE` as little-endian float64, x/y per
    point). The model file is hashed once per process (about 0.3 s).
    """
    import hashlib

    import dlib

    from forensics_gui.core.face.landmarks import shape_predictor_path
    from forensics_gui.core.files.hashing import sha256_file

    if preparation not in PREPARATIONS:
        raise ValueError(f"unknown landmark preparation {preparation!r}")
    path = shape_predictor_path()
    st = path.stat()
    key = (str(path), int(st.st_size), int(st.st_mtime_ns))
    if key not in _LANDMARK_MODEL_SHA:
        _LANDMARK_MODEL_SHA[key] = sha256_file(path)
    mean_face = hashlib.sha256(np.ascontiguousarray(MEAN_FACE_STABLE, "<f8").tobytes()).hexdigest()
    return {"preparation": preparation, "dlib_version": str(dlib.__version__),
            "landmark_model_sha256": _LANDMARK_MODEL_SHA[key], "mean_face_sha256": mean_face}


# --- geometry -----------------------------------------------------------------------------------

def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama 1991) mapping ``src`` [N, 2] onto ``dst`` [N, 2].

    Returns the 3x3 homogeneous matrix acting on column vectors (x, y, 1), like
    ``skimage.transform.SimilarityTransform.params``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n, dim = src.shape
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / n
    sign = np.ones(dim)
    if np.linalg.det(cov) < 0:
        sign[-1] = -1.0
    u, sv, vt = np.linalg.svd(cov)
    out = np.eye(dim + 1)
    rank = np.linalg.matrix_rank(cov)
    if rank == 0:
        return np.full((dim + 1, dim + 1), np.nan)
    if rank == dim - 1 and np.linalg.det(u) * np.linalg.det(vt) > 0:
        rot = u @ vt
    elif rank == dim - 1:
        flip = sign.copy()
        flip[-1] = -1.0
        rot = u @ np.diag(flip) @ vt
    else:
        rot = u @ np.diag(sign) @ vt
    scale = (sv @ sign) / s_c.var(axis=0).sum()
    out[:dim, :dim] = rot * scale
    out[:dim, dim] = mu_d - scale * (rot @ mu_s)
    return out


def roi_transforms(landmarks: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Per-frame similarity matrices [T, 3, 3] (source pixels -> 256 frame), forward-smoothed.

    ``landmarks``: float [T, 68, 2] without gaps. Frame i uses the mean of frames
    ``j .. j+margin-1`` with ``j = min(i, T-margin)`` and ``margin = min(T, window)``.
    """
    lm = np.asarray(landmarks, np.float64)
    t = len(lm)
    margin = min(t, window)
    out = np.empty((t, 3, 3))
    if t == 0:
        return out
    for i in range(t - margin + 1):
        # np.mean over the window of [68, 2] arrays, as the official deque mean (float64)
        mean = lm[i:i + margin, STABLE_IDS].mean(axis=0)
        out[i] = umeyama_similarity(mean, MEAN_FACE_STABLE)
    out[t - margin + 1:] = out[t - margin]
    return out


def _apply(params: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """skimage ``tform(pts)``: homogeneous multiply and divide by the last coordinate."""
    h = np.column_stack([pts, np.ones(len(pts))]) @ params.T
    z = h[:, 2:3].copy()
    z[z == 0] = np.finfo(float).eps
    return h[:, :2] / z


def crop_origins(landmarks: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Top-left (row, col) int [T, 2] of each 96x96 crop in the 256 frame.

    Centre = mean of the frame's own transformed mouth points 48..67, clamped to [48, 208], and
    rounded half to even (Python ``round``).
    """
    lm = np.asarray(landmarks, np.float64)
    out = np.empty((len(lm), 2), np.int64)
    for i in range(len(lm)):
        cx, cy = np.mean(_apply(transforms[i], lm[i, MOUTH]), axis=0)
        cx = min(max(float(cx), HALF), STD_SIZE - HALF)
        cy = min(max(float(cy), HALF), STD_SIZE - HALF)
        out[i] = (round(cy) - HALF, round(cx) - HALF)
    return out


def _source_coords(params: np.ndarray, rows: np.ndarray, cols: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Source (row, col) float64 [R, C] of output pixels rows x cols, as skimage's _warp_fast
    computes them from ``inv(params)`` (affine form when the last row is exactly 0 0 1)."""
    minv = np.linalg.inv(params)
    x = cols.astype(np.float64)[None, :]
    y = rows.astype(np.float64)[:, None]
    if minv[2, 0] == 0 and minv[2, 1] == 0 and minv[2, 2] == 1:
        tc = minv[0, 0] * x + minv[0, 1] * y + minv[0, 2]
        tr = minv[1, 0] * x + minv[1, 1] * y + minv[1, 2]
    else:
        z = minv[2, 0] * x + minv[2, 1] * y + minv[2, 2]
        tc = (minv[0, 0] * x + minv[0, 1] * y + minv[0, 2]) / z
        tr = (minv[1, 0] * x + minv[1, 1] * y + minv[1, 2]) / z
    return tr, tc


def _warp_float(src: np.ndarray, params: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                offset: tuple[int, int] = (0, 0), full_shape: tuple[int, int] | None = None
                ) -> np.ndarray:
    """skimage's bilinear float warp at output pixels rows x cols, before clipping: float64
    [R, C, ch] in [0, 1]. ``src`` may be a patch of the frame at ``offset`` (row, col) of a
    frame of ``full_shape`` (rows, cols); it must hold every in-frame neighbour sampled."""
    tr, tc = _source_coords(params, rows, cols)
    h, w = full_shape if full_shape is not None else src.shape[:2]
    oy, ox = offset
    r0, c0 = np.floor(tr), np.floor(tc)
    r1, c1 = np.ceil(tr), np.ceil(tc)
    dr, dc = (tr - r0)[..., None], (tc - c0)[..., None]
    inv255 = 1.0 / 255

    def px(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        ri = np.where(ok, r - oy, 0).astype(np.intp)
        ci = np.where(ok, c - ox, 0).astype(np.intp)
        v = np.multiply(src[ri, ci], inv255, dtype=np.float64)
        v[~ok] = 0.0
        return v

    top = (1 - dc) * px(r0, c0) + dc * px(r0, c1)
    bottom = (1 - dc) * px(r1, c0) + dc * px(r1, c1)
    return (1 - dr) * top + dr * bottom


def _output_has_zero(params: np.ndarray, h: int, w: int) -> bool:
    """Whether skimage's 256x256 output holds a pixel that is exactly 0 whatever the image
    (all neighbours with non-zero weight outside the h x w frame). Purely geometric."""
    ends = np.array([0, STD_SIZE - 1])
    tr, tc = _source_coords(params, ends, ends)
    if ((tr >= 0) & (tr <= h - 1) & (tc >= 0) & (tc <= w - 1)).all():
        return False  # the output parallelogram lies inside the frame
    if ((tr <= -1) | (tr >= h) | (tc <= -1) | (tc >= w)).any():
        return True  # a corner pixel has all four neighbours outside
    full = np.arange(STD_SIZE)
    tr, tc = _source_coords(params, full, full)
    r0, c0 = np.floor(tr), np.floor(tc)
    r1, c1 = np.ceil(tr), np.ceil(tc)
    dr, dc = tr - r0, tc - c0

    def ok(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return ((r >= 0) & (r < h) & (c >= 0) & (c < w)).astype(np.float64)

    top = (1 - dc) * ok(r0, c0) + dc * ok(r0, c1)
    bottom = (1 - dc) * ok(r1, c0) + dc * ok(r1, c1)
    return bool((((1 - dr) * top + dr * bottom) == 0).any())


def _finish(out: np.ndarray, params: np.ndarray, full_shape: tuple[int, int], vmin: int,
            vmax: int) -> np.ndarray:
    """skimage's clip to the input range [min, max] / 255 (widened to cval 0 when the 256 output
    contains a 0), then the official ``* 255`` and ``astype(uint8)`` truncation."""
    inv255 = 1.0 / 255
    lo, hi = float(np.multiply(vmin, inv255)), float(np.multiply(vmax, inv255))
    if lo > 0.0 and _output_has_zero(params, *full_shape):
        lo = 0.0
    np.clip(out, lo, hi, out=out)
    return (out * 255).astype(np.uint8)


def warp_crop(rgb: np.ndarray, params: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """The 96x96 crop at ``origin`` (row, col) of skimage's 256x256 warp of ``rgb``: uint8.

    Equals ``(warp(rgb, SimilarityTransform(params).inverse, output_shape=(256, 256)) * 255)
    .astype(uint8)[r:r+96, c:c+96]``.
    """
    rows = np.arange(origin[0], origin[0] + CROP)
    cols = np.arange(origin[1], origin[1] + CROP)
    out = _warp_float(rgb, params, rows, cols)
    return _finish(out, params, rgb.shape[:2], int(rgb.min()), int(rgb.max()))


@dataclass
class _Patch:
    """Pixels of one frame around its mouth kept from the first read (saves a second decode)."""

    y0: int
    x0: int
    pixels: np.ndarray  # uint8 [h, w, 3]
    vmin: int  # min / max over the WHOLE frame (skimage clips to them)
    vmax: int


def _mouth_patch(rgb: np.ndarray, points: np.ndarray) -> _Patch | None:
    """Keep the source region the frame's mouth crop will sample, with a safety margin.

    The crop centre maps back to (about) the frame's own mouth centre; its half-diagonal is
    48 * sqrt(2) / scale, with ``scale`` from the frame's own similarity (the smoothed one is
    close; :func:`_crop_from_patch` checks and the caller re-decodes when it is not enough).
    """
    params = umeyama_similarity(points[STABLE_IDS].astype(np.float64), MEAN_FACE_STABLE)
    scale = float(np.sqrt(abs(np.linalg.det(params[:2, :2]))))
    if not np.isfinite(scale) or scale <= 1e-6:
        return None  # degenerate landmarks: this frame is read again
    cx, cy = points[MOUTH].astype(np.float64).mean(axis=0)
    half = 1.35 * HALF * np.sqrt(2.0) / scale + 3.0
    h, w = rgb.shape[:2]
    y0, y1 = max(0, int(cy - half)), min(h, int(np.ceil(cy + half)) + 1)
    x0, x1 = max(0, int(cx - half)), min(w, int(np.ceil(cx + half)) + 1)
    return _Patch(y0, x0, rgb[y0:y1, x0:x1].copy(), int(rgb.min()), int(rgb.max()))


def _crop_from_patch(p: _Patch, full_shape: tuple[int, int], params: np.ndarray,
                     origin: tuple[int, int]) -> np.ndarray | None:
    """:func:`warp_crop` from a kept patch, or None when the crop samples pixels outside it."""
    rows = np.arange(origin[0], origin[0] + CROP)
    cols = np.arange(origin[1], origin[1] + CROP)
    h, w = full_shape
    ends = np.array([0, CROP - 1])
    tr, tc = _source_coords(params, rows[ends], cols[ends])  # the crop is a parallelogram
    r_lo, r_hi = max(0, int(np.floor(tr.min()))), min(h - 1, int(np.ceil(tr.max())))
    c_lo, c_hi = max(0, int(np.floor(tc.min()))), min(w - 1, int(np.ceil(tc.max())))
    ph, pw = p.pixels.shape[:2]
    if not (p.y0 <= r_lo and r_hi < p.y0 + ph and p.x0 <= c_lo and c_hi < p.x0 + pw):
        return None
    out = _warp_float(p.pixels, params, rows, cols, (p.y0, p.x0), full_shape)
    return _finish(out, params, full_shape, p.vmin, p.vmax)


# --- frames ---------------------------------------------------------------------------------------

def _grid_frames(path: str | os.PathLike[str]) -> Iterator[tuple[int, float, np.ndarray]]:
    from forensics_gui.core.media.decode import iter_frames_on_grid

    return iter_frames_on_grid(path, fps=MODEL_FPS, progress=None)


def _probe(path: str | os.PathLike[str]) -> tuple[float, float, tuple[int, int]]:
    """(source fps, duration in seconds, displayed (width, height)) of the video stream."""
    from forensics_gui.core.media.decode import probe

    info = probe(path)
    if info.video is None:
        raise MediaError(f"'{Path(path).name}' has no video stream, so there is no face to crop.")
    v = info.video
    return float(v.fps), float(v.duration_s), (int(v.width), int(v.height))


DECODE_AHEAD = 6  # frames decoded ahead of the face tracking (6 RGB frames: ~37 MB at 1080p)


def _frames(path: str | os.PathLike[str], workers: int) -> ReadAhead[tuple[int, float, np.ndarray]]:
    """The 25 fps grid frames of ``path``, decoded up to ``DECODE_AHEAD`` frames ahead in a
    background thread when ``workers`` >= 2 (decode overlaps the dlib work, which drops the GIL)."""
    return ReadAhead(_grid_frames(path), depth=DECODE_AHEAD if workers >= 2 else 0,
                     name="roi-decode")


# --- the pipeline -------------------------------------------------------------------------------

PATCH_BUDGET_BYTES = 512 * 1024 * 1024  # mouth patches kept from the first read


def extract_mouth_roi(path: str | os.PathLike[str], *, progress: Progress | None = None,
                      workers: int = 2, patch_budget_bytes: int = PATCH_BUDGET_BYTES,
                      official_landmarks: bool = False,
                      preparation: str = DEFAULT_PREPARATION,
                      processes: int | None = None) -> RoiResult:
    """Mouth crops of every 25 fps grid frame of the video at ``path``.

    No face in any frame is not an error: ``face_found`` is False, ``frames_rgb``/``gray`` are
    empty and the landmarks/boxes are NaN. ``workers`` >= 2 decodes in a background thread
    (dlib releases the GIL in the detector, so the two cores overlap). The first read keeps the
    pixels around each detected mouth (up to ``patch_budget_bytes``); frames whose crop needs
    other pixels (undetected frames, big jumps, over budget) are read a second time.
    ``preparation`` "official" (default) gives the official landmarks (exact detection with the
    pyramid levels that cannot hold the face skipped, see :mod:`forensics_gui.core.face.landmarks`);
    "fast" the windowed tracker (landmarks a few px off the official ones, several times faster).
    ``official_landmarks=True`` runs the plain official call on every whole frame (2x
    upsampling, last face; ~0.3 s per 720p frame): the reference for parity checks.
    ``processes``: worker processes for the "official" landmarks (None = automatic, see
    :func:`landmark_processes`; the landmarks are the same either way).
    Raises MediaError for unreadable files, Cancelled when ``progress`` asks to stop.
    """
    source_fps, duration, size = _probe(path)
    total = max(1, model_frame_count(duration))
    points: list[np.ndarray | None] = []
    boxes: list[np.ndarray | None] = []
    patches: list[_Patch | None] = []
    kept = 0
    times: list[float] = []
    frame_shape = (0, 0)
    if preparation not in PREPARATIONS:
        raise ValueError(f"unknown landmark preparation {preparation!r}")
    procs = landmark_processes(processes, workers=workers, preparation=preparation,
                               official=official_landmarks, size=size, frames=total)
    with _frames(path, workers) as frames, \
            contextlib.closing(_landmarked(frames, procs, official_landmarks, preparation)) as marked:
        for k, t, rgb, res in marked:
            check_cancelled(progress)
            if not frame_shape[0]:
                size = (int(rgb.shape[1]), int(rgb.shape[0]))
                frame_shape = (int(rgb.shape[0]), int(rgb.shape[1]))
            patch = None
            if res.points is not None and kept < patch_budget_bytes:
                patch = _mouth_patch(rgb, res.points)
                kept += 0 if patch is None else patch.pixels.nbytes
            points.append(res.points)
            boxes.append(res.box)
            patches.append(patch)
            times.append(float(t))
            if progress is not None:
                progress.report("landmarks", k + 1, max(total, k + 1))
    n = len(times)
    if n == 0:
        raise MediaError(f"{Path(path).name} has no decodable video frames.")
    detected = np.array([p is not None for p in points], bool)
    times_s = np.asarray(times, np.float64)
    if not detected.any():
        return RoiResult(np.zeros((0, CROP, CROP, 3), np.uint8), np.zeros((0, CROP, CROP), np.uint8),
                         times_s, np.full((n, 68, 2), np.nan, np.float32), detected,
                         np.full((n, 4), np.nan, np.float32), False, source_fps, size,
                         "official" if official_landmarks else preparation)
    lm_raw = np.zeros((n, 68, 2))
    box_raw = np.zeros((n, 4))
    for i in np.flatnonzero(detected):
        lm_raw[i], box_raw[i] = points[i], boxes[i]
    lm = interpolate_track(lm_raw, detected)
    face_boxes = interpolate_track(box_raw, detected).astype(np.float32)
    tforms = roi_transforms(lm)
    origins = [(int(r), int(c)) for r, c in crop_origins(lm, tforms)]

    crops = np.zeros((n, CROP, CROP, 3), np.uint8)
    missing: list[int] = []
    for k in range(n):
        p = patches[k]
        crop = None if p is None else _crop_from_patch(p, frame_shape, tforms[k], origins[k])
        patches[k] = None
        if crop is None:
            missing.append(k)
        else:
            crops[k] = crop
        if progress is not None and k % 25 == 0:
            check_cancelled(progress)
            progress.report("mouth crop", k + 1 - len(missing), n)
    if missing:
        _crops_from_second_read(path, crops, tforms, origins, missing, progress, workers)
    if progress is not None:
        progress.report("mouth crop", n, n)
    return RoiResult(crops, rgb_to_gray_cv2(crops), times_s, lm.astype(np.float32), detected,
                     face_boxes, True, source_fps, size,
                     "official" if official_landmarks else preparation)


def _landmarked(frames: Iterator[tuple[int, float, np.ndarray]], processes: int, official: bool,
                preparation: str) -> Generator[tuple[int, float, np.ndarray, FrameLandmarks]]:
    """(k, t, rgb, landmarks) of every frame, in order: in this process, or in worker processes."""
    if processes > 0:
        yield from pooled_landmarks(frames, processes)
        return
    tracker: FaceTracker | None = None
    for k, t, rgb in frames:
        if tracker is None:
            tracker = FaceTracker((int(rgb.shape[1]), int(rgb.shape[0])), official=official,
                                  preparation=preparation)
        yield k, t, rgb, tracker.process(rgb)


def _crops_from_second_read(path: str | os.PathLike[str], crops: np.ndarray,
                            tforms: np.ndarray, origins: list[tuple[int, int]],
                            missing: list[int], progress: Progress | None, workers: int) -> None:
    """Fill ``crops[k]`` for k in ``missing`` from a second decode of the file."""
    todo = set(missing)
    n = len(crops)
    with _frames(path, workers) as frames:
        for k, _t, rgb in frames:
            check_cancelled(progress)
            if k in todo:
                crops[k] = warp_crop(rgb, tforms[k], origins[k])
                todo.discard(k)
                if progress is not None:
                    progress.report("mouth crop", n - len(todo), n)
            if not todo or k >= n:
                break
    if todo:
        raise MediaError(f"{Path(path).name} gave fewer frames on the second read; the file may "
                         "be changing or damaged.")


# --- files --------------------------------------------------------------------------------------

# The official preparation runs ``ffmpeg -f concat -i <BGR PNGs> -q:v 1 -r 25 -y -crf 20 out.mp4``
# with no -pix_fmt: ffmpeg then picks the encoder format losing least from the PNGs' rgb24, which
# for libx264 is yuv444p ("No pixel format specified, yuv444p for H.264 encoding chosen").
ROI_PIX_FMT = "yuv444p"


def write_roi_video(result: RoiResult, path: str | os.PathLike[str], *,
                    pix_fmt: str = ROI_PIX_FMT, deterministic: bool = True) -> None:
    """Write the colour crops as a 96x96, 25 fps, libx264 crf 20 (preset medium) mp4, atomically.

    ``pix_fmt`` defaults to what the official ffmpeg command produces from RGB PNGs (yuv444p);
    pass "yuv420p" for players that need it. RGB -> YUV uses swscale's bicubic flag (ffmpeg's
    default). ``deterministic``: x264's assembly paths (with mb-tree rate control) gave
    different bitstreams for the same frames from run to run in this build (several variants,
    up to 27 grey levels apart after decoding); x264's C paths (``asm=0``, ~3 ms per frame
    instead of ~1) are reproducible, so the same clip always gives the same ROI video.
    Raises NoFaceError when the result has no crops.
    """
    import av

    if not result.face_found or len(result.frames_rgb) == 0:
        raise NoFaceError("No face was found in the video, so there is no mouth ROI to write.")
    with atomic_path(path, suffix=".mp4") as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            st = out.add_stream("libx264", rate=MODEL_FPS)
            st.width = st.height = CROP
            st.pix_fmt = pix_fmt
            st.options = {"crf": "20", **({"x264-params": "asm=0"} if deterministic else {})}
            # without an explicit codec time base, x264's output varied from run to run
            st.codec_context.time_base = Fraction(1, MODEL_FPS)
            for i, img in enumerate(result.frames_rgb):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame = frame.reformat(format=pix_fmt, interpolation="BICUBIC")
                frame.pts, frame.time_base = i, Fraction(1, MODEL_FPS)
                out.mux(st.encode(frame))
            out.mux(st.encode(None))


def load_roi_video(path: str | os.PathLike[str]) -> np.ndarray:
    """uint8 [T, 96, 96]: frames decoded to RGB (bicubic, as OpenCV's reader) then
    :func:`rgb_to_gray_cv2` (the official cv2 BGR2GRAY read path)."""
    import av

    grays = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                rgb = frame.to_ndarray(format="rgb24", interpolation="BICUBIC")
                grays.append(rgb_to_gray_cv2(rgb))
    except av.error.FFmpegError as err:
        raise MediaError(f"{Path(path).name} cannot be read as an ROI video ({err}).") from err
    if not grays:
        return np.zeros((0, CROP, CROP), np.uint8)
    return np.stack(grays)


def roi_roundtrip(result: RoiResult) -> np.ndarray:
    """What the model sees in the official pipeline: the crops through the mp4 and back to grey."""
    with tempfile.TemporaryDirectory(prefix="fg-roi-") as tmp:
        path = Path(tmp) / "roi.mp4"
        write_roi_video(result, path)
        return load_roi_video(path)


def save_landmarks(result: RoiResult | LandmarkTrack, path: str | os.PathLike[str]) -> None:
    """Store landmarks, detected, face_boxes, times and the :func:`preparation_record` (one
    string array per field, ``preparation``, ``dlib_version``, ...) as .npz, atomically."""
    record = preparation_record(result.preparation)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            arrays: dict[str, np.ndarray] = {
                "landmarks": result.landmarks, "detected": result.detected,
                "face_boxes": result.face_boxes, "times_s": result.times_s,
                "face_found": np.asarray(result.face_found, bool),
                "source_fps": np.asarray(result.source_fps, np.float64),
                "source_size": np.asarray(result.source_size, np.int64),
                **{k: np.asarray(v) for k, v in record.items()}}
            np.savez(fh, **arrays)  # type: ignore[arg-type]


_RECORD_KEYS = ("preparation", "dlib_version", "landmark_model_sha256", "mean_face_sha256")


def load_landmarks(path: str | os.PathLike[str]) -> LandmarkTrack:
    """Read a file written by :func:`save_landmarks`."""
    from forensics_gui.core.files.npz import read_npz

    z = read_npz(path, what="landmarks file", error=MediaError)  # sizes checked, never unpickled
    try:
        record = {k: str(z[k]) for k in _RECORD_KEYS if k in z} or None
        return LandmarkTrack(z["landmarks"], z["detected"], z["face_boxes"], z["times_s"],
                             bool(z["face_found"]), float(z["source_fps"]),
                             (int(z["source_size"][0]), int(z["source_size"][1])),
                             record.get("preparation", "unknown") if record else "unknown",
                             record)
    except (KeyError, ValueError, IndexError, TypeError) as err:
        raise MediaError(f"{Path(path).name} is not a landmarks file written by forensics-gui "
                         f"({err}).") from err
