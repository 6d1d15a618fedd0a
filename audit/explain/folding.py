"""Fold contributions of encoded columns back onto the user's own columns.

A scikit-learn Pipeline usually feeds its estimator an encoded matrix (one-hot
columns, scaled numbers). SHAP values come out per encoded column
("checking_account_< 0 DM"), which no applicant or compliance officer should
have to read. Every encoded column here comes from exactly one of the user's
columns, so the contribution of a user's column is the plain sum of the
contributions of the encoded columns it produced: the fold is exact (the row
totals do not change, up to floating-point rounding).

:func:`fold_map` walks the fitted preprocessing steps (Pipeline,
ColumnTransformer, OneHotEncoder, one-to-one transformers such as scalers and
imputers) and returns, for each encoded column, the index of the user's column
it comes from. Anything that mixes columns (PCA, polynomial features) raises
:class:`FoldingError`: the caller then explains the model on the user's
columns directly instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["FoldingError", "fold_map", "fold_matrix", "fold_values"]

# Transformers whose output column i comes from input column i (no mixing, no expansion).
_ONE_TO_ONE = {
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "QuantileTransformer",
    "PowerTransformer", "OrdinalEncoder", "TargetEncoder", "Binarizer",
}


class FoldingError(ValueError):
    """An encoded column cannot be traced back to a single column of the user's data."""


def fold_map(preprocessor: Any, *, n_inputs: int) -> np.ndarray:
    """For each column the fitted ``preprocessor`` outputs, the index of the input column it comes from.

    ``n_inputs`` is the number of columns the preprocessor takes (the user's
    columns, in the model's order). Raises :class:`FoldingError` for steps that
    mix columns.
    """
    sources = _trace(preprocessor, [[i] for i in range(n_inputs)])
    out = np.empty(len(sources), dtype=np.intp)
    for j, src in enumerate(sources):
        if len(set(src)) != 1:
            raise FoldingError(f"encoded column {j} mixes input columns {sorted(set(src))}")
        out[j] = src[0]
    return out


def fold_matrix(mapping: np.ndarray, *, n_features: int) -> np.ndarray:
    """A 0/1 matrix (encoded columns x user columns) so that ``values @ M`` sums each user column's parts."""
    matrix = np.zeros((len(mapping), n_features))
    matrix[np.arange(len(mapping)), mapping] = 1.0
    return matrix


def fold_values(values: np.ndarray, mapping: np.ndarray, *, n_features: int) -> np.ndarray:
    """Sum the columns of ``values`` (rows x encoded columns) into the user's ``n_features`` columns.

    Vectorised as a product with a 0/1 matrix; each output is a sum of a subset of
    a row's entries, so row totals are preserved up to rounding (about 1e-15).
    """
    values = np.asarray(values, dtype=float)
    if values.shape[1] != len(mapping):
        raise FoldingError(f"{values.shape[1]} contribution columns but {len(mapping)} encoded columns")
    if np.array_equal(mapping, np.arange(n_features)):
        return values.copy()
    return values @ fold_matrix(mapping, n_features=n_features)


def _trace(step: Any, inputs: list[list[int]]) -> list[list[int]]:
    """Sources (user column indices) of each output column of ``step`` given those of its inputs."""
    if step is None or step == "passthrough":
        return inputs
    name = type(step).__name__
    if hasattr(step, "steps"):  # Pipeline
        for _, sub in step.steps:
            inputs = _trace(sub, inputs)
        return inputs
    if name == "ColumnTransformer":
        return _trace_column_transformer(step, inputs)
    if name == "OneHotEncoder":
        counts = _onehot_counts(step)
        return [inputs[i] for i, count in enumerate(counts) for _ in range(count)]
    if name == "SimpleImputer":
        kept = _imputer_kept(step, len(inputs))
        out = [inputs[i] for i in kept]
        indicator = getattr(step, "indicator_", None)
        if indicator is not None:
            out += [inputs[i] for i in indicator.features_]
        return out
    if name == "KBinsDiscretizer" and getattr(step, "encode", "ordinal") != "ordinal":
        return [inputs[i] for i, bins in enumerate(step.n_bins_) for _ in range(int(bins))]
    if name == "FunctionTransformer" and (step.func is None or step.feature_names_out == "one-to-one"):
        return inputs
    if name in _ONE_TO_ONE or _keeps_names(step, len(inputs)):
        return inputs
    raise FoldingError(f"cannot trace the outputs of {name} back to the input columns")


def _trace_column_transformer(ct: Any, inputs: list[list[int]]) -> list[list[int]]:
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if indices is None:
        raise FoldingError("ColumnTransformer without input index map (scikit-learn too old)")
    out: list[list[int]] = []
    for name, transformer, _ in ct.transformers_:
        columns = list(indices.get(name, []))
        if transformer == "drop" or not columns:
            continue
        out += _trace(transformer, [inputs[i] for i in columns])
    return out


def _onehot_counts(encoder: Any) -> Sequence[int]:
    counts = getattr(encoder, "_n_features_outs", None)
    if counts is not None:
        return [int(c) for c in counts]
    raise FoldingError("OneHotEncoder without output counts (scikit-learn too old)")


def _imputer_kept(imputer: Any, n_inputs: int) -> list[int]:
    stats = np.asarray(getattr(imputer, "statistics_", np.zeros(n_inputs)))
    if getattr(imputer, "keep_empty_features", False) or stats.dtype.kind not in "fc":
        return list(range(n_inputs))
    return [i for i in range(n_inputs) if not np.isnan(stats[i])]


def _keeps_names(step: Any, n_inputs: int) -> bool:
    """True for a step that outputs exactly its input columns, by name (e.g. a 'one-to-one' FunctionTransformer)."""
    names_in = getattr(step, "feature_names_in_", None)
    try:
        names_out = step.get_feature_names_out()
    except Exception:  # noqa: BLE001 - many transformers cannot name their outputs
        return False
    return names_in is not None and len(names_out) == n_inputs and list(map(str, names_out)) == list(map(str, names_in))
