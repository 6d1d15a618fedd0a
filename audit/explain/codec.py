"""The user's columns as a numeric matrix (categories as integer codes) and back, for perturbation explainers.

KernelSHAP and LIME perturb rows by mixing values of numeric matrices; a model
audited here takes the user's own DataFrame (text categories, integers). The
codec turns the DataFrame into numbers that such explainers can shuffle, and
turns the perturbed numbers back into a DataFrame of the same columns and
dtypes, with the data's own category labels, before the model sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Codec"]


@dataclass
class Codec:
    """Codes for categorical columns (sorted labels; missing = one code past the last label) and numeric dtypes."""

    columns: list[str]
    categorical: dict[str, list[Any]]
    dtypes: dict[str, Any]

    @classmethod
    def fit(cls, X: pd.DataFrame) -> Codec:
        """Learn the categories (as they appear in the data) of every non-numeric column."""
        cats = {}
        for c in X.columns:
            if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]):
                cats[str(c)] = sorted(X[c].dropna().astype(object).unique().tolist(), key=str)
        return cls(columns=[str(c) for c in X.columns], categorical=cats, dtypes={str(c): X[c].dtype for c in X.columns})

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of the categorical columns."""
        return [j for j, c in enumerate(self.columns) if c in self.categorical]

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """A float matrix: numbers as they are, categories as codes (missing -> len(labels), unseen -> NaN)."""
        cols = []
        for c in self.columns:
            if c in self.categorical:
                labels = self.categorical[c]
                index = {v: float(i) for i, v in enumerate(labels)}
                values = X[c].astype(object)
                codes = values.map(index).astype(float).to_numpy().copy()
                codes[values.isna().to_numpy()] = float(len(labels))
                cols.append(codes)
            else:
                cols.append(X[c].to_numpy(dtype=float))
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def decode(self, M: np.ndarray) -> pd.DataFrame:
        """The DataFrame the model takes: codes back to labels (missing code -> NaN), integers back to integers."""
        M = np.atleast_2d(M)
        out = {}
        for j, c in enumerate(self.columns):
            if c in self.categorical:
                labels = np.array([*self.categorical[c], np.nan], dtype=object)
                codes = np.rint(np.nan_to_num(M[:, j], nan=len(labels) - 1)).astype(int)
                out[c] = labels[np.clip(codes, 0, len(labels) - 1)]
            else:
                column = M[:, j]
                if pd.api.types.is_integer_dtype(self.dtypes[c]) and not np.isnan(column).any():
                    out[c] = np.rint(column).astype(self.dtypes[c])
                else:
                    out[c] = column
        return pd.DataFrame(out, columns=self.columns)
