"""How good are the counterfactuals, and does one group need more change than another?

- Plausibility: the distance of each counterfactual to its nearest *real* row
  with a favourable decision, in the recourse cost's units (numeric |Δ| / robust
  spread, 1 per differing category), next to the same distance for real
  favourable rows (the reference: how far real people are from each other).

The recourse gap between groups is computed from summed costs: :mod:`audit.counterfactual.recourse_counts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.counterfactual._common import sample_rows
from audit.counterfactual.actionability import Actionability

__all__ = ["Plausibility", "plausibility"]

_CHUNK = 256


@dataclass
class Plausibility:
    """Mean nearest-favourable-row distance of counterfactuals and, for reference, of real favourable rows."""

    counterfactual: float | None
    reference: float | None
    n_queries: int
    n_reference: int


def _encoder(X: pd.DataFrame, action: Actionability, max_categories: int = 50):  # noqa: ANN202 - closure
    """A function mapping rows to a numeric matrix whose L1 distance is the recourse cost."""
    numeric = [c for c in X.columns if c in action.scales]
    centre = {c: float(np.nanmedian(X[c].to_numpy(dtype=float))) if X[c].notna().any() else 0.0 for c in numeric}
    cats = {c: list(X[c].dropna().value_counts().index[:max_categories]) for c in X.columns if c not in numeric}

    def encode(frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for c in numeric:
            x = frame[c].to_numpy(dtype=float)
            parts.append(np.nan_to_num((x - centre[c]) / action.scales[c])[:, None])
            parts.append(np.isnan(x)[:, None].astype(float))  # missing vs present costs 1
        for c, values in cats.items():
            col = frame[c].to_numpy(dtype=object)
            parts.append(0.5 * (col[:, None] == np.asarray(values, dtype=object)[None, :]).astype(float))
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    return encode


def _nearest(queries: np.ndarray, reference: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """L1 distance of each query to its nearest reference row (chunked)."""
    from scipy.spatial.distance import cdist

    out = np.empty(len(queries))
    for s in range(0, len(queries), _CHUNK):
        d = cdist(queries[s:s + _CHUNK], reference, metric="cityblock")
        if exclude_self:
            d[np.arange(d.shape[0]), np.arange(s, s + d.shape[0])] = np.inf
        out[s:s + _CHUNK] = d.min(axis=1)
    return out


def plausibility(*, X: pd.DataFrame, favourable: np.ndarray, counterfactuals: pd.DataFrame, action: Actionability,
                 rng: np.random.Generator, max_queries: int = 1000, max_reference: int = 3000) -> Plausibility:
    """Distances to the nearest real favourable row, on seeded samples (sizes returned)."""
    fav = np.flatnonzero(favourable)
    if fav.size < 2 or len(counterfactuals) == 0:
        return Plausibility(None, None, 0, int(fav.size))
    encode = _encoder(X, action)
    ref_idx = fav[sample_rows(fav.size, max_reference, rng)]
    reference = encode(X.iloc[ref_idx])
    queries = counterfactuals.iloc[sample_rows(len(counterfactuals), max_queries, rng)]
    cf_dist = _nearest(encode(queries), reference)
    rest = np.setdiff1d(fav, ref_idx)
    if rest.size:
        real = encode(X.iloc[rest[sample_rows(rest.size, max_queries, rng)]])
        real_dist = _nearest(real, reference)
    else:  # every favourable row is in the reference: leave each one out of its own search
        real_dist = _nearest(reference[:max_queries], reference, exclude_self=True)
    return Plausibility(float(cf_dist.mean()), float(real_dist.mean()), len(queries), len(ref_idx))
