"""Recourse: the nearest actionable change that turns each adverse decision favourable.

The search runs on all adverse rows at once (in blocks of rows), model-agnostic
(it only calls the adapter's ``predict_score``/``decide``):

1. Candidates: every unit of :mod:`actionability` times its observed option
   values, allowed per row (differs from the row, increase-only respected).
   Cost of a change: |Δ| / robust spread for numeric units, 1 for categories.
2. Level 1 predicts the single changes of every row in one batch per round;
   rows with a favourable candidate take the cheapest one.
3. Levels 2..max_changes: the remaining rows keep a beam of their most promising
   states (highest score, distinct sets of units) and add one more change on
   another unit; again all rows in one batch. Fewest changes first, then cost.
4. Polish: drop a change when the rest still flips the decision; move numeric
   changes back towards the original value (two rounds of 10 % steps) while the
   decision stays favourable.
5. Every counterfactual is re-predicted in one final batch through the adapter;
   any not favourable is withdrawn (counted), so ``validity`` is measured, not assumed.

Less work, same result: identical rows are searched once; each level scores a
row's states in rounds by cost and stops once the cheapest favourable one is
certain (:func:`search.score_lazily`); and for a scikit-learn Pipeline of
column-wise encoders the states are scored in the encoded space, rows the model
cannot tell apart once (:mod:`._encoded`). ``fast=False, lazy=False`` runs the
plain search, which the tests compare against.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.counterfactual._encoded import distinct_key_rows, factorize_exact
from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual._polish import drop_changes, refine_numeric, restore
from audit.counterfactual.actionability import Actionability, Unit, format_value
from audit.counterfactual.costs import changed_units, unit_costs
from audit.counterfactual.search import StateScorer, materialise, search_block

__all__ = ["RecourseResult", "find_recourse", "distinct_rows", "unit_costs", "changed_units", "constraint_violations", "NO_RECOURSE"]

NO_RECOURSE = "no recourse found within {max_changes} changes"


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
    fast: bool = True,
    lazy: bool = True,
    favourable_is_positive: bool = True,
) -> RecourseResult:
    """Search the cheapest valid counterfactual (fewest changes first) for the rows ``rows`` of ``X``.

    ``score_before`` are the model's scores of those rows (computed once by the Subject).
    ``favourable_is_positive=False`` (a fraud or risk flag): the rows are flagged and the search looks
    for the change that removes the flag; scores in the result are then probabilities of the favourable
    (negative) decision.
    ``fast=False`` scores every candidate through the adapter on DataFrames, and
    ``lazy=False`` scores every state of every level: both give the same result
    (the tests compare them), only slower.
    """
    started = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    source = RowSource(X.iloc[rows])
    # Identical rows get identical results (every step is per row and deterministic): search each once.
    first, inverse = distinct_rows(source.frame)
    unique = RowSource(source.frame.iloc[first]) if first.size < rows.size else source
    predictor = Predictor(model, fast=fast, favourable_is_positive=favourable_is_positive)
    n_units = len(action.units)
    chosen = np.full((first.size, n_units), -1, dtype=np.int32)
    scorer = StateScorer(unique, action.units, predictor) if first.size else None
    for start in range(0, first.size, block_rows):
        block = np.arange(start, min(first.size, start + block_rows))
        chosen[block] = search_block(unique, block, action, scorer, max_changes=max_changes, beam=beam,  # type: ignore[arg-type]
                                     lazy=lazy)
        if progress is not None:  # in adverse decisions (duplicates go with their first row)
            progress("recourse", int(round((block[-1] + 1) * rows.size / first.size)), int(rows.size))
    cf = materialise(unique, np.arange(first.size), chosen, action.units)
    cf = drop_changes(unique, cf, action, predictor)
    cf = refine_numeric(unique, cf, action, predictor, lazy=lazy)
    if unique is not source:
        cf = cf.iloc[inverse].reset_index(drop=True)
    verifier = Predictor(model, fast=False, favourable_is_positive=favourable_is_positive)  # the final check always goes through the adapter on DataFrames
    verifier.n_predicted = predictor.n_predicted
    return _verify(source, cf, rows=rows, action=action, predictor=verifier, score_before=score_before,
                   max_changes=max_changes, started=started)


def distinct_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each distinct row, index of each row's distinct row); values compared exactly.

    Numbers are compared by their bits (so 0.0 and -0.0 differ; every NaN is one
    value), other values by equality (NaN equal to NaN, never to None).
    """
    if len(frame) == 0 or frame.shape[1] == 0:
        return np.arange(min(len(frame), 1)), np.zeros(len(frame), dtype=np.intp)
    codes = []
    for c in frame.columns:
        values = frame[c].to_numpy()
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values).astype(np.float64).view(np.int64)
        codes.append(factorize_exact(values)[0])
    return distinct_key_rows(np.column_stack(codes).astype(np.int64))


def _verify(source: RowSource, cf: pd.DataFrame, *, rows: np.ndarray, action: Actionability, predictor: Predictor,
            score_before: np.ndarray, max_changes: int, started: float) -> RecourseResult:
    """Re-predict every counterfactual in one batch; withdraw any the model does not decide favourably."""
    original = source.frame
    changed = changed_units(original, cf, action.units)
    found = np.asarray(changed.any(axis=1))  # (rows,) bool; asarray returns the same array, typed as one
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
                restore(cf, original, bad, unit.columns)
            found[bad] = False
            changed[bad] = False
    cost = unit_costs(original, cf, action.units, action.scales).sum(axis=1)
    return RecourseResult(
        rows=rows, original=original, counterfactual=cf, found=found, cost=np.where(found, cost, np.nan),
        n_changes=changed.sum(axis=1), changed=changed, score_before=np.asarray(score_before, dtype=float) if predictor.favourable_is_positive
        else 1.0 - np.asarray(score_before, dtype=float),
        score_after=score_after, units=action.units, validity=validity, n_withdrawn=n_withdrawn,
        n_predicted=predictor.n_predicted, seconds=time.perf_counter() - started, max_changes=max_changes,
    )


def constraint_violations(result: RecourseResult, action: Actionability) -> dict[str, int]:
    """Counterfactuals that break a rule, counted independently of the search (all should be 0)."""
    orig, cf = result.original[result.found], result.counterfactual[result.found]
    immutable = np.zeros(len(orig), dtype=bool)
    for c in action.immutable:
        same = (orig[c] == cf[c]).fillna(False).to_numpy(dtype=bool) | (orig[c].isna() & cf[c].isna()).to_numpy()
        immutable |= ~same
    up = np.zeros(len(orig), dtype=bool)
    for c in action.increase_only:
        a, b = orig[c].to_numpy(dtype=float), cf[c].to_numpy(dtype=float)
        up |= (b < a) | (np.isnan(b) & ~np.isnan(a))
    outside = np.zeros(len(orig), dtype=bool)
    for c in action.actionable:
        if c in action.ranges:
            lo, hi = action.ranges[c]
            v = cf[c].to_numpy(dtype=float)
            outside |= (v < lo) | (v > hi)
        else:
            values = cf[c]
            outside |= (values.notna() & ~values.astype(object).isin(action.categories[c])).to_numpy()
    return {"immutable": int(immutable.sum()), "increase_only": int(up.sum()), "outside_observed": int(outside.sum())}
