"""Real values summed as integers, so sums over partitions add exactly in any order; a mean and its normal interval
read back from those sums. Shared by the flip test's score changes and recourse's costs."""

from __future__ import annotations

import numpy as np

__all__ = ["SCALE", "Z95", "to_units", "summed_mean", "normal_interval"]

#: Values are summed as integers in these units (1e-12), so partition sums add exactly.
SCALE = 10**12
Z95 = 1.959963984540054  # standard normal 97.5 % quantile


def to_units(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value and its square in integer units of 1/SCALE (sum these, never the floats)."""
    return np.rint(values * SCALE).astype(np.int64), np.rint(values * values * SCALE).astype(np.int64)


def summed_mean(n: int, total: int, squares: int) -> tuple[float | None, float | None]:
    """The mean of ``n`` values from their summed units and squares, and its standard error (None below 2 values;
    both None without values)."""
    if n == 0:
        return None, None
    mean = total / SCALE / n
    if n < 2:
        return mean, None
    variance = max(0.0, (squares / SCALE - n * mean * mean) / (n - 1))
    return mean, float(np.sqrt(variance / n))


def normal_interval(mean: float | None, se: float | None) -> tuple[float | None, float | None]:
    """The normal 95 % interval mean ± 1.96 se (None, None without a standard error)."""
    if mean is None or se is None:
        return None, None
    half = Z95 * se
    return mean - half, mean + half
