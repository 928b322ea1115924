"""Read a PyTorch ``.pt``/``.ckpt`` file without ``torch.load``: data only, memory bounded by the file.

``torch.load`` decides "zip" from the first four bytes and hands a zip that looks like TorchScript
to ``torch.jit.load``, which runs code. This reader never calls ``torch.load`` or ``torch.jit``:

- zip format (first bytes ``PK\\x03\\x04``, the same test torch makes): Python's ``zipfile``
  must open the archive (one that it cannot open, e.g. a TorchScript archive with a stray
  end-of-directory record appended, is refused, as is anything with TorchScript's ``code/`` or
  ``constants.pkl``); ``<archive>/data.pkl`` is unpickled with the allow-listing
  :class:`~forensics_gui.core.files.unpickler.SafeUnpickler`, and each storage is a view of
  its stored (uncompressed) record in a private, copy-on-write memory map of the file, so tensors
  nobody reads cost nothing and nothing is written back;
- legacy format (torch < 1.6 and ``_use_new_zipfile_serialization=False``): the magic number,
  protocol and system-info pickles, the main pickle, the storage keys, then each storage's bytes.

Limits that keep a small file from taking gigabytes: every storage must lie inside the file and
all of them together may declare no more bytes than the file holds; a tensor may not reach past
its storage nor hold more elements than it (no stride-0 expansion); pickles are checked by
:func:`~forensics_gui.core.files.unpickler.check_opcodes` first.
"""

from __future__ import annotations

import math
import mmap
import pickletools
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import CheckpointError
from forensics_gui.core.files.checks import open_regular_file
from forensics_gui.core.files.unpickler import (
    INERT_MODULE_PREFIXES,
    MAX_TENSOR_DIMS,
    GlobalReference,
    safe_loads,
)

ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "HalfStorage": "float16", "FloatStorage": "float32", "DoubleStorage": "float64",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "UntypedStorage": "uint8",
}
_DTYPE_NAMES = ("float16", "float32", "float64", "bfloat16", "int64", "int32", "int16", "int8",
                "uint8", "bool")


@dataclass(frozen=True)
class _StorageType:
    """``torch.HalfStorage`` etc. as named by a pickle: only its dtype is used, never called."""

    name: str
    dtype_name: str

    def __call__(self, *args: Any) -> Any:
        raise _refused(f"it asks to build a torch.{self.name} directly")


@dataclass(frozen=True)
class _Storage:
    """A storage of ``nbytes`` bytes read from the file (a view of the map, or a bounded copy)."""

    untyped: Any  # torch.UntypedStorage
    dtype: Any  # torch.dtype

    @property
    def numel(self) -> int:
        return int(self.untyped.nbytes()) // _element_size(self.dtype)


def _element_size(dtype: Any) -> int:
    import torch

    return int(torch.empty((), dtype=dtype).element_size())


def _refused(what: str) -> CheckpointError:
    return CheckpointError(
        f"forensics-gui refuses to load this file: {what}; the file may be malicious or damaged.")


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_TENSOR_DIMS or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise _refused(f"a tensor has an invalid {what}")
    return tuple(value)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, dtype: Any = None) -> Any:
    import torch

    if not isinstance(storage, _Storage):
        raise _refused("a tensor is built on something that is not one of the file's storages")
    shape, strides = _ints(size, "shape"), _ints(stride, "stride")
    if len(shape) != len(strides) or not isinstance(offset, int) or offset < 0:
        raise _refused("a tensor has an invalid shape or offset")
    dtype = storage.dtype if dtype is None else dtype
    if dtype != storage.dtype:
        raise _refused("a tensor's dtype differs from its storage's")
    numel = math.prod(shape)
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
        if last >= storage.numel or numel > storage.numel:
            raise CheckpointError(
                "forensics-gui refuses to load this file: a tensor of shape "
                f"{shape} claims more elements than its storage of {storage.numel} holds (a "
                "stride-0 or out-of-bounds view, a way to exhaust memory); the file may be "
                "malicious or damaged.")
    tensor = torch.empty((0,), dtype=dtype)
    return tensor.set_(storage.untyped, offset, shape, strides)


def _no_hooks(hooks: Any) -> None:
    if hooks not in (None, {}) and not (isinstance(hooks, dict) and not hooks):
        raise _refused("a tensor carries backward hooks")


def rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                      backward_hooks: Any = None, metadata: Any = None) -> Any:
    _no_hooks(backward_hooks)
    if metadata:
        raise _refused("a tensor carries extra metadata (conjugate/negative views)")
    return _rebuild_tensor(storage, offset, size, stride)


def rebuild_tensor_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                      backward_hooks: Any, dtype: Any, metadata: Any = None) -> Any:
    _no_hooks(backward_hooks)
    if metadata:
        raise _refused("a tensor carries extra metadata (conjugate/negative views)")
    return _rebuild_tensor(storage, offset, size, stride, dtype)


def rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> Any:
    return _rebuild_tensor(storage, offset, size, stride)


def rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> Any:
    import torch

    _no_hooks(backward_hooks)
    if not isinstance(data, torch.Tensor):
        raise _refused("a parameter wraps something that is not a tensor")
    return data


def rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any,
                                 state: Any) -> Any:
    if state:
        raise _refused("a parameter carries extra attributes")
    return rebuild_parameter(data, requires_grad, backward_hooks)


_TENSOR_TYPES = (GlobalReference("torch", "Tensor"), GlobalReference("torch._tensor", "Tensor"),
                 GlobalReference("torch.nn.parameter", "Parameter"))


def rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    if func not in _REBUILDERS or new_type not in _TENSOR_TYPES or state or not isinstance(
            args, tuple):
        raise _refused("it rebuilds a tensor subclass or calls a function through torch")
    return func(*args)


_REBUILDERS = (rebuild_tensor_v2, rebuild_tensor_v3, rebuild_tensor, rebuild_parameter,
               rebuild_parameter_with_state)


def _torch_size(dims: Any = ()) -> Any:
    import torch

    return torch.Size(_ints(dims, "size"))


def _torch_device(kind: Any, index: Any = None) -> Any:
    import torch

    if not isinstance(kind, str) or len(kind) > 32 or not (index is None or isinstance(index, int)):
        raise _refused("it names an invalid torch device")
    return torch.device(kind) if index is None else torch.device(kind, index)


def tensor_globals() -> dict[tuple[str, str], Any]:
    """The torch names a checkpoint may use, mapped to bounded, checked replacements."""
    import torch

    table: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): rebuild_tensor_v3,
        ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type_v2,
        ("torch", "Size"): _torch_size,
        ("torch", "device"): _torch_device,
    }
    for ref in _TENSOR_TYPES:
        table[(ref.module, ref.name)] = ref
    for name in _DTYPE_NAMES:
        table[("torch", name)] = getattr(torch, name)
    for name, dtype_name in _STORAGE_DTYPES.items():
        table[("torch", name)] = _StorageType(name, dtype_name)
    return table


# --------------------------------------------------------------------------- the file


class _Reader:
    """One pass over one file: the map, the storages built so far and the byte budget."""

    def __init__(self, path: Path, label: str, inert_prefixes: tuple[str, ...]) -> None:
        self.path, self.label, self.inert_prefixes = path, label, inert_prefixes
        fh, info = open_regular_file(path, "checkpoint", CheckpointError, name=label)
        with fh:
            self.size = info.st_size
            self.map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        self.declared = 0
        self.storages: dict[str, _Storage] = {}
        self.globals = tensor_globals()

    def budget(self, nbytes: int) -> None:
        self.declared += nbytes
        if self.declared > self.size:
            raise CheckpointError(
                f"forensics-gui refuses to load {self.label}: its tensors declare "
                f"{self.declared:,} bytes but the file holds only {self.size:,}; the file may be "
                "malicious or damaged.")

    def storage_type(self, value: Any) -> Any:
        import torch

        if not isinstance(value, _StorageType):
            raise _refused("a storage has an unknown type")
        return getattr(torch, value.dtype_name)

    def view(self, offset: int, nbytes: int) -> Any:
        import torch

        if offset < 0 or offset + nbytes > self.size:
            raise CheckpointError(f"{self.label} is truncated: a tensor lies past its end; "
                                  "download it again.")
        if nbytes == 0:
            return torch.UntypedStorage(0)
        return torch.frombuffer(self.map, dtype=torch.uint8, count=nbytes, offset=offset
                                ).untyped_storage()

    def read(self) -> Any:
        if self.map[:4] == ZIP_MAGIC:
            return self.read_zip()
        return self.read_legacy()

    # ---- zip
    def read_zip(self) -> Any:
        try:
            archive = zipfile.ZipFile(self.map)  # type: ignore[call-overload]
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as err:
            raise CheckpointError(
                f"{self.label} is a zip archive that cannot be opened as a whole (damaged, or "
                "altered after saving); forensics-gui does not load it.") from err
        names = [i.filename for i in infos]
        if not names or len(set(names)) != len(names):
            raise CheckpointError(f"{self.label} is a damaged zip archive (empty, or with "
                                  "repeated entries); forensics-gui does not load it.")
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            raise CheckpointError(
                f"{self.label} is a TorchScript model, not a checkpoint; forensics-gui does not "
                "load TorchScript files.")
        prefix = names[0].split("/", 1)[0]
        by_name = {i.filename: i for i in infos}
        pkl = by_name.get(f"{prefix}/data.pkl")
        if pkl is None:
            raise CheckpointError(f"{self.label} is not a readable PyTorch checkpoint: it is a "
                                  "zip archive without data.pkl.")
        order = by_name.get(f"{prefix}/byteorder")
        if order is not None and self.record(order, order.file_size) != b"little":
            raise CheckpointError(f"{self.label} was saved on a big-endian machine; re-save it on "
                                  "a little-endian one.")
        data = self.record(pkl, pkl.file_size)

        def persistent_load(saved_id: Any) -> Any:
            if not isinstance(saved_id, tuple) or len(saved_id) != 5 or _ascii(saved_id[0]) != "storage":
                raise _refused("it refers to an object outside the file")
            _, storage_type, key, _location, numel = saved_id
            key = _ascii(key)
            dtype = self.storage_type(storage_type)
            if key in self.storages:
                return self.storages[key]
            info = by_name.get(f"{prefix}/data/{key}")
            if info is None or not isinstance(numel, int) or numel < 0:
                raise CheckpointError(f"{self.label} is damaged: tensor data record {key!r} is "
                                      "missing; download it again.")
            nbytes = numel * _element_size(dtype)
            if info.file_size != nbytes:
                raise CheckpointError(
                    f"forensics-gui refuses to load {self.label}: tensor data record {key!r} "
                    f"holds {info.file_size:,} bytes but its tensor claims {nbytes:,}; the file "
                    "may be malicious or damaged.")
            self.budget(nbytes)
            storage = _Storage(self.view(self.record_offset(info), nbytes), dtype)
            self.storages[key] = storage
            return storage

        return safe_loads(data, self.label, self.globals, persistent_load, self.inert_prefixes)

    def record_offset(self, info: zipfile.ZipInfo) -> int:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise CheckpointError(f"{self.label} has compressed records, which torch.save never "
                                  "writes; forensics-gui does not load it.")
        head = info.header_offset
        local = bytes(self.map[head:head + 30])
        if len(local) < 30 or local[:4] != ZIP_MAGIC:
            raise CheckpointError(f"{self.label} is a damaged zip archive; download it again.")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        return head + 30 + name_len + extra_len

    def record(self, info: zipfile.ZipInfo, nbytes: int) -> bytes:
        offset = self.record_offset(info)
        if offset + nbytes > self.size:
            raise CheckpointError(f"{self.label} is truncated; download it again.")
        return bytes(self.map[offset:offset + nbytes])

    # ---- legacy
    def next_pickle(self, position: int) -> tuple[bytes, int]:
        self.map.seek(position)
        try:
            end = position
            for opcode, _, pos in pickletools.genops(self.map):  # type: ignore[arg-type]
                end = int(pos or 0) + 1
                if opcode.name == "STOP":
                    break
            else:
                raise ValueError("no STOP opcode")
        except (ValueError, TypeError, struct.error, UnicodeDecodeError) as err:
            raise CheckpointError(
                f"{self.label} is not a readable PyTorch checkpoint; it may be truncated or a "
                "different kind of file.") from err
        return bytes(self.map[position:end]), end

    def read_legacy(self) -> Any:
        import torch

        position = 0
        header: list[Any] = []
        for _ in range(3):
            data, position = self.next_pickle(position)
            header.append(safe_loads(data, self.label))
        magic, protocol, sys_info = header
        if magic != _LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL:
            raise CheckpointError(f"{self.label} is not a readable PyTorch checkpoint; it may be "
                                  "truncated or a different kind of file.")
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise CheckpointError(f"{self.label} was saved on a big-endian machine; re-save it on "
                                  "a little-endian one.")
        pending: dict[str, tuple[_Storage, int]] = {}

        def persistent_load(saved_id: Any) -> Any:
            if not isinstance(saved_id, tuple) or len(saved_id) != 6 or _ascii(saved_id[0]) != "storage":
                raise _refused("it refers to an object outside the file")
            _, storage_type, key, _location, numel, view = saved_id
            key = _ascii(key)
            dtype = self.storage_type(storage_type)
            if view is not None:
                raise CheckpointError(f"{self.label} uses storage views of a PyTorch older than "
                                      "1.0; re-save it with a current PyTorch.")
            if key in pending:
                return pending[key][0]
            if not isinstance(numel, int) or numel < 0:
                raise _refused("a storage has an invalid size")
            nbytes = numel * _element_size(dtype)
            self.budget(nbytes)  # before allocating: the bytes must be in the file
            storage = _Storage(torch.empty(nbytes, dtype=torch.uint8).untyped_storage(), dtype)
            pending[key] = (storage, numel)
            return storage

        data, position = self.next_pickle(position)
        result = safe_loads(data, self.label, self.globals, persistent_load, self.inert_prefixes)
        data, position = self.next_pickle(position)
        keys = safe_loads(data, self.label)
        if not isinstance(keys, list) or {_ascii(k) for k in keys} != set(pending):
            raise CheckpointError(f"{self.label} is damaged: its storage list does not match its "
                                  "tensors; download it again.")
        for key in keys:
            storage, numel = pending[_ascii(key)]
            head = bytes(self.map[position:position + 8])
            if len(head) < 8 or struct.unpack("<q", head)[0] != numel:
                raise CheckpointError(f"{self.label} is truncated or damaged: storage {key!r} "
                                      "does not have its declared size; download it again.")
            nbytes = int(storage.untyped.nbytes())
            source = self.view(position + 8, nbytes)
            if nbytes:
                torch.empty(0, dtype=torch.uint8).set_(storage.untyped).copy_(
                    torch.empty(0, dtype=torch.uint8).set_(source))
            position += 8 + nbytes
        return result


def _ascii(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, str):
        return value
    raise _refused("a storage is named by something that is not text")


def read_torch_file(path: str | Path, label: str | None = None,
                    inert_prefixes: tuple[str, ...] = INERT_MODULE_PREFIXES) -> Any:
    """Unpickle a ``.pt`` file (zip or legacy format) safely onto the CPU; never runs file code.

    Classes of modules in ``inert_prefixes`` (fairseq, omegaconf, ... by default) load as inert
    stand-ins; pass ``()`` to refuse them too. Raises :class:`CheckpointError` (one sentence
    naming ``label``, default the file name; a refused name raises its subclass
    :class:`~forensics_gui.core.files.unpickler.RefusedGlobal`) for anything that is not a
    readable, plain-data checkpoint.
    """
    path = Path(path)
    label = label or f"'{path.name}'"
    reader = _Reader(path, label, inert_prefixes)
    try:
        return reader.read()
    except CheckpointError as err:
        if "this file" in str(err):
            err.args = (str(err).replace("this file", label, 1),)
        raise
    except (RecursionError, MemoryError) as err:
        raise CheckpointError(f"{label} nests its data too deeply or is too large to read.") from err
    except Exception as err:  # noqa: BLE001 - any other unpickling failure is a damaged file
        raise CheckpointError(
            f"{label} is not a readable PyTorch checkpoint ({type(err).__name__}); it may be "
            "truncated or a different kind of file.") from err
