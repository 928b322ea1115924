"""Dataset ground truth (AV-Deepfake1M, LAV-DF, FakeAVCeleb) parsed into one model, plus lookup.

Formats (auto-detected by :func:`load_metadata`):

* **AV-Deepfake1M**: a per-clip JSON object or a JSON list of objects with ``file``,
  ``modify_type`` (``real`` / ``visual_modified`` / ``audio_modified`` / ``both_modified``,
  ``both-modified`` accepted), ``fake_segments``, ``audio_fake_segments``,
  ``visual_fake_segments`` (``[[start_s, end_s], ...]``), ``video_frames``, ``audio_frames``.
  When the per-modality lists are absent, they are taken from ``fake_segments`` according to
  ``modify_type``.
* **LAV-DF**: ``metadata.min.json``, a list of objects with ``file``, ``n_fakes``,
  ``fake_periods``, ``duration``, ``modify_video``, ``modify_audio``, ``split``.
* **FakeAVCeleb**: ``meta_data.csv`` with a ``type`` column (``RealVideo-RealAudio``, ...).
  Whole-clip labels per modality, no timestamps. The real file names the clip in the ``path``
  column (a file name such as ``00109.mp4``) and puts its folder in an unnamed last column; other
  copies swap them or give one full path. Every row cell that ends in a video extension is taken
  as the file name, and a cell that looks like a folder (contains ``/``) as its folder; the key
  is ``folder/file``.

* **AVH-Align label CSVs**: AV-Deepfake1M ``path,label[,num_frames]`` (``av1m_metadata/*.csv``,
  label 1 = fake) and FakeAVCeleb splits ``source,category,full_path``
  (``avh_sup/csv_metadata/favc/*.csv``; category A = RealVideo-RealAudio = real, B/C/D = fake).
  Whole-clip labels, no timestamps.
* The SDK's minimal AV-Deepfake1M JSON (``file`` + ``fake_segments`` only): an empty
  ``fake_segments`` is a real clip, as the SDK counts it.

Prediction files (AV-Deepfake1M challenge): :func:`load_detection_predictions` reads
``file;score`` lines, :func:`load_localisation_predictions` reads ``{"file": [[conf, s, e]]}``.

Keys are normalised relative paths (forward slashes, no leading ``./`` or ``/``). Lookup
(:meth:`GroundTruthIndex.lookup`) tries the exact key, then, among keys with the query's file
name, the one sharing the longest trailing path with the query (FakeAVCeleb reuses
``00109.mp4`` in many folders; a root folder of another machine does not matter). When several
keys share that longest trailing path the query is ambiguous and matches nothing.
"""

from __future__ import annotations

import csv
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.checks import open_regular_file, read_json_file, require_regular_file
from forensics_gui.core.media.folders import VIDEO_SUFFIXES

Segment = tuple[float, float]
V = TypeVar("V")

FORMATS_SENTENCE = (
    "AV-Deepfake1M metadata JSON (objects with 'file' and 'modify_type'), "
    "LAV-DF metadata.min.json (objects with 'file' and 'fake_periods') or "
    "FakeAVCeleb meta_data.csv (with a 'type' column), AVH-Align's label CSVs "
    "('path,label' or 'source,category,full_path')"
)
MAX_DATASET_JSON_BYTES = 4 << 30  # AV-Deepfake1M's train metadata (word timestamps) is ~GiB
METADATA_NAMES = (
    "metadata.json", "metadata.min.json", "meta_data.csv",
    "train_metadata.json", "val_metadata.json", "test_metadata.json",
)
MAX_PARENTS = 3  # parent folders searched for a metadata file above the clip's own
NO_TIMESTAMP_FORMATS = ("fakeavceleb", "av-deepfake1m-csv")
_AV1M_TYPES = {"real", "visual_modified", "audio_modified", "both_modified"}
_FAVC_TYPES = {
    "realvideo-realaudio": (False, False),
    "realvideo-fakeaudio": (False, True),
    "fakevideo-realaudio": (True, False),
    "fakevideo-fakeaudio": (True, True),
}


class GroundTruthError(ForensicsError):
    """A metadata or prediction file cannot be read or is in none of the supported formats."""


@dataclass(slots=True)
class GroundTruth:
    """Ground truth of one clip. Times are in seconds from the start of the clip.

    ``label`` is ``"fake"`` when any modality is manipulated, ``"real"`` otherwise, ``None`` when
    unknown. ``fake_segments`` are all manipulated segments (any modality);
    ``audio_segments``/``visual_segments`` those of each modality. ``video_frames`` counts video
    frames, ``audio_frames`` audio samples (as the datasets define them). ``whole_clip_labels``
    has ``audio_fake`` and ``video_fake`` (``True``/``False``/``None`` = unknown).
    """

    file: str
    label: str | None
    modify_type: str | None
    audio_segments: list[Segment] = field(default_factory=list)
    visual_segments: list[Segment] = field(default_factory=list)
    fake_segments: list[Segment] = field(default_factory=list)
    video_frames: int | None = None
    audio_frames: int | None = None
    source_format: str = ""
    whole_clip_labels: dict[str, bool | None] = field(default_factory=dict)
    duration_s: float | None = None
    split: str | None = None

    @property
    def is_fake(self) -> bool | None:
        """True for fake, False for real, None when unknown (evaluation label: fake = 1)."""
        return None if self.label is None else self.label == "fake"

    @property
    def has_timestamps(self) -> bool:
        """Whether the format gives segment times (FakeAVCeleb and the label CSVs do not)."""
        return self.source_format not in NO_TIMESTAMP_FORMATS

    @property
    def both_segments(self) -> list[Segment]:
        """Segments where audio and video are both manipulated (intersection, seconds)."""
        out: list[Segment] = []
        for a0, a1 in self.audio_segments:
            for v0, v1 in self.visual_segments:
                s, e = max(a0, v0), min(a1, v1)
                if e > s:
                    out.append((s, e))
        return sorted(out)


def normalise_key(path: str | os.PathLike[str]) -> str:
    """Relative file key: forward slashes, no ``./`` or leading ``/``, no empty parts."""
    text = str(path)
    if ("\\" not in text and "//" not in text and "./" not in text and text[:1] != "/"
            and text[-1:] != "/" and text != "."):
        return text  # already normal (the common case in million-entry metadata)
    text = text.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/".join(parts)


class PathIndex(dict[str, V], Generic[V]):
    """``{normalised file key: value}`` with path matching (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_base: dict[str, list[str]] | None = None
        self._n_indexed = -1

    def _basenames(self) -> dict[str, list[str]]:
        if self._by_base is None or self._n_indexed != len(self):
            by_base: dict[str, list[str]] = {}
            for key in self:
                by_base.setdefault(key.rsplit("/", 1)[-1], []).append(key)
            self._by_base = by_base
            self._n_indexed = len(self)
        return self._by_base

    def lookup(self, path: str | os.PathLike[str]) -> V | None:
        """Value for ``path`` (absolute or relative), or None when none or ambiguous."""
        key = self.match_key(path)
        return None if key is None else self[key]

    def match_key(self, path: str | os.PathLike[str]) -> str | None:
        """The metadata key that ``path`` refers to, or None (no match, or an ambiguous one)."""
        return self.match(path)[0]

    def match(self, path: str | os.PathLike[str]) -> tuple[str | None, str]:
        """``(key, how)``: how is ``"exact"``, ``"suffix"``, ``"ambiguous"`` or ``"unmatched"``.

        Among the keys with the same file name, the one sharing the longest trailing path with
        ``path`` wins (so paths under another root folder still match); a tie is ambiguous.
        """
        q = normalise_key(path)
        if q in self:
            return q, "exact"
        parts = q.split("/")
        candidates = self._basenames().get(parts[-1], [])
        if not candidates:
            return None, "unmatched"
        if len(candidates) == 1:
            return candidates[0], "suffix"
        best: list[str] = []
        best_len = 0
        for key in candidates:
            kparts = key.split("/")
            n = 1
            while n < min(len(kparts), len(parts)) and kparts[-n - 1] == parts[-n - 1]:
                n += 1
            if n > best_len:
                best, best_len = [key], n
            elif n == best_len:
                best.append(key)
        return (best[0], "suffix") if len(best) == 1 else (None, "ambiguous")


class GroundTruthIndex(PathIndex[GroundTruth]):
    """``{normalised file key: GroundTruth}`` as returned by :func:`load_metadata`."""


def check_segment(start_s: float, end_s: float, where: str) -> None:
    """Raise :class:`GroundTruthError` (naming ``where``) unless ``0 <= start_s <= end_s`` and
    both are finite: NaN, infinite, negative or inverted segments would skew every metric."""
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        problem = "is not a finite number"
    elif start_s < 0:
        problem = "starts before 0 s"
    elif end_s < start_s:
        problem = "ends before it starts"
    else:
        return
    raise GroundTruthError(f"{where}: the segment [{start_s:g}, {end_s:g}] {problem}; "
                           "segments are [start_s, end_s] with 0 <= start_s <= end_s.")


def _segments(value: Any, where: str) -> list[Segment]:
    if value is None:
        return []
    try:
        out = [(float(s), float(e)) for s, e in value]
    except (TypeError, ValueError) as err:
        raise GroundTruthError(
            f"{where}: segments must be a list of [start_s, end_s] pairs, got {str(value)[:60]}."
        ) from err
    for s, e in out:
        check_segment(s, e, where)
    return out


def _duration(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        duration = float(value)
    except (TypeError, ValueError):
        duration = math.nan
    if isinstance(value, bool) or not math.isfinite(duration) or duration < 0:
        raise GroundTruthError(f"{where}: 'duration' must be a number of seconds, got "
                               f"{str(value)[:40]!r}.")
    return duration


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, 1e309
        return None


def _parse_av1m(entry: dict[str, Any], where: str, default_file: str | None = None) -> GroundTruth:
    file = entry.get("file") or default_file
    if not file:
        raise GroundTruthError(f"{where}: an AV-Deepfake1M entry has no 'file' field.")
    mt_raw = entry.get("modify_type")
    mt = None if mt_raw is None else str(mt_raw).strip().lower().replace("-", "_")
    if mt is not None and mt not in _AV1M_TYPES:
        raise GroundTruthError(
            f"{where}: unknown modify_type '{mt_raw}' for {file}; expected one of "
            "real, visual_modified, audio_modified, both_modified."
        )
    here = f"{where} ({file})"
    fake = _segments(entry.get("fake_segments"), here)
    audio_fake = None if mt is None else mt in ("audio_modified", "both_modified")
    video_fake = None if mt is None else mt in ("visual_modified", "both_modified")
    a = entry.get("audio_fake_segments")
    v = entry.get("visual_fake_segments")
    audio = _segments(a, here) if a is not None else (list(fake) if audio_fake else [])
    visual = _segments(v, here) if v is not None else (list(fake) if video_fake else [])
    if not fake:
        fake = sorted(set(audio) | set(visual))
    if mt is None:
        # The SDK's minimal metadata (file + fake_segments): an empty list is a real clip.
        label = "fake" if fake else ("real" if "fake_segments" in entry else None)
    else:
        label = "real" if mt == "real" else "fake"
    return GroundTruth(
        file=normalise_key(file), label=label, modify_type=mt, audio_segments=audio,
        visual_segments=visual, fake_segments=fake, video_frames=_opt_int(entry.get("video_frames")),
        audio_frames=_opt_int(entry.get("audio_frames")), source_format="av-deepfake1m",
        whole_clip_labels={"audio_fake": audio_fake, "video_fake": video_fake},
        split=entry.get("split"),
    )


def _parse_lavdf(entry: dict[str, Any], where: str) -> GroundTruth:
    file = entry.get("file")
    if not file:
        raise GroundTruthError(f"{where}: a LAV-DF entry has no 'file' field.")
    periods = _segments(entry.get("fake_periods"), f"{where} ({file})")
    mod_a = entry.get("modify_audio")
    mod_v = entry.get("modify_video")
    n_fakes = _opt_int(entry.get("n_fakes"))
    fake = bool(mod_a) or bool(mod_v) or bool(n_fakes) or bool(periods)
    mt = {(False, False): "real", (True, False): "audio_modified",
          (False, True): "visual_modified", (True, True): "both_modified"}[(bool(mod_a), bool(mod_v))]
    duration = entry.get("duration")
    return GroundTruth(
        file=normalise_key(file), label="fake" if fake else "real", modify_type=mt,
        audio_segments=list(periods) if mod_a else [], visual_segments=list(periods) if mod_v else [],
        fake_segments=periods, video_frames=_opt_int(entry.get("video_frames")),
        audio_frames=_opt_int(entry.get("audio_frames")), source_format="lav-df",
        whole_clip_labels={"audio_fake": None if mod_a is None else bool(mod_a),
                           "video_fake": None if mod_v is None else bool(mod_v)},
        duration_s=_duration(duration, f"{where} ({file})"), split=entry.get("split"),
    )


def _entry_kind(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    if "fake_periods" in entry or "n_fakes" in entry or "modify_video" in entry:
        return "lav-df"
    if "modify_type" in entry or "fake_segments" in entry or "visual_fake_segments" in entry:
        return "av-deepfake1m"
    return None


def _parse_json_data(data: Any, where: str, default_file: str | None) -> GroundTruthIndex:
    out = GroundTruthIndex()
    if isinstance(data, dict):
        kind = _entry_kind(data)
        if kind == "av-deepfake1m":
            gt = _parse_av1m(data, where, default_file)
            out[gt.file] = gt
            return out
        if kind == "lav-df":
            gt = _parse_lavdf(data, where)
            out[gt.file] = gt
            return out
        items = list(data.items())  # {"file": {...}} mapping
        if items and all(_entry_kind(v) for _, v in items):
            for k, v in items:
                gt = (_parse_av1m(v, where, k) if _entry_kind(v) == "av-deepfake1m"
                      else _parse_lavdf({"file": k, **v}, where))
                out[gt.file] = gt
            return out
        raise GroundTruthError(f"{where} is not in a supported format; expected {FORMATS_SENTENCE}.")
    if isinstance(data, list):
        if not data:
            return out
        kind = _entry_kind(data[0])
        if kind is None:
            raise GroundTruthError(
                f"{where} is not in a supported format; expected {FORMATS_SENTENCE}.")
        parse = _parse_lavdf if kind == "lav-df" else _parse_av1m
        for n, entry in enumerate(data):
            if not isinstance(entry, dict):
                raise GroundTruthError(f"{where}: entry {n} is not a JSON object.")
            gt = parse(entry, f"{where} entry {n}")
            out[gt.file] = gt
        return out
    raise GroundTruthError(f"{where} is not in a supported format; expected {FORMATS_SENTENCE}.")


def _favc_file(row: dict[str, str], extra: list[str]) -> str | None:
    cells = [row.get("path") or "", row.get("filename") or "", row.get("file") or ""] + extra
    cells = [c.strip() for c in cells if c and c.strip()]
    names = [c for c in cells if c.lower().endswith(VIDEO_SUFFIXES)]
    if not names:
        return None
    name = names[0]
    if "/" in name.replace("\\", "/"):
        return normalise_key(name)
    folders = [c for c in cells if c is not name and "/" in c.replace("\\", "/")]
    return normalise_key(f"{folders[0]}/{name}") if folders else normalise_key(name)


def _parse_favc_csv(path: Path) -> GroundTruthIndex:
    where = path.name
    out = GroundTruthIndex()
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, restkey="__extra__")
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if "type" not in header:
                raise GroundTruthError(
                    f"{where} has no 'type' column; expected {FORMATS_SENTENCE}.")
            reader.fieldnames = [h.strip().lower() or f"__col{i}__" for i, h in
                                 enumerate(reader.fieldnames or [])]
            for lineno, row in enumerate(reader, start=2):
                extra = list(row.pop("__extra__", None) or [])
                extra += [v for k, v in row.items() if k.startswith("__col") and v]
                typ = (row.get("type") or "").strip()
                labels = _FAVC_TYPES.get(typ.lower())
                if labels is None:
                    raise GroundTruthError(
                        f"{where} line {lineno}: unknown type '{typ}'; expected "
                        "RealVideo-RealAudio, RealVideo-FakeAudio, FakeVideo-RealAudio or "
                        "FakeVideo-FakeAudio.")
                file = _favc_file(row, extra)
                if file is None:
                    raise GroundTruthError(
                        f"{where} line {lineno}: no cell names a video file (.mp4, ...).")
                video_fake, audio_fake = labels
                mt = {(False, False): "real", (False, True): "audio_modified",
                      (True, False): "visual_modified", (True, True): "both_modified"}[labels]
                out[file] = GroundTruth(
                    file=file, label="fake" if (video_fake or audio_fake) else "real",
                    modify_type=mt, source_format="fakeavceleb",
                    whole_clip_labels={"audio_fake": audio_fake, "video_fake": video_fake},
                )
    except UnicodeDecodeError as err:
        raise GroundTruthError(f"{where} is not a UTF-8 text CSV file.") from err
    except csv.Error as err:  # e.g. a field over csv's 128 KiB limit: no FakeAVCeleb row has one
        what = ("a field is longer than csv's limit of 128 KiB" if "field limit" in str(err)
                else f"it is not valid CSV ({err})")
        raise GroundTruthError(
            f"{where} line {reader.line_num + 1}: {what}; expected {FORMATS_SENTENCE}.") from err
    return out


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except UnicodeDecodeError as err:
        raise GroundTruthError(f"{path.name} is not a UTF-8 text CSV file.") from err
    return [h.strip().lower() for h in next(csv.reader([first]), [])]


def _parse_label_csv(path: Path, header: list[str]) -> GroundTruthIndex:
    """AVH-Align's label CSVs: AV-Deepfake1M ``path,label[,num_frames]`` (label 1 = fake) or
    FakeAVCeleb splits ``source,category,full_path`` (category A = real, B/C/D = fake)."""
    where = path.name
    favc = "full_path" in header
    out = GroundTruthIndex()
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            _ = reader.fieldnames  # consumes the header row
            reader.fieldnames = header
            for lineno, row in enumerate(reader, start=2):
                file = normalise_key((row.get("full_path" if favc else "path") or "").strip())
                if not file:
                    raise GroundTruthError(f"{where} line {lineno}: the clip's path is empty.")
                if favc:
                    cat = (row.get("category") or "").strip().upper()
                    if cat not in ("A", "B", "C", "D"):
                        raise GroundTruthError(
                            f"{where} line {lineno}: unknown category '{cat[:20]}'; expected A "
                            "(real), B, C or D (fake).")
                    video_fake, audio_fake = cat in ("C", "D"), cat in ("B", "D")
                    labels: dict[str, bool | None] = {"audio_fake": audio_fake,
                                                      "video_fake": video_fake}
                    gt = GroundTruth(file=file, label="real" if cat == "A" else "fake",
                                     modify_type=None, source_format="fakeavceleb",
                                     whole_clip_labels=labels)
                else:
                    cell = (row.get("label") or "").strip()
                    if cell not in ("0", "1"):
                        raise GroundTruthError(
                            f"{where} line {lineno}: label '{cell[:20]}' of {file} is not 0 "
                            "(real) or 1 (fake).")
                    gt = GroundTruth(file=file, label="fake" if cell == "1" else "real",
                                     modify_type=None, source_format="av-deepfake1m-csv",
                                     video_frames=_opt_int(row.get("num_frames")))
                if file in out:
                    raise GroundTruthError(
                        f"{where} line {lineno}: {file} is listed twice; keep one row per clip.")
                out[file] = gt
    except UnicodeDecodeError as err:
        raise GroundTruthError(f"{where} is not a UTF-8 text CSV file.") from err
    except csv.Error as err:
        raise GroundTruthError(f"{where} is not valid CSV ({err}); expected "
                               f"{FORMATS_SENTENCE}.") from err
    return out


def load_metadata(path: str | os.PathLike[str]) -> GroundTruthIndex:
    """Parse a metadata file into ``{file key: GroundTruth}`` (a :class:`GroundTruthIndex`).

    Raises :class:`GroundTruthError` when the file is missing, not valid JSON/CSV, or in none of
    the supported formats. One JSON parse and one pass: ~1M AV-Deepfake1M entries take seconds.
    """
    p = Path(path)
    require_regular_file(p, "metadata file", GroundTruthError)
    if p.suffix.lower() == ".csv":
        header = _csv_header(p)
        if "type" not in header and ({"category", "full_path"} <= set(header)
                                     or {"path", "label"} <= set(header)):
            return _parse_label_csv(p, header)
        return _parse_favc_csv(p)
    data = read_json_file(p, "", GroundTruthError, name=p.name,  # its sentences start with the name
                          should_be=f"metadata ({FORMATS_SENTENCE})",
                          max_bytes=MAX_DATASET_JSON_BYTES)
    return _parse_json_data(data, p.name, default_file=p.with_suffix(".mp4").name)


_CACHE: dict[str, tuple[tuple[int, int], GroundTruthIndex]] = {}
_CACHE_LOCK = threading.Lock()


def load_metadata_cached(path: str | os.PathLike[str]) -> GroundTruthIndex:
    """:func:`load_metadata`, cached by absolute path + mtime + size (re-read when it changes)."""
    p = Path(path).resolve()
    st = p.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        hit = _CACHE.get(str(p))
    if hit is not None and hit[0] == stamp:
        return hit[1]
    index = load_metadata(p)
    with _CACHE_LOCK:
        _CACHE[str(p)] = (stamp, index)
    return index


def search_folders(video: Path, max_parents: int = MAX_PARENTS) -> list[Path]:
    """The folders searched for a metadata file of ``video`` (resolved): its own, then up to
    ``max_parents`` parents."""
    folders = [video.parent]
    while len(folders) <= max_parents and folders[-1].parent != folders[-1]:
        folders.append(folders[-1].parent)
    return folders


def candidate_files(video_path: str | os.PathLike[str], max_parents: int = MAX_PARENTS) -> list[Path]:
    """Every file :func:`find_groundtruth` may read for ``video_path``, in search order."""
    video = Path(video_path).resolve()
    return [video.with_suffix(".json")] + [folder / name for folder in search_folders(video, max_parents)
                                           for name in METADATA_NAMES]


def find_groundtruth_for(video_path: str | os.PathLike[str],
                         max_parents: int = MAX_PARENTS) -> GroundTruth | None:
    """Ground truth for a clip found next to it, or None (see :func:`find_groundtruth`)."""
    return find_groundtruth(video_path, max_parents)[0]


def find_groundtruth(video_path: str | os.PathLike[str],
                     max_parents: int = MAX_PARENTS) -> tuple[GroundTruth | None, list[str]]:
    """``(ground truth or None, problems)`` for a clip, from files next to it.

    Looks for a per-clip ``<stem>.json`` (AV-Deepfake1M) beside the clip, then for a metadata
    file (:data:`METADATA_NAMES`) in the clip's folder and up to ``max_parents`` parent folders,
    matching by the clip's path relative to that folder, then by trailing path / basename.
    A ``<stem>.json`` that is not ground truth (e.g. a result JSON) is skipped silently; a
    metadata file that cannot be read is skipped, its sentence goes to ``problems``, and the
    search goes on.
    """
    video = Path(video_path).resolve()
    problems: list[str] = []
    sidecar = video.with_suffix(".json")
    if sidecar.is_file():
        try:
            index = load_metadata_cached(sidecar)
            if len(index) == 1:
                return next(iter(index.values())), problems
        except (ForensicsError, OSError):
            pass
    for folder in search_folders(video, max_parents):
        for name in METADATA_NAMES:
            meta = folder / name
            if not meta.is_file():
                continue
            try:
                index = load_metadata_cached(meta)
            except ForensicsError as err:
                problems.append(f"{meta} was skipped: {err}")
                continue
            except OSError as err:
                problems.append(f"{meta} was skipped: it cannot be read ({err.strerror or err}).")
                continue
            gt = index.lookup(video.relative_to(folder).as_posix())
            if gt is not None:
                return gt, problems
    return None, problems


def lookup_groundtruth(mode: str, meta: str, video: str) -> tuple[GroundTruth | None, str]:
    """(ground truth or None, note) as the viewer asks for it.

    ``mode`` "find": :func:`find_groundtruth` next to ``video``, the note joins its problems;
    otherwise the entry for ``video`` in the metadata file ``meta``, where a single-entry file
    applies as it is (note "only"). Module-level so that it can run in a child process.
    """
    if mode == "find":
        gt, problems = find_groundtruth(video)
        return gt, " ".join(problems)
    index = load_metadata(meta)
    gt = index.lookup(video)
    if gt is None and len(index) == 1:
        return next(iter(index.values())), "only"
    return gt, ""


def load_detection_predictions(path: str | os.PathLike[str]) -> dict[str, float]:
    """AV-Deepfake1M detection predictions: ``file;score`` lines -> ``{file key: score}``.

    A header line whose score is not a number is skipped; other malformed lines raise.
    """
    p = Path(path)
    out: dict[str, float] = {}
    fh, _ = open_regular_file(p, "prediction file", GroundTruthError, allow_empty=True)
    try:
        with fh:
            lines = fh.read().decode("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise GroundTruthError(f"Cannot read prediction file {p}: {err}.") from err
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        file, sep, score = line.rpartition(";")
        try:
            value = float(score)
        except ValueError:
            if n == 1:
                continue
            raise GroundTruthError(
                f"{p.name} line {n}: expected 'file;score', got '{line[:60]}'.") from None
        if not sep:
            raise GroundTruthError(f"{p.name} line {n}: expected 'file;score', got '{line[:60]}'.")
        if not math.isfinite(value):
            raise GroundTruthError(
                f"{p.name} line {n}: the score of {file.strip()} is {score.strip()}, not a finite number.")
        key = normalise_key(file.strip())
        if key in out:
            raise GroundTruthError(
                f"{p.name} line {n}: {file.strip()} is scored twice; keep one line per clip.")
        out[key] = value
    return out


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, duplicates kept."""


def load_localisation_predictions(path: str | os.PathLike[str]) -> dict[str, list[tuple[float, float, float]]]:
    """AV-Deepfake1M localisation predictions ``{"file": [[conf, start_s, end_s], ...]}``."""
    p = Path(path)
    # Pairs, not a dict: a clip named twice must not lose its first list silently.
    data = read_json_file(p, "", GroundTruthError, name=p.name,
                          should_be="localisation predictions", object_pairs_hook=_Pairs,
                          max_bytes=MAX_DATASET_JSON_BYTES)
    if not isinstance(data, _Pairs):
        raise GroundTruthError(
            f"{p.name}: expected a JSON object {{\"file\": [[conf, start_s, end_s], ...]}}.")
    out: dict[str, list[tuple[float, float, float]]] = {}
    for file, props in data:
        if normalise_key(file) in out:
            raise GroundTruthError(
                f"{p.name}: {file} has two lists of proposals; keep one entry per clip.")
        try:
            triples = [(float(c), float(s), float(e)) for c, s, e in props]
        except (TypeError, ValueError) as err:
            raise GroundTruthError(
                f"{p.name}: proposals of {file} must be [conf, start_s, end_s] triples.") from err
        out[normalise_key(file)] = triples
    _check_proposals(out, p.name)
    return out


def _check_proposals(props: dict[str, list[tuple[float, float, float]]], name: str) -> None:
    """Refuse a non-finite confidence or an impossible segment, naming the clip (one vectorised
    pass; the clip is looked for only when something is wrong)."""
    import numpy as np

    flat = [t for triples in props.values() for t in triples]
    if not flat:
        return
    arr = np.asarray(flat, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr).all() and bool((arr[:, 1] >= 0).all() and (arr[:, 2] >= arr[:, 1]).all())
    if ok:
        return
    for file, triples in props.items():
        for c, s, e in triples:
            if not math.isfinite(c):
                raise GroundTruthError(
                    f"{name}: a proposal of {file} has confidence {c}, not a finite number.")
            check_segment(s, e, f"{name} ({file})")

