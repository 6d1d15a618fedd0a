"""The NYC Local Law 144 bias-audit summary: its own short page (HTML, PDF) and a JSON of the same figures.

An employer using an automated employment decision tool (AEDT) on New York City candidates must publish,
before use, a summary of the latest bias audit (NYC Admin. Code § 20-871(a)(2); 6 RCNY § 5-303, requirement
NYC-5-303-PUB of the nyc-ll144 pack). Its content, as the requirement catalogue (regulations.md, C.1) and the
pack state it, is exactly:

- the date of the most recent bias audit;
- the source and explanation of the data used for the audit (6 RCNY § 5-302: historical data; if test data,
  why historical data was not used and how the test data was made);
- the number of individuals the tool assessed who fall within an unknown category;
- the number of applicants or candidates, the selection or scoring rates, and the impact ratios for all
  categories, separately for sex, race/ethnicity and the intersectional categories (6 RCNY § 5-301(b), (c));
- where categories under 2 % of the data were left out of the impact ratios, the auditor's justification and
  those categories' numbers of applicants and rates (6 RCNY § 5-301(d));
- the distribution date of the AEDT.

Every figure is read from the evidence ``fairness.eeo_impact`` of an :class:`~audit.evidence.AuditResult`
(its "LL144 summary: <breakdown>" tables), never recomputed, so the summary and audit.json cannot disagree.
What the audit cannot know (the data source statement, the distribution date, the independent auditor) is
passed in from the spec; an element not given is printed "not given in the spec" and listed in ``missing``,
never guessed.

    summary = build_ll144_summary(result, data_source=..., distribution_date=..., auditor=...)
    if summary is not None:
        (bundle / JSON_NAME).write_text(summary.to_json())
        html = render_ll144_html(summary)
        (bundle / HTML_NAME).write_text(html); write_pdf(html, bundle / PDF_NAME)   # then sign the PDF

Layout: one A4 page (two for many categories), CSS inline, no JavaScript, no external URL. Counts print
with thousands separators, rates and impact ratios with three decimals.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from audit.evidence import AuditResult, Evidence, EvidenceStatus, Status, Table
from audit.fairness.groups import CROSS

__all__ = [
    "SCHEMA",
    "PACK",
    "EVIDENCE_ID",
    "NOT_GIVEN",
    "HTML_NAME",
    "PDF_NAME",
    "JSON_NAME",
    "LL144Row",
    "LL144Table",
    "LL144Summary",
    "build_ll144_summary",
    "render_ll144_html",
]

SCHEMA: Literal["ll144-summary/1"] = "ll144-summary/1"
PACK = "nyc-ll144"
EVIDENCE_ID = "fairness.eeo_impact"  # audit.checks._eeo.EVIDENCE_ID
TABLE_PREFIX = "LL144 summary: "  # the title of eeo_impact's per-breakdown tables (audit.checks._eeo._ll144_table)
NOT_GIVEN = "not given in the spec"

#: Suggested file names in the bundle.
HTML_NAME = "ll144-summary.html"
PDF_NAME = "ll144-summary.pdf"  # audit.verify.LL144_PDF_NAME: its signature is checked by `audit verify`
JSON_NAME = "ll144-summary.json"

#: Where each element the audit cannot know comes from in the spec (proposed fields).
SPEC_FIELDS = {
    "data_source": "report.ll144.data_source",
    "distribution_date": "report.ll144.distribution_date",
    "auditor": "report.ll144.auditor",
}

CategorySet = Literal["sex", "race_ethnicity", "intersectional"]
_SET_TITLES: dict[str, str] = {
    "sex": "Sex categories",
    "race_ethnicity": "Race/ethnicity categories",
    "intersectional": "Intersectional categories (sex \u00d7 race/ethnicity)",
}
_SET_ORDER = {"sex": 0, "race_ethnicity": 1, "intersectional": 2}
DASH = "\u2014"
SHORT_TABLE = 16  # tables of at most this many rows are kept on one page; longer ones may break (header repeated)


class LL144Row(BaseModel):
    """One category of one table, as the audit measured it."""

    model_config = ConfigDict(extra="forbid")

    category: str
    applicants: int = Field(description="Number of applicants (or candidates) in the category.")
    selected: int | None = Field(description="Number selected; for a scoring tool, number scoring above the median.")
    rate: float | None = Field(description="Selection rate, or scoring rate for a scoring tool.")
    impact_ratio: float | None = Field(description="The rate ÷ the rate of the most selected (highest scoring) "
                                                   "category of the table; None when the category was excluded.")
    excluded: str | None = Field(default=None, description="Why the category is left out of the impact ratios "
                                                           "(6 RCNY § 5-301(d)); None when it is compared.")


class LL144Table(BaseModel):
    """The categories of one set (sex, race/ethnicity, or an intersection), in the rule's table layout."""

    model_config = ConfigDict(extra="forbid")

    category_set: CategorySet
    title: str
    attributes: list[str] = Field(description="The audit data's columns the categories come from.")
    count_label: str = Field(description="Heading of the count column: Number selected (or scoring above median).")
    rate_label: str = Field(description="Heading of the rate column: Selection rate (or Scoring rate).")
    reference: str | None = Field(description="The category whose rate the impact ratios divide by.")
    applicants: int = Field(description="People counted in the table (every category).")
    unknown: int = Field(description="People assessed but left out of this table because a category is unknown.")
    rows: list[LL144Row]


class LL144Summary(BaseModel):
    """The published summary of an LL144 bias audit; round-trips through JSON (:meth:`to_json`)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["ll144-summary/1"] = SCHEMA
    regime: str = ("NYC Local Law 144 of 2021 (Admin. Code §§ 20-870 to 20-874); "
                   "DCWP rules 6 RCNY §§ 5-300 to 5-304")
    citation: str = "6 RCNY § 5-303; NYC Admin. Code § 20-871(a)(2)"
    system: str
    system_version: str
    provider: str
    audit_date: str = Field(description="Date of the most recent bias audit (the audit's date).")
    distribution_date: str | None = Field(description="Distribution date of the AEDT; None: not given in the spec.")
    data_source: str | None = Field(description="Source and explanation of the data; None: not given in the spec.")
    auditor: str | None = Field(description="The independent auditor; None: not given in the spec.")
    data_file: str | None = None
    data_sha256: str | None = None
    data_rows: int | None = None
    decisions_from: str | None = Field(default=None, description="model: the model decided; data: a data column.")
    rate_kind: Literal["selection", "scoring"]
    favourable_decision: Literal["positive", "negative"] = "positive"
    median_score: float | None = Field(default=None, description="Scoring tools: the full-sample median score.")
    applicants: int = Field(description="Number of applicants or candidates the tool assessed.")
    unknown: int = Field(description="Individuals assessed in an unknown category (sex or race/ethnicity unknown); "
                                     "not included in the rates and impact ratios.")
    excluded_by: str | None = Field(default=None, description="Who left categories under 2 % out (5-301(d)).")
    tables: list[LL144Table]
    missing: list[str] = Field(default_factory=list, description="Elements of the summary not given or not measured.")
    missing_why: dict[str, str] = Field(default_factory=dict, description="Why each missing element is missing.")
    tool: dict[str, str] = Field(default_factory=dict)
    source_evidence: str = EVIDENCE_ID

    def to_json(self) -> str:
        """Indented JSON, the keys in a fixed order: the same summary gives the same file."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LL144Summary:
        """Read a summary written by :meth:`to_json`."""
        return cls.model_validate_json(text)


# ---------------------------------------------------------------------------------------------------- building


def pack_applies(result: AuditResult) -> bool:
    """Whether the nyc-ll144 pack was applied and applies: at least one of its requirements is not N/A.

    A pack not in the spec's ``policies`` has no finding; one whose every requirement is N/A is out of scope
    (no US-NYC jurisdiction, or a domain LL144 does not cover).
    """
    return any(f.pack == PACK and f.status is not Status.NA for f in result.findings)


def build_ll144_summary(result: AuditResult, *, data_source: str | None, distribution_date: str | None,
                        auditor: str | None) -> LL144Summary | None:
    """The LL144 summary of ``result``, or None when there is nothing the law asks to publish.

    None when:

    - the nyc-ll144 pack was not applied (not in the spec's ``policies``), or every one of its requirements is
      N/A (the tool is not used in New York City, or not for an employment decision LL144 covers: see
      ``system.jurisdictions`` and ``system.domain``). No duty, so no summary: one would suggest a duty.
    - the evidence ``fairness.eeo_impact`` is absent or not assessed (no protected attribute declared as sex,
      race, ethnicity or race_ethnicity): there is no figure to publish, and the audit's own report says why.

    ``data_source``, ``distribution_date`` and ``auditor`` come from the spec (the audit cannot measure them);
    None is printed "not given in the spec" and listed in ``missing``. An empty string counts as not given.
    """
    if not pack_applies(result):
        return None
    by_id = result.evidence_by_id()
    ev = by_id.get(EVIDENCE_ID)
    if ev is None or ev.status is not EvidenceStatus.OK:
        return None
    metrics = ev.metrics
    rate_kind: Literal["selection", "scoring"] = "scoring" if metrics.get("rate_kind") == "scoring" else "selection"
    missing: dict[str, str] = {}
    given = {"data_source": _given(data_source), "distribution_date": _given(distribution_date),
             "auditor": _given(auditor)}
    for key, value in given.items():
        if value is None:
            missing[key] = f"{NOT_GIVEN} ({SPEC_FIELDS[key]})"

    applicants = _required_count(metrics.get("n_applicants"), "n_applicants")
    tables = _tables(ev, applicants)
    present = {t.category_set for t in tables}
    for category_set, title in _SET_TITLES.items():
        if category_set not in present:
            missing[category_set] = (f"no {title[0].lower() + title[1:]} table: the spec declares no protected "
                                     "attribute of that kind (data.protected[].kind)")
    for t in tables:
        if t.rows and all(r.impact_ratio is None for r in t.rows):
            missing[f"impact_ratios:{t.title}"] = "no two categories to compare in this table"
    median = None
    if rate_kind == "scoring":
        selection = by_id.get("fairness.selection_rate")
        median = _float(selection.metrics.get("median_score")) if selection is not None else None
        if median is None:
            missing["median_score"] = "the full-sample median score is not recorded in the audit"
    subject, system = result.subject, result.system
    return LL144Summary(
        system=str(system.get("name", "")),
        system_version=str(system.get("version", "")),
        provider=str(system.get("provider", "")),
        audit_date=result.audit_date,
        distribution_date=given["distribution_date"],
        data_source=given["data_source"],
        auditor=given["auditor"],
        data_file=_str(subject.get("data_file")),
        data_sha256=_str(subject.get("data_sha256")),
        data_rows=_int(subject.get("rows")),
        decisions_from=_str(ev.params.get("decisions_from")),
        rate_kind=rate_kind,
        favourable_decision="negative" if subject.get("favourable_decision") == "negative" else "positive",
        median_score=median,
        applicants=applicants,
        unknown=_required_count(metrics.get("unknown_count"), "unknown_count"),
        excluded_by=_str(ev.params.get("excluded_by")),
        tables=tables,
        missing=list(missing),
        missing_why=missing,
        tool=dict(result.tool),
    )


def _given(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _required_count(value: Any, name: str) -> int:
    """A count the evidence always holds (its kind says so): missing is a broken contract, never shown as 0."""
    found = _int(value)
    if found is None:
        raise ValueError(f"{EVIDENCE_ID} holds no count '{name}': the LL144 summary cannot be built without it")
    return found


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _kinds(ev: Evidence) -> dict[str, str]:
    """Each EEO attribute's kind, from the evidence's params ("sex (sex)", "race (race)")."""
    raw = ev.params.get("eeo_attributes")
    items = raw if isinstance(raw, list) else []
    out = {}
    for item in items:
        match = re.fullmatch(r"(.+) \((\w+)\)", str(item))
        if match:
            out[match.group(1)] = match.group(2)
    return out


def _tables(ev: Evidence, n_applicants: int) -> list[LL144Table]:
    """The evidence's per-breakdown LL144 tables, in the rule's order: sex, race/ethnicity, intersectional."""
    kinds = _kinds(ev)
    raw = ev.params.get("breakdowns")
    names = [str(b) for b in raw] if isinstance(raw, list) else []
    by_title = {t.title: t for t in ev.tables}
    out = []
    for name in names:
        table = by_title.get(TABLE_PREFIX + name)
        if table is None:
            continue
        attributes = name.split(CROSS)
        category_set: CategorySet = ("intersectional" if len(attributes) > 1
                                     else "sex" if kinds.get(name) == "sex" else "race_ethnicity")
        out.append(_table(table, category_set, attributes, n_applicants))
    same_set = {s: sum(t.category_set == s for t in out) for s in _SET_TITLES}
    for t in out:  # two race/ethnicity attributes (or two intersections): name the column in the title
        if same_set[t.category_set] > 1:
            t.title = f"{t.title}: {CROSS.join(t.attributes)}"
    return sorted(out, key=lambda t: _SET_ORDER[t.category_set])


def _table(table: Table, category_set: CategorySet, attributes: list[str], n_applicants: int) -> LL144Table:
    columns = table.columns
    count_col = next((c for c in columns if c.startswith("Number ") and c != "Number of applicants"), None)
    rate_col = next((c for c in columns if c.lower().endswith("rate") and c != "Flag rate"), None)
    if count_col is None or rate_col is None or not {"Category", "Number of applicants"} <= set(columns):
        # the layout audit.checks._eeo._ll144_table writes; a change there must be made here too
        raise ValueError(f"{EVIDENCE_ID} table '{table.title}' has unexpected columns {columns}")
    excluded_col = next((c for c in columns if c.startswith("Excluded")), None)
    rows = []
    for record in table.records():
        excluded = record.get(excluded_col) if excluded_col else None
        rows.append(LL144Row(
            category=str(record["Category"]),
            applicants=_required_count(record["Number of applicants"], "Number of applicants"),
            selected=_int(record[count_col]),
            rate=_float(record[rate_col]),
            impact_ratio=None if excluded else _float(record.get("Impact ratio")),
            excluded=str(excluded) if excluded else None,
        ))
    compared = [r for r in rows if r.excluded is None and r.rate is not None]
    best = max(compared, key=lambda r: r.rate or 0.0) if compared else None
    counted = sum(r.applicants for r in rows)
    return LL144Table(
        category_set=category_set,
        title=_SET_TITLES[category_set],
        attributes=attributes,
        count_label=count_col,
        rate_label=rate_col,
        reference=best.category if best is not None and best.impact_ratio is not None else None,
        applicants=counted,
        unknown=max(n_applicants - counted, 0),
        rows=rows,
    )


# ---------------------------------------------------------------------------------------------------- rendering

CSS = """
@page {
  size: A4;
  margin: 16mm 17mm 17mm 17mm;
  font-family: "DejaVu Sans", sans-serif;
  font-size: 7pt;
  color: #5b6670;
  @bottom-left { content: string(system) " \\2014  LL144 bias audit summary"; vertical-align: top; padding-top: 3mm; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); vertical-align: top; padding-top: 3mm; }
}
html { color: #1a1f24; background: #fff; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 8.2pt; line-height: 1.3;
       margin: 0; max-width: 180mm; }
header { border-bottom: 1.4pt solid #1f3a5f; padding-bottom: 1.6mm; margin-bottom: 2.5mm; }
.kicker { font-size: 7.4pt; letter-spacing: 0.03em; color: #5b6670; margin: 0; }
h1 { font-size: 15pt; color: #1f3a5f; margin: 0.8mm 0 0.8mm 0; line-height: 1.2; string-set: system attr(data-system); }
.sub { margin: 0; font-size: 9pt; }
h2 { font-size: 9.6pt; color: #1f3a5f; margin: 3.6mm 0 1.2mm 0; break-after: avoid; page-break-after: avoid; }
p { margin: 0 0 1.8mm 0; }
.muted { color: #5b6670; }
.missing { color: #a3221a; font-style: italic; }
table { border-collapse: collapse; width: 100%; }
table.short { break-inside: avoid; page-break-inside: avoid; }
table.facts th { text-align: left; font-weight: bold; width: 31%; vertical-align: top; padding: 0.7mm 3mm 0.7mm 0;
                 color: #1f3a5f; }
table.facts td { vertical-align: top; padding: 0.7mm 0; }
table.facts tr + tr th, table.facts tr + tr td { border-top: 0.5pt solid #e3e6ea; }
table.ll144 { margin-bottom: 1.2mm; }
table.ll144 th, table.ll144 td { padding: 0.45mm 2mm; border-bottom: 0.5pt solid #e3e6ea; }
table.ll144 thead th { background: #f4f6f8; border-top: 0.8pt solid #c9ced4; border-bottom: 0.8pt solid #c9ced4;
                       font-weight: bold; text-align: right; vertical-align: bottom; }
table.ll144 thead th:first-child, table.ll144 td:first-child { text-align: left; }
table.ll144 td { text-align: right; font-variant-numeric: tabular-nums; }
table.ll144 td.excluded { color: #5b6670; font-style: italic; }
table.ll144 col.category { width: 40%; }
.note { font-size: 7.6pt; color: #5b6670; margin: 0 0 1mm 0; }
.definitions { font-size: 7.6pt; margin-top: 2mm; }
.file { white-space: nowrap; }
footer { margin-top: 3.5mm; padding-top: 1.5mm; border-top: 0.5pt solid #c9ced4; font-size: 7.2pt; color: #5b6670; }
"""


def _count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def _fixed(value: float | None) -> str:
    """A rate or an impact ratio as the rule's tables print it: three decimals."""
    return DASH if value is None else f"{value:.3f}"


def _not_given(key: str) -> Markup:
    return Markup('<span class="missing">{}</span> <span class="muted">({})</span>').format(NOT_GIVEN, SPEC_FIELDS[key])


def _data_facts(s: LL144Summary) -> str:
    parts = []
    if s.data_file:
        parts.append(f"data file {s.data_file}")
    if s.data_rows is not None:
        parts.append(f"{s.data_rows:,} rows")
    if s.data_sha256:
        parts.append(f"SHA-256 {s.data_sha256[:16]}\u2026")
    decided = {"model": "decisions made by the tool's model on these rows",
               "data": "decisions read from the data"}.get(s.decisions_from or "", "")
    text = "Data audited: " + ", ".join(parts) if parts else ""
    if decided:
        text += ("; " if text else "") + decided
    return text + "." if text else ""


def _fact_rows(s: LL144Summary) -> list[tuple[str, Markup]]:
    noun = "selected" if s.rate_kind == "selection" else "scored"
    source = _not_given("data_source") if s.data_source is None else Markup("{}").format(s.data_source)
    facts = _data_facts(s)
    if facts:
        source += Markup('<br><span class="muted">{}</span>').format(facts)
    unknown = Markup("{} <span class=\"muted\">\u2014 individuals whose sex or race/ethnicity is unknown: the tool "
                     "assessed them ({} or not), but they are not included in the rates and impact ratios below"
                     "</span>").format(_count(s.unknown), noun)
    rows: list[tuple[str, Markup]] = [
        ("Date of the most recent bias audit", Markup("{}").format(s.audit_date)),
        ("Distribution date of the AEDT",
         _not_given("distribution_date") if s.distribution_date is None else Markup("{}").format(s.distribution_date)),
        ("Source and explanation of the data", source),
        ("Number of applicants assessed", Markup("{}").format(_count(s.applicants))),
        ("Individuals in an unknown category", unknown),
        ("Independent auditor", _not_given("auditor") if s.auditor is None else Markup("{}").format(s.auditor)),
    ]
    if s.rate_kind == "scoring":
        median = (Markup('<span class="missing">not recorded in the audit</span>') if s.median_score is None
                  else Markup("{}").format(f"{s.median_score:.3f}"))
        rows.append(("Median score (full sample)", median))
    return rows


def _html_table(t: LL144Table, s: LL144Summary, marks: dict[str, str]) -> Markup:
    scoring = s.rate_kind == "scoring"
    headings = ["Category", "Number of applicants", *([] if scoring else [t.count_label]), t.rate_label, "Impact ratio"]
    head = Markup("").join(Markup("<th scope=\"col\">{}</th>").format(h) for h in headings)
    body = []
    for r in t.rows:
        cells = [Markup("<td>{}</td>").format(r.category), Markup("<td>{}</td>").format(_count(r.applicants))]
        if not scoring:
            cells.append(Markup("<td>{}</td>").format(_count(r.selected)))
        cells.append(Markup("<td>{}</td>").format(_fixed(r.rate)))
        if r.excluded:
            cells.append(Markup('<td class="excluded">excluded ({})</td>').format(marks[r.excluded]))
        else:
            cells.append(Markup("<td>{}</td>").format(_fixed(r.impact_ratio)))
        body.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
    who = {"sex": "sex", "race_ethnicity": "race/ethnicity", "intersectional": "sex or race/ethnicity"}[t.category_set]
    notes = []
    if t.reference is not None:
        notes.append(f"Impact ratios relative to {t.reference}, the category with the highest "
                     f"{t.rate_label.lower()}.")
    else:
        notes.append("No impact ratio: fewer than two categories to compare.")
    notes.append(f"{t.unknown:,} individuals with an unknown {who} are not included in this table.")
    return Markup(
        '<h2>{title}</h2>\n<table class="{cls}"><colgroup><col class="category"></colgroup>'
        "<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n<p class=\"note\">{notes}</p>\n"
    ).format(title=t.title, cls="ll144 short" if len(t.rows) <= SHORT_TABLE else "ll144", head=head, body=Markup("\n").join(body), notes=" ".join(notes))


def render_ll144_html(summary: LL144Summary) -> str:
    """The summary as one self-contained HTML page (inline CSS for A4, no script, no external URL)."""
    s = summary
    reasons = list(dict.fromkeys(r.excluded for t in s.tables for r in t.rows if r.excluded))
    marks = {reason: chr(ord("a") + i) if i < 26 else str(i + 1) for i, reason in enumerate(reasons)}
    facts = Markup("\n").join(Markup('<tr><th scope="row">{}</th><td>{}</td></tr>').format(k, v)
                              for k, v in _fact_rows(s))
    tables = Markup("\n").join(_html_table(t, s, marks) for t in s.tables)
    if s.rate_kind == "scoring":
        definition = ("Scoring rate = the share of a category's applicants who scored above the median score of the "
                      "full sample; impact ratio = a category's scoring rate \u00f7 the scoring rate of the highest "
                      "scoring category of the same table (6 RCNY § 5-300).")
    else:
        definition = ("Selection rate = the number of a category's applicants selected to move forward \u00f7 the "
                      "number of its applicants; impact ratio = a category's selection rate \u00f7 the selection "
                      "rate of the most selected category of the same table (6 RCNY § 5-300).")
    if s.favourable_decision == "negative":
        definition += (" Here the favourable outcome is not being flagged, so the rates count the applicants the "
                       "tool did not flag.")
    excluded = Markup("").join(
        Markup('<p class="note">({}) Left out of the impact ratios (6 RCNY § 5-301(d)): {}. The category\'s '
               "number of applicants and rate are still given.</p>").format(marks[reason], reason)
        for reason in reasons)
    missing_tables = [k for k in s.missing if k in _SET_TITLES]
    gaps = Markup("").join(Markup('<p class="note missing">{}: {}.</p>').format(_SET_TITLES[k], s.missing_why[k])
                           for k in missing_tables)
    tool = " ".join(v for v in (s.tool.get("name"), s.tool.get("version")) if v)
    page = Markup("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{tool}">
<meta name="description" content="Summary of the bias audit of an automated employment decision tool, NYC Local Law 144">
<title>Bias audit summary (NYC Local Law 144): {system} {version}</title>
<style>{css}</style>
</head>
<body>
<header>
<p class="kicker">NYC Local Law 144 \u00b7 {citation}</p>
<h1 data-system="{system} {version}">Summary of the bias audit</h1>
<p class="sub">{system} {version}, an automated employment decision tool (AEDT) of {provider}</p>
</header>
<table class="facts">
{facts}
</table>
<p class="definitions muted">{definition}</p>
{tables}
{excluded}{gaps}
<footer>Figures from the audit's evidence {evidence} (audit.json of the same bundle); the same figures in
machine-readable form: <span class="file">{json_name}</span>. Categories are named as they are recorded in the audit data. Generated by
{tool}.</footer>
</body>
</html>
""")
    return str(page.format(tool=tool or "audit", system=s.system, version=s.system_version, provider=s.provider,
                           css=Markup(CSS), citation=s.citation, facts=facts, definition=definition, tables=tables,
                           excluded=excluded, gaps=gaps, evidence=s.source_evidence, json_name=JSON_NAME))
