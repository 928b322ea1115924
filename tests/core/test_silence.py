"""Leading silence: exact values on PCM clips and arrays, sweeps, verdicts, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.media.audio_analysis import analyse_audio
from forensics_gui.core.media.decode import decode_audio
from forensics_gui.core.media.silence import (
    DEFAULT_THRESHOLD,
    OFFICIAL_TRIM_THRESHOLD,
    SWEEP_DELTAS_MS,
    SWEEP_THRESHOLDS,
    TABLE_DELTAS_MS,
    TABLE_TAUS,
    THRESHOLD_RULE,
    leading_silence,
    max_amplitude_sweep,
    silence_sweep,
    validate_threshold,
    verdict,
)
from forensics_gui.testing.synth import make_clip, make_text_as_video


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forensics_gui", "silence", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_exact_30ms_on_pcm_clip(tmp_path: Path, rate: int) -> None:
    clip = make_clip(tmp_path / "c.mkv", duration_s=0.5, video=False, sample_rate=rate,
                     leading_silence_ms=30)
    assert clip.first_sound_sample == rate * 30 // 1000
    result = leading_silence(decode_audio(clip.path))
    assert result.first_sound_sample == rate * 30 // 1000
    assert result.leading_silence_ms == pytest.approx(30.0, abs=1e-9)
    assert result.sample_rate == rate and result.threshold == DEFAULT_THRESHOLD
    assert not result.all_silent
    assert result.duration_ms == pytest.approx(500.0)
    assert "typical of fake" in verdict(result)


def test_no_leading_silence_on_a_clip_with_room_noise(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mov", duration_s=0.5, video=False, channels=2)
    result = leading_silence(decode_audio(clip.path))
    assert result.first_sound_sample == 0 and result.leading_silence_ms == 0.0
    assert verdict(result).startswith("No leading silence")


def test_exact_values_on_an_array() -> None:
    sr = 1000
    x = np.zeros(2000, np.float32)
    x[100] = 0.0003  # below the default tau
    x[250] = -0.0006  # first above 0.0005 (negative counts: |x|)
    x[400] = 0.01
    x[900] = 0.2
    r = leading_silence(x, sr)
    assert (r.first_sound_sample, r.leading_silence_ms) == (250, 250.0)
    assert leading_silence(x, sr, threshold=0.0).first_sound_sample == 100
    assert leading_silence(x, sr, threshold=0.001).first_sound_sample == 400
    assert leading_silence(x, sr, threshold=0.05).first_sound_sample == 900
    silent = leading_silence(x, sr, threshold=0.5)
    assert silent.all_silent and silent.first_sound_sample == 2000
    assert silent.leading_silence_ms == silent.duration_ms == 2000.0
    assert "whole audio track" in verdict(silent)
    d = r.to_dict()
    assert d["leading_silence_ms"] == 250.0 and d["first_sound_sample"] == 250
    assert set(d) >= {"leading_silence_ms", "first_sound_sample", "threshold", "sample_rate",
                      "all_silent", "duration_ms"}


def test_any_channel_counts() -> None:
    x = np.zeros((2, 500), np.float32)
    x[0, 300] = 0.5
    x[1, 120] = -0.5
    assert leading_silence(x, 1000).first_sound_sample == 120


def test_threshold_moves_the_answer_on_a_real_clip(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mkv", duration_s=1.0, video=False, leading_silence_ms=30)
    track = decode_audio(clip.path)
    low = leading_silence(track, threshold=0.0005).leading_silence_ms
    high = leading_silence(track, threshold=0.1).leading_silence_ms  # above the room noise
    assert low == pytest.approx(30.0)
    assert high > 100.0  # waits for the first syllable (starts at 120 ms)


def test_long_track_is_fast_and_exact() -> None:
    x = np.zeros(20_000_000, np.float32)  # ~21 min at 16 kHz
    x[-5] = 0.9
    r = leading_silence(x, 16000)
    assert r.first_sound_sample == 20_000_000 - 5


def test_sweeps_are_monotone_and_exact() -> None:
    sr = 1000
    ramp = np.linspace(0.0, 0.2, 1000, dtype=np.float64)  # |x| = 0.0002 * n
    taus = np.array([0.0, 0.001, 0.01, 0.1, 0.3])
    ms = silence_sweep(ramp, sr, taus)
    # first n with 0.0002 n > tau
    expected = [1, 6, 51, 501, 1000]
    np.testing.assert_allclose(ms, expected, atol=1.0)
    deltas = np.array([0.0, 1.0, 10.0, 100.0, 5000.0])
    amp = max_amplitude_sweep(ramp, sr, deltas)
    np.testing.assert_allclose(amp, [0.0, 0.0, 0.2 * 9 / 999, 0.2 * 99 / 999, 0.2], rtol=1e-6)

    noise = np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32) * 0.01
    noise[:, :1440] = 0
    ms = silence_sweep(noise, 48000)
    assert len(ms) == len(SWEEP_THRESHOLDS)
    assert np.all(np.diff(ms) >= 0) and ms[0] == pytest.approx(30.0)
    amp = max_amplitude_sweep(noise, 48000)
    assert len(amp) == len(SWEEP_DELTAS_MS)
    assert np.all(np.diff(amp) >= 0) and amp[SWEEP_DELTAS_MS <= 30].max() == 0.0
    assert amp[-1] > 0.02


def test_verdict_bands() -> None:
    def v(ms: float) -> str:
        n = int(round(ms * 16))
        x = np.zeros(16000, np.float32)
        x[n:] = 0.1
        return verdict(leading_silence(x, 16000))

    assert v(0).startswith("No leading silence")
    assert v(10).startswith("Short leading silence (10.0 ms)")
    assert "not proof of manipulation" in v(27)
    assert v(200).startswith("Long leading silence (200.0 ms)")


def test_cli_json(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", duration_s=1.0, width=160, height=120, face=False,
                     sample_rate=44100, channels=2, leading_silence_ms=30)
    out = _cli(str(clip.path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["leading_silence_ms"] == pytest.approx(30.0)
    assert data["first_sound_sample"] == 1323
    assert data["threshold"] == 0.0005 and data["sample_rate"] == 44100
    assert data["channels"] == 2 and data["duration_s"] == pytest.approx(1.0)
    assert data["first_sound_time"] == "00:00:00.030"
    assert "typical of fake" in data["verdict"]
    sweep = data["silence_sweep"]
    assert len(sweep["thresholds"]) == len(sweep["leading_silence_ms"]) == len(SWEEP_THRESHOLDS)
    assert data["max_amplitude_sweep"]["max_abs"][0] == 0.0  # the first 5 ms are silent

    out = _cli(str(clip.path), "--json", "--threshold", "0.2")
    assert json.loads(out.stdout)["leading_silence_ms"] > 30.0


def test_cli_text(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mkv", duration_s=0.5, video=False, leading_silence_ms=25)
    out = _cli(str(clip.path))
    assert out.returncode == 0
    assert "Leading silence:  25.00 ms (400 samples" in out.stdout
    assert "Verdict:" in out.stdout


@pytest.mark.parametrize("kind", ["text", "missing"])
def test_cli_broken_input_is_one_sentence(tmp_path: Path, kind: str) -> None:
    path = make_text_as_video(tmp_path / "x.mp4") if kind == "text" else tmp_path / "none.mp4"
    out = _cli(str(path), "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith("forensics-gui silence: ") and lines[0].endswith(".")


def test_cli_rejects_bad_threshold(tmp_path: Path) -> None:
    out = _cli(str(tmp_path / "x.mp4"), "--threshold", "-1")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "threshold" in out.stderr


BAD_TAUS = ["0", "-1", "1", "1.5", "nan", "inf", "-inf", "abc", ""]


@pytest.mark.parametrize("value", [0.0005, "0.0005", 1e-9, 0.999, "2e-4"])
def test_validate_threshold_accepts_0_lt_tau_lt_1(value: float | str) -> None:
    assert validate_threshold(value) == pytest.approx(float(value))


@pytest.mark.parametrize("value", BAD_TAUS + [0.0, 1.0, float("nan")])
def test_validate_threshold_refuses_with_one_sentence(value: float | str) -> None:
    with pytest.raises(ValueError) as err:
        validate_threshold(value)
    text = str(err.value)
    assert text.startswith("The silence threshold ") and text.endswith(".") and "\n" not in text
    assert THRESHOLD_RULE in text and f"{DEFAULT_THRESHOLD:g}" in text


def test_the_defaults_and_grids_have_one_owner() -> None:
    validate_threshold(DEFAULT_THRESHOLD)
    assert OFFICIAL_TRIM_THRESHOLD == 0.0005  # AVH-Align's --trimmed rule, whatever the display tau
    assert DEFAULT_THRESHOLD in TABLE_TAUS and list(TABLE_TAUS) == sorted(TABLE_TAUS)
    assert all(validate_threshold(t) == t for t in TABLE_TAUS)
    assert set(TABLE_DELTAS_MS) <= {float(d) for d in SWEEP_DELTAS_MS}  # a subset of the CLI's grid


def test_analyse_audio_tables_agree_with_the_cli_grids(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mkv", duration_s=0.5, video=False, leading_silence_ms=30)
    audio = analyse_audio(clip.path)
    assert audio.sweep_taus == list(TABLE_TAUS) and audio.deltas_ms == list(TABLE_DELTAS_MS)
    assert audio.sweep_ms[TABLE_TAUS.index(DEFAULT_THRESHOLD)] == pytest.approx(30.0)
    full = max_amplitude_sweep(audio.track, deltas_ms=SWEEP_DELTAS_MS)
    picked = [float(full[list(SWEEP_DELTAS_MS).index(d)]) for d in TABLE_DELTAS_MS]
    assert audio.max_amplitudes == pytest.approx(picked)
    at = audio.silence_at(DEFAULT_THRESHOLD)
    assert at == leading_silence(audio.track) and at.leading_silence_ms == pytest.approx(30.0)


@pytest.mark.parametrize("value", ["0", "1", "nan", "abc"])
def test_cli_silence_and_snapshot_refuse_a_bad_tau_with_the_same_sentence(tmp_path: Path,
                                                                         value: str) -> None:
    clip = make_clip(tmp_path / "c.mkv", duration_s=0.3, video=False)
    expected = None
    for command in (["silence", str(clip.path)],
                    ["snapshot", str(clip.path), "--at", "0", "-o", str(tmp_path / "s.png")]):
        out = subprocess.run([sys.executable, "-m", "forensics_gui", *command, "--threshold", value],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "Traceback" not in out.stderr and out.stdout == ""
        assert THRESHOLD_RULE in out.stderr and not (tmp_path / "s.png").exists()
        sentence = out.stderr.strip().splitlines()[-1].split("--threshold: ", 1)[1]
        assert expected in (None, sentence)
        expected = sentence


def test_help_states_the_rule_and_the_fixed_trim_rule() -> None:
    for command in ("silence", "snapshot"):
        out = subprocess.run([sys.executable, "-m", "forensics_gui", command, "--help"],
                             capture_output=True, text=True, timeout=60)
        text = " ".join(out.stdout.split())
        assert out.returncode == 0 and THRESHOLD_RULE in text
        assert "trimmed variant always uses the official fixed 0.0005 rule" in text
