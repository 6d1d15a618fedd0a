"""Calibration by group: do scores mean the same thing for every group?

A score of 0.7 should mean "7 in 10 such people have the positive outcome" in
each group. The reliability curve bins scores into ten equal-width bins on
[0, 1] and compares each bin's mean score with the observed share of positives;
the expected calibration error (ECE) is the size-weighted mean absolute gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Reliability", "reliability", "scores_are_probabilities", "N_BINS"]

N_BINS = 10


@dataclass(frozen=True)
class Reliability:
    """Per-bin mean score, observed positive share and count, and the resulting ECE."""

    mean_score: np.ndarray  # (bins,), NaN for empty bins
    observed: np.ndarray  # (bins,), NaN for empty bins
    counts: np.ndarray  # (bins,)
    ece: float | None


def scores_are_probabilities(score: np.ndarray | None) -> bool:
    """Calibration needs scores on [0, 1] (probabilities), not arbitrary ranking scores."""
    return score is not None and bool(np.all((score >= 0) & (score <= 1)))


def reliability(score: np.ndarray, y: np.ndarray, *, bins: int = N_BINS) -> Reliability:
    """Reliability curve and ECE of probabilities ``score`` against bool labels ``y``."""
    score = np.asarray(score, dtype=float)
    positive = np.asarray(y, dtype=float)
    index = np.clip((score * bins).astype(np.int64), 0, bins - 1)  # bin [k/bins, (k+1)/bins); 1.0 in the last
    counts = np.bincount(index, minlength=bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_score = np.bincount(index, weights=score, minlength=bins) / counts
        observed = np.bincount(index, weights=positive, minlength=bins) / counts
    total = counts.sum()
    ece = float(np.nansum(counts * np.abs(mean_score - observed)) / total) if total else None
    return Reliability(mean_score=mean_score, observed=observed, counts=counts, ece=ece)
