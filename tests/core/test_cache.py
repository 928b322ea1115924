"""On-disk result cache: keys, round trips, corrupt entries, concurrent writers, accounting."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import numpy as np
import pytest

from forensics_gui.core.encoder.cache import CACHE_VERSION, Cache
from forensics_gui.core.files.hashing import sha256_file


def test_key_is_canonical_and_sensitive() -> None:
    k = Cache.key("sha-input", "sha-ckpt", {"trim": True, "layer": 24})
    assert len(k) == 64 and all(c in "0123456789abcdef" for c in k)
    assert k == Cache.key("sha-input", "sha-ckpt", {"layer": 24, "trim": True})  # dict order
    assert k != Cache.key("sha-input", "sha-ckpt", {"trim": False, "layer": 24})
    assert k != Cache.key("sha-input2", "sha-ckpt", {"trim": True, "layer": 24})
    assert k != Cache.key("sha-ckpt", "sha-input", {"trim": True, "layer": 24})
    assert CACHE_VERSION


def test_sha256_file(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_npz_and_json_round_trip(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    key = Cache.key("a", {"x": 1})
    assert cache.get_npz(key) is None and cache.get_json(key) is None
    arrays = {"visual": np.arange(12, dtype=np.float32).reshape(3, 4), "audio": np.ones((3, 2))}
    cache.put_npz(key, arrays, meta={"fps": 25, "model": "m.pt"})
    got = cache.get_npz(key)
    assert got is not None and set(got) == {"visual", "audio"}
    np.testing.assert_array_equal(got["visual"], arrays["visual"])
    assert got["visual"].dtype == np.float32
    assert cache.get_npz_meta(key) == {"fps": 25, "model": "m.pt"}
    cache.put_json(key, {"video_score": 1.5, "frames": [1, 2]})
    assert cache.get_json(key) == {"video_score": 1.5, "frames": [1, 2]}
    assert cache.count() == 2 and cache.size_bytes() > 0
    cache.delete(key)
    assert cache.count() == 0 and cache.get_npz(key) is None


def test_default_root_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_GUI_CACHE", str(tmp_path / "envcache"))
    cache = Cache()
    cache.put_json(Cache.key("k"), [1])
    assert cache.root == tmp_path / "envcache" and cache.count() == 1


def test_truncated_entry_is_missing_and_deleted(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    key = Cache.key("trunc")
    path = cache.put_npz(key, {"a": np.random.default_rng(0).normal(size=(100, 50))})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert cache.get_npz(key) is None
    assert not path.exists()
    jkey = Cache.key("json")
    jpath = cache.put_json(jkey, {"a": 1})
    jpath.write_text('{"a": ', encoding="utf-8")
    assert cache.get_json(jkey) is None and not jpath.exists()


def test_size_accounting_and_clear(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    paths = [cache.put_npz(Cache.key(str(i)), {"a": np.zeros(1000)}) for i in range(3)]
    assert cache.size_bytes() == sum(p.stat().st_size for p in paths)
    (paths[0].parent / ".stale.tmp.npz").write_bytes(b"x")  # leftover of a killed writer
    assert cache.count() == 3
    assert cache.clear() == 3
    assert cache.count() == 0 and cache.size_bytes() == 0
    assert not any(tmp_path.glob("??/*"))


def _writer(root: str, key: str, value: int, n: int) -> None:
    cache = Cache(root)
    for _ in range(n):
        cache.put_npz(key, {"a": np.full((200, 200), value, dtype=np.int32)}, {"v": value})


def test_concurrent_writers_same_key_threads(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    key = Cache.key("race")
    errors: list[BaseException] = []
    seen: list[int] = []

    def read_loop() -> None:
        try:
            for _ in range(60):
                got = cache.get_npz(key)
                if got is not None:
                    a = got["a"]
                    assert a.shape == (200, 200) and np.all(a == a[0, 0])
                    seen.append(int(a[0, 0]))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=_writer, args=(str(tmp_path), key, v, 30)) for v in (1, 2)]
    threads.append(threading.Thread(target=read_loop))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = cache.get_npz(key)
    assert final is not None and int(final["a"][0, 0]) in (1, 2)
    assert set(seen) <= {1, 2}
    assert cache.count() == 1 and not list(tmp_path.glob("??/.*"))  # no temp files left


def test_concurrent_writers_same_key_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    key = Cache.key("race-proc")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), key, v, 20)) for v in (3, 4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    cache = Cache(tmp_path)
    got = cache.get_npz(key)
    assert got is not None and int(got["a"][0, 0]) in (3, 4) and np.all(got["a"] == got["a"][0, 0])
    assert cache.get_npz_meta(key) == {"v": int(got["a"][0, 0])}


def test_entry_swapped_with_another_keys_is_a_miss_and_is_recomputed(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    k1, k2 = Cache.key("roi", "clip"), Cache.key("features", "clip")
    p1 = cache.put_npz(k1, {"times_s": np.arange(3.0)}, {"what": "roi"})
    p2 = cache.put_npz(k2, {"audio": np.ones((3, 2), np.float32)}, {"what": "features"})
    b1, b2 = p1.read_bytes(), p2.read_bytes()
    p1.write_bytes(b2)
    p2.write_bytes(b1)
    assert cache.get_npz(k1) is None and not p1.exists()  # never another key's arrays
    assert cache.get_npz_meta(k2) is None and not p2.exists()
    cache.put_npz(k1, {"times_s": np.arange(3.0)}, {"what": "roi"})  # the recomputed entry
    got = cache.get_npz(k1)
    assert got is not None and set(got) == {"times_s"} and cache.get_npz_meta(k1) == {"what": "roi"}
    j1, j2 = Cache.key("j1"), Cache.key("j2")
    q1, q2 = cache.put_json(j1, {"v": 1}), cache.put_json(j2, {"v": 2})
    q1.write_bytes(q2.read_bytes())
    assert cache.get_json(j1) is None and not q1.exists() and cache.get_json(j2) == {"v": 2}


@pytest.mark.parametrize("content", [
    b"", b"not a zip", b"\x93NUMPY\x01\x00", b"PK\x05\x06" + bytes(18), b'{"a": 1}',
])
def test_unreadable_or_foreign_entries_are_misses(tmp_path: Path, content: bytes) -> None:
    cache = Cache(tmp_path)
    key = Cache.key("x")
    for path in (cache._path(key, ".npz"), cache._path(key, ".json")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    assert cache.get_npz(key) is None and cache.get_npz_meta(key) is None
    assert cache.get_json(key) is None
    assert cache.count() == 0


def test_entry_lacking_a_required_array_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    key = Cache.key("old")
    cache.put_npz(key, {"audio": np.zeros((2, 2))})
    assert cache.get_npz(key, required=("audio", "trimmed_video_frames")) is None
    assert cache.count() == 0


def test_entry_with_an_object_array_is_a_miss_and_nothing_is_unpickled(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    key = Cache.key("obj")
    path = cache._path(key, ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = np.asarray(json.dumps({"__cache_key__": key}))
    np.savez(path, a=np.array([print], dtype=object), __meta_json__=meta)
    assert cache.get_npz(key) is None and not path.exists()
