"""Training Phi: the fast loss equals the published one, it learns, it resumes after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_gui.cli import main
from forensics_gui.core.alignment.feature_store import build_feature_store
from forensics_gui.core.alignment.phi import load_phi
from forensics_gui.core.alignment.scoring import score_features
from forensics_gui.core.alignment.training import (
    fast_loss,
    gather_batch,
    make_chunks,
    naive_loss,
    resume_path,
    split_videos,
    train_phi,
)
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.testing.phi import (
    SyntheticCorpus,
    random_phi_module,
    write_corpus,
    write_features,
)

torch.set_num_threads(2)
SMALL = {"proj_dim": 64, "hidden": (64, 32, 16)}


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.slow
def test_fast_loss_equals_published_loss_and_gradients(tmp_path):
    files = write_corpus(tmp_path / "c", 4, frames=50, dim=24, seed=1)
    store = build_feature_store(files, tmp_path / "store")
    chunks = make_chunks(store.offsets, range(store.num_videos), 24)  # 24, 24, 2 frames a clip
    v, a, m = (torch.from_numpy(x) for x in gather_batch(store, chunks))
    module = random_phi_module(24, 24, seed=2)  # published sizes (512, 256, 128)
    fast, naive = fast_loss(module, v, a, m), naive_loss(module, v, a, m)
    assert abs(fast.item() - naive.item()) <= 1e-5 * abs(naive.item())  # float32
    module64 = module.double()
    v, a = v.double(), a.double()
    fast = fast_loss(module64, v, a, m)
    g_fast = torch.autograd.grad(fast, list(module64.parameters()))
    naive = naive_loss(module64, v, a, m)
    g_naive = torch.autograd.grad(naive, list(module64.parameters()))
    assert abs(fast.item() - naive.item()) <= 1e-12 * abs(naive.item())
    for gf, gn in zip(g_fast, g_naive, strict=True):  # mlp.9.bias: zero (shift-invariant)
        assert (gf - gn).abs().max().item() <= 1e-9 * gn.abs().max().item() + 1e-14
    assert g_naive[0].abs().max().item() > 1e-4

    # An independent per-frame loop over the raw videos (zero audio outside each clip).
    vis, aud = np.asarray(store.visual, np.float64), np.asarray(store.audio, np.float64)
    losses = []
    with torch.no_grad():
        for i in range(store.num_videos):
            s, e = int(store.offsets[i]), int(store.offsets[i + 1])
            for t in range(s, e, 3):
                pairs = np.stack([aud[k] if s <= k < e else np.zeros(24) for k in range(t - 15, t + 16)])
                logits = module64(torch.from_numpy(np.repeat(vis[t][None], 31, 0)), torch.from_numpy(pairs))
                losses.append(-torch.log_softmax(logits, 0)[15].item())
    sub = np.zeros_like(m.numpy())
    sub_frames = np.concatenate([np.arange(int(store.offsets[i]), int(store.offsets[i + 1]), 3)
                                 for i in range(store.num_videos)])
    flat = chunks.start[:, None] + np.arange(24)[None, :]
    sub[np.isin(flat, sub_frames) & m.numpy()] = True
    ref = fast_loss(module64, v, a, torch.from_numpy(sub)).item()
    assert ref == pytest.approx(float(np.mean(losses)), rel=1e-9)


def test_split_is_by_video_and_fixed():
    train, val = split_videos(20, 0.2, seed=5)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == list(range(20))
    assert split_videos(20, 0.2, seed=5) == (train, val)
    assert split_videos(1, 0.2, seed=5) == ([0], [])


@pytest.mark.slow
def test_phi_learns_alignment_from_reals_only(store_env):
    """Does it learn? Feature extractor: the synthetic latent corpus of testing/phi.py.

    Synthetic latent features stand in for AV-HuBERT: one smooth latent sequence per clip drives
    both streams through fixed random projections, so audio and video agree frame by frame the
    way real speech and lips do. A random-weight AV-HuBERT would carry no such alignment
    information, so it cannot test learning. Fakes replace the audio latent inside a segment.
    """
    corpus = SyntheticCorpus(dim=32, seed=0)
    files = [write_features(store_env / f"real_{i}.npz", corpus.clip(120)) for i in range(12)]
    stats = []
    # Hidden sizes a quarter of the published ones keep this under ~10 s on 2 CPU cores; the
    # published sizes are exercised by the loss-equivalence test above.
    result = train_phi(files, store_env / "phi.pt", epochs=5, batch_size=256, lr=1e-3,
                       val_fraction=0.2, seed=0, device="cpu", on_epoch=stats.append,
                       proj_dim=128, hidden=(128, 64, 32))
    assert result.stop_reason == "completed" and result.epochs_run == 5 and len(stats) == 5
    assert stats[-1].val_loss < 0.5 * stats[0].train_loss  # far below log(31) = 3.43
    phi = load_phi(store_env / "phi.pt")
    test = [corpus.clip(120) for _ in range(15)] + [corpus.fake_clip(120) for _ in range(15)]
    from sklearn.metrics import roc_auc_score

    labels = [c.label for c in test]
    for pool in ("lse", "mean"):
        scores = [score_features(c.visual, c.audio, phi, pool, band=False).video_score for c in test]
        assert roc_auc_score(labels, scores) >= 0.9
    inside, outside = [], []
    for clip in test[15:]:
        curve = phi.frame_scores(clip.visual, clip.audio)
        s, e = clip.fake_frames
        mask = np.zeros(len(curve), bool)
        mask[s:e] = True
        inside.append(curve[mask].mean())
        outside.append(curve[~mask].mean())
    assert np.mean(np.array(inside) > np.array(outside)) >= 0.9


def test_checkpoint_record_and_cancel(store_env):
    files = write_corpus(store_env / "c", 4, frames=60, dim=16, seed=3)

    class CancelAfter:
        def __init__(self, n: int) -> None:
            self.n = n
            self.calls = 0

        def report(self, stage: str, done: float, total: float | None = None) -> None:
            if stage == "training":
                self.calls += 1

        def cancelled(self) -> bool:
            return self.calls >= self.n

    out = store_env / "phi.pt"
    result = train_phi(files, out, epochs=10, batch_size=64, lr=1e-3, seed=1, device="cpu",
                       progress=CancelAfter(5), **SMALL)
    assert result.stop_reason == "cancelled" and result.epochs_run >= 1
    ckpt = torch.load(out, weights_only=True)
    rec = ckpt["forensics_gui"]
    assert set(ckpt) == {"epoch", "state_dict", "best_val_loss", "forensics_gui"}
    assert sorted(ckpt["state_dict"]) == sorted(random_phi_module(16, 16, **SMALL).state_dict())
    assert [f["sha256"] for f in rec["training_files"]] == [sha256_file(f) for f in files]
    assert rec["seed"] == 1 and rec["hyper_parameters"]["lr"] == 1e-3
    assert len(rec["validation_files"]) == 1 and len(rec["history"]) == ckpt["epoch"]
    assert load_phi(out).kind == "unsupervised"
    from forensics_gui.core.errors import CheckpointError, ForensicsError

    with pytest.raises(CheckpointError, match="other batch_size"):
        train_phi(files, out, epochs=10, batch_size=32, lr=1e-3, seed=1, device="cpu", resume=True,
                  **SMALL)
    with pytest.raises(ForensicsError, match="must be positive"):
        train_phi(files, out, epochs=10, patience=0)


@pytest.mark.slow
def test_train_cli_writes_loadable_checkpoint(store_env, capsys):
    write_corpus(store_env / "feats" / "sub", 3, frames=50, dim=16, seed=4)
    out = store_env / "models" / "phi.pt"
    rc = main(["train", "--features", str(store_env / "feats"), "-o", str(out), "--epochs", "2",
               "--batch-size", "64", "--lr", "1e-3", "--device", "cpu", "--quiet"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "completed: 2 epoch(s) on cpu, 2 training / 1 validation video(s)" in err
    phi = load_phi(out)
    assert (phi.visual_dim, phi.audio_dim) == (16, 16)
    assert phi.metadata["forensics_gui"]["hyper_parameters"]["batch_size"] == 64
    assert main(["train", "--features", str(store_env / "empty"), "-o", str(out)]) == 2
    assert main(["train", "--videos", str(store_env / "feats"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


# Trains until the first batch of epoch 3 is done (epochs 1-2 and their resume state are on
# disk), says so in the file argv[4] and waits there to be killed: the kill lands inside an epoch
# however fast or slow the machine is.
_CHILD = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    import torch
    torch.set_num_threads(2)
    from forensics_gui.core.alignment.training import train_phi

    epochs, inside = int(sys.argv[3]), Path(sys.argv[4])

    class StopInEpoch3:
        def report(self, stage, done, total=None):
            if stage == "training" and done > 2 * total / epochs:
                inside.write_text("epoch 3", encoding="utf-8")
                threading.Event().wait()
        def cancelled(self):
            return False

    files = sorted(Path(sys.argv[1]).glob("*.npz"))
    train_phi(files, Path(sys.argv[2]), epochs=epochs, batch_size=64, lr=1e-3, seed=7,
              device="cpu", proj_dim=64, hidden=(64, 32, 16), progress=StopInEpoch3())
""")


@pytest.mark.slow
def test_resume_after_sigkill(store_env):
    files = write_corpus(store_env / "c", 5, frames=80, dim=16, seed=5)
    out = store_env / "phi.pt"
    epochs = 6
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    inside = store_env / "inside-epoch-3"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store_env / "c"), str(out), str(epochs),
                              str(inside)], env=env, stderr=subprocess.PIPE)
    rstate = resume_path(out)
    deadline = time.monotonic() + 300  # bounds a hang only
    while not inside.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition: the loop ends as soon as the file exists
    if not inside.exists() or child.poll() is not None:
        child.kill()
        pytest.fail(f"the training child did not wait inside epoch 3: {child.communicate()[1].decode()[-2000:]}")
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = torch.load(rstate, weights_only=True)
    assert 2 <= before["epoch"] < epochs
    assert load_phi(out).metadata["epoch"] >= 1  # the best checkpoint is intact

    result = train_phi(files, out, epochs=epochs, batch_size=64, lr=1e-3, seed=7, device="cpu",
                       resume=True, **SMALL)
    assert result.stop_reason in ("completed", "early stop")
    assert result.epochs_run == epochs
    assert [h["epoch"] for h in result.history] == list(range(1, epochs + 1))
    for old, new in zip(before["history"], result.history, strict=False):
        assert old["train_loss"] == new["train_loss"]
    assert not list(out.parent.glob(f".{out.name}.*"))  # no temporary file left behind
    load_phi(out)

    # The resumed run ends where an uninterrupted run ends (deterministic shuffling per epoch).
    clean = train_phi(files, store_env / "clean.pt", epochs=epochs, batch_size=64, lr=1e-3, seed=7,
                      device="cpu", **SMALL)
    np.testing.assert_allclose([h["train_loss"] for h in clean.history],
                               [h["train_loss"] for h in result.history], rtol=1e-6)


def test_feature_store_layout_and_skips(tmp_path):
    rng = np.random.default_rng(6)
    a = tmp_path / "a.npz"
    np.savez(a, visual=rng.normal(size=(10, 8)).astype(np.float32) * 5,
             audio=rng.normal(size=(12, 8)).astype(np.float32), checkpoint_sha256=np.asarray("ab" * 32))
    noface = tmp_path / "noface.npz"
    np.savez(noface, audio=np.ones((9, 8), np.float32))
    b = tmp_path / "b.npz"
    np.savez(b, visual=np.zeros((4, 8), np.float32), audio=np.ones((4, 8), np.float32))
    store = build_feature_store([a, noface, b], tmp_path / "store")
    assert store.offsets.tolist() == [0, 10, 14] and store.manifest["skipped"] == [str(noface)]
    assert isinstance(store.visual, np.memmap)
    np.testing.assert_allclose(np.linalg.norm(store.visual[:10], axis=1), 1.0, rtol=1e-6)
    assert not np.asarray(store.visual[10:]).any()  # all-zero rows stay zero, not NaN
    assert store.manifest["files"][0]["checkpoint_sha256"] == "ab" * 32
    again = build_feature_store([a, noface, b], tmp_path / "store")
    assert again.root == store.root  # reused
    c = tmp_path / "c.npz"
    np.savez(c, visual=np.ones((4, 16), np.float32), audio=np.ones((4, 16), np.float32))
    from forensics_gui.core.alignment.feature_store import FeatureFileError

    with pytest.raises(FeatureFileError, match="train on features from one AV-HuBERT model"):
        build_feature_store([a, c], tmp_path / "store")


@pytest.mark.slow
def test_early_stop_and_plateau(store_env, monkeypatch):
    import forensics_gui.core.alignment.training as training

    monkeypatch.setattr(training, "_evaluate", lambda *a, **k: 1.0)  # validation never improves
    files = write_corpus(store_env / "c", 3, frames=40, dim=8, seed=8)
    result = train_phi(files, store_env / "phi.pt", epochs=20, batch_size=64, lr=1e-3, patience=3,
                       lr_patience=1, device="cpu", **SMALL)
    assert result.stop_reason == "early stop" and result.epochs_run == 4 and result.best_epoch == 1
    assert [h["lr"] for h in result.history] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])
