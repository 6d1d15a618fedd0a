"""Seeded, vectorised, stratified bootstrap of group rates, and the rates themselves.

Every rate this check reports (selection rate, base rate, TPR, FPR, FNR,
precision, accuracy) is a ratio of sums of the four cells (TP, FP, FN, TN) of
one group. Resampling the rows of a group with replacement, with the group's
own size, gives cell counts that are exactly multinomial(n_g, observed cell
shares). So instead of drawing row indices we draw those counts directly, for
all groups and all resamples at once: one ``Generator.multinomial`` call of
shape (resamples, groups, 4). This is the stratified bootstrap (each group
resampled within itself, never dropped, its size fixed), with no Python loop
over resamples, and it costs the same for 500 rows or 50 million.

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
    """Bootstrap cell counts, shape (resamples, groups, 4), each group resampled with its own size.

    ``cells`` has shape (groups, 4) of counts; groups with no rows stay all zero.
    """
    cells = np.asarray(cells, dtype=np.int64)
    sizes = cells.sum(axis=-1)
    shares = cells / np.maximum(sizes, 1)[:, None]
    shares[sizes == 0] = np.eye(cells.shape[-1])[0]  # any valid distribution; n = 0 draws nothing
    return rng.multinomial(sizes, shares, size=(resamples, cells.shape[0]))


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
