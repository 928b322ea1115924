"""How close the mouth crops are to the official preparation, per frame size and rate (issue 8).

For generated talking-face clips at 240p, 480p, 720p and 1080p, at 25 fps with PCM audio and at
29.97 fps with AAC audio, compares each preparation against ``--official-landmarks`` (the plain
official ``detector(gray, 1)`` on every whole frame):

- landmarks: frames identical / frames compared, mean and largest difference in pixels;
- crop mean abs diff (grey levels, 96x96) after the same mp4 round trip as the reference
  (identical landmarks give 0; bound <= 1.0) and against the uncompressed reference crops
  (what x264 at crf 20 alone costs is ~1.7; bound <= 2.5).

Run: ``python benchmarks/parity_roi.py [--seconds 2] [--heights 240 480 720 1080] [--fast]``
(``--fast`` adds the windowed tracker for contrast). The clips are kept in the cache folder.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

SIZES = {240: (320, 240), 480: (854, 480), 720: (1280, 720), 1080: (1920, 1080)}
RATES = [(Fraction(25), "pcm_s16le"), (Fraction(30000, 1001), "aac")]


def main() -> None:
    from forensics_gui.core.face import roi
    from forensics_gui.core.files.paths import cache_dir
    from forensics_gui.testing.synth import make_clip

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--heights", type=int, nargs="+", default=sorted(SIZES), choices=sorted(SIZES))
    ap.add_argument("--fast", action="store_true", help="also measure the fast tracker")
    args = ap.parse_args()
    folder = Path(cache_dir()) / "parity_roi"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'clip':28s} {'preparation':11s} {'identical':>10s} {'mean px':>8s} {'max px':>7s} "
          f"{'MAD vs ref rt':>14s} {'MAD vs ref raw':>15s}")
    for height in args.heights:
        width, _ = SIZES[height]
        for fps, acodec in RATES:
            name = f"{height}p {float(fps):.3f} fps {'AAC' if acodec == 'aac' else 'PCM'}"
            path = folder / f"talk_{height}p_{float(fps):.3f}_{acodec}_{args.seconds:g}s.mp4"
            if not path.exists():
                make_clip(path, duration_s=args.seconds, fps=fps, width=width, height=height,
                          audio_codec=acodec)
            ref = roi.extract_mouth_roi(path, official_landmarks=True)
            ref_rt = roi.roi_roundtrip(ref).astype(np.float64)
            for prep in ("official", "fast") if args.fast else ("official",):
                res = roi.extract_mouth_roi(path, preparation=prep)
                both = res.detected & ref.detected
                diff = np.abs(res.landmarks[both] - ref.landmarks[both]).reshape(int(both.sum()), -1)
                per_frame = diff.max(axis=1) if len(diff) else np.zeros(0)
                rt = roi.roi_roundtrip(res).astype(np.float64)
                label = "default" if prep == "official" else "fast"
                print(f"{name:28s} {label:11s} {f'{int((per_frame == 0).sum())}/{len(per_frame)}':>10s} "
                      f"{float(diff.mean()) if diff.size else 0.0:8.3f} "
                      f"{float(per_frame.max(initial=0)):7.1f} {np.abs(rt - ref_rt).mean():14.3f} "
                      f"{np.abs(rt - ref.gray).mean():15.3f}", flush=True)


if __name__ == "__main__":
    main()
