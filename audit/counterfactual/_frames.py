"""Building big candidate frames from a few rows, and predicting them in bounded chunks.

Every counterfactual test re-predicts many modified copies of the data. Copies
are built column by column from numpy arrays (one gather per column, then the
changed cells), keeping the user's dtypes so the model sees what it was
trained on, and scored in chunks so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np
import pandas as pd

from audit.counterfactual._encoded import Change, EncodedModel, EncodedRows, encoded_model

__all__ = ["RowSource", "Predictor"]

_CHUNK_ROWS = 200_000


@dataclass
class RowSource:
    """The rows a test modifies, held as one numpy array per column (gathered once)."""

    frame: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.frame = self.frame.reset_index(drop=True)
        self.arrays = {c: self.frame[c].to_numpy() for c in self.frame.columns}

    def __len__(self) -> int:
        return len(self.frame)

    def gather(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Copies of the given rows, column by column (writable arrays)."""
        return {c: a[rows] for c, a in self.arrays.items()}

    def to_frame(self, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        """A DataFrame of these columns in the original order and dtypes."""
        out = {}
        for c in self.frame.columns:
            values = columns[c]
            dtype = self.frame[c].dtype
            if pd.api.types.is_integer_dtype(dtype) and values.dtype.kind == "f":
                if np.isnan(values).any():  # a missing value turns an integer column into float, as pandas does
                    out[c] = pd.Series(values)
                    continue
                values = np.round(values)
            out[c] = pd.Series(values, dtype=dtype, copy=False)
        return pd.DataFrame(out)

    def template(self) -> Callable[[dict[str, np.ndarray]], pd.DataFrame]:
        """Builds k copies of the first row with some columns replaced (as :meth:`to_frame` builds any frame)."""
        def build(values: dict[str, np.ndarray]) -> pd.DataFrame:
            cols = self.gather(np.zeros(len(next(iter(values.values()))), dtype=np.intp))
            cols.update(values)
            return self.to_frame(cols)

        return build


class _Scorer(Protocol):
    """What a Predictor asks of its model: the two methods of :class:`audit.models._base.ModelAdapter` it calls."""

    def predict_score(self, X: pd.DataFrame) -> np.ndarray: ...

    def decide(self, score: np.ndarray) -> np.ndarray: ...


class Predictor:
    """Scores frames with the model's adapter in chunks and counts how many rows were predicted.

    With ``fast`` (default), a scikit-learn Pipeline of column-wise encoders is also
    offered the encoded path (:mod:`._encoded`): :meth:`encode` returns None for
    every other model, and callers then build DataFrames as before.
    """

    def __init__(self, model: object, *, chunk_rows: int = _CHUNK_ROWS, fast: bool = True,
                 favourable_is_positive: bool = True) -> None:
        self.model = cast(_Scorer, model)  # callers hand over any adapter (typed object); it is duck-typed
        self.chunk_rows = chunk_rows
        # Recourse searches towards the favourable decision. Where the positive decision is adverse (a fraud or
        # risk flag), scores are turned into the probability of the favourable (negative) decision, and decide()
        # answers "favourable?", so every search, polish and verification step follows the declared direction.
        self.favourable_is_positive = favourable_is_positive
        self.n_predicted = 0
        self.encoded: EncodedModel | None = encoded_model(model) if fast else None

    def encode(self, frame: pd.DataFrame,
               template: Callable[[dict[str, np.ndarray]], pd.DataFrame]) -> EncodedRows | None:
        """The encoded rows of ``frame`` for the fast path, or None (generic path)."""
        if self.encoded is None or len(frame) == 0:
            return None
        Z = self.encoded.transform(frame)
        if Z is None:  # sparse or non-numeric encoding: stay on the generic path
            self.encoded = None
            return None
        return EncodedRows(self.encoded, np.ascontiguousarray(Z), template)

    def score_encoded(self, rows: EncodedRows, positions: np.ndarray, changes: list[Change]) -> np.ndarray:
        """Scores of encoded rows ``positions`` with ``changes`` applied (see :meth:`EncodedRows.score`)."""
        if positions.size == 0:
            return np.empty(0)
        before = rows.model.n_scored
        out = rows.score(positions, changes)
        self.n_predicted += rows.model.n_scored - before  # rows the model really scored (not those it remembered)
        return out if self.favourable_is_positive else 1.0 - out

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the favourable decision for every row of ``frame``."""
        self.n_predicted += len(frame)
        if len(frame) == 0:
            return np.empty(0)
        parts = [np.asarray(self.model.predict_score(frame.iloc[s:s + self.chunk_rows]), dtype=float)
                 for s in range(0, len(frame), self.chunk_rows)]
        out = np.concatenate(parts)
        return out if self.favourable_is_positive else 1.0 - out

    def decide(self, score: np.ndarray) -> np.ndarray:
        """The model's own decision rule applied to scores of :meth:`score`: True where the decision is the
        positive one, or (``favourable_is_positive=False``) where it is the favourable, negative one."""
        if self.favourable_is_positive:
            return np.asarray(self.model.decide(score), dtype=bool)
        return ~np.asarray(self.model.decide(1.0 - np.asarray(score, dtype=float)), dtype=bool)
