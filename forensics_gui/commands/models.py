"""`forensics-gui models list [--json]` and `forensics-gui models check FILE [--with OTHER] [--json]`.

``list``: the known models (``models/registry.json``) and their state here, plus unregistered model
files in the user models folder. ``check``: what a model file is, read without running anything
from it, and whether it fits its counterpart (the installed Phi for an AV-HuBERT checkpoint, the
installed AV-HuBERT for a Phi, or ``--with``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the known models and their state here",
                                 description="List the known models (missing / present / verified "
                                 "/ unknown file) and other model files in the models folder.")
    listing.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    listing.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    check = actions.add_parser("check", help="say what a model file is, without running it",
                               description="Say what a model file is (kind, sizes, parameters, "
                               "precision, SHA-256, registry entry) and what it can serve as; "
                               "nothing from the file runs.")
    check.add_argument("file", type=Path, help="an AV-HuBERT .pt, a Phi .pt or an AVH-Align/sup .ckpt")
    check.add_argument("--with", dest="other", type=Path, default=None, metavar="OTHER",
                       help="check compatibility with this file instead of the installed "
                       "counterpart (the Phi for an AV-HuBERT checkpoint, and vice versa)")
    check.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    check.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.progress import ConsoleProgress

    progress = ConsoleProgress(enabled=not args.quiet)
    if args.action == "list":
        return _list(args, progress)
    return _check(args, progress)


def _list(args: argparse.Namespace, progress: Any) -> int:
    from forensics_gui.core.files import paths
    from forensics_gui.core.models import registry as models_registry
    from forensics_gui.core.models.inventory import list_models

    rows = list_models(progress)
    folder = paths.user_models_dir()
    if args.json:
        json.dump({"models_folder": str(folder),
                   "search_folders": [str(d) for d in paths.model_search_dirs()],
                   "registry": str(models_registry.REGISTRY_FILE),
                   "models": [r.to_dict() for r in rows]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    if not models_registry.known_models():
        out.write(f"The list of known models ({models_registry.REGISTRY_FILE}) was not found.\n")
    width = max([len(r.name) for r in rows] + [10])
    for r in rows:
        what = f"{r.kind} ({r.role})" if r.kind else "unregistered"
        out.write(f"{r.name:<{width}}  {what:<22}  {r.state:<12}  {r.detail}\n")
    out.write(f"Models folder: {folder} (searched in order: "
              f"{', '.join(str(d) for d in paths.model_search_dirs())}).\n")
    return 0


def _check(args: argparse.Namespace, progress: Any) -> int:
    from forensics_gui.core.models import info as model_info

    info = model_info.inspect_model_file(args.file, progress)
    other, compat, problem = _counterpart(info, args.other, progress)
    if args.json:
        doc: dict[str, Any] = {**info.to_dict(), "compatibility": None}
        if other is not None or problem:
            where = other.path if other is not None else args.other
            doc["compatibility"] = {"with": str(where) if where is not None else None,
                                    "level": compat.level if compat else "unknown",
                                    "fits": compat.fits if compat else None,
                                    "message": compat.message if compat else problem}
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    lines = info.summary()
    if compat is not None:
        lines.append((f"with {other.path.name}" if other else "with", compat.message))
    elif problem:
        lines.append(("compatibility", problem))
    width = max(len(label) for label, _ in lines) + 1
    for label, text in lines:
        sys.stdout.write(f"{label + ':':<{width}} {text}\n")
    return 0


def _counterpart(info: Any, given: Path | None, progress: Any) -> tuple[Any, Any, str]:
    """(the other file's info or None, Compatibility or None, a sentence when none could be made)."""
    from forensics_gui.core.errors import CheckpointError
    from forensics_gui.core.models import info as model_info
    from forensics_gui.core.models import registry as models_registry

    if not (info.is_avhubert or info.is_phi) or not info.serves_as:
        if given is not None:
            return None, None, f"'{info.path.name}' cannot be paired with another model."
        return None, None, ""
    path = given
    if path is None:
        path = (models_registry.find_phi_checkpoint() if info.is_avhubert
                else models_registry.find_avhubert_checkpoint())
        if path is None:
            what = "Phi" if info.is_avhubert else "AV-HuBERT checkpoint"
            return None, None, (f"No {what} is installed to check it against; pass one with "
                                "--with.")
        if path.resolve() == info.path.resolve():
            return None, None, ""
    try:
        other = model_info.inspect_model_file(path, progress, cached_sha256=given is None)
    except CheckpointError as err:
        if given is not None:
            raise
        return None, None, f"Cannot check it against {path}: {err}"
    if info.is_avhubert:
        extractor, phi = info, other
    else:
        extractor, phi = other, info
    role = model_info.SERVES_SUPERVISED if phi.kind == model_info.PHI_SUPERVISED \
        else model_info.SERVES_PHI
    return other, model_info.compatibility(extractor, phi, role), ""
