"""Remake resources/audit_report.png, the README's picture of the audit report.

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_audit_picture.py [--clips 200]

Generates the demo corpus (``forensics-gui audit --make-demo``), audits it, writes the report
into a temporary folder and renders its headline figure (the same SVG the HTML report shows
first: AUC vs tau and AUC vs delta, untrimmed and trimmed, and the best cues) to a PNG with Qt's
SVG renderer.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from forensics_gui.core.audit import (
    list_clips,
    make_demo_corpus,
    run_audit,
    summarise,
    write_report,
)
from forensics_gui.core.audit.report import summary_figure_svg

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("-o", "--output", type=Path, default=HERE / "audit_report.png")
    args = ap.parse_args()
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        make_demo_corpus(corpus, args.clips)
        entries, problems = list_clips(corpus)
        result = run_audit(entries, Path(tmp) / "report")
        summary = summarise(result.rows, entries, problems=problems)
        write_report(summary, Path(tmp) / "report")
        svg = summary_figure_svg(summary)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    size = renderer.defaultSize()
    image = QImage(size.width() * 2, size.height() * 2, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    image.save(str(args.output))
    print(args.output, image.width(), image.height())
    del app


if __name__ == "__main__":
    main()
