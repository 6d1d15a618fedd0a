"""The statistics behind the drift results: binning, PSI, the two-sample tests, Benjamini-Hochberg.

Everything here is vectorised over rows (numpy / pandas); the loops are over
features or categories only. scipy is imported inside the functions that use it,
so importing :mod:`audit.drift` computes and loads nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from audit.drift._results import DriftBin

__all__ = [
    "PSI_EPSILON",
    "MISSING_LABEL",
    "KS_TEST",
    "CHI2_TEST",
    "MIN_EXPECTED",
    "benjamini_hochberg",
    "population_stability_index",
    "quantile_edges",
    "NumericSample",
    "numeric_sample",
    "numeric_bins",
    "ks_test",
    "CategoricalCounts",
    "JointCodes",
    "joint_codes",
    "categorical_counts",
    "ChiSquared",
    "chi2_homogeneity",
    "make_bins",
]

PSI_EPSILON = 1e-4  # a bin's share is floored at this before the logarithm, so an empty bin gives a finite PSI
MISSING_LABEL = "(missing)"
KS_TEST = "Kolmogorov-Smirnov two-sample"
CHI2_TEST = "chi-squared test of homogeneity (2 x k)"
MIN_EXPECTED = 5  # the usual rule of thumb for the chi-squared approximation (e.g. Agresti)


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (step-up); None stays None and is not counted in m.

    With m p-values sorted ascending, p_(i) becomes min over k >= i of (m / k) p_(k),
    capped at 1. Rejecting where the adjusted value is under alpha controls the false
    discovery rate (the expected share of false alarms among the features flagged) at
    alpha for independent or positively dependent tests; when nothing drifted at all it
    is the chance of any false alarm. It is preferred to Holm / Bonferroni here because
    a drift screen tests many features and a few real shifts should not be masked by a
    family-wise correction that grows with every feature added.
    """
    positions = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not positions:
        return out
    p = np.asarray([p_values[i] for i in positions], dtype=float)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must lie in [0, 1] (None for a test not run), not NaN")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    for i, a in zip(positions, adjusted, strict=True):
        out[i] = float(a)
    return out


def population_stability_index(
    *, reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON
) -> float:
    """PSI = sum over bins of (c - r) * ln(c / r), with r, c each sample's share of the bin.

    Shares are floored at ``epsilon`` (1e-4 by default) so that a bin empty in one sample
    gives a large but finite term instead of infinity; a bin empty in both contributes 0.
    The floored shares are not renormalised (the usual practice).
    """
    r = np.maximum(reference_counts / reference_counts.sum(), epsilon)
    c = np.maximum(current_counts / current_counts.sum(), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The interior cut points of ``bins`` quantile bins of the reference (deciles for 10), duplicates removed.

    The quantiles are the empirical ones (inverted CDF: the smallest observed value
    with at least that share of the reference at or below it), so every cut point is
    an observed value and whole-number features get no artificial empty bins between
    two neighbouring values. Bins are right-closed: (-inf, e1], (e1, e2], ..., (ek, inf);
    values outside the reference's range fall into the end bins. Right-closed bins
    keep a point mass (capital-gain: most values 0) in a bin of its own: with edges
    [0] the bins are "<= 0" and "> 0".
    """
    qs = np.arange(1, bins) / bins
    return np.unique(np.quantile(reference, qs, method="inverted_cdf"))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _edge_labels(edges: np.ndarray) -> list[str]:
    if edges.size == 0:
        return ["all values"]
    labels = [f"<= {_fmt(edges[0])}"]
    labels += [f"({_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f"> {_fmt(edges[-1])}")
    return labels


@dataclass(frozen=True)
class NumericSample:
    """A numeric column's non-missing values and its share missing (None for an empty sample)."""

    values: np.ndarray
    n_rows: int
    missing_share: float | None


def numeric_sample(series: pd.Series, *, name: str, which: str) -> NumericSample:
    """The float values of a numeric column; NaN / None / pd.NA are missing, infinity is refused."""
    if is_bool_dtype(series.dtype) or is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    else:
        try:
            values = pd.to_numeric(series, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"numeric feature '{name}' in the {which} data is not numeric: {exc}") from None
    missing = np.isnan(values)
    if np.isinf(values).any():
        raise ValueError(f"numeric feature '{name}' in the {which} data has infinite values")
    n = values.size
    return NumericSample(values=values[~missing], n_rows=n, missing_share=float(missing.mean()) if n else None)


def make_bins(labels: Sequence[str], reference_counts: np.ndarray, current_counts: np.ndarray) -> list[DriftBin]:
    """Typed bins with counts and shares (shares 0 when a sample is empty)."""
    nr, nc = int(reference_counts.sum()), int(current_counts.sum())
    rs = reference_counts / nr if nr else np.zeros(len(labels))
    cs = current_counts / nc if nc else np.zeros(len(labels))
    return [
        DriftBin(label=lab, reference_count=int(a), current_count=int(b), reference_share=float(x), current_share=float(y))
        for lab, a, b, x, y in zip(labels, reference_counts, current_counts, rs, cs, strict=True)
    ]


def numeric_bins(reference: np.ndarray, current: np.ndarray, *, bins: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and counts of both samples in the reference's quantile bins (see :func:`quantile_edges`)."""
    edges = quantile_edges(reference, bins)
    k = edges.size + 1
    rc = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=k)
    cc = np.bincount(np.searchsorted(edges, current, side="left"), minlength=k)
    return _edge_labels(edges), rc, cc


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov statistic and p-value (scipy's default method).

    With ties (whole-number features) the KS p-value is conservative: it errs toward
    not flagging drift. When scipy's exact method fails for a large sample it falls back
    to the asymptotic distribution itself; its warning saying so is silenced here, the
    p-value being scipy's either way.
    """
    import warnings

    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful", category=RuntimeWarning)
        res = ks_2samp(reference, current)
    return float(res.statistic), float(res.pvalue)


@dataclass(frozen=True)
class CategoricalCounts:
    """Counts of each category (missing last, as ``MISSING_LABEL``) in both samples."""

    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    n_missing_reference: int
    n_missing_current: int


@dataclass(frozen=True)
class JointCodes:
    """Integer codes of both samples' values (reference rows first), their labels, and the missing value's code."""

    codes: np.ndarray
    labels: list[str]
    missing_code: int | None  # None when no value is missing in either sample


def joint_codes(reference: pd.Series, current: pd.Series) -> JointCodes:
    """Code both samples' values together.

    Values are coded with pandas.factorize over both samples, sorted when they are
    comparable, in order of appearance otherwise. A missing value (None, NaN, pd.NA)
    is its own category, coded last and labelled ``MISSING_LABEL``. A category declared
    in a pandas Categorical but absent from both samples gets no code.
    """
    combined = pd.concat([reference, current], ignore_index=True)  # one dtype kept when both share it (fast path)
    try:
        codes, uniques = pd.factorize(combined, sort=True)
    except TypeError:  # values of mixed types that do not sort
        codes, uniques = pd.factorize(combined, sort=False)
    labels = [str(u) for u in uniques]
    missing = codes < 0
    missing_code = None
    if missing.any():
        missing_code = len(labels)
        codes = np.where(missing, missing_code, codes)
        labels.append(MISSING_LABEL)
    return JointCodes(codes=np.asarray(codes, dtype=np.intp), labels=labels, missing_code=missing_code)


def categorical_counts(reference: pd.Series, current: pd.Series) -> CategoricalCounts:
    """Counts of each category (see :func:`joint_codes`) in both samples; a missing value is its own category."""
    n_ref = len(reference)
    joint = joint_codes(reference, current)
    k = len(joint.labels)
    rc = np.bincount(joint.codes[:n_ref], minlength=k)
    cc = np.bincount(joint.codes[n_ref:], minlength=k)
    m = joint.missing_code
    return CategoricalCounts(
        labels=joint.labels,
        reference=rc,
        current=cc,
        n_missing_reference=0 if m is None else int(rc[m]),
        n_missing_current=0 if m is None else int(cc[m]),
    )


@dataclass(frozen=True)
class ChiSquared:
    """Pearson's chi-squared test of homogeneity on a 2 x k table, or why it was not run."""

    statistic: float | None
    dof: int | None
    p_value: float | None
    cells_under_min_expected: int
    reason: str | None


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray) -> ChiSquared:
    """Chi-squared test that both samples share one distribution over the categories.

    Categories with zero in both samples are dropped first (they carry no information
    and would make an expected count zero). No Yates continuity correction: with a
    2 x 2 table it is needlessly conservative at these sample sizes. Also counts the
    cells with an expected count under 5, where the chi-squared approximation is rough.
    """
    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ChiSquared(None, None, None, 0, "only one category occurs in the two samples; nothing to compare")
    from scipy.stats import chi2_contingency

    res = chi2_contingency(table, correction=False)
    expected = np.asarray(res.expected_freq)
    return ChiSquared(
        statistic=float(res.statistic),
        dof=int(res.dof),
        p_value=float(res.pvalue),
        cells_under_min_expected=int((expected < MIN_EXPECTED).sum()),
        reason=None,
    )
