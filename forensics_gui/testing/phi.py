"""Random-weight Phi checkpoints in the published layouts, and synthetic feature corpora.

Synthetic features stand in for AV-HuBERT in tests: per clip a smooth latent sequence z_t
(what is being said) drives both streams, ``visual_t = tanh(z_t Wv) + noise`` and
``audio_t = tanh(z_t Wa) + noise`` with fixed random projections shared by the corpus. A fake clip
has the audio latent replaced by another sequence inside a segment (dubbed speech), so there the
two streams no longer agree -- what Phi is meant to detect.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forensics_gui.core.alignment.phi import PUBLISHED_HIDDEN, PUBLISHED_PROJ, build_fusion_model
from forensics_gui.core.files.atomic import atomic_path


def random_phi_module(visual_dim: int = 1024, audio_dim: int = 1024, seed: int = 0,
                      proj_dim: int = PUBLISHED_PROJ, hidden: tuple[int, int, int] = PUBLISHED_HIDDEN):  # type: ignore[no-untyped-def]
    """A FusionModel with PyTorch's default init (seeded) and non-trivial LayerNorm affine."""
    import torch

    torch.manual_seed(seed)
    module = build_fusion_model(visual_dim, audio_dim, proj_dim, hidden)
    with torch.no_grad():
        for i in (1, 4, 7):  # LN weights != 1 and biases != 0, so a test can see them
            module.mlp[i].weight.uniform_(0.5, 1.5)
            module.mlp[i].bias.uniform_(-0.2, 0.2)
    return module


def write_published_phi(path: str | Path, visual_dim: int = 1024, audio_dim: int = 1024,
                        seed: int = 0, proj_dim: int = PUBLISHED_PROJ,
                        hidden: tuple[int, int, int] = PUBLISHED_HIDDEN) -> Path:
    """Write ``{epoch, state_dict, optimizer, scheduler, best_val_loss, args}`` like
    ``AVH-Align_AV1M.pt`` (real Adam and ReduceLROnPlateau states after one step; ``args`` an
    argparse.Namespace)."""
    import torch

    module = random_phi_module(visual_dim, audio_dim, seed, proj_dim, hidden)
    opt = torch.optim.Adam(module.parameters(), lr=1e-5)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=5)
    loss = module(torch.zeros(2, visual_dim), torch.zeros(2, audio_dim)).sum()
    loss.backward()
    opt.step()
    opt.zero_grad()
    sched.step(3.25)
    args = argparse.Namespace(batch_size=1024, lr=1e-5, epochs=500, tau=15,
                              penalty_coefficient=0.1, save_path="checkpoints/AVH-Align_AV1M.pt")
    obj = {"epoch": 7, "state_dict": module.state_dict(), "optimizer": opt.state_dict(),
           "scheduler": sched.state_dict(), "best_val_loss": 1234.5, "args": args}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def write_supervised_phi(path: str | Path, visual_dim: int = 64, audio_dim: int = 64, seed: int = 0,
                         variant: str = "mlp", prefix: str = "") -> Path:
    """A Lightning-style AVH-Align/sup ``.ckpt`` (``state_dict``, ``hyper_parameters``, versions)."""
    import torch

    if variant == "linear":
        torch.manual_seed(seed)
        sd = {"head.weight": torch.randn(1, visual_dim + audio_dim) * 0.1,
              "head.bias": torch.tensor([0.05])}
    else:
        sd = random_phi_module(visual_dim, audio_dim, seed, 64, (64, 32, 16)).state_dict()
    obj = {"epoch": 3, "global_step": 300, "pytorch-lightning_version": "2.2.0",
           "state_dict": {prefix + k: v for k, v in sd.items()},
           "hyper_parameters": {"config": {"model_hparams": {"model_type": variant,
                                                             "input_type": "both"}}},
           "optimizer_states": [], "lr_schedulers": []}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


@dataclass
class SyntheticClip:
    """One clip's features; ``fake_frames`` [start, end) of the manipulated segment or None."""

    visual: np.ndarray
    audio: np.ndarray
    fake_frames: tuple[int, int] | None

    @property
    def label(self) -> int:
        return 0 if self.fake_frames is None else 1


class SyntheticCorpus:
    """Clips sharing fixed random projections (one "speaker set", one "feature extractor")."""

    def __init__(self, dim: int = 32, latent_dim: int = 8, noise: float = 0.1,
                 smoothness: float = 0.6, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.dim, self.latent_dim, self.noise, self.smoothness = dim, latent_dim, noise, smoothness
        self.wv = self.rng.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim)
        self.wa = self.rng.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim)

    def latent(self, frames: int) -> np.ndarray:
        """AR(1) process with coefficient ``smoothness`` and unit stationary variance."""
        z = np.empty((frames, self.latent_dim))
        z[0] = self.rng.normal(size=self.latent_dim)
        scale = np.sqrt(1.0 - self.smoothness**2)
        for t in range(1, frames):
            z[t] = self.smoothness * z[t - 1] + scale * self.rng.normal(size=self.latent_dim)
        return z

    def clip(self, frames: int, fake_frames: tuple[int, int] | None = None) -> SyntheticClip:
        z = self.latent(frames)
        za = z.copy()
        if fake_frames is not None:
            s, e = fake_frames
            za[s:e] = self.latent(e - s)
        visual = np.tanh(z @ self.wv) + self.noise * self.rng.normal(size=(frames, self.dim))
        audio = np.tanh(za @ self.wa) + self.noise * self.rng.normal(size=(frames, self.dim))
        return SyntheticClip(visual.astype(np.float32), audio.astype(np.float32), fake_frames)

    def fake_clip(self, frames: int, min_len: int = 20, max_len: int = 40) -> SyntheticClip:
        length = int(self.rng.integers(min_len, max_len + 1))
        start = int(self.rng.integers(0, frames - length + 1))
        return self.clip(frames, (start, start + length))


def write_features(path: str | Path, clip: SyntheticClip) -> Path:
    """Write an AVH-Align features .npz (``visual``, ``audio`` float32 [T, D])."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, visual=clip.visual, audio=clip.audio)
    return Path(path)


def write_corpus(folder: str | Path, n_clips: int, frames: int = 100, dim: int = 32,
                 seed: int = 0) -> list[Path]:
    """Write ``n_clips`` real synthetic clips as ``clip_###.npz`` under ``folder``."""
    corpus = SyntheticCorpus(dim=dim, seed=seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_features(folder / f"clip_{i:03d}.npz", corpus.clip(frames)) for i in range(n_clips)]
