"""Mouth and voice (core/lipsync): the measures on generated speech and mouth motion.

The fast tests drive :func:`measure` with landmarks built from a known mouth opening (no dlib);
the slow ones run real dlib landmarks on generated talking-face clips (the face opens its mouth
with the speech's loudness, :mod:`forensics_gui.demo`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from forensics_gui.core.lipsync import MAX_OFFSET_FRAMES, LipSyncResult, measure, mouth_opening
from forensics_gui.core.media.timebase import model_frame_times
from forensics_gui.testing.synth import speech_signal

SR = 16000
HOP = SR // 25


def _landmarks(openness: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """[T, 68, 2] points whose inner-lip gap is 20 px * openness; eye centres 60 px apart."""
    t = len(openness)
    lm = np.zeros((t, 68, 2), np.float32)
    lm[:, :, 0] = np.linspace(80, 180, 68)
    lm[:, :, 1] = 150
    lm[:, 36:42] = (100.0, 100.0)
    lm[:, 42:48] = (160.0, 100.0)
    gap = 20.0 * np.asarray(openness, np.float32)
    for up, low in ((61, 67), (62, 66), (63, 65)):
        lm[:, up, 0] = lm[:, low, 0] = 120 + 10 * (up - 61)
        lm[:, up, 1] = 180 - gap / 2
        lm[:, low, 1] = 180 + gap / 2
    if rng is not None:
        lm += rng.normal(0, 0.3, lm.shape).astype(np.float32)  # landmark jitter
    return lm


def _talk(seconds: float = 8.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(16 kHz speech with a room-noise floor, mouth opening per 25 fps frame that follows it)."""
    sig, env = speech_signal(seconds, SR, seed=seed)
    rng = np.random.default_rng(seed + 100)
    audio = (sig + rng.normal(0, 0.004, sig.shape)).astype(np.float32)
    t = int(round(seconds * 25))
    idx = np.clip(((np.arange(t) / 25.0 + 0.02) * SR).astype(int), 0, len(env) - 1)
    return audio, env[idx] / env.max()


def test_mouth_opening_is_the_inner_lip_gap_over_the_eye_distance() -> None:
    lm = _landmarks(np.array([0.0, 0.5, 1.0]))
    det = np.array([True, True, False])
    got = mouth_opening(lm, det)
    assert got[:2] == pytest.approx([0.0, 10.0 / 60.0], abs=1e-6)
    assert np.isnan(got[2])


def test_in_sync_speech_agrees_at_offset_zero_with_nothing_flagged() -> None:
    audio, opening = _talk(seed=1)
    r = measure(_landmarks(opening, np.random.default_rng(0)), np.ones(len(opening), bool), audio)
    assert r.status == "measured"
    assert r.flagged == []
    on = r.active & np.isfinite(r.agreement_zero)
    assert on.mean() > 0.9
    assert abs(np.median(r.best_offset_frames[on])) <= 1
    assert np.median(r.agreement_zero[on]) > 0.5
    assert r.times_s == pytest.approx(model_frame_times(len(opening)))
    assert "opens and closes with the voice" in r.readings[-1]


def test_sound_200_ms_late_gives_best_offset_plus_5_frames() -> None:
    audio, opening = _talk(seed=2)
    late = np.concatenate([np.zeros(int(0.2 * SR), np.float32), audio[:-int(0.2 * SR)]])
    r = measure(_landmarks(opening), np.ones(len(opening), bool), late)
    on = r.active & np.isfinite(r.agreement_zero)
    assert abs(np.median(r.best_offset_frames[on]) - 5) <= 1
    assert r.flagged, r.readings
    assert any("200 ms later" in s for s in r.readings), r.readings
    early = np.concatenate([audio[int(0.2 * SR):], np.zeros(int(0.2 * SR), np.float32)])
    r2 = measure(_landmarks(opening), np.ones(len(opening), bool), early)
    on2 = r2.active & np.isfinite(r2.agreement_zero)
    assert abs(np.median(r2.best_offset_frames[on2]) + 5) <= 1


def test_a_swapped_stretch_is_flagged_and_the_rest_is_not() -> None:
    audio, opening = _talk(10.0, seed=3)
    other, _ = _talk(10.0, seed=44)
    a, b = int(4.0 * SR), int(5.8 * SR)
    swapped = audio.copy()
    swapped[a:b] = other[a:b]
    r = measure(_landmarks(opening), np.ones(len(opening), bool), swapped)
    assert r.flagged, r.readings
    frames = r.flagged_frames
    truth = (r.times_s >= 4.0) & (r.times_s < 5.8)
    assert frames[truth].mean() > 0.5
    assert frames[(r.times_s < 3.0) | (r.times_s > 6.8)].mean() < 0.1
    # the per-frame score ranks the swapped frames above the others
    from forensics_gui.core.results.metrics import auc

    score = np.nan_to_num(r.disagreement, nan=-1.0)
    assert auc(truth.astype(int), score) > 0.8
    assert any(s.startswith("From ") and "stop moving together" in s for s in r.readings)
    text = " ".join(r.readings).lower()  # plain words (tests/ui/test_plain_words.py's list)
    assert not [w for w in ("lse", "tau", "model frame", "untrimmed", "phi") if w in text]


def test_no_face_no_sound_and_silence_give_a_plain_result() -> None:
    audio, opening = _talk(3.0)
    n = len(opening)
    no_face = measure(np.full((n, 68, 2), np.nan, np.float32), np.zeros(n, bool), audio)
    assert no_face.status == "no face" and no_face.flagged == []
    assert "No face" in no_face.readings[0]
    no_sound = measure(_landmarks(opening), np.ones(n, bool), np.zeros(0, np.float32))
    assert no_sound.status == "no sound" and no_sound.flagged == []
    assert np.isnan(no_sound.loudness).all()
    silent = measure(_landmarks(opening), np.ones(n, bool), np.zeros_like(audio))
    assert silent.status == "silent" and silent.flagged == []
    assert "no speech" in silent.readings[0]
    empty = measure(np.zeros((0, 68, 2), np.float32), np.zeros(0, bool), audio)
    assert empty.status == "too short" and empty.readings
    with pytest.raises(ValueError):
        measure(np.zeros((5, 20, 2)), np.ones(5, bool), audio)


def test_to_dict_is_json_and_reads_back() -> None:
    audio, opening = _talk(4.0, seed=5)
    det = np.ones(len(opening), bool)
    det[10:20] = False
    # landmarks from model frame 3: the sound (from time 0) has 3 more frames before them
    audio = np.concatenate([np.zeros(3 * HOP, np.float32), audio])
    r = measure(_landmarks(opening), det, audio, first_model_frame=3)
    assert r.flagged == []
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["mouth_opening"][12] is None
    assert d["max_offset_frames"] == MAX_OFFSET_FRAMES
    back = LipSyncResult.from_dict(d)
    assert back.first_model_frame == 3
    assert back.times_s == pytest.approx(r.times_s)
    np.testing.assert_allclose(back.mouth_opening, r.mouth_opening, atol=1e-4)
    np.testing.assert_array_equal(back.best_offset_frames, r.best_offset_frames)
    assert back.flagged == r.flagged and back.readings == r.readings
    with pytest.raises(ValueError):
        LipSyncResult.from_dict({"mouth_opening": [1.0]})


@pytest.mark.slow
def test_generated_talking_clip_in_sync_and_200_ms_late(tmp_path) -> None:
    """Real dlib landmarks of the generated face: in sync -> offset ~0, nothing flagged; the same
    sound 200 ms late -> offset ~+5 frames."""
    from forensics_gui.core.lipsync import measure_clip
    from forensics_gui.testing.synth import make_clip

    clip = make_clip(tmp_path / "talk.mp4", duration_s=5.0, seed=7)
    r = measure_clip(clip.path)
    on = r.active & np.isfinite(r.agreement_zero)
    assert r.status == "measured" and r.flagged == [], r.readings
    assert abs(np.median(r.best_offset_frames[on])) <= 1
    late = np.concatenate([np.zeros((1, int(0.2 * SR)), np.float32), clip.audio[:, :-int(0.2 * SR)]], axis=1)
    shifted = make_clip(tmp_path / "late.mp4", duration_s=5.0, seed=7, speech=late,
                        openness=clip.mouth_openness)
    r2 = measure_clip(shifted.path)
    on2 = r2.active & np.isfinite(r2.agreement_zero)
    assert abs(np.median(r2.best_offset_frames[on2]) - 5) <= 1
    assert r2.flagged


def test_sync_command_refuses_a_bad_input_in_one_sentence(tmp_path, capsys) -> None:
    from forensics_gui.cli import main
    from forensics_gui.testing.synth import make_text_as_video

    assert main(["sync", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forensics-gui sync: ") and err.count("\n") == 1
    bad = make_text_as_video(tmp_path / "text.mp4")
    assert main(["sync", str(bad), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.slow
def test_sync_command_and_prepare_without_models(tmp_path, capsys, monkeypatch) -> None:
    """`sync` needs no model files; Analyzer.prepare (no models) carries the same measures, and
    RESULT.json gets them as its own 'mouth_and_voice' section."""
    from forensics_gui.cli import main
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer, ClipAnalysis
    from forensics_gui.testing.synth import make_clip

    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    clip = make_clip(tmp_path / "talk.mp4", duration_s=3.0, seed=11)
    out_json = tmp_path / "sync.json"
    assert main(["sync", str(clip.path), "-o", str(out_json), "-q"]) == 0
    out = capsys.readouterr().out
    assert "talk.mp4: mouth and voice" in out and "opens and closes with the voice" in out
    doc = json.loads(out_json.read_text())
    assert doc["status"] == "measured" and doc["flagged"] == [] and doc["sha256"]
    assert main(["sync", str(clip.path), "--json"]) == 0  # from the cache now
    assert json.loads(capsys.readouterr().out)["readings"] == doc["readings"]

    prepared = Analyzer(AnalysisOptions()).prepare(clip.path)
    assert prepared.lipsync is not None
    assert prepared.lipsync.readings == doc["readings"]
    analysis = ClipAnalysis(file=prepared.path, sha256=prepared.sha256, info=prepared.info,
                            silence=prepared.silence, face=prepared.face, roi_gray=prepared.gray,
                            lipsync=prepared.lipsync)
    section = json.loads(json.dumps(analysis.to_dict()))["mouth_and_voice"]
    assert section["best_offset_frames"] == doc["best_offset_frames"]


def test_a_mouth_that_follows_another_voice_is_said_to_say_little() -> None:
    """Lips from one speech, sound from another (a voice off screen): never 'in sync'."""
    audio, _ = _talk(10.0, seed=8)
    _, opening = _talk(10.0, seed=9)
    r = measure(_landmarks(opening), np.ones(len(opening), bool), audio)
    text = " ".join(r.readings)
    assert "opens and closes with the voice" not in text
    assert "disagree over most" in text or "only weakly" in text, r.readings
