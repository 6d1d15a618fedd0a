"""Robustness (AI Act Art. 15(4)): do decisions stay put under small noise and missing values?

Three tests, each a flip rate against the model's own decisions on the
unperturbed rows:

- Gaussian noise on every numeric input, σ = level × the feature's standard
  deviation; whole-number features are rounded, all clipped to the observed
  range; several seeded repeats per level. Then, at the largest level, on one
  feature at a time, to show which feature's noise flips decisions.
- Missing at random: each input column loses ``missing_rate`` of its values.
- One feature missing for every row, feature by feature.

A model that refuses a missing value in a column (raises ValueError or TypeError
when scoring it) is recorded as refusing it, with its message: that column is
not set missing, and nothing is imputed in its place. Imputing would measure the
imputer, not the model; the missing-value figures then cover only the columns the
model accepts missing, and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.counterfactual._bootstrap import mean_ci, proportion_ci
from audit.counterfactual._encoded import EncodedRows
from audit.counterfactual._frames import Predictor, RowSource
from audit.counterfactual.actionability import is_integer_column

__all__ = ["RateCI", "RobustnessResult", "perturbation_test"]

_PROBE_ROWS = 64


@dataclass
class RateCI:
    """A flip rate with its bootstrap 95 % interval."""

    label: str
    rate: float
    ci: tuple[float | None, float | None]
    n: int
    how: str = ""


@dataclass
class RobustnessResult:
    """Flip rates by noise level, under random missing values, and per feature set missing."""

    noise: list[RateCI] = field(default_factory=list)
    noise_by_feature: list[RateCI] = field(default_factory=list)  # at the largest level, one feature at a time
    missing: RateCI | None = None
    per_feature: list[RateCI] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # column -> the model's error on a missing value
    numeric: list[str] = field(default_factory=list)
    n_rows: int = 0
    n_predicted: int = 0


def _blank(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy with ``mask`` cells missing (integer columns become float, as pandas does)."""
    out = values.astype(float) if values.dtype.kind in "iub" else values.copy()
    out[mask] = np.nan
    return out


def _refusals(source: RowSource, predictor: Predictor) -> dict[str, str]:
    """Columns in which the model refuses a missing value, with its message (probed on a few rows).

    Only the errors a model raises on input it does not accept (ValueError, TypeError) count as a
    refusal; anything else is a fault and propagates.
    """
    probe = np.arange(min(_PROBE_ROWS, len(source)))
    refused = {}
    for c in source.frame.columns:
        cols = source.gather(probe)
        cols[c] = _blank(cols[c], np.ones(probe.size, dtype=bool))
        try:
            predictor.score(source.to_frame(cols))
        except (ValueError, TypeError) as exc:
            refused[str(c)] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
    return refused


def perturbation_test(
    *,
    X: pd.DataFrame,
    feature_types: Mapping[str, str],
    model: object,
    decision: np.ndarray,
    noise_levels: list[float],
    missing_rate: float,
    rng: np.random.Generator,
    n_boot: int,
    repeats: int = 3,
    fast: bool = True,
) -> RobustnessResult:
    """Flip rates of the model's decisions under noise and missing values on the rows of ``X``.

    ``decision`` is the model's decision on the unperturbed ``X``. ``fast=False``
    scores every perturbed frame through the adapter (same numbers; see :mod:`._encoded`).
    """
    source = RowSource(X)
    predictor = Predictor(model, fast=fast)
    n = len(source)
    numeric = [c for c in X.columns if feature_types.get(c) == "numeric" and X[c].notna().any()]
    result = RobustnessResult(numeric=numeric, n_rows=n)
    result.refused = _refusals(source, predictor)
    encoded = predictor.encode(source.frame, source.template())  # None: frames scored through the adapter
    stds = {c: float(np.nanstd(X[c].to_numpy(dtype=float))) for c in numeric}
    every = np.arange(n)
    integer = {c: is_integer_column(X[c]) for c in numeric}
    ranges = {c: (float(X[c].min()), float(X[c].max())) for c in numeric}

    def noisy(values: np.ndarray, c: str, level: float) -> np.ndarray:
        out = values.astype(float) + rng.normal(0.0, 1.0, size=values.size) * (level * stds[c])
        return np.clip(np.round(out) if integer[c] else out, *ranges[c])

    for level in noise_levels:
        tiled = np.tile(every, repeats)
        cols = source.gather(tiled)
        for c in numeric:
            cols[c] = noisy(cols[c], c, level)
        flips = _flips(source, cols, predictor, np.tile(decision, repeats), rows=tiled, changed=numeric,
                       encoded=encoded).reshape(repeats, n).mean(axis=0)
        result.noise.append(RateCI(f"{level:g}", float(flips.mean()), mean_ci(flips, rng=rng, n_boot=n_boot), n,
                                   how=f"{repeats} repeats"))
    if noise_levels:  # which feature's noise flips decisions: each alone, at the largest level, one repeat
        top = max(noise_levels)
        for c in numeric:
            cols = source.gather(every)
            cols[c] = noisy(cols[c], c, top)
            flips = _flips(source, cols, predictor, decision, rows=every, changed=[c], encoded=encoded)
            result.noise_by_feature.append(RateCI(str(c), float(flips.mean()),
                                                  proportion_ci(int(flips.sum()), n, rng=rng, n_boot=n_boot), n,
                                                  how=f"noise {top:g} on this feature only"))
    accepted = [c for c in X.columns if str(c) not in result.refused]
    if accepted:
        cols = source.gather(every)
        for c in accepted:
            mask = rng.random(n) < missing_rate
            cols[c] = _blank(cols[c], mask)
        flips = _flips(source, cols, predictor, decision, rows=every, changed=accepted, encoded=encoded)
        result.missing = RateCI(f"{missing_rate:g}", float(flips.mean()),
                                proportion_ci(int(flips.sum()), n, rng=rng, n_boot=n_boot), n)
    for c in accepted:
        cols = source.gather(every)
        cols[c] = _blank(cols[c], np.ones(n, dtype=bool))
        flips = _flips(source, cols, predictor, decision, rows=every, changed=[c], encoded=encoded)
        result.per_feature.append(RateCI(str(c), float(flips.mean()),
                                         proportion_ci(int(flips.sum()), n, rng=rng, n_boot=n_boot), n,
                                         how="missing"))
    result.n_predicted = predictor.n_predicted
    return result


def _flips(source: RowSource, cols: dict[str, np.ndarray], predictor: Predictor, decision: np.ndarray, *,
           rows: np.ndarray, changed: list[str], encoded: EncodedRows | None) -> np.ndarray:
    """1.0 where the perturbed row's decision differs from the original decision.

    ``cols`` are rows ``rows`` of the source with the columns ``changed`` perturbed.
    With ``encoded`` rows (the fast path) a perturbed row is its encoded row with
    the changed columns' blocks replaced; else a frame of ``cols`` is scored.
    """
    blocks = encoded.encode({c: cols[c] for c in changed}) if encoded is not None else None
    if blocks is not None and encoded is not None:
        every = np.arange(rows.size)
        score = predictor.score_encoded(encoded, rows, [(every, c, block, every) for c, block in blocks.items()])
    else:
        score = predictor.score(source.to_frame(cols))
    return (predictor.decide(score) != decision).astype(float)
