"""The report as one self-contained HTML file: the same content as the PDF, images as ``data:``
URIs, the silence plot as inline SVG, the style in the file; nothing is fetched from anywhere
(no external URL, script or font), so it opens the same offline and cannot tell anyone it was
opened. Printing it uses the chosen paper size (A4 or Letter).
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np

from forensics_gui.core.evidence.report_model import (
    FLOOR_DB,
    SILENCE_PANEL_MEANING,
    KeyFrame,
    Report,
    SilencePanel,
)

PAGE_SIZES = {"a4": "A4", "letter": "letter"}

STYLE = """
@page { size: %(page)s; margin: 12mm; }
body { font-family: "DejaVu Sans", "Bitstream Vera Sans", Verdana, Arial, sans-serif;
       color: #1b1f24; background: #ffffff; max-width: 60rem; margin: 1.5rem auto;
       padding: 0 1rem; font-size: 14px; line-height: 1.4; }
h1 { font-size: 1.45rem; margin: 0 0 .15rem 0; }
h2 { font-size: 1.05rem; margin: 1.1rem 0 .35rem 0; }
.sub { color: #5b6470; font-size: .8rem; margin-bottom: .8rem; overflow-wrap: anywhere; }
.warnings { border: 2px solid #9f1d14; background: #fde8e6; color: #9f1d14; font-weight: bold;
            padding: .4rem .7rem; margin: .6rem 0; }
.warnings p { margin: .2rem 0; }
.top { display: flex; gap: 1.2rem; align-items: flex-start; flex-wrap: wrap; }
.top img { max-width: 100%%; height: auto; flex: 0 1 34rem; }
.top .summary { flex: 1 1 18rem; }
ul { margin: .2rem 0; padding-left: 1.2rem; }
.keys { display: flex; flex-wrap: wrap; gap: 1rem; }
.key { flex: 0 1 13.5rem; font-size: .8rem; }
.key img { height: 6rem; width: auto; margin-right: .3rem; vertical-align: top;
           image-rendering: auto; }
.key .times { font-weight: bold; margin-top: .2rem; }
.key .note { color: #5b6470; font-size: .72rem; }
.cols { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.cols > div { flex: 1 1 22rem; }
table { border-collapse: collapse; font-size: .8rem; }
td, th { text-align: left; vertical-align: top; padding: .1rem .6rem .1rem 0; }
.kv th { white-space: nowrap; }
.kv td { overflow-wrap: anywhere; }
.tau td, .tau th { border-bottom: 1px solid #c9ced6; }
.small { font-size: .8rem; }
.muted { color: #5b6470; font-size: .75rem; }
.note { white-space: pre-wrap; }
"""


def _e(text: str) -> str:
    return escape(text, quote=True)


def _img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def silence_svg(panel: SilencePanel, width: int = 420, height: int = 110) -> str:
    """The PDF's silence plot as inline SVG (same scale: 0 dB at the top, silence at the bottom)."""
    left, top, right, bottom = 44.0, 4.0, width - 6.0, height - 16.0
    pw, ph = right - left, bottom - top

    def y_of(db: float) -> float:
        return top + (0.0 - max(FLOOR_DB, min(0.0, db))) / -FLOOR_DB * ph

    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Loudness of the first '
             f'100 ms">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#f3f5f8" '
             'stroke="#c9ced6"/>']
    if panel.leading_ms is not None and panel.leading_ms > 0:
        w = min(1.0, panel.leading_ms / panel.window_ms) * pw
        parts.append(f'<rect x="{left}" y="{top}" width="{max(w, 1.0):.2f}" height="{ph}" '
                     'fill="#ffd54a" fill-opacity="0.55"/>')
    db = panel.loudness_db
    if len(db):
        xs = left + (0.5 + np.arange(len(db))) / len(db) * pw
        pts = [f"{left:.2f},{bottom:.2f}"] + [f"{x:.2f},{y_of(float(v)):.2f}"
                                              for x, v in zip(xs, db, strict=True)]
        pts.append(f"{right:.2f},{bottom:.2f}")
        parts.append(f'<polygon points="{" ".join(pts)}" fill="#2f8f5b" stroke="#2f8f5b" '
                     'stroke-width="0.4"/>')
    if panel.leading_ms is not None:
        y = y_of(panel.threshold_db)
        parts.append(f'<line x1="{left}" y1="{y:.2f}" x2="{right}" y2="{y:.2f}" stroke="#b42318" '
                     'stroke-dasharray="3 3"/>')
    for ms in (0, 25, 50, 75, 100):
        x = left + ms / panel.window_ms * pw
        anchor = "middle" if 0 < ms < 100 else ("start" if ms == 0 else "end")
        parts.append(f'<text x="{x:.1f}" y="{height - 3}" font-size="9" fill="#5b6470" '
                     f'text-anchor="{anchor}">{ms} ms</text>')
    for value, text in ((0.0, "0 dB"), (-50.0, "-50 dB"), (FLOOR_DB, "silent")):
        parts.append(f'<text x="{left - 3}" y="{y_of(value) + 3:.1f}" font-size="9" '
                     f'fill="#5b6470" text-anchor="end">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _key(key: KeyFrame, with_note: bool = True) -> str:
    pics = ""
    if key.frame_png:
        pics += _img(key.frame_png, f"Frame at {key.peak_s:.3f} s with the face box")
    if key.mouth_png:
        pics += _img(key.mouth_png, f"Mouth crop at {key.peak_s:.3f} s")
    from forensics_gui.core.media.timebase import format_timecode

    peak = ("" if key.peak_value is None
            else f"; peak {key.peak_value:.3f} at {format_timecode(key.peak_s)}")
    note = f'<div class="note">{_e(key.note)}</div>' if key.note and with_note else ""
    return (f'<div class="key">{pics}<div class="times">{_e(key.times_text + peak)}</div>'
            f"{note}</div>")


def _kv(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def html_text(report: Report, paper: str = "a4") -> str:
    """The report as one HTML document (``paper`` "a4" or "letter" sets the printed page)."""
    from forensics_gui.core.errors import ForensicsError
    from forensics_gui.core.media.timebase import format_timecode

    if paper not in PAGE_SIZES:
        raise ForensicsError(f"Unknown paper size {paper!r}; use a4 or letter.")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(report.title)}</title>",
           f"<style>{STYLE % {'page': PAGE_SIZES[paper]}}</style></head><body>",
           f"<h1>{_e(report.title)}</h1>",
           f'<div class="sub">SHA-256 {_e(report.sha256)} · created {_e(report.created_utc)} · '
           f"forensics-gui {_e(report.app_version)}</div>"]
    if report.warnings:
        out.append('<div class="warnings">' + "".join(f"<p>Warning: {_e(w)}</p>"
                                                      for w in report.warnings) + "</div>")
    summary = ("<h2>Summary</h2><ul>" + "".join(f"<li>{_e(s)}</li>" for s in report.summary)
               + "</ul>")
    if report.mouth_and_voice:
        summary += ("<h2>Mouth and voice (no model files needed; separate from AVH-Align)</h2><ul>"
                    + "".join(f"<li>{_e(s)}</li>" for s in report.mouth_and_voice) + "</ul>")
    if report.note:
        summary += f'<h2>Analyst\'s note</h2><p class="note">{_e(report.note)}</p>'
    picture = (_img(report.picture_png, f"Annotated picture of {report.file_name}")
               if report.picture_png else "")
    out.append(f'<div class="top">{picture}<div class="summary">{summary}</div></div>')
    if report.segments:
        out.append("<h2>Stretches to check: key frame and mouth crop at the highest point</h2>")
        keys = report.segments
        shared = keys[0].note if all(k.note == keys[0].note for k in keys) else ""
        out.append('<div class="keys">' + "".join(_key(k, not shared) for k in keys) + "</div>")
        if shared:
            out.append(f'<p class="muted">{_e(shared)}</p>')
    if report.more_segments:
        times = "; ".join(f"{format_timecode(s)} – {format_timecode(e)}"
                          for s, e in report.more_segments)
        out.append(f'<h2>Further stretches to check (times only)</h2><p class="small">{_e(times)}</p>')
    panel = report.silence
    silence = f"<h2>Leading silence</h2><p>{_e(panel.sentence)}</p>"
    if panel.leading_ms is not None:
        silence += silence_svg(panel) + f'<p class="muted">{_e(SILENCE_PANEL_MEANING)}</p>'
        if panel.tau_table:
            head = "".join(f"<td>{t:g}</td>" for t, _ in panel.tau_table)
            vals = "".join(f"<td>{ms:.1f}</td>" for _, ms in panel.tau_table)
            silence += (f'<table class="tau"><tr><th>Quiet level</th>{head}</tr>'
                        f"<tr><th>Silence (ms)</th>{vals}</tr></table>")
    caveats = ("<h2>What the numbers mean, and what they do not</h2><ul class=\"small\">"
               + "".join(f"<li>{_e(c)}</li>" for c in report.caveats) + "</ul>")
    out.append(f'<div class="cols"><div>{silence}</div><div>{caveats}</div></div>')
    out.append("<h2>Provenance</h2>" + _kv(report.provenance))
    out.append("<h2>Glossary: the plain words and the technical terms behind them</h2>"
               + _kv(report.glossary))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


__all__ = ["html_text", "silence_svg"]
