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

Only binding rules decide (:mod:`audit.thresholds`): a threshold set by the law
the requirement cites, or by the user with ``set_by``. A rule whose threshold is
only our reference value is REVIEW, showing the measured figure beside the
reference and how to set one's own. Every rule's evidence and metric are checked
against :mod:`audit.evidence_kinds` when the pack loads.

Applicability is decided from the spec's ``system`` block and has three
outcomes: it applies, it does not (N/A with the reason), or the spec does not
say enough to decide (e.g. whether a deployer is a public body, for the AI Act
Art. 27 FRIA). An undecided requirement is evaluated as if it applied and can
be at best REVIEW, with the open question in its reason.

Dates: a requirement may carry the original date of application and the date
after an amendment; the audit date decides which is in force
(:meth:`AppliesFrom.in_force_date`). A requirement whose date has not come yet
is still evaluated (readiness) and marked ``in_force=False``. Withdrawn guidance
and repealed law are history (:func:`history`): shown with what replaced them,
never given a status; a law repealed before its own date of application was
never in force. High-risk requirements follow AI Act Art. 111(2): a system
placed on the market before their date is covered only after a significant
change in design (public-authority use from 2 August 2030).

Whose duties: the audited organisation's roles (system.role, or
system.audited_party when an auditor or a regulator runs the audit: none of
the duties is the reviewer's own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audit.errors import SPEC_INVALID, UNSUPPORTED_FORMAT, AuditInputError
from audit.evidence import (
    Attestation,
    Evidence,
    EvidenceStatus,
    Finding,
    HistoryEntry,
    RuleOutcome,
    Scalar,
    Status,
)
from audit.evidence_kinds import REGISTRY, metric_info
from audit.fairness.choice import choose_primary
from audit.spec import DOMAIN_NAMES, AuditSpec, effective_domain
from audit.thresholds import Resolved, load_thresholds, resolve

__all__ = [
    "POLICY_DIR",
    "ANNEX_III_NAMES",
    "Pack",
    "Requirement",
    "Rule",
    "Applicability",
    "AppliesFrom",
    "AttestationQuestion",
    "Repeal",
    "Withdrawal",
    "Significance",
    "PRIMARY_METRIC_THRESHOLD",
    "available_packs",
    "load_pack",
    "iter_requirements",
    "evaluate",
    "history",
    "law_alerts",
    "history_entry",
    "PUBLIC_AUTHORITY_DEADLINE",
    "verdict",
    "readiness",
    "is_high_risk",
]

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"

Op = Literal[">=", ">", "<=", "<", "is_true", "is_false", "present", "meets"]
_COMPARISONS = {">=", ">", "<=", "<"}
#: The threshold id that stands for "the threshold of the fairness metric this spec chose" (fairness.choice).
PRIMARY_METRIC_THRESHOLD = "@primary_metric"

# Reader-facing names of the Annex III points (AI Act, Regulation (EU) 2024/1689), for reasons.
ANNEX_III_NAMES: dict[str, str] = {
    "none": "no Annex III point",
    "1": "1 (biometrics)",
    "2": "2 (critical infrastructure)",
    "3a": "3(a) (education: access, admission or assignment)",
    "3b": "3(b) (education: evaluating learning outcomes)",
    "3c": "3(c) (education: level of education a person will get)",
    "3d": "3(d) (education: detecting cheating in tests)",
    "4a": "4(a) (employment: recruitment or selection)",
    "4b": "4(b) (employment: work terms, promotion, termination, monitoring)",
    "5a": "5(a) (public benefits and services)",
    "5b": "5(b) (creditworthiness or credit scoring of natural persons)",
    "5c": "5(c) (risk assessment and pricing in life and health insurance)",
    "5d": "5(d) (emergency-call triage)",
    "6": "6 (law enforcement)",
    "7": "7 (migration, asylum, border control)",
    "8": "8 (administration of justice and democratic processes)",
}

# A system used in New York City or Colorado is also used in the United States (federal law applies).
_JURISDICTION_INCLUDES: dict[str, set[str]] = {"US-NYC": {"US"}, "US-CO": {"US"}}
_JURISDICTION_NAMES = {"EU": "the EU", "US": "the United States", "US-NYC": "New York City", "US-CO": "Colorado"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Significance(_Strict):
    """A legal caveat on a ratio: a shortfall that is not statistically significant is not by itself adverse impact.

    29 CFR 1607.4(D): "greater differences in selection rate may not constitute adverse
    impact where the differences are based on small numbers and are not statistically
    significant". A binding rule that fails while ``p_value`` is at least ``alpha`` is REVIEW.
    """

    p_value: str = Field(description="Metric of the same evidence holding the p-value of the figure tested.")
    alpha: float = Field(gt=0, lt=1)
    source: str


class Rule(_Strict):
    """One comparison of an evidence metric, e.g. fairness.selection_rate.min_impact_ratio >= impact_ratio.

    ``threshold`` is an id of policies/thresholds.yaml (its one home), or
    ``@primary_metric``: the threshold of the fairness metric the spec chose, with
    ``op: meets`` (compared in that threshold's own direction). ``present`` means
    "the figure was measured": it never fails, it is REVIEW when the figure is
    missing, and it is refused on counts (which always exist).
    """

    evidence: str
    metric: str
    op: Op
    threshold: str | None = Field(default=None, description="A threshold id from thresholds.yaml, or @primary_metric.")
    describes: str = Field(default="", description="What the rule shows, in a reader's words.")
    significance: Significance | None = None

    @model_validator(mode="after")
    def _threshold_fits_op(self) -> Rule:
        where = f"rule on {self.evidence}.{self.metric}"
        if self.op in _COMPARISONS | {"meets"} and self.threshold is None:
            raise ValueError(f"{where}: '{self.op}' needs a threshold")
        if self.op not in _COMPARISONS | {"meets"} and self.threshold is not None:
            raise ValueError(f"{where}: '{self.op}' takes no threshold")
        if (self.op == "meets") != (self.threshold == PRIMARY_METRIC_THRESHOLD):
            raise ValueError(f"{where}: op 'meets' goes with threshold {PRIMARY_METRIC_THRESHOLD}, and only with it")
        return self


class AttestationQuestion(_Strict):
    """What only a person can confirm, and the document that supports it. "yes" must mean compliant."""

    question: str
    document: str


class Applicability(_Strict):
    """When a requirement applies. Every given condition must hold (and one branch of ``any_of``)."""

    jurisdictions: list[str] | None = None  # any of these among system.jurisdictions (US-NYC and US-CO imply US)
    high_risk: bool | None = None  # True: only for high-risk (Annex III) systems
    annex_iii: list[str] | None = None  # the system's Annex III point is one of these
    domains: list[str] | None = Field(default=None, description="The system's domain (system.domain) is one of these.")
    roles: list[Literal["provider", "deployer"]] | None = None
    use: list[Literal["classification", "scoring"]] | None = None
    profiling: bool | None = None
    solely_automated: bool | None = Field(
        default=None, description="True: only where decisions are based solely on automated processing (GDPR Art. "
        "22(1)), read from system.solely_automated; undecided while the spec does not say.")
    not_domains: list[str] | None = Field(
        default=None, description="The system's domain is none of these (an unstated domain does not rule it out).")
    interacts_or_generates: bool | None = Field(
        default=None, description="True: only where the system interacts with people or generates content "
        "(system.interacts_with_people, system.generates_content; AI Act Art. 50).")
    provider_in_eu: bool | None = Field(
        default=None, description="Whether the provider must be established in the EU (False: only for providers "
        "outside it, AI Act Art. 22); undecided while system.provider_in_eu is not stated.")
    consumer_report: bool | None = Field(
        default=None, description="True: only where a consumer report is used (system.consumer_report_used, "
        "FCRA § 615(a)); undecided while the spec does not say.")
    special_category: bool | None = Field(
        default=None, description="True: only where a protected attribute is declared a special category of data "
        "(data.protected[].special_category).")
    public_body: bool | None = Field(
        default=None,
        description="Deployer is a body governed by public law or a private entity providing public services "
        "(AI Act Art. 27(1)). Read from system.public_body; undecided while the spec does not say.",
    )
    any_of: list[Applicability] | None = Field(default=None, description="At least one of these must hold.")
    note: str | None = Field(default=None, description="Context added to the reason when a scope condition (Annex III point, domain, any_of) rules it out.")


class AppliesFrom(_Strict):
    """Dates of application: the original, and the date after an amendment where they differ."""

    original: dt.date
    amended: dt.date | None = None
    amended_by: str | None = None
    amendment_in_force: dt.date | None = None

    @model_validator(mode="after")
    def _amendment_complete(self) -> AppliesFrom:
        if (self.amended is None) != (self.amendment_in_force is None) or (self.amended and not self.amended_by):
            raise ValueError("an amended date needs amended_by and amendment_in_force")
        return self

    def in_force_date(self, audit_date: dt.date) -> dt.date:
        """The date of application in force on the audit date."""
        if self.amended and self.amendment_in_force and audit_date >= self.amendment_in_force:
            return self.amended
        return self.original

    def describe(self, audit_date: dt.date) -> str:
        """The date in force, with the other date and the amendment, for a reader."""
        start = self.in_force_date(audit_date)
        if not self.amended or not self.amendment_in_force:
            return start.isoformat()
        if start == self.amended:
            return (f"{start.isoformat()} (originally {self.original.isoformat()}; changed by {self.amended_by}, "
                    f"in force since {self.amendment_in_force.isoformat()})")
        return (f"{start.isoformat()} ({self.amended_by}, in force from {self.amendment_in_force.isoformat()}, "
                f"changes it to {self.amended.isoformat()})")


class Repeal(_Strict):
    """A requirement that no longer applies from a date, and what replaced it.

    A law repealed on or before its own date of application was never in force: it is
    history for every audit date, never a status.
    """

    date: dt.date
    by: str
    replaced_by: list[str] = Field(default_factory=list, description="Ids of the requirements that replace it.")


class Withdrawal(_Strict):
    """Guidance withdrawn on a date: from then on history, shown without a status."""

    date: dt.date
    by: str
    note: str = Field(description="What still holds, and where (e.g. the binding duty the guidance read).")
    replaced_by: list[str] = Field(default_factory=list, description="Ids of the live requirements that carry the duty.")


class Requirement(_Strict):
    """One requirement of a regime."""

    id: str
    title: str
    citation: str
    obligation: str
    bearer: str
    applies: Applicability = Field(default_factory=Applicability)
    applies_from: AppliesFrom | None = None
    repealed: Repeal | None = None
    withdrawn: Withdrawal | None = None
    interpretation: str | None = Field(
        default=None, description="Where the requirement is a reading of the law rather than its text: the reading "
        "and its source.")
    rules: list[Rule] = Field(default_factory=list)
    shows: list[str] = Field(default_factory=list, description="Evidence shown to the person who attests (no rule).")
    attestation: AttestationQuestion | None = None
    status_note: str | None = Field(default=None, description="Legal status caveat (e.g. guidance withdrawn).")


class Pack(_Strict):
    """A policy pack: one regime's requirements."""

    pack: str
    title: str
    regime: str
    source: str
    requirements: list[Requirement]

    @model_validator(mode="after")
    def _unique_ids(self) -> Pack:
        seen: set[str] = set()
        for req in self.requirements:
            if req.id in seen:
                raise ValueError(f"requirement id {req.id} appears twice")
            seen.add(req.id)
        return self


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict):  # top-level "x-..." keys hold YAML anchors (shared dates), not pack fields
            raw = {key: value for key, value in raw.items() if not str(key).startswith("x-")}
        pack = Pack.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        lines = str(exc).splitlines()
        detail = "; ".join(line.strip() for line in lines[1:3]) if isinstance(exc, ValidationError) else lines[0]
        raise AuditInputError(SPEC_INVALID, path=path, field="requirements", problem=detail) from None
    for req in pack.requirements:
        unknown = [ev for ev in req.shows if ev not in REGISTRY]
        if unknown:
            raise AuditInputError(SPEC_INVALID, path=path, field=f"{req.id}.shows",
                                  problem=f"evidence {', '.join(unknown)} is not registered (audit/evidence_kinds.py)")
        for rule in req.rules:
            problem = _rule_problem(rule)
            if problem:
                raise AuditInputError(SPEC_INVALID, path=path, field=f"{req.id}.rules", problem=problem)
    return pack


_ROLES_FOR_OP = {"present": {"figure", "label", "flag"}, "is_true": {"flag"}, "is_false": {"flag"},
                 "meets": {"figure"}, **{op: {"figure", "count"} for op in _COMPARISONS}}


def _rule_problem(rule: Rule) -> str | None:
    """Why a rule cannot check what it claims (checked against the evidence registry), or None."""
    info = metric_info(rule.evidence, rule.metric)
    if info is None:
        return f"evidence '{rule.evidence}' has no metric '{rule.metric}' (audit/evidence_kinds.py)"
    if info.role not in _ROLES_FOR_OP[rule.op]:
        why = " (a count always exists, so its presence shows nothing)" if info.role == "count" else ""
        return f"'{rule.op}' cannot be applied to {rule.evidence}.{rule.metric}, a {info.role}{why}"
    if rule.threshold is not None and rule.threshold != PRIMARY_METRIC_THRESHOLD:
        known = load_thresholds()
        if rule.threshold not in known:
            return f"threshold id '{rule.threshold}' is not in thresholds.yaml"
        expected = ">=" if known[rule.threshold].direction == "at_least" else "<="
        if rule.op.strip("=") != expected.strip("="):
            return f"threshold '{rule.threshold}' is {known[rule.threshold].direction}; the rule's op '{rule.op}' contradicts it"
    if rule.significance is not None and metric_info(rule.evidence, rule.significance.p_value) is None:
        return f"evidence '{rule.evidence}' has no metric '{rule.significance.p_value}' for the significance caveat"
    return None


def iter_requirements(packs: list[str] | None = None) -> Iterator[tuple[Pack, Requirement]]:
    """Every requirement of the given packs (default: all), with its pack."""
    for name in packs or available_packs():
        pack = load_pack(name)
        for req in pack.requirements:
            yield pack, req


def is_high_risk(spec: AuditSpec) -> bool:
    """High-risk under AI Act Art. 6(2): the intended purpose falls in an Annex III point.

    Art. 6(3) exemptions are not assumed: a system that profiles people is always
    high-risk, and one that does not still needs the documented Art. 6(3) memo
    (requirement EUAIA-6-3) before it may be treated otherwise.
    """
    return spec.system.annex_iii_area != "none"


# ----------------------------------------------------------------------------------------- applicability

_Decision = tuple[Literal["yes", "no", "unknown"], str | None]


def _system_jurisdictions(spec: AuditSpec) -> set[str]:
    own = set(spec.system.jurisdictions)
    return own.union(*(_JURISDICTION_INCLUDES.get(j, set()) for j in own))


def _system_roles(spec: AuditSpec) -> set[str]:
    """Whose duties are assessed: the audited organisation's roles (an in-house system holds both).

    An auditor or a regulator reviewing another organisation's system has no duty of its own
    here: the roles are those of the audited party (system.audited_party).
    """
    role = spec.system.duty_roles
    if role == "provider-deployer":
        return {"provider", "deployer"}
    return {role}


def _whose(spec: AuditSpec) -> str:
    """The organisation whose duties are assessed, for reasons: 'this audit's organisation' or 'the audited party'."""
    return "the audited organisation" if spec.system.reviewer else "this audit's organisation"


def _names(items: list[str], names: dict[str, str]) -> str:
    return ", ".join(names.get(i, i) for i in items)


def _note(a: Applicability) -> str:
    """The pack's context for a scope condition (jurisdictional scope, domain, Annex III point), in brackets."""
    return f" ({a.note})" if a.note else ""


def _decide(a: Applicability, spec: AuditSpec) -> _Decision:
    """Whether the conditions hold for this system: yes, no (with why) or unknown (with what is missing)."""
    system = spec.system
    if a.jurisdictions is not None and not set(a.jurisdictions) & _system_jurisdictions(spec):
        return "no", (f"applies to use in {_names(a.jurisdictions, _JURISDICTION_NAMES)}; the system is used in "
                      f"{_names(list(system.jurisdictions), _JURISDICTION_NAMES)}")
    if a.high_risk and not is_high_risk(spec):
        return "no", "applies to high-risk systems; the intended purpose falls under no Annex III point"
    if a.annex_iii is not None and system.annex_iii_area not in a.annex_iii:
        return "no", (f"applies to uses in Annex III point {_names(a.annex_iii, ANNEX_III_NAMES)}; this system's use "
                      f"is {ANNEX_III_NAMES.get(system.annex_iii_area, system.annex_iii_area)}{_note(a)}")
    domain_unknown: str | None = None
    if a.domains is not None:
        domain = effective_domain(spec)
        if domain is None:  # decided last: a condition the spec does state may still rule the requirement out
            domain_unknown = ("the spec does not say what the system decides about (system.domain: "
                              f"{', '.join(DOMAIN_NAMES)}); this applies only to {_names(a.domains, DOMAIN_NAMES)}")
        elif domain not in a.domains:
            return "no", (f"applies to {_names(a.domains, DOMAIN_NAMES)}; this system's domain is "
                          f"{DOMAIN_NAMES.get(domain, domain)}{_note(a)}")
    decision, why = _decide_rest(a, spec)
    if decision == "yes" and domain_unknown is not None:
        return "unknown", domain_unknown
    return decision, why


def _decide_rest(a: Applicability, spec: AuditSpec) -> _Decision:
    """The conditions after jurisdiction, risk class, Annex III point and domain."""
    system = spec.system
    roles = _system_roles(spec)
    if a.roles is not None and not roles & set(a.roles):
        return "no", f"a duty of the {' or '.join(a.roles)}; {_whose(spec)} is the {system.duty_roles}"
    if a.use is not None and system.use not in a.use:
        return "no", f"applies to {' or '.join(a.use)} tools; this one is a {system.use} tool"
    if a.profiling is not None and system.profiling != a.profiling:
        return "no", ("applies only where the system profiles natural persons" if a.profiling
                      else "applies only to systems that do not profile natural persons; this one does")
    if a.not_domains is not None:
        domain = effective_domain(spec)
        if domain is not None and domain in a.not_domains:
            return "no", f"does not apply to {_names(a.not_domains, DOMAIN_NAMES)}, this system's domain{_note(a)}"
    if a.solely_automated is not None:
        stated = system.solely_automated
        if stated is None:
            return "unknown", ("the spec does not say whether decisions with legal or similarly significant effects "
                               "are taken solely by automated processing (system.solely_automated)")
        if stated != a.solely_automated:
            return "no", ("applies only to decisions based solely on automated processing (GDPR Art. 22(1)); the "
                          "spec says a person is meaningfully involved (system.solely_automated: false)"
                          if a.solely_automated else "applies only where decisions are not solely automated")
    if a.interacts_or_generates is not None:
        does = system.interacts_with_people or system.generates_content
        if does != a.interacts_or_generates:
            return "no", ("applies where the system interacts with people or generates content; the spec says it "
                          "does neither (system.interacts_with_people, system.generates_content)"
                          if a.interacts_or_generates else "applies only to systems that neither interact with "
                          "people nor generate content")
    if a.provider_in_eu is not None:
        if system.provider_in_eu is None:
            return "unknown", "the spec does not say whether the provider is established in the EU (system.provider_in_eu)"
        if system.provider_in_eu != a.provider_in_eu:
            return "no", ("applies to providers established outside the EU; the spec says the provider is in the EU"
                          if not a.provider_in_eu else "applies to providers established in the EU")
    if a.consumer_report is not None:
        if system.consumer_report_used is None:
            return "unknown", ("the spec does not say whether a consumer report is used in the decision "
                               "(system.consumer_report_used)")
        if system.consumer_report_used != a.consumer_report:
            return "no", ("applies where a consumer report is used; the spec says none is "
                          "(system.consumer_report_used: false)" if a.consumer_report
                          else "applies only where no consumer report is used")
    if a.special_category is not None:
        declared = any(p.special_category for p in spec.data.protected_specs())
        if declared != a.special_category:
            return "no", ("applies where special categories of data (GDPR Art. 9(1)) are processed; no protected "
                          "attribute is declared one (data.protected[].special_category: declare any attribute "
                          "that reveals or lets one infer ethnic origin, health, religion and the like)"
                          if a.special_category
                          else "applies only where no special category is processed")
    if a.public_body is not None:
        stated = getattr(system, "public_body", None)
        if stated is None:
            return "unknown", ("the spec does not say whether the deployer is a body governed by public law or a "
                               "private entity providing public services (system.public_body)")
        if bool(stated) != a.public_body:
            return "no", ("applies to deployers that are public bodies or provide public services" if a.public_body
                          else "applies to deployers that are not public bodies")
    if a.any_of:
        branches = [_decide(branch, spec) for branch in a.any_of]
        if any(d == "yes" for d, _ in branches):
            return "yes", None
        unknown = [why for d, why in branches if d == "unknown"]
        if unknown:
            return "unknown", unknown[0]
        return "no", "none of its cases holds: " + "; ".join(why or "" for _, why in branches) + _note(a)
    return "yes", None


# ----------------------------------------------------------------------------------------- rules


def _threshold(rule: Rule, spec: AuditSpec, requirement: str) -> tuple[Resolved | None, str | None]:
    """The rule's threshold for this requirement, or (None, why) when it cannot be known."""
    if rule.threshold is None:
        return None, None
    if rule.threshold == PRIMARY_METRIC_THRESHOLD:
        choice = choose_primary(spec)
        if choice.threshold_id is None:
            return None, choice.reason
        return resolve(spec, choice.threshold_id, requirement=requirement), None
    return resolve(spec, rule.threshold, requirement=requirement), None


def _compare(op: str, observed: Scalar, threshold: float | None) -> bool:
    if op == "present":
        return observed is not None
    if op in ("is_true", "is_false"):
        if not isinstance(observed, bool):
            raise TypeError(f"expected yes/no, got {observed!r}")
        return observed is (op == "is_true")
    if isinstance(observed, bool) or not isinstance(observed, (int, float)) or threshold is None:
        raise TypeError(f"cannot compare {observed!r} {op} {threshold!r}")
    return {">=": observed >= threshold, ">": observed > threshold, "<=": observed <= threshold,
            "<": observed < threshold}[op]


def _evaluate_rule(rule: Rule, spec: AuditSpec, evidence: dict[str, Evidence], requirement: str) -> RuleOutcome:
    resolved, undecided = _threshold(rule, spec, requirement)
    op = resolved.op if rule.op == "meets" and resolved is not None else rule.op
    base: dict[str, Any] = {
        "evidence": rule.evidence, "metric": rule.metric, "op": op,
        "threshold": resolved.value if resolved else None,
        "threshold_id": resolved.id if resolved else rule.threshold,
        "threshold_source": resolved.source if resolved else "",
        "binding": bool(resolved and resolved.binding)}
    item = evidence.get(rule.evidence)
    if item is None:
        return RuleOutcome(**base, status=Status.REVIEW, note=f"evidence '{rule.evidence}' was not produced by this audit")
    if item.status is EvidenceStatus.NOT_ASSESSED:
        return RuleOutcome(**base, status=Status.REVIEW, note=f"not assessed: {item.reason}")
    observed = item.metrics.get(rule.metric)
    if observed is None:
        why = item.missing.get(rule.metric, "it could not be measured")  # Evidence fills every None's reason
        return RuleOutcome(**base, status=Status.REVIEW, note=f"{rule.metric} not measured: {why}")
    if undecided is not None:
        return RuleOutcome(**base, observed=observed, status=Status.REVIEW,
                           note=f"measured {_shown(observed)}, but no threshold applies: {undecided}")
    try:
        ok = _compare(op, observed, resolved.value if resolved else None)
    except TypeError as exc:
        return RuleOutcome(**base, observed=observed, status=Status.REVIEW, note=str(exc))
    partial = item.partial.get(rule.metric)
    if resolved is not None and not resolved.binding:
        verdict = "meets" if ok else "does not meet"
        return RuleOutcome(**base, observed=observed, status=Status.REVIEW, note=(
            f"measured {_shown(observed)}; it {verdict} the reference value {op} {resolved.value:g} "
            f"({resolved.source}), which no law sets for this requirement: set thresholds.{resolved.id} "
            "(value and set_by) in the spec to decide"
            + (f"; the figure is partial: {partial}" if partial else "")))
    if ok:
        if partial:
            return RuleOutcome(**base, observed=observed, status=Status.REVIEW,
                               note=f"{rule.describes}; but the figure is partial: {partial}")
        return RuleOutcome(**base, observed=observed, status=Status.PASS, note=rule.describes)
    if rule.significance is not None:
        p_value = item.metrics.get(rule.significance.p_value)
        if not isinstance(p_value, (int, float)) or isinstance(p_value, bool) or p_value >= rule.significance.alpha:
            shown = "not measured" if p_value is None else f"p = {_shown(p_value)}"
            return RuleOutcome(**base, observed=observed, status=Status.REVIEW, note=(
                f"below the threshold, but the gap is not statistically significant ({shown}, "
                f"alpha {rule.significance.alpha:g}): {rule.significance.source}; a person must judge it"))
    return RuleOutcome(**base, observed=observed, status=Status.FAIL, note=rule.describes)


def _combine(statuses: Sequence[Status]) -> Status:
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.REVIEW in statuses or not statuses:
        return Status.REVIEW
    return Status.PASS


# ----------------------------------------------------------------------------------------- one requirement


#: AI Act Art. 111(2): high-risk systems intended for use by public authorities comply by this date even when
#: placed on the market before the date of application and not changed significantly since.
PUBLIC_AUTHORITY_DEADLINE = dt.date(2030, 8, 2)


def _existing_system(spec: AuditSpec, start: dt.date) -> tuple[Literal["covered", "no", "unknown", "later"], str]:
    """AI Act Art. 111(2) (as amended by Regulation (EU) 2026/1744) for a high-risk requirement applying from ``start``.

    A system placed on the market or put into service before that date is covered only
    once its design changes significantly; one intended for use by public authorities
    must comply by 2 August 2030 in any case.
    """
    system = spec.system
    placed = system.placed_on_market
    if placed is None or placed >= start or system.significant_change:
        return "covered", ""
    before = (f"AI Act Art. 111(2): the system was placed on the market on {placed.isoformat()}, before this "
              f"requirement's date of application ({start.isoformat()})")
    if system.significant_change is None:
        return "unknown", (f"{before}, and the spec does not say whether its design has changed significantly since "
                           "(system.significant_change)")
    if system.public_body is True:
        return "later", (f"{before} and has not changed significantly since; as its deployer is a public body it "
                         f"must comply by {PUBLIC_AUTHORITY_DEADLINE.isoformat()}")
    if system.public_body is None:
        return "unknown", (f"{before} and has not changed significantly since, so it is covered only if it is used "
                           f"by public authorities (then from {PUBLIC_AUTHORITY_DEADLINE.isoformat()}); the spec does "
                           "not say (system.public_body)")
    return "no", f"{before} and its design has not changed significantly since: covered only after such a change"


def history_entry(req: Requirement, pack: Pack, audit_date: dt.date) -> HistoryEntry | None:
    """The history entry of a requirement that does not apply on the audit date as a text (withdrawn, repealed), or None.

    A repeal dated on or before the requirement's own date of application means the text
    was never in force: history for every audit date.
    """
    common = {"id": req.id, "pack": pack.pack, "title": req.title, "citation": req.citation}
    if req.withdrawn is not None and audit_date >= req.withdrawn.date:
        w = req.withdrawn
        return HistoryEntry(**common, event="withdrawn", date=w.date.isoformat(), by=w.by, note=w.note,
                            replaced_by=w.replaced_by)
    if req.repealed is not None:
        r = req.repealed
        never = req.applies_from is not None and r.date <= req.applies_from.original
        if never or audit_date >= r.date:
            start = req.applies_from.original.isoformat() if req.applies_from else ""
            note = (f"before its date of application ({start}), so it never applied" if never
                    else "it no longer applies")
            return HistoryEntry(**common, event="never in force" if never else "repealed", date=r.date.isoformat(),
                                by=r.by, note=note, replaced_by=r.replaced_by)
    return None


def _evaluate_one(req: Requirement, pack: Pack, spec: AuditSpec, evidence: dict[str, Evidence], audit_date: dt.date) -> Finding:
    base: dict[str, Any] = {"id": req.id, "pack": pack.pack, "title": req.title, "citation": req.citation,
                            "obligation": req.obligation, "bearer": req.bearer, "interpretation": req.interpretation,
                            "status_note": req.status_note,
                            "evidence_ids": sorted({r.evidence for r in req.rules} | set(req.shows))}
    in_force = True
    if req.applies_from is not None:
        start = req.applies_from.in_force_date(audit_date)
        base["applies_from"] = start.isoformat()
        base["applies_from_note"] = req.applies_from.describe(audit_date)
        in_force = audit_date >= start
    decision, why = _decide(req.applies, spec)
    if decision != "no" and req.applies.high_risk and req.applies_from is not None:
        legacy, legacy_why = _existing_system(spec, req.applies_from.in_force_date(audit_date))
        if legacy == "no":
            decision, why = "no", legacy_why
        elif legacy == "unknown" and decision == "yes":
            decision, why = "unknown", legacy_why
        elif legacy == "later":
            base["applies_from"] = PUBLIC_AUTHORITY_DEADLINE.isoformat()
            base["applies_from_note"] = f"{PUBLIC_AUTHORITY_DEADLINE.isoformat()} ({legacy_why})"
            in_force = audit_date >= PUBLIC_AUTHORITY_DEADLINE
    if decision == "no":
        return Finding(**base, status=Status.NA, reason=f"Not applicable: {why}.", in_force=in_force)
    outcomes = [_evaluate_rule(rule, spec, evidence, req.id) for rule in req.rules]
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
    if decision == "unknown":
        statuses.append(Status.REVIEW)
    status = _combine(statuses)
    reason = _reason(status, outcomes, attestation, req)
    if decision == "unknown":
        reason = f"Whether this applies is undecided: {why}. {reason}"
    if not in_force:
        reason = f"Not yet in force on the audit date (applies from {base['applies_from']}); assessed for readiness: {reason}"
    return Finding(**base, status=status, reason=reason, rules=outcomes, attestation=attestation, in_force=in_force)


def _shown(value: Scalar) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _reason(status: Status, outcomes: list[RuleOutcome], attestation: Attestation | None, req: Requirement) -> str:
    parts = []
    for o in outcomes:
        if o.status in (Status.FAIL, Status.REVIEW) or status is Status.PASS:
            if o.status is Status.REVIEW:
                parts.append(f"{o.evidence}: {o.note}")
            elif o.op in ("is_true", "is_false"):
                parts.append(f"{o.metric} = {_shown(o.observed)} (required: {o.op.replace('_', ' ')})")
            elif o.op == "present":
                parts.append(f"{o.metric} = {_shown(o.observed)} (measured)")
            else:
                parts.append(f"{o.metric} = {_shown(o.observed)} (required {o.op} {o.threshold:g})")
    if attestation is not None:
        if attestation.answer is None:
            parts.append(f"attestation needed: {attestation.question}")
        elif attestation.answer == "no":
            parts.append(f"attested 'no' by {attestation.by} on {attestation.date}")
        elif status is Status.PASS:
            parts.append(f"attested by {attestation.by} on {attestation.date}")
    if not req.rules and req.attestation is None:
        parts.append("no evidence rule or attestation defined: a person must review it")
    text = "; ".join(parts)
    return text if text.endswith((".", "?")) else text + "."


def _named_packs(spec: AuditSpec) -> list[Pack]:
    return [load_pack(name) for name in dict.fromkeys(spec.policies)]


def evaluate(spec: AuditSpec, evidence: list[Evidence], *, audit_date: dt.date) -> list[Finding]:
    """One finding per requirement of every pack the spec names (each pack once), except history (see :func:`history`)."""
    by_id = {e.id: e for e in evidence}
    return [_evaluate_one(req, pack, spec, by_id, audit_date)
            for pack in _named_packs(spec) for req in pack.requirements
            if history_entry(req, pack, audit_date) is None]


def history(spec: AuditSpec, *, audit_date: dt.date) -> list[HistoryEntry]:
    """Withdrawn guidance and repealed law of the spec's packs on the audit date: shown, never given a status."""
    entries = (history_entry(req, pack, audit_date) for pack in _named_packs(spec) for req in pack.requirements)
    return [entry for entry in entries if entry is not None]


def law_alerts(spec: AuditSpec, findings: list[Finding]) -> list[str]:
    """Legal facts the cover must show before any figure (e.g. a possible prohibited practice)."""
    out: list[str] = []
    if "EU" in _system_jurisdictions(spec) and effective_domain(spec) == "criminal_justice":
        screen = next((f for f in findings if f.id == "EUAIA-5-1-d"), None)
        state = (f"requirement EUAIA-5-1-d is {screen.status.value}" if screen is not None
                 else "add the eu-ai-act pack to policies to assess it (requirement EUAIA-5-1-d)")
        out.append("A criminal-justice system used in the EU: the AI Act prohibits assessing or predicting the risk "
                   "that a person commits a crime based solely on profiling or personality traits (Art. 5(1)(d), in "
                   f"force since 2025-02-02); {state}. No measure in this report can make a prohibited practice "
                   "compliant.")
        if "eu-led" not in spec.policies:
            out.append("Personal data processed by competent authorities for law enforcement falls under Directive "
                       "(EU) 2016/680, not the GDPR (GDPR Art. 2(2)(d)): add the eu-led pack to the spec's policies.")
    return out


def verdict(findings: list[Finding]) -> tuple[Status, dict[str, int]]:
    """Verdict over the requirements in force on the audit date (FAIL > REVIEW > PASS; N/A ignored), and counts.

    Requirements not yet in force never decide it: see :func:`readiness`.
    """
    in_force = [f for f in findings if f.in_force]
    counts = {s.value: sum(f.status is s for f in in_force) for s in Status}
    applicable = [f.status for f in in_force if f.status is not Status.NA]
    return (_combine(applicable) if applicable else Status.REVIEW), counts


def readiness(findings: list[Finding]) -> tuple[Status | None, dict[str, int]]:
    """Verdict and counts of the requirements evaluated for readiness (not yet in force); None when there are none."""
    later = [f for f in findings if not f.in_force and f.status is not Status.NA]
    counts = {s.value: sum(f.status is s for f in later) for s in Status if s is not Status.NA}
    return (_combine([f.status for f in later]) if later else None), counts
