"""File > Export frame scores / suspicious segments of the AVH-Align analysis, and the curve
strips and caption lines the annotated screenshot shows of it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.evidence import snapshot as snap
from forensics_gui.ui.avh.state import AvhState
from forensics_gui.ui.curves import CurvePanel, GroundTruthLanes, curve_colour
from forensics_gui.ui.window_api import WindowApi


class AvhExports:
    """Writes the last analysis (``state.analysis``) to files, with the dialogs of the File menu
    entries (:meth:`on_export_scores`, :meth:`on_export_segments`); :meth:`snapshot_curves` for
    the screenshot reads the lanes as drawn."""

    def __init__(self, window: WindowApi, state: AvhState, curves: CurvePanel,
                 gt_lanes: GroundTruthLanes) -> None:
        self.window, self.state, self.curves, self.gt_lanes = window, state, curves, gt_lanes

    def _require_analysis(self) -> bool:
        if self.state.analysis is None:
            self.window.show_error("Nothing to export", "Run Analysis > Analyze (Ctrl+R) first.")
            return False
        return True

    def export_frame_scores(self, path: str | os.PathLike[str]) -> Path:
        """CSV or JSON by the file suffix (.json = JSON, anything else = CSV)."""
        from forensics_gui.core.results import exports

        if str(path).lower().endswith(".json"):
            out = exports.write_frame_scores_json(self.state.analysis, path)
        else:
            out = exports.write_frame_scores_csv(self.state.analysis, path)
        self.window.status(f"Saved {out}", 10000)
        return out

    def export_segments(self, path: str | os.PathLike[str]) -> Path:
        from forensics_gui.core.results import exports

        out = exports.write_analysis_labels(self.state.analysis, path)
        self.window.status(f"Saved {out}", 10000)
        return out

    def _save_dialog(self, title: str, suffix: str, filters: str) -> str:
        stem = Path(self.window.session.info.path).stem
        default = Path(self.window.settings.last_folder()) / f"{stem}_{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window.as_widget(), title, str(default), filters)
        return path

    def on_export_scores(self) -> None:
        if not self._require_analysis():
            return
        path = self._save_dialog("Export frame scores", "scores.csv",
                                 "CSV (*.csv);;JSON (*.json)")
        if path:
            try:
                self.export_frame_scores(path)
            except ForensicsError as err:
                self.window.show_error("Cannot export the scores", str(err))

    def on_export_segments(self) -> None:
        if not self._require_analysis():
            return
        path = self._save_dialog("Export suspicious segments", "segments.txt",
                                 "Audacity labels (*.txt);;All files (*)")
        if path:
            try:
                self.export_segments(path)
            except ForensicsError as err:
                self.window.show_error("Cannot export the segments", str(err))

    # -- screenshot --------------------------------------------------------------------------
    def snapshot_curves(self, duration_s: float) -> tuple[list[snap.Curve], list[str]]:
        """Curve strips (each normalised to 0..1) and caption lines for the screenshot."""
        curves: list[snap.Curve] = []
        lines: list[str] = []
        for (kind, variant), res in self.curves.results.items():
            name = variant if kind != "supervised" else f"supervised {variant}"
            curve, rng = snap.fakeness_strip(name, res.times_s, res.frame_scores,
                                             curve_colour(kind, variant))
            curves.append(curve)
            lines.append(f"Curve {name}: {rng} drawn as 0..1; video score {res.video_score:.3f} "
                         f"({res.pool})")
        gt = self.gt_lanes.groundtruth
        if gt is not None and any(self.gt_lanes.regions.values()):
            times = np.linspace(0.0, max(duration_s, 1e-3), 4000)
            curves.append(snap.Curve("ground truth: manipulated (1) / not (0)", times,
                                     self.gt_lanes.fake_mask(times), "#ff5c5c"))
            lines.append(f"Ground truth: {gt.label or 'unknown'} ({gt.source_format})")
        analysis = self.state.analysis
        if analysis is not None:
            for m in analysis.models:
                lines.append(f"Model {m.get('role', '')}: {m.get('name', '')} "
                             f"sha256 {str(m.get('sha256', ''))[:16]}")
            if getattr(analysis, "preparation", None):
                lines.append(snap.preparation_line(analysis.preparation))
        return curves, lines
