"""Feature .npz files from users: every bad file is one sentence and exit 2, read within bounds.

Each case is fed to ``score`` and ``train --features`` through the CLI in-process; the file's
SHA-256 is checked unchanged and nothing is written at the output path.
"""

from __future__ import annotations

import io
import resource
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.cli import main
from forensics_gui.core.alignment.feature_store import read_feature_file
from forensics_gui.core.encoder.features import load_features
from forensics_gui.core.files import npz
from forensics_gui.core.files.hashing import sha256_file
from forensics_gui.core.files.npz import FeatureFileError, read_feature_npz, read_npz
from forensics_gui.testing.phi import write_published_phi

DIM = 16


@pytest.fixture(scope="module")
def phi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_published_phi(tmp_path_factory.mktemp("phi") / "phi.pt", DIM, DIM)


def _good(path: Path, frames: int = 40) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, visual=rng.normal(size=(frames, DIM)).astype(np.float32),
             audio=rng.normal(size=(frames, DIM)).astype(np.float32))
    return path


def _npy_bytes(header: dict[str, object], data: bytes = b"") -> bytes:
    text = repr(header).encode("latin1")
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _expect_one_sentence(argv: list[str], capsys: pytest.CaptureFixture[str], match: str,
                         inputs: list[Path], out: Path | None = None) -> str:
    before = {p: sha256_file(p) for p in inputs}
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert match in err, err
    assert {p: sha256_file(p) for p in inputs} == before
    if out is not None:
        assert not out.exists()
    return err


def _both_commands(bad: Path, phi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   match: str) -> None:
    _expect_one_sentence(["score", str(bad), "--phi", str(phi)], capsys, match, [bad, phi])
    folder = tmp_path / "feats"
    folder.mkdir(exist_ok=True)
    _good(folder / "a_good.npz")
    copy = folder / bad.name
    copy.write_bytes(bad.read_bytes())
    out = tmp_path / "trained.pt"
    _expect_one_sentence(["train", "--features", str(folder), "-o", str(out), "--epochs", "1",
                          "--quiet", "--device", "cpu"], capsys, match, [copy], out)


def test_good_file_scores(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _good(tmp_path / "good.npz")
    assert main(["score", str(good), "--phi", str(phi), "--json"]) == 0
    assert '"video_score"' in capsys.readouterr().out


def test_truncated_npz(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = _good(tmp_path / "full.npz").read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(full[: len(full) // 2])
    _both_commands(bad, phi, tmp_path, capsys, "cut.npz is damaged or truncated")


def test_corrupt_bytes_in_array_data(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(_good(tmp_path / "x.npz").read_bytes())
    data[400:420] = b"\xff" * 20  # inside visual's data: the zip CRC no longer matches
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    _both_commands(bad, phi, tmp_path, capsys, "flipped.npz is damaged or truncated")


def test_npy_named_npz(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "single.npz"
    with open(bad, "wb") as fh:
        np.save(fh, np.zeros((4, DIM), np.float32))
    _both_commands(bad, phi, tmp_path, capsys, "single.npz is not a features file: it is a single .npy array")


def test_text_named_npz(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.npz"
    bad.write_text("visual,audio\n1,2\n")
    err = _expect_one_sentence(["score", str(bad), "--phi", str(phi)], capsys,
                               "notes.npz is not a features file: it is not an .npz archive", [bad])
    assert "pickle" not in err


def test_huge_header_in_small_file(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**9, 10**4)}
    bad = _zip(tmp_path / "small.npz", {"visual.npy": _npy_bytes(header), "audio.npy": _npy_bytes(header)})
    assert bad.stat().st_size < 700
    err = _expect_one_sentence(["score", str(bad), "--phi", str(phi)], capsys,
                               "small.npz is damaged: its array 'visual' claims shape "
                               "(1000000000, 10000) of float32 (37252.9 GiB) but holds 0 bytes.",
                               [bad])
    assert "out of memory" not in err


@pytest.mark.slow
def test_zip_bomb_is_refused_before_inflating(tmp_path: Path, phi: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit is lowered to 64 MiB so the bomb (256 MiB of zeros, ~250 KB on disk) is quick to
    # build; a 6 MB bomb of 6 GiB against the default 2 GiB takes the same path.
    monkeypatch.setattr(npz, "MAX_FEATURE_BYTES", 64 << 20)
    frames = (256 << 20) // (4 * 1024)
    header = {"descr": "<f4", "fortran_order": False, "shape": (frames, 1024)}
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("visual.npy", "w") as fh:
            fh.write(_npy_bytes(header))
            zeros = bytes(16 << 20)
            for _ in range(frames * 4096 // len(zeros)):
                fh.write(zeros)
    assert bomb.stat().st_size < 1 << 20
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _expect_one_sentence(["score", str(bomb), "--phi", str(phi)], capsys,
                         "bomb.npz: the array visual.npy would take 256.0 MiB, more than the 64.0 MiB",
                         [bomb])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 32 * 1024


def test_member_sizes_the_file_cannot_back(tmp_path: Path, phi: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    good = _good(tmp_path / "g.npz", frames=4)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("visual.npy")
    # the central directory entry: claim 1.5 GiB, compressed and uncompressed
    cd = data.find(b"PK\x01\x02")
    assert data[cd + 46:cd + 46 + len(info.filename)] == info.filename.encode()
    data[cd + 20:cd + 28] = struct.pack("<II", 3 << 29, 3 << 29)
    bad = tmp_path / "liar.npz"
    bad.write_bytes(bytes(data))
    _expect_one_sentence(["score", str(bad), "--phi", str(phi)], capsys,
                         "liar.npz is damaged or truncated", [bad])


def test_object_array_is_never_unpickled(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    good = io.BytesIO()
    np.save(good, np.zeros((4, DIM), np.float32))
    bad = _zip(tmp_path / "objects.npz", {"visual.npy": buf.getvalue(), "audio.npy": good.getvalue()})
    _both_commands(bad, phi, tmp_path, capsys, "holds Python objects")


@pytest.mark.parametrize(("visual", "match"), [
    (np.zeros((5,), np.float32), "must be a float array [frames, dims]"),
    (np.zeros((5, DIM), np.int32), "must be a float array [frames, dims]"),
    (np.zeros((5, DIM, 2), np.float32), "must be a float array [frames, dims]"),
    (np.zeros((5, 0), np.float32), "dimensions per frame"),
])
def test_wrong_shape_or_dtype(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str],
                              visual: np.ndarray, match: str) -> None:
    bad = tmp_path / "shape.npz"
    np.savez(bad, visual=visual, audio=np.zeros((5, DIM), np.float32))
    _both_commands(bad, phi, tmp_path, capsys, match)


def test_too_many_frames_checked_from_header(tmp_path: Path) -> None:
    bad = tmp_path / "long.npz"
    np.savez(bad, visual=np.zeros((50, 2), np.float32), audio=np.zeros((50, 2), np.float32))
    with pytest.raises(FeatureFileError, match="50 frames, more than the 10"):
        read_feature_npz(bad, max_frames=10)


def test_missing_arrays_and_no_face(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    only_audio = tmp_path / "noface.npz"
    np.savez(only_audio, audio=np.zeros((5, DIM), np.float32))
    _expect_one_sentence(["score", str(only_audio), "--phi", str(phi)], capsys,
                         "no 'visual' array (no face", [only_audio])
    neither = tmp_path / "other.npz"
    np.savez(neither, x=np.zeros(3))
    _expect_one_sentence(["score", str(neither), "--phi", str(phi)], capsys,
                         "lacks the array(s) visual, audio", [neither])


def test_fifo_and_folder_named_npz(tmp_path: Path, phi: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    _expect_one_sentence(["score", str(fifo), "--phi", str(phi)], capsys, "is not a regular file", [])
    folder = tmp_path / "dir.npz"
    folder.mkdir()
    _expect_one_sentence(["score", str(folder), "--phi", str(phi)], capsys, "is a folder", [])


def test_float16_float64_fortran_order_are_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(7, 3))
    p = tmp_path / "kinds.npz"
    np.savez(p, visual=np.asfortranarray(v), audio=v.astype(np.float16), fps=np.float64(25.0),
             checkpoint_sha256=np.asarray("ab" * 32))
    visual, audio = read_feature_file(p)
    assert visual.dtype == audio.dtype == np.float32
    np.testing.assert_allclose(visual, v.astype(np.float32))
    np.testing.assert_allclose(audio, v.astype(np.float16).astype(np.float32))
    fs = load_features(p)
    assert fs.fps == 25.0 and fs.checkpoint_sha256 == "ab" * 32


def test_read_npz_bounds_and_compressed_members(tmp_path: Path) -> None:
    p = tmp_path / "c.npz"
    np.savez_compressed(p, a=np.arange(1000, dtype=np.int64))
    np.testing.assert_array_equal(read_npz(p)["a"], np.arange(1000))
    with pytest.raises(Exception, match="more than the"):
        read_npz(p, max_bytes=100)


@pytest.mark.parametrize("damage", ["manifest", "offsets", "visual"])
def test_damaged_store_in_the_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    from forensics_gui.core.alignment.feature_store import build_feature_store

    files = [_good(tmp_path / f"c{i}.npz", frames=10 + i) for i in range(2)]
    store = build_feature_store(files, tmp_path / "stores")
    visual = np.array(store.visual)
    target = {"manifest": "manifest.json", "offsets": "offsets.npy", "visual": "visual.npy"}[damage]
    (store.root / target).write_bytes((store.root / target).read_bytes()[:40])
    again = build_feature_store(files, tmp_path / "stores")
    assert again.root == store.root and again.num_frames == 21
    np.testing.assert_array_equal(np.array(again.visual), visual)
