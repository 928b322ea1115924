"""`forensics-gui features`: AV-HuBERT audio-only and video-only features of a clip, as an .npz.

Either from a clip (``VIDEO``: the mouth ROI is extracted and passed through an mp4 round trip as
the official pipeline does) or from a ready ROI video and audio file (``--roi ROI.mp4 --audio
AUDIO.wav``, e.g. written by ``forensics-gui roi``). The .npz holds float32 ``visual`` and
``audio`` [frames, dims] at 25 fps (AVH-Align layout) plus fps, trim and checkpoint SHA-256.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from forensics_gui.core.media.silence import TRIM_RULE

    parser.add_argument("video", nargs="?", metavar="VIDEO",
                        help="clip to extract features from (its face is tracked for the mouth ROI)")
    parser.add_argument("--roi", metavar="ROI.mp4", help="mouth-ROI video (96x96, 25 fps) instead of VIDEO")
    parser.add_argument("--audio", metavar="AUDIO.wav", help="audio to pair with --roi (any rate; "
                        "decoded to 16 kHz mono)")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="AV-HuBERT checkpoint (.pt); default: the installed one from the models folder")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="features file to write")
    parser.add_argument("--trim-leading-silence", action="store_true",
                        help=f"drop the leading digital silence first, by {TRIM_RULE} (its --trimmed)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="compute device (default: auto = CUDA when available)")
    from forensics_gui.commands._scoring import add_precision_argument

    add_precision_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from forensics_gui.commands._scoring import check_precision
    from forensics_gui.core.errors import ForensicsError, MediaError
    from forensics_gui.core.progress import ConsoleProgress

    check_precision(args)
    if (args.video is None) == (args.roi is None):
        raise ForensicsError("Give either a VIDEO or --roi ROI.mp4 with --audio AUDIO.wav.")
    if args.roi is not None and args.audio is None:
        raise ForensicsError("--roi needs --audio AUDIO.wav (the clip's 16 kHz audio, e.g. from 'forensics-gui roi').")
    if args.video is not None and args.audio is not None:
        raise ForensicsError("--audio goes with --roi; for a VIDEO the audio is read from the clip itself.")
    from forensics_gui.core.models.registry import require_checkpoint

    checkpoint = require_checkpoint("avhubert", args.checkpoint)
    progress = ConsoleProgress(enabled=not args.quiet)

    from forensics_gui.core.encoder.features import FeatureExtractor, save_features
    from forensics_gui.core.face.roi import (
        extract_mouth_roi,
        load_roi_video,
        preparation_record,
        roi_roundtrip,
    )
    from forensics_gui.core.media.decode import decode_audio

    extractor = FeatureExtractor(checkpoint, device=args.device, dtype=args.precision)
    source = args.video if args.video is not None else args.audio
    audio = decode_audio(source, sample_rate=16000, mono=True, progress=progress).samples[0]
    video_frames = None
    preparation = None  # unknown for a given --roi video
    if args.roi is not None:
        gray = load_roi_video(args.roi)
        if len(gray) == 0:
            raise MediaError(f"{Path(args.roi).name} has no video frames.")
    else:
        result = extract_mouth_roi(args.video, progress=progress)
        preparation = preparation_record(result.preparation)
        if result.face_found:
            gray = roi_roundtrip(result)
        else:
            gray = None
            video_frames = len(result.times_s)
            print(f"forensics-gui features: no face found in {Path(args.video).name}; writing the "
                  "audio features only (no 'visual' array).", file=sys.stderr)
    features = extractor.extract(gray, audio, trim_leading_silence=args.trim_leading_silence,
                                 progress=progress, video_frames=video_frames)
    save_features(args.output, features, preparation=preparation)
    trim = (f", leading silence {features.leading_silence_s * 1000:.1f} ms"
            + (f" (trimmed {features.trimmed_video_frames} frame"
               f"{'' if features.trimmed_video_frames == 1 else 's'})" if args.trim_leading_silence else ""))
    print(f"Wrote {args.output}: {features.num_frames} frames x {extractor.dim} dims"
          f"{'' if features.visual is not None else ' (audio only)'}{trim}.", file=sys.stderr)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[str], list[tuple[object, str]]]:
    """OUT.npz and what it must not overwrite (see forensics_gui.cli)."""
    from forensics_gui.core.models.registry import find_avhubert_checkpoint

    return [args.output], [(args.video, "the video"), (args.roi, "the --roi video"),
                           (args.audio, "the --audio file"),
                           (args.checkpoint or find_avhubert_checkpoint(), "the checkpoint")]
