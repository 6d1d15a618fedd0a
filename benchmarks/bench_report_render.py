"""Where the report's rendering time goes, on the German credit example (issue 15, item 6: PDF in < 4 s).

The example is audited once (unsigned, in a temporary folder); its AuditResult is then rendered, each stage timed
on its own: the HTML with its charts (Jinja + matplotlib), WeasyPrint's styles and layout (``HTML.render``), and
writing the PDF (tagged PDF/A-3b as the report is, and plain for comparison). Pages and seconds per page are
printed, and the same stages for the core alone (cover to sign-off, appendices removed) to show what a shorter
PDF would cost.

Run: .venv/bin/python benchmarks/bench_report_render.py
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import yaml
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _core_only(html: str) -> str:
    """The report without its appendices: every chapter from the evidence on is dropped."""
    start = html.index('<section class="chapter" id="evidence"')
    end = html.index("</main>")
    return html[:start] + html[end:]


def main() -> None:
    import weasyprint

    from audit.pipeline import run_audit
    from audit.report.html import render_html
    from audit.report.pdf import PDF_VARIANT

    print(f"machine: {machine()}; date {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
        spec.pop("signing")
        spec["model"]["path"] = str(EXAMPLE / "model.skops")
        spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
        spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
        (Path(tmp) / "audit.yaml").write_text(yaml.safe_dump(spec))
        result = run_audit(Path(tmp) / "audit.yaml", output=Path(tmp) / "reports", history=None).result
        rows = []
        for name, make in (("whole report", lambda h: h), ("core only", _core_only)):
            t0 = time.perf_counter()
            html = make(render_html(result))
            t1 = time.perf_counter()
            document = weasyprint.HTML(string=html).render()
            t2 = time.perf_counter()
            document.write_pdf(Path(tmp) / "a.pdf", pdf_variant=PDF_VARIANT, pdf_tags=True)
            t3 = time.perf_counter()
            document.write_pdf(Path(tmp) / "b.pdf")
            t4 = time.perf_counter()
            pages = len(document.pages)
            rows.append((name, pages, t1 - t0, t2 - t1, t3 - t2, t4 - t3, (t3 - t1) / pages))
    print(f"{'rendered':14s} {'pages':>5s} {'html+charts':>11s} {'layout':>7s} {'PDF/A+tags':>10s} {'plain PDF':>9s} "
          f"{'s/page':>7s}")
    for name, pages, html_s, layout_s, pdfa_s, plain_s, per_page in rows:
        print(f"{name:14s} {pages:5d} {html_s:11.2f} {layout_s:7.2f} {pdfa_s:10.2f} {plain_s:9.2f} {per_page:7.3f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
