"""Row sampling shared by the counterfactual and robustness methods."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_rows"]


def sample_rows(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """All row positions when ``n <= limit``, else a seeded random subset of ``limit`` (sorted)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, size=limit, replace=False))
