"""Training data for Phi from a folder of real videos: mouth ROI + AV-HuBERT features per clip.

Each clip goes through the same stages and the same on-disk cache as an analysis
(:meth:`forensics_gui.core.pipeline.Analyzer.mouth_roi` / ``.features``), so a clip analysed
before is not processed again and a clip extracted here analyses fast later. One features
``.npz`` (AVH-Align layout, :func:`forensics_gui.core.encoder.features.save_features`) is written per
usable clip, atomically, under ``out_dir`` at the clip's path relative to the input folder with
the suffix ``.npz`` (``a/b.mp4`` -> ``out_dir/a/b.npz``; ``b.mp4.npz`` when two clips share a stem).

Resumable: a features file already in ``out_dir`` whose recorded input SHA-256, feature
checkpoint SHA-256 and trim option match is kept and the clip is not touched again.

Overlap: with ``workers >= 2`` one background thread hashes, decodes and tracks the face of the
next clips (dlib drops the GIL while it detects) while this thread runs the encoder on the
current one; it is the same mechanism as ``batch`` uses
(:func:`forensics_gui.core.pipeline.prefetch`).

Clips that cannot be used (unreadable, no audio or video stream, no face in any frame, too short)
are skipped and listed in :attr:`ExtractionReport.skipped` with a one-sentence reason; a summary
``extraction.json`` is written into ``out_dir``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import (
    Cancelled,
    ForensicsError,
    MediaError,
    NoFaceError,
)
from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD
from forensics_gui.core.progress import ClipRunProgress, Progress

STAGE = "extracting features"
REPORT_NAME = "extraction.json"


@dataclass
class ExtractionReport:
    """What :func:`extract_features_for_videos` produced.

    ``feature_files``: one .npz per usable clip, in input order (new and reused ones);
    ``skipped``: (clip, one-sentence reason) for each clip that gave no features;
    ``reused``: the feature files that were already up to date and left untouched.
    """

    feature_files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    reused: list[Path] = field(default_factory=list)
    videos: int = 0
    checkpoint_sha256: str = ""

    def require_features(self, source: str | os.PathLike[str] | None = None) -> list[Path]:
        """The feature files, or a ForensicsError (one sentence) when no clip was usable."""
        if self.feature_files:
            return list(self.feature_files)
        where = f" in {source}" if source is not None else ""
        if self.videos == 0:
            raise ForensicsError(f"There are no video files{where}; choose a folder of real videos.")
        no_face = sum(1 for _, reason in self.skipped if reason.startswith("No face"))
        if self.videos == 1 and self.skipped:
            raise ForensicsError(f"The only video{where} cannot be used: {self.skipped[0][1]}")
        if no_face == len(self.skipped):
            raise NoFaceError(f"No face was found in any of the {self.videos} videos{where}; "
                              "Phi needs clips of a visible talking face.")
        first = self.skipped[0][1] if self.skipped else ""
        raise ForensicsError(f"None of the {self.videos} videos{where} could be used "
                             f"({no_face} without a face; first problem: {first.rstrip('.')}).")


# --------------------------------------------------------------------------- inputs and names


def list_videos(videos_dir_or_list: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
                ) -> tuple[list[Path], Path | None]:
    """(video files, the folder their output names are relative to).

    A folder is searched recursively (hidden folders skipped); a list is taken as it is, relative
    to its deepest common folder. Raises ForensicsError for a missing folder.
    """
    from forensics_gui.core.media.folders import iter_videos

    if isinstance(videos_dir_or_list, (str, os.PathLike)):
        root = Path(videos_dir_or_list)
        if not root.is_dir():
            raise ForensicsError(f"The videos folder {root} does not exist or is not a folder.")
        return list(iter_videos(root)), root
    videos = [Path(v) for v in videos_dir_or_list]
    if not videos:
        return [], None
    parents = [str(v.resolve().parent) for v in videos]
    return videos, Path(os.path.commonpath(parents))


def output_names(videos: Sequence[Path], root: Path | None) -> list[Path]:
    """Relative .npz names for ``videos``: the relative path with ``.npz`` for the suffix, or the
    full file name + ``.npz`` where two clips in one folder share a stem."""
    rels = []
    for v in videos:
        try:
            rels.append(v.resolve().relative_to(root.resolve()) if root is not None else Path(v.name))
        except ValueError:
            rels.append(Path(v.name))
    stems = [r.with_suffix(".npz") for r in rels]
    counts: dict[Path, int] = {}
    for s in stems:
        counts[s] = counts.get(s, 0) + 1
    return [s if counts[s] == 1 else r.with_name(r.name + ".npz")
            for s, r in zip(stems, rels, strict=True)]


def default_features_dir(videos_dir_or_list: str | os.PathLike[str] | Iterable[Any]) -> Path:
    """Where features of a video folder go when no folder is given: under the cache folder,
    one sub-folder per input folder (so a second run on the same folder resumes)."""
    from forensics_gui.core.files.paths import cache_dir

    if isinstance(videos_dir_or_list, (str, os.PathLike)):
        anchor = str(Path(videos_dir_or_list).resolve())
    else:
        _, root = list_videos(videos_dir_or_list)
        anchor = str(root) if root is not None else "empty"
    digest = hashlib.sha256(anchor.encode("utf-8")).hexdigest()[:16]
    return cache_dir() / "training-features" / digest


def is_up_to_date(path: Path, source_sha256: str, checkpoint_sha256: str, trim: bool,
                  preparation: str = "official") -> bool:
    """True when ``path`` is a features file of this input, checkpoint, trim option (and, trimmed,
    trim rule) and mouth-crop preparation (files without those records are re-extracted)."""
    from forensics_gui.core.files.npz import FeatureFileError, read_feature_npz

    try:
        content = read_feature_npz(path, arrays=False)
    except FeatureFileError:  # also a missing file, a folder or a FIFO: the one file check
        return False
    if "visual" not in content.members:
        return False
    meta, ckpt = content.meta(), content.scalars.get("checkpoint_sha256")
    prep = meta.get("preparation")
    return (ckpt == checkpoint_sha256 and meta.get("source_sha256") == source_sha256
            and bool(meta.get("trim_leading_silence")) == bool(trim)
            and (not trim or meta.get("trim_threshold") == OFFICIAL_TRIM_THRESHOLD)
            and isinstance(prep, dict) and prep.get("preparation") == preparation)


# --------------------------------------------------------------------------- the work


@dataclass
class _Prepared:
    """A clip after hashing, audio decoding and face tracking (what the encoder needs)."""

    video: Path
    out: Path
    sha256: str
    audio_16k: np.ndarray | None = None
    gray: np.ndarray | None = None
    up_to_date: bool = False
    reason: str | None = None


def _prepare(analyzer: Any, video: Path, out: Path, ckpt_sha: str, trim: bool,
             watch: Progress | None) -> _Prepared:
    """Hash, check the existing output, decode the 16 kHz audio and track the mouth of one clip."""
    from forensics_gui.core.files.hashing import sha256_file
    from forensics_gui.core.media import decode as media

    try:
        info = media.probe(video)
        if info.video is None:
            raise MediaError(f"{video.name} has no video stream.")
        if info.audio is None:
            raise MediaError(f"{video.name} has no audio stream.")
        sha = sha256_file(video, progress=watch)
        if is_up_to_date(out, sha, ckpt_sha, trim, analyzer.options.preparation):
            return _Prepared(video, out, sha, up_to_date=True)
        audio = media.decode_audio(video, sample_rate=16000, mono=True).samples[0]
        face, gray = analyzer.mouth_roi(video, sha, watch)
        if not face.face_found or gray is None:
            return _Prepared(video, out, sha, reason=f"No face was found in {video.name}.")
        return _Prepared(video, out, sha, audio_16k=audio, gray=gray)
    except Cancelled:
        raise
    except ForensicsError as err:
        return _Prepared(video, out, "", reason=str(err))
    except (OSError, ValueError, RuntimeError) as err:
        return _Prepared(video, out, "", reason=f"{video.name} could not be processed ({err}).")


def _load_analyzer(checkpoint: str | os.PathLike[str] | None, device: str, use_cache: bool,
                   preparation: str = "official") -> Any:
    """An Analyzer with only the AV-HuBERT extractor loaded (no Phi is needed to extract)."""
    from forensics_gui.core.encoder.features import FeatureExtractor
    from forensics_gui.core.models import registry as models_registry
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer

    path = models_registry.require_checkpoint("avhubert", checkpoint)
    analyzer = Analyzer(AnalysisOptions(checkpoint=path, device=device, use_cache=use_cache,
                                        preparation=preparation))
    analyzer._extractor = FeatureExtractor(path, device=device)
    return analyzer


def extract_features_for_videos(videos_dir_or_list: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                                out_dir: str | os.PathLike[str] | None = None, *,
                                checkpoint: str | os.PathLike[str] | None = None,
                                device: str = "auto", progress: Progress | None = None,
                                workers: int = 2, trim: bool = False,
                                use_cache: bool = True,
                                preparation: str = "official") -> ExtractionReport:
    """Write a features .npz for every usable clip of a folder (or list) of videos.

    ``out_dir`` None = :func:`default_features_dir`. ``checkpoint`` None = the installed default
    AV-HuBERT (models registry). ``trim`` applies AVH-Align's leading-silence trim first.
    ``workers >= 2`` prepares the next clips (hash, audio, face tracking) in one background
    thread while the encoder runs; ``workers=1`` does everything in this thread. Progress:
    ``report("extracting features", clips_done, clips_total)`` with fractional clips; Cancel
    (via ``progress``) raises Cancelled between frames/layers, leaving the finished files.
    Raises ForensicsError for a missing folder, CheckpointError for a missing checkpoint; bad
    clips are skipped, not raised (see :meth:`ExtractionReport.require_features`).
    ``preparation``: the mouth-crop landmarks, "official" or "fast" (recorded in every file).
    """
    from forensics_gui.core.encoder.features import save_features
    from forensics_gui.core.face.roi import preparation_record
    from forensics_gui.core.pipeline import prefetch

    videos, root = list_videos(videos_dir_or_list)
    out_root = Path(out_dir) if out_dir is not None else default_features_dir(videos_dir_or_list)
    report = ExtractionReport(videos=len(videos))
    if not videos:
        return report
    analyzer = _load_analyzer(checkpoint, device, use_cache, preparation)
    record = preparation_record(preparation)
    ckpt_sha = analyzer._extractor.checkpoint_sha256
    report.checkpoint_sha256 = ckpt_sha
    _ = analyzer.cache  # create it here, not concurrently in the worker
    outs = [out_root / name for name in output_names(videos, root)]
    total = len(videos)

    def prepare(i: int, prog: Progress | None) -> _Prepared:
        return _prepare(analyzer, videos[i], outs[i], ckpt_sha, trim, prog)

    bar = ClipRunProgress(progress, STAGE, total)
    lookahead = 2 if workers >= 2 else 0
    clips = prefetch(range(total), prepare, lookahead=lookahead, progress=progress,
                     on_wait=bar.waiting)
    with contextlib.closing(clips):
        for item in clips:
            i = item.index
            bar.show(i + 0.5)
            if item.error is not None:
                raise item.error  # _prepare turns every expected problem into a reason
            prepared = item.value
            assert prepared is not None
            if prepared.up_to_date:
                report.feature_files.append(prepared.out)
                report.reused.append(prepared.out)
                continue
            if prepared.reason is not None:
                report.skipped.append((prepared.video, prepared.reason))
                continue
            try:
                fs = analyzer.features(prepared.sha256, prepared.gray, prepared.audio_16k, trim,
                                       bar.for_clip(i))
            except Cancelled:
                raise
            except ForensicsError as err:
                report.skipped.append((prepared.video, str(err)))
                continue
            fs.meta = {**fs.meta, "source_file": prepared.video.name,
                       "source_sha256": prepared.sha256, "trim_leading_silence": bool(trim)}
            save_features(prepared.out, fs, preparation=record)
            report.feature_files.append(prepared.out)
    bar.show(total)
    _write_summary(out_root, report)
    return report


def _write_summary(out_root: Path, report: ExtractionReport) -> None:
    summary = {
        "checkpoint_sha256": report.checkpoint_sha256,
        "videos": report.videos,
        "feature_files": [str(p) for p in report.feature_files],
        "reused": [str(p) for p in report.reused],
        "skipped": [{"file": str(p), "reason": r} for p, r in report.skipped],
    }
    try:
        write_text_atomic(out_root / REPORT_NAME, json.dumps(summary, indent=1))
    except OSError:
        pass  # the summary is informative only
