"""Atomic writes: the target appears complete or not at all, with plain open() permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from forensics_gui.core.files.atomic import atomic_open, atomic_path, write_text_atomic


def test_replaces_target_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_temporary_keeps_the_suffix_and_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "clip.wav") as tmp:
            assert tmp.suffix == ".wav" and tmp.name.startswith(".clip.wav.")
            tmp.write_bytes(b"x")
        assert stat.S_IMODE((tmp_path / "clip.wav").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_never_sets_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The umask is process-wide: a writer that set it to 0, even briefly, would let files that
    # other threads create meanwhile come out world-writable.
    calls: list[int] = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))
    write_text_atomic(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "b.npz") as tmp:
        tmp.write_bytes(b"x")
    assert calls == []
