"""The one-page report: the PDF as a reader gets it (pages, paper, embedded fonts, text, the
picture's pixels), the HTML (nothing fetched from outside, the same text), and every bad input of
``forensics-gui report`` as one sentence, exit code 2 and no file."""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from forensics_gui import cli
from forensics_gui.core.evidence import report as rep
from forensics_gui.core.evidence import wording
from forensics_gui.core.media.timebase import format_timecode
from forensics_gui.testing.synth import make_clip, make_text_as_video

A4 = (595.28, 841.89)
LETTER = (612.0, 792.0)
MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)
CAVEAT_OF_RESULT = "The face is small: 40 pixels high."


# -- helpers ---------------------------------------------------------------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def picture(width: int = 640, height: int = 480) -> bytes:
    """A stand-in picture a page render can find: magenta with a cyan square in the middle."""
    from PIL import Image

    img = np.zeros((height, width, 3), np.uint8)
    img[:] = MAGENTA
    s = height // 4
    img[height // 2 - s // 2: height // 2 + s // 2, width // 2 - s // 2: width // 2 + s // 2] = CYAN
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def result_of(clip: Path, segments: list[tuple[float, float]], n_frames: int = 50,
              sha: str | None = None) -> dict[str, Any]:
    """An analysis result dict as ``analyze -o`` writes it, with a bump in each segment."""
    times = np.arange(n_frames) / 25.0
    scores = np.sin(np.arange(n_frames)) * 0.05
    for s, e in segments:
        scores[(times >= s) & (times < e)] += 2.0
    variant = {"frame_scores": scores.tolist(), "times_s": times.tolist(), "video_score": 3.25,
               "pool": "lse", "threshold": 0.5, "suspicious_segments": [list(x) for x in segments],
               "first_model_frame": 0}
    return {"file": str(clip), "sha256": sha or _sha(clip), "fps": 25.0, "app_version": "0.1.0",
            "face_found": True, "frames_without_face": 0,
            "models": [{"role": "features", "name": "self_large_vox_433h.pt", "sha256": "a" * 64},
                       {"role": "phi", "name": "AVH-Align_AV1M.pt", "sha256": "b" * 64}],
            "preparation": {"preparation": "official", "dlib_version": "19.24",
                            "landmark_model_sha256": "c" * 64, "mean_face_sha256": "d" * 64},
            "caveats": [CAVEAT_OF_RESULT], **variant, "variants": {"untrimmed": variant}}


def snapshot_of(clip: Path, warnings: list[str] | None = None) -> Any:
    """What the report reuses of the picture's data (its SHA-256, measurement and warnings)."""
    return SimpleNamespace(sha256=_sha(clip), warnings=list(warnings or []), silence=None,
                           created="2026-01-02T03:04:05Z")


def pdf_facts(data: bytes) -> dict[str, Any]:
    """Pages, page sizes (pt), each font with whether its file is embedded, and the text."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            desc_holder = (font["/DescendantFonts"][0].get_object()
                           if font.get("/Subtype") == "/Type0" else font)
            desc = desc_holder.get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            fonts[str(font.get("/BaseFont"))] = any(k in desc for k in ("/FontFile", "/FontFile2",
                                                                         "/FontFile3"))
    pages = [page.extract_text() for page in reader.pages]
    return {"pages": len(reader.pages),
            "sizes": [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages],
            "fonts": fonts, "text": pages}


def squash(text: str) -> str:
    """Text without whitespace, so a sentence wrapped over lines still matches."""
    return "".join(text.split())


def render_page(data: bytes, index: int = 0, scale: float = 1.0) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return np.asarray(doc[index].render(scale=scale).to_pil().convert("RGB"))
    finally:
        doc.close()


def magenta_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the stand-in picture's magenta pixels on a page."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    mask = (r > 220) & (g < 40) & (b > 220)
    if mask.sum() < 100:
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report_clip")
    return make_clip(d / "interview.mkv", duration_s=2.0, width=160, height=120,
                     leading_silence_ms=30.0, face=False, pattern=True).path


SEGMENTS = [(0.4, 0.72), (1.2, 1.6)]


@pytest.fixture(scope="module")
def report(clip: Path) -> rep.Report:
    return rep.build_report(clip, snapshot=snapshot_of(clip, ["The file is cut short."]),
                            picture_png=picture(), result=result_of(clip, SEGMENTS),
                            result_name="interview.json", note="Seen on a feed on 1 May.",
                            version="9.9")


# -- the content -----------------------------------------------------------------------------

def test_content_in_plain_words(report: rep.Report, clip: Path) -> None:
    assert report.file_name == "interview.mkv" and report.sha256 == _sha(clip)
    assert report.warnings == ["The file is cut short."]
    summary = " ".join(report.summary)
    assert "3.250" in summary and "2 stretches to check" in summary
    for s, e in SEGMENTS:
        assert format_timecode(s) in summary and format_timecode(e) in summary
    assert report.summary[-1] == "The sound starts with 30.0 ms of digital silence (samples " \
                                 "below 0.0005 of full scale)."
    assert wording.RELATIVE_NOT_PROOF in report.caveats and CAVEAT_OF_RESULT in report.caveats
    # each stretch: its peak inside it, and the key frame of that time (a face-free clip: no crop)
    assert [(k.start_s, k.end_s) for k in report.segments] == SEGMENTS
    for key in report.segments:
        assert key.start_s <= key.peak_s <= key.end_s and key.peak_value is not None
        assert key.frame_png and key.frame_png[:4] == b"\x89PNG"
        assert key.mouth_png is None and "No face" in key.note
    # the silence panel: the measurement, the loudness of the first 100 ms, the tau table
    panel = report.silence
    assert panel.leading_ms == pytest.approx(30.0, abs=0.1)
    quiet = panel.loudness_db[: int(len(panel.loudness_db) * 0.29)]
    assert (quiet <= rep.FLOOR_DB).all() and panel.loudness_db[-50:].max() > -60
    assert [t for t, _ in panel.tau_table] == [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01]
    rows = dict(report.provenance)
    assert rows["SHA-256"] == _sha(clip) and rows["Analysis result"] == "interview.json"
    assert rows["Mismatch model"] == "AVH-Align_AV1M.pt  SHA-256 " + "b" * 64
    assert rows["Feature model"] == "self_large_vox_433h.pt  SHA-256 " + "a" * 64
    assert "official landmarks" in rows["Preparation"] and rows["Created (UTC)"] == "2026-01-02T03:04:05Z"
    assert dict(report.glossary) == wording.TECHNICAL_TERMS


def test_without_a_result_the_report_says_what_is_missing(clip: Path) -> None:
    r = rep.build_report(clip, snapshot=snapshot_of(clip), picture_png=None, version="9.9")
    assert r.summary[0] == rep.NO_RESULT_CLI and r.segments == []
    assert wording.RELATIVE_NOT_PROOF not in r.caveats and wording.SILENCE_MEANING in r.caveats
    assert rep.picture_time(None, 2.0) == 1.0


def test_picture_time_is_the_peak_of_the_highest_stretch(clip: Path) -> None:
    res = result_of(clip, SEGMENTS)
    res["frame_scores"][35] = res["variants"]["untrimmed"]["frame_scores"][35] = 9.0
    assert rep.picture_time(res, 2.0) == pytest.approx(35 / 25)


def test_printable_keeps_bytes_that_are_not_utf8_visible() -> None:
    name = os.fsdecode(b"clip\xff.mp4")
    assert rep.printable(name) == "clip\\xff.mp4"
    assert rep.printable("a\x07b\nc") == "a\\x07b\nc"


# -- the PDF ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("paper", "size"), [("a4", A4), ("letter", LETTER)])
def test_pdf_one_page_fonts_embedded_text_and_picture(report: rep.Report, clip: Path,
                                                      tmp_path: Path, paper: str,
                                                      size: tuple[float, float]) -> None:
    out = rep.write_report(report, tmp_path / "r.pdf", paper)
    data = out.read_bytes()
    facts = pdf_facts(data)
    assert facts["pages"] == 1
    assert facts["sizes"][0] == pytest.approx(size, abs=0.05)
    assert facts["fonts"] and all(facts["fonts"].values()), facts["fonts"]
    text = squash(facts["text"][0])
    for expected in ("interview.mkv", _sha(clip), wording.RELATIVE_NOT_PROOF, CAVEAT_OF_RESULT,
                     "Warning: The file is cut short.", "Seen on a feed on 1 May.",
                     "AVH-Align_AV1M.pt", "b" * 64, "2026-01-02T03:04:05Z"):
        assert squash(expected) in text, expected
    for s, e in SEGMENTS:
        assert squash(f"{format_timecode(s)} – {format_timecode(e)}") in text
    # the picture is on the page, whole (its aspect kept) with the square in its middle
    rgb = render_page(data, scale=1.0)
    box = magenta_box(rgb)
    assert box is not None
    w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
    assert w / h == pytest.approx(640 / 480, rel=0.04) and w > rgb.shape[1] * 0.3
    cy, cx = (box[1] + box[3]) // 2, (box[0] + box[2]) // 2
    assert tuple(rgb[cy, cx]) == pytest.approx(CYAN, abs=30)


def test_many_stretches_go_to_a_second_page(clip: Path, tmp_path: Path) -> None:
    segments = [(0.2 * i, 0.2 * i + 0.12) for i in range(1, 8)]
    r = rep.build_report(clip, snapshot=snapshot_of(clip), picture_png=picture(),
                         result=result_of(clip, segments), version="9.9")
    facts = pdf_facts(rep.write_report(r, tmp_path / "many.pdf", "letter").read_bytes())
    assert facts["pages"] == 2 and facts["sizes"] == [pytest.approx(LETTER, abs=0.05)] * 2
    assert "3morestretchestocheckonpage2" in squash(facts["text"][0])
    page2 = squash(facts["text"][1])
    for s, e in segments[4:]:
        assert squash(f"{format_timecode(s)} – {format_timecode(e)}") in page2


def test_a_long_note_continues_on_page_two(clip: Path, tmp_path: Path) -> None:
    note = "word " * 300 + "THE END"
    r = rep.build_report(clip, snapshot=snapshot_of(clip), picture_png=picture(), note=note,
                         version="9.9")
    facts = pdf_facts(rep.write_report(r, tmp_path / "note.pdf").read_bytes())
    assert facts["pages"] == 2
    assert "THEEND" not in squash(facts["text"][0]) and "THEEND" in squash(facts["text"][1])


# -- the HTML --------------------------------------------------------------------------------

def test_html_is_self_contained_with_the_same_text(report: rep.Report, clip: Path,
                                                   tmp_path: Path) -> None:
    text = rep.write_report(report, tmp_path / "r.html", "letter").read_text("utf-8")
    low = text.lower()
    assert "http:" not in low and "https:" not in low and "//" not in re.sub(r"<[^>]*>", "", low)
    assert "<link" not in low and "<script" not in low and "url(" not in low
    srcs = re.findall(r"""src\s*=\s*["']?([^"'\s>]*)""", text, flags=re.IGNORECASE)
    assert len(srcs) == 1 + len(report.segments)  # the picture and one key frame per stretch
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "size: letter" in text
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text))
    for expected in ("interview.mkv", _sha(clip), wording.RELATIVE_NOT_PROOF, CAVEAT_OF_RESULT,
                     "Warning: The file is cut short.", "Seen on a feed on 1 May."):
        assert squash(expected) in squash(plain), expected
    for s, e in SEGMENTS:
        assert f"{format_timecode(s)} – {format_timecode(e)}" in plain


# -- the command -----------------------------------------------------------------------------

def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["report", *argv])
    return code, capsys.readouterr().err


@pytest.mark.slow
def test_report_command_writes_the_pdf_with_the_renderers_picture(
        clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = tmp_path / "result.json"
    result.write_text(json.dumps(result_of(clip, SEGMENTS)))
    before = _sha(clip)
    out = tmp_path / "report.pdf"
    code, err = _run([str(clip), "--result", str(result), "-o", str(out), "--paper", "letter",
                      "--note", "From the newsroom.", "-q"], capsys)
    assert code == 0, err
    assert err.strip().endswith(f"wrote {out}")
    facts = pdf_facts(out.read_bytes())
    assert facts["pages"] == 1 and facts["sizes"][0] == pytest.approx(LETTER, abs=0.05)
    assert all(facts["fonts"].values())
    text = squash(facts["text"][0])
    assert "interview.mkv" in text and before in text and "Fromthenewsroom." in text
    # the picture (the renderer's dark background) covers a large part of the top of the page
    rgb = render_page(out.read_bytes(), scale=1.0).astype(int)
    top = rgb[: rgb.shape[0] // 2]
    dark = (top.sum(axis=2) < 200).mean()
    assert dark > 0.15, dark
    html_out = tmp_path / "report.html"
    code, err = _run([str(clip), "-o", str(html_out), "-q"], capsys)
    assert code == 0, err
    assert html_out.read_text("utf-8").count("data:image/png;base64,") == 1
    assert _sha(clip) == before


def test_bad_inputs_are_one_sentence_exit_2_and_no_file(
        clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps(result_of(clip, SEGMENTS, sha="0" * 64)))
    bad_scores = tmp_path / "bad-scores.json"
    bad_scores.write_text(json.dumps({**result_of(clip, SEGMENTS), "frame_scores": ["x"],
                                      "variants": {}}))
    bad_segments = tmp_path / "bad-segments.json"
    bad_segments.write_text(json.dumps({**result_of(clip, []), "suspicious_segments": [["a"]],
                                        "variants": {}}))
    broken = make_text_as_video(tmp_path / "broken.mp4")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cases = [
        ([str(clip), "--result", str(other), "-o", str(tmp_path / "1.pdf")],
         "was made from another clip (SHA-256 000000000000...)", tmp_path / "1.pdf"),
        ([str(clip), "--result", str(bad_scores), "-o", str(tmp_path / "6.pdf")],
         "malformed scores", tmp_path / "6.pdf"),
        ([str(clip), "--result", str(bad_segments), "-o", str(tmp_path / "7.pdf")],
         "malformed stretch to check", tmp_path / "7.pdf"),
        ([str(broken), "-o", str(tmp_path / "2.pdf")], "broken.mp4", tmp_path / "2.pdf"),
        ([str(clip), "-o", str(clip)], "the video", None),
        # (the output's lock file beside it is the first thing that cannot be made)
        ([str(clip), "-o", str(blocker / "3.pdf")], "cannot use", blocker / "3.pdf"),
        ([str(clip), "-o", str(tmp_path / "4.docx")], "must end in .pdf or .html",
         tmp_path / "4.docx"),
        ([str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "5.pdf")], "does not exist",
         tmp_path / "5.pdf"),
    ]
    before = _sha(clip)
    for argv, words, out in cases:
        code, err = _run([*argv, "-q"], capsys)
        assert code == 2, (argv, err)
        assert err.startswith("forensics-gui report: ") and err.count("\n") == 1, err
        assert words in err and "Traceback" not in err, err
        if out is not None:
            assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name or p.suffix == ".pdf"]
    assert _sha(clip) == before
    if os.geteuid() != 0:  # root writes anywhere: a read-only folder only stops other users
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            code, err = _run([str(clip), "-o", str(ro / "r.pdf"), "-q"], capsys)
            assert code == 2 and "cannot use" in err and not (ro / "r.pdf").exists()
        finally:
            ro.chmod(0o700)


@pytest.mark.slow
def test_report_of_a_real_analysis_shows_the_crops_the_model_saw(
        models: tuple[Path, Path], isolated_dirs: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``analyze -o`` then ``report --result``: the result file as the pipeline writes it, and
    the key frames' mouth crops taken from that analysis (the cache), not re-detected."""
    from forensics_gui.core.evidence.frames import NOTE_ANALYSIS

    ckpt, phi = models
    clip = make_clip(tmp_path / "face.mp4", duration_s=2.0, width=240, height=240,
                     leading_silence_ms=30.0).path
    result = tmp_path / "result.json"
    assert cli.main(["analyze", str(clip), "--checkpoint", str(ckpt), "--phi", str(phi),
                     "--device", "cpu", "-o", str(result), "-q"]) == 0, capsys.readouterr().err
    data = json.loads(result.read_text())
    data["suspicious_segments"] = data["variants"]["untrimmed"]["suspicious_segments"] = [[0.8, 1.2]]
    result.write_text(json.dumps(data))
    out = tmp_path / "report.html"
    code, err = _run([str(clip), "--result", str(result), "-o", str(out), "-q"], capsys)
    assert code == 0, err
    page = html.unescape(out.read_text("utf-8"))
    assert NOTE_ANALYSIS in page and page.count("data:image/png;base64,") == 3
    for m in data["models"]:
        assert m["sha256"] in page and len(m["sha256"]) == 64
    assert f"{format_timecode(0.8)} – {format_timecode(1.2)}" in page


@pytest.mark.slow
def test_a_cut_short_file_says_so_first(clip: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The damaged-file sentence the picture shows is the report's first warning, in both
    formats (the same list, drawn on a red band before anything else)."""
    from forensics_gui.core.media.integrity import damage_sentence
    from forensics_gui.testing.synth import truncate_file

    cut = truncate_file(clip, tmp_path / "cut.mkv", 0.5)
    sentence = damage_sentence(cut)
    assert sentence
    for name in ("cut.pdf", "cut.html"):
        code, err = _run([str(cut), "-o", str(tmp_path / name), "-q"], capsys)
        assert code == 0, err
    pdf_text = squash(pdf_facts((tmp_path / "cut.pdf").read_bytes())["text"][0])
    assert squash(f"Warning: {sentence}") in pdf_text
    assert pdf_text.index(squash(sentence)) < pdf_text.index("Summary")
    page = html.unescape((tmp_path / "cut.html").read_text("utf-8"))
    assert page.index(f"Warning: {sentence}") < page.index("<h2>Summary</h2>")


@pytest.mark.slow
def test_a_result_of_odd_types_is_shown_or_refused_in_one_sentence(clip: Path,
                                                                   tmp_path: Path) -> None:
    """Every field of a result replaced by a value of another type: the report is built (the
    field shows nothing) or refused with a ForensicsError, never another exception."""
    from forensics_gui.core.errors import ForensicsError

    base = result_of(clip, [])
    odd_values: list[Any] = [5, "x", None, [], {}, [[None]], [["a", "b"]], 1e308 * 10, [10 ** 400],
                             {"untrimmed": 5}, [{"role": 5}], True]
    def mutants() -> Any:
        for key in [*base, "supervised"]:
            for value in odd_values:
                yield {**base, key: value}
        for key in base["variants"]["untrimmed"]:
            for value in odd_values:
                yield {**base, "variants": {"untrimmed": {**base["variants"]["untrimmed"],
                                                          key: value}}}

    built = refused = 0
    for mutant in mutants():
        res = json.loads(json.dumps(mutant, allow_nan=True))
        try:
            r = rep.build_report(clip, snapshot=snapshot_of(clip), picture_png=None, result=res,
                                 version="9.9")
        except ForensicsError as err:
            assert str(err).endswith(".") and "\n" not in str(err)
            refused += 1
            continue
        rep.write_report(r, tmp_path / "odd.html")
        built += 1
    assert built and refused
