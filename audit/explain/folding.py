"""Fold contributions of the model's input columns back onto the user's own columns.

A scikit-learn Pipeline usually feeds its final estimator a transformed matrix Z (one-hot
columns, scaled or logged numbers, columns a custom function computes). SHAP values come
out per column of Z ("checking_account_< 0 DM"), which no applicant or compliance officer
should have to read. The fold sums them into the user's columns; it is exact: every column
of Z goes to exactly one place, so row totals do not change (up to floating-point rounding).

Where each column of Z comes from (:func:`column_map`), tried in this order:

1. **Structure** (:func:`fold_map`): walking the fitted scikit-learn steps whose column
   bookkeeping is known (Pipeline, ColumnTransformer, OneHotEncoder, SimpleImputer,
   KBinsDiscretizer, column-wise scalers and encoders, ``FunctionTransformer(func=None)``).
   No data is needed and nothing is guessed. For the explainers (:func:`column_map`) a
   ``FunctionTransformer`` with a function, and any other step, counts as opaque even when
   it names its outputs after its inputs (a function can mix columns and still keep their
   names; ``Normalizer`` does): such a pipeline is probed instead. :func:`fold_map` itself
   keeps its older, name-trusting rule for the counterfactual fast path.
2. **Probing** (any other preprocessing whose output is a 2-D numeric matrix of fixed
   width): on a seeded sample of the data (up to ``PROBE_ROWS`` random rows, plus the rows
   where each column of Z takes its smallest and largest value and a missing value, plus
   rows with each input column's extremes or each of its first ``PROBE_VALUES`` distinct
   values, so rare categories are in it), each user column alone is shuffled among the
   sample's rows ``PROBE_REPEATS`` times (values stay real values of that column, dtype
   kept) and the sample transformed again. A column of Z *depends on* a user column when
   any of its values moves by more than ``PROBE_TOL`` relative (NaN versus a number counts
   as a move). Before that, the probe checks that the preprocessing is deterministic (two
   transforms of the sample agree) and works row by row (three rows transformed alone give
   their rows of the batch); otherwise it refuses (:class:`FoldingError`).

The rule for each column of Z, once its sources are known:

- one source: its contribution goes to that user column;
- several sources (a *joint* column, e.g. a ratio ``a / b`` a custom function adds): its
  contribution goes to a **group** named after its sources, ``"a + b"`` (``" (joint)"`` is
  appended should a user column have that very name). Joint columns with the same sources
  share one group. A group's contribution is never split between its columns: no split
  would be exact, so the group is reported as it is, next to the columns' own contributions;
- no source although the column varies over the data: :class:`FoldingError` (the caller
  falls back to a model-agnostic explainer on the user's columns);
- no source and the column is constant over the audited data (e.g. the one-hot column of
  a category that does not occur in it): the group ``CONSTANT_GROUP``, so that nothing is
  lost from the sum. For a linear model its contributions are zero (z minus its mean).

:func:`fold_values` then sums contributions with a 0/1 matrix: user columns first, in the
model's order, then the groups in order of first appearance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FoldingError", "ColumnMap", "OutputScan", "column_map", "scan_output", "output_matrix", "fold_map",
           "fold_matrix", "fold_values", "CONSTANT_GROUP"]

PROBE_ROWS = 200  # seeded random rows in the probe sample (plus the extreme rows of each column)
PROBE_REPEATS = 2  # shuffles of each user column
PROBE_VALUES = 50  # distinct values of a user column that get a row of their own in the sample
PROBE_TOL = 1e-9  # relative change of an output value that counts as a move
SCAN_ROWS = 50_000  # rows transformed at a time when scanning the whole data
CONSTANT_GROUP = "(constant in the audited data)"

# Transformers whose output column i comes from input column i (no mixing, no expansion).
_ONE_TO_ONE = {
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "QuantileTransformer",
    "PowerTransformer", "OrdinalEncoder", "TargetEncoder", "Binarizer",
}


class FoldingError(ValueError):
    """An encoded column cannot be traced back to the user's data (or the preprocessing cannot be probed)."""


def fold_map(preprocessor: Any, *, n_inputs: int) -> np.ndarray:
    """For each column the fitted ``preprocessor`` outputs, the index of the input column it comes from.

    ``n_inputs`` is the number of columns the preprocessor takes (the user's
    columns, in the model's order). Structural only (no data); raises
    :class:`FoldingError` for steps that mix columns or that it does not know.
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
    """Sum the columns of ``values`` (rows x encoded columns) into ``n_features`` folded columns.

    Vectorised as a product with a 0/1 matrix; each output is a sum of a subset of
    a row's entries, so row totals are preserved up to rounding (about 1e-15).
    """
    values = np.asarray(values, dtype=float)
    if values.shape[1] != len(mapping):
        raise FoldingError(f"{values.shape[1]} contribution columns but {len(mapping)} encoded columns")
    if np.array_equal(mapping, np.arange(n_features)):
        return values.copy()
    return values @ fold_matrix(mapping, n_features=n_features)


# --------------------------------------------------------------------------- the column map


@dataclass(frozen=True)
class ColumnMap:
    """Where each column of the preprocessing's output comes from, and where its contribution is folded.

    ``mapping[j]`` is the folded position of output column ``j``: a user column
    (``< n_inputs``) or the group ``n_inputs + g`` whose sources are ``groups[g]``
    (several user columns; ``()`` for :data:`CONSTANT_GROUP`).
    """

    sources: tuple[tuple[int, ...], ...]  # per output column, the user columns it depends on (sorted)
    n_inputs: int
    how: str  # "none" (no preprocessing), "structure" or "probe"
    groups: tuple[tuple[int, ...], ...]
    mapping: np.ndarray

    @classmethod
    def from_sources(cls, sources: Sequence[Sequence[int]], *, n_inputs: int, how: str) -> ColumnMap:
        """The map of output columns with these sources: one source -> that column, else a group per source set."""
        clean = tuple(tuple(sorted(set(int(i) for i in s))) for s in sources)
        groups: list[tuple[int, ...]] = []
        mapping = np.empty(len(clean), dtype=np.intp)
        for j, src in enumerate(clean):
            if len(src) == 1:
                mapping[j] = src[0]
                continue
            if src not in groups:
                groups.append(src)
            mapping[j] = n_inputs + groups.index(src)
        return cls(sources=clean, n_inputs=n_inputs, how=how, groups=tuple(groups), mapping=mapping)

    @property
    def n_folded(self) -> int:
        """Columns after the fold: the user's columns, then the groups."""
        return self.n_inputs + len(self.groups)

    @property
    def single_source(self) -> int:
        """Output columns that come from exactly one user column."""
        return int((self.mapping < self.n_inputs).sum())

    def group_names(self, names: Sequence[str]) -> list[str]:
        """A readable name per group: its user columns joined by ' + ' (or :data:`CONSTANT_GROUP`)."""
        taken = set(names)
        out = []
        for group in self.groups:
            name = " + ".join(str(names[i]) for i in group) if group else CONSTANT_GROUP
            out.append(f"{name} (joint)" if name in taken else name)
        return out


def column_map(preprocessor: Any, X: pd.DataFrame, *, seed: int, scan: OutputScan | None = None) -> ColumnMap:
    """Sources of every output column of the fitted ``preprocessor`` in the user's columns ``X`` (see the module text).

    The structure of known scikit-learn steps first; otherwise a seeded probe of the
    preprocessing on a sample of ``X`` (``scan``, the whole data's output summary, is
    computed here when not given). Raises :class:`FoldingError` when neither works.
    """
    n_inputs = X.shape[1]
    if preprocessor is None:
        return ColumnMap.from_sources([[i] for i in range(n_inputs)], n_inputs=n_inputs, how="none")
    try:
        sources = _trace(preprocessor, [[i] for i in range(n_inputs)], strict=True)
    except FoldingError:
        pass
    else:
        return ColumnMap.from_sources(sources, n_inputs=n_inputs, how="structure")
    scan = scan if scan is not None else scan_output(preprocessor, X)
    return _probe(preprocessor, X, scan=scan, seed=seed)


def output_matrix(preprocessor: Any, X: pd.DataFrame) -> np.ndarray:
    """``preprocessor.transform(X)`` as a 2-D float matrix (the user's numbers when there is no preprocessor).

    Raises :class:`FoldingError` when the output is not a 2-D numeric matrix.
    """
    try:
        Z: Any = X.to_numpy(dtype=float) if preprocessor is None else preprocessor.transform(X)
    except (TypeError, ValueError) as exc:
        if preprocessor is None:
            raise FoldingError(f"the model takes non-numeric columns directly ({exc})") from None
        raise
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise FoldingError(f"the preprocessing outputs a {Z.ndim}-D array, not a matrix")
    if Z.dtype.kind not in "biuf":
        try:
            Z = Z.astype(float)
        except (TypeError, ValueError):
            raise FoldingError(f"the preprocessing outputs non-numeric values (dtype {Z.dtype})") from None
    return np.asarray(Z, dtype=float)


@dataclass
class OutputScan:
    """A summary of the preprocessing's output over every row of the data (one streaming pass)."""

    width: int
    rows: int
    total: np.ndarray  # column sums (NaN where the column has a missing value)
    low: np.ndarray  # row of each column's smallest value (missing values ignored)
    high: np.ndarray  # row of each column's largest value
    missing: np.ndarray  # a row where the column is missing, or -1
    constant: np.ndarray  # the column takes a single value (or is missing) in every row

    @property
    def mean(self) -> np.ndarray:
        """Column means over the data (1 x width)."""
        return (self.total / max(self.rows, 1)).reshape(1, -1)


def scan_output(preprocessor: Any, X: pd.DataFrame, *, chunk_rows: int = SCAN_ROWS) -> OutputScan:
    """Transform ``X`` chunk by chunk: width (checked fixed), sums, and the rows of each column's extremes."""
    width = -1
    total = lo = hi = n_missing = np.zeros(0)
    lo_row = hi_row = miss_row = np.zeros(0, dtype=np.intp)
    for start in range(0, max(len(X), 1), chunk_rows):
        Z = output_matrix(preprocessor, X.iloc[start:start + chunk_rows])
        if width < 0:
            width = Z.shape[1]
            total, n_missing = np.zeros(width), np.zeros(width)
            lo, hi = np.full(width, np.inf), np.full(width, -np.inf)
            lo_row, hi_row, miss_row = (np.zeros(width, dtype=np.intp) for _ in range(3))
            miss_row -= 1
        elif Z.shape[1] != width:
            raise FoldingError(f"the preprocessing's output width changes with the rows ({width} then {Z.shape[1]})")
        if not len(Z):
            continue
        nan = np.isnan(Z)
        total += Z.sum(axis=0)
        n_missing += nan.sum(axis=0)
        first_nan = np.where(nan.any(axis=0), start + nan.argmax(axis=0), -1)
        miss_row = np.where(miss_row < 0, first_nan, miss_row)
        low_z, high_z = np.where(nan, np.inf, Z), np.where(nan, -np.inf, Z)
        i_lo, i_hi = low_z.argmin(axis=0), high_z.argmax(axis=0)
        v_lo, v_hi = low_z[i_lo, np.arange(width)], high_z[i_hi, np.arange(width)]
        better_lo, better_hi = v_lo < lo, v_hi > hi
        lo, lo_row = np.where(better_lo, v_lo, lo), np.where(better_lo, start + i_lo, lo_row)
        hi, hi_row = np.where(better_hi, v_hi, hi), np.where(better_hi, start + i_hi, hi_row)
    rows = len(X)
    constant = (n_missing == rows) | ((n_missing == 0) & (lo == hi))
    return OutputScan(width=max(width, 0), rows=rows, total=total, low=lo_row, high=hi_row, missing=miss_row,
                      constant=constant)


def _probe(preprocessor: Any, X: pd.DataFrame, *, scan: OutputScan, seed: int) -> ColumnMap:
    """Sources of each output column by shuffling one user column at a time on a seeded sample (module text)."""
    rng = np.random.default_rng([seed, 4099])
    n_inputs = X.shape[1]
    picked = {int(r) for r in rng.choice(len(X), size=min(PROBE_ROWS, len(X)), replace=False)}
    picked |= {int(r) for r in np.concatenate([scan.low, scan.high, scan.missing]) if r >= 0}
    for i in range(n_inputs):
        picked |= _input_rows(X.iloc[:, i])
    sample = X.iloc[sorted(picked)].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            base = output_matrix(preprocessor, sample)
            again = output_matrix(preprocessor, sample)
            singles = [output_matrix(preprocessor, sample.iloc[[r]]) for r in range(min(3, len(sample)))]
            moved = np.zeros((n_inputs, base.shape[1]), dtype=bool)
            for i in range(n_inputs):
                for _ in range(PROBE_REPEATS):
                    shuffled = sample.copy()
                    shuffled.isetitem(i, sample.iloc[rng.permutation(len(sample)), i].array)  # dtype kept
                    Z = output_matrix(preprocessor, shuffled)
                    if Z.shape != base.shape:
                        raise FoldingError(f"the preprocessing's output width changes with the rows "
                                           f"({base.shape[1]} then {Z.shape[1]})")
                    moved[i] |= _moved(base, Z).any(axis=0)
        except FoldingError:
            raise
        except Exception as exc:  # noqa: BLE001 - a custom step can raise anything on shuffled rows
            raise FoldingError(f"probing the preprocessing failed: {type(exc).__name__}: {exc}") from None
    if base.shape[1] != scan.width:
        raise FoldingError(f"the preprocessing's output width changes with the rows ({scan.width} then {base.shape[1]})")
    if _moved(base, again).any():
        raise FoldingError("the preprocessing is not deterministic (the same rows transform differently)")
    for r, single in enumerate(singles):
        if single.shape != (1, base.shape[1]) or _moved(base[r:r + 1], single).any():
            raise FoldingError("the preprocessing's output for a row depends on the other rows transformed with it")
    sources: list[list[int]] = []
    for j in range(base.shape[1]):
        src = [int(i) for i in np.flatnonzero(moved[:, j])]
        if not src and not scan.constant[j]:
            raise FoldingError(f"output column {j} of the preprocessing varies, but moves with no single input column")
        sources.append(src)
    return ColumnMap.from_sources(sources, n_inputs=n_inputs, how="probe")


def _input_rows(column: pd.Series) -> set[int]:
    """Rows that show a user column's range: its extremes and a missing value (numbers), or its first distinct values."""
    missing = column.isna().to_numpy()
    rows = {int(np.argmax(missing))} if missing.any() else set()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float)
        if (~missing).any():
            rows |= {int(np.nanargmin(values)), int(np.nanargmax(values))}
        return rows
    codes = pd.factorize(column, use_na_sentinel=True)[0]
    first = np.unique(codes[codes >= 0], return_index=True)[1]
    positions = np.flatnonzero(codes >= 0)[first] if len(first) else np.zeros(0, dtype=int)
    return rows | {int(r) for r in positions[:PROBE_VALUES]}


def _moved(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Where ``after`` differs from ``before`` by more than ``PROBE_TOL`` relative (a NaN against a number counts)."""
    with np.errstate(invalid="ignore"):
        same = (after == before) | (np.isnan(after) & np.isnan(before))
        same |= np.abs(after - before) <= PROBE_TOL * (1.0 + np.abs(before))
    return ~same


# --------------------------------------------------------------------------- the structure


def _trace(step: Any, inputs: list[list[int]], *, strict: bool = False) -> list[list[int]]:
    """Sources (user column indices) of each output column of ``step`` given those of its inputs.

    ``strict``: only steps whose column bookkeeping is known count; a FunctionTransformer with a
    function, or a step that merely names its outputs after its inputs, raises instead.
    """
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return inputs
    name = type(step).__name__
    if hasattr(step, "steps"):  # Pipeline
        for _, sub in step.steps:
            inputs = _trace(sub, inputs, strict=strict)
        return inputs
    if name == "ColumnTransformer":
        return _trace_column_transformer(step, inputs, strict=strict)
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
    if name == "FunctionTransformer" and (step.func is None or (not strict and step.feature_names_out == "one-to-one")):
        return inputs
    if name in _ONE_TO_ONE or (not strict and _keeps_names(step, len(inputs))):
        return inputs
    raise FoldingError(f"cannot trace the outputs of {name} back to the input columns")


def _trace_column_transformer(ct: Any, inputs: list[list[int]], *, strict: bool = False) -> list[list[int]]:
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if indices is None:
        raise FoldingError("ColumnTransformer without input index map (scikit-learn too old)")
    out: list[list[int]] = []
    for name, transformer, _ in ct.transformers_:
        columns = list(indices.get(name, []))
        if (isinstance(transformer, str) and transformer == "drop") or not columns:
            continue
        out += _trace(transformer, [inputs[i] for i in columns], strict=strict)
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
