"""The one check that a user's path is a readable regular file, and the one JSON file reader.

Every reader of a user's file asks the same questions first (does it exist, is it a folder, a
FIFO that would block the read, empty?) and every JSON reader turns the same three failures
(not UTF-8, not JSON, nested deeper than Python's parser recurses) into one sentence. Both live
here so that the sentences read the same everywhere; callers keep their own checks of the
content and pass the noun the user knows the file by (``what``: "metadata file", "checkpoint").
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from typing import Any, BinaryIO

from forensics_gui.core.errors import ForensicsError

MAX_JSON_BYTES = 256 << 20  # a result or registry is KiBs; a dataset's metadata, tens of MiB
_GROWTH_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _size(n: int) -> str:
    if n < 1 << 20:
        return f"{n} bytes"
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def _subject(path: str | os.PathLike[str], what: str, name: str | None) -> str:
    """How a sentence names the file: "The metadata file a.json", or just "a.json" when ``what``
    is empty (for callers whose every sentence starts with the file's name)."""
    named = str(path) if name is None else name
    return f"The {what} {named}" if what else named


def require_regular_file(path: str | os.PathLike[str], what: str,
                         error: type[ForensicsError] = ForensicsError, *,
                         allow_empty: bool = False, st: os.stat_result | None = None,
                         name: str | None = None) -> os.stat_result:
    """The stat of ``path`` after checking it is an existing, non-empty regular file.

    ``st``: check this stat instead (``os.fstat`` of a file already opened, so the check is on the
    file actually read). ``name``: how the sentence names the file (default the path).
    Raises ``error`` with one sentence: does not exist / is a folder / is not a regular file /
    is empty / cannot be read.
    """
    subject = _subject(path, what, name)
    if st is None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise error(f"{subject} does not exist; check the path.") from None
        except OSError as err:
            raise error(f"{subject} cannot be read ({err.strerror or err}).") from err
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{subject} is a folder; pass a file inside it.")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{subject} is not a regular file (it is a pipe, device or socket); pass the "
                    "file itself.")
    if st.st_size == 0 and not allow_empty:
        raise error(f"{subject} is empty (0 bytes); write or copy it again.")
    return st


def open_regular_file(path: str | os.PathLike[str], what: str,
                      error: type[ForensicsError] = ForensicsError, *,
                      allow_empty: bool = False,
                      name: str | None = None) -> tuple[BinaryIO, os.stat_result]:
    """``path`` opened for binary reading, and its stat, after :func:`require_regular_file`.

    The file is opened first (non-blocking, so a FIFO cannot hang) and the open descriptor is
    checked, so a file swapped after the check is never the one read. The caller closes it.
    """
    subject = _subject(path, what, name)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{subject} does not exist; check the path.") from None
    except IsADirectoryError:
        raise error(f"{subject} is a folder; pass a file inside it.") from None
    except OSError as err:
        raise error(f"{subject} cannot be read ({err.strerror or err}).") from err
    try:
        st = require_regular_file(path, what, error, allow_empty=allow_empty, st=os.fstat(fd),
                                  name=name)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def _so_not(should_be: str | None) -> str:
    return "" if should_be is None else f", so it is not {should_be}"


def parse_json_text(text: str | bytes, subject: str, error: type[ForensicsError] = ForensicsError,
                    *, should_be: str | None = None,
                    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """``text`` (bytes are decoded as UTF-8, a BOM allowed) parsed as JSON.

    ``subject`` names the text in the sentence ("The result file a.json"); ``should_be`` says what
    it should have been ("an analysis result"). Raises ``error`` with one sentence when the text
    is not UTF-8, not JSON, or nested too deeply for the parser.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise error(f"{subject} is not UTF-8 text{_so_not(should_be)}.") from err
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as err:
        raise error(f"{subject} is not valid JSON (line {err.lineno}, column {err.colno}: "
                    f"{err.msg}){_so_not(should_be)}.") from err
    except RecursionError as err:
        raise error(f"{subject} nests JSON arrays or objects too deeply to be "
                    f"{should_be or 'read'}.") from err
    except ValueError as err:  # e.g. a number with more digits than int() converts
        raise error(f"{subject} is not valid JSON ({err}){_so_not(should_be)}.") from err


def read_json_file(path: str | os.PathLike[str], what: str,
                   error: type[ForensicsError] = ForensicsError, *, should_be: str | None = None,
                   max_bytes: int = MAX_JSON_BYTES,
                   object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
                   name: str | None = None) -> Any:
    """The JSON value in the file ``path``, read at most ``max_bytes`` (bytes) into memory.

    Checks the file (:func:`open_regular_file`), bounds its size, then :func:`parse_json_text`.
    ``what`` is the user's noun for the file ("metadata file"), ``should_be`` what its content
    should be ("an analysis result"), ``name`` how the file is named (default the path).
    Raises ``error`` with one sentence for every failure; the caller checks the content.
    """
    subject = _subject(path, what, name)
    fh, st = open_regular_file(path, what, error, name=name)
    with fh:
        if st.st_size > max_bytes:
            raise error(f"{subject} is {_size(st.st_size)}, more than the {_size(max_bytes)} "
                        f"{should_be or 'a JSON file here'} may take.")
        try:
            # read(n) allocates n bytes up front, so ask for what the stat says, not the limit
            data = fh.read(st.st_size + 1)
            while st.st_size < len(data) <= max_bytes:  # it grew after the stat
                more = fh.read(min(_GROWTH_CHUNK, max_bytes + 1 - len(data)))
                if not more:
                    break
                data += more
        except OSError as err:
            raise error(f"{subject} cannot be read ({err.strerror or err}).") from err
    if len(data) > max_bytes:
        raise error(f"{subject} is more than the {_size(max_bytes)} "
                    f"{should_be or 'a JSON file here'} may take.")
    return parse_json_text(data, subject, error, should_be=should_be,
                           object_pairs_hook=object_pairs_hook)

