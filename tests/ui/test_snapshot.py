"""The annotated screenshot: frame pixels, caption, headless CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def gui_app(qapp):  # type: ignore[no-untyped-def]
    return qapp


def _qimage_rgb(img) -> np.ndarray:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def _data(frame: np.ndarray | None, **kw):  # type: ignore[no-untyped-def]
    from forensics_gui.core.evidence.snapshot import SnapshotData, waveform_window
    from forensics_gui.core.media.waveform import PeakPyramid

    sr = 16000
    x = np.sin(np.arange(sr * 3) / 10).astype(np.float32) * 0.5
    x[:480] = 0
    window = waveform_window(1.0, 3.0)
    env = PeakPyramid(x, sr).envelope(*window, 1248)
    silence = type("S", (), {"leading_silence_ms": 30.0, "threshold": 0.0005})()
    defaults = dict(frame=frame, time_s=1.0, frame_index=25, file_name="clip.mp4",
                    sha256="ab" * 32, version="9.9", created="2026-01-01 00:00:00 UTC",
                    envelope=env, window=window, silence=silence, note="first line\nsecond")
    defaults.update(kw)
    return SnapshotData(**defaults)


def test_render_contains_frame_pixels_and_caption(gui_app) -> None:
    from forensics_gui.core.evidence.snapshot import caption_lines
    from forensics_gui.ui.snapshot import render_snapshot, snapshot_layout

    rng = np.random.default_rng(1)
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:60] = (200, 30, 40)
    frame[60:] = (20, 180, 220)
    frame[10:20, 10:20] = rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)
    data = _data(frame)
    img = render_snapshot(data)
    lay = snapshot_layout(data)
    assert (img.width(), img.height()) == lay.size
    rgb = _qimage_rgb(img)
    fr = lay.frame
    assert (fr.width(), fr.height()) == (160, 120)  # drawn 1:1, not upscaled
    shown = rgb[fr.top(): fr.top() + 120, fr.left(): fr.left() + 160]
    assert np.abs(shown.astype(int) - frame.astype(int)).max() <= 2
    # the caption block holds text: many pixels differ from its background
    cap = lay.caption
    block = rgb[cap.top(): cap.bottom(), cap.left(): cap.right()]
    assert (np.abs(block.astype(int) - block[2, 2].astype(int)).sum(axis=2) > 60).mean() > 0.01
    lines = caption_lines(data)
    assert lines[0] == "File: clip.mp4"
    assert "SHA-256: " + "ab" * 32 in lines
    assert any("00:00:01.000" in s and "frame 25" in s for s in lines)
    assert any("30.0 ms at tau 0.0005" in s for s in lines)
    assert any("9.9" in s for s in lines) and "Note: first line" in lines
    # the waveform strip has the playhead colour at the current time
    wave = lay.wave
    strip = rgb[wave.top() + 20: wave.bottom() - 20, wave.left(): wave.right()]
    red = (strip[..., 0] > 220) & (strip[..., 1] < 120) & (strip[..., 2] < 120)
    cols = np.nonzero(red.any(axis=0))[0]
    t0, t1 = data.window
    expect_x = (data.time_s - t0) / (t1 - t0) * wave.width()
    assert cols.size and abs(np.median(cols) - expect_x) <= 2


def test_render_curve_strip(gui_app) -> None:
    from forensics_gui.core.evidence.snapshot import Curve
    from forensics_gui.ui.snapshot import render_snapshot, snapshot_layout

    times = np.arange(0, 3, 0.04)
    data = _data(np.zeros((20, 20, 3), np.uint8),
                 curves=[Curve("fakeness", times, np.full_like(times, 0.5), "#00ff00")])
    lay = snapshot_layout(data)
    assert len(lay.curves) == 1 and lay.curves[0].top() > lay.wave.bottom()
    assert lay.caption.top() > lay.curves[0].bottom()
    rgb = _qimage_rgb(render_snapshot(data))
    r = lay.curves[0]
    row = r.bottom() - 4 - int(0.5 * (r.height() - 8))
    green = rgb[row - 2: row + 3, r.left() + 5: r.right() - 5, 1]
    assert (green.max(axis=0) > 200).mean() > 0.9  # the curve spans the strip at half height


def test_render_without_frame_or_audio(gui_app) -> None:
    from forensics_gui.core.evidence.snapshot import caption_lines
    from forensics_gui.ui.snapshot import render_snapshot

    data = _data(None, envelope=None, silence=None, silence_note="no audio stream",
                 frame_notice="No video stream")
    img = render_snapshot(data)
    assert not img.isNull()
    assert "Leading silence: no audio stream" in caption_lines(data)


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


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-m", "forensics_gui", "snapshot", *args],
                          capture_output=True, text=True, env=env, timeout=120)


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
    # frame 12 (0.5 s at 25 fps) is drawn 1:1, centred, at the top
    x0 = (1280 - 160) // 2
    assert decode_pattern_index(rgb[16:136, x0:x0 + 160]) == 12


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
    import hashlib
    import json

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
