"""The encoder precision the user chooses (issue 16): which precisions a machine offers, the
features cache never serving one precision's features to another, and the results (RESULT.json,
batch rows and setup, the picture's and report's provenance) recording a reduced one."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from forensics_gui import cli
from forensics_gui.core.encoder import devices
from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
from forensics_gui.testing.synth import make_clip

CPU = torch.device("cpu")
CUDA = torch.device("cuda")
BF16_CPU = devices.cpu_supports_bf16()
CAVEAT = "Reduced precision (bf16): scores may differ slightly from the exact float32 ones."


# -- which precision runs where ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["float32", "fp32", "FP32", " float32 ", "", None])
def test_float32_is_the_default_and_runs_anywhere(name: str | None) -> None:
    assert devices.resolve_dtype(name, CPU) is torch.float32  # type: ignore[arg-type]
    assert devices.resolve_dtype(name, CUDA) is torch.float32  # type: ignore[arg-type]
    assert AnalysisOptions().precision == "float32"


def test_short_names_become_full_names() -> None:
    assert [devices.precision_name(n) for n in ("fp32", "bf16", "fp16", "BFloat16")] == [
        "float32", "bfloat16", "float16", "bfloat16"]
    assert AnalysisOptions(precision="bf16").precision == "bfloat16"


def test_unknown_precision_is_one_sentence() -> None:
    for bad in ("fp8", "double", "int8"):
        with pytest.raises(ForensicsError, match=r"^Unknown precision .*; use one of float32, "
                                                 r"bfloat16, float16 \(or fp32, bf16, fp16\)\.$"):
            devices.resolve_dtype(bad, CPU)
    with pytest.raises(ForensicsError, match="Unknown precision 'fp8'"):
        AnalysisOptions(precision="fp8")


def test_bfloat16_on_the_cpu_follows_its_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: True)
    assert devices.resolve_dtype("bf16", CPU) is torch.bfloat16
    assert devices.available_precisions("cpu")["bfloat16"] is None
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: False)
    with pytest.raises(ForensicsError, match=r"^This CPU lacks bfloat16 support .*use float32 "
                                             r"\(exact\)\.$"):
        devices.resolve_dtype("bfloat16", CPU)
    assert devices.available_precisions("cpu")["bfloat16"] == devices.NO_CPU_BF16


def test_float16_is_gpu_only_and_gpus_take_every_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ForensicsError, match=r"^Precision float16 is only supported on a GPU; "
                                             r"use float32 \(exact\) on the CPU\.$"):
        devices.resolve_dtype("fp16", CPU)
    assert devices.available_precisions("cpu")["float16"] == devices.FP16_GPU_ONLY
    # A GPU (its checks only: no CUDA is needed to build the dtype)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert devices.resolve_dtype("float16", CUDA) is torch.float16
    assert devices.resolve_dtype("bfloat16", CUDA) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # pre-Ampere
    with pytest.raises(ForensicsError, match="not supported by this GPU; use float16 or float32"):
        devices.resolve_dtype("bfloat16", CUDA)


def test_the_viewer_estimate_needs_no_torch_and_agrees_with_torch_here() -> None:
    estimate = devices._estimated_precisions()
    assert estimate["float32"] is None
    exact = devices.available_precisions("auto")
    if not torch.cuda.is_available():
        assert estimate == exact  # same offer and same sentences on this machine


def test_the_viewer_estimate_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys\n"
            "from forensics_gui.core.encoder.devices import available_precisions\n"
            "offer = available_precisions('auto', import_torch=False)\n"
            "print('torch' in sys.modules, offer['float32'] is None)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_result_without_a_recorded_precision_is_float32() -> None:
    assert devices.recorded_precision([]) == "float32"
    assert devices.recorded_precision(None) == "float32"
    assert devices.recorded_precision([{"role": "features", "name": "x"}]) == "float32"
    assert devices.recorded_precision([{"role": "phi"}, {"role": "features",
                                                         "precision": "bfloat16"}]) == "bfloat16"


# -- the features cache key ---------------------------------------------------------------------
def _key_parts(precision: str) -> tuple[str, str]:
    analyzer = Analyzer(AnalysisOptions(device="cpu", precision=precision))
    analyzer._checkpoint_sha = "c" * 64  # what load_models sets; no model is loaded for the key
    return analyzer._features_key_parts()


@pytest.mark.skipif(not BF16_CPU, reason="this CPU has no bfloat16 support")
def test_the_features_cache_key_holds_the_resolved_precision() -> None:
    assert _key_parts("float32") == ("c" * 64, "torch.float32")  # as before: old entries stay valid
    assert _key_parts("bf16") == ("c" * 64, "torch.bfloat16")


def test_a_precision_this_machine_lacks_is_refused_before_any_model_loads(models) -> None:
    ckpt, phi = models
    analyzer = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", precision="float16"))
    with pytest.raises(ForensicsError, match="only supported on a GPU"):
        analyzer.load_models()
    assert analyzer._phi is None and analyzer._extractor is None


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    return make_clip(d / "talk.mkv", duration_s=1.0, width=192, height=192).path


@pytest.mark.slow
@pytest.mark.skipif(not BF16_CPU, reason="this CPU has no bfloat16 support")
@pytest.mark.usefixtures("isolated_dirs")
def test_features_of_one_precision_are_never_served_to_another(models, clip) -> None:
    from forensics_gui.core.encoder.cache import Cache

    ckpt, phi = models
    fp32 = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu")
    bf16 = AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", precision="bfloat16")
    first = Analyzer(fp32).analyze(clip)
    entries = Cache().count()  # the ROI and the float32 features
    reduced_run = Analyzer(bf16)
    reduced = reduced_run.analyze(clip)
    assert reduced_run._extractor is not None  # a cache miss: the encoder ran, in bfloat16
    assert reduced_run._extractor.dtype is torch.bfloat16
    assert Cache().count() == entries + 1  # its own features entry
    assert first.precision == "float32" and reduced.precision == "bfloat16"
    # and back: float32 reads its own entry (no encoder), equal to the first run to the bit
    again_run = Analyzer(fp32)
    again = again_run.analyze(clip)
    assert again_run._extractor is None
    np.testing.assert_array_equal(again.main.frame_scores, first.main.frame_scores)
    # bfloat16 reads its entry too
    bf_again_run = Analyzer(bf16)
    np.testing.assert_array_equal(bf_again_run.analyze(clip).main.frame_scores,
                                  reduced.main.frame_scores)
    assert bf_again_run._extractor is None
    # One Analyzer whose options change between clips drops the extractor of the old precision.
    no_cache = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", use_cache=False))
    no_cache.analyze(clip)
    assert no_cache._extractor.dtype is torch.float32
    no_cache.options.precision = "bfloat16"
    switched = no_cache.analyze(clip)
    assert no_cache._extractor.dtype is torch.bfloat16 and switched.precision == "bfloat16"
    features = next(m for m in switched.models if m["role"] == "features")
    assert features["precision"] == "bfloat16"


# -- results record it ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not BF16_CPU, reason="this CPU has no bfloat16 support")
@pytest.mark.usefixtures("isolated_dirs")
def test_analyze_precision_bfloat16_is_recorded_in_result_json(models, clip, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, phi = models
    out = {p: tmp_path / f"{p}.json" for p in ("default", "bf16")}
    base = ["analyze", str(clip), "--checkpoint", str(ckpt), "--phi", str(phi), "--device", "cpu",
            "--quiet"]
    assert cli.main([*base, "-o", str(out["default"])]) == 0
    assert cli.main([*base, "--precision", "bf16", "-o", str(out["bf16"])]) == 0
    capsys.readouterr()
    docs = {k: json.loads(p.read_text()) for k, p in out.items()}
    for name, want in (("default", "float32"), ("bf16", "bfloat16")):
        features = next(m for m in docs[name]["models"] if m["role"] == "features")
        assert features["precision"] == want and docs[name]["precision"] == want
    np.testing.assert_allclose(docs["bf16"]["frame_scores"], docs["default"]["frame_scores"],
                               atol=0.5)  # close, not equal: a reduced precision


def test_analyze_and_batch_refuse_a_bad_precision_in_one_sentence(
        models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, phi = models
    clips = tmp_path / "clips"
    clips.mkdir()
    for argv in (["analyze", str(tmp_path / "x.mp4")], ["batch", str(clips), "-o", str(tmp_path / "r.csv")]):
        for precision, says in (("fp8", "Unknown precision 'fp8'"),
                                ("float16", "Precision float16 is only supported on a GPU")):
            code = cli.main([*argv, "--checkpoint", str(ckpt), "--phi", str(phi), "--device", "cpu",
                             "--precision", precision])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "r.csv").exists()


def test_precision_help_says_float32_is_exact_and_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("analyze", "batch", "features"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--precision {float32,bfloat16,float16}" in text
        assert "float32 (fp32, the default) is exact and matches the official features" in text
        assert "faster on CPUs with bf16 support and on GPUs" in text and "GPUs only" in text


def test_batch_setup_changes_with_the_precision_and_float32_keeps_the_old_one(models) -> None:
    import forensics_gui
    from forensics_gui.commands.batch import _setup
    from forensics_gui.core.files.hashing import sha256_of
    from forensics_gui.core.results import batch_results as br

    ckpt, phi = models
    setups = {p: _setup(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu", precision=p))
              for p in devices.DTYPES}
    assert len(set(setups.values())) == 3  # a failure under another precision is retried
    assert setups["float32"] == br.setup_fingerprint(sha256_of(ckpt), sha256_of(phi), "cpu",
                                                     forensics_gui.__version__, "official")


def test_batch_rows_of_a_reduced_precision_say_so(models) -> None:
    from forensics_gui.commands.batch import _row

    res = SimpleNamespace(video_score=1.5, pool="lse", num_frames=25, suspicious_segments=[])

    def analysis(models_list: list[dict[str, str]]) -> SimpleNamespace:
        from forensics_gui.core.pipeline import ClipAnalysis

        a = ClipAnalysis(file=Path("a.mkv"), sha256="a" * 64, info=None,
                         silence=SimpleNamespace(leading_silence_ms=0.0), face=None, roi_gray=None)
        a.models = models_list
        return a  # type: ignore[return-value]

    reduced = _row("a.mkv", "untrimmed", res, analysis([{"role": "features", "precision": "bfloat16"}]),
                   "c.json", "s")
    assert reduced["status"] == "ok" and reduced["error"] == CAVEAT
    exact = _row("a.mkv", "untrimmed", res, analysis([{"role": "features", "precision": "float32"}]),
                 "c.json", "s")
    assert exact["error"] == ""


def test_picture_and_report_provenance_name_a_reduced_precision() -> None:
    from forensics_gui.core.evidence import report
    from forensics_gui.core.evidence import snapshot as snap

    def result(precision: str | None) -> dict[str, object]:
        features: dict[str, object] = {"role": "features", "name": "ckpt.pt", "sha256": "f" * 64}
        if precision is not None:
            features["precision"] = precision
        return {"frame_scores": [0.1, 0.2], "times_s": [0.0, 0.04], "video_score": 1.0,
                "pool": "lse", "models": [features]}

    def footer(precision: str | None) -> list[str]:
        data = snap.SnapshotData(frame=None, time_s=0.0, file_name="x.mp4", sha256="0" * 64,
                                 version="t")
        snap.apply_result(data, result(precision))
        return snap.provenance_lines(data)

    line = f"Encoder precision: bfloat16. {CAVEAT}"
    assert line in footer("bfloat16")
    fp16 = footer("float16")
    assert any(t.startswith("Encoder precision: float16. Reduced precision (fp16)") for t in fp16)
    for exact in ("float32", None):  # the exact default (or a result from before) says nothing
        assert not any("precision" in t.lower() for t in footer(exact))
    rows = dict(report.provenance("x.mp4", "0" * 64, result("bfloat16"), "r.json", "t", "now", None))
    assert rows["Precision"] == f"bfloat16. {CAVEAT}"
    assert "Precision" not in dict(report.provenance("x.mp4", "0" * 64, result("float32"), "r.json",
                                                     "t", "now", None))
