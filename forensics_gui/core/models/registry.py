"""Known model checkpoints (``registry.json``, shipped inside this package), finding installed
ones, and their SHA-256.

The registry is package data (``forensics_gui/core/models/registry.json``), found with
:mod:`importlib.resources`, so a wheel or a desktop bundle finds it as the source tree does.
Nothing is downloaded here: the user puts the files into a folder of
:func:`forensics_gui.core.files.paths.model_search_dirs`, or asks
:mod:`forensics_gui.core.models.fetch` to download one; :func:`describe_missing_models` says which
file, where to get it and where to put it. SHA-256 digests of installed files are cached (in memory and
in ``cache_dir()/model_sha256.json``) keyed by path, size and modification time, so the Models
dialog does not re-hash gigabytes each time it opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import CheckpointError, ForensicsError
from forensics_gui.core.files import paths
from forensics_gui.core.files.checks import read_json_file, require_regular_file
from forensics_gui.core.files.hashing import sha256_of

REGISTRY_FILE = Path(str(resources.files("forensics_gui.core.models") / "registry.json"))
"""The registry, as a file on disk (package data; tests point it elsewhere)."""


@dataclass(frozen=True)
class ModelInfo:
    """One known checkpoint. ``kind`` is ``"avhubert"`` or ``"phi"``; ``sha256`` may be None.

    ``url``: the official download address ("" when the file cannot be fetched directly);
    ``license_text``: what the user reads and accepts before a fetch; ``license_url``: the full
    licence.
    """

    name: str
    kind: str
    role: str
    description: str
    approx_size: str
    sha256: str | None
    license: str
    source: str
    url: str = ""
    license_url: str = ""
    license_text: str = ""


def known_models(kind: str | None = None) -> list[ModelInfo]:
    """Registry entries (defaults first), optionally only one ``kind``."""
    try:
        data = read_json_file(REGISTRY_FILE, "list of known models")
    except ForensicsError:
        return []
    fields = ModelInfo.__dataclass_fields__
    optional = ("url", "license_url", "license_text")  # "" when the entry has none
    models = [ModelInfo(**{k: (m.get(k) or "") if k in optional else m.get(k)  # type: ignore[arg-type]
                           for k in fields})
              for m in data.get("models", []) if isinstance(m, dict)]
    models = [m for m in models if kind is None or m.kind == kind]
    return sorted(models, key=lambda m: m.role != "default")


def _find(kind: str) -> Path | None:
    for folder in paths.model_search_dirs():
        for model in known_models(kind):
            candidate = folder / model.name
            if candidate.is_file():
                return candidate
    return None


def find_avhubert_checkpoint() -> Path | None:
    """The first registry AV-HuBERT checkpoint found (default model first, user folder first)."""
    return _find("avhubert")


def find_phi_checkpoint() -> Path | None:
    """The first registry Phi checkpoint found, else the newest ``phi*.pt`` in the user folder."""
    found = _find("phi")
    if found is not None:
        return found
    user = paths.user_models_dir()
    trained = sorted(user.glob("phi*.pt"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if user.is_dir() else []
    return trained[0] if trained else None


def _missing_sentence(kind: str, folder: Path) -> str:
    known = known_models(kind)
    if not known:  # an install whose package data is missing
        what = "AV-HuBERT checkpoint" if kind == "avhubert" else "alignment network Phi"
        return (f"The {what} is missing and the list of known models ({REGISTRY_FILE}) was not "
                f"found; see models/README.md in the forensics-gui sources and put the file into "
                f"{folder}.")
    m = known[0]
    licence = f"; its licence: {m.license}" if m.license else ""
    how = (f"fetch it with Help > Models > Fetch… (or 'forensics-gui models fetch {m.name}'), "
           "or " if m.url else "")
    if kind == "avhubert":
        return (f"The AV-HuBERT checkpoint is missing: {how}download {m.name} ({m.approx_size}) "
                f"from {m.source.rstrip('.')} and put it into {folder}{licence}.")
    return (f"The alignment network Phi is missing: {how}download {m.name} from "
            f"{m.source.rstrip('.')} and put it into {folder}, or train your own with "
            f"'forensics-gui train'{licence}.")


def describe_missing_models() -> str:
    """Plain guidance naming each missing default model, where to get it and where to put it."""
    folder = paths.user_models_dir()
    found = {"avhubert": find_avhubert_checkpoint(), "phi": find_phi_checkpoint()}
    return "\n".join(_missing_sentence(kind, folder) for kind, path in found.items() if path is None)


def require_checkpoint(kind: str, given: str | os.PathLike[str] | None = None) -> Path:
    """``given`` if set, else the installed checkpoint of ``kind`` ("avhubert" or "phi").

    Raises CheckpointError (one sentence): a ``given`` path that is not a file, or nothing
    installed (naming the file, where to get it and where to put it).
    """
    if given is not None:
        what = "AV-HuBERT checkpoint" if kind == "avhubert" else "Phi checkpoint"
        require_regular_file(given, what, CheckpointError)  # a FIFO would block the reader
        return Path(given)
    found = find_avhubert_checkpoint() if kind == "avhubert" else find_phi_checkpoint()
    if found is None:
        raise CheckpointError(_missing_sentence(kind, paths.user_models_dir()))
    return found


def installed_models() -> list[dict[str, Any]]:
    """Every registry model with its location (or None) and, when installed, size and SHA-256.

    ``sha256_matches`` is True/False when the registry knows a digest, None otherwise.
    """
    rows = []
    for model in known_models():
        location = next((d / model.name for d in paths.model_search_dirs()
                         if (d / model.name).is_file()), None)
        row: dict[str, Any] = {"model": model, "path": location, "size_bytes": None,
                               "sha256": None, "sha256_matches": None}
        if location is not None:
            row["size_bytes"] = location.stat().st_size
            row["sha256"] = sha256_of(location)
            if model.sha256:
                row["sha256_matches"] = row["sha256"] == model.sha256
        rows.append(row)
    return rows
