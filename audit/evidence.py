"""Typed results of an audit: Evidence, Finding, AuditResult, and audit.json I/O.

These types are the contract between the three stages (DESIGN.md): checks
produce :class:`Evidence`, policies turn evidence into :class:`Finding`, and the
renderer reads an :class:`AuditResult` only. Everything round-trips through
JSON, so a report can be re-rendered from ``audit.json`` alone.

Conventions for checks:
- ``metrics`` holds the named figures that policy rules may test. Which metrics an
  evidence id has, with their types, units and roles, is declared once in
  :mod:`audit.evidence_kinds`; an Evidence that breaks its kind is refused when built.
- A metric that was not measured is ``None`` and ``missing[metric]`` says why (the
  kind's usual reason is filled in when the check gives none): never 0, False or a sentence.
- ``partial[metric]`` says when a figure covers only part of what it should (an
  attribute that could not be compared): a rule may then FAIL on it, never PASS.
- ``tables`` hold what a reader needs to see (columns + rows of plain values).
- ``charts`` describe a figure as data; the renderer draws it. Checks never render.
- A check whose needs are not met returns ``status="not_assessed"`` with a
  ``reason`` ("not assessed: no model access") and no metrics; a requirement resting
  on it becomes REVIEW, never PASS.

audit.json holds no timings or clock time (those go to the manifest), so the same
inputs give a byte-identical file.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from audit.errors import RESULT_SCHEMA_UNKNOWN, AuditInputError
from audit.evidence_kinds import REGISTRY, metric_info

__all__ = [
    "SCHEMA_VERSION",
    "HistoryEntry",
    "Scalar",
    "Table",
    "Chart",
    "Evidence",
    "EvidenceStatus",
    "Status",
    "Attestation",
    "RuleOutcome",
    "Finding",
    "AuditResult",
    "clean_number",
    "clean_float",
    "read_audit_json",
    "write_audit_json",
    "result_json_schema",
]

SCHEMA_VERSION = "2.3"  # 2.0: typed metrics with reasons, binding thresholds, in-force counts, no timings;
# 2.1: withdrawn and repealed texts as history (no status), interpretations, duties of the audited party;
# 2.2: fairness.class_rates (multi-class), subject.model_score / model_cutoff, local.shap n_unexplained,
# coverage_explained and the IG cross-check, importance.shap n_explained;
# 2.3: local.image_maps, Chart kind "images" (grids)

Scalar = float | int | str | bool | None


def clean_number(value: Any) -> Scalar:
    """Turn numpy scalars into plain Python values and NaN/inf into None (JSON has no NaN)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float, bool, str)):
        return value
    return str(value)


def clean_float(value: Any) -> float | None:
    """:func:`clean_number` for a value that is a number (a rate, a gap, a bound): NaN/inf/None become None.

    The number is returned as clean_number returns it; anything that is not a number is a bug in the caller.
    """
    cleaned = clean_number(value)
    if cleaned is None or isinstance(cleaned, (int, float)):
        return cleaned
    raise TypeError(f"expected a number, got {value!r}")


class Table(BaseModel):
    """A table as a reader sees it: column headings and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Scalar]]
    note: str | None = None
    in_report: bool = True  # False: data kept in audit.json (e.g. for metrics.csv) but not printed

    @classmethod
    def from_records(
        cls, title: str, records: list[dict[str, Any]], columns: list[str] | None = None, note: str | None = None,
        *, in_report: bool = True,
    ) -> Table:
        """Build a table from a list of dicts; ``columns`` fixes order and subset."""
        cols = columns or (list(records[0].keys()) if records else [])
        rows = [[clean_number(r.get(c)) for c in cols] for r in records]
        return cls(title=title, columns=cols, rows=rows, note=note, in_report=in_report)

    def records(self) -> list[dict[str, Scalar]]:
        """Rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Chart(BaseModel):
    """A figure described as data. The renderer draws it (matplotlib -> SVG).

    ``kind`` is "barh" (one bar per label, optional CI whiskers), "bar",
    "line" (``x`` against ``values``; several series via ``series``), or
    "tokens" (a text: ``labels`` its words in order, ``values`` each word's
    contribution or None, drawn as words on a background coloured by it), or
    "images" (``grids``: an image and maps of it, each rows x columns of values
    in [0, 1], drawn side by side; ``labels`` their titles; the first is the image,
    the others are drawn over it).
    ``reference`` draws a vertical/horizontal line (e.g. the 0.8 threshold).
    """

    id: str
    title: str
    kind: Literal["barh", "bar", "line", "tokens", "images"] = "barh"
    labels: list[str] = Field(default_factory=list)
    values: list[float | None] = Field(default_factory=list)
    ci_low: list[float | None] | None = None
    ci_high: list[float | None] | None = None
    x: list[float] | None = None
    series: dict[str, list[float | None]] | None = None
    xlabel: str = ""
    ylabel: str = ""
    reference: float | None = None
    reference_label: str | None = None
    grids: list[list[list[float]]] | None = None


class EvidenceStatus(StrEnum):
    """Whether a check produced its evidence."""

    OK = "ok"
    NOT_ASSESSED = "not_assessed"


class Evidence(BaseModel):
    """What one check measured, how, and within which limits."""

    id: str  # stable name rules refer to, e.g. "fairness.selection_rate"
    check: str  # the check module that produced it, e.g. "fairness"
    title: str
    status: EvidenceStatus = EvidenceStatus.OK
    reason: str | None = None  # why not assessed
    summary: str = ""  # one or two plain-language sentences for the report
    metrics: dict[str, Scalar] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict, description="Why a metric is None, by metric.")
    partial: dict[str, str] = Field(default_factory=dict, description="Why a figure covers only part of what it should.")
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    method: str = ""
    limits: list[str] = Field(default_factory=list)
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    seconds: float | None = Field(default=None, exclude=True)  # recorded in the manifest, not audit.json

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Evidence:
        """The metrics are those the registry declares for this id, typed; every None has its reason."""
        kind = REGISTRY.get(self.id)
        if kind is None:
            raise ValueError(f"evidence id '{self.id}' is not registered in audit.evidence_kinds")
        if self.status is EvidenceStatus.NOT_ASSESSED:
            if self.metrics:
                raise ValueError(f"{self.id}: evidence that was not assessed carries no metrics")
            return self
        typed = kind.model_validate(self.metrics)
        self.metrics = {name: clean_number(getattr(typed, name)) for name in kind.model_fields}
        for name, value in self.metrics.items():
            if value is None and name not in self.missing:
                info = metric_info(self.id, name)
                self.missing[name] = (info.missing if info and info.missing else "it could not be measured")
        for name in list(self.missing):
            if self.metrics.get(name) is not None:
                del self.missing[name]
        unknown = set(self.partial) - set(self.metrics)
        if unknown:
            raise ValueError(f"{self.id}: partial names unknown metrics {sorted(unknown)}")
        return self

    @classmethod
    def not_assessed(cls, id: str, check: str, title: str, reason: str) -> Evidence:
        """Evidence for a check whose needs are not met (e.g. no model access)."""
        return cls(id=id, check=check, title=title, status=EvidenceStatus.NOT_ASSESSED, reason=reason,
                   summary=f"Not assessed: {reason}.")


class Status(StrEnum):
    """Status of one requirement."""

    PASS = "PASS"
    FAIL = "FAIL"
    REVIEW = "REVIEW"
    NA = "N/A"


class Attestation(BaseModel):
    """A person's answer to a question only a person can answer."""

    question: str
    document: str | None = None  # the document expected as support
    answer: Literal["yes", "no"] | None = None
    by: str | None = None
    date: str | None = None
    reference: str | None = None  # where the supporting document lives
    comment: str | None = None


class RuleOutcome(BaseModel):
    """One evidence rule of a requirement, evaluated.

    ``binding`` says whether the threshold could decide: set by the law this requirement
    cites, or by the user. A threshold that does not bind is a reference only, and the
    rule is REVIEW with the measured value beside it.
    """

    evidence: str
    metric: str
    op: str
    threshold: float | None
    threshold_id: str | None = None
    threshold_source: str
    binding: bool = False
    observed: Scalar = None
    status: Status
    note: str = ""


class Finding(BaseModel):
    """One requirement, evaluated against the evidence."""

    id: str
    pack: str
    title: str
    citation: str
    obligation: str
    bearer: str
    status: Status
    reason: str
    applies_from: str | None = None
    applies_from_note: str | None = None  # e.g. "2027-12-02 (originally 2026-08-02; changed by ...)"
    status_note: str | None = None  # legal-status caveat, e.g. guidance withdrawn, law repealed
    interpretation: str | None = None  # where the requirement is a reading of the law, not its text, with the source
    in_force: bool = True
    rules: list[RuleOutcome] = Field(default_factory=list)
    attestation: Attestation | None = None
    evidence_ids: list[str] = Field(default_factory=list)


class HistoryEntry(BaseModel):
    """A text that no longer applies on the audit date (withdrawn guidance, repealed law): shown, never given a status."""

    id: str
    pack: str
    title: str
    citation: str
    event: Literal["withdrawn", "repealed", "never in force"]
    date: str
    by: str
    note: str
    replaced_by: list[str] = Field(default_factory=list)


class AuditResult(BaseModel):
    """Everything the report shows. Written as audit.json; the renderer reads only this.

    ``verdict`` and ``counts`` are over the requirements in force on the audit date;
    requirements not yet in force are evaluated for readiness and counted apart
    (``readiness_verdict``, ``readiness_counts``): they never decide the verdict.
    ``alerts`` are facts the cover must show (e.g. decisions that may be inverted).
    """

    schema_version: str = SCHEMA_VERSION
    tool: dict[str, str]
    audit_date: str
    system: dict[str, Any]
    subject: dict[str, Any]
    evidence: list[Evidence]
    findings: list[Finding]
    verdict: Status
    counts: dict[str, int]
    readiness_verdict: Status | None = None
    readiness_counts: dict[str, int] = Field(default_factory=dict)
    alerts: list[str] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    run: dict[str, Any] = Field(default_factory=dict)

    def evidence_by_id(self) -> dict[str, Evidence]:
        """Evidence keyed by id."""
        return {e.id: e for e in self.evidence}


def write_audit_json(result: AuditResult, path: Path) -> None:
    """Write the result as indented, key-stable JSON."""
    path.write_text(result.model_dump_json(indent=2), encoding="utf-8")


def read_audit_json(path: Path) -> AuditResult:
    """Read an audit.json written by :func:`write_audit_json`; a file of another schema version is refused."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    found = raw.get("schema_version") if isinstance(raw, dict) else None
    if found != SCHEMA_VERSION:
        raise AuditInputError(RESULT_SCHEMA_UNKNOWN, path=path, found=found, expected=SCHEMA_VERSION)
    return AuditResult.model_validate(raw)


def result_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of audit.json, with each evidence kind's metrics typed by its id."""
    schema = AuditResult.model_json_schema()
    evidence = schema["$defs"]["Evidence"]
    evidence["allOf"] = [
        {"if": {"properties": {"id": {"const": ev_id}, "status": {"const": "ok"}}, "required": ["id", "status"]},
         "then": {"properties": {"metrics": {**kind.model_json_schema(), "title": f"Metrics of {ev_id}"}}}}
        for ev_id, kind in REGISTRY.items()
    ]
    evidence["properties"]["id"]["enum"] = list(REGISTRY)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["schema_version"]["const"] = SCHEMA_VERSION
    return schema
