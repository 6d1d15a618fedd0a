"""Policy packs: requirement templates as data (policies/*.yaml), evaluated against evidence.

A requirement says what the law asks (our paraphrase, with its citation), to
whom and when it applies, which evidence shows it (rules over named evidence
metrics, each threshold with its source) and what only a person can confirm
(an attestation question and the document expected). Policies never compute:
they compare numbers that checks produced.

Statuses (DESIGN.md): N/A when the requirement does not apply (with the
reason); otherwise FAIL if any rule or attestation fails, REVIEW if any
evidence is missing or not assessed or any attestation is unanswered, PASS only
when every rule passes and every attestation is answered "yes". A requirement
with neither rules nor an attestation is REVIEW: nothing can PASS without
evidence.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit.errors import SPEC_INVALID, UNSUPPORTED_FORMAT, AuditInputError
from audit.evidence import Attestation, Evidence, EvidenceStatus, Finding, RuleOutcome, Scalar, Status
from audit.spec import AuditSpec

__all__ = [
    "POLICY_DIR",
    "Pack",
    "Requirement",
    "Rule",
    "ThresholdDefault",
    "available_packs",
    "load_pack",
    "load_thresholds",
    "evaluate",
    "verdict",
    "is_high_risk",
]

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"

Op = Literal[">=", ">", "<=", "<", "==", "is_true", "is_false", "present"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdDefault(_Strict):
    """A default threshold and where it comes from (policies/thresholds.yaml)."""

    value: float
    source: str


class Rule(_Strict):
    """One comparison of an evidence metric, e.g. fairness.selection_rate.min_impact_ratio >= impact_ratio."""

    evidence: str
    metric: str
    op: Op
    threshold: float | str | None = Field(default=None, description="A number, or a threshold id from thresholds.yaml.")
    source: str | None = Field(default=None, description="Source of a literal threshold.")
    describes: str = Field(default="", description="What the rule shows, in a reader's words.")


class AttestationQuestion(_Strict):
    """What only a person can confirm, and the document that supports it."""

    question: str
    document: str


class Applicability(_Strict):
    """When a requirement applies. Every given condition must hold."""

    jurisdictions: list[str] | None = None  # any of these among system.jurisdictions
    high_risk: bool | None = None  # True: only for high-risk (Annex III) systems
    annex_iii: list[str] | None = None  # the system's Annex III point is one of these
    roles: list[Literal["provider", "deployer"]] | None = None
    use: list[Literal["classification", "scoring"]] | None = None
    profiling: bool | None = None


class AppliesFrom(_Strict):
    """Dates of application: the original, and the date after an amendment where they differ."""

    original: dt.date
    amended: dt.date | None = None
    amended_by: str | None = None
    amendment_in_force: dt.date | None = None

    def in_force_date(self, audit_date: dt.date) -> dt.date:
        """The date of application in force on the audit date."""
        if self.amended and self.amendment_in_force and audit_date >= self.amendment_in_force:
            return self.amended
        return self.original


class Requirement(_Strict):
    """One requirement of a regime."""

    id: str
    title: str
    citation: str
    obligation: str
    bearer: str
    applies: Applicability = Field(default_factory=Applicability)
    applies_from: AppliesFrom | None = None
    rules: list[Rule] = Field(default_factory=list)
    attestation: AttestationQuestion | None = None
    status_note: str | None = Field(default=None, description="Legal status caveat (e.g. guidance withdrawn).")


class Pack(_Strict):
    """A policy pack: one regime's requirements."""

    pack: str
    title: str
    regime: str
    source: str
    requirements: list[Requirement]


def available_packs() -> list[str]:
    """Names of the packs in policies/ (file stems)."""
    return sorted(p.stem for p in POLICY_DIR.glob("*.yaml") if p.stem != "thresholds")


@cache
def load_pack(name: str) -> Pack:
    """Read and validate one pack; an unknown name or a malformed file is a one-line error."""
    path = POLICY_DIR / f"{name}.yaml"
    if not path.is_file():
        raise AuditInputError(UNSUPPORTED_FORMAT, path="audit.yaml", what="policy pack", value=name,
                              supported=", ".join(available_packs()))
    try:
        return Pack.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise AuditInputError(SPEC_INVALID, path=path, field="requirements", problem=str(exc).splitlines()[0]) from None


@cache
def load_thresholds() -> dict[str, ThresholdDefault]:
    """Default thresholds by id, each with its source."""
    raw = yaml.safe_load((POLICY_DIR / "thresholds.yaml").read_text(encoding="utf-8"))
    return {key: ThresholdDefault.model_validate(value) for key, value in raw.items()}


def is_high_risk(spec: AuditSpec) -> bool:
    """High-risk under AI Act Art. 6(2): the intended purpose falls in an Annex III point.

    Art. 6(3) exemptions are not assumed: a system that profiles people is always
    high-risk, and one that does not still needs the documented Art. 6(3) memo
    (requirement EUAIA-6-3) before it may be treated otherwise.
    """
    return spec.system.annex_iii_area != "none"


def _not_applicable(req: Requirement, spec: AuditSpec) -> str | None:
    """Why the requirement does not apply to this system, or None if it does."""
    a, system = req.applies, spec.system
    if a.jurisdictions is not None and not set(a.jurisdictions) & set(system.jurisdictions):
        return f"applies in {', '.join(a.jurisdictions)}; the system is used in {', '.join(system.jurisdictions)}"
    if a.high_risk and not is_high_risk(spec):
        return "applies to high-risk systems; the intended purpose falls under no Annex III point"
    if a.annex_iii is not None and system.annex_iii_area not in a.annex_iii:
        return f"applies to uses in Annex III point(s) {', '.join(a.annex_iii)}; this system's is {system.annex_iii_area}"
    if a.roles is not None and system.role not in a.roles:
        return f"a duty of the {' or '.join(a.roles)}; this audit's organisation is the {system.role}"
    if a.use is not None and system.use not in a.use:
        return f"applies to {' or '.join(a.use)} tools; this one is a {system.use} tool"
    if a.profiling is not None and system.profiling != a.profiling:
        return "applies only where the system profiles natural persons" if a.profiling else "applies only without profiling"
    return None


def _threshold(rule: Rule, spec: AuditSpec) -> tuple[float | None, str]:
    if rule.threshold is None:
        return None, rule.source or ""
    if isinstance(rule.threshold, str):
        if rule.threshold in spec.thresholds:
            own = spec.thresholds[rule.threshold]
            return own.value, f"set by {own.set_by} (spec threshold '{rule.threshold}')"
        default = load_thresholds()[rule.threshold]
        return default.value, f"default: {default.source}"
    return float(rule.threshold), rule.source or ""


def _compare(op: Op, observed: Scalar, threshold: float | None) -> bool:
    if op == "present":
        return observed is not None
    if op == "is_true":
        return observed is True
    if op == "is_false":
        return observed is False
    if isinstance(observed, bool) or not isinstance(observed, (int, float)) or threshold is None:
        raise TypeError(f"cannot compare {observed!r} {op} {threshold!r}")
    return {">=": observed >= threshold, ">": observed > threshold, "<=": observed <= threshold,
            "<": observed < threshold, "==": observed == threshold}[op]


def _evaluate_rule(rule: Rule, spec: AuditSpec, evidence: dict[str, Evidence]) -> RuleOutcome:
    threshold, source = _threshold(rule, spec)
    base = {"evidence": rule.evidence, "metric": rule.metric, "op": rule.op, "threshold": threshold, "threshold_source": source}
    item = evidence.get(rule.evidence)
    if item is None:
        return RuleOutcome(**base, status=Status.REVIEW, note=f"evidence '{rule.evidence}' was not produced by this audit")
    if item.status is EvidenceStatus.NOT_ASSESSED:
        return RuleOutcome(**base, status=Status.REVIEW, note=f"not assessed: {item.reason}")
    observed = item.metrics.get(rule.metric)
    if observed is None and rule.op != "present":
        return RuleOutcome(**base, status=Status.REVIEW, note=f"'{rule.metric}' could not be computed")
    try:
        ok = _compare(rule.op, observed, threshold)
    except TypeError as exc:
        return RuleOutcome(**base, observed=observed, status=Status.REVIEW, note=str(exc))
    return RuleOutcome(**base, observed=observed, status=Status.PASS if ok else Status.FAIL, note=rule.describes)


def _combine(statuses: list[Status]) -> Status:
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.REVIEW in statuses or not statuses:
        return Status.REVIEW
    return Status.PASS


def _evaluate_one(req: Requirement, pack: Pack, spec: AuditSpec, evidence: dict[str, Evidence], audit_date: dt.date) -> Finding:
    base: dict[str, Any] = {"id": req.id, "pack": pack.pack, "title": req.title, "citation": req.citation,
                            "obligation": req.obligation, "bearer": req.bearer,
                            "evidence_ids": sorted({r.evidence for r in req.rules})}
    in_force = True
    if req.applies_from is not None:
        start = req.applies_from.in_force_date(audit_date)
        base["applies_from"] = start.isoformat()
        in_force = audit_date >= start
    why_not = _not_applicable(req, spec)
    if why_not is not None:
        return Finding(**base, status=Status.NA, reason=f"Not applicable: {why_not}.", in_force=in_force)
    outcomes = [_evaluate_rule(rule, spec, evidence) for rule in req.rules]
    statuses = [o.status for o in outcomes]
    attestation = None
    if req.attestation is not None:
        given = spec.attestations.get(req.id)
        attestation = Attestation(question=req.attestation.question, document=req.attestation.document)
        if given is None:
            statuses.append(Status.REVIEW)
        else:
            attestation = attestation.model_copy(update={
                "answer": given.answer, "by": given.by, "date": given.date.isoformat(),
                "reference": given.document, "comment": given.comment})
            statuses.append(Status.PASS if given.answer == "yes" else Status.FAIL)
    status = _combine(statuses)
    return Finding(**base, status=status, reason=_reason(status, outcomes, attestation, req), rules=outcomes,
                   attestation=attestation, in_force=in_force)


def _reason(status: Status, outcomes: list[RuleOutcome], attestation: Attestation | None, req: Requirement) -> str:
    parts = []
    for o in outcomes:
        if o.status in (Status.FAIL, Status.REVIEW) or status is Status.PASS:
            shown = f"{o.observed:.3g}" if isinstance(o.observed, float) else str(o.observed)
            if o.status is Status.REVIEW:
                parts.append(f"{o.evidence}: {o.note}")
            elif o.op in ("is_true", "is_false", "present"):
                parts.append(f"{o.metric} = {shown} (required: {o.op.replace('_', ' ')})")
            else:
                parts.append(f"{o.metric} = {shown} (required {o.op} {o.threshold:g})")
    if attestation is not None:
        if attestation.answer is None:
            parts.append(f"attestation needed: {attestation.question}")
        elif attestation.answer == "no":
            parts.append(f"attested 'no' by {attestation.by} on {attestation.date}")
        elif status is Status.PASS:
            parts.append(f"attested by {attestation.by} on {attestation.date}")
    if not req.rules and req.attestation is None:
        parts.append("no evidence rule or attestation defined: a person must review it")
    return "; ".join(parts) + "."


def evaluate(spec: AuditSpec, evidence: list[Evidence], *, audit_date: dt.date) -> list[Finding]:
    """One finding per requirement of every pack the spec names."""
    by_id = {e.id: e for e in evidence}
    return [_evaluate_one(req, pack, spec, by_id, audit_date)
            for pack in (load_pack(name) for name in spec.policies) for req in pack.requirements]


def verdict(findings: list[Finding]) -> tuple[Status, dict[str, int]]:
    """Overall verdict (FAIL > REVIEW > PASS; N/A ignored) and the count per status."""
    counts = {s.value: sum(f.status is s for f in findings) for s in Status}
    applicable = [f.status for f in findings if f.status is not Status.NA]
    return (_combine(applicable) if applicable else Status.REVIEW), counts
