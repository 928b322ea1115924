"""The frame, the face box and the 96x96 mouth crop at chosen times, for pictures and reports
made without the viewer (no Qt).

:func:`face_and_mouth` prefers what the model really saw: the face track and grey mouth crops an
earlier analysis of the same clip (same SHA-256, same preparation) left in the analysis cache
(:func:`forensics_gui.core.pipeline.cached_mouth_roi`, read only). Without one, it runs the
landmarks of the chosen preparation on the frames around each time and cuts the crop with the
official steps of :mod:`forensics_gui.core.face.roi` (forward smoothing over the next 12 model
frames, similarity to the mean face, 96x96 crop, OpenCV grey), and says so: such a crop is the
official one when the face is found in all those frames, but it skips the model's mp4 round trip.

Times are seconds on the media time axis; the face box and mouth crop belong to the 25 fps model
frame that contains the time (:func:`forensics_gui.core.media.timebase.model_frame_of`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forensics_gui.core.face.landmarks import DEFAULT_PREPARATION, PREPARATIONS
from forensics_gui.core.progress import Progress, check_cancelled

SOURCE_ANALYSIS = "analysis"  # the crop the model saw (the analysis cache of this clip)
SOURCE_REDETECTED = "re-detected"  # landmarks run again for this picture
SOURCE_NONE = "none"  # no face (or no video)

REDETECT_WINDOW = 12  # model frames whose landmarks are averaged (roi.WINDOW, the official value)

NOTE_ANALYSIS = "Mouth crop as the model saw it (from this clip's analysis)."
NOTE_ANALYSIS_INTERPOLATED = ("Mouth crop as the model saw it; the face was not detected in this "
                              "frame, so its position is interpolated from the nearby frames.")
NOTE_REDETECTED = ("Mouth crop re-detected for this picture ({preparation} landmarks); no "
                   "analysis of this clip was found, so it may differ slightly from what the "
                   "model saw.")
NOTE_REDETECTED_INTERPOLATED = ("Mouth crop re-detected for this picture ({preparation} "
                                "landmarks); the face was not detected in this frame, so its "
                                "position is interpolated from the nearby frames.")
NOTE_NO_FACE = "No face was found at this time, so there is no face box or mouth crop."
NOTE_NO_FACE_ANALYSIS = "The analysis found no face in this clip, so there is no mouth crop."
NOTE_NO_VIDEO = "The file has no video stream, so there is no frame, face or mouth crop."


@dataclass
class FaceView:
    """One time of a clip: its frame, face box and mouth crop, and where they came from."""

    time_s: float  # the time asked for, clamped to the clip
    frame: np.ndarray | None  # uint8 [H, W, 3] RGB frame displayed at time_s (None: no video)
    frame_index: int | None  # source frame number of ``frame`` (0-based)
    model_frame: int | None  # the 25 fps model frame the box and crop belong to
    face_box: tuple[float, float, float, float] | None  # x0, y0, x1, y1 in frame pixels
    face_detected: bool  # False: no face, or the box was interpolated between detections
    mouth: np.ndarray | None  # uint8 [96, 96] grey mouth crop
    source: str  # SOURCE_ANALYSIS, SOURCE_REDETECTED or SOURCE_NONE
    note: str  # one plain sentence saying where the crop comes from

    @property
    def has_face(self) -> bool:
        return self.face_box is not None


def face_and_mouth(path: str | os.PathLike[str], times_s: Sequence[float], *,
                   preparation: str = DEFAULT_PREPARATION, sha256: str | None = None,
                   use_cache: bool = True, window: int = REDETECT_WINDOW,
                   progress: Progress | None = None) -> list[FaceView]:
    """The frame, face box and mouth crop of ``path`` at each of ``times_s`` (seconds).

    ``preparation`` ("official" or "fast"): the landmarks whose cached analysis is looked up and
    that a re-detection runs (pass the result's ``preparation["preparation"]``). ``sha256``: the
    clip's SHA-256 when the caller has it (else it is computed for the cache lookup).
    ``use_cache=False`` always re-detects. Never writes anything. Raises MediaError for a file
    that cannot be read, Cancelled when ``progress`` asks to stop; a time outside the clip is
    clamped to it, and a clip without a face or without video gives views without one.
    """
    from forensics_gui.core.media.decode import VideoReader, probe
    from forensics_gui.core.media.timebase import model_frame_count, model_frame_of

    if preparation not in PREPARATIONS:
        raise ValueError(f"unknown landmark preparation {preparation!r}")
    info = probe(path)
    times = [float(t) for t in times_s]
    if info.video is None:
        return [FaceView(max(0.0, t), None, None, None, None, False, None, SOURCE_NONE,
                         NOTE_NO_VIDEO) for t in times]
    duration = float(info.video.duration_s or info.duration_s or 0.0)
    cached = None
    if use_cache and times:
        from forensics_gui.core.files.hashing import sha256_file
        from forensics_gui.core.pipeline import cached_mouth_roi

        cached = cached_mouth_roi(sha256 or sha256_file(path), preparation)
    n_model = max(1, model_frame_count(duration))
    views: list[FaceView] = []
    redetect = _Redetector(preparation, max(1, int(window)))
    with VideoReader(path) as reader:
        for t in times:
            check_cancelled(progress)
            t = min(max(0.0, t), duration) if duration > 0 else max(0.0, t)
            vf = reader.frame_at(t)
            k = min(max(0, model_frame_of(t)), n_model - 1)
            if cached is not None:
                view = _from_analysis(cached, t, k, vf.image, vf.index)
            else:
                view = redetect.view(reader, t, k, n_model, vf.image, vf.index)
            views.append(view)
    return views


def _box(values: Any) -> tuple[float, float, float, float] | None:
    box = np.asarray(values, np.float64).reshape(-1)
    if box.size != 4 or not np.isfinite(box).all():
        return None
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def view_from_track(face: Any, gray: np.ndarray | None, t: float, frame: np.ndarray | None,
                    index: int | None) -> FaceView:
    """The view at ``t`` seconds from an analysis' face track (pipeline.FaceTrack) and grey mouth
    crops (what the model saw): the viewer's picture uses this with its own analysis."""
    from forensics_gui.core.media.timebase import model_frame_of

    return _from_analysis((face, gray), t, max(0, model_frame_of(t)), frame, index)


def _from_analysis(cached: tuple[Any, np.ndarray | None], t: float, k: int,
                   frame: np.ndarray | None, index: int | None) -> FaceView:
    face, gray = cached
    if face is None:
        return FaceView(t, frame, index, k, None, False, None, SOURCE_NONE, "")
    if not face.face_found or gray is None or len(gray) == 0:
        return FaceView(t, frame, index, k, None, False, None, SOURCE_ANALYSIS,
                        NOTE_NO_FACE_ANALYSIS)
    k = min(k, len(face.face_boxes) - 1, len(gray) - 1)
    detected = bool(face.detected[k])
    return FaceView(t, frame, index, k, _box(face.face_boxes[k]), detected,
                    np.ascontiguousarray(gray[k], np.uint8), SOURCE_ANALYSIS,
                    NOTE_ANALYSIS if detected else NOTE_ANALYSIS_INTERPOLATED)


class _Redetector:
    """Landmarks of model frames, computed once per frame across the times of one call."""

    def __init__(self, preparation: str, window: int) -> None:
        self.preparation, self.window = preparation, window
        self.found: dict[int, tuple[np.ndarray | None, np.ndarray | None]] = {}  # k -> points, box

    def _landmarks(self, reader: Any, frames: range, k: int) -> np.ndarray | None:
        """Landmarks of ``frames`` (in order, one track); returns model frame ``k``'s image when
        it was decoded here (only that one is kept: memory stays bounded for any window)."""
        from forensics_gui.core.face.landmarks import FaceTracker
        from forensics_gui.core.media.timebase import model_frame_start

        tracker = None
        image_k = None
        for j in frames:
            if j in self.found:
                tracker = None  # the next new frame starts a fresh track
                continue
            rgb = reader.frame_at(float(model_frame_start(j))).image
            if tracker is None:
                tracker = FaceTracker((int(rgb.shape[1]), int(rgb.shape[0])),
                                      preparation=self.preparation)
            res = tracker.process(rgb)
            self.found[j] = (res.points, res.box)
            if j == k:
                image_k = rgb
        return image_k

    def view(self, reader: Any, t: float, k: int, n_model: int, frame: np.ndarray,
             index: int) -> FaceView:
        from forensics_gui.core.face import roi
        from forensics_gui.core.face.landmarks import interpolate_track, rgb_to_gray_cv2

        margin = min(n_model, self.window)
        j0 = max(0, min(k, n_model - margin))  # the official forward window of frame k
        frames = range(j0, j0 + margin)
        rgb = self._landmarks(reader, frames, k)
        detected = np.array([self.found[j][0] is not None for j in frames], bool)
        if not detected.any():
            return FaceView(t, frame, index, k, None, False, None, SOURCE_NONE, NOTE_NO_FACE)
        lm_raw = np.zeros((margin, 68, 2))
        box_raw = np.zeros((margin, 4))
        for i, j in enumerate(frames):
            points, box = self.found[j]
            if points is not None and box is not None:
                lm_raw[i], box_raw[i] = points, box
        lm = interpolate_track(lm_raw, detected)
        boxes = interpolate_track(box_raw, detected)
        params = roi.roi_transforms(lm, window=margin)[0]  # mean over the window, as official
        i = k - j0
        r, c = roi.crop_origins(lm[i:i + 1], params[None])[0]
        if rgb is None:
            from forensics_gui.core.media.timebase import model_frame_start

            rgb = reader.frame_at(float(model_frame_start(k))).image
        crop = roi.warp_crop(rgb, params, (int(r), int(c)))
        mouth = rgb_to_gray_cv2(crop[None])[0]
        name = self.preparation
        note = (NOTE_REDETECTED if detected[i] else NOTE_REDETECTED_INTERPOLATED).format(
            preparation=name)
        return FaceView(t, frame, index, k, _box(boxes[i]), bool(detected[i]),
                        np.ascontiguousarray(mouth, np.uint8), SOURCE_REDETECTED, note)


__all__ = ["FaceView", "face_and_mouth", "view_from_track", "SOURCE_ANALYSIS", "SOURCE_REDETECTED", "SOURCE_NONE",
           "REDETECT_WINDOW"]
