"""Feature extraction API, the .npz format, devices, the models registry and the CLI command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from forensics_gui.core.encoder import features as feat
from forensics_gui.core.encoder.features import (
    FeatureExtractor,
    FeatureSet,
    load_features,
    prepare_video,
    save_features,
    window_plan,
)
from forensics_gui.core.errors import Cancelled, CheckpointError, ForensicsError
from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
from forensics_gui.testing.progress import RecordingProgress
from forensics_gui.testing.synth import make_noise_roi


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(2)
    return write_fake_avhubert_checkpoint(tmp_path_factory.mktemp("feat") / "self_large_vox_433h.pt", seed=2)


@pytest.fixture(scope="module")
def extractor(ckpt: Path) -> FeatureExtractor:
    return FeatureExtractor(ckpt, device="cpu")


def _clip(frames: int = 30, silence_samples: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    roi = rng.integers(0, 256, (frames, 96, 96), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(frames * 640)).astype(np.float32)
    audio[:silence_samples] = 0.0
    return roi, audio


def test_prepare_video_crops_the_centre_and_normalises() -> None:
    roi = np.zeros((3, 96, 96), np.uint8)
    roi[:, 4:92, 4:92] = 255
    roi[1, 4, 4] = 0
    x = prepare_video(roi)
    assert x.shape == (1, 1, 3, 88, 88) and x.dtype == torch.float32
    ones = (1.0 - 0.421) / 0.165
    assert np.allclose(x[0, 0, 0].numpy(), ones)
    assert x[0, 0, 1, 0, 0].item() == pytest.approx(-0.421 / 0.165, abs=1e-6)
    with pytest.raises(ForensicsError, match="at least 88x88"):
        prepare_video(np.zeros((2, 80, 80), np.uint8))
    with pytest.raises(ForensicsError, match="uint8 grey levels"):
        prepare_video(np.zeros((2, 96, 96), np.float32))
    with pytest.raises(ForensicsError, match="grey images"):
        prepare_video(np.zeros((2, 96, 96, 3), np.uint8))


def test_window_plan_tiles_and_keeps_context() -> None:
    assert window_plan(3000) == [(0, 3000, 0, 3000)]
    plan = window_plan(5000)
    assert plan[0][0] == 0 and plan[-1][1] == 5000
    kept = [k for _, _, s, e in plan for k in range(s, e)]
    assert kept == list(range(5000))
    for start, stop, ks, ke in plan:
        assert stop - start == 1500
        assert ks == 0 or ks - start >= 125
        assert ke == 5000 or stop - ke >= 125


@pytest.mark.slow
def test_extract_matches_the_model_and_aligns_lengths(extractor: FeatureExtractor) -> None:
    roi, audio = _clip(frames=24)
    fs = extractor.extract(roi[:20], audio)  # 20 video frames, 24 audio frames -> 20
    assert fs.visual is not None and fs.audio.shape == fs.visual.shape == (20, 64)
    assert fs.audio.dtype == np.float32 and fs.checkpoint_sha256 and len(fs.checkpoint_sha256) == 64
    from forensics_gui.core.encoder.audio_features import stacked_features

    model = extractor.model
    with torch.inference_mode():
        a = torch.from_numpy(stacked_features(audio)[:20])[None]
        v = prepare_video(roi[:20])
        ref_a = model.extract_features(audio=a)[0].numpy()
        ref_v = model.extract_features(video=v)[0].numpy()
    assert np.abs(fs.audio - ref_a).max() <= 1e-5 and np.abs(fs.visual - ref_v).max() <= 1e-5
    from forensics_gui.core.encoder.avhubert import model as model_mod

    with pytest.MonkeyPatch.context() as mp:  # the video front end in chunks of 7 frames
        mp.setattr(model_mod, "RESNET_CHUNK_FRAMES", 7)
        chunked = extractor.extract(roi[:20], audio)
    assert chunked.visual is not None and np.abs(chunked.visual - fs.visual).max() <= 1e-5
    only_audio = extractor.extract(None, audio)
    assert only_audio.visual is None and only_audio.audio.shape == (24, 64)
    assert np.abs(only_audio.audio[:5] - fs.audio[:5]).max() > 1e-4  # global attention: T matters


@pytest.mark.slow
def test_batched_and_separate_passes_agree(ckpt: Path, extractor: FeatureExtractor) -> None:
    roi, audio = _clip(frames=16, seed=5)
    batched = extractor.extract(roi, audio)
    separate = FeatureExtractor(ckpt, device="cpu", batched_passes=False).extract(roi, audio)
    assert separate.visual is not None and batched.visual is not None
    assert np.abs(batched.audio - separate.audio).max() <= 1e-5
    assert np.abs(batched.visual - separate.visual).max() <= 1e-5


@pytest.mark.slow
def test_trim_follows_avh_align_arithmetic(extractor: FeatureExtractor) -> None:
    roi, audio = _clip(frames=30, silence_samples=18560)  # i=18560 -> int(s*25)=28, not 29
    fs = extractor.extract(roi, audio, trim_leading_silence=True)
    assert fs.trimmed_video_frames == 29 and fs.trimmed_audio_samples == 28 * 640 + 640
    assert fs.leading_silence_s == pytest.approx(18560 / 16000)
    assert fs.audio.shape[0] == 1 and fs.meta["trim_leading_silence"] is True
    untrimmed = extractor.extract(roi, audio)
    assert untrimmed.trimmed_video_frames == 0 and untrimmed.audio.shape[0] == 30
    assert untrimmed.leading_silence_s == pytest.approx(18560 / 16000)
    with pytest.raises(ForensicsError, match="no audio-visual frames left after trimming"):
        extractor.extract(roi[:10], np.zeros(30 * 640, np.float32), trim_leading_silence=True)


@pytest.mark.slow
def test_long_clips_use_windows(extractor: FeatureExtractor, monkeypatch: pytest.MonkeyPatch) -> None:
    roi, audio = _clip(frames=50, seed=3)
    monkeypatch.setattr(feat, "window_plan", lambda n: window_plan(n, max_single=30, window=24, overlap=8))
    fs = extractor.extract(roi, audio)
    assert fs.meta["windows"] == 3 and fs.audio.shape == (50, 64)
    from forensics_gui.core.encoder.audio_features import stacked_features

    plan = window_plan(50, max_single=30, window=24, overlap=8)
    assert [(ks, ke) for _, _, ks, ke in plan] == [(0, 20), (20, 33), (33, 50)]
    with torch.inference_mode():  # each window alone, keeping its own part
        a = torch.from_numpy(stacked_features(audio))[None]
        # the per-frame front end runs over the whole clip (the stem sees the frames past a cut)
        fv = extractor.model.feature_extractor_video(prepare_video(roi))
        for lo, hi, ks, ke in plan:
            ref_a = extractor.model.extract_features(audio=a[:, lo:hi])[0].numpy()
            ref_v = extractor.model.encoder(extractor.model._fuse(None, fv[:, lo:hi]))[0].numpy()
            assert np.abs(fs.audio[ks:ke] - ref_a[ks - lo:ke - lo]).max() <= 1e-5
            assert np.abs(fs.visual[ks:ke] - ref_v[ks - lo:ke - lo]).max() <= 1e-5


def test_progress_and_cancel(extractor: FeatureExtractor) -> None:
    roi, audio = _clip(frames=10)

    rec = RecordingProgress(None)
    extractor.extract(roi, audio, progress=rec)
    assert ("video front end", 10, 10) in rec.calls and rec.calls[-1] == ("encoder", 2, 2)
    with pytest.raises(Cancelled):
        extractor.extract(roi, audio, progress=RecordingProgress(2))


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    fs = FeatureSet(visual=np.ones((5, 4), np.float32), audio=np.zeros((5, 4), np.float32), fps=25.0,
                    trimmed_video_frames=2, trimmed_audio_samples=1280, leading_silence_s=0.03,
                    checkpoint_sha256="ab" * 32, meta={"model": "LARGE"})
    out = tmp_path / "clip.features"  # no .npz suffix: must still be written exactly there
    save_features(out, fs)
    assert out.is_file() and list(tmp_path.iterdir()) == [out]
    back = load_features(out)
    assert np.array_equal(back.visual, fs.visual) and np.array_equal(back.audio, fs.audio)
    assert (back.trimmed_video_frames, back.trimmed_audio_samples) == (2, 1280)
    assert back.leading_silence_s == 0.03 and back.checkpoint_sha256 == "ab" * 32
    assert back.meta["model"] == "LARGE"
    with np.load(out) as data:  # AVH-Align readers only need these two arrays
        assert data["visual"].dtype == np.float32 and data["audio"].shape == (5, 4)
    save_features(out, FeatureSet(visual=None, audio=np.zeros((3, 4), np.float32)))
    assert load_features(out).visual is None
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ForensicsError, match="is not a features file"):
        load_features(bad)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ForensicsError, match="no 'audio' array"):
        load_features(tmp_path / "other.npz")


def test_devices() -> None:
    from forensics_gui.core.encoder.devices import resolve_device, resolve_dtype

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ForensicsError, match="--device cuda was asked for"):
            resolve_device("cuda")
    with pytest.raises(ForensicsError, match="only supported on a GPU"):
        resolve_dtype("float16", torch.device("cpu"))
    with pytest.raises(ForensicsError, match="Unknown device"):
        resolve_device("tpu")


def test_registry_finds_models_and_caches_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ckpt: Path) -> None:
    from forensics_gui.core.files import hashing, paths
    from forensics_gui.core.models import registry as reg

    user = tmp_path / "models"
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(user))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "REPO_MODELS_DIR", tmp_path / "repo_models")
    names = {m.name for m in reg.known_models()}
    assert {"self_large_vox_433h.pt", "base_vox_iter5.pt", "AVH-Align_AV1M.pt"} <= names
    assert reg.known_models("avhubert")[0].name == "self_large_vox_433h.pt"
    assert reg.find_avhubert_checkpoint() is None and reg.find_phi_checkpoint() is None
    text = reg.describe_missing_models()
    assert "self_large_vox_433h.pt" in text and "AVH-Align_AV1M.pt" in text and str(user) in text
    user.mkdir()
    target = user / "self_large_vox_433h.pt"
    target.write_bytes(b"abc")
    assert reg.find_avhubert_checkpoint() == target
    assert "self_large_vox_433h" not in reg.describe_missing_models()
    import hashlib

    assert hashing.sha256_of(target) == hashlib.sha256(b"abc").hexdigest()
    cache = json.loads((tmp_path / "cache" / "model_sha256.json").read_text())
    assert cache[str(target.resolve())]["sha256"] == hashlib.sha256(b"abc").hexdigest()
    rows = {row["model"].name: row for row in reg.installed_models()}
    assert rows["self_large_vox_433h.pt"]["path"] == target and rows["self_large_vox_433h.pt"]["size_bytes"] == 3
    assert rows["self_large_vox_433h.pt"]["sha256_matches"] is None  # registry digest unknown
    assert rows["base_vox_iter5.pt"]["path"] is None and rows["base_vox_iter5.pt"]["sha256"] is None
    expected = hashlib.sha256(b"abc").hexdigest()
    hashing._memory_cache.clear()
    monkeypatch.setattr(hashing, "sha256_file", None)  # a cache hit (from disk) must not hash again
    assert hashing.sha256_of(target) == expected
    monkeypatch.undo()



@pytest.mark.slow
def test_cli_features_from_roi_and_audio(tmp_path: Path, ckpt: Path, extractor: FeatureExtractor) -> None:
    from scipy.io import wavfile

    from forensics_gui.cli import main
    from forensics_gui.core.face.roi import load_roi_video
    from forensics_gui.core.media.decode import decode_audio

    roi_path, wav_path, out = tmp_path / "roi.mp4", tmp_path / "a.wav", tmp_path / "f.npz"
    make_noise_roi(roi_path, 20)
    rng = np.random.default_rng(2)
    samples = (3000 * rng.standard_normal(20 * 640)).astype(np.int16)
    samples[:1000] = 0
    wavfile.write(wav_path, 16000, samples)
    code = main(["features", "--roi", str(roi_path), "--audio", str(wav_path), "--checkpoint", str(ckpt),
                 "-o", str(out), "--device", "cpu", "--quiet", "--trim-leading-silence"])
    assert code == 0
    got = load_features(out)
    expected = extractor.extract(load_roi_video(roi_path),
                                 decode_audio(wav_path, sample_rate=16000, mono=True).samples[0],
                                 trim_leading_silence=True)
    assert got.trimmed_video_frames == 2 and got.leading_silence_s == pytest.approx(1000 / 16000)
    assert got.visual is not None and got.visual.shape == (18, 64)
    assert np.abs(got.visual - expected.visual).max() <= 1e-5
    assert got.checkpoint_sha256 == extractor.checkpoint_sha256


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.cli import main
    from forensics_gui.core.files import paths

    assert main(["features", "-o", str(tmp_path / "x.npz")]) == 2
    assert "Give either a VIDEO or --roi" in capsys.readouterr().err
    assert main(["features", "--roi", "r.mp4", "-o", str(tmp_path / "x.npz")]) == 2
    assert "--roi needs --audio" in capsys.readouterr().err
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "none"))
    monkeypatch.setattr(paths, "REPO_MODELS_DIR", tmp_path / "none2")
    assert main(["features", "clip.mp4", "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert "self_large_vox_433h.pt" in err and str(tmp_path / "none") in err
    evil = tmp_path / "evil.pt"
    evil.write_bytes(b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    assert main(["features", "clip.mp4", "--checkpoint", str(evil), "-o", str(tmp_path / "x.npz")]) == 2
    assert "refuses to load 'evil.pt': it asks to run os.system" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(CheckpointError):
        FeatureExtractor(evil)


def test_cli_features_from_a_clip_without_face(tmp_path: Path, ckpt: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import av

    from forensics_gui.cli import main

    clip, out = tmp_path / "clip.mp4", tmp_path / "clip.npz"
    rng = np.random.default_rng(4)
    with av.open(str(clip), "w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        aus = container.add_stream("aac", rate=16000, layout="mono")
        for _ in range(25):
            img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            container.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(vs.encode(None))
        samples = (0.2 * rng.standard_normal((1, 16000))).astype(np.float32)
        for i in range(0, 16000, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, i:i + 1024], format="flt", layout="mono")
            frame.sample_rate = 16000
            container.mux(aus.encode(frame))
        container.mux(aus.encode(None))
    assert main(["features", str(clip), "--checkpoint", str(ckpt), "-o", str(out), "--device", "cpu",
                 "--quiet"]) == 0
    assert "no face found" in capsys.readouterr().err
    fs = load_features(out)
    assert fs.visual is None and fs.audio.shape == (25, 64)  # cut to the 25 video frames


def test_guidance_without_the_registry_file(tmp_path, monkeypatch) -> None:
    """An install without models/registry.json still says what is missing and where it goes."""
    import forensics_gui.core.models.registry as reg

    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr(reg, "REGISTRY_FILE", tmp_path / "absent.json")
    text = reg.describe_missing_models()
    assert "AV-HuBERT checkpoint is missing" in text and "Phi is missing" in text
    assert str(tmp_path / "models") in text
