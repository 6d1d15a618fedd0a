"""Whether and when each requirement applies: constructed specs, one law change or spec field at a time.

Issue 11 ("the policy packs say what the law says") listed applicability errors a lawyer
would catch. Each test here builds the smallest spec that isolates one condition (role,
domain, jurisdiction, public body, solely automated decisions, placing on the market,
the audit date before and after a change of law) and asserts the status and the words
of the reason, not only that something happened. No model or data is loaded: evidence
comes from tests/factories.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from factories import passing_evidence

from audit.errors import AUDITED_PARTY_MISSING, AUDITED_PARTY_UNEXPECTED, AuditInputError
from audit.evidence import Evidence, Finding, Status
from audit.policies import PUBLIC_AUTHORITY_DEADLINE, evaluate, history, law_alerts
from audit.spec import AuditSpec, load_spec

PACKS = ["eu-ai-act", "gdpr", "nyc-ll144", "eeoc", "ecoa-reg-b", "colorado", "eu-led"]
BEFORE_OMNIBUS = dt.date(2026, 7, 1)  # Regulation (EU) 2026/1744 in force from 2026-07-27
AFTER_OMNIBUS = dt.date(2026, 11, 30)
LATER = dt.date(2028, 6, 1)  # the Annex III chapter (2027-12-02) and Colorado SB 26-189 (2027-01-01) in force


def spec(*, protected: list[Any] | None = None, packs: list[str] | None = None, **system: Any) -> AuditSpec:
    """A spec whose system block is the defaults below, changed by ``system``."""
    block = {"name": "Test system", "version": "1", "provider": "Example", "intended_purpose": "testing",
             "role": "deployer", "jurisdictions": ["EU"], "annex_iii_area": "5b", **system}
    return AuditSpec.model_validate({"system": block, "policies": packs or PACKS,
                                     "data": {"path": "data.csv", "favourable_decision": "positive",
                                              "protected": protected or ["sex"]}})


def findings(s: AuditSpec, date: dt.date = LATER, ev: list[Evidence] | None = None) -> dict[str, Finding]:
    return {f.id: f for f in evaluate(s, passing_evidence() if ev is None else ev, audit_date=date)}


# ------------------------------------------------------------------------------------------------ role


def test_an_auditor_assesses_the_audited_partys_duties_not_its_own() -> None:
    f = findings(spec(role="auditor", audited_party="deployer"))
    assert f["EUAIA-9-2"].status is Status.NA
    assert "a duty of the provider; the audited organisation is the deployer" in f["EUAIA-9-2"].reason
    assert f["EUAIA-26"].status is not Status.NA  # the deployer's duty applies
    assert f["EUAIA-27"].status is not Status.NA  # 5(b): every deployer's FRIA


def test_a_regulator_reviewing_an_in_house_system_sees_both_roles_duties() -> None:
    f = findings(spec(role="regulator", audited_party="provider-deployer"))
    assert f["EUAIA-9-2"].status is not Status.NA and f["EUAIA-26"].status is not Status.NA


def test_the_same_spec_as_provider_sees_the_provider_duties() -> None:
    f = findings(spec(role="provider"))
    assert f["EUAIA-9-2"].status is not Status.NA
    assert f["EUAIA-26"].status is Status.NA
    assert "a duty of the deployer; this audit's organisation is the provider" in f["EUAIA-26"].reason


def _write(tmp_path: Path, system_lines: str) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text("system:\n  name: S\n  version: '1'\n  provider: P\n  intended_purpose: t\n" + system_lines
                    + "data:\n  path: data.csv\n", encoding="utf-8")
    return path


def test_an_auditor_without_the_audited_party_is_a_one_line_input_error(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError) as caught:
        load_spec(_write(tmp_path, "  role: auditor\n"))
    assert AUDITED_PARTY_MISSING.format(role="auditor") in str(caught.value)
    assert "system" in str(caught.value) and "\n" not in str(caught.value)


def test_an_audited_party_on_a_self_audit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError) as caught:
        load_spec(_write(tmp_path, "  role: provider\n  audited_party: deployer\n"))
    assert AUDITED_PARTY_UNEXPECTED.format(role="provider") in str(caught.value)


# ------------------------------------------------------------------------------------------------ domain


def test_ll144_covers_screening_and_promotion_only_not_termination_or_monitoring() -> None:
    for domain in ("employment_screening", "promotion"):
        f = findings(spec(jurisdictions=["US-NYC"], annex_iii_area="4a", domain=domain))
        assert f["NYC-5-301-SEL"].status is not Status.NA, domain
    other = findings(spec(jurisdictions=["US-NYC"], annex_iii_area="4b", domain="other_employment"))
    for rid in ("NYC-20-871-a", "NYC-5-301-SEL", "NYC-20-871-b"):
        assert other[rid].status is Status.NA
        assert "this system's domain is employment: terms of work, termination" in other[rid].reason


def test_annex_iii_4b_implies_no_domain_so_ll144_is_undecided_until_the_spec_says() -> None:
    f = findings(spec(jurisdictions=["US-NYC"], annex_iii_area="4b"))
    assert f["NYC-5-301-SEL"].status is Status.REVIEW
    assert "Whether this applies is undecided" in f["NYC-5-301-SEL"].reason and "system.domain" in f["NYC-5-301-SEL"].reason


def test_colorado_consequential_decisions_exclude_justice_and_include_housing() -> None:
    justice = findings(spec(jurisdictions=["US-CO"], annex_iii_area="8", domain="justice"))
    assert justice["CO-SB26-189-DEP"].status is Status.NA
    assert "administration of justice" in justice["CO-SB26-189-DEP"].reason
    housing = findings(spec(jurisdictions=["US-CO"], annex_iii_area="none", domain="housing"))
    assert housing["CO-SB26-189-DEP"].status is not Status.NA


def test_criminal_justice_uses_the_law_enforcement_directive_not_the_gdpr() -> None:
    f = findings(spec(annex_iii_area="6", domain="criminal_justice", solely_automated=True))
    assert f["GDPR-5-1-a"].status is Status.NA and "criminal justice" in f["GDPR-5-1-a"].reason
    assert "Directive (EU) 2016/680" in f["GDPR-5-1-a"].reason and "pack eu-led" in f["GDPR-5-1-a"].reason
    assert f["LED-11"].status is not Status.NA and f["LED-27"].status is not Status.NA
    credit = findings(spec(domain="credit", solely_automated=True))
    assert credit["LED-11"].status is Status.NA and credit["GDPR-5-1-a"].status is not Status.NA


def test_criminal_justice_raises_the_art_5_1_d_prohibition_on_the_cover() -> None:
    s = spec(annex_iii_area="6", domain="criminal_justice", packs=["eu-ai-act", "gdpr"])
    f = evaluate(s, passing_evidence(), audit_date=AFTER_OMNIBUS)
    screen = next(x for x in f if x.id == "EUAIA-5-1-d")
    assert screen.status is Status.REVIEW and screen.in_force  # Art. 5 applies since 2025-02-02
    alerts = law_alerts(s, f)
    assert any("Art. 5(1)(d)" in a and "EUAIA-5-1-d is REVIEW" in a for a in alerts)
    assert any("eu-led" in a and "2016/680" in a for a in alerts)  # the pack is missing from this spec
    assert law_alerts(spec(domain="credit"), f) == []


# ------------------------------------------------------------------------------------------------ jurisdiction


def test_us_law_needs_use_in_the_united_states_and_new_york_is_in_it() -> None:
    eu = findings(spec(domain="credit"))
    assert eu["ECOA-1002-9-b-2"].status is Status.NA and "the United States" in eu["ECOA-1002-9-b-2"].reason
    nyc = findings(spec(jurisdictions=["US-NYC"], annex_iii_area="4a", role="deployer"))
    assert nyc["EEOC-1607-4-D"].status is not Status.NA


# ------------------------------------------------------------------------------------------------ public body


def test_fria_for_5a_only_through_the_public_body_branch() -> None:
    private = findings(spec(annex_iii_area="5a", public_body=False))
    assert private["EUAIA-27"].status is Status.NA
    unknown = findings(spec(annex_iii_area="5a"))
    assert unknown["EUAIA-27"].status is Status.REVIEW and "system.public_body" in unknown["EUAIA-27"].reason
    public = findings(spec(annex_iii_area="5a", public_body=True))
    assert public["EUAIA-27"].status is not Status.NA
    credit = findings(spec(annex_iii_area="5b", public_body=False))  # 5(b): every deployer
    assert credit["EUAIA-27"].status is not Status.NA


# ------------------------------------------------------------------------------------------------ solely automated


@pytest.mark.parametrize("rid", ["GDPR-13-2-f", "GDPR-14-2-g", "GDPR-15-1-h", "GDPR-22-1-2", "GDPR-22-3", "CJEU-DNB"])
def test_art_22_information_duties_follow_solely_automated_decisions(rid: str) -> None:
    undecided = findings(spec(solely_automated=None))[rid]
    assert undecided.status is Status.REVIEW and "system.solely_automated" in undecided.reason
    no = findings(spec(solely_automated=False))[rid]
    assert no.status is Status.NA and "meaningfully involved" in no.reason
    assert findings(spec(solely_automated=True))[rid].status is not Status.NA


def test_a_dpia_follows_profiling_not_solely_automated_decisions() -> None:
    f = findings(spec(solely_automated=False, profiling=True))
    assert f["GDPR-35"].status is not Status.NA


# ------------------------------------------------------------------------------------------------ placing on the market


def test_a_system_placed_before_the_annex_iii_date_and_unchanged_is_not_covered() -> None:
    f = findings(spec(role="provider", placed_on_market="2025-03-01", significant_change=False, public_body=False))
    assert f["EUAIA-9-2"].status is Status.NA
    assert "Art. 111(2)" in f["EUAIA-9-2"].reason and "2025-03-01" in f["EUAIA-9-2"].reason
    assert f["EUAIA-5"].status is not Status.NA  # not a high-risk duty: Art. 5 applies to every system


def test_a_significant_change_brings_it_under_the_act() -> None:
    f = findings(spec(role="provider", placed_on_market="2025-03-01", significant_change=True, public_body=False))
    assert f["EUAIA-9-2"].status is not Status.NA


def test_unstated_change_is_undecided() -> None:
    f = findings(spec(role="provider", placed_on_market="2025-03-01", public_body=False))
    assert f["EUAIA-9-2"].status is Status.REVIEW and "system.significant_change" in f["EUAIA-9-2"].reason


def test_public_authority_use_complies_by_2030() -> None:
    s = spec(role="provider", placed_on_market="2025-03-01", significant_change=False, public_body=True)
    before = findings(s, date=LATER)["EUAIA-9-2"]
    assert before.applies_from == PUBLIC_AUTHORITY_DEADLINE.isoformat() == "2030-08-02" and not before.in_force
    assert findings(s, date=dt.date(2030, 9, 1))["EUAIA-9-2"].in_force


def test_the_cut_off_date_moves_with_the_omnibus() -> None:
    # Placed on 2026-09-01: after the original Annex III date (2026-08-02) but before the amended one (2027-12-02).
    s = spec(role="provider", placed_on_market="2026-09-01", significant_change=False, public_body=False)
    assert findings(s, date=BEFORE_OMNIBUS)["EUAIA-9-2"].status is not Status.NA
    after = findings(s, date=AFTER_OMNIBUS)["EUAIA-9-2"]
    assert after.status is Status.NA and "2027-12-02" in after.reason


# ------------------------------------------------------------------------------------------------ audit date and changes of law


def test_annex_iii_date_before_and_after_the_omnibus() -> None:
    s = spec(role="provider")
    assert findings(s, date=BEFORE_OMNIBUS)["EUAIA-9-2"].applies_from == "2026-08-02"
    after = findings(s, date=AFTER_OMNIBUS)["EUAIA-9-2"]
    assert after.applies_from == "2027-12-02" and not after.in_force


def test_withdrawn_cfpb_circulars_are_history_after_12_may_2025_and_live_before() -> None:
    s = spec(jurisdictions=["US"], domain="credit")
    assert "CFPB-2022-03" in findings(s, date=dt.date(2025, 1, 15))
    later = findings(s, date=AFTER_OMNIBUS)
    assert "CFPB-2022-03" not in later and "CFPB-2023-03" not in later
    entries = {h.id: h for h in history(s, audit_date=AFTER_OMNIBUS)}
    assert entries["CFPB-2022-03"].event == "withdrawn" and entries["CFPB-2022-03"].date == "2025-05-12"
    assert "ECOA-1002-9-b-2" in entries["CFPB-2022-03"].replaced_by
    assert later["ECOA-1002-9-b-2"].status is not Status.NA  # the live duty stays


@pytest.mark.parametrize("date", [dt.date(2026, 3, 1), AFTER_OMNIBUS, LATER])
def test_colorado_sb_24_205_was_never_in_force_whatever_the_audit_date(date: dt.date) -> None:
    s = spec(jurisdictions=["US-CO"], annex_iii_area="4a", domain="employment_screening")
    assert "CO-SB24-205" not in findings(s, date=date)
    entry = next(h for h in history(s, audit_date=date) if h.id == "CO-SB24-205")
    assert entry.event == "never in force" and "CO-SB26-189-DEP" in entry.replaced_by


def test_colorado_sb_26_189_applies_from_1_january_2027() -> None:
    s = spec(jurisdictions=["US-CO"], annex_iii_area="4a", domain="employment_screening")
    before = findings(s, date=AFTER_OMNIBUS)["CO-SB26-189-DEP"]
    assert not before.in_force and before.applies_from == "2027-01-01"
    assert findings(s, date=dt.date(2027, 1, 1))["CO-SB26-189-DEP"].in_force


def test_art_10_5_is_history_and_art_4a_applies_only_with_special_categories() -> None:
    without = spec()
    assert "EUAIA-10-5" not in findings(without)
    assert next(h for h in history(without, audit_date=AFTER_OMNIBUS) if h.id == "EUAIA-10-5").event == "never in force"
    assert findings(without)["EUAIA-4a"].status is Status.NA
    special = spec(protected=[{"column": "race", "special_category": True}])
    assert findings(special, date=AFTER_OMNIBUS)["EUAIA-4a"].status is Status.REVIEW  # an attestation
    assert not findings(special, date=BEFORE_OMNIBUS)["EUAIA-4a"].in_force  # Art. 4a from 2026-07-27


# ------------------------------------------------------------------------------------------------ other triggers


def test_art_50_only_for_systems_that_interact_or_generate() -> None:
    assert findings(spec())["EUAIA-50"].status is Status.NA
    assert "system.interacts_with_people" in findings(spec())["EUAIA-50"].reason
    assert findings(spec(interacts_with_people=True))["EUAIA-50"].status is not Status.NA


def test_authorised_representative_only_for_providers_outside_the_eu() -> None:
    assert findings(spec(role="provider"))["EUAIA-22"].status is Status.REVIEW  # unstated: undecided
    assert "system.provider_in_eu" in findings(spec(role="provider"))["EUAIA-22"].reason
    assert findings(spec(role="provider", provider_in_eu=True))["EUAIA-22"].status is Status.NA
    assert findings(spec(role="provider", provider_in_eu=False))["EUAIA-22"].status is not Status.NA


def test_fcra_615_a_only_where_a_consumer_report_is_used() -> None:
    base = {"jurisdictions": ["US"], "domain": "credit"}
    assert "system.consumer_report_used" in findings(spec(**base))["FCRA-615-a"].reason
    assert findings(spec(**base, consumer_report_used=False))["FCRA-615-a"].status is Status.NA
    assert findings(spec(**base, consumer_report_used=True))["FCRA-615-a"].status is not Status.NA


# ------------------------------------------------------------------------------------------------ statuses the law sets


def test_recital_71_never_fails_on_a_flip_rate() -> None:
    ev = passing_evidence({"counterfactual.flip": {"max_flip_rate": 0.5, "max_flip_rate_direct": 0.5}})
    r71 = findings(spec(solely_automated=True), ev=ev)["GDPR-R71"]
    assert r71.status is Status.REVIEW and not r71.rules


def test_eeoc_reads_the_eeo_categories_and_its_significance_caveat() -> None:
    s = spec(jurisdictions=["US"], annex_iii_area="4a", domain="employment_screening")
    significant = passing_evidence({"fairness.eeo_impact": {"min_attribute_impact_ratio": 0.5, "min_attribute_impact_ratio_p_value": 0.001}})
    assert findings(s, ev=significant)["EEOC-1607-4-D"].status is Status.FAIL
    small = passing_evidence({"fairness.eeo_impact": {"min_attribute_impact_ratio": 0.5, "min_attribute_impact_ratio_p_value": 0.3}})
    review = findings(s, ev=small)["EEOC-1607-4-D"]
    assert review.status is Status.REVIEW and "p = 0.3" in review.reason
    # Age is not an EEO category: an age gap in fairness.selection_rate does not reach the four-fifths rule.
    age_only = [e for e in passing_evidence({"fairness.selection_rate": {"min_impact_ratio": 0.01}})
                if e.id != "fairness.eeo_impact"]
    age_only.append(Evidence.not_assessed("fairness.eeo_impact", "fairness", "EEO", "no protected attribute is "
                                          "declared as sex, race, ethnicity or race_ethnicity (data.protected[].kind)"))
    eeoc = findings(s, ev=age_only)["EEOC-1607-4-D"]
    assert eeoc.status is Status.REVIEW and "data.protected[].kind" in eeoc.reason


def test_more_than_four_reasons_is_review_not_fail() -> None:
    ev = passing_evidence({"local.shap": {"max_reasons": 6, "coverage": 1.0}})
    f = findings(spec(jurisdictions=["US"], domain="credit"), ev=ev)["ECOA-1002-9-b-2"]
    rule = next(r for r in f.rules if r.metric == "max_reasons")
    assert rule.status is Status.REVIEW and not rule.binding and f.status is not Status.FAIL


def test_missing_feature_values_do_not_fail_art_5_1_d() -> None:
    ev = passing_evidence({"data.profile": {"missing_share": 0.6}})
    assert findings(spec(), ev=ev)["GDPR-5-1-d"].status is not Status.FAIL


def test_a_special_category_feature_fails_art_9_without_a_recorded_basis_only() -> None:
    without = passing_evidence({"data.proxies": {"special_category_feature_without_basis": True}})
    f = findings(spec(protected=[{"column": "race", "special_category": True}]), ev=without)["GDPR-9"]
    assert f.status is Status.FAIL
    with_basis = passing_evidence({"data.proxies": {"special_category_used_as_feature": True,
                                                "special_category_feature_without_basis": False,
                                                "special_category_feature_outside_22_4": False}})
    g = findings(spec(protected=[{"column": "race", "special_category": True,
                                  "art9_basis": "9(2)(g) national law"}]), ev=with_basis)["GDPR-9"]
    assert g.status is not Status.FAIL


def test_ll144_needs_sex_race_and_their_intersection_reported() -> None:
    s = spec(jurisdictions=["US-NYC"], annex_iii_area="4a", domain="employment_screening")
    ev = passing_evidence({"fairness.eeo_impact": {"sex_reported": True, "race_ethnicity_reported": False,
                                               "intersection_reported": False, "min_impact_ratio": 0.9}})
    f = findings(s, ev=ev)["NYC-5-301-SEL"]
    assert f.status is Status.FAIL and "race_ethnicity_reported" in f.reason


@pytest.mark.parametrize("rid", ["EUAIA-4", "EUAIA-5"])
def test_ai_literacy_and_prohibitions_apply_from_2_february_2025(rid: str) -> None:
    before = findings(spec(), date=dt.date(2025, 2, 1))[rid]
    assert before.applies_from == "2025-02-02" and not before.in_force and "Not yet in force" in before.reason
    assert findings(spec(), date=dt.date(2025, 2, 2))[rid].in_force


def test_the_gdpr_scope_note_names_the_led_only_where_the_domain_rules_it_out() -> None:
    reason = findings(spec(solely_automated=False))["GDPR-22-1-2"].reason
    assert "2016/680" not in reason  # ruled out by solely_automated, not by the domain
