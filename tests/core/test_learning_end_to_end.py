"""Does Phi learn? Train on REAL synthetic talking-face clips only, then detect dubbed segments.

Media: :func:`forensics_gui.testing.synth.make_clip` writes clips whose mouth opening follows the
speech envelope (real). A fake keeps the clip's audio but, inside a 1 s segment, moves the mouth
with the envelope of other speech (the visual track is out of sync there).

A random-weight AV-HuBERT carries no alignment information, so a cheap hand-made extractor
stands in for it, on the same 25 fps grid:
- visual: the decoded frame's mouth box (where synth draws the mouth), grey, averaged to 8x8;
- audio: AV-HuBERT's own input, the 104-dim stacked log filterbank
  (:func:`forensics_gui.core.encoder.audio_features.stacked_features`).
Both are standardised per dimension with statistics of the training reals and get a constant
extra dimension, so Phi's per-frame L2 normalisation keeps their magnitude.

Phi is trained with :func:`forensics_gui.core.alignment.training.train_phi` on the reals; video scores of
held-out reals and fakes must separate (AUC >= 0.9, mean and log-sum-exp pooling) and the frame
curve must be higher inside the manipulated segments. About 20 s on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_gui.testing.synth import _CROP, _MOUTH_C, make_clip, speech_signal

FPS = 25
SIDE = 128  # frame width = height, pixels
DURATION_S = 3.0
N_TRAIN, N_HELD_OUT_REAL, N_FAKE = 10, 6, 6
SEGMENT = 25  # frames (1 s) of mismatched mouth motion in each fake


def _openness(seed: int, frames: int) -> np.ndarray:
    """Mouth opening per frame for the synth speech of ``seed`` (as make_clip derives it)."""
    _, env = speech_signal(DURATION_S, 16000, seed)
    t = np.arange(frames) / FPS
    op = env[np.clip(np.round((t + 0.02) * 16000).astype(int), 0, len(env) - 1)]
    return op / op.max()


def _mouth_box() -> tuple[slice, slice]:
    scale = SIDE / _CROP[2]
    xc, yc = (_MOUTH_C[0] - _CROP[0]) * scale, (_MOUTH_C[1] - _CROP[1]) * scale
    return (slice(int(yc - 0.06 * SIDE), int(yc + 0.2 * SIDE)),
            slice(int(xc - 0.14 * SIDE), int(xc + 0.14 * SIDE)))


def _features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(visual [T, 64], audio [T, 104]) on the 25 fps grid."""
    from forensics_gui.core.encoder.audio_features import stacked_features
    from forensics_gui.core.media.decode import decode_audio, iter_frames_on_grid

    rows, cols = _mouth_box()
    visual = []
    for _, _, rgb in iter_frames_on_grid(path, FPS):
        g = rgb[rows, cols].mean(axis=-1) / 255.0
        h, w = (g.shape[0] // 8) * 8, (g.shape[1] // 8) * 8
        visual.append(g[:h, :w].reshape(8, h // 8, 8, w // 8).mean(axis=(1, 3)).ravel())
    audio = stacked_features(decode_audio(path, sample_rate=16000, mono=True).samples[0])
    n = min(len(visual), len(audio))
    return np.asarray(visual[:n], np.float32), audio[:n]


@pytest.mark.slow
def test_phi_trained_on_reals_finds_the_dubbed_segments(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from forensics_gui.core.alignment.phi import load_phi
    from forensics_gui.core.alignment.training import train_phi
    from forensics_gui.core.results.metrics import auc

    torch.set_num_threads(2)
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    frames = int(DURATION_S * FPS)
    clips: list[tuple[Path, tuple[int, int] | None]] = []
    for k in range(N_TRAIN + N_HELD_OUT_REAL + N_FAKE):
        path = tmp_path / f"clip{k:02d}.mp4"
        if k < N_TRAIN + N_HELD_OUT_REAL:
            make_clip(path, duration_s=DURATION_S, width=SIDE, height=SIDE, seed=k)
            clips.append((path, None))
        else:
            start = int(np.random.default_rng(k).integers(0, frames - SEGMENT))
            mouth = _openness(k, frames)
            mouth[start:start + SEGMENT] = _openness(1000 + k, frames)[start:start + SEGMENT]
            make_clip(path, duration_s=DURATION_S, width=SIDE, height=SIDE, seed=k, openness=mouth)
            clips.append((path, (start, start + SEGMENT)))
    feats = [_features(p) for p, _ in clips]
    assert all(len(v) == frames for v, _ in feats)

    train = feats[:N_TRAIN]
    v_all, a_all = np.concatenate([v for v, _ in train]), np.concatenate([a for _, a in train])
    v_mean, v_std = v_all.mean(0), v_all.std(0) + 1e-3
    a_mean, a_std = a_all.mean(0), a_all.std(0) + 1e-3

    def standardise(v: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ones = np.full((len(v), 1), 2.0, np.float32)
        return (np.hstack([(v - v_mean) / v_std, ones]).astype(np.float32),
                np.hstack([(a - a_mean) / a_std, ones]).astype(np.float32))

    files = []
    for i, (v, a) in enumerate(train):
        sv, sa = standardise(v, a)
        files.append(tmp_path / f"real{i:02d}.npz")
        np.savez(files[-1], visual=sv, audio=sa)
    result = train_phi(files, tmp_path / "phi.pt", epochs=12, batch_size=128, lr=1e-3,
                       val_fraction=0.2, device="cpu", proj_dim=64, hidden=(64, 32, 16),
                       patience=100)
    assert result.epochs_run == 12
    history = result.history
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.5  # ln 31 = 3.43 at chance

    phi = load_phi(tmp_path / "phi.pt")
    labels, mean_scores, lse_scores, inside, outside = [], [], [], [], []
    for (_, segment), (v, a) in zip(clips[N_TRAIN:], feats[N_TRAIN:], strict=True):
        curve = phi.frame_scores(*standardise(v, a)).astype(np.float64)
        labels.append(int(segment is not None))
        mean_scores.append(curve.mean())
        lse_scores.append(float(np.log(np.exp(curve).sum())))
        if segment is not None:
            mask = np.zeros(len(curve), bool)
            mask[segment[0]:segment[1]] = True
            inside.append(curve[mask].mean())
            outside.append(curve[~mask].mean())
    assert auc(labels, mean_scores) >= 0.9
    assert auc(labels, lse_scores) >= 0.9
    assert all(i > o for i, o in zip(inside, outside, strict=True)), (inside, outside)
    assert np.mean(inside) - np.mean(outside) > 0.5
