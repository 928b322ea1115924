"""Options shared by the commands that run the whole pipeline (``analyze``, ``batch``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """``--precision float32|bfloat16|float16`` (default float32; fp32/bf16/fp16 accepted),
    checked by :func:`check_precision` (so a bad one is one sentence, exit 2)."""
    from forensics_gui.core.encoder.devices import DTYPES, PRECISION_HELP

    parser.add_argument("--precision", default="float32", metavar="{" + ",".join(DTYPES) + "}",
                        help=PRECISION_HELP + "; the results record the precision used")


def check_precision(args: argparse.Namespace) -> None:
    """Normalise ``args.precision`` to its full name and refuse, before any clip work, an
    unknown one or one that ``--device`` lacks here (ForensicsError: one sentence, exit 2)."""
    from forensics_gui.core.encoder.devices import precision_name, resolve_device, resolve_dtype

    args.precision = precision_name(args.precision)
    resolve_dtype(args.precision, resolve_device(args.device))


def add_scoring_arguments(parser: argparse.ArgumentParser, *, both_help: str) -> None:
    """Models, leading-silence variant, pooling, device and precision options."""
    from forensics_gui.core.media.silence import TRIM_RULE

    parser.add_argument("--checkpoint", type=Path,
                        help="AV-HuBERT checkpoint (default: the installed one)")
    parser.add_argument("--phi", type=Path, help="Phi checkpoint (default: the installed one)")
    parser.add_argument("--trim-leading-silence", action="store_true",
                        help=f"score with the leading silence trimmed by {TRIM_RULE} (its --trimmed), "
                        "whatever silence threshold is shown")
    parser.add_argument("--both", action="store_true", help=both_help)
    parser.add_argument("--pool", choices=("lse", "mean"), default="lse",
                        help="video score pooling: log-sum-exp (published) or mean")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add_precision_argument(parser)


def variants(args: argparse.Namespace) -> tuple[str, ...]:
    """The scorings asked for: ("untrimmed",), ("trimmed",) or both (``--both``)."""
    if args.both:
        return ("untrimmed", "trimmed")
    return ("trimmed",) if args.trim_leading_silence else ("untrimmed",)


def model_inputs(args: argparse.Namespace) -> list[tuple[Path | None, str]]:
    """The model files a run reads, the installed defaults included, as (path, role) inputs."""
    from forensics_gui.core.models.registry import find_avhubert_checkpoint, find_phi_checkpoint

    return [(args.checkpoint or find_avhubert_checkpoint(), "the AV-HuBERT checkpoint"),
            (args.phi or find_phi_checkpoint(), "the Phi checkpoint"),
            (getattr(args, "supervised", None), "the supervised checkpoint")]
