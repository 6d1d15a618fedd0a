"""The report renderer: an AuditResult -> report.html, report.pdf and figures/*.svg.

It reads an :class:`~audit.evidence.AuditResult` only (DESIGN.md), so a report
can be re-rendered from ``audit.json`` alone.

    files = render_report(result, out_dir=Path("reports/x"))
    files.html, files.pdf, files.figures
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from audit.evidence import AuditResult
from audit.report.charts import chart_svg
from audit.report.html import format_number, format_percent, render_html, render_html_with_charts
from audit.report.pdf import write_pdf

__all__ = [
    "ReportFiles",
    "render_report",
    "figure_name",
    "render_html",
    "chart_svg",
    "write_pdf",
    "format_number",
    "format_percent",
]


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`render_report` wrote."""

    html: Path
    pdf: Path
    figures: tuple[Path, ...]


def figure_name(chart_id: str) -> str:
    """File name of a chart's SVG in ``figures/`` (the chart id, made safe for a file name)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", chart_id) + ".svg"


def render_report(result: AuditResult, *, out_dir: Path, generated_at: str | None = None) -> ReportFiles:
    """Write ``figures/<chart id>.svg``, ``report.html`` and ``report.pdf`` into ``out_dir``.

    ``generated_at`` is the clock time shown in the report; it is kept out of audit.json
    (which holds only what the inputs determine), and defaults to the audit date.
    """
    out_dir = Path(out_dir)
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    figures: list[Path] = []
    for evidence in result.evidence:
        for chart in evidence.charts:
            svg = chart_svg(chart)
            charts[chart.id] = svg
            path = figures_dir / figure_name(chart.id)
            path.write_text(svg, encoding="utf-8")
            figures.append(path)
    html = render_html_with_charts(result, charts, generated_at=generated_at)
    html_path = out_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    pdf_path = write_pdf(html, out_dir / "report.pdf")
    return ReportFiles(html=html_path, pdf=pdf_path, figures=tuple(figures))
