"""The audit's stratified sample (``audit.sample``): allocation, selection and the reported error, against pandas.

Data: the Adult hiring example (UCI Adult, CC BY 4.0) through its Subject, and generated ids (labelled so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.sample import (
    allocate,
    candidate_probability,
    sample_hashes,
    sample_positions,
    share_margin,
    strata,
    stratified_sample,
)


def _frame(subject, seed: int) -> pd.DataFrame:
    """Each row's stratum (decision and every protected group, built with pandas) and its sample hash."""
    frame = subject.groups.astype(str).copy()
    frame.insert(0, "favourable", subject.favourable)
    frame["u"] = sample_hashes(subject.ids, seed=seed)
    return frame.reset_index(drop=True)


def test_every_stratum_holds_its_share_of_the_decisions_to_one_row_and_its_first_rows_by_hash(adult_subject) -> None:
    """20,000 of Adult's 48,842: per stratum (pandas groupby over decision and groups) floor or ceil of its
    proportional quota, exactly 20,000 in all, and within it the rows of smallest hash (pandas nsmallest)."""
    seed, wanted = 20261201, 20_000
    frame = _frame(adult_subject, seed)
    positions = sample_positions(adult_subject.ids, seed=seed, sample_rows=wanted,
                                 favourable=adult_subject.favourable, groups=adult_subject.groups)
    assert len(positions) == wanted and len(np.unique(positions)) == wanted
    keys = [c for c in frame.columns if c != "u"]
    sizes = frame.groupby(keys).size()
    quota = sizes * wanted / len(frame)
    taken = frame.iloc[positions].groupby(keys).size().reindex(sizes.index, fill_value=0)
    assert ((taken == np.floor(quota)) | (taken == np.ceil(quota))).all()
    assert len(sizes) > 40  # sex × race × age band × decision: many strata, some of a handful of people
    expected = set()
    for key, members in frame.groupby(keys):
        expected.update(members.nsmallest(int(taken.loc[key]), "u").index)
    assert set(positions) == expected


def test_the_sample_follows_the_ids_not_their_order_and_changes_with_the_seed(adult_subject) -> None:
    order = np.random.default_rng(3).permutation(adult_subject.n)
    ids, favourable = adult_subject.ids, adult_subject.favourable
    groups = adult_subject.groups
    first = set(ids[sample_positions(ids, seed=1, sample_rows=5_000, favourable=favourable, groups=groups)])
    shuffled = sample_positions(ids[order], seed=1, sample_rows=5_000, favourable=favourable[order],
                                groups=groups.iloc[order].reset_index(drop=True))
    assert set(ids[order][shuffled]) == first
    other = set(ids[sample_positions(ids, seed=2, sample_rows=5_000, favourable=favourable, groups=groups)])
    assert other != first and len(other & first) < 1_000  # about 5,000 × 5,000 / 48,842 = 512 shared by chance


def test_largest_remainders_and_a_short_stratum_are_counted() -> None:
    """Generated: quotas 2.5, 2.5 and 5.0 of 10 rows: the tie goes to the first stratum in order."""
    assert allocate({"b": 25, "a": 25, "c": 50}, sample_rows=10) == {"a": 3, "b": 2, "c": 5}
    assert allocate({"a": 3, "b": 4}, sample_rows=10) == {"a": 3, "b": 4}  # fewer rows than wanted: every row
    # a stratum allocated 2 rows with a single candidate takes it, and the sample says it is one row short
    u = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    keys = np.array(["big", "big", "small", "big", "big"], dtype=object)
    keep, drawn = stratified_sample(u, keys, {"big": 400, "small": 200}, sample_rows=6)
    assert keep.all() and (drawn.wanted, drawn.rows, drawn.short, drawn.strata) == (6, 5, 1, 2)
    # with enough candidates, the smallest hashes of each stratum
    keep, drawn = stratified_sample(u, keys, {"big": 450, "small": 150}, sample_rows=4)
    assert keep.tolist() == [True, True, True, True, False] and drawn.short == 0


def test_candidates_are_three_samples_and_strata_name_decision_and_groups() -> None:
    assert candidate_probability(rows=1_000_000, sample_rows=20_000) == pytest.approx(0.06)
    assert candidate_probability(rows=10_000, sample_rows=20_000) == 1.0
    keys = strata(np.array([True, False]), pd.DataFrame({"sex": ["Female", "Male"], "age": ["25-40", "unknown"]}))
    assert keys[0] != keys[1] and "Female" in keys[0] and "favourable" in keys[0] and "adverse" in keys[1]


def test_the_stated_sampling_error_covers_a_share_read_from_the_sample(adult_subject) -> None:
    """The ±margin the report states for a share read from the sample covers the sampling error of a share the
    strata do not fix (people working more than 40 hours a week, pandas on Adult) in at least 95 % of 100 seeds."""
    n, rows = 5_000, adult_subject.n
    margin = share_margin(sample_rows=n, rows=rows)
    assert margin == pytest.approx(1.96 * np.sqrt(0.25 / n * (rows - n) / (rows - 1)))
    long_hours = (adult_subject.X["hours-per-week"] > 40).to_numpy()
    truth = long_hours.mean()
    errors = np.array([long_hours[sample_positions(adult_subject.ids, seed=s, sample_rows=n,
                                                   favourable=adult_subject.favourable,
                                                   groups=adult_subject.groups)].mean() - truth for s in range(100)])
    assert (np.abs(errors) <= margin).mean() >= 0.95
    assert errors.std() > margin / 6  # a real sampling error, not a share the strata fix
    assert share_margin(sample_rows=rows, rows=rows) == 0.0
