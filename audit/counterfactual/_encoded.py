"""Scoring modified rows in the model's encoded space, for scikit-learn Pipelines of column-wise encoders.

The counterfactual tests score millions of copies of a few rows that differ in one
to three columns. For a Pipeline whose first step is a ColumnTransformer made of
cell-wise transformers (one-hot/ordinal encoders, scalers, imputers, "passthrough",
"drop"), every encoded column comes from exactly one input column
(:func:`audit.explain.folding.fold_map`) and a cell's encoding depends on that
cell only. So a modified row's encoding is its original row's encoding with the
blocks of the changed columns replaced by the encodings of the new values: rows
are encoded once, each new value once, and candidates are assembled with numpy
indexing. The rest of the pipeline then scores the encoded matrix exactly as
``Pipeline.predict_proba`` does (the same numbers, not an approximation).

Rows the model cannot tell apart are scored once. Each encoded value is mapped
to a class: its exact bits, or for a LightGBM classifier its position among the
split thresholds the trees use on that feature (with the missing-value and zero
rules LightGBM applies), since values on the same side of every threshold reach
the same leaf of every tree. A row's key is the classes of all its columns; a
row whose key was scored before (in any batch of this run) takes that score.

Every other model (native boosters, transformers that mix columns or rows,
sparse encoded output, adapters other than :class:`SklearnAdapter`) returns
None here and is scored through its adapter on DataFrames, as before.
"""

from __future__ import annotations

import copy
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Block", "Change", "EncodedModel", "EncodedRows", "distinct_key_rows", "encoded_model", "factorize_exact",
           "prediction_threads"]

# Transformers whose output for a cell depends only on that cell (fitted statistics, no batch state).
_CELLWISE = {
    "OneHotEncoder", "OrdinalEncoder", "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler",
    "SimpleImputer", "QuantileTransformer", "PowerTransformer", "Binarizer", "KBinsDiscretizer", "TargetEncoder",
}
_MAX_CELLS = 16_000_000  # encoded cells per scored chunk (128 MB of float64)
_PARALLEL_CHUNK = 2048  # rows per LightGBM call when predicting on several threads
_MAX_MEMO_CELLS = 40_000_000  # class codes remembered per run (320 MB at most)
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float literal widened to double)


def prediction_threads() -> int:
    """Threads for LightGBM prediction: OMP_NUM_THREADS when set, else the cores this process may use.

    Rows are predicted independently, so the numbers do not depend on it.
    """
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        wanted = 0
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(wanted, available) if wanted > 0 else available)


def _cellwise(step: Any) -> bool:
    """True when every output cell of ``step`` depends on one input cell only."""
    if step is None or (isinstance(step, str) and step in ("passthrough", "drop")):
        return True
    if hasattr(step, "steps"):  # a Pipeline inside the ColumnTransformer
        return all(_cellwise(sub) for _, sub in step.steps)
    if type(step).__name__ == "FunctionTransformer":  # "passthrough" once fitted: the identity, nothing else
        return step.func is None
    return type(step).__name__ in _CELLWISE


def _lightgbm_thresholds(booster: Any, width: int) -> dict[int, np.ndarray] | None:
    """Sorted numerical split thresholds per feature of a LightGBM model (read from its exact text form).

    Features split on as categories are left out (their values are compared
    exactly); None when the classes cannot be trusted (linear trees, another
    feature count), then every value is compared exactly.
    """
    if booster.num_feature() != width:
        return None
    found: dict[int, set[float]] = {}
    categorical: set[int] = set()
    features: list[int] = []
    thresholds: list[float] = []
    for line in booster.model_to_string().splitlines():
        if line.startswith("end of trees"):
            break
        key, _, value = line.partition("=")
        if key == "is_linear" and value.strip() not in ("", "0"):
            return None
        if key == "split_feature":
            features = [int(v) for v in value.split()]
        elif key == "threshold":
            thresholds = [float(v) for v in value.split()]
        elif key == "decision_type":
            for f, t, d in zip(features, thresholds, (int(v) for v in value.split()), strict=True):
                if d & 1:  # categorical split: a bitset of integer values
                    categorical.add(f)
                else:
                    found.setdefault(f, set()).add(t)
    out = {f: np.array(sorted(ts)) for f, ts in found.items() if f not in categorical}
    for f in range(width):  # features no tree splits on: every value is the same to the model
        if f not in found and f not in categorical:
            out[f] = np.zeros(0)
    return out


@dataclass
class Block:
    """Encoded values of one input column (one row per value) and each value's class code."""

    values: np.ndarray  # (k, block width)
    codes: np.ndarray  # (k,) int64


# One change to encoded rows: (positions among the rows scored, sorted; the input column;
# its encoded values; which row of the block each position takes).
Change = tuple[np.ndarray, str, Block, np.ndarray]


@dataclass
class EncodedModel:
    """A fitted ``Pipeline(ColumnTransformer, ..., classifier)`` split into its encoder and the rest.

    One instance serves one test run: it remembers the scores of the classes of
    rows it has scored (see the module docstring).
    """

    columns: list[str]  # the model's input columns, in its order
    encoder: Any  # the fitted ColumnTransformer
    rest: Any  # the fitted steps after it (the classifier, or a Pipeline ending in it)
    positive_index: int
    blocks: dict[str, np.ndarray]  # input column -> positions of its encoded columns
    width: int
    lightgbm: bool = False
    thresholds: dict[int, np.ndarray] | None = None  # LightGBM: split thresholds per encoded feature
    n_scored: int = 0
    _ids: dict[str, dict[bytes, int]] = field(default_factory=dict)
    _memo: _Memo = field(default_factory=lambda: _Memo())
    _pool: tuple[int, ThreadPoolExecutor, queue.SimpleQueue[Any]] | None = None

    @property
    def keyed(self) -> list[str]:
        """Input columns the model reads (those with encoded columns)."""
        return [c for c in self.columns if self.blocks[c].size]

    def transform(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The encoded matrix of ``frame`` (the model's columns), or None when it is not a dense float array."""
        Z = self.encoder.transform(frame[self.columns])
        if not isinstance(Z, np.ndarray) or Z.ndim != 2 or Z.dtype.kind != "f" or Z.shape[1] != self.width:
            return None
        return Z

    def score(self, Z: np.ndarray) -> np.ndarray:
        """Probability of the positive decision: ``Pipeline.predict_proba`` after its first step.

        A LightGBM classifier predicts chunks of rows on several threads, each
        with its own copy of the model and one OpenMP thread: chunks go to
        whichever thread is free, so a core busy with other work slows the batch
        less than LightGBM's own even split would. Rows are predicted
        independently, so the numbers are the same either way.
        """
        self.n_scored += len(Z)
        threads = prediction_threads() if self.lightgbm else 1
        if threads > 1 and len(Z) >= 2 * _PARALLEL_CHUNK:
            return self._score_parallel(Z, threads)
        proba = self.rest.predict_proba(Z, num_threads=1) if self.lightgbm else self.rest.predict_proba(Z)
        return np.asarray(proba, dtype=float)[:, self.positive_index]

    def _score_parallel(self, Z: np.ndarray, threads: int) -> np.ndarray:
        """:meth:`score` in chunks on ``threads`` threads (LightGBM releases the GIL while it predicts)."""
        if self._pool is None or self._pool[0] != threads:
            copies: queue.SimpleQueue[Any] = queue.SimpleQueue()
            for _ in range(threads):  # one model per thread: a LightGBM booster is not shared between threads
                copies.put(copy.deepcopy(self.rest))
            self._pool = (threads, ThreadPoolExecutor(max_workers=threads, thread_name_prefix="audit-predict"), copies)
        _, executor, copies = self._pool
        out = np.empty(len(Z))

        def run(start: int) -> None:
            model = copies.get()
            try:
                part = model.predict_proba(Z[start:start + _PARALLEL_CHUNK], num_threads=1)
                out[start:start + _PARALLEL_CHUNK] = np.asarray(part, dtype=float)[:, self.positive_index]
            finally:
                copies.put(model)

        for future in [executor.submit(run, s) for s in range(0, len(Z), _PARALLEL_CHUNK)]:
            future.result()
        return out

    def block(self, column: str, values: np.ndarray) -> Block:
        """A :class:`Block` of ``column``'s encoded values (rows of ``values``), with their class codes."""
        cols = self.blocks[column]
        classes = np.empty(values.shape, dtype=np.int64)
        for j, f in enumerate(cols):
            classes[:, j] = self._classes(int(f), values[:, j])
        if cols.size == 1:
            return Block(values, classes[:, 0])
        first, inverse = distinct_key_rows(classes)
        ids = self._ids.setdefault(column, {})
        codes = np.array([ids.setdefault(classes[i].tobytes(), len(ids)) for i in first], dtype=np.int64)
        return Block(values, codes[inverse])

    def _classes(self, feature: int, v: np.ndarray) -> np.ndarray:
        """Class of each value of one encoded feature: equal classes give the model the same input."""
        v = np.asarray(v, dtype=np.float64)
        nan = np.isnan(v)
        ths = self.thresholds.get(feature) if self.thresholds is not None else None
        if ths is None:  # exact value (one bit pattern for every NaN)
            return np.where(nan, np.nan, v).view(np.int64)
        canon = np.where(nan | (np.abs(v) <= _ZERO), 0.0, v)  # LightGBM reads these as 0 (NaN: unless NaN-aware)
        return np.searchsorted(ths, canon, side="left") * 4 + nan * 2 + (canon == 0.0)

    def recall(self, keys: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Remembered scores of rows of class codes (``h``: their hashes); NaN where unknown."""
        return self._memo.recall(keys, h)

    def remember(self, keys: np.ndarray, h: np.ndarray, score: np.ndarray) -> None:
        """Remember the scores of new rows of class codes (``h``: their hashes)."""
        self._memo.remember(keys, h, score)


class _Memo:
    """Scores by row of class codes: rows kept in arrival order, found through runs of their hashes.

    A bit table of seen hashes answers most misses at once; the runs are sorted
    and merged as they grow (vectorised look-ups, amortised O(n log n) upkeep).
    A hit needs the whole row of codes to match, not only its hash.
    """

    _BITS = 1 << 24  # bit table size
    _CHUNK = 1 << 16  # rows per storage chunk (stores grow without copying)

    def __init__(self) -> None:
        self.keys: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.size = 0
        self.seen = np.zeros(self._BITS, dtype=bool)
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes sorted, positions in the stores)

    def recall(self, keys: np.ndarray, h: np.ndarray) -> np.ndarray:
        out = np.full(len(keys), np.nan)
        ask = np.flatnonzero(self.seen[(h & np.uint64(self._BITS - 1)).astype(np.intp)])
        for k, where in self.runs:
            if ask.size == 0:
                break
            at = np.minimum(np.searchsorted(k, h[ask]), k.size - 1)
            hit = np.flatnonzero(k[at] == h[ask])
            slot = where[at[hit]]
            stored_keys, stored_scores = self._gather(slot)
            same = (stored_keys == keys[ask[hit]]).all(axis=1)
            out[ask[hit[same]]] = stored_scores[same]
            keep = np.ones(ask.size, dtype=bool)
            keep[hit[same]] = False
            ask = ask[keep]
        return out

    def _gather(self, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored keys and scores at positions ``slot``."""
        width = self.keys[0].shape[1] if self.keys else 0
        keys, scores = np.empty((slot.size, width), dtype=np.int64), np.empty(slot.size)
        chunk, offset = slot // self._CHUNK, slot % self._CHUNK
        for c in np.unique(chunk):
            m = chunk == c
            keys[m], scores[m] = self.keys[c][offset[m]], self.scores[c][offset[m]]
        return keys, scores

    def remember(self, keys: np.ndarray, h: np.ndarray, score: np.ndarray) -> None:
        n = len(keys)
        if n == 0 or (self.size + n) * keys.shape[1] > _MAX_MEMO_CELLS:
            return
        done = 0
        while done < n:  # fill the last chunk, then new ones
            at = (self.size + done) % self._CHUNK
            if at == 0:
                self.keys.append(np.empty((self._CHUNK, keys.shape[1]), dtype=np.int64))
                self.scores.append(np.empty(self._CHUNK))
            take = min(n - done, self._CHUNK - at)
            self.keys[-1][at:at + take] = keys[done:done + take]
            self.scores[-1][at:at + take] = score[done:done + take]
            done += take
        self.seen[(h & np.uint64(self._BITS - 1)).astype(np.intp)] = True
        order = np.argsort(h)
        run = (h[order], self.size + order)
        self.size += n
        while self.runs and self.runs[-1][0].size <= 2 * run[0].size:  # merge runs of similar size
            last = self.runs.pop()
            hashes, where = np.concatenate([last[0], run[0]]), np.concatenate([last[1], run[1]])
            order = np.argsort(hashes, kind="stable")  # two sorted runs: a linear merge
            run = (hashes[order], where[order])
        self.runs.append(run)


def distinct_key_rows(keys: np.ndarray, h: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(position of the first row of each distinct row, index of each row's distinct row) of an int64 matrix.

    ``h`` is :func:`_hash` of ``keys`` when already known.
    """
    inverse, uniques = pd.factorize(_hash(keys) if h is None else h)
    first = np.empty(uniques.size, dtype=np.intp)
    first[inverse[::-1]] = np.arange(len(keys))[::-1]  # the last write wins: the first occurrence
    if not np.array_equal(keys[first][inverse], keys):
        return np.arange(len(keys)), np.arange(len(keys))  # a hash collision: treat every row as distinct
    return first, inverse


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (a bijection of uint64 that spreads every input bit)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of an int64 matrix (equal rows, equal hashes; the converse is checked)."""
    h = np.full(len(keys), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(keys.shape[1]):
        h = _mix(h ^ (keys[:, j].view(np.uint64) + np.uint64(j + 1)))
    return h


def encoded_model(model: object) -> EncodedModel | None:
    """The encoded view of an adapter's model, or None when the encoded fast path does not apply."""
    from audit.explain.folding import FoldingError, fold_map
    from audit.models.sklearn import SklearnAdapter

    if not isinstance(model, SklearnAdapter) or type(model).predict_score is not SklearnAdapter.predict_score:
        return None
    steps = getattr(model.estimator, "steps", None)
    if not steps or len(steps) < 2:
        return None
    encoder = steps[0][1]
    if type(encoder).__name__ != "ColumnTransformer" or not hasattr(encoder, "transformers_"):
        return None
    columns = list(model.feature_names)
    if getattr(encoder, "n_features_in_", None) != len(columns):
        return None
    names = getattr(encoder, "feature_names_in_", None)
    if names is not None and [str(n) for n in names] != columns:
        return None
    if not all(_cellwise(t) for _, t, _ in encoder.transformers_):
        return None
    try:
        mapping = fold_map(encoder, n_inputs=len(columns))
    except FoldingError:
        return None
    if not all(_cellwise(step) for _, step in steps[1:-1]):  # steps between must keep rows apart too
        return None
    rest = steps[-1][1] if len(steps) == 2 else model.estimator[1:]
    if not hasattr(rest, "predict_proba"):
        return None
    blocks = {c: np.flatnonzero(mapping == i) for i, c in enumerate(columns)}
    lightgbm = (len(steps) == 2 and type(rest).__name__ == "LGBMClassifier"
                and type(rest).__module__.startswith("lightgbm") and hasattr(rest, "booster_"))
    thresholds = _lightgbm_thresholds(rest.booster_, len(mapping)) if lightgbm else None
    return EncodedModel(columns=columns, encoder=encoder, rest=rest, positive_index=int(model.positive_index),
                        blocks=blocks, width=len(mapping), lightgbm=lightgbm, thresholds=thresholds)


@dataclass
class EncodedRows:
    """The encoded matrix of some rows (and their class codes), and the encoding of new values.

    ``template`` builds a small frame of ``k`` copies of one real row with some
    columns set to given values, exactly as the caller builds its big frames
    (same dtypes, same conversions), so a value is encoded as it would be in place.
    """

    model: EncodedModel
    Z: np.ndarray
    template: Callable[[dict[str, np.ndarray]], pd.DataFrame]
    codes: np.ndarray = field(init=False)  # (rows, keyed columns) class codes

    def __post_init__(self) -> None:
        self.slot = {c: j for j, c in enumerate(self.model.keyed)}
        self.codes = np.zeros((len(self.Z), len(self.slot)), dtype=np.int64)
        for c, j in self.slot.items():
            self.codes[:, j] = self.model.block(c, self.Z[:, self.model.blocks[c]]).codes

    def cols(self, column: str) -> np.ndarray:
        """Positions of ``column``'s encoded columns (empty when the model does not read it)."""
        return self.model.blocks.get(column, np.zeros(0, dtype=np.intp))

    def set(self, rows: np.ndarray, column: str, block: Block) -> None:
        """Write new values of ``column`` into rows ``rows`` (one block row per row)."""
        self.Z[rows[:, None], self.cols(column)[None, :]] = block.values
        self.codes[rows, self.slot[column]] = block.codes

    def encode(self, values: dict[str, np.ndarray]) -> dict[str, Block] | None:
        """Blocks of new values of some columns (arrays of one length); columns the model ignores are left out.

        Each column's distinct values are encoded once, all columns in one small
        transform. None when the encoder does not return a dense float matrix.
        """
        values = {c: v for c, v in values.items() if c in self.slot}
        if not values:
            return {}
        codes, distinct = {}, {}
        for c, v in values.items():
            codes[c], distinct[c] = factorize_exact(v)
        k = max(len(u) for u in distinct.values())
        frame = self.template({c: np.concatenate([u, np.repeat(u[:1], k - len(u))]) for c, u in distinct.items()})
        Z = self.model.transform(frame)
        if Z is None:
            return None
        out = {}
        for c in values:
            block = self.model.block(c, Z[:len(distinct[c])][:, self.cols(c)])
            out[c] = Block(block.values[codes[c]], block.codes[codes[c]])
        return out

    def score(self, rows: np.ndarray, changes: list[Change]) -> np.ndarray:
        """Scores of rows ``rows`` with every change written; rows the model cannot tell apart are scored once."""
        keys = self.codes[rows]
        for pos, column, block, index in changes:
            keys[pos, self.slot[column]] = block.codes[index]
        h = _hash(keys)
        first, inverse = distinct_key_rows(keys, h)
        out = self.model.recall(keys[first], h[first])
        miss = np.isnan(out)
        if miss.any():
            todo = first[miss]
            scores = self._score(rows, changes, todo)
            out[miss] = scores
            self.model.remember(keys[todo], h[todo], scores)
        return out[inverse]

    def _score(self, rows: np.ndarray, changes: list[Change], todo: np.ndarray) -> np.ndarray:
        """Build and score the encoded rows at positions ``todo``, in bounded chunks."""
        out = np.empty(todo.size)
        step = max(1024, _MAX_CELLS // max(self.model.width, 1))
        for s in range(0, todo.size, step):
            part = todo[s:s + step]
            Z = self.Z[rows[part]]
            where = np.full(rows.size, -1, dtype=np.intp)
            where[part] = np.arange(part.size)
            for pos, column, block, index in changes:
                at = where[pos]
                hit = at >= 0
                if hit.any():
                    Z[at[hit][:, None], self.cols(column)[None, :]] = block.values[index[hit]]
            out[s:s + step] = self.model.score(Z)
        return out


def factorize_exact(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values) with values kept exactly (dtype, NaN, the sign of zero); None never merged with NaN."""
    if values.dtype.kind == "f":  # compare bits, so that 0.0 and -0.0 stay apart (every NaN is one value)
        codes, distinct = pd.factorize(np.where(np.isnan(values), np.nan, values).astype(np.float64).view(np.int64))
        first = np.empty(distinct.size, dtype=np.intp)
        first[codes[::-1]] = np.arange(values.size)[::-1]
        return codes, values[first]
    if values.dtype == object and any(v is None for v in values[pd.isna(values)]):
        return np.arange(values.size), values
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return codes, np.asarray(distinct, dtype=values.dtype)
