"""Score a clip's features with Phi: a fakeness curve per 25 fps frame, a video score, segments.

Frame t covers [t/25, (t+1)/25) seconds. ``frame_scores[t]`` is -Phi(v_t, a_t) (higher = the
audio and the mouth agree less = more likely manipulated). The video score pools the curve with
log-sum-exp over frames (the published AVH-Align rule) or the mean (better for fully generated
clips, per the paper).

Suspicious segments (default rule, documented here because the viewer shows them): a frame is
suspicious when its score exceeds ``median + 3 * 1.4826 * MAD`` of the clip's OWN curve (a robust
z-score above 3), runs at most 3 frames (0.12 s) apart are merged, and runs shorter than 5 frames
(0.2 s) are dropped. The rule is relative to the clip: it marks where a clip is least aligned, not
whether it is fake (a real clip may still get a short segment; read it with the video score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forensics_gui.core.alignment.phi import BAND_RADIUS, PhiModel, offsets_from_band
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_start, model_frame_times

DEFAULT_MAD_K = 3.0
DEFAULT_MIN_FRAMES = 5
DEFAULT_MERGE_GAP_FRAMES = 3


def pool_scores(frame_scores: np.ndarray, pool: str = "lse") -> float:
    """Video score from a curve: ``log(sum_t exp(s_t))`` ("lse") or ``mean_t s_t`` ("mean")."""
    s = np.asarray(frame_scores, dtype=np.float64)
    if s.size == 0:
        return float("nan")
    if pool == "lse":
        m = float(s.max())
        return m + float(np.log(np.exp(s - m).sum()))
    if pool == "mean":
        return float(s.mean())
    raise ValueError(f"pool must be 'lse' or 'mean', not {pool!r}")


def robust_threshold(frame_scores: np.ndarray, k: float = DEFAULT_MAD_K) -> float:
    """``median + k * 1.4826 * MAD`` of the curve (1.4826 * MAD estimates the std of a Gaussian)."""
    s = np.asarray(frame_scores, dtype=np.float64)
    if s.size == 0:
        return float("nan")
    med = float(np.median(s))
    mad = float(np.median(np.abs(s - med)))
    return med + k * 1.4826 * mad


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous True runs of a boolean [T] array as (first, last_exclusive) frame indices."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def find_segments(frame_scores: np.ndarray, threshold: float,
                  min_frames: int = DEFAULT_MIN_FRAMES,
                  merge_gap_frames: int = DEFAULT_MERGE_GAP_FRAMES,
                  first_model_frame: int = 0) -> list[tuple[float, float]]:
    """Runs of frames with score > threshold as (start_s, end_s), merged across gaps of at most
    ``merge_gap_frames`` frames and kept when at least ``min_frames`` frames long. Seconds are on
    the clip's time axis: ``frame_scores[0]`` is model frame ``first_model_frame``."""
    runs: list[list[int]] = []
    for s, e in true_runs(np.asarray(frame_scores) > threshold):
        if runs and s - runs[-1][1] <= merge_gap_frames:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    k = first_model_frame
    return [(model_frame_start(k + s), model_frame_start(k + e)) for s, e in runs if e - s >= min_frames]


@dataclass
class ScoreResult:
    """Everything the viewer and the CLI show about one clip's Phi scores.

    ``frame_scores`` float32 [T] (fakeness per 25 fps frame), ``first_model_frame`` the model
    frame of ``frame_scores[0]`` (0, or the frames a trimmed analysis dropped), ``times_s``
    float64 [T] (start of each frame on the clip's time axis, seconds, derived from it),
    ``suspicious_segments`` [(start_s, end_s)] on the same axis, ``threshold`` the curve level
    used for them. The band fields (present when computed): ``sync_offset_frames`` int32 [T]
    (audio offset, in frames, that Phi finds best aligned; 0 = in sync) and ``sync_prob`` float32
    [T] (softmax probability of the true alignment over the 31 offsets).
    """

    frame_scores: np.ndarray
    video_score: float
    pool: str
    suspicious_segments: list[tuple[float, float]]
    threshold: float
    kind: str
    phi_sha256: str
    sync_offset_frames: np.ndarray | None = None
    sync_prob: np.ndarray | None = None
    other_pool_scores: dict[str, float] = field(default_factory=dict)
    first_model_frame: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.frame_scores.shape[0])

    @property
    def times_s(self) -> np.ndarray:
        """Start time (s) of each frame on the clip's time axis."""
        return model_frame_times(self.num_frames, self.first_model_frame)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (lists and floats; NaN becomes None)."""

        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else float(x)

        out: dict[str, Any] = {
            "kind": self.kind,
            "pool": self.pool,
            "video_score": num(self.video_score),
            "video_scores": {k: num(v) for k, v in self.other_pool_scores.items()},
            "fps": float(MODEL_FPS),
            "num_frames": self.num_frames,
            "first_model_frame": self.first_model_frame,
            "frame_scores": [num(v) for v in self.frame_scores.tolist()],
            "times_s": [round(float(t), 6) for t in self.times_s.tolist()],
            "threshold": num(self.threshold),
            "suspicious_segments": [[float(s), float(e)] for s, e in self.suspicious_segments],
            "phi_sha256": self.phi_sha256,
        }
        if self.sync_offset_frames is not None and self.sync_prob is not None:
            out["sync_offset_frames"] = [int(v) for v in self.sync_offset_frames.tolist()]
            out["sync_prob"] = [float(v) for v in self.sync_prob.tolist()]
        return out


def score_features(visual: np.ndarray, audio: np.ndarray, phi: PhiModel, pool: str = "lse",
                   *, band: bool = True, threshold: float | None = None,
                   min_frames: int = DEFAULT_MIN_FRAMES, first_model_frame: int = 0) -> ScoreResult:
    """Score raw (un-normalised) features [T, Dv] / [T', Da]; T and T' are cut to the shorter.

    ``band`` also computes the ±15-frame sync offsets; ``threshold`` None = robust rule above;
    ``first_model_frame`` is the model frame of the first feature row (a trimmed analysis
    dropped that many), which places the curve and its segments on the clip's time axis.
    """
    if pool not in ("lse", "mean"):
        raise ValueError(f"pool must be 'lse' or 'mean', not {pool!r}")
    offsets: np.ndarray | None = None
    prob: np.ndarray | None = None
    if band:
        band_out = phi.band_scores(visual, audio, BAND_RADIUS)
        scores = (phi.sign * band_out[:, BAND_RADIUS]).astype(np.float32)
        offsets, prob = offsets_from_band(band_out, BAND_RADIUS)
    else:
        scores = phi.frame_scores(visual, audio)
    thr = robust_threshold(scores) if threshold is None else float(threshold)
    return ScoreResult(
        frame_scores=scores,
        video_score=pool_scores(scores, pool),
        pool=pool,
        suspicious_segments=(find_segments(scores, thr, min_frames, first_model_frame=first_model_frame)
                             if np.isfinite(thr) else []),
        threshold=thr,
        kind=phi.kind,
        phi_sha256=phi.sha256,
        sync_offset_frames=offsets,
        sync_prob=prob,
        other_pool_scores={p: pool_scores(scores, p) for p in ("lse", "mean")},
        first_model_frame=first_model_frame,
    )
