"""Plain-language wording shared by everything a journalist reads: the viewer, the exported
picture, the report and the CLI summaries.

One place, so the screen, the picture and the report say the same thing in the same words. The
words are for readers without the paper: each plain term has its technical name in
:data:`TECHNICAL_TERMS` (shown as a tooltip in the viewer, in a glossary in the report).
"""

from __future__ import annotations

from forensics_gui.core.alignment.scoring import DEFAULT_MAD_K, DEFAULT_MIN_FRAMES
from forensics_gui.core.encoder.devices import PRECISION_SHORT
from forensics_gui.core.lipsync import measures as _ls
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_start

# What the lanes are called on screen, in the picture and in the report.
MISMATCH_CURVE = "Mouth-voice mismatch"
MISMATCH_CURVE_TRIMMED = "Mouth-voice mismatch (leading silence removed)"
QUIET_LEVEL = "Quiet level"
SILENCE_NAME = "Leading digital silence"
UNUSUAL_LINE = "Unusually high for this clip"
SUSPICIOUS_STRETCH = "Stretch to check"

CURVE_MEANING = (
    "The mismatch curve shows, frame by frame, how badly the mouth movements and the voice fit "
    "together according to the AVH-Align model; higher means a worse fit.")

RELATIVE_NOT_PROOF = (
    "The scores are relative: compare them with real clips from the same source scored by the "
    "same models. They are not a probability, and a high score is not proof of manipulation; a "
    "low one is not proof of authenticity.")

THRESHOLD_MEANING = (
    f"The dashed line marks what is unusually high for this clip (its typical value plus "
    f"{DEFAULT_MAD_K:g} times its typical spread). Stretches above it for at least "
    f"{DEFAULT_MIN_FRAMES} frames ({model_frame_start(DEFAULT_MIN_FRAMES):.1f} s) are marked to check. "
    "The line is not a real/fake cut-off: a real clip has a line too.")

SILENCE_MEANING = (
    "Leading digital silence is the stretch of exact or near-exact silence at the very start of "
    "the sound track. In two public deepfake datasets (FakeAVCeleb, AV-Deepfake1M) fakes often "
    "start with such silence and real clips do not, so it can give a file's origin away; it says "
    "how the file was made, not whether the face or voice was changed.")


def silence_sentence(leading_ms: float | None, quiet_level: float | None) -> str:
    """One sentence about the measured leading silence (``None``: the clip has no sound)."""
    if leading_ms is None:
        return "The clip has no sound track, so there is no leading silence to measure."
    level = "" if quiet_level is None else f" (samples below {quiet_level:g} of full scale)"
    if leading_ms <= 0:
        return f"The sound starts at once: no leading digital silence{level}."
    return f"The sound starts with {leading_ms:.1f} ms of digital silence{level}."


def precision_caveat(precision: str | None) -> str:
    """The plain caveat of a result computed in reduced precision ("" for float32, the exact
    one, and for None: results from before the choice existed were all float32)."""
    if not precision or precision == "float32":
        return ""
    short = PRECISION_SHORT.get(precision, precision)
    return f"Reduced precision ({short}): scores may differ slightly from the exact float32 ones."


def precision_line(precision: str | None) -> str:
    """The provenance line naming a reduced encoder precision with its caveat ("" for float32)."""
    caveat = precision_caveat(precision)
    return f"Encoder precision: {precision}. {caveat}" if caveat else ""


VIDEO_SCORE = "Video score"
SYNC_LANE = "Sound delay"
SUPERVISED_CURVE = "Second detector (trained on fakes)"
BRIEF_PEAK = "Brief peak"
FRAME_NUMBER = "Frame"
REFERENCE_SCORE = "Typical mismatch"
OUT_OF_DATE = ("Out of date: an analysis option changed since these curves were computed. "
               "Analyze again to update them.")

# The mouth-and-voice lane (core/lipsync): needs no model file.
MOUTH_AND_VOICE = "Mouth and voice"
MOUTH_OPENING = "Mouth opening"
SPEECH_LOUDNESS = "Speech loudness"
MOUTH_VOICE_AGREEMENT = "Mouth-voice agreement"
MOUTH_VOICE_OFFSET = "Voice delay that fits the lips best"
MOUTH_VOICE_STRETCH = "Mouth and voice stop agreeing"
MOUTH_AND_VOICE_MEANING = (
    "The mouth-and-voice lane compares how wide the mouth is open with how loud the voice is, "
    "second by second: when someone speaks on camera they rise and fall together. Stretches "
    "where they stop doing so (a closed mouth under speech, lips moving over silence, or a voice "
    "that fits the lips only when shifted in time) are worth watching and listening to. It "
    "cannot tell which words are spoken, and profiles, several faces or music can make a real "
    "clip disagree: it is not proof.")
MOUTH_AND_VOICE_NEEDS_NO_MODEL = (
    "The mouth-and-voice lane needs no model files; the stronger AVH-Align detector needs them "
    "(Help > Models).")

# Plain term -> the technical term behind it (tooltips in the viewer, glossary in the report).
TECHNICAL_TERMS: dict[str, str] = {
    MISMATCH_CURVE: "fakeness −Φ(v_t, a_t): AVH-Align's per-frame score (negated alignment of the "
                    "AV-HuBERT visual and audio features at 25 frames per second)",
    MISMATCH_CURVE_TRIMMED: "the same score after the leading silence was cut (the official "
                            "trimming rule), so the silence cannot drive it",
    "Video score": "log-sum-exp (or mean) of the frame scores: the published AVH-Align pooling",
    QUIET_LEVEL: "tau, the amplitude threshold (fraction of full scale) below which a sample "
                 "counts as silent",
    SILENCE_NAME: "leading silence: time from the first sample to the first sample whose "
                  "absolute amplitude exceeds tau",
    UNUSUAL_LINE: f"robust threshold: median + {DEFAULT_MAD_K:g} × 1.4826 × MAD of the clip's own "
                  "curve",
    SUSPICIOUS_STRETCH: f"suspicious segment: frames above the robust threshold, gaps of up to 3 "
                        f"frames merged, at least {DEFAULT_MIN_FRAMES} frames long",
    "Mouth crop": "the 96×96 grey mouth region of interest (ROI) the model sees, prepared as the "
                  "official AV-HuBERT code does (dlib 68 landmarks, mean-face alignment)",
    SYNC_LANE: "sync offset: per 25 fps model frame, the audio offset (in frames, −15 … +15, "
               "1 frame = 40 ms) that Φ finds best aligned; 0 = in sync",
    SUPERVISED_CURVE: "supervised Φ (AVH-Align/sup): trained on real and fake clips; it tends to "
                      "react to the leading silence",
    BRIEF_PEAK: f"frames above the robust threshold for fewer than {DEFAULT_MIN_FRAMES} frames "
                f"({model_frame_start(DEFAULT_MIN_FRAMES):.1f} s) after merging gaps of up to 3 frames: "
                "not marked as a suspicious segment",
    FRAME_NUMBER: "the video's own frame index, counted from 0 (the number in the time display); "
                  f"the model scores a {MODEL_FPS:g} fps grid of 'model frames' shown only in "
                  "tooltips",
    REFERENCE_SCORE: "log-mean-exp of the frame scores (log-sum-exp − log N, N = number of "
                     "frames), or the mean with mean pooling: unlike log-sum-exp it does not grow "
                     "with the clip's length, so clips of different lengths can be compared",
    MOUTH_AND_VOICE: "audio-visual synchrony without a trained network: windowed correlation of "
                     "the lip opening with the speech energy (as in FaceSync / canonical "
                     "correlation measures of the 2000s), at 25 frames per second",
    MOUTH_OPENING: "inner-lip gap (mean distance of dlib landmarks 61-67, 62-66, 63-65) divided "
                   "by the distance between the eye centres",
    SPEECH_LOUDNESS: "RMS of the sound band-passed to 150-4000 Hz over each 40 ms frame, in dB "
                     "relative to full scale (dBFS)",
    MOUTH_VOICE_AGREEMENT: "Pearson correlation (with small variance floors) of mouth opening and "
                           f"loudness over a sliding {_ls.WINDOW_FRAMES}-frame "
                           f"({model_frame_start(_ls.WINDOW_FRAMES):.2f} s) window; 1 = together, "
                           "0 = unrelated",
    MOUTH_VOICE_OFFSET: f"the audio offset within ±{_ls.MAX_OFFSET_FRAMES} frames "
                        f"(±{model_frame_start(_ls.MAX_OFFSET_FRAMES):.1f} s) that maximises the "
                        "windowed correlation; + = the sound comes late",
    MOUTH_VOICE_STRETCH: "frames with speech or lip motion where the correlation at offset 0 is "
                         f"below {_ls.ZERO_AGREEMENT_LOW:g} and {_ls.ZERO_DROP:g} below the clip's "
                         "median, or an offset of at least "
                         f"{_ls.SHIFT_MIN_FRAMES} frames correlates {_ls.SHIFT_GAIN:g} better "
                         f"(and at least {_ls.SHIFT_MIN_AGREEMENT:g}); gaps "
                         f"of up to {_ls.MERGE_GAP_FRAMES} frames merged, at least "
                         f"{_ls.MIN_STRETCH_FRAMES} frames "
                         f"({model_frame_start(_ls.MIN_STRETCH_FRAMES):.2f} s) long",
}
