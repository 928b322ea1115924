"""Time conversions: seconds <-> source frames <-> samples <-> 25 fps model frames."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from forensics_gui.core.media.timebase import (
    Timebase,
    format_timecode,
    model_frame_of,
    model_frame_start,
    parse_timecode,
    samples_to_ms,
    seconds_to_sample,
)


@pytest.mark.parametrize("t,text", [
    (0.0, "00:00:00.000"), (0.0304, "00:00:00.030"), (59.9996, "00:01:00.000"),
    (3723.456, "01:02:03.456"), (-1.5, "-00:00:01.500"), (36000.0, "10:00:00.000"),
])
def test_format_timecode(t: float, text: str) -> None:
    assert format_timecode(t) == text


def test_parse_timecode_round_trip() -> None:
    for t in (0.0, 0.04, 12.345, 3723.456, 86399.999):
        assert parse_timecode(format_timecode(t)) == pytest.approx(t, abs=5e-4)
    assert parse_timecode("1:30") == 90.0 and parse_timecode("2.5") == 2.5
    with pytest.raises(ValueError):
        parse_timecode("1:2:3:4")
    assert format_timecode(float("nan")) == "--:--:--.---"


def test_module_helpers() -> None:
    assert model_frame_of(0.0) == 0
    assert model_frame_of(0.04) == 1  # exactly on a boundary despite float error
    assert model_frame_of(0.0399) == 0
    assert model_frame_of(3 * 0.04) == 3
    assert model_frame_start(50) == 2.0
    assert seconds_to_sample(0.03, 16000) == 480
    assert seconds_to_sample(0.03, 44100) == 1323
    assert seconds_to_sample(1.0, 16000, start_time_s=0.5) == 8000
    assert samples_to_ms(480, 16000) == 30.0


def test_ntsc_source_on_the_model_grid() -> None:
    tb = Timebase.from_fps(Fraction(30000, 1001), 90, sample_rate=16000)
    assert tb.duration_s == pytest.approx(3.003)
    assert tb.n_frames == 90 and tb.n_model_frames == 76  # ceil(3.003 * 25)
    assert tb.frame_at(0.0) == 0
    assert tb.frame_at(1001 / 30000) == 1  # exactly on frame 1's time
    assert tb.frame_at(1.0) == 29  # 29 * 33.37 ms = 0.968 s <= 1.0 < 1.001
    assert tb.frame_at(-5) == 0 and tb.frame_at(99) == 89
    assert tb.time_of_frame(30) == pytest.approx(1.001)
    assert tb.model_frame_at(1.0) == 25 and tb.model_frame_at(99) == 75
    assert tb.model_frame_to_frame(25) == 29
    assert tb.frame_to_model_frame(30) == 25  # 1.001 s is in model frame 25
    assert tb.sample_at(1.0) == 16000 and tb.time_of_sample(8000) == 0.5
    assert tb.step(1.0, 1) == pytest.approx(tb.time_of_frame(30))
    assert tb.step(0.0, -3) == 0.0
    np.testing.assert_allclose(tb.model_frame_times()[:3], [0.0, 0.04, 0.08])
    assert tb.clamp(-1) == 0.0 and tb.clamp(10) == tb.duration_s


def test_variable_frame_rate_times() -> None:
    times = np.array([0.0, 0.04, 0.05, 0.2, 0.21])
    tb = Timebase(duration_s=0.25, frame_times=times, fps=Fraction(20), sample_rate=48000,
                  audio_start_s=0.01)
    assert [tb.frame_at(t) for t in (0.0, 0.045, 0.05, 0.199, 0.2, 0.24)] == [0, 1, 2, 2, 3, 4]
    assert tb.sample_at(0.01) == 0 and tb.sample_at(0.0) == 0 and tb.sample_at(0.02) == 480
    assert tb.time_of_sample(480) == pytest.approx(0.02)


def test_audio_only_timebase() -> None:
    tb = Timebase(duration_s=2.0, sample_rate=16000)
    assert tb.n_frames == 0 and tb.n_model_frames == 50
    with pytest.raises(ValueError):
        tb.frame_at(1.0)
    assert tb.sample_at(1.5) == 24000
