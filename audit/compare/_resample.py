"""Pairing of two audits' rows, and bootstrap draws of a rate difference from sufficient counts (private).

Every figure compared by ``audit diff`` is the mean of a 0/1 indicator over the
member rows of one audit. Such a mean depends on the rows only through counts,
so the bootstrap does not need to draw row indices:

- **Paired** (both audits decided on the same rows): each row falls in one of
  nine cells, ``(baseline state, new state)`` with a state being "not a member",
  "member, value 0" or "member, value 1". Drawing the n rows with replacement,
  jointly for both audits, gives cell counts that are exactly
  ``multinomial(n, observed cell shares)``; both rates of a resample, and so
  their difference, are functions of those nine counts. One
  ``Generator.multinomial`` call of shape (B, 9) is therefore the same
  distribution as B x n drawn indices (``tests/test_compare_stats.py`` checks it
  against a brute-force index bootstrap), at O(B) memory for any n, with no
  Python loop and no chunking needed.
- **Unpaired**: each audit's member rows are resampled on their own, keeping
  their number; the count of ones is then ``binomial(members, observed rate)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PAIRED", "discordant", "UNPAIRED_IDS_DIFFER", "UNPAIRED_IDS_REPEAT", "Counts", "pair_rows", "paired_cells", "draw"]

PAIRED = "both audits decided on the same rows (same ids): rows resampled jointly, aligned by id"
UNPAIRED_IDS_DIFFER = "the audits' row ids differ: each audit's member rows resampled independently"
UNPAIRED_IDS_REPEAT = (
    "a row id repeats within an audit, so rows cannot be aligned by id: each audit's member rows resampled independently"
)

_STATES = 3  # not a member, member with value 0, member with value 1


@dataclass(frozen=True)
class Counts:
    """Bootstrap counts, each of shape (B,): ones and members of each audit's figure."""

    baseline_ones: np.ndarray
    baseline_members: np.ndarray
    new_ones: np.ndarray
    new_members: np.ndarray

    def difference(self) -> np.ndarray:
        """new rate - baseline rate per resample; NaN where a resample has no member row on a side."""
        with np.errstate(divide="ignore", invalid="ignore"):
            base = np.where(self.baseline_members > 0, self.baseline_ones / np.maximum(self.baseline_members, 1), np.nan)
            new = np.where(self.new_members > 0, self.new_ones / np.maximum(self.new_members, 1), np.nan)
        return new - base


def pair_rows(baseline_ids: np.ndarray, new_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | str:
    """Row orders aligning the two audits by id, or why they cannot be paired.

    Paired means the same set of ids on both sides, each id once per audit. A
    repeated id is not aligned by position: which copy matches which would be a
    guess, and the unpaired bootstrap is still valid (only wider).
    """
    base_order = np.argsort(baseline_ids, kind="stable")
    new_order = np.argsort(new_ids, kind="stable")
    base_sorted = baseline_ids[base_order]
    new_sorted = new_ids[new_order]
    if bool(np.any(base_sorted[1:] == base_sorted[:-1])) or bool(np.any(new_sorted[1:] == new_sorted[:-1])):
        return UNPAIRED_IDS_REPEAT
    if base_sorted.shape != new_sorted.shape or not bool(np.all(base_sorted == new_sorted)):
        return UNPAIRED_IDS_DIFFER
    return base_order, new_order


def _states(value: np.ndarray, member: np.ndarray) -> np.ndarray:
    return np.where(member, 1 + (value == 1), 0).astype(np.int64)


def paired_cells(
    *,
    baseline_value: np.ndarray,
    baseline_member: np.ndarray,
    new_value: np.ndarray,
    new_member: np.ndarray,
    order: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Counts of the nine (baseline state, new state) cells over the aligned rows, shape (9,)."""
    base_order, new_order = order
    base = _states(baseline_value, baseline_member)[base_order]
    new = _states(new_value, new_member)[new_order]
    return np.bincount(_STATES * base + new, minlength=_STATES * _STATES)


def discordant(cells: np.ndarray) -> int:
    """Rows on which the two audits differ for the figure: the nine cells off the diagonal."""
    square = cells.reshape(_STATES, _STATES)
    return int(square.sum() - np.trace(square))


def _paired_counts(draws: np.ndarray) -> Counts:
    cells = draws.reshape(-1, _STATES, _STATES)  # (B, baseline state, new state)
    return Counts(
        baseline_ones=cells[:, 2, :].sum(axis=1),
        baseline_members=cells[:, 1:, :].sum(axis=(1, 2)),
        new_ones=cells[:, :, 2].sum(axis=1),
        new_members=cells[:, :, 1:].sum(axis=(1, 2)),
    )


def draw(
    *,
    rng: np.random.Generator,
    n_boot: int,
    cells: np.ndarray | None,
    baseline: tuple[int, int],
    new: tuple[int, int],
) -> Counts:
    """B bootstrap resamples: paired from the nine ``cells`` when given, else unpaired.

    ``baseline`` and ``new`` are (ones, members) of each audit's figure, used by
    the unpaired bootstrap (each side drawn from its own generator stream, in a
    fixed order, so a seed gives the same draws every time).
    """
    if cells is not None:
        n = int(cells.sum())
        return _paired_counts(rng.multinomial(n, cells / n, size=n_boot))
    (base_ones, base_members), (new_ones, new_members) = baseline, new
    return Counts(
        baseline_ones=rng.binomial(base_members, base_ones / base_members, size=n_boot),
        baseline_members=np.full(n_boot, base_members, dtype=np.int64),
        new_ones=rng.binomial(new_members, new_ones / new_members, size=n_boot),
        new_members=np.full(n_boot, new_members, dtype=np.int64),
    )
