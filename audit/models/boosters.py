"""XGBoost and LightGBM models saved in their own native formats (no pickle involved).

Only binary classifiers for now: a binary objective predicts P(class 1), so the
model's classes are [0, 1]. Which of them is the positive decision follows the one
rule of :mod:`audit.models._classes`; when it is class 0 the score is 1 - P(class 1)
and the decision keeps the library's own label rule (class 1 when P(class 1) > 0.5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import MODEL_LOAD_FAILED, MODEL_NOT_BINARY, AuditInputError
from audit.models._base import ModelKind
from audit.models._classes import decision_from_score, positive_index

__all__ = ["XGBoostAdapter", "LightGBMAdapter", "BINARY_CLASSES"]

BINARY_CLASSES: list[Any] = [0, 1]  # what a binary objective's P(label = 1) is about


def _categorical(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categoricals, which both libraries take natively."""
    out = X.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("category")
    return out


class _BinaryBooster:
    """What both native boosters share: the positive class, the score seen from it, the decision."""

    format: str
    kind: ModelKind = "tree"
    estimator: Any
    feature_names: list[str]

    def _choose_positive(self, *, path: Path, positive_class: object, positive_label: object) -> None:
        """Set ``classes``, ``positive_index`` and ``positive_class`` by the one rule (after the objective check)."""
        self.classes: list[Any] = list(BINARY_CLASSES)
        self.positive_index = positive_index(self.classes, positive_class=positive_class, positive_label=positive_label,
                                             model_path=path)
        self.positive_class: Any = self.classes[self.positive_index]

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        """P(class 1) as the library computes it."""
        raise NotImplementedError

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive decision: P(class 1), or 1 - P(class 1) when the positive class is 0."""
        p1 = np.asarray(self._p1(X), dtype=float)
        return p1 if self.positive_index == 1 else 1.0 - p1

    def decide(self, score: np.ndarray) -> np.ndarray:
        """The library's own label rule (class 1 when P(class 1) > 0.5), seen from the positive class."""
        return decision_from_score(score, self.positive_index)

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision the model makes for each row."""
        return self.decide(self.predict_score(X))


class XGBoostAdapter(_BinaryBooster):
    """An XGBoost Booster (JSON/UBJ file) with a ``binary:logistic`` (or ``binary:hinge``) objective.

    ``positive_class`` / ``positive_label`` are ``model.positive_class`` and
    ``data.positive_label`` (:func:`audit.models.load_model` passes both); the
    default 1 is the library's own P(class 1), for adapters built in code.
    """

    format = "xgboost"

    def __init__(self, path: Path, *, positive_class: object = 1, positive_label: object = None) -> None:
        import xgboost as xgb

        try:
            self.estimator: Any = xgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem=str(exc).splitlines()[0]) from None
        objective = _xgboost_objective(self.estimator)
        if objective == "binary:logitraw":  # binary, but it predicts margins: the 0.5 rule would not hold
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost",
                                  problem="objective binary:logitraw predicts margins, not probabilities; "
                                          "train it with binary:logistic")
        if not objective.startswith("binary:"):
            raise AuditInputError(MODEL_NOT_BINARY, path=path, fmt="xgboost", objective=objective,
                                  expected="objective binary:logistic")
        if not self.estimator.feature_names:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem="the model has no feature names; train it on a DataFrame")
        self.feature_names = list(self.estimator.feature_names)
        self._choose_positive(path=path, positive_class=positive_class, positive_label=positive_label)

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        import xgboost as xgb

        matrix = xgb.DMatrix(_categorical(X[self.feature_names]), enable_categorical=True)
        return self.estimator.predict(matrix)


class LightGBMAdapter(_BinaryBooster):
    """A LightGBM Booster (text model file) with a ``binary`` objective.

    ``positive_class`` / ``positive_label`` as for :class:`XGBoostAdapter`.
    """

    format = "lightgbm"

    def __init__(self, path: Path, *, positive_class: object = 1, positive_label: object = None) -> None:
        import lightgbm as lgb

        try:
            self.estimator: Any = lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="lightgbm", problem=str(exc).splitlines()[0]) from None
        objective = _lightgbm_objective(self.estimator)
        if not objective.startswith("binary"):
            raise AuditInputError(MODEL_NOT_BINARY, path=path, fmt="lightgbm", objective=objective,
                                  expected="objective binary")
        self.feature_names = list(self.estimator.feature_name())
        self._choose_positive(path=path, positive_class=positive_class, positive_label=positive_label)

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict(_categorical(X[self.feature_names]))


def _xgboost_objective(booster: Any) -> str:
    """The objective's name as the saved model records it (e.g. ``binary:logistic``)."""
    try:
        return str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    except (KeyError, TypeError, ValueError):
        return "unknown"


def _lightgbm_objective(booster: Any) -> str:
    """The objective as the model file records it (``objective=binary sigmoid:1`` gives ``binary``)."""
    objective = (getattr(booster, "params", None) or {}).get("objective")
    if objective:
        return str(objective)
    for line in booster.model_to_string().splitlines():
        if line.startswith("objective="):
            parts = line.removeprefix("objective=").split()
            return parts[0] if parts else "unknown"
    return "unknown"
