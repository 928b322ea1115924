"""The viewer's ground-truth search: a bad metadata file is named, the search goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.parametrize("child", [False, True])
def test_bad_metadata_is_reported_and_other_files_still_searched(qtbot, tmp_path: Path, monkeypatch,
                                                                 child: bool) -> None:
    from forensics_gui.ui import groundtruth_worker as gw

    if child:
        monkeypatch.setattr(gw, "CHILD_MIN_BYTES", 0)  # the child-process path of big files
    clip = tmp_path / "ds" / "test" / "x.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"")
    bad = clip.parent / "metadata.min.json"
    bad.write_text(json.dumps([{"file": "x.mp4", "n_fakes": 0, "fake_periods": [],
                                "duration": "long", "modify_video": False, "modify_audio": False}]))
    # Only the bad file: the viewer gets a sentence, not a silently dead thread.
    worker = gw.GroundTruthWorker(3, "find", str(clip))
    with qtbot.waitSignal(worker.failed, timeout=30000) as blocker:
        worker.start()
    assert worker.wait(30000) and worker.used_child is child
    token, sentence = blocker.args
    assert token == 3 and sentence.startswith(f"{bad} was skipped: ")
    assert "'duration' must be a number of seconds, got 'long'" in sentence
    # A good file further up is still found; the skipped one comes along in the note.
    (tmp_path / "metadata.json").write_text(json.dumps(
        [{"file": "ds/test/x.mp4", "modify_type": "visual_modified", "fake_segments": [[0.5, 1.0]]}]))
    worker = gw.GroundTruthWorker(4, "find", str(clip))
    with qtbot.waitSignal(worker.finished, timeout=30000) as blocker:
        worker.start()
    assert worker.wait(30000)
    token, (gt, _source, note) = blocker.args
    assert token == 4 and gt.file == "ds/test/x.mp4" and gt.visual_segments == [(0.5, 1.0)]
    assert note.startswith(f"{bad} was skipped: ")


def test_an_unexpected_error_ends_in_failed_not_a_dead_thread(qtbot, tmp_path: Path, monkeypatch) -> None:
    from forensics_gui.ui import groundtruth_worker as gw

    def boom(*_args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(gw, "lookup_groundtruth", boom)
    worker = gw.GroundTruthWorker(5, "lookup", str(tmp_path / "x.mp4"), str(tmp_path / "m.json"))
    with qtbot.waitSignal(worker.failed, timeout=10000) as blocker:
        worker.start()
    assert worker.wait(30000)
    assert blocker.args == [5, "Reading the ground truth failed (RecursionError: maximum recursion "
                                "depth exceeded)."]
