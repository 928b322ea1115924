"""`forensics-gui score FEATURES.npz --phi PHI.pt [--pool lse|mean] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from forensics_gui.core.errors import CheckpointError, ForensicsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("features", type=Path,
                        help="features .npz with float32 arrays 'visual' and 'audio' [frames, dims]")
    parser.add_argument("--phi", type=Path, default=None,
                        help="Phi checkpoint (.pt, or an AVH-Align/sup .ckpt); default: the "
                        "installed one")
    parser.add_argument("--pool", choices=("lse", "mean"), default="lse",
                        help="video score: log-sum-exp over frames (published) or mean")
    parser.add_argument("--no-band", action="store_true",
                        help="skip the +-15-frame sync-offset estimate (faster)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def default_phi_path() -> Path:
    """The installed Phi checkpoint, via the models registry."""
    from forensics_gui.core.models.registry import find_phi_checkpoint

    found = find_phi_checkpoint()
    if found is None:
        raise CheckpointError("No Phi checkpoint is installed; pass one with --phi PHI.pt.")
    return found


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.alignment.feature_store import read_feature_file
    from forensics_gui.core.alignment.phi import load_phi
    from forensics_gui.core.alignment.scoring import score_features
    from forensics_gui.core.encoder.features import all_finite
    from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_start
    from forensics_gui.core.pipeline import require_finite_scores

    visual, audio = read_feature_file(args.features)
    if len(visual) == 0:
        raise ForensicsError(f"{args.features.name} has no frames to score.")
    if not all_finite(visual, audio):
        raise ForensicsError(f"{args.features.name} holds NaN or infinite features; extract them "
                             "again with 'forensics-gui features'.")
    phi = load_phi(args.phi if args.phi is not None else default_phi_path())
    result = score_features(visual, audio, phi, args.pool, band=not args.no_band)
    require_finite_scores(result, phi, args.features.name)
    if args.json:
        doc = {"features": str(args.features), "phi": str(phi.path), **result.to_dict()}
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    out.write(f"features:    {args.features}\n")
    out.write(f"phi:         {phi.path} ({phi.kind}, sha256 {phi.sha256[:12]})\n")
    out.write(f"frames:      {result.num_frames} ({model_frame_start(result.num_frames):.2f} s at "
              f"{MODEL_FPS} fps)\n")
    out.write(f"video_score: {result.video_score:.4f} (pool={result.pool}; "
              f"lse={result.other_pool_scores['lse']:.4f}, "
              f"mean={result.other_pool_scores['mean']:.4f}; higher = more likely fake)\n")
    if result.suspicious_segments:
        segs = ", ".join(f"{s:.2f}-{e:.2f} s" for s, e in result.suspicious_segments)
    else:
        segs = "none"
    out.write(f"suspicious:  {segs} (frames above {result.threshold:.4f})\n")
    out.write("frame_scores: " + " ".join(f"{v:.3f}" for v in result.frame_scores.tolist()) + "\n")
    return 0
