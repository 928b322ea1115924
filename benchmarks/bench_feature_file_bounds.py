"""Peak memory, time and message of ``forensics-gui score`` on bad feature files.

Writes into a temporary folder: a good 40-frame file, a 468-byte file whose numpy headers claim
[1e9, 1e4] float32 arrays, a .npy named .npz, a text file named .npz, a file cut in half, and a
56 MB zip bomb whose two members inflate to 6 GiB each (built once, ~20 s). Each is scored in a
fresh process (address space capped at 8 GiB so a regression cannot take the machine down);
the table shows the file size, exit code, the process's peak RSS (the baseline is the CLI with
its imports, the same in every row) and the first line of the message.

    python benchmarks/bench_feature_file_bounds.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

D = 16
_CHILD = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))\n"
          "from forensics_gui.cli import main\nrc = main(sys.argv[1:])\n"
          "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
          "sys.exit(rc)")


def _npy_header(shape: tuple[int, ...]) -> bytes:
    text = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _bomb(path: Path) -> None:
    frames = 6 * (1 << 30) // (4 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in ("visual.npy", "audio.npy"):
            with zf.open(name, "w", force_zip64=True) as fh:
                fh.write(_npy_header((frames, 1024)))
                zeros = bytes(64 << 20)
                for _ in range(frames * 4096 // len(zeros)):
                    fh.write(zeros)


def main() -> None:
    from forensics_gui.testing.phi import write_published_phi

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the files here instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="feature-bounds-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    write_published_phi("phi.pt", D, D)
    rng = np.random.default_rng(0)
    np.savez("good.npz", visual=rng.normal(size=(40, D)).astype(np.float32),
             audio=rng.normal(size=(40, D)).astype(np.float32))
    with zipfile.ZipFile("header.npz", "w") as zf:
        zf.writestr("visual.npy", _npy_header((10**9, 10**4)))
        zf.writestr("audio.npy", _npy_header((10**9, 10**4)))
    with open("single.npz", "wb") as fh:
        np.save(fh, np.zeros((4, D), np.float32))
    Path("notes.npz").write_text("visual,audio\n1,2\n")
    data = Path("good.npz").read_bytes()
    Path("cut.npz").write_bytes(data[: len(data) // 2])
    if not Path("bomb.npz").exists():
        _bomb(Path("bomb.npz"))
    print(f"{'file':12s} {'bytes':>10s}  exit  peak RSS   time  message")
    for name in ("good.npz", "header.npz", "single.npz", "notes.npz", "cut.npz", "bomb.npz"):
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-c", _CHILD, "score", name, "--phi", "phi.pt", "--json"],
                           capture_output=True, text=True)
        peak = [int(line.split()[1]) // 1024 for line in r.stderr.splitlines() if line.startswith("PEAK")]
        msg = [line for line in r.stderr.splitlines() if line.startswith("forensics-gui")]
        print(f"{name:12s} {os.path.getsize(name):>10d}  {r.returncode:>4d}  {peak[0] if peak else -1:>4d} MiB"
              f"  {time.monotonic() - t0:4.1f} s  {msg[0][:140] if msg else ''}")


if __name__ == "__main__":
    main()
