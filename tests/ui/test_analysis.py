"""The AVH-Align analysis in the viewer: run from the GUI action with tiny random-weight models,
curves/regions/ROI/face box/summary, cancel, missing weights, CUDA OOM fallback, ground-truth
lanes, exports and the snapshot strip."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

DIM = 32
CURVE_RGB = (0x4F, 0xA3, 0xFF)  # untrimmed curve colour (curves.VARIANT_COLOURS)


@pytest.fixture(scope="module")
def avh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight models installed under the registry names, a 2 s talking-face clip and
    a cache shared by the module (the first analysis fills it; later ones only re-score)."""
    from forensics_gui.testing.checkpoints import write_fake_avhubert_checkpoint
    from forensics_gui.testing.phi import write_published_phi
    from forensics_gui.testing.synth import make_clip

    d = tmp_path_factory.mktemp("avh")
    models = d / "models"
    models.mkdir()
    write_fake_avhubert_checkpoint(models / "self_large_vox_433h.pt", layers=1, dim=DIM, heads=2, ffn=64)
    write_published_phi(models / "AVH-Align_AV1M.pt", visual_dim=DIM, audio_dim=DIM)
    clip = make_clip(d / "clips" / "talk.mkv", duration_s=2.0, leading_silence_ms=50,
                     width=224, height=224).path
    return {"models": models, "clip": clip, "cache": d / "cache", "root": d}


@pytest.fixture(autouse=True)
def _models_env(avh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(avh["models"]))
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(avh["cache"]))


@pytest.fixture(scope="module")
def prepare_process():  # type: ignore[no-untyped-def]
    """ONE face-tracking child process for the whole module (spawning one costs 1-2 s)."""
    from forensics_gui.core.subprocess_prepare import PrepareProcess

    proc = PrepareProcess()
    yield proc
    proc.shutdown()
    assert not proc.is_alive()


@pytest.fixture
def window(window, prepare_process):  # type: ignore[no-untyped-def]
    """The main window, analysing with the module's shared child process (not owned: the
    window's shutdown leaves it running for the next test)."""
    window.avh.runner.prepare_process.shutdown()  # its own, never started
    window.avh.runner.prepare_process, window.avh.runner.owns_prepare_process = prepare_process, False
    return window


def _analyse(qtbot, window, timeout: int = 90000):  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.avh.analysis_finished, timeout=timeout) as blocker:
        window.avh.analyze_action.trigger()
        assert window.avh.runner.worker is not None, window.last_error
    return blocker.args[0]


def _grab_rgb(widget) -> np.ndarray:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage

    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w] \
        .reshape(h, w, 3).copy()


def _qimage_rgb(img) -> np.ndarray:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w] \
        .reshape(h, w, 3).copy()


@pytest.mark.slow
def test_analyze_and_cancel_are_enabled_only_when_they_apply(qtbot, window, avh,
                                                             open_and_wait) -> None:
    """Analyze used to stay enabled while running (a second click only wrote to the status bar)
    and Export scores before any analysis (it opened an error box)."""
    a = window.avh
    open_and_wait(window, avh["clip"])
    assert a.analyze_action.isEnabled() and not a.cancel_action.isEnabled()
    with qtbot.waitSignal(a.analysis_finished, timeout=90000):
        assert a.analyze()
        assert not a.analyze_action.isEnabled() and not a.analyze_button.isEnabled()
        assert a.cancel_action.isEnabled() and a.progress.cancel_button.isEnabled()
        assert not a.export_scores_action.isEnabled()
    assert a.analyze_action.isEnabled() and a.analyze_button.isEnabled()
    assert not a.cancel_action.isEnabled()
    assert a.export_scores_action.isEnabled() and a.export_segments_action.isEnabled()
    # The legend appears with the curves (and only then).
    assert a.curves._legend.isVisible()


def test_analyze_action_draws_curves_segments_roi_face_box_and_summary(
        qtbot, window, avh, open_and_wait, monkeypatch, tmp_path) -> None:
    from forensics_gui.core.alignment import scoring
    from forensics_gui.core.evidence import snapshot as evidence
    from forensics_gui.ui import snapshot as snap

    # Random weights give a flat-ish curve: use the median as the segment threshold so the
    # suspicious-segment path is exercised with real regions.
    monkeypatch.setattr(scoring, "robust_threshold", lambda s, k=3.0: float(np.median(s)))
    open_and_wait(window, avh["clip"])
    window.avh.trimmed_action.setChecked(True)
    partials: list[tuple[str, str]] = []
    window.avh.curves.ensure_plots()
    orig = window.avh.curves.set_result
    monkeypatch.setattr(window.avh.curves, "set_result",
                        lambda k, v, r: (partials.append((k, v)), orig(k, v, r)))
    analysis = _analyse(qtbot, window)
    assert partials[:2] == [("unsupervised", "untrimmed"), ("unsupervised", "trimmed")]
    # with the model files, mouth and voice come with the full analysis (its own lane and
    # summary section; no missing-model line)
    assert analysis.lipsync is not None and window.avh.lipsync.result is analysis.lipsync
    assert window.avh.summary.lipsync_texts()[0] == "\n".join(analysis.lipsync.readings)
    assert not window.avh.models_notice.isVisible()
    assert window.avh.exports.snapshot_result()["mouth_and_voice"]["readings"]
    assert not window.avh.progress.isVisible()
    for variant in ("untrimmed", "trimmed"):
        res = analysis.scores[variant]
        x, y = window.avh.curves.curve_items[("unsupervised", variant)].getData()
        np.testing.assert_allclose(x, res.times_s)
        np.testing.assert_allclose(y, res.frame_scores, rtol=1e-6)
        regions = [r.getRegion() for r in window.avh.curves.segment_regions[variant]]
        assert regions == [pytest.approx((s, e)) for s, e in res.suspicious_segments]
        assert all(not r.movable for r in window.avh.curves.segment_regions[variant])
        assert window.avh.curves.threshold_lines[variant].value() == pytest.approx(res.threshold)
    main = analysis.scores["untrimmed"]
    assert main.suspicious_segments, "the median threshold must give at least one segment"
    assert x[0] == pytest.approx(0.08)  # trimmed curve: 50 ms silence drops 2 frames, shifted back
    # The setting is remembered.
    assert str(window.settings.qsettings.value("analysis/also_trimmed")).lower() == "true"

    # Seek: the ROI preview shows the crop of model frame 25 pixel for pixel, the face box follows.
    window.avh.seek(1.0)
    qtbot.waitUntil(lambda: window.avh.roi_preview.index == 25, timeout=30000)
    rgb = _grab_rgb(window.avh.roi_preview)
    rect = window.avh.roi_preview.image_rect()
    rows, cols = np.meshgrid(np.arange(0, 96, 7), np.arange(0, 96, 7), indexing="ij")
    shown = rgb[rect.top() + 2 * rows, rect.left() + 2 * cols, 0].astype(int)
    expected = analysis.roi_gray[25][rows, cols].astype(int)
    assert np.abs(shown - expected).max() <= 1
    assert not np.array_equal(analysis.roi_gray[25], analysis.roi_gray[0])
    assert window.video_view.face_box == pytest.approx(tuple(analysis.face.face_boxes[25]))
    assert not window.video_view.face_box_rect().isEmpty()
    assert "frame 25" in window.avh.curves.readout_at(1.0)
    assert f"{main.frame_scores[25]:.3f}" in window.avh.curves.readout_at(1.0)
    # Hovering the fakeness lane shows the read-out; clicking it seeks.
    lane = window.timeline.plots.index(window.avh.curves.plot)
    pos = window.timeline.scene_pos_for_time(1.0, plot_index=lane)
    window.timeline.graphics.scene().sigMouseMoved.emit(pos)
    assert "frame 25" in window.avh.curves.hover_text
    assert window.timeline.seek_at_scene_pos(window.timeline.scene_pos_for_time(1.2, plot_index=lane))
    qtbot.waitUntil(lambda: abs(window.session.time_s - 1.2) < 0.02, timeout=30000)
    # A frame where the detector missed the face: the ROI preview and the face box say so.
    analysis.face.detected[35] = False
    window.avh.seek(1.41)
    assert window.avh.roi_preview.index == 35 and window.avh.roi_preview.face_marker_shown()
    assert window.video_view.face_detected is False
    window.avh.seek(1.0)
    assert not window.avh.roi_preview.face_marker_shown() and window.video_view.face_detected

    # Summary: score, honest verdict, clickable segments that seek.
    summary = window.avh.summary
    assert f"{main.video_score:.3f}" in summary.score_label.text()
    assert "relative" in summary.verdict_label.text()
    assert summary.segment_starts() == pytest.approx([s for s, _ in main.suspicious_segments])
    summary.segments_list.itemClicked.emit(summary.segments_list.item(0))
    assert window.session.time_s == pytest.approx(main.suspicious_segments[0][0])
    assert "self_large_vox_433h.pt" in summary.models_label.text()

    # Exports: CSV rows, JSON, Audacity labels.
    out_csv = window.avh.exports.export_frame_scores(tmp_path / "scores.csv")
    rows_ = list(csv.DictReader(out_csv.open()))
    untrimmed = [r for r in rows_ if r["variant"] == "untrimmed" and r["kind"] == "unsupervised"]
    assert len(untrimmed) == main.num_frames == 50
    assert float(untrimmed[10]["score"]) == pytest.approx(float(main.frame_scores[10]), rel=1e-6)
    assert float(untrimmed[10]["time_s"]) == pytest.approx(0.4)
    in_seg = [int(r["suspicious"]) for r in untrimmed]
    s0, e0 = main.suspicious_segments[0]
    assert in_seg[int(round(s0 * 25))] == 1 and sum(in_seg) == sum(
        int(round((e - s) * 25)) for s, e in main.suspicious_segments)
    trimmed_rows = [r for r in rows_ if r["variant"] == "trimmed"]
    assert trimmed_rows[0]["frame"] == "2"
    data = json.loads(window.avh.exports.export_frame_scores(tmp_path / "scores.json").read_text())
    assert data["frame_scores"] == pytest.approx(main.frame_scores.tolist(), rel=1e-6)
    labels = window.avh.exports.export_segments(tmp_path / "labels.txt").read_text().splitlines()
    expected_labels = sorted(
        [f"{s:.6f}\t{e:.6f}\tsuspicious ({v})" for v, r in analysis.scores.items()
         for s, e in r.suspicious_segments], key=lambda line: float(line.split("\t")[0]))
    assert sorted(labels) == sorted(expected_labels)

    # The screenshot has the curve strips (curve colour pixels) and the video score in the caption.
    data_snap = window.snapshot_data()
    assert [c.name for c in data_snap.curves][:2] == [
        "Mouth-voice mismatch", "Mouth-voice mismatch (leading silence removed)"]
    np.testing.assert_allclose(data_snap.curves[0].values, main.frame_scores, rtol=1e-6)  # true scale
    assert data_snap.curves[0].threshold == pytest.approx(main.threshold)
    assert data_snap.segments == [tuple(s) for s in main.suspicious_segments]
    assert any(f"Video score (Mouth-voice mismatch): {main.video_score:.3f}" in line
               for line in evidence.caption_lines(data_snap))
    img = _qimage_rgb(snap.render_snapshot(data_snap))
    strip = snap.snapshot_layout(data_snap).curves[0]
    area = img[strip.top(): strip.bottom(), strip.left(): strip.right()].astype(int)
    hits = np.all(np.abs(area - np.array(CURVE_RGB)) <= 10, axis=-1).sum()
    assert hits > 200


def test_failed_analysis_says_why_in_every_panel(qtbot, window, open_and_wait, tmp_path,
                                                  monkeypatch) -> None:
    """A clip without a face: the curve lane, the mouth-crop preview and the summary all show
    the reason; nothing suggests an analysis is still to come."""
    from forensics_gui.testing.synth import make_clip

    monkeypatch.setattr(window, "show_error", lambda *a: None)  # no modal box in the test
    clip = make_clip(tmp_path / "noface.mkv", duration_s=1.0, face=False, width=160, height=120).path
    open_and_wait(window, clip)
    assert window.avh.analyze()
    qtbot.waitUntil(lambda: window.avh.runner.worker is None, timeout=60000)
    assert "No face was found" in window.avh.roi_preview.notice
    assert "No face was found" in window.avh.summary.status_label.text()
    assert window.avh.roi_preview.pixels is None


def test_cancel_during_landmarks_stops_the_worker(qtbot, window, avh, open_and_wait, tmp_path,
                                                  monkeypatch, prepare_process) -> None:
    import multiprocessing

    from forensics_gui.core import subprocess_prepare

    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "empty-cache"))  # no cached ROI
    # The child must stop by itself, however slow the machine: no terminate after the grace.
    monkeypatch.setattr(subprocess_prepare, "CANCEL_GRACE_S", 60.0)
    open_and_wait(window, avh["clip"])
    clicked: list[str] = []
    after_click: list[str] = []

    def on_progress(_token: int, stage: str, *rest: float) -> None:
        if clicked:
            after_click.append(stage)
        elif stage == "landmarks":
            clicked.append(stage)
            window.avh.progress.cancel_button.click()

    assert window.avh.analyze()
    worker = window.avh.runner.worker
    worker.progressed.connect(on_progress)
    with qtbot.waitSignal(worker.cancelled, timeout=60000):
        pass
    # Stopped during the face tracking: none of the model stages that follow it ran.
    assert clicked and not {"video front end", "encoder", "scoring"} & set(after_click)
    assert worker.wait(30000) and not worker.isRunning()
    assert window.avh.curves.curve_items == {}
    assert window.avh.state.analysis is None
    assert "cancelled" in window.avh.summary.status_label.text().lower()
    assert not window.avh.progress.isVisible()
    # The landmarks ran in the child, which stopped at its next cancellation check and stays
    # for the next analysis; no other process is left behind.
    assert worker.prepare_process is prepare_process and prepare_process.is_alive()
    assert [c.pid for c in multiprocessing.active_children()] == [prepare_process.pid]


@pytest.mark.slow
def test_child_process_gives_the_same_curves_as_in_thread(qtbot, window, avh, open_and_wait,
                                                          tmp_path, monkeypatch) -> None:
    """Face tracking in the child process and in the worker thread: same ROI, same curves."""
    open_and_wait(window, avh["clip"])
    runs = {}
    for label, child in (("child", True), ("thread", False)):
        monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / f"cache-{label}"))  # all stages
        process = window.avh.runner.prepare_process
        if not child:
            window.avh.runner.prepare_process = None
        analysis = _analyse(qtbot, window)
        worker = window.avh.runner.retired[-1]
        assert worker.used_child_process is child
        window.avh.runner.prepare_process = process
        runs[label] = analysis
    a, b = runs["child"], runs["thread"]
    np.testing.assert_array_equal(a.roi_gray, b.roi_gray)
    np.testing.assert_array_equal(a.face.landmarks, b.face.landmarks)
    np.testing.assert_array_equal(a.scores["untrimmed"].frame_scores, b.scores["untrimmed"].frame_scores)
    assert a.sha256 == b.sha256 and a.caveats == b.caveats and len(a.roi_gray) == 50


@pytest.mark.slow
def test_analysis_falls_back_to_the_worker_thread_without_a_child_process(
        qtbot, window, avh, open_and_wait, monkeypatch) -> None:
    from forensics_gui.core import subprocess_prepare as sp

    monkeypatch.setattr(sp, "child_process_supported", lambda: False)  # e.g. a frozen build
    window.avh.runner.prepare_process = sp.PrepareProcess()
    open_and_wait(window, avh["clip"])
    analysis = _analyse(qtbot, window)
    assert window.avh.runner.retired[-1].used_child_process is False
    assert analysis.main is not None and not window.avh.runner.prepare_process.is_alive()


def test_window_shutdown_stops_its_own_child_process(qtbot, window, avh, open_and_wait,
                                                     tmp_path, monkeypatch) -> None:
    import os

    from forensics_gui.core.errors import Cancelled
    from forensics_gui.core.subprocess_prepare import PrepareProcess
    from forensics_gui.ui.worker_base import CancelFlag

    own = PrepareProcess()
    window.avh.runner.prepare_process, window.avh.runner.owns_prepare_process = own, True
    # A job cancelled before it starts still starts the child (the app's first analysis does).
    flag = CancelFlag()
    flag.cancel()
    with pytest.raises(Cancelled):
        own.prepare(avh["clip"], window.avh.options(), progress=flag)
    pid = own.pid
    assert pid is not None and own.is_alive()
    window.shutdown()
    assert not own.is_alive()
    with pytest.raises(ProcessLookupError):  # reaped: the pid no longer exists
        os.kill(pid, 0)


@pytest.mark.slow
def test_missing_weights_still_draw_mouth_and_voice_and_say_so_in_one_line(
        qtbot, window, avh, open_and_wait, tmp_path, monkeypatch) -> None:
    from forensics_gui.core.models.registry import describe_missing_models
    from forensics_gui.ui.avh.views import MODELS_NOTICE

    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "no-models"))
    open_and_wait(window, avh["clip"])
    avh_views = window.avh
    window.avh.analyze_action.trigger()
    guidance = describe_missing_models()
    assert "self_large_vox_433h.pt" in guidance
    # no box over the evidence: the model-free part runs in the background, with Cancel
    assert window.avh.missing_box is None
    assert avh_views.runner.worker is not None and avh_views.cancel_action.isEnabled()
    notice = avh_views.models_notice
    assert notice.isVisible() and notice.label.text() == MODELS_NOTICE
    assert guidance in notice.label.toolTip()
    qtbot.waitUntil(lambda: not avh_views.runner.running and avh_views.lipsync.result is not None,
                    timeout=90000)
    # the lane is drawn under the sound lane, and no AVH-Align lane was made for nothing
    names = [str(p.vb.name) for p in window.timeline.plots]
    assert names[:2] == ["waveform", "mouth and voice"] and "fakeness" not in names
    x, y = avh_views.lipsync.plotted()["mouth"]
    assert len(x) == len(avh_views.lipsync.result.times_s) + 1 and np.nanmax(y) == pytest.approx(1.0)
    assert MODELS_NOTICE in avh_views.summary.status_label.text()
    assert avh_views.summary.lipsync_texts()[0]  # the plain readings, in their own section
    assert avh_views.state.analysis is None  # nothing scored: the score exports stay off
    assert not avh_views.export_scores_action.isEnabled()
    # Everything else keeps working: stepping frames moves the playhead.
    window.step(3)
    assert window.session.time_s == pytest.approx(0.12)
    # The line's button opens the Models dialog with the same guidance.
    notice.button.click()
    dialog = window.avh.models_dialog
    assert dialog.isVisible() and dialog.guidance_label.text() == guidance
    assert dialog.cell(0, 3) == "missing"
    dialog.close()
    # the exported picture holds the lane (its section alone: nothing was scored)
    from forensics_gui.core.evidence.snapshot import SnapshotData, apply_result

    result = avh_views.exports.snapshot_result()
    assert result is not None and "variants" not in result and result["mouth_and_voice"]
    data = SnapshotData(frame=None, time_s=0.0, file_name="talk.mkv", sha256="", version="",
                        window=(0.0, 2.0))
    apply_result(data, result)
    assert data.lipsync is not None and not data.curves
    assert np.isfinite(data.lipsync.loudness).all() and np.nanmax(data.lipsync.mouth) == 1.0


def test_cuda_out_of_memory_retries_on_the_cpu(qtbot, window, avh, open_and_wait, monkeypatch) -> None:
    import torch

    from forensics_gui.core.pipeline import Analyzer
    from forensics_gui.ui.avh.workers import CPU_FALLBACK_NOTE, is_out_of_memory

    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    devices: list[str] = []
    original = Analyzer.finish  # the model part runs in the worker thread (prepare in the child)

    def finish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        devices.append(self.options.device)
        if self.options.device != "cpu":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory.")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Analyzer, "finish", finish)
    open_and_wait(window, avh["clip"])
    analysis = _analyse(qtbot, window)
    assert devices == ["auto", "cpu"]
    assert analysis.caveats[0] == CPU_FALLBACK_NOTE
    assert "CPU" in window.avh.summary.status_label.text()
    assert CPU_FALLBACK_NOTE in window.avh.summary.caveats_label.text()
    assert ("unsupervised", "untrimmed") in window.avh.curves.curve_items


def test_groundtruth_lanes_from_sidecar_lavdf_and_fakeavceleb(qtbot, window, tmp_path,
                                                             open_and_wait) -> None:
    from forensics_gui.testing.synth import make_clip

    clip = make_clip(tmp_path / "gt" / "fake1.mkv", duration_s=1.0, fps=25, width=96, height=64,
                     face=False, pattern=True).path
    (clip.parent / "fake1.json").write_text(json.dumps({
        "file": "fake1.mkv", "modify_type": "both-modified", "fake_segments": [[0.2, 0.5]],
        "audio_fake_segments": [[0.2, 0.5]], "visual_fake_segments": [[0.3, 0.7]]}))
    with qtbot.waitSignal(window.avh.groundtruth_loaded, timeout=10000):
        open_and_wait(window, clip)
    lanes = window.avh.gt_lanes
    assert lanes.spans("audio") == [pytest.approx((0.2, 0.5))]
    assert lanes.spans("visual") == [pytest.approx((0.3, 0.7))]
    assert lanes.spans("both") == [pytest.approx((0.2, 0.5))]
    assert lanes.plot in window.timeline.plots

    lavdf = tmp_path / "metadata.min.json"
    lavdf.write_text(json.dumps([{"file": "train/fake1.mkv", "n_fakes": 1, "fake_periods": [[0.1, 0.4]],
                                  "duration": 1.0, "modify_video": False, "modify_audio": True}]))
    with qtbot.waitSignal(window.avh.groundtruth_loaded, timeout=10000):
        window.avh.load_groundtruth_file(lavdf)
    assert lanes.spans("audio") == [pytest.approx((0.1, 0.4))]
    assert lanes.spans("visual") == []

    favc = tmp_path / "meta_data.csv"
    favc.write_text("source,target1,target2,method,category,type,race,gender,path\n"
                    "id0,-,-,real,A,RealVideo-FakeAudio,x,y,fake1.mkv\n")
    with qtbot.waitSignal(window.avh.groundtruth_loaded, timeout=10000):
        window.avh.load_groundtruth_file(favc)
    assert lanes.spans("audio") == [pytest.approx((0.0, window.session.duration_s))]
    assert lanes.spans("visual") == [] and "whole clip" in lanes.labels["audio"].toPlainText()


def test_curve_panel_regions_threshold_sync_and_no_face_ticks(qtbot) -> None:
    from forensics_gui.core.alignment.scoring import ScoreResult
    from forensics_gui.core.pipeline import FaceTrack
    from forensics_gui.ui.curves import CurvePanel
    from forensics_gui.ui.timeline import Timeline

    tl = Timeline()
    qtbot.addWidget(tl)
    tl.set_clip(2.0)
    panel = CurvePanel(tl)
    t = np.arange(50) / 25.0
    scores = np.sin(t * 3).astype(np.float32)
    res = ScoreResult(scores, 1.5, "lse", [(0.4, 0.8), (1.2, 1.6)], 0.5, "unsupervised", "ab",
                      np.arange(50, dtype=np.int32) % 5 - 2, np.full(50, 0.3, np.float32))
    panel.set_result("unsupervised", "untrimmed", res)
    assert [r.getRegion() for r in panel.segment_regions["untrimmed"]] == [
        pytest.approx((0.4, 0.8)), pytest.approx((1.2, 1.6))]
    assert panel.threshold_lines["untrimmed"].value() == pytest.approx(0.5)
    sx, sy = panel.sync_items["untrimmed"].getData()
    np.testing.assert_array_equal(sy, res.sync_offset_frames)
    detected = np.ones(50, bool)
    detected[[3, 4, 40]] = False
    panel.set_face_track(FaceTrack(t, np.zeros((50, 68, 2)), np.zeros((50, 4)), detected, True))
    tx, ty = panel.no_face_ticks.getData()
    np.testing.assert_allclose(tx, t[[3, 4, 40]] + 0.02)
    assert np.all(ty < scores.min())
    assert "sound delay +0 ms" in panel.readout_at(0.08)  # frame 2: 2 % 5 - 2 = 0
    assert "sound delay +40 ms" in panel.readout_at(0.12)  # frame 3: one 40 ms frame
    panel.clear()
    assert panel.curve_items == {} and panel.segment_regions == {}
    assert panel.no_face_ticks.getData()[0].size == 0


def test_models_dialog_lists_installed_models_and_opens_folder(qtbot, avh, tmp_path, monkeypatch) -> None:
    import hashlib

    from PySide6.QtGui import QDesktopServices

    from forensics_gui.ui.models_dialog import ModelsDialog

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "cache"))
    from forensics_gui.ui.models_dialog import COMPUTING

    dialog = ModelsDialog()  # empty digest cache: the table comes first, the hashes follow
    qtbot.addWidget(dialog)
    names = [dialog.cell(r, 0) for r in range(dialog.table.rowCount())]
    row = names.index("self_large_vox_433h.pt")
    assert dialog.cell(row, 2) == COMPUTING and dialog.hashing
    digest = hashlib.sha256((avh["models"] / "self_large_vox_433h.pt").read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: not dialog.hashing, timeout=10000)
    assert dialog.cell(row, 2) == digest
    assert dialog.cell(row, 3).startswith("present: ")
    assert dialog.cell(names.index("AVH-Align_AV1M.pt"), 3).startswith("present: ")
    assert dialog.guidance_label.text() == "All default models are installed."
    monkeypatch.setenv("FORENSICS_GUI_MODELS", str(tmp_path / "fresh" / "models"))
    dialog.refresh()
    assert "self_large_vox_433h.pt" in dialog.guidance_label.text()
    assert not dialog.hashing and dialog.cell(row, 2) == "—"  # nothing installed: nothing to hash
    assert dialog.open_models_folder()
    assert opened == [str(tmp_path / "fresh" / "models")] and Path(opened[0]).is_dir()


def test_snapshot_command_draws_curves_from_result_json(qapp, clips, tmp_path) -> None:
    import argparse

    from PySide6.QtGui import QImage

    from forensics_gui.commands import snapshot as cmd
    from forensics_gui.core.evidence import snapshot as evidence
    from forensics_gui.ui import snapshot as snap

    t = (np.arange(50) / 25.0).tolist()
    scores = np.cos(np.arange(50) / 5.0).tolist()
    result = {"frame_scores": scores, "times_s": t, "video_score": 4.25, "pool": "lse",
              "variants": {"untrimmed": {"frame_scores": scores, "times_s": t, "video_score": 4.25,
                                         "pool": "lse"}}}
    (tmp_path / "r.json").write_text(json.dumps(result))
    out = tmp_path / "s.png"
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    args = parser.parse_args([str(clips["av"].path), "--at", "1.0", "-o", str(out),
                              "--result", str(tmp_path / "r.json")])
    assert cmd.run(args) == 0
    curves, lines = evidence.curves_from_result(result)
    assert len(curves) == 1
    np.testing.assert_allclose(curves[0].values, scores)  # the true scale, not 0..1
    assert any("4.250" in line for line in lines)
    img = _qimage_rgb(QImage(str(out)))
    # The lane sits under the waveform: find curve-coloured pixels in it.
    data = evidence.build_snapshot_data(clips["av"].path, 1.0, result=result, result_name="r.json")
    strip = snap.snapshot_layout(data).curves[0]
    assert img.shape[0] == snap.snapshot_layout(data).size[1]
    area = img[strip.top(): strip.bottom(), strip.left(): strip.right()].astype(int)
    assert np.all(np.abs(area - np.array(CURVE_RGB)) <= 10, axis=-1).sum() > 200
    from forensics_gui.core.errors import ForensicsError

    with pytest.raises(ForensicsError, match="not an analysis result"):
        (tmp_path / "bad.json").write_text("[1, 2]")
        cmd.run(parser.parse_args([str(clips["av"].path), "--at", "1.0", "-o", str(out),
                                   "--result", str(tmp_path / "bad.json")]))


def test_export_helpers_write_audacity_lines_atomically(tmp_path) -> None:
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.results.exports import audacity_label_lines, write_audacity_labels

    assert audacity_label_lines([(0.5, 1.25)], "fake\tpart") == ["0.500000\t1.250000\tfake part"]
    out = write_audacity_labels([(0.5, 1.25), (2.0, 2.2)], tmp_path / "l.txt")
    assert out.read_text() == "0.500000\t1.250000\tsuspicious\n2.000000\t2.200000\tsuspicious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["l.txt"]  # no temporary file left behind
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ForensicsError, match="Could not write"):
        write_audacity_labels([(0, 1)], blocker / "sub" / "l.txt")


def test_supervised_curve_and_reference_percentile(qtbot, window, avh, open_and_wait, tmp_path) -> None:
    from forensics_gui.testing.phi import write_supervised_phi

    sup = write_supervised_phi(tmp_path / "sup.pt", visual_dim=DIM, audio_dim=DIM)
    window.avh.set_supervised_checkpoint(sup)
    assert window.settings.qsettings.value("analysis/supervised_checkpoint") == str(sup)
    open_and_wait(window, avh["clip"])
    analysis = _analyse(qtbot, window)
    res = analysis.supervised["untrimmed"]
    item = window.avh.curves.curve_items[("supervised", "untrimmed")]
    assert item in window.avh.curves.supervised_plot.items
    np.testing.assert_allclose(item.getData()[1], res.frame_scores, rtol=1e-6)
    assert "Second detector (trained on fakes)" in window.avh.summary.score_label.text()
    # A reference folder holding this same clip: its score equals the clip's, so none is lower;
    # the comparison is per frame (log-mean-exp), and says how few references there were.
    from forensics_gui.ui.summary_panel import comparable_score

    ref = tmp_path / "real"
    ref.mkdir()
    shutil.copy(avh["clip"], ref / "real1.mkv")
    assert window.avh.set_reference_folder(ref)
    qtbot.waitUntil(lambda: window.avh.state.reference is not None, timeout=60000)
    reference = window.avh.state.reference
    assert reference.scores == [pytest.approx(comparable_score(analysis.main), rel=1e-5)]
    assert reference.durations_s == [pytest.approx(analysis.main.num_frames / 25)]
    verdict = window.avh.summary.verdict_label.text()
    assert "not higher than that of the one real reference clip (2.0 s long)" in verdict
    assert "With only 1 reference clip this is a rough comparison" in verdict


def test_face_box_overlay_is_red_dashed_when_the_face_was_not_detected(qtbot) -> None:
    from forensics_gui.ui.player import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(320, 240)
    view.set_frame(np.full((120, 160, 3), 40, np.uint8))
    view.set_face_box((40.0, 20.0, 120.0, 100.0), detected=False)
    rect = view.face_box_rect()
    assert (rect.left(), rect.top(), rect.width(), rect.height()) == pytest.approx((80, 40, 160, 160))
    rgb = _grab_rgb(view)
    edge = rgb[int(rect.top()) - 1: int(rect.top()) + 2, int(rect.left()): int(rect.right())]
    red = np.all(np.abs(edge.astype(int) - np.array((0xFF, 0x5C, 0x5C))) <= 12, axis=-1)
    assert 0.2 < red.mean() < 0.95  # dashed: red with gaps
    view.set_face_box(None)
    assert view.face_box_rect().isEmpty()


def test_big_metadata_is_parsed_in_a_child_process(qtbot, tmp_path, monkeypatch) -> None:
    from forensics_gui.ui import groundtruth_worker as gw

    monkeypatch.setattr(gw, "CHILD_MIN_BYTES", 0)  # treat every metadata file as big
    meta = tmp_path / "metadata.json"
    meta.write_text(json.dumps([{"file": "a/x.mp4", "modify_type": "visual_modified",
                                 "fake_segments": [[1.0, 1.5]]},
                                {"file": "a/y.mp4", "modify_type": "real", "fake_segments": []}]))
    video = tmp_path / "a" / "x.mp4"
    worker = gw.GroundTruthWorker(7, "find", str(video))
    with qtbot.waitSignal(worker.finished, timeout=30000) as blocker:
        worker.start()
    assert worker.wait(30000) and worker.used_child
    token, (gt, _source, _note) = blocker.args
    assert token == 7 and gt.file == "a/x.mp4" and gt.visual_segments == [(1.0, 1.5)]
    assert gt.audio_segments == [] and gt.label == "fake"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    worker = gw.GroundTruthWorker(8, "lookup", str(video), str(bad))
    with qtbot.waitSignal(worker.failed, timeout=30000) as blocker:
        worker.start()
    assert worker.wait(30000) and "bad.json" in blocker.args[1]
