"""`forensics-gui train (--videos DIR | --features DIR) -o PHI.pt [...]`: train Phi on REAL clips."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forensics_gui.core.errors import ForensicsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--videos", type=Path, metavar="DIR",
                     help="folder of REAL videos (features are extracted first)")
    src.add_argument("--features", type=Path, metavar="DIR",
                     help="folder of features .npz files of REAL videos (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PHI.pt",
                        help="where the best model is written (published layout)")
    parser.add_argument("--checkpoint", type=Path, metavar="CKPT",
                        help="AV-HuBERT checkpoint for --videos (default: the installed one)")
    parser.add_argument("--epochs", type=int, default=100, help="at most this many epochs (100)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="frames per batch (256; published: 1024)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (1e-4; published: 1e-5)")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of the videos held out for validation (0.1)")
    parser.add_argument("--patience", type=int, default=10,
                        help="stop after this many epochs without improvement (10)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto = a CUDA GPU (bf16 mixed precision) when present, else CPU fp32")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default=None,
                        help="arithmetic of the training step: float32 = exact, the default on the "
                        "CPU; bfloat16 = bf16 matrix products with float32 master weights (faster "
                        "on a CPU with AVX-512 BF16 or AMX; the default on a CUDA GPU)")
    parser.add_argument("--fast-landmarks", action="store_true",
                        help="--videos: mouth crops from the windowed face tracker instead of the "
                        "official detection (faster at 720p and above, landmarks a few px off; "
                        "recorded in the feature files)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT.resume.pt of an interrupted run")
    parser.add_argument("--seed", type=int, default=0, help="seed for the split, shuffling and init")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _feature_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ForensicsError(f"The features folder {folder} does not exist.")
    files = sorted(p for p in folder.rglob("*.npz") if p.is_file())
    if not files:
        raise ForensicsError(f"No .npz feature files under {folder}; run 'forensics-gui features' first.")
    return files


def _features_from_videos(folder: Path, progress: object, checkpoint: Path | None,
                          device: str, preparation: str = "official") -> list[Path]:
    """Extract (or reuse) the features of every clip under ``folder``.

    The folder itself (not its file list) goes to the extraction, so the features land in the
    same resumable folder as when the viewer's training dialog is given this folder.
    """
    from forensics_gui.core.media.folders import iter_videos
    from forensics_gui.core.training_data import extract_features_for_videos

    if not folder.is_dir():
        raise ForensicsError(f"The videos folder {folder} does not exist.")
    if next(iter(iter_videos(folder)), None) is None:
        raise ForensicsError(f"No video files under {folder}.")
    report = extract_features_for_videos(folder, progress=progress,
                                         checkpoint=checkpoint, device=device,
                                         preparation=preparation)
    for clip, reason in report.skipped:
        print(f"skipped {clip}: {reason}", file=sys.stderr)
    return report.require_features(folder)


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.alignment.training import train_phi
    from forensics_gui.core.progress import ConsoleProgress

    progress = ConsoleProgress(enabled=not args.quiet)
    if args.features is not None:
        files = _feature_files(args.features)
    else:
        files = _features_from_videos(args.videos, progress, args.checkpoint, args.device,
                                      "fast" if args.fast_landmarks else "official")
    err = sys.stderr

    def on_epoch(stats) -> None:  # type: ignore[no-untyped-def]
        val = "-" if stats.val_loss is None else f"{stats.val_loss:.4f}"
        mark = " *" if stats.improved else ""
        if not args.quiet:
            err.write(f"\nepoch {stats.epoch}/{stats.epochs}: train {stats.train_loss:.4f}  "
                      f"val {val}  lr {stats.lr:.1e}  ({stats.seconds:.1f} s){mark}\n")

    result = train_phi(files, args.output, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, val_fraction=args.val_fraction, device=args.device,
                       seed=args.seed, resume=args.resume, patience=args.patience,
                       precision=getattr(args, "precision", None), progress=progress, on_epoch=on_epoch)
    err.write(
        f"\n{result.stop_reason}: {result.epochs_run} epoch(s) on {result.device}, "
        f"{result.train_videos} training / {result.val_videos} validation video(s), "
        f"{result.train_frames} training frames, {result.precision} "
        f"({result.linear_kernel or 'PyTorch default'} linear layers).\n"
    )
    if result.checkpoint is None:
        err.write("No epoch finished, so no model was written.\n")
        return 1
    err.write(f"best: epoch {result.best_epoch}, loss {result.best_val_loss:.4f} per frame -> "
              f"{result.checkpoint}\nresume state: {result.resume_state}\n")
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[Path | None, str]]]:
    """PHI.pt, its resume state, and what they must not overwrite: every feature file or video
    found and the checkpoint (see forensics_gui.cli)."""
    from forensics_gui.core.alignment.training import resume_path

    inputs: list[tuple[Path | None, str]] = []
    if args.features is not None and args.features.is_dir():
        inputs += [(f, f"a feature file under {args.features}") for f in args.features.rglob("*.npz")]
    if args.videos is not None and args.videos.is_dir():
        from forensics_gui.core.media.folders import iter_videos
        from forensics_gui.core.models.registry import find_avhubert_checkpoint

        inputs += [(v, f"a video under {args.videos}") for v in iter_videos(args.videos)]
        inputs.append((args.checkpoint or find_avhubert_checkpoint(), "the AV-HuBERT checkpoint"))
    return [args.output, resume_path(args.output)], inputs
