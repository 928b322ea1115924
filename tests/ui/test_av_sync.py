"""Sound and picture in step, measured as a viewer experiences them: a real PulseAudio server
(null sink, its monitor recorded with parec) and the real X framebuffer (Xvfb -fbdir), the viewer
in a child process playing a clip with a white flash and a 40 ms beep at every whole second.

Tolerance: the wanted +-20 ms plus MEASURE_TOL_MS for the measurement itself: the framebuffer is
polled about every 1 ms, the recording is stamped when parec's 2 ms chunks arrive (the earliest
consistent stamp is kept), and the null sink and the monitor add a few ms between the moment a
sample is rendered and the moment it reaches parec. On the shared 2-core development machine a
single frame is sometimes painted late by a busy CPU, so each phase is judged by its median.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.testing import avsync
from forensics_gui.testing.xvfb import require_xvfb, xvfb

WANTED_MS = 20.0
MEASURE_TOL_MS = 10.0


def _run(tmp_path: Path, steps: list[list[object]]) -> avsync.SyncRun:
    require_xvfb()
    avsync.require_pulseaudio()
    clip = avsync.make_flash_beep_clip(tmp_path / "flash_beep.mp4", duration_s=9.0)
    fbdir = tmp_path / "fb"
    fbdir.mkdir()
    with avsync.pulse_null_sink() as pulse, xvfb(1024, 768, fbdir=str(fbdir)) as display:
        return avsync.run_viewer(clip, steps, display, str(fbdir), pulse)


@pytest.mark.slow
def test_sound_and_picture_within_20_ms_at_speeds_after_seek_and_speed_change(tmp_path) -> None:
    steps = avsync.speed_steps([0.5, 1.0, 2.0], flashes=3)
    steps += [["speed", 1.0], ["seek", 2.7], ["mark", "after-seek"], ["play"], ["wait", 2.5],
              ["speed", 0.5], ["mark", "after-speed-change"], ["wait", 3.2],
              ["pause"], ["wait", 0.3], ["mark", "after-pause"], ["play"], ["wait", 2.2],
              ["pause"]]
    run = _run(tmp_path, steps)
    assert run.sound_state.startswith("Sound: "), run.log
    summary = {p.name: p.offsets_ms for p in run.phases}
    for phase in run.phases:
        assert phase.offsets_ms, f"no flash/beep pair in {phase.name}: {summary}\n{run.log}"
        median = statistics.median(phase.offsets_ms)
        assert abs(median) <= WANTED_MS + MEASURE_TOL_MS, (phase.name, summary)
        speed = 0.5 if phase.name in ("0.5x", "after-speed-change", "after-pause") else \
            2.0 if phase.name == "2x" else 1.0
        for beep in phase.beeps:  # pitch kept, length scaled: stretched, not distorted
            assert abs(beep.freq_hz - avsync.BEEP_HZ) < 20, (phase.name, phase.beeps)
            expected = avsync.BEEP_S / speed
            assert 0.6 * expected <= beep.duration_s <= 1.5 * expected + 0.01, (phase.name,
                                                                             phase.beeps)


@pytest.mark.slow
def test_pause_stops_the_sound_within_a_frame_and_offset_shifts_it(tmp_path) -> None:
    steps = [["seek", 0.99], ["play"], ["wait", 0.025], ["mark", "pause"], ["pause"],
             ["wait", 0.6], ["seek", 2.6], ["play"], ["wait", 0.1], ["offset", 120],
             ["mark", "offset"], ["wait", 1.8], ["pause"]]  # the offset changed while playing
    run = _run(tmp_path, steps)
    pause = run.phases[0]
    for beep in pause.beeps + [b for p in run.phases for b in p.beeps if b.start < pause.start]:
        # the beep playing when Pause is pressed stops within a 40 ms frame (+ tolerance)
        assert beep.start + beep.duration_s <= pause.start + 0.040 + MEASURE_TOL_MS / 1000
    later = [b for p in run.phases for b in p.beeps if pause.start + 0.06 < b.start < pause.end]
    assert not later, f"sound after pause: {later}"
    offset = run.phases[1]
    assert offset.offsets_ms, run.log
    assert abs(float(np.median(offset.offsets_ms)) - 120.0) <= WANTED_MS + MEASURE_TOL_MS, \
        ([p.offsets_ms for p in run.phases], run.log)
