"""`forensics-gui silence VIDEO [--threshold T] [--json]`: measure a clip's leading digital silence."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import MediaError


def threshold_arg(text: str) -> float:
    """argparse type for ``--threshold``: the core's one tau rule, its sentence as the error."""
    from forensics_gui.core.media.silence import validate_threshold

    try:
        return validate_threshold(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def threshold_help() -> str:
    """The ``--threshold`` help of every command that measures the leading silence."""
    from forensics_gui.core.media.silence import (
        DEFAULT_THRESHOLD,
        OFFICIAL_TRIM_THRESHOLD,
        THRESHOLD_RULE,
    )

    return (f"amplitude tau below which a sample counts as silent: {THRESHOLD_RULE}; default "
            f"{DEFAULT_THRESHOLD:g}. AVH-Align's trimmed variant always uses the official fixed "
            f"{OFFICIAL_TRIM_THRESHOLD:g} rule, whatever tau the display uses")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from forensics_gui.core.media.silence import DEFAULT_THRESHOLD

    parser.add_argument("video", type=Path, help="video or audio file to analyse")
    parser.add_argument("--threshold", type=threshold_arg, default=DEFAULT_THRESHOLD, metavar="T",
                        help=threshold_help())
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def analyse(path: Path, threshold: float, progress: Any = None) -> dict[str, Any]:
    """Decode ``path`` at its native rate and return the result dictionary the command prints."""
    import av

    from forensics_gui.core.media.decode import decode_audio, probe
    from forensics_gui.core.media.integrity import check_integrity
    from forensics_gui.core.media.silence import (
        SWEEP_DELTAS_MS,
        SWEEP_THRESHOLDS,
        leading_silence,
        max_amplitude_sweep,
        silence_sweep,
        verdict,
    )
    from forensics_gui.core.media.timebase import format_timecode

    try:
        info = probe(path)
        if info.audio is None:
            raise MediaError(f"'{path.name}' has no audio stream, so there is no audio to analyse.")
        track = decode_audio(path, progress=progress)
        integrity = check_integrity(path, info)
    except av.FFmpegError as err:
        raise MediaError(f"'{path.name}' could not be decoded ({err.strerror or err}).") from None
    except OSError as err:
        raise MediaError(f"'{path}' could not be read ({err.strerror or err}).") from None
    if track.samples.shape[1] == 0:
        raise MediaError(f"No audio sample of '{path.name}' could be decoded; the audio is damaged.")
    result = leading_silence(track, threshold=threshold)
    first_sound_s = track.start_time_s + result.first_sound_sample / track.sample_rate
    return {
        "file": str(path),
        "audio_codec": info.audio.codec,
        "sample_rate": track.sample_rate,
        "channels": track.channels,
        "layout": info.audio.layout,
        "duration_s": track.duration_s,
        "audio_start_s": track.start_time_s,
        "corrupt_packets": track.corrupt_packets,
        "damage": integrity.to_dict(),
        "leading_silence_ms": result.leading_silence_ms,
        "first_sound_sample": result.first_sound_sample,
        "first_sound_time": format_timecode(first_sound_s),
        "threshold": result.threshold,
        "all_silent": result.all_silent,
        "verdict": verdict(result),
        "silence_sweep": {
            "thresholds": [float(t) for t in SWEEP_THRESHOLDS],
            "leading_silence_ms": [float(v) for v in silence_sweep(track, thresholds=SWEEP_THRESHOLDS)],
        },
        "max_amplitude_sweep": {
            "deltas_ms": [float(d) for d in SWEEP_DELTAS_MS],
            "max_abs": [float(v) for v in max_amplitude_sweep(track, deltas_ms=SWEEP_DELTAS_MS)],
        },
    }


def format_text(data: dict[str, Any]) -> str:
    """The human-readable summary printed without ``--json``."""
    ch = data["channels"]
    lines = [
        f"File:             {data['file']}",
        f"Audio:            {data['audio_codec']}, {data['sample_rate']} Hz, {ch} channel"
        f"{'s' if ch != 1 else ''} ({data['layout']}), {data['duration_s']:.3f} s",
        f"Leading silence:  {data['leading_silence_ms']:.2f} ms "
        f"({data['first_sound_sample']} samples below tau = {data['threshold']:g})",
        f"First sound:      {data['first_sound_time']}",
    ]
    if data["corrupt_packets"]:
        lines.append(f"Warning:          {data['corrupt_packets']} damaged audio packets were skipped")
    damage = data.get("damage") or {}
    if damage.get("sentence"):
        lines.append(f"Warning:          {damage['sentence']}")
    lines.append(f"Verdict:          {data['verdict']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.progress import ConsoleProgress

    progress = ConsoleProgress(enabled=not args.json)
    data = analyse(args.video, args.threshold, progress=progress)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_text(data))
    return 0
