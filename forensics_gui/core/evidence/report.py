"""The one-page report of a clip (PDF or HTML) as plain data, and the one call that writes it.

:func:`build_report` gathers what a reader needs without the app: the exported picture (it comes
in as PNG bytes, painted by the viewer's renderer), the key frame and mouth crop at each stretch
to check, the silence panel (the measured leading silence, the loudness of the first 100 ms and
the silence length for several quiet levels), the summary and caveats in plain words
(:mod:`forensics_gui.core.evidence.wording`), the warnings (a damaged or cut-short file), the
provenance and a short glossary. :func:`write_report` writes it as PDF
(:mod:`~forensics_gui.core.evidence.report_pdf`) or self-contained HTML
(:mod:`~forensics_gui.core.evidence.report_html`), chosen by the file suffix, atomically.

Qt-free: the CLI (``forensics-gui report``) and the viewer (File > Export report…) build the same
report. Times are seconds on the media time axis; amplitudes are on the [-1, 1] scale.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.encoder.devices import recorded_precision
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence import wording
from forensics_gui.core.evidence.report_model import (
    FLOOR_DB,
    MAX_SEGMENT_PICTURES,
    NO_RESULT_CLI,
    NO_RESULT_VIEWER,
    SILENCE_COLUMNS,
    SILENCE_WINDOW_MS,
    THUMB_HEIGHT,
    KeyFrame,
    Report,
    SilencePanel,
)
from forensics_gui.core.evidence.snapshot import preparation_line, utc_stamp
from forensics_gui.core.media.silence import DEFAULT_THRESHOLD, TABLE_TAUS
from forensics_gui.core.media.timebase import format_timecode, model_frame_times
from forensics_gui.core.progress import Progress, check_cancelled

__all__ = ["KeyFrame", "Report", "SilencePanel", "NO_RESULT_CLI", "NO_RESULT_VIEWER",
           "build_report", "picture_time", "report_format", "write_report"]


def printable(text: str) -> str:
    """``text`` with bytes that were not UTF-8 shown as ``\\xNN`` and control characters other
    than newlines and tabs escaped, so a file name or note can always be written out."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in "\n\t" or ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def _list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one (a result field of the wrong type shows
    nothing rather than failing)."""
    return value if isinstance(value, list) else []


def _main_variant(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The headline scores of a result: the untrimmed variant, else the top level, else the
    first variant (the dict has ``frame_scores``, maybe ``times_s`` and ``suspicious_segments``)."""
    if not result:
        return None
    variants = result.get("variants")
    if isinstance(variants, dict):
        if isinstance(variants.get("untrimmed"), dict):
            return dict(variants["untrimmed"])
    if isinstance(result.get("frame_scores"), list):
        return result
    if isinstance(variants, dict):
        return next((v for v in variants.values() if isinstance(v, dict)), None)
    return None


def _curve(variant: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(times_s, scores) of a result variant; malformed values raise ForensicsError."""
    try:
        scores = np.asarray([np.nan if x is None else float(x)
                             for x in variant.get("frame_scores") or []], np.float64)
        times = variant.get("times_s")
        if times is not None and len(times) == len(scores):
            t = np.asarray(times, np.float64)
        else:
            t = model_frame_times(len(scores), int(variant.get("first_model_frame") or 0))
    except (TypeError, ValueError, OverflowError) as err:
        raise ForensicsError(f"The analysis result has malformed scores ({err}).") from err
    return t, scores


def _segments(variant: dict[str, Any] | None) -> list[tuple[float, float]]:
    if not variant:
        return []
    out = []
    for seg in _list(variant.get("suspicious_segments")):
        try:
            s, e = float(seg[0]), float(seg[1])
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as err:
            raise ForensicsError(f"The analysis result has a malformed stretch to check "
                                 f"{repr(seg)[:60]} ({err}).") from err
        if math.isfinite(s) and math.isfinite(e) and e >= s:
            out.append((s, e))
    return out


def _peak(times: np.ndarray, scores: np.ndarray, s: float, e: float) -> tuple[float, float | None]:
    """Time and value of the highest score in [s, e] (the middle when there is none)."""
    sel = (times >= s - 1e-6) & (times <= e + 1e-6) & np.isfinite(scores)
    if not sel.any():
        return (s + e) / 2, None
    idx = np.nonzero(sel)[0]
    best = idx[int(np.argmax(scores[idx]))]
    return float(times[best]), float(scores[best])


def picture_time(result: dict[str, Any] | None, duration_s: float) -> float:
    """The time the report's picture shows: the peak of the highest stretch to check, else the
    highest frame of the curve, else the middle of the clip (seconds)."""
    variant = _main_variant(result)
    if variant is not None:
        times, scores = _curve(variant)
        segs = _segments(variant)
        if segs:
            peaks = [_peak(times, scores, s, e) for s, e in segs]
            best = max(peaks, key=lambda p: -math.inf if p[1] is None else p[1])
            return best[0]
        if np.isfinite(scores).any():
            return float(times[int(np.nanargmax(scores))])
    return max(0.0, duration_s / 2)


def _score_text(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "not available"
    return f"{v:.3f}" if math.isfinite(v) else "not available"


def _pool_words(pool: Any) -> str:
    return {"lse": "log-sum-exp over all frames", "mean": "mean over all frames"}.get(
        str(pool), str(pool or "pooled"))


def summary_lines(result: dict[str, Any] | None, segments: list[tuple[float, float]],
                  silence_sentence: str, no_result: str) -> list[str]:
    """The summary in plain words: the whole-clip score, the stretches to check, the trimmed
    score, the face and the leading silence."""
    lines: list[str] = []
    variant = _main_variant(result)
    if result is None or variant is None:
        lines.append(no_result)
    else:
        pool = variant.get("pool", result.get("pool"))
        lines.append(f"{wording.MISMATCH_CURVE} for the whole clip (video score, "
                     f"{_pool_words(pool)}): {_score_text(variant.get('video_score'))}.")
        if segments:
            times = "; ".join(f"{format_timecode(s)} – {format_timecode(e)}" for s, e in segments[:6])
            more = f" and {len(segments) - 6} more" if len(segments) > 6 else ""
            lines.append(f"{len(segments)} stretch{'es' if len(segments) != 1 else ''} to check "
                         f"(unusually high for this clip): {times}{more}.")
        else:
            lines.append("No stretch stays above the 'unusually high for this clip' line long "
                         "enough to be marked to check.")
        variants = result.get("variants")
        variants = variants if isinstance(variants, dict) else {}
        trimmed = variants.get("trimmed")
        if isinstance(trimmed, dict) and "untrimmed" in variants:
            lines.append(f"With the leading silence removed, the video score is "
                         f"{_score_text(trimmed.get('video_score'))}.")
        missing = result.get("frames_without_face")
        if result.get("face_found") is False:
            lines.append("No face was found, so the mouth could not be compared with the voice.")
        elif isinstance(missing, int) and missing > 0:
            lines.append(f"The face was not detected in {missing} frame"
                         f"{'s' if missing != 1 else ''}; there its position was interpolated.")
    lines.append(silence_sentence)
    return lines


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _draw_box(frame: np.ndarray, box: tuple[float, float, float, float], detected: bool) -> None:
    """Draw the face box in place (red; dashed when the face was interpolated)."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = sorted((min(max(x0, 0), w - 1), min(max(x1, 0), w - 1)))
    y0, y1 = sorted((min(max(y0, 0), h - 1), min(max(y1, 0), h - 1)))
    t = max(2, round(min(h, w) / 160))
    colour = np.array((255, 60, 60), np.uint8)

    def dashes(n: int) -> np.ndarray:
        on = np.ones(n, bool)
        if not detected:
            on = (np.arange(n) // (4 * t)) % 2 == 0
        return on

    for y in (y0, y1):
        on = dashes(x1 - x0 + 1)
        frame[max(0, y - t // 2): y + (t + 1) // 2, x0:x1 + 1][:, on] = colour
    for x in (x0, x1):
        on = dashes(y1 - y0 + 1)
        frame[y0:y1 + 1, max(0, x - t // 2): x + (t + 1) // 2][on] = colour


def _thumbnail(frame: np.ndarray, height: int = THUMB_HEIGHT) -> np.ndarray:
    from PIL import Image

    h, w = frame.shape[:2]
    if h <= height:
        return frame
    size = (max(1, round(w * height / h)), height)
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))


def key_frames(path: str | os.PathLike[str], result: dict[str, Any] | None, sha256: str,
               progress: Progress | None = None) -> tuple[list[KeyFrame], list[tuple[float, float]]]:
    """The key frame (with the face box) and mouth crop at the peak of each stretch to check
    (at most :data:`MAX_SEGMENT_PICTURES`), and the times of any further stretches."""
    from forensics_gui.core.evidence.frames import face_and_mouth

    variant = _main_variant(result)
    segments = _segments(variant)
    if variant is None or not segments:
        return [], []
    times, scores = _curve(variant)
    shown, more = segments[:MAX_SEGMENT_PICTURES], segments[MAX_SEGMENT_PICTURES:]
    keys = [KeyFrame(s, e, *_peak(times, scores, s, e)) for s, e in shown]
    prep = (result or {}).get("preparation")
    preparation = prep.get("preparation") if isinstance(prep, dict) else None
    kwargs: dict[str, Any] = {"sha256": sha256, "progress": progress}
    if preparation in ("official", "fast"):
        kwargs["preparation"] = preparation
    views = face_and_mouth(path, [k.peak_s for k in keys], **kwargs)
    for key, view in zip(keys, views, strict=True):
        check_cancelled(progress)
        key.note = view.note
        if view.frame is not None:
            frame = np.array(view.frame, np.uint8, copy=True)
            if view.face_box is not None:
                _draw_box(frame, view.face_box, view.face_detected)
            key.frame_png = _png(_thumbnail(frame))
        if view.mouth is not None:
            key.mouth_png = _png(np.asarray(view.mouth, np.uint8))
    return keys, more


def silence_panel(path: str | os.PathLike[str], measured: Any, threshold: float,
                  progress: Progress | None = None, track: Any = None) -> SilencePanel:
    """The silence panel of ``path``: ``measured`` (the SilenceResult the picture shows, so both
    say the same; None: measure here at ``threshold``), the loudness of the first 100 ms and the
    silence length at each quiet level of the viewer's table (a clip without sound: a sentence).
    ``track``: the clip's decoded AudioTrack when the caller has it (else it is decoded here)."""
    from forensics_gui.core.media.decode import decode_audio, probe
    from forensics_gui.core.media.silence import leading_silence, silence_sweep

    if track is None:
        info = probe(path)
        if info.audio is None:
            return SilencePanel(None, threshold, wording.silence_sentence(None, None))
        track = decode_audio(path, progress=progress)
    check_cancelled(progress)
    if measured is None:
        measured = leading_silence(track.samples, track.sample_rate, threshold)
    tau = float(getattr(measured, "threshold", threshold))
    leading = float(measured.leading_silence_ms)
    sr = int(track.sample_rate)
    n = max(1, int(round(SILENCE_WINDOW_MS * sr / 1000.0)))
    head = np.abs(track.samples[:, :n]).max(axis=0) if track.samples.shape[1] else np.zeros(0)
    cols = np.full(SILENCE_COLUMNS, FLOOR_DB)
    if head.size:
        edges = np.linspace(0, n, SILENCE_COLUMNS + 1).astype(int)
        for i in range(SILENCE_COLUMNS):
            a, b = edges[i], max(edges[i + 1], edges[i] + 1)
            block = head[a:b]
            if block.size:
                peak = float(block.max())
                cols[i] = max(FLOOR_DB, 20.0 * math.log10(peak)) if peak > 0 else FLOOR_DB
    table = silence_sweep(track.samples, sr, np.asarray(TABLE_TAUS))
    return SilencePanel(leading, tau, wording.silence_sentence(leading, tau), cols,
                        tau_table=[(float(t), float(ms)) for t, ms in zip(TABLE_TAUS, table,
                                                                           strict=True)])


# the plain names of the models' roles, as the picture's footer says them
ROLE_NAMES = {"features": "Feature model", "phi": "Mismatch model", "supervised": "Second detector"}


def _model_lines(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    rows = []
    for m in _list((result or {}).get("models")):
        if isinstance(m, dict):
            role = ROLE_NAMES.get(str(m.get("role", "")), f"Model ({m.get('role', '?')})")
            rows.append((role, f"{m.get('name', '?')}  SHA-256 {m.get('sha256', '?')}"))
    return rows


def provenance(report_file: str, sha256: str, result: dict[str, Any] | None, result_name: str,
               version: str, created: str, duration_s: float | None) -> list[tuple[str, str]]:
    """What made this report: file, SHA-256, models, the encoder precision when it is not the
    exact float32 (with its caveat), preparation, app version, time."""
    rows = [("File", report_file), ("SHA-256", sha256)]
    if duration_s:
        rows.append(("Duration", f"{format_timecode(duration_s)} ({duration_s:.3f} s)"))
    if result is not None:
        rows.append(("Analysis result", result_name or "made in the viewer (not saved as a file)"))
        rows += _model_lines(result)
        precision = recorded_precision(result.get("models"))
        if wording.precision_caveat(precision):  # named only when not the exact float32
            rows.append(("Precision", f"{precision}. {wording.precision_caveat(precision)}"))
        rows.append(("Preparation", preparation_line(result.get("preparation"))))
        if result.get("app_version"):
            rows.append(("Analysed with", f"forensics-gui {result['app_version']}"))
    rows += [("Report made with", f"forensics-gui {version}"), ("Created (UTC)", created)]
    return rows


def caveat_lines(result: dict[str, Any] | None) -> list[str]:
    """The caveats: what the scores are and are not, then the result's own caveats."""
    lines = []
    if _main_variant(result) is not None:
        lines += [wording.CURVE_MEANING, wording.RELATIVE_NOT_PROOF, wording.THRESHOLD_MEANING]
    lines.append(wording.SILENCE_MEANING)
    for c in _list((result or {}).get("caveats")):
        if isinstance(c, str) and c.strip() and c not in lines:
            lines.append(c.strip())
    return lines


NO_MISMATCH_WITH_LIPSYNC = (
    "AVH-Align's mouth-voice mismatch curve is not in this report (it needs model files that were "
    "not used for this result); the mouth-and-voice measures below need none.")


def mouth_and_voice_lines(result: dict[str, Any] | None) -> list[str]:
    """The "Mouth and voice" paragraph: the plain readings of the result's ``mouth_and_voice``
    section (the measures that need no model files, separate from AVH-Align), then what the
    lane means; empty without the section."""
    section = (result or {}).get("mouth_and_voice")
    if not isinstance(section, dict):
        return []
    lines = [r.strip() for r in _list(section.get("readings")) if isinstance(r, str) and r.strip()]
    if not lines:
        lines.append("Mouth and voice were measured; there is no reading to report.")
    meaning = getattr(wording, "MOUTH_AND_VOICE_MEANING", "")
    if meaning:
        lines.append(str(meaning))
    return [printable(line) for line in lines]


def build_report(path: str | os.PathLike[str], *, snapshot: Any, picture_png: bytes | None,
                 result: dict[str, Any] | None = None, result_name: str = "", note: str = "",
                 threshold: float = DEFAULT_THRESHOLD, version: str = "",
                 no_result: str = NO_RESULT_CLI, audio_track: Any = None,
                 progress: Progress | None = None) -> Report:
    """The report of ``path``.

    ``snapshot`` is the picture's SnapshotData (its SHA-256, silence measurement, creation time
    and warnings are reused, so the picture and the report say the same; it was built with
    ``result``, which checked the result against the clip); ``picture_png`` its rendering.
    ``result`` is an analysis result dict (``analyze``'s RESULT.json, or the viewer's analysis);
    ``no_result`` the sentence shown without one; ``audio_track`` the clip's decoded
    AudioTrack if the caller has one (the viewer), so the sound is not decoded again. Raises MediaError for a file that cannot be
    read and Cancelled when ``progress`` asks to stop.
    """
    from forensics_gui.core.media.decode import probe

    path = Path(path)
    info = probe(path)
    check_cancelled(progress)
    sha = str(snapshot.sha256)
    warnings = [str(w) for w in getattr(snapshot, "warnings", None) or []]
    if progress is not None:
        progress.report("key frames", 0, None)
    keys, more = key_frames(path, result, sha, progress)
    if progress is not None:
        progress.report("leading silence", 0, None)
    panel = silence_panel(path, getattr(snapshot, "silence", None), threshold, progress,
                          audio_track)
    variant = _main_variant(result)
    segments = _segments(variant)
    width = height = 0
    if picture_png:
        from PIL import Image

        with Image.open(io.BytesIO(picture_png)) as im:
            width, height = im.size
    created = str(getattr(snapshot, "created", "") or utc_stamp())  # the picture's time
    duration = float(info.duration_s) if info.duration_s else None
    return Report(
        file_name=printable(path.name), sha256=sha, created_utc=created,
        app_version=version, picture_png=picture_png, picture_size=(width, height),
        summary=summary_lines(result, segments, panel.sentence,
                              NO_MISMATCH_WITH_LIPSYNC if variant is None and
                              mouth_and_voice_lines(result) else no_result),
        warnings=warnings, caveats=caveat_lines(result), silence=panel, segments=keys,
        more_segments=more,
        provenance=provenance(printable(path.name), sha, result, printable(result_name), version,
                              created, duration),
        glossary=list(wording.TECHNICAL_TERMS.items()), note=printable(note.strip()),
        mouth_and_voice=mouth_and_voice_lines(result))


def report_format(path: str | os.PathLike[str]) -> str:
    """"pdf" or "html" by the suffix of ``path``; ForensicsError for another suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pdf":
        return "pdf"
    if suffix in (".html", ".htm"):
        return "html"
    raise ForensicsError(f"The report file {Path(path).name} must end in .pdf or .html, so it is "
                         "clear which format to write.")


def write_report(report: Report, path: str | os.PathLike[str], paper: str = "a4") -> Path:
    """Write ``report`` to ``path`` (PDF or HTML by the suffix; ``paper`` "a4" or "letter")
    atomically: a failure leaves no partial file."""
    from forensics_gui.core.evidence import report_html, report_pdf
    from forensics_gui.core.files.atomic import atomic_path

    kind = report_format(path)
    data = (report_pdf.pdf_bytes(report, paper) if kind == "pdf"
            else report_html.html_text(report, paper).encode("utf-8"))
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as err:
        raise ForensicsError(f"Could not write the report {path} ({err.strerror or err}); check "
                             "that its folder exists, is a folder and can be written to.") from err
    return path
