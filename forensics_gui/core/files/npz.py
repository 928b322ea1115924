"""Reading .npz files from users and from the cache without trusting them.

``np.load`` on a hostile or damaged file can allocate what its header claims (a 500-byte file
announcing a terabyte array, a 6 MB zip bomb inflating to gigabytes), fail with errors that mean
nothing to a user, or block forever on a FIFO. Here every member is checked before its data is
read: the zip directory's sizes, then numpy's own header (dtype, shape, byte order), against the
caller's limits; object arrays (pickles) are never loaded; data is read in chunks into an array
of the announced size only after the announced size has been checked against the limit, so
memory stays bounded by the limit whatever the file says.

:func:`read_npz` is the general reader (cache entries); :func:`read_feature_npz` adds the rules
of an AVH-Align features file (float ``visual``/``audio`` [T, D], small scalars).
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.files.checks import open_regular_file, parse_json_text
from forensics_gui.core.media.timebase import MODEL_FPS, model_frame_count, model_frame_start

MAX_FEATURE_FRAMES = model_frame_count(4 * 3600.0)  # 4 hours of model frames
MAX_FEATURE_DIM = 4096
MAX_FEATURE_BYTES = 2 << 30  # both arrays together, as stored (LARGE float32: ~2.7 h of video)
MAX_SCALAR_BYTES = 1 << 20  # meta_json, checkpoint_sha256, fps, ...
MAX_MEMBERS = 256
MAX_HEADER_BYTES = 10_000  # numpy's own default limit
_READ_CHUNK = 16 << 20
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand more than ~1032:1
_FLOAT_KINDS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_FEATURE_ARRAYS = ("visual", "audio")
_FEATURE_HINT = "write one with 'forensics-gui features'"


class FeatureFileError(ForensicsError):
    """A features .npz is missing, damaged, too large, or lacks arrays that fit together."""


class NpzError(ForensicsError):
    """An .npz file cannot be read safely (raised by :func:`read_npz`)."""


@dataclass(frozen=True)
class NpzMember:
    """One array of an .npz as its headers describe it (nothing of its data read yet)."""

    name: str  # without ".npy"
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    nbytes: int  # of the array data


@dataclass
class FeatureNpz:
    """A features .npz as read by :func:`read_feature_npz`.

    ``visual``/``audio`` are float32 [T, D] (None when absent or not asked for), ``scalars``
    the 0-d members (``fps``, ``checkpoint_sha256``, ``meta_json``, ...) as Python values, and
    ``members`` every member name the file has.
    """

    visual: np.ndarray | None
    audio: np.ndarray | None
    scalars: dict[str, Any] = field(default_factory=dict)
    members: frozenset[str] = frozenset()

    def meta(self) -> dict[str, Any]:
        """``meta_json`` parsed, or {} when absent or not a JSON object."""
        text = self.scalars.get("meta_json")
        if not isinstance(text, str):
            return {}
        try:
            value = parse_json_text(text, "The features file's meta_json")
        except ForensicsError:
            return {}
        return value if isinstance(value, dict) else {}


def _gib(n: int) -> str:
    if n < 1 << 20:
        return f"{n} bytes"
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def _not_zip_sentence(path: Path, fh: BinaryIO, what: str, hint: str) -> str:
    """Why ``path`` (open as ``fh``), which zipfile refused, is not an .npz: one sentence."""
    fh.seek(0)
    head = fh.read(8)
    if head.startswith(b"PK"):
        return f"{path.name} is damaged or truncated (its zip directory is missing){hint}."
    if head.startswith(b"\x93NUMPY"):
        return f"{path.name} is not a {what}: it is a single .npy array, not an .npz archive{hint}."
    return f"{path.name} is not a {what}: it is not an .npz archive (numpy's zip of arrays){hint}."


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[NpzMember, int]:
    """The member's numpy header and the header's length in bytes. Raises ValueError."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, MAX_HEADER_BYTES)
        else:
            raise ValueError(f"numpy format version {version} is not supported")
        header_len = fh.tell()
    dtype = np.dtype(dtype)
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError(f"bad shape {shape!r}")
    count = 1
    for s in shape:
        count *= s
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    return NpzMember(name, dtype, shape, bool(fortran), count * dtype.itemsize), header_len


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, member: NpzMember,
                 header_len: int) -> np.ndarray:
    """The member's array, read in chunks into an array of its (already checked) size."""
    count = member.nbytes // member.dtype.itemsize if member.dtype.itemsize else 0
    flat = np.empty(count, dtype=member.dtype)
    buf = flat.view(np.uint8).reshape(-1)
    with zf.open(info) as fh:
        fh.read(header_len)
        done = 0
        while done < member.nbytes:
            chunk = fh.read(min(_READ_CHUNK, member.nbytes - done))
            if not chunk:
                raise EOFError("the array data ends early")
            buf[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
        if fh.read(1):  # also makes zipfile check the CRC
            raise ValueError("extra data after the array")
    if member.fortran_order:
        return flat.reshape(member.shape[::-1]).transpose()
    return flat.reshape(member.shape)


_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
                NotImplementedError, RuntimeError, KeyError, UnicodeDecodeError, SyntaxError,
                TypeError, OverflowError, MemoryError)


def _inspect(zf: zipfile.ZipFile, path: Path, disk_size: int, max_bytes: int,
             error: type[ForensicsError],
             what: str) -> dict[str, tuple[zipfile.ZipInfo, NpzMember, int]]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise error(f"{path.name} holds {len(infos)} arrays, more than an .npz {what} can have.")
    members: dict[str, tuple[zipfile.ZipInfo, NpzMember, int]] = {}
    for info in infos:
        if info.file_size > max_bytes + MAX_HEADER_BYTES:
            raise error(f"{path.name}: the array {info.filename} would take {_gib(info.file_size)}, "
                        f"more than the {_gib(max_bytes)} an .npz {what} may hold.")
        # Sizes the file cannot back are refused before any array is allocated from them.
        if info.compress_size > disk_size or (
                info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size
        ) or info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO:
            raise ValueError(f"{info.filename}: its sizes contradict the file")
        member, header_len = _member_header(zf, info)
        if not member.dtype.hasobject and header_len + member.nbytes != info.file_size:
            held = max(0, info.file_size - header_len)
            raise error(f"{path.name} is damaged: its array '{member.name}' claims shape "
                        f"{member.shape} of {member.dtype} ({_gib(member.nbytes)}) but holds "
                        f"{_gib(held)}.")
        members[member.name] = (info, member, header_len)
    return members


def read_npz(path: str | os.PathLike[str], names: tuple[str, ...] | None = None, *,
             max_bytes: int | None = None, what: str = "file",
             error: type[ForensicsError] = NpzError) -> dict[str, np.ndarray]:
    """The arrays ``names`` (all when None; absent ones are left out) of an .npz, safely.

    Never unpickles; refuses object arrays and files whose arrays together would exceed
    ``max_bytes`` (default :data:`MAX_FEATURE_BYTES`). Raises ``error`` (one sentence naming the
    file) for anything else wrong.
    """
    path = Path(path)
    max_bytes = MAX_FEATURE_BYTES if max_bytes is None else max_bytes
    fh, st = open_regular_file(path, what, error)
    with fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                members = _inspect(zf, path, st.st_size, max_bytes, error, what)
                wanted = [members[n] for n in (names if names is not None else members) if n in members]
                total = sum(m.nbytes for _, m, _ in wanted)
                if total > max_bytes:
                    raise error(f"{path.name} holds {_gib(total)} of arrays, more than the "
                                f"{_gib(max_bytes)} an .npz {what} may hold.")
                for _, m, _ in wanted:
                    if m.dtype.hasobject:
                        raise error(f"{path.name}: the array '{m.name}' holds Python objects, which "
                                    "are never loaded for safety.")
                return {m.name: _read_member(zf, info, m, hl) for info, m, hl in wanted}
        except ForensicsError:
            raise
        except zipfile.BadZipFile as err:
            if "not a zip" in str(err):
                raise error(_not_zip_sentence(path, fh, what, "")) from err
            raise error(f"{path.name} is damaged or truncated ({_short(err)}).") from err
        except _READ_ERRORS as err:
            raise error(f"{path.name} is damaged or truncated ({_short(err)}).") from err


def _short(err: BaseException) -> str:
    text = str(err).strip().rstrip(".").replace("\n", " ") or type(err).__name__
    return text[:120]


def _scalar_value(arr: np.ndarray) -> Any:
    if arr.dtype.kind in "biuf":
        value = arr.item()
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value
    if arr.dtype.kind == "U":
        return str(arr.item())
    return None


def read_feature_npz(path: str | os.PathLike[str], *, arrays: bool = True,
                     max_frames: int = MAX_FEATURE_FRAMES, max_dim: int = MAX_FEATURE_DIM,
                     max_bytes: int | None = None) -> FeatureNpz:
    """Read a features .npz (AVH-Align layout, optionally our scalars) after checking its headers.

    ``visual`` and ``audio``, where present, must be float16/32/64 [T, D] with T <= ``max_frames``
    and D <= ``max_dim`` (D >= 1 unless T == 0); they come back as float32. 0-d numeric and string
    members become ``scalars``; any other member is ignored unread. ``arrays=False`` reads only the
    scalars (the big arrays' headers are still checked). ``max_bytes`` defaults to
    :data:`MAX_FEATURE_BYTES`. Raises FeatureFileError.
    """
    path = Path(path)
    max_bytes = MAX_FEATURE_BYTES if max_bytes is None else max_bytes
    fh, st = open_regular_file(path, "features file", FeatureFileError)
    with fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                members = _inspect(zf, path, st.st_size, max_bytes, FeatureFileError, "features file")
                total = 0
                for name in _FEATURE_ARRAYS:
                    if name in members:
                        m = members[name][1]
                        _check_feature_member(path, m, max_frames, max_dim)
                        total += m.nbytes
                if total > max_bytes:
                    raise FeatureFileError(
                        f"{path.name} holds {_gib(total)} of features, more than the {_gib(max_bytes)} "
                        "a features file may hold; split the clip or extract it again.")
                out = FeatureNpz(None, None, members=frozenset(members))
                for name, (info, m, hl) in members.items():
                    if m.shape == () and not m.dtype.hasobject and m.dtype.kind in "biufU" \
                            and m.nbytes <= MAX_SCALAR_BYTES:
                        out.scalars[name] = _scalar_value(_read_member(zf, info, m, hl))
                if arrays:
                    for name in _FEATURE_ARRAYS:
                        if name in members:
                            info, m, hl = members[name]
                            arr = _read_member(zf, info, m, hl).astype(np.float32, copy=False)
                            setattr(out, name, arr)
                return out
        except ForensicsError:
            raise
        except zipfile.BadZipFile as err:
            if "not a zip" in str(err):
                raise FeatureFileError(_not_zip_sentence(
                    path, fh, "features file", "; a features file is an .npz with float arrays 'visual' "
                    f"and 'audio' ({_FEATURE_HINT})")) from err
            raise FeatureFileError(f"{path.name} is damaged or truncated ({_short(err)}); extract its "
                                   "features again with 'forensics-gui features'.") from err
        except _READ_ERRORS as err:
            raise FeatureFileError(f"{path.name} is damaged or truncated ({_short(err)}); extract its "
                                   "features again with 'forensics-gui features'.") from err


def _check_feature_member(path: Path, m: NpzMember, max_frames: int, max_dim: int) -> None:
    if m.dtype.hasobject:
        raise FeatureFileError(f"{path.name}: '{m.name}' holds Python objects, which are never "
                               "loaded for safety; a features file holds float arrays only.")
    if len(m.shape) != 2 or m.dtype not in _FLOAT_KINDS:
        raise FeatureFileError(f"{path.name}: '{m.name}' must be a float array [frames, dims], "
                               f"not {m.dtype} of shape {m.shape}.")
    frames, dims = m.shape
    if frames > max_frames:
        raise FeatureFileError(f"{path.name}: '{m.name}' has {frames} frames, more than the "
                               f"{max_frames} ({model_frame_start(max_frames) / 3600:.0f} h at "
                               f"{MODEL_FPS} fps) a features "
                               "file may have.")
    if dims > max_dim or (dims == 0 and frames > 0):
        raise FeatureFileError(f"{path.name}: '{m.name}' has {dims} dimensions per frame; "
                               f"AV-HuBERT features have 1 to {max_dim}.")
