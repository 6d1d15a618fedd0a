"""The vectorised recourse search: candidates for every row, then levels of one more change.

States are rows of an (n_states, n_units) matrix holding the chosen option of
each unit (-1 = unchanged). A :class:`StateScorer` scores many states at once:
for a Pipeline of column-wise encoders in the encoded space (each row and each
option encoded once, states assembled with numpy indexing), else by building
one frame of the states and calling the model (chunked).

Each level is scored lazily, in rounds over each row's states ordered by cost:
a row stops once it has a favourable state and every state at most as costly
has been scored. The states left out can change neither the row's choice (the
cheapest favourable state, ties to the higher score, then to the earlier state)
nor anything else, since a row with a favourable state leaves the search; rows
without one have every state scored, so the beam is the same as an exhaustive
level's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.counterfactual._encoded import Block, Change
from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual.actionability import Actionability, Unit

__all__ = ["StateScorer", "search_block", "materialise", "first_per_group"]

_FIRST_ROUND = 8  # states per row in the first round of a level; each later round goes a quarter further (4 at least)


@dataclass
class _Candidates:
    """Flat table of (unit, option) candidates with per-row permission and cost."""

    unit: np.ndarray
    option: np.ndarray
    allowed: np.ndarray  # (rows, candidates)
    cost: np.ndarray  # (rows, candidates)


def _candidates(source: RowSource, rows: np.ndarray, action: Actionability) -> _Candidates:
    """Every (unit, option) pair, allowed per row when it changes the row and respects increase-only members."""
    units, options, allowed, costs = [], [], [], []
    for u, unit in enumerate(action.units):
        k = unit.n_options
        differs = np.zeros((rows.size, k), dtype=bool)
        ok = np.ones((rows.size, k), dtype=bool)
        for c in unit.columns:
            x = source.arrays[c][rows]
            o = unit.options[c].to_numpy()
            if c in unit.increase_only:
                xf, of = x.astype(float), o.astype(float)
                ok &= of[None, :] >= xf[:, None]  # a missing value never compares: no change allowed
                differs |= of[None, :] != xf[:, None]
            else:
                differs |= ~_equal(x[:, None], o[None, :])
        cost = np.ones((rows.size, k))
        if unit.cost_column is not None:
            xf = source.arrays[unit.cost_column][rows].astype(float)
            of = unit.options[unit.cost_column].to_numpy(dtype=float)
            delta = np.abs(of[None, :] - xf[:, None]) / action.scales[unit.cost_column]
            cost = np.where(np.isnan(delta), 1.0, delta)
        units.append(np.full(k, u))
        options.append(np.arange(k))
        allowed.append(differs & ok)
        costs.append(cost)
    if not units:
        empty = np.zeros((rows.size, 0))
        return _Candidates(np.zeros(0, int), np.zeros(0, int), empty.astype(bool), empty)
    return _Candidates(np.concatenate(units), np.concatenate(options), np.hstack(allowed), np.hstack(costs))


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality where two missing values count as equal."""
    eq = np.asarray(a == b, dtype=bool)
    return eq | (pd.isna(a) & pd.isna(b))


def materialise(source: RowSource, state_rows: np.ndarray, state_opts: np.ndarray,
                 units: list[Unit]) -> pd.DataFrame:
    """The frame of states: each state's row with the options of its changed units applied."""
    cols = source.gather(state_rows)
    for u, unit in enumerate(units):
        mask = state_opts[:, u] >= 0
        if not mask.any():
            continue
        for c in unit.columns:
            values = unit.options[c].to_numpy()[state_opts[mask, u]]
            if cols[c].dtype.kind in "iu" and values.dtype.kind == "f":
                cols[c] = cols[c].astype(float)
            cols[c][mask] = values
    return source.to_frame(cols)


def first_per_group(keys: list[np.ndarray], order_keys: list[np.ndarray], take: int) -> np.ndarray:
    """Indices of the first ``take`` items of each group (``keys``), ordered by ``order_keys`` (ascending)."""
    order = np.lexsort(tuple(reversed(keys + order_keys)))  # lexsort: last key is primary
    if order.size == 0:
        return order
    sorted_keys = np.stack([k[order] for k in keys], axis=1)
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = np.any(sorted_keys[1:] != sorted_keys[:-1], axis=1)
    starts = np.flatnonzero(new_group)
    group_start = starts[np.cumsum(new_group) - 1]
    rank = np.arange(order.size) - group_start
    return order[rank < take]


class StateScorer:
    """Scores states of a :class:`RowSource`: in the encoded space when the model allows it, else on frames."""

    def __init__(self, source: RowSource, units: list[Unit], predictor: Predictor) -> None:
        self.source, self.units, self.predictor = source, units, predictor
        self.encoded = encoded = predictor.encode(source.frame, source.template())
        self.options: list[dict[str, Block]] = []  # per unit: encoded options of each column the model reads
        for unit in units if encoded is not None else []:
            values = {}
            for c in unit.columns:  # the option values as materialise() writes them into the column
                o = unit.options[c].to_numpy()
                base = self.source.arrays[c][np.zeros(o.size, dtype=np.intp)]
                if base.dtype.kind in "iu" and o.dtype.kind == "f":
                    base = base.astype(float)
                base[:] = o
                values[c] = base
            blocks = encoded.encode(values) if encoded is not None else None  # (the loop runs only when it is not)
            if blocks is None:
                self.encoded, self.options = None, []
                break
            self.options.append(blocks)

    @property
    def fast(self) -> bool:
        """Whether states are scored in the encoded space."""
        return self.encoded is not None

    def score(self, state_rows: np.ndarray, state_opts: np.ndarray) -> np.ndarray:
        """Probability of the favourable decision for each state (row ``state_rows[i]`` with ``state_opts[i]``)."""
        if self.encoded is None:
            return self.predictor.score(materialise(self.source, state_rows, state_opts, self.units))
        changes: list[Change] = []
        for u, blocks in enumerate(self.options):
            pos = np.flatnonzero(state_opts[:, u] >= 0)
            if pos.size:
                changes += [(pos, c, block, state_opts[pos, u]) for c, block in blocks.items()]
        return self.predictor.score_encoded(self.encoded, state_rows, changes)


def score_lazily(score: Callable[[np.ndarray], np.ndarray], decide: Callable[[np.ndarray], np.ndarray],
                 s_row: np.ndarray, cost: np.ndarray, *, first_round: int = _FIRST_ROUND) -> tuple[np.ndarray, np.ndarray]:
    """Scores and decisions of the states a level needs (NaN / False for the states it can skip).

    ``score(idx)`` scores the states ``idx``. Rounds go through each row's states
    by (cost, position); a state is scored unless its row already has a favourable
    state that is cheaper. ``first_round=0`` scores every state in one round.
    """
    n = s_row.size
    scores = np.full(n, np.nan)
    valid = np.zeros(n, dtype=bool)
    if n == 0:
        return scores, valid
    order = np.lexsort((np.arange(n), cost, s_row))
    row_sorted, cost_sorted = s_row[order], cost[order]
    starts = np.flatnonzero(np.r_[True, row_sorted[1:] != row_sorted[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    best = np.full(int(s_row.max()) + 1, np.inf)  # cheapest favourable cost found per row
    lo, hi = 0, first_round if first_round > 0 else n
    while True:
        pick = order[(rank >= lo) & (rank < hi) & (cost_sorted <= best[row_sorted])]
        if pick.size:
            pick.sort()  # score in the states' own order
            scores[pick] = score(pick)
            valid[pick] = decide(scores[pick])
            ok = pick[valid[pick]]
            np.minimum.at(best, s_row[ok], cost[ok])
        if not ((rank >= hi) & (cost_sorted <= best[row_sorted])).any():
            return scores, valid
        lo, hi = hi, hi + max(4, hi // 4)


def search_block(source: RowSource, rows: np.ndarray, action: Actionability, predictor: Predictor | StateScorer, *,
                 max_changes: int, beam: int, lazy: bool = True) -> np.ndarray:
    """Chosen option per unit (-1 = unchanged) for each row of the block; all -1 where none was found.

    ``lazy=False`` scores every state of every level (the reference the lazy rounds must match).
    """
    scorer = predictor if isinstance(predictor, StateScorer) else StateScorer(source, action.units, predictor)
    decide = scorer.predictor.decide
    n_units = len(action.units)
    chosen = np.full((rows.size, n_units), -1, dtype=np.int32)
    cand = _candidates(source, rows, action)
    if cand.unit.size == 0:
        return chosen
    # Level 1: every allowed single change of every row.
    s_row, s_cand = np.nonzero(cand.allowed)
    opts = np.full((s_row.size, n_units), -1, dtype=np.int32)
    opts[np.arange(s_row.size), cand.unit[s_cand]] = cand.option[s_cand]
    cost = cand.cost[s_row, s_cand]
    bits = np.int64(1) << np.minimum(np.arange(n_units), 62).astype(np.int64)
    for level in range(1, max_changes + 1):
        if level > 1:
            s_row, opts, cost = _expand(s_row, opts, cost, cand)
        if s_row.size == 0:
            break
        def score_states(idx: np.ndarray, r: np.ndarray = rows[s_row], o: np.ndarray = opts) -> np.ndarray:
            return scorer.score(r[idx], o[idx])

        score, valid = score_lazily(score_states, decide, s_row, cost, first_round=_FIRST_ROUND if lazy else 0)
        if valid.any():
            v = np.flatnonzero(valid)
            best = v[first_per_group([s_row[v]], [cost[v], -score[v]], 1)]
            chosen[s_row[best]] = opts[best]
        if level == max_changes:
            break
        solved = np.zeros(rows.size, dtype=bool)
        solved[s_row[valid]] = True
        keep = np.flatnonzero(~solved[s_row])  # every state of these rows was scored
        mask_key = (opts[keep] >= 0).astype(np.int64) @ bits  # which units a state changes
        distinct = keep[first_per_group([s_row[keep], mask_key], [-score[keep], cost[keep]], 1)]
        top = distinct[first_per_group([s_row[distinct]], [-score[distinct], cost[distinct]], beam)]
        s_row, opts, cost = s_row[top], opts[top], cost[top]
    return chosen


def _expand(s_row: np.ndarray, opts: np.ndarray, cost: np.ndarray,
            cand: _Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each beam state plus one allowed change on a unit it does not change yet."""
    free = cand.allowed[s_row] & (opts[:, cand.unit] < 0)
    b, c = np.nonzero(free)
    new_opts = opts[b].copy()
    new_opts[np.arange(b.size), cand.unit[c]] = cand.option[c]
    return s_row[b], new_opts, cost[b] + cand.cost[s_row[b], c]
