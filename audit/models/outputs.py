"""Models whose output is not one binary probability: multi-class classifiers, score models, and cutoffs.

The rest of the audit sees a binary decision (positive or not) and one number per row, the
score, with ``decide(score)`` giving the decision back. These adapters reduce other outputs
to that contract without changing the decision the system makes:

- :class:`MultiClassAdapter`: a scikit-learn-style classifier with more than two classes.
  ``model.positive_class`` (or ``data.positive_label``) lists the classes that are the positive
  decision. Without ``model.cutoff`` the decision is the model's own (its most probable class,
  ties to the first class in ``classes_``, as scikit-learn's ``predict``) and the score is the
  **lead** of the positive classes: the highest probability among them minus the highest among
  the others, so the decision is positive exactly when the lead is above 0 (a tie won by a
  positive class gets the lead :data:`TIE_LEAD`, a tie won by another class stays 0). With
  ``model.cutoff`` the score is the summed probability of the positive classes and the decision
  is that sum at or above the cutoff. ``predict_class`` gives the model's own class per row,
  for the one-vs-rest tables (:mod:`audit.checks._classes`).
- :class:`ScoreAdapter`: a model with ``predict`` and no classes (a regressor, a scorecard):
  the score is its prediction, the decision is the score at or above ``model.cutoff``.
- :class:`CutoffAdapter`: any binary adapter whose decision is its positive-class probability
  at or above ``model.cutoff`` instead of the model's own rule (a bank's approval cutoff).

Every adapter says what its score is (``score_kind``: "probability", "lead" or "score") and
where ``decide`` flips (``threshold``), so explanations, LIME's borderline sample and the
report follow the model actually audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import CUTOFF_NOT_A_PROBABILITY, MODEL_CUTOFF_NEEDED, AuditInputError
from audit.models._base import ModelAdapter, ModelKind, ScoreKind
from audit.models._classes import native, positive_indices

__all__ = ["MultiClassAdapter", "ScoreAdapter", "CutoffAdapter", "ScoreKind", "TIE_LEAD", "check_cutoff",
           "score_adapter"]

#: Lead given to a row whose most probable classes tie and the first of them (the model's own choice) is a
#: positive class: above 0, so ``decide`` agrees with the model, and far below any real difference of probabilities.
TIE_LEAD = 1e-12


def check_cutoff(cutoff: float, *, path: Path) -> float:
    """A cutoff on a probability: above 0 and at most 1 (0 would make every decision positive)."""
    if not 0.0 < cutoff <= 1.0:
        raise AuditInputError(CUTOFF_NOT_A_PROBABILITY, path=path, value=cutoff)
    return float(cutoff)


class MultiClassAdapter:
    """A classifier with more than two classes, audited as its positive classes against the rest (see the module)."""

    score_kind: ScoreKind

    def __init__(self, estimator: Any, *, path: Path, fmt: str, kind: ModelKind, feature_names: list[str],
                 positive_class: Any, positive_label: Any, cutoff: float | None) -> None:
        self.estimator = estimator
        self.format = fmt
        self.final_estimator = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        self.kind: ModelKind = kind
        self.feature_names = feature_names
        classes = list(estimator.classes_)
        self.classes: list[Any] = [native(c) for c in classes]
        self.positive_indices = positive_indices(classes, positive_class=positive_class,
                                                 positive_label=positive_label, model_path=path)
        self.positive_index = self.positive_indices[0]
        self.positive_class: Any = [self.classes[i] for i in self.positive_indices]
        self._positive = np.isin(np.arange(len(classes)), self.positive_indices)
        self.cutoff = None if cutoff is None else check_cutoff(cutoff, path=path)
        self.score_kind = "lead" if self.cutoff is None else "probability"
        self.threshold = 0.0 if self.cutoff is None else self.cutoff

    def scores_and_classes(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The score of every row (see the module) and the index of the model's own class, from one prediction."""
        proba = np.asarray(self.estimator.predict_proba(X[self.feature_names]), dtype=float)
        own = proba.argmax(axis=1)  # first of the most probable classes, as scikit-learn's predict
        if self.cutoff is not None:
            return proba[:, self._positive].sum(axis=1), own
        lead = proba[:, self._positive].max(axis=1) - proba[:, ~self._positive].max(axis=1)
        lead[(lead == 0) & self._positive[own]] = TIE_LEAD
        return lead, own

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """The lead of the positive classes (no cutoff) or their summed probability (with one)."""
        return self.scores_and_classes(X)[0]

    def decide(self, score: np.ndarray) -> np.ndarray:
        """Positive when the lead is above 0 (the model's own class is positive), or the sum reaches the cutoff."""
        score = np.asarray(score, dtype=float)
        return score >= self.cutoff if self.cutoff is not None else score > 0

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision for each row."""
        return self.decide(self.predict_score(X))

    def predict_class(self, X: pd.DataFrame) -> np.ndarray:
        """The model's own class for each row (its most probable), as plain values."""
        return np.asarray(self.classes, dtype=object)[self.scores_and_classes(X)[1]]


class ScoreAdapter:
    """A model that outputs a score, not classes: positive decision when the score is at or above ``cutoff``."""

    score_kind: ScoreKind = "score"
    positive_index = 1

    def __init__(self, estimator: Any, *, kind: ModelKind, fmt: str, feature_names: list[str], cutoff: float) -> None:
        self.estimator = estimator
        self.format = fmt
        self.final_estimator = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        self.kind: ModelKind = kind
        self.feature_names = feature_names
        self.cutoff = float(cutoff)
        self.threshold = self.cutoff
        self.classes: list[Any] = [f"score below {self.cutoff:g}", f"score at or above {self.cutoff:g}"]
        self.positive_class: Any = self.classes[1]

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """The model's prediction, the score."""
        return np.asarray(self.estimator.predict(X[self.feature_names]), dtype=float).reshape(len(X))

    def decide(self, score: np.ndarray) -> np.ndarray:
        """Positive when the score is at or above the cutoff."""
        return np.asarray(score, dtype=float) >= self.cutoff

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision for each row."""
        return self.decide(self.predict_score(X))


def score_adapter(estimator: Any, *, path: Path, fmt: str, kind: ModelKind, feature_names: list[str],
                  cutoff: float | None) -> ScoreAdapter:
    """A :class:`ScoreAdapter`, or the one-line refusal when the spec gives no cutoff."""
    if cutoff is None:
        raise AuditInputError(MODEL_CUTOFF_NEEDED, path=path, fmt=fmt,
                              found=f"{type(estimator).__module__}.{type(estimator).__qualname__}")
    return ScoreAdapter(estimator, kind=kind, fmt=fmt, feature_names=feature_names, cutoff=cutoff)


class CutoffAdapter:
    """A binary adapter whose decision is its positive-class probability at or above ``cutoff``.

    Everything but the decision rule is the wrapped adapter's (attributes are read through), so
    explanations, scores and classes are unchanged; only ``decide`` and ``threshold`` differ.
    """

    score_kind: ScoreKind = "probability"

    def __init__(self, inner: ModelAdapter, *, cutoff: float, path: Path) -> None:
        self.inner = inner
        self.cutoff = check_cutoff(cutoff, path=path)
        self.threshold = self.cutoff
        self.format, self.kind, self.estimator = inner.format, inner.kind, inner.estimator
        self.feature_names, self.classes = inner.feature_names, inner.classes
        self.positive_class, self.positive_index = inner.positive_class, inner.positive_index

    def __getattr__(self, name: str) -> Any:
        """Anything else an explainer asks of the model (``output``, ``final_estimator``, ...) is the wrapped one's."""
        if name == "inner":  # not set yet (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.inner, name)

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """The wrapped model's probability of the positive decision."""
        return self.inner.predict_score(X)

    def decide(self, score: np.ndarray) -> np.ndarray:
        """Positive when the probability is at or above the cutoff."""
        return np.asarray(score, dtype=float) >= self.cutoff

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision for each row."""
        return self.decide(self.predict_score(X))
