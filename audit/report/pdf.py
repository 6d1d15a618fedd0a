"""Print the report HTML to PDF with WeasyPrint (PDF/A-3b, tagged).

WeasyPrint is imported only when a PDF is written: it costs about 0.8 s to
import and needs the system libraries Pango and HarfBuzz; when they are
missing the import raises OSError, turned here into an
:class:`~audit.errors.AuditInputError` that says what to install.

The renderer fetches nothing: only ``data:`` URLs are allowed, so a report
can never make a network call while it is printed.
"""

from __future__ import annotations

from pathlib import Path

from audit.errors import SYSTEM_LIBRARY_MISSING, AuditInputError

__all__ = ["PDF_VARIANT", "write_pdf"]

#: PDF/A-3 allows attachments (audit.json may be embedded later); "b" = visual appearance preserved.
PDF_VARIANT = "pdf/a-3b"


def _weasyprint():
    try:
        import weasyprint
    except OSError as exc:  # Pango / HarfBuzz / fontconfig missing
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AuditInputError(SYSTEM_LIBRARY_MISSING, problem=problem) from exc
    return weasyprint


def write_pdf(html: str, path: Path) -> Path:
    """Write ``html`` (a self-contained page) as a tagged PDF/A-3b file at ``path``."""
    weasyprint = _weasyprint()
    from weasyprint.urls import URLFetcher

    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=URLFetcher(allowed_protocols={"data"}))
    path.parent.mkdir(parents=True, exist_ok=True)
    document.write_pdf(path, pdf_variant=PDF_VARIANT, pdf_tags=True)
    return path
