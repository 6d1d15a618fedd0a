"""Polishing found counterfactuals: fewer changes, and numeric changes no larger than needed.

Both steps re-predict every trial in one batch per unit (never per row) and only
accept a change the model still decides favourably.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from audit.counterfactual._encoded import EncodedRows
from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual.actionability import Actionability, nice_step
from audit.counterfactual.costs import changed_units, unit_costs
from audit.counterfactual.search import first_per_group

__all__ = ["drop_changes", "refine_numeric", "restore"]

_FRACTIONS = np.linspace(0.1, 0.9, 9)


def restore(cf: pd.DataFrame, original: pd.DataFrame, rows: np.ndarray, columns: tuple[str, ...]) -> None:
    """Put the original values of ``columns`` back into ``cf`` at positions ``rows`` (in place)."""
    for c in columns:
        values = cf[c].to_numpy(copy=True)
        if values.dtype.kind in "iu" and original[c].dtype.kind == "f":
            values = values.astype(float)
        values[rows] = original[c].to_numpy()[rows]
        cf[c] = pd.Series(values, dtype=original[c].dtype, index=cf.index)


def drop_changes(source: RowSource, cf: pd.DataFrame, action: Actionability, predictor: Predictor) -> pd.DataFrame:
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
        restore(trial, trial_original, np.flatnonzero(u_idx == u), unit.columns)
    valid = predictor.decide(predictor.score(trial))
    if not valid.any():
        return cf
    v = np.flatnonzero(valid)
    best = v[first_per_group([r_idx[v]], [-costs[r_idx[v], u_idx[v]]], 1)]
    out = cf.copy()
    for u, unit in enumerate(action.units):
        restore(out, original, r_idx[best[u_idx[best] == u]], unit.columns)
    return out


def refine_numeric(source: RowSource, cf: pd.DataFrame, action: Actionability, predictor: Predictor, *,
                   lazy: bool = True) -> pd.DataFrame:
    """Move each numeric change back towards the original value while the decision stays favourable.

    Each round tries nine fractions of the way back and keeps the first (smallest)
    that the model still decides favourably. With ``lazy`` the fractions are scored
    one at a time, and a row stops at its first favourable one (the later ones
    cannot change the choice); the result is the same as scoring all nine.
    """
    original = source.frame
    out = cf.copy()
    encoded = predictor.encode(out, _template(out)) if len(out) else None
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
            if lazy:
                ok = np.zeros(t.shape, dtype=bool)
                pending = np.ones(rows.size, dtype=bool)
                trials = _Trials(out, c, rows, values, predictor, encoded)
                for j in range(t.shape[1]):
                    trying = np.flatnonzero(pending & moved[:, j])
                    ok[trying, j] = trials.decide(trying, j)
                    pending &= ~ok[:, j]
            else:
                ok = _Trials(out, c, rows, values, predictor, encoded).decide_all() & moved
            first = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)
            improve = first >= 0
            new_hi = np.where(improve, t[np.arange(rows.size), np.maximum(first, 0)], hi)
            new_lo = np.where(improve & (first > 0), t[np.arange(rows.size), np.maximum(first - 1, 0)], lo)
            new_lo = np.where(improve & (first == 0), lo, new_lo)
            chosen = values[np.arange(rows.size), np.maximum(first, 0)]
            column = out[c].to_numpy(dtype=float).copy()
            column[rows[improve]] = chosen[improve]
            out[c] = pd.Series(column).astype(out[c].dtype)
            if encoded is not None and improve.any():  # keep the encoded rows equal to ``out``
                blocks = encoded.encode({c: chosen[improve]})
                if blocks is None:
                    encoded = None
                elif c in blocks:
                    encoded.set(rows[improve], c, blocks[c])
            # rows that did not improve: the flip lies between the last fraction tried and the current value
            lo = np.where(improve, new_lo, lo + _FRACTIONS[-1] * (hi - lo))
            hi = new_hi
    return out


def _template(frame: pd.DataFrame) -> Callable[[dict[str, np.ndarray]], pd.DataFrame]:
    """k copies of the frame's first row with some columns set, as :func:`_decide_with` builds its trials."""
    def build(values: dict[str, np.ndarray]) -> pd.DataFrame:
        small = frame.iloc[np.zeros(len(next(iter(values.values()))), dtype=np.intp)].reset_index(drop=True)
        for c, v in values.items():
            small[c] = pd.Series(v).astype(frame[c].dtype)
        return small

    return build


class _Trials:
    """Rows ``rows`` of ``out`` with column ``c`` set to ``values[i, j]``: the model's decision on any of them.

    In the encoded path all the values are encoded once; else frames of the rows tried are scored.
    """

    def __init__(self, out: pd.DataFrame, c: str, rows: np.ndarray, values: np.ndarray, predictor: Predictor,
                 encoded: EncodedRows | None) -> None:
        self.out, self.c, self.rows, self.values, self.predictor = out, c, rows, values, predictor
        self.encoded = encoded
        self.blocks = encoded.encode({c: values.ravel()}) if encoded is not None else None

    def decide(self, trying: np.ndarray, j: int) -> np.ndarray:
        """Decisions for rows ``rows[trying]`` with the values of fraction ``j``."""
        return self._decide(trying, np.ravel_multi_index((trying, np.full(trying.size, j)), self.values.shape))

    def decide_all(self) -> np.ndarray:
        """Decisions for every row and fraction, shaped like ``values``."""
        pairs = np.repeat(np.arange(self.rows.size), self.values.shape[1])
        return self._decide(pairs, np.arange(self.values.size)).reshape(self.values.shape)

    def _decide(self, which: np.ndarray, cells: np.ndarray) -> np.ndarray:
        if which.size == 0:
            return np.zeros(0, dtype=bool)
        if self.encoded is not None and self.blocks is not None:
            every = np.arange(which.size)
            changes = [(every, self.c, self.blocks[self.c], cells)] if self.c in self.blocks else []
            return self.predictor.decide(self.predictor.score_encoded(self.encoded, self.rows[which], changes))
        trial = self.out.iloc[self.rows[which]].reset_index(drop=True)
        trial[self.c] = pd.Series(self.values.ravel()[cells]).astype(self.out[self.c].dtype)
        return self.predictor.decide(self.predictor.score(trial))


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    """Round to a power-of-ten step without float residue (0.3, not 0.30000000000000004)."""
    if step < 1:
        inverse = round(1 / step)
        return np.round(values * inverse) / inverse
    return np.round(values / step) * step
