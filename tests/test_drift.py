"""Drift (audit.drift) against independent computations, and on the Adult data with and without a shift."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.drift import (
    MISSING_LABEL,
    PSI_EPSILON,
    DriftResult,
    benjamini_hochberg,
    feature_drift,
    feature_drift_by_group,
    group_drift,
)

ADULT_DIR = Path(__file__).resolve().parents[1] / "examples" / "data" / "adult"
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]  # fmt: skip
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "native-country"]
ALPHA = 0.05


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    """All 48,842 rows of the bundled UCI Adult copy (as examples/adult-hiring/prepare.py reads it; `?` is missing)."""
    parts = [
        pd.read_csv(ADULT_DIR / name, header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?",
                    comment="|", skip_blank_lines=True)
        for name in ("adult.data", "adult.test")
    ]  # fmt: skip
    data = pd.concat(parts, ignore_index=True)
    assert len(data) == 48_842
    return data


def _halves(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(data))
    half = len(data) // 2
    return data.iloc[order[:half]].reset_index(drop=True), data.iloc[order[half:]].reset_index(drop=True)


def _hand_psi(r: np.ndarray, c: np.ndarray) -> float:
    r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


# ---------------------------------------------------------------------------------------------- PSI by hand


def test_psi_numeric_deciles_of_the_reference_by_hand():
    # Reference 0..99: its empirical deciles are 9, 19, ..., 89, so each right-closed bin holds 10 values.
    reference = pd.DataFrame({"x": np.arange(100.0)})
    # Current: -5 (below the reference's range: first bin), 50 (bin (49, 59]), 200 (above: last bin).
    current = pd.DataFrame({"x": np.r_[np.full(10, -5.0), np.full(30, 50.0), np.full(60, 200.0)]})
    result = feature_drift(reference=reference, current=current, numeric=["x"], categorical=[])
    f = result.feature("x")

    r = np.full(10, 0.1)
    c = np.array([0.1, 0, 0, 0, 0, 0.3, 0, 0, 0, 0.6])
    assert [b.reference_count for b in f.bins] == [10] * 10
    assert [b.current_count for b in f.bins] == [10, 0, 0, 0, 0, 30, 0, 0, 0, 60]
    assert [b.label for b in f.bins] == ["<= 9"] + [f"({lo}, {lo + 10}]" for lo in range(9, 89, 10)] + ["> 89"]
    assert f.psi == pytest.approx(_hand_psi(r, c), rel=1e-12)
    assert result.epsilon == PSI_EPSILON == 1e-4
    assert any("floored at 0.0001" in n for n in result.notes)


def test_psi_numeric_matches_an_independent_binning_with_pandas_cut():
    rng = np.random.default_rng(3)
    ref = rng.gamma(2.0, 3.0, 5_000).round(1)  # ties, skewed
    cur = rng.gamma(2.2, 3.0, 4_000).round(1)
    f = feature_drift(reference=pd.DataFrame({"x": ref}), current=pd.DataFrame({"x": cur}), numeric=["x"],
                      categorical=[]).features[0]  # fmt: skip
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf"))
    cuts = np.r_[-np.inf, edges, np.inf]
    r = pd.Series(pd.cut(ref, cuts, right=True)).value_counts(sort=False).to_numpy() / ref.size
    c = pd.Series(pd.cut(cur, cuts, right=True)).value_counts(sort=False).to_numpy() / cur.size
    assert f.psi == pytest.approx(_hand_psi(r, c), rel=1e-12)
    assert len(f.bins) == edges.size + 1


def test_psi_point_mass_keeps_its_own_bin():
    # 90 % zeros, like capital-gain: deciles 1-9 are 0, so the zeros form one bin "<= 0", the rest "> 0".
    reference = pd.DataFrame({"x": np.r_[np.zeros(900), np.arange(1.0, 101.0)]})
    current = pd.DataFrame({"x": np.r_[np.zeros(800), np.arange(1.0, 201.0)]})
    f = feature_drift(reference=reference, current=current, numeric=["x"], categorical=[]).features[0]
    assert [b.label for b in f.bins] == ["<= 0", "> 0"]
    assert (f.bins[0].reference_count, f.bins[0].current_count) == (900, 800)


def test_psi_categorical_by_hand_with_empty_categories():
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    current = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 40 + ["d"] * 20})
    f = feature_drift(reference=reference, current=current, numeric=[], categorical=["c"]).features[0]
    eps = 1e-4
    expected = (
        (0.4 - 0.5) * math.log(0.4 / 0.5)
        + (0.4 - 0.3) * math.log(0.4 / 0.3)
        + (eps - 0.2) * math.log(eps / 0.2)  # "c": absent from current
        + (0.2 - eps) * math.log(0.2 / eps)  # "d": absent from reference
    )
    assert [b.label for b in f.bins] == ["a", "b", "c", "d"]
    assert f.psi == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("n", [300, 3_000, 20_000])  # scipy's exact method for the small ones, asymptotic above
def test_ks_p_values_equal_scipy(n):
    rng = np.random.default_rng(n)
    ref = rng.normal(0, 1, n)
    cur = rng.normal(0.05, 1, n + 17)
    ref[::50] = np.nan  # missing values: the test runs on the others
    f = feature_drift(reference=pd.DataFrame({"x": ref}), current=pd.DataFrame({"x": cur}), numeric=["x"],
                      categorical=[]).features[0]  # fmt: skip
    expected = stats.ks_2samp(ref[~np.isnan(ref)], cur)
    assert f.statistic == expected.statistic
    assert f.p_value == expected.pvalue


def test_ks_on_adult_age_equals_scipy(adult):
    ref, cur = _halves(adult, seed=11)
    f = feature_drift(reference=ref, current=cur, numeric=["age"], categorical=[]).features[0]
    expected = stats.ks_2samp(ref["age"].to_numpy(float), cur["age"].to_numpy(float))
    assert (f.statistic, f.p_value) == (expected.statistic, expected.pvalue)


def test_chi_squared_equals_a_hand_computation_and_drops_categories_empty_in_both():
    kinds = ["a", "b", "c", "unused"]
    ref = pd.Series(pd.Categorical(["a"] * 120 + ["b"] * 60 + ["c"] * 20 + [None] * 10, categories=kinds))
    cur = pd.Series(pd.Categorical(["a"] * 100 + ["b"] * 80 + ["c"] * 35 + [None] * 5, categories=kinds))
    f = feature_drift(reference=pd.DataFrame({"g": ref}), current=pd.DataFrame({"g": cur}), numeric=[],
                      categorical=["g"]).features[0]  # fmt: skip
    observed = np.array([[120, 60, 20, 10], [100, 80, 35, 5]], dtype=float)  # "unused" dropped, missing kept
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    assert [b.label for b in f.bins] == ["a", "b", "c", MISSING_LABEL]
    assert f.dof == 3
    assert f.statistic == pytest.approx(statistic, rel=1e-12)
    assert f.p_value == pytest.approx(stats.chi2.sf(statistic, 3), rel=1e-10)


# ---------------------------------------------------------------------------------------------- Benjamini-Hochberg


@pytest.mark.parametrize("seed", range(6))
def test_benjamini_hochberg_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    p = rng.uniform(0, 1, m) ** 3  # many small ones
    p[rng.integers(0, m, m // 4)] = p[0]  # ties
    ours = benjamini_hochberg(list(p))
    np.testing.assert_allclose(np.array(ours, dtype=float), stats.false_discovery_control(p, method="bh"),
                               rtol=1e-12, atol=0)  # fmt: skip


def test_benjamini_hochberg_leaves_none_out_of_m():
    p = [0.01, None, 0.04, 0.03, None]
    ours = benjamini_hochberg(p)
    theirs = stats.false_discovery_control([0.01, 0.04, 0.03], method="bh")
    assert ours[1] is None and ours[4] is None
    np.testing.assert_allclose(np.array([ours[0], ours[2], ours[3]], dtype=float), theirs, rtol=1e-12)
    assert benjamini_hochberg([]) == []
    with pytest.raises(ValueError):
        benjamini_hochberg([0.2, float("nan")])


def test_feature_drift_adjusts_across_features_with_bh(adult):
    ref, cur = _halves(adult, seed=5)
    result = feature_drift(reference=ref, current=cur, numeric=NUMERIC, categorical=CATEGORICAL)
    raw = np.array([f.p_value for f in result.features], dtype=float)
    adjusted = np.array([f.p_adjusted for f in result.features], dtype=float)
    np.testing.assert_allclose(adjusted, stats.false_discovery_control(raw, method="bh"), rtol=1e-12)
    assert result.correction == "Benjamini-Hochberg"
    assert all(f.p_adjusted is not None and f.drifted == (f.p_adjusted < ALPHA) for f in result.features)


# ---------------------------------------------------------------------------------------------- the must-show


def test_shifted_adult_flags_the_shifted_features_and_only_those(adult):
    """Reference: a random half of Adult. Current: the other half with age + 5, hours x 1.1, workclass resampled."""
    reference, current = _halves(adult, seed=20260101)
    rng = np.random.default_rng(7)
    current["age"] = current["age"] + 5
    current["hours-per-week"] = current["hours-per-week"] * 1.1
    # Resample the workclass values (only that column) with "Private" rows weighted 0.85: its share drops ~4 points.
    weight = np.where(current["workclass"].to_numpy() == "Private", 0.85, 1.0)
    picked = rng.choice(len(current), size=len(current), p=weight / weight.sum())
    current["workclass"] = current["workclass"].to_numpy()[picked]

    result = feature_drift(reference=reference, current=current, numeric=NUMERIC, categorical=CATEGORICAL)

    assert sorted(result.drifted_features) == ["age", "hours-per-week", "workclass"]
    for f in result.features:
        assert f.drifted is (f.name in {"age", "hours-per-week", "workclass"}), (f.name, f.p_adjusted)
    private = next(b for b in result.feature("workclass").bins if b.label == "Private")
    assert private.current_share < private.reference_share - 0.02
    assert result.not_tested == []
    json.dumps(result.to_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------------------- false alarms


@pytest.mark.slow
def test_false_alarm_rate_with_no_shift_stays_within_the_level(adult):
    """200 seeded draws of two disjoint random samples of 4,000 Adult rows each, nothing shifted.

    Tested: the family-wise false-alarm rate, the share of draws in which *any* of the
    14 features is flagged. With nothing drifted every flag is false, the false
    discovery rate that Benjamini-Hochberg controls equals this rate, and it is the
    figure an auditor reads ("drift reported when there is none"). It must stay at or
    under alpha plus a one-sided binomial margin (99.9 % quantile of Binomial(200, 0.05)
    / 200 = 0.105). Also checked: each feature's unadjusted rejection rate at alpha (the
    raw tests are valid), against the same bound.
    """
    reps, n = 200, 4_000
    frame = adult.copy()
    for c in CATEGORICAL:  # the same values as categories: drawing rows is faster, the test is the same
        frame[c] = frame[c].astype("category")
    rng = np.random.default_rng(2026)
    any_flag = 0
    raw_rejections = np.zeros(len(NUMERIC) + len(CATEGORICAL))
    for _ in range(reps):
        rows = rng.choice(len(frame), size=2 * n, replace=False)
        result = feature_drift(reference=frame.iloc[rows[:n]], current=frame.iloc[rows[n:]], numeric=NUMERIC,
                               categorical=CATEGORICAL, alpha=ALPHA)  # fmt: skip
        any_flag += bool(result.drifted_features)
        raw_rejections += [f.p_value is not None and f.p_value < ALPHA for f in result.features]
    bound = stats.binom.ppf(0.999, reps, ALPHA) / reps
    family_wise = any_flag / reps
    per_feature = raw_rejections / reps
    print(f"family-wise false-alarm rate {family_wise:.3f}; per-feature raw rates {dict(zip(NUMERIC + CATEGORICAL, per_feature.round(3), strict=True))}")
    assert family_wise <= bound
    assert per_feature.max() <= bound


# ---------------------------------------------------------------------------------------------- missing and too few


def test_numeric_missing_share_reported_and_test_on_the_rest():
    ref = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0, np.nan, 7.0, 8.0])
    cur = pd.Series([2.0, 3.0, 4.0, None, 6.0, 7.0, 9.0, 9.5, 10.0, 11.0], dtype="Float64")  # pd.NA missing
    f = feature_drift(reference=pd.DataFrame({"x": ref}), current=pd.DataFrame({"x": cur}), numeric=["x"],
                      categorical=[]).features[0]  # fmt: skip
    assert f.missing_reference == pytest.approx(2 / 8)
    assert f.missing_current == pytest.approx(1 / 10)
    assert (f.n_reference, f.n_current) == (8, 10)
    assert sum(b.reference_count for b in f.bins) == 6 and sum(b.current_count for b in f.bins) == 9
    expected = stats.ks_2samp(ref.dropna().to_numpy(), cur.dropna().to_numpy(dtype=float))
    assert f.p_value == expected.pvalue


def test_categorical_missing_is_its_own_category():
    ref = pd.Series(["x", "y", None, "x", np.nan, "y"])
    cur = pd.Series(["x", "y", "y", "x", "x", "y", None])
    f = feature_drift(reference=pd.DataFrame({"c": ref}), current=pd.DataFrame({"c": cur}), numeric=[],
                      categorical=["c"]).features[0]  # fmt: skip
    missing = next(b for b in f.bins if b.label == MISSING_LABEL)
    assert (missing.reference_count, missing.current_count) == (2, 1)
    assert f.missing_reference == pytest.approx(2 / 6) and f.missing_current == pytest.approx(1 / 7)
    assert f.p_value is not None


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_too_few_values_give_none_with_a_reason_and_stay_out_of_bh(kind):
    rng = np.random.default_rng(0)
    n = 200
    values = rng.normal(size=n) if kind == "numeric" else rng.choice(["a", "b", "c"], size=n)
    sparse_cur = pd.Series([values[0]] + [None] * (n - 1), dtype=float if kind == "numeric" else object)
    reference = pd.DataFrame({"sparse": values, "ok": rng.normal(size=n), "shifted": rng.normal(size=n)})
    current = pd.DataFrame({"sparse": sparse_cur, "ok": rng.normal(size=n), "shifted": rng.normal(0.5, 1, n)})
    num = ["ok", "shifted"] + (["sparse"] if kind == "numeric" else [])
    cat = ["sparse"] if kind == "categorical" else []
    result = feature_drift(reference=reference, current=current, numeric=num, categorical=cat)
    f = result.feature("sparse")
    assert f.statistic is None and f.p_value is None and f.p_adjusted is None and f.drifted is None
    assert f.psi is None
    assert f.reason is not None and "fewer than 2 non-missing values (reference 200, current 1)" in f.reason
    assert f.missing_current == pytest.approx((n - 1) / n)
    assert result.not_tested == ["sparse"]
    tested = [result.feature("ok"), result.feature("shifted")]
    adjusted = np.array([t.p_adjusted for t in tested], dtype=float)
    raw = np.array([t.p_value for t in tested], dtype=float)
    np.testing.assert_allclose(adjusted, stats.false_discovery_control(raw, method="bh"), rtol=1e-12)
    assert any("Not tested" in note and "sparse" in note for note in result.notes)
    out = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    sparse = next(x for x in out["features"] if x["name"] == "sparse")
    assert sparse["p_value"] is None and sparse["drifted"] is None and sparse["statistic"] is None


def test_all_missing_and_single_category_cases():
    reference = pd.DataFrame({"gone": [np.nan] * 50, "same": ["k"] * 50})
    current = pd.DataFrame({"gone": [np.nan] * 40, "same": ["k"] * 40})
    result = feature_drift(reference=reference, current=current, numeric=["gone"], categorical=["same"])
    gone, same = result.feature("gone"), result.feature("same")
    assert gone.p_value is None and "reference 0, current 0" in (gone.reason or "")
    assert gone.missing_reference == 1.0
    assert same.p_value is None and same.drifted is None and "only one category" in (same.reason or "")
    assert same.psi == 0.0
    assert result.drifted_features == [] and sorted(result.not_tested) == ["gone", "same"]


def test_to_dict_is_plain_json_without_nan(adult):
    ref, cur = _halves(adult.head(2_000), seed=1)
    result = feature_drift(reference=ref, current=cur, numeric=NUMERIC, categorical=CATEGORICAL)
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["correction"] == "Benjamini-Hochberg" and back["alpha"] == ALPHA
    assert {x["name"] for x in back["features"]} == set(NUMERIC + CATEGORICAL)
    assert isinstance(result, DriftResult)


def test_bad_arguments_are_refused():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(ValueError, match="alpha"):
        feature_drift(reference=frame, current=frame, numeric=["a"], categorical=[], alpha=1.5)
    with pytest.raises(ValueError, match="bins"):
        feature_drift(reference=frame, current=frame, numeric=["a"], categorical=[], bins=1)
    with pytest.raises(ValueError, match="not in the current data"):
        feature_drift(reference=frame, current=frame[["a"]], numeric=["a"], categorical=["b"])
    with pytest.raises(ValueError, match="both numeric and categorical"):
        feature_drift(reference=frame, current=frame, numeric=["a"], categorical=["a"])
    with pytest.raises(ValueError, match="not numeric"):
        feature_drift(reference=frame, current=frame, numeric=["b"], categorical=[])
    with pytest.raises(TypeError):
        feature_drift(frame, frame, ["a"], [])  # type: ignore[call-arg]  # keyword-only


# ---------------------------------------------------------------------------------------------- groups


def test_group_shares_and_chi_squared_by_hand():
    ref = pd.Series(["F"] * 400 + ["M"] * 580 + [None] * 20)
    cur = pd.Series(["F"] * 300 + ["M"] * 690 + [None] * 10)
    result = group_drift(reference=ref, current=cur)
    shares = {g.group: g for g in result.groups}
    assert shares["F"].share_reference == pytest.approx(0.4) and shares["F"].share_current == pytest.approx(0.3)
    assert shares["F"].difference == pytest.approx(-0.1)
    assert shares[MISSING_LABEL].n_reference == 20
    observed = np.array([[400, 580, 20], [300, 690, 10]], dtype=float)
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, 2), rel=1e-10)
    assert result.dof == 2 and result.reason is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_group_drift_on_adult_halves_and_a_shifted_share(adult):
    ref, cur = _halves(adult, seed=3)
    same = group_drift(reference=ref["sex"], current=cur["sex"])
    assert same.p_value is not None and same.p_value > ALPHA
    assert sum(g.share_reference or 0 for g in same.groups) == pytest.approx(1.0)
    fewer_women = cur.drop(cur.index[cur["sex"] == "Female"][:2_000])
    moved = group_drift(reference=ref["sex"], current=fewer_women["sex"])
    assert moved.p_value is not None and moved.p_value < 1e-10
    female = next(g for g in moved.groups if g.group == "Female")
    assert female.difference is not None and female.difference < -0.03


def test_group_drift_too_few_rows_and_one_group():
    tiny = group_drift(reference=pd.Series(["a"]), current=pd.Series(["a", "b"]))
    assert tiny.p_value is None and tiny.statistic is None and "fewer than 2 rows" in (tiny.reason or "")
    one = group_drift(reference=pd.Series(["a"] * 5), current=pd.Series(["a"] * 7))
    assert one.p_value is None and "only one category" in (one.reason or "")


def test_feature_drift_by_group_judges_large_enough_groups_only(adult):
    ref, cur = _halves(adult, seed=9)
    # A group only in the reference, and a group with too few rows in the current data.
    ref = pd.concat([ref, ref.head(40).assign(race="Only-in-reference")], ignore_index=True)
    cur = cur[(cur["race"] != "Other") | (cur.index < cur.index[cur["race"] == "Other"][10])]
    result = feature_drift_by_group(reference=ref, current=cur, group_column="race", numeric=NUMERIC,
                                    categorical=CATEGORICAL, min_group_size=30)  # fmt: skip
    assert result.group("Only-in-reference").reason == "absent from the current data"
    other = result.group("Other")
    assert other.result is None and other.n_current == 10
    assert "fewer than 30 rows" in (other.reason or "")
    judged = {g.group for g in result.judged}
    assert judged == {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo"}
    black = result.group("Black").result
    assert black is not None
    direct = feature_drift(reference=ref[ref["race"] == "Black"], current=cur[cur["race"] == "Black"],
                           numeric=NUMERIC, categorical=[c for c in CATEGORICAL if c != "race"])  # fmt: skip
    assert [f.p_value for f in black.features] == [f.p_value for f in direct.features]
    assert "race" not in {f.name for f in black.features}
    json.dumps(result.to_dict(), allow_nan=False)
