"""The viewer on real X screens of 1024x600, 1280x720 and 1600x1000 (Xvfb), after an analysis.

Each size runs the viewer in a child process (tests/ui/x11_probe.py) that opens without a given
size, opens a generated talking-face clip with ground truth, runs AVH-Align with tiny
random-weight models, reports where things are on the screen (JSON) and saves the real X
framebuffer; where openbox is installed (``packaging/install.sh --test`` installs it) it frames
the window as a desktop would. The checks are what a user would see: the window inside the
screen, the time axis, status bar, progress and Cancel on screen and apart, lanes that do not
overlap (five of them at 1024x600) and a curve lane that grows with the splitter, legends above
the data, the read-out inside the lane, the wheel zooming time only, Reset zoom, tables whose
heading is not drawn over a row, no label cut short, and the curve's colour inside the curve
lane of the screenshot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PROBE = Path(__file__).with_name("x11_probe.py")
SIZES = [(1024, 600), (1280, 720), (1600, 1000)]
FIVE_LANES = (1024, 600)  # the smallest screen also gets the supervised detector's lane
DIM = 32
CURVE_RGB = (0x4F, 0xA3, 0xFF)  # the untrimmed curve (curves.VARIANT_COLOURS)
TRIMMED_RGB = (0xFF, 0x9F, 0x43)
PLAYHEAD_RGB = (0xFF, 0x5C, 0x5C)  # theme.PLAYHEAD
MOUTH_RGB = (0xF4, 0xD3, 0x5E)  # the mouth opening (lipsync_lane.MOUTH_COLOUR)
CHILD_TIMEOUT_S = 600  # bounds a hang only


@pytest.fixture(scope="module")
def x11_setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models, a 3 s talking-face clip with AV-Deepfake1M ground truth beside it, and a
    features cache shared by the three screens (the first run fills it)."""
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi
    from forensics_gui.testing.synth import make_clip
    from forensics_gui.testing.xvfb import require_xvfb

    require_xvfb()
    d = tmp_path_factory.mktemp("x11")
    models = d / "models"
    models.mkdir()
    write_fake_avhubert_checkpoint(models / "self_large_vox_433h.pt", layers=1, dim=DIM, heads=2, ffn=64)
    write_published_phi(models / "AVH-Align_AV1M.pt", visual_dim=DIM, audio_dim=DIM)
    clip = d / "clips" / "interview.mp4"
    make_clip(clip, duration_s=3.0, leading_silence_ms=30, width=320, height=240,
              sample_rate=48000, seed=3)
    clip.with_suffix(".json").write_text(json.dumps({
        "file": clip.name, "modify_type": "both_modified", "fake_segments": [[1.2, 2.0]],
        "audio_fake_segments": [[1.2, 2.0]], "visual_fake_segments": [[1.2, 2.0]],
        "video_frames": 75, "audio_frames": 144000}))
    return {"root": d, "models": models, "clip": clip, "cache": d / "cache"}


def _run_probe(setup: dict[str, Path], width: int, height: int) -> tuple[dict[str, Any], np.ndarray]:
    from forensics_gui.testing.xvfb import x_env, xvfb

    root = setup["root"]
    shot = root / f"screen_{width}x{height}.png"
    config = root / f"probe_{width}x{height}.json"
    config.write_text(json.dumps({
        "env": {"FORENSICS_GUI_SETTINGS": str(root / f"settings_{width}x{height}.ini"),
                "FORENSICS_GUI_DATA": str(root / "data"), "FORENSICS_GUI_CACHE": str(setup["cache"]),
                "FORENSICS_GUI_MODELS": str(setup["models"])},
        "clip": str(setup["clip"]), "screenshot": str(shot), "at_s": 1.5, "drag_px": 120,
        "supervised": str(setup["models"] / "AVH-Align_AV1M.pt") if (width, height) == FIVE_LANES
        else ""}))
    with xvfb(width, height) as display, _window_manager(display) as managed:
        if managed:
            data = json.loads(config.read_text())
            config.write_text(json.dumps({**data, "window_manager": True}))
        proc = subprocess.run([sys.executable, str(PROBE), str(config)], env=x_env(display),
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, _read_rgb(shot)


@contextmanager
def _window_manager(display: str) -> Iterator[bool]:
    """Openbox on ``display`` when it is installed (the window then gets a real frame and title
    bar that must fit the screen too); False, and no window manager, where it is not."""
    from forensics_gui.testing.xvfb import stop_process, x_env

    exe = shutil.which("openbox")
    if exe is None:
        yield False
        return
    proc = subprocess.Popen([exe, "--sm-disable"], env=x_env(display), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield True
    finally:
        stop_process(proc)


def _read_rgb(path: Path) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w] \
        .reshape(h, w, 3).copy()


def _inside(inner: list[int], outer: list[int], slack: int = 0) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return (x >= ox - slack and y >= oy - slack and x + w <= ox + ow + slack
            and y + h <= oy + oh + slack)


def _overlap(a: list[int], b: list[int]) -> bool:
    return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3]
            and b[1] < a[1] + a[3])


def _colour_pixels(rgb: np.ndarray, rect: list[int], colour: tuple[int, int, int],
                   tol: int = 12) -> int:
    x, y, w, h = rect
    part = rgb[max(0, y): y + h, max(0, x): x + w].astype(int)
    return int(np.all(np.abs(part - np.array(colour)) <= tol, axis=-1).sum())


@pytest.fixture(scope="module")
def screens(x11_setup: dict[str, Path]) -> dict[tuple[int, int], tuple[dict[str, Any], np.ndarray]]:
    return {size: _run_probe(x11_setup, *size) for size in SIZES}


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_window_fits_and_nothing_overlaps(screens, size) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.curves import FAKENESS_MIN_PX

    r, rgb = screens[size]
    screen = r["available"]
    assert r["screenshot_size"] == list(size) and screen[2:] == list(size)
    # the window, framed (by openbox where it is installed), inside the available screen; its
    # minimum fits the smallest screen
    assert r.get("framed", True), "the window manager never framed the window"
    assert _inside(r["frame"], screen), (r["frame"], screen)
    assert r["minimum"][0] <= size[0] and r["minimum"][1] <= size[1], r["minimum"]
    if size[0] < 1500:  # docks in tabs: the layout a 1024x600 screen gets
        assert r["minimum"][0] <= 1024 and r["minimum"][1] <= 600, r["minimum"]
    window = r["geometry"]
    # time axis, status bar, progress strip and Cancel: on screen, inside the window, apart
    for key in ("time_axis", "status_bar", "reset_zoom_button"):
        assert _inside(r[key], screen) and _inside(r[key], window, slack=1), (key, r[key], window)
    assert not _overlap(r["time_axis"], r["status_bar"])
    assert not _overlap(r["reset_zoom_button"], r["status_bar"])
    assert r["reset_zoom_button_visible"] and r["reset_zoom_text"] == "Reset zoom"
    running = r["running"]
    assert running, "the progress strip never showed while the analysis ran"
    assert running["cancel_visible"]
    for key in ("progress", "cancel", "bar"):
        assert _inside(running[key], screen) and _inside(running[key], running["status_bar"], slack=1), key
    # the video, the transport and the timeline do not overlap; the docks are on screen
    for a, b in (("video", "transport"), ("transport", "timeline"), ("video", "timeline")):
        assert not _overlap(r[a], r[b]), (a, b)
    assert _inside(r["docks"]["analysisDock"]["rect"], screen, slack=1)
    # lanes: inside the plot area, one under the other, none overlapping the next
    lanes = r["lanes"]
    assert list(lanes) == ["waveform", "mouth and voice", "fakeness", "sync", "ground truth"] + (
        ["supervised"] if size == FIVE_LANES else [])
    tops = [lanes[name] for name in lanes]
    for upper, lower in zip(tops, tops[1:], strict=False):
        assert upper[1] + upper[3] <= lower[1] + 1, (upper, lower)
    for lane in tops:
        assert _inside(lane, r["graphics"], slack=1) and _inside(lane, screen)
    assert tops[-1][1] + tops[-1][3] <= r["time_axis"][1] + 3  # the axis under the last lane
    assert r["lane_heights_before"]["fakeness"] >= FAKENESS_MIN_PX - 3


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_legends_read_outs_and_tables_do_not_cover_data(screens, size) -> None:  # type: ignore[no-untyped-def]
    from forensics_gui.ui.curves import LEGEND_ROW_PX, curve_label

    r, _rgb = screens[size]
    lanes = r["lanes"]
    assert r["legend_visible"] and r["legend"] in r["legends"]
    assert len(r["legends"]) == (2 if size == FIVE_LANES else 1)
    for legend in r["legends"]:
        for name, lane in lanes.items():
            assert not _overlap(legend, lane), (name, legend, lane)
        assert _inside(legend, r["graphics"])
    for name, axis in r["axis_labels"].items():  # each lane's name whole, beside its own lane
        assert axis["text"] and _inside(axis["label"], axis["plot"], slack=1), (name, axis)
    assert r["threshold_labels_visible"] and not any(r["threshold_labels_visible"])  # in the legend
    words = r["lipsync_words"]  # mouth and voice: the legend beside the lane, on no lane's data
    for word, rect in words.items():
        assert _inside(rect, r["lipsync_plot"], slack=1), (word, rect)
        for name, lane in lanes.items():
            assert not _overlap(rect, lane), (word, name, rect, lane)
    assert words["mouth"][1] + words["mouth"][3] <= words["voice"][1] + 2
    lane = r["curve_lane"]
    lane_and_strip = [lane[0], lane[1] - LEGEND_ROW_PX, lane[2], lane[3] + LEGEND_ROW_PX]
    for readout in r["readouts"]:  # in the strip above the lane (legend aside) or wrapped in it
        assert readout["visible"] and curve_label("unsupervised", "untrimmed") in readout["text"]
        assert _inside(readout["rect"], lane_and_strip, slack=1), (readout, lane)
        if readout["legend_visible"]:
            assert not _overlap(readout["rect"], r["legend"]), readout
        if size == (1600, 1000):  # room for one line: no value written over the curves
            assert not _overlap(readout["rect"], lane) and not readout["legend_visible"], readout
    assert r["legend_back"]
    assert len(r["tables"]) == 2
    for table in r["tables"]:  # the heading above the rows, the last row wholly shown
        assert table["header"][1] + table["header"][3] <= table["viewport"][1]
        assert table["first_row_top"] >= 0
        assert table["last_row_bottom"] < table["viewport_height"], table
    assert r["cut_labels"] == []
    for name, dock in r["dock_contents"].items():  # nothing cut off on the right of a dock
        assert dock["content_width"] <= dock["viewport_width"], (name, dock)
        assert dock["content_min"] <= dock["viewport_width"], (name, dock)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_wheel_zooms_time_only_and_reset_zoom_restores(screens, size) -> None:  # type: ignore[no-untyped-def]
    r, _rgb = screens[size]
    before, zoomed, reset = r["ranges_before"], r["ranges_zoomed"], r["ranges_reset"]
    assert r["reset_zoom_shortcut"] == "Ctrl+0"
    for lane in before:
        (x0, x1), y = before[lane]
        (zx0, zx1), zy = zoomed[lane]
        assert zx1 - zx0 < 0.8 * (x1 - x0), lane  # the wheel zoomed in on time
        assert zy == pytest.approx(y), lane  # and left the amplitude alone
        assert reset[lane][0] == pytest.approx([0.0, 3.0], abs=1e-6)
        assert reset[lane][1] == pytest.approx(y), lane


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES[1:], ids=[f"{w}x{h}" for w, h in SIZES[1:]])
def test_the_curve_lane_grows_with_the_splitter(screens, size) -> None:  # type: ignore[no-untyped-def]
    # (at 1024x600 the video is already at its smallest: the splitter has no room to give)
    r, _rgb = screens[size]
    grown = r["lane_heights_after"]["fakeness"] - r["lane_heights_before"]["fakeness"]
    assert grown >= 30, (r["lane_heights_before"], r["lane_heights_after"])
    assert r["lane_heights_after"]["sync"] == pytest.approx(r["lane_heights_before"]["sync"])
    assert r["time_axis_after_drag"] == r["time_axis"]  # still on screen, where it was


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_screenshot_shows_the_curves_in_their_lane(screens, size) -> None:  # type: ignore[no-untyped-def]
    r, rgb = screens[size]
    lane = r["curve_lane"]
    assert _colour_pixels(rgb, lane, CURVE_RGB) + _colour_pixels(rgb, lane, TRIMMED_RGB) > 100
    assert _colour_pixels(rgb, lane, PLAYHEAD_RGB) > 10  # the playhead crosses the lane
    # the mouth opening is drawn in its lane under the sound lane
    assert _colour_pixels(rgb, r["lanes"]["mouth and voice"], MOUTH_RGB) > 50
    # nothing of the curve is drawn under the time axis or over the status bar
    assert _colour_pixels(rgb, r["status_bar"], TRIMMED_RGB) == 0
    below = [lane[0], r["time_axis"][1] + r["time_axis"][3], lane[2], 20]
    assert _colour_pixels(rgb, below, TRIMMED_RGB) == 0
