"""The official AV-Deepfake1M SDK (``avdeepfake1m`` on PyPI), when installed, for comparisons.

Only its compiled metric module (``ap_ar_1d``) is loaded, on its own: the package's
``__init__`` also imports pandas, torch and torchmetrics. It is not a dependency of the project;
tests and benchmarks that compare against it skip or say so when it is absent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def sdk_module_path() -> Path | None:
    """The SDK's compiled ``_evaluation*.so``, or None when the SDK is not installed."""
    spec = importlib.util.find_spec("avdeepfake1m")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(list(spec.submodule_search_locations)[0]).glob("_evaluation*.so"))
    return found[0] if found else None


def load_official_sdk() -> ModuleType | None:
    """The SDK's compiled metric module (``ap_ar_1d``), or None when the SDK is not installed."""
    path = sdk_module_path()
    spec = None if path is None else importlib.util.spec_from_file_location(
        "avdeepfake1m._evaluation", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
