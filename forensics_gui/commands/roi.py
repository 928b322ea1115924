"""`forensics-gui roi VIDEO -o DIR`: the inputs of the official AV-HuBERT feature extraction.

Writes, atomically, into DIR:

- ``<name>_roi.mp4``: the 96x96 colour mouth crops, 25 fps, libx264 crf 20 (yuv444p, as the
  official ffmpeg command gives for PNG input; ``--pix-fmt yuv420p`` for old players);
- ``<name>.wav``: the audio as 16 kHz mono PCM16 (not written when the clip has no audio);
- ``<name>_landmarks.npz``: per 25 fps frame landmarks, detected mask, face boxes, times, and
  which preparation made them (``preparation``, ``dlib_version``, ``landmark_model_sha256``,
  ``mean_face_sha256``).

The landmarks are the official ones by default (the official detection, reproduced exactly and
faster); ``--fast-landmarks`` uses the windowed face tracker instead (several times faster at
720p and above, landmarks a few px off the official ones; the files record "fast").

No face in any frame: the wav and the landmarks file (``face_found`` False) are still written,
because the audio analyses work without the face, then the command fails with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input clip (any container/codec FFmpeg reads)")
    parser.add_argument("-o", "--output-dir", required=True, type=Path,
                        help="folder for <name>_roi.mp4, <name>.wav and <name>_landmarks.npz")
    parser.add_argument("--workers", type=int, default=2,
                        help="2 (default) decodes in a background thread; 1 runs in one thread")
    parser.add_argument("--pix-fmt", default="yuv444p", choices=["yuv444p", "yuv420p"],
                        help="pixel format of the ROI mp4 (default yuv444p: what the official "
                        "ffmpeg command writes from PNG crops)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--fast-landmarks", action="store_true",
                       help="track the face in a rescaled window instead of the official "
                       "detection: faster at 720p and above, landmarks a few px off the official "
                       "ones (recorded as preparation 'fast')")
    which.add_argument("--official-landmarks", action="store_true",
                       help="run the plain official detection call on every whole frame (the "
                       "default gives the same landmarks faster): the reference for parity checks")
    parser.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def write_wav_16k(path: Path, samples, sample_rate: int = 16000) -> None:  # type: ignore[no-untyped-def]
    """Write float [-1, 1] mono samples as PCM16 WAV atomically (FFmpeg's float->s16 rule:
    round(x * 32768), clipped)."""
    import wave

    import numpy as np

    from forensics_gui.core.files.atomic import atomic_path

    x = np.asarray(samples, np.float64).reshape(-1)
    pcm = np.clip(np.rint(x * 32768.0), -32768, 32767).astype("<i2")
    with atomic_path(path, suffix=".wav") as tmp:
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(sample_rate)
            wf.writeframes(pcm.tobytes())


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.errors import MediaError, NoFaceError
    from forensics_gui.core.face.roi import extract_mouth_roi, save_landmarks, write_roi_video
    from forensics_gui.core.media.decode import decode_audio, probe
    from forensics_gui.core.progress import ConsoleProgress

    video = Path(args.video)
    info = probe(video)  # MediaError with a sentence for missing/unreadable files
    if info.video is None:
        raise MediaError(f"'{video.name}' has no video stream, so there is no mouth to crop.")
    out_dir: Path = args.output_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise MediaError(f"The output path '{out_dir}' exists and is not a folder.")
    name = video.stem
    progress = ConsoleProgress(enabled=not args.quiet)

    result = extract_mouth_roi(video, progress=progress, workers=max(1, int(args.workers)),
                               official_landmarks=args.official_landmarks,
                               preparation="fast" if args.fast_landmarks else "official")

    save_landmarks(result, out_dir / f"{name}_landmarks.npz")
    if result.face_found:
        write_roi_video(result, out_dir / f"{name}_roi.mp4", pix_fmt=args.pix_fmt)
    wav_written = False
    if info.audio is not None:
        track = decode_audio(video, sample_rate=16000, mono=True)
        write_wav_16k(out_dir / f"{name}.wav", track.samples[0], 16000)
        wav_written = True
    else:
        print(f"forensics-gui roi: '{video.name}' has no audio stream; no wav written.",
              file=sys.stderr)
    if not result.face_found:
        kept = f"{name}.wav and " if wav_written else ""
        raise NoFaceError(f"No face was found in any frame of '{video.name}', so no mouth ROI "
                          f"was written ({kept}{name}_landmarks.npz were written).")
    lost = int((~result.detected).sum())
    if lost and not args.quiet:
        print(f"forensics-gui roi: the face was not detected in {lost} of {len(result.detected)} "
              "frames; their landmarks are interpolated.", file=sys.stderr)
    return 0


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[tuple[str, str]]]:
    """The three files written into OUT_DIR and what they must not overwrite (see forensics_gui.cli)."""
    out_dir: Path = args.output_dir
    if out_dir.exists() and not out_dir.is_dir():
        return [], []  # run() says so in a sentence
    name = Path(args.video).stem
    outputs = [out_dir / f"{name}_roi.mp4", out_dir / f"{name}.wav", out_dir / f"{name}_landmarks.npz"]
    return outputs, [(args.video, "the video")]
