"""Seeded, vectorised bootstrap intervals shared by the flip, recourse and robustness tests.

- A proportion (flip rate) is the mean of 0/1 values; the number of ones in a
  bootstrap resample of n rows is exactly Binomial(n, p̂), so its bootstrap
  distribution is drawn directly (same distribution, no n × B index matrix).
- A mean of real values (score change, cost) is resampled with index matrices
  in blocks of replicates, so memory stays bounded on 50,000 rows.

Intervals are read off the draws by the one percentile rule of the project,
:func:`audit.fairness.bootstrap.percentile_interval` (95 %).
"""

from __future__ import annotations

import numpy as np

from audit.fairness.bootstrap import CONFIDENCE, percentile_interval

__all__ = ["proportion_ci", "mean_ci", "mean_cis", "bootstrap_means", "ALPHA"]

ALPHA = 1 - CONFIDENCE  # 95 % intervals
_BLOCK_CELLS = 4_000_000  # index-matrix cells per block of replicates


def proportion_ci(successes: int, n: int, *, rng: np.random.Generator, n_boot: int) -> tuple[float | None, float | None]:
    """Percentile bootstrap 95 % interval of a proportion (exact bootstrap law: Binomial(n, k/n) / n)."""
    if n == 0 or n_boot <= 0:
        return None, None
    draws = rng.binomial(n, successes / n, size=n_boot) / n
    low, high = percentile_interval(draws[:, None])
    return float(low[0]), float(high[0])


def bootstrap_means(values: np.ndarray, *, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Column means of ``n_boot`` row resamples (with replacement) of ``values``, computed in blocks.

    ``values`` is 1-D (returns shape (n_boot,)) or 2-D rows × columns (returns
    (n_boot, columns)): all columns share the same resampled rows (paired).
    """
    x = np.asarray(values, dtype=float)
    flat = x.ndim == 1
    x = x[:, None] if flat else x
    n, k = x.shape
    out = np.empty((n_boot, k))
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n_boot, block):
        b = min(n_boot, start + block) - start
        idx = rng.integers(0, n, size=(b, n), dtype=np.uint32 if n < 2**32 else np.int64)
        if k == 1:  # one column: a gather is fastest
            out[start:start + b, 0] = x[idx, 0].mean(axis=1)
            continue
        # several columns: how often each row is drawn per replicate, then one matrix product
        counts = np.bincount((idx + (np.arange(b, dtype=np.int64) * n)[:, None]).ravel(), minlength=b * n)
        out[start:start + b] = (counts.reshape(b, n).astype(float) @ x) / n
    return out[:, 0] if flat else out


def mean_cis(values: np.ndarray, *, rng: np.random.Generator, n_boot: int) -> list[tuple[float | None, float | None]]:
    """Percentile bootstrap 95 % intervals of each column's mean, from one shared (paired) row resampling."""
    x = np.asarray(values, dtype=float)
    if x.shape[0] == 0 or n_boot <= 0:
        return [(None, None)] * x.shape[1]
    low, high = percentile_interval(bootstrap_means(x, rng=rng, n_boot=n_boot))
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]


def mean_ci(values: np.ndarray, *, rng: np.random.Generator, n_boot: int) -> tuple[float | None, float | None]:
    """Percentile bootstrap 95 % interval of a mean (None, None without data or resamples)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0 or n_boot <= 0:
        return None, None
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    low, high = percentile_interval(bootstrap_means(x, rng=rng, n_boot=n_boot)[:, None])
    return float(low[0]), float(high[0])
