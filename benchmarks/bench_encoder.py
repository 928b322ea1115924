"""AV-HuBERT feature extraction speed against the official computation, and reduced-precision agreement.

What AVH-Align runs per clip is AV-HuBERT ``extract_finetune`` twice -- audio-only, then video-only --
on the fine-tuned LARGE model (1024/24/16/4096) in fp32 on the CPU. fairseq does not import here
(Python 3.11), so the baseline row, **official**, reproduces that code's computation order and
kernels with PyTorch as it runs them today, on the same weights:

- the two passes one after the other, batch 1; the missing modality's projection is zeros and its
  front end is not run (as extract_finetune does);
- the video front end: Conv3d, BatchNorm3d, PReLU and MaxPool3d on [B, 64, T, H, W], time folded
  into the batch as a contiguous NCHW copy, the ResNet-18 trunk in NCHW, AdaptiveAvgPool2d;
- the front-end projections on transposed [B, C, T] tensors, concat, LayerNorm, post_extract_proj;
- pos_conv with its weight-norm recomputed from (g, v) on every call, as fairseq's forward hook does;
- each layer on [T, B, C] through ``torch.nn.functional.multi_head_attention_forward`` with separate
  q/k/v weights (what fairseq's MultiheadAttention calls in eval without incremental state), and
  every linear layer through ``F.linear``, PyTorch's stock CPU kernel.

Issue 16 measured the official code itself (fairseq-fixed 0.12.3.1 + av_hubert, torch 2.13) on an
AVX-512 machine of this kind at 83 frames/s against 87 for the session-20 code (git 1ba2b75): the
official code took 1.05x its time. The session-20 model is loaded from git (``--old-rev``) and timed
as its own row, so the printed official/session-20 ratio checks the baseline against that 1.05.

Rows (LARGE unless --sizes says otherwise, one 10 s clip = 250 frames at 25 fps, random weights):
- official (baseline), the session-20 code (when git has it), ours with stock kernels (only where
  ours sends fp32 to oneDNN: AVX-512 CPUs), ours exact fp32, ours bf16 (where the CPU has bf16
  kernels) or the --precisions asked for; frames/s as the median of --runs timed rounds, variants
  timed round-robin so a load change hits all alike; every ratio is "vs official";
- exactness: max |ours fp32 - official| over the features (must be <= 1e-5);
- reduced precision agreement on the same clip and weights: max |bf16 - fp32| of the features,
  per-frame cosine (mean and min), and the change in a random Phi's frame scores -Phi(v_t, a_t)
  (max |change|, as a fraction of the scores' spread) and in the video score (log-sum-exp).
  Random weights make no claim about real checkpoints; rerun with --checkpoint for those.

GPU (``--device cuda``): frames/s and peak memory at batch sizes 1..64 clips (``--batch-sweep``).

    python benchmarks/bench_encoder.py [--threads 2] [--runs 5] [--sizes LARGE] [--device cpu|cuda]
        [--precisions float32,bfloat16] [--batch-sweep 1,2,4,8,16,32,64] [--checkpoint FILE]
        [--skip-load]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from forensics_gui.core import cpu_linear
from forensics_gui.core.encoder.audio_features import stacked_features
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig
from forensics_gui.core.encoder.avhubert.model import (
    AVHubertEncoder,
    EncoderLayer,
    TransformerEncoder,
    VideoResNet,
    gelu_fp32,
)

FRAMES = 250
SIZES = {"BASE": (768, 12, 12, 3072), "LARGE": (1024, 24, 16, 4096)}
DEVICE = torch.device("cpu")
PRECISION_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
                   "fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def race(variants: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Seconds per run for each variant, timed in turn (round-robin) after one warm-up each."""
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            _sync()
            t0 = time.perf_counter()
            fn()
            _sync()
            times[name].append(time.perf_counter() - t0)
    return times


def fps(times: list[float], frames: int = FRAMES) -> float:
    return frames / statistics.median(times)


# ----------------------------------------------------------------- the official computation


@contextlib.contextmanager
def stock_linear() -> Iterator[None]:
    """Route our model's linear layers through PyTorch's stock kernel for the duration."""
    saved = cpu_linear.onednn_for
    cpu_linear.onednn_for = lambda dtype, device="cpu": False  # type: ignore[assignment]
    try:
        yield
    finally:
        cpu_linear.onednn_for = saved  # type: ignore[assignment]


def _ln(x: torch.Tensor, ln: torch.nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def _lin(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def official_resnet(r: VideoResNet, video: torch.Tensor) -> torch.Tensor:
    """[B,1,T,88,88] -> [B,512,T] in the official order: 3-D stem ops, NCHW trunk, adaptive pool."""
    y = r.frontend3D(video)  # Conv3d, BatchNorm3d, PReLU, MaxPool3d on 5-D tensors
    b, c, t, h, w = y.shape
    y = y.transpose(1, 2).reshape(b * t, c, h, w)
    for layer in (r.trunk.layer1, r.trunk.layer2, r.trunk.layer3, r.trunk.layer4):
        for block in layer:
            residual = y if block.downsample is None else block.downsample(y)
            out = block.relu1(block.bn1(block.conv1(y)))
            y = block.relu2(block.bn2(block.conv2(out)) + residual)
    y = F.adaptive_avg_pool2d(y, 1).view(b * t, -1)
    return y.view(b, t, -1).transpose(1, 2)


def weight_norm_parts(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(g, v) with weight = g * v / ||v|| over all dims but 2, as the checkpoint stores pos_conv."""
    g = torch.linalg.vector_norm(weight, dim=(0, 1), keepdim=True)
    return g, weight.clone()


def official_encoder(enc: TransformerEncoder, x: torch.Tensor, g: torch.Tensor, v: torch.Tensor
                     ) -> torch.Tensor:
    """[B,T,D] -> [B,T,D]: the wav2vec2-style encoder with pre-LN layers run on [T,B,C]."""
    conv = enc.pos_conv[0]
    weight = torch._weight_norm(v, g, 2)  # recomputed per call (forward pre-hook)
    pos = F.conv1d(x.transpose(1, 2), weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    pos = F.gelu(pos[..., :-1])
    x = (x + pos.transpose(1, 2)).transpose(0, 1)
    for layer in enc.layers:
        assert isinstance(layer, EncoderLayer)
        att = layer.self_attn
        residual = x
        h = _ln(x, layer.self_attn_layer_norm)
        h, _ = F.multi_head_attention_forward(
            h, h, h, h.shape[-1], att.heads, torch.empty([0]),
            torch.cat((att.q_proj.bias, att.k_proj.bias, att.v_proj.bias)), None, None, False, 0.0,
            att.out_proj.weight, att.out_proj.bias, training=False, key_padding_mask=None,
            need_weights=False, attn_mask=None, use_separate_proj_weight=True,
            q_proj_weight=att.q_proj.weight, k_proj_weight=att.k_proj.weight, v_proj_weight=att.v_proj.weight)
        x = residual + h
        residual = x
        h = gelu_fp32(_lin(_ln(x, layer.final_layer_norm), layer.fc1))
        x = residual + _lin(h, layer.fc2)
    return _ln(x.transpose(0, 1), enc.layer_norm)


def official_two_passes(model: AVHubertEncoder, gv: tuple[torch.Tensor, torch.Tensor],
                        audio: torch.Tensor, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """extract_finetune audio-only, then video-only (audio [1,T,104], video [1,1,T,88,88])."""

    def fuse(fa: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:  # [B,D,T] each
        x = torch.cat([fa, fv], dim=1).transpose(1, 2)
        return _lin(_ln(x, model.layer_norm), model.post_extract_proj)

    fa = _lin(audio, model.feature_extractor_audio.proj).transpose(1, 2)
    out_a = official_encoder(model.encoder, fuse(fa, torch.zeros_like(fa)), *gv)
    res = official_resnet(model.feature_extractor_video.resnet, video)
    fv = _lin(res.transpose(1, 2), model.feature_extractor_video.proj).transpose(1, 2)
    out_v = official_encoder(model.encoder, fuse(torch.zeros_like(fv), fv), *gv)
    return out_a, out_v


# ----------------------------------------------------------------- models and inputs


def make_model(size: str, checkpoint: Path | None) -> AVHubertEncoder:
    if checkpoint is not None:
        from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert

        model = load_avhubert(checkpoint).model
    else:
        d, layers, heads, ffn = SIZES[size]
        torch.manual_seed(0)
        model = AVHubertEncoder(AVHubertConfig(embed_dim=d, layers=layers, heads=heads, ffn_dim=ffn))
        with torch.no_grad():  # non-trivial BatchNorm statistics and PReLU slopes
            for mod in model.modules():
                if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                    mod.running_mean.normal_(0.0, 0.1)
                    mod.running_var.uniform_(0.5, 1.5)
                elif isinstance(mod, torch.nn.PReLU):
                    mod.weight.uniform_(0.0, 0.5)
    model.eval().requires_grad_(False)
    model.prepare_for_inference()
    return model.to(DEVICE)


def old_model(rev: str, model: AVHubertEncoder) -> torch.nn.Module | None:
    """The encoder as git revision ``rev`` wrote it, with ``model``'s weights (None without git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(["git", "show", f"{rev}:forensics_gui/core/encoder/avhubert/model.py"],
                                cwd=root, capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    module = types.ModuleType(f"model_at_{rev}")
    exec(compile(source, f"{rev}:model.py", "exec"), module.__dict__)  # noqa: S102 - this repo's own history
    old = module.AVHubertEncoder(model.config)
    old.load_state_dict(model.state_dict())
    old.eval().requires_grad_(False)
    old.fuse_qkv()
    return old.to(DEVICE)


def make_inputs(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(FRAMES * 640)).astype(np.float32)
    stacked = torch.from_numpy(stacked_features(audio))[None].repeat(batch, 1, 1)
    video = torch.from_numpy(rng.standard_normal((batch, 1, FRAMES, 88, 88)).astype(np.float32))
    return stacked.to(DEVICE), video.to(DEVICE)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def bf16_supported() -> bool:
    if DEVICE.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


# ----------------------------------------------------------------- agreement


def agreement(ref: tuple[torch.Tensor, torch.Tensor], got: tuple[torch.Tensor, torch.Tensor]) -> str:
    """Features and random-Phi score agreement of a reduced-precision run with the fp32 one."""
    from forensics_gui.core.alignment.phi import l2_normalize
    from forensics_gui.testing.phi import random_phi_module

    a0, v0 = (t[0].float().cpu() for t in ref)
    a1, v1 = (t[0].float().cpu() for t in got)
    max_abs = max(float((a0 - a1).abs().max()), float((v0 - v1).abs().max()))
    cos = torch.cat([F.cosine_similarity(a0, a1, dim=-1), F.cosine_similarity(v0, v1, dim=-1)])
    phi = random_phi_module(a0.shape[-1], a0.shape[-1], seed=0).eval()

    def scores(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        va = torch.from_numpy(l2_normalize(v.numpy())), torch.from_numpy(l2_normalize(a.numpy()))
        with torch.no_grad():
            return -phi(*va).double()

    s0, s1 = scores(a0, v0), scores(a1, v1)
    spread = float(s0.max() - s0.min()) or 1.0
    d_frame = float((s0 - s1).abs().max())
    d_video = float(abs(torch.logsumexp(s0, 0) - torch.logsumexp(s1, 0)))
    return (f"features max |diff| {max_abs:.3g}, per-frame cosine mean {float(cos.mean()):.6f} "
            f"min {float(cos.min()):.6f}; random-Phi frame scores max |change| {d_frame:.3g} "
            f"({100 * d_frame / spread:.2g} % of their spread {spread:.3g}), video score (log-sum-exp) "
            f"change {d_video:.3g}")


# ----------------------------------------------------------------- benchmark


def bench_compare(size: str, precisions: list[str], runs: int, checkpoint: Path | None,
                  old_rev: str) -> None:
    model = make_model(size, checkpoint)
    audio, video = make_inputs()
    conv = model.encoder.pos_conv[0]
    gv = weight_norm_parts(conv.weight.detach())
    variants: dict[str, Callable[[], object]] = {
        "official (baseline)": lambda: official_two_passes(model, gv, audio, video),
    }

    def stock() -> object:
        with stock_linear():
            return model.extract_two_passes(audio, video)

    old_name = f"session-20 code ({old_rev})"
    old = old_model(old_rev, model) if old_rev else None
    if old is not None:
        variants[old_name] = lambda: old.extract_two_passes(audio, video)
    elif old_rev:
        print(f"  (git has no {old_rev} here: no session-20 row)")
    if DEVICE.type == "cpu" and cpu_linear.onednn_for(torch.float32, DEVICE):
        variants["ours, stock kernels"] = stock
    models = {"float32": model}
    for name in precisions:
        dtype = PRECISION_NAMES[name]
        if dtype == torch.float32:
            variants["ours fp32 (exact)"] = lambda: model.extract_two_passes(audio, video)
            continue
        if dtype == torch.bfloat16 and not bf16_supported():
            print(f"  {name}: this CPU has no bf16 support in oneDNN; skipped")
            continue
        if dtype == torch.float16 and DEVICE.type == "cpu":
            print("  float16: GPU only; skipped")
            continue
        low = make_model(size, checkpoint).to(dtype)
        models[name] = low
        a_l, v_l = audio.to(dtype), video.to(dtype)
        variants[f"ours {name}"] = (lambda m=low, a=a_l, v=v_l: m.extract_two_passes(a, v))

    with torch.inference_mode():
        official = official_two_passes(model, gv, audio, video)
        ours = model.extract_two_passes(audio, video)
        with stock_linear():
            ours_stock = model.extract_two_passes(audio, video)  # the same as ours on a GPU
        times = race(variants, runs)
        reduced = {}
        for name, m in models.items():
            if name != "float32":
                dtype = next(m.parameters()).dtype
                reduced[name] = m.extract_two_passes(audio.to(dtype), video.to(dtype))

    base = fps(times["official (baseline)"])
    print(f"{size}, {FRAMES} frames, audio-only + video-only passes, median of {runs} rounds "
          f"(best in brackets):")
    for name, ts in times.items():
        ratio = "" if name.startswith("official") else f"  x{fps(ts) / base:.2f} vs official"
        print(f"  {name:<28} {fps(ts):7.1f} frames/s ({FRAMES / min(ts):6.1f}){ratio}")
    if old_name in times:
        slower = statistics.median(times["official (baseline)"]) / statistics.median(times[old_name])
        print(f"  check of the baseline: it takes {slower:.2f}x the time of the session-20 code; the official "
              f"code itself took 87/83 = 1.05x (issue 16, AVX-512 machine)")
    diff = max(float((o - r).abs().max()) for o, r in zip(ours, official, strict=True))
    diff_stock = max(float((o - r).abs().max()) for o, r in zip(ours_stock, official, strict=True))
    verdict = "OK" if diff <= 1e-5 else "TOO LARGE"
    print(f"  exactness: max |ours fp32 - official| = {diff:.2g} ({verdict}, limit 1e-5); stock kernels "
          f"{diff_stock:.2g}")
    if DEVICE.type == "cuda":
        print(f"  peak GPU memory of the run: {torch.cuda.max_memory_allocated(DEVICE) / 2**30:.2f} GiB")
    for name, got in reduced.items():
        print(f"  {name} vs fp32: {agreement(ours, got)}")


def bench_sweep(size: str, precisions: list[str], batches: list[int], checkpoint: Path | None,
                runs: int) -> None:
    """frames/s and peak memory per batch size (clips of 250 frames, both passes)."""
    for name in precisions:
        dtype = PRECISION_NAMES[name]
        if DEVICE.type == "cpu" and dtype == torch.float16:
            continue
        model = make_model(size, checkpoint).to(dtype)
        for b in batches:
            audio, video = make_inputs(b)
            audio, video = audio.to(dtype), video.to(dtype)
            if DEVICE.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(DEVICE)
            try:
                with torch.inference_mode():
                    ts = race({"x": lambda m=model, a=audio, v=video: m.extract_two_passes(a, v)}, runs)["x"]
            except torch.OutOfMemoryError:
                print(f"  {size} {name:<9} batch {b:3d} clips: out of memory")
                break
            mem = (f"{torch.cuda.max_memory_allocated(DEVICE) / 2**30:6.2f} GiB peak"
                   if DEVICE.type == "cuda" else "")
            print(f"  {size} {name:<9} batch {b:3d} clips: {fps(ts, FRAMES * b):8.1f} frames/s {mem}")
        del model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="LARGE", help="comma list of BASE, LARGE")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--precisions", default=None,
                        help="comma list; default float32,bfloat16 (CPU) or float32,bfloat16,float16 (GPU)")
    parser.add_argument("--batch-sweep", default=None,
                        help="batch sizes in clips for the throughput/memory sweep (default 1..64 on a GPU, "
                             "none on the CPU)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a real AV-HuBERT checkpoint instead of "
                        "random weights")
    parser.add_argument("--old-rev", default="1ba2b75",
                        help="git revision of the session-20 encoder timed as the baseline check ('' to skip)")
    parser.add_argument("--skip-load", action="store_true", help="do not time writing/loading a LARGE checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE
    from forensics_gui.core.encoder.devices import resolve_device, set_parity_numerics

    DEVICE = resolve_device(args.device)
    set_parity_numerics()
    default = "float32,bfloat16" + (",float16" if DEVICE.type == "cuda" else "")
    precisions = [p.strip().lower() for p in (args.precisions or default).split(",") if p.strip()]
    for p in precisions:
        if p not in PRECISION_NAMES:
            parser.error(f"unknown precision {p!r}")
    precisions = [str(PRECISION_NAMES[p]).replace("torch.", "") for p in precisions]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else cpu_name()
    print(f"{where}; torch {torch.__version__}, {torch.get_num_threads()} threads; linear kernel: "
          f"{cpu_linear.kernel_name(DEVICE)} (CPU capability {torch.backends.cpu.get_cpu_capability()}); bf16: {'yes' if bf16_supported() else 'no'}; "
          f"load average {load} on {os.cpu_count()} CPUs")

    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        bench_compare(size, precisions, args.runs, args.checkpoint, args.old_rev)
    sweep = args.batch_sweep or ("1,2,4,8,16,32,64" if DEVICE.type == "cuda" else "")
    if sweep:
        print(f"batch sweep on {DEVICE} (clips of {FRAMES} frames, both passes, median of "
              f"{max(2, args.runs // 2)} runs):")
        batches = [int(b) for b in sweep.split(",") if b.strip()]
        for size in sizes:
            bench_sweep(size, precisions, batches, args.checkpoint, max(2, args.runs // 2))

    if not args.skip_load:
        from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert
        from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint

        with tempfile.TemporaryDirectory(prefix="bench-avh-") as tmp:
            path = Path(tmp) / "large_fp16.pt"
            t0 = time.perf_counter()
            write_fake_avhubert_checkpoint(path, layers=24, dim=1024, heads=16, ffn=4096, finetuned=True)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_avhubert(path)
            t_load = time.perf_counter() - t0
            size_mb = path.stat().st_size / 1e6
            print(f"LARGE fp16 checkpoint ({size_mb:.0f} MB): written in {t_write:.1f} s, "
                  f"loaded (safe unpickle + fp32 cast + fold + strict) in {t_load:.1f} s")


if __name__ == "__main__":
    main()
