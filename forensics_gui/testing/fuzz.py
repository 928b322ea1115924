"""A seeded mutator for the files the CLI reads, and a worker that runs commands on mutants.

:class:`Mutator` derives broken variants of a valid file: byte flips, "interesting" integers
written over sizes and counts, truncations, insertions, deletions and duplicated ranges; for zip
archives (.npz, torch checkpoints) also edited header fields, swapped members and rewritten
numpy headers (shape, dtype); for text (JSON, CSV) numbers and strings replaced by hostile ones,
lines dropped, doubled or swapped, deep nesting. The same seed gives the same mutants.

:func:`worker_main` (``python -m forensics_gui.testing.fuzz JOBS RESULTS BUDGET``) imports the
heavy libraries once, then caps its address space at what it uses plus BUDGET bytes
(``RLIMIT_AS``), and runs ``forensics_gui.cli.main(argv)`` for each job line, writing one JSON
line per job: exit code, stdout, stderr, seconds, peak RSS, any uncaught exception with its
traceback, and every process-spawning audit event (there must be none: a mutant never runs
anything). A ``{"start": id}`` line precedes each job, so a crash is attributed to its mutant.
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import sys
import warnings
import zipfile
from typing import Any

INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 1 << 20, 1 << 31, 1 << 40)
HOSTILE_NUMBERS = ("1e309", "-1e309", "-1", "0", "-0.0", "NaN", "Infinity", "-Infinity",
                   "99999999999999999999999999", "1e-320", '"12"', "null", "true", "[]", "{}",
                   "2147483648", "-9223372036854775809")
HOSTILE_STRINGS = ("", "..", "../../../../etc/passwd", "/", "\\u0000", "\\ud800", "é" * 3,
                   "a" * 200_000, "%s%n", "x\\ny", "C:\\\\x.mp4", " ")
_SPAWN_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
                 "os.fork", "os.forkpty", "pty.spawn", "os.startfile")


class Mutator:
    """Seeded mutations of one file's bytes (see module docstring)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    # -- generic byte mutations -------------------------------------------------------------
    def _flip(self, data: bytearray) -> str:
        n = self.rng.randint(1, 8)
        for _ in range(n):
            i = self.rng.randrange(len(data))
            data[i] ^= 1 << self.rng.randrange(8)
        return f"flip {n} bits"

    def _interesting(self, data: bytearray) -> str:
        value = self.rng.choice(INTERESTING)
        fmt = self.rng.choice(("<B", "<H", "<I", "<Q", ">I"))
        packed = struct.pack(fmt, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
        i = self.rng.randrange(max(1, len(data) - len(packed)))
        data[i:i + len(packed)] = packed
        return f"write {value:#x} as {fmt} at {i}"

    def _truncate(self, data: bytearray) -> str:
        i = self.rng.randrange(len(data))
        del data[i:]
        return f"truncate at {i}"

    def _insert(self, data: bytearray) -> str:
        i = self.rng.randrange(len(data) + 1)
        junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 64)))
        data[i:i] = junk
        return f"insert {len(junk)} bytes at {i}"

    def _delete(self, data: bytearray) -> str:
        i = self.rng.randrange(len(data))
        n = self.rng.randint(1, max(1, min(256, len(data) - i)))
        del data[i:i + n]
        return f"delete {n} bytes at {i}"

    def _duplicate(self, data: bytearray) -> str:
        i = self.rng.randrange(len(data))
        chunk = data[i:i + self.rng.randint(1, 512)]
        j = self.rng.randrange(len(data) + 1)
        data[j:j] = chunk
        return f"copy {len(chunk)} bytes from {i} to {j}"

    # -- zip archives -----------------------------------------------------------------------
    def _zip_field(self, data: bytearray) -> str:
        spots = []
        for sig, fields in ((b"PK\x01\x02", (10, 20, 24, 28, 42)), (b"PK\x03\x04", (8, 18, 22, 26)),
                            (b"PK\x05\x06", (8, 10, 12, 16)), (b"PK\x06\x06", (24, 32, 40, 48))):
            start = 0
            while (i := data.find(sig, start)) >= 0:
                spots += [(i, off) for off in fields]
                start = i + 4
        if not spots:
            return self._interesting(data)
        i, off = self.rng.choice(spots)
        width = 2 if off in (8, 10, 26, 28) and data[i:i + 4] != b"PK\x06\x06" else 4
        width = 8 if data[i:i + 4] == b"PK\x06\x06" else width
        value = self.rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
        data[i + off:i + off + width] = value.to_bytes(width, "little")
        return f"zip header field +{off} of {bytes(data[i:i + 4])!r} at {i} := {value:#x}"

    def _zip_members(self, data: bytearray) -> str:
        try:
            with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
                members = [(info, zf.read(info)) for info in zf.infolist()]
        except Exception:  # noqa: BLE001 - not a readable zip: fall back to a byte mutation
            return self._flip(data)
        if not members:
            return self._flip(data)
        how = self.rng.choice(("swap", "npy-header", "drop", "duplicate"))
        what = how
        if how == "swap" and len(members) >= 2:
            a, b = self.rng.sample(range(len(members)), 2)
            (ia, da), (ib, db) = members[a], members[b]
            members[a], members[b] = (ia, db), (ib, da)
            what = f"swap {ia.filename} and {ib.filename}"
        elif how == "drop" and len(members) >= 2:
            info, _ = members.pop(self.rng.randrange(len(members)))
            what = f"drop {info.filename}"
        elif how == "duplicate":
            info, blob = self.rng.choice(members)
            members.append((info, blob))
            what = f"duplicate {info.filename}"
        else:
            k = self.rng.randrange(len(members))
            info, blob = members[k]
            new = self._npy_header(blob)
            members[k] = (info, new)
            what = f"rewrite {info.filename}'s numpy header" if new != blob else "rewrite nothing"
        out = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zw:
            warnings.simplefilter("ignore")  # a duplicated member is the point
            for info, blob in members:
                zw.writestr(info.filename, blob)
        data[:] = out.getvalue()
        return what

    def _npy_header(self, blob: bytes) -> bytes:
        if not blob.startswith(b"\x93NUMPY"):
            return blob
        head_len = 10 + struct.unpack("<H", blob[8:10])[0] if blob[6] == 1 else 12 + struct.unpack(
            "<I", blob[8:12])[0]
        header = blob[:head_len].decode("latin1")
        if self.rng.random() < 0.5:
            shape = self.rng.choice(("()", "(0,)", "(7,)", "(0, 32)", "(999999999, 32)",
                                     "(20, 32, 1)", "(-1, 32)", "(20, 999999999999)", "(1 << 40,)"))
            header = re.sub(r"'shape': \([^)]*\)", f"'shape': {shape}", header)
        else:
            descr = self.rng.choice(("'<f8'", "'<f2'", "'|O'", "'<i8'", "'>f4'", "'<U10'", "'|V8'",
                                     "'<c8'", "[('a', '<f4')]", "'bogus'"))
            header = re.sub(r"'descr': [^,]*,", f"'descr': {descr},", header)
        text = header.rstrip("\n").encode("latin1")
        prefix, body = text[:10], text[10:]
        return prefix[:8] + struct.pack("<H", len(body) + 1) + body + b"\n" + blob[head_len:]

    # -- text ---------------------------------------------------------------------------------
    def _text(self, data: bytearray) -> str:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return self._flip(data)
        how = self.rng.choice(("number", "number", "string", "line", "nest", "quote"))
        if how == "number" and (nums := list(re.finditer(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text))):
            m = self.rng.choice(nums)
            new = self.rng.choice(HOSTILE_NUMBERS)
            text = text[:m.start()] + new + text[m.end():]
            what = f"number {m.group()} -> {new}"
        elif how == "string" and (strs := list(re.finditer(r'"[^"\n]*"|(?<=,)[^,\n]+', text))):
            m = self.rng.choice(strs)
            new = self.rng.choice(HOSTILE_STRINGS)
            new = f'"{new}"' if m.group().startswith('"') else new
            text = text[:m.start()] + new + text[m.end():]
            what = f"string {m.group()[:30]} -> {new[:30]}"
        elif how == "line" and "\n" in text:
            lines = text.split("\n")
            i, j = self.rng.randrange(len(lines)), self.rng.randrange(len(lines))
            op = self.rng.choice(("drop", "double", "swap"))
            if op == "drop":
                del lines[i]
            elif op == "double":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
            what = f"{op} line {i}"
        elif how == "nest":
            depth = self.rng.choice((100, 5000, 200_000))
            i = self.rng.randrange(len(text) + 1)
            text = text[:i] + "[" * depth + "]" * depth + text[i:]
            what = f"nest {depth} deep at {i}"
        else:
            i = self.rng.randrange(len(text) + 1)
            ch = self.rng.choice(('"', ",", ";", "\n", "\r", "\x00", "{", "}", "]"))
            text = text[:i] + ch + text[i:]
            what = f"insert {ch!r} at {i}"
        data[:] = text.encode("utf-8", "surrogatepass")
        return what

    # -- entry point ------------------------------------------------------------------------
    def mutate(self, original: bytes) -> tuple[bytes, str]:
        """A mutant of ``original`` and what was done to it (1 to 3 stacked mutations)."""
        data = bytearray(original)
        steps = []
        is_zip = original.startswith(b"PK")
        is_text = not is_zip and not original.startswith(b"\x80")
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            if not data:
                data[:] = b"\x00"
            ops = [self._flip, self._interesting, self._truncate, self._insert, self._delete,
                   self._duplicate]
            if is_zip:
                ops += [self._zip_field, self._zip_field, self._zip_members, self._zip_members]
            if is_text:
                ops += [self._text] * 8
            steps.append(self.rng.choice(ops)(data))
        return bytes(data), "; ".join(steps)


# --------------------------------------------------------------------------- the worker


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def worker_main(jobs_path: str, results_path: str, budget_bytes: int) -> None:
    import contextlib
    import os
    import resource
    import time
    import traceback

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy  # noqa: F401 - imported before the limit, as in normal use
    import torch

    torch.set_num_threads(1)
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["forensics-gui-fuzz"])
    from forensics_gui.cli import main

    limit = _vm_size() + budget_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    spawned: list[str] = []

    def audit(event: str, args: Any) -> None:
        if event.startswith(_SPAWN_EVENTS):
            spawned.append(f"{event} {str(args)[:200]}")

    sys.addaudithook(audit)
    with open(jobs_path, encoding="utf-8") as jobs, open(results_path, "a", encoding="utf-8") as out:
        for line in jobs:
            job = json.loads(line)
            out.write(json.dumps({"start": job["id"]}) + "\n")
            out.flush()
            spawned.clear()
            err, std = io.StringIO(), io.StringIO()
            tb = None
            t0 = time.monotonic()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
                try:
                    rc: Any = main(job["argv"])
                except BaseException:  # noqa: BLE001 - an escaped exception is the finding
                    rc, tb = "uncaught", traceback.format_exc()
            out.write(json.dumps({
                "id": job["id"], "rc": rc, "stderr": err.getvalue()[-(1 << 20):],
                "stdout": std.getvalue()[:16 << 20], "seconds": time.monotonic() - t0,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "spawned": list(spawned), "traceback": tb,
            }) + "\n")
            out.flush()
    del app


if __name__ == "__main__":
    worker_main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
