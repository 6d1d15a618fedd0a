"""Recourse counted (audit.counterfactual.recourse_counts): the sums the recourse evidence reads equal numpy and
pandas on the searched rows, halves searched apart add up to the whole, and the gap's interval covers in simulation.

Data: the German credit example (examples/german-credit, 500 applicants; UCI Statlog German Credit, CC BY 4.0);
costs generated with a seed for the coverage simulation (labelled as generated).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audit.counterfactual import build_actionability, constraint_violations, find_recourse
from audit.counterfactual.flip_counts import SCALE
from audit.counterfactual.recourse_counts import GroupCosts, RecourseCounts, count_recourse, recourse_gap_of_counts


@pytest.fixture(scope="module")
def searched(german_subject):  # type: ignore[no-untyped-def]
    """Recourse for every adverse decision of the German credit example, the rules from its rows."""
    s = german_subject
    action = build_actionability(X=s.X, feature_types=s.feature_types, immutable=s.immutable,
                                 increase_only=s.spec.data.increase_only)
    adverse = np.flatnonzero(~s.favourable)

    def search(rows: np.ndarray):  # type: ignore[no-untyped-def]
        return find_recourse(X=s.X, rows=rows, model=s.model, action=action, score_before=s.predictions.score[rows],
                             max_changes=s.spec.counterfactuals.max_changes,
                             favourable_is_positive=s.favourable_is_positive)

    return s, action, adverse, search


def test_the_sums_are_numpys_and_pandas_on_the_searched_rows(searched) -> None:  # type: ignore[no-untyped-def]
    s, action, adverse, search = searched
    result = search(adverse)
    groups = s.groups.iloc[adverse].reset_index(drop=True)
    counts = count_recourse(result, action, groups=groups)
    found = result.found
    assert (counts.adverse, counts.found, counts.withdrawn) == (adverse.size, int(found.sum()), result.n_withdrawn)
    assert counts.validity == result.validity
    assert counts.mean_cost == pytest.approx(np.nanmean(result.cost), rel=1e-12)
    assert counts.mean_changes == pytest.approx(result.n_changes[found].mean(), rel=1e-12)
    assert counts.violations == constraint_violations(result, action)
    assert counts.units == {u.name: int(k) for u, k in zip(action.units, result.changed[found].sum(axis=0),
                                                            strict=True)}
    gap = recourse_gap_of_counts(counts, attributes=list(groups.columns), min_group_size=30,
                                 rng=np.random.default_rng(0), n_boot=500)
    frame = groups.assign(cost=result.cost)
    for row in gap.rows:
        costs = frame.loc[frame[row["attribute"]].astype(str) == row["group"], "cost"].dropna().to_numpy()
        assert row["n_with_recourse"] == costs.size
        if costs.size >= 2:
            half = 1.959963984540054 * costs.std(ddof=1) / np.sqrt(costs.size)
            assert row["mean_cost"] == pytest.approx(costs.mean(), rel=1e-12)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((costs.mean() - half, costs.mean() + half),
                                                                    rel=1e-9)
    for attribute, g in gap.gaps.items():
        means = [r["mean_cost"] for r in gap.rows if r["attribute"] == attribute and r["in_gap"]]
        assert g["gap"] == pytest.approx(max(means) - min(means), rel=1e-12)
        assert g["ci_low"] is not None and g["ci_high"] is not None and g["ci_low"] <= g["ci_high"]


def test_two_halves_searched_apart_add_up_to_the_whole(searched) -> None:  # type: ignore[no-untyped-def]
    """As two partitions would: the same sums in either order (the work, n_predicted, is not a figure)."""
    s, action, adverse, search = searched
    halves = [adverse[: adverse.size // 2], adverse[adverse.size // 2:]]
    parts = [count_recourse(search(rows), action, groups=s.groups.iloc[rows].reset_index(drop=True))
             for rows in halves]
    whole = count_recourse(search(adverse), action, groups=s.groups.iloc[adverse].reset_index(drop=True))
    for merged in (parts[0].merge(parts[1]), parts[1].merge(parts[0])):
        assert dataclasses.replace(merged, n_predicted=0) == dataclasses.replace(whole, n_predicted=0)


def test_the_gaps_interval_covers_a_known_gap_in_simulation() -> None:
    """Generated skewed costs (lognormal) in two groups of 150 recourses, true gap known: the parametric interval
    from each group's sums covers it about 95 % of the time (400 seeded repetitions)."""
    rng = np.random.default_rng(16)
    truth = np.exp(0.5) * (np.exp(0.3) - 1.0)  # E[lognormal(0.3, 1)] - E[lognormal(0, 1)]
    covered = 0
    for _ in range(400):
        groups = {}
        for name, mu in (("a", 0.0), ("b", 0.3)):
            cost = rng.lognormal(mu, 1.0, size=150)
            units = np.rint(cost * SCALE).astype(np.int64)
            groups[("g", name)] = GroupCosts(adverse=150, found=150, cost=int(units.sum()),
                                             squares=int(np.rint(cost * cost * SCALE).astype(np.int64).sum()))
        counts = RecourseCounts(adverse=300, found=300, withdrawn=0, changes=300, cost=0, violations={}, units={},
                                groups=groups)
        gap = recourse_gap_of_counts(counts, attributes=["g"], min_group_size=30, rng=rng, n_boot=400).gaps["g"]
        low, high = gap["ci_low"], gap["ci_high"]
        assert low is not None and high is not None
        covered += int(low <= truth <= high)
    assert 0.91 <= covered / 400 <= 0.98, covered / 400
