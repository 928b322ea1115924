"""The results of ``forensics-gui batch``: a CSV of scalars plus one small curve file per clip.

``RESULTS.csv`` (UTF-8, ``\\n`` line ends, one physical line per row) has the columns
:data:`FIELDS`:

* ``file``: the clip's path relative to the batch folder, ``/``-separated. File names are
  bytes on Linux; bytes that are not UTF-8, control characters and the backslash are written as
  ``\\xNN`` / ``\\\\`` (:func:`escape_name`, undone by :func:`unescape_name`), so every name
  round-trips exactly;
* ``video_score``, ``pool``, ``variant`` (untrimmed / trimmed), ``num_frames``,
  ``leading_silence_ms``, ``suspicious_segments`` (JSON ``[[start_s, end_s], ...]``), ``sha256``;
* ``status`` (``ok`` / ``error``) and ``error`` (the reason, one line; on an ``ok`` row, a note:
  no finite score, or the sentence of a damaged or cut-short file, scored only where its data
  exists);
* ``curve``: the per-frame curve file, relative to the CSV's folder (see below);
* ``setup``: a fingerprint of the models and options (:func:`setup_fingerprint`); a clip that
  failed under another setup is tried again automatically;
* ``check``: CRC-32 of the row's other cells (:func:`row_check`). A row whose check is missing or
  wrong, or a last line without its line end, is damaged (a torn write: power loss, disk full).

Each row is written whole, flushed and fsynced after its curve file is in place, so a crash
leaves at worst one torn last line; :func:`repair` removes damaged rows before a run appends,
and their clips are scored again.

Curves live next to the CSV in ``RESULTS.curves/<sha256>.<variant>.json`` (written atomically):
``{"file", "sha256", "variant", "pool", "fps", "first_model_frame", "frame_scores"}``, with
``frame_scores`` one fakeness value per 25 fps frame (``null`` where there is none), the first
belonging to model frame ``first_model_frame`` (an integer: 0, or the frames a trimmed analysis
dropped; its start in seconds comes from :mod:`forensics_gui.core.media.timebase`) and ``fps``
the model rate, for readers of the file. Curve files of earlier versions stored the start in
seconds as ``curve_start_s``; :func:`read_curve` converts it to the frame. One file per content and
variant: the same clip under two names shares it. ``forensics-gui eval --curves RESULTS.curves``
reads the folder as it is.

CSVs of earlier versions kept every frame score in a ``frame_scores`` cell (over csv's 128 KiB
field limit for clips longer than about 11 minutes); :func:`big_csv_fields` lets readers open
them and :func:`migrate_legacy` rewrites them into this layout.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.checks import read_json_file
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_near

FIELDS = ["file", "video_score", "pool", "variant", "num_frames", "leading_silence_ms",
          "suspicious_segments", "sha256", "status", "error", "curve", "setup", "check"]
LEGACY_CURVE_FIELD = "frame_scores"
_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


class ResultsFileError(ForensicsError):
    """A batch results CSV cannot be used as it is."""


def escape_name(path: str) -> str:
    """``path`` (a ``str`` from the OS, undecodable bytes as surrogates) as printable UTF-8 text."""
    out = []
    for ch in os.fsencode(path).decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


def unescape_name(text: str) -> str:
    """The path :func:`escape_name` wrote (``os.fsdecode`` of the original bytes)."""
    if "\\" not in text:
        return text
    raw = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(text):
        raw += text[pos:m.start()].encode("utf-8", "surrogateescape")
        token = m.group(1)
        raw += b"\\" if token == "\\" else bytes([int(token[1:], 16)])
        pos = m.end()
    raw += text[pos:].encode("utf-8", "surrogateescape")
    return os.fsdecode(bytes(raw))


def row_check(row: dict[str, Any]) -> str:
    """CRC-32 (8 hex digits) of every cell but ``check``, in :data:`FIELDS` order."""
    text = "\x1f".join(str(row.get(k, "")) for k in FIELDS[:-1])
    return f"{zlib.crc32(text.encode('utf-8', 'surrogatepass')):08x}"


def format_row(row: dict[str, Any]) -> bytes:
    """One CSV line (with its ``check`` and ``\\n``) for ``row``."""
    # Text from the OS (an error naming a non-UTF-8 file) may hold surrogates: escape them.
    row = {k: str(row.get(k, "")).encode("utf-8", "backslashreplace").decode("utf-8")
           for k in FIELDS[:-1]}
    row["error"] = " ".join(row["error"].split())  # one physical line per row
    row["check"] = row_check(row)
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n").writerow(row)
    return buf.getvalue().encode("utf-8")


def header_line() -> bytes:
    return (",".join(FIELDS) + "\n").encode("utf-8")


def setup_fingerprint(*parts: object) -> str:
    """Short fingerprint of what a run's results depend on (model hashes, options)."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def curves_dir(csv_path: str | os.PathLike[str]) -> Path:
    """``RESULTS.curves`` next to ``RESULTS.csv``."""
    p = Path(csv_path)
    return p.with_name(p.stem + ".curves")


def write_curve(csv_path: str | os.PathLike[str], *, file: str, sha256: str, variant: str, pool: str,
                frame_scores: Sequence[float], first_model_frame: int) -> str:
    """Write one clip's curve atomically; returns its path relative to the CSV's folder.
    ``first_model_frame``: the model frame of ``frame_scores[0]``."""
    from forensics_gui.core.files.atomic import write_text_atomic

    folder = curves_dir(csv_path)
    name = f"{sha256}.{variant}.json"
    data = {"file": file, "sha256": sha256, "variant": variant, "pool": pool, "fps": float(MODEL_FPS),
            "first_model_frame": int(first_model_frame),
            "frame_scores": [round(float(v), 6) if math.isfinite(v) else None for v in frame_scores]}
    write_text_atomic(folder / name, json.dumps(data, separators=(",", ":")) + "\n")
    return f"{folder.name}/{name}"


@dataclass
class Curve:
    """A per-frame curve read back: scores (NaN where none), one per model frame from model frame
    ``first_model_frame`` on."""

    frame_scores: list[float]
    first_model_frame: int

    @property
    def fps(self) -> float:
        """Frames per second of ``frame_scores``: always the model rate."""
        return float(MODEL_FPS)


def read_curve(path: str | os.PathLike[str], where: str) -> Curve:
    """A curve file written by :func:`write_curve`, by an earlier version (``curve_start_s``
    seconds instead of ``first_model_frame``: converted here, the one place that reads it), or
    any JSON with ``frame_scores`` (a result JSON of ``analyze``/``score``; no start = frame 0).

    Refused with a sentence: infinite scores, an ``fps`` other than the model rate, a start that
    is negative, not a whole model frame, or not a number."""
    p = Path(path)
    data = read_json_file(p, "", ResultsFileError, name=f"{where}: its curve file {p.name}",
                          should_be="a curve of frame scores")
    return curve_from_json(data, p, where)


def curve_from_json(data: Any, path: Path, where: str) -> Curve:
    """The curve in ``data``, the parsed JSON of the curve file ``path`` (see :func:`read_curve`,
    for a caller that has parsed the file already). Raises ResultsFileError."""
    scores = data.get("frame_scores") if isinstance(data, dict) else None
    try:
        if not isinstance(scores, list):
            raise TypeError("no 'frame_scores' list")
        curve = [math.nan if v is None else float(v) for v in scores]
        fps = float(data.get("fps") or MODEL_FPS)
        first = _first_model_frame(data)
    except (TypeError, ValueError) as err:
        raise ResultsFileError(f"{where}: its curve file {path.name} is malformed ({err}).") from err
    if any(math.isinf(v) for v in curve) or not (math.isfinite(fps) and fps > 0) or first is None:
        raise ResultsFileError(f"{where}: its curve file {path.name} holds infinite scores or an "
                               "impossible fps or start time.")
    if fps != MODEL_FPS:
        raise ResultsFileError(f"{where}: its curve file {path.name} is at {fps:g} fps; curves hold "
                               f"one score per model frame ({MODEL_FPS} fps), so rewrite it on "
                               "that grid.")
    return Curve(curve, first)


def _first_model_frame(data: dict[str, Any]) -> int | None:
    """The model frame of a curve's first value: ``first_model_frame``, else an earlier version's
    ``curve_start_s`` (seconds on the model grid), else 0. None when it is negative or off the
    grid. Raises TypeError/ValueError when it is not a number."""
    if data.get("first_model_frame") is not None:
        value = data["first_model_frame"]
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or value != int(value)):
            raise ValueError(f"first_model_frame {value!r} is not a whole number")
        return int(value) if value >= 0 else None
    t0 = float(data.get("curve_start_s") or 0.0)
    if not (math.isfinite(t0) and t0 >= 0):
        return None
    return model_frame_near(t0)


@contextlib.contextmanager
def big_csv_fields() -> Iterator[None]:
    """Let ``csv`` read fields of any size (old results kept whole curves in one cell)."""
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


@dataclass
class Scan:
    """What :func:`scan` found in a results CSV."""

    header: bytes = b""  # the header line as found, line end included
    rows: list[dict[str, str]] = field(default_factory=list)  # good rows, file names unescaped
    good_lines: list[bytes] = field(default_factory=list)  # their exact bytes, line end included
    damaged: list[int] = field(default_factory=list)  # line numbers (1 = header)
    torn: bool = False  # a last line without its line end
    legacy: bool = False  # written by a version without the check column


def scan(csv_path: str | os.PathLike[str]) -> Scan:
    """Read a results CSV, telling good rows from damaged ones (see the module docstring)."""
    p = Path(csv_path)
    out = Scan()
    data = p.read_bytes() if p.is_file() else b""
    if not data:
        return out
    lines = data.split(b"\n")
    out.torn = lines[-1] != b""
    lines = lines[:-1]
    if not lines:
        return out  # only a torn header: start afresh
    out.header = lines[0] + b"\n"
    header = next(csv.reader([lines[0].decode("utf-8", "replace")]), [])
    if header != FIELDS:
        out.legacy = True
        return out
    for n, line in enumerate(lines[1:], start=2):
        try:
            cells = next(csv.reader([line.decode("utf-8")]), [])
        except (UnicodeDecodeError, csv.Error):
            cells = []
        row = dict(zip(FIELDS, cells, strict=False))
        if len(cells) != len(FIELDS) or row_check(row) != row["check"]:
            out.damaged.append(n)
            continue
        row["file"] = unescape_name(row["file"])
        out.rows.append(row)
        out.good_lines.append(line + b"\n")
    return out


def repair(csv_path: str | os.PathLike[str], found: Scan) -> None:
    """Drop the damaged rows and a torn last line: truncate a torn tail in place, rewrite the file
    atomically (good rows byte for byte) when a row in the middle is damaged."""
    from forensics_gui.core.files.atomic import atomic_open

    p = Path(csv_path)
    keep = found.header + b"".join(found.good_lines) if found.header else b""
    if not found.damaged:
        with open(p, "r+b") as fh:
            fh.truncate(len(keep))
            fh.flush()
            os.fsync(fh.fileno())
        return
    with atomic_open(p, "wb") as fh:
        fh.write(keep)


def migrate_legacy(csv_path: str | os.PathLike[str]) -> tuple[int, int]:
    """Rewrite an earlier version's results (every frame score in a ``frame_scores`` cell) into
    this layout, atomically: curves to their own files, rows with a ``check``. A torn last line
    and rows with the wrong number of cells (a torn row with the next one glued on) are dropped,
    so their clips are scored again; failures get an unknown ``setup`` and are retried.
    Returns (rows kept, rows dropped). Raises ResultsFileError if the file is not such results.
    """
    from forensics_gui.core.files.atomic import atomic_open

    p = Path(csv_path)
    lines = p.read_bytes().split(b"\n")
    dropped = int(lines[-1].strip() != b"")
    lines = lines[:-1]
    with big_csv_fields():
        header = next(csv.reader([lines[0].decode("utf-8", "replace")]), []) if lines else []
        if not {"file", "status", LEGACY_CURVE_FIELD} <= set(header):
            raise ResultsFileError(
                f"{p.name} is not a batch results file (its first line is not batch's header); "
                "give batch a new -o file.")
        out = [header_line()]
        for line in lines[1:]:
            try:
                cells = next(csv.reader([line.decode("utf-8")]), [])
            except (UnicodeDecodeError, csv.Error):
                cells = []
            if len(cells) != len(header):
                dropped += 1
                continue
            row: dict[str, Any] = dict(zip(header, cells, strict=True))
            row["file"] = escape_name(row["file"])
            text = row.pop(LEGACY_CURVE_FIELD)
            if row.get("status") == "ok" and text.strip() and row.get("sha256") and row.get("variant"):
                try:
                    curve = [float(v) for v in text.split()]
                except ValueError:
                    dropped += 1
                    continue
                row["curve"] = write_curve(p, file=row["file"], sha256=row["sha256"],
                                           variant=row["variant"], pool=row.get("pool", ""),
                                           frame_scores=curve, first_model_frame=0)
            row["setup"] = "unknown"
            out.append(format_row(row))
    with atomic_open(p, "wb") as fh:
        fh.write(b"".join(out))
    return len(out) - 1, dropped


def append_rows(fh: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to an open binary file: one write, then flush and fsync (see the docstring)."""
    fh.write(b"".join(format_row(r) for r in rows))
    fh.flush()
    os.fsync(fh.fileno())
