"""Seeded, vectorised Poisson bootstrap of group rates, and the rates themselves.

Every rate this check reports (selection rate, base rate, TPR, FPR, FNR,
precision, accuracy) is a ratio of sums of the four cells (TP, FP, FN, TN) of
one group. The Poisson bootstrap gives each row an independent Poisson(1)
weight in each resample; a rate of the resample is the same ratio of weighted
sums. A cell's weighted count is the sum of its n rows' weights, and a sum of n
independent Poisson(1) counts is exactly Poisson(n). So instead of drawing a
weight for every row we draw each cell's sum directly, for all groups and all
resamples at once: one ``Generator.poisson`` call of shape (resamples, groups,
4). The draws depend on the cells alone: cells counted partition by partition
and added (``audit.scale``) give the same intervals, interval for interval, as
the data read at once, no row is moved, and it costs the same for 500 rows or
50 million. Unlike a resampling of each group with its own size, a group's
size varies between resamples (as the number of such people in a new sample
would); a resample where a rate's denominator is 0 leaves that rate undefined
there, and :func:`percentile_interval` ignores it.

Gaps and ratios between groups are computed resample by resample from the same
draws, and 95 % percentile intervals are read off the resulting distributions.
"""

from __future__ import annotations

import numpy as np

from audit.fairness.groups import FN, FP, TN, TP

__all__ = [
    "RATES",
    "RATE_LABELS",
    "resample_cells",
    "rate",
    "rate_parts",
    "percentile_interval",
    "CONFIDENCE",
    "bootstrap_method",
]

CONFIDENCE = 0.95

#: rate name -> (cells in the numerator, cells in the denominator)
RATES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "selection_rate": ((TP, FP), (TP, FP, FN, TN)),
    "base_rate": ((TP, FN), (TP, FP, FN, TN)),
    "tpr": ((TP,), (TP, FN)),
    "fpr": ((FP,), (FP, TN)),
    "fnr": ((FN,), (TP, FN)),
    "precision": ((TP,), (TP, FP)),
    "accuracy": ((TP, TN), (TP, FP, FN, TN)),
}

RATE_LABELS: dict[str, str] = {
    "selection_rate": "selection rate",
    "base_rate": "base rate (share with the positive outcome)",
    "tpr": "true-positive rate",
    "fpr": "false-positive rate",
    "fnr": "false-negative rate",
    "precision": "precision",
    "accuracy": "accuracy",
}


def resample_cells(cells: np.ndarray, *, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson bootstrap cell counts, shape (resamples, groups, 4): a cell of n rows draws Poisson(n).

    ``cells`` has shape (groups, 4) of counts; an empty cell stays empty.
    """
    cells = np.asarray(cells, dtype=np.int64)
    return rng.poisson(cells, size=(resamples, *cells.shape)).astype(np.int64)


def bootstrap_method(resamples: int) -> str:
    """How every interval of a counted rate is drawn, as the evidence items' methods say it."""
    return (f"Poisson bootstrap with {resamples} resamples (each person weighted by an independent Poisson(1) "
            "count, so a cell of n people counts Poisson(n) in a resample; drawn from the counts, so the same however "
            "the rows were partitioned), percentile method")


def rate_parts(cells: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator counts of a rate, over the leading axes of ``cells``."""
    numerator, denominator = RATES[name]
    return cells[..., list(numerator)].sum(axis=-1), cells[..., list(denominator)].sum(axis=-1)


def rate(cells: np.ndarray, name: str) -> np.ndarray:
    """A rate over the leading axes of ``cells``; NaN where its denominator is zero."""
    numerator, denominator = rate_parts(cells, name)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def percentile_interval(samples: np.ndarray | None, *, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring resamples where the statistic is undefined (NaN).

    Returns NaN bounds when there are no samples (bootstrap switched off) or none is defined.
    """
    if samples is None or samples.shape[0] == 0:
        shape = () if samples is None else samples.shape[1:]
        return np.full(shape, np.nan), np.full(shape, np.nan)
    tail = (1 - confidence) / 2 * 100
    defined = np.isfinite(samples)
    masked = np.where(defined, samples, np.nan)
    with np.errstate(all="ignore"):
        all_nan = ~defined.any(axis=0)
        filled = np.where(all_nan, 0.0, masked)
        low, high = np.nanpercentile(filled, [tail, 100 - tail], axis=0)
    return np.where(all_nan, np.nan, low), np.where(all_nan, np.nan, high)
