"""What a model file is, read without running anything from it (``forensics-gui models check``).

:func:`inspect_model_file` hashes the file, reads it through the allow-listing AV-HuBERT reader
(:func:`~forensics_gui.core.encoder.avhubert.checkpoint.read_checkpoint`) and, for Phi and Lightning
files, :func:`~forensics_gui.core.alignment.phi.load_phi` (both data-only readers, never ``torch.load``), and
returns a :class:`ModelFileInfo`: kind, sizes, parameter count, stored precision, SHA-256, the
``models/registry.json`` entry it matches, and what it can serve as here. An AV-HuBERT encoder's
keys and shapes are checked exactly as the loader checks them, on meta tensors (no weights are
copied). :func:`compatibility` says whether a Phi can score a feature extractor's features.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.files.checks import require_regular_file
from forensics_gui.core.progress import Progress, check_cancelled

AVHUBERT_PRETRAINED = "avhubert_pretrained"
AVHUBERT_FINETUNED = "avhubert_finetuned"
PHI = "phi"
PHI_SUPERVISED = "phi_supervised"
UNKNOWN = "unknown"

KIND_LABELS = {
    AVHUBERT_PRETRAINED: "AV-HuBERT pretrained",
    AVHUBERT_FINETUNED: "AV-HuBERT fine-tuned",
    PHI: "AVH-Align Phi",
    PHI_SUPERVISED: "AVH-Align/sup supervised Phi",
    UNKNOWN: "not a model we know",
}

FEATURE_EXTRACTOR = "feature extractor"
SERVES_PHI = "Phi"
SERVES_SUPERVISED = "supervised Phi"

AVH_ALIGN_ENCODER = "self_large_vox_433h.pt"
"""The encoder whose features AVH-Align's published Phi was trained on."""

_PRECISION = {"float16": "fp16", "float32": "fp32", "bfloat16": "bf16", "float64": "fp64"}
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class RegistryMatch:
    """How a file relates to ``models/registry.json``.

    ``state``: "verified" (its SHA-256 is an entry's digest), "recorded" (named like an entry
    whose digest the registry does not know, and its SHA-256 is the one recorded when that entry
    was first downloaded), "not verifiable" (named like an entry whose digest the registry does
    not know, nothing recorded), "differs" (named like an entry, other digest than the
    registry's or, with ``against_recorded``, the recorded one) or "unknown" (no entry).
    ``entry``: the entry's name, or "".
    """

    state: str
    entry: str = ""
    against_recorded: bool = False

    @property
    def text(self) -> str:
        if self.state == "verified":
            return f"verified: SHA-256 matches {self.entry}"
        if self.state == "recorded":
            return (f"recorded: SHA-256 matches the one recorded at the first download of "
                    f"{self.entry} (the registry has none to verify it against)")
        if self.state == "not verifiable":
            return (f"not verifiable: named like {self.entry}, but the registry has no SHA-256 "
                    "for it")
        if self.state == "differs" and self.against_recorded:
            return (f"unknown file: named like {self.entry}, but its SHA-256 differs from the one "
                    "recorded at its first download")
        if self.state == "differs":
            return f"unknown file: named like {self.entry}, but its SHA-256 differs from the registry's"
        return "unknown file: no registry entry has this SHA-256"


@dataclass(frozen=True)
class ModelFileInfo:
    """What :func:`inspect_model_file` found. Dimensions are None where they do not apply.

    AV-HuBERT: ``embed_dim``, ``layers``, ``heads``, ``ffn_dim`` (features are ``embed_dim``-dim
    per 25 fps frame). Phi: ``input_dims`` (visual, audio), ``projection_dims`` (visual, audio;
    empty for the linear variant), ``hidden_dims`` (the MLP's widths), ``variant`` ("mlp" or
    "linear"). ``parameters``: numbers in the weights a model here would use (the encoder only,
    for a fine-tuned AV-HuBERT); ``stored_parameters``: all numbers in the file's weights.
    """

    path: Path
    size_bytes: int
    sha256: str
    kind: str
    size_name: str = ""
    embed_dim: int | None = None
    layers: int | None = None
    heads: int | None = None
    ffn_dim: int | None = None
    input_dims: tuple[int, int] | None = None
    projection_dims: tuple[int, ...] = ()
    hidden_dims: tuple[int, ...] = ()
    variant: str = ""
    parameters: int = 0
    stored_parameters: int = 0
    precision: str = ""
    registry: RegistryMatch = field(default_factory=lambda: RegistryMatch("unknown"))
    serves_as: tuple[str, ...] = ()
    not_usable_reason: str = ""
    trained_on_sha256: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def kind_label(self) -> str:
        label = KIND_LABELS[self.kind]
        return f"{label} ({self.variant} variant)" if self.kind == PHI_SUPERVISED else label

    @property
    def is_avhubert(self) -> bool:
        return self.kind in (AVHUBERT_PRETRAINED, AVHUBERT_FINETUNED)

    @property
    def is_phi(self) -> bool:
        return self.kind in (PHI, PHI_SUPERVISED)

    @property
    def feature_dim(self) -> int | None:
        """Features it gives (extractor) or expects (Phi, visual side), per frame."""
        if self.is_avhubert:
            return self.embed_dim
        return self.input_dims[0] if self.input_dims else None

    @property
    def sizes_text(self) -> str:
        if self.is_avhubert and self.embed_dim is not None:
            return (f"{self.size_name} (embed dim {self.embed_dim}, {self.layers} layers, "
                    f"{self.heads} heads, FFN {self.ffn_dim})")
        if self.is_phi and self.input_dims is not None:
            v, a = self.input_dims
            text = f"input features {v}-dim visual / {a}-dim audio"
            if self.projection_dims:
                text += f", projections {'/'.join(map(str, self.projection_dims))}"
            if self.hidden_dims:
                text += f", hidden {'/'.join(map(str, self.hidden_dims))}"
            return f"{self.size_name} ({text})" if self.size_name else text
        return "unknown"

    @property
    def parameters_text(self) -> str:
        if not self.stored_parameters:
            return "unknown"
        text = f"{self.parameters:,}"
        if self.parameters >= 1000:
            text += f" ({_millions(self.parameters)})"
        if self.stored_parameters != self.parameters:
            what = "in the encoder" if self.is_avhubert else "used"
            text += f" {what}, of {self.stored_parameters:,} stored"
        return text

    @property
    def serves_as_text(self) -> str:
        if not self.serves_as:
            return "nothing here" + (f": {self.not_usable_reason}" if self.not_usable_reason else "")
        dims = f" ({self.feature_dim}-dim features)" if self.feature_dim else ""
        return " and ".join(self.serves_as) + dims

    def summary(self) -> list[tuple[str, str]]:
        """(label, text) lines a person reads, in order (the CLI and the Models dialog)."""
        lines = [("file", f"{self.path} ({self.size_bytes / 1e6:.1f} MB)"),
                 ("kind", self.kind_label),
                 ("sizes", self.sizes_text),
                 ("parameters", self.parameters_text),
                 ("precision", self.precision or "unknown"),
                 ("sha256", self.sha256),
                 ("registry", self.registry.text),
                 ("can serve as", self.serves_as_text)]
        if self.trained_on_sha256:
            lines.append(("trained on", "features of AV-HuBERT "
                          + ", ".join(s[:12] for s in self.trained_on_sha256)))
        lines += [("note", note) for note in self.notes]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, plus ``kind_label``, ``registry.text`` and ``feature_dim``."""
        doc = asdict(self)
        doc["path"] = str(self.path)
        doc["kind_label"] = self.kind_label
        doc["registry"] = {**asdict(self.registry), "text": self.registry.text}
        doc["feature_dim"] = self.feature_dim
        for key in ("input_dims", "projection_dims", "hidden_dims", "serves_as",
                    "trained_on_sha256", "notes"):
            doc[key] = list(doc[key]) if doc[key] is not None else None
        return doc


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 100_000 else f"{n / 1e3:.1f} k"


def _precision(tensors: list[Any]) -> str:
    import torch

    counts = Counter(str(t.dtype).replace("torch.", "") for t in tensors
                     if torch.is_tensor(t) and torch.is_floating_point(t))
    names = [_PRECISION.get(name, name) for name, _ in counts.most_common()]
    if not names:
        return "unknown"
    return names[0] if len(names) == 1 else "mixed (" + ", ".join(names) + ")"


def _numel(tensors: list[Any]) -> int:
    import torch

    return int(sum(t.numel() for t in tensors if torch.is_tensor(t)))


def registry_match(path: Path, sha256: str) -> RegistryMatch:
    """The registry entry whose digest is ``sha256``, else what the file's name says."""
    from forensics_gui.core.models.fetch import recorded_sha256
    from forensics_gui.core.models.registry import known_models

    known = known_models()
    for model in known:
        if model.sha256 and model.sha256.lower() == sha256.lower():
            return RegistryMatch("verified", model.name)
    for model in known:
        if model.name == path.name:
            if model.sha256:
                return RegistryMatch("differs", model.name)
            recorded = recorded_sha256(model.name)
            if recorded is None:
                return RegistryMatch("not verifiable", model.name)
            if recorded == sha256.lower():
                return RegistryMatch("recorded", model.name)
            return RegistryMatch("differs", model.name, against_recorded=True)
    return RegistryMatch("unknown")


def inspect_model_file(path: str | Path, progress: Progress | None = None,
                       cached_sha256: bool = False) -> ModelFileInfo:
    """Say what the model file at ``path`` is, without running anything from it.

    Reports ("hash", bytes done, bytes total) then ("read", 0..1, 1); cancellable between hash
    blocks. ``cached_sha256``: reuse the digest cached by path, size and time
    (:func:`~forensics_gui.core.files.hashing.sha256_of`) instead of reading the file again.
    Raises :class:`CheckpointError` (one sentence) for a missing, empty, non-regular, unreadable
    or unsafe file; a readable checkpoint of another kind gives ``kind == "unknown"``.
    """
    from forensics_gui.core.encoder.avhubert.checkpoint import read_checkpoint
    from forensics_gui.core.files.hashing import sha256_file, sha256_of

    path = Path(path)
    size = require_regular_file(path, "model file", CheckpointError).st_size
    sha = sha256_of(path, progress=progress) if cached_sha256 else sha256_file(path, progress)
    check_cancelled(progress)
    if progress is not None:
        progress.report("read", 0, 1)
    base: dict[str, Any] = {"path": path, "size_bytes": size, "sha256": sha,
                            "registry": registry_match(path, sha)}
    try:
        data: dict[str, Any] | None = read_checkpoint(path)
        refused: CheckpointError | None = None
    except CheckpointError as err:
        data, refused = None, err
    if data is not None and _avhubert_keys(data.get("model")):
        fields = _avhubert_fields(data, f"'{path.name}'", size)
    elif data is None or _phi_keys(data.get("state_dict", data)):
        # load_phi checks the Phi layout (and reads with its own, stricter allow-list); a file
        # the AV-HuBERT reader refused gets that first refusal if load_phi cannot read it either.
        fields = _phi_fields(path, refused)
    else:
        fields = _unknown_fields(data)
    if progress is not None:
        progress.report("read", 1, 1)
    return ModelFileInfo(**base, **fields)


def _avhubert_keys(state: Any) -> bool:
    if not isinstance(state, Mapping):
        return False
    marks = ("feature_extractor_video.", "feature_extractor_audio.", "post_extract_proj.")
    return any(mark in str(k) for k in state for mark in marks)


def _phi_keys(state: Any) -> bool:
    if not isinstance(state, Mapping):
        return False
    names = ("visual_proj.weight", "head.weight", "mlp.0.weight")
    return any(str(k).removeprefix("model.").removeprefix("module.") in names for k in state)


def _avhubert_fields(data: Mapping[str, Any], label: str, file_size: int) -> dict[str, Any]:
    import torch

    from forensics_gui.core.encoder.avhubert.checkpoint import (
        _IGNORED,
        check_architecture_fits,
        convert_state_dict,
    )
    from forensics_gui.core.encoder.avhubert.config import FINETUNED_PREFIX, config_from_checkpoint
    from forensics_gui.core.encoder.avhubert.model import AVHubertEncoder

    state = data["model"]
    tensors = [v for v in state.values() if torch.is_tensor(v)]
    prefixed = any(str(k).startswith(FINETUNED_PREFIX) for k in state)
    try:
        config = config_from_checkpoint(data, label)
    except CheckpointError as err:
        kind = AVHUBERT_FINETUNED if prefixed else AVHUBERT_PRETRAINED
        return {"kind": kind, "stored_parameters": _numel(tensors), "parameters": _numel(tensors),
                "precision": _precision(tensors), "not_usable_reason": str(err)}
    if prefixed and not config.finetuned:
        from dataclasses import replace

        config = replace(config, finetuned=True)
    prefix = config.state_prefix
    encoder = [v for k, v in state.items() if torch.is_tensor(v) and str(k).startswith(prefix)
               and not _IGNORED.match(str(k)[len(prefix):]) and not str(k).endswith(_BUFFERS)]
    fields: dict[str, Any] = {
        "kind": AVHUBERT_FINETUNED if config.finetuned else AVHUBERT_PRETRAINED,
        "size_name": config.size_name.split(" ")[0], "embed_dim": config.embed_dim,
        "layers": config.layers, "heads": config.heads, "ffn_dim": config.ffn_dim,
        "parameters": _numel(encoder), "stored_parameters": _numel(tensors),
        "precision": _precision(encoder),
    }
    # The loader's own strict key and shape check, on shape-only meta tensors: nothing is copied.
    # First the cheap size check, so a cfg of absurd size does not even build a meta model.
    try:
        check_architecture_fits(config, file_size, label)
    except CheckpointError as err:
        return {**fields, "not_usable_reason": str(err)}
    meta = {k: torch.empty(v.shape, dtype=v.dtype, device="meta") if torch.is_tensor(v) else v
            for k, v in state.items()}
    with torch.device("meta"):
        model = AVHubertEncoder(config)
    try:
        convert_state_dict(meta, config, model, label)
    except CheckpointError as err:
        return {**fields, "not_usable_reason": str(err)}
    return {**fields, "serves_as": (FEATURE_EXTRACTOR,), "notes": _avhubert_notes(config)}


def _avhubert_notes(config: Any) -> tuple[str, ...]:
    notes = []
    if not config.finetuned:
        notes.append(
            "Pretrained only: its features differ from those of the fine-tuned "
            f"{AVH_ALIGN_ENCODER} that AVH-Align's Phi was trained on, so use it only with a Phi "
            "trained on this model's own features (forensics-gui train).")
    if config.embed_dim != 1024:
        notes.append(
            f"Its features are {config.embed_dim}-dim: the published Phi (AVH-Align_AV1M.pt) "
            "expects 1024-dim LARGE features, so this needs a Phi trained on its features.")
    return tuple(notes)


def _phi_fields(path: Path, refused: CheckpointError | None) -> dict[str, Any]:
    from forensics_gui.core.alignment.phi import load_phi, safe_torch_load

    try:
        phi = load_phi(path)
    except CheckpointError as err:
        if refused is not None:
            raise refused from err
        return {"kind": UNKNOWN, "not_usable_reason": str(err)}
    except Exception as err:  # noqa: BLE001 - whatever the Phi reader raises, one sentence
        if refused is not None:
            raise refused from err
        raise CheckpointError(f"'{path.name}' is not a readable PyTorch checkpoint.") from err
    raw = safe_torch_load(path)
    sd = raw.get("state_dict", raw) if isinstance(raw, dict) else {}
    stored = list(sd.values()) if isinstance(sd, dict) else []
    module = phi.module
    used = sum(int(p.numel()) for p in module.state_dict().values())
    if phi.variant == "mlp":
        proj: tuple[int, ...] = (int(module.visual_proj.out_features),
                                 int(module.audio_proj.out_features))
        hidden = tuple(int(module.mlp[i].out_features) for i in (0, 3, 6))
    else:
        proj, hidden = (), ()
    published = (phi.variant == "mlp" and (phi.visual_dim, phi.audio_dim) == (1024, 1024)
                 and proj == (512, 512) and hidden == (512, 256, 128))
    record = phi.metadata.get("forensics_gui")
    trained_on = tuple(record.get("feature_checkpoint_sha256") or ()) \
        if isinstance(record, dict) else ()
    supervised = phi.kind == "supervised"
    notes = []
    if supervised:
        notes.append("A supervised AVH-Align/sup checkpoint is not an unsupervised Phi: it learned "
                     "from labelled fakes (and may rely on the leading-silence shortcut); use it "
                     "as the supervised lane, next to a Phi.")
    if isinstance(record, dict):
        notes.append(f"Trained with forensics-gui on {len(record.get('training_files') or [])} "
                     "feature file(s).")
    return {
        "kind": PHI_SUPERVISED if supervised else PHI, "variant": phi.variant,
        "size_name": "published" if published else ("custom" if phi.variant == "mlp" else ""),
        "input_dims": (phi.visual_dim, phi.audio_dim), "projection_dims": proj,
        "hidden_dims": hidden, "parameters": used,
        "stored_parameters": _numel(stored) or used, "precision": _precision(stored),
        "serves_as": (SERVES_SUPERVISED if supervised else SERVES_PHI,),
        "trained_on_sha256": trained_on, "notes": tuple(notes),
    }


def _unknown_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    keys = ", ".join(sorted(map(str, data))[:6]) or "none"
    model = data.get("model")
    if isinstance(model, Mapping) and _phi_keys(model):
        reason = ("it is a Phi training resume state (<out>.resume.pt), not a model; use the "
                  "checkpoint 'forensics-gui train' wrote with -o")
    else:
        reason = (f"it holds neither AV-HuBERT weights ('model' with 'cfg') nor Phi weights "
                  f"('state_dict'); top-level keys: {keys}")
    return {"kind": UNKNOWN, "not_usable_reason": reason}


@dataclass(frozen=True)
class Compatibility:
    """Whether a Phi can score a feature extractor's features.

    ``level``: "ok", "warning" (it runs, but the scores would not mean what they should) or
    "incompatible" (it cannot run). ``message``: sentences a person reads.
    """

    level: str
    message: str

    @property
    def fits(self) -> bool:
        return self.level != "incompatible"


def compatibility(extractor: ModelFileInfo, phi: ModelFileInfo, role: str = SERVES_PHI
                  ) -> Compatibility:
    """Can ``phi`` (used as ``role``: "Phi" or "supervised Phi") score ``extractor``'s features?"""
    e, p = f"'{extractor.path.name}'", f"'{phi.path.name}'"
    if FEATURE_EXTRACTOR not in extractor.serves_as:
        why = extractor.not_usable_reason or f"it is {_article(extractor.kind_label)}"
        return Compatibility("incompatible", f"{e} cannot serve as the feature extractor: "
                             f"{why.rstrip('.')}.")
    if not phi.serves_as:
        why = phi.not_usable_reason or f"it is {_article(phi.kind_label)}"
        return Compatibility("incompatible", f"{p} cannot serve as {role}: {why.rstrip('.')}.")
    v, a = phi.input_dims or (0, 0)
    d = extractor.embed_dim or 0
    if (v, a) != (d, d):
        trained = f"{v}-dim" if v == a else f"{v}-dim visual / {a}-dim audio"
        return Compatibility(
            "incompatible",
            f"{p} was trained on {trained} features{_size_hint(v)} and cannot score the {d}-dim "
            f"features of {e} ({extractor.size_name}); use a Phi trained on this extractor's "
            "features, or the extractor that Phi was trained with.")
    sentences = []
    level = "ok"
    if phi.kind == PHI_SUPERVISED and role == SERVES_PHI:
        level = "warning"
        sentences.append(f"{p} is a supervised AVH-Align/sup checkpoint, not an unsupervised "
                         "Phi: it scores with +output and learned from labelled fakes.")
    if phi.trained_on_sha256:
        if extractor.sha256 in phi.trained_on_sha256:
            sentences.append(f"{p} was trained on features of this very checkpoint {e}.")
        else:
            level = "warning"
            sentences.append(
                f"{p} was trained on features of another AV-HuBERT checkpoint (sha256 "
                f"{', '.join(s[:12] for s in phi.trained_on_sha256)}), so its scores on {e}'s "
                "features would not mean what they should; retrain it on them.")
    elif extractor.kind == AVHUBERT_PRETRAINED:
        level = "warning"
        sentences.append(
            f"{e} is a pretrained AV-HuBERT: its features differ from those of the fine-tuned "
            f"{AVH_ALIGN_ENCODER} that AVH-Align's Phi was trained on, so the scores of {p} would "
            "not mean what they should.")
    elif extractor.registry.state == "verified" and extractor.registry.entry == AVH_ALIGN_ENCODER:
        sentences.append(f"{e} is {AVH_ALIGN_ENCODER}, the encoder AVH-Align's Phi was "
                         "trained with.")
    else:
        sentences.append(
            f"The {d}-dim features fit, but {p} gives meaningful scores only on features of the "
            f"encoder it was trained with ({AVH_ALIGN_ENCODER} for AVH-Align's published Phi); "
            f"that cannot be verified for {e}.")
    if level == "ok":
        sentences.insert(0, f"{p} can score the features of {e}.")
    return Compatibility(level, " ".join(sentences))


def _article(label: str) -> str:
    if label.startswith("not "):
        return label
    return ("an " if label[0].lower() in "aeiou" else "a ") + label


def _size_hint(dim: int) -> str:
    return {768: " (AV-HuBERT BASE)", 1024: " (AV-HuBERT LARGE)"}.get(dim, "")
