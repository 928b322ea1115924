"""Mouth and voice: a classic audio-visual synchrony measure that needs no trained network.

See :mod:`forensics_gui.core.lipsync.measures` for the method, its rule and its references.
"""

from __future__ import annotations

from forensics_gui.core.lipsync.measures import (
    MAX_OFFSET_FRAMES,
    WINDOW_FRAMES,
    LipSyncResult,
    loudness_db,
    measure,
    measure_clip,
    mouth_opening,
)

__all__ = ["LipSyncResult", "measure", "measure_clip", "mouth_opening", "loudness_db",
           "MAX_OFFSET_FRAMES", "WINDOW_FRAMES"]
