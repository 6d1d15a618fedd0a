"""Issue 9: a verdict a regulator can sign. One test per defect that was seen, each against a constructed case
or an independent computation (pandas, numpy, scikit-learn), never the tool's own earlier output.

Generated data is labelled as generated where it is built (the small frames below); everything else is the
bundled German credit data (examples/data/README.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from audit import policies
from audit.checks import CheckContext
from audit.evidence import Status
from audit.spec import AttestationAnswer, AuditSpec, ThresholdOverride, load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
TODAY = dt.date(2026, 11, 30)
NUMERIC = ["duration_months", "credit_amount", "installment_rate", "residence_since", "age", "existing_credits",
           "people_liable"]


def _subject_from(tmp_path: Path, frame: pd.DataFrame, estimator: object, *, extra: dict | None = None):
    """A Subject from a frame and a fitted scikit-learn estimator, through the real spec, skops and loader."""
    import skops.io as sio

    frame.to_csv(tmp_path / "data.csv", index=False)
    sio.dump(estimator, tmp_path / "model.skops")
    spec = {
        "system": {"name": "test system", "version": "1", "provider": "test", "intended_purpose": "test",
                   "role": "provider", "annex_iii_area": "5b"},
        "model": {"path": "model.skops", "format": "skops"},
        "data": {"path": "data.csv", "target": "y", "positive_label": 1, "id_column": "id", "protected": ["sex"],
                 "favourable_decision": "positive"},
        "explanations": {"lime_sample": 0},
        "fairness": {"bootstrap": 0},
        "seed": 3,
        **(extra or {}),
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    return load_subject(load_spec(tmp_path / "audit.yaml"))


def _evaluate(spec: AuditSpec, evidence: list) -> dict:
    return {f.id: f for f in policies.evaluate(spec, evidence, audit_date=TODAY)}


def _all_set(spec: AuditSpec) -> AuditSpec:
    """The user sets every threshold (so any rule that can be decided is decided)."""
    from audit.thresholds import load_thresholds

    own = {key: ThresholdOverride(value=t.value, set_by="Test committee") for key, t in load_thresholds().items()}
    return spec.model_copy(update={"thresholds": own})


# ----------------------------------------------------------------------------------------- PASS without evidence

def test_flip_test_records_no_zero_for_an_attribute_the_model_does_not_take(tmp_path: Path) -> None:
    """sex is not a model input but personal_status (its proxy) is: no direct rate is invented, and the rate the
    rules read includes the proxies, so a proxy effect cannot pass 12 CFR 1002.6(b)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(EXAMPLE / "german_credit.csv")
    frame["y"] = (frame["credit_risk"] == "good").astype(int)
    frame = frame.rename(columns={"applicant_id": "id"})[["id", "sex", "personal_status", "checking_account", "y"]]
    X = frame[["personal_status", "checking_account"]]
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(C=100, max_iter=500))
    model.fit(X, frame["y"])
    subject = _subject_from(tmp_path, frame, model)
    assert "sex" not in subject.X.columns
    from audit.checks._flip import flip_evidence

    ctx = CheckContext(spec=subject.spec, seed=3, proxies={"sex": ["personal_status"]})
    flip = flip_evidence(subject, ctx)
    assert flip.metrics["max_flip_rate_direct"] is None and "no protected attribute is a model input" in \
        flip.missing["max_flip_rate_direct"]
    assert not any(r["variant"] == "direct" for r in flip.tables[0].records())  # no (0, 0) row either
    with_proxies = flip.metrics["max_flip_rate_with_proxies"]
    assert with_proxies is not None and with_proxies > 0.01
    assert flip.metrics["max_flip_rate"] == with_proxies  # the figure the rules read includes the proxy effect
    system = subject.spec.system.model_copy(update={"jurisdictions": ["US"], "domain": "credit", "role": "deployer"})
    spec = subject.spec.model_copy(update={"system": system, "policies": ["ecoa-reg-b"], "thresholds": {
        "flip_rate": ThresholdOverride(value=0.01, set_by="Fair lending committee")}})
    reg_b = _evaluate(spec, [flip])["ECOA-1002-6-b"]
    assert reg_b.status is Status.FAIL
    assert any(o.metric == "max_flip_rate" and o.status is Status.FAIL and o.observed == with_proxies
               for o in reg_b.rules)


def test_special_category_use_is_unknown_without_a_model_or_a_declared_special_category() -> None:
    from audit.checks import fairness

    spec = load_spec(EXAMPLE / "decisions-only.yaml")
    # For this test foreign_worker stands for a special category (as if it revealed ethnic origin).
    protected = [p.model_copy(update={"special_category": True}) if p.column == "foreign_worker" else p
                 for p in spec.data.protected_specs()]
    spec = spec.model_copy(update={"fairness": spec.fairness.model_copy(update={"bootstrap": 0}),
                                   "data": spec.data.model_copy(update={"protected": protected})})
    subject = load_subject(spec)
    proxies = {e.id: e for e in fairness.run(subject, CheckContext(spec=spec, seed=1))}["data.proxies"]
    for flag in ("special_category_used_as_feature", "special_category_feature_without_basis",
                 "special_category_feature_outside_22_4", "protected_used_as_feature"):
        assert proxies.metrics[flag] is None, flag  # not False: nobody could see the model
        assert "no model access" in proxies.missing[flag], flag
    answered = spec.model_copy(update={"attestations": {"GDPR-9": AttestationAnswer(answer="yes", by="DPO",
                                                                                     date=TODAY)}})
    gdpr9 = _evaluate(answered.model_copy(update={"policies": ["gdpr"]}), [proxies])["GDPR-9"]
    assert gdpr9.status is Status.REVIEW and "no model access" in gdpr9.reason


def test_special_category_use_is_unknown_when_no_attribute_is_declared_special(german_subject, make_ctx) -> None:
    from audit.checks._proxies import proxy_evidence

    evidence, _ = proxy_evidence(german_subject, make_ctx(german_subject))
    assert not any(p.special_category for p in german_subject.protected)
    assert evidence.metrics["special_category_used_as_feature"] is None
    assert "special_category" in evidence.missing["special_category_used_as_feature"]


def test_undecided_primary_metric_does_not_pass_annex_iv_point_4(german_subject) -> None:
    """primary_metric_reason used to hold "not decided: ..." and pass a present rule; now it is None with why."""
    from audit.checks._error_rates import error_rate_evidence
    from audit.fairness.groups import build_breakdowns

    spec = german_subject.spec
    spec = spec.model_copy(update={"fairness": spec.fairness.model_copy(update={"decision_nature": None,
                                                                                 "bootstrap": 0}),
                                   "data": spec.data.model_copy(update={"favourable_decision": None})})
    subject = dataclasses.replace(german_subject, spec=spec)
    evidence = error_rate_evidence(subject, CheckContext(spec=spec, seed=1), build_breakdowns(subject.groups, []))
    assert evidence.metrics["primary_metric_reason"] is None
    answered = _all_set(spec).model_copy(update={"attestations": {"EUAIA-ANNEXIV-4": AttestationAnswer(
        answer="yes", by="CRO", date=TODAY)}})
    finding = _evaluate(answered, [evidence])["EUAIA-ANNEXIV-4"]
    assert finding.status is Status.REVIEW


def _screening_with_a_small_race(tmp_path: Path, **fairness: object):
    """GENERATED data: 2,000 applicants of one race and 40 of another (under 2 %), none of the 40 hired."""
    rng = np.random.default_rng(5)
    n_major, n_minor = 2000, 40
    race = np.array(["A"] * n_major + ["B"] * n_minor)
    sex = rng.permutation(np.array(["F", "M"] * ((n_major + n_minor) // 2)))
    hired = np.zeros(n_major + n_minor, dtype=bool)
    for s, rate in (("F", 0.2982), ("M", 0.30)):
        idx = np.flatnonzero((sex == s) & (race == "A"))
        hired[rng.choice(idx, size=int(round(rate * (sex == s).sum())), replace=False)] = True
    frame = pd.DataFrame({"id": np.arange(race.size), "sex": sex, "race": race,
                          "decision": np.where(hired, "invite", "reject"), "tenure": rng.integers(0, 10, race.size)})
    frame.to_csv(tmp_path / "decisions.csv", index=False)
    spec = {"system": {"name": "screen (generated data)", "version": "1", "provider": "test", "intended_purpose": "hire",
                       "role": "deployer", "jurisdictions": ["US"], "domain": "employment_screening"},
            "model": {"format": "none"},
            "data": {"path": "decisions.csv", "id_column": "id",
                     "protected": [{"column": "sex", "kind": "sex"}, {"column": "race", "kind": "race"}],
                     "decision": {"column": "decision", "positive_values": ["invite"]}},
            "policies": ["eeoc"], "fairness": {"bootstrap": 0, "intersections": [], **fairness}, "seed": 1}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    from audit.checks import fairness as fairness_check

    evidence = {e.id: e for e in fairness_check.run(subject, CheckContext(spec=subject.spec, seed=1))}
    return subject, frame.assign(hired=hired), evidence


def test_the_four_fifths_rule_compares_a_small_race_and_does_not_pass_on_sex_alone(tmp_path: Path) -> None:
    """The sex ratio alone is 0.994; race B (40 people, none hired) must be compared: 1607.4(D) sets no minimum
    size, LL144 none either; the general evidence leaves it out as too small and says so."""
    subject, frame, evidence = _screening_with_a_small_race(tmp_path)
    selection = evidence["fairness.selection_rate"]
    rates = frame.groupby("sex")["hired"].mean()  # by hand: the only ratio the general evidence computes
    assert selection.metrics["min_impact_ratio"] == pytest.approx(rates.min() / rates.max(), abs=1e-12)
    assert "race was not compared" in selection.partial["min_impact_ratio"]
    eeo = evidence["fairness.eeo_impact"]
    race_rates = frame.groupby("race")["hired"].mean()
    assert race_rates["B"] == 0 and eeo.metrics["min_attribute_impact_ratio"] == 0.0
    assert eeo.metrics["min_attribute_impact_ratio_group"] == "race=B"
    eeoc = _evaluate(subject.spec, evidence.values())["EEOC-1607-4-D"]
    assert eeoc.status is Status.FAIL and "min_attribute_impact_ratio = 0" in eeoc.reason


def test_the_auditors_two_percent_exclusion_leaves_the_four_fifths_rule_to_a_person(tmp_path: Path) -> None:
    subject, _, evidence = _screening_with_a_small_race(
        tmp_path, small_category_exclusion={"justification": "too few to judge", "by": "A. Auditor"})
    eeo = evidence["fairness.eeo_impact"]
    assert eeo.metrics["n_excluded"] == 3 and "min_attribute_impact_ratio" in eeo.partial  # B, F x B, M x B
    eeoc = _evaluate(subject.spec, evidence.values())["EEOC-1607-4-D"]
    assert eeoc.status is Status.REVIEW and "partial" in eeoc.reason


def test_kernel_shap_is_not_called_exact(tmp_path: Path) -> None:
    """KernelSHAP sums to the output by construction: its sum shows nothing, so exactness is not measured."""
    from sklearn.neighbors import KNeighborsClassifier

    from audit.checks import importance, local

    rng = np.random.default_rng(0)  # GENERATED data: 40 people, 3 numeric features
    frame = pd.DataFrame({"id": np.arange(40), "sex": rng.choice(["F", "M"], 40), "a": rng.normal(size=40),
                          "b": rng.normal(size=40), "c": rng.normal(size=40)})
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    model = KNeighborsClassifier(n_neighbors=5).fit(frame[["a", "b", "c"]], frame["y"])
    subject = _subject_from(tmp_path, frame, model)
    ctx = CheckContext(spec=subject.spec, seed=1)
    shap_ev = {e.id: e for e in importance.run(subject, ctx)}["importance.shap"]
    assert shap_ev.metrics["method"].startswith("KernelSHAP")
    assert shap_ev.metrics["max_additivity_error"] is None
    assert "not an exact explainer" in shap_ev.missing["max_additivity_error"]
    local_ev = {e.id: e for e in local.run(subject, ctx)}["local.shap"]
    assert local_ev.metrics["additivity_error_max"] is None
    findings = _evaluate(_all_set(subject.spec).model_copy(update={"policies": ["eu-ai-act", "gdpr"]}),
                         [shap_ev, local_ev])
    exact_rules = [(f.id, o) for f in findings.values() for o in f.rules if o.threshold_id == "shap_additivity"]
    assert exact_rules and all(o.status is Status.REVIEW for _, o in exact_rules)


def test_missing_values_are_never_imputed_into_a_pass(tmp_path: Path) -> None:
    """A model that refuses NaN: the missing-value flip rate is not measured (None with the model's error), and
    a requirement resting on it is REVIEW even with a threshold set, never a PASS on an imputer's behaviour."""
    from sklearn.linear_model import LogisticRegression

    from audit.checks import robustness

    frame = pd.read_csv(EXAMPLE / "german_credit.csv").rename(columns={"applicant_id": "id"})
    frame["y"] = (frame["credit_risk"] == "good").astype(int)
    model = LogisticRegression(max_iter=1000).fit(frame[NUMERIC], frame["y"])
    subject = _subject_from(tmp_path, frame[["id", "sex", *NUMERIC, "y"]], model)
    with pytest.raises(ValueError):  # the independent truth: this model refuses missing values
        model.predict(frame[NUMERIC].assign(age=np.nan))
    (evidence,) = robustness.run(subject, CheckContext(spec=subject.spec, seed=1))
    assert evidence.metrics["flip_rate_missing"] is None
    assert "refuses missing values" in evidence.missing["flip_rate_missing"]
    assert evidence.params["refused_missing"] == NUMERIC
    findings = _evaluate(_all_set(subject.spec), [evidence])
    rules = [o for f in findings.values() for o in f.rules if o.metric == "flip_rate_missing"]
    assert rules and all(o.status is Status.REVIEW for o in rules)


def test_explanation_coverage_does_not_count_adverse_decisions_without_a_reason(tmp_path: Path) -> None:
    """GENERATED data: x1, x2 in {0, 1, 2}, mean exactly 1; people at the mean get no contribution at all, and the
    model's starting point rejects them. They have no reason to be given, so they are not covered."""
    from sklearn.linear_model import LogisticRegression

    from audit.checks import importance, local

    grid = np.array([(a, b) for a in range(3) for b in range(3)] * 40)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"id": np.arange(len(grid)), "sex": rng.choice(["F", "M"], len(grid)),
                          "x1": grid[:, 0], "x2": grid[:, 1]})
    frame["y"] = ((frame["x1"] + frame["x2"] >= 4) | (rng.random(len(grid)) < 0.05)).astype(int)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    subject = _subject_from(tmp_path, frame, model)
    ctx = CheckContext(spec=subject.spec, seed=1)
    importance.run(subject, ctx)
    shap_ev = {e.id: e for e in local.run(subject, ctx)}["local.shap"]
    # by hand: linear SHAP = coef * (x - mean) in log-odds; a reason for a rejection lowers the score by >= 0.005
    X = frame[["x1", "x2"]].to_numpy(dtype=float)
    contributions = model.coef_[0] * (X - X.mean(axis=0))
    rejected = model.predict(frame[["x1", "x2"]]) == 0
    no_reason = rejected & ~(contributions <= -0.005).any(axis=1)
    assert no_reason.sum() > 0
    assert shap_ev.metrics["adverse_without_reason"] == int(no_reason.sum())
    assert shap_ev.metrics["coverage"] == pytest.approx(1 - no_reason.mean(), abs=1e-12)
    findings = _evaluate(_all_set(subject.spec).model_copy(update={"policies": ["gdpr"]}), [shap_ev])
    assert findings["GDPR-15-1-h"].status is Status.FAIL  # each person is owed their explanation (binding)


def test_a_gate_can_refuse_an_audit_that_is_only_review(tmp_path: Path) -> None:
    """The decision log alone: nothing fails, much is REVIEW. The default gate passes it (exit 0) and says how
    to refuse it; --fail-on review exits 1 and JUnit counts the REVIEWs as failures."""
    import xml.etree.ElementTree as ET

    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec.pop("signing")
    spec["data"]["path"] = str(EXAMPLE / "german_credit_decisions.csv")
    spec.setdefault("fairness", {})["bootstrap"] = 0
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    run = subprocess.run([sys.executable, "-m", "audit", "run", "audit.yaml", "--output", "reports", "--fail-on",
                          "review", "--junit", "junit.xml"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr
    result = json.loads(next((tmp_path / "reports").glob("*/*/audit.json")).read_text())
    assert result["verdict"] == "REVIEW" and result["counts"]["FAIL"] == 0 and result["counts"]["REVIEW"] > 0
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert int(root.get("failures")) == result["counts"]["REVIEW"]
    from audit.cli import FailOn, gate_fails
    from audit.evidence import AuditResult

    parsed = AuditResult.model_validate(result)
    assert gate_fails(parsed, FailOn.REVIEW) and not gate_fails(parsed, FailOn.FAIL)


# ----------------------------------------------------------------------------------------- wrong direction

@pytest.fixture(scope="module")
def flag_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled risk-flag example (positive decision = flagged as a default risk), quick settings, unsigned."""
    from audit.pipeline import run_audit

    work = tmp_path_factory.mktemp("flag")
    spec = yaml.safe_load((EXAMPLE / "risk-flag.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["explanations"] = {"lime_sample": 0}
    spec.setdefault("fairness", {})["bootstrap"] = 200
    (work / "audit.yaml").write_text(yaml.safe_dump(spec))
    return run_audit(work / "audit.yaml", output=work / "reports").bundle_dir


def _flags() -> pd.DataFrame:
    """Independent truth: the model loaded by skops itself, its own predicted labels, pandas groups."""
    import skops.io as sio

    model_path = EXAMPLE / "model.skops"
    estimator = sio.load(model_path, trusted=sio.get_untrusted_types(file=model_path))
    data = pd.read_csv(EXAMPLE / "german_credit.csv")
    X = data[list(estimator.feature_names_in_)]
    return data.assign(flagged=estimator.predict(X) == "bad", bad=data["credit_risk"] == "bad",
                       age_band=np.where(data["age"] < 25, "under 25", "25 and over"))


def test_a_flag_puts_the_most_flagged_group_lowest(flag_bundle: Path) -> None:
    result = json.loads((flag_bundle / "audit.json").read_text())
    evidence = {e["id"]: e for e in result["evidence"]}
    selection = evidence["fairness.selection_rate"]
    assert selection["metrics"]["favourable_decision"] == "negative"
    data = _flags()
    # sex is an EEO category: its LL144 table (fairness.eeo_impact) shows the flag rate
    flag_rates = data.groupby("sex")["flagged"].mean()
    table = next(t for t in evidence["fairness.eeo_impact"]["tables"] if t["title"] == "LL144 summary: sex")
    rows = {r[0]: dict(zip(table["columns"], r, strict=True)) for r in table["rows"]}
    lowest = min(rows, key=lambda g: rows[g]["Impact ratio"] if rows[g]["Impact ratio"] is not None else 9)
    assert lowest == flag_rates.idxmax()  # the most-flagged group has the lowest ratio
    for group, rate in flag_rates.items():
        assert rows[group]["Flag rate"] == pytest.approx(rate, abs=1e-12)
        assert rows[group]["Impact ratio"] == pytest.approx((1 - rate) / (1 - flag_rates.min()), abs=1e-12)
    # age is not: the general detail table holds it, with the not-flagged rate
    age_rates = data.groupby("age_band")["flagged"].mean()
    detail = next(t for t in selection["tables"] if t["title"] == "Rates and impact ratios with 95 % intervals and tests")
    age_rows = {r["group"]: r for r in (dict(zip(detail["columns"], row, strict=True)) for row in detail["rows"])
                if r["breakdown"] == "age"}
    for group, rate in age_rates.items():
        assert age_rows[group]["selection rate"] == pytest.approx(1 - rate, abs=1e-12)
        assert age_rows[group]["impact ratio"] == pytest.approx((1 - rate) / (1 - age_rates.min()), abs=1e-12)


def test_a_flag_names_false_positives_as_wrongly_flagged_and_they_match_pandas(flag_bundle: Path) -> None:
    result = json.loads((flag_bundle / "audit.json").read_text())
    errors = {e["id"]: e for e in result["evidence"]}["fairness.error_rates"]
    assert errors["metrics"]["primary_metric"] == "false_positive_rate_difference"
    table = next(t for t in errors["tables"] if t["title"] == "Rates by group")
    assert "FPR: wrongly flagged" in table["columns"]
    rows = [dict(zip(table["columns"], r, strict=True)) for r in table["rows"]]
    data = _flags()
    for group, members in data.groupby("sex"):
        good = members[~members["bad"]]  # people who did not default
        row = next(r for r in rows if r["breakdown"] == "sex" and r["group"] == group)
        assert row["FPR: wrongly flagged"] == pytest.approx(good["flagged"].mean(), abs=1e-12)


def test_a_flagged_person_is_told_the_flag_is_against_them_and_recourse_removes_it(flag_bundle: Path) -> None:
    from audit.explain.notice import load_notice, notice_text

    decisions = pd.read_parquet(flag_bundle / "decisions.parquet")
    flagged = decisions[decisions["decision"]]
    assert (~flagged["favourable"]).all() and decisions.loc[~decisions["decision"], "favourable"].all()
    notice = notice_text(load_notice(bundle_dir=flag_bundle, decision_id=str(flagged["id"].iloc[0])))
    assert "flagged (a decision against you)" in notice and "in your favour" not in notice
    clear = notice_text(load_notice(bundle_dir=flag_bundle, decision_id=str(decisions.loc[~decisions["decision"],
                                                                                              "id"].iloc[0])))
    assert "not flagged (in your favour)" in clear
    # recourse is offered to flagged people only, and the model itself clears every counterfactual
    assert decisions.loc[~decisions["decision"], "recourse"].isna().all()
    assert decisions.loc[decisions["decision"], "recourse"].notna().any()


def test_recourse_for_a_flag_is_cleared_by_the_model_itself(german_subject) -> None:
    """With the flag as the positive class, recourse searches for the change that removes the flag."""
    from audit.counterfactual import build_actionability, find_recourse
    from audit.models import SklearnAdapter

    subject = german_subject
    estimator = subject.model.estimator
    flagger = SklearnAdapter(estimator, path=subject.model_path, fmt="skops", positive_class="bad",
                             data_columns=list(subject.X.columns))
    score = flagger.predict_score(subject.X)
    flagged = np.flatnonzero(flagger.decide(score))[:40]
    assert (estimator.predict(subject.X.iloc[flagged]) == "bad").all()
    action = build_actionability(X=subject.X, feature_types=subject.feature_types, immutable=subject.immutable,
                                 increase_only=["age"])
    result = find_recourse(X=subject.X, rows=flagged, model=flagger, action=action, score_before=score[flagged],
                           favourable_is_positive=False)
    found = result.counterfactual[result.found]
    assert len(found) > 0
    assert (estimator.predict(found) == "good").all()  # the flag is gone, by the estimator itself
    assert np.allclose(result.score_before, 1 - score[flagged])  # reported as the chance of the favourable decision


# ----------------------------------------------------------------------------------------- inputs and scales

def test_scores_on_another_scale_are_accepted_and_brier_is_not_applicable(tmp_path: Path) -> None:
    from sklearn.metrics import roc_auc_score

    from audit.checks import performance
    from audit.pipeline import _alerts

    data = pd.read_csv(EXAMPLE / "german_credit_decisions.csv")
    data["score"] = data["score"] * 100  # a score from 0 to 100
    data.to_csv(tmp_path / "log.csv", index=False)
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec.pop("signing")
    spec["data"]["path"] = "log.csv"
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    (evidence,) = performance.run(subject, CheckContext(spec=subject.spec, seed=1))
    y = (data["credit_risk"] == "good").to_numpy()
    assert evidence.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, data["score"]), abs=1e-12)
    assert evidence.metrics["brier"] is None and "not probabilities" in evidence.missing["brier"]
    assert evidence.metrics["roc_auc_below_chance"] is False and _alerts([evidence]) == []
    # scores that rank outcomes the wrong way round: the cover must say the decisions may be inverted
    inverted = dataclasses.replace(subject, predictions=dataclasses.replace(subject.predictions,
                                                                            score=-subject.predictions.score))
    (upside_down,) = performance.run(inverted, CheckContext(spec=subject.spec, seed=1))
    assert upside_down.metrics["roc_auc"] == pytest.approx(1 - roc_auc_score(y, data["score"]), abs=1e-12)
    assert upside_down.metrics["roc_auc_below_chance"] is True
    assert "may be inverted" in _alerts([upside_down])[0]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("thresholds", {"impact_ration": {"value": 0.8, "set_by": "x"}}, "field 'thresholds.impact_ration': not a known"),
    ("thresholds", {"impact_ratio": {"value": 7, "set_by": "x"}}, "value 7 is outside 0 to 1"),
    ("thresholds", {"flip_rate": {"value": -0.5, "set_by": "x"}}, "value -0.5 is outside 0 to 1"),
    ("attestations", {"GDPR-99": {"answer": "yes", "by": "x", "date": "2026-11-01"}}, "field 'attestations.GDPR-99'"),
    ("fairness", {"primary_metric": "vibes"}, "field 'fairness.primary_metric': 'vibes' is not a known metric"),
    ("fairness", {"decision_nature": "assistive", "bootstrap": 0}, "contradicts fairness.decision_nature"),
])
def test_spec_values_the_registries_refute_are_input_errors_before_any_work(tmp_path: Path, field: str, value: dict,
                                                                             message: str) -> None:
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing")
    spec.pop("attestations_file")
    spec["data"]["path"] = str(tmp_path / "does-not-exist.csv")  # the data is never read: found before any work
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    if field == "fairness" and "decision_nature" in value:
        spec["data"]["favourable_decision"] = "negative"
    spec[field] = {**spec.get(field, {}), **value} if field == "fairness" else value
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    run = subprocess.run([sys.executable, "-m", "audit", "run", "audit.yaml", "--output", "reports"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert not (tmp_path / "reports").exists()


def test_no_threshold_lives_in_a_check() -> None:
    """Checks measure; no metric is a pass flag or a threshold, and every threshold id is used somewhere."""
    from audit.evidence_kinds import REGISTRY
    from audit.fairness.choice import THRESHOLD_IDS
    from audit.thresholds import load_thresholds

    names = [m for kind in REGISTRY.values() for m in kind.model_fields]
    assert not [m for m in names if m.endswith("_ok") or "threshold" in m]
    used = {r.threshold for _, req in policies.iter_requirements() for r in req.rules} | set(THRESHOLD_IDS.values())
    checks_text = "".join(p.read_text() for p in (ROOT / "audit" / "checks").glob("*.py"))
    used |= {key for key in load_thresholds() if f'"{key}"' in checks_text}  # reference lines drawn on charts
    assert set(load_thresholds()) <= used


def test_every_check_is_not_assessed_when_a_need_it_declares_is_missing(german_subject) -> None:
    """A check's NEEDS is a promise: take away any one of them and every evidence item it returns says why."""
    import importlib

    from audit.checks import CHECK_MODULES
    from audit.evidence import EvidenceStatus

    base = german_subject
    spec = base.spec.model_copy(update={"explanations": base.spec.explanations.model_copy(update={"lime_sample": 0}),
                                        "fairness": base.spec.fairness.model_copy(update={"bootstrap": 0})})
    without = {
        "model": dataclasses.replace(base, spec=spec, model=None),
        "labels": dataclasses.replace(base, spec=spec, y=None),
        "protected": dataclasses.replace(base, spec=spec, protected=[], groups=base.groups[[]]),
    }
    declared = 0
    for name in CHECK_MODULES:
        module = importlib.import_module(name)
        for need in module.NEEDS:
            declared += 1
            evidence = module.run(without[need], CheckContext(spec=spec, seed=1))
            assert evidence and all(e.status is EvidenceStatus.NOT_ASSESSED and e.reason for e in evidence), (name, need)
    assert declared >= 6


def test_the_cover_says_which_decision_favours_the_person(flag_bundle: Path) -> None:
    html = (flag_bundle / "report.html").read_text(encoding="utf-8")
    cover = html[: html.index('id="summary"')]
    assert "a positive decision (a flag) is adverse to the person" in cover


def test_a_flag_summary_opens_with_the_most_wrongly_flagged_group(flag_bundle: Path) -> None:
    """Issue 15: the first sentence of the summary names the group most often flagged among people who did not
    default, with its rate and interval, against pandas' false-positive rates of the deciding breakdown."""
    import re

    html = (flag_bundle / "report.html").read_text()
    summary = html[html.index('id="summary"'):]
    first = re.sub(r"<[^>]+>", "", summary[summary.index("<p"):summary.index("</p>")]).strip()
    assert first.startswith("Largest measured harm. Among people whose actual outcome was not “bad”,")
    flags = _flags()
    good = flags[~flags["bad"]]
    sizes = flags.groupby(["sex", "age_band"]).size()
    fpr = good.groupby(["sex", "age_band"])["flagged"].mean()[sizes[sizes >= 30].index]
    worst = fpr.idxmax()
    assert f"{100 * fpr.max():.1f} % of {worst[0]} × {worst[1]} were wrongly flagged (95 % CI " in first
