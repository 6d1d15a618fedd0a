"""XGBoost and LightGBM models saved in their own native formats (no pickle involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import MODEL_LOAD_FAILED, AuditInputError
from audit.models._base import ModelKind

__all__ = ["XGBoostAdapter", "LightGBMAdapter"]


def _categorical(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categoricals, which both libraries take natively."""
    out = X.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("category")
    return out


class XGBoostAdapter:
    """An XGBoost Booster (JSON/UBJ file) with a binary:logistic objective; it scores P(label = 1)."""

    format = "xgboost"
    kind: ModelKind = "tree"

    def __init__(self, path: Path) -> None:
        import xgboost as xgb

        try:
            self.estimator: Any = xgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem=str(exc).splitlines()[0]) from None
        if not self.estimator.feature_names:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem="the model has no feature names; train it on a DataFrame")
        self.feature_names = list(self.estimator.feature_names)

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        import xgboost as xgb

        matrix = xgb.DMatrix(_categorical(X[self.feature_names]), enable_categorical=True)
        return np.asarray(self.estimator.predict(matrix), dtype=float)

    def decide(self, score: np.ndarray) -> np.ndarray:
        return score > 0.5

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        return self.decide(self.predict_score(X))


class LightGBMAdapter:
    """A LightGBM Booster (text model file) with a binary objective; it scores P(label = 1)."""

    format = "lightgbm"
    kind: ModelKind = "tree"

    def __init__(self, path: Path) -> None:
        import lightgbm as lgb

        try:
            self.estimator: Any = lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="lightgbm", problem=str(exc).splitlines()[0]) from None
        self.feature_names = list(self.estimator.feature_name())

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(_categorical(X[self.feature_names])), dtype=float)

    def decide(self, score: np.ndarray) -> np.ndarray:
        return score > 0.5

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        return self.decide(self.predict_score(X))
