"""Time conversions: seconds <-> source frames <-> samples <-> 25 fps model frames."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.media.timebase import (
    MODEL_FPS,
    MODEL_FRAME_S,
    Timebase,
    format_timecode,
    index_at,
    model_frame_count,
    model_frame_near,
    model_frame_of,
    model_frame_start,
    model_frame_times,
    parse_timecode,
    samples_per_model_frame,
    samples_to_ms,
    seconds_to_sample,
    truncated_model_frame,
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


# -- the model-grid rules: model frame k covers [k / 25, (k + 1) / 25) seconds ----------------

@pytest.mark.parametrize("k", [0, 1, 2, 3, 7, 25, 49, 1234, 90_000])
def test_a_time_on_a_boundary_is_the_later_frame_and_just_below_the_earlier(k: int) -> None:
    t = model_frame_start(k)  # computed as k / 25, with whatever float error that has
    assert model_frame_of(t) == k
    assert model_frame_of(k * 0.04) == k  # the same time reached another way
    assert model_frame_of(t - 1e-6) == k - 1
    assert model_frame_of(t + MODEL_FRAME_S - 1e-6) == k
    assert model_frame_near(t) == k and model_frame_near(round(t, 6)) == k
    assert model_frame_times(1, first=k)[0] == pytest.approx(t)


def test_negative_times_and_durations() -> None:
    assert model_frame_of(-1e-12) == 0  # float noise below zero is still frame 0
    assert model_frame_of(-0.01) == -1 and model_frame_of(-0.04) == -1 and model_frame_of(-0.0401) == -2
    assert model_frame_count(2.0) == 50 and model_frame_count(2.0 + 1e-9) == 50
    assert model_frame_count(2.001) == 51 and model_frame_count(0.0) == 0
    assert MODEL_FPS == 25 and MODEL_FRAME_S == pytest.approx(0.04)


def test_a_trimmed_curve_starts_at_its_first_model_frame() -> None:
    times = model_frame_times(4, first=2)  # the trimmed analysis dropped 2 frames (80 ms)
    np.testing.assert_allclose(times, [0.08, 0.12, 0.16, 0.2])
    np.testing.assert_allclose(model_frame_times(3), [0.0, 0.04, 0.08])
    assert [model_frame_of(t) for t in times] == [2, 3, 4, 5]
    np.testing.assert_allclose(model_frame_start(np.array([0, 25, 50])), [0.0, 1.0, 2.0])


def test_index_at_is_the_last_start_at_or_before() -> None:
    starts = model_frame_times(5, first=2)
    assert index_at(starts, 0.0) == 0 and index_at(starts, 0.12) == 1 and index_at(starts, 0.1199) == 0
    assert index_at(starts, 99.0) == 4 and index_at(None, 1.0) is None and index_at(np.zeros(0), 1.0) is None


def test_truncation_is_avh_align_s_own_rule() -> None:
    # 18560 / 16000 s * 25 is 28.999999999999996 in float64: AVH-Align truncates it to 28, while
    # the grid rule (with its epsilon) says the time is in frame 29.
    s = 18560 / 16000
    assert truncated_model_frame(s) == int(s * 25) == 28 and model_frame_of(s) == 29
    i = np.arange(0, 16000 * 3, 7)
    np.testing.assert_array_equal(truncated_model_frame(i / 16000.0), [int((k / 16000) * 25) for k in i.tolist()])
    assert samples_per_model_frame(16000) == 640 and samples_per_model_frame(44100) == 1764
    assert model_frame_near(0.081) is None and model_frame_near(0.0800004) == 2


# -- results of earlier versions (curve_start_s seconds) read back as the same seconds ----------

def test_an_old_curve_file_with_curve_start_s_gives_the_same_seconds(tmp_path: Path) -> None:
    from forensics_gui.core.results import batch_results as br
    from forensics_gui.core.results.metrics import proposals_from_curve

    scores = [0.0, 0.0, 3.0, 3.0, 3.0, 0.0, 0.0, 3.0, 0.0]
    for k in (0, 1, 2, 3, 17, 1250):
        old = tmp_path / f"old{k}.json"  # as the previous version's write_curve wrote it
        old.write_text(json.dumps({"file": "a.mp4", "sha256": "0" * 64, "variant": "trimmed",
                                   "pool": "lse", "fps": 25.0, "curve_start_s": round(k / 25.0, 6),
                                   "frame_scores": scores}))
        rel = br.write_curve(tmp_path / "r.csv", file="a.mp4", sha256=f"{k:064x}", variant="trimmed",
                             pool="lse", frame_scores=scores, first_model_frame=k)
        new = tmp_path / rel
        assert json.loads(new.read_text())["first_model_frame"] == k
        assert "curve_start_s" not in json.loads(new.read_text())
        a, b = br.read_curve(old, "old"), br.read_curve(new, "new")
        assert a == b and a.first_model_frame == k and a.fps == 25.0
        # the seconds the previous version computed: frame / fps + curve_start_s
        previous = [(c, s + k / 25.0, e + k / 25.0) for c, s, e in proposals_from_curve(scores)]
        now = proposals_from_curve(a.frame_scores, first_model_frame=a.first_model_frame)
        assert [p[0] for p in now] == [p[0] for p in previous]
        np.testing.assert_allclose([p[1:] for p in now], [p[1:] for p in previous], atol=1e-9)
    # an analyze/score result JSON: no start means model frame 0; a trimmed one says its frame
    res = tmp_path / "result.json"
    res.write_text(json.dumps({"file": "b.mp4", "fps": 25.0, "frame_scores": scores}))
    assert br.read_curve(res, "r").first_model_frame == 0
    res.write_text(json.dumps({"file": "b.mp4", "first_model_frame": 3, "frame_scores": scores}))
    assert br.read_curve(res, "r").first_model_frame == 3


@pytest.mark.parametrize("fields,why", [
    ({"curve_start_s": 0.081}, "impossible fps or start time"),  # between two model frames
    ({"curve_start_s": -0.04}, "impossible fps or start time"),
    ({"first_model_frame": -1}, "impossible fps or start time"),
    ({"first_model_frame": 1.5}, "malformed"),
    ({"first_model_frame": "2"}, "malformed"),
    ({"fps": 30.0}, "is at 30 fps; curves hold one score per model frame (25 fps)"),
])
def test_a_curve_start_off_the_model_grid_is_refused(tmp_path: Path, fields: dict, why: str) -> None:
    from forensics_gui.core.results import batch_results as br

    f = tmp_path / "c.json"
    f.write_text(json.dumps({"frame_scores": [0.0, 1.0], **fields}))
    with pytest.raises(br.ResultsFileError, match=re.escape(why)):
        br.read_curve(f, "here")


# -- no other module converts with the model rate ----------------------------------------------

_MUL_DIV = {"*", "/", "//", "*=", "/=", "//="}
_RATE_NAMES = {"MODEL_FPS", "FPS", "VIDEO_FPS"}
_ALLOWED = {
    # LAV-DF's proposal files count frames of its 25 fps videos: a dataset's rate (eval --fps).
    ("forensics_gui/commands/eval.py", "LAVDF_FPS = 25.0"),
}


def _rate_literals(src: str) -> list[int]:
    """Lines where code (not comments or strings; f-string expressions included) writes 25 as a
    float (``25.0``), multiplies or divides by 25 or by ``MODEL_FPS``, or defines a module-level
    alias of the rate (``FPS = ...``, ``VIDEO_FPS = ...``, ``MODEL_FPS = ...``)."""
    try:
        toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT)]
    except (tokenize.TokenError, SyntaxError):  # a piece of an f-string expression: plain text
        return [1] if re.search(r"(?<![\w.])25\.0|[*/] ?25(?![\w.])|(?<![\w.])25 ?[*/]", src) else []
    hits = []
    for i, t in enumerate(toks):
        near = {toks[i - 1].string if i else "", toks[i + 1].string if i + 1 < len(toks) else ""}
        if t.type == tokenize.NUMBER and ast.literal_eval(t.string) == 25:
            if "." in t.string or near & _MUL_DIV:
                hits.append(t.start[0])
        elif t.type == tokenize.NAME and t.string in _RATE_NAMES:
            after = toks[i + 1].string if i + 1 < len(toks) else ""
            if near & _MUL_DIV or (after == "=" and t.start[1] == 0):  # arithmetic, or an alias
                hits.append(t.start[0])
        elif t.type == tokenize.STRING and "f" in t.string.split("'")[0].split('"')[0].lower():
            for expr in re.findall(r"(?<!\{)\{([^{}:!]+)", t.string):
                if _rate_literals(expr.strip() + "\n"):
                    hits.append(t.start[0])
    return sorted(set(hits))


def test_the_checker_sees_what_it_must() -> None:
    assert _rate_literals("x = n / 25.0\n") == [1]
    assert _rate_literals("y = 1\nx = t * 25\n") == [2]
    assert _rate_literals("x = 25 * 3600\n") == [1]
    assert _rate_literals("x = k / MODEL_FPS\nFPS = float(MODEL_FPS)\nVIDEO_FPS = MODEL_FPS\n") == [1, 2, 3]
    assert _rate_literals("d = abs(fps - MODEL_FPS)\nrate = MODEL_FPS\n    FPS = 1\n") == []
    assert _rate_literals('s = f"{n / 25:.2f} s"\n') == [1]
    assert _rate_literals("x = 0.25 * side  # 25 fps, /25\ny = 'k / 25'\nz = Fraction(25)\n") == []


def test_no_module_but_timebase_converts_with_the_model_rate() -> None:
    root = Path(__file__).resolve().parents[2]
    found = []
    for f in sorted((root / "forensics_gui").rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        if rel == "forensics_gui/core/media/timebase.py":
            continue
        lines = f.read_text(encoding="utf-8").splitlines()
        for n in _rate_literals("\n".join(lines) + "\n"):
            if (rel, lines[n - 1].strip()) not in _ALLOWED:
                found.append(f"{rel}:{n}: {lines[n - 1].strip()}")
    assert not found, ("convert with forensics_gui.core.media.timebase (model_frame_of, "
                       "model_frame_start, model_frame_times, MODEL_FPS) instead:\n" + "\n".join(found))
