"""Rows per (input value, protected group): the proxy screen's association figures, exactly mergeable.

The proxy screen (``audit.checks._proxies``) flags an input as a proxy of a protected attribute by Cramér's V of
their contingency table (numeric inputs binned at the distinct deciles of every row's values, a missing value its own
category) and reports normalised mutual information of the same table. Both depend on the rows only through the
rows per (value, group): counted per partition where it is read and added (``audit.scale``), or counted from the
one frame of an audit that reads its data whole, they give the same tables, so the same figures and the same
proxies either way (and so the same with-proxies flip test).

An input with more than :data:`MAX_VALUES` distinct values is dropped (at merge, or by :meth:`AssociationCounts.capped`
for one partition): its counts would grow with the rows; the screen then reads that input from the audit's sample
and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.counterfactual.column_counts import MAX_VALUES, quantile_linear
from audit.subject import MISSING_GROUP

__all__ = ["AssociationCounts", "PairCounts", "association_counts", "cramers_v_of_table", "nmi_of_table",
           "N_DECILES", "MAX_VALUES"]

#: Numeric inputs are binned at their distinct interior deciles.
N_DECILES = 10


@dataclass(frozen=True)
class PairCounts:
    """One (input, protected attribute) pair: rows per known value and group, and rows per group with no value."""

    known: pd.DataFrame  # index: the input's values (ascending), columns: the attribute's groups (ascending)
    missing: pd.Series  # index: the attribute's groups; rows whose input value is missing

    def merge(self, other: PairCounts) -> PairCounts:
        """Both partitions' rows (the same counts, in the same order, whatever the order of merging)."""
        known = self.known.add(other.known, fill_value=0).fillna(0)
        missing = self.missing.add(other.missing, fill_value=0)
        groups = known.columns.union(missing.index).sort_values()
        return PairCounts(known=known.reindex(columns=groups, fill_value=0).sort_index().astype(np.int64),
                          missing=missing.reindex(groups, fill_value=0).astype(np.int64))

    def contingency(self, *, numeric: bool) -> np.ndarray:
        """The screen's table over people whose group is known: one row per input category (numbers binned at the
        distinct interior deciles of every row's values, missing values one more row), one column per group; rows
        and columns without anyone left out (as a table counted from the rows has none)."""
        values = self.known.index.to_numpy()
        per_value = self.known.to_numpy(dtype=np.int64)
        if numeric and len(values) > N_DECILES:
            counted = (values.astype(float), per_value.sum(axis=1))
            edges = np.unique([quantile_linear(counted, q) for q in np.linspace(0, 1, N_DECILES + 1)[1:-1]])
            codes = np.searchsorted(edges, values.astype(float), side="left")
            binned = np.zeros((len(edges) + 1, per_value.shape[1]), dtype=np.int64)
            np.add.at(binned, codes, per_value)
            per_value = binned
        table = np.vstack([per_value, self.missing.to_numpy(dtype=np.int64)[None, :]])
        table = table[:, np.asarray(self.known.columns != MISSING_GROUP)]
        table = table[table.sum(axis=1) > 0]
        return table[:, table.sum(axis=0) > 0].astype(float)


@dataclass(frozen=True)
class AssociationCounts:
    """Every (input, protected attribute) pair's counts, one partition's or merged."""

    rows: int
    pairs: dict[tuple[str, str], PairCounts]  # (input, attribute) -> counts
    numeric: dict[str, bool]  # input -> binned as a number
    features: tuple[str, ...]  # every input counted, in the frame's order (dropped ones included)
    attributes: tuple[str, ...]

    def merge(self, other: AssociationCounts) -> AssociationCounts:
        """Both partitions' counts; an input past ``MAX_VALUES`` distinct values is dropped (the same in any order)."""
        pairs = {}
        for key in self.pairs.keys() & other.pairs.keys():
            merged = self.pairs[key].merge(other.pairs[key])
            if len(merged.known) <= MAX_VALUES:
                pairs[key] = merged
        return AssociationCounts(rows=self.rows + other.rows, pairs=_whole_features(pairs, self.features,
                                                                                     self.attributes),
                                 numeric=dict(self.numeric), features=self.features, attributes=self.attributes)

    def capped(self) -> AssociationCounts:
        """These counts without the inputs past ``MAX_VALUES`` distinct values (as a merge leaves them)."""
        pairs = {key: p for key, p in self.pairs.items() if len(p.known) <= MAX_VALUES}
        return AssociationCounts(rows=self.rows, pairs=_whole_features(pairs, self.features, self.attributes),
                                 numeric=dict(self.numeric), features=self.features, attributes=self.attributes)

    @property
    def dropped(self) -> list[str]:
        """Inputs counted but dropped (too many distinct values): the screen reads them from the sample."""
        kept = {feature for feature, _ in self.pairs}
        return [f for f in self.features if f not in kept and any(f != a for a in self.attributes)]

    def filled_from(self, other: AssociationCounts) -> AssociationCounts:
        """These counts with the inputs they dropped taken from ``other`` (the sample's)."""
        pairs = dict(self.pairs)
        for key, p in other.pairs.items():
            pairs.setdefault(key, p)
        return AssociationCounts(rows=self.rows, pairs=pairs, numeric=dict(self.numeric), features=self.features,
                                 attributes=self.attributes)


def _whole_features(pairs: dict[tuple[str, str], PairCounts], features: tuple[str, ...],
                    attributes: tuple[str, ...]) -> dict[tuple[str, str], PairCounts]:
    """Only inputs kept for every attribute (the same values under each, so a cap drops an input whole)."""
    return {(f, a): pairs[(f, a)] for f in features for a in attributes
            if f != a and all((f, b) in pairs for b in attributes if b != f)}


def association_counts(X: pd.DataFrame, groups: pd.DataFrame, *, features: list[str],
                       numeric: Mapping[str, bool]) -> AssociationCounts:
    """Rows per (value, group) of each input in ``features`` with each protected attribute (``groups``' columns;
    unknown groups are counted as ``MISSING_GROUP``); an input that is the attribute itself is not paired with it."""
    attributes = tuple(str(c) for c in groups.columns)
    labels = {a: pd.factorize(groups[a].to_numpy(dtype=object), sort=True) for a in attributes}
    pairs: dict[tuple[str, str], PairCounts] = {}
    for feature in features:
        column = X[feature]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float) if numeric[feature] \
            else _categories(column)
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        absent = codes < 0
        for attribute in attributes:
            if attribute == feature:
                continue
            group_codes, group_values = labels[attribute]
            width = len(group_values)
            known = np.bincount(codes[~absent] * width + group_codes[~absent],
                                minlength=len(uniques) * width).reshape(len(uniques), width)
            missing = np.bincount(group_codes[absent], minlength=width)
            index = pd.Index(group_values.astype(str), dtype=object)
            pairs[(feature, attribute)] = PairCounts(
                known=pd.DataFrame(known, index=pd.Index(uniques), columns=index),
                missing=pd.Series(missing, index=index, dtype=np.int64))
    return AssociationCounts(rows=len(X), pairs=pairs, numeric={f: bool(numeric[f]) for f in features},
                             features=tuple(features), attributes=attributes)


def _categories(column: pd.Series) -> np.ndarray:
    """A categorical input's values as text (so values of mixed types sort), missing ones as None."""
    values = column.to_numpy(dtype=object)
    text = values.astype(str).astype(object)
    text[pd.isna(values)] = None
    return text


def cramers_v_of_table(table: np.ndarray) -> float | None:
    """Cramér's V of a contingency table (no bias correction, as scipy's ``association(method="cramer")``)."""
    n = table.sum()
    k = min(table.shape) - 1
    if k <= 0 or n == 0:
        return None
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / n / k))


def nmi_of_table(table: np.ndarray) -> float | None:
    """Mutual information divided by the mean of the two entropies (scikit-learn's "arithmetic"); None for an
    empty table."""
    total = table.sum()
    if total == 0:
        return None
    p = table / total
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum())
    ha, hb = -(pa * np.log(pa)).sum(), -(pb * np.log(pb)).sum()
    if ha == 0 or hb == 0:
        return 1.0 if ha == hb else 0.0
    return max(mi, 0.0) / ((ha + hb) / 2)
