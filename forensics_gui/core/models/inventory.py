"""The known models and their state on this machine (``forensics-gui models list``).

Each registry entry (``registry.json``) is "missing", "present" (found, but the registry has no
SHA-256 to check it against), "recorded" (the registry has no SHA-256, but the file's digest is the
one recorded when it was first downloaded, :mod:`forensics_gui.core.models.fetch`: consistent, not
verified), "verified" (its SHA-256 is the registry's) or "unknown file" (found under the entry's
name with another SHA-256 than the registry's or the recorded one). Model files in the user models folder that no
entry names are listed too: "verified" when their digest is an entry's (a renamed copy), else
"unknown file". Nothing is downloaded or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forensics_gui.core.files import paths
from forensics_gui.core.files.hashing import sha256_of
from forensics_gui.core.models import registry as models_registry
from forensics_gui.core.progress import Progress, check_cancelled

MISSING = "missing"
PRESENT = "present"
RECORDED = "recorded"
VERIFIED = "verified"
UNKNOWN_FILE = "unknown file"

MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")
_NOT_MODELS = (".resume.pt",)  # training resume states (see core.training.resume_path)


@dataclass(frozen=True)
class ModelEntry:
    """One row of ``models list``.

    ``kind``/``role``/``registry_sha256`` come from the registry ("" / None for a file it does
    not name); ``sha256`` is None when missing or not hashed (``hash_files=False``).
    """

    name: str
    kind: str
    role: str
    state: str
    path: Path | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    registry_sha256: str | None = None
    matches: str = ""  # the registry entry a renamed file's digest matches
    recorded_sha256: str | None = None  # digest recorded at its first download (no registry one)
    partial_bytes: int = 0  # an unfinished download waiting in the partial area
    can_fetch: bool = False  # the registry has a download address for it

    @property
    def detail(self) -> str:
        """One sentence on the state, for people."""
        if self.state == MISSING:
            if self.partial_bytes:
                return (f"not installed; {self.partial_bytes / 1e6:,.1f} MB of an interrupted "
                        "download kept: fetch resumes it")
            return "not installed"
        where = f"at {self.path}"
        if self.state == RECORDED:
            return (f"{where}; SHA-256 matches the one recorded at its first download (the "
                    "registry has none to verify it against)")
        if self.state == VERIFIED:
            also = f" (a copy of {self.matches})" if self.matches and self.matches != self.name else ""
            return f"{where}; SHA-256 matches the registry{also}"
        if self.state == UNKNOWN_FILE:
            if self.registry_sha256:
                return f"{where}; SHA-256 differs from the registry's, so it is not the known file"
            if self.recorded_sha256:
                return (f"{where}; SHA-256 differs from the one recorded at its first download, "
                        "so it is not that file")
            return f"{where}; not in the registry"
        if self.sha256 is None:
            return f"{where}; SHA-256 not computed yet"
        return f"{where}; not verifiable: the registry has no SHA-256 for it"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "role": self.role, "state": self.state,
                "path": str(self.path) if self.path else None, "size_bytes": self.size_bytes,
                "sha256": self.sha256, "registry_sha256": self.registry_sha256,
                "matches": self.matches or None, "recorded_sha256": self.recorded_sha256,
                "partial_bytes": self.partial_bytes, "can_fetch": self.can_fetch,
                "detail": self.detail}


def _located(name: str) -> Path | None:
    return next((d / name for d in paths.model_search_dirs() if (d / name).is_file()), None)


def unregistered_files() -> list[Path]:
    """Model files (.pt, .pth, .ckpt) in the user models folder that no registry entry names."""
    folder = paths.user_models_dir()
    if not folder.is_dir():
        return []
    known = {m.name for m in models_registry.known_models()}
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES and p.name not in known
                  and not p.name.startswith(".") and not p.name.endswith(_NOT_MODELS))


def list_models(progress: Progress | None = None, hash_files: bool = True) -> list[ModelEntry]:
    """Registry entries (defaults first), then unregistered files in the user models folder.

    Digests come from :func:`~forensics_gui.core.files.hashing.sha256_of` (cached by path, size
    and time; ``progress`` sees ("hash", bytes, total) of each file read). With
    ``hash_files=False`` nothing is read and a found file is "present".
    """
    from forensics_gui.core.models.fetch import partial_bytes, recorded_digests

    known = models_registry.known_models()
    by_digest = {m.sha256.lower(): m.name for m in known if m.sha256}
    records = recorded_digests()
    rows: list[ModelEntry] = []
    for model in known:
        check_cancelled(progress)
        path = _located(model.name)
        recorded = None if model.sha256 else \
            str(records[model.name]["sha256"]).lower() if model.name in records else None
        if path is None:
            rows.append(ModelEntry(model.name, model.kind, model.role, MISSING,
                                   registry_sha256=model.sha256, recorded_sha256=recorded,
                                   partial_bytes=partial_bytes(model.name),
                                   can_fetch=bool(model.url)))
            continue
        sha = sha256_of(path, progress=progress) if hash_files else None
        expected = model.sha256 or recorded
        if sha is None or not expected:
            state = PRESENT
        elif sha.lower() != expected.lower():
            state = UNKNOWN_FILE
        else:
            state = VERIFIED if model.sha256 else RECORDED
        rows.append(ModelEntry(model.name, model.kind, model.role, state, path,
                               path.stat().st_size, sha, model.sha256,
                               model.name if state == VERIFIED else "", recorded,
                               can_fetch=bool(model.url)))
    for path in unregistered_files():
        check_cancelled(progress)
        sha = sha256_of(path, progress=progress) if hash_files else None
        match = by_digest.get(sha.lower(), "") if sha else ""
        entry = next((m for m in known if m.name == match), None)
        rows.append(ModelEntry(path.name, entry.kind if entry else "", entry.role if entry else "",
                               VERIFIED if match else UNKNOWN_FILE, path, path.stat().st_size,
                               sha, entry.sha256 if entry else None, match))
    return rows
