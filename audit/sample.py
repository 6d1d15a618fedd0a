"""The audit's sample: a stratified random sample chosen by a keyed hash of each row's id, so neither the partitioning
nor the reading mode changes it.

Work that reads a sample rather than every row (robustness, the flip test's donors of proxy values, recourse's
plausibility and examples; in a partitioned audit, ``audit.scale``, every check that cannot be counted) reads these
rows, whether the data is read whole or partition by partition.

- **Strata**: the favourable decision crossed with every protected attribute's group (an unknown group is a group of
  its own), so the sample holds each kind of person and outcome in the share the decisions hold them.
- **Allocation**: ``sample_rows`` split over the strata in proportion to their sizes, by largest remainders (ties in
  stratum order): a stratum's rows in the sample are its share of the decisions times ``sample_rows``, to one row.
- **Selection**: in each stratum, the rows whose keyed hash of id and seed (SipHash, read as ``u`` in [0, 1)) is
  smallest: a simple random sample of the stratum, since the hash orders the rows at random.
- **Candidates**: a row can be chosen only when ``u`` is below :func:`candidate_probability` (about
  ``CANDIDATES`` times the sampling fraction): all a partition sends back, so the audit holds about three samples'
  rows, never all of them. A stratum with fewer candidates than its allocation (only when that allocation is a few
  rows, see :data:`CANDIDATES`) takes every candidate; the rows missing are reported (:attr:`Sample.short`). The rule is the same whether the rows are read whole or in
  partitions, so the sample is too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.id_hash import id_hashes, seeded_key

__all__ = ["DEFAULT_SAMPLE_ROWS", "CANDIDATES", "Sample", "sample_hashes", "candidate_probability", "strata",
           "allocate", "choose", "stratified_sample", "sample_positions", "share_margin"]

#: How many rows the sample holds unless the spec says otherwise (``scale.sample_rows``).
DEFAULT_SAMPLE_ROWS = 20_000
#: Candidates sent back per row of the sample: a stratum allocated k rows falls short about as often as a Poisson(3k)
#: count is below k: 5 % for k = 1, 0.09 % for k = 5, 7e-6 for k = 10.
CANDIDATES = 3.0

_TWO_64 = float(2**64)
_SEPARATOR = "\x1f"


def sample_hashes(ids: np.ndarray, *, seed: int) -> np.ndarray:
    """Each row's place in the sample's random order: a keyed hash of its id and the seed, as ``u`` in [0, 1)."""
    return id_hashes(ids, key=seeded_key("audit.scale.sample", seed)) / _TWO_64


def candidate_probability(*, rows: int, sample_rows: int) -> float:
    """Rows with ``u`` below this may be chosen (1 when every row is sampled)."""
    return 1.0 if rows <= sample_rows else min(1.0, CANDIDATES * sample_rows / rows)


def strata(favourable: np.ndarray, groups: pd.DataFrame) -> np.ndarray:
    """Each row's stratum, as text: its favourable decision and its group of every protected attribute."""
    key = pd.Series(np.where(np.asarray(favourable, dtype=bool), "favourable", "adverse"), dtype=object)
    for column in groups.columns:
        key = key + _SEPARATOR + groups[column].astype(str).to_numpy()
    return key.to_numpy(dtype=object)


def allocate(sizes: Mapping[str, int], *, sample_rows: int) -> dict[str, int]:
    """Rows of the sample per stratum: proportional to ``sizes``, summing to ``sample_rows`` (every row when there are
    no more), by largest remainders, ties broken in stratum order."""
    keys = sorted(sizes)
    counts = np.array([sizes[k] for k in keys], dtype=np.int64)
    total = int(counts.sum())
    if total <= sample_rows:
        return {k: int(n) for k, n in zip(keys, counts, strict=True)}
    quota = counts * sample_rows / total
    rows = np.floor(quota).astype(np.int64)
    left = sample_rows - int(rows.sum())
    order = np.lexsort((np.arange(len(keys)), -(quota - rows)))  # largest remainder first, then stratum order
    rows[order[:left]] += 1
    return {k: int(n) for k, n in zip(keys, rows, strict=True)}


def choose(u: np.ndarray, keys: np.ndarray, allocation: Mapping[str, int]) -> np.ndarray:
    """Which of these candidate rows the sample keeps: per stratum the ``allocation`` rows of smallest ``u``."""
    codes, uniques = pd.factorize(keys)
    order = np.lexsort((u, codes))
    sorted_codes = codes[order]
    first = np.searchsorted(sorted_codes, sorted_codes, side="left")
    rank = np.empty(len(u), dtype=np.int64)
    rank[order] = np.arange(len(u)) - first
    wanted = np.array([allocation.get(str(k), 0) for k in uniques], dtype=np.int64)
    return rank < wanted[codes] if len(u) else np.zeros(0, dtype=bool)


@dataclass(frozen=True)
class Sample:
    """The sample drawn: how many rows it wanted, how many it holds, and the rows the smallest strata lack."""

    wanted: int
    rows: int
    short: int  # allocated rows missing: strata with fewer candidates than their allocation
    strata: int  # strata with at least one decision


def stratified_sample(u: np.ndarray, keys: np.ndarray, sizes: Mapping[str, int], *,
                      sample_rows: int) -> tuple[np.ndarray, Sample]:
    """The sample among candidate rows (``u`` below the candidate probability, their strata ``keys``), given every
    stratum's size over all rows (``sizes``): which candidates it keeps, and what was drawn."""
    allocation = allocate(sizes, sample_rows=sample_rows)
    keep = choose(u, keys, allocation)
    wanted = sum(allocation.values())
    return keep, Sample(wanted=wanted, rows=int(keep.sum()), short=wanted - int(keep.sum()),
                        strata=sum(1 for n in sizes.values() if n))


def sample_positions(ids: np.ndarray, *, seed: int, sample_rows: int, favourable: np.ndarray,
                     groups: pd.DataFrame) -> np.ndarray:
    """Positions of the rows the sample keeps when all rows are at hand (the same rows a partitioned read keeps)."""
    u = sample_hashes(ids, seed=seed)
    keys = strata(favourable, groups)
    sizes = {str(k): int(n) for k, n in pd.Series(keys).value_counts().items()}
    candidates = np.flatnonzero(u < candidate_probability(rows=len(ids), sample_rows=sample_rows))
    keep, _ = stratified_sample(u[candidates], keys[candidates], sizes, sample_rows=sample_rows)
    return candidates[keep]


def share_margin(*, sample_rows: int, rows: int) -> float:
    """Half the width of the 95 % interval of a share estimated from a simple random sample of ``sample_rows`` of
    ``rows`` in the widest case (a share of 50 %), with the finite-population correction: the sampling error the
    report states for figures read from the sample (a proportionally stratified sample errs no more). 0 when the
    sample is every row."""
    if rows <= 1 or sample_rows >= rows:
        return 0.0
    return float(1.96 * np.sqrt(0.25 / sample_rows * (rows - sample_rows) / (rows - 1)))
