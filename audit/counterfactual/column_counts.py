"""Rows per value of every input column: what the rules of change (:mod:`.actionability`) are derived from.

A recourse may move a feature only to values seen in the data, priced by the feature's robust spread; which values
and which spread depend on every row. Counting them per value makes them exactly mergeable: a partitioned audit
(``audit.scale``) counts each partition where it is read and adds the counts, an audit of the file read whole counts
its one frame, and both derive the same rules from the same counts, so the same recourse for the same person.

- ``values``: column -> value -> rows (missing values left out). A column with more than
  :data:`MAX_VALUES` distinct values is dropped at merge (its counts would grow with the rows); the caller then
  derives that column's rules from the audit's sample and says so.
- ``pairs``: for two columns that are one-to-one in these rows (same rows missing, each value of one fixes the
  other: Adult's ``education`` and ``education-num``), the rows per pair of values. A pair one-to-one in every
  partition and whose merged pairs are as many as each column's values is one-to-one over all rows; a pair that is
  not one-to-one in some partition is absent from it and so from the merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

__all__ = ["ColumnCounts", "column_counts", "MAX_VALUES", "LINK_VALUES", "Counted"]

#: Distinct values of one column kept in merged counts; a column with more is derived from the sample.
MAX_VALUES = 100_000
#: Columns with more distinct values than this are never linked into one unit (checked in every partition).
LINK_VALUES = 1_000

#: A column's values in ascending order with the rows holding each (numbers only).
Counted = tuple[np.ndarray, np.ndarray]


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class ColumnCounts:
    """Rows per value of each column and per value pair of one-to-one columns (one partition's, or merged)."""

    rows: int
    values: dict[str, dict[Any, int]]
    dtypes: dict[str, str]  # column -> its dtype's name in the frame counted (read with :meth:`dtype`)
    pairs: dict[tuple[str, str], dict[tuple[Any, Any], int]]
    columns: tuple[str, ...]  # every column counted, in the frame's order (dropped ones included)

    def merge(self, other: ColumnCounts) -> ColumnCounts:
        """Both partitions' counts; a column past ``MAX_VALUES`` distinct values is dropped, a pair one-to-one in only
        one of them is dropped (the same in any order)."""
        values: dict[str, dict[Any, int]] = {}
        for column in self.columns:
            if column not in self.values or column not in other.values:
                continue
            merged = dict(self.values[column])
            for value, n in other.values[column].items():
                merged[value] = merged.get(value, 0) + n
            if len(merged) <= MAX_VALUES:
                values[column] = merged
        pairs: dict[tuple[str, str], dict[tuple[Any, Any], int]] = {}
        for key in self.pairs.keys() & other.pairs.keys():
            joint = dict(self.pairs[key])
            for value, n in other.pairs[key].items():
                joint[value] = joint.get(value, 0) + n
            pairs[key] = joint
        return ColumnCounts(rows=self.rows + other.rows, values=values, dtypes=dict(self.dtypes),
                            pairs=pairs, columns=self.columns)

    def filled_from(self, other: ColumnCounts) -> ColumnCounts:
        """These counts with the columns they dropped taken from ``other`` (the sample's), for a column with too many
        distinct values to count over every row."""
        values = {c: self.values[c] if c in self.values else other.values.get(c, {}) for c in self.columns}
        return ColumnCounts(rows=self.rows, values=values, dtypes=dict(self.dtypes),
                            pairs=dict(self.pairs), columns=self.columns)

    def capped(self) -> ColumnCounts:
        """These counts without the columns past ``MAX_VALUES`` distinct values (as a merge leaves them), so one
        partition and many give the same counts."""
        values = {c: v for c, v in self.values.items() if len(v) <= MAX_VALUES}
        return ColumnCounts(rows=self.rows, values=values, dtypes=dict(self.dtypes),
                            pairs=dict(self.pairs), columns=self.columns)

    def dtype(self, column: str) -> Any:
        """The column's dtype in the frames counted (integer columns keep it in a recourse's options)."""
        return pd.api.types.pandas_dtype(self.dtypes[column])

    @property
    def dropped(self) -> list[str]:
        """Columns whose values were too many to count over every row."""
        return [c for c in self.columns if c not in self.values]

    def numbers(self, column: str) -> Counted:
        """The column's values as floats in ascending order, and the rows per value."""
        counted = self.values[column]
        values = np.array([float(v) for v in counted], dtype=float)
        order = np.argsort(values, kind="stable")
        return values[order], np.array(list(counted.values()), dtype=np.int64)[order]

    def by_frequency(self, column: str) -> list[Any]:
        """The column's values, most frequent first (ties by their text, so any merge order gives one order)."""
        counted = self.values[column]
        return sorted(counted, key=lambda v: (-counted[v], str(v)))

    def one_to_one(self, a: str, b: str) -> bool:
        """Whether columns ``a`` and ``b`` (``a`` first in the frame) fix each other over every row counted."""
        joint = self.pairs.get((a, b))
        if joint is None or a not in self.values or b not in self.values:
            return False
        n = len(self.values[a])
        return n >= 2 and n == len(self.values[b]) == len(joint)

    def partner(self, a: str, b: str) -> dict[Any, Any]:
        """For one-to-one columns (``a`` before ``b``, or after): each value of ``a`` -> the value of ``b``."""
        if (a, b) in self.pairs:
            return {va: vb for va, vb in self.pairs[(a, b)]}
        return {va: vb for vb, va in self.pairs[(b, a)]}


def _one_to_one_here(frame: pd.DataFrame, a: str, b: str, distinct: dict[str, int]) -> dict[tuple[Any, Any], int] | None:
    """The rows per value pair when ``a`` and ``b`` are one-to-one in these rows, else None."""
    if distinct[a] != distinct[b] or distinct[a] > LINK_VALUES:
        return None
    if not frame[a].isna().equals(frame[b].isna()):
        return None
    joint = frame[[a, b]].dropna().value_counts(sort=False)
    joint = joint[joint > 0]  # categorical columns: unseen combinations are listed with 0 rows
    if len(joint) != distinct[a]:
        return None
    return {(_scalar(va), _scalar(vb)): int(n) for (va, vb), n in cast(Any, joint).items()}


def column_counts(frame: pd.DataFrame) -> ColumnCounts:
    """Count one frame (a partition, or every row read whole)."""
    columns = tuple(str(c) for c in frame.columns)
    values: dict[str, dict[Any, int]] = {}
    for c in columns:
        counted = frame[c].value_counts(dropna=True, sort=False)
        values[c] = {_scalar(v): int(n) for v, n in counted.items() if n > 0}  # a categorical's unseen categories: 0
    distinct = {c: len(values[c]) for c in columns}
    pairs = {}
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            joint = _one_to_one_here(frame, a, b, distinct)
            if joint is not None:
                pairs[(a, b)] = joint
    return ColumnCounts(rows=len(frame), values=values,
                        dtypes={c: str(frame[c].dtype) for c in columns}, pairs=pairs, columns=columns)


# --- statistics of counted values, as numpy computes them on the rows --------------------------------------------

def order_statistic(counted: Counted, k: int) -> float:
    """The k-th smallest value (0-based) of the rows the counts describe."""
    values, n = counted
    return float(values[int(np.searchsorted(np.cumsum(n), k, side="right"))])


def median(counted: Counted) -> float:
    """``np.median`` of the rows: the middle value, or the mean of the two middle ones."""
    total = int(counted[1].sum())
    middle = total // 2
    if total % 2:
        return order_statistic(counted, middle)
    return float(np.mean([order_statistic(counted, middle - 1), order_statistic(counted, middle)]))


def quantile_linear(counted: Counted, q: float) -> float:
    """``np.quantile(rows, q)`` (linear interpolation between the two nearest order statistics)."""
    total = int(counted[1].sum())
    virtual = total * q + (1 + q * (1 - 1 - 1)) - 1  # numpy's virtual index for alpha = beta = 1
    below = int(np.floor(virtual))
    gamma = virtual - below
    a = order_statistic(counted, max(0, min(below, total - 1)))
    b = order_statistic(counted, max(0, min(below + 1, total - 1)))
    diff = b - a
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)


def quantile_nearest(counted: Counted, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(rows, levels, method="nearest")``: the order statistic at the rounded (half to even) index."""
    total = int(counted[1].sum())
    index = np.around((total - 1) * levels).astype(np.int64)
    return np.array([order_statistic(counted, int(k)) for k in index])


def deviations(counted: Counted, centre: float) -> Counted:
    """The absolute deviations from ``centre`` with their rows, in ascending order."""
    values, n = counted
    d = np.abs(values - centre)
    order = np.argsort(d, kind="stable")
    return d[order], n[order]


def std(counted: Counted) -> float:
    """``np.std`` of the rows (population standard deviation)."""
    values, n = counted
    total = n.sum()
    mean = float((values * n).sum() / total)
    return float(np.sqrt(float((n * (values - mean) ** 2).sum()) / total))


def without(counted: Counted, value: float) -> Counted:
    """The counts with every row holding ``value`` left out."""
    keep = counted[0] != value
    return counted[0][keep], counted[1][keep]

