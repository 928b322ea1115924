"""`forensics-gui models list|check|fetch|remove`.

``list``: the known models (the registry shipped in the package) and their state here (missing /
present / recorded / verified / unknown file), plus unregistered model files in the user models
folder. ``fetch NAME``: download a known model from its official address, only after its licence
is accepted (``--accept-licence`` or a y/N question on a terminal), with a progress line (size,
speed, time left), resumable, SHA-256 checked (:mod:`forensics_gui.core.models.fetch`).
``remove NAME``: delete it from the user models folder. ``check``: what a model file is, read without running anything
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
    fetch = actions.add_parser(
        "fetch", help="download a known model (after you accept its licence)",
        description="Download a known model from its official address into the models folder: "
        "its licence is shown and must be accepted first; the download resumes where an earlier "
        "one stopped and is moved in only when complete and its SHA-256 checks out (or, where "
        "the registry has no digest, the first one is recorded).")
    fetch.add_argument("name", help="the model's file name, as 'models list' shows it")
    fetch.add_argument("--accept-licence", "--accept-license", dest="accept", action="store_true",
                       help="accept the model's licence without being asked (it is still printed)")
    fetch.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                       help="give up when the server sends nothing for this long (default 60; "
                       "fetch again to resume)")
    fetch.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    remove = actions.add_parser("remove", help="delete a model from the models folder",
                                description="Delete a model file (and any unfinished download of "
                                "it) from the user models folder.")
    remove.add_argument("name", help="the model's file name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace) -> int:
    from forensics_gui.core.progress import ConsoleProgress

    if args.action == "fetch":
        return _fetch(args)
    if args.action == "remove":
        return _remove(args)
    progress = ConsoleProgress(enabled=not args.quiet)
    if args.action == "list":
        return _list(args, progress)
    return _check(args, progress)


class _DownloadLine:
    """The CLI's progress line: "<name>: 412.0 of 1,900.0 MB (21 %), 23.4 MB/s, 1 min 04 s left"
    on stderr, redrawn at most 5 times a second, only on a terminal."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name = name
        self.enabled = enabled and _isatty(sys.stderr)
        self.meter: Any = None
        self.drawn = 0.0
        self.stage = ""

    def report(self, stage: str, done: float, total: float | None = None) -> None:
        import time

        from forensics_gui.core.models.fetch import TransferMeter

        if not self.enabled:
            return
        if self.meter is None or stage != self.stage:
            self.meter, self.stage = TransferMeter(total, start=done), stage
        self.meter.update(done, total)
        now = time.monotonic()
        if now - self.drawn < 0.2 and not (total and done >= total):
            return
        self.drawn = now
        what = "checking the earlier part" if stage == "check" else self.name
        sys.stderr.write(f"\r{what}: {self.meter.text()}\033[K")
        sys.stderr.flush()

    def end(self) -> None:
        if self.enabled and self.meter is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.meter = None

    def cancelled(self) -> bool:
        return False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _ask(question: str) -> bool:
    sys.stdout.write(question)
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _fetch(args: argparse.Namespace) -> int:
    from forensics_gui.core.models import fetch as fetcher

    model = fetcher.registry_entry(args.name)
    out = sys.stdout
    out.write(f"{model.name} ({model.approx_size}) is published under: {model.license}.\n")
    if model.license_text:
        out.write(model.license_text + "\n")
    if model.license_url:
        out.write(f"Full licence: {model.license_url}\n")
    accepted = args.accept
    if not accepted:
        if not _isatty(sys.stdin):
            raise fetcher.FetchError(
                f"{model.name} is not downloaded until you accept its licence: run again with "
                "--accept-licence, or on a terminal to be asked.")
        accepted = _ask(f"Accept this licence and download {model.name} from "
                        f"{model.url or 'its source'}? [y/N] ")
        if not accepted:
            raise fetcher.FetchError(f"{model.name} was not downloaded: its licence was not "
                                     "accepted.")
    line = _DownloadLine(model.name, not args.quiet)
    try:
        result = fetcher.fetch_model(model.name, True, line,
                                     timeout_s=(min(args.timeout, 30.0), args.timeout))
    except KeyboardInterrupt:
        line.end()  # (ends the line once: end() is idempotent)
        sys.stderr.write(f"forensics-gui models: download of {model.name} interrupted; "
                         "'models fetch' again resumes it.\n")
        return 130
    finally:
        line.end()
    out.write(result.sentence + "\n")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from forensics_gui.core.models import fetch as fetcher

    files = fetcher.removable_files(args.name) if args.name else []
    if files and not args.yes:
        listing = ", ".join(str(p) for p in files)
        if not _isatty(sys.stdin):
            raise fetcher.FetchError(f"Not removed: run again with --yes to delete {listing}.")
        if not _ask(f"Delete {listing}? [y/N] "):
            raise fetcher.FetchError(f"{args.name} was not removed.")
    for path in fetcher.remove_model(args.name):
        sys.stdout.write(f"removed {path}\n")
    return 0


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
