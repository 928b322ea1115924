"""What the AVH-Align analysis of the viewer knows, without widgets or threads.

:class:`AvhState` holds the last analysis and the clip token it belongs to, the reference scores,
and the settings the next run uses (variants, mouth-crop preparation, supervised checkpoint,
reference folder, encoder precision), stored in the viewer's QSettings; :meth:`AvhState.options` turns them into
the core's AnalysisOptions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from forensics_gui.core.errors import CheckpointError
from forensics_gui.ui.summary_panel import ReferenceScores

KEY_TRIMMED = "analysis/also_trimmed"
KEY_FAST_LANDMARKS = "analysis/fast_landmarks"  # the "fast" mouth-crop preparation (off: official)
KEY_SUPERVISED = "analysis/supervised_checkpoint"
KEY_REFERENCE = "analysis/reference_folder"
KEY_PRECISION = "analysis/precision"  # the encoder's: "float32" (exact, default), "bfloat16", "float16"


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


class AvhState:
    """The analysis side's state for one window (see the module docstring).

    ``analysis``: the last ClipAnalysis, of the clip whose token is ``analysis_token`` (None when
    the open clip has none); ``reference``: the scores of the reference folder, if any.
    """

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings
        self.analysis: Any = None
        self.analysis_token: int | None = None
        self.analysis_signature: tuple[Any, ...] | None = None
        self.reference: ReferenceScores | None = None

    # -- results ----------------------------------------------------------------------------
    def set_analysis(self, analysis: Any, token: int | None,
                     signature: tuple[Any, ...] | None = None) -> None:
        """``analysis`` (a ClipAnalysis, or None to forget it) of the clip with ``token``, made
        with the options whose :meth:`signature` is ``signature``."""
        self.analysis, self.analysis_token = analysis, (token if analysis is not None else None)
        self.analysis_signature = signature if analysis is not None else None

    def signature(self, phi: Path | None = None) -> tuple[Any, ...]:
        """What the next analysis's result depends on among the viewer's options: the variants
        (leading silence removed or not), the mouth-crop preparation, the supervised checkpoint,
        the alignment network (``phi``: the one chosen in Tools > Train…, None = the installed
        default), the pooling and the encoder precision. The display tau is not in it: it
        changes no curve."""
        chosen = str(phi) if phi is not None and Path(phi).is_file() else ""
        sup = self.supervised_checkpoint()
        return (self.variants(), self.preparation(), str(sup) if sup else "", chosen, self.pool,
                self.precision)

    def is_stale(self, phi: Path | None = None) -> bool:
        """True when an analysis is shown and an option it depends on has changed since."""
        return (self.analysis is not None and self.analysis_signature is not None
                and self.analysis_signature != self.signature(phi))

    # -- settings ---------------------------------------------------------------------------
    @property
    def also_trimmed(self) -> bool:
        """Score the leading-silence-trimmed variant too."""
        return _as_bool(self.settings.value(KEY_TRIMMED, False))

    @also_trimmed.setter
    def also_trimmed(self, on: bool) -> None:
        self.settings.setValue(KEY_TRIMMED, bool(on))

    @property
    def fast_landmarks(self) -> bool:
        """Prepare the mouth crop with the fast tracker instead of the official landmarks."""
        return _as_bool(self.settings.value(KEY_FAST_LANDMARKS, False))

    @fast_landmarks.setter
    def fast_landmarks(self, on: bool) -> None:
        self.settings.setValue(KEY_FAST_LANDMARKS, bool(on))

    @property
    def precision(self) -> str:
        """The encoder precision the next analysis uses ("float32", the exact default; a stored
        value that is not a precision reads as float32)."""
        from forensics_gui.core.encoder.devices import precision_name
        from forensics_gui.core.errors import ForensicsError

        try:
            return precision_name(str(self.settings.value(KEY_PRECISION, "float32") or "float32"))
        except ForensicsError:
            return "float32"

    @precision.setter
    def precision(self, name: str) -> None:
        from forensics_gui.core.encoder.devices import precision_name

        self.settings.setValue(KEY_PRECISION, precision_name(name))

    pool = "lse"
    """The video-score pooling the viewer's analyses use (the published AVH-Align rule)."""

    def variants(self) -> tuple[str, ...]:
        return ("untrimmed", "trimmed") if self.also_trimmed else ("untrimmed",)

    def preparation(self) -> str:
        """The mouth-crop preparation the next analysis uses: "official" or "fast"."""
        return "fast" if self.fast_landmarks else "official"

    def supervised_checkpoint(self) -> Path | None:
        value = self.settings.value(KEY_SUPERVISED, "")
        return Path(str(value)) if value else None

    def set_supervised_checkpoint(self, path: str | os.PathLike[str] | None) -> None:
        """Score with this supervised Phi too (None: stop); remembered in the settings."""
        self.settings.setValue(KEY_SUPERVISED, str(path) if path else "")

    def reference_folder(self) -> str:
        """The folder of real videos last chosen as the reference ("" when none)."""
        return str(self.settings.value(KEY_REFERENCE, "") or "")

    def set_reference_folder(self, folder: str | os.PathLike[str] | None) -> None:
        self.settings.setValue(KEY_REFERENCE, str(folder) if folder else "")

    def options(self, threshold: float, phi: Path | None = None, *,
                require_models: bool = True) -> Any:
        """AnalysisOptions with the installed models resolved (raises CheckpointError).

        ``threshold``: the silence threshold shown (the session's tau); ``phi``: the alignment
        network chosen in Tools > Train… (None or a missing file: the installed default).
        ``require_models`` False: the options of the model-free part only (face track, mouth and
        voice), with no model resolved and nothing raised.
        """
        from forensics_gui.core.pipeline import AnalysisOptions, resolve_models

        sup = self.supervised_checkpoint()
        if not require_models:
            return AnalysisOptions(variants=self.variants(), pool=self.pool,
                                   silence_threshold=threshold, preparation=self.preparation(),
                                   precision=self.precision)
        opts = AnalysisOptions(supervised=sup, variants=self.variants(), pool=self.pool,
                               phi=phi if phi is not None and Path(phi).is_file() else None,
                               silence_threshold=threshold, preparation=self.preparation(),
                               precision=self.precision)
        if sup is not None and not sup.is_file():
            raise CheckpointError(f"The supervised checkpoint {sup} no longer exists; choose another "
                                  "one in Analysis > Supervised checkpoint… or clear it.")
        ckpt, phi_path = resolve_models(opts)
        opts.checkpoint, opts.phi = ckpt, phi_path
        return opts
