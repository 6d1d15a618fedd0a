"""Policy packs and the engine: content, applicability, dates, statuses, open actions.

No model or data is loaded: the evidence is built here with tests/factories.py, typed
against the registry (audit/evidence_kinds.py), so these tests run in well under a second.

Thresholds decide only where they bind (audit/thresholds.py): where the law the
requirement cites sets the number (``binds`` in policies/thresholds.yaml), or where the
user set it in the spec with ``set_by``. Elsewhere a rule is REVIEW with the measured
figure beside the reference, so tests that want every rule decidable set every threshold
id with :func:`every_threshold_set`. The contract's new behaviour has its own tests in
tests/test_policy_contract.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from factories import PASSING, make_evidence

from audit import policies
from audit.attestations import ACTION_KINDS, open_actions
from audit.errors import AuditInputError
from audit.evidence import Evidence, Finding, Status
from audit.evidence_kinds import REGISTRY, metric_info
from audit.fairness.choice import THRESHOLD_IDS
from audit.policies import PRIMARY_METRIC_THRESHOLD, available_packs, evaluate, iter_requirements, load_pack, verdict
from audit.spec import AuditSpec
from audit.thresholds import load_thresholds

ALL_PACKS = ["eu-ai-act", "gdpr", "nyc-ll144", "eeoc", "ecoa-reg-b", "colorado"]
AFTER_OMNIBUS = dt.date(2026, 11, 22)  # Reg. (EU) 2026/1744 in force; Annex III chapter from 2027-12-02
BEFORE_OMNIBUS = dt.date(2026, 7, 1)
IN_FORCE = dt.date(2028, 1, 15)  # everything in force (Colorado SB 24-205 repealed)
COMMITTEE = "Model risk committee, minutes 2026-09-01"

BEARERS = ("provider", "deployer", "controller", "employer", "creditor", "developer")


def evidence(overrides: dict[str, dict[str, Any]] | None = None, drop: tuple[str, ...] = (),
             not_assessed: dict[str, str] | None = None) -> list[Evidence]:
    """The passing evidence of every registered kind, with some metrics changed, some missing or not assessed."""
    items = []
    for eid in REGISTRY:
        if eid in drop:
            continue
        if not_assessed and eid in not_assessed:
            items.append(Evidence.not_assessed(eid, eid.split(".")[0], eid, not_assessed[eid]))
            continue
        items.append(make_evidence(eid, **{**PASSING.get(eid, {}), **(overrides or {}).get(eid, {})}))
    return items


def every_threshold_set(by: str = COMMITTEE, **values: float) -> dict[str, Any]:
    """The user sets every threshold id (at its reference value unless given), so every rule can decide."""
    return {tid: {"value": values.get(tid, d.value), "set_by": by} for tid, d in load_thresholds().items()}


def make_spec(*, role: str = "deployer", jurisdictions: list[str] | None = None, annex: str = "5b",
              use: str = "classification", profiling: bool = True, packs: list[str] | None = None,
              attestations: dict[str, Any] | None = None, thresholds: dict[str, Any] | None = None,
              domain: str | None = None, favourable: str | None = "positive",
              solely_automated: bool | None = True, provider_in_eu: bool | None = True) -> AuditSpec:
    return AuditSpec.model_validate({
        "system": {"name": "Test system", "version": "1", "provider": "Example", "intended_purpose": "testing",
                   "role": role, "jurisdictions": jurisdictions or ["EU"], "annex_iii_area": annex,
                   "profiling": profiling, "use": use, "domain": domain, "solely_automated": solely_automated,
                   "provider_in_eu": provider_in_eu},
        "data": {"path": "data.csv", "favourable_decision": favourable},
        "policies": packs or ALL_PACKS,
        "attestations": attestations or {},
        "thresholds": thresholds or {},
    })


def yes_to_everything() -> dict[str, Any]:
    return {req.id: {"answer": "yes", "by": "A. Officer", "date": "2026-10-01", "document": "DMS-1"}
            for _, req in iter_requirements() if req.attestation is not None}


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def run(spec: AuditSpec, ev: list[Evidence] | None = None, date: dt.date = IN_FORCE) -> dict[str, Finding]:
    return by_id(evaluate(spec, evidence() if ev is None else ev, audit_date=date))


def rule_of(finding: Finding, metric: str):
    return next(r for r in finding.rules if r.metric == metric)


# ------------------------------------------------------------------------------------------------ pack content


def test_every_pack_loads() -> None:
    assert set(ALL_PACKS) <= set(available_packs())
    for name in ALL_PACKS:
        pack = load_pack(name)
        assert pack.pack == name and pack.requirements


def test_requirement_ids_unique_across_packs() -> None:
    ids = [req.id for _, req in iter_requirements()]
    assert len(ids) == len(set(ids))


def test_every_requirement_is_complete() -> None:
    for pack, req in iter_requirements():
        where = f"{pack.pack}:{req.id}"
        assert req.title and req.citation and len(req.obligation) > 40, where
        assert any(word in req.bearer for word in BEARERS), where
        assert req.applies_from is not None, f"{where}: no applies_from date"
        history = req.withdrawn is not None or req.repealed is not None
        assert req.rules or req.attestation or history, f"{where}: nothing to check"
        if history:  # shown as history, never given a status: it says what replaced it
            assert (req.withdrawn or req.repealed).replaced_by, f"{where}: history names no replacement"
        if req.attestation is not None:
            assert req.attestation.question.endswith("?") or "?" in req.attestation.question, where
            assert req.attestation.document, where
        if req.shows:
            assert req.attestation is not None, f"{where}: evidence shown to nobody (shows without an attestation)"


def test_rules_use_only_the_evidence_the_checks_produce() -> None:
    for pack, req in iter_requirements():
        where = f"{pack.pack}:{req.id}"
        for rule in req.rules:
            assert rule.evidence in REGISTRY, f"{where}: unknown evidence {rule.evidence}"
            info = metric_info(rule.evidence, rule.metric)
            assert info is not None, f"{where}: unknown metric {rule.evidence}.{rule.metric}"
            assert not (rule.op == "present" and info.role == "count"), f"{where}: 'present' on a count"
            assert rule.op not in ("is_true", "is_false") or info.role == "flag", where
            if rule.significance is not None:
                assert metric_info(rule.evidence, rule.significance.p_value) is not None, where
        assert set(req.shows) <= set(REGISTRY), where
        # the passing evidence of these tests names every metric a rule tests
        for rule in req.rules:
            assert rule.metric in PASSING[rule.evidence], f"{where}: PASSING lacks {rule.evidence}.{rule.metric}"


def test_every_threshold_has_a_source_and_binds_only_where_the_law_sets_it() -> None:
    thresholds = load_thresholds()
    for key, value in thresholds.items():
        assert len(value.source) > 20, key
        low, high = value.range
        assert low <= value.value <= high, key
    rules = [(req.id, rule) for _, req in iter_requirements() for rule in req.rules]
    used = {rule.threshold for _, rule in rules if rule.threshold is not None}
    assert used - {PRIMARY_METRIC_THRESHOLD} <= set(thresholds)
    assert set(THRESHOLD_IDS.values()) <= set(thresholds)  # every metric @primary_metric can stand for
    # binds names requirements that exist and test that very threshold
    for key, value in thresholds.items():
        for rid in value.binds:
            assert any(r == rid and rule.threshold == key for r, rule in rules), f"{key} binds {rid}, which never uses it"
    assert "1607.4(D)" in thresholds["impact_ratio"].source and thresholds["impact_ratio"].binds == ["EEOC-1607-4-D"]
    # the EU AI Act and the GDPR set no number: only explanation coverage (each person is owed their explanation)
    eu_bound = {rid for value in thresholds.values() for rid in value.binds if rid.startswith(("EUAIA", "GDPR"))}
    assert eu_bound <= {"EUAIA-86", "GDPR-15-1-h"}
    for key in ("min_roc_auc", "accuracy_gap", "flip_rate", "noise_flip_rate", "equal_opportunity_gap"):
        assert thresholds[key].binds == [], key


def test_annex_iii_requirements_carry_original_and_amended_dates() -> None:
    for req in load_pack("eu-ai-act").requirements:
        if req.applies.high_risk:
            a = req.applies_from
            assert a is not None and a.original == dt.date(2026, 8, 2), req.id
            assert a.amended == dt.date(2027, 12, 2) and a.amendment_in_force == dt.date(2026, 7, 27), req.id
            assert "2026/1744" in (a.amended_by or ""), req.id
    assert next(r for r in load_pack("eu-ai-act").requirements if r.id == "EUAIA-5").applies_from.original == dt.date(2025, 2, 2)


def test_withdrawn_and_deprioritised_guidance_is_flagged() -> None:
    reqs = {req.id: req for _, req in iter_requirements()}
    for rid in ("CFPB-2022-03", "CFPB-2023-03"):
        assert "withdrawn" in reqs[rid].status_note
    assert "14281" in reqs["EEOC-1607-4-D"].status_note
    assert reqs["CO-SB24-205"].repealed is not None and "SB 26-189" in reqs["CO-SB24-205"].repealed.by


def test_us_packs_apply_by_domain_not_by_annex_iii() -> None:
    for name in ("nyc-ll144", "eeoc", "ecoa-reg-b", "colorado"):
        for req in load_pack(name).requirements:
            assert req.applies.annex_iii is None and req.applies.domains, f"{name}:{req.id}"
            assert req.applies.jurisdictions, f"{name}:{req.id}"


# ------------------------------------------------------------------------------------------------ applicability


def test_credit_scoring_deployer_in_the_eu_gets_high_risk_chapter_fria_and_art22() -> None:
    f = run(make_spec(role="deployer", annex="5b", packs=["eu-ai-act", "gdpr"]))
    for rid in ("EUAIA-26", "EUAIA-27", "EUAIA-86", "GDPR-22-1-2", "GDPR-22-3", "GDPR-35", "EUAIA-6-2"):
        assert f[rid].status is not Status.NA, f"{rid}: {f[rid].reason}"
    # provider duties of the high-risk chapter are N/A for a deployer, with the reason
    for rid in ("EUAIA-9-2", "EUAIA-10-2-f", "EUAIA-15-1-3", "EUAIA-ANNEXIV-2", "EUAIA-43"):
        assert f[rid].status is Status.NA
        assert "duty of the provider" in f[rid].reason and "deployer" in f[rid].reason


def test_credit_scoring_provider_gets_the_provider_duties() -> None:
    f = run(make_spec(role="provider", annex="5b", packs=["eu-ai-act", "gdpr"]))
    for rid in ("EUAIA-9-2", "EUAIA-9-6-8", "EUAIA-10-2-f", "EUAIA-13-3-b-ii", "EUAIA-15-1-3", "EUAIA-17", "EUAIA-72"):
        assert f[rid].status is not Status.NA, rid
    assert f["EUAIA-27"].status is Status.NA and "deployer" in f["EUAIA-27"].reason
    assert f["GDPR-22-1-2"].status is not Status.NA


def test_hiring_tool_in_new_york_city_gets_ll144_and_the_four_fifths_rule() -> None:
    f = run(make_spec(role="deployer", annex="4a", jurisdictions=["US-NYC"], packs=["nyc-ll144", "eeoc", "ecoa-reg-b"]))
    for rid in ("NYC-20-871-a", "NYC-5-300-DEF", "NYC-5-301-SEL", "NYC-5-301-2PCT", "NYC-5-303-PUB", "NYC-20-871-b"):
        assert f[rid].status is not Status.NA, rid
    assert f["NYC-5-301-SCORE"].status is Status.NA and "scoring tools" in f["NYC-5-301-SCORE"].reason
    assert f["EEOC-1607-4-D"].status is not Status.NA  # New York City is in the United States
    # Regulation B is about credit; the domain implied by Annex III 4(a) is hiring
    ecoa = f["ECOA-1002-9-b-2"]
    assert ecoa.status is Status.NA and "credit and lending" in ecoa.reason and "screening" in ecoa.reason


def test_laws_of_other_places_are_not_applicable_with_the_reason() -> None:
    f = run(make_spec(role="deployer", annex="5b", jurisdictions=["EU"], packs=["nyc-ll144", "ecoa-reg-b"]))
    assert f["NYC-5-301-SEL"].status is Status.NA and "New York City" in f["NYC-5-301-SEL"].reason
    assert f["ECOA-1002-9-b-2"].status is Status.NA and "United States" in f["ECOA-1002-9-b-2"].reason
    g = run(make_spec(role="deployer", annex="4a", jurisdictions=["EU"], packs=["eu-ai-act", "gdpr"]))
    assert g["EUAIA-26"].status is not Status.NA


def test_no_annex_iii_point_makes_the_high_risk_chapter_not_applicable() -> None:
    f = run(make_spec(role="provider", annex="none", packs=["eu-ai-act"]))
    high_risk = [req.id for req in load_pack("eu-ai-act").requirements if req.applies.high_risk]
    assert len(high_risk) > 30
    for rid in high_risk:
        assert f[rid].status is Status.NA and "no Annex III point" in f[rid].reason, rid
    # the classification itself and the Art. 5 screen still need a person
    assert f["EUAIA-6-2"].status is Status.REVIEW and f["EUAIA-5"].status is Status.REVIEW


def test_art_6_3_exemption_is_impossible_for_profiling_systems() -> None:
    f = run(make_spec(role="provider", annex="4a", profiling=True, packs=["eu-ai-act"]))
    assert f["EUAIA-6-3"].status is Status.NA and "do not profile" in f["EUAIA-6-3"].reason
    g = run(make_spec(role="provider", annex="4a", profiling=False, packs=["eu-ai-act"]))
    assert g["EUAIA-6-3"].status is Status.REVIEW


def _with_public_body(spec: AuditSpec, value: bool | None) -> AuditSpec:
    return spec.model_copy(update={"system": spec.system.model_copy(update={"public_body": value})})


def test_fria_for_other_annex_iii_uses_depends_on_public_body() -> None:
    spec = make_spec(role="deployer", annex="4a", packs=["eu-ai-act"], attestations=yes_to_everything())
    undecided = run(spec)["EUAIA-27"]
    assert undecided.status is Status.REVIEW and "undecided" in undecided.reason and "public_body" in undecided.reason
    assert run(_with_public_body(spec, True))["EUAIA-27"].status is Status.PASS
    public_no = run(_with_public_body(spec, False))["EUAIA-27"]
    assert public_no.status is Status.NA and "public bodies" in public_no.reason
    # credit scoring needs no answer: every deployer of a 5(b) system does a FRIA
    credit = make_spec(role="deployer", annex="5b", packs=["eu-ai-act"], attestations=yes_to_everything())
    assert run(_with_public_body(credit, False))["EUAIA-27"].status is Status.PASS


def test_provider_that_deploys_its_own_system_holds_both_roles() -> None:
    spec = make_spec(role="provider", annex="5b", packs=["eu-ai-act"])
    both = spec.model_copy(update={"system": spec.system.model_copy(update={"role": "provider-deployer"})})
    f = run(both)
    assert f["EUAIA-9-2"].status is not Status.NA and f["EUAIA-26"].status is not Status.NA


# ------------------------------------------------------------------------------------------------ statuses


@pytest.mark.parametrize("kwargs", [
    {"role": "deployer", "annex": "5b", "jurisdictions": ["EU", "US"]},
    {"role": "provider", "annex": "5b", "jurisdictions": ["EU", "US-CO"]},
    {"role": "deployer", "annex": "4a", "jurisdictions": ["EU", "US-NYC", "US-CO"]},
    {"role": "provider", "annex": "none", "jurisdictions": ["EU"], "profiling": False},
])
@pytest.mark.parametrize("date", [BEFORE_OMNIBUS, AFTER_OMNIBUS, IN_FORCE])
def test_without_attestations_nothing_that_needs_one_passes(kwargs: dict[str, Any], date: dt.date) -> None:
    findings = evaluate(make_spec(**kwargs, thresholds=every_threshold_set()), evidence(), audit_date=date)
    needs = {req.id for _, req in iter_requirements() if req.attestation is not None}
    spec = make_spec(**kwargs)
    shown = len(findings) + len(policies.history(spec, audit_date=date))
    assert shown == sum(len(load_pack(p).requirements) for p in ALL_PACKS)  # each requirement a finding or history
    for f in findings:
        if f.id in needs:
            assert f.status is not Status.PASS, f.id
            if f.status is not Status.NA:
                assert "attestation needed" in f.reason
    assert verdict(findings)[0] is Status.REVIEW


DECIDABLE_SPECS = [
    {"role": "deployer", "annex": "5b", "jurisdictions": ["EU", "US"]},
    {"role": "provider", "annex": "5b", "jurisdictions": ["EU", "US-CO"]},
    {"role": "deployer", "annex": "4a", "jurisdictions": ["EU", "US-NYC", "US-CO"]},
]


@pytest.mark.parametrize("kwargs", DECIDABLE_SPECS)
def test_passing_evidence_yes_answers_and_own_thresholds_pass_everything_decidable(kwargs: dict[str, Any]) -> None:
    findings = evaluate(make_spec(**kwargs, attestations=yes_to_everything(), thresholds=every_threshold_set()),
                        evidence(), audit_date=IN_FORCE)
    assert any(f.status is Status.PASS for f in findings)
    for f in findings:
        if f.status is Status.NA:
            continue
        if "undecided" in f.reason:
            assert f.status is Status.REVIEW
            continue
        assert f.status is Status.PASS, f"{f.id}: {f.reason}"
        assert f.in_force
        for r in f.rules:
            assert r.threshold_id is None or r.binding, f"{f.id}: {r.metric} did not bind"


@pytest.mark.parametrize("kwargs", DECIDABLE_SPECS)
def test_without_own_thresholds_only_the_laws_numbers_decide(kwargs: dict[str, Any]) -> None:
    """The same passing evidence, thresholds left at their references: a rule decides only where the law binds."""
    findings = evaluate(make_spec(**kwargs, attestations=yes_to_everything()), evidence(), audit_date=IN_FORCE)
    seen_reference = False
    for f in findings:
        if f.status is Status.NA or "undecided" in f.reason:
            continue
        assert f.status in (Status.PASS, Status.REVIEW), f"{f.id}: {f.reason}"
        for r in f.rules:
            if r.threshold_id is None:  # present / is_false: no threshold to bind
                assert r.status is Status.PASS, f"{f.id}: {r.note}"
            elif r.binding:
                assert r.status is Status.PASS and f.id in load_thresholds()[r.threshold_id].binds, f.id
            else:
                seen_reference = True
                assert r.status is Status.REVIEW, f"{f.id}: {r.metric} decided on a reference value"
                assert "it meets the reference value" in r.note and f"set thresholds.{r.threshold_id}" in r.note
                assert f.status is Status.REVIEW and r.note in f.reason
        if f.status is Status.REVIEW:
            assert any(r.status is Status.REVIEW and not r.binding for r in f.rules), f"{f.id}: {f.reason}"
    assert seen_reference


def test_missing_evidence_is_review_naming_it() -> None:
    spec = make_spec(packs=["gdpr"], attestations=yes_to_everything(), thresholds=every_threshold_set())
    assert run(spec)["GDPR-15-1-h"].status is Status.PASS
    f = run(spec, evidence(drop=("local.shap",)))
    assert f["GDPR-15-1-h"].status is Status.REVIEW
    assert "local.shap" in f["GDPR-15-1-h"].reason and "not produced" in f["GDPR-15-1-h"].reason


def test_not_assessed_evidence_is_review_with_its_reason() -> None:
    spec = make_spec(packs=["gdpr"], attestations=yes_to_everything(), thresholds=every_threshold_set())
    assert run(spec)["CJEU-DNB"].status is Status.PASS
    ev = evidence(not_assessed={"counterfactual.recourse": "no model access"})
    f = run(spec, ev)
    assert f["CJEU-DNB"].status is Status.REVIEW and "no model access" in f["CJEU-DNB"].reason


def test_a_metric_that_could_not_be_computed_is_review_never_fail() -> None:
    spec = make_spec(role="provider", packs=["eu-ai-act", "gdpr"], attestations=yes_to_everything(),
                     thresholds=every_threshold_set())
    before = run(spec)
    for rid in ("GDPR-5-1-a", "EUAIA-10-2-f", "EUAIA-ANNEXIV-4", "GDPR-15-1-h"):
        assert before[rid].status is Status.PASS, rid
    ev = evidence({"fairness.error_rates": {"primary_metric_value": None, "primary_metric_reason": None},
                   "data.bias": {"max_base_rate_gap": None}})
    f = run(spec, ev)
    assert f["GDPR-5-1-a"].status is Status.REVIEW
    assert "primary_metric_value not measured" in f["GDPR-5-1-a"].reason and "no primary metric" in f["GDPR-5-1-a"].reason
    assert f["EUAIA-ANNEXIV-4"].status is Status.REVIEW and "primary_metric_reason" in f["EUAIA-ANNEXIV-4"].reason
    assert f["EUAIA-10-2-f"].status is Status.REVIEW and "max_base_rate_gap" in f["EUAIA-10-2-f"].reason
    # a binding threshold with nothing to compare is REVIEW too, with the check's own reason
    shap = make_evidence("local.shap", **{**PASSING["local.shap"], "coverage": None},
                         missing={"coverage": "the explainer failed on this model"})
    g = run(spec, [e for e in evidence() if e.id != "local.shap"] + [shap])["GDPR-15-1-h"]
    assert g.status is Status.REVIEW and "coverage not measured: the explainer failed on this model" in g.reason
    assert rule_of(g, "coverage").binding


def test_a_failing_metric_fails_where_the_law_sets_a_number_only() -> None:
    ev = evidence({"fairness.eeo_impact": {"min_attribute_impact_ratio": 0.6, "min_attribute_impact_ratio_p_value": 0.001}})
    spec = make_spec(role="deployer", annex="4a", jurisdictions=["US-NYC", "US-CO"], packs=["nyc-ll144", "eeoc", "colorado"],
                     attestations=yes_to_everything())
    f = run(spec, ev, date=dt.date(2026, 5, 1))
    eeoc = f["EEOC-1607-4-D"]
    assert eeoc.status is Status.FAIL and "min_attribute_impact_ratio = 0.6" in eeoc.reason
    rule = rule_of(eeoc, "min_attribute_impact_ratio")
    assert rule.threshold == 0.8 and rule.binding and rule.threshold_id == "impact_ratio"
    assert "1607.4(D)" in rule.threshold_source
    assert f["NYC-5-301-SEL"].status is Status.PASS  # LL144 sets no passing ratio
    assert "CO-SB24-205" not in f  # repealed before it took effect: history, never a status
    # The same figure where no law sets the number (AI Act Art. 10(2)(g)) is shown beside the reference, not judged
    eu = run(make_spec(role="provider", annex="4a", packs=["eu-ai-act"]),
             evidence({"fairness.selection_rate": {"min_impact_ratio": 0.6}}))["EUAIA-10-2-g"]
    eu_rule = rule_of(eu, "min_impact_ratio")
    assert eu_rule.status is Status.REVIEW and not eu_rule.binding
    assert "measured 0.6" in eu.reason and "does not meet the reference value >= 0.8" in eu.reason
    assert "set thresholds.impact_ratio" in eu.reason


def test_a_spec_threshold_replaces_the_default_and_says_who_set_it() -> None:
    ev = evidence({"fairness.eeo_impact": {"min_attribute_impact_ratio": 0.75}})
    spec = make_spec(role="deployer", annex="4a", jurisdictions=["US"], packs=["eeoc"], attestations=yes_to_everything(),
                     thresholds={"impact_ratio": {"value": 0.7, "set_by": "HR risk committee, 2026-09-01"}})
    f = run(spec, ev)["EEOC-1607-4-D"]
    assert f.status is Status.PASS
    rule = rule_of(f, "min_attribute_impact_ratio")
    assert rule.threshold == 0.7 and rule.binding and "HR risk committee" in rule.threshold_source


def test_attestation_no_fails() -> None:
    answers = yes_to_everything()
    answers["GDPR-35"] = {"answer": "no", "by": "DPO", "date": "2026-10-02", "comment": "DPIA not yet done"}
    f = run(make_spec(packs=["gdpr"], attestations=answers))
    assert f["GDPR-35"].status is Status.FAIL and "attested 'no' by DPO" in f["GDPR-35"].reason
    assert f["GDPR-35"].attestation.comment == "DPIA not yet done"


def test_attestation_yes_records_who_and_when() -> None:
    f = run(make_spec(packs=["gdpr"], attestations=yes_to_everything()))["GDPR-22-1-2"]
    assert f.status is Status.PASS and f.attestation.by == "A. Officer" and f.attestation.date == "2026-10-01"
    assert f.attestation.reference == "DMS-1" and "attested by A. Officer" in f.reason


# ------------------------------------------------------------------------------------------------ dates


def test_audit_date_picks_the_original_or_the_amended_annex_iii_date() -> None:
    spec = make_spec(role="provider", packs=["eu-ai-act"])
    before = run(spec, date=BEFORE_OMNIBUS)["EUAIA-10-2-f"]
    after = run(spec, date=AFTER_OMNIBUS)["EUAIA-10-2-f"]
    assert before.applies_from == "2026-08-02" and not before.in_force
    assert after.applies_from == "2027-12-02" and not after.in_force
    assert "Not yet in force" in after.reason and "readiness" in after.reason
    assert run(spec, date=IN_FORCE)["EUAIA-10-2-f"].in_force
    assert run(spec, date=BEFORE_OMNIBUS)["EUAIA-5"].in_force  # prohibitions apply since 2025-02-02


def test_applies_from_describes_both_dates() -> None:
    a = next(r for r in load_pack("eu-ai-act").requirements if r.id == "EUAIA-10-2-f").applies_from
    assert a.describe(AFTER_OMNIBUS).startswith("2027-12-02 (originally 2026-08-02")
    assert a.describe(BEFORE_OMNIBUS).startswith("2026-08-02 (") and "2027-12-02" in a.describe(BEFORE_OMNIBUS)


def test_colorado_repeal_and_replacement() -> None:
    spec = make_spec(role="deployer", annex="5b", jurisdictions=["US-CO"], packs=["colorado"])
    for date in (dt.date(2026, 5, 1), AFTER_OMNIBUS):  # repealed before its date of application: never in force
        assert "CO-SB24-205" not in run(spec, date=date)
        entry = next(h for h in policies.history(spec, audit_date=date) if h.id == "CO-SB24-205")
        assert entry.event == "never in force" and entry.date == "2026-05-14" and "CO-SB26-189-DEP" in entry.replaced_by
    later = run(spec, date=AFTER_OMNIBUS)
    assert later["CO-SB26-189-DEP"].applies_from == "2027-01-01" and not later["CO-SB26-189-DEP"].in_force
    assert run(spec, date=IN_FORCE)["CO-SB26-189-DEP"].in_force
    assert later["CO-SB26-189-DEV"].status is Status.NA  # a developer's duty; this organisation deploys


# ------------------------------------------------------------------------------------------------ engine guards


def test_each_pack_is_evaluated_once() -> None:
    spec = make_spec(packs=["gdpr", "gdpr"])
    assert len(evaluate(spec, evidence(), audit_date=IN_FORCE)) == len(load_pack("gdpr").requirements)


def test_verdict_and_counts() -> None:
    spec = make_spec(packs=["gdpr"], attestations=yes_to_everything(), thresholds=every_threshold_set())
    findings = evaluate(spec, evidence(), audit_date=IN_FORCE)
    status, counts = verdict(findings)
    applicable = [f for f in findings if f.status is not Status.NA]
    assert status is Status.PASS and counts["PASS"] == len(applicable) and counts["FAIL"] == 0
    assert {f.id for f in findings if f.status is Status.NA} == {"GDPR-9"}  # no special category declared


def test_verdict_without_own_thresholds_is_review_on_the_reference_rules() -> None:
    spec = make_spec(packs=["gdpr"], attestations=yes_to_everything())
    findings = evaluate(spec, evidence(), audit_date=IN_FORCE)
    status, counts = verdict(findings)
    on_references = {"GDPR-5-1-a", "CJEU-DNB"}  # no law sets these numbers
    assert status is Status.REVIEW
    assert {f.id for f in findings if f.status is Status.REVIEW} == on_references
    assert counts["REVIEW"] == len(on_references)
    assert counts["PASS"] == len(findings) - len(on_references) - counts["N/A"]


@pytest.fixture()
def scratch_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty policies folder for hand-written packs (thresholds stay those of policies/thresholds.yaml)."""
    monkeypatch.setattr(policies, "POLICY_DIR", tmp_path)
    policies.load_pack.cache_clear()
    yield tmp_path
    policies.load_pack.cache_clear()


def _pack(rule: dict[str, Any], **requirement: Any) -> dict[str, Any]:
    return {"pack": "bad", "title": "Bad", "regime": "none", "source": "test",
            "requirements": [{"id": "X-1", "title": "x", "citation": "x", "obligation": "x", "bearer": "provider",
                              "rules": [rule], **requirement}]}


_SIG = {"alpha": 0.05, "source": "29 CFR 1607.4(D)"}


@pytest.mark.parametrize(("rule", "requirement", "problem"), [
    # thresholds are ids of thresholds.yaml, never literal numbers, and agree with the op
    ({"evidence": "data.profile", "metric": "rows", "op": ">=", "threshold": "no_such_threshold"}, {},
     ("X-1.rules", "threshold id 'no_such_threshold' is not in thresholds.yaml")),
    ({"evidence": "data.profile", "metric": "rows", "op": ">=", "threshold": 10}, {}, ("threshold", "valid string")),
    ({"evidence": "data.profile", "metric": "rows", "op": ">="}, {}, ("needs a threshold",)),
    ({"evidence": "data.profile", "metric": "missing_share", "op": "present", "threshold": "max_missing_share"}, {},
     ("'present' takes no threshold",)),
    ({"evidence": "performance.overall", "metric": "roc_auc", "op": "<=", "threshold": "min_roc_auc"}, {},
     ("X-1.rules", "min_roc_auc' is at_least", "contradicts")),
    ({"evidence": "performance.overall", "metric": "roc_auc", "op": "meets", "threshold": "min_roc_auc"}, {},
     ("'meets' goes with threshold @primary_metric",)),
    ({"evidence": "fairness.error_rates", "metric": "primary_metric_value", "op": "<=", "threshold": "@primary_metric"},
     {}, ("'meets' goes with threshold @primary_metric",)),
    # evidence and metrics are those of the registry, with the op their role allows
    ({"evidence": "data.nope", "metric": "rows", "op": ">=", "threshold": "max_reasons"}, {}, ("X-1.rules", "data.nope")),
    ({"evidence": "data.profile", "metric": "no_such_metric", "op": "present"}, {},
     ("X-1.rules", "has no metric 'no_such_metric'")),
    ({"evidence": "data.profile", "metric": "rows", "op": "present"}, {}, ("X-1.rules", "a count always exists")),
    ({"evidence": "performance.overall", "metric": "roc_auc", "op": "is_true"}, {},
     ("X-1.rules", "'is_true' cannot be applied to performance.overall.roc_auc, a figure")),
    ({"evidence": "fairness.selection_rate", "metric": "min_impact_ratio", "op": ">=", "threshold": "impact_ratio",
      "significance": {"p_value": "no_such_p", **_SIG}}, {}, ("X-1.rules", "no_such_p", "significance")),
    ({"evidence": "fairness.selection_rate", "metric": "min_impact_ratio", "op": ">=", "threshold": "impact_ratio",
      "significance": {"p_value": "min_impact_ratio_p_value", "alpha": 5, "source": "x"}}, {}, ("alpha",)),
    ({"evidence": "data.profile", "metric": "missing_share", "op": "present", "limit": 3}, {}, ("Extra inputs",)),
    ({"evidence": "data.profile", "metric": "missing_share", "op": "present"}, {"shows": ["data.nope"]},
     ("X-1.shows", "data.nope", "not registered")),
])
def test_malformed_pack_is_a_one_line_error(scratch_policies: Path, rule: dict[str, Any],
                                            requirement: dict[str, Any], problem: tuple[str, ...]) -> None:
    (scratch_policies / "bad.yaml").write_text(yaml.safe_dump(_pack(rule, **requirement)), encoding="utf-8")
    with pytest.raises(AuditInputError) as err:
        policies.load_pack("bad")
    message = str(err.value)
    assert "\n" not in message and "bad.yaml" in message
    for part in problem:
        assert part in message, message


def test_a_well_formed_scratch_pack_loads(scratch_policies: Path) -> None:
    """The fixture itself is sound: the malformed cases fail for their own reason only."""
    rule = {"evidence": "fairness.selection_rate", "metric": "min_impact_ratio", "op": ">=", "threshold": "impact_ratio",
            "significance": {"p_value": "min_impact_ratio_p_value", **_SIG}}
    (scratch_policies / "good.yaml").write_text(yaml.safe_dump({**_pack(rule, shows=["data.profile"]), "pack": "good"}),
                                                encoding="utf-8")
    assert policies.load_pack("good").requirements[0].rules[0].significance.alpha == 0.05


def test_unknown_pack_names_the_available_ones() -> None:
    with pytest.raises(AuditInputError, match="eu-ai-act"):
        load_pack("no-such-pack")


# ------------------------------------------------------------------------------------------------ open actions


def test_open_actions_list_every_unanswered_question_with_its_document() -> None:
    findings = evaluate(make_spec(packs=["gdpr"]), evidence(), audit_date=IN_FORCE)
    actions = open_actions(findings)
    asked = {a["id"] for a in actions if a["kind"] == "attest"}
    assert asked == {f.id for f in findings if f.attestation is not None and f.status is not Status.NA}
    first = next(a for a in actions if a["id"] == "GDPR-35")
    assert first["document"] == "Data protection impact assessment (DPIA)" and "attestations.GDPR-35" in first["record_in"]


def _check_actions_cover_every_review(findings: list[Finding], actions: list[dict[str, Any]]) -> None:
    assert any(a["kind"] == "evidence" and a["evidence"] == "local.shap" for a in actions)
    reviewed = {f.id for f in findings if f.status is Status.REVIEW}
    assert reviewed <= {a["id"] for a in actions}
    assert [a["kind"] for a in open_actions(findings, kinds=("evidence",))] == ["evidence"] * sum(
        a["kind"] == "evidence" for a in actions)
    assert set(ACTION_KINDS) >= {a["kind"] for a in actions}
    with pytest.raises(ValueError):
        open_actions(findings, kinds=("nonsense",))


def test_open_actions_put_remediation_first_and_cover_every_review() -> None:
    """A flip rate over the user's own threshold is remediated first, naming who set the threshold."""
    ev = evidence({"counterfactual.flip": {"max_flip_rate": 0.2}}, drop=("local.shap",))
    spec = make_spec(role="deployer", annex="5b", jurisdictions=["EU", "US"], domain="credit",
                     packs=["gdpr", "eu-ai-act", "ecoa-reg-b"],
                     thresholds={"flip_rate": {"value": 0.01, "set_by": "Fairness board"}})
    findings = evaluate(spec, ev, audit_date=IN_FORCE)
    assert by_id(findings)["ECOA-1002-6-b"].status is Status.FAIL
    assert by_id(findings)["GDPR-R71"].status is Status.REVIEW  # a recital sets no number: attestation-led
    actions = open_actions(findings)
    assert actions[0]["kind"] == "remediate" and actions[0]["id"] == "ECOA-1002-6-b"
    assert "max_flip_rate" in actions[0]["action"] and "Fairness board" in actions[0]["action"]
    _check_actions_cover_every_review(findings, actions)


def test_a_flip_rate_over_the_reference_is_shown_for_review_not_remediated() -> None:
    """Without the user's threshold, no law sets a flip rate: the same figure is REVIEW beside the reference."""
    ev = evidence({"counterfactual.flip": {"max_flip_rate": 0.2}}, drop=("local.shap",))
    spec = make_spec(role="deployer", annex="5b", jurisdictions=["EU", "US"], domain="credit",
                     packs=["gdpr", "eu-ai-act", "ecoa-reg-b"])
    findings = evaluate(spec, ev, audit_date=IN_FORCE)
    reg_b = by_id(findings)["ECOA-1002-6-b"]
    assert reg_b.status is Status.REVIEW
    assert "measured 0.2" in reg_b.reason and "does not meet the reference value <= 0.01" in reg_b.reason
    assert "set thresholds.flip_rate" in reg_b.reason
    actions = open_actions(findings)
    assert not any(a["kind"] == "remediate" for a in actions)
    flip = next(a for a in actions if a["id"] == "ECOA-1002-6-b" and a.get("metric") == "max_flip_rate")
    assert flip["kind"] == "decide" and flip["threshold_id"] == "flip_rate"  # not "provide evidence": it was measured
    assert "set thresholds.flip_rate" in flip["action"] and "0.2" in flip["action"]
    _check_actions_cover_every_review(findings, actions)
