"""AV-HuBERT feature extraction as AVH-Align does it: audio-only and video-only passes.

For one clip, ``audio`` is the encoder output with the video features zeroed (after their
projection) and ``visual`` the output with the audio features zeroed; both ``[T, D]`` float32,
one row per 25 fps frame. Inputs are the 96x96 grey mouth-ROI frames (uint8 ``[T, 96, 96]``) and
the 16 kHz mono audio (float in [-1, 1]; int16 is scaled by 1/32768). With
``trim_leading_silence`` the AVH-Align ``--trimmed`` skips are applied first; both streams are
then cut to ``min(T_video, T_audio)``.

Long clips: the encoder uses global attention, so every output frame depends on the whole clip.
Clips up to :data:`MAX_SINGLE_PASS_FRAMES` (120 s) run in one pass, exactly as the official code
would. Attention scores take ``T^2 * heads * 4`` bytes per row of the batch at worst (LARGE,
120 s: 3000^2 * 16 * 4 = 576 MB per pass; PyTorch's fused CPU/GPU attention needs far less).
Longer clips run in overlapping windows of :data:`WINDOW_FRAMES` (60 s) that overlap by
:data:`WINDOW_OVERLAP_FRAMES` (10 s); each output frame is taken from the window in which it is
farthest from a cut (at least 5 s of context on each side that the clip has). Those features are
*not* identical to a one-pass run: attention never sees further than one window, and frames near
window cuts lose the context beyond them. ``FeatureSet.meta['windows']`` records how many windows
were used. The video ResNet and the audio projection are per-frame (plus the Conv3d stem's 5-frame
context) and are computed exactly in chunks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.atomic import atomic_open
from forensics_gui.core.media.timebase import MODEL_FPS
from forensics_gui.core.progress import Progress, check_cancelled

MAX_SINGLE_PASS_FRAMES = 3000
WINDOW_FRAMES = 1500
WINDOW_OVERLAP_FRAMES = 250
FEATURES_FORMAT = "forensics-gui-features-1"


@dataclass
class FeatureSet:
    """Features of one clip at 25 fps. ``visual`` is None when the clip has no usable face."""

    visual: np.ndarray | None  # float32 [T, D], video-only pass
    audio: np.ndarray  # float32 [T, D], audio-only pass
    fps: float = float(MODEL_FPS)
    trimmed_video_frames: int = 0  # frames dropped from the start by the leading-silence trim
    trimmed_audio_samples: int = 0  # 16 kHz samples dropped from the start by the trim
    leading_silence_s: float = 0.0  # first sample above OFFICIAL_TRIM_THRESHOLD, seconds (measured, not applied)
    checkpoint_sha256: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.audio.shape[0])


def prepare_video(roi_gray: np.ndarray, mean: float = 0.421, std: float = 0.165,
                  crop_size: int = 88) -> Any:
    """uint8 ``[T, H, W]`` grey ROIs -> float32 tensor ``[1, 1, T, crop, crop]`` for the ResNet.

    /255 (float64), centre crop with offset ``int(round(W - crop) / 2)``, ``(x - mean) / std``,
    then float32, as the official data loader does.
    """
    import torch

    frames = np.asarray(roi_gray)
    if frames.ndim != 3:
        raise ForensicsError(
            f"Mouth-ROI frames must be grey images [frames, height, width], got shape {frames.shape}."
        )
    if frames.dtype != np.uint8:
        raise ForensicsError(f"Mouth-ROI frames must be uint8 grey levels 0..255, not {frames.dtype}.")
    t, h, w = frames.shape
    if h < crop_size or w < crop_size:
        raise ForensicsError(f"Mouth-ROI frames are {w}x{h} pixels; at least {crop_size}x{crop_size} are needed.")
    x = frames.astype(np.float64) / 255.0
    top, left = int(round(h - crop_size) / 2.0), int(round(w - crop_size) / 2.0)
    x = x[:, top:top + crop_size, left:left + crop_size]
    x = ((x - mean) / std).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x))[None, None]


def window_plan(num_frames: int, max_single: int = MAX_SINGLE_PASS_FRAMES, window: int = WINDOW_FRAMES,
                overlap: int = WINDOW_OVERLAP_FRAMES) -> list[tuple[int, int, int, int]]:
    """Encoder windows as ``(start, stop, keep_start, keep_stop)`` frame indices.

    One window ``(0, T, 0, T)`` when ``T <= max_single``; otherwise windows of ``window`` frames
    every ``window - overlap`` frames (the last one ends at T), and each keeps the frames up to
    the middle of its overlaps. The kept ranges tile ``[0, T)`` exactly.
    """
    if num_frames <= max_single:
        return [(0, num_frames, 0, num_frames)]
    hop = window - overlap
    starts = list(range(0, num_frames - window, hop)) + [num_frames - window]
    plan = []
    for i, start in enumerate(starts):
        stop = start + window
        keep_start = 0 if i == 0 else (start + starts[i - 1] + window) // 2
        keep_stop = num_frames if i == len(starts) - 1 else (starts[i + 1] + stop) // 2
        plan.append((start, stop, keep_start, keep_stop))
    return plan


def all_finite(*arrays: np.ndarray | None) -> bool:
    """True when every given array (None is skipped) holds only finite numbers."""
    return all(a is None or bool(np.isfinite(a).all()) for a in arrays)


def _as_mono_float(audio_16k: np.ndarray) -> np.ndarray:
    from forensics_gui.core.encoder.audio_features import to_float_scale

    a = np.asarray(audio_16k)
    if a.ndim != 1:
        raise ForensicsError(f"Audio must be mono 16 kHz samples (1-D), got shape {a.shape}.")
    return to_float_scale(a).astype(np.float32, copy=False)


class FeatureExtractor:
    """Loads an AV-HuBERT checkpoint once and extracts :class:`FeatureSet` s from clips.

    ``device``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``. ``dtype``: ``"float32"``
    (default; matches the official features) or, on a GPU, ``"bfloat16"``/``"float16"`` (faster,
    not bit-comparable).
    """

    def __init__(self, checkpoint: str | Path, device: str = "auto", dtype: str = "float32",
                 batched_passes: bool = True) -> None:
        import torch

        from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
        from forensics_gui.core.encoder.devices import (
            resolve_device,
            resolve_dtype,
            set_parity_numerics,
        )
        from forensics_gui.core.files.hashing import sha256_of

        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if self.dtype == torch.float32:
            set_parity_numerics()
        loaded = load_avhubert(checkpoint)
        self.config = loaded.config
        self.checkpoint_path = Path(checkpoint)
        self.model = loaded.model.to(device=self.device, dtype=self.dtype)
        self.model.prepare_for_inference()
        self.batched_passes = batched_passes
        self.checkpoint_sha256 = sha256_of(checkpoint)

    @property
    def dim(self) -> int:
        return self.config.embed_dim

    def extract(self, roi_gray: np.ndarray | None, audio_16k: np.ndarray, *,
                trim_leading_silence: bool = False, progress: Progress | None = None,
                video_frames: int | None = None) -> FeatureSet:
        """Audio-only and (if ``roi_gray`` is given) video-only features of one clip.

        ``video_frames``: when there is no ROI (no face), the clip's length in 25 fps frames, so
        the audio features are cut to the video's length as they would be with a face.
        """
        import torch

        from forensics_gui.core.encoder.audio_features import (
            apply_trim,
            leading_silence_trim,
            stacked_features,
        )
        from forensics_gui.core.media.silence import OFFICIAL_TRIM_THRESHOLD

        audio = _as_mono_float(audio_16k)
        video = None if roi_gray is None else np.asarray(roi_gray)
        trim = leading_silence_trim(audio, OFFICIAL_TRIM_THRESHOLD)  # AVH-Align's rule, never the display tau
        skipped_frames = skipped_samples = 0
        if trim_leading_silence:
            audio, video = apply_trim(audio, video, trim)
            skipped_frames, skipped_samples = trim.video_skip_frames, trim.audio_skip_samples
        check_cancelled(progress)
        stacked = stacked_features(audio) if audio.size else np.zeros((0, 104), np.float32)
        n = len(stacked) if video is None else min(len(stacked), len(video))
        if video is None and video_frames is not None:
            n = min(n, max(0, video_frames - skipped_frames))
        if n == 0:
            what = "after trimming the leading silence " if trim_leading_silence else ""
            raise ForensicsError(f"The clip has no audio-visual frames left {what}to extract features from.")
        with torch.inference_mode():
            audio_out, visual_out, windows = self._encode(stacked[:n], None if video is None else video[:n],
                                                          progress)
        if not all_finite(audio_out, visual_out):
            precision = str(self.dtype).replace("torch.", "")
            remedy = ("the checkpoint is probably damaged (compare its SHA-256 with the published one)"
                      if precision == "float32" else "extract them in float32 instead")
            raise ForensicsError(
                f"The AV-HuBERT checkpoint {self.checkpoint_path.name} gave NaN or infinite features "
                f"for this clip in {precision}, so none are used; {remedy}."
            )
        meta = {
            "format": FEATURES_FORMAT, "checkpoint": self.checkpoint_path.name,
            "model": self.config.size_name, "finetuned": self.config.finetuned,
            "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
            "windows": windows, "trim_leading_silence": bool(trim_leading_silence),
            "trim_threshold": OFFICIAL_TRIM_THRESHOLD,
            "input_video_frames": None if roi_gray is None else int(len(roi_gray)),
            "input_audio_samples": int(np.asarray(audio_16k).shape[0]),
        }
        return FeatureSet(visual=visual_out, audio=audio_out, fps=float(MODEL_FPS),
                          trimmed_video_frames=skipped_frames, trimmed_audio_samples=skipped_samples,
                          leading_silence_s=float(trim.start_s), checkpoint_sha256=self.checkpoint_sha256,
                          meta=meta)

    def _encode(self, stacked: np.ndarray, video: np.ndarray | None, progress: Progress | None
                ) -> tuple[np.ndarray, np.ndarray | None, int]:
        import torch

        model, cfg = self.model, self.config
        a = torch.from_numpy(np.ascontiguousarray(stacked))[None].to(self.device, self.dtype)
        fa = model.feature_extractor_audio(a)
        fv = None if video is None else self._video_features(video, progress)
        rows = [model._fuse(fa, None)] if fv is None else [model._fuse(fa, None), model._fuse(None, fv)]
        plan = window_plan(fa.shape[1])
        passes = [torch.cat(rows)] if self.batched_passes else rows
        total = len(plan) * len(passes) * cfg.layers
        done = 0
        outputs: list[list[torch.Tensor]] = [[] for _ in passes]
        for start, stop, keep_start, keep_stop in plan:
            for i, x in enumerate(passes):
                def on_layer(_k: int) -> None:
                    nonlocal done
                    done += 1
                    if progress is not None:
                        progress.report("encoder", done, total)
                    check_cancelled(progress)

                y = model.encoder(x[:, start:stop], None, None, on_layer)
                outputs[i].append(y[:, keep_start - start: keep_stop - start])
        out = torch.cat([torch.cat(parts, dim=1) for parts in outputs], dim=0).float().cpu().numpy()
        visual = None if fv is None else np.ascontiguousarray(out[1])
        return np.ascontiguousarray(out[0]), visual, len(plan)


    def _video_features(self, video: np.ndarray, progress: Progress | None) -> Any:
        """Video front end over the clip in chunks (bounded memory), exact: each chunk carries
        the Conv3d stem's 2 frames of context on each side. Returns ``[1, T, D]``."""
        import torch

        from forensics_gui.core.encoder.avhubert.model import RESNET_CHUNK_FRAMES

        cfg, front = self.config, self.model.feature_extractor_video
        halo, total = 2, len(video)
        parts = []
        for start in range(0, total, RESNET_CHUNK_FRAMES):
            stop = min(total, start + RESNET_CHUNK_FRAMES)
            lo, hi = max(0, start - halo), min(total, stop + halo)
            v = prepare_video(video[lo:hi], cfg.image_mean, cfg.image_std, cfg.image_crop_size)
            y = front.resnet(v.to(self.device, self.dtype), context=(start - lo, hi - stop))
            parts.append(front.proj(y))
            if progress is not None:
                progress.report("video front end", stop, total)
            check_cancelled(progress)
        return torch.cat(parts, dim=1)


_SCALARS = ("fps", "trimmed_video_frames", "trimmed_audio_samples", "leading_silence_s")


def save_features(path: str | Path, fs: FeatureSet, *,
                  preparation: dict[str, str] | None = None) -> None:
    """Write ``fs`` as an .npz (atomically): float32 ``visual``/``audio`` [T, D] (AVH-Align layout),
    scalar ``fps``, ``trimmed_video_frames``, ``trimmed_audio_samples``, ``leading_silence_s``,
    string ``checkpoint_sha256`` and ``meta_json``. ``visual`` is absent when ``fs.visual`` is None.
    ``preparation`` (``roi.preparation_record()`` of the mouth crops) goes into ``meta_json``
    under "preparation".
    """
    if not all_finite(fs.audio, fs.visual):
        raise ForensicsError(f"The features for {Path(path).name} hold NaN or infinite values, so "
                             "they were not written.")
    arrays: dict[str, np.ndarray] = {"audio": np.asarray(fs.audio, dtype=np.float32)}
    if fs.visual is not None:
        arrays["visual"] = np.asarray(fs.visual, dtype=np.float32)
    arrays["fps"] = np.asarray(float(fs.fps))
    arrays["trimmed_video_frames"] = np.asarray(int(fs.trimmed_video_frames))
    arrays["trimmed_audio_samples"] = np.asarray(int(fs.trimmed_audio_samples))
    arrays["leading_silence_s"] = np.asarray(float(fs.leading_silence_s))
    arrays["checkpoint_sha256"] = np.asarray(str(fs.checkpoint_sha256))
    meta = {"format": FEATURES_FORMAT, **fs.meta}
    if preparation is not None:
        meta["preparation"] = dict(preparation)
    arrays["meta_json"] = np.asarray(json.dumps(meta, sort_keys=True))
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_features(path: str | Path) -> FeatureSet:
    """Read a features .npz (ours or a plain AVH-Align one with only ``visual``/``audio``)."""
    from forensics_gui.core.files.npz import read_feature_npz

    path = Path(path)
    content = read_feature_npz(path)
    if content.audio is None:
        raise ForensicsError(
            f"{path.name} is not a features file: it has no 'audio' array "
            "(write one with 'forensics-gui features')."
        )
    audio, visual, meta = content.audio, content.visual, content.meta()
    kwargs: dict[str, Any] = {}
    for key in _SCALARS:
        if isinstance(content.scalars.get(key), (int, float)):
            kwargs[key] = content.scalars[key]
    checkpoint_sha256 = content.scalars.get("checkpoint_sha256")
    return FeatureSet(
        visual=None if visual is None else visual.astype(np.float32, copy=False),
        audio=audio.astype(np.float32, copy=False),
        fps=float(kwargs.get("fps", MODEL_FPS)),
        trimmed_video_frames=int(kwargs.get("trimmed_video_frames", 0)),
        trimmed_audio_samples=int(kwargs.get("trimmed_audio_samples", 0)),
        leading_silence_s=float(kwargs.get("leading_silence_s", 0.0)),
        checkpoint_sha256=checkpoint_sha256 if isinstance(checkpoint_sha256, str) else "",
        meta=meta,
    )
