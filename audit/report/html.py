"""Render an :class:`~audit.evidence.AuditResult` as one self-contained HTML page.

The jinja2 templates live in the repository's ``templates/`` folder. They
compute nothing: every number comes from the AuditResult and is only
formatted here (:func:`format_number`). This module arranges the result for
reading (evidence grouped by check in a fixed order, findings grouped by
pack, the REVIEW findings for the open actions) without deciding anything.
The page has its CSS inline, its charts as inline SVG, no JavaScript and no
external URL, so it can be archived and opened anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from audit.evidence import AuditResult, Evidence, EvidenceStatus, Finding, Status, Table

__all__ = [
    "TEMPLATES_DIR",
    "CHECK_ORDER",
    "format_number",
    "format_percent",
    "format_param",
    "anchor",
    "make_environment",
    "render_html",
    "render_html_with_charts",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

#: Evidence sections in reading order, with their headings; other checks follow.
CHECK_ORDER: dict[str, str] = {
    "data": "Data",
    "performance": "Performance",
    "fairness": "Fairness",
    "importance": "Global feature importance",
    "local": "Explanations of individual decisions",
    "counterfactual": "Counterfactual explanations and recourse",
    "robustness": "Robustness",
}

DASH = "\u2014"

_OPS = {">=": "\u2265", "<=": "\u2264", "==": "=", "!=": "\u2260", ">": ">", "<": "<",
        "ge": "\u2265", "le": "\u2264", "gt": ">", "lt": "<", "eq": "=", "ne": "\u2260"}


def format_number(value: Any) -> str:
    """Format one value of the result for a reader.

    ``None`` -> an em dash; booleans -> yes/no; integers with thousands
    separators; floats with three decimals, or three significant digits
    when smaller than 0.1 (so 0.000123 does not print as 0.000); strings as
    they are.
    """
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return DASH
        if value == 0:
            return "0.000"
        if abs(value) < 0.1:
            return f"{value:#.3g}"
        return f"{value:,.3f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_number(v) for v in value)
    return str(value)


def format_percent(value: Any) -> str:
    """A fraction as a percentage with one decimal (0.8123 -> 81.2 %); None -> em dash."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return format_number(value)
    return f"{value * 100:.1f}\u00a0%"


def format_param(value: Any, key: str = "") -> str:
    """A parameter value; seeds and other identifiers print as given (no thousands separators)."""
    if isinstance(value, int) and not isinstance(value, bool) and "seed" in key.lower():
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_param(v, key) for v in value)
    return format_number(value)


def anchor(prefix: str, ident: str) -> str:
    """An HTML id for an evidence or requirement id: ``anchor("ev", "fairness.rate")`` -> ``ev-fairness-rate``."""
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_-]", "-", ident)


def _op(op: str) -> str:
    return _OPS.get(op, op)


def _short_hash(value: Any, length: int = 12) -> str:
    if not value:
        return DASH
    text = str(value)
    if ":" in text[:10]:
        text = text.split(":", 1)[1]
    return text[:length]


def _file_name(value: Any) -> str:
    if not value:
        return DASH
    return PurePath(str(value)).name


def _numeric_columns(table: Table) -> list[bool]:
    """Which columns hold only numbers (for right alignment of their heading); a layout hint, not a figure."""
    flags = []
    for i in range(len(table.columns)):
        values = [row[i] for row in table.rows if i < len(row) and row[i] is not None]
        flags.append(bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values))
    return flags


def _breakable(ident: str) -> Markup:
    """An identifier that may wrap after its dots and underscores (``<wbr>``), never inside a word."""
    return Markup("").join(
        Markup(escape(part)) + (Markup("<wbr>") if part.endswith((".", "_")) else Markup(""))
        for part in re.split(r"(?<=[._])", str(ident))
    )


_NOT_ASSESSED_PREFIX = re.compile(r"^\s*not assessed\s*[:.-]\s*", re.I)


def _reason(text: str | None) -> str:
    """A not-assessed reason without its "not assessed:" prefix (the report labels it already)."""
    return _NOT_ASSESSED_PREFIX.sub("", text or "").strip().rstrip(".") or "no reason recorded"


def _status_class(status: Status | str) -> str:
    value = status.value if isinstance(status, Status) else str(status)
    return {"PASS": "pass", "FAIL": "fail", "REVIEW": "review", "N/A": "na"}.get(value, "na")


def make_environment() -> Environment:
    """The jinja2 environment of the report: templates/ folder, autoescape on, strict undefined."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=format_number,
        pct=format_percent,
        param=format_param,
        op=_op,
        short_hash=_short_hash,
        file_name=_file_name,
        status_class=_status_class,
        numeric_columns=_numeric_columns,
        breakable=_breakable,
        reason=_reason,
        ev_anchor=lambda ident: anchor("ev", ident),
        req_anchor=lambda ident: anchor("req", ident),
    )
    env.tests["mapping_value"] = lambda v: isinstance(v, dict)
    env.tests["list_value"] = lambda v: isinstance(v, (list, tuple))
    return env


@dataclass
class EvidenceGroup:
    """Evidence of one check, in reading order."""

    check: str
    title: str
    anchor: str
    items: list[Evidence] = field(default_factory=list)


@dataclass
class FindingGroup:
    """Findings of one policy pack."""

    pack: str
    anchor: str
    findings: list[Finding] = field(default_factory=list)


def _pick(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return mapping[key]
    return None


def _cover(result: AuditResult) -> dict[str, Any]:
    """The cover's fields. The pipeline writes flat subject keys (``data_file``, ``data_sha256``, ``rows``,
    ``model_format``...); nested ``data``/``model`` mappings are read too, for older or hand-made results."""
    system, subject = result.system, result.subject
    data = _pick(subject, "data", "dataset") or {}
    model = _pick(subject, "model") or {}
    return {
        "name": _pick(system, "name", "system") or DASH,
        "version": _pick(system, "version"),
        "provider": _pick(system, "provider", "organisation", "organization"),
        "purpose": _pick(system, "intended_purpose", "purpose", "description"),
        "data_file": _pick(subject, "data_file") or _pick(data, "file", "path", "name"),
        "data_rows": _pick(subject, "rows", "n_rows") or _pick(data, "rows", "n_rows"),
        "data_sha256": _pick(subject, "data_sha256") or _pick(data, "sha256", "hash"),
        "model_format": _pick(subject, "model_format") or _pick(model, "format", "kind"),
        "model_file": _pick(subject, "model_file") or _pick(model, "file", "path", "name"),
        "model_sha256": _pick(subject, "model_sha256") or _pick(model, "sha256", "hash"),
        "tool_name": _pick(result.tool, "name") or "audit",
        "tool_version": _pick(result.tool, "version"),
    }


def _run(result: AuditResult) -> dict[str, Any]:
    """The run record split into the parts the appendix shows, and the rest."""
    run = dict(result.run)
    parts: dict[str, Any] = {"seed": None, "libraries": None, "timings": None}
    for part, keys in {"seed": ("seed",), "libraries": ("libraries", "library_versions", "versions", "packages"),
                       "timings": ("timings", "stage_seconds", "seconds", "durations")}.items():
        for key in keys:
            if key in run:
                parts[part] = run.pop(key)
                break
    parts["other"] = run
    return parts


def build_context(result: AuditResult, charts: dict[str, str]) -> dict[str, Any]:
    """Arrange the result for the templates. Nothing is counted or decided here."""
    evidence_by_id = result.evidence_by_id()
    groups: dict[str, EvidenceGroup] = {
        check: EvidenceGroup(check, title, anchor("check", check)) for check, title in CHECK_ORDER.items()
    }
    for ev in result.evidence:
        if ev.check not in groups:
            groups[ev.check] = EvidenceGroup(ev.check, ev.check.replace("_", " ").capitalize(), anchor("check", ev.check))
        groups[ev.check].items.append(ev)

    packs: dict[str, FindingGroup] = {}
    used_by: dict[str, list[Finding]] = {}
    for finding in result.findings:
        packs.setdefault(finding.pack, FindingGroup(finding.pack, anchor("pack", finding.pack))).findings.append(finding)
        for ev_id in finding.evidence_ids:
            used_by.setdefault(ev_id, []).append(finding)

    return {
        "result": result,
        "cover": _cover(result),
        "statuses": list(Status),
        "status_counts": [(s, result.counts.get(s.value, 0)) for s in Status],
        "total_findings": result.counts.get("total", len(result.findings)),
        "evidence_groups": [g for g in groups.values() if g.items],
        "finding_groups": list(packs.values()),
        "evidence_by_id": evidence_by_id,
        "used_by": used_by,
        "failed": [f for f in result.findings if f.status is Status.FAIL],
        "review": [f for f in result.findings if f.status is Status.REVIEW],
        "attested": [f for f in result.findings if f.attestation is not None and f.attestation.answer is not None],
        "not_assessed": [e for e in result.evidence if e.status is EvidenceStatus.NOT_ASSESSED],
        "run": _run(result),
        "charts": {key: Markup(svg) for key, svg in charts.items()},
        "NOT_ASSESSED": EvidenceStatus.NOT_ASSESSED,
        "Status": Status,
    }


def inline_svg(svg: str) -> str:
    """A standalone SVG document as an element to inline in HTML (no XML declaration, no DOCTYPE)."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    return re.sub(r"<svg\b", '<svg class="chart" role="img" aria-hidden="false"', svg, count=1).strip()


def render_html_with_charts(result: AuditResult, charts: dict[str, str]) -> str:
    """Render the report with charts already drawn (``charts``: chart id -> standalone SVG)."""
    env = make_environment()
    context = build_context(result, {key: inline_svg(svg) for key, svg in charts.items()})
    return env.get_template("report.html.j2").render(**context)


def render_html(result: AuditResult) -> str:
    """Render the whole report as one self-contained HTML string (charts drawn here)."""
    from audit.report.charts import chart_svg

    charts = {chart.id: chart_svg(chart) for ev in result.evidence for chart in ev.charts}
    return render_html_with_charts(result, charts)
