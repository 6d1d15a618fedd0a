"""Individual-level fairness measures as aif360 defines them: Theil index and consistency.

- Theil index (Speicher et al., KDD 2018): generalized entropy with alpha = 1 of the
  benefit b = decision - label + 1 (2 for a false positive, 1 for a correct
  decision, 0 for a false negative). 0 means everyone receives the same benefit.
- Consistency (Zemel et al., ICML 2013): 1 - mean |decision_i - mean decision of the
  5 nearest neighbours of i| (i included, as in aif360). 1 means similar people
  get the same decision.

Computed here with numpy and scikit-learn (no aif360 import at run time) and
checked against ``aif360.sklearn.metrics`` in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["theil_index", "theil_index_of_cells", "consistency", "design_matrix", "CONSISTENCY_SAMPLE", "N_NEIGHBORS"]

CONSISTENCY_SAMPLE = 5000
N_NEIGHBORS = 5


def theil_index(*, y: np.ndarray, decision: np.ndarray) -> float:
    """Generalized entropy index (alpha = 1) of b = decision - y + 1, with 0 * log 0 = 0."""
    benefit = np.asarray(decision, dtype=float) - np.asarray(y, dtype=float) + 1.0
    relative = benefit / benefit.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(relative > 0, relative * np.log(relative), 0.0)
    return float(terms.mean())


def theil_index_of_cells(cells: tuple[int, int, int, int]) -> float | None:
    """:func:`theil_index` from the counts (TP, FP, FN, TN) alone: b is 1 for TP and TN, 2 for FP, 0 for FN.

    Counts add over partitions, so a partitioned audit gets the index of every decision (``audit.scale``).
    None without rows, or when nobody has any benefit (mean 0: every decision a false negative).
    """
    tp, fp, fn, tn = (int(c) for c in cells)
    n = tp + fp + fn + tn
    mean = (tp + tn + 2 * fp) / n if n else 0.0
    if mean == 0:
        return None
    return float(((tp + tn) * (1 / mean) * np.log(1 / mean) + fp * (2 / mean) * np.log(2 / mean)) / n)


def design_matrix(X: pd.DataFrame, feature_types: Mapping[str, str]) -> np.ndarray:
    """Numeric features standardised (missing -> median), categorical ones one-hot (missing as a category).

    Standardising keeps a wide-ranged column (e.g. capital gain) from deciding every neighbour alone.
    """
    parts: list[np.ndarray] = []
    for column in X.columns:
        values = X[column]
        if feature_types.get(str(column)) == "numeric":
            series = pd.to_numeric(values, errors="coerce").astype(float)
            numbers = series.fillna(series.median() if series.notna().any() else 0.0).to_numpy()
            spread = numbers.std()
            parts.append(((numbers - numbers.mean()) / (spread if spread > 0 else 1.0))[:, None])
        else:
            text = values.astype(object).where(values.notna(), "(missing)").astype(str)
            parts.append(pd.get_dummies(text, dtype=float).to_numpy())
    return np.hstack(parts) if parts else np.zeros((len(X), 0))


def consistency(
    matrix: np.ndarray,
    decision: np.ndarray,
    *,
    rng: np.random.Generator,
    sample: int = CONSISTENCY_SAMPLE,
    n_neighbors: int = N_NEIGHBORS,
) -> tuple[float | None, np.ndarray]:
    """aif360's consistency score on a seeded sample of rows; returns (score, row indices used)."""
    from sklearn.neighbors import NearestNeighbors

    n = matrix.shape[0]
    if n <= n_neighbors or matrix.shape[1] == 0:
        return None, np.arange(0)
    rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    points = matrix[rows]
    decided = np.asarray(decision, dtype=float)[rows]
    neighbours = NearestNeighbors(n_neighbors=n_neighbors, algorithm="ball_tree").fit(points)
    index = neighbours.kneighbors(points, return_distance=False)
    return float(1 - np.abs(decided - decided[index].mean(axis=1)).mean()), rows
