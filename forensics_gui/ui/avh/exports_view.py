"""File > Export frame scores / suspicious segments of the AVH-Align analysis, and the result
dict and ground truth the exported picture shows of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from forensics_gui.core.errors import ForensicsError
from forensics_gui.ui.avh.state import AvhState
from forensics_gui.ui.curves import CurvePanel, GroundTruthLanes
from forensics_gui.ui.window_api import WindowApi


class AvhExports:
    """Writes the last analysis (``state.analysis``) to files, with the dialogs of the File menu
    entries (:meth:`on_export_scores`, :meth:`on_export_segments`); :meth:`snapshot_result` and
    :meth:`snapshot_groundtruth` give the exported picture what the lanes show."""

    def __init__(self, window: WindowApi, state: AvhState, curves: CurvePanel,
                 gt_lanes: GroundTruthLanes, lipsync: Any = None) -> None:
        """``lipsync``: the mouth-and-voice lane (a LipSyncLane), whose result the picture and
        the report show too."""
        self.window, self.state, self.curves, self.gt_lanes = window, state, curves, gt_lanes
        self.lipsync = lipsync

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

    # -- the exported picture -------------------------------------------------------------------
    def snapshot_result(self) -> dict[str, Any] | None:
        """The analysis as the result dict the exported picture reads (the same dict an
        ``analyze`` RESULT.json holds, so the viewer's picture and ``snapshot --result`` come from
        one function, :func:`forensics_gui.core.evidence.snapshot.apply_result`): the last
        analysis, or, while one runs, the curves scored so far. The mouth-and-voice measures
        shown in their lane go in as the "mouth_and_voice" section (alone after a run without
        model files). None without any."""
        analysis = self.state.analysis
        if analysis is not None:
            out = dict(analysis.to_dict())
            self._add_lipsync(out)
            return out
        if not self.curves.results:
            lipsync: dict[str, Any] = {}
            self._add_lipsync(lipsync)
            if lipsync:
                lipsync["sha256"] = self.window.session.sha256
            return lipsync or None
        out = {"variants": {}, "supervised": {}}
        for (kind, variant), res in self.curves.results.items():
            out["supervised" if kind == "supervised" else "variants"][variant] = res.to_dict()
        main = out["variants"].get("untrimmed") or next(iter(out["variants"].values()), None)
        if main is not None:
            out["suspicious_segments"] = main.get("suspicious_segments", [])
        self._add_lipsync(out)
        return out

    def _add_lipsync(self, out: dict[str, Any]) -> None:
        """The lane's measures as the result's "mouth_and_voice" section (as ``analyze`` writes
        it), when the lane shows some and the dict has none yet."""
        result = getattr(self.lipsync, "result", None)
        if result is not None and not out.get("mouth_and_voice"):
            out["mouth_and_voice"] = result.to_dict()

    def snapshot_groundtruth(self) -> Any:
        """The ground truth drawn in the lanes (a core GroundTruth), or None."""
        return self.gt_lanes.groundtruth
