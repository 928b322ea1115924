"""The one regular-file check and the one JSON reader (core/files/checks.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forensics_gui.core.errors import CheckpointError, ForensicsError
from forensics_gui.core.files.checks import (
    open_regular_file,
    parse_json_text,
    read_json_file,
    require_regular_file,
)


def _one_sentence(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message and message.endswith("."), message
    return message


@pytest.fixture
def bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    return {"missing": (tmp_path / "nope.json", "does not exist"),
            "folder": (folder, "is a folder; pass a file inside it"),
            "fifo": (fifo, "is not a regular file (it is a pipe, device or socket)"),
            "empty": (empty, "is empty")}


def test_require_regular_file_says_what_is_wrong(bad_paths: dict[str, tuple[Path, str]]) -> None:
    for kind, (path, words) in bad_paths.items():
        with pytest.raises(CheckpointError) as err:
            require_regular_file(path, "checkpoint", CheckpointError)
        message = _one_sentence(err)
        assert message.startswith(f"The checkpoint {path} ") and words in message, kind


def test_open_regular_file_checks_the_open_file_and_never_blocks(
        bad_paths: dict[str, tuple[Path, str]], tmp_path: Path) -> None:
    for kind, (path, words) in bad_paths.items():
        with pytest.raises(ForensicsError) as err:
            open_regular_file(path, "features file", name=path.name)
        assert _one_sentence(err).startswith(f"The features file {path.name} ") and words in str(err.value), kind
    good = tmp_path / "good.bin"
    good.write_bytes(b"abc")
    fh, st = open_regular_file(good, "file")
    with fh:
        assert fh.read() == b"abc" and st.st_size == 3


def test_empty_allowed_and_stat_given(tmp_path: Path) -> None:
    empty = tmp_path / "e"
    empty.write_bytes(b"")
    assert require_regular_file(empty, "list", allow_empty=True).st_size == 0
    with pytest.raises(ForensicsError, match="is a folder"):
        require_regular_file(empty, "list", st=os.stat(tmp_path))


def test_read_json_file_reads_and_bounds(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(b'\xef\xbb\xbf{"a": [1, 2]}')
    assert read_json_file(good, "result file") == {"a": [1, 2]}
    pairs = read_json_file(good, "result file", object_pairs_hook=list)
    assert pairs == [("a", [1, 2])]
    with pytest.raises(ForensicsError) as err:
        read_json_file(good, "result file", max_bytes=4, should_be="an analysis result")
    assert "more than the 4 bytes an analysis result may take" in _one_sentence(err)


@pytest.mark.parametrize(("content", "words"), [
    (b'{"a": "\xff"}', "is not UTF-8 text, so it is not an analysis result"),
    (b"{not json", "is not valid JSON (line 1, column 2: Expecting property name"),
    (b"[" * 100_000 + b"]" * 100_000, "nests JSON arrays or objects too deeply to be an analysis result"),
])
def test_read_json_file_bad_content_is_one_sentence(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(ForensicsError) as err:
        read_json_file(path, "result file", should_be="an analysis result")
    message = _one_sentence(err)
    assert message.startswith(f"The result file {path} ") and words in message, message


def test_read_json_file_refuses_what_is_not_a_regular_file(bad_paths: dict[str, tuple[Path, str]]) -> None:
    for kind, (path, words) in bad_paths.items():
        with pytest.raises(ForensicsError) as err:
            read_json_file(path, "metadata file")
        assert words in _one_sentence(err), kind


def test_parse_json_text_names_the_subject() -> None:
    assert parse_json_text("[1]", "The entry") == [1]
    with pytest.raises(CheckpointError, match=r"^The entry is not valid JSON \(line 1, column 1"):
        parse_json_text("x", "The entry", CheckpointError)


def test_an_empty_noun_starts_the_sentence_with_the_name(tmp_path: Path) -> None:
    with pytest.raises(ForensicsError, match=r"^nope\.json does not exist"):
        read_json_file(tmp_path / "nope.json", "", name="nope.json")


def test_a_lock_record_nested_too_deeply_reads_as_no_holder(tmp_path: Path) -> None:
    from forensics_gui.core.files.locking import _read_holder

    lock = tmp_path / "x.lock"
    lock.write_bytes(b"[" * 4096)
    fd = os.open(lock, os.O_RDONLY)
    try:
        assert _read_holder(fd) == {}
    finally:
        os.close(fd)


def test_a_small_file_under_a_large_limit_takes_little_memory(tmp_path: Path) -> None:
    """read(n) allocates n bytes at once: a 4 GiB limit must not mean a 4 GiB buffer."""
    import tracemalloc

    path = tmp_path / "small.json"
    path.write_text('{"a": 1}')
    tracemalloc.start()
    try:
        assert read_json_file(path, "result file", max_bytes=4 << 30) == {"a": 1}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_file_that_grows_after_the_stat_is_still_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_gui.core.files import checks

    path = tmp_path / "grows.json"
    path.write_text("[1]")
    real_stat = require_regular_file

    def stale_stat(*args, **kwargs):  # type: ignore[no-untyped-def]
        st = real_stat(*args, **kwargs)
        path.write_text("[1, 2, 3]")
        return st

    monkeypatch.setattr(checks, "require_regular_file", stale_stat)
    assert read_json_file(path, "list") == [1, 2, 3]
    path.write_text("[1]")
    with pytest.raises(ForensicsError, match="more than the 5 bytes"):
        read_json_file(path, "list", max_bytes=5)


def test_score_and_prediction_files_that_are_fifos_are_refused_not_read(tmp_path: Path) -> None:
    from forensics_gui.commands.eval import load_score_sets
    from forensics_gui.core.results.groundtruth import GroundTruthError, load_detection_predictions

    fifo = tmp_path / "scores.csv"
    os.mkfifo(fifo)
    with pytest.raises(ForensicsError, match=r"^The score file .* is not a regular file"):
        load_score_sets(fifo)
    with pytest.raises(GroundTruthError, match=r"^The prediction file .* is not a regular file"):
        load_detection_predictions(fifo)
    with pytest.raises(ForensicsError, match=r"^The score file .* does not exist"):
        load_score_sets(tmp_path / "nope.csv")
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(b"file,video_score\r\na.mp4,0.5\r\n")
    assert load_score_sets(crlf)[0].scores == {"a.mp4": 0.5}
