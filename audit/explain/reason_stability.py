"""Do similar people get similar reasons? The pure parts of the reason-stability measure.

Every numeric input of a person is moved by a small step (a share of the feature's
standard deviation over the audit data, with a sign per feature and row); the
principal reasons of the moved person are compared with the reasons the person was
given. The model and the explainer are run by the caller (``audit.checks.local``);
here are the step, the moved rows and the overlap of two sets of reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["STEP", "spreads", "nudge", "reason_overlap"]

#: The step, as a share of each numeric feature's standard deviation over the audit data.
STEP = 0.01


def spreads(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """Standard deviation (population, missing values left out) of each of ``columns`` that has a positive one."""
    out = {}
    for c in columns:
        numbers = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        known = numbers[np.isfinite(numbers)]
        spread = float(known.std()) if known.size else 0.0
        if spread > 0:
            out[str(c)] = spread
    return out


def nudge(X: pd.DataFrame, steps: dict[str, float], signs: np.ndarray, *, step: float = STEP) -> pd.DataFrame:
    """A copy of ``X`` with column ``c`` moved by ``sign * step * steps[c]`` (signs: rows x len(steps), ±1).

    Whole-number columns become float: the move is smaller than one unit and is kept, not rounded away.
    Missing values stay missing; every other column is left as it is.
    """
    signs = np.asarray(signs, dtype=float)
    if signs.shape != (len(X), len(steps)):
        raise ValueError(f"signs must be {len(X)} rows x {len(steps)} features, got {signs.shape}")
    out = X.copy()
    for j, (c, spread) in enumerate(steps.items()):
        values = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out[c] = values + signs[:, j] * step * spread
    return out


def reason_overlap(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per row, the share of the reasons in ``before`` that are also in ``after``.

    Both are rows x k arrays of feature positions, -1 where a row has fewer reasons (as
    :class:`audit.explain.reasons.Reasons` holds them); order within a row does not matter.
    NaN for a row with no reason before.
    """
    before, after = np.asarray(before), np.asarray(after)
    given = before >= 0
    kept = ((before[:, :, None] == after[:, None, :]) & (after[:, None, :] >= 0)).any(axis=2) & given
    counts = given.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, kept.sum(axis=1) / np.maximum(counts, 1), np.nan)
