"""Audit a whole dataset for cheap cues that give its labels away (issue 14).

Qt-free. :func:`list_clips` -> :func:`run_audit` (per-clip :func:`clip_cues`, a resumable table)
-> :func:`summarise` (AUC of each cue alone, bootstrap interval, AUC-vs-tau/delta, detectors
untrimmed vs trimmed) -> :func:`write_report` (self-contained HTML + tables).
:func:`make_demo_corpus` writes an AV-Deepfake1M-like folder to try it on.
"""

from forensics_gui.core.audit.clips import ClipEntry, list_clips
from forensics_gui.core.audit.corpus import make_demo_corpus
from forensics_gui.core.audit.cues import CUE_COLUMNS, clip_cues
from forensics_gui.core.audit.report import write_report
from forensics_gui.core.audit.stats import AuditSummary, CueStat, DetectorRow, auc_ci, summarise
from forensics_gui.core.audit.table import AuditResult, local_map, read_table, run_audit

__all__ = [
    "CUE_COLUMNS", "AuditResult", "AuditSummary", "ClipEntry", "CueStat", "DetectorRow",
    "auc_ci", "clip_cues", "list_clips", "local_map", "make_demo_corpus", "read_table",
    "run_audit", "summarise", "write_report",
]
