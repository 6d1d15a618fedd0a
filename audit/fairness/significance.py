"""Is a gap between two groups more than noise? Two-proportion tests and a multiple-comparison adjustment.

The z-test (pooled variance) is the textbook test for two proportions; when any
expected cell of the 2 x 2 table is under 5 its normal approximation is poor,
so Fisher's exact test is used instead (the usual rule of thumb, e.g. Agresti,
*Categorical Data Analysis*). Both are two-sided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["proportion_test", "holm", "Z_TEST", "FISHER"]

Z_TEST = "two-proportion z-test"
FISHER = "Fisher exact"
MIN_EXPECTED = 5


def proportion_test(*, x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, str | None]:
    """Two-sided p-value that x1/n1 and x2/n2 differ, and the test used; (None, None) if a group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if min(expected) < MIN_EXPECTED:
        from scipy.stats import fisher_exact

        return float(fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue), FISHER
    from scipy.stats import norm

    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * norm.sf(abs(z))), Z_TEST


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (None stays None): controls the chance of any false alarm."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
