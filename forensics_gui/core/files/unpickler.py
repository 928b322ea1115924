"""An allow-listing unpickler for model checkpoints: loads data, never runs code from the file.

A ``.pt`` checkpoint is a pickle, and a pickle may name any importable callable (``os.system``,
``builtins.eval``, ``builtins.bytearray`` with a size of 3 GiB, ...) for the loader to call.
:meth:`SafeUnpickler.find_class` never returns such a callable. What it returns for a name:

- a class under ``fairseq.*``, ``omegaconf.*``, ``sentencepiece.*``, ``hydra.*`` or ``avhubert.*``
  (task state: dictionaries, BPE, configs, enums): an :class:`InertObject` subclass that only
  stores the pickled state; constructing it ignores its arguments;
- a harmless type or typing name used as a value (``int``, ``str``, ``dict``, ``NoneType``,
  ``typing.Any``, ``enum.Enum``, ...): a :class:`GlobalReference`, an inert marker whose call is
  refused, so ``bytes(10**10)`` or ``list(range(10**10))`` can never run;
- a few data constructors, each wrapped so that what it builds is no bigger than its arguments,
  i.e. bounded by the file's own size: ``set``, ``frozenset``, ``slice``, ``complex``,
  ``bytearray`` (from bytes only, never from a size), ``OrderedDict``, ``defaultdict`` (its
  factory dropped), ``_codecs.encode`` (latin-1 only: how protocol 2 spells bytes), numpy
  arrays/scalars/dtypes, ``torch.Size``/``torch.device``/dtypes, and torch's tensor rebuild
  helpers, which refuse any view that reaches past its storage or repeats elements (stride 0);
- anything else raises :class:`~forensics_gui.core.errors.CheckpointError` before it is called.

Before unpickling, :func:`check_opcodes` scans the pickle: memo indices beyond the pickle's own
length (a 9-byte pickle can otherwise make the unpickler allocate 16 GiB) and pickles of more
than protocol 5 are refused. Tensor storages come from the caller's ``persistent_load``
(:mod:`forensics_gui.core.files.torchfile`), never from torch's own loader.
"""

from __future__ import annotations

import _compat_pickle
import collections
import functools
import io
import pickle
import pickletools
from collections.abc import Callable
from typing import Any

from forensics_gui.core.errors import CheckpointError

#: Modules whose classes become :class:`InertObject` stand-ins.
INERT_MODULE_PREFIXES = ("fairseq", "omegaconf", "sentencepiece", "hydra", "avhubert")

#: Names that are data when they appear in a checkpoint (a config's ``object_type``, a
#: sentencepiece ``_return_type``, a typing annotation): returned as inert markers.
_TYPE_NAMES: dict[str, set[str]] = {
    "builtins": {"int", "float", "str", "bool", "bytes", "dict", "list", "tuple", "type", "object",
                 "complex", "NoneType", "set", "frozenset", "bytearray", "Ellipsis",
                 "NotImplemented"},
    "types": {"NoneType"},
    "typing": {"Any", "Optional", "Union", "List", "Dict", "Tuple", "Set", "Callable", "Type",
               "Sequence", "Mapping", "FrozenSet", "Literal", "ClassVar", "Final"},
    "enum": {"Enum", "IntEnum", "Flag", "IntFlag", "StrEnum"},
}

#: Largest tensor rank accepted (AV-HuBERT's largest is 5: the video front-end's Conv3d).
MAX_TENSOR_DIMS = 8


class InertObject:
    """Stand-in for a class a checkpoint names but that we do not import (fairseq, omegaconf, ...).

    Construction ignores its arguments; :meth:`__setstate__` stores the pickled state as
    attributes (a dict) or in ``state`` (anything else). No code of the original class runs.
    """

    _qualname = "InertObject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}  # (dict, slots) form
        if isinstance(state, dict):
            self.__dict__.update({str(k): v for k, v in state.items()})
        else:
            self.__dict__["state"] = state

    def __getitem__(self, key: Any) -> Any:
        return self.__dict__[key]

    def __repr__(self) -> str:
        return f"<inert {self._qualname}>"


class RefusedGlobal(CheckpointError):
    """A checkpoint names a callable that is not allowed; ``qualname`` says which."""

    def __init__(self, file_label: str, module: str, name: str) -> None:
        super().__init__(refuse_message(file_label, module, name))
        self.qualname = printable(f"{module}.{name}")


class AttributeDict(dict[str, Any]):
    """Lightning's ``AttributeDict`` (hyper-parameters) read as a plain dict."""


class GlobalReference:
    """A type or typing name a checkpoint holds as a value (``builtins.int``, ``typing.Any``).

    Compares equal to another reference of the same name; calling it is refused, so the pickle
    cannot use it to build anything.
    """

    def __init__(self, module: str, name: str, args: tuple[Any, ...] = ()) -> None:
        self.module, self.name, self.args = module, name, args

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RefusedGlobal("this file", self.module, self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalReference) and (self.qualname, self.args) == (
            other.qualname, other.args)

    def __hash__(self) -> int:
        return hash(self.qualname)

    def __repr__(self) -> str:
        return f"<type {self.qualname}{list(self.args) if self.args else ''}>"


_STAND_INS: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    qualname = f"{module}.{name}"
    cls = _STAND_INS.get(qualname)
    if cls is None:
        cls = type(name, (InertObject,), {"_qualname": qualname, "__module__": __name__})
        _STAND_INS[qualname] = cls
    return cls


def python3_name(module: str, name: str) -> tuple[str, str]:
    """The Python 3 (module, name) of a Python 2 global (``__builtin__.long`` -> ``builtins.int``),
    with the same mapping :meth:`pickle.Unpickler.find_class` applies to protocol < 3 pickles."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def printable(text: str, limit: int = 100) -> str:
    """A name from the file as it may appear in a one-line message (no control characters)."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "..."


def refuse_message(file_label: str, module: str, name: str) -> str:
    return (
        f"forensics-gui refuses to load {file_label}: it asks to run "
        f"{printable(f'{module}.{name}')}, which a model "
        "checkpoint never needs; the file may be malicious or is not a model checkpoint."
    )


def _invalid(what: str) -> CheckpointError:
    return CheckpointError(
        f"forensics-gui refuses to load this file: {what}; the file may be malicious or damaged.")


# --------------------------------------------------------------------------- bounded builders

_ITERABLE_DATA = (list, tuple, set, frozenset, dict, str, bytes)


def _iterable(value: Any, what: str) -> Any:
    if not isinstance(value, _ITERABLE_DATA):
        raise _invalid(f"it builds a {what} from a {type(value).__name__}")
    return value


def _make_set(items: Any = ()) -> set[Any]:
    return set(_iterable(items, "set"))


def _make_frozenset(items: Any = ()) -> frozenset[Any]:
    return frozenset(_iterable(items, "frozenset"))


def _make_slice(*args: Any) -> slice:
    if len(args) > 3 or not all(a is None or isinstance(a, int) for a in args):
        raise _invalid("it builds a slice from something other than integers")
    return slice(*args)


def _make_complex(real: Any = 0.0, imag: Any = 0.0) -> complex:
    if not all(isinstance(v, (int, float)) for v in (real, imag)):
        raise _invalid("it builds a complex number from something other than numbers")
    return complex(real, imag)


def _make_bytearray(source: Any = b"", encoding: Any = None) -> bytearray:
    # protocol 2 writes bytearray(b) as bytearray(<latin-1 text>, 'latin-1'); never from a size
    if isinstance(source, str) and encoding in ("latin-1", "latin1"):
        return bytearray(source, "latin-1")
    if isinstance(source, (bytes, bytearray)) and encoding is None:
        return bytearray(source)
    raise _invalid("it asks for a bytearray of a given size instead of given bytes")


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if isinstance(text, str) and encoding in ("latin1", "latin-1"):
        return text.encode("latin-1")
    raise _invalid("it encodes text with a codec other than latin-1")


def _make_ordered_dict(items: Any = ()) -> collections.OrderedDict[Any, Any]:
    return collections.OrderedDict(_iterable(items, "dictionary"))


def _make_defaultdict(factory: Any = None, *rest: Any) -> collections.defaultdict[Any, Any]:
    # the factory would be called by a lookup of a missing key: keep the data, drop the factory
    if factory is not None and not isinstance(factory, GlobalReference):
        raise _invalid("it gives a defaultdict a factory that is not a plain type")
    return collections.defaultdict(None, *rest) if not rest else collections.defaultdict(
        None, _iterable(rest[0], "dictionary"))


def _make_type(*args: Any) -> GlobalReference:
    if len(args) == 1 and args[0] is None:  # type(None), how typing pickles Optional[...]
        return GlobalReference("builtins", "NoneType")
    raise _invalid("it calls type() to build a class")


def _getitem(container: Any, key: Any) -> GlobalReference:
    # typing.Optional[int] pickles as operator.getitem(typing.Union, (int, NoneType))
    if isinstance(container, GlobalReference) and container.module == "typing":
        keys = key if isinstance(key, tuple) else (key,)
        if all(isinstance(k, GlobalReference) for k in keys):
            return GlobalReference(container.module, container.name, keys)
    raise _invalid("it indexes an object while loading")


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, InertObject):
        obj = cls()
        if state is not None:
            obj.__dict__["state"] = state
        return obj
    raise _invalid("it rebuilds an object of a class that is not plain data")


@functools.lru_cache(maxsize=1)
def _numpy_modules() -> dict[str, dict[str, Any]]:
    import numpy as np

    ndarray_ref = GlobalReference("numpy", "ndarray")

    def reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> Any:
        # numpy pickles arrays as _reconstruct(ndarray, (0,), b'b') + __setstate__ with the data,
        # and __setstate__ checks that the data fills the shape: never allocate a shape here.
        if subtype != ndarray_ref or not isinstance(shape, tuple) or 0 not in shape:
            raise _invalid("it asks numpy for an array of a given shape before giving its data")
        return np.ndarray((0,), dtype=np.uint8)

    def dtype(spec: Any, align: Any = False, copy: Any = True) -> Any:
        if not isinstance(spec, str) or len(spec) > 8:
            raise _invalid("it names a numpy dtype that is not a plain one")
        return np.dtype(spec, bool(align), bool(copy))

    def scalar(dt: Any, data: Any = None) -> Any:
        if not isinstance(dt, np.dtype) or dt.hasobject or not isinstance(data, bytes):
            raise _invalid("it builds a numpy scalar that is not plain data")
        return np.frombuffer(data, dtype=dt, count=1)[0] if len(data) == dt.itemsize else _fail(
            "it builds a numpy scalar from the wrong number of bytes")

    multiarray = {"_reconstruct": reconstruct, "scalar": scalar}
    dtypes = {name: getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")}
    return {"numpy": {"ndarray": ndarray_ref, "dtype": dtype},
            "numpy.core.multiarray": multiarray, "numpy._core.multiarray": multiarray,
            "numpy.dtypes": {k: _dtype_class(v) for k, v in dtypes.items()}}


def _dtype_class(cls: type) -> Callable[..., Any]:
    import numpy as np

    def make(*args: Any) -> Any:
        if args:
            raise _invalid("it builds a numpy dtype class with arguments")
        return np.dtype(cls.type)  # type: ignore[attr-defined]

    return make


def _pure_path(windows: bool) -> Callable[..., Any]:
    import pathlib

    def make(*parts: Any) -> Any:
        if not all(isinstance(p, str) for p in parts):
            raise _invalid("it builds a path from something other than text")
        return pathlib.PureWindowsPath(*parts) if windows else pathlib.PurePosixPath(*parts)

    return make


_LIGHTNING_DICT_MODULES = ("lightning.fabric.utilities.data", "lightning_fabric.utilities.data",
                           "pytorch_lightning.utilities.parsing")


def _fail(what: str) -> Any:
    raise _invalid(what)


_SAFE: dict[str, dict[str, Any]] = {
    "builtins": {"set": _make_set, "frozenset": _make_frozenset, "slice": _make_slice,
                 "complex": _make_complex, "bytearray": _make_bytearray, "type": _make_type},
    "collections": {"OrderedDict": _make_ordered_dict, "defaultdict": _make_defaultdict},
    "argparse": {"Namespace": "argparse.Namespace"},  # resolved lazily below (a plain class)
    "copyreg": {"_reconstructor": _copyreg_reconstructor},
    "_codecs": {"encode": _codecs_encode},
    "_operator": {"getitem": _getitem},
    "operator": {"getitem": _getitem},
    # paths in a training run's args: pure paths, which never touch the file system
    "pathlib": {name: _pure_path(windows="Windows" in name) for name in (
        "Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath")},
    **{module: {"AttributeDict": AttributeDict} for module in _LIGHTNING_DICT_MODULES},
}


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only returns inert or bounded callables.

    ``tensor_globals`` maps torch names (``torch._utils._rebuild_tensor_v2``, ``torch.HalfStorage``
    ...) to the caller's bounded replacements; without it no torch name is accepted.
    """

    def __init__(self, file: Any, file_label: str = "this file",
                 tensor_globals: dict[tuple[str, str], Any] | None = None,
                 persistent_load: Callable[[Any], Any] | None = None,
                 inert_prefixes: tuple[str, ...] = INERT_MODULE_PREFIXES) -> None:
        super().__init__(file)
        self.file_label = file_label
        self.inert_prefixes = inert_prefixes
        self._tensor_globals = tensor_globals or {}
        if persistent_load is not None:
            self.persistent_load = persistent_load  # type: ignore[method-assign]

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401
        # Protocol 2 spells builtins.int as "__builtin__ long": check the Python 3 name.
        module, name = python3_name(module, name)
        if module.split(".")[0] in self.inert_prefixes:
            return _stand_in(module, name)
        if "." in name:  # protocol 4 dotted names reach attributes of allowed objects: refuse
            raise RefusedGlobal(self.file_label, module, name)
        tensor_global = self._tensor_globals.get((module, name))
        if tensor_global is not None:
            return tensor_global
        found = _SAFE.get(module, {}).get(name)
        if found is None and module.startswith("numpy"):
            found = _numpy_modules().get(module, {}).get(name)
        if found == "argparse.Namespace":
            import argparse

            return argparse.Namespace
        if found is not None:
            return found
        if name in _TYPE_NAMES.get(module, ()):
            return GlobalReference(module, name)
        raise RefusedGlobal(self.file_label, module, name)


def check_opcodes(data: bytes, file_label: str) -> None:
    """Refuse a pickle whose opcodes could make the unpickler allocate more than the pickle's size.

    Memo indices are at most the number of opcodes in real pickles; a huge one makes the C
    unpickler grow its memo table to that index.
    """
    limit = len(data) + 16
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"):
                index = int(arg or 0)
                if index < 0 or index > limit:
                    raise CheckpointError(
                        f"forensics-gui refuses to load {file_label}: its pickle uses a memo index "
                        f"({index}) far beyond its own size, a way to exhaust memory; the file may "
                        "be malicious or damaged.")
            elif opcode.name == "PROTO" and int(arg or 0) > pickle.HIGHEST_PROTOCOL:
                raise CheckpointError(f"{file_label} uses pickle protocol {arg}, which this Python "
                                      "cannot read.")
    except (ValueError, TypeError) as err:
        raise CheckpointError(
            f"{file_label} is not a readable PyTorch checkpoint (its pickle is damaged: "
            f"{str(err)[:80]}).") from err


def safe_loads(data: bytes, file_label: str, tensor_globals: dict[tuple[str, str], Any] | None = None,
               persistent_load: Callable[[Any], Any] | None = None,
               inert_prefixes: tuple[str, ...] = INERT_MODULE_PREFIXES) -> Any:
    """Unpickle ``data`` (a complete pickle) with :class:`SafeUnpickler` after :func:`check_opcodes`."""
    check_opcodes(data, file_label)
    unpickler = SafeUnpickler(io.BytesIO(data), file_label, tensor_globals, persistent_load,
                              inert_prefixes)
    return unpickler.load()
