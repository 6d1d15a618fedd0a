"""The policy contract of issue 9, each part against a constructed case.

- Nothing can PASS on evidence that is missing, not assessed, unmeasured or partial.
- Packs are checked against the evidence registry when they load (a ``present`` rule on a count, an
  unknown metric: one-line errors naming the requirement, never a silent REVIEW).
- Requirements not yet in force never decide the verdict; they are counted for readiness.
- The four-fifths rule decides only where the law sets it (29 CFR 1607.4(D), with its significance
  caveat); in an EU article it is a reference until the user sets it with ``set_by``.
- US packs apply by domain and jurisdiction, not by the EU's Annex III.
- ``@primary_metric`` follows the declared favourable decision.

Specs are built in memory; evidence comes from tests/factories.py with the passing values of
tests/test_policies.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from factories import make_evidence
from pydantic import ValidationError
from test_policies import PASSING, every_threshold_set, yes_to_everything
from test_policies import evidence as passing_evidence

from audit import policies
from audit.attestations import open_actions
from audit.errors import FAIRNESS_PRIMARY_UNDECIDED, AuditInputError
from audit.evidence import Evidence, Finding, Status
from audit.evidence_kinds import REGISTRY, metric_info
from audit.policies import Rule, evaluate, iter_requirements, readiness, verdict
from audit.spec import DOMAIN_NAMES, AuditSpec
from audit.thresholds import load_thresholds

ALL_PACKS = ["eu-ai-act", "gdpr", "nyc-ll144", "eeoc", "ecoa-reg-b", "colorado", "eu-led"]
IN_FORCE = dt.date(2028, 1, 15)
BEFORE_CFPB_WITHDRAWAL = dt.date(2025, 3, 1)  # the CFPB circulars were live until 2025-05-12
AFTER_OMNIBUS = dt.date(2026, 11, 22)  # the GDPR is in force; the AI Act's Annex III chapter is not (2027-12-02)


def spec_of(*, packs: list[str] | None = None, favourable: str | None = "positive", thresholds: dict[str, Any] | None = None,
            attestations: dict[str, Any] | None = None, fairness: dict[str, Any] | None = None,
            protected: list[Any] | None = None, **system: Any) -> AuditSpec:
    """A spec built in memory; ``system`` fields override a deployer in the EU with no Annex III point."""
    return AuditSpec.model_validate({
        "system": {"name": "Test system", "version": "1", "provider": "Example", "intended_purpose": "testing",
                   "role": "deployer", "jurisdictions": ["EU"], "annex_iii_area": "none", **system},
        "data": {"path": "data.csv", "favourable_decision": favourable, "protected": protected or []},
        "fairness": fairness or {},
        "policies": packs or ALL_PACKS,
        "thresholds": thresholds or {},
        "attestations": attestations or {},
    })


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def rule_of(finding: Finding, metric: str):
    return next(r for r in finding.rules if r.metric == metric)


def with_metrics(evidence_id: str, **metrics: Any) -> list[Evidence]:
    """The passing evidence with some metrics of one kind changed."""
    return passing_evidence({evidence_id: metrics})


# ------------------------------------------------------------------------------------------------ (a) no PASS without evidence

# Specs under which, together, every requirement of every pack applies; the date decides what is evaluated.
APPLICABLE: dict[str, tuple[dict[str, Any], dt.date]] = {
    "eu-credit-provider-deployer": ({"role": "provider-deployer", "jurisdictions": ["EU", "US"], "annex_iii_area": "5b",
                                     "domain": "credit", "public_body": True, "solely_automated": True,
                                     "provider_in_eu": False, "consumer_report_used": True,
                                     "interacts_with_people": True,
                                     "protected": [{"column": "race", "special_category": True,
                                                    "art9_basis": "9(2)(g) national law"}]}, IN_FORCE),
    "eu-credit-no-profiling": ({"role": "provider-deployer", "jurisdictions": ["EU"], "annex_iii_area": "5b",
                                "profiling": False, "public_body": True, "solely_automated": True,
                                "provider_in_eu": True}, IN_FORCE),
    "eu-critical-infrastructure": ({"role": "provider", "jurisdictions": ["EU"], "annex_iii_area": "2",
                                    "domain": "other", "solely_automated": False, "provider_in_eu": True}, IN_FORCE),
    "eu-criminal-justice": ({"role": "provider-deployer", "jurisdictions": ["EU"], "annex_iii_area": "6",
                             "domain": "criminal_justice", "public_body": True, "solely_automated": True,
                             "provider_in_eu": True}, IN_FORCE),
    "us-nyc-hiring-deployer": ({"role": "deployer", "jurisdictions": ["US-NYC"], "domain": "employment_screening"},
                               IN_FORCE),
    "us-nyc-hiring-scoring": ({"role": "deployer", "jurisdictions": ["US-NYC"], "domain": "employment_screening",
                               "use": "scoring"}, IN_FORCE),
    "us-credit-deployer": ({"role": "deployer", "jurisdictions": ["US"], "domain": "credit",
                            "consumer_report_used": True}, IN_FORCE),
    "us-credit-before-cfpb-withdrawal": ({"role": "deployer", "jurisdictions": ["US"], "domain": "credit",
                                          "consumer_report_used": False}, BEFORE_CFPB_WITHDRAWAL),
    "colorado": ({"role": "provider-deployer", "jurisdictions": ["US-CO"], "domain": "credit",
                  "consumer_report_used": False}, IN_FORCE),
}


def decidable_spec(system: dict[str, Any]) -> AuditSpec:
    """Every pack, every attestation 'yes', every threshold set by the user: every rule could PASS."""
    return spec_of(attestations=yes_to_everything(), thresholds=every_threshold_set(), **system)


def baseline(case: str) -> tuple[AuditSpec, dt.date, list[Evidence], dict[str, Finding]]:
    system, date = APPLICABLE[case]
    spec = decidable_spec(system)
    ev = passing_evidence()
    return spec, date, ev, by_id(evaluate(spec, ev, audit_date=date))


def replaced(ev: list[Evidence], evidence_id: str, new: Evidence | None) -> list[Evidence]:
    return [e for e in ev if e.id != evidence_id] + ([new] if new is not None else [])


def check_only_dependants_change(base: dict[str, Finding], after: list[Finding], depends, expected_in_reason: str) -> int:
    """Findings with a rule that ``depends`` are REVIEW naming why; every other finding is as before. Returns how many."""
    hit = 0
    for f in after:
        if any(depends(r) for r in f.rules):
            hit += 1
            assert f.status is not Status.PASS, f"{f.id} PASSES without {expected_in_reason}: {f.reason}"
            assert f.status is Status.REVIEW, f"{f.id}: {f.reason}"
            assert expected_in_reason in f.reason, f"{f.id}: {f.reason}"
        else:
            assert f.status is base[f.id].status, f"{f.id} changed: {f.reason}"
    return hit


@pytest.mark.parametrize("case", list(APPLICABLE))
def test_the_decidable_baseline_passes_everything_that_applies(case: str) -> None:
    _, _, _, findings = baseline(case)
    for f in findings.values():
        assert f.status in (Status.PASS, Status.NA), f"{case} {f.id}: {f.reason}"
        for r in f.rules:
            assert r.status is Status.PASS and (r.threshold_id is None or r.binding), f"{f.id}: {r.note}"


def test_the_baseline_cases_together_make_every_requirement_pass() -> None:
    passed = {fid for case in APPLICABLE for fid, f in baseline(case)[3].items() if f.status is Status.PASS}
    # Texts that never applied are history whatever the spec (Art. 10(5), Colorado SB 24-205): never a status.
    never = {req.id for _, req in iter_requirements(ALL_PACKS)
             if req.repealed is not None and req.applies_from is not None
             and req.repealed.date <= req.applies_from.original}
    everything = {req.id for _, req in iter_requirements(ALL_PACKS)}
    assert never == {"EUAIA-10-5", "CO-SB24-205"}
    assert everything - never - passed == set()


@pytest.mark.parametrize("mode", ["drop", "not_assessed"])
@pytest.mark.parametrize("case", list(APPLICABLE))
def test_no_requirement_passes_when_its_evidence_is_missing(case: str, mode: str) -> None:
    spec, date, ev, base = baseline(case)
    affected = 0
    for evidence_id in REGISTRY:
        if mode == "drop":
            new, why = None, f"evidence '{evidence_id}' was not produced"
        else:
            reason = f"no model access for {evidence_id}"
            new, why = Evidence.not_assessed(evidence_id, evidence_id.split(".")[0], "t", reason), reason
        after = evaluate(spec, replaced(ev, evidence_id, new), audit_date=date)
        affected += check_only_dependants_change(base, after, lambda r, e=evidence_id: r.evidence == e, why)
    assert affected > 0


@pytest.mark.parametrize("case", list(APPLICABLE))
def test_no_requirement_passes_when_a_metric_it_tests_is_unmeasured(case: str) -> None:
    spec, date, ev, base = baseline(case)
    tested = {(rule.evidence, rule.metric) for _, req in iter_requirements(ALL_PACKS) for rule in req.rules}
    affected, unmeasurable = 0, set()
    for evidence_id, kind in REGISTRY.items():
        for metric in kind.model_fields:
            try:
                item = make_evidence(evidence_id, **{**PASSING.get(evidence_id, {}), metric: None},
                                     missing={metric: f"test: {metric} left unmeasured"})
            except ValidationError:  # a count, or a value the check always gives: never None
                unmeasurable.add((evidence_id, metric))
                continue
            after = evaluate(spec, replaced(ev, evidence_id, item), audit_date=date)
            affected += check_only_dependants_change(
                base, after, lambda r, e=evidence_id, m=metric: (r.evidence, r.metric) == (e, m),
                f"{metric} not measured: test: {metric} left unmeasured")
    assert affected > 0
    # what cannot be None is a count, or what a check always states; a rule on it compares, never asks 'present'
    for evidence_id, metric in unmeasurable:
        info = metric_info(evidence_id, metric)
        assert info is not None and (info.role == "count" or not info.missing), (evidence_id, metric)
    present_rules = {(r.evidence, r.metric) for _, q in iter_requirements(ALL_PACKS) for r in q.rules if r.op == "present"}
    assert not present_rules & unmeasurable
    assert tested - unmeasurable  # the loop above reached rules


@pytest.mark.parametrize("case", list(APPLICABLE))
def test_no_requirement_passes_on_a_partial_figure(case: str) -> None:
    spec, date, ev, base = baseline(case)
    affected = 0
    for evidence_id, kind in REGISTRY.items():
        for metric in kind.model_fields:
            item = make_evidence(evidence_id, **PASSING.get(evidence_id, {}),
                                 partial={metric: "test: one attribute could not be compared"})
            if item.metrics[metric] is None:
                continue
            after = evaluate(spec, replaced(ev, evidence_id, item), audit_date=date)
            affected += check_only_dependants_change(
                base, after, lambda r, e=evidence_id, m=metric: (r.evidence, r.metric) == (e, m),
                "partial: test: one attribute could not be compared")
    assert affected > 0


# ------------------------------------------------------------------------------------------------ (b), (c) pack load checks


@pytest.fixture()
def scratch_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(policies, "POLICY_DIR", tmp_path)
    policies.load_pack.cache_clear()
    yield tmp_path
    policies.load_pack.cache_clear()


def write_pack(folder: Path, requirement_id: str, rule: dict[str, Any]) -> None:
    pack = {"pack": "scratch", "title": "Scratch", "regime": "none", "source": "test",
            "requirements": [{"id": requirement_id, "title": "x", "citation": "x", "obligation": "x",
                              "bearer": "provider", "rules": [rule], "attestation": {"question": "q?", "document": "d"}}]}
    (folder / "scratch.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")


def test_present_is_refused_on_every_count_and_accepted_on_everything_else() -> None:
    for evidence_id, kind in REGISTRY.items():
        for metric in kind.model_fields:
            info = metric_info(evidence_id, metric)
            problem = policies._rule_problem(Rule(evidence=evidence_id, metric=metric, op="present"))
            if info.role == "count":
                assert problem is not None and "a count always exists" in problem, (evidence_id, metric)
                assert f"{evidence_id}.{metric}" in problem
            else:
                assert problem is None, (evidence_id, metric, problem)


def test_a_present_rule_on_a_count_is_refused_at_load_naming_the_requirement(scratch_policies: Path) -> None:
    write_pack(scratch_policies, "X-PRESENT-COUNT",
               {"evidence": "counterfactual.recourse", "metric": "n_adverse", "op": "present"})
    with pytest.raises(AuditInputError) as err:
        policies.load_pack("scratch")
    message = str(err.value)
    assert "\n" not in message and "scratch.yaml" in message and "X-PRESENT-COUNT" in message
    assert "counterfactual.recourse.n_adverse" in message and "count" in message


@pytest.mark.parametrize(("rule", "named"), [
    ({"evidence": "fairness.selection_rate", "metric": "min_impact_raito", "op": ">=", "threshold": "impact_ratio"},
     "min_impact_raito"),
    ({"evidence": "local.shap", "metric": "explanation_coverage", "op": "present"}, "explanation_coverage"),
    ({"evidence": "fairness.selection_rates", "metric": "min_impact_ratio", "op": "present"}, "fairness.selection_rates"),
    ({"evidence": "fairness.selection_rate", "metric": "min_impact_ratio", "op": ">=", "threshold": "impact_ratio",
      "significance": {"p_value": "p_value", "alpha": 0.05, "source": "29 CFR 1607.4(D)"}}, "p_value"),
])
def test_a_rule_naming_an_unknown_metric_is_an_error_at_load_not_a_silent_review(
        scratch_policies: Path, rule: dict[str, Any], named: str) -> None:
    write_pack(scratch_policies, "X-UNKNOWN", rule)
    with pytest.raises(AuditInputError) as err:
        policies.load_pack("scratch")
    message = str(err.value)
    assert "\n" not in message and "X-UNKNOWN" in message and named in message
    assert "audit/evidence_kinds.py" in message or "significance" in message


def test_the_scratch_pack_loads_once_the_rule_is_sound(scratch_policies: Path) -> None:
    write_pack(scratch_policies, "X-SOUND",
               {"evidence": "fairness.selection_rate", "metric": "min_impact_ratio", "op": ">=", "threshold": "impact_ratio"})
    assert policies.load_pack("scratch").requirements[0].id == "X-SOUND"


# ------------------------------------------------------------------------------------------------ (d) not in force


def test_a_fail_not_yet_in_force_does_not_decide_the_verdict_and_shows_in_readiness() -> None:
    spec = spec_of(role="provider", annex_iii_area="5b", packs=["eu-ai-act", "gdpr"], attestations=yes_to_everything(),
                   thresholds=every_threshold_set(), solely_automated=True, provider_in_eu=True)
    ev = with_metrics("performance.overall", roc_auc=0.55)  # under the committee's 0.7
    early = by_id(evaluate(spec, ev, audit_date=AFTER_OMNIBUS))
    failing = {"EUAIA-9-6-8", "EUAIA-15-1-3"}
    for rid in failing:
        assert early[rid].status is Status.FAIL and not early[rid].in_force, rid
        assert early[rid].applies_from == "2027-12-02" and "Not yet in force" in early[rid].reason
    in_force = [f for f in early.values() if f.in_force]
    assert in_force and all(f.status in (Status.PASS, Status.NA) for f in in_force)

    status, counts = verdict(list(early.values()))
    assert status is Status.PASS and counts["FAIL"] == 0
    assert counts["PASS"] == sum(f.status is Status.PASS for f in in_force)
    ready, ready_counts = readiness(list(early.values()))
    assert ready is Status.FAIL and ready_counts["FAIL"] == len(failing)
    assert "N/A" not in ready_counts
    assert ready_counts["PASS"] == sum(1 for f in early.values() if not f.in_force and f.status is Status.PASS)

    # once in force, the same failure decides
    later = evaluate(spec, ev, audit_date=IN_FORCE)
    assert verdict(later)[0] is Status.FAIL and readiness(later) == (None, {"PASS": 0, "FAIL": 0, "REVIEW": 0})


def test_verdict_and_readiness_split_hand_made_findings() -> None:
    def finding(fid: str, status: Status, in_force: bool) -> Finding:
        return Finding(id=fid, pack="p", title="t", citation="c", obligation="o", bearer="provider", status=status,
                       reason="r", in_force=in_force, applies_from=None if in_force else "2099-01-01")

    findings = [finding("A", Status.PASS, True), finding("B", Status.NA, True), finding("C", Status.FAIL, False),
                finding("D", Status.REVIEW, False), finding("E", Status.NA, False)]
    assert verdict(findings) == (Status.PASS, {"PASS": 1, "FAIL": 0, "REVIEW": 0, "N/A": 1})
    assert readiness(findings) == (Status.FAIL, {"PASS": 0, "FAIL": 1, "REVIEW": 1})
    # nothing in force but not-yet requirements: the verdict is REVIEW, never the readiness FAIL
    assert verdict(findings[2:])[0] is Status.REVIEW


# ------------------------------------------------------------------------------------------------ (e) EEOC four-fifths and 1607.4(D)


def eeoc_finding(ratio: float, p_value: float | None, **spec: Any) -> Finding:
    s = spec_of(packs=["eeoc"], jurisdictions=["US"], domain="employment_screening", attestations=yes_to_everything(),
                **spec)
    ev = with_metrics("fairness.eeo_impact", min_attribute_impact_ratio=ratio, min_attribute_impact_ratio_p_value=p_value)
    return by_id(evaluate(s, ev, audit_date=IN_FORCE))["EEOC-1607-4-D"]


def test_four_fifths_shortfall_that_is_not_significant_is_review_naming_the_p_value() -> None:
    f = eeoc_finding(0.7, 0.3)
    rule = rule_of(f, "min_attribute_impact_ratio")
    assert f.status is Status.REVIEW and rule.status is Status.REVIEW and rule.binding and rule.observed == 0.7
    assert "p = 0.3" in f.reason and "alpha 0.05" in f.reason and "1607.4(D)" in f.reason
    assert "not statistically significant" in f.reason
    # at the level itself the shortfall is still not significant
    assert eeoc_finding(0.7, 0.05).status is Status.REVIEW


def test_four_fifths_shortfall_that_is_significant_fails() -> None:
    f = eeoc_finding(0.7, 0.001)
    rule = rule_of(f, "min_attribute_impact_ratio")
    assert f.status is Status.FAIL and rule.status is Status.FAIL and rule.threshold == 0.8 and rule.binding
    assert "min_attribute_impact_ratio = 0.7 (required >= 0.8)" in f.reason


def test_four_fifths_met_passes() -> None:
    f = eeoc_finding(0.85, 0.3)
    assert f.status is Status.PASS, f.reason
    assert all(r.status is Status.PASS for r in f.rules) and f.attestation.answer == "yes"


def test_four_fifths_shortfall_without_a_p_value_is_review_not_fail() -> None:
    f = eeoc_finding(0.7, None)
    assert f.status is Status.REVIEW and "not measured" in rule_of(f, "min_attribute_impact_ratio").note


# ------------------------------------------------------------------------------------------------ (f) four-fifths in an EU article


EU_FOUR_FIFTHS = ("EUAIA-10-2-g", "EUAIA-9-6-8")


def eu_findings(thresholds: dict[str, Any]) -> dict[str, Finding]:
    spec = spec_of(role="provider", annex_iii_area="5b", packs=["eu-ai-act"], attestations=yes_to_everything(),
                   thresholds=thresholds)
    ev = with_metrics("fairness.selection_rate", min_impact_ratio=0.66, min_impact_ratio_p_value=0.3)
    return by_id(evaluate(spec, ev, audit_date=IN_FORCE))


def test_four_fifths_in_an_eu_article_is_a_reference_shown_for_review() -> None:
    others = {k: v for k, v in every_threshold_set().items() if k != "impact_ratio"}  # everything else decides
    f = eu_findings(others)
    for rid in EU_FOUR_FIFTHS:
        rule = rule_of(f[rid], "min_impact_ratio")
        assert f[rid].status is Status.REVIEW, f"{rid}: {f[rid].reason}"
        assert rule.status is Status.REVIEW and not rule.binding and rule.observed == 0.66 and rule.threshold == 0.8
        assert "measured 0.66" in f[rid].reason and "does not meet the reference value >= 0.8" in f[rid].reason
        assert "four-fifths" in f[rid].reason and "set thresholds.impact_ratio" in f[rid].reason
        assert [r.status for r in f[rid].rules if r.metric != "min_impact_ratio"] == [Status.PASS] * (len(f[rid].rules) - 1)


def test_four_fifths_set_by_the_user_decides_in_an_eu_article_naming_who_set_it() -> None:
    thresholds = {**every_threshold_set(), "impact_ratio": {"value": 0.8, "set_by": "Risk committee"}}
    f = eu_findings(thresholds)
    for rid in EU_FOUR_FIFTHS:
        rule = rule_of(f[rid], "min_impact_ratio")
        assert f[rid].status is Status.FAIL, f"{rid}: {f[rid].reason}"
        assert rule.status is Status.FAIL and rule.binding and "Risk committee" in rule.threshold_source
        assert "min_impact_ratio = 0.66 (required >= 0.8)" in f[rid].reason
    remediate = [a for a in open_actions(list(f.values())) if a["kind"] == "remediate"]
    assert {a["id"] for a in remediate} == set(EU_FOUR_FIFTHS)
    assert all("set by Risk committee" in a["action"] for a in remediate)


# ------------------------------------------------------------------------------------------------ (g) applicability without the EU

US_PACKS = ["nyc-ll144", "eeoc"]


def us_findings(**system: Any) -> dict[str, Finding]:
    system = {"jurisdictions": ["US-NYC"], "annex_iii_area": "none", "role": "deployer", **system}
    spec = spec_of(packs=US_PACKS, **system)
    return by_id(evaluate(spec, passing_evidence(), audit_date=IN_FORCE))


def test_nyc_and_eeoc_apply_to_a_hiring_tool_by_domain_without_annex_iii() -> None:
    f = us_findings(domain="employment_screening")
    assert set(f) == {req.id for _, req in iter_requirements(US_PACKS)}
    for fid, finding in f.items():
        if fid == "NYC-5-301-SCORE":  # a scoring tool's audit; this one classifies
            assert finding.status is Status.NA and "scoring tools" in finding.reason
            continue
        assert finding.status is not Status.NA, f"{fid}: {finding.reason}"
        assert "undecided" not in finding.reason, fid


def test_without_a_domain_the_us_packs_ask_for_it_instead_of_not_applying() -> None:
    f = us_findings(domain=None)
    for fid, finding in f.items():
        if fid == "NYC-5-301-SCORE":  # ruled out by what the spec does say (a classifier), domain or not
            assert finding.status is Status.NA and "scoring tools" in finding.reason
            continue
        assert finding.status is Status.REVIEW, f"{fid}: {finding.status} {finding.reason}"
        assert "undecided" in finding.reason and "does not say what the system decides about" in finding.reason
        assert "system.domain" in finding.reason and "employment_screening" in finding.reason


def test_a_credit_tool_is_outside_nyc_ll144_naming_its_domain() -> None:
    f = us_findings(domain="credit")
    for req in policies.load_pack("nyc-ll144").requirements:
        finding = f[req.id]
        assert finding.status is Status.NA, req.id
        assert DOMAIN_NAMES["credit"] in finding.reason and DOMAIN_NAMES["employment_screening"] in finding.reason
    assert f["EEOC-1607-4-D"].status is Status.NA


def test_an_unknown_domain_does_not_hide_what_the_spec_already_rules_out() -> None:
    provider = us_findings(domain=None, role="provider")
    assert provider["NYC-20-871-a"].status is Status.NA and "duty of the deployer" in provider["NYC-20-871-a"].reason
    scoring = us_findings(domain=None, use="scoring")
    assert scoring["NYC-5-301-SEL"].status is Status.NA and "classification" in scoring["NYC-5-301-SEL"].reason


# ------------------------------------------------------------------------------------------------ (h) @primary_metric


def primary_rule(value: float = 0.08, *, favourable: str | None, thresholds: dict[str, Any] | None = None,
                 fairness: dict[str, Any] | None = None) -> tuple[Finding, Any]:
    spec = spec_of(packs=["gdpr"], favourable=favourable, thresholds=thresholds, fairness=fairness,
                   attestations=yes_to_everything())
    f = by_id(evaluate(spec, with_metrics("fairness.error_rates", primary_metric_value=value), audit_date=IN_FORCE))
    finding = f["GDPR-5-1-a"]
    return finding, rule_of(finding, "primary_metric_value")


def test_negative_favourable_decision_compares_against_the_false_positive_rate_gap() -> None:
    finding, rule = primary_rule(favourable="negative")
    assert rule.threshold_id == "false_positive_rate_gap" and rule.op == "<=" and rule.threshold == 0.1
    assert rule.status is Status.REVIEW and not rule.binding  # no law sets it
    assert "measured 0.08; it meets the reference value <= 0.1" in finding.reason
    assert "set thresholds.false_positive_rate_gap" in finding.reason
    own = {"false_positive_rate_gap": {"value": 0.05, "set_by": "Fraud-model owner"}}
    finding, rule = primary_rule(favourable="negative", thresholds=own)
    assert rule.status is Status.FAIL and rule.binding and finding.status is Status.FAIL
    assert rule.threshold == 0.05 and "Fraud-model owner" in rule.threshold_source
    # the older declaration of the same direction
    _, older = primary_rule(favourable=None, fairness={"decision_nature": "punitive"})
    assert older.threshold_id == "false_positive_rate_gap"


def test_positive_favourable_decision_compares_against_the_equal_opportunity_gap() -> None:
    finding, rule = primary_rule(favourable="positive")
    assert rule.threshold_id == "equal_opportunity_gap" and rule.op == "<=" and rule.status is Status.REVIEW
    own = {"equal_opportunity_gap": {"value": 0.1, "set_by": "Credit risk committee"}}
    finding, rule = primary_rule(favourable="positive", thresholds=own)
    assert rule.status is Status.PASS and rule.binding and finding.status is Status.PASS, finding.reason
    _, older = primary_rule(favourable=None, fairness={"decision_nature": "assistive"})
    assert older.threshold_id == "equal_opportunity_gap"


def test_a_named_primary_metric_brings_its_own_threshold_and_direction() -> None:
    fairness = {"primary_metric": "demographic_parity_ratio", "justification": "Board decision 2026-09"}
    own = {"impact_ratio": {"value": 0.8, "set_by": "Board"}}
    finding, rule = primary_rule(0.75, favourable="positive", fairness=fairness, thresholds=own)
    assert rule.threshold_id == "impact_ratio" and rule.op == ">=" and rule.status is Status.FAIL


def test_without_a_declared_direction_no_primary_threshold_applies() -> None:
    for thresholds in ({}, every_threshold_set()):
        finding, rule = primary_rule(favourable=None, thresholds=thresholds)
        assert rule.status is Status.REVIEW and rule.threshold is None and not rule.binding
        assert rule.threshold_id == "@primary_metric"
        assert finding.status is Status.REVIEW and "no threshold applies" in finding.reason
        assert FAIRNESS_PRIMARY_UNDECIDED in finding.reason and "data.favourable_decision" in finding.reason
    assert load_thresholds()  # the threshold ids above exist
