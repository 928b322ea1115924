"""Sound-vs-picture offsets of the viewer at every offered speed, measured as a viewer sees them.

A private PulseAudio daemon with a null sink, Xvfb keeping its screen in a file, the viewer in a
child process playing a clip with a white flash and a 40 ms 1 kHz beep at every whole second;
the beeps are recorded from the sink's monitor (parec) and the flashes read from the X
framebuffer, both on the monotonic clock. Prints, per speed, the offsets (beep minus flash, ms;
positive: sound late), their median, the beeps' length and pitch. Also after a seek, after a
speed change while playing, after pause/resume and with a +100 ms sound offset.

    .venv/bin/python benchmarks/bench_av_sync.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from forensics_gui.testing import avsync
from forensics_gui.testing.xvfb import xvfb
from forensics_gui.ui.player import SPEEDS


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        clip = avsync.make_flash_beep_clip(Path(tmp) / "flash_beep.mp4", duration_s=12.0)
        fbdir = Path(tmp) / "fb"
        fbdir.mkdir()
        steps = avsync.speed_steps(SPEEDS, flashes=3)
        steps += [["speed", 1.0], ["seek", 5.7], ["mark", "after-seek"], ["play"], ["wait", 2.5],
                  ["speed", 0.5], ["mark", "after-speed-change"], ["wait", 4.2],
                  ["pause"], ["wait", 0.5], ["mark", "after-pause-resume"], ["play"],
                  ["wait", 2.4], ["pause"], ["speed", 1.0], ["seek", 1.7], ["offset", 100],
                  ["mark", "offset+100ms"], ["play"], ["wait", 2.5], ["pause"]]
        with avsync.pulse_null_sink() as pulse, xvfb(1024, 768, fbdir=str(fbdir)) as display:
            run = avsync.run_viewer(clip, steps, display, str(fbdir), pulse)
    print(f"sound: {run.sound_state}; framebuffer polls: {run.polls}")
    print(f"{'phase':>20}  {'median ms':>9}  offsets ms (beep - flash)        beep ms / Hz")
    for ph in run.phases:
        med = statistics.median(ph.offsets_ms) if ph.offsets_ms else float("nan")
        offs = " ".join(f"{o:+.1f}" for o in ph.offsets_ms)
        beeps = " ".join(f"{b.duration_s * 1000:.0f}/{b.freq_hz:.0f}" for b in ph.beeps)
        print(f"{ph.name:>20}  {med:+9.1f}  {offs:<32} {beeps}")
        late_p = " ".join(f"{v:+.1f}" for v in ph.picture_late_ms)
        late_s = " ".join(f"{v:+.1f}" for v in ph.sound_late_ms)
        print(f"{'':>20}  vs the clock: picture {late_p}; sound {late_s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
