"""The flip test: a plan fixed once, counts per partition of rows, merged exactly, whether the rows were read
whole (one partition, :func:`flip_test`) or partition by partition (``audit.scale``).

1. :func:`plan_flips` (where the audit runs, once): what is tested and how, decided from what every partition can
   share: the groups of each attribute (their sizes counted over all rows), the value a row takes when moved into
   a group (a category's value; a binned number's median over every row, counted by value), the proxies and the
   donor rows of the with-proxies variant: the members of each target group in the audit's sample
   (:mod:`audit.sample`, the same rows whether the data was read whole or in partitions).
2. :func:`count_flips` (on each partition, where it is read): every row is moved and re-predicted; per (attribute,
   variant, from, to) it keeps the rows moved, the flips and the sums of score changes and of their squares (in
   units of 1e-12, as integers, so sums add exactly in any order), and the largest flips as examples. A row's donor
   is chosen by a keyed hash of its id, the attribute and the target group: the same donor whichever partition
   holds the row.
3. :meth:`FlipCounts.merge` adds partitions; :func:`flip_result` turns the counts into the ``FlipResult`` the
   evidence reads. Flip-rate intervals are the exact bootstrap law of a proportion, from the counts; the mean score
   change gets a normal 95 % interval from the summed changes and squares (a row bootstrap would need every row in
   one place; its coverage is checked in simulation, tests/checks/test_bootstrap.py).

So an audit's flip rates count every decision and are the same however the rows were read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from audit.counterfactual._bootstrap import proportion_ci
from audit.counterfactual._encoded import EncodedRows
from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual._sums import SCALE, normal_interval, summed_mean, to_units
from audit.counterfactual.flip import (
    DIRECT,
    LARGEST_ONLY,
    WITH_PROXIES,
    FlipPair,
    FlipResult,
    known_proxies,
    why_untested,
)
from audit.id_hash import id_hashes, seeded_key
from audit.spec import ProtectedSpec
from audit.subject import MISSING_GROUP

__all__ = ["AttributePlan", "FlipPlan", "FlipCounts", "flip_test", "plan_flips", "count_flips", "flip_result", "SCALE",
           "BandValues", "band_values", "merge_band_values", "band_medians", "MAX_BAND_VALUES"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
#: Distinct values of a binned attribute kept to find its bands' medians over every row; beyond, the sample's median.
MAX_BAND_VALUES = 100_000

#: attribute -> group (band) -> value -> rows with it: what a band's median over every row is found from.
BandValues = dict[str, dict[str, dict[Any, int]]]


@dataclass(frozen=True)
class AttributePlan:
    """How one protected attribute is tested on every partition."""

    column: str
    is_input: bool
    groups: tuple[str, ...]  # the groups whose rows are moved (others are left out), sorted
    targets: dict[str, Any]  # group -> the attribute's value a row takes when moved into it (a target)
    proxies: tuple[str, ...]  # proxy inputs the with-proxies variant changes (empty: that variant is not run)
    donors: dict[str, dict[str, np.ndarray]]  # target -> proxy column -> values of the sample's members

    @property
    def variants(self) -> list[str]:
        return ([DIRECT] if self.is_input else []) + ([WITH_PROXIES] if self.proxies else [])


@dataclass(frozen=True)
class FlipPlan:
    """Everything a partition needs to run the flip test as every other partition does (small: it travels)."""

    attributes: tuple[AttributePlan, ...]
    seed: int
    notes: tuple[str, ...] = ()
    not_tested: dict[str, str] = field(default_factory=dict)
    proxies_used: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 5


#: (attribute, variant, from, to) -> [rows moved, flips, sum of score changes, sum of their squares] (sums × SCALE)
PairSums = dict[tuple[str, str, str, str], tuple[int, int, int, int]]


@dataclass(frozen=True)
class FlipExample:
    """A flipped decision: its order among examples (direct first, larger change first, then id) and its record."""

    order: tuple[bool, float, str]
    record: dict[str, Any]


@dataclass(frozen=True)
class FlipCounts:
    """One partition's (or several merged partitions') flip counts."""

    pairs: PairSums
    examples: tuple[FlipExample, ...]
    n_predicted: int  # rows the model scored: the work, not a figure (a partition scores its identical rows once)
    max_examples: int = 5

    def merge(self, other: FlipCounts) -> FlipCounts:
        """Both partitions' counts (the same in any order: sums of integers, examples by a total order)."""
        pairs = dict(self.pairs)
        for key, (n, k, s, q) in other.pairs.items():
            mine = pairs.get(key, (0, 0, 0, 0))
            pairs[key] = (mine[0] + n, mine[1] + k, mine[2] + s, mine[3] + q)
        examples = sorted((*self.examples, *other.examples), key=lambda e: e.order)[:self.max_examples]
        return FlipCounts(pairs=pairs, examples=tuple(examples), n_predicted=self.n_predicted + other.n_predicted,
                          max_examples=self.max_examples)


def band_values(X: pd.DataFrame, groups: pd.DataFrame, protected: list[ProtectedSpec]) -> BandValues:
    """Rows per value in each band of every binned attribute that is a model input (one partition's)."""
    out: BandValues = {}
    for spec in protected:
        if spec.bins is None or spec.column not in X.columns:
            continue
        counted = X[spec.column].groupby(groups[spec.column].astype(str).to_numpy()).value_counts()
        bands: dict[str, dict[Any, int]] = {}
        for key, n in counted.items():
            band, value = cast(tuple[Any, Any], key)
            if band != MISSING_GROUP:
                bands.setdefault(str(band), {})[value.item() if hasattr(value, "item") else value] = int(n)
        out[spec.column] = bands
    return out


def merge_band_values(a: BandValues, b: BandValues) -> BandValues:
    """Both partitions' value counts; an attribute with more than ``MAX_BAND_VALUES`` distinct values is dropped
    (its medians then come from the sample), so the merged counts stay small whatever the number of rows."""
    out: BandValues = {}
    for attribute in dict.fromkeys([*a, *b]):
        if attribute not in a or attribute not in b:  # dropped by an earlier merge (or absent): stays dropped
            continue
        bands = {band: dict(values) for band, values in a[attribute].items()}
        for band, values in b[attribute].items():
            mine = bands.setdefault(band, {})
            for value, n in values.items():
                mine[value] = mine.get(value, 0) + n
        if sum(len(v) for v in bands.values()) <= MAX_BAND_VALUES:
            out[attribute] = bands
    return out


def band_medians(values: BandValues) -> dict[str, dict[str, Any]]:
    """Each band's median over every row, as ``Series.quantile(0.5, interpolation="nearest")`` gives it."""
    out: dict[str, dict[str, Any]] = {}
    for attribute, bands in values.items():
        out[attribute] = {}
        for band, counts in bands.items():
            ordered = sorted(counts)
            cumulative = np.cumsum([counts[v] for v in ordered])
            middle = int(np.around((int(cumulative[-1]) - 1) * 0.5))  # numpy's "nearest": half to even
            out[attribute][band] = ordered[int(np.searchsorted(cumulative, middle, side="right"))]
    return out


def plan_flips(*, X: pd.DataFrame, groups: pd.DataFrame, protected: list[ProtectedSpec],
               proxies: dict[str, list[str]] | None, group_sizes: Mapping[str, Mapping[str, int]], seed: int,
               medians: Mapping[str, Mapping[str, Any]] | None = None, max_groups: int = 12,
               max_examples: int = 5) -> FlipPlan:
    """The plan, from the sample's rows (``X``, ``groups``), each attribute's group sizes over all rows and, where
    known, each band's median over all rows (``medians``: attribute -> band -> value; else the sample's)."""
    notes: list[str] = []
    not_tested: dict[str, str] = {}
    used: dict[str, list[str]] = {}
    planned: list[AttributePlan] = []
    for spec in protected:
        attr = spec.column
        sizes = {g: n for g, n in group_sizes.get(attr, {}).items() if g != MISSING_GROUP and n > 0}
        tested = sorted(sizes, key=lambda g: (-sizes[g], g))[:max_groups]
        if len(sizes) > max_groups:
            notes.append(LARGEST_ONLY.format(attr=attr, count=len(sizes), max_groups=max_groups))
        is_input = attr in X.columns
        known = known_proxies(attr, X.columns, proxies, notes)
        if known:
            used[attr] = known
        labels = groups[attr].astype(str).to_numpy(dtype=object)
        column = X[attr] if is_input else pd.Series(np.zeros(len(X)))  # not an input: the value is never set
        counted = (medians or {}).get(attr, {})
        targets: dict[str, Any] = {}
        for g in sorted(tested):
            members = labels == g
            if not members.any():
                notes.append(f"{attr}: group '{g}' has no row in the audit's sample, so no value to move rows into "
                             "it; its rows were moved to the other groups only")
            elif spec.bins is None:
                targets[g] = column[members].iloc[0]
            else:
                targets[g] = counted[g] if g in counted else column[members].quantile(0.5, interpolation="nearest")
        why = why_untested(attr, targets=len(targets), is_input=is_input, known=bool(known),
                           proxies_known=proxies is not None, notes=notes)
        if why is not None:
            not_tested[attr] = why
            continue
        donors = {t: {p: X[p].to_numpy()[labels == t] for p in known} for t in targets} if known else {}
        planned.append(AttributePlan(column=attr, is_input=is_input, groups=tuple(sorted(tested)), targets=targets,
                                     proxies=tuple(known), donors=donors))
    return FlipPlan(attributes=tuple(planned), seed=seed, notes=tuple(notes), not_tested=not_tested,
                    proxies_used=used, max_examples=max_examples)


def _donor_rows(hashes: np.ndarray, attribute: str, target: str, pool: int) -> np.ndarray:
    """A donor per row among ``pool`` rows: the row's id hash mixed with the (attribute, target) (splitmix64)."""
    salt = np.uint64(int.from_bytes(hashlib.sha256(f"{attribute}\x1f{target}".encode()).digest()[:8], "little"))
    x = hashes ^ salt
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9) & _MASK
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB) & _MASK
    x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(pool)).astype(np.int64)


def _largest(flipped: np.ndarray, change: np.ndarray, k: int) -> np.ndarray:
    """The flipped positions whose change is among the ``k`` largest (ties at the k-th all kept: the id decides)."""
    if flipped.size <= k:
        return flipped
    values = change[flipped]
    return flipped[values >= np.partition(values, -k)[-k]]


def _rescore(source: RowSource, cols: dict[str, np.ndarray], rows: np.ndarray, score: np.ndarray,
             attr: list[str], proxies: list[str], predictor: Predictor, encoded: EncodedRows | None) -> np.ndarray:
    """Scores of the modified rows; rows left identical (a donor with the same proxy values) keep their score.

    With ``encoded`` rows (the fast path), a modified row is its encoded row with
    the changed columns' blocks replaced; else a frame of the modified rows is scored.
    """
    differs = np.zeros(rows.size, dtype=bool)
    for c in attr + proxies:
        old, new = source.arrays[c][rows], cols[c]
        differs |= ~(np.asarray(old == new, dtype=bool) | (pd.isna(old) & pd.isna(new)))
    out = score[rows].astype(float)
    if differs.any():
        idx = np.flatnonzero(differs)
        blocks = encoded.encode({c: cols[c][idx] for c in attr + proxies}) if encoded is not None else None
        if blocks is not None and encoded is not None:
            every = np.arange(idx.size)
            changes = [(every, c, block, every) for c, block in blocks.items()]
            out[idx] = predictor.score_encoded(encoded, rows[idx], changes)
        else:
            out[idx] = predictor.score(source.to_frame({c: a[idx] for c, a in cols.items()}))
    return out


def count_flips(plan: FlipPlan, *, X: pd.DataFrame, groups: pd.DataFrame, ids: np.ndarray, model: object,
                score: np.ndarray, decision: np.ndarray,
                describe: Callable[[int], dict[str, Any]] | None = None, fast: bool = True) -> FlipCounts:
    """Run the plan on these rows (one partition). ``describe(position)``: what an example shows of the person
    besides the flip (their example fields), called only for the rows kept as examples. ``fast=False`` scores every
    changed row through the adapter on DataFrames (same numbers; see :mod:`._encoded`)."""
    source = RowSource(X)
    predictor = Predictor(model, fast=fast)
    encoded = predictor.encode(source.frame, source.template())
    hashes = id_hashes(ids, key=seeded_key("audit.flip.donor", plan.seed))
    pairs: PairSums = {}
    candidates: list[tuple[tuple[bool, float, str], int, dict[str, Any]]] = []
    for a in plan.attributes:
        labels = groups[a.column].astype(str).to_numpy(dtype=object)
        tested = np.isin(labels, list(a.groups))
        for variant in a.variants:
            proxies = list(a.proxies) if variant == WITH_PROXIES else []
            for target, value in a.targets.items():
                rows = np.flatnonzero(tested & (labels != target))
                cols = source.gather(rows)
                if a.is_input:
                    cols[a.column] = np.full(rows.size, value, dtype=cols[a.column].dtype)
                if proxies:
                    pool = a.donors[target]
                    donor = _donor_rows(hashes[rows], a.column, target, len(next(iter(pool.values()))))
                    for p in proxies:
                        cols[p] = pool[p][donor]
                new = _rescore(source, cols, rows, score, [a.column] if a.is_input else [], proxies, predictor,
                               encoded)
                flipped = (predictor.decide(np.nan_to_num(new)) != decision[rows]) & ~np.isnan(new)
                delta = new - score[rows]
                units, squares = to_units(delta)
                for origin in a.groups:
                    if origin == target:
                        continue
                    m = labels[rows] == origin
                    pairs[(a.column, variant, origin, target)] = (int(m.sum()), int(flipped[m].sum()),
                                                                  int(units[m].sum()), int(squares[m].sum()))
                for i in _largest(np.flatnonzero(flipped), np.abs(delta), plan.max_examples):
                    row = int(rows[i])
                    change = float(abs(delta[i]))
                    candidates.append(((variant != DIRECT, -change, str(ids[row])), row, {
                        "id": str(ids[row]), "attribute": a.column, "variant": variant, "from": str(labels[row]),
                        "to": target, "score_before": float(score[row]), "score_after": float(new[i]),
                        "decision_before": bool(decision[row]), "decision_after": not bool(decision[row])}))
                candidates = sorted(candidates, key=lambda c: c[0])[:plan.max_examples]
    examples = tuple(FlipExample(order=order, record={**record, **(describe(row) if describe else {})})
                     for order, row, record in candidates)
    return FlipCounts(pairs=pairs, examples=examples, n_predicted=predictor.n_predicted,
                      max_examples=plan.max_examples)


def flip_result(plan: FlipPlan, counts: FlipCounts, *, rng: np.random.Generator, n_boot: int) -> FlipResult:
    """The merged counts as the flip evidence reads them; pairs in the plan's order (attributes as declared, groups
    sorted), so the flip-rate intervals draw from ``rng`` in the same order however the rows were partitioned."""
    result = FlipResult(notes=list(plan.notes), proxies_used=dict(plan.proxies_used),
                        not_tested=dict(plan.not_tested), n_predicted=counts.n_predicted)
    for a in plan.attributes:
        note = "" if a.is_input else "proxies only (not a model input)"
        for variant in a.variants:
            for origin in a.groups:
                for target in a.targets:
                    found = counts.pairs.get((a.column, variant, origin, target))
                    if target == origin or found is None or found[0] == 0:
                        continue
                    n, k, total, squares = found
                    mean, se = summed_mean(n, total, squares)
                    interval = normal_interval(mean, se)
                    result.pairs.append(FlipPair(a.column, variant, origin, target, n, k, k / n,
                                                 proportion_ci(k, n, rng=rng, n_boot=n_boot), mean, interval,
                                                 note=note))
    result.examples = [dict(e.record) for e in counts.examples]
    return result


def flip_test(*, X: pd.DataFrame, groups: pd.DataFrame, protected: list[ProtectedSpec], model: object,
              score: np.ndarray, decision: np.ndarray, ids: np.ndarray, proxies: dict[str, list[str]] | None, seed: int,
              rng: np.random.Generator, n_boot: int, sample: np.ndarray | None = None, max_examples: int = 5,
              max_groups: int = 12, fast: bool = True,
              describe: Callable[[int], dict[str, Any]] | None = None) -> FlipResult:
    """The flip test of rows read whole: the partitioned audit's plan, counts and result with every row in one
    partition, so both give the same figures.

    ``score``/``decision``: the model's outputs on ``X`` (computed once by the Subject); ``proxies``: attribute ->
    proxy features (None: unknown); ``sample``: positions of the audit's sample, whose members of each target group
    give the with-proxies variant its proxy values (None: every row); ``seed``: keys the donor each row is given;
    ``rng``: the flip-rate intervals' draws. An attribute with more than ``max_groups`` groups (a number without
    bins) is tested on its ``max_groups`` largest groups only, and a note says so.
    """
    pool = np.arange(len(X)) if sample is None else sample
    sizes = {spec.column: {str(g): int(n) for g, n in groups[spec.column].astype(str).value_counts().items()}
             for spec in protected}
    plan = plan_flips(X=X.iloc[pool], groups=groups.iloc[pool], protected=protected, proxies=proxies,
                      group_sizes=sizes, seed=seed, medians=band_medians(band_values(X, groups, protected)),
                      max_groups=max_groups, max_examples=max_examples)
    counts = count_flips(plan, X=X, groups=groups, ids=ids, model=model, score=score, decision=decision,
                         describe=describe, fast=fast)
    return flip_result(plan, counts, rng=rng, n_boot=n_boot)
