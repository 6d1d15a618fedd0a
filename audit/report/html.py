"""Render an :class:`~audit.evidence.AuditResult` as one self-contained HTML page.

The jinja2 templates live in the repository's ``templates/`` folder. They
compute nothing: every number comes from the AuditResult and is only
formatted here (:func:`format_number`). This module arranges the result for
reading without deciding anything: evidence grouped by check in a fixed order,
findings grouped by pack, a one-sentence assessment per requirement chosen
from its rule outcomes and attestation, the open actions, the key measured
facts for the executive summary and the Annex IV skeleton (both choose
recorded metrics and format them; nothing is recomputed). Evidence is named by
its title and metrics by the rule's plain-language description, never by
their ids. The page has its CSS inline, its charts as SVG in ``data:`` URLs, no
JavaScript and no external URL, so it can be archived and opened anywhere.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup, escape

from audit.evidence import AuditResult, Evidence, EvidenceStatus, Finding, RuleOutcome, Scalar, Status, Table
from audit.report.harm import largest_harm

__all__ = [
    "TEMPLATES_DIR",
    "CHECK_ORDER",
    "PACK_TITLES",
    "MAX_TABLE_ROWS",
    "format_number",
    "format_percent",
    "format_param",
    "humanise",
    "anchor",
    "make_environment",
    "build_context",
    "svg_image",
    "stylesheet",
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

#: Reader-facing names of the policy packs (``Finding.pack`` holds the pack's file name); others print as given.
PACK_TITLES: dict[str, str] = {
    "eu-ai-act": "EU AI Act (Regulation (EU) 2024/1689)",
    "gdpr": "GDPR (Regulation (EU) 2016/679) and CJEU case law",
    "nyc-ll144": "NYC Local Law 144 (automated employment decision tools)",
    "eeoc": "EEOC Uniform Guidelines (four-fifths rule)",
    "ecoa-reg-b": "ECOA / Regulation B (adverse action notices)",
    "colorado": "Colorado (SB 24-205, repealed and replaced by SB 26-189)",
}

#: Evidence tables longer than this print their first rows only, with a note where the rest is.
MAX_TABLE_ROWS = 40
#: Rows of a table the PDF prints (the HTML shows up to MAX_TABLE_ROWS; audit.json and metrics.csv hold all).
PDF_TABLE_ROWS = 20

DASH = "\u2014"

_OPS = {">=": "\u2265", "<=": "\u2264", "==": "=", "!=": "\u2260", ">": ">", "<": "<",
        "ge": "\u2265", "le": "\u2264", "gt": ">", "lt": "<", "eq": "=", "ne": "\u2260"}
_OP_WORDS = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than", "==": "exactly",
             "ge": "at least", "le": "at most", "gt": "more than", "lt": "less than", "eq": "exactly"}


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


_ACRONYMS = {"roc": "ROC", "auc": "AUC", "shap": "SHAP", "lime": "LIME", "ece": "ECE", "tpr": "TPR", "fpr": "FPR",
             "fnr": "FNR", "ci": "CI", "id": "ID", "ids": "IDs", "csv": "CSV", "dpia": "DPIA", "pdp": "PDP",
             "sha256": "SHA-256", "r2": "R\u00b2", "rng": "RNG", "eu": "EU", "ll144": "LL144", "json": "JSON",
             "api": "API", "cpu": "CPU", "url": "URL", "iii": "III"}


def humanise(key: Any) -> str:
    """A snake_case key as words: ``max_additivity_error`` -> ``Max additivity error``, ``roc_auc`` -> ``ROC AUC``.

    Leading ``n`` reads "Number of" (``n_adverse`` -> ``Number of adverse``); ``p_value`` -> ``p-value``.
    Keys without an underscore keep their own spelling apart from the first letter.
    """
    text = str(key).strip()
    if "." in text and " " not in text:  # a dotted name, e.g. a stage "check.fairness"
        text = text.replace(".", "_")
    if "_" not in text and " " not in text:
        word = _ACRONYMS.get(text.lower(), text)
        return word[:1].upper() + word[1:]
    words = [w for w in re.split(r"[_\s]+", text) if w]
    if len(words) > 1 and words[0] == "n":
        words = ["number", "of", *words[1:]]
    out = " ".join(_ACRONYMS.get(w.lower(), w) for w in words)
    out = re.sub(r"\bp value\b", "p-value", out)
    return out[:1].upper() + out[1:]


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


_NUMBER_TEXT = re.compile(r"^[-+\u2212]?[\d.,]+(?:e[-+]?\d+)?\s*%?(?:\s*[\u2013\u2014-]\s*[-+\u2212]?[\d.,]+(?:e[-+]?\d+)?\s*%?)?$"
                          r"|^[\u2014\u2013-]$", re.I)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_columns(table: Table) -> list[bool]:
    """Which columns hold only numbers, or number ranges written as text ("0.61 \u2013 0.72"): right-aligned and
    kept on one line. A layout hint, not a figure."""
    flags = []
    for i in range(len(table.columns)):
        values = [row[i] for row in table.rows if i < len(row) and row[i] is not None]
        flags.append(bool(values) and any(_is_number(v) or (isinstance(v, str) and _NUMBER_TEXT.match(v.strip()))
                                          for v in values)
                     and all(_is_number(v) or (isinstance(v, str) and _NUMBER_TEXT.match(v.strip())) for v in values))
    return flags


def _column_heading(column: str) -> str:
    """A table heading: snake_case headings are humanised; headings written for readers stay as they are."""
    return humanise(column) if "_" in column else column


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


def _ucfirst(text: str) -> str:
    """The text with its first letter in upper case (the rest as it is)."""
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", ".)", "?)")) else text + "."


@pass_context
def _named(context: Any, text: Any) -> str:
    """Free text with the ids of this audit's evidence replaced by their titles (``data.proxies`` -> "Proxy screen")."""
    text = str(text)
    by_id: dict[str, Evidence] = context.get("evidence_by_id") or {}
    ids = [i for i in by_id if i in text]
    if not ids:
        return text
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r")(?![\w])")
    return pattern.sub(lambda m: f"\u201c{by_id[m.group(1)].title}\u201d", text)


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
        human=humanise,
        ucfirst=_ucfirst,
        heading=_column_heading,
        op=_op,
        short_hash=_short_hash,
        file_name=_file_name,
        status_class=_status_class,
        numeric_columns=_numeric_columns,
        breakable=_breakable,
        reason=_reason,
        named=_named,
        ev_anchor=lambda ident: anchor("ev", ident),
        req_anchor=lambda ident: anchor("req", ident),
        mx_anchor=lambda ident: anchor("mx", ident),
    )
    env.tests["mapping_value"] = lambda v: isinstance(v, dict)
    env.tests["list_value"] = lambda v: isinstance(v, (list, tuple))
    return env


# ----------------------------------------------------------------------------------------------- views


@dataclass
class EvidenceRef:
    """An evidence item as a link: its title, and its anchor when the audit produced it."""

    id: str
    title: str
    anchor: str | None
    not_assessed: bool = False
    reason: str = ""


@dataclass
class TableView:
    """A table as printed: at most :data:`MAX_TABLE_ROWS` rows, with how many more are in audit.json."""

    table: Table
    rows: list[list[Scalar]]
    more: int
    numeric: list[bool]


@dataclass
class EvidenceView:
    """One evidence item arranged for its section."""

    ev: Evidence
    anchor: str
    metric_rows: list[list[tuple[str, Scalar, str]]]  # (metric, value, why not measured): two short metrics per
    # row; a long text, or a metric not measured with its reason, alone on its row
    tables: list[TableView]
    used_by: list[Finding]
    not_assessed: bool


@dataclass
class EvidenceGroup:
    """Evidence of one check, in reading order."""

    check: str
    title: str
    anchor: str
    items: list[EvidenceView] = field(default_factory=list)


@dataclass
class RuleView:
    """One evaluated rule as a reader sees it: what it checks, on which evidence, with what result."""

    rule: RuleOutcome
    description: str
    evidence: EvidenceRef
    evaluated: bool  # PASS or FAIL: compared with its threshold; otherwise why not
    observed: str
    required: str  # "≥ 0.800", "yes", "" (measured only)
    required_words: str  # "at least 0.800"
    why_not: str


@dataclass
class FindingView:
    """One requirement arranged for the matrix, the details and the open actions."""

    f: Finding
    anchor: str  # requirement details
    matrix_anchor: str
    pack_title: str
    short_citation: str
    assessment: str  # one sentence for the matrix
    failed: str  # what failed and why (FAIL only)
    rules: list[RuleView]
    evidence: list[EvidenceRef]
    other_evidence: list[EvidenceRef]  # evidence the requirement names that none of its rules links already
    needs: list[str]  # open actions: what a person must supply
    open_attestation: bool


@dataclass
class FindingGroup:
    """Findings of one policy pack."""

    pack: str
    title: str
    anchor: str
    details_anchor: str
    findings: list[FindingView] = field(default_factory=list)


@dataclass
class KeyFact:
    """One measured fact of the executive summary: a label, the recorded value(s) formatted, and its evidence."""

    label: str
    text: str
    evidence: EvidenceRef


@dataclass
class AnnexItem:
    """One sub-point of an Annex IV point: recorded facts, links to the evidence, or what the provider must add."""

    label: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    evidence: list[EvidenceRef] = field(default_factory=list)
    note: str = ""
    todo: str = ""  # "to be completed by the provider": what is missing


@dataclass
class AnnexPoint:
    """One of the nine points of Annex IV of the EU AI Act."""

    number: int
    heading: str
    items: list[AnnexItem]
    related: list[FindingView]


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
        "sample_rows": subject.get("sample_rows"),  # a partitioned audit: the rows most checks read
        "data_sha256": _pick(subject, "data_sha256") or _pick(data, "sha256", "hash"),
        "model_format": _pick(subject, "model_format") or _pick(model, "format", "kind"),
        "model_kind": _pick(subject, "model_kind") or _pick(model, "kind"),
        "model_file": _pick(subject, "model_file") or _pick(model, "file", "path", "name"),
        "model_sha256": _pick(subject, "model_sha256") or _pick(model, "sha256", "hash"),
        "duties": _duties(system),
        "tool_name": _pick(result.tool, "name") or "audit",
        "tool_version": _pick(result.tool, "version"),
    }


_ROLE_NAMES = {"provider": "the provider's", "deployer": "the deployer's",
               "provider-deployer": "the provider's and the deployer's (an in-house system)"}


def _duties(system: dict[str, Any]) -> str:
    """Whose duties the requirements assess: the audited organisation's; a reviewer's own are never among them."""
    role = str(system.get("role") or "")
    party = system.get("audited_party")
    if role in ("auditor", "regulator") and party:
        who = "an independent auditor" if role == "auditor" else "a regulator"
        return (f"{_ROLE_NAMES.get(str(party), str(party)).capitalize()} duties, as the audited organisation; this audit "
                f"was carried out by {who}, who bears none of them")
    return f"{_ROLE_NAMES.get(role, role or DASH).capitalize()} duties: the organisation that ran this audit"


def _run(result: AuditResult) -> dict[str, Any]:
    """The run record split into the parts the appendix shows, and the rest."""
    run = dict(result.run)
    # What personal data the bundle holds: its own paragraph in the appendix, not a row of the run table.
    # The code book is long (a row per column and per coded value): its own tables, not a cell of the run table.
    parts: dict[str, Any] = {"seed": None, "libraries": None, "timings": None,
                             "personal_data": run.pop("personal_data", None), "code_book": run.pop("code_book", None)}
    for part, keys in {"seed": ("seed",), "libraries": ("libraries", "library_versions", "versions", "packages"),
                       "timings": ("timings", "stage_seconds", "seconds", "durations")}.items():
        for key in keys:
            if key in run:
                parts[part] = run.pop(key)
                break
    if isinstance(run.get("policies"), list):
        run["policies"] = [PACK_TITLES.get(str(p), p) for p in run["policies"]]
    parts["other"] = run
    return parts


def _evidence_name(ev_id: str) -> str:
    """A name for evidence this audit did not produce (no title known): ``fairness.selection_rate`` ->
    ``Selection rate (fairness)``."""
    check, _, name = ev_id.partition(".")
    return f"{humanise(name)} ({humanise(check).lower()})" if name else humanise(check)


def _ref(ev_id: str, by_id: dict[str, Evidence]) -> EvidenceRef:
    ev = by_id.get(ev_id)
    if ev is None:
        return EvidenceRef(ev_id, _evidence_name(ev_id), None)
    na = ev.status is EvidenceStatus.NOT_ASSESSED
    return EvidenceRef(ev_id, ev.title, anchor("ev", ev_id), na, _reason(ev.reason) if na else "")


_CITATION_PREFIX = re.compile(r"^\s*Regulation \((?:EU|EC)\) \d{4}/\d+,\s*")


def _short_citation(citation: str) -> str:
    """The citation without the regulation's number (the pack heading names it) and without secondary sources."""
    first = citation.split(";", 1)[0].strip()
    return _CITATION_PREFIX.sub("", first) or citation


def _rule_view(rule: RuleOutcome, by_id: dict[str, Evidence]) -> RuleView:
    ref = _ref(rule.evidence, by_id)
    evaluated = rule.status in (Status.PASS, Status.FAIL)
    description = (rule.note if evaluated and rule.note else humanise(rule.metric)).strip()
    if rule.op in _OPS and rule.threshold is not None and not rule.binding:  # our reference value: it informs only
        required = f"reference {_op(rule.op)}\u00a0{format_number(rule.threshold)}"
        required_words = f"a reference value of {_OP_WORDS.get(rule.op, _op(rule.op))} {format_number(rule.threshold)}"
    elif rule.op in _OPS and rule.threshold is not None:
        required = f"{_op(rule.op)}\u00a0{format_number(rule.threshold)}"
        required_words = f"{_OP_WORDS.get(rule.op, _op(rule.op))} {format_number(rule.threshold)}"
    elif rule.op in ("is_true", "is_false"):
        required = required_words = "yes" if rule.op == "is_true" else "no"
    else:
        required = required_words = ""
    why_not = ""
    if not evaluated:
        if ref.anchor is None:
            why_not = "the audit did not produce this evidence"
        elif ref.not_assessed:
            why_not = f"the evidence was not assessed ({ref.reason})"
        else:
            why_not = rule.note.replace(f"'{rule.metric}'", humanise(rule.metric).lower()) or "not evaluated"
    return RuleView(rule, description, ref, evaluated, format_number(rule.observed), required, required_words, why_not)


_UNDECIDED = re.compile(r"Whether this applies is undecided: (.+?)\.(?:\s|$)")
_NOT_IN_FORCE = re.compile(r"^Not yet in force on the audit date \([^)]*\); assessed for readiness:\s*")


def _assessment(f: Finding, rules: list[RuleView], refs: list[EvidenceRef]) -> tuple[str, str, list[str]]:
    """The matrix sentence, the "what failed" sentence and the open needs of one finding, chosen from its parts."""
    if f.status is Status.NA:
        text = re.sub(r"^\s*Not applicable:\s*", "", f.reason)
        return _sentence(f"Does not apply: {text}"), "", []
    parts: list[str] = []
    failed: list[str] = []
    needs: list[str] = []
    undecided = _UNDECIDED.search(f.reason)
    if undecided:
        parts.append(f"whether it applies is undecided ({undecided.group(1)})")
        needs.append(_sentence(f"Decide whether it applies: {undecided.group(1)}"))
    for r in rules:
        if r.rule.status is Status.FAIL:
            parts.append(f"not met: {r.description} (observed {r.observed}, required {r.required})")
            failed.append(f"not met: \u201c{r.description}\u201d \u2014 observed {r.observed}, required "
                          f"{r.required_words} ({r.evidence.title})")
    # Measured, but nothing binding decides it (a reference value, a partial figure, a caveat): a person judges.
    judged = [r for r in rules if not r.evaluated and r.rule.observed is not None]
    for r in judged:
        parts.append(f"to judge: {r.description} (observed {r.observed}"
                     + (f", {r.required}" if r.required else "") + ")")
        needs.append(_sentence(f"Judge or decide: {r.why_not}"))
    # Evidence that exists, but one of its figures could not be measured: say which figure and why.
    unmeasured = [r for r in rules if not r.evaluated and r not in judged and r.evidence.anchor is not None
                  and not r.evidence.not_assessed]
    for r in unmeasured:
        parts.append(f"not measured: {humanise(r.rule.metric).lower()}")
        needs.append(_sentence(f"Not measured: {r.why_not}"))
    missing = {r.evidence.id: (r.evidence.title, r.why_not) for r in rules
               if not r.evaluated and r not in judged and r not in unmeasured}
    for ref in refs:  # evidence the requirement names without a rule on it
        if ref.id not in missing and (ref.anchor is None or ref.not_assessed):
            missing[ref.id] = (ref.title, f"not assessed: {ref.reason}" if ref.not_assessed
                               else "the audit did not produce this evidence")
    if missing:
        parts.append("evidence not produced: " + ", ".join(dict.fromkeys(title for title, _ in missing.values())))
        needs += [_sentence(f"Evidence not produced: {title}: {why}") for title, why in missing.values()]
    if rules and all(r.rule.status is Status.PASS for r in rules):
        parts.insert(0, "evidence measured" if all(r.rule.op == "present" for r in rules) else "evidence rules met")
    a = f.attestation
    if a is not None:
        if a.answer is None:
            parts.append("attestation awaited")
            needs.append(_sentence(a.question))
        elif a.answer == "no":
            parts.append(f"attested \u201cno\u201d by {a.by or DASH} on {a.date or DASH}")
            failed.append(f"the attestation was answered \u201cno\u201d by {a.by or DASH} on {a.date or DASH}")
        else:
            parts.append(f"attested by {a.by or DASH} on {a.date or DASH}")
    rest = _sentence(_NOT_IN_FORCE.sub("", f.reason))
    if not parts:
        parts.append(rest)
    if f.status is Status.REVIEW and not needs:
        needs.append(rest)
    return _sentence("; ".join(parts)), _sentence("; ".join(failed)) if failed else "", needs


def _finding_view(f: Finding, by_id: dict[str, Evidence]) -> FindingView:
    rules = [_rule_view(rule, by_id) for rule in f.rules]
    ids = list(dict.fromkeys([*f.evidence_ids, *(r.evidence for r in f.rules)]))
    refs = [_ref(i, by_id) for i in ids]
    assessment, failed, needs = _assessment(f, rules, refs)
    open_attestation = f.attestation is not None and f.attestation.answer is None and f.status is not Status.NA
    in_rules = {rule.evidence for rule in f.rules}
    return FindingView(f, anchor("req", f.id), anchor("mx", f.id), PACK_TITLES.get(f.pack, f.pack),
                       _short_citation(f.citation), assessment, failed, rules, refs,
                       [ref for ref in refs if ref.id not in in_rules], needs, open_attestation)


#: A metric whose value is text longer than this prints on a row of its own.
_LONG_TEXT = 42


def _metric_rows(metrics: dict[str, Scalar], missing: dict[str, str] | None = None) -> list[list[tuple[str, Scalar, str]]]:
    """The measured values laid out two per row, in their recorded order; long texts get a row of their own.

    Each cell is ``(metric, value, why)``: ``why`` is the recorded reason a metric is None (``Evidence.missing``),
    which the report prints as "not measured: <why>" in place of a figure, never as 0 or an empty cell. A label
    that names another metric of the same evidence (``primary_metric``) is shown by that metric's name in words.
    """
    missing = missing or {}
    rows: list[list[tuple[str, Scalar, str]]] = []
    pending: list[tuple[str, Scalar, str]] = []
    for key, value in metrics.items():
        if isinstance(value, str) and value != key and value in metrics:
            value = humanise(value)
        why = (missing.get(key) or "no reason recorded") if value is None else ""
        shown = f"not measured: {why}" if value is None else value
        if isinstance(shown, str) and len(shown) > _LONG_TEXT:
            rows.append([(key, value, why)])
            continue
        pending.append((key, value, why))
        if len(pending) == 2:
            rows.append(pending)
            pending = []
    if pending:
        rows.append(pending)
    return rows


def _table_view(table: Table) -> TableView:
    rows = table.rows[:MAX_TABLE_ROWS]
    shown = Table(title=table.title, columns=table.columns, rows=rows)
    return TableView(table, rows, len(table.rows) - len(rows), _numeric_columns(shown))


# -------------------------------------------------------------------------------------- key facts


def _metric(by_id: dict[str, Evidence], ev_id: str, key: str) -> Scalar:
    ev = by_id.get(ev_id)
    if ev is None or ev.status is EvidenceStatus.NOT_ASSESSED:
        return None
    return ev.metrics.get(key)


#: The facts of the executive summary: (label, evidence id, main metric, formatter, further parts).
#: Each further part is (metric, template); a part is shown only when its metric was recorded.
_FACTS: list[tuple[str, str, str, Callable[[Any], str], list[tuple[str, str]]]] = [
    ("Audit data", "data.profile", "rows", lambda v: f"{format_number(v)} rows",
     [("features", "{} features"), ("protected_attributes", "protected attributes: {}")]),
    ("Accuracy of the decisions", "performance.overall", "accuracy", lambda v: f"accuracy {format_number(v)}",
     [("roc_auc", "ROC AUC {}"), ("balanced_accuracy", "balanced accuracy {}"),
      ("max_group_accuracy_gap", "largest accuracy gap between groups {}")]),
    ("Lowest impact ratio (favourable-decision rate of a group / most favoured group's)", "fairness.selection_rate",
     "min_impact_ratio", format_number,
     [("min_impact_ratio_group", "group: {}"), ("min_impact_ratio_p_value", "p-value {}")]),
    ("Fairness metric chosen for this system", "fairness.error_rates", "primary_metric", humanise,
     [("primary_metric_value", "value {}"), ("primary_metric_breakdown", "worst in {}")]),
    ("Decisions that change when a protected attribute (or its proxies) changes", "counterfactual.flip", "max_flip_rate",
     lambda v: f"up to {format_percent(v)}", [("attribute_max_flip", "largest: {}")]),
    ("Adverse decisions with a recourse (a change that would reverse them)", "counterfactual.recourse", "coverage",
     format_percent, [("n_adverse", "of {} adverse decisions"), ("mean_features_changed", "features to change, mean {}")]),
    ("Quality of LIME explanations", "local.lime", "fidelity_r2_median", lambda v: f"fidelity R\u00b2 (median) {format_number(v)}",
     [("stability_topk_overlap", "stability (top-k overlap) {}"), ("lime_shap_topk_overlap", "agreement with SHAP {}")]),
    ("Decisions that change under input noise", "robustness.perturbation", "flip_rate_noise_max",
     lambda v: f"up to {format_percent(v)}", [("noise_level_max", "noise level {}"), ("flip_rate_missing", "with missing values {}")]),
    ("Strongest proxy for a protected attribute", "data.proxies", "strongest_proxy", format_number,
     [("max_cramers_v", "Cram\u00e9r's V {}"), ("n_strong_proxies", "strong proxies: {}")]),
    ("Main driver of the decisions", "importance.shap", "top_feature", format_number, []),
]

_PERCENT_PARTS = {"flip_rate_missing"}


def _key_facts(by_id: dict[str, Evidence]) -> list[KeyFact]:
    """The measured facts of the summary, each only if its evidence and main metric were recorded."""
    facts = []
    for label, ev_id, key, fmt, extras in _FACTS:
        value = _metric(by_id, ev_id, key)
        if value is None:
            continue
        parts = [fmt(value)]
        for extra, template in extras:
            v = _metric(by_id, ev_id, extra)
            if v is not None and v != "":
                shown = format_percent(v) if extra in _PERCENT_PARTS else format_number(v)
                parts.append(template.format(shown))
        facts.append(KeyFact(label, "; ".join(parts), _ref(ev_id, by_id)))
    return facts


# --------------------------------------------------------------------------------------- Annex IV

_TODO = "To be completed by the provider"


def _facts(by_id: dict[str, Evidence], ev_id: str, keys: list[str]) -> list[tuple[str, str]]:
    out = []
    for key in keys:
        v = _metric(by_id, ev_id, key)
        if v is not None and v != "":
            out.append((humanise(key), format_number(v)))
    return out


def _refs(by_id: dict[str, Evidence], *ids: str) -> list[EvidenceRef]:
    return [_ref(i, by_id) for i in ids if i in by_id]


def _refs_of_check(by_id: dict[str, Evidence], *checks: str) -> list[EvidenceRef]:
    return [_ref(e.id, by_id) for e in by_id.values() if e.check in checks]


def _item(label: str, facts: list[tuple[str, str]], evidence: list[EvidenceRef], todo: str, note: str = "") -> AnnexItem:
    """An Annex IV sub-point: ``todo`` is shown when nothing was recorded, or as what remains when given."""
    return AnnexItem(label, facts, evidence, note, todo)


def _annex_iv(result: AuditResult, views: list[FindingView], cover: dict[str, Any]) -> list[AnnexPoint]:
    """The nine points of Annex IV, each filled with what the audit recorded and marked where the provider must add."""
    by_id = result.evidence_by_id()
    system = result.system if isinstance(result.system, dict) else {}
    eu = [v for v in views if "2024/1689" in v.f.citation or v.f.pack == "eu-ai-act"]

    def related(point: int, *articles: str) -> list[FindingView]:
        pattern = re.compile(rf"Annex IV point {point}\b" + "".join(rf"|Art\. {a}\b(?!\.\d)" for a in articles))
        return [v for v in eu if pattern.search(v.f.citation)]

    named = {"name", "version", "provider", "intended_purpose"}
    general = [(label, format_number(cover[key])) for label, key in
               (("System", "name"), ("Version", "version"), ("Provider", "provider"), ("Intended purpose", "purpose"))
               if cover.get(key)]
    classification = [(humanise(k), format_number(v)) for k, v in system.items()
                      if k not in named and v not in (None, "", [])]
    model = [(label, format_number(cover[key])) for label, key in
             (("Model file", "model_file"), ("Model format", "model_format"), ("Model kind", "model_kind"),
              ("Model SHA-256", "model_sha256")) if cover.get(key)]
    data = [(label, format_number(cover[key])) for label, key in
            (("Audit data file", "data_file"), ("Rows", "data_rows"), ("Data SHA-256", "data_sha256")) if cover.get(key)]
    subject = result.subject if isinstance(result.subject, dict) else {}
    for label, key in (("Target", "target"), ("Favourable outcome", "positive_label"), ("Protected attributes", "protected")):
        if subject.get(key) not in (None, "", []):
            data.append((label, format_number(subject[key])))
    drift = subject.get("model_drift")
    if isinstance(drift, dict) and drift.get("rows"):
        largest = drift.get("max_abs_score_difference")
        model.append(("Drift from the reference model (ONNX copy vs its original, AI Act Art. 15(1) consistency)",
                      f"{drift.get('decisions_differing', 0)} of {drift['rows']} decisions differ; largest probability "
                      f"difference {largest:.2g}" if isinstance(largest, float) else "not measured"))
    for label, key in (("Positive decision (model class)", "model_positive_class"), ("Score", "model_score"),
                       ("Cutoff (score at or above which the decision is positive)", "model_cutoff")):
        if subject.get(key) not in (None, "", []):
            model.append((label, format_number(subject[key])))
    data += _facts(by_id, "data.profile", ["features", "missing_share", "duplicate_rows", "positive_label_rate"])

    validation = (_facts(by_id, "performance.overall", ["n", "accuracy", "balanced_accuracy", "roc_auc"])
                  + _facts(by_id, "fairness.selection_rate", ["min_impact_ratio", "min_impact_ratio_group"])
                  + [(label, humanise(value) if label == "Primary metric" else value)
                     for label, value in _facts(by_id, "fairness.error_rates", ["primary_metric", "primary_metric_value"])]
                  + _facts(by_id, "counterfactual.flip", ["max_flip_rate"])
                  + _facts(by_id, "robustness.perturbation", ["flip_rate_noise_max", "flip_rate_missing"]))
    validation_refs = _refs_of_check(by_id, "performance", "fairness", "robustness", "counterfactual")
    seed = _pick(result.run, "seed")
    log_note = (f"Test record: this report and its audit.json, audit date {result.audit_date}"
                + (f", seed {seed}" if seed is not None else "") + ", signed in the bundle.")

    by_group = (_facts(by_id, "performance.overall", ["accuracy", "max_group_accuracy_gap"]))
    risks = (_facts(by_id, "fairness.selection_rate", ["min_impact_ratio", "min_impact_ratio_group"])
             + _facts(by_id, "data.bias", ["max_base_rate_gap", "smallest_group"])
             + _facts(by_id, "data.proxies", ["strongest_proxy", "n_strong_proxies"])
             + _facts(by_id, "counterfactual.flip", ["max_flip_rate"]))
    interpretation = (_facts(by_id, "importance.shap", ["top_feature"])
                      + _facts(by_id, "local.shap", ["coverage", "max_reasons"])
                      + _facts(by_id, "local.lime", ["fidelity_r2_median", "stability_topk_overlap"])
                      + _facts(by_id, "counterfactual.recourse", ["coverage", "validity"]))
    reason = _metric(by_id, "fairness.error_rates", "primary_metric_reason")

    points = [
        AnnexPoint(1, "General description of the AI system", [
            _item("(a) Intended purpose, provider and version", general, [], "" if general else _TODO),
            _item("Classification recorded in the audit specification", classification, [], "" if classification else _TODO),
            _item("(b)\u2013(c) Software and versions, incl. the model as audited", model, [],
                  "interaction with other hardware and software, versions of related software, update requirements"),
            _item("(d)\u2013(h) Forms placed on the market, hardware, user interface, instructions for use", [], [], _TODO),
        ], related(1)),
        AnnexPoint(2, "Elements of the AI system and the process of its development", [
            _item("(a)\u2013(c) Development methods, design choices, system architecture", [], [], _TODO),
            _item("(d) Data requirements and datasheets", data, _refs_of_check(by_id, "data"),
                  "provenance, collection, labelling and cleaning of the training, validation and test data"),
            _item("(e) Assessment of the human oversight measures (Art. 14)", [], [], _TODO),
            _item("(f) Pre-determined changes and continued compliance", [], [], _TODO),
            _item("(g) Validation and testing: data, metrics, results, test logs", validation, validation_refs,
                  "" if validation else _TODO, log_note if validation else ""),
            _item("(h) Cybersecurity measures", [], [], _TODO),
        ], related(2)),
        AnnexPoint(3, "Monitoring, functioning and control: capabilities and limits in performance", [
            _item("Expected accuracy overall and for specific persons or groups", by_group,
                  _refs(by_id, "performance.overall"), "" if by_group else _TODO),
            _item("Foreseeable unintended outcomes and risks to fundamental rights and of discrimination", risks,
                  _refs(by_id, "fairness.selection_rate", "fairness.error_rates", "data.bias", "data.proxies",
                        "counterfactual.flip"), "" if risks else _TODO),
            _item("Technical aids to interpret the output (for human oversight)", interpretation,
                  _refs_of_check(by_id, "importance", "local") + _refs(by_id, "counterfactual.recourse"),
                  "" if interpretation else _TODO),
            _item("Human oversight measures (Art. 14) and input data specification", [],
                  _refs(by_id, "data.profile"), "human oversight measures" if "data.profile" in by_id else _TODO,
                  "The model's input specification is in the audit data section." if "data.profile" in by_id else ""),
        ], related(3)),
        AnnexPoint(4, "Appropriateness of the performance metrics", [
            _item("Why these metrics fit this system", [], _refs(by_id, "fairness.error_rates"),
                  "justification of the accuracy metrics and their thresholds",
                  f"Fairness metric chosen by the audit: {reason}" if reason else ""),
        ], related(4)),
        AnnexPoint(5, "Risk management system (Art. 9)", [
            _item("Risk management process, risk register, residual-risk acceptance", [],
                  _refs_of_check(by_id, "fairness", "robustness"), _TODO,
                  "The fairness and robustness results of this audit are inputs to the risk register."
                  if _refs_of_check(by_id, "fairness", "robustness") else ""),
        ], related(5, "9")),
        AnnexPoint(6, "Relevant changes made through the lifecycle", [
            _item("Change log", [(label, value) for label, value in model + data if "SHA-256" in label], [], _TODO,
                  "The hashes identify the model and data this audit examined."),
        ], related(6)),
        AnnexPoint(7, "Harmonised standards applied, or other solutions adopted", [
            _item("Standards and specifications", [], [], _TODO),
        ], related(7)),
        AnnexPoint(8, "Copy of the EU declaration of conformity (Art. 47)", [
            _item("Declaration of conformity", [], [], _TODO),
        ], related(8, "47")),
        AnnexPoint(9, "Post-market monitoring: evaluation of performance after placing on the market (Art. 72)", [
            _item("Post-market monitoring plan (Art. 72(3))", [], [], _TODO,
                  "This audit can be re-run on new data with the same specification and seed." if seed is not None else ""),
        ], related(9, "72")),
    ]
    return points


# ---------------------------------------------------------------------------------------- context


def build_context(result: AuditResult, charts: dict[str, str]) -> dict[str, Any]:
    """Arrange the result for the templates. Nothing is decided here; figures are chosen and formatted only."""
    evidence_by_id = result.evidence_by_id()
    views = [_finding_view(f, evidence_by_id) for f in result.findings]

    used_by: dict[str, list[Finding]] = {}
    for view in views:
        for ref in view.evidence:
            used_by.setdefault(ref.id, []).append(view.f)

    groups: dict[str, EvidenceGroup] = {
        check: EvidenceGroup(check, title, anchor("check", check)) for check, title in CHECK_ORDER.items()
    }
    for ev in result.evidence:
        if ev.check not in groups:
            groups[ev.check] = EvidenceGroup(ev.check, humanise(ev.check), anchor("check", ev.check))
        groups[ev.check].items.append(EvidenceView(
            ev, anchor("ev", ev.id), _metric_rows(ev.metrics, ev.missing), [_table_view(t) for t in ev.tables if t.in_report],
            used_by.get(ev.id, []),
            ev.status is EvidenceStatus.NOT_ASSESSED))

    packs: dict[str, FindingGroup] = {}
    for view in views:
        pack = view.f.pack
        if pack not in packs:
            packs[pack] = FindingGroup(pack, view.pack_title, anchor("pack", pack), anchor("details", pack))
        packs[pack].findings.append(view)

    cover = _cover(result)
    actions = [v for v in views if v.f.status is Status.REVIEW or (v.open_attestation and v.f.status is Status.FAIL)]
    # Prioritised: failures to fix first, then figures and evidence to supply or decide, then documents to attest.
    actions.sort(key=lambda v: (v.f.status is not Status.FAIL, v.open_attestation and len(v.needs) <= 1))
    return {
        "result": result,
        "harm": largest_harm(result),  # the finding first: the summary opens with it
        "cover": cover,
        "statuses": list(Status),
        "status_counts": [(s, result.counts.get(s.value, 0)) for s in Status],
        # Requirements not yet in force, counted apart: they never decide the verdict (shown only when there are any).
        "readiness_counts": ([(s, result.readiness_counts.get(s.value, 0)) for s in Status if s is not Status.NA]
                             if result.readiness_verdict is not None or any(result.readiness_counts.values()) else []),
        "alerts": list(result.alerts),
        "total_findings": result.counts.get("total", len(result.findings)),
        "evidence_groups": [g for g in groups.values() if g.items],
        "finding_groups": list(packs.values()),
        "evidence_by_id": evidence_by_id,
        "failed": [v for v in views if v.f.status is Status.FAIL and v.f.in_force],
        "readiness_failed": [v for v in views if v.f.status is Status.FAIL and not v.f.in_force],
        "review": [v for v in views if v.f.status is Status.REVIEW and v.f.in_force],
        "in_force_total": sum(v.f.in_force for v in views),
        "actions": actions,
        "core_actions": [v for v in actions if v.f.in_force],
        "readiness_actions": [v for v in actions if not v.f.in_force],
        # the core matrix holds what applies and is in force; the rest is listed in an appendix
        "matrix_other": [v for g in packs.values() for v in g.findings if not v.f.in_force or v.f.status is Status.NA],
        "open_attestations": [v for v in views if v.open_attestation],
        "not_in_force": [v for v in views if not v.f.in_force and v.f.status is not Status.NA],
        "attested": [v for v in views if v.f.attestation is not None and v.f.attestation.answer is not None],
        "not_assessed": [_ref(e.id, evidence_by_id) for e in result.evidence if e.status is EvidenceStatus.NOT_ASSESSED],
        "key_facts": _key_facts(evidence_by_id),
        "annex_iv": _annex_iv(result, views, cover),
        "run": _run(result),
        "charts": {key: Markup(svg) for key, svg in charts.items()},
        "Status": Status,
        "MAX_TABLE_ROWS": MAX_TABLE_ROWS,
        "PDF_TABLE_ROWS": PDF_TABLE_ROWS,
    }


def svg_image(svg: str, alt: str) -> str:
    """A standalone SVG document as an ``<img>`` with a ``data:`` URL and its title as ``alt`` text.

    The page stays self-contained, the chart's text stays text in the PDF, and the HTML has no SVG elements of its
    own: WeasyPrint styles every element of the page, and a chart holds hundreds of them.
    """
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="chart" src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}">'


_CSS_ROOT = re.compile(r":root\s*\{(.*?)\}\s*", re.S)
_CSS_VAR = re.compile(r"var\((--[\w-]+)\)")


def stylesheet() -> Markup:
    """templates/report.css with its custom properties (``var(--ink)``) replaced by their values.

    The source keeps the palette in one place; the printed page gets plain values, which WeasyPrint does not
    have to resolve element by element.
    """
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    root = _CSS_ROOT.search(css)
    if root is None:
        return Markup(css)
    values = dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root.group(1)))
    css = css[: root.start()] + css[root.end():]
    return Markup(_CSS_VAR.sub(lambda m: values.get(m.group(1), m.group(0)), css))


def render_html_with_charts(result: AuditResult, charts: dict[str, str], *, generated_at: str | None = None) -> str:
    """Render the report with charts already drawn (``charts``: chart id -> standalone SVG)."""
    env = make_environment()
    titles = {chart.id: chart.title for ev in result.evidence for chart in ev.charts}
    context = build_context(result, {key: svg_image(svg, titles.get(key, "")) for key, svg in charts.items()})
    return env.get_template("report.html.j2").render(**context, stylesheet=stylesheet(),
                                                      generated_at=generated_at or result.audit_date)


def render_html(result: AuditResult, *, generated_at: str | None = None) -> str:
    """Render the whole report as one self-contained HTML string (charts drawn here)."""
    from audit.report.charts import chart_svg

    charts = {chart.id: chart_svg(chart) for ev in result.evidence for chart in ev.charts}
    return render_html_with_charts(result, charts, generated_at=generated_at)
