"""The one small protocol every model adapter follows, and the shared prediction record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["ModelAdapter", "ModelKind", "Predictions", "ScoreKind"]

ModelKind = Literal["tree", "linear", "neural", "other"]
#: What a model's score is: the probability of the positive decision, a multi-class lead, or a score on the model's scale.
ScoreKind = Literal["probability", "lead", "score"]


@runtime_checkable
class ModelAdapter(Protocol):
    """What checks may ask of a model: scores and decisions on the user's own columns.

    ``feature_names`` are columns of the user's data, in the order the model takes
    them. ``predict_score`` is the probability of the positive decision;
    ``decide`` turns those scores into the decision the model itself would make
    (for scikit-learn classifiers: its arg-max rule, ties included), so one
    scoring pass gives both.

    ``classes`` are the model's own classes (plain Python values) and
    ``positive_class`` the one taken as the positive decision, at
    ``classes[positive_index]``; every adapter chooses it by the one rule of
    :func:`audit.models._classes.positive_index`, so the report can say which
    class was taken as positive.

    ``score_kind`` and ``threshold`` say what the score is and where ``decide``
    flips: 0.5 on a probability for the binary adapters, the spec's
    ``model.cutoff`` or a multi-class lead (see :mod:`audit.models.outputs`).
    """

    format: str
    kind: ModelKind
    score_kind: ScoreKind  # "probability" (of the positive decision), "lead" (multi-class) or "score" (a model's own scale)
    threshold: float  # the score at which decide() flips
    feature_names: list[str]
    estimator: Any
    classes: list[Any]
    positive_class: Any
    positive_index: int

    def predict_score(self, X: pd.DataFrame) -> np.ndarray: ...

    def decide(self, score: np.ndarray) -> np.ndarray: ...

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class Predictions:
    """Decisions (and scores, when known) for every row, computed once and shared by all checks.

    ``source`` says where they come from: "model" (re-predicted by this audit) or
    "data" (a predictions-only audit read them from the dataset).
    """

    decision: np.ndarray  # bool, one per row: True = positive decision
    score: np.ndarray | None  # float probability/score of the positive decision, or None
    source: Literal["model", "data"]
    #: The model's own class per row, for a multi-class model (its decision reduces them to positive or not).
    model_class: np.ndarray | None = None
