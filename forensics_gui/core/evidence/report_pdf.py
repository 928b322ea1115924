"""The report as PDF, with ReportLab (A4 or Letter; every font embedded).

Why ReportLab: it is the long-standing, actively released PDF toolkit for Python (BSD licence,
since 2000, a release every few months), pure Python on top of Pillow, so the CLI writes a PDF
without Qt or a browser; its layout engine (platypus) wraps paragraphs and tables and can shrink
a page's content to fit one page; it embeds TrueType fonts as subsets (FontFile2) and draws
vector plots. fpdf2 (LGPL) is smaller but has no shrink-to-fit layout; Qt's QPdfWriter would
make the CLI depend on more of Qt than the picture renderer.

The text is set in DejaVu Sans (``fonts-dejavu-core``, which ``packaging/install.sh`` installs),
else in the Bitstream Vera that ReportLab ships (characters it lacks, such as Φ and τ, are
spelled out). The built-in PDF fonts (Helvetica, ...) are never used: they would not be embedded.
Page one holds the picture, the summary, the stretches to check (up to four), the silence panel,
the caveats, the provenance and the glossary; a second page only holds further stretches (and
the rest of a very long note).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from forensics_gui.core.evidence.report_model import (
    FLOOR_DB,
    MAX_NOTE_ON_PAGE_ONE,
    SEGMENTS_ON_PAGE_ONE,
    SILENCE_PANEL_MEANING,
    KeyFrame,
    Report,
    SilencePanel,
)

PAPERS = {"a4": (595.2756, 841.8898), "letter": (612.0, 792.0)}  # points (1/72 inch)
MARGIN = 28.0  # points

REGULAR, BOLD = "ReportSans", "ReportSans-Bold"
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu",
             "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
# Spelled out when the font lacks the character (ReportLab's Vera has no Greek).
SPELLED = {"Φ": "Phi", "τ": "tau", "−": "-", "×": "x", "…": "...", "–": "-", "—": "-", "•": "*"}

INK = "#1b1f24"
MUTED = "#5b6470"
RULE = "#c9ced6"
WARN_INK, WARN_BG = "#9f1d14", "#fde8e6"
SILENCE_FILL = "#ffd54a"
LOUDNESS = "#2f8f5b"
PANEL_BG = "#f3f5f8"

_lock = threading.Lock()
_glyphs: set[int] = set()


def _font_files() -> tuple[str, str]:
    """(regular, bold) TrueType files: DejaVu Sans when installed, else ReportLab's Vera."""
    for folder in FONT_DIRS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return str(regular), str(bold)
    import reportlab

    fonts = Path(reportlab.__file__).parent / "fonts"
    return str(fonts / "Vera.ttf"), str(fonts / "VeraBd.ttf")


def register_fonts() -> None:
    """Register the report's two fonts with ReportLab once per process (thread-safe)."""
    from reportlab import rl_config
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    with _lock:
        if _glyphs:
            return
        # binary streams: ASCII85 would make the file a quarter larger, and without ReportLab's
        # optional C accelerator its pure-Python encoder takes seconds for the pictures
        rl_config.useA85 = 0
        regular, bold = _font_files()
        font = TTFont(REGULAR, regular)
        pdfmetrics.registerFont(font)
        pdfmetrics.registerFont(TTFont(BOLD, bold))
        for b, i in ((0, 0), (0, 1), (1, 0), (1, 1)):
            addMapping(REGULAR, b, i, BOLD if b else REGULAR)
        _glyphs.update(int(c) for c in font.face.charToGlyph)


def clean(text: str) -> str:
    """``text`` in characters the font has (others spelled out, or "?")."""
    out = []
    for ch in text:
        if ord(ch) in _glyphs or ch in "\n\t":
            out.append(ch)
        else:
            out.append(SPELLED.get(ch, "?"))
    return "".join(out)


def para_text(text: str) -> str:
    """Plain ``text`` as ReportLab paragraph markup (escaped; newlines kept)."""
    return escape(clean(text)).replace("\n", "<br/>")


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        base = ParagraphStyle("body", fontName=REGULAR, fontSize=8.2, leading=10.2,
                              textColor=HexColor(INK), spaceAfter=2.5)
        self.body = base
        self.title = ParagraphStyle("title", base, fontName=BOLD, fontSize=14.5, leading=17,
                                    spaceAfter=1)
        self.sub = ParagraphStyle("sub", base, fontSize=7.2, leading=9, textColor=HexColor(MUTED),
                                  spaceAfter=4)
        self.h = ParagraphStyle("h", base, fontName=BOLD, fontSize=9.6, leading=12, spaceBefore=4,
                                spaceAfter=2)
        self.small = ParagraphStyle("small", base, fontSize=6.8, leading=8.3, spaceAfter=1.5)
        self.small_bold = ParagraphStyle("smallb", self.small, fontName=BOLD)
        self.tiny = ParagraphStyle("tiny", base, fontSize=6.2, leading=7.5,
                                   textColor=HexColor(MUTED), spaceAfter=0)
        self.warn = ParagraphStyle("warn", base, fontName=BOLD, textColor=HexColor(WARN_INK),
                                   spaceAfter=0)
        self.bullet = ParagraphStyle("bullet", base, leftIndent=8, bulletIndent=0)


def _image(png: bytes, width: float, height: float) -> Any:
    from reportlab.platypus import Image

    return Image(io.BytesIO(png), width=width, height=height)


def _fit(size: tuple[int, int], max_w: float, max_h: float) -> tuple[float, float]:
    w, h = size
    if w <= 0 or h <= 0:
        return max_w, max_h
    scale = min(max_w / w, max_h / h)
    return w * scale, h * scale


def _table(rows: list[list[Any]], widths: list[float] | None, style: list[tuple[Any, ...]]) -> Any:
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, hAlign="LEFT")
    # FONTNAME for every cell: a Table's default font is the non-embedded Helvetica
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), REGULAR),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0), *style]))
    return table


def _warnings(report: Report, st: _Styles, width: float) -> list[Any]:
    from reportlab.lib.colors import HexColor

    if not report.warnings:
        return []
    rows = [[_p(f"Warning: {w}", st.warn)] for w in report.warnings]
    return [_table(rows, [width], [("BACKGROUND", (0, 0), (-1, -1), HexColor(WARN_BG)),
                                   ("BOX", (0, 0), (-1, -1), 1.2, HexColor(WARN_INK)),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 6),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                                   ("TOPPADDING", (0, 0), (0, 0), 4),
                                   ("BOTTOMPADDING", (0, -1), (-1, -1), 4)]),
            _spacer(5)]


def _p(text: str, style: Any) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(para_text(text), style)


def _spacer(h: float) -> Any:
    from reportlab.platypus import Spacer

    return Spacer(1, h)


def _summary(report: Report, st: _Styles, note_limit: int) -> list[Any]:
    out: list[Any] = [_p("Summary", st.h)]
    out += [_p(line, st.bullet) for line in report.summary]
    if report.mouth_and_voice:
        out.append(_p("Mouth and voice (no model files needed; separate from AVH-Align)", st.h))
        out += [_p(line, st.bullet) for line in report.mouth_and_voice]
    if report.note:
        note = report.note
        if len(note) > note_limit:
            note = note[:note_limit].rstrip() + " … (continued on page 2)"
        out += [_p("Analyst's note", st.h), _p(note, st.body)]
    return out


def _key_cell(key: KeyFrame, st: _Styles, width: float, with_note: bool = True) -> Any:
    side = min(64.0, width * 0.42)
    pics: list[Any] = []
    if key.frame_png:
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(key.frame_png)) as im:
            fw, fh = _fit(im.size, width - side - 4, side)
        pics.append(_image(key.frame_png, fw, fh))
    if key.mouth_png:
        pics.append(_image(key.mouth_png, side, side))
    peak = "" if key.peak_value is None else f"; peak {key.peak_value:.3f} at {_short(key.peak_s)}"
    cell: list[Any] = []
    if pics:
        cell.append(_table([pics], None, [("RIGHTPADDING", (0, 0), (-2, -1), 4)]))
    cell += [_p(key.times_text + peak, st.small_bold)]
    if key.note and with_note:
        cell.append(_p(key.note, st.tiny))
    return cell


def _short(t: float) -> str:
    from forensics_gui.core.media.timebase import format_timecode

    return format_timecode(t)


def _key_grid(keys: list[KeyFrame], st: _Styles, width: float, per_row: int = 4) -> list[Any]:
    """The key frames in rows of ``per_row``; a note that every key frame shares is said once,
    under the grid."""
    col = width / per_row
    shared = keys[0].note if keys and all(k.note == keys[0].note for k in keys) else ""
    rows: list[list[Any]] = []
    for i in range(0, len(keys), per_row):
        row = [_key_cell(k, st, col - 8, with_note=not shared) for k in keys[i:i + per_row]]
        rows.append(row + [""] * (per_row - len(row)))
    out = [_table(rows, [col] * per_row, [("RIGHTPADDING", (0, 0), (-1, -1), 8),
                                          ("BOTTOMPADDING", (0, 0), (-1, -1), 3)])]
    if shared:
        out.append(_p(shared, st.tiny))
    return out


def silence_drawing(panel: SilencePanel, width: float, height: float) -> Any:
    """The loudness of the first 100 ms as a vector plot: the leading silence shaded, the quiet
    level dashed, 0 dB (full scale) at the top and digital silence at the bottom."""
    from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
    from reportlab.lib.colors import Color, HexColor

    d = Drawing(width, height, initialFontName=REGULAR, initialFontSize=6)  # not Helvetica
    left, bottom, right, top = 30.0, 12.0, width - 4.0, height - 4.0
    pw, ph = right - left, top - bottom
    d.add(Rect(left, bottom, pw, ph, fillColor=HexColor(PANEL_BG), strokeColor=HexColor(RULE),
               strokeWidth=0.5))

    def y_of(db: float) -> float:
        return bottom + (max(FLOOR_DB, min(0.0, db)) - FLOOR_DB) / -FLOOR_DB * ph

    def label(x: float, y: float, text: str, anchor: str = "start") -> None:
        d.add(String(x, y, clean(text), fontName=REGULAR, fontSize=5.8,
                     fillColor=HexColor(MUTED), textAnchor=anchor))

    if panel.leading_ms is not None and panel.leading_ms > 0:
        w = min(1.0, panel.leading_ms / panel.window_ms) * pw
        yellow = HexColor(SILENCE_FILL)
        d.add(Rect(left, bottom, max(w, 1.0), ph, strokeColor=None,
                   fillColor=Color(yellow.red, yellow.green, yellow.blue, alpha=0.55)))
    db = panel.loudness_db
    if len(db):
        xs = left + (0.5 + np.arange(len(db))) / len(db) * pw
        points = [left, bottom]
        for x, v in zip(xs, db, strict=True):
            points += [float(x), y_of(float(v))]
        points += [right, bottom]
        d.add(Polygon(points, fillColor=HexColor(LOUDNESS), strokeColor=HexColor(LOUDNESS),
                      strokeWidth=0.3))
    if panel.leading_ms is not None:
        y = y_of(panel.threshold_db)
        d.add(Line(left, y, right, y, strokeColor=HexColor("#b42318"), strokeWidth=0.6,
                   strokeDashArray=[2, 2]))
    for ms in (0, 25, 50, 75, 100):
        x = left + ms / panel.window_ms * pw
        d.add(Line(x, bottom, x, bottom - 2, strokeColor=HexColor(MUTED), strokeWidth=0.4))
        label(x, 3, f"{ms} ms", "middle" if 0 < ms < 100 else ("start" if ms == 0 else "end"))
    for db_value, text in ((0, "0 dB"), (-50, "-50 dB"), (FLOOR_DB, "silent")):
        label(left - 2, y_of(db_value) - 2, text, "end")
    if panel.leading_ms is None:
        label(left + pw / 2, bottom + ph / 2, "no sound track", "middle")
    return d


def _silence(report: Report, st: _Styles, width: float) -> list[Any]:
    panel = report.silence
    out: list[Any] = [_p("Leading silence", st.h), _p(panel.sentence, st.body)]
    if panel.leading_ms is None:
        return out
    out += [silence_drawing(panel, width, 74), _spacer(2),
            _p(SILENCE_PANEL_MEANING, st.tiny), _spacer(3)]
    if panel.tau_table:
        head = [_p("Quiet level", st.small_bold)] + [_p(f"{t:g}", st.small) for t, _ in panel.tau_table]
        vals = [_p("Silence (ms)", st.small_bold)] + [_p(f"{ms:.1f}", st.small)
                                                      for _, ms in panel.tau_table]
        first = width * 0.27
        rest = (width - first) / len(panel.tau_table)
        out.append(_table([head, vals], [first] + [rest] * len(panel.tau_table),
                          [("LINEBELOW", (0, 0), (-1, 0), 0.4, RULE)]))
    return out


def _caveats(report: Report, st: _Styles) -> list[Any]:
    out: list[Any] = [_p("What the numbers mean, and what they do not", st.h)]
    out += [_p(line, st.small) for line in report.caveats]
    return out


def _key_value(rows: list[tuple[str, str]], st: _Styles, width: float, first: float) -> Any:
    cells = [[_p(k, st.small_bold), _p(v, st.small)] for k, v in rows]
    return _table(cells, [first, width - first], [("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                                                  ("RIGHTPADDING", (0, 0), (0, -1), 6)])


def _two_columns(left: list[Any], right: list[Any], widths: tuple[float, float],
                 gap: float = 12.0) -> Any:
    return _table([[left, right]], [widths[0] + gap, widths[1]],
                  [("RIGHTPADDING", (0, 0), (0, 0), gap)])


def _page_one(report: Report, st: _Styles, width: float, height: float) -> list[Any]:
    out: list[Any] = [_p(report.title, st.title),
                      _p(f"SHA-256 {report.sha256}   ·   created {report.created_utc}   ·   "
                         f"forensics-gui {report.app_version}", st.sub)]
    out += _warnings(report, st, width)
    summary = _summary(report, st, MAX_NOTE_ON_PAGE_ONE)
    if report.picture_png:
        aspect = report.picture_size[0] / max(1, report.picture_size[1])
        if aspect >= 1.6:  # a wide picture takes the whole width, the summary goes below
            pw, ph = _fit(report.picture_size, width, height * 0.36)
            out += [_image(report.picture_png, pw, ph), _spacer(4), *summary]
        else:
            pw, ph = _fit(report.picture_size, width * 0.6, height * 0.43)
            out.append(_two_columns([_image(report.picture_png, pw, ph)], summary,
                                    (pw, width - pw - 12)))
    else:
        out += summary
    if report.segments:
        out += [_p("Stretches to check: key frame and mouth crop at the highest point", st.h),
                *_key_grid(report.segments[:SEGMENTS_ON_PAGE_ONE], st, width)]
        rest = len(report.segments) - SEGMENTS_ON_PAGE_ONE + len(report.more_segments)
        if rest > 0:
            out.append(_p(f"{rest} more stretch{'es' if rest != 1 else ''} to check on page 2.",
                          st.small))
    half = (width - 12) / 2
    out += [_spacer(2), _two_columns(_silence(report, st, half), _caveats(report, st),
                                     (half, half))]
    out += [_p("Provenance", st.h), _key_value(report.provenance, st, width, 92)]
    out += [_p("Glossary: the plain words and the technical terms behind them", st.h),
            _key_value(report.glossary, st, width, 150)]
    return out


def _page_two(report: Report, st: _Styles, width: float) -> list[Any]:
    out: list[Any] = []
    extra = report.segments[SEGMENTS_ON_PAGE_ONE:]
    if extra:
        out += [_p(f"{report.file_name}: stretches to check (continued)", st.h),
                *_key_grid(extra, st, width)]
    if report.more_segments:
        times = "; ".join(f"{_short(s)} – {_short(e)}" for s, e in report.more_segments)
        out += [_p("Further stretches to check (times only)", st.h), _p(times, st.small)]
    if len(report.note) > MAX_NOTE_ON_PAGE_ONE:
        out += [_p("Analyst's note (in full)", st.h), _p(report.note, st.body)]
    return out


def pdf_bytes(report: Report, paper: str = "a4") -> bytes:
    """The report as PDF bytes on ``paper`` ("a4" or "letter")."""
    from reportlab.platypus import KeepInFrame, PageBreak, SimpleDocTemplate

    from forensics_gui.core.errors import ForensicsError

    if paper not in PAPERS:
        raise ForensicsError(f"Unknown paper size {paper!r}; use a4 or letter.")
    register_fonts()
    page_w, page_h = PAPERS[paper]
    width, height = page_w - 2 * MARGIN, page_h - 2 * MARGIN
    st = _Styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=(page_w, page_h), leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=clean(report.title), author=f"forensics-gui {report.app_version}",
        subject=f"SHA-256 {report.sha256}", creator="forensics-gui", initialFontName=REGULAR,
        invariant=True)
    # the content of page one shrinks to fit it (a long note or many caveats); the frame's
    # paddings (6 pt each side) are inside the margins
    story: list[Any] = [KeepInFrame(width - 12, height - 12, _page_one(report, st, width - 12,
                                                                        height - 12),
                                    mode="shrink")]
    second = _page_two(report, st, width - 12)
    if second:
        story += [PageBreak(), *second]
    doc.build(story)
    return buf.getvalue()


__all__ = ["PAPERS", "pdf_bytes", "register_fonts", "silence_drawing", "clean"]
