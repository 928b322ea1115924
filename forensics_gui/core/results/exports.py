"""Exports of an analysis (no Qt): frame scores as CSV or JSON and the suspicious segments as an
Audacity label track. Every file is written atomically (temporary file + rename).

CSV: one row per model frame (25 fps) and curve, long format, columns :data:`CSV_COLUMNS`;
``frame`` is the model frame (``first_model_frame`` of the curve plus the row's position in it,
no rounding) and ``time_s`` its start on the clip's time axis (seconds, from the timebase).
Audacity labels: ``start<TAB>end<TAB>label`` per line, seconds with 6 decimals (File > Import >
Labels… in Audacity).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.files.outputs import refuse_overwriting_inputs

CSV_COLUMNS = ("kind", "variant", "frame", "time_s", "score", "suspicious", "sync_offset_frames",
               "sync_prob", "face_detected")


def _curves(analysis: Any) -> Iterable[tuple[str, str, Any]]:
    for variant, res in analysis.scores.items():
        yield "unsupervised", variant, res
    for variant, res in analysis.supervised.items():
        yield "supervised", variant, res


def frame_score_rows(analysis: Any) -> list[dict[str, Any]]:
    """One dict per (curve, model frame) with the :data:`CSV_COLUMNS` keys."""
    detected = None if analysis.face is None else analysis.face.detected
    rows = []
    for kind, variant, res in _curves(analysis):
        segs = res.suspicious_segments
        for i, (t, s) in enumerate(zip(res.times_s.tolist(), res.frame_scores.tolist(), strict=True)):
            frame = res.first_model_frame + i
            rows.append({
                "kind": kind, "variant": variant, "frame": frame, "time_s": round(float(t), 6),
                "score": float(s),
                "suspicious": int(any(a - 1e-9 <= t < b - 1e-9 for a, b in segs)),
                "sync_offset_frames": "" if res.sync_offset_frames is None else int(res.sync_offset_frames[i]),
                "sync_prob": "" if res.sync_prob is None else round(float(res.sync_prob[i]), 6),
                "face_detected": "" if detected is None or frame >= len(detected) else int(bool(detected[frame])),
            })
    return rows


def analysis_inputs(analysis: Any) -> list[tuple[str | None, str]]:
    """The files an analysis read (the clip, its models), which no export may overwrite."""
    models = [(m.get("path") or None, f"the {m['role']} model" if m.get("role") else "a model")
              for m in analysis.models]
    return [(str(analysis.file), "the analysed clip"), *models]


def _write(path: str | os.PathLike[str], text: str, analysis: Any = None) -> Path:
    path = Path(path)
    if analysis is not None:
        refuse_overwriting_inputs([path], analysis_inputs(analysis))
    try:
        write_text_atomic(path, text)
    except OSError as err:
        raise ForensicsError(f"Could not write {path} ({err.strerror or err}); "
                             "check that the folder exists and is writable.") from err
    return path


def write_frame_scores_csv(analysis: Any, path: str | os.PathLike[str]) -> Path:
    """Write every curve's frame scores as CSV (header :data:`CSV_COLUMNS`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(frame_score_rows(analysis))
    return _write(path, buf.getvalue(), analysis)


def write_frame_scores_json(analysis: Any, path: str | os.PathLike[str]) -> Path:
    """Write the analysis result (the same layout as ``forensics-gui analyze -o RESULT.json``)."""
    data = analysis.to_dict()
    if analysis.face is not None:
        data["face_detected"] = [bool(v) for v in analysis.face.detected.tolist()]
    return _write(path, json.dumps(data, indent=1), analysis)


def audacity_label_lines(segments: Iterable[tuple[float, float]], label: str = "suspicious") -> list[str]:
    """``start\\tend\\tlabel`` lines (seconds, 6 decimals) for Audacity's label track import."""
    label = label.replace("\t", " ").replace("\n", " ")
    return [f"{float(s):.6f}\t{float(e):.6f}\t{label}" for s, e in segments]


def write_audacity_labels(segments: Iterable[tuple[float, float]], path: str | os.PathLike[str],
                          label: str = "suspicious") -> Path:
    """Write an Audacity label track (an empty file when there are no segments)."""
    lines = audacity_label_lines(segments, label)
    return _write(path, "".join(line + "\n" for line in lines))


def analysis_segments(analysis: Any) -> list[tuple[float, float, str]]:
    """Suspicious segments of every unsupervised variant as (start_s, end_s, label)."""
    out = []
    for variant, res in analysis.scores.items():
        out += [(float(s), float(e), f"suspicious ({variant})") for s, e in res.suspicious_segments]
    return sorted(out)


def write_analysis_labels(analysis: Any, path: str | os.PathLike[str]) -> Path:
    """Audacity labels for all variants' suspicious segments, each labelled with its variant."""
    lines = [audacity_label_lines([(s, e)], label)[0] for s, e, label in analysis_segments(analysis)]
    return _write(path, "".join(line + "\n" for line in lines), analysis)
