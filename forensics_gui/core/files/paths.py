"""Where the app keeps user data: models, cache, demo clips. No Qt (QStandardPaths is not needed).

Every location can be overridden with an environment variable, which the tests use to stay
inside a temporary folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "forensics-gui"
REPO_MODELS_DIR = Path(__file__).resolve().parents[3] / "models"


def _data_home() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))


def _cache_home() -> Path:
    if sys.platform == "win32":
        return _data_home()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))


def user_data_dir() -> Path:
    """Per-user data folder (``$FORENSICS_GUI_DATA`` overrides)."""
    return Path(os.environ.get("FORENSICS_GUI_DATA", _data_home() / APP_NAME))


def user_models_dir() -> Path:
    """Folder where the user puts model weights (``$FORENSICS_GUI_MODELS`` overrides)."""
    return Path(os.environ.get("FORENSICS_GUI_MODELS", user_data_dir() / "models"))


def cache_dir() -> Path:
    """Folder for recomputable results: ROIs, features, scores (``$FORENSICS_GUI_CACHE`` overrides)."""
    return Path(os.environ.get("FORENSICS_GUI_CACHE", _cache_home() / APP_NAME))


def model_search_dirs() -> list[Path]:
    """Where weights are looked for, in order: the user's models folder, then the repo's models/."""
    return [user_models_dir(), REPO_MODELS_DIR]
