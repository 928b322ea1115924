"""An allow-listing unpickler for model checkpoints: loads data, never runs code from the file.

A ``.pt`` checkpoint is a pickle, and a pickle may name any importable callable (``os.system``,
``builtins.eval``, ...) for the loader to call. :class:`SafeUnpickler.find_class` returns only:

- torch's tensor/storage rebuild helpers, ``torch.Size``/``torch.device``/dtypes;
- ``collections.OrderedDict``, ``argparse.Namespace``, a few inert builtins (set, slice, ...),
  ``_codecs.encode`` (protocol 2 spells bytes with it);
- numpy array/scalar/dtype reconstruction;
- for any class under ``fairseq.*``, ``omegaconf.*``, ``sentencepiece.*``, ``hydra.*`` or
  ``avhubert.*`` (task state: dictionaries, BPE, configs): :class:`InertObject`, a stand-in that only
  stores the pickled state and whose construction ignores its arguments.

Everything else raises :class:`~forensics_gui.core.errors.CheckpointError` before it is called.
Use it through ``torch.load(f, pickle_module=safe_pickle_module(name), weights_only=False)``:
torch subclasses ``pickle_module.Unpickler`` for both the zip format (``data.pkl``) and the legacy
format, so the allow-list applies to every object in either layout. (Torch's own ``weights_only``
mode cannot be used: it needs every fairseq class name registered in advance.)
"""

from __future__ import annotations

import _compat_pickle
import pickle
from types import SimpleNamespace
from typing import Any

from forensics_gui.core.errors import CheckpointError

#: Modules whose classes become :class:`InertObject` stand-ins.
INERT_MODULE_PREFIXES = ("fairseq", "omegaconf", "sentencepiece", "hydra", "avhubert")

_ALLOWED: dict[str, set[str]] = {
    "collections": {"OrderedDict", "defaultdict", "deque", "Counter"},
    "argparse": {"Namespace"},
    "builtins": {"set", "frozenset", "slice", "complex", "range", "bytearray", "object"},
    "copyreg": {"_reconstructor"},
    "_codecs": {"encode"},  # how protocol-2 pickles spell bytes objects
    "torch._utils": {
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_numpy",
        "_rebuild_qtensor",
    },
    "torch": {"Size", "device", "float32", "float16", "bfloat16", "float64", "int64", "int32",
              "uint8", "int8", "bool"},
    "torch._tensor": {"_rebuild_from_type_v2"},
    "torch.nn.parameter": {"Parameter"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
}
_NUMPY_DTYPE_MODULES = ("numpy.dtypes",)


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


_STAND_INS: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    qualname = f"{module}.{name}"
    cls = _STAND_INS.get(qualname)
    if cls is None:
        cls = type(name, (InertObject,), {"_qualname": qualname, "__module__": __name__})
        _STAND_INS[qualname] = cls
    return cls


def python3_name(module: str, name: str) -> tuple[str, str]:
    """The Python 3 (module, name) of a Python 2 global (``__builtin__.set`` -> ``builtins.set``),
    with the same mapping :meth:`pickle.Unpickler.find_class` applies to protocol < 3 pickles."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def refuse_message(file_label: str, module: str, name: str) -> str:
    return (
        f"forensics-gui refuses to load {file_label}: it asks to run {module}.{name}, which a model "
        "checkpoint never needs; the file may be malicious or is not a model checkpoint."
    )


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only returns allow-listed, inert callables."""

    file_label = "this file"

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401
        # torch.save writes protocol 2, which spells builtins.set as __builtin__.set: check (and
        # load) the Python 3 name. No allow-listed name is itself a Python 2 name, so mapping is
        # a no-op for protocol 3+ pickles and pickle's own mapping finds nothing more to change.
        module, name = python3_name(module, name)
        if module.split(".")[0] in INERT_MODULE_PREFIXES:
            return _stand_in(module, name)
        if "." in name:  # protocol 4 dotted names reach attributes of allowed classes: refuse
            raise CheckpointError(refuse_message(self.file_label, module, name))
        if name in _ALLOWED.get(module, ()) or (
            module in _NUMPY_DTYPE_MODULES and name.endswith("DType")
        ):
            return super().find_class(module, name)
        if module == "torch" and name.endswith("Storage"):
            import torch

            storage = getattr(torch, name, None)
            if isinstance(storage, type):
                return storage
        raise CheckpointError(refuse_message(self.file_label, module, name))


def safe_pickle_module(file_label: str) -> Any:
    """A module-like object for ``torch.load(pickle_module=...)`` that unpickles safely.

    ``file_label`` names the file in the refusal message.
    """

    class _Unpickler(SafeUnpickler):
        pass

    _Unpickler.file_label = file_label

    def load(file: Any, **kwargs: Any) -> Any:
        return _Unpickler(file, **kwargs).load()

    def loads(data: bytes, **kwargs: Any) -> Any:
        import io

        return load(io.BytesIO(data), **kwargs)

    return SimpleNamespace(
        __name__="forensics_gui_safe_pickle", Unpickler=_Unpickler, load=load, loads=loads,
        UnpicklingError=pickle.UnpicklingError, Pickler=pickle.Pickler, dump=pickle.dump,
    )
