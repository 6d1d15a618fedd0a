"""Model adapters behind one small protocol (see :class:`ModelAdapter`).

scikit-learn via skops by default (pickle/joblib only when trusted), XGBoost
and LightGBM native files, and predictions-only audits (no model at all).
"""

from __future__ import annotations

from typing import Any

from audit.errors import FILE_NOT_FOUND, AuditInputError
from audit.models._base import ModelAdapter, ModelKind, Predictions
from audit.models.sklearn import SklearnAdapter, decision_from_score, load_pickle, load_skops
from audit.spec import AuditSpec, ModelFormat

__all__ = ["ModelAdapter", "ModelKind", "Predictions", "SklearnAdapter", "decision_from_score", "load_model"]


def load_model(spec: AuditSpec, *, data_columns: list[str], trust: bool = False) -> ModelAdapter | None:
    """The adapter for the spec's model, or None for a predictions-only audit.

    ``trust`` is the command line's ``--trust-model``; it adds to ``model.trust``.
    """
    fmt = spec.model.format
    if fmt is ModelFormat.NONE:
        return None
    if spec.model.path is None:  # ModelSpec validation rejects this earlier
        raise ValueError("model.path is required unless model.format is none")
    path = spec.resolve(spec.model.path)
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="model file", path=path, hint="fix model.path in the spec")
    trusted = trust or spec.model.trust
    if fmt is ModelFormat.XGBOOST:
        from audit.models.boosters import XGBoostAdapter

        return XGBoostAdapter(path)
    if fmt is ModelFormat.LIGHTGBM:
        from audit.models.boosters import LightGBMAdapter

        return LightGBMAdapter(path)
    estimator: Any = load_skops(path, trust=trusted) if fmt is ModelFormat.SKOPS else load_pickle(path, fmt=fmt.value, trust=trusted)
    positive = spec.model.positive_class if spec.model.positive_class is not None else spec.data.positive_label
    return SklearnAdapter(estimator, path=path, fmt=fmt.value, positive_class=positive, data_columns=data_columns)
