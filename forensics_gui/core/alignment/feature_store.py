"""Training data for Phi as two memory-mapped arrays.

All training videos' L2-normalised features are concatenated into ``visual.npy`` [N, Dv] and
``audio.npy`` [N, Da] (float32, N = total frames at 25 fps) plus ``offsets.npy`` (int64
[videos + 1]: video i owns rows offsets[i]:offsets[i+1]) and ``manifest.json`` (source files,
their SHA-256 and frame counts). The folder is written under a temporary name and renamed when
complete, so a crash never leaves a half-built store; a store whose manifest matches the
requested files is reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_gui.core.alignment.phi import l2_normalize
from forensics_gui.core.errors import ForensicsError, NoFaceError
from forensics_gui.core.files.checks import read_json_file
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.core.files.npz import FeatureFileError, read_feature_npz
from forensics_gui.core.progress import Progress, check_cancelled

STORE_VERSION = 1
__all__ = ["FeatureFileError", "FeatureStore", "build_feature_store", "optional_string",
           "read_feature_file"]


def read_feature_file(path: str | Path, warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read ``visual`` and ``audio`` float32 arrays [T, D] from an AVH-Align .npz.

    The file's headers are checked before anything is loaded (:func:`read_feature_npz`).
    Different frame counts are cut to the shorter one (as AVH-Align does) with a warning on stderr.
    """
    path = Path(path)
    features = read_feature_npz(path)
    visual, audio = features.visual, features.audio
    if visual is None and audio is not None:
        raise NoFaceError(
            f"{path.name} has audio features but no 'visual' array (no face was found in "
            "the clip), so Phi cannot compare mouth and voice."
        )
    if visual is None or audio is None:
        missing = [k for k in ("visual", "audio") if k not in features.members]
        raise FeatureFileError(
            f"{path.name} lacks the array(s) {', '.join(missing)}; a features file needs "
            "float arrays 'visual' and 'audio' of shape [frames, dims] "
            "(write one with 'forensics-gui features')."
        )
    if len(visual) != len(audio):
        t = min(len(visual), len(audio))
        if warn:
            print(f"warning: {path.name}: {len(visual)} visual vs {len(audio)} audio frames; "
                  f"using the first {t}.", file=sys.stderr)
        visual, audio = visual[:t], audio[:t]
    return visual, audio


def optional_string(path: str | Path, key: str) -> str | None:
    """A scalar string entry of a features .npz (e.g. ``checkpoint_sha256``) or None."""
    try:
        value = read_feature_npz(path, arrays=False).scalars.get(key)
    except FeatureFileError:
        return None
    return value if isinstance(value, str) else None


@dataclass
class FeatureStore:
    """Memory-mapped training features (see module docstring)."""

    root: Path
    visual: np.ndarray
    audio: np.ndarray
    offsets: np.ndarray
    manifest: dict[str, Any]

    @property
    def num_videos(self) -> int:
        return int(len(self.offsets) - 1)

    @property
    def num_frames(self) -> int:
        return int(self.offsets[-1])

    @classmethod
    def open(cls, root: str | Path) -> FeatureStore:
        """Open a built store; ForensicsError when its manifest cannot be read, ValueError or
        OSError when its files do not fit together."""
        root = Path(root)
        manifest = read_json_file(root / "manifest.json", "feature store manifest",
                                  should_be="a feature store's manifest")
        store = cls(root=root,
                    visual=np.load(root / "visual.npy", mmap_mode="r", allow_pickle=False),
                    audio=np.load(root / "audio.npy", mmap_mode="r", allow_pickle=False),
                    offsets=np.load(root / "offsets.npy", allow_pickle=False),
                    manifest=manifest)
        v, a, o = store.visual, store.audio, store.offsets
        if not (isinstance(manifest, dict) and v.ndim == a.ndim == 2 and o.ndim == 1 and len(o) >= 2
                and o.dtype == np.int64 and o[0] == 0 and bool(np.all(np.diff(o) >= 0))
                and len(v) == len(a) == o[-1] == manifest.get("frames")
                and v.shape[1] == manifest.get("visual_dim") and a.shape[1] == manifest.get("audio_dim")
                and v.dtype == a.dtype == np.float32):
            raise ValueError(f"the feature store {root} is inconsistent")
        return store


def _fingerprint(files: list[dict[str, Any]]) -> str:
    h = hashlib.sha256(f"v{STORE_VERSION}".encode())
    for f in files:
        h.update(f"{f['sha256']}\n".encode())
    return h.hexdigest()[:24]


def build_feature_store(feature_files: list[Path], root_dir: Path,
                        progress: Progress | None = None) -> FeatureStore:
    """Concatenate the files' normalised features into a store under ``root_dir/<fingerprint>``.

    Files with no frames or no ``visual`` array (no face) are skipped (listed in
    ``manifest["skipped"]``). Reuses an existing
    store for the same file contents.
    """
    if not feature_files:
        raise FeatureFileError("No feature files to train on; pass a folder with .npz files.")
    infos: list[dict[str, Any]] = []
    skipped: list[str] = []
    dims: tuple[int, int] | None = None
    for i, path in enumerate(feature_files):
        check_cancelled(progress)
        if progress is not None:
            progress.report("checking features", i, len(feature_files))
        try:
            visual, audio = read_feature_file(path, warn=False)
        except NoFaceError:
            visual = audio = np.zeros((0, 0), np.float32)
        if len(visual) == 0:  # no face or no frames: nothing to learn alignment from
            skipped.append(str(path))
            continue
        if not (np.isfinite(visual).all() and np.isfinite(audio).all()):
            raise FeatureFileError(f"{Path(path).name} contains NaN or infinite values; extract its "
                                   "features again or move it out of the folder.")
        d = (int(visual.shape[1]), int(audio.shape[1]))
        if dims is None:
            dims = d
        elif d != dims:
            raise FeatureFileError(
                f"{Path(path).name} has {d[0]}/{d[1]}-dim features but earlier files have "
                f"{dims[0]}/{dims[1]}; train on features from one AV-HuBERT model."
            )
        infos.append({"path": str(Path(path).resolve()), "sha256": sha256_file(path),
                      "frames": int(len(visual)),
                      "checkpoint_sha256": optional_string(path, "checkpoint_sha256")})
    if dims is None:
        raise FeatureFileError("Every feature file is empty; there is nothing to train on.")
    root = Path(root_dir) / _fingerprint(infos)
    if (root / "manifest.json").is_file():
        try:
            return FeatureStore.open(root)
        except (ForensicsError, OSError, ValueError):  # damaged in the cache: build it again
            shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        total = sum(f["frames"] for f in infos)
        vis = np.lib.format.open_memmap(tmp / "visual.npy", "w+", np.float32, (total, dims[0]))
        aud = np.lib.format.open_memmap(tmp / "audio.npy", "w+", np.float32, (total, dims[1]))
        offsets = np.zeros(len(infos) + 1, dtype=np.int64)
        for i, info in enumerate(infos):
            check_cancelled(progress)
            if progress is not None:
                progress.report("building store", i, len(infos))
            visual, audio = read_feature_file(info["path"], warn=False)
            n = info["frames"]
            offsets[i + 1] = offsets[i] + n
            vis[offsets[i]:offsets[i + 1]] = l2_normalize(visual[:n])
            aud[offsets[i]:offsets[i + 1]] = l2_normalize(audio[:n])
        vis.flush()
        aud.flush()
        del vis, aud
        np.save(tmp / "offsets.npy", offsets)
        manifest = {"version": STORE_VERSION, "files": infos, "skipped": skipped,
                    "visual_dim": dims[0], "audio_dim": dims[1], "frames": int(total)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, root)
        except OSError:  # another process built the same store meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None:
        progress.report("building store", len(infos), len(infos))
    return FeatureStore.open(root)
