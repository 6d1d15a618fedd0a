"""Rules of change from rows per value (audit.counterfactual.column_counts): the statistics match numpy on the rows,
and counts merged from partitions give the rules of the whole frame.

Data: the Adult hiring example (examples/adult-hiring/adult.parquet, UCI Adult, CC BY 4.0) and numbers generated
here with a seed (labelled as generated).
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.counterfactual.actionability import actionability_from_counts, build_actionability
from audit.counterfactual.column_counts import (
    MAX_VALUES,
    ColumnCounts,
    column_counts,
    deviations,
    median,
    quantile_linear,
    quantile_nearest,
    std,
)

ADULT = Path(__file__).resolve().parents[2] / "examples" / "adult-hiring" / "adult.parquet"
FEATURE_TYPES = {"age": "numeric", "workclass": "categorical", "education": "categorical",
                 "education-num": "numeric", "occupation": "categorical", "capital-gain": "numeric",
                 "capital-loss": "numeric", "hours-per-week": "numeric", "sex": "categorical"}


def _counted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, n = np.unique(x, return_counts=True)
    return values.astype(float), n.astype(np.int64)


@pytest.mark.parametrize("size", [1, 2, 7, 100, 1001])
def test_statistics_of_counted_values_are_numpys_on_the_rows(size: int) -> None:
    """Generated numbers with many ties (integers) and without (floats): median, linear and nearest quantiles, MAD
    and standard deviation from the counts equal numpy's on the rows themselves."""
    rng = np.random.default_rng(size)
    for x in (rng.integers(0, 12, size).astype(float), np.round(rng.lognormal(size=size), 3)):
        counted = _counted(x)
        assert median(counted) == np.median(x)
        for q in (0.25, 0.5, 0.75, 0.9):
            assert quantile_linear(counted, q) == pytest.approx(np.quantile(x, q), rel=1e-12, abs=1e-12)
        levels = np.linspace(0, 1, 9)
        np.testing.assert_array_equal(quantile_nearest(counted, levels), np.quantile(x, levels, method="nearest"))
        centre = np.median(x)
        assert median(deviations(counted, centre)) == np.median(np.abs(x - centre))
        assert std(counted) == pytest.approx(np.std(x), rel=1e-12, abs=1e-12)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return pd.read_parquet(ADULT)[list(FEATURE_TYPES)]


def _rules(counts: ColumnCounts) -> object:
    return actionability_from_counts(counts=counts, feature_types=FEATURE_TYPES, immutable=["sex"],
                                     increase_only=["age", "education-num"])


def test_rules_merged_from_8_partitions_are_the_whole_frames(adult: pd.DataFrame) -> None:
    """Adult's 48,842 rows counted in 8 uneven partitions and merged (in two orders) give the rules the whole frame
    gives: the same units (education and education-num linked), options, ranges, spreads and categories."""
    cuts = [0, 1_000, 7_000, 13_000, 20_000, 26_000, 33_000, 40_000, len(adult)]
    parts = [column_counts(adult.iloc[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    whole = build_actionability(X=adult, feature_types=FEATURE_TYPES, immutable=["sex"],
                                increase_only=["age", "education-num"])
    for merged in (reduce(ColumnCounts.merge, parts), reduce(ColumnCounts.merge, parts[::-1])):
        rules = _rules(merged.capped())
        assert [u.columns for u in rules.units] == [u.columns for u in whole.units]  # type: ignore[attr-defined]
        assert ("education", "education-num") in [u.columns for u in whole.units]
        for mine, theirs in zip(rules.units, whole.units, strict=True):  # type: ignore[attr-defined]
            pd.testing.assert_frame_equal(mine.options, theirs.options)
        for field in ("ranges", "categories", "scales", "integer", "notes"):
            assert getattr(rules, field) == getattr(whole, field), field
    # and those spreads are numpy's on the rows: capital-gain, mostly 0, takes the MAD of the other values
    gains = adult["capital-gain"].dropna().to_numpy(dtype=float)
    others = gains[gains != np.median(gains)]
    assert whole.scales["capital-gain"] == pytest.approx(1.4826 * np.median(np.abs(others - np.median(others))),
                                                         rel=1e-12)
    hours = adult["hours-per-week"].dropna().to_numpy(dtype=float)
    assert whole.scales["hours-per-week"] == pytest.approx(1.4826 * np.median(np.abs(hours - np.median(hours))),
                                                           rel=1e-12)


def test_columns_one_to_one_in_each_partition_but_not_over_all_are_not_linked() -> None:
    """Generated: a and b agree one-to-one within each half, but 'x' maps to 1 in one half and to 2 in the other."""
    first = pd.DataFrame({"a": ["x", "y"] * 5, "b": [1, 2] * 5})
    second = pd.DataFrame({"a": ["x", "y"] * 5, "b": [2, 1] * 5})
    assert column_counts(first).one_to_one("a", "b") and column_counts(second).one_to_one("a", "b")
    assert not column_counts(first).merge(column_counts(second)).one_to_one("a", "b")
    assert not column_counts(pd.concat([first, second])).one_to_one("a", "b")


def test_a_column_with_too_many_values_is_dropped_however_it_was_partitioned() -> None:
    """Generated: MAX_VALUES + 1 distinct values; one partition (capped) and two merged both drop the column, and
    filling it from another count (the sample's) puts it back."""
    frame = pd.DataFrame({"many": np.arange(MAX_VALUES + 1, dtype=float), "few": np.arange(MAX_VALUES + 1) % 3})
    one = column_counts(frame).capped()
    two = column_counts(frame.iloc[:50_000]).merge(column_counts(frame.iloc[50_000:]))
    assert one.dropped == two.dropped == ["many"]
    assert one.values["few"] == two.values["few"] == {0: 33_334, 1: 33_334, 2: 33_333}
    sample = column_counts(frame.iloc[:10])
    assert two.filled_from(sample).values["many"] == sample.values["many"]
