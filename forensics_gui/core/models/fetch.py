"""Download a known checkpoint, only when the user asks: licence first, resumable, verified.

:func:`fetch_model` downloads a registry entry (:mod:`forensics_gui.core.models.registry`) from its
official ``url`` into the user models folder:

- nothing starts unless ``accept_licence`` is True (the CLI asks or takes ``--accept-licence``,
  the Models dialog shows the licence text and an "I accept" button);
- the bytes go to ``<models folder>/.partial/<name>.part`` (with ``<name>.part.json`` saying from
  which address and which version of the file, by ETag / Last-Modified); only a complete file
  whose SHA-256 checks out is moved into the models folder proper (one ``os.replace`` in the same
  file system), so the folder never holds half a model;
- an interrupted download (cancel, stall, lost connection, a killed process) resumes where it
  stopped with an HTTP ``Range`` request (``If-Range`` makes a server whose file changed send the
  whole new file instead);
- the free disk space is checked against the size the server announces before any byte is
  written;
- SHA-256 is computed while the bytes arrive; it must equal the registry's digest ("verified").
  Where the registry has none, the first download's digest is recorded in
  ``<models folder>/recorded_sha256.json`` (written atomically) and the file is "recorded", never
  "verified"; a later download must match that record.

Every failure is one :class:`FetchError` sentence that says what to do; a wrong digest deletes the
download, anything else keeps the partial file for the next try. Fetching uses ``requests``
(streamed GET with ``Range``/``If-Range``, connect and read timeouts): ``pooch`` was considered and
not used because it cannot resume a transfer (every retry starts again from byte 0, which for a
2-6 GB AV-HuBERT checkpoint on a slow line is the difference between finishing and not), and it
keeps its temporary file in the target folder itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from forensics_gui import __version__
from forensics_gui.core.errors import Cancelled, ForensicsError
from forensics_gui.core.files import paths
from forensics_gui.core.files.atomic import write_text_atomic
from forensics_gui.core.files.checks import read_json_file
from forensics_gui.core.files.locking import output_lock
from forensics_gui.core.models.registry import ModelInfo, known_models
from forensics_gui.core.progress import Progress, check_cancelled

PARTIAL_DIR = ".partial"
RECORDED_FILE = "recorded_sha256.json"
CHUNK_BYTES = 1 << 18  # per read: Cancel is seen, and at most this much is lost, per block
CONNECT_TIMEOUT_S = 20.0
READ_TIMEOUT_S = 60.0
DISK_MARGIN_BYTES = 64 << 20  # keep this much free after the download
STAGE = "download"
VERIFY_STAGE = "check"  # hashing what an earlier, interrupted download already holds


class FetchError(ForensicsError):
    """A download that could not be done, as one sentence saying what to do."""


@dataclass(frozen=True)
class FetchResult:
    """A completed fetch. ``state``: "verified" (the registry's digest) or "recorded" (no
    registry digest: this first digest was recorded, or it matched an earlier record)."""

    name: str
    path: Path
    sha256: str
    size_bytes: int
    state: str
    resumed_from: int = 0

    @property
    def sentence(self) -> str:
        how = ("its SHA-256 matches the registry's (verified)" if self.state == "verified" else
               "the registry has no SHA-256 for it, so its SHA-256 was recorded on this first "
               "download (recorded, not verified)")
        return f"{self.name} installed in {self.path.parent} ({_mb(self.size_bytes)}); {how}."


# -- where things go ----------------------------------------------------------------------------
def models_folder() -> Path:
    return paths.user_models_dir()


def partial_path(name: str, folder: Path | None = None) -> Path:
    """Where the bytes of an unfinished download of ``name`` wait."""
    return (folder or models_folder()) / PARTIAL_DIR / f"{name}.part"


def partial_bytes(name: str, folder: Path | None = None) -> int:
    """Bytes an unfinished download of ``name`` holds (0 when none)."""
    try:
        return partial_path(name, folder).stat().st_size
    except OSError:
        return 0


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def recorded_digests(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256", "size_bytes", "url", "recorded_at"}}`` of first downloads (may be empty)."""
    path = (folder or models_folder()) / RECORDED_FILE
    try:
        data = read_json_file(path, "list of recorded model digests")
    except ForensicsError:
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        return {}
    return {str(k): v for k, v in models.items()
            if isinstance(v, dict) and isinstance(v.get("sha256"), str)}


def recorded_sha256(name: str, folder: Path | None = None) -> str | None:
    entry = recorded_digests(folder).get(name)
    return str(entry["sha256"]).lower() if entry else None


def _record(name: str, sha: str, size: int, url: str, folder: Path) -> None:
    records = recorded_digests(folder)
    records[name] = {"sha256": sha, "size_bytes": size, "url": url,
                     "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    doc = {"about": "SHA-256 of model files recorded at their first download by forensics-gui, "
                    "for registry entries without a published digest. Recorded is not verified.",
           "models": records}
    write_text_atomic(folder / RECORDED_FILE, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def registry_entry(name: str) -> ModelInfo:
    """The registry entry called ``name``; FetchError naming the known ones otherwise."""
    known = known_models()
    for model in known:
        if model.name == name:
            return model
    names = ", ".join(m.name for m in known) or "none (the list of known models was not found)"
    raise FetchError(f"'{name}' is not a known model; known models: {names}.")


# -- speed and time left --------------------------------------------------------------------------
class TransferMeter:
    """Speed (over the last few seconds) and time left of a transfer, as a line people read.

    ``clock`` is injectable for tests. Feed :meth:`update` with the bytes done so far.
    """

    def __init__(self, total: float | None, start: float = 0, window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total if total and total > 0 else None
        self.clock = clock
        self.window_s = window_s
        self.samples: list[tuple[float, float]] = [(clock(), float(start))]
        self.done = float(start)

    def update(self, done: float, total: float | None = None) -> None:
        if total and total > 0:
            self.total = total
        now = self.clock()
        self.done = float(done)
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window_s:
            self.samples.pop(0)

    @property
    def speed(self) -> float | None:
        """Bytes per second over the window, None before there is any measure."""
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 >= d0 else None

    @property
    def seconds_left(self) -> float | None:
        speed = self.speed
        if self.total is None or not speed:
            return None
        return max(0.0, (self.total - self.done) / speed)

    def text(self) -> str:
        """e.g. "412.0 of 1,900.0 MB (21 %), 23.4 MB/s, 1 min 04 s left"."""
        if self.total:
            parts = [f"{self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB "
                     f"({int(100 * self.done / self.total)} %)"]
        else:
            parts = [f"{self.done / 1e6:,.1f} MB"]
        speed = self.speed
        parts.append(f"{speed / 1e6:,.1f} MB/s" if speed is not None else "measuring speed")
        left = self.seconds_left
        if left is not None:
            parts.append(f"{duration_text(left)} left")
        return ", ".join(parts)


def duration_text(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


# -- the download ---------------------------------------------------------------------------------
def fetch_model(name: str, accept_licence: bool, progress: Progress | None = None,
                url: str | None = None, timeout_s: tuple[float, float] | None = None,
                folder: Path | None = None) -> FetchResult:
    """Download the registry entry ``name`` into the models folder (see the module docstring).

    ``progress`` gets ("check", bytes, total) while an earlier partial download is re-hashed, then
    ("download", bytes done, bytes total or None) and is polled for Cancel between blocks.
    ``url`` overrides the registry's address (tests); ``timeout_s`` is (connect, read) seconds:
    a server that sends nothing for the read timeout stops the download, which can then resume.
    Raises :class:`FetchError` (one sentence) or
    :class:`~forensics_gui.core.errors.Cancelled` (the partial file is kept for a resume).
    """
    model = registry_entry(name)
    address = url or model.url
    if not address:
        raise FetchError(f"{name} has no download address in the list of known models; get it "
                         f"from {model.source.rstrip('.')} and put it into {folder or models_folder()}.")
    if not accept_licence:
        raise FetchError(f"{name} is not downloaded until you accept its licence ({model.license}"
                         f"{'; ' + model.license_url if model.license_url else ''}).")
    folder = folder or models_folder()
    target = folder / name
    if target.exists():
        raise FetchError(f"{name} is already in {folder}; remove it first ('forensics-gui models "
                         f"remove {name}') to download it again.")
    part = partial_path(name, folder)
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FetchError(f"Cannot create the download folder {part.parent} "
                         f"({err.strerror or err}); check that {folder} is writable.") from err
    connect_s, read_s = timeout_s or (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    # One download of a name at a time (the viewer and the CLI, or two terminals): the second is
    # told which process has it instead of appending to the same partial file.
    with output_lock(part, "models fetch"):
        return _fetch_locked(model, address, part, folder, target, progress, connect_s, read_s)


def _fetch_locked(model: ModelInfo, address: str, part: Path, folder: Path, target: Path,
                  progress: Progress | None, connect_s: float, read_s: float) -> FetchResult:
    name = model.name
    size, sha, resumed = _download(model, address, part, folder, progress, connect_s, read_s)
    check_cancelled(progress)
    expected = (model.sha256 or "").lower() or recorded_sha256(name, folder)
    if expected and sha != expected:
        _discard(part)
        against = ("the registry's" if model.sha256 else
                   "the one recorded when this model was first downloaded")
        raise FetchError(
            f"The download of {name} does not match: its SHA-256 {sha[:16]}… differs from "
            f"{against} ({expected[:16]}…), so it was deleted and not installed; try again later, "
            f"and if it happens again the file at {address} has changed.")
    state = "verified" if model.sha256 else "recorded"
    if target.exists():  # put there by hand while we downloaded: never replace it
        raise FetchError(f"{name} appeared in {folder} during the download; the download was kept "
                         f"in {part.parent} and {target} was left as it is.")
    if state == "recorded" and not recorded_sha256(name, folder):
        _record(name, sha, size, address, folder)  # before the move: an installed file is never
        # left without its record (a crash in between leaves a complete part that matches it)
    os.replace(part, target)
    _meta_path(part).unlink(missing_ok=True)
    return FetchResult(name, target, sha, size, state, resumed)


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _meta_path(part).unlink(missing_ok=True)


def _read_meta(part: Path) -> dict[str, Any]:
    try:
        data = read_json_file(_meta_path(part), "partial download record")
    except ForensicsError:
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(part: Path, address: str, headers: Any, total: int | None) -> None:
    meta = {"url": address, "etag": headers.get("ETag"),
            "last_modified": headers.get("Last-Modified"), "total_bytes": total}
    write_text_atomic(_meta_path(part), json.dumps(meta, indent=1) + "\n")


def _total_of(response: Any, offset: int) -> int | None:
    """The whole file's size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        span = response.headers.get("Content-Range", "")
        total = span.rsplit("/", 1)[-1] if "/" in span else "*"
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


def _download(model: ModelInfo, address: str, part: Path, folder: Path,
              progress: Progress | None, connect_s: float, read_s: float
              ) -> tuple[int, str, int]:
    """Stream ``address`` into ``part`` (resuming it); returns (size, sha256, resumed from)."""
    import requests

    name = model.name
    meta = _read_meta(part)
    offset = part.stat().st_size if part.exists() else 0
    if offset and meta.get("url") != address:  # bytes of another address: start again
        _discard(part)
        offset, meta = 0, {}
    headers = {"User-Agent": f"forensics-gui/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    host = address.split("/")[2] if "://" in address else address
    try:
        response = requests.get(address, headers=headers, stream=True,
                                timeout=(connect_s, read_s), allow_redirects=True)
    except requests.exceptions.Timeout as err:
        raise FetchError(f"{host} did not answer within {connect_s:g} s; check the network "
                         f"connection and try again.") from err
    except requests.exceptions.RequestException as err:
        raise FetchError(f"Could not reach {host} to download {name} ({_reason(err)}); check the "
                         "network connection and try again.") from err
    with contextlib.closing(response):
        if response.status_code == 416 and offset:
            # Range not satisfiable: the part already holds the whole file (or a stale one).
            total = meta.get("total_bytes")
            if isinstance(total, int) and total == offset:
                return offset, _hash_part(part, progress), offset
            _discard(part)
            raise FetchError(f"The earlier partial download of {name} no longer fits the file on "
                             "the server and was deleted; fetch it again to start afresh.")
        if response.status_code == 404:
            raise FetchError(f"The server has no file at {address} (HTTP 404 Not Found); the "
                             f"address may have changed: download {name} by hand from "
                             f"{model.source.rstrip('.')} and put it into {folder}.")
        if response.status_code >= 400:
            raise FetchError(f"The server refused to send {name} (HTTP {response.status_code} "
                             f"{response.reason}); try again later, or download it by hand from "
                             f"{model.source.rstrip('.')}.")
        if response.status_code == 206 and offset:
            resumed = offset
        else:  # 200: the whole file (no Range support, or the file changed): start at byte 0
            resumed = 0
            if offset:
                part.write_bytes(b"")
        total = _total_of(response, resumed)
        _check_disk(name, folder, (total - resumed) if total is not None else None)
        _write_meta(part, address, response.headers, total)
        digest = hashlib.sha256()
        if resumed:
            _hash_into(digest, part, progress)
        done = resumed
        if progress is not None:
            progress.report(STAGE, done, total)
        try:
            with open(part, "ab" if resumed else "wb") as out:
                for block in response.iter_content(CHUNK_BYTES):
                    if progress is not None and progress.cancelled():
                        raise Cancelled(f"Download of {name} cancelled; {_mb(done)} kept, so the "
                                        "next fetch resumes from there.")
                    if not block:
                        continue
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress.report(STAGE, done, total)
                out.flush()
                os.fsync(out.fileno())
        except requests.exceptions.RequestException as err:
            raise _interrupted(name, host, err, done, total, read_s) from err
        except OSError as err:  # after RequestException, which is an OSError too
            raise FetchError(f"Could not write the download of {name} into {part.parent} "
                             f"({err.strerror or err}); check the free space and permissions "
                             f"there.") from err
    if total is not None and done != total:
        raise FetchError(f"The download of {name} ended early ({_mb(done)} of {_mb(total)}); "
                         "fetch it again to resume.")
    return done, digest.hexdigest(), resumed


def _interrupted(name: str, host: str, err: Exception, done: int, total: int | None,
                 read_s: float) -> FetchError:
    import requests

    got = f"{_mb(done)} of {_mb(total)}" if total is not None else _mb(done)
    if isinstance(err, requests.exceptions.ConnectionError) and "timed out" in str(err).lower() \
            or isinstance(err, requests.exceptions.Timeout):
        return FetchError(f"{host} stopped sending {name} for {read_s:g} s (after {got}); fetch "
                          "it again to resume from there.")
    return FetchError(f"The download of {name} was interrupted after {got} ({_reason(err)}); "
                      "fetch it again to resume from there.")


def _reason(err: Exception) -> str:
    text = str(err.__context__ or err) if not str(err) else str(err)
    text = text.split("(Caused by", 1)[-1].strip(" )") if "(Caused by" in text else text
    return text[:160].rstrip(". ") or type(err).__name__


def _check_disk(name: str, folder: Path, needed: int | None) -> None:
    if needed is None:
        return
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed + DISK_MARGIN_BYTES:
        raise FetchError(f"Not enough free disk space for {name}: it needs {_mb(needed)} more, "
                         f"and {folder} has {_mb(free)} free; free some space (or set "
                         "FORENSICS_GUI_MODELS to a folder on a larger disk) and fetch it again.")


def _hash_into(digest: Any, part: Path, progress: Progress | None) -> None:
    total = part.stat().st_size
    done = 0
    with open(part, "rb") as fh:
        while block := fh.read(1 << 20):
            check_cancelled(progress)
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress.report(VERIFY_STAGE, done, total)


def _hash_part(part: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    _hash_into(digest, part, progress)
    return digest.hexdigest()


# -- removing -------------------------------------------------------------------------------------
def removable_files(name: str, folder: Path | None = None) -> list[Path]:
    """What :func:`remove_model` would delete: the file in the user models folder and its partial
    download."""
    folder = folder or models_folder()
    part = partial_path(name, folder)
    return [p for p in (folder / name, part, _meta_path(part)) if p.is_file()]


def remove_model(name: str, folder: Path | None = None) -> list[Path]:
    """Delete ``name`` from the user models folder (and any partial download of it). Its
    recorded digest stays, so a new download must match the first one. Only a plain file named directly in that folder is removed; the source
    tree's models folder and files elsewhere are never touched. Returns what was deleted."""
    folder = folder or models_folder()
    if not name or Path(name).name != name or name in (".", "..", RECORDED_FILE):
        raise FetchError(f"'{name}' is not the name of a model file in {folder}.")
    target = folder / name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise FetchError(f"{target} is not a plain model file; remove it by hand if you mean to.")
    removed = removable_files(name, folder)
    if not removed:
        raise FetchError(f"There is no {name} in {folder} to remove.")
    for path in removed:
        path.unlink()
    return removed
