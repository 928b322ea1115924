"""The exported picture's content as plain data: what a reader needs without the app.

The frame with the face box and the mouth crop; the WHOLE clip's lanes on one time axis (the
waveform, the mismatch curves on their true scale with the "unusually high for this clip" line,
the ground truth as bands), the stretches to check shaded across every lane, the playhead; an
inset of the first 100 ms of sound with the leading silence; a plain-language caption (what the
curve means, that the score is relative and not proof, what the silence means), warnings, and
the provenance footer (file, SHA-256, models with SHA-256, mouth-crop preparation, app version,
UTC time, the note).

Qt-free, so the viewer and the headless ``forensics-gui snapshot`` command build the same data
(:func:`apply_result` turns an analysis result dict, the viewer's or a RESULT.json, into curves
and caption lines for both) and one renderer (:mod:`forensics_gui.ui.snapshot`) paints it.
Times are seconds on the media time axis.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.encoder.devices import recorded_precision
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence import wording
from forensics_gui.core.media.silence import DEFAULT_THRESHOLD
from forensics_gui.core.media.timebase import format_timecode, model_frame_times

# Envelope columns of the whole-clip waveform and of the first-100-ms inset (one per pixel of
# the renderer's strips, which are at most this wide).
WAVE_PIXELS = 1248
INSET_S = 0.100  # the inset shows the first 100 ms of sound
INSET_PIXELS = 400
FIND_GROUNDTRUTH = "find"  # build_snapshot_data(groundtruth=...): look next to the clip

RESULT_COLOURS = {"untrimmed": "#4fa3ff", "trimmed": "#ff9f43",
                  "supervised untrimmed": "#c77dff", "supervised trimmed": "#ff6ad5"}
GT_COLOURS = {"audio": "#ff9f43", "visual": "#4fa3ff", "both": "#ff5c5c"}
GT_NAMES = {"audio": "sound", "visual": "picture", "both": "either"}  # rows "changed: ..."


@dataclass
class Curve:
    """A value-per-time curve on its TRUE scale (``values`` as the model gave them).

    Curves with the same ``lane`` share one strip and one value axis; ``threshold`` is the
    dashed "unusually high for this clip" line of this curve (None: none)."""

    name: str
    times: np.ndarray
    values: np.ndarray
    colour: str = "#4fa3ff"
    threshold: float | None = None
    lane: str = wording.MISMATCH_CURVE


@dataclass
class Band:
    """One ground-truth row: the stretches (start_s, end_s) that were changed."""

    name: str
    regions: list[tuple[float, float]]
    colour: str


LIPSYNC_SECTION = "mouth_and_voice"  # the RESULT.json section of the mouth-and-voice measures
LIPSYNC_NAME = "Mouth and voice"
MOUTH_COLOUR = "#f4d35e"
LOUDNESS_COLOUR = "#7fd4a8"
LIPSYNC_FLAG_COLOUR = "#e040fb"
LOUDNESS_FLOOR_DB = 60.0  # a dB loudness is drawn over the loudest 60 dB of the clip


def looks_like_decibels(values: Any) -> bool:
    """True for a loudness in dB (values below zero), False for a 0-1 envelope."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size and float(v.min()) < -1e-6)


def scaled(values: Any, *, decibels: bool = False) -> np.ndarray:
    """``values`` on a 0-1 scale of their own, NaN kept (no data there): how the lane, the
    picture and the report draw the mouth opening over the speech loudness.

    The mouth opening: 0 = closed, 1 = the clip's widest (98th percentile, so one outlier frame
    does not flatten the rest). A loudness in dB (``decibels``): the loudest 60 dB of the clip
    mapped to 0-1; a linear one divided by its 98th percentile. All-NaN stays NaN; a constant
    or zero input gives zeros."""
    v = np.asarray(values, np.float64)
    out = np.full(v.shape, np.nan)
    finite = np.isfinite(v)
    if not finite.any():
        return out
    top = float(np.percentile(v[finite], 98))
    if decibels:
        low = max(float(np.min(v[finite])), top - LOUDNESS_FLOOR_DB)
        span = top - low
        out[finite] = (v[finite] - low) / span if span > 1e-9 else 0.0
    else:
        out[finite] = v[finite] / top if top > 1e-12 else 0.0
    return np.clip(out, 0.0, 1.0)


@dataclass
class LipSyncLane:
    """The picture's "Mouth and voice" lane: per 25 fps frame (``times`` = frame starts, s) the
    mouth opening and the speech loudness, each on its own 0-1 scale (:func:`scaled`), the
    stretches where they stop agreeing (``flagged``) and the plain readings."""

    times: np.ndarray
    mouth: np.ndarray
    loudness: np.ndarray
    flagged: list[tuple[float, float]] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)


def _floats(values: Any) -> np.ndarray:
    return np.asarray([np.nan if x is None else float(x) for x in (values or [])], np.float64)


def lipsync_lane_of(section: Any) -> LipSyncLane | None:
    """The lane from a result's ``mouth_and_voice`` section (``LipSyncResult.to_dict()``:
    ``mouth_opening``, ``loudness_db``, ``times_s``, ``flagged``, ``readings``); None without one. Raises TypeError/ValueError for a malformed section."""
    if not isinstance(section, dict):
        return None
    mouth = _floats(section.get("mouth_opening"))
    loud = _floats(section.get("loudness_db", section.get("loudness")))  # dB re full scale
    times = section.get("times_s")
    n = max(len(mouth), len(loud))
    t = (np.asarray(times, np.float64) if times is not None and len(times) == n
         else model_frame_times(n, int(section.get("first_model_frame") or 0)))
    if len(mouth) != n:
        mouth = np.full(n, np.nan)
    if len(loud) != n:
        loud = np.full(n, np.nan)
    flagged = []
    for seg in section.get("flagged") or []:
        s, e = _num(seg[0]), _num(seg[1])
        if s is not None and e is not None and e > s:
            flagged.append((s, e))
    readings = [str(r) for r in section.get("readings") or [] if isinstance(r, str) and r.strip()]
    return LipSyncLane(t, scaled(mouth), scaled(loud, decibels=looks_like_decibels(loud)),
                       flagged, readings)


LIPSYNC_DRAWN = (
    "The mouth-and-voice lane draws how far the mouth is open (yellow) over how loud the speech "
    "is (green), each on its own 0-1 scale; magenta marks where they stop agreeing.")
LIPSYNC_MEANING = (
    "In real speech they rise and fall together, perhaps a frame or two apart. It is a simple "
    "measure with no trained model, separate from AVH-Align: several faces, profiles, music or "
    "a quiet speaker can also make them disagree, so it is not proof.")


def lipsync_meaning() -> str:
    """What the picture's mouth-and-voice lane shows and means (the core wording's meaning
    when it has one)."""
    return f"{LIPSYNC_DRAWN} {getattr(wording, 'MOUTH_AND_VOICE_MEANING', LIPSYNC_MEANING)}"


def lipsync_line(lane: LipSyncLane) -> str:
    """The caption's one line about the lane: the flagged stretches, or that none was."""
    if lane.flagged:
        spans = ", ".join(f"{format_timecode(s)[3:]}–{format_timecode(e)[3:]}"
                          for s, e in lane.flagged[:6])
        more = f" and {len(lane.flagged) - 6} more" if len(lane.flagged) > 6 else ""
        head = (f"{LIPSYNC_NAME} (no trained model; separate from AVH-Align): mouth and voice "
                f"stop agreeing at {spans}{more} (shaded magenta in its lane)")
    else:
        head = (f"{LIPSYNC_NAME} (no trained model; separate from AVH-Align): no stretch where "
                "mouth and voice stop agreeing")
    overall = lane.readings[-1] if lane.readings else ""
    return f"{head}. {overall}".strip() if overall and overall not in head else head


@dataclass
class SnapshotData:
    """Plain data for one exported picture (see the module docstring).

    ``envelope``: core.waveform Envelope of the whole clip ``window`` (0 .. duration);
    ``inset``: Envelope of the first :data:`INSET_S` seconds of sound (from ``audio_start_s``).
    ``warnings``: sentences drawn prominently above the caption (a damaged file, a result that
    could not be checked); ``extra_lines``: summary lines (scores, stretches, ground truth).
    """

    frame: np.ndarray | None  # HxWx3 uint8 RGB
    time_s: float
    file_name: str
    sha256: str
    version: str
    created: str = ""  # ISO 8601 UTC (utc_stamp())
    frame_index: int | None = None
    frame_notice: str = ""
    envelope: Any = None
    window: tuple[float, float] = (0.0, 1.0)  # the time axis of every lane: the whole clip
    silence: Any = None  # SilenceResult (leading_silence_ms, threshold) or None
    silence_note: str = ""  # shown when ``silence`` is None ("no audio stream")
    audio_start_s: float = 0.0
    note: str = ""
    extra_lines: list[str] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    inset: Any = None
    segments: list[tuple[float, float]] = field(default_factory=list)  # stretches to check
    groundtruth: list[Band] = field(default_factory=list)
    groundtruth_note: str = ""
    face_box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 frame pixels
    face_detected: bool = True  # False: the box is interpolated between detections
    mouth: np.ndarray | None = None  # uint8 [96, 96] grey mouth crop
    mouth_note: str = ""
    models: list[dict[str, Any]] = field(default_factory=list)
    preparation: dict[str, Any] | None = None
    result_name: str = ""  # the RESULT.json the curves come from ("" in the viewer)
    warnings: list[str] = field(default_factory=list)
    lipsync: LipSyncLane | None = None  # the "Mouth and voice" lane (no model files needed)

    @property
    def duration_s(self) -> float:
        return float(self.window[1])

    @property
    def has_result(self) -> bool:
        return bool(self.curves)


def utc_stamp(when: _dt.datetime | None = None) -> str:
    """The creation time, ISO 8601 in UTC (``2026-01-02T03:04:05Z``)."""
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


now_stamp = utc_stamp  # the name earlier versions used


def _scores(values: Any) -> np.ndarray:
    return np.asarray([np.nan if x is None else x for x in values], np.float64)


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _variant_curve(name: str, v: dict[str, Any], lane: str, colour: str) -> Curve:
    scores = _scores(v["frame_scores"])
    times = v.get("times_s")
    times = (np.asarray(times, np.float64) if times is not None and len(times) == len(scores)
             else model_frame_times(len(scores), int(v.get("first_model_frame") or 0)))
    return Curve(name, times, scores, colour, _num(v.get("threshold")), lane)


def curves_from_result(result: dict[str, Any]) -> tuple[list[Curve], list[str]]:
    """Curves (true scale, with their thresholds) and summary lines from an analysis result dict
    (``ClipAnalysis.to_dict()``: the viewer's analysis or an ``analyze`` RESULT.json).

    ``variants`` ({name: {frame_scores, times_s, threshold, video_score, pool, ...}}) when
    present, else the top-level fields; ``supervised`` variants go in a lane of their own. A
    result without scores gives no curve. Raises TypeError/ValueError for malformed scores.
    """
    variants = result.get("variants")
    if not isinstance(variants, dict) or not variants:
        variants = {"untrimmed": result} if "frame_scores" in result else {}
    curves: list[Curve] = []
    lines: list[str] = []
    groups = [(variants, wording.MISMATCH_CURVE, "")]
    sup = result.get("supervised")
    if isinstance(sup, dict) and sup:
        groups.append((sup, wording.SUPERVISED_CURVE, "supervised "))
    for group, lane, prefix in groups:
        for name, v in group.items():
            if not isinstance(v, dict) or "frame_scores" not in v:
                continue
            plain = (wording.MISMATCH_CURVE_TRIMMED if name == "trimmed" and not prefix
                     else lane if name == "untrimmed"
                     else f"{lane}, leading silence removed" if name == "trimmed"
                     else f"{lane}, {name}")
            curves.append(_variant_curve(plain, v, lane,
                                         RESULT_COLOURS.get(prefix + str(name), "#4fa3ff")))
            score = _num(v.get("video_score"))
            score_text = "not available" if score is None else f"{score:.3f}"
            lines.append(f"{wording.VIDEO_SCORE} ({plain}): {score_text}")
    return curves, lines


def segments_of(result: dict[str, Any]) -> list[tuple[float, float]]:
    """The stretches to check of the headline result (``suspicious_segments``; else those of the
    untrimmed or first variant), as (start_s, end_s)."""
    raw = result.get("suspicious_segments")
    if raw is None:
        variants = result.get("variants")
        if isinstance(variants, dict) and variants:
            main = variants.get("untrimmed") or next(iter(variants.values()))
            raw = main.get("suspicious_segments") if isinstance(main, dict) else None
    out = []
    for seg in raw or []:
        s, e = _num(seg[0]), _num(seg[1])
        if s is not None and e is not None and e > s:
            out.append((s, e))
    return out


def preparation_line(record: dict[str, Any] | None) -> str:
    """One caption line saying which mouth-crop preparation made the scores
    (``roi.preparation_record()``; "not recorded" for results from before it existed)."""
    if not isinstance(record, dict) or not record.get("preparation"):
        return "Mouth crop: preparation not recorded"
    return (f"Mouth crop: {record['preparation']} landmarks (dlib {record.get('dlib_version', '?')}, "
            f"landmark model SHA-256 {record.get('landmark_model_sha256', '')}, "
            f"mean face SHA-256 {record.get('mean_face_sha256', '')})")


def apply_result(data: SnapshotData, result: dict[str, Any] | None, result_name: str = "") -> None:
    """Put an analysis result dict (the viewer's ``ClipAnalysis.to_dict()`` or a RESULT.json)
    into ``data``: curves, stretches to check, models, preparation and the summary lines. The one
    path for the viewer and the command line. Raises ForensicsError for malformed scores."""
    if result is None:
        return
    try:
        curves, lines = curves_from_result(result)
        segments = segments_of(result)
        lipsync = lipsync_lane_of(result.get(LIPSYNC_SECTION))
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as err:
        where = f"The result file {result_name}" if result_name else "The analysis result"
        raise ForensicsError(f"{where} has malformed scores ({err}).") from err
    data.curves, data.segments, data.result_name = curves, segments, result_name
    models = result.get("models")
    data.models = [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    prep = result.get("preparation")
    data.preparation = prep if isinstance(prep, dict) else None
    if curves:
        if segments:
            spans = ", ".join(f"{format_timecode(s)[3:]}–{format_timecode(e)[3:]}"
                              for s, e in segments[:6])
            more = f" and {len(segments) - 6} more" if len(segments) > 6 else ""
            lines.append(f"Stretches to check (shaded): {spans}{more}")
        else:
            lines.append("Stretches to check: none (no stretch stays above the "
                         "dashed line long enough)")
    data.lipsync = lipsync
    if lipsync is not None:
        lines.append(lipsync_line(lipsync))
    data.extra_lines = lines + data.extra_lines


def groundtruth_bands(gt: Any, duration_s: float) -> tuple[list[Band], str]:
    """Ground-truth rows (sound / picture / any) and a one-line note, from a core GroundTruth.

    Whole-clip labels without times (FakeAVCeleb) span the whole clip."""
    if gt is None:
        return [], ""
    if gt.has_timestamps:
        spans = {"audio": list(gt.audio_segments), "visual": list(gt.visual_segments),
                 "both": list(gt.fake_segments)}
        whole = ""
    else:
        flags = gt.whole_clip_labels or {}
        clip = [(0.0, float(duration_s))]
        spans = {"audio": clip if flags.get("audio_fake") else [],
                 "visual": clip if flags.get("video_fake") else [],
                 "both": clip if (flags.get("audio_fake") or flags.get("video_fake")) else []}
        whole = " (labels for the whole clip, no times)"
    bands = [Band(GT_NAMES[k], [(float(s), float(e)) for s, e in spans[k]], GT_COLOURS[k])
             for k in ("audio", "visual", "both")]
    label = gt.label or "unknown"
    source = f" from {gt.source_format}" if getattr(gt, "source_format", "") else ""
    return bands, f"Ground truth{source}: {label}{whole} (shaded bands)"


def apply_groundtruth(data: SnapshotData, gt: Any) -> None:
    data.groundtruth, data.groundtruth_note = groundtruth_bands(gt, data.duration_s)


def apply_face(data: SnapshotData, view: Any) -> None:
    """The face box and mouth crop of a :class:`~forensics_gui.core.evidence.frames.FaceView`."""
    if view is None:
        return
    data.face_box, data.face_detected = view.face_box, bool(view.face_detected)
    data.mouth, data.mouth_note = view.mouth, view.note


# -- the caption -----------------------------------------------------------------------------

def meaning_paragraphs(data: SnapshotData) -> list[str]:
    """What the picture shows, in plain words (wrapped by the renderer)."""
    out = []
    if data.curves:
        out += [wording.CURVE_MEANING, wording.THRESHOLD_MEANING, wording.RELATIVE_NOT_PROOF]
    else:
        out.append("No analysis result is shown, so there is no mismatch curve; run an analysis "
                   "(Analysis > Analyze, or 'forensics-gui analyze' and --result) to add it.")
    if data.lipsync is not None:
        out.append(lipsync_meaning())
    if data.silence is not None or data.silence_note:
        out.append(wording.SILENCE_MEANING)
    return out


def summary_lines(data: SnapshotData) -> list[str]:
    """Time, silence, scores, stretches, ground truth and the mouth crop's origin."""
    frame = f"   {wording.FRAME_NUMBER} {data.frame_index}" if data.frame_index is not None else ""
    if data.silence is not None:
        silence = (f"{wording.SILENCE_NAME}: {data.silence.leading_silence_ms:.1f} ms "
                   f"({wording.QUIET_LEVEL.lower()} {data.silence.threshold:g}, tau)")
    else:
        silence = f"{wording.SILENCE_NAME}: {data.silence_note or 'not available'}"
    lines = [f"Time shown: {format_timecode(data.time_s)}{frame}", silence, *data.extra_lines]
    if data.groundtruth_note:
        lines.append(data.groundtruth_note)
    if data.mouth_note:
        lines.append(data.mouth_note)
    return lines


def provenance_lines(data: SnapshotData) -> list[str]:
    """The footer: file, SHA-256, result file, models with SHA-256, the encoder precision when
    it is not the exact float32 (with its caveat), preparation, app, UTC time, note."""
    lines = [f"File: {data.file_name}", f"SHA-256: {data.sha256}"]
    if data.result_name:
        lines.append(f"Result: {data.result_name}")
    for m in data.models:
        role = {"features": "Feature model", "phi": "Mismatch model",
                "supervised": "Second detector"}.get(str(m.get("role", "")), "Model")
        lines.append(f"{role}: {m.get('name', '')}  SHA-256 {m.get('sha256', '')}")
    precision = wording.precision_line(recorded_precision(data.models))
    if precision:  # named only when not the exact float32
        lines.append(precision)
    if data.curves or data.preparation:
        lines.append(preparation_line(data.preparation))
    lines.append(f"Made with forensics-gui {data.version or '?'} on {data.created or utc_stamp()} "
                 "(UTC)")
    if data.note:
        lines += [f"Note: {line}" if i == 0 else f"      {line}"
                  for i, line in enumerate(data.note.strip().splitlines())]
    return lines


def caption_lines(data: SnapshotData) -> list[str]:
    """The whole caption as text, one string per line or paragraph: warnings, summary, meaning,
    provenance (the renderer draws the same four parts)."""
    return [*data.warnings, *summary_lines(data), *meaning_paragraphs(data),
            *provenance_lines(data)]


def waveform_window(t: float, duration_s: float, width_s: float | None = None) -> tuple[float, float]:
    """The lanes' time axis: the whole clip (``width_s`` given: a window of that width around
    ``t``, kept inside the clip, for callers that want one)."""
    if width_s is None:
        return 0.0, max(duration_s, 1e-3)
    width_s = min(width_s, max(duration_s, 1e-3))
    t0 = min(max(0.0, t - width_s / 2), max(0.0, duration_s - width_s))
    return t0, t0 + width_s


def inset_window(audio_start_s: float) -> tuple[float, float]:
    return audio_start_s, audio_start_s + INSET_S


def build_snapshot_data(path: str | os.PathLike[str], at_s: float, note: str = "",
                        threshold: float = DEFAULT_THRESHOLD, extra_lines: list[str] | None = None,
                        version: str = "", *, result: dict[str, Any] | None = None,
                        result_name: str = "", groundtruth: Any = FIND_GROUNDTRUTH,
                        face: bool = True, audio_track: Any = None) -> SnapshotData:
    """Decode what the picture of ``path`` at ``at_s`` seconds needs (no Qt, no window).

    ``result``: an ``analyze`` RESULT.json dict of this clip (its curves, thresholds, stretches,
    models); a result of another clip (by SHA-256) is refused, one without a SHA-256 is drawn
    with a warning. ``groundtruth``: a core GroundTruth, None, or :data:`FIND_GROUNDTRUTH` (look
    next to the clip as the viewer does). ``face``: find the face box and mouth crop
    (:func:`forensics_gui.core.evidence.frames.face_and_mouth`: the analysis cache, else
    re-detected). ``audio_track``: the clip's decoded AudioTrack when the caller has it (the
    report reuses it for its silence panel), else the sound is decoded here. Raises
    ForensicsError (MediaError) with one sentence for bad input.
    """
    from forensics_gui.core.files.hashing import sha256_file
    from forensics_gui.core.media.decode import decode_audio, probe
    from forensics_gui.core.media.integrity import check_integrity
    from forensics_gui.core.media.silence import leading_silence
    from forensics_gui.core.media.waveform import PeakPyramid

    info = probe(path)
    duration = float(info.duration_s or 0.0)
    if not math.isfinite(at_s) or at_s < 0 or (duration and at_s > duration):
        raise ForensicsError(f"--at {at_s:g} is outside the clip (0 to {duration:.3f} seconds).")
    sha = sha256_file(path)
    warnings: list[str] = []
    if result is not None:
        warnings += check_result_is_of_this_clip(result, result_name, Path(path).name, sha)
    damage = check_integrity(path, info).sentence  # a cut-short file says so first
    if damage:
        warnings.insert(0, damage)
    window = waveform_window(at_s, duration)
    data = SnapshotData(
        frame=None, time_s=at_s, file_name=Path(path).name, sha256=sha, version=version,
        created=utc_stamp(), frame_notice="No video stream" if info.video is None else "",
        window=window, silence_note="" if info.audio is not None else "no audio stream",
        note=note, extra_lines=list(extra_lines or []), warnings=warnings)
    if info.video is not None:
        from forensics_gui.core.evidence.frames import face_and_mouth
        from forensics_gui.core.face.landmarks import DEFAULT_PREPARATION

        prep = (result or {}).get("preparation")
        name = prep.get("preparation") if isinstance(prep, dict) else None
        name = name if name in ("official", "fast") else DEFAULT_PREPARATION
        if face:
            (view,) = face_and_mouth(path, [at_s], preparation=name, sha256=sha)
        else:
            view = _frame_only(path, at_s)
        data.frame, data.frame_index = view.frame, view.frame_index
        if face:
            apply_face(data, view)
    if info.audio is not None:
        track = audio_track if audio_track is not None else decode_audio(path)
        data.audio_start_s = float(track.start_time_s)
        pyramid = PeakPyramid(track.samples, track.sample_rate, data.audio_start_s)
        data.envelope = pyramid.envelope(window[0], window[1], WAVE_PIXELS)
        data.inset = pyramid.envelope(*inset_window(data.audio_start_s), INSET_PIXELS)
        data.silence = leading_silence(track.samples, track.sample_rate, threshold)
    apply_result(data, result, result_name)
    if groundtruth == FIND_GROUNDTRUTH:
        from forensics_gui.core.results.groundtruth import find_groundtruth

        groundtruth, _problems = find_groundtruth(path)
    apply_groundtruth(data, groundtruth)
    return data


def _frame_only(path: str | os.PathLike[str], at_s: float) -> Any:
    from forensics_gui.core.evidence.frames import FaceView
    from forensics_gui.core.media.decode import VideoReader

    with VideoReader(path) as reader:
        vf = reader.frame_at(at_s)
    return FaceView(at_s, vf.image, vf.index, None, None, False, None, "none", "")


def check_result_is_of_this_clip(result: dict[str, Any], result_name: str, clip_name: str,
                                 sha256: str) -> list[str]:
    """Refuse a result made from another clip (its curves would be drawn under this clip's
    SHA-256): ForensicsError. A result without a SHA-256 gives a warning sentence (returned)."""
    claimed = result.get("sha256")
    name = result_name or "The result"
    if claimed is None:
        return [f"{name} has no SHA-256, so it cannot be checked against {clip_name}; its curves "
                "are drawn as they are."]
    if not isinstance(claimed, str) or claimed.strip().lower() != sha256.lower():
        shown = f"SHA-256 {claimed[:12]}..." if isinstance(claimed, str) else "an invalid SHA-256"
        raise ForensicsError(
            f"The result file {name} was made from another clip ({shown}), not from {clip_name} "
            f"(SHA-256 {sha256[:12]}...); pass the result that 'forensics-gui analyze' "
            "wrote for this clip.")
    return []
