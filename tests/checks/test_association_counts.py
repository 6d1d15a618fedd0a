"""The proxy screen's tables from rows per (value, group): scipy's and scikit-learn's figures on the rows, and the
same tables however the rows are split (issue 16).

Data: the Adult hiring example (UCI Adult, CC BY 4.0) through its Subject, and generated frames (labelled so) for
missing values and the cap on distinct values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.fairness import associations
from audit.fairness.associations import AssociationCounts, association_counts, cramers_v_of_table, nmi_of_table
from audit.subject import MISSING_GROUP


def feature_codes(values: pd.Series, *, numeric: bool) -> np.ndarray:
    """The screen's codes computed from the rows (the row-wise screen this module's counts replaced): categories as
    they are, numbers binned at the distinct interior deciles of all rows (``np.quantile``), missing its own code."""
    if numeric:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(numbers)
        codes = np.full(len(numbers), -1, dtype=np.int64)
        if known.any():
            distinct = np.unique(numbers[known])
            if len(distinct) <= 10:
                codes[known] = np.searchsorted(distinct, numbers[known])
            else:
                edges = np.unique(np.quantile(numbers[known], np.linspace(0, 1, 11)[1:-1]))
                codes[known] = np.searchsorted(edges, numbers[known], side="left")
    else:
        codes, _ = pd.factorize(values.astype(object), use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
    return np.where(codes < 0, codes.max(initial=-1) + 1, codes)


def _counts(subject, rows: np.ndarray | slice = slice(None)) -> AssociationCounts:
    features = [str(c) for c in subject.tabular_columns]
    return association_counts(subject.X.iloc[rows], subject.groups.iloc[rows], features=features,
                              numeric={f: subject.feature_types[f] == "numeric" for f in features})


def _by_rows(X: pd.DataFrame, labels: np.ndarray, feature: str, *, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """The screen's codes counted from the rows as the row-wise screen does: (attribute codes, input codes) of the
    people whose group is known."""
    codes = feature_codes(X[feature], numeric=numeric)
    known = labels != MISSING_GROUP
    return pd.factorize(labels[known])[0], codes[known]


def test_tables_from_counts_give_scipys_cramers_v_and_sklearns_nmi_on_adult(adult_subject) -> None:
    from scipy.stats.contingency import association
    from sklearn.metrics import normalized_mutual_info_score

    counts = _counts(adult_subject)
    assert len(counts.pairs) == len(counts.features) * len(counts.attributes) - sum(
        f in counts.attributes for f in counts.features)
    for (feature, attribute), pair in counts.pairs.items():
        numeric = counts.numeric[feature]
        target, codes = _by_rows(adult_subject.X, adult_subject.groups[attribute].to_numpy(dtype=object), feature,
                                 numeric=numeric)
        table = pair.contingency(numeric=numeric)
        assert table.sum() == len(codes), (feature, attribute)
        expected = pd.crosstab(codes, target).to_numpy()
        assert cramers_v_of_table(table) == pytest.approx(association(expected, method="cramer"), abs=1e-12)
        assert nmi_of_table(table) == pytest.approx(normalized_mutual_info_score(target, codes), abs=1e-12)


def test_adult_counted_in_8_uneven_partitions_merges_to_the_whole_frames_tables_in_any_order(adult_subject) -> None:
    whole = _counts(adult_subject)
    cuts = [0, 700, 5_000, 5_001, 12_345, 20_000, 31_000, 40_000, adult_subject.n]
    parts = [_counts(adult_subject, np.arange(a, b)) for a, b in zip(cuts, cuts[1:], strict=False)]
    forward, backward = parts[0], parts[-1]
    for part in parts[1:]:
        forward = forward.merge(part)
    for part in reversed(parts[:-1]):
        backward = backward.merge(part)
    assert forward.rows == backward.rows == whole.rows == adult_subject.n
    assert list(forward.pairs) == list(whole.pairs) == list(backward.pairs)
    for key, pair in whole.pairs.items():
        numeric = whole.numeric[key[0]]
        for merged in (forward, backward):
            pd.testing.assert_frame_equal(merged.pairs[key].known, pair.known, check_dtype=False)
            assert np.array_equal(merged.pairs[key].contingency(numeric=numeric), pair.contingency(numeric=numeric))


def test_missing_values_and_unknown_groups_are_counted_as_the_row_screen_counts_them() -> None:
    """Generated: a numeric input with missing values and a mass point, a categorical one with None, and people of
    unknown sex (left out of the table, yet their values set the deciles, as in the row-wise screen)."""
    from scipy.stats.contingency import association

    rng = np.random.default_rng(5)
    n = 3_000
    income = np.where(rng.random(n) < 0.6, 0.0, rng.gamma(2.0, 900.0, n).round())
    income[rng.random(n) < 0.05] = np.nan
    job = rng.choice(np.array(["a", "b", "c", None], dtype=object), size=n, p=[0.5, 0.3, 0.15, 0.05])
    sex = rng.choice(np.array(["Female", "Male", MISSING_GROUP], dtype=object), size=n, p=[0.45, 0.5, 0.05])
    X = pd.DataFrame({"income": income, "job": job})
    groups = pd.DataFrame({"sex": sex})
    halves = [association_counts(X.iloc[s], groups.iloc[s], features=["income", "job"],
                                 numeric={"income": True, "job": False}) for s in (slice(0, 1_234), slice(1_234, n))]
    merged = halves[0].merge(halves[1])
    for feature, numeric in (("income", True), ("job", False)):
        target, codes = _by_rows(X, sex, feature, numeric=numeric)
        expected = pd.crosstab(codes, target).to_numpy()
        table = merged.pairs[(feature, "sex")].contingency(numeric=numeric)
        assert table.sum() == (sex != MISSING_GROUP).sum()
        assert cramers_v_of_table(table) == pytest.approx(association(expected, method="cramer"), abs=1e-12)


def test_an_input_with_too_many_values_is_dropped_the_same_in_one_or_two_partitions(monkeypatch) -> None:
    """Generated: ``amount`` has 400 distinct values; with the cap at 300 it is dropped by ``capped`` (one partition)
    and by the merge (two of 200 values each), for every attribute, and then filled from the sample's counts."""
    monkeypatch.setattr(associations, "MAX_VALUES", 300)
    X = pd.DataFrame({"amount": np.arange(400, dtype=float), "job": ["a", "b"] * 200})
    groups = pd.DataFrame({"sex": ["F", "M", "M", "F"] * 100, "race": ["x"] * 400})
    numeric = {"amount": True, "job": False}
    one = association_counts(X, groups, features=["amount", "job"], numeric=numeric).capped()
    two = association_counts(X.iloc[:200], groups.iloc[:200], features=["amount", "job"], numeric=numeric).capped() \
        .merge(association_counts(X.iloc[200:], groups.iloc[200:], features=["amount", "job"], numeric=numeric))
    for counts in (one, two):
        assert counts.dropped == ["amount"]
        assert set(counts.pairs) == {("job", "sex"), ("job", "race")}
    sample = association_counts(X.iloc[::4], groups.iloc[::4], features=["amount", "job"], numeric=numeric)
    filled = two.filled_from(sample)
    assert filled.pairs[("amount", "sex")] is sample.pairs[("amount", "sex")]
    assert filled.pairs[("job", "sex")] is two.pairs[("job", "sex")]
