"""Fairness evidence on Adult, checked against pandas by hand and against fairlearn / aif360 (to 1e-9)."""

from __future__ import annotations

import csv
import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest

from audit.checks import CheckContext
from audit.checks._longform import LONG_COLUMNS, metrics_rows, write_metrics_csv
from audit.checks._selection import selection_evidence
from audit.evidence import EvidenceStatus
from audit.fairness.choice import choose_primary
from audit.fairness.groups import build_breakdowns, cell_counts
from audit.fairness.individual import CONSISTENCY_SAMPLE, design_matrix
from audit.spec import ThresholdOverride

TOL = 1e-9


@pytest.fixture(scope="module")
def adult_evidence(adult_subject):
    """The four evidence items of the Adult audit, computed once, with the context used."""
    from audit.checks.fairness import run

    ctx = CheckContext(spec=adult_subject.spec, seed=adult_subject.spec.seed)
    return {e.id: e for e in run(adult_subject, ctx)}, ctx


@pytest.fixture(scope="module")
def frame(adult_subject):
    """Decisions, labels and groups of Adult as a plain DataFrame for independent computation."""
    out = adult_subject.groups.copy()
    out["decision"] = adult_subject.predictions.decision.astype(bool)
    out["label"] = adult_subject.y.astype(bool)
    out["sex × race"] = out["sex"] + " × " + out["race"]
    return out


def _table(evidence, title_start):
    return next(t for t in evidence.tables if t.title.startswith(title_start)).records()


def _long(evidence, metric, attribute):
    return {
        r["group"]: r for r in _table(evidence, "All figures") if r["metric"] == metric and r["attribute"] == attribute
    }


def _quiet_aif360():
    """Import aif360's sklearn metrics without its import-time warnings reaching the root logger."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        import aif360.sklearn.metrics as metrics
    finally:
        logging.disable(previous)
        root.removeHandler(guard)
    return metrics


def _eligible(frame, column, min_size=30, min_share=0.02):
    sizes = frame[column].value_counts()
    keep = sizes[(sizes >= min_size) & (sizes / len(frame) >= min_share)].index
    return frame[frame[column].isin(keep)]


@pytest.mark.parametrize("attribute", ["sex", "race", "age", "sex × race"])
def test_selection_rates_and_impact_ratios_match_pandas_and_fairlearn(adult_evidence, frame, attribute):
    from fairlearn.metrics import MetricFrame, demographic_parity_ratio, selection_rate

    evidence = adult_evidence[0]["fairness.selection_rate"]
    rates = _long(evidence, "selection_rate", attribute)
    by_hand = frame.groupby(attribute)["decision"].mean()
    features = frame[attribute.split(" × ")] if " × " in attribute else frame[attribute]
    by_fairlearn = MetricFrame(
        metrics=selection_rate, y_true=frame["label"], y_pred=frame["decision"], sensitive_features=features
    ).by_group
    for group, value in by_hand.items():
        assert rates[group]["value"] == pytest.approx(value, abs=TOL)
        key = tuple(group.split(" × ")) if " × " in attribute else group
        assert rates[group]["value"] == pytest.approx(by_fairlearn.loc[key], abs=TOL)
        assert rates[group]["ci_low"] <= value <= rates[group]["ci_high"]
    eligible = _eligible(frame, attribute)
    top = eligible.groupby(attribute)["decision"].mean().max()
    ratios = _long(evidence, "impact_ratio", attribute)
    for group, value in eligible.groupby(attribute)["decision"].mean().items():
        assert ratios[group]["value"] == pytest.approx(value / top, abs=TOL)  # LL144: group ÷ most selected
    lowest = min(r["value"] for r in ratios.values() if r["value"] is not None)
    sub = eligible[attribute.split(" × ")] if " × " in attribute else eligible[attribute]
    # fairlearn's ratio is min / max over groups: the lowest LL144 impact ratio of the eligible groups
    assert lowest == pytest.approx(
        demographic_parity_ratio(eligible["label"], eligible["decision"], sensitive_features=sub), abs=TOL
    )


def test_headline_impact_ratio_and_test(adult_evidence, frame):
    from scipy.stats import norm

    metrics = adult_evidence[0]["fairness.selection_rate"].metrics
    candidates = {}
    for attribute in ("sex", "race", "age", "sex × race"):
        rates = _eligible(frame, attribute).groupby(attribute)["decision"].mean()
        for group, value in rates.items():
            candidates[(attribute, group)] = value / rates.max()
    (attribute, group), lowest = min(candidates.items(), key=lambda kv: kv[1])
    assert metrics["min_impact_ratio"] == pytest.approx(lowest, abs=TOL)
    assert metrics["min_impact_ratio_group"] == f"{attribute}={group}"
    assert "threshold" not in metrics and "threshold_source" not in metrics  # checks measure, policies judge
    assert metrics["min_impact_ratio_ci_high"] >= metrics["min_impact_ratio"]
    # The sex test by hand: pooled two-proportion z-test of Female against Male (the most selected)
    female, male = frame[frame["sex"] == "Female"]["decision"], frame[frame["sex"] == "Male"]["decision"]
    pooled = (female.sum() + male.sum()) / (len(female) + len(male))
    z = (female.mean() - male.mean()) / np.sqrt(pooled * (1 - pooled) * (1 / len(female) + 1 / len(male)))
    assert _long(adult_evidence[0]["fairness.selection_rate"], "impact_ratio", "sex")["Female"][
        "p_value"
    ] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9, abs=1e-300)


def test_small_groups_are_shown_but_excluded_with_the_reason(adult_evidence, frame):
    evidence = adult_evidence[0]["fairness.selection_rate"]
    race = {r["group"]: r for r in _table(evidence, "Rates and impact ratios") if r["breakdown"] == "race"}
    assert race["Other"]["people"] == (frame["race"] == "Other").sum()
    assert race["Other"]["impact ratio"] is None
    assert race["Other"]["selection rate"] == pytest.approx(frame[frame["race"] == "Other"]["decision"].mean(), abs=TOL)
    assert evidence.metrics["n_groups_excluded"] == 7
    assert evidence.metrics["unknown_count"] == 0
    # the LL144 tables are fairness.eeo_impact's: EEO categories only (no age), every category compared
    assert not any(t.title.startswith("LL144 summary") for t in evidence.tables)
    eeo = adult_evidence[0]["fairness.eeo_impact"]
    assert [t.title for t in eeo.tables if t.in_report] == [
        "LL144 summary: sex",
        "LL144 summary: race",
        "LL144 summary: sex × race",
    ]
    ll144 = {r["Category"]: r for r in _table(eeo, "LL144 summary: race")}
    rates = frame.groupby("race")["decision"].mean()
    assert ll144["Other"]["Impact ratio"] == pytest.approx(rates["Other"] / rates.max(), abs=TOL)
    assert ll144["Other"]["Excluded from impact ratio (why)"] == ""
    chart = evidence.charts[0]
    assert chart.reference == 0.8 and len(chart.labels) == len(chart.ci_low)


@pytest.mark.parametrize("attribute", ["sex", "race", "sex × race"])
def test_error_rates_and_disparities_match_pandas_and_fairlearn(adult_evidence, frame, attribute):
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equal_opportunity_difference,
        equalized_odds_difference,
        false_positive_rate,
        true_positive_rate,
    )

    evidence = adult_evidence[0]["fairness.error_rates"]
    features = frame[attribute.split(" × ")] if " × " in attribute else frame[attribute]
    fl = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=frame["label"],
        y_pred=frame["decision"],
        sensitive_features=features,
    ).by_group
    grouped = frame.groupby(attribute)
    by_hand = {
        "tpr": grouped.apply(lambda g: g["decision"][g["label"]].mean()),
        "fpr": grouped.apply(lambda g: g["decision"][~g["label"]].mean()),
        "fnr": grouped.apply(lambda g: 1 - g["decision"][g["label"]].mean()),
        "precision": grouped.apply(lambda g: g["label"][g["decision"]].mean()),
        "accuracy": grouped.apply(lambda g: (g["label"] == g["decision"]).mean()),
        "base_rate": grouped["label"].mean(),
    }
    for name, expected in by_hand.items():
        ours = _long(evidence, name, attribute)
        for group, value in expected.items():
            assert ours[group]["value"] == pytest.approx(value, abs=TOL), (name, group)
            if name in fl.columns:
                key = tuple(group.split(" × ")) if " × " in attribute else group
                assert ours[group]["value"] == pytest.approx(fl.loc[key, name], abs=TOL)
    eligible = _eligible(frame, attribute)
    sub = eligible[attribute.split(" × ")] if " × " in attribute else eligible[attribute]
    args = (eligible["label"], eligible["decision"])
    rows = {r["metric"]: r for r in _table(evidence, "All figures") if r["attribute"] == attribute}
    assert rows["demographic_parity_difference"]["value"] == pytest.approx(
        demographic_parity_difference(*args, sensitive_features=sub), abs=TOL
    )
    assert rows["equalized_odds_difference"]["value"] == pytest.approx(
        equalized_odds_difference(*args, sensitive_features=sub), abs=TOL
    )
    assert rows["equal_opportunity_difference"]["value"] == pytest.approx(
        equal_opportunity_difference(*args, sensitive_features=sub), abs=TOL
    )
    precision = eligible.groupby(attribute).apply(lambda g: g["label"][g["decision"]].mean())
    assert rows["predictive_parity_difference"]["value"] == pytest.approx(precision.max() - precision.min(), abs=TOL)
    for metric in ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference"):
        assert rows[metric]["ci_low"] <= rows[metric]["value"] <= rows[metric]["ci_high"]
        assert rows[metric]["p_value"] is not None


def test_gap_to_reference_matches_aif360(adult_evidence, frame):
    metrics = _quiet_aif360()
    evidence = adult_evidence[0]["fairness.error_rates"]
    rows = _long(evidence, "tpr_difference_vs_Male", "sex")
    y_true = pd.Series(frame["label"].astype(int).to_numpy(), index=pd.Index(frame["sex"], name="sex"))
    expected = metrics.equal_opportunity_difference(
        y_true, frame["decision"].astype(int).to_numpy(), prot_attr="sex", priv_group="Male"
    )
    assert rows["Female"]["value"] == pytest.approx(expected, abs=TOL)
    spd = metrics.statistical_parity_difference(
        y_true, frame["decision"].astype(int).to_numpy(), prot_attr="sex", priv_group="Male"
    )
    assert _long(evidence, "selection_rate_difference_vs_Male", "sex")["Female"]["value"] == pytest.approx(spd, abs=TOL)


def test_individual_measures_match_aif360(adult_evidence, adult_subject):
    metrics = _quiet_aif360()
    evidence, ctx = adult_evidence
    found = evidence["fairness.error_rates"].metrics
    y, decision = adult_subject.y.astype(int), adult_subject.predictions.decision.astype(int)
    assert found["theil_index"] == pytest.approx(metrics.generalized_entropy_error(y, decision, alpha=1), abs=TOL)
    assert found["theil_index"] == pytest.approx(metrics.theil_index(decision - y + 1), abs=TOL)
    from audit.checks._error_rates import CONSISTENCY_SALT

    rows = np.sort(ctx.rng(CONSISTENCY_SALT).choice(adult_subject.n, size=CONSISTENCY_SAMPLE, replace=False))
    matrix = design_matrix(adult_subject.X, adult_subject.feature_types)[rows]
    assert found["consistency"] == pytest.approx(
        metrics.consistency_score(matrix, decision[rows], n_neighbors=5), abs=TOL
    )


def test_primary_metric_and_calibration(adult_evidence, frame):
    metrics = adult_evidence[0]["fairness.error_rates"].metrics
    assert metrics["primary_metric"] == "equal_opportunity_difference"  # Adult spec: favourable_decision positive
    assert "false negative" in metrics["primary_metric_reason"]
    assert metrics["primary_metric_value"] == metrics["equal_opportunity_difference"]
    assert "primary_metric_ok" not in metrics and "primary_metric_threshold" not in metrics  # no judging in checks
    rows = _long(adult_evidence[0]["fairness.error_rates"], "ece", "sex")
    assert 0 <= rows["Female"]["value"] < 0.1 and metrics["max_ece_gap"] is not None
    assert any(c.kind == "line" for c in adult_evidence[0]["fairness.error_rates"].charts)


def test_primary_metric_choice_from_the_spec(adult_subject):
    spec = adult_subject.spec

    def choose(**fairness):  # the older declaration alone (data.favourable_decision cleared)
        return choose_primary(spec.model_copy(update={"fairness": spec.fairness.model_copy(update=fairness),
                                                      "data": spec.data.model_copy(update={"favourable_decision": None})}))

    punitive = choose(decision_nature="punitive")
    assert punitive.metric == "false_positive_rate_difference" and "false positive" in punitive.reason
    undecided = choose(decision_nature=None)
    assert undecided.metric is None and "must say" in undecided.reason
    named = choose(primary_metric="impact_ratio", justification="Chosen by the HR fairness board, 2026-03")
    assert named.metric == "demographic_parity_ratio" and named.higher_is_better and named.threshold_id == "impact_ratio"
    assert "HR fairness board" in named.reason
    # the direction declared in data.favourable_decision decides the metric too
    flagging = choose_primary(spec.model_copy(update={
        "data": spec.data.model_copy(update={"favourable_decision": "negative"}),
        "fairness": spec.fairness.model_copy(update={"decision_nature": None})}))
    assert flagging.metric == "false_positive_rate_difference" and flagging.threshold_id == "false_positive_rate_gap"
    # the spec's own tolerance lives under the threshold id of policies/thresholds.yaml, read by the policies
    assert choose(decision_nature="assistive").threshold_id == "equal_opportunity_gap"


def test_threshold_override_only_moves_the_chart_line(adult_subject):
    """A user's impact_ratio threshold is drawn on the chart with who set it; the evidence itself holds no verdict."""
    spec = adult_subject.spec.model_copy(
        update={
            "thresholds": {
                "impact_ratio": ThresholdOverride(value=0.9, set_by="Model risk committee, minutes 2026-10-01")
            }
        }
    )
    ctx = CheckContext(spec=spec, seed=spec.seed)
    breakdowns = build_breakdowns(adult_subject.groups, [["sex", "race"]])
    evidence = selection_evidence(adult_subject, ctx, breakdowns)
    chart = evidence.charts[0]
    assert chart.reference == 0.9 and "Model risk committee, minutes 2026-10-01" in (chart.reference_label or "")
    assert "threshold" not in evidence.metrics and "n_groups_below_threshold" not in evidence.metrics
    again = selection_evidence(adult_subject, ctx, breakdowns)
    assert again.model_dump() == evidence.model_dump()  # seeded: the same inputs give the same evidence


def test_intersection_of_an_unknown_attribute_is_a_spec_error(adult_subject):
    from audit.errors import AuditInputError

    with pytest.raises(
        AuditInputError, match="field 'fairness.intersections': 'religion' is not a protected attribute"
    ):
        build_breakdowns(adult_subject.groups, [["sex", "religion"]])
    names = [b.name for b in build_breakdowns(adult_subject.groups, "all-pairs")]
    assert names == ["sex", "race", "age", "sex × race", "sex × age", "race × age"]


def test_unknown_category_is_counted_and_left_out(german_subject):
    groups = pd.DataFrame({"sex": ["F", "M", "unknown", "F", "M", "M"], "race": ["A", "B", "A", "unknown", "B", "A"]})
    breakdowns = build_breakdowns(groups, "all-pairs")
    assert [b.unknown_count for b in breakdowns] == [1, 1, 2]
    assert breakdowns[2].labels == ("F × A", "M × A", "M × B") and breakdowns[2].key(0) == "sex=F & race=A"
    cells = cell_counts(breakdowns[0].codes, 2, decision=np.array([1, 0, 1, 1, 1, 0], bool), y=None)
    assert cells.tolist() == [[0, 2, 0, 0], [0, 1, 0, 2]]  # unlabelled: FP = selected, TN = not selected
    # on a real subject: people whose sex is unknown are counted, reported, and left out of the sex table
    sex = german_subject.groups["sex"].to_numpy(dtype=object).copy()
    sex[:7] = "unknown"
    subject = dataclasses.replace(german_subject, groups=german_subject.groups.assign(sex=sex))
    ctx = CheckContext(spec=subject.spec, seed=subject.spec.seed)
    evidence = selection_evidence(subject, ctx, build_breakdowns(subject.groups, []))
    assert evidence.metrics["unknown_count"] == 7
    sex = [r for r in evidence.tables[0].records() if r["breakdown"] == "sex"]
    assert sum(r["people"] for r in sex) == subject.n - 7
    unknown = next(r for r in _table(evidence, "All figures")
                   if r["metric"] == "unknown_count" and r["attribute"] == "sex")
    assert unknown["value"] == 7


def test_undecided_primary_metric_says_what_must_be_decided(german_subject):
    from audit.checks._error_rates import error_rate_evidence

    spec = german_subject.spec
    spec = spec.model_copy(update={"fairness": spec.fairness.model_copy(update={"decision_nature": None}),
                                   "data": spec.data.model_copy(update={"favourable_decision": None})})
    subject = dataclasses.replace(german_subject, spec=spec)
    evidence = error_rate_evidence(subject, CheckContext(spec=spec, seed=1), build_breakdowns(subject.groups, []))
    assert evidence.metrics["primary_metric"] is None and evidence.metrics["primary_metric_reason"] is None
    assert "data.favourable_decision" in evidence.missing["primary_metric"]  # not measured is None with its reason
    assert evidence.metrics["equal_opportunity_difference"] is not None  # every metric is still shown


def test_scoring_rate_is_share_above_the_median(adult_subject, frame):
    spec = adult_subject.spec.model_copy(
        update={"system": adult_subject.spec.system.model_copy(update={"use": "scoring"})}
    )
    subject = dataclasses.replace(adult_subject, spec=spec)
    evidence = selection_evidence(
        subject, CheckContext(spec=spec, seed=1), build_breakdowns(subject.groups, "all-pairs")
    )
    score = adult_subject.predictions.score
    above = pd.Series(score > np.median(score), index=frame.index)
    rates = _long(evidence, "scoring_rate", "sex")
    for group, value in above.groupby(frame["sex"]).mean().items():
        assert rates[group]["value"] == pytest.approx(value, abs=TOL)
    assert evidence.metrics["rate_kind"] == "scoring"
    assert "scoring rate" in evidence.tables[0].columns


def test_metrics_csv_is_the_long_form(adult_evidence, tmp_path):
    evidence = list(adult_evidence[0].values())
    rows = metrics_rows(evidence)
    assert all(list(r) == LONG_COLUMNS for r in rows)
    path = tmp_path / "metrics.csv"
    assert write_metrics_csv(evidence, path) == len(rows)
    with path.open(encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == LONG_COLUMNS and len(read) == len(rows)
    female = next(
        r
        for r in read
        if r["check"] == "fairness.selection_rate"
        and r["metric"] == "impact_ratio"
        and r["attribute"] == "sex"
        and r["group"] == "Female"
    )
    expected = _long(adult_evidence[0]["fairness.selection_rate"], "impact_ratio", "sex")["Female"]
    assert float(female["value"]) == expected["value"] and float(female["p_value"]) == expected["p_value"]
    headline = next(r for r in read if r["metric"] == "min_impact_ratio")
    assert float(headline["value"]) == adult_evidence[0]["fairness.selection_rate"].metrics["min_impact_ratio"]


def test_without_labels_or_protected_attributes(german_subject):
    from audit.checks.fairness import run

    spec = german_subject.spec
    no_labels = dataclasses.replace(german_subject, y=None)
    ctx = CheckContext(spec=spec, seed=spec.seed)
    evidence = {e.id: e for e in run(no_labels, ctx)}
    assert evidence["fairness.error_rates"].status == EvidenceStatus.NOT_ASSESSED
    assert "no ground-truth labels" in evidence["fairness.error_rates"].reason
    assert evidence["fairness.selection_rate"].status == EvidenceStatus.OK
    assert evidence["data.bias"].metrics["max_base_rate_gap"] is None
    nobody = dataclasses.replace(german_subject, protected=[], groups=german_subject.groups.iloc[:, :0])
    evidence = run(nobody, CheckContext(spec=spec, seed=spec.seed))
    assert [e.status for e in evidence] == [EvidenceStatus.NOT_ASSESSED] * 6


def test_predictions_only_audit_from_a_csv_without_model(adult_subject, adult_evidence, tmp_path):
    """A dataset holding the decisions, labels and protected attributes, and no model file at all."""
    import yaml

    from audit.checks.fairness import run
    from audit.spec import load_spec
    from audit.subject import load_subject

    data = adult_subject.frame.copy()
    data["screen_result"] = np.where(adult_subject.predictions.decision, "invite", "reject")
    data.to_csv(tmp_path / "decisions.csv", index=False)
    spec = {
        "system": {
            "name": "Screening log",
            "version": "1",
            "provider": "Example",
            "intended_purpose": "screening",
            "role": "deployer",
            "jurisdictions": ["US-NYC"],
        },
        "model": {"format": "none"},
        "data": {
            "path": "decisions.csv",
            "target": "income",
            "positive_label": ">50K",
            "id_column": "person_id",
            "protected": [{"column": "sex", "kind": "sex"}, {"column": "race", "kind": "race"}],
            "decision": {"column": "screen_result", "positive_values": ["invite"]},
        },
        "fairness": {"intersections": [["sex", "race"]], "decision_nature": "assistive"},
        "seed": 7,
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    assert not subject.has_model and subject.model_path is None
    ctx = CheckContext(spec=subject.spec, seed=subject.spec.seed)
    evidence = {e.id: e for e in run(subject, ctx)}
    # A decision log has two decisions: no class beyond the decision for fairness.class_rates to compare.
    assert evidence.pop("fairness.class_rates").status == EvidenceStatus.NOT_ASSESSED
    assert all(e.status == EvidenceStatus.OK for e in evidence.values())
    with_model = _long(adult_evidence[0]["fairness.selection_rate"], "impact_ratio", "sex")["Female"]["value"]
    assert _long(evidence["fairness.selection_rate"], "impact_ratio", "sex")["Female"]["value"] == pytest.approx(
        with_model, abs=TOL
    )
    assert evidence["fairness.error_rates"].metrics["primary_metric_value"] is not None
    assert evidence["fairness.error_rates"].metrics["max_ece_gap"] is None  # no scores in the data
    assert "relationship" in ctx.proxies["sex"]


def test_calibration_fpr_gap_and_data_bias_by_hand(adult_evidence, adult_subject, frame):
    """ECE, the false-positive-rate gap, base-rate gaps and missingness gaps, recomputed with pandas."""
    evidence = adult_evidence[0]
    score = pd.Series(adult_subject.predictions.score, index=frame.index)
    for group, members in frame.groupby("race"):
        s, y = score[members.index], members["label"].astype(float)
        bins = np.minimum((s * 10).astype(int), 9)
        by_bin = (
            pd.DataFrame({"s": s, "y": y, "bin": bins})
            .groupby("bin")
            .agg(s=("s", "mean"), y=("y", "mean"), n=("s", "size"))
        )
        ece = float((by_bin["n"] * (by_bin["s"] - by_bin["y"]).abs()).sum() / len(s))
        assert _long(evidence["fairness.error_rates"], "ece", "race")[group]["value"] == pytest.approx(ece, abs=TOL)
    eligible = _eligible(frame, "age")
    fpr = eligible[~eligible["label"]].groupby("age")["decision"].mean()
    rows = {r["metric"]: r for r in _table(evidence["fairness.error_rates"], "All figures") if r["attribute"] == "age"}
    assert rows["false_positive_rate_difference"]["value"] == pytest.approx(fpr.max() - fpr.min(), abs=TOL)
    base = eligible.groupby("age")["label"].mean()
    bias = {r["attribute"]: r for r in _table(evidence["data.bias"], "All figures") if r["metric"] == "base_rate_gap"}
    assert bias["age"]["value"] == pytest.approx(base.max() - base.min(), abs=TOL)
    race = _eligible(frame, "race")["race"]
    missing = adult_subject.X.loc[race.index, "occupation"].isna().groupby(race).mean()
    gap = next(
        r
        for r in _table(evidence["data.bias"], "All figures")
        if r["metric"] == "missingness_gap[occupation]" and r["attribute"] == "race"
    )
    assert gap["value"] == pytest.approx(missing.max() - missing.min(), abs=TOL)
