"""The exported picture: what a reader needs without the app, checked on its pixels (the frame,
face box, mouth crop, first-100-ms inset with the silence, whole-clip lanes on their true scale,
threshold, stretches to check in every lane, ground-truth bands, playhead, warnings), its
caption text, the headless CLI, and a real X server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.evidence import wording

CURVE = "#00ff00"
THRESHOLD = -2.1


@pytest.fixture
def gui_app(qapp):  # type: ignore[no-untyped-def]
    return qapp


def _qimage_rgb(img) -> np.ndarray:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def _near(rgb: np.ndarray, colour: str | tuple[int, int, int], tol: int = 12) -> np.ndarray:
    if isinstance(colour, str):
        colour = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[assignment]
    return np.all(np.abs(rgb.astype(int) - np.array(colour)) <= tol, axis=-1)


def _data(frame: np.ndarray | None, duration: float = 3.0, silence_ms: float = 30.0, **kw):  # type: ignore[no-untyped-def]
    from forensics_gui.core.evidence.snapshot import (
        INSET_PIXELS,
        WAVE_PIXELS,
        Band,
        Curve,
        SnapshotData,
        inset_window,
        waveform_window,
    )
    from forensics_gui.core.media.waveform import PeakPyramid

    sr = 16000
    x = np.sin(np.arange(int(sr * duration)) / 10).astype(np.float32) * 0.5
    x[: int(sr * silence_ms / 1000)] = 0
    window = waveform_window(1.0, duration)
    pyr = PeakPyramid(x, sr)
    silence = type("S", (), {"leading_silence_ms": silence_ms, "threshold": 0.0005})()
    times = np.arange(0, duration, 0.04)
    values = -2.4 + 0.3 * (np.sin(times * 3) + 1) / 2  # raw values between -2.4 and -2.1
    defaults = dict(
        frame=frame, time_s=1.0, frame_index=25, file_name="clip.mp4", sha256="ab" * 32,
        version="9.9", created="2026-01-01T00:00:00Z", envelope=pyr.envelope(*window, WAVE_PIXELS),
        inset=pyr.envelope(*inset_window(0.0), INSET_PIXELS), window=window, silence=silence,
        note="first line\nsecond",
        curves=[Curve(wording.MISMATCH_CURVE, times, values, CURVE, THRESHOLD)],
        segments=[(1.6, 2.2)],
        groundtruth=[Band("sound", [(0.4, 0.8)], "#ff9f43"), Band("picture", [], "#4fa3ff"),
                     Band("either", [(0.4, 0.8)], "#ff5c5c")],
        groundtruth_note="Ground truth: fake",
        models=[{"role": "phi", "name": "phi.pt", "sha256": "cd" * 32}],
        preparation={"preparation": "official", "dlib_version": "20.0",
                     "landmark_model_sha256": "ef" * 32, "mean_face_sha256": "12" * 32},
    )
    defaults.update(kw)
    return SnapshotData(**defaults)


def _frame() -> np.ndarray:
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:60] = (200, 30, 40)
    frame[60:] = (20, 180, 220)
    frame[10:20, 10:20] = np.random.default_rng(1).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    return frame


def test_picture_shows_frame_face_box_mouth_and_silence_inset(gui_app) -> None:
    from forensics_gui.ui.snapshot import FACE_BOX, render_snapshot, snapshot_layout

    frame = _frame()
    mouth = np.tile(np.arange(96, dtype=np.uint8)[None, :] * 2, (96, 1))
    data = _data(frame, face_box=(40.0, 20.0, 120.0, 100.0), mouth=mouth,
                 mouth_note="Mouth crop as the model saw it (from this clip's analysis).")
    img = render_snapshot(data)
    lay = snapshot_layout(data)
    assert (img.width(), img.height()) == lay.size
    rgb = _qimage_rgb(img)
    fr = lay.frame
    assert (fr.width(), fr.height()) == (160, 120)  # drawn 1:1, never upscaled
    shown = rgb[fr.top(): fr.top() + 120, fr.left(): fr.left() + 160]
    assert np.abs(shown[:15, :5].astype(int) - frame[:15, :5].astype(int)).max() <= 2
    # the face box: its colour along the box edges, in frame pixels
    green = _near(shown, FACE_BOX.name(), tol=40)
    assert green[22:99, 38:43].any(axis=1).mean() > 0.9
    assert green[18:23, 42:119].any(axis=0).mean() > 0.9
    assert not green[50:70, 60:100].any()  # the inside of the box is the frame
    # the mouth crop, 2x, pixels kept sharp (grey ramp: column c shows 2 * (c // 2))
    m = lay.mouth
    crop = rgb[m.top(): m.top() + 192, m.left(): m.left() + 192]
    assert crop.shape == (192, 192, 3)
    np.testing.assert_array_equal(crop[100, ::2, 0].astype(int), np.arange(96) * 2)
    # the first-100-ms inset: the 30 ms silence is shaded from the left edge to 30 % of it
    ins = lay.inset
    row = rgb[ins.top() + 10, ins.left(): ins.right() + 1]
    amber = (row[:, 0] > 90) & (row[:, 2] < 60)  # yellow over the panel
    cols = np.flatnonzero(amber)
    assert cols.size and cols[0] <= 1
    assert abs(cols.max() - 0.30 * ins.width()) <= 3


def test_lanes_use_the_true_scale_threshold_segments_ground_truth_and_playhead(gui_app) -> None:
    from forensics_gui.ui.snapshot import PLAYHEAD, render_snapshot, snapshot_layout

    data = _data(_frame())
    lay = snapshot_layout(data)
    rgb = _qimage_rgb(render_snapshot(data))
    assert len(lay.curves) == 1
    lo, hi = lay.curve_ranges[0]
    assert lo < -2.4 and hi > THRESHOLD  # the value axis is the curve's own values, not 0..1
    r = lay.curves[0]
    # the dashed threshold line sits at the threshold's y on the true scale
    y = round(lay.y_of(0, THRESHOLD))
    band = _near(rgb[y - 1: y + 2, r.left(): r.right()], CURVE, tol=60).any(axis=0)
    assert 0.3 < band.mean() < 0.95  # dashed: on and off along the whole lane
    # the curve's lowest value (-2.4) is drawn at its y, near the bottom of the lane
    y_lo = lay.y_of(0, -2.4)
    cols = np.flatnonzero(_near(rgb[r.top(): r.bottom(), r.left(): r.right()], CURVE, 60).any(axis=0))
    assert cols.size > 0.8 * r.width()
    low_rows = np.flatnonzero(_near(rgb[:, r.left(): r.right()], CURVE, 60).any(axis=1))
    assert abs(low_rows[(low_rows > r.top()) & (low_rows < r.bottom())].max() - y_lo) <= 3
    # the stretch to check (1.6-2.2 s) is shaded in EVERY lane: wave, curve, ground truth
    xs = round(lay.x_of(1.9))
    xo = round(lay.x_of(2.8))
    assert lay.gt is not None
    for lane in (lay.wave, r, lay.gt):
        inside = rgb[lane.top() + 2, xs].astype(int)
        outside = rgb[lane.top() + 2, xo].astype(int)
        assert inside[2] - outside[2] > 15 and inside[0] - outside[0] > 10, lane  # purple tint
    # ground truth as bands: the orange band in the first row from 0.4 to 0.8 s only
    row = lay.gt_rows[0]
    line = rgb[row.center().y(), row.left(): row.right()]
    a = 170 / 255  # the band's opacity over the lane's panel colour
    fill = tuple(round(a * c + (1 - a) * b) for c, b in zip((0xFF, 0x9F, 0x43), (0x26, 0x2A, 0x31),
                                                              strict=True))
    orange = np.flatnonzero(_near(line, fill, tol=8))
    assert orange.size
    assert abs(orange.min() + row.left() - lay.x_of(0.4)) <= 2
    assert abs(orange.max() + row.left() - lay.x_of(0.8)) <= 2
    blue = tuple(round(a * c + (1 - a) * b) for c, b in zip((0x4F, 0xA3, 0xFF), (0x26, 0x2A, 0x31),
                                                             strict=True))
    assert not _near(rgb[lay.gt_rows[1].center().y(), row.left(): row.right()], blue,
                     tol=8).any()  # the empty row stays empty
    # the playhead (1.0 s) crosses every lane at the same x
    x_play = lay.x_of(1.0)
    for lane in (lay.wave, r, lay.gt):
        red = _near(rgb[lane.top() + 3: lane.bottom() - 3, lane.left(): lane.right()],
                    PLAYHEAD.name(), tol=40)
        cols = np.flatnonzero(red.mean(axis=0) > 0.6)
        assert cols.size and abs(np.median(cols) + lane.left() - x_play) <= 2
    # the whole clip's waveform: the 30 ms silence is shaded at the start of the sound lane
    w = lay.wave
    assert rgb[w.top() + 5, w.left() + 1, 0] > 90 and rgb[w.top() + 5, w.left() + 1, 2] < 60


def test_caption_says_what_it_means_and_where_it_comes_from(gui_app) -> None:
    from forensics_gui.core.evidence.snapshot import caption_lines
    from forensics_gui.ui.snapshot import WARN_BG, render_snapshot, snapshot_layout

    warning = "This file is cut short: it says 3.000 s, but only 0.880 s can be decoded."
    data = _data(_frame(), warnings=[warning])
    lines = caption_lines(data)
    text = "\n".join(lines)
    for sentence in (wording.CURVE_MEANING, wording.RELATIVE_NOT_PROOF, wording.SILENCE_MEANING,
                     wording.THRESHOLD_MEANING, warning):
        assert sentence in lines
    assert "File: clip.mp4" in lines and "SHA-256: " + "ab" * 32 in lines
    assert "phi.pt  SHA-256 " + "cd" * 32 in text and "ef" * 32 in text and "12" * 32 in text
    assert "Mouth crop: official landmarks" in text
    assert "forensics-gui 9.9 on 2026-01-01T00:00:00Z (UTC)" in text
    assert "Note: first line" in lines and "      second" in lines
    assert "00:00:01.000" in text and "Frame 25" in text and "30.0 ms" in text
    assert "Ground truth: fake" in lines
    for word in ("lse", "drawn as 0..1", "Model phi", "fakeness"):
        assert word not in text
    # the warning is drawn on a red band above the caption
    lay = snapshot_layout(data)
    assert lay.warnings is not None and lay.warnings.bottom() < lay.caption.top()
    rgb = _qimage_rgb(render_snapshot(data))
    wr = lay.warnings
    block = rgb[wr.top() + 3: wr.bottom() - 3, wr.left() + 3: wr.right() - 3]
    assert _near(block, WARN_BG.name(), tol=6).mean() > 0.6
    assert (block.min(axis=-1) > 200).mean() > 0.005  # white text on it
    # the caption block holds text: many pixels differ from its background
    cap = lay.caption
    block = rgb[cap.top(): cap.bottom(), cap.left(): cap.right()]
    assert (np.abs(block.astype(int) - block[2, 2].astype(int)).sum(axis=2) > 60).mean() > 0.01


@pytest.mark.parametrize("case", [pytest.param("long", marks=pytest.mark.slow), "short",
                                  "no audio", "no video", "no result"])
def test_picture_stays_legible_for_any_clip(gui_app, case: str) -> None:
    from forensics_gui.core.evidence.snapshot import caption_lines
    from forensics_gui.ui.snapshot import render_snapshot, snapshot_layout

    if case == "long":  # 12 minutes: 18,000 model frames, many stretches
        data = _data(_frame(), duration=720.0, time_s=600.0,
                     segments=[(s, s + 0.3) for s in range(10, 700, 7)])
    elif case == "short":
        data = _data(_frame(), duration=1.0, time_s=0.5, segments=[])
    elif case == "no audio":
        data = _data(_frame(), envelope=None, inset=None, silence=None,
                     silence_note="no audio stream")
    elif case == "no video":
        data = _data(None, frame_notice="No video stream")
    else:
        data = _data(_frame(), curves=[], segments=[], models=[], preparation=None)
    img = render_snapshot(data)
    lay = snapshot_layout(data)
    assert not img.isNull() and (img.width(), img.height()) == lay.size
    assert lay.size[1] < 1600  # one picture, not a scroll
    rgb = _qimage_rgb(img)
    text = "\n".join(caption_lines(data))
    if case == "long":
        r = lay.curves[0]
        cols = _near(rgb[r.top(): r.bottom(), r.left(): r.right()], CURVE, 60).any(axis=0)
        assert cols.mean() > 0.9  # the whole 12 minutes are drawn
        assert abs(lay.x_of(720.0) - lay.wave.right() - 1) <= 1
    if case == "no audio":
        assert "Leading digital silence: no audio stream" in text
    if case == "no result":
        assert lay.curves == [] and "No analysis result is shown" in text
        assert wording.RELATIVE_NOT_PROOF not in text


def test_save_png_is_atomic_and_reports_errors(gui_app, tmp_path) -> None:
    from PySide6.QtGui import QImage

    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.ui.snapshot import render_snapshot, save_png

    img = render_snapshot(_data(np.zeros((10, 10, 3), np.uint8)))
    out = save_png(img, tmp_path / "a.png")
    assert QImage(str(out)).size() == img.size()
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    with pytest.raises(ForensicsError):  # the "folder" is a file
        save_png(img, tmp_path / "a.png" / "b.png")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if env is None:
        env = dict(os.environ)
        env.pop("DISPLAY", None)
        env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-m", "forensics_gui", "snapshot", *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_snapshot_cli_writes_png(clips, tmp_path) -> None:
    from PySide6.QtGui import QImage

    from forensics_gui.testing.synth import decode_pattern_index

    out = tmp_path / "snap.png"
    res = _cli(str(clips["av"].path), "--at", "0.5", "-o", str(out), "--note", "n1")
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = QImage(str(out))
    assert img.width() == 1280
    rgb = _qimage_rgb(img)
    # frame 12 (0.5 s at 25 fps) is drawn 1:1 at the top left, centred in the 250 px top row
    y0 = 16 + (250 - 120) // 2
    assert decode_pattern_index(rgb[y0:y0 + 120, 16:16 + 160]) == 12


@pytest.mark.slow
def test_snapshot_cli_errors(clips, tmp_path) -> None:
    res = _cli(str(clips["broken"]), "--at", "0", "-o", str(tmp_path / "x.png"))
    assert res.returncode == 2
    assert res.stderr.startswith("forensics-gui snapshot: ") and res.stderr.strip().endswith(".")
    assert not (tmp_path / "x.png").exists()
    res = _cli(str(clips["av"].path), "--at", "0", "-o", str(tmp_path / "y.png"),
               "--result", str(tmp_path / "nope.json"))
    assert res.returncode == 2 and "result file" in res.stderr
    res = _cli(str(clips["av"].path), "--at", "99", "-o", str(tmp_path / "z.png"))
    assert res.returncode == 2 and "outside the clip" in res.stderr
    (tmp_path / "bad.json").write_text("{not json")
    res = _cli(str(clips["av"].path), "--at", "0", "-o", str(tmp_path / "w.png"),
               "--result", str(tmp_path / "bad.json"))
    assert res.returncode == 2 and "not valid JSON" in res.stderr


def test_snapshot_cli_audio_only_with_result(clips, tmp_path) -> None:
    (tmp_path / "r.json").write_text('{"file": "x"}')
    out = tmp_path / "a.png"
    res = _cli(str(clips["audio_only"].path), "--at", "0.2", "-o", str(out),
               "--result", str(tmp_path / "r.json"))
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert res.stderr.startswith("warning: r.json has no SHA-256, so it cannot be checked against ")


@pytest.mark.slow
def test_snapshot_refuses_the_result_of_another_clip(clips, tmp_path) -> None:
    from PySide6.QtGui import QImage

    video = clips["av"].path
    sha = hashlib.sha256(video.read_bytes()).hexdigest()
    other = {"file": str(video), "sha256": "0" * 64, "fps": 25.0, "video_score": 3.0,
             "frame_scores": [0.0, 1.0, 2.0, 1.0] * 10}
    (tmp_path / "other.json").write_text(json.dumps(other))
    out = tmp_path / "snap.png"
    res = _cli(str(video), "--at", "0.5", "-o", str(out), "--result", str(tmp_path / "other.json"))
    assert res.returncode == 2 and not out.exists()
    assert res.stderr == (
        f"forensics-gui snapshot: The result file other.json was made from another clip (SHA-256 "
        f"000000000000...), not from {video.name} (SHA-256 {sha[:12]}...); pass the result that "
        "'forensics-gui analyze' wrote for this clip.\n")
    # The clip's own result (same SHA-256, any file name) is drawn.
    (tmp_path / "own.json").write_text(json.dumps({**other, "sha256": sha.upper(), "file": "renamed.mp4"}))
    res = _cli(str(video), "--at", "0.5", "-o", str(out), "--result", str(tmp_path / "own.json"))
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr and QImage(str(out)).width() == 1280
    assert hashlib.sha256(video.read_bytes()).hexdigest() == sha


def _result_for(clip: Path, seconds: float) -> dict:
    """A result of ``clip`` as 'analyze' writes it (scores made up: no model needed)."""
    n = int(seconds * 25)
    scores = (-2.4 + 0.3 * (np.sin(np.arange(n) / 4) + 1) / 2).tolist()
    variant = {"frame_scores": scores, "times_s": (np.arange(n) / 25).tolist(), "threshold": -2.15,
               "video_score": 1.5, "pool": "lse", "suspicious_segments": [[1.0, 1.6]]}
    return {"file": str(clip), "sha256": hashlib.sha256(clip.read_bytes()).hexdigest(),
            **variant, "variants": {"untrimmed": variant},
            "models": [{"role": "phi", "name": "phi.pt", "sha256": "cd" * 32}],
            "preparation": None}


@pytest.mark.slow
def test_snapshot_in_a_real_x_server(tmp_path, isolated_cache) -> None:
    """The CLI in a child process on a real X display (xcb): face box, mouth crop, silence inset
    and the stretch to check are in the PNG's pixels."""
    from PySide6.QtGui import QImage

    from forensics_gui.testing.synth import make_clip
    from forensics_gui.testing.xvfb import require_xvfb, x_env, xvfb

    require_xvfb()
    clip = make_clip(tmp_path / "talk.mp4", duration_s=2.0, leading_silence_ms=40.0,
                     width=256, height=256).path
    (tmp_path / "r.json").write_text(json.dumps(_result_for(clip, 2.0)))
    out = tmp_path / "x.png"
    with xvfb(1600, 1000) as display:
        env = x_env(display, FORENSICS_GUI_CACHE=str(tmp_path / "cache"))
        res = _cli(str(clip), "--at", "1.2", "-o", str(out), "--result", str(tmp_path / "r.json"),
                   "--note", "seen in X", env=env)
    assert res.returncode == 0, res.stderr
    rgb = _qimage_rgb(QImage(str(out)))
    assert rgb.shape[1] == 1280
    top = rgb[16:16 + 256, 16:16 + 256]  # the 256x256 frame, 1:1 at the top left
    green = _near(top, "#4cff7a", tol=40)
    assert green.sum() > 200  # the face box was re-detected and drawn
    # the mouth crop beside the frame is a grey picture (R = G = B), not the empty panel
    mouth = rgb[16 + 20: 16 + 20 + 192, 16 + 320 + 16: 16 + 320 + 16 + 192].astype(int)
    assert np.abs(mouth[..., 0] - mouth[..., 2]).max() <= 2 and mouth.std() > 10
    # the inset: 40 ms of silence shaded from its left edge
    inset_left = 16 + 320 + 16 + 192 + 16
    row = rgb[16 + 30, inset_left: 1280 - 16]
    amber = np.flatnonzero((row[:, 0] > 90) & (row[:, 2] < 60))
    assert amber.size and abs(amber.max() - 0.40 * (1280 - 16 - inset_left)) <= 3
    # the stretch to check (1.0-1.6 s) is shaded purple somewhere under the top row
    lanes = rgb[300:, 16 + 150: 1280 - 16 - 72]
    assert (_near(lanes, (0x5B, 0x47, 0x7A), tol=30).sum()) > 500 or \
        ((lanes[..., 2].astype(int) - lanes[..., 1]) > 25).sum() > 500


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow
def test_viewer_and_cli_draw_the_same_evidence(qtbot, window, open_and_wait, tmp_path,
                                               monkeypatch) -> None:
    """The viewer's picture and `snapshot --result` come from one function: same curves on the
    same scale, thresholds, stretches, summary, models and the mouth crop the model saw."""
    from forensics_gui.core.evidence import frames
    from forensics_gui.core.evidence.snapshot import build_snapshot_data, provenance_lines
    from forensics_gui.core.pipeline import AnalysisOptions, Analyzer
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi
    from forensics_gui.testing.synth import make_clip

    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    ckpt = write_fake_avhubert_checkpoint(tmp_path / "tiny.pt", layers=1, dim=32, heads=2, ffn=64)
    phi = write_published_phi(tmp_path / "phi.pt", visual_dim=32, audio_dim=32)
    clip = make_clip(tmp_path / "talk.mkv", duration_s=1.6, leading_silence_ms=40.0, width=224,
                     height=224).path
    analysis = Analyzer(AnalysisOptions(checkpoint=ckpt, phi=phi, device="cpu",
                                        variants=("untrimmed", "trimmed"))).analyze(clip)
    open_and_wait(window, clip)
    qtbot.waitUntil(lambda: window.session.sha256 is not None, timeout=60000)
    window.avh.state.analysis = analysis
    window.seek(0.8)
    qtbot.waitUntil(lambda: window.frame_index == 20, timeout=30000)
    viewer = window.snapshot_data("n")
    result = json.loads(json.dumps(analysis.to_dict()))
    cli = build_snapshot_data(clip, window.session.time_s, note="n", result=result,
                              result_name="r.json", version=viewer.version)
    assert [c.name for c in viewer.curves] == [c.name for c in cli.curves]
    for a, b in zip(viewer.curves, cli.curves, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
        np.testing.assert_allclose(a.times, b.times)
        assert a.threshold == pytest.approx(b.threshold)
    assert viewer.segments == cli.segments and viewer.extra_lines == cli.extra_lines
    assert [line for line in provenance_lines(viewer) if "Result" not in line and "Made" not in line] \
        == [line for line in provenance_lines(cli) if "Result" not in line and "Made" not in line]
    # both show the mouth crop the model saw (the analysis, then its cache), at the same box
    assert cli.mouth_note == frames.NOTE_ANALYSIS == viewer.mouth_note
    np.testing.assert_array_equal(viewer.mouth, cli.mouth)
    np.testing.assert_array_equal(viewer.mouth, analysis.roi_gray[20])
    assert viewer.face_box == pytest.approx(cli.face_box)
    assert viewer.silence.leading_silence_ms == pytest.approx(cli.silence.leading_silence_ms)


def test_legend_keeps_every_entry_and_long_curves_keep_their_range(gui_app) -> None:
    from forensics_gui.core.evidence.snapshot import Curve
    from forensics_gui.ui.snapshot import column_ranges, legend_items, snapshot_layout

    times = np.arange(0, 3, 0.04)
    names = ["Mouth-voice mismatch", "Mouth-voice mismatch (leading silence removed)",
             "Second detector (trained on fakes)",
             "Second detector (trained on fakes), leading silence removed"]
    curves = [Curve(n, times, np.sin(times), "#00ff00", 0.5, n.split(" (")[0]) for n in names]
    one, four = snapshot_layout(_data(_frame())), snapshot_layout(_data(_frame(), curves=curves))
    assert [t for _, _, t in legend_items(_data(_frame(), curves=curves))][-4:] == names
    assert four.legend.height() > one.legend.height()  # a second row, nothing dropped
    assert len(four.curves) == 2  # one lane per detector, each with its own value axis
    assert four.curves[0].top() > four.legend.bottom()
    # few points per pixel: drawn as they are; many: each column's lowest and highest value
    assert column_ranges(np.arange(10.0), np.zeros(10)) is None
    xs = np.repeat(np.arange(5.0), 4) + np.tile([0.0, 0.2, 0.5, 0.9], 5)
    ys = np.arange(20.0)
    x, lo, hi = column_ranges(xs, ys)  # type: ignore[misc]
    np.testing.assert_array_equal(x, np.arange(5) + 0.5)
    np.testing.assert_array_equal(lo, [0, 3, 7, 11, 15])  # joined to the previous column's last
    np.testing.assert_array_equal(hi, [3, 7, 11, 15, 19])


def test_a_cut_short_file_says_so_on_the_picture(gui_app, tmp_path) -> None:
    from forensics_gui.core.evidence.snapshot import build_snapshot_data
    from forensics_gui.core.media.integrity import check_integrity
    from forensics_gui.testing.synth import make_clip, truncate_file

    whole = make_clip(tmp_path / "whole.mkv", duration_s=3.0, width=160, height=120, face=False,
                      pattern=True).path
    cut = truncate_file(whole, tmp_path / "cut.mkv", 0.35)
    data = build_snapshot_data(cut, 0.2, face=False, groundtruth=None)
    sentence = check_integrity(cut).sentence
    assert sentence.startswith("This file is damaged or cut short")
    assert data.warnings == [sentence]
    assert build_snapshot_data(whole, 0.2, face=False, groundtruth=None).warnings == []
