"""The Subject of an audit: the dataset, its schema, the model, and predictions computed once.

Every check is a function of the Subject (and its own settings). The Subject
validates the data against the spec with one-line errors naming the column,
and computes the model's scores and decisions exactly once so that every check
sees the same predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from audit.errors import (
    COLUMN_NOT_FOUND,
    DATA_EMPTY,
    DATA_READ_FAILED,
    DECISION_SCORE_NOT_FINITE,
    DECISION_SCORE_NOT_NUMERIC,
    DECISION_VALUES_NOT_FOUND,
    FILE_NOT_FOUND,
    MODEL_FEATURES_MISSING,
    POSITIVE_LABEL_NOT_FOUND,
    SPEC_INVALID,
    TARGET_ONE_CLASS,
    UNSUPPORTED_FORMAT,
    AuditInputError,
)
from audit.models import ModelAdapter, Predictions, load_model, native, value_text
from audit.spec import AuditSpec, ProtectedSpec, favourable_is_positive

__all__ = ["Subject", "FeatureType", "load_subject", "read_table", "MISSING_GROUP"]

FeatureType = Literal["numeric", "categorical"]
MISSING_GROUP = "unknown"


@dataclass
class Subject:
    """Dataset + model + predictions: what every check looks at.

    - ``frame``: the user's data as read (all columns).
    - ``X``: the model's input columns (or, without a model, every column that is
      not the id, target, decision or a protected attribute).
    - ``y``: True where the ground truth is the positive label, or None without labels.
    - ``groups``: one column per protected attribute holding group labels (text;
      binned for numeric attributes; missing values as "unknown").
    """

    spec: AuditSpec
    data_path: Path
    frame: pd.DataFrame
    ids: np.ndarray
    X: pd.DataFrame
    y: np.ndarray | None
    groups: pd.DataFrame
    protected: list[ProtectedSpec]
    feature_types: dict[str, FeatureType]
    model: ModelAdapter | None
    predictions: Predictions
    model_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of decisions audited."""
        return len(self.frame)

    @property
    def has_model(self) -> bool:
        """Whether checks can re-predict (False for predictions-only audits)."""
        return self.model is not None

    @property
    def favourable_is_positive(self) -> bool:
        """Whether the positive decision favours the person (False for a fraud or risk flag)."""
        return favourable_is_positive(self.spec)

    @property
    def favourable(self) -> np.ndarray:
        """True where the decision favours the person (the decision itself, or its negation for a flag)."""
        decision = np.asarray(self.predictions.decision, dtype=bool)
        return decision if self.favourable_is_positive else ~decision

    @property
    def immutable(self) -> list[str]:
        """Features a person cannot change: declared ones plus protected attributes."""
        protected = [p.column for p in self.protected]
        return [c for c in self.X.columns if c in set(self.spec.data.immutable) | set(protected)]


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV or Parquet; one-line errors for a missing or unreadable file."""
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="data file", path=path, hint="fix data.path in the spec")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, skipinitialspace=True)
    except Exception as exc:
        raise AuditInputError(DATA_READ_FAILED, path=path, problem=str(exc).splitlines()[0]) from None
    raise AuditInputError(UNSUPPORTED_FORMAT, path=path, what="data file type", value=suffix, supported=".csv, .parquet")


def load_subject(spec: AuditSpec, *, trust_model: bool = False) -> Subject:
    """Read and validate the data, load the model, compute predictions once."""
    data_spec = spec.data
    path = spec.resolve(data_spec.path)
    frame = read_table(path)
    if frame.empty:
        raise AuditInputError(DATA_EMPTY, path=path)
    columns = [str(c) for c in frame.columns]

    def need(column: str | None, field_name: str) -> None:
        if column is not None and column not in frame.columns:
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            raise AuditInputError(COLUMN_NOT_FOUND, path=path, column=column, field=field_name, available=shown)

    need(data_spec.target, "data.target")
    need(data_spec.id_column, "data.id_column")
    protected = data_spec.protected_specs()
    for p in protected:
        need(p.column, "data.protected")
    for column in data_spec.immutable:
        need(column, "data.immutable")
    if data_spec.decision is not None:
        need(data_spec.decision.column, "data.decision.column")
        need(data_spec.decision.score_column, "data.decision.score_column")
        _check_decision_inputs(frame, spec, path)

    y = _labels(frame, spec, path)
    default_features = _default_features(frame, spec)
    model = load_model(spec, data_columns=default_features, trust=trust_model)
    if model is not None:
        for column in model.feature_names:
            if column not in frame.columns:
                raise AuditInputError(MODEL_FEATURES_MISSING, path=spec.resolve(spec.model.path or Path()), column=column, data_path=path)
        X = frame[model.feature_names]
    else:
        if data_spec.decision is None:
            raise AuditInputError(SPEC_INVALID, path=spec.source or path, field="data.decision",
                                  problem="a predictions-only audit (model.format: none) needs data.decision")
        X = frame[default_features]
    ids = frame[data_spec.id_column].astype(str).to_numpy() if data_spec.id_column else np.arange(len(frame)).astype(str)
    predictions = _predictions(frame, X, model, spec)
    return Subject(
        spec=spec,
        data_path=path,
        frame=frame,
        ids=ids,
        X=X,
        y=y,
        groups=_groups(frame, protected, path),
        protected=protected,
        feature_types=_feature_types(X, data_spec.feature_types),
        model=model,
        predictions=predictions,
        model_path=spec.resolve(spec.model.path) if spec.model.path else None,
    )


def _default_features(frame: pd.DataFrame, spec: AuditSpec) -> list[str]:
    d = spec.data
    skip = {d.target, d.id_column} | {p.column for p in d.protected_specs()}
    if d.decision is not None:
        skip |= {d.decision.column, d.decision.score_column}
    return [str(c) for c in frame.columns if c not in skip]


def _labels(frame: pd.DataFrame, spec: AuditSpec, path: Path) -> np.ndarray | None:
    d = spec.data
    if d.target is None:
        return None
    target = frame[d.target]
    values = target.dropna().unique()
    if len(values) < 2:
        raise AuditInputError(TARGET_ONE_CLASS, path=path, column=d.target, value=values[0] if len(values) else None)
    if d.positive_label is None:
        raise AuditInputError(SPEC_INVALID, path=spec.source or path, field="data.positive_label",
                              problem=f"say which value of '{d.target}' is the positive outcome (values: {sorted(map(str, values))[:6]})")
    as_text = target.astype(str)
    if str(d.positive_label) not in set(as_text):
        raise AuditInputError(POSITIVE_LABEL_NOT_FOUND, path=path, label=d.positive_label, column=d.target,
                              available=", ".join(sorted(set(as_text))[:8]))
    return (as_text == str(d.positive_label)).to_numpy()


def _groups(frame: pd.DataFrame, protected: list[ProtectedSpec], path: Path) -> pd.DataFrame:
    out = {}
    for p in protected:
        column = frame[p.column]
        if p.bins is not None:
            if not pd.api.types.is_numeric_dtype(column):
                raise AuditInputError(SPEC_INVALID, path=path, field=f"data.protected.{p.column}.bins",
                                      problem="bins need a numeric column")
            labels = p.labels or [f"{lo:g}–{hi:g}" for lo, hi in zip(p.bins[:-1], p.bins[1:], strict=True)]
            binned = pd.cut(column, bins=p.bins, labels=labels, right=False)
            out[p.column] = binned.astype(object).where(binned.notna(), MISSING_GROUP).astype(str)
        else:
            out[p.column] = column.astype(object).where(column.notna(), MISSING_GROUP).astype(str)
    return pd.DataFrame(out, index=frame.index)


def _feature_types(X: pd.DataFrame, declared: dict[str, FeatureType]) -> dict[str, FeatureType]:
    return {
        str(c): declared.get(str(c), "numeric" if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c]) else "categorical")
        for c in X.columns
    }


def _predictions(frame: pd.DataFrame, X: pd.DataFrame, model: ModelAdapter | None, spec: AuditSpec) -> Predictions:
    if model is not None:
        model_score = model.predict_score(X)
        return Predictions(decision=np.asarray(model.decide(model_score), dtype=bool), score=model_score, source="model")
    d = spec.data.decision
    if d is None:  # load_subject rejects this earlier; kept so the function stands alone
        raise ValueError("a predictions-only subject needs data.decision")
    score = _score_values(frame[d.score_column]) if d.score_column else None
    if d.column is not None:
        decision = _texts(frame[d.column]).isin({value_text(v) for v in d.positive_values}).to_numpy()
    else:  # the cutoff applies on the score's own scale (a probability, a decile, a credit score)
        if score is None or d.cutoff is None:  # DecisionSpec rejects this earlier; kept so the function stands alone
            raise ValueError("a decision from a score needs data.decision.score_column and data.decision.cutoff")
        decision = score >= float(d.cutoff)
    return Predictions(decision=decision, score=score, source="data")


# At most this many of a column's values are shown in a message.
_SHOWN_VALUES = 8


def _check_decision_inputs(frame: pd.DataFrame, spec: AuditSpec, path: Path) -> None:
    """Check data.decision against the data as soon as it is read, before any model or prediction.

    Every value of ``positive_values`` must occur in the decision column (compared as
    text, like the decisions themselves): a typo would otherwise audit no positive
    decision at all. A ``score_column`` must hold finite numbers, on any scale (the
    cutoff applies on that scale). The columns exist (checked just before).
    """
    d = spec.data.decision
    if d is None:
        return
    if d.column is not None:
        present = frame[d.column].dropna()
        found = set(_texts(present))
        missing = [v for v in d.positive_values if value_text(v) not in found]
        if missing:
            values = sorted({str(v) for v in present.unique()})
            available = ", ".join(values[:_SHOWN_VALUES]) + (" ..." if len(values) > _SHOWN_VALUES else "")
            raise AuditInputError(DECISION_VALUES_NOT_FOUND, path=path, missing=", ".join(repr(v) for v in missing),
                                  column=d.column, available=available or "none")
    if d.score_column is not None:
        column = frame[d.score_column]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce") if not pd.api.types.is_bool_dtype(column) else None
            not_numbers = column.notna() if numbers is None else column.notna() & numbers.isna()
            if not_numbers.any():
                at = int(np.argmax(not_numbers.to_numpy()))
                raise AuditInputError(DECISION_SCORE_NOT_NUMERIC, path=path, column=d.score_column,
                                      value=native(column.iloc[at]), row=_row_name(frame, at, spec))
        scores = _score_values(column)
        bad = ~np.isfinite(scores)
        if bad.any():
            at = int(np.argmax(bad))
            raise AuditInputError(DECISION_SCORE_NOT_FINITE, path=path, column=d.score_column,
                                  value=scores[at], row=_row_name(frame, at, spec))


def _texts(column: pd.Series) -> pd.Series:
    """Each value as the text it is compared by (audit.models.value_text: 1, "1", True and 1.0 alike); NaN stays NaN.

    Computed once per distinct value, so a column of millions of decisions costs a lookup per row.
    """
    return column.map({value: value_text(value) for value in column.dropna().unique()})


def _score_values(column: pd.Series) -> np.ndarray:
    """A score column as floats (text that is not a number becomes NaN; _check_decision_inputs refuses both)."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _row_name(frame: pd.DataFrame, position: int, spec: AuditSpec) -> str:
    """How a message names a row: its number in the data (from 1) and its id, when there is an id column."""
    id_column = spec.data.id_column
    where = f"row {position + 1}"
    return f"{where} ({id_column} {frame[id_column].iloc[position]})" if id_column else where
