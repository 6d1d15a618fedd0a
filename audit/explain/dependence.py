"""Partial dependence: the model's average score as one feature is set to each of a range of values.

Computed by hand on a seeded sample of rows, in the user's columns, so that a
categorical feature is shown with its own labels and a numeric one on its own
scale. For each grid value every sampled row gets that value, the model scores
all of them in one batch, and the scores are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

__all__ = ["Dependence", "partial_dependence"]

GRID_POINTS = 20
MAX_CATEGORIES = 15


@dataclass
class Dependence:
    """Average score per grid value of one feature."""

    feature: str
    kind: str  # "numeric" or "categorical"
    grid: list[Any]
    average: list[float]


def _grid(column: pd.Series, kind: str) -> list[Any]:
    values = column.dropna()
    if kind == "categorical":
        return [v for v in values.astype(object).value_counts().index[:MAX_CATEGORIES]]
    unique = np.unique(values.to_numpy(dtype=float))
    if len(unique) <= GRID_POINTS:
        return unique.tolist()
    grid = np.unique(np.quantile(values.to_numpy(dtype=float), np.linspace(0.05, 0.95, GRID_POINTS)))
    if pd.api.types.is_integer_dtype(column):
        grid = np.unique(np.rint(grid))
    return grid.tolist()


def partial_dependence(*, model: Any, X: pd.DataFrame, feature: str, kind: str, rows: np.ndarray) -> Dependence:
    """Partial dependence of ``model.predict_score`` on ``feature`` over the sampled ``rows`` of ``X``."""
    sample = X.iloc[rows]
    grid = _grid(X[feature], kind)
    batch = pd.concat([sample] * len(grid), ignore_index=True)
    repeated = np.repeat(np.arange(len(grid)), len(sample))
    if kind == "categorical":
        batch[feature] = pd.Series(np.array(grid, dtype=object)[repeated], dtype=X[feature].dtype)
    else:
        values = np.asarray(grid, dtype=float)[repeated]
        # Integer columns keep their numpy integer dtype. (A pandas nullable "Int64" column is an ExtensionDtype,
        # which ndarray.astype rejects with a TypeError, as it always has: the cast only states the numpy case.)
        integer = pd.api.types.is_integer_dtype(X[feature])
        batch[feature] = values.astype(cast(np.dtype, X[feature].dtype)) if integer else values
    score = np.asarray(model.predict_score(batch), dtype=float)
    average = np.bincount(repeated, weights=score, minlength=len(grid)) / max(len(sample), 1)
    shown = [str(g) for g in grid] if kind == "categorical" else [float(g) for g in grid]
    return Dependence(feature=feature, kind=kind, grid=shown, average=[float(a) for a in average])
