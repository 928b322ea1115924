"""Seeded mutants of metadata and score files through ``eval``: one sentence and exit 2, or a
report (exit 0); never a traceback, never a file written. Bounded in count (the same seeded mutants on every machine)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from forensics_gui.core.results import batch_results as br

TOKENS = [b"[", b"]", b"{", b"}", b",", b'"', b"\n", b";", b"-", b"e", b"1e999", b"NaN", b"null",
          b"0", b"9" * 30, b"\xff", b"\\", b"\r", b"true", b":"]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(out) + 1)
        if op == 0 and out:  # flip a byte
            out[min(i, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # delete a range
            del out[i:i + rng.randint(1, 20)]
        elif op == 2:  # insert a token
            out[i:i] = rng.choice(TOKENS)
        elif op == 3:  # duplicate a range
            out[i:i] = out[i:i + rng.randint(1, 80)]
        else:  # truncate
            del out[i:]
    return bytes(out)


def _seeds(tmp: Path) -> dict[str, bytes]:
    lavdf = [{"file": f"test/{i:06d}.mp4", "n_fakes": i % 2, "fake_periods": [[0.4, 0.8]] if i % 2 else [],
              "duration": 2.0, "modify_video": bool(i % 2), "modify_audio": False, "split": "test"}
             for i in range(1, 5)]
    av1m = [{"file": f"test/{i:06d}.mp4", "modify_type": "visual_modified" if i % 2 else "real",
             "fake_segments": [[0.4, 0.8]] if i % 2 else [], "video_frames": 50} for i in range(1, 5)]
    favc = ("source,target1,target2,method,category,type,race,gender,path,\n" + "".join(
        f"id{i},-,-,real,A,{'FakeVideo-FakeAudio' if i % 2 else 'RealVideo-RealAudio'},x,men,"
        f"{i:06d}.mp4,FakeAVCeleb/test\n" for i in range(1, 5))).encode()
    rows = []
    for i in range(1, 5):
        curve = [0.0] * 50
        if i % 2:
            curve[10:20] = [3.0] * 10
        rows.append({"file": f"test/{i:06d}.mp4", "video_score": 0.2 + 0.5 * (i % 2) + 0.01 * i,
                     "variant": "untrimmed", "sha256": f"{i:064x}", "status": "ok", "curve":
                     br.write_curve(tmp / "results.csv", file=f"test/{i:06d}.mp4", sha256=f"{i:064x}",
                                    variant="untrimmed", pool="lse", frame_scores=curve,
                                    first_model_frame=0)})
    results = br.header_line() + b"".join(br.format_row(r) for r in rows)
    return {"metadata.min.json": json.dumps(lavdf).encode(), "metadata.json": json.dumps(av1m).encode(),
            "meta_data.csv": favc, "results.csv": results,
            "pred.txt": b"".join(f"test/{i:06d}.mp4;{0.1 * i}\n".encode() for i in range(1, 5))}


@pytest.mark.parametrize("target", ["metadata.min.json", "metadata.json", "meta_data.csv",
                                    "results.csv", "pred.txt", "curve"])
@pytest.mark.slow
def test_mutated_inputs_give_one_sentence_or_a_report(tmp_path: Path, capsys, target: str) -> None:
    from forensics_gui.cli import main

    seeds = _seeds(tmp_path)
    curve_file = next(br.curves_dir(tmp_path / "results.csv").glob("*.json"))
    curve_seed = curve_file.read_bytes()
    rng = random.Random(f"eval-fuzz-{target}")
    outcomes = {0: 0, 2: 0}
    for n in range(150):  # the same 150 seeded mutants on every machine, however slow
        for name, data in seeds.items():
            (tmp_path / name).write_bytes(data)
        curve_file.write_bytes(curve_seed)
        if target == "curve":
            curve_file.write_bytes(_mutate(curve_seed, rng))
        else:
            (tmp_path / target).write_bytes(_mutate(seeds[target], rng))
        meta = target if target.startswith("meta") else "metadata.min.json"
        scores = "pred.txt" if target == "pred.txt" else "results.csv"
        before = sorted(p.name for p in tmp_path.rglob("*"))
        code = main(["eval", "--metadata", str(tmp_path / meta), "--scores", str(tmp_path / scores)])
        captured = capsys.readouterr()
        assert code in (0, 2), (n, captured.err)
        outcomes[code] += 1
        if code == 2:
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("forensics-gui eval: "), (n, captured.err)
            assert lines[0].endswith("."), lines[0]
            assert captured.out == ""
        assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    assert outcomes[0] + outcomes[2] >= 20 and outcomes[2] > 0
