"""Which features a person may change, and to what: the rules every recourse respects.

An adverse decision's recourse may only move *actionable* features, only to
values seen in the data (numbers within the observed [min, max] and on a grid of
observed values; categories that occur), never touch an immutable feature
(protected attributes + ``data.immutable``) and never lower an increase-only
feature (age, years of education).

Columns that always move together in the data (a one-to-one mapping such as
Adult's ``education`` and ``education-num``) form one *unit*: changing one
without the other would describe a person who does not exist, so they change
together and count as one change.

Every rule is derived from the rows per value of each column (:mod:`.column_counts`), not from the rows themselves:
the same rules whether the data was read whole or counted partition by partition and merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.counterfactual.column_counts import (
    ColumnCounts,
    Counted,
    column_counts,
    deviations,
    median,
    quantile_linear,
    quantile_nearest,
    std,
    without,
)

__all__ = ["Unit", "Actionability", "build_actionability", "actionability_from_counts", "robust_scale", "is_integer_column", "format_value", "nice_step"]


@dataclass(frozen=True)
class Unit:
    """One thing a person could change: a column, or linked columns that always move together.

    ``options`` holds the values the unit may take (one row per option, one column
    per member); ``cost_column`` is the numeric member whose normalised distance is
    the cost of a change (None: a change costs 1, like a category).
    """

    name: str
    columns: tuple[str, ...]
    options: pd.DataFrame
    increase_only: tuple[str, ...] = ()
    cost_column: str | None = None

    @property
    def n_options(self) -> int:
        """Number of candidate values."""
        return len(self.options)


@dataclass
class Actionability:
    """The rules of change for one dataset, derived once and shared by the recourse search."""

    units: list[Unit]
    immutable: list[str]
    increase_only: list[str]
    ranges: dict[str, tuple[float, float]]
    categories: dict[str, set[str]]
    scales: dict[str, float]
    integer: dict[str, bool]
    notes: list[str] = field(default_factory=list)

    @property
    def actionable(self) -> list[str]:
        """Every column some unit may change."""
        return [c for u in self.units for c in u.columns]


def robust_scale(values: pd.Series) -> float:
    """A spread that outliers do not dominate, so one typical move costs about as much as one category change.

    MAD × 1.4826, else IQR / 1.349; for a feature where most rows share one value
    (capital gains: 92 % zeros, so both are 0) the MAD of the *other* values, since
    the standard deviation would make large moves look cheap; then std; then 1.
    """
    counted = values.dropna().value_counts(sort=False).sort_index()
    return _robust_scale((np.asarray(counted.index, dtype=float), counted.to_numpy(dtype=np.int64)))


def _robust_scale(counted: Counted) -> float:
    """:func:`robust_scale` of the rows the counts describe (values ascending)."""
    if counted[0].size == 0:
        return 1.0
    centre = median(counted)
    others = without(counted, centre)
    candidates = (lambda: 1.4826 * median(deviations(counted, centre)),
                  lambda: (quantile_linear(counted, 0.75) - quantile_linear(counted, 0.25)) / 1.349,
                  lambda: 1.4826 * median(deviations(others, median(others))) if others[0].size else 0.0,
                  lambda: std(counted))
    for candidate in candidates:
        value = float(candidate())
        if value > 0:
            return value
    return 1.0


def is_integer_column(values: pd.Series) -> bool:
    """True when a numeric column holds whole numbers only (then changed values are rounded)."""
    return _whole_numbers(values.dtype, values.dropna().to_numpy(dtype=float))


def _whole_numbers(dtype: Any, values: np.ndarray) -> bool:
    """An integer dtype, or some values and every one a whole number."""
    return bool(pd.api.types.is_integer_dtype(dtype)) or (bool(values.size) and bool(np.all(values == np.round(values))))


def format_value(value: object) -> str:
    """A value as a reader sees it in a recourse text ("missing" for NaN, whole numbers without .0)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (float, np.floating)):  # exact: the shortest text that reads back as the same number
        return f"{value:.0f}" if float(value).is_integer() else np.format_float_positional(float(value), trim="-")
    return str(value)


def nice_step(scale: float) -> float:
    """A round step of about 1 % of a feature's spread: refined values are rounded to it, so texts stay short."""
    return float(10.0 ** np.floor(np.log10(scale / 100.0))) if scale > 0 else 1.0


def _numeric_grid(counted: Counted, grid_size: int) -> np.ndarray:
    """Observed values at evenly spaced quantiles of the rows and of the distinct values.

    The second half matters for sparse features (capital gains: 90 % zeros), whose
    row quantiles would all be 0.
    """
    if counted[0].size == 0:
        return np.array([])
    levels = np.linspace(0.0, 1.0, grid_size)
    distinct = counted[0]
    grid = np.concatenate([quantile_nearest(counted, levels), np.quantile(distinct, levels, method="nearest")])
    return np.unique(grid)


def _linked_groups(counts: ColumnCounts, columns: list[str]) -> list[list[str]]:
    """Groups of columns in one-to-one correspondence (same rows missing, each value fixes the others)."""
    parent = {c: c for c in columns}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            if counts.one_to_one(a, b):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(root(c), []).append(c)
    return list(groups.values())


def build_actionability(
    *,
    X: pd.DataFrame,
    feature_types: Mapping[str, str],
    immutable: Iterable[str],
    increase_only: Iterable[str],
    grid_size: int = 9,
    max_categories: int = 30,
    not_choices: Mapping[str, Iterable[str]] | None = None,
) -> Actionability:
    """Derive the units a recourse may change and their candidate values from the data itself (every row of ``X``).

    ``grid_size`` quantile levels per numeric feature (values are observed ones);
    at most ``max_categories`` most frequent categories per categorical feature. ``not_choices``
    (the code book's, per column) are values no recourse may propose ("unknown / none"): left out of the options.
    """
    return actionability_from_counts(counts=column_counts(X), feature_types=feature_types, immutable=immutable,
                                     increase_only=increase_only, grid_size=grid_size, max_categories=max_categories,
                                     not_choices=not_choices)


def actionability_from_counts(
    *,
    counts: ColumnCounts,
    feature_types: Mapping[str, str],
    immutable: Iterable[str],
    increase_only: Iterable[str],
    grid_size: int = 9,
    max_categories: int = 30,
    not_choices: Mapping[str, Iterable[str]] | None = None,
) -> Actionability:
    """:func:`build_actionability` from the rows per value of each column (merged from partitions, or one frame's).

    A column the counts dropped (too many distinct values) must be filled in first (``ColumnCounts.filled_from``).
    """
    columns = list(counts.columns)
    fixed = [c for c in columns if c in set(immutable)]
    up = [c for c in columns if c in set(increase_only)]
    numeric = {c for c in columns if feature_types.get(c) == "numeric"}
    numbers = {c: counts.numbers(c) for c in numeric}
    ranges = {c: (float(v[0]), float(v[-1])) for c, (v, _) in numbers.items() if v.size}
    categories = {c: {str(v) for v in counts.values[c]} for c in columns if c not in numeric}
    scales = {c: _robust_scale(numbers[c]) for c in numeric}
    integer = {c: _whole_numbers(counts.dtype(c), numbers[c][0]) for c in numeric}
    notes: list[str] = []
    units: list[Unit] = []
    for group in _linked_groups(counts, columns):
        if len(group) > 1:
            notes.append(f"{', '.join(group)} always agree in the data (one-to-one): they change together as one unit")
        if any(c in fixed for c in group):
            if len(group) > 1 and not all(c in fixed for c in group):
                notes.append(f"{', '.join(group)} kept fixed because one of them is immutable")
            continue
        unit = _unit(counts, group, numeric=numeric, up=up, grid_size=grid_size, max_categories=max_categories)
        excluded = [(c, {str(v) for v in (not_choices or {}).get(c, [])}) for c in group]
        keep = np.ones(unit.n_options, dtype=bool)
        for c, values in excluded:
            if values:
                keep &= ~unit.options[c].astype(str).isin(values).to_numpy()
        if not keep.all():
            dropped = {c: sorted(v) for c, v in excluded if v}
            notes.append(f"{unit.name}: never proposed as a change (not a choice, data.code_book.not_choices): "
                         + "; ".join(f"{c} = {', '.join(v)}" for c, v in dropped.items()))
            unit = Unit(name=unit.name, columns=unit.columns, options=unit.options[keep].reset_index(drop=True),
                        increase_only=unit.increase_only, cost_column=unit.cost_column)
        units.append(unit)
    return Actionability(units=[u for u in units if u.n_options], immutable=fixed, increase_only=up, ranges=ranges,
                         categories=categories, scales=scales, integer=integer, notes=notes)


def _unit(counts: ColumnCounts, group: list[str], *, numeric: set[str], up: list[str], grid_size: int,
          max_categories: int) -> Unit:
    cost_column = next((c for c in group if c in numeric), None)
    if len(group) == 1 and cost_column is not None:
        options = pd.DataFrame({cost_column: _numeric_grid(counts.numbers(cost_column), grid_size)})
        if pd.api.types.is_integer_dtype(counts.dtype(cost_column)):
            options = options.astype({cost_column: counts.dtype(cost_column)})
    elif len(group) == 1:
        frequent = counts.by_frequency(group[0])[:max_categories]
        options = pd.DataFrame({group[0]: np.asarray(frequent, dtype=object)})
    else:  # one-to-one columns: the first one's most frequent values, each with the others' matching values
        first = counts.by_frequency(group[0])[:max_categories]
        options = pd.DataFrame({group[0]: np.asarray(first, dtype=object)})
        for c in group[1:]:
            matching = counts.partner(group[0], c)
            options[c] = np.asarray([matching[v] for v in first], dtype=object)
        for c in group:
            if c in numeric:
                options[c] = options[c].astype(counts.dtype(c))
            else:
                options[c] = options[c].astype(object)
    options = options.reset_index(drop=True)
    return Unit(name=group[0] if cost_column is None else (group[0] if len(group) == 1 else _display(group, numeric)),
                columns=tuple(group), options=options, increase_only=tuple(c for c in group if c in up),
                cost_column=cost_column)


def _display(group: list[str], numeric: set[str]) -> str:
    """Name a linked unit after its first text member (education rather than education-num)."""
    return next((c for c in group if c not in numeric), group[0])
