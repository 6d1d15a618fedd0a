"""Recourse: the nearest actionable change that turns each adverse decision favourable.

The search runs on all adverse rows at once (in blocks of rows), model-agnostic
(it only calls the adapter's ``predict_score``/``decide``):

1. Candidates: every unit of :mod:`actionability` times its observed option
   values, allowed per row (differs from the row, increase-only respected).
   Cost of a change: |Δ| / robust spread for numeric units, 1 for categories.
2. Level 1 predicts every single change of every row in one batch; rows with a
   favourable candidate take the cheapest one.
3. Levels 2..max_changes: the remaining rows keep a beam of their most promising
   states (highest score, distinct sets of units) and add one more change on
   another unit; again all rows in one batch. Fewest changes first, then cost.
4. Polish: drop a change when the rest still flips the decision; move numeric
   changes back towards the original value (two rounds of 10 % steps) while the
   decision stays favourable.
5. Every counterfactual is re-predicted in one final batch; any not favourable
   is withdrawn (counted), so ``validity`` is measured, not assumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual.actionability import Actionability, Unit, format_value, nice_step

__all__ = ["RecourseResult", "find_recourse", "unit_costs", "changed_units", "NO_RECOURSE"]

NO_RECOURSE = "no recourse found within {max_changes} changes"
_FRACTIONS = np.linspace(0.1, 0.9, 9)


@dataclass
class RecourseResult:
    """Counterfactuals for the adverse rows searched (positions ``rows`` in the subject's X)."""

    rows: np.ndarray
    original: pd.DataFrame
    counterfactual: pd.DataFrame  # equal to ``original`` where none was found
    found: np.ndarray
    cost: np.ndarray  # NaN where none was found
    n_changes: np.ndarray
    changed: np.ndarray  # (rows, units) bool
    score_before: np.ndarray
    score_after: np.ndarray  # NaN where none was found
    units: list[Unit]
    validity: float | None
    n_withdrawn: int
    n_predicted: int
    seconds: float
    max_changes: int

    def texts(self) -> list[str]:
        """One line per searched row: "feature: before → after; ..." or the no-recourse message."""
        out = pd.Series([""] * len(self.rows), dtype=object)
        for u, unit in enumerate(self.units):
            mask = self.changed[:, u]
            if not mask.any():
                continue
            lead = unit.name
            part = (lead + ": " + self.original.loc[mask, lead].map(format_value).astype(object) + " → "
                    + self.counterfactual.loc[mask, lead].map(format_value).astype(object))
            others = [c for c in unit.columns if c != lead]
            if others:
                extra = pd.Series([""] * int(mask.sum()), index=part.index, dtype=object)
                for c in others:
                    extra = (extra + c + ": " + self.original.loc[mask, c].map(format_value).astype(object) + " → "
                             + self.counterfactual.loc[mask, c].map(format_value).astype(object))
                part = part + " (" + extra + ")"
            sep = np.where(out[mask].to_numpy() == "", "", "; ")
            out[mask] = out[mask] + sep + part
        none = NO_RECOURSE.format(max_changes=self.max_changes)
        return [t if f else none for t, f in zip(out.tolist(), self.found.tolist(), strict=True)]


def changed_units(original: pd.DataFrame, cf: pd.DataFrame, units: list[Unit]) -> np.ndarray:
    """(rows, units) True where any column of the unit differs (missing equals missing)."""
    out = np.zeros((len(original), len(units)), dtype=bool)
    for u, unit in enumerate(units):
        for c in unit.columns:
            a, b = original[c], cf[c]
            out[:, u] |= ~((a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy())
    return out


def unit_costs(original: pd.DataFrame, cf: pd.DataFrame, units: list[Unit], scales: dict[str, float]) -> np.ndarray:
    """(rows, units) cost of each unit's change: |Δ| / spread for numeric units (1 from missing), else 1."""
    changed = changed_units(original, cf, units)
    cost = changed.astype(float)
    for u, unit in enumerate(units):
        c = unit.cost_column
        if c is None:
            continue
        delta = np.abs(cf[c].to_numpy(dtype=float) - original[c].to_numpy(dtype=float)) / scales[c]
        cost[:, u] = np.where(changed[:, u], np.where(np.isnan(delta), 1.0, delta), 0.0)
    return cost


@dataclass
class _Candidates:
    """Flat table of (unit, option) candidates with per-row permission and cost."""

    unit: np.ndarray
    option: np.ndarray
    allowed: np.ndarray  # (rows, candidates)
    cost: np.ndarray  # (rows, candidates)


def _candidates(source: RowSource, rows: np.ndarray, action: Actionability) -> _Candidates:
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


def _materialise(source: RowSource, state_rows: np.ndarray, state_opts: np.ndarray,
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


def _first_per_group(keys: list[np.ndarray], order_keys: list[np.ndarray], take: int) -> np.ndarray:
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


def _search_block(source: RowSource, rows: np.ndarray, action: Actionability, predictor: Predictor, *,
                  max_changes: int, beam: int) -> np.ndarray:
    """Chosen option per unit (-1 = unchanged) for each row of the block; all -1 where none was found."""
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
        score = predictor.score(_materialise(source, rows[s_row], opts, action.units))
        valid = predictor.decide(score)
        if valid.any():
            v = np.flatnonzero(valid)
            best = v[_first_per_group([s_row[v]], [cost[v], -score[v]], 1)]
            chosen[s_row[best]] = opts[best]
        if level == max_changes:
            break
        solved = np.zeros(rows.size, dtype=bool)
        solved[s_row[valid]] = True
        keep = np.flatnonzero(~solved[s_row])
        mask_key = (opts[keep] >= 0).astype(np.int64) @ bits  # which units a state changes
        distinct = keep[_first_per_group([s_row[keep], mask_key], [-score[keep], cost[keep]], 1)]
        top = distinct[_first_per_group([s_row[distinct]], [-score[distinct], cost[distinct]], beam)]
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


def _restore(cf: pd.DataFrame, original: pd.DataFrame, rows: np.ndarray, columns: tuple[str, ...]) -> None:
    """Put the original values of ``columns`` back into ``cf`` at positions ``rows`` (in place)."""
    for c in columns:
        values = cf[c].to_numpy(copy=True)
        if values.dtype.kind in "iu" and original[c].dtype.kind == "f":
            values = values.astype(float)
        values[rows] = original[c].to_numpy()[rows]
        cf[c] = pd.Series(values, dtype=original[c].dtype, index=cf.index)


def _drop_changes(source: RowSource, cf: pd.DataFrame, action: Actionability, predictor: Predictor) -> pd.DataFrame:
    """Undo one change wherever the others alone still flip the decision (the costliest such change)."""
    original = source.frame
    changed = changed_units(original, cf, action.units)
    costs = unit_costs(original, cf, action.units, action.scales)
    r_idx, u_idx = np.nonzero(changed & (changed.sum(axis=1) >= 2)[:, None])
    if r_idx.size == 0:
        return cf
    trial = cf.iloc[r_idx].reset_index(drop=True)
    trial_original = original.iloc[r_idx].reset_index(drop=True)
    for u, unit in enumerate(action.units):
        _restore(trial, trial_original, np.flatnonzero(u_idx == u), unit.columns)
    valid = predictor.decide(predictor.score(trial))
    if not valid.any():
        return cf
    v = np.flatnonzero(valid)
    best = v[_first_per_group([r_idx[v]], [-costs[r_idx[v], u_idx[v]]], 1)]
    out = cf.copy()
    for u, unit in enumerate(action.units):
        _restore(out, original, r_idx[best[u_idx[best] == u]], unit.columns)
    return out


def _refine_numeric(source: RowSource, cf: pd.DataFrame, action: Actionability, predictor: Predictor) -> pd.DataFrame:
    """Move each numeric change back towards the original value while the decision stays favourable."""
    original = source.frame
    out = cf.copy()
    for unit in action.units:
        c = unit.cost_column
        if c is None or len(unit.columns) != 1:
            continue
        rows = np.flatnonzero(changed_units(original, out, [unit])[:, 0])
        x = original[c].to_numpy(dtype=float)[rows]
        rows, x = rows[~np.isnan(x)], x[~np.isnan(x)]
        lo = np.zeros(rows.size)  # fraction known (or assumed) not to flip
        hi = np.ones(rows.size)  # fraction known to flip
        v = out[c].to_numpy(dtype=float)[rows]
        for _ in range(2):
            if rows.size == 0:
                break
            t = lo[:, None] + (hi - lo)[:, None] * _FRACTIONS[None, :]
            values = x[:, None] + t * (v - x)[:, None]
            values = _round_to(values, 1.0 if action.integer.get(c, False) else nice_step(action.scales[c]))
            values = np.clip(values, *action.ranges[c])
            moved = values != x[:, None]
            trial = out.iloc[np.repeat(rows, t.shape[1])].reset_index(drop=True)
            trial[c] = pd.Series(values.ravel()).astype(out[c].dtype)
            ok = predictor.decide(predictor.score(trial)).reshape(t.shape) & moved
            first = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)
            improve = first >= 0
            new_hi = np.where(improve, t[np.arange(rows.size), np.maximum(first, 0)], hi)
            new_lo = np.where(improve & (first > 0), t[np.arange(rows.size), np.maximum(first - 1, 0)], lo)
            new_lo = np.where(improve & (first == 0), lo, new_lo)
            chosen = values[np.arange(rows.size), np.maximum(first, 0)]
            column = out[c].to_numpy(dtype=float).copy()
            column[rows[improve]] = chosen[improve]
            out[c] = pd.Series(column).astype(out[c].dtype)
            # rows that did not improve: the flip lies between the last fraction tried and the current value
            lo = np.where(improve, new_lo, lo + _FRACTIONS[-1] * (hi - lo))
            hi = new_hi
    return out


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    """Round to a power-of-ten step without float residue (0.3, not 0.30000000000000004)."""
    if step < 1:
        inverse = round(1 / step)
        return np.round(values * inverse) / inverse
    return np.round(values / step) * step


def find_recourse(
    *,
    X: pd.DataFrame,
    rows: np.ndarray,
    model: object,
    action: Actionability,
    score_before: np.ndarray,
    max_changes: int = 3,
    beam: int = 3,
    block_rows: int = 4096,
    progress: Callable[[str, int, int], None] | None = None,
) -> RecourseResult:
    """Search the cheapest valid counterfactual (fewest changes first) for the rows ``rows`` of ``X``.

    ``score_before`` are the model's scores of those rows (computed once by the Subject).
    """
    started = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    source = RowSource(X.iloc[rows])
    predictor = Predictor(model)
    n_units = len(action.units)
    chosen = np.full((rows.size, n_units), -1, dtype=np.int32)
    for start in range(0, rows.size, block_rows):
        block = np.arange(start, min(rows.size, start + block_rows))
        chosen[block] = _search_block(source, block, action, predictor, max_changes=max_changes, beam=beam)
        if progress is not None:
            progress("recourse", int(block[-1]) + 1, int(rows.size))
    cf = _materialise(source, np.arange(rows.size), chosen, action.units)
    cf = _drop_changes(source, cf, action, predictor)
    cf = _refine_numeric(source, cf, action, predictor)
    return _verify(source, cf, rows=rows, action=action, predictor=predictor, score_before=score_before,
                   max_changes=max_changes, started=started)


def _verify(source: RowSource, cf: pd.DataFrame, *, rows: np.ndarray, action: Actionability, predictor: Predictor,
            score_before: np.ndarray, max_changes: int, started: float) -> RecourseResult:
    """Re-predict every counterfactual in one batch; withdraw any the model does not decide favourably."""
    original = source.frame
    changed = changed_units(original, cf, action.units)
    found = changed.any(axis=1)
    score_after = np.full(rows.size, np.nan)
    validity: float | None = None
    n_withdrawn = 0
    if found.any():
        idx = np.flatnonzero(found)
        score = predictor.score(cf.iloc[idx].reset_index(drop=True))
        ok = predictor.decide(score)
        validity = float(ok.mean())
        n_withdrawn = int((~ok).sum())
        score_after[idx[ok]] = score[ok]
        if n_withdrawn:
            bad = idx[~ok]
            cf = cf.copy()
            for unit in action.units:
                _restore(cf, original, bad, unit.columns)
            found[bad] = False
            changed[bad] = False
    cost = unit_costs(original, cf, action.units, action.scales).sum(axis=1)
    return RecourseResult(
        rows=rows, original=original, counterfactual=cf, found=found, cost=np.where(found, cost, np.nan),
        n_changes=changed.sum(axis=1), changed=changed, score_before=np.asarray(score_before, dtype=float),
        score_after=score_after, units=action.units, validity=validity, n_withdrawn=n_withdrawn,
        n_predicted=predictor.n_predicted, seconds=time.perf_counter() - started, max_changes=max_changes,
    )
