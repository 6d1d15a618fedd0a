"""Counts over every decision that the rate checks read, whether the rows were in one process or in partitions.

``fairness.selection_rate`` and ``fairness.eeo_impact`` report rates and impact ratios that the law wants over all
people (NYC LL144: every applicant); ``fairness.error_rates`` reports error rates, their gaps and disparities by group
and the Theil index. Each is a ratio (or, for the Theil index, a function) of cell counts, and the Poisson
bootstrap resamples the cells alone (``bootstrap.resample_cells``). So a :class:`Population` (the cells of each
breakdown, the cells of everyone, and how many people fall in an unknown category) is all those figures need: counted from a Subject's rows in one process, or
counted per partition and merged with :meth:`Population.merge` (``audit.scale``), which gives the same integers,
hence the same figures and intervals, however the rows were split.

Groups are keyed by their values (``("Female", "Black")``), not by a code: each partition sees only some groups.
:meth:`Population.breakdown` orders them as :func:`~audit.fairness.groups.build_breakdowns` does (sorted values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.fairness.groups import Breakdown, breakdown_of, cell_counts
from audit.subject import MISSING_GROUP

__all__ = ["Population", "Cells", "count_population"]

#: Group values -> (TP, FP, FN, TN).
Cells = dict[tuple[str, ...], tuple[int, int, int, int]]


def _add(a: Cells, b: Cells) -> Cells:
    out = dict(a)
    for key, (tp, fp, fn, tn) in b.items():
        mine = out.get(key, (0, 0, 0, 0))
        out[key] = (mine[0] + tp, mine[1] + fp, mine[2] + fn, mine[3] + tn)
    return out


@dataclass(frozen=True)
class Population:
    """Cells of each breakdown over all decisions, for the decision against the outcome and for "selected".

    - ``outcome``: the model's decision (positive class) crossed with the actual outcome; without labels every row
      counts as a negative outcome (``cell_counts``).
    - ``selected``: what the selection check counts as selected (the favourable decision, or for a scoring tool the
      favourable side of the median score) in FP, the others in TN.
    - ``unknown``: for each set of attributes, people whose value is unknown in at least one of them.
    - ``everyone``: the decision against the outcome over every row, whatever its groups (TP, FP, FN, TN): the
      Theil index reads it.
    """

    rows: int
    outcome: dict[tuple[str, ...], Cells]
    selected: dict[tuple[str, ...], Cells]
    unknown: dict[tuple[str, ...], int]
    everyone: tuple[int, int, int, int]

    def merge(self, other: Population) -> Population:
        """Both populations' people together (partitions merge in any order to the same counts)."""
        if set(other.outcome) != set(self.outcome) or set(other.unknown) != set(self.unknown):
            raise ValueError("cannot merge populations counted over different breakdowns")
        return Population(
            rows=self.rows + other.rows,
            outcome={k: _add(v, other.outcome[k]) for k, v in self.outcome.items()},
            selected={k: _add(v, other.selected[k]) for k, v in self.selected.items()},
            unknown={k: v + other.unknown[k] for k, v in self.unknown.items()},
            everyone=(self.everyone[0] + other.everyone[0], self.everyone[1] + other.everyone[1],
                      self.everyone[2] + other.everyone[2], self.everyone[3] + other.everyone[3]),
        )

    def breakdown(self, attributes: tuple[str, ...]) -> Breakdown:
        """The breakdown over ``attributes`` (one counted), its groups in sorted order; no row codes."""
        return Breakdown.from_counts(attributes, tuple(sorted(self.outcome[attributes])), rows=self.rows,
                                     unknown=self.unknown[attributes])

    def cells(self, attributes: tuple[str, ...], *, selected: bool) -> np.ndarray:
        """Cells (groups, 4) in the order of :meth:`breakdown`: of "selected", or of the decision against the outcome."""
        counted = (self.selected if selected else self.outcome)[attributes]
        values = sorted(self.outcome[attributes])
        return np.array([counted.get(v, (0, 0, 0, 0)) for v in values], dtype=np.int64).reshape(len(values), 4)

    def unknown_among(self, attributes: tuple[str, ...]) -> int:
        """People whose value is unknown in at least one of ``attributes`` (a set counted)."""
        return self.unknown[attributes]


def _cells(breakdown: Breakdown, *, decision: np.ndarray, y: np.ndarray | None) -> Cells:
    counts = cell_counts(breakdown.codes, breakdown.n_groups, decision=decision, y=y)
    return {values: (int(c[0]), int(c[1]), int(c[2]), int(c[3]))
            for values, c in zip(breakdown.values, counts, strict=True)}


def count_population(groups: pd.DataFrame, *, breakdowns: list[tuple[str, ...]], unknown_sets: list[tuple[str, ...]],
                     decision: np.ndarray, y: np.ndarray | None, selected: np.ndarray) -> Population:
    """Count ``breakdowns`` (attribute tuples) and ``unknown_sets`` over the rows of ``groups`` (one label per row
    and protected attribute, as ``Subject.groups``)."""
    outcome: dict[tuple[str, ...], Cells] = {}
    chosen: dict[tuple[str, ...], Cells] = {}
    for attributes in dict.fromkeys(breakdowns):
        b = breakdown_of(groups, attributes)
        outcome[attributes] = _cells(b, decision=decision, y=y)
        chosen[attributes] = _cells(b, decision=selected, y=None)
    unknown = {}
    for attributes in dict.fromkeys([*breakdowns, *unknown_sets]):
        unknown[attributes] = int((groups[list(attributes)] == MISSING_GROUP).any(axis=1).sum())
    total = cell_counts(np.zeros(len(groups), dtype=np.int64), 1, decision=decision, y=y)[0]
    return Population(rows=len(groups), outcome=outcome, selected=chosen, unknown=unknown,
                      everyone=(int(total[0]), int(total[1]), int(total[2]), int(total[3])))
