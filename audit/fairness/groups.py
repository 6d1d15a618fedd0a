"""Groups to compare: one breakdown per protected attribute and per configured intersection.

A :class:`Breakdown` codes every row with the index of its group (or -1 for
the "unknown" category, which LL144 asks to count and leave out). Everything
downstream works on per-group cell counts, never on rows again, which keeps
the bootstrap cheap (see ``bootstrap.py``).

Cell layout of :func:`cell_counts` (last axis): true positive, false positive,
false negative, true negative. Without labels every row counts as a negative
label, so column 1 holds the selected and column 3 the not selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from audit.errors import FAIRNESS_INTERSECTION_UNKNOWN, SPEC_INVALID, AuditInputError
from audit.subject import MISSING_GROUP

__all__ = [
    "Breakdown",
    "breakdown_of",
    "build_breakdowns",
    "cell_counts",
    "exclusion_reasons",
    "intersection_sets",
    "LL144_SHARE",
    "TP",
    "FP",
    "FN",
    "TN",
]

TP, FP, FN, TN = 0, 1, 2, 3
LL144_SHARE = 0.02  # 6 RCNY 5-301: categories under 2 % of the audit data may be left out of impact ratios
CROSS = " × "


@dataclass(frozen=True)
class Breakdown:
    """One way of splitting people into groups: a protected attribute or an intersection of several."""

    attributes: tuple[str, ...]
    #: Group index per row; -1 = unknown category. Empty for a breakdown assembled from partition counts
    #: (:meth:`from_counts`): the rows stayed on the workers, and only the figures below exist.
    codes: np.ndarray
    labels: tuple[str, ...]  # the category as shown: "Female", "Female × Black"
    values: tuple[tuple[str, ...], ...]  # each group's value per attribute
    rows: int  # people in the data, unknown category included
    unknown: int  # people whose category is unknown in at least one attribute of the breakdown

    @classmethod
    def from_counts(cls, attributes: tuple[str, ...], values: tuple[tuple[str, ...], ...], *, rows: int,
                    unknown: int) -> Breakdown:
        """A breakdown known by its groups and counts only (a partitioned audit): no row codes."""
        return cls(attributes=attributes, codes=np.zeros(0, dtype=np.int64),
                   labels=tuple(CROSS.join(v) for v in values), values=values, rows=rows, unknown=unknown)

    @property
    def name(self) -> str:
        """ "sex" or "sex × race"."""
        return CROSS.join(self.attributes)

    @property
    def n_groups(self) -> int:
        """Number of known categories."""
        return len(self.labels)

    @property
    def unknown_count(self) -> int:
        """People whose category is unknown in at least one attribute of the breakdown."""
        return self.unknown

    def key(self, index: int) -> str:
        """Stable name of a group for metrics: "sex=Female" or "sex=Female & race=Black"."""
        return " & ".join(f"{a}={v}" for a, v in zip(self.attributes, self.values[index], strict=True))



def intersection_sets(
    attributes: list[str], intersections: list[list[str]] | str, *, spec_path: Path | str = "audit.yaml"
) -> list[tuple[str, ...]]:
    """Which attribute combinations to cross: "all-pairs", or the spec's explicit lists (validated)."""
    if intersections == "all-pairs":
        return list(combinations(attributes, 2))
    out = []
    for combo in intersections:
        for column in combo:
            if column not in attributes:
                problem = FAIRNESS_INTERSECTION_UNKNOWN.format(column=column, available=", ".join(attributes))
                raise AuditInputError(SPEC_INVALID, path=spec_path, field="fairness.intersections", problem=problem)
        if len(set(combo)) >= 2:
            out.append(tuple(dict.fromkeys(combo)))
    return out


def build_breakdowns(
    groups: pd.DataFrame, intersections: list[list[str]] | str, *, spec_path: Path | str = "audit.yaml"
) -> list[Breakdown]:
    """One breakdown per protected attribute, then one per intersection (in spec order)."""
    attributes = [str(c) for c in groups.columns]
    sets = [(a,) for a in attributes] + intersection_sets(attributes, intersections, spec_path=spec_path)
    return [_breakdown(groups, combo) for combo in sets]


def breakdown_of(groups: pd.DataFrame, attributes: tuple[str, ...]) -> Breakdown:
    """The breakdown over ``attributes`` (one attribute, or their intersection) of the rows of ``groups``."""
    return _breakdown(groups, attributes)


def _breakdown(groups: pd.DataFrame, attributes: tuple[str, ...]) -> Breakdown:
    columns = [groups[a].astype(str).to_numpy(dtype=object) for a in attributes]
    unknown = np.zeros(len(groups), dtype=bool)
    for column in columns:
        unknown |= column == MISSING_GROUP
    keys = (
        pd.MultiIndex.from_arrays([c[~unknown] for c in columns])
        if len(columns) > 1
        else pd.Index(columns[0][~unknown])
    )
    codes_known, uniques = pd.factorize(keys, sort=True)
    values = tuple(tuple(str(v) for v in (u if isinstance(u, tuple) else (u,))) for u in uniques)
    codes = np.full(len(groups), -1, dtype=np.int64)
    codes[~unknown] = codes_known
    return Breakdown(attributes=attributes, codes=codes, labels=tuple(CROSS.join(v) for v in values), values=values,
                     rows=len(groups), unknown=int(unknown.sum()))


def cell_counts(codes: np.ndarray, n_groups: int, *, decision: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """Counts per group of (TP, FP, FN, TN), shape (groups, 4); rows with code -1 are left out.

    Without labels ``y`` every row is a negative label: FP = selected, TN = not selected.
    """
    known = codes >= 0
    truth = np.zeros(len(codes), dtype=bool) if y is None else np.asarray(y, dtype=bool)
    decided = np.asarray(decision, dtype=bool)
    cell = np.where(truth, np.where(decided, TP, FN), np.where(decided, FP, TN))
    flat = np.bincount(codes[known] * 4 + cell[known], minlength=n_groups * 4)
    return flat.reshape(n_groups, 4)


def exclusion_reasons(sizes: np.ndarray, *, n_total: int, min_size: int, min_share: float) -> list[str | None]:
    """Why each group is left out of ratios and gaps (None = eligible); count and rate are still shown."""
    share_rule = f"under {min_share * 100:g} % of the data (fairness.min_group_share)"
    reasons: list[str | None] = []
    for size in sizes:
        why = []
        if n_total and size / n_total < min_share:
            why.append(share_rule)
        if size < min_size:
            why.append(f"fewer than {min_size} people")
        reasons.append("; ".join(why) or None)
    return reasons
