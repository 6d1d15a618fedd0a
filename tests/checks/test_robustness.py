"""Robustness flip rates, checked against independent computation on the German credit example."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest


def perturb(subject, **overrides):
    from audit.robustness import perturbation_test

    kwargs = {"X": subject.X, "feature_types": subject.feature_types, "model": subject.model,
              "decision": subject.predictions.decision, "noise_levels": [0.0, 0.1], "missing_rate": 0.1,
              "rng": np.random.default_rng(5), "n_boot": 200, "repeats": 2}
    return perturbation_test(**{**kwargs, **overrides})


def test_no_noise_flips_nothing_and_noise_flips_something(german_subject):
    result = perturb(german_subject, noise_levels=[0.0, 0.5])
    assert [r.label for r in result.noise] == ["0", "0.5"]
    assert result.noise[0].rate == 0.0
    assert result.noise[1].rate > 0.0
    assert result.noise[1].ci[0] <= result.noise[1].rate <= result.noise[1].ci[1]
    assert set(result.numeric) == {c for c, t in german_subject.feature_types.items() if t == "numeric"}


def test_missing_rate_zero_flips_nothing(german_subject):
    assert perturb(german_subject, missing_rate=0.0).missing.rate == 0.0


def test_per_feature_missing_rates_match_by_hand(german_subject):
    """A categorical column set missing matches a by-hand recomputation; a numeric column the model refuses
    missing is recorded as refused with the model's own error, and nothing is imputed in its place."""
    subject = german_subject
    estimator, X = subject.model.estimator, subject.X
    result = perturb(subject)
    by_feature = {r.label: r for r in result.per_feature}
    before = estimator.predict(X)

    blank = X.copy()
    blank["checking_account"] = pd.Series(np.nan, index=X.index, dtype=X["checking_account"].dtype)  # text, all missing
    assert by_feature["checking_account"].how == "missing"
    assert by_feature["checking_account"].rate == pytest.approx((estimator.predict(blank) != before).mean(), abs=0)

    with_nan = X.copy()
    with_nan["duration_months"] = np.nan
    try:  # the independent truth about whether this model takes NaN in a numeric column
        expected = (estimator.predict(with_nan) != before).mean()
        takes_nan, message = True, ""
    except ValueError as exc:
        takes_nan, message = False, str(exc).splitlines()[0]
    assert ("duration_months" in result.refused) is (not takes_nan)
    if takes_nan:
        assert by_feature["duration_months"].rate == pytest.approx(expected, abs=0)
    else:
        assert "duration_months" not in by_feature and message in result.refused["duration_months"]


def test_robustness_evidence(german_subject, make_ctx):
    from audit.checks import robustness
    from audit.evidence import EvidenceStatus
    from audit.spec import ThresholdOverride

    spec = german_subject.spec.model_copy(update={
        "thresholds": {"noise_flip_rate": ThresholdOverride(value=0.02, set_by="Model risk committee")}})
    subject = dataclasses.replace(german_subject, spec=spec)
    (evidence,) = robustness.run(subject, make_ctx(subject))
    assert evidence.id == "robustness.perturbation" and evidence.check == "robustness"
    assert evidence.title == "Robustness to noise and missing values (Art. 15(4))"
    m = evidence.metrics
    noise = evidence.tables[0].records()
    assert [r["noise_level"] for r in noise] == list(spec.robustness.noise_levels)
    assert m["flip_rate_noise_max"] == noise[-1]["flip_rate"]
    assert "threshold" not in m  # the user's threshold is judged by the policies, and drawn on the chart
    assert evidence.charts[0].reference == 0.02 and "Model risk committee" in evidence.charts[0].reference_label
    by_feature = evidence.tables[1].records()
    assert {r["feature"] for r in by_feature} == {c for c, t in subject.feature_types.items() if t == "numeric"}
    assert m["most_noise_sensitive_flip_rate"] == max(r["flip_rate"] for r in by_feature)
    assert m["most_noise_sensitive_feature"] == by_feature[0]["feature"]
    missing = evidence.tables[2].records()
    per_feature = [r for r in missing if "for every row" in r["test"]]
    refused = [r for r in missing if "refused by the model" in r["test"]]
    assert len(per_feature) + len(refused) == len(subject.X.columns)
    assert all(r["flip_rate"] is None for r in refused)  # not measured, not 0: nothing was imputed
    if refused:  # this GradientBoosting pipeline refuses NaN in its numeric columns
        assert "refuses missing values" in evidence.partial["flip_rate_missing"]
    top = max(per_feature, key=lambda r: r["flip_rate"])
    assert f"'{m['most_fragile_feature']}'" in top["test"]
    assert 0.0 <= m["flip_rate_missing"] <= 1.0 and m["n_rows"] == subject.n
    blind = dataclasses.replace(german_subject, model=None)
    (none,) = robustness.run(blind, make_ctx(blind))
    assert none.status is EvidenceStatus.NOT_ASSESSED


def test_noise_flip_rate_matches_the_analytic_rate():
    """Decision = (f > 0), f ~ N(0, 1): with noise σ the flip chance of a row is Φ(−|f| / σ), computed independently."""
    import pandas as pd
    from scipy.stats import norm

    from audit.robustness import perturbation_test

    class Sign:
        def predict_score(self, X: pd.DataFrame) -> np.ndarray:
            return 1 / (1 + np.exp(-50 * X["f"].to_numpy(float)))

        def decide(self, score: np.ndarray) -> np.ndarray:
            return score > 0.5

    f = np.random.default_rng(1).normal(size=100_000)
    X = pd.DataFrame({"f": f})
    level = 0.1
    result = perturbation_test(X=X, feature_types={"f": "numeric"}, model=Sign(), decision=f > 0,
                               noise_levels=[level], missing_rate=0.0, rng=np.random.default_rng(2), n_boot=100,
                               repeats=5)
    expected = norm.cdf(-np.abs(f) / (level * f.std())).mean()
    assert result.noise[0].rate == pytest.approx(expected, abs=0.0012)  # about 4 standard errors
    (alone,) = result.noise_by_feature  # the one feature alone, one repeat
    assert alone.label == "f" and alone.rate == pytest.approx(expected, abs=0.0025)


def _without_counts(result) -> dict:
    out = dataclasses.asdict(result)
    out.pop("n_predicted")
    return out


def test_fast_path_gives_the_same_rates_on_german_credit(german_subject):
    """Scored in the encoded space or through the adapter on frames: the very same flip rates and intervals."""
    fast, generic = perturb(german_subject), perturb(german_subject, fast=False)
    assert _without_counts(fast) == _without_counts(generic)
    assert fast.n_predicted <= generic.n_predicted


def test_fast_path_gives_the_same_rates_on_adult_sample(adult_subject):
    """The LightGBM example on 3,000 rows (rows the model cannot tell apart are scored once)."""
    rows = np.sort(np.random.default_rng(2).choice(adult_subject.n, size=3000, replace=False))
    subject = dataclasses.replace(adult_subject, X=adult_subject.X.iloc[rows].reset_index(drop=True))
    kwargs = {"decision": adult_subject.predictions.decision[rows], "noise_levels": [0.05, 0.5]}
    fast, generic = perturb(subject, **kwargs), perturb(subject, **kwargs, fast=False)
    assert _without_counts(fast) == _without_counts(generic)
    assert fast.noise[1].rate > 0 and fast.n_predicted < generic.n_predicted
