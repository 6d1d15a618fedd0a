"""Typed results of the drift computations, each with a JSON-safe ``to_dict()``.

The results are frozen dataclasses: the numbers a check turns into evidence, with
nothing left as NaN (a figure that could not be computed is ``None`` and its
``reason`` says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DriftBin",
    "FeatureDrift",
    "DriftResult",
    "GroupShare",
    "GroupShareResult",
    "GroupFeatureDrift",
    "DriftByGroupResult",
]

FeatureKind = Literal["numeric", "categorical"]


def _num(value: float | None) -> float | None:
    """A plain float, or None for None / NaN / infinity (JSON has no NaN)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


@dataclass(frozen=True)
class DriftBin:
    """One bin of the population stability index: a value range (numeric) or a category.

    Shares are of the non-missing values for a numeric feature, and of all rows for a
    categorical one (there a missing value is its own category, ``"(missing)"``).
    """

    label: str
    reference_count: int
    current_count: int
    reference_share: float
    current_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "reference_count": int(self.reference_count),
            "current_count": int(self.current_count),
            "reference_share": _num(self.reference_share),
            "current_share": _num(self.current_share),
        }


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature between the reference and the current data.

    ``psi`` is the population stability index over ``bins`` (information only: no
    decision rests on it). ``statistic`` / ``p_value`` are the two-sample test's
    (Kolmogorov-Smirnov for numeric, chi-squared homogeneity for categorical),
    ``p_adjusted`` the Benjamini-Hochberg adjusted p-value across the features
    tested, and ``drifted`` is ``p_adjusted < alpha``. When the test could not be
    run, ``statistic``, ``p_value``, ``p_adjusted`` and ``drifted`` are None and
    ``reason`` says why.
    """

    name: str
    kind: FeatureKind
    test: str
    n_reference: int
    n_current: int
    missing_reference: float | None  # share of rows missing; None when the sample has no rows
    missing_current: float | None
    psi: float | None
    bins: list[DriftBin]
    statistic: float | None
    dof: int | None  # chi-squared degrees of freedom; None for Kolmogorov-Smirnov
    p_value: float | None
    p_adjusted: float | None
    drifted: bool | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "test": self.test,
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "missing_reference": _num(self.missing_reference),
            "missing_current": _num(self.missing_current),
            "psi": _num(self.psi),
            "bins": [b.to_dict() for b in self.bins],
            "statistic": _num(self.statistic),
            "dof": None if self.dof is None else int(self.dof),
            "p_value": _num(self.p_value),
            "p_adjusted": _num(self.p_adjusted),
            "drifted": None if self.drifted is None else bool(self.drifted),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DriftResult:
    """Per-feature drift, the level, the multiple-comparison correction used, and notes on the method."""

    features: list[FeatureDrift]
    alpha: float
    n_reference: int
    n_current: int
    bins: int
    epsilon: float
    correction: str = "Benjamini-Hochberg"
    notes: list[str] = field(default_factory=list)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features whose adjusted p-value is under ``alpha``."""
        return [f.name for f in self.features if f.drifted is True]

    @property
    def not_tested(self) -> list[str]:
        """Names of the features no test could be run on (see each one's ``reason``)."""
        return [f.name for f in self.features if f.drifted is None]

    def feature(self, name: str) -> FeatureDrift:
        """The result for one feature, by name."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [f.to_dict() for f in self.features],
            "alpha": float(self.alpha),
            "correction": self.correction,
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "bins": int(self.bins),
            "epsilon": float(self.epsilon),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GroupShare:
    """One group's share of the rows in the reference and the current data; ``difference`` = current - reference."""

    group: str
    n_reference: int
    n_current: int
    share_reference: float | None  # None when the sample has no rows
    share_current: float | None
    difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "share_reference": _num(self.share_reference),
            "share_current": _num(self.share_current),
            "difference": _num(self.difference),
        }


@dataclass(frozen=True)
class GroupShareResult:
    """The groups of one protected attribute, their shares, and a chi-squared test that the shares are equal."""

    groups: list[GroupShare]
    n_reference: int
    n_current: int
    test: str
    statistic: float | None
    dof: int | None
    p_value: float | None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.to_dict() for g in self.groups],
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "test": self.test,
            "statistic": _num(self.statistic),
            "dof": None if self.dof is None else int(self.dof),
            "p_value": _num(self.p_value),
            "reason": self.reason,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GroupFeatureDrift:
    """Feature drift within one group; ``result`` is None (and ``reason`` says why) when the group was not judged."""

    group: str
    n_reference: int
    n_current: int
    result: DriftResult | None
    reason: str | None = None

    @property
    def judged(self) -> bool:
        return self.result is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "judged": self.judged,
            "result": None if self.result is None else self.result.to_dict(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DriftByGroupResult:
    """:func:`feature_drift` run within each group of one column; groups too small or absent are not judged."""

    group_column: str
    min_group_size: int
    groups: list[GroupFeatureDrift]
    notes: list[str] = field(default_factory=list)

    @property
    def judged(self) -> list[GroupFeatureDrift]:
        return [g for g in self.groups if g.judged]

    @property
    def not_judged(self) -> list[GroupFeatureDrift]:
        return [g for g in self.groups if not g.judged]

    def group(self, label: str) -> GroupFeatureDrift:
        """The entry for one group, by its label."""
        for g in self.groups:
            if g.group == label:
                return g
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_column": self.group_column,
            "min_group_size": int(self.min_group_size),
            "groups": [g.to_dict() for g in self.groups],
            "notes": list(self.notes),
        }
