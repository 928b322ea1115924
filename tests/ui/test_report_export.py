"""File > Export report…: the viewer writes the same one-page report as ``forensics-gui report``,
in the background, from the clip on screen and its analysis; bad targets are one sentence."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from forensics_gui.core.evidence import wording
from forensics_gui.core.evidence.report import NO_RESULT_VIEWER
from forensics_gui.core.media.timebase import format_timecode

SEGMENTS = [(0.4, 0.72), (1.2, 1.6)]


def _pdf(path: Path) -> tuple[int, list[tuple[float, float]], dict[str, bool], str]:
    """Pages, page sizes, fonts (embedded or not) and the whole text without whitespace."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(path.read_bytes()))
    fonts = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            holder = font["/DescendantFonts"][0].get_object() if font["/Subtype"] == "/Type0" else font
            desc = holder["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = "/FontFile2" in desc or "/FontFile3" in desc
    text = "".join("".join(p.extract_text().split()) for p in reader.pages)
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    return len(reader.pages), sizes, fonts, text


def _page_pixels(path: Path) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path.read_bytes())
    try:
        return np.asarray(doc[0].render(scale=1.0).to_pil().convert("RGB")).astype(int)
    finally:
        doc.close()


def _open(window, open_and_wait, qtbot, path: Path) -> str:  # type: ignore[no-untyped-def]
    open_and_wait(window, path)
    qtbot.waitUntil(lambda: bool(window.session.sha256), timeout=60000)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export(window, qtbot, path: Path, note: str = "", paper: str = "a4") -> Path:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.report_export.saved, timeout=120000) as blocker:
        window.report_export.export(path, note, paper)
    return Path(blocker.args[0])


def test_menu_entry_follows_the_screenshot_and_needs_a_clip(window, clips, open_and_wait,
                                                            qtbot) -> None:
    exporter = window.report_export
    texts = [a.text() for a in window.menu("File").actions()]
    shot = texts.index(window.export_action.text())
    assert texts[shot + 1] == exporter.action.text() == "Export &report (PDF or HTML)…"
    assert not exporter.action.isEnabled() and exporter.why_not() == "Open a clip first."
    _open(window, open_and_wait, qtbot, clips["av"].path)
    assert exporter.action.isEnabled() and exporter.why_not() == ""


def test_export_writes_the_pdf_in_the_background(window, clips, open_and_wait, qtbot,
                                                 tmp_path) -> None:
    clip = clips["av"].path
    sha = _open(window, open_and_wait, qtbot, clip)
    out = _export(window, qtbot, tmp_path / "report.pdf", "Seen on a feed.", "letter")
    assert out == tmp_path / "report.pdf"
    pages, sizes, fonts, text = _pdf(out)
    assert pages == 1 and sizes[0] == pytest.approx((612.0, 792.0), abs=0.05)
    assert fonts and all(fonts.values()), fonts
    # the silence panel measures the session's decoded sound (30 ms of digital silence)
    assert window.session.audio is not None
    for expected in (clip.name, sha, NO_RESULT_VIEWER, "Seen on a feed.", wording.SILENCE_MEANING,
                     "The sound starts with 30.0 ms of digital silence"):
        assert "".join(expected.split()) in text, expected
    # the picture: the renderer's dark picture fills much of the top half of the page
    rgb = _page_pixels(out)
    assert (rgb[: rgb.shape[0] // 2].sum(axis=2) < 200).mean() > 0.15
    assert window.statusBar().currentMessage() == f"Saved {out}"
    assert not window.report_export.running


@pytest.mark.slow
def test_export_with_the_analysis_shows_its_stretches_as_html(window, clips, open_and_wait, qtbot,
                                                              tmp_path) -> None:
    clip = clips["av"].path
    sha = _open(window, open_and_wait, qtbot, clip)
    times = np.arange(50) / 25.0
    scores = np.zeros(50)
    for s, e in SEGMENTS:
        scores[(times >= s) & (times < e)] = 2.0
    variant = {"frame_scores": scores.tolist(), "times_s": times.tolist(), "video_score": 2.5,
               "pool": "lse", "threshold": 0.5, "suspicious_segments": [list(x) for x in SEGMENTS]}
    result = {"file": str(clip), "sha256": sha, "caveats": ["A caveat of this analysis."],
              "models": [], **variant, "variants": {"untrimmed": variant}}
    window.avh.state.analysis = SimpleNamespace(to_dict=lambda: result, face=None, roi_gray=None)
    out = _export(window, qtbot, tmp_path / "report.html")
    page = out.read_text("utf-8")
    assert "http:" not in page and "https:" not in page
    assert page.count('src="data:image/png;base64,') == 1 + len(SEGMENTS)
    for s, e in SEGMENTS:
        assert f"{format_timecode(s)} – {format_timecode(e)}" in page
    assert "A caveat of this analysis." in page and NO_RESULT_VIEWER not in page
    assert "made in the viewer (not saved as a file)" in page  # the provenance names its result


def test_bad_targets_are_one_sentence_and_leave_no_file(window, clips, open_and_wait, qtbot,
                                                         tmp_path) -> None:
    from forensics_gui.core.errors import ForensicsError

    clip = clips["av"].path
    sha = _open(window, open_and_wait, qtbot, clip)
    with pytest.raises(ForensicsError, match="the open clip"):
        window.report_export.export(clip)
    with pytest.raises(ForensicsError, match=r"must end in \.pdf or \.html"):
        window.report_export.export(tmp_path / "report.docx")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with qtbot.waitSignal(window.report_export.failed, timeout=120000) as failed:
        window.report_export.export(blocker / "report.pdf")
    sentence = failed.args[0]
    assert "report.pdf" in sentence and "Traceback" not in sentence and "\n" not in sentence
    assert window.last_error == sentence
    assert not (blocker / "report.pdf").exists() and blocker.read_text() == "not a folder"
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == sha


@pytest.mark.slow
def test_the_dialog_s_file_type_sets_the_paper(window, clips, open_and_wait, qtbot, tmp_path,
                                               monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    _open(window, open_and_wait, qtbot, clips["av"].path)
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "letter-report"), "PDF, Letter (*.pdf)"))
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *a, **k: ("From the desk.", True))
    with qtbot.waitSignal(window.report_export.saved, timeout=120000) as blocker:
        window.report_export.action.trigger()
    out = Path(blocker.args[0])
    assert out == tmp_path / "letter-report.pdf"  # the suffix of the chosen type is added
    pages, sizes, _fonts, text = _pdf(out)
    assert pages == 1 and sizes[0] == pytest.approx((612.0, 792.0), abs=0.05)
    assert "Fromthedesk." in text
