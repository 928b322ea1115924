"""The audit's self-contained HTML report and its tables.

``REPORT_DIR/report.html``: one file, plots drawn as inline SVG (no script, no font, no image
and no link fetched from anywhere), readable offline and printable. It holds the counts, the
AUC-vs-tau and AUC-vs-delta curves untrimmed and trimmed (the paper's Figure 3), the ranked
table of cues (AUC alone, 95 % interval, direction), the original-vs-trimmed table (the silence
classifier, and each detector of ``--scores``), a histogram per cue and class (and per kind
of manipulation for the ten best cues), and every clip that could not be measured or was
missing, with the reason.

Tables beside it, written atomically: ``cues.csv`` (one row per clip, label and manipulation
added), ``cue_auc.csv`` (the ranking), ``detectors.csv``, ``problems.csv``, and
``cues.parquet`` when pyarrow is installed (the report says when it is not).
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forensics_gui.core.audit.cues import CUE_COLUMNS
from forensics_gui.core.audit.stats import AUC_SENTENCE, AuditSummary, CueStat, Histogram
from forensics_gui.core.files.atomic import atomic_path, write_text_atomic

REPORT_NAME = "report.html"
GROUP_COLOURS = {"real": "#1b7837", "fake": "#c51b7d", "unlabelled": "#777777"}
EXTRA_COLOURS = ("#2166ac", "#e08214", "#762a83", "#8c510a", "#01665e")
TRIMMED_COLOUR = "#e08214"
UNTRIMMED_COLOUR = "#2166ac"
MAX_PROBLEMS_SHOWN = 500
MAX_HISTOGRAMS = 60


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _colour(group: str, names: Sequence[str]) -> str:
    if group in GROUP_COLOURS:
        return GROUP_COLOURS[group]
    extra = [g for g in names if g not in GROUP_COLOURS]
    return EXTRA_COLOURS[extra.index(group) % len(EXTRA_COLOURS)] if group in extra else "#444"


def curve_svg(xs: Sequence[float], series: dict[str, Sequence[float | None]], *, title: str,
              xlabel: str, log_x: bool, width: int = 460, height: int = 320) -> str:
    """A line plot of AUC (0..1) against ``xs``, one line per series (inline SVG)."""
    left, right, top, bottom = 52, 16, 30, 64
    pw, ph = width - left - right, height - top - bottom
    tx = [math.log10(x) if log_x else float(x) for x in xs]
    x0, x1 = min(tx), max(tx)
    span = (x1 - x0) or 1.0

    def px(v: float) -> float:
        return left + (v - x0) / span * pw

    def py(v: float) -> float:
        return top + (1.0 - v) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" '
           f'font-family="sans-serif">{_e(title)}</text>']
    for g in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = py(g)
        dash = ' stroke-dasharray="4 3"' if g == 0.5 else ""
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ccc"{dash}/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                   f'font-family="sans-serif">{g:.2f}</text>')
    for x, t in zip(xs, tx, strict=True):
        out.append(f'<line x1="{px(t):.1f}" y1="{top + ph}" x2="{px(t):.1f}" y2="{top + ph + 4}" stroke="#333"/>')
        out.append(f'<text x="{px(t):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="10" '
                   f'font-family="sans-serif">{x:g}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle" font-size="12" '
               f'font-family="sans-serif">{_e(xlabel)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" font-size="12" '
               f'font-family="sans-serif" transform="rotate(-90 14 {top + ph / 2})">AUC</text>')
    colours = {"untrimmed": UNTRIMMED_COLOUR, "trimmed": TRIMMED_COLOUR}
    for k, (name, ys) in enumerate(series.items()):
        colour = colours.get(name, EXTRA_COLOURS[k % len(EXTRA_COLOURS)])
        pts = [(px(t), py(v)) for t, v in zip(tx, ys, strict=True) if v is not None]
        if pts:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in pts)
        lx = left + 10 + 110 * k  # legend under the axis label, off the data
        ly = height - 10
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{lx + 25}" y="{ly}" font-size="12" '
                   f'font-family="sans-serif">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram_svg(cue: CueStat, width: int = 420, height: int = 220, *,
                  by_manipulation: bool = False) -> str:
    """Bars per class of one cue (share of each class's clips in each bin), inline SVG;
    ``by_manipulation``: real against each kind of fake instead of real against fake."""
    hist: Histogram = cue.histogram
    groups = [g for g in hist.counts if sum(hist.counts[g])]
    wanted = [g for g in groups if g == "real" or g.startswith("fake: ")] if by_manipulation else []
    groups = wanted if len(wanted) > 2 else ([g for g in groups if g in ("real", "fake")] or groups)
    nbins = len(hist.categories) if hist.categories is not None else len(hist.counts[groups[0]]) if groups else 0
    left, right, top, bottom = 40, 10, 24, 60
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(cue.label)}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="15" font-size="12" font-family="sans-serif">{_e(cue.label)}</text>']
    if not groups or nbins == 0:
        out.append(f'<text x="{left}" y="{top + 20}" font-size="12" font-family="sans-serif">no values</text></svg>')
        return "".join(out)
    shares = {g: [c / max(1, sum(hist.counts[g])) for c in hist.counts[g]] for g in groups}
    top_share = max(max(v) for v in shares.values()) or 1.0
    slot = pw / nbins
    bw = slot / (len(groups) + 0.5)
    names = list(hist.counts)
    for gi, g in enumerate(groups):
        colour = _colour(g, names)
        for i, s in enumerate(shares[g]):
            if s <= 0:
                continue
            h = s / top_share * ph
            x = left + i * slot + gi * bw
            out.append(f'<rect x="{x:.1f}" y="{top + ph - h:.1f}" width="{max(bw - 0.5, 0.5):.1f}" '
                       f'height="{h:.1f}" fill="{colour}" fill-opacity="0.8">'
                       f'<title>{_e(g)}: {hist.counts[g][i]} clips</title></rect>')
        lx = left + 10 + gi * (pw - 10) / len(groups)
        out.append(f'<rect x="{lx:.1f}" y="{height - 30}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14:.1f}" y="{height - 21}" font-size="10" '
                   f'font-family="sans-serif">{_e(g.removeprefix("fake: "))}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>')
    if hist.edges is not None:
        for i, anchor in ((0, "start"), (nbins // 2, "middle"), (nbins, "end")):
            x = left + i * slot
            out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="{anchor}" font-size="10" '
                       f'font-family="sans-serif">{hist.edges[i]:.4g}</text>')
    else:
        for i, cat in enumerate(hist.categories or []):
            if nbins > 8 and i % max(1, nbins // 8):
                continue
            x = left + (i + 0.5) * slot
            out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle" font-size="9" '
                       f'font-family="sans-serif">{_e(cat[:16])}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" font-size="11" '
               f'font-family="sans-serif">AUC {_fmt(cue.auc)} ({_e(_reading(cue))})</text></svg>')
    return "".join(out)


def main_plot_svg(summary: AuditSummary) -> str:
    """The report's main figure: AUC vs tau and AUC vs delta, untrimmed and trimmed."""
    return "".join(main_plots(summary))


def main_plots(summary: AuditSummary) -> tuple[str, str]:
    """AUC vs tau and AUC vs delta (two SVGs), untrimmed and trimmed."""
    a = curve_svg(summary.tau_curve["tau"],  # type: ignore[arg-type]
                  {"untrimmed": summary.tau_curve["untrimmed"], "trimmed": summary.tau_curve["trimmed"]},
                  title="Leading silence alone: AUC vs threshold tau",
                  xlabel="amplitude threshold tau (log scale)", log_x=True)
    b = curve_svg(summary.delta_curve["delta_ms"],  # type: ignore[arg-type]
                  {"untrimmed": summary.delta_curve["untrimmed"], "trimmed": summary.delta_curve["trimmed"]},
                  title="Loudest sample in first delta ms: AUC vs delta",
                  xlabel="window delta (ms, log scale)", log_x=True)
    return a, b


def _reading(cue: CueStat) -> str:
    """The direction, and for AUC < 0.5 the same separation read the other way."""
    if cue.auc is not None and cue.auc < 0.5 and cue.kind == "numeric":
        return f"{cue.direction}: as telling as AUC {1.0 - cue.auc:.2f}"
    return cue.direction or "no difference"


def _as_group(svg: str, x: int) -> str:
    """An ``<svg>`` element as a ``<g>`` moved right by ``x`` (nested svg is not SVG Tiny)."""
    body = svg[svg.index(">") + 1:svg.rindex("</svg>")]
    return f'<g transform="translate({x},0)">{body}</g>'


def summary_figure_svg(summary: AuditSummary, width: int = 940) -> str:
    """The report's headline figure: the two AUC curves side by side, then the silence
    classifier untrimmed and trimmed and the five cues that separate best (one SVG)."""
    s = summary
    top = 320
    lines = [f"{s.n_clips} clips: {s.n_real} real, {s.n_fake} fake, {s.n_unlabelled} unlabelled; "
             f"{len(s.problems)} could not be used"]
    for d in s.detectors[:2]:
        lines.append(f"{d.detector}, {d.variant}: AUC {_fmt(d.auc, 2)} (95 % {_ci(d.ci)})")
    lines.append("Cues that separate best alone:")
    for c in [c for c in s.cues if c.auc is not None][:5]:
        lines.append(f"   {c.label}: AUC {_fmt(c.auc, 2)} ({_reading(c)})")
    height = top + 22 * len(lines) + 16
    a, b = main_plots(s)
    plots = "".join(_as_group(part, x) for part, x in ((a, 0), (b, width // 2)))
    bold = ' font-weight="bold"'
    text = "".join(f'<text x="20" y="{top + 22 * (i + 1)}" font-size="14" font-family="sans-serif"'
                   f'{bold if i == 0 else ""}>{_e(t)}</text>'
                   for i, t in enumerate(lines))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="audit summary">'
            f'<rect width="{width}" height="{height}" fill="white"/>{plots}{text}</svg>')


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ci(ci: tuple[float, float] | None) -> str:
    return "n/a" if ci is None else f"{ci[0]:.3f} - {ci[1]:.3f}"


def _csv_text(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers)
    for r in rows:
        w.writerow(["" if c is None else c for c in r])
    return buf.getvalue()


def write_tables(summary: AuditSummary, out_dir: Path) -> list[str]:
    """The CSV (and Parquet) tables; returns notes for the report."""
    notes: list[str] = []
    cols = ["name", "path", "label", "manipulation", *CUE_COLUMNS]
    data = [[r.get(c) for c in cols] for r in summary.rows]
    write_text_atomic(out_dir / "cues.csv", _csv_text(cols, data))
    write_text_atomic(out_dir / "cue_auc.csv", _csv_text(
        ["rank", "cue", "plain_name", "kind", "n", "auc", "ci_low", "ci_high", "direction"],
        [[i + 1, c.column, c.label, c.kind, c.n, c.auc, c.ci[0] if c.ci else None,
          c.ci[1] if c.ci else None, c.direction] for i, c in enumerate(summary.cues)]))
    write_text_atomic(out_dir / "detectors.csv", _csv_text(
        ["detector", "variant", "n", "auc", "ci_low", "ci_high", "ap"],
        [[d.detector, d.variant, d.n, d.auc, d.ci[0] if d.ci else None, d.ci[1] if d.ci else None,
          d.ap] for d in summary.detectors]))
    write_text_atomic(out_dir / "problems.csv", _csv_text(["clip", "reason"], summary.problems))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        notes.append("cues.parquet was not written: pyarrow is not installed "
                     "(pip install pyarrow); cues.csv holds the same table.")
        return notes
    table = pa.table({c: [r.get(c) for r in summary.rows] for c in cols})
    with atomic_path(out_dir / "cues.parquet") as tmp:
        pq.write_table(table, str(tmp))
    return notes


CSS = """body{font-family:sans-serif;max-width:1000px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
th{background:#f0f0f0}.figs svg{margin:4px}.note{color:#555;font-size:13px}h2{border-bottom:1px solid #ddd}"""


def render_html(summary: AuditSummary, notes: Sequence[str] = ()) -> str:
    s = summary
    manip = ", ".join(f"{k}: {v}" for k, v in sorted(s.manipulations.items())) or "none given"
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>Dataset audit: which cheap cue gives the labels away</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Dataset audit: which cheap cue gives the labels away</h1>",
        f"<p>{s.n_clips} clips measured: {s.n_real} real, {s.n_fake} fake, {s.n_unlabelled} "
        f"without a label. Kinds of manipulation: {_e(manip)}. {len(s.problems)} clips or files "
        "could not be used (listed at the end).</p>",
        "<p>A cue that separates real from fake on its own (AUC near 1 or near 0) is a shortcut "
        "a detector can learn instead of the manipulation. It says how the dataset was made, "
        "not whether one clip is fake.</p>",
        "<h2>Leading silence: untrimmed and trimmed</h2>",
        f'<div class="figs">{summary_figure_svg(s)}</div>',
        "<p class=\"note\">Left: the length of the leading silence at each amplitude threshold "
        "tau used alone as a classifier. Right: the loudest sample in the first delta ms (a "
        "quieter start counts as more fake). Trimmed: measured again after removing the "
        "samples before the first one louder than 0.0005, as AVH-Align's trimmed variant "
        "does. AUC 0.5 (dashed) = no better than chance.</p>",
        "<h2>Original versus trimmed</h2>",
        _table(["classifier", "variant", "clips", "AUC", "95 % interval", "AP"],
               [[d.detector, d.variant, d.n, _fmt(d.auc), _ci(d.ci), _fmt(d.ap)] for d in s.detectors]),
        "<h2>Every cue alone, ranked</h2>",
        _table(["rank", "cue", "technical name", "clips", "AUC", "95 % interval", "fakes are"],
               [[i + 1, c.label, c.column, c.n, _fmt(c.auc), _ci(c.ci), _reading(c)]
                for i, c in enumerate(s.cues)]),
        f"<p class=\"note\">{_e(AUC_SENTENCE)} A categorical cue scores each clip by the share "
        "of fakes in its category (in-sample, optimistic).</p>",
    ]
    if s.manipulations:
        kinds = sorted(s.manipulations)
        parts.append("<h2>Per kind of manipulation (AUC against the real clips)</h2>")
        parts.append(_table(["cue", *kinds], [[c.label, *[_fmt(c.per_manipulation.get(k)) for k in kinds]]
                                              for c in s.cues if c.kind == "numeric"][:20]))
    parts.append("<h2>Histograms per class</h2><p class=\"note\">Bar height: the share of "
                 "each group's clips in the bin (groups of different sizes compare); hover a bar "
                 "for its number of clips.</p><div class=\"figs\">")
    parts.extend(histogram_svg(c) for c in s.cues[:MAX_HISTOGRAMS])
    parts.append("</div>")
    if len(s.manipulations) > 1:
        parts.append("<h2>The ten best cues per kind of manipulation</h2><div class=\"figs\">")
        parts.extend(histogram_svg(c, by_manipulation=True) for c in s.cues[:10])
        parts.append("</div>")
    parts.append("<h2>Clips and files that could not be used</h2>")
    if s.problems:
        shown = s.problems[:MAX_PROBLEMS_SHOWN]
        parts.append(_table(["clip", "reason"], shown))
        if len(s.problems) > len(shown):
            parts.append(f"<p>... and {len(s.problems) - len(shown)} more in problems.csv.</p>")
    else:
        parts.append("<p>None: every clip was measured.</p>")
    all_notes = [*s.notes, *notes]
    if all_notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in all_notes) + "</ul>")
    parts.append("<p class=\"note\">Tables: cues.csv (one row per clip), cue_auc.csv, "
                 "detectors.csv, problems.csv. Made offline by forensics-gui audit.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_report(summary: AuditSummary, out_dir: Path) -> Path:
    """Write ``report.html`` and the tables into ``out_dir``; return the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes = write_tables(summary, out_dir)
    target = out_dir / REPORT_NAME
    write_text_atomic(target, render_html(summary, notes))
    return target
