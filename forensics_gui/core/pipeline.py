"""One pipeline for the GUI worker, the CLI and batch: media -> mouth ROI -> features -> scores.

Stages (the names the progress object receives): "hash", "audio", "landmarks", "mouth crop",
"ROI round trip", "mouth and voice" (:mod:`forensics_gui.core.lipsync`, no model), "video front end", "encoder", "scoring" ("loading models" first when the
models are not loaded yet). Long stages check for cancellation between units of work. Mouth ROIs
and features are cached on disk keyed by the input's SHA-256, the checkpoint's SHA-256 and the
options (see :mod:`forensics_gui.core.encoder.cache`), so a second analysis of the same clip only
re-scores.

One clip: :meth:`Analyzer.analyze` = :meth:`Analyzer.prepare` (everything before the model:
media checks, hash, audio, face track, mouth ROI) + :meth:`Analyzer.finish` (features, scores).
Many clips: :func:`prefetch` runs ``prepare`` of the next clip(s) in ONE background thread while
the caller runs the model on the current one; ``batch`` (:meth:`Analyzer.analyze_many`) and the
training-data extraction (:mod:`forensics_gui.core.training_data`) both use it. The overlapped
results equal one analysis per clip (same code, same order of operations on the same data).

Time: model frames are on the 25 fps grid starting at the media start (frame k covers
[k/25, (k+1)/25) s). A trimmed analysis drops ``video_skip_frames`` frames first, so its curve
starts at that model frame: its results carry it as ``first_model_frame`` (set here, once, for
every consumer) and their seconds come from it through :mod:`forensics_gui.core.media.timebase`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from forensics_gui import __version__
from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError, MediaError
from forensics_gui.core.media.silence import (
    DEFAULT_THRESHOLD,
    OFFICIAL_TRIM_THRESHOLD,
    SilenceResult,
    leading_silence,
    validate_threshold,
)
from forensics_gui.core.media.timebase import MODEL_FPS
from forensics_gui.core.progress import Progress, check_cancelled
from forensics_gui.core.readahead import ReadAhead

ROI_CACHE_VERSION = "roi-2"
FEATURES_CACHE_VERSION = "features-1"

VARIANTS = ("untrimmed", "trimmed")
CLIP_ERRORS = (ForensicsError, OSError, ValueError, RuntimeError)
"""What a bad clip raises in a multi-clip run (listed for that clip; the run goes on)."""


@dataclass
class AnalysisOptions:
    """What to run. ``checkpoint``/``phi`` None = the installed defaults (models registry)."""

    checkpoint: Path | None = None
    phi: Path | None = None
    supervised: Path | None = None
    variants: tuple[str, ...] = ("untrimmed",)
    pool: str = "lse"
    device: str = "auto"
    use_cache: bool = True
    silence_threshold: float = DEFAULT_THRESHOLD  # display tau; the trimmed variant ignores it
    preparation: str = "official"  # mouth-crop landmarks: "official" or "fast" (core.landmarks)
    precision: str = "float32"  # the encoder's: "float32" (exact), "bfloat16" or "float16" (devices)

    def __post_init__(self) -> None:
        from forensics_gui.core.encoder.devices import precision_name

        self.silence_threshold = validate_threshold(self.silence_threshold)
        self.precision = precision_name(self.precision)  # fp32/bf16/fp16 -> the full name


@dataclass
class FaceTrack:
    """The face track the viewer overlays: per 25 fps frame, landmarks, box, detected flag."""

    times_s: np.ndarray
    landmarks: np.ndarray
    face_boxes: np.ndarray
    detected: np.ndarray
    face_found: bool


@dataclass
class ClipAnalysis:
    """Everything one analysis produced; ``to_dict`` is the RESULT.json of ``analyze``."""

    file: Path
    sha256: str
    info: Any  # media.MediaInfo
    silence: Any | None  # silence.SilenceResult; None without audio
    face: FaceTrack | None
    roi_gray: np.ndarray | None  # uint8 [T, 96, 96] what the model saw (after the mp4 round trip)
    scores: dict[str, Any] = field(default_factory=dict)  # variant -> scoring.ScoreResult
    supervised: dict[str, Any] = field(default_factory=dict)  # variant -> scoring.ScoreResult
    models: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    trims: dict[str, dict[str, Any]] = field(default_factory=dict)
    preparation: dict[str, str] | None = None  # roi.preparation_record() of the mouth crops
    damage: dict[str, Any] | None = None  # media.integrity.Integrity.to_dict(): cut-short file?
    lipsync: Any | None = None  # lipsync.LipSyncResult: mouth and voice (no model needed)

    @property
    def precision(self) -> str:
        """The encoder precision the features were computed in (the features model's record;
        "float32" for results from before it was recorded)."""
        from forensics_gui.core.encoder.devices import recorded_precision

        return recorded_precision(self.models)

    @property
    def main(self) -> Any | None:
        """The headline result: untrimmed if present, else the first variant."""
        if "untrimmed" in self.scores:
            return self.scores["untrimmed"]
        return next(iter(self.scores.values()), None)

    def to_dict(self) -> dict[str, Any]:
        main = self.main
        out: dict[str, Any] = {
            "file": str(self.file),
            "sha256": self.sha256,
            "fps": float(MODEL_FPS),
            "app_version": __version__,
            "leading_silence_ms": None if self.silence is None else self.silence.leading_silence_ms,
            "silence": None if self.silence is None else self.silence.to_dict(),
            "face_found": bool(self.face and self.face.face_found),
            "frames_without_face": None if self.face is None else int((~self.face.detected).sum()),
            "models": self.models,
            "precision": self.precision,
            "preparation": self.preparation,
            "caveats": self.caveats,
            "damage": self.damage,
        }
        if self.lipsync is not None:  # its own section, separate from AVH-Align's
            out["mouth_and_voice"] = self.lipsync.to_dict()
        if main is not None:
            doc = main.to_dict()
            out.update({
                "frame_scores": doc["frame_scores"],
                "first_model_frame": doc["first_model_frame"],
                "times_s": doc["times_s"],
                "video_score": doc["video_score"],
                "pool": main.pool,
                "suspicious_segments": [[float(s), float(e)] for s, e in main.suspicious_segments],
            })
        out["variants"] = {name: {**res.to_dict(), **self.trims.get(name, {})}
                           for name, res in self.scores.items()}
        if self.supervised:
            out["supervised"] = {name: res.to_dict() for name, res in self.supervised.items()}
        return out


@dataclass
class PreparedClip:
    """A clip after every stage before the model (see :meth:`Analyzer.prepare`)."""

    path: Path
    sha256: str
    info: Any  # media.MediaInfo
    silence: Any  # silence.SilenceResult
    audio_16k: np.ndarray  # float32 [N] mono 16 kHz samples
    face: FaceTrack
    gray: np.ndarray  # uint8 [T, 96, 96] the ROI after the mp4 round trip
    caveats: list[str] = field(default_factory=list)
    damage: dict[str, Any] | None = None  # media.integrity.Integrity.to_dict()
    lipsync: Any | None = None  # lipsync.LipSyncResult (mouth and voice; computed here, no model)


PartialCallback = Callable[[str, str, Any], None]
"""``on_partial(kind, variant, ScoreResult)`` with kind "unsupervised" or "supervised"."""


def _stage(progress: Progress | None, stage: str, done: float, total: float | None) -> None:
    if progress is not None:
        progress.report(stage, done, total)
    check_cancelled(progress)


def resolve_models(options: AnalysisOptions) -> tuple[Path, Path]:
    """The AV-HuBERT and Phi checkpoints to use, or a CheckpointError saying what to install."""
    from forensics_gui.core.files.checks import require_regular_file
    from forensics_gui.core.models import registry as models_registry

    ckpt = options.checkpoint or models_registry.find_avhubert_checkpoint()
    phi = options.phi or models_registry.find_phi_checkpoint()
    for given, what in ((options.checkpoint, "AV-HuBERT checkpoint"), (options.phi, "Phi checkpoint")):
        if given is not None:
            require_regular_file(given, what, CheckpointError)
    if ckpt is None or phi is None:
        raise CheckpointError(models_registry.describe_missing_models() or "Model weights are missing.")
    return Path(ckpt), Path(phi)


def require_finite_scores(result: Any, model: Any, clip_name: str) -> None:
    """Raise ForensicsError when a ScoreResult of ``model`` (a loaded Phi) holds NaN or infinity,
    so a broken model or broken features never pass for a result."""
    scores = np.asarray(result.frame_scores, dtype=np.float64)
    if not (np.isfinite(scores).all() and np.isfinite(result.video_score)):
        name = model.path.name if getattr(model, "path", None) else "the Phi model"
        raise ForensicsError(f"{name} gave NaN or infinite scores for {clip_name}, so no result "
                             "was written; check that the features and the Phi model belong together.")


_ROI_ARRAYS = ("times_s", "landmarks", "face_boxes", "detected", "face_found", "gray")


def roi_cache_key(sha: str, preparation: str) -> str:
    """The analysis-cache key of a clip's face track and mouth ROI (by its SHA-256)."""
    from forensics_gui.core.encoder.cache import Cache

    return Cache.key(ROI_CACHE_VERSION, sha, {"preparation": preparation})


def cached_mouth_roi(sha: str, preparation: str, cache: Any = None
                     ) -> tuple[FaceTrack, np.ndarray | None] | None:
    """The face track and grey mouth ROI an earlier analysis of the clip with SHA-256 ``sha``
    cached (``preparation`` "official" or "fast"), or None when there is none. Writes nothing
    (:mod:`forensics_gui.core.evidence.frames` reads what the model saw through it)."""
    if cache is None:
        from forensics_gui.core.encoder.cache import Cache

        cache = Cache()
    cached = cache.get_npz(roi_cache_key(sha, preparation), _ROI_ARRAYS)
    if cached is None:
        return None
    face = FaceTrack(cached["times_s"], cached["landmarks"], cached["face_boxes"],
                     cached["detected"].astype(bool), bool(cached["face_found"]))
    return face, (cached["gray"] if face.face_found else None)
_FEATURE_SCALARS = ("trimmed_video_frames", "trimmed_audio_samples", "leading_silence_s")


class Analyzer:
    """Holds loaded models across clips (batch, GUI) and runs :meth:`analyze` on each."""

    def __init__(self, options: AnalysisOptions | None = None) -> None:
        self.options = options or AnalysisOptions()
        self._extractor: Any = None
        self._checkpoint: Path | None = None  # the AV-HuBERT to use; loaded on a features-cache miss
        self._checkpoint_sha: str = ""
        self._architecture: str = ""  # e.g. "LARGE": from the loaded model or a features-cache entry
        self._phi: Any = None
        self._sup: Any = None
        self._cache: Any = None

    # -- models -----------------------------------------------------------------------------
    def load_models(self, progress: Progress | None = None) -> None:
        """Load Phi (and the supervised model) and resolve the AV-HuBERT checkpoint and its
        SHA-256 (cached by size and time). The AV-HuBERT itself (seconds for LARGE) is loaded
        lazily, on the first features-cache miss, so re-analysing a cached clip only re-scores."""
        from forensics_gui.core.alignment.phi import load_phi
        from forensics_gui.core.files.hashing import sha256_of

        ckpt, phi = resolve_models(self.options)
        self._dtype()  # a precision this machine lacks: say so before any model is loaded
        if self._extractor is None and self._checkpoint != ckpt:
            _stage(progress, "loading models", 0, None)
            self._checkpoint_sha = sha256_of(ckpt)
            self._checkpoint, self._architecture = ckpt, ""
        if self._phi is None:
            self._phi = load_phi(phi)
        if self.options.supervised is not None and self._sup is None:
            self._sup = load_phi(self.options.supervised)

    def _dtype(self) -> Any:
        """The torch dtype of ``options.precision`` on ``options.device`` (ForensicsError, one
        sentence, when this machine lacks it)."""
        from forensics_gui.core.encoder.devices import resolve_device, resolve_dtype

        return resolve_dtype(self.options.precision, resolve_device(self.options.device))

    def _loaded_extractor(self) -> Any:
        """The loaded extractor when it runs in the precision the options ask for, else None
        (one of another precision is dropped, so the options can change between clips)."""
        ex = self._extractor
        if ex is not None and ex.dtype != self._dtype():
            self._extractor = ex = None
        return ex

    def extractor(self, progress: Progress | None = None) -> Any:
        """The AV-HuBERT FeatureExtractor, loaded now if it is not yet (needs :meth:`load_models`)."""
        if self._loaded_extractor() is None:
            from forensics_gui.core.encoder.features import FeatureExtractor

            if self._checkpoint is None:
                raise RuntimeError("Analyzer.extractor needs load_models() first")
            _stage(progress, "loading models", 0, None)
            self._extractor = FeatureExtractor(self._checkpoint, device=self.options.device,
                                               dtype=self.options.precision)
        return self._extractor

    def _features_key_parts(self) -> tuple[str, str]:
        """(checkpoint SHA-256, dtype name) of the features cache key, without loading the model:
        the precision asked for, resolved ("torch.float32", "torch.bfloat16", ...), so features
        of one precision are never served to a run of another."""
        ex = self._loaded_extractor()
        if ex is not None:
            return ex.checkpoint_sha256, str(ex.dtype)
        return self._checkpoint_sha, str(self._dtype())

    def models_used(self) -> list[dict[str, Any]]:
        out = []
        ex = self._loaded_extractor()
        if ex is None and self._checkpoint is not None and not self._architecture:
            ex = self.extractor()  # an old cache entry without the architecture name
        if ex is not None:
            out.append({"role": "features", "name": ex.checkpoint_path.name, "path": str(ex.checkpoint_path),
                        "sha256": ex.checkpoint_sha256, "architecture": ex.config.size_name,
                        "device": str(ex.device), "precision": str(ex.dtype).replace("torch.", "")})
        elif self._checkpoint is not None:
            from forensics_gui.core.encoder.devices import resolve_device

            out.append({"role": "features", "name": self._checkpoint.name, "path": str(self._checkpoint),
                        "sha256": self._checkpoint_sha, "architecture": self._architecture,
                        "device": str(resolve_device(self.options.device)),
                        "precision": str(self._dtype()).replace("torch.", "")})
        for role, m in (("phi", self._phi), ("supervised", self._sup)):
            if m is not None:
                out.append({"role": role, "name": m.path.name if m.path else "", "path": str(m.path),
                            "sha256": m.sha256, "kind": m.kind})
        return out

    @property
    def cache(self) -> Any:
        if self._cache is None:
            from forensics_gui.core.encoder.cache import Cache

            self._cache = Cache()
        return self._cache

    # -- stages -----------------------------------------------------------------------------
    def mouth_roi(self, path: Path, sha: str, progress: Progress | None) -> tuple[FaceTrack, np.ndarray | None]:
        """Face track and the grey ROI frames the model sees (None without a face); cached."""
        from forensics_gui.core.face import roi

        key = roi_cache_key(sha, self.options.preparation)
        hit = cached_mouth_roi(sha, self.options.preparation, self.cache) \
            if self.options.use_cache else None
        if hit is not None:
            return hit
        _stage(progress, "landmarks", 0, None)
        result = roi.extract_mouth_roi(path, progress=progress, preparation=self.options.preparation)
        face = FaceTrack(result.times_s, result.landmarks, result.face_boxes, result.detected,
                         result.face_found)
        gray = None
        if result.face_found:
            _stage(progress, "ROI round trip", 0, None)
            gray = roi.roi_roundtrip(result)
        if self.options.use_cache:
            self.cache.put_npz(key, {
                "times_s": face.times_s, "landmarks": face.landmarks, "face_boxes": face.face_boxes,
                "detected": face.detected, "face_found": np.bool_(face.face_found),
                "gray": gray if gray is not None else np.zeros((0, 96, 96), np.uint8),
            })
        return face, gray

    def features(self, sha: str, gray: np.ndarray | None, audio_16k: np.ndarray, trimmed: bool,
                 progress: Progress | None) -> Any:
        from forensics_gui.core.encoder.features import FeatureSet, all_finite

        ckpt_sha, dtype = self._features_key_parts()
        parts: dict[str, Any] = {"trimmed": trimmed, "dtype": dtype, "face": gray is not None,
                                 "preparation": self.options.preparation}
        if trimmed:  # the trim rule is part of what the features are: a new rule never reuses them
            parts["trim_threshold"] = OFFICIAL_TRIM_THRESHOLD
        key = self.cache.key(FEATURES_CACHE_VERSION, sha, ckpt_sha, parts)
        cached = self.cache.get_npz(key, _FEATURE_SCALARS + ("audio",)) if self.options.use_cache else None
        if cached is not None and not all_finite(cached["audio"], cached.get("visual")):
            cached = None  # written by a version that did not check: recompute
        if cached is not None:
            if self._extractor is None and "architecture" in cached:
                self._architecture = str(cached["architecture"])
            return FeatureSet(visual=cached.get("visual"), audio=cached["audio"],
                              trimmed_video_frames=int(cached["trimmed_video_frames"]),
                              trimmed_audio_samples=int(cached["trimmed_audio_samples"]),
                              leading_silence_s=float(cached["leading_silence_s"]),
                              checkpoint_sha256=ckpt_sha)
        ex = self.extractor(progress)
        _stage(progress, "video front end", 0, None if gray is None else len(gray))
        fs = ex.extract(gray, audio_16k, trim_leading_silence=trimmed, progress=progress)
        if self.options.use_cache:
            arrays = {"audio": fs.audio, "trimmed_video_frames": np.int64(fs.trimmed_video_frames),
                      "trimmed_audio_samples": np.int64(fs.trimmed_audio_samples),
                      "leading_silence_s": np.float64(fs.leading_silence_s),
                      "architecture": np.asarray(str(ex.config.size_name))}
            if fs.visual is not None:
                arrays["visual"] = fs.visual
            self.cache.put_npz(key, arrays)
        return fs

    # -- the whole thing --------------------------------------------------------------------
    def prepare(self, path: str | os.PathLike[str], progress: Progress | None = None,
                sha256: str | None = None, *, load_models: bool = False,
                silence: SilenceResult | None = None) -> PreparedClip:
        """Every stage before the model: stream checks, hash, audio, face track and mouth ROI.

        Needs no model unless ``load_models`` (then they are loaded after the stream checks, as
        :meth:`analyze` does). Safe in a background thread (see :func:`prefetch_rois`).
        ``silence``: the caller's measurement of this clip (the viewer's ``session.silence``); when
        its threshold is ``options.silence_threshold`` it is used as is, so the result carries the
        same numbers the caller shows, and the native-rate audio is not decoded again.
        Raises MediaError, ForensicsError (no face), Cancelled.
        """
        from forensics_gui.core.files.hashing import sha256_file
        from forensics_gui.core.media import decode as media
        from forensics_gui.core.media.integrity import check_integrity

        path = Path(path)
        info = media.probe(path)
        if info.audio is None:
            raise MediaError(f"{path.name} has no audio stream; the audio-visual detector needs both "
                             "sound and picture (the viewer still shows the video).")
        if info.video is None:
            raise MediaError(f"{path.name} has no video stream; the audio-visual detector needs both "
                             "sound and picture (the silence analysis still works).")
        if load_models:
            self.load_models(progress)
        sha = sha256 or sha256_file(path, progress=progress)
        _stage(progress, "audio", 0, None)
        tau = self.options.silence_threshold
        if silence is None or silence.threshold != tau:
            silence = leading_silence(media.decode_audio(path), threshold=tau)
        track16 = media.decode_audio(path, sample_rate=16000, mono=True)
        audio16 = track16.samples[0]
        # a cut-short file: scored only where both streams exist (the features stop at the
        # shorter one); the sentence leads the caveats
        integrity = check_integrity(path, info)
        caveats = [integrity.sentence] if integrity.damaged else []
        if integrity.damaged and integrity.analysable_end_s < 2.0 <= info.duration_s:
            caveats.append(f"Only {integrity.analysable_end_s:.2f} s could be scored; very short "
                           "clips give unstable scores.")
        if track16.corrupt_packets:  # counted per packet, the same at any output rate
            caveats.append(f"{track16.corrupt_packets} damaged audio packets were skipped.")
        face, gray = self.mouth_roi(path, sha, progress)
        lipsync = measure_lipsync(face.landmarks, face.detected, audio16, progress)
        if not face.face_found or gray is None:
            raise ForensicsError(f"No face was found in {path.name}, so the audio-visual detector cannot "
                                 "run; the leading-silence analysis still applies.")
        return PreparedClip(path=path, sha256=sha, info=info, silence=silence, audio_16k=audio16,
                            face=face, gray=gray, caveats=caveats + caveats_for(info, face),
                            damage=integrity.to_dict(), lipsync=lipsync)

    def finish(self, clip: PreparedClip, progress: Progress | None = None,
               on_partial: PartialCallback | None = None) -> ClipAnalysis:
        """Features (cached) and scores of a prepared clip, for every variant asked for.

        Needs :meth:`load_models` first. Raises ForensicsError (nothing left to score), Cancelled.
        """
        from forensics_gui.core.alignment.scoring import score_features
        from forensics_gui.core.face import roi

        if (self._extractor is None and self._checkpoint is None) or self._phi is None:
            raise RuntimeError("Analyzer.finish needs load_models() first")
        analysis = ClipAnalysis(file=clip.path, sha256=clip.sha256, info=clip.info, silence=clip.silence,
                                face=clip.face, roi_gray=clip.gray, caveats=list(clip.caveats),
                                damage=clip.damage, lipsync=clip.lipsync,
                                preparation=roi.preparation_record(self.options.preparation))
        for variant in self.options.variants:
            if variant not in VARIANTS:
                raise ValueError(f"unknown variant {variant!r}")
            fs = self.features(clip.sha256, clip.gray, clip.audio_16k, variant == "trimmed", progress)
            if fs.visual is None:
                continue
            _stage(progress, "scoring", 0, 1)
            first = fs.trimmed_video_frames
            res = score_features(fs.visual, fs.audio, self._phi, self.options.pool, first_model_frame=first)
            require_finite_scores(res, self._phi, clip.path.name)
            analysis.scores[variant] = res
            analysis.trims[variant] = {"trimmed_video_frames": fs.trimmed_video_frames,
                                       "trimmed_audio_samples": fs.trimmed_audio_samples}
            if on_partial is not None:
                on_partial("unsupervised", variant, res)
            if self._sup is not None:
                sup = score_features(fs.visual, fs.audio, self._sup, self.options.pool,
                                     first_model_frame=first)
                require_finite_scores(sup, self._sup, clip.path.name)
                analysis.supervised[variant] = sup
                if on_partial is not None:
                    on_partial("supervised", variant, sup)
            _stage(progress, "scoring", 1, 1)
        analysis.models = self.models_used()
        return analysis

    def analyze(self, path: str | os.PathLike[str], progress: Progress | None = None,
                on_partial: PartialCallback | None = None, sha256: str | None = None, *,
                silence: SilenceResult | None = None) -> ClipAnalysis:
        """Run every stage on one clip (``silence``: see :meth:`prepare`).

        Raises MediaError, CheckpointError, Cancelled.
        """
        clip = self.prepare(path, progress, sha256, load_models=True, silence=silence)
        return self.finish(clip, progress, on_partial)

    def analyze_many(self, paths: Sequence[str | os.PathLike[str]], *, lookahead: int = 1,
                     progress: Progress | None = None,
                     on_wait: Callable[[int, float], None] | None = None,
                     clip_progress: Callable[[int], Progress | None] | None = None,
                     ) -> Generator[Prefetched[Path, ClipAnalysis], None, None]:
        """Analyse clips in order, preparing the next ``lookahead`` ones in a background thread
        (:func:`prefetch_rois`) while this thread runs the encoder on the current one.

        Yields one :class:`Prefetched` per clip, in input order: ``value`` the ClipAnalysis, or
        ``error`` the exception that clip raised (the run goes on). ``lookahead=0`` does
        everything in this thread. ``clip_progress(i)`` gives the progress object for clip i's
        model stages (default ``progress``). Loads the models first. Cancelled (via
        ``progress``) and KeyboardInterrupt propagate; close the generator (``with
        contextlib.closing(...)``) to stop the background thread at once when leaving early.
        """
        self.load_models(progress)
        _ = self.cache  # created here, not concurrently in the background thread
        items = [Path(p) for p in paths]
        with contextlib.closing(prefetch_rois(items, self, lookahead=lookahead, progress=progress,
                                              on_wait=on_wait)) as prepared:
            for item in prepared:
                if item.error is not None or item.value is None:
                    if not isinstance(item.error, CLIP_ERRORS):
                        raise item.error or RuntimeError("prepare returned nothing")
                    yield Prefetched(item.index, item.item, None, item.error)
                    continue
                prog = clip_progress(item.index) if clip_progress is not None else progress
                try:
                    analysis = self.finish(item.value, prog)
                except Cancelled:
                    raise
                except CLIP_ERRORS as err:
                    yield Prefetched(item.index, item.item, None, err)
                    continue
                yield Prefetched(item.index, item.item, analysis, None)


def measure_lipsync(landmarks: np.ndarray, detected: np.ndarray, audio_16k: np.ndarray,
                    progress: Progress | None = None) -> Any:
    """The mouth-and-voice measures (:func:`forensics_gui.core.lipsync.measure`) of a face track
    and its 16 kHz sound: a few ms on top of the landmarks, needs no model file."""
    from forensics_gui.core.lipsync import measure

    _stage(progress, "mouth and voice", 0, 1)
    return measure(landmarks, detected, audio_16k)


def caveats_for(info: Any, face: FaceTrack) -> list[str]:
    """Plain-language caveats about how far the score can be trusted for this input."""
    out = []
    n = len(face.detected)
    lost = int((~face.detected).sum())
    if n and lost / n > 0.2:
        out.append(f"The face was not detected in {lost} of {n} frames ({100 * lost / n:.0f} %); "
                   "those frames use interpolated mouth positions and their scores are less reliable.")
    if info.video is not None and abs(float(info.video.fps) - MODEL_FPS) > 0.01:
        out.append(f"The video runs at {float(info.video.fps):.3f} fps; frames were taken on the model's "
                   "25 fps grid, which repeats or skips source frames.")
    if info.duration_s < 2.0:
        out.append("The clip is shorter than 2 s; very short clips give unstable scores.")
    out.append("AVH-Align was trained on frontal talking faces (LRS3, AV-Deepfake1M); other content "
               "(profile views, several speakers, music, dubbing) is out of distribution.")
    return out


S = TypeVar("S")
T = TypeVar("T")


@dataclass
class Prefetched(Generic[S, T]):
    """One input of :func:`prefetch` with what preparing it gave: ``value``, or ``error``."""

    index: int
    item: S
    value: T | None
    error: Exception | None = None


PREFETCH_POLL_S = 0.2  # seconds between two on_wait calls while the consumer waits


class _Background:
    """Progress for the background thread: stops when the consumer has gone (``stop``) or the
    caller's progress is cancelled; keeps the landmark fraction of the clip being prepared."""

    def __init__(self, outer: Progress | None, stop: threading.Event) -> None:
        self.outer, self.stop = outer, stop
        self.fraction = 0.0
        self.index = -1  # the item being prepared (-1: none)

    def fraction_of(self, index: int) -> float:
        """The landmark fraction of item ``index`` while it is being prepared, else 0."""
        return self.fraction if self.index == index else 0.0

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        if stage == "landmarks" and total:
            self.fraction = min(1.0, done / total)

    def cancelled(self) -> bool:
        return self.stop.is_set() or (self.outer is not None and self.outer.cancelled())


def prefetch(items: Sequence[S], prepare: Callable[[S, Progress | None], T], *, lookahead: int = 1,
             progress: Progress | None = None,
             on_wait: Callable[[int, float], None] | None = None
             ) -> Generator[Prefetched[S, T], None, None]:
    """``prepare(item, progress)`` of each item, in order, up to ``lookahead`` items ahead of the
    consumer in ONE background thread (so the consumer's model work overlaps the next clip's
    decoding and face tracking; dlib and FFmpeg drop the GIL).

    An exception from ``prepare`` (other than Cancelled / KeyboardInterrupt) is yielded as that
    item's ``error``; Cancelled (the caller's ``progress``) propagates. ``prepare`` gets a
    progress object that only checks for Cancel (the caller's, or the consumer having gone) and
    keeps the landmark fraction; ``on_wait(index, landmark_fraction)`` is called when the
    consumer starts waiting for an item and every ``PREFETCH_POLL_S`` seconds while it waits.
    ``lookahead=0`` runs everything in this thread. Closing the generator
    (``contextlib.closing``, or an exception in it) stops the background thread at its next
    cancellation check and waits for it; items already yielded are not affected. The thread is
    a :class:`~forensics_gui.core.readahead.ReadAhead`.
    """
    background = _Background(progress, threading.Event())

    def job(i: int) -> Prefetched[S, T]:
        background.fraction, background.index = 0.0, i
        try:
            return Prefetched(i, items[i], prepare(items[i], background))
        except Cancelled:
            raise
        except Exception as err:  # handed to the consumer with its item
            return Prefetched(i, items[i], None, err)
        finally:
            background.index = -1

    i = 0

    def waiting() -> None:
        """Called every PREFETCH_POLL_S seconds while the consumer waits for item ``i``."""
        if on_wait is not None:
            on_wait(i, background.fraction)
        check_cancelled(progress)

    jobs = (job(k) for k in range(len(items)))
    with ReadAhead(jobs, depth=max(0, lookahead), name="fg-prefetch", stop=background.stop) as ahead:
        for i in range(len(items)):
            check_cancelled(progress)
            if on_wait is not None:
                on_wait(i, background.fraction_of(i))
            yield ahead.take(poll_s=PREFETCH_POLL_S, on_poll=waiting)


def prefetch_rois(paths: Sequence[Path], analyzer: Analyzer, *, lookahead: int = 1,
                  progress: Progress | None = None,
                  on_wait: Callable[[int, float], None] | None = None
                  ) -> Generator[Prefetched[Path, PreparedClip], None, None]:
    """:meth:`Analyzer.prepare` of each clip (hash, audio, face track, mouth ROI, all cached),
    ``lookahead`` clips ahead in a background thread: see :func:`prefetch`."""
    return prefetch(paths, lambda path, prog: analyzer.prepare(path, prog), lookahead=lookahead,
                    progress=progress, on_wait=on_wait)

