"""Train Phi on real videos' features with the AVH-Align objective, fast.

Objective (AVH-Align): for each visual frame t, Phi scores the audio frames t-15..t+15 (the zero
vector outside the clip); loss = -log softmax(31 logits)[offset 0]. Differences from the published
trainer, all deliberate:

- The loss is the MEAN over the frames of a batch (reported per frame); the published one is the
  SUM. That multiplies the gradient by 1/batch. Adam divides the update by the root of its second
  moment, so a constant loss scale c changes nothing except through eps (the update is
  ``m / (sqrt(v) + eps)`` with m, sqrt(v) both scaled by c): with the mean, eps=1e-8 weighs
  ``batch`` times more relative to the gradient. The learning rate therefore keeps its meaning.
- Fast pairs: the two projections and mlp.0 are linear, so mlp.0([v', a']) = V_t + A_k with V, A
  computed ONCE per frame; only the tail (LN, ReLU, Linear 512->256, ...) runs on the 31 pairs.
  The published code pushes 31 copies of every visual frame through the whole network.
- Shuffled across videos in chunks: an epoch shuffles chunks of ``chunk_frames`` consecutive
  frames (default 32) from all videos, so a chunk's audio neighbours (32 + 30 rows) are projected
  once for 32 frames. ``chunk_frames=1`` shuffles single frames (slower: 31 audio rows per frame).
  The published loader streams videos in order, unshuffled.
- On the CPU the products run through oneDNN and the tail in cache-sized blocks, each block
  differentiated while its activations are in cache (:mod:`forensics_gui.core.alignment.fast_ops`);
  ``precision="bfloat16"`` runs the products in bf16 with fp32 master weights. Measured against
  the official step (``benchmarks/bench_training.py``) and, for bf16, the loss curves against the
  fp32 seed-to-seed spread (``benchmarks/bench_training_precision.py``).
- Train/validation split BY VIDEO with a fixed seed; features come from memory-mapped arrays
  (:mod:`forensics_gui.core.alignment.feature_store`).

Hyper-parameters: published = batch 1024 frames, Adam lr 1e-5, ReduceLROnPlateau(factor 0.1,
patience 5), <= 500 epochs, early stop after 10 epochs without improvement. Defaults here, for a
user's folder of tens to hundreds of clips: batch 256, lr 1e-4, <= 100 epochs, same plateau and
early-stop rules (fewer frames per epoch means fewer steps, hence the larger lr and smaller batch).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from forensics_gui.core.alignment.feature_store import FeatureStore, build_feature_store
from forensics_gui.core.alignment.phi import (
    BAND_RADIUS,
    PUBLISHED_HIDDEN,
    PUBLISHED_PROJ,
    build_fusion_model,
)
from forensics_gui.core.alignment.resume_state import read_resume_file, restore
from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError
from forensics_gui.core.files.atomic import atomic_path
from forensics_gui.core.files.locking import holds_lock
from forensics_gui.core.files.outputs import guarded_outputs, is_protected
from forensics_gui.core.progress import Progress, check_cancelled

PUBLISHED_HPARAMS = {"batch_size": 1024, "lr": 1e-5, "epochs": 500, "patience": 10,
                     "lr_patience": 5, "lr_factor": 0.1}
DEFAULT_HPARAMS = {"batch_size": 256, "lr": 1e-4, "epochs": 100, "patience": 10,
                   "lr_patience": 5, "lr_factor": 0.1, "chunk_frames": 32, "val_fraction": 0.1}
CHECKPOINT_FORMAT = "forensics-gui phi v1"
_FIXED_ON_RESUME = ("batch_size", "val_fraction", "chunk_frames", "proj_dim", "hidden")


@dataclass
class EpochStats:
    """One finished epoch. Losses are mean -log p(true alignment) per frame (nats)."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float | None
    lr: float
    best_val_loss: float
    improved: bool
    seconds: float


@dataclass
class TrainResult:
    """What a training run left: ``checkpoint`` (best model, None if no epoch finished)."""

    checkpoint: Path | None
    resume_state: Path
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    stop_reason: str  # "completed" | "early stop" | "cancelled"
    device: str
    history: list[dict[str, Any]] = field(default_factory=list)
    train_videos: int = 0
    val_videos: int = 0
    train_frames: int = 0
    precision: str = "float32"
    linear_kernel: str = ""


# --------------------------------------------------------------------------- batches


@dataclass
class Chunks:
    """Chunks of up to ``size`` consecutive frames: global start row, length, owning video rows."""

    start: np.ndarray
    length: np.ndarray
    video_start: np.ndarray
    video_end: np.ndarray
    size: int

    def __len__(self) -> int:
        return int(len(self.start))

    def take(self, idx: np.ndarray) -> Chunks:
        return Chunks(self.start[idx], self.length[idx], self.video_start[idx],
                      self.video_end[idx], self.size)

    @property
    def frames(self) -> int:
        return int(self.length.sum())


def make_chunks(offsets: np.ndarray, videos: Sequence[int], size: int) -> Chunks:
    """Split each listed video (rows offsets[i]:offsets[i+1]) into chunks of ``size`` frames."""
    starts, lengths, vs, ve = [], [], [], []
    for i in videos:
        a, b = int(offsets[i]), int(offsets[i + 1])
        s = np.arange(a, b, size, dtype=np.int64)
        starts.append(s)
        lengths.append(np.minimum(s + size, b) - s)
        vs.append(np.full(len(s), a, np.int64))
        ve.append(np.full(len(s), b, np.int64))
    def cat(xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs) if xs else np.zeros(0, np.int64)

    return Chunks(cat(starts), cat(lengths), cat(vs), cat(ve), size)


def gather_batch(store: FeatureStore, chunks: Chunks, radius: int = BAND_RADIUS
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arithmetic for a batch of chunks.

    Returns visual [n, C, Dv], the audio window [n, C + 2r, Da] (row j = audio frame
    start - r + j; zero vector outside the clip) and the frame mask [n, C] (False = padding).
    """
    c = chunks.size
    frame_idx = chunks.start[:, None] + np.arange(c)[None, :]
    frame_ok = frame_idx < (chunks.start + chunks.length)[:, None]
    audio_idx = chunks.start[:, None] - radius + np.arange(c + 2 * radius)[None, :]
    audio_ok = (audio_idx >= chunks.video_start[:, None]) & (audio_idx < chunks.video_end[:, None])
    last = store.num_frames - 1
    visual = np.asarray(store.visual[np.clip(frame_idx, 0, last).ravel()])
    audio = np.asarray(store.audio[np.clip(audio_idx, 0, last).ravel()])
    visual = visual.reshape(*frame_idx.shape, -1)
    audio = audio.reshape(*audio_idx.shape, -1)
    visual[~frame_ok] = 0.0
    audio[~audio_ok] = 0.0
    return visual, audio, frame_ok


def _at_least_fp32(x: Any) -> Any:
    """bf16/fp16 (autocast) -> fp32 for the softmax; fp32/fp64 unchanged."""
    return x.float() if x.element_size() < 4 else x


def _mean_nll(logp_true: Any, frame_mask: Any) -> Any:
    """Mean of ``-logp_true`` over the frames where ``frame_mask`` is set (0 when none is)."""
    mask = frame_mask.to(logp_true.dtype)
    return -(logp_true * mask).sum() / mask.sum().clamp_min(1.0)


def fast_loss(module: Any, visual: Any, audio_window: Any, frame_mask: Any,
              radius: int = BAND_RADIUS, precision: str = "float32", blocked: bool = True) -> Any:
    """Mean -log p(offset 0) over valid frames, projecting each frame once (see module doc).

    visual [n, C, Dv], audio_window [n, C + 2r, Da] (zeros outside the clip), frame_mask [n, C].
    On the CPU (Phi's ``mlp`` layout, ``blocked=True``) the products run through oneDNN and the
    tail in cache-sized blocks (:mod:`forensics_gui.core.alignment.fast_ops`), in ``precision``
    ("float32": exact up to summation order; "bfloat16": bf16 products, fp32 master weights).
    Elsewhere, or with ``blocked=False`` (the previous implementation, for comparison), the stock
    kernels on the whole [n, C, 2r+1, H] tensor; there ``precision`` is left to the caller's autocast.
    """
    import torch

    if blocked and visual.device.type == "cpu" and hasattr(module, "mlp"):
        from forensics_gui.core.alignment.fast_ops import fused_halves, pair_loss

        dtype = compute_dtype(precision) if visual.dtype == torch.float32 else None
        v, a = fused_halves(module, visual, audio_window, dtype)
        return pair_loss(module, v, a, frame_mask, radius, dtype)
    v, a = module.halves(visual, audio_window)  # [n, C, H], [n, C + 2r, H]
    window = a.unfold(1, 2 * radius + 1, 1).transpose(-1, -2)  # [n, C, 2r+1, H]
    logits = _at_least_fp32(module.tail(v[:, :, None, :] + window))  # [n, C, 2r+1]
    logp = torch.log_softmax(logits, dim=-1)[..., radius]
    return _mean_nll(logp, frame_mask)


def compute_dtype(precision: str) -> Any:
    """"float32" | "bfloat16" -> the torch dtype; anything else: one sentence."""
    import torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if precision not in dtypes:
        raise ForensicsError(f"The training precision must be 'float32' or 'bfloat16', not "
                             f"{str(precision)[:40]!r}.")
    return dtypes[precision]


def check_precision(precision: str, device: str) -> None:
    """Refuse, in one sentence, a precision this machine cannot train in (bf16 on a CPU without it)."""
    from forensics_gui.core.cpu_linear import cpu_supports_bf16

    compute_dtype(precision)
    if precision == "bfloat16" and device == "cpu" and not cpu_supports_bf16():
        raise ForensicsError("This CPU has no fast bfloat16 arithmetic (AVX-512 BF16 or AMX), so "
                             "train in float32 (the exact default).")


def naive_loss(module: Any, visual: Any, audio_window: Any, frame_mask: Any,
               radius: int = BAND_RADIUS) -> Any:
    """The published structure: 31 copies of each visual frame through the whole network."""
    import torch

    k = 2 * radius + 1
    pairs_a = audio_window.unfold(1, k, 1).transpose(-1, -2)  # [n, C, k, Da]
    pairs_v = visual[:, :, None, :].expand(-1, -1, k, -1)
    logits = module(pairs_v.reshape(-1, visual.shape[-1]), pairs_a.reshape(-1, audio_window.shape[-1]))
    logp = torch.log_softmax(_at_least_fp32(logits.reshape(*visual.shape[:2], k)), dim=-1)[..., radius]
    return _mean_nll(logp, frame_mask)


# --------------------------------------------------------------------------- helpers


def split_videos(num_videos: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation) video indices, split by video with a fixed seed."""
    perm = np.random.default_rng(seed).permutation(num_videos).tolist()
    if num_videos < 2 or val_fraction <= 0:
        return sorted(perm), []
    n_val = int(min(num_videos - 1, max(1, round(val_fraction * num_videos))))
    return sorted(perm[n_val:]), sorted(perm[:n_val])


def resolve_device(device: str) -> str:
    """"auto" | "cpu" | "cuda" | "cuda:N" -> a torch device string (see core.devices)."""
    from forensics_gui.core.encoder.devices import resolve_device as _resolve

    return str(_resolve(device))


def _save_atomic(obj: Any, path: Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())


def resume_path(out: Path) -> Path:
    """Where the per-epoch resume state of a run writing ``out`` lives: ``<out>.resume.pt``."""
    return out.with_name(out.name + ".resume.pt")


def _remove_stale_temps(out: Path) -> None:
    """Remove the atomic-write temp files of ``out`` and its resume state left by a dead run.

    Only while this thread holds the lock on ``out``: then no live run owns such a file.
    """
    if not holds_lock(out):
        return
    names = [out.name, resume_path(out).name]
    pattern = re.compile("|".join(rf"\.{re.escape(n)}\.[0-9a-f]{{8}}{re.escape(Path(n).suffix)}"
                                  for n in names))
    for p in out.parent.glob(f".{out.name}.*"):
        if pattern.fullmatch(p.name) and not is_protected(p):
            p.unlink(missing_ok=True)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_run_per_output(train: Callable[Concatenate[Sequence[Path], Path, _P], _R]
                        ) -> Callable[Concatenate[Sequence[Path], Path, _P], _R]:
    """Run ``train(feature_files, out, ...)`` holding the lock on ``out`` (a second run on the
    same output fails with a sentence naming the first), never writing over a feature file."""

    @functools.wraps(train)
    def locked(feature_files: Sequence[Path], out: Path, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        out, files = Path(out), [Path(f) for f in feature_files]
        with guarded_outputs("train", [out, resume_path(out)],
                             [(f, "a training feature file") for f in files]):
            return train(files, out, *args, **kwargs)

    return locked


def _versions() -> dict[str, str]:
    import torch

    from forensics_gui import __version__

    return {"forensics_gui": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
            "python": platform.python_version()}


def _to_device(arrays: tuple[np.ndarray, np.ndarray, np.ndarray], device: str) -> tuple[Any, ...]:
    import torch

    return tuple(torch.from_numpy(x).to(device, non_blocking=True) for x in arrays)


def _evaluate(module: Any, store: FeatureStore, chunks: Chunks, per_batch: int, device: str,
              amp: bool) -> float:
    import torch

    dev_type = "cuda" if amp else "cpu"

    total, frames = 0.0, 0
    with torch.no_grad(), torch.autocast(device_type=dev_type, dtype=torch.bfloat16, enabled=amp):
        for i in range(0, len(chunks), per_batch):
            part = chunks.take(np.arange(i, min(i + per_batch, len(chunks))))
            v, a, m = _to_device(gather_batch(store, part), device)
            n = int(m.sum())
            total += float(fast_loss(module, v, a, m)) * n
            frames += n
    return total / max(frames, 1)


# --------------------------------------------------------------------------- training


@_one_run_per_output
def train_phi(feature_files: Sequence[Path], out: Path, *,
              epochs: int = DEFAULT_HPARAMS["epochs"],  # type: ignore[assignment]
              batch_size: int = DEFAULT_HPARAMS["batch_size"],  # type: ignore[assignment]
              lr: float = DEFAULT_HPARAMS["lr"],
              val_fraction: float = DEFAULT_HPARAMS["val_fraction"],
              device: str = "auto", seed: int = 0, resume: bool = False,
              patience: int = DEFAULT_HPARAMS["patience"],  # type: ignore[assignment]
              lr_patience: int = DEFAULT_HPARAMS["lr_patience"],  # type: ignore[assignment]
              lr_factor: float = DEFAULT_HPARAMS["lr_factor"],
              chunk_frames: int = DEFAULT_HPARAMS["chunk_frames"],  # type: ignore[assignment]
              proj_dim: int = PUBLISHED_PROJ, hidden: Sequence[int] = PUBLISHED_HIDDEN,
              store_dir: Path | None = None, precision: str | None = None,
              progress: Progress | None = None,
              on_epoch: Callable[[EpochStats], None] | None = None) -> TrainResult:
    """Train Phi on feature files (.npz, AVH-Align layout) of REAL videos; write the best model.

    ``out`` gets the best-validation model in the published layout (``state_dict`` + ``epoch`` +
    ``best_val_loss``) plus our record under ``"forensics_gui"``, atomically, whenever validation
    improves; ``<out>.resume.pt`` gets the full state after every epoch. ``resume=True`` continues
    from it (same files and seed required). ``patience`` = epochs without improvement before
    stopping; ``lr_patience``/``lr_factor`` drive ReduceLROnPlateau. With no validation video
    (one clip, or ``val_fraction=0``) the training loss selects the best model. A Cancel (via
    ``progress``) stops between batches and keeps the best checkpoint so far
    (``stop_reason="cancelled"``). A run holds the lock on ``out`` throughout
    (:mod:`forensics_gui.core.files.locking`): a second run on the same ``out`` raises OutputBusyError,
    and ``out`` may not be one of ``feature_files`` (OutputIsInputError).

    ``precision``: "float32" (exact; the default on the CPU) or "bfloat16" (bf16 products with fp32
    master weights: on the CPU only where it has bf16 arithmetic; on a CUDA GPU bf16 autocast, the
    default there). Validation losses on the CPU are always computed in float32. The checkpoint's
    record names the precision and the linear-layer kernel.
    """
    import torch

    out = Path(out)
    files = [Path(f) for f in feature_files]
    if min(epochs, batch_size, chunk_frames, patience, lr_patience + 1) < 1 or lr <= 0:
        raise ForensicsError("Epochs, batch size, chunk length and patience must be positive "
                             "and the learning rate above 0.")
    dev = resolve_device(device)
    on_cuda = dev.startswith("cuda")
    precision = precision if precision is not None else ("bfloat16" if on_cuda else "float32")
    check_precision(precision, "cuda" if on_cuda else "cpu")
    amp = on_cuda and precision == "bfloat16"
    dev_type = "cuda" if on_cuda else "cpu"
    from forensics_gui.core.cpu_linear import kernel_name

    linear_kernel = kernel_name(torch.device(dev), torch.bfloat16 if precision == "bfloat16" else None)
    from forensics_gui.core.files.paths import cache_dir

    store = build_feature_store(files, Path(store_dir) if store_dir else cache_dir() / "phi-train",
                                progress)
    train_ids, val_ids = split_videos(store.num_videos, val_fraction, seed)
    train_chunks = make_chunks(store.offsets, train_ids, chunk_frames)
    val_chunks = make_chunks(store.offsets, val_ids, chunk_frames)
    per_batch = max(1, batch_size // chunk_frames)
    batches_per_epoch = max(1, -(-len(train_chunks) // per_batch))
    hparams = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "val_fraction": val_fraction,
               "patience": patience, "lr_patience": lr_patience, "lr_factor": lr_factor,
               "chunk_frames": chunk_frames, "proj_dim": proj_dim, "hidden": list(hidden),
               "band_radius": BAND_RADIUS, "optimizer": "Adam", "loss": "mean over frames",
               "mixed_precision": "bf16" if precision == "bfloat16" else "fp32", "precision": precision,
               "linear_kernel": linear_kernel, "seed": seed}

    torch.manual_seed(seed)
    module = build_fusion_model(store.manifest["visual_dim"], store.manifest["audio_dim"],
                                proj_dim, hidden).to(dev)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=lr_factor,
                                                           patience=lr_patience)
    history: list[dict[str, Any]] = []
    start_epoch, best, best_epoch, bad_epochs = 0, float("inf"), 0, 0
    rpath = resume_path(out)
    _remove_stale_temps(out)
    if resume and rpath.is_file():
        state = read_resume_file(rpath)
        if not out.is_file():  # it is written before the first resume state, so it was removed
            raise CheckpointError(
                f"{out.name}, the best model of the run that {rpath.name} continues, is missing; "
                "put it back or train without --resume to start over."
            )
        if state["store"] != store.root.name or state["seed"] != seed:
            raise CheckpointError(
                f"{rpath.name} belongs to a run on other feature files or another seed; "
                "train without --resume to start over."
            )
        old = state["hyper_parameters"]
        changed = [k for k in _FIXED_ON_RESUME if old.get(k) != hparams[k]]
        if changed:
            raise CheckpointError(
                f"{rpath.name} was trained with other {', '.join(changed)}; resume with the same "
                "settings (only --epochs and --patience may change) or start over."
            )
        point = restore(rpath, state, module, optimizer, scheduler)
        start_epoch, history = point.epoch, point.history
        best, best_epoch, bad_epochs = point.best, point.best_epoch, point.bad_epochs

    record = {
        "format": CHECKPOINT_FORMAT,
        "training_files": [{"path": f["path"], "sha256": f["sha256"], "frames": f["frames"]}
                           for f in store.manifest["files"]],
        "feature_checkpoint_sha256": sorted({f["checkpoint_sha256"] for f in store.manifest["files"]
                                             if f.get("checkpoint_sha256")}),
        "validation_files": [store.manifest["files"][i]["path"] for i in val_ids],
        "seed": seed, "hyper_parameters": hparams, "published_hyper_parameters": PUBLISHED_HPARAMS,
        "versions": _versions(), "device": dev, "precision": precision, "linear_kernel": linear_kernel,
    }
    result = TrainResult(checkpoint=out if out.is_file() and start_epoch else None, resume_state=rpath,
                         best_epoch=best_epoch, best_val_loss=best, epochs_run=start_epoch,
                         stop_reason="completed", device=dev, history=history,
                         precision=precision, linear_kernel=linear_kernel,
                         train_videos=len(train_ids), val_videos=len(val_ids),
                         train_frames=train_chunks.frames)
    total_batches = batches_per_epoch * epochs
    try:
        for epoch in range(start_epoch, epochs):
            if bad_epochs >= patience:
                result.stop_reason = "early stop"
                break
            t0 = time.monotonic()
            module.train()
            order = np.random.default_rng([seed, epoch]).permutation(len(train_chunks))
            run_loss, run_frames = 0.0, 0
            for b in range(batches_per_epoch):
                check_cancelled(progress)
                part = train_chunks.take(order[b * per_batch:(b + 1) * per_batch])
                v, a, m = _to_device(gather_batch(store, part), dev)
                with torch.autocast(device_type=dev_type, dtype=torch.bfloat16, enabled=amp):
                    loss = fast_loss(module, v, a, m, precision=precision)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n = int(m.sum())
                run_loss += float(loss.detach()) * n
                run_frames += n
                if progress is not None:
                    progress.report("training", epoch * batches_per_epoch + b + 1, total_batches)
            train_loss = run_loss / max(run_frames, 1)
            module.eval()
            val_loss = _evaluate(module, store, val_chunks, per_batch, dev, amp) if len(val_chunks) else None
            monitored = train_loss if val_loss is None else val_loss
            scheduler.step(monitored)
            improved = monitored < best
            if improved:
                best, best_epoch, bad_epochs = monitored, epoch + 1, 0
            else:
                bad_epochs += 1
            history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                            "lr": float(optimizer.param_groups[0]["lr"]),
                            "seconds": time.monotonic() - t0})
            if improved:
                sd = {k: v.detach().float().cpu().clone() for k, v in module.state_dict().items()}
                _save_atomic({"epoch": epoch + 1, "state_dict": sd, "best_val_loss": best,
                              "forensics_gui": {**record, "epochs_run": epoch + 1,
                                                "history": list(history),
                                                "selected_on": "train" if val_loss is None else "validation"}},
                             out)
                result.checkpoint = out
            _save_atomic({"model": module.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "epoch": epoch + 1,
                          "torch_rng": torch.get_rng_state(), "history": history, "best": best,
                          "best_epoch": best_epoch, "bad_epochs": bad_epochs, "seed": seed,
                          "store": store.root.name, "hyper_parameters": hparams}, rpath)
            result.epochs_run, result.best_epoch, result.best_val_loss = epoch + 1, best_epoch, best
            if on_epoch is not None:
                on_epoch(EpochStats(epoch + 1, epochs, train_loss, val_loss,
                                    float(optimizer.param_groups[0]["lr"]), best, improved,
                                    time.monotonic() - t0))
            if bad_epochs >= patience and epoch + 1 < epochs:
                result.stop_reason = "early stop"
                break
    except Cancelled:
        result.stop_reason = "cancelled"
    return result
