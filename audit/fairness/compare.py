"""Rates of one breakdown's groups, their intervals, and gaps to a reference group or across groups.

A :class:`Comparison` holds the observed cell counts of every group and their
bootstrap resamples; every figure is derived from those two arrays, so the
point estimate and its interval always come from the same definition.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from audit.fairness.bootstrap import percentile_interval, rate, rate_parts, resample_cells
from audit.fairness.groups import Breakdown, cell_counts, exclusion_reasons
from audit.fairness.significance import proportion_test
from audit.spec import FairnessSpec

__all__ = ["Comparison", "Spread", "compare", "compare_cells", "compare_each"]


@dataclass(frozen=True)
class Spread:
    """The largest gap in a rate between eligible groups (max - min), as fairlearn's "between_groups"."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str | None
    high: int | None  # group index with the highest rate
    low: int | None  # group index with the lowest rate
    samples: np.ndarray | None  # bootstrap distribution (resamples,)


@dataclass(frozen=True)
class Comparison:
    """Observed and resampled cell counts (TP, FP, FN, TN) of one breakdown's groups."""

    breakdown: Breakdown
    cells: np.ndarray  # (groups, 4)
    boot: np.ndarray | None  # (resamples, groups, 4), None without bootstrap
    reasons: list[str | None]  # why a group is left out of gaps and ratios (None = eligible)

    @property
    def sizes(self) -> np.ndarray:
        """People per group."""
        return self.cells.sum(axis=-1)

    @property
    def eligible(self) -> np.ndarray:
        """Groups large enough to compare."""
        return np.array([r is None for r in self.reasons], dtype=bool)

    def rate(self, name: str) -> np.ndarray:
        """Observed rate per group (NaN where undefined)."""
        return rate(self.cells, name)

    def parts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Numerator and denominator counts per group."""
        return rate_parts(self.cells, name)

    def rate_samples(self, name: str) -> np.ndarray | None:
        """Bootstrap distribution of the rate, (resamples, groups)."""
        return None if self.boot is None else rate(self.boot, name)

    def rate_interval(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """95 % percentile interval of the rate per group (NaN without bootstrap)."""
        return _interval(self.rate_samples(name), self.breakdown.n_groups)

    def most(self, name: str) -> int | None:
        """Eligible group with the highest rate (LL144: the most selected category), or None."""
        values = np.where(self.eligible, self.rate(name), np.nan)
        return None if np.all(np.isnan(values)) else int(np.nanargmax(values))

    def least(self, name: str) -> int | None:
        """Eligible group with the lowest rate (for a flag: the least flagged category), or None."""
        values = np.where(self.eligible, self.rate(name), np.nan)
        return None if np.all(np.isnan(values)) else int(np.nanargmin(values))

    def ratio_to(self, name: str, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rate of each group divided by the reference group's, with 95 % intervals."""
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = self.rate(name)
            value = observed / observed[reference]
            samples = self.rate_samples(name)
            low, high = _interval(None if samples is None else samples / samples[:, [reference]], len(value))
        return np.where(np.isfinite(value), value, np.nan), low, high

    def diff_to(self, name: str, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rate of each group minus the reference group's, with 95 % intervals."""
        value = self.rate(name) - self.rate(name)[reference]
        samples = self.rate_samples(name)
        low, high = _interval(None if samples is None else samples - samples[:, [reference]], len(value))
        return value, low, high

    def test_to(self, name: str, reference: int) -> list[tuple[float | None, str | None]]:
        """Two-sided test of each group's rate against the reference group's (None for the reference)."""
        numerator, denominator = self.parts(name)
        out: list[tuple[float | None, str | None]] = []
        for g in range(len(numerator)):
            if g == reference:
                out.append((None, None))
                continue
            out.append(
                proportion_test(
                    x1=int(numerator[g]),
                    n1=int(denominator[g]),
                    x2=int(numerator[reference]),
                    n2=int(denominator[reference]),
                )
            )
        return out

    def spread_samples(self, name: str) -> np.ndarray | None:
        """Bootstrap distribution of max - min of the rate over eligible groups, (resamples,)."""
        samples = self.rate_samples(name)
        if samples is None or self.eligible.sum() < 2:
            return None
        chosen = samples[:, self.eligible]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample where every rate is undefined gives NaN
            return np.nanmax(chosen, axis=1) - np.nanmin(chosen, axis=1)

    def spread(self, name: str) -> Spread:
        """Largest gap in the rate between eligible groups, its interval, and a test of that pair."""
        values = np.where(self.eligible, self.rate(name), np.nan)
        if np.isfinite(values).sum() < 2:
            return Spread(None, None, None, None, None, None, None, None)
        high, low = int(np.nanargmax(values)), int(np.nanargmin(values))
        samples = self.spread_samples(name)
        ci_low, ci_high = percentile_interval(samples)
        numerator, denominator = self.parts(name)
        p_value, test = proportion_test(
            x1=int(numerator[high]), n1=int(denominator[high]), x2=int(numerator[low]), n2=int(denominator[low])
        )
        return Spread(float(values[high] - values[low]), _num(ci_low), _num(ci_high), p_value, test, high, low, samples)


def compare(
    breakdown: Breakdown,
    *,
    decision: np.ndarray,
    y: np.ndarray | None,
    resamples: int,
    rng: np.random.Generator,
    min_size: int,
    min_share: float,
) -> Comparison:
    """Count cells per group, bootstrap them, and mark which groups are large enough to compare."""
    cells = cell_counts(breakdown.codes, breakdown.n_groups, decision=decision, y=y)
    return compare_cells(breakdown, cells, resamples=resamples, rng=rng, min_size=min_size, min_share=min_share)


def compare_cells(
    breakdown: Breakdown,
    cells: np.ndarray,
    *,
    resamples: int,
    rng: np.random.Generator,
    min_size: int,
    min_share: float,
) -> Comparison:
    """Bootstrap counted cells (groups, 4) and mark which groups are large enough to compare.

    The resamples depend on the cells alone, so cells counted partition by partition and added give the same
    comparison, interval for interval, as the whole data read at once (``audit.scale``).
    """
    boot = resample_cells(cells, resamples=resamples, rng=rng) if resamples > 0 else None
    reasons = exclusion_reasons(cells.sum(axis=-1), n_total=breakdown.rows, min_size=min_size, min_share=min_share)
    return Comparison(breakdown=breakdown, cells=cells, boot=boot, reasons=reasons)


def compare_each(
    breakdowns: list[Breakdown],
    *,
    decision: np.ndarray,
    y: np.ndarray | None,
    fairness: FairnessSpec,
    rng: np.random.Generator,
    resamples: int | None = None,
) -> list[Comparison]:
    """:func:`compare` for every breakdown with the spec's group-size rules (and its resamples unless given)."""
    return [
        compare(b, decision=decision, y=y, resamples=fairness.bootstrap if resamples is None else resamples, rng=rng,
                min_size=fairness.min_group_size, min_share=fairness.min_group_share)
        for b in breakdowns
    ]


def _interval(samples: np.ndarray | None, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    if samples is None:
        return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    return percentile_interval(samples)


def _num(value: np.ndarray | float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
