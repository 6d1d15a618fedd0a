"""Recourse counted: what the recourse evidence reports of every adverse decision, as sums that add over partitions.

:func:`audit.counterfactual.recourse.find_recourse` searches the adverse rows it is given. The evidence reports
shares, means and a gap between groups over every adverse decision; each of them is a ratio of sums (recourses
found, withdrawn, features changed, costs, rule violations, per group the costs and their squares). So a partitioned
audit (``audit.scale``) searches each partition's adverse rows where the partition is read, keeps these sums
(:func:`count_recourse`), adds them (:meth:`RecourseCounts.merge`), and the evidence reads the merged sums exactly as
an audit of the file read whole reads its own: the same figures whatever the partitioning.

Intervals: a group's mean cost has a normal 95 % interval from its sums; the gap between the highest and lowest
mean cost of an attribute (groups of at least ``min_group_size`` recourses) has a parametric bootstrap interval:
each eligible group's mean drawn from its normal law, ``n_boot`` times, and the max − min percentiles taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

from audit.counterfactual._bootstrap import ALPHA
from audit.counterfactual._sums import SCALE, normal_interval, summed_mean, to_units
from audit.counterfactual.actionability import Actionability
from audit.counterfactual.recourse import RecourseResult, constraint_violations
from audit.subject import MISSING_GROUP

__all__ = ["Gap", "GapResult", "GroupCosts", "RecourseCounts", "RecoursePlan", "count_recourse", "recourse_gap_of_counts", "VIOLATIONS"]

#: The rules a counterfactual may break (``constraint_violations``' keys; all should count 0).
VIOLATIONS = ("immutable", "increase_only", "outside_observed")



class Gap(TypedDict):
    """The largest gap in mean recourse cost for one attribute (highest minus lowest eligible group)."""

    gap: float
    ci_low: float | None  # 95 % parametric bootstrap interval; None without bootstrap
    ci_high: float | None
    highest: str  # the group with the highest mean cost
    lowest: str


@dataclass
class GapResult:
    """Recourse cost by group, and the largest gap per attribute with its interval."""

    rows: list[dict[str, object]]
    gaps: dict[str, Gap]


@dataclass(frozen=True)
class RecoursePlan:
    """What every partition's search shares (small: it travels to the workers)."""

    action: Actionability
    max_changes: int


@dataclass(frozen=True)
class GroupCosts:
    """One group's adverse decisions, recourses found, and the sums of their costs and squares (units of 1/SCALE)."""

    adverse: int = 0
    found: int = 0
    cost: int = 0
    squares: int = 0

    def __add__(self, other: GroupCosts) -> GroupCosts:
        return GroupCosts(self.adverse + other.adverse, self.found + other.found, self.cost + other.cost,
                          self.squares + other.squares)


@dataclass(frozen=True)
class RecourseCounts:
    """The sums the recourse evidence reads (one partition's, or merged)."""

    adverse: int
    found: int
    withdrawn: int  # counterfactuals the final re-prediction did not decide favourably
    changes: int  # units changed, summed over the recourses found
    cost: int  # costs of the recourses found, summed, in units of 1/SCALE
    violations: dict[str, int]  # rule -> recourses that break it (all should be 0)
    units: dict[str, int]  # unit -> recourses that change it (in the action's order)
    groups: dict[tuple[str, str], GroupCosts] = field(default_factory=dict)  # (attribute, group) -> sums
    n_predicted: int = 0  # rows the model scored: the work, not a figure

    def merge(self, other: RecourseCounts) -> RecourseCounts:
        """Both partitions' sums (integers: the same in any order)."""
        groups = dict(self.groups)
        for key, sums in other.groups.items():
            groups[key] = groups.get(key, GroupCosts()) + sums
        return RecourseCounts(
            adverse=self.adverse + other.adverse, found=self.found + other.found,
            withdrawn=self.withdrawn + other.withdrawn, changes=self.changes + other.changes,
            cost=self.cost + other.cost,
            violations={k: self.violations.get(k, 0) + other.violations.get(k, 0)
                        for k in dict.fromkeys([*self.violations, *other.violations])},
            units={k: self.units.get(k, 0) + other.units.get(k, 0) for k in dict.fromkeys([*self.units, *other.units])},
            groups=groups, n_predicted=self.n_predicted + other.n_predicted)

    @property
    def validity(self) -> float | None:
        """Share of the counterfactuals the final re-prediction decided favourably (None: none to re-predict)."""
        searched = self.found + self.withdrawn
        return self.found / searched if searched else None

    @property
    def mean_cost(self) -> float | None:
        return self.cost / SCALE / self.found if self.found else None

    @property
    def mean_changes(self) -> float | None:
        return self.changes / self.found if self.found else None


def count_recourse(result: RecourseResult, action: Actionability, *, groups: pd.DataFrame) -> RecourseCounts:
    """The sums of one search (``groups``: the protected groups of the searched rows, aligned with them)."""
    units, squares = to_units(np.where(result.found, np.nan_to_num(result.cost), 0.0))
    per_group: dict[tuple[str, str], GroupCosts] = {}
    for attribute in groups.columns:
        labels = groups[attribute].astype(str).to_numpy(dtype=object)
        for g in pd.unique(labels):
            m = labels == g
            found = m & result.found
            per_group[(str(attribute), str(g))] = GroupCosts(int(m.sum()), int(found.sum()), int(units[found].sum()),
                                                             int(squares[found].sum()))
    changed = result.changed[result.found].sum(axis=0)
    return RecourseCounts(
        adverse=int(len(result.rows)), found=int(result.found.sum()), withdrawn=int(result.n_withdrawn),
        changes=int(result.n_changes[result.found].sum()), cost=int(units.sum()),
        violations=constraint_violations(result, action),
        units={u.name: int(k) for u, k in zip(result.units, changed, strict=True)},
        groups=per_group, n_predicted=int(result.n_predicted))


def recourse_gap_of_counts(counts: RecourseCounts, *, attributes: list[str], min_group_size: int,
                           rng: np.random.Generator, n_boot: int) -> GapResult:
    """Mean cost per group and, per attribute, the gap between the highest and the lowest mean cost over groups
    with at least ``min_group_size`` recourses (groups sorted by name; draws in that order)."""
    rows: list[dict[str, object]] = []
    gaps: dict[str, Gap] = {}
    for attribute in attributes:
        names = sorted(g for a, g in counts.groups if a == attribute)
        means: dict[str, float] = {}
        errors: dict[str, float] = {}
        for g in names:
            sums = counts.groups[(attribute, g)]
            mean, se = summed_mean(sums.found, sums.cost, sums.squares)
            low, high = normal_interval(mean, se)
            eligible = g != MISSING_GROUP and sums.found >= min_group_size and sums.found > 0
            rows.append({"attribute": attribute, "group": g, "n_adverse": sums.adverse, "n_with_recourse": sums.found,
                         "coverage": sums.found / sums.adverse if sums.adverse else None, "mean_cost": mean,
                         "ci_low": low, "ci_high": high, "in_gap": bool(eligible)})
            if eligible and mean is not None:
                means[g] = mean
                errors[g] = se or 0.0
        if len(means) < 2:
            continue
        high_group, low_group = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
        interval: tuple[float | None, float | None] = (None, None)
        if n_boot > 0:
            drawn = np.stack([rng.normal(means[g], errors[g], size=n_boot) for g in means], axis=1)
            q = np.quantile(drawn.max(axis=1) - drawn.min(axis=1), [ALPHA / 2, 1 - ALPHA / 2])
            interval = (float(q[0]), float(q[1]))
        gaps[attribute] = {"gap": means[high_group] - means[low_group], "ci_low": interval[0], "ci_high": interval[1],
                           "highest": high_group, "lowest": low_group}
    return GapResult(rows=rows, gaps=gaps)
