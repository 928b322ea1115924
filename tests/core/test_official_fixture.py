"""The checkpoint the official AV-HuBERT code writes loads, and gives the official features.

Data: ``../shared/fixtures/avhubert-official/`` (a tiny random-weight fine-tuned AV-HuBERT saved by
fairseq exactly as the released ``self_large_vox_433h.pt``, a mouth ROI, a wav, and what the
official AVH-Align extraction returns for them). See that folder's README.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.encoder.avhubert.checkpoint import load_avhubert, read_checkpoint
from forensics_gui.core.files.unpickler import GlobalReference

FIXTURE = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "avhubert-official"
CHECKPOINT = FIXTURE / "avhubert_tiny_finetuned_fp16.pt"

pytestmark = pytest.mark.skipif(
    not CHECKPOINT.is_file(),
    reason=f"the official-checkpoint fixture folder {FIXTURE} is absent (it comes with shared/)")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_official_finetuned_checkpoint_reads_as_data() -> None:
    data = read_checkpoint(CHECKPOINT)
    assert "fairseq" not in sys.modules and "sentencepiece" not in sys.modules
    tokenizer = data["task_state"]["s2s_tokenizer"]
    assert type(tokenizer).__name__ == "SentencepieceBPE"
    # the pickled SentencePieceProcessor names Python's int ("__builtin__ long"): kept as data
    assert tokenizer.sp._return_type == GlobalReference("builtins", "int")
    with pytest.raises(Exception, match=r"refuses to load .*builtins\.int"):
        tokenizer.sp._return_type("1" * 10)
    loaded = load_avhubert(CHECKPOINT)
    assert loaded.stored_dtype == "float16" and loaded.config.finetuned
    assert (loaded.config.embed_dim, loaded.config.layers, loaded.config.heads,
            loaded.config.ffn_dim) == (96, 3, 3, 192)


@pytest.mark.parametrize("trim", [False, True], ids=["untrimmed", "trimmed"])
@pytest.mark.slow
def test_features_command_matches_the_official_extraction(trim: bool, tmp_path: Path) -> None:
    from forensics_gui.cli import main

    inputs = [FIXTURE / "roi.mp4", FIXTURE / "audio.wav", CHECKPOINT]
    before = [_sha256(p) for p in inputs]
    out = tmp_path / "f.npz"
    args = ["features", "--roi", str(inputs[0]), "--audio", str(inputs[1]), "--checkpoint",
            str(CHECKPOINT), "-o", str(out), "--device", "cpu", "--quiet"]
    assert main(args + (["--trim-leading-silence"] if trim else [])) == 0
    reference = np.load(FIXTURE / "features.npz")
    suffix = "_trimmed" if trim else ""
    with np.load(out, allow_pickle=False) as got:
        for stream in ("visual", "audio"):
            expected = reference[stream + suffix]
            assert got[stream].shape == expected.shape == ((59, 96) if trim else (60, 96))
            assert np.abs(got[stream] - expected).max() <= 1e-5, stream
            assert np.abs(expected).max() > 0.1  # the comparison is not between near-zeros
    assert [_sha256(p) for p in inputs] == before
