"""Drift between a reference dataset and the audited (current) data: per feature, per group, within groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from audit.drift._results import (
    DriftByGroupResult,
    DriftResult,
    FeatureDrift,
    GroupFeatureDrift,
    GroupShare,
    GroupShareResult,
)
from audit.drift._stats import (
    CHI2_TEST,
    KS_TEST,
    MIN_EXPECTED,
    PSI_EPSILON,
    benjamini_hochberg,
    categorical_counts,
    chi2_homogeneity,
    joint_codes,
    ks_test,
    make_bins,
    numeric_bins,
    numeric_sample,
    population_stability_index,
)

__all__ = ["feature_drift", "group_drift", "feature_drift_by_group"]

MIN_VALUES = 2  # a two-sample test needs at least this many non-missing values in each sample


def _check_level(alpha: float, bins: int) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, not {alpha!r}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2, not {bins!r}")


def _check_columns(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> None:
    names = [*numeric, *categorical]
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"features listed as both numeric and categorical: {both}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"features listed more than once: {repeated}")
    for which, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{which} must be a pandas DataFrame, not {type(frame).__name__}")
        absent = [n for n in names if n not in frame.columns]
        if absent:
            raise ValueError(f"features not in the {which} data: {absent}")
        doubled = sorted({str(c) for c in frame.columns[frame.columns.duplicated()] if c in names})
        if doubled:
            raise ValueError(f"columns named more than once in the {which} data: {doubled}")


def _too_few(n_ref: int, n_cur: int) -> str:
    return (
        f"fewer than {MIN_VALUES} non-missing values (reference {n_ref}, current {n_cur}): "
        "no test, not judged drifted or not drifted"
    )


def _numeric_feature(name: str, reference: pd.Series, current: pd.Series, *, bins: int) -> FeatureDrift:
    ref = numeric_sample(reference, name=name, which="reference")
    cur = numeric_sample(current, name=name, which="current")
    nr, nc = ref.values.size, cur.values.size
    psi: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    reason: str | None = None
    drift_bins = []
    if nr < MIN_VALUES or nc < MIN_VALUES:
        reason = _too_few(nr, nc)
    else:
        labels, rc, cc = numeric_bins(ref.values, cur.values, bins=bins)
        psi = population_stability_index(reference_counts=rc, current_counts=cc, epsilon=PSI_EPSILON)
        drift_bins = make_bins(labels, rc, cc)
        statistic, p_value = ks_test(ref.values, cur.values)
    return FeatureDrift(
        name=name,
        kind="numeric",
        test=KS_TEST,
        n_reference=ref.n_rows,
        n_current=cur.n_rows,
        missing_reference=ref.missing_share,
        missing_current=cur.missing_share,
        psi=psi,
        bins=drift_bins,
        statistic=statistic,
        dof=None,
        p_value=p_value,
        p_adjusted=None,
        drifted=None,
        reason=reason,
    )


def _categorical_feature(name: str, reference: pd.Series, current: pd.Series) -> tuple[FeatureDrift, int]:
    """The feature's drift and its number of chi-squared cells with an expected count under 5."""
    counts = categorical_counts(reference, current)
    n_ref, n_cur = len(reference), len(current)
    bins = make_bins(counts.labels, counts.reference, counts.current)
    nr, nc = n_ref - counts.n_missing_reference, n_cur - counts.n_missing_current
    psi: float | None = None
    statistic: float | None = None
    dof: int | None = None
    p_value: float | None = None
    reason: str | None
    small = 0
    if nr < MIN_VALUES or nc < MIN_VALUES:
        reason = _too_few(nr, nc)
    else:
        psi = population_stability_index(
            reference_counts=counts.reference, current_counts=counts.current, epsilon=PSI_EPSILON
        )
        chi = chi2_homogeneity(counts.reference, counts.current)
        statistic, dof, p_value, reason, small = chi.statistic, chi.dof, chi.p_value, chi.reason, chi.cells_under_min_expected
        if reason is not None:
            reason += ": no test, not judged drifted or not drifted"
    feature = FeatureDrift(
        name=name,
        kind="categorical",
        test=CHI2_TEST,
        n_reference=n_ref,
        n_current=n_cur,
        missing_reference=counts.n_missing_reference / n_ref if n_ref else None,
        missing_current=counts.n_missing_current / n_cur if n_cur else None,
        psi=psi,
        bins=bins,
        statistic=statistic,
        dof=dof,
        p_value=p_value,
        p_adjusted=None,
        drifted=None,
        reason=reason,
    )
    return feature, small


def feature_drift(
    *,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    alpha: float = 0.05,
    bins: int = 10,
) -> DriftResult:
    """Has each feature's distribution moved between the reference data and the current data?

    For every feature: the population stability index (PSI; information only), a
    two-sample test with its raw p-value, the Benjamini-Hochberg adjusted p-value across
    all features tested, and ``drifted`` = adjusted p-value < ``alpha``.

    - Numeric: PSI over the reference's empirical quantile bins (deciles for ``bins=10``; duplicate
      edges merged, right-closed, values outside the reference's range in the end bins)
      and the two-sample Kolmogorov-Smirnov test, both on the non-missing values; the
      share missing in each sample is reported beside them.
    - Categorical: PSI over the categories of both samples and Pearson's chi-squared test
      of homogeneity on the 2 x k table of counts (categories absent from both dropped);
      a missing value is a category of its own.

    Empty bins: each share is floored at ``PSI_EPSILON`` (1e-4) before the logarithm.
    A feature with fewer than 2 non-missing values in either sample gets no test and
    no PSI: ``statistic``, ``p_value`` and ``drifted`` are None with a ``reason``, and
    it is left out of the Benjamini-Hochberg adjustment.

    Why Benjamini-Hochberg: a drift screen runs one test per feature, and at 5 % each,
    14 unchanged independent features would raise at least one false alarm about half
    the time (1 - 0.95^14). BH controls the false
    discovery rate (the expected share of false alarms among flagged features) and,
    when nothing has drifted, the chance of any false alarm, while losing less power
    than a family-wise correction when several features really moved.
    """
    _check_level(alpha, bins)
    _check_columns(reference, current, numeric, categorical)
    features: list[FeatureDrift] = []
    small_cells: dict[str, int] = {}
    for name in numeric:
        features.append(_numeric_feature(name, reference[name], current[name], bins=bins))
    for name in categorical:
        feature, small = _categorical_feature(name, reference[name], current[name])
        features.append(feature)
        if small:
            small_cells[name] = small
    adjusted = benjamini_hochberg([f.p_value for f in features])
    features = [
        replace(f, p_adjusted=a, drifted=None if a is None else bool(a < alpha))
        for f, a in zip(features, adjusted, strict=True)
    ]
    return DriftResult(
        features=features,
        alpha=alpha,
        n_reference=len(reference),
        n_current=len(current),
        bins=bins,
        epsilon=PSI_EPSILON,
        notes=_notes(features, alpha=alpha, bins=bins, small_cells=small_cells),
    )


def _notes(features: list[FeatureDrift], *, alpha: float, bins: int, small_cells: dict[str, int]) -> list[str]:
    tested = [f for f in features if f.p_value is not None]
    untested = [f.name for f in features if f.p_value is None]
    notes = [
        f"Tests: {KS_TEST} for numeric features, on the non-missing values (the share missing in each sample "
        f"is reported, not tested); {CHI2_TEST} for categorical features, with a missing value as a category of "
        "its own, categories absent from both samples dropped, no continuity correction.",
        f"Benjamini-Hochberg adjustment across the {len(tested)} features tested: it controls the false discovery "
        "rate (the expected share of false alarms among the features flagged), and the chance of any false alarm "
        f"when nothing drifted. A feature is flagged as drifted when its adjusted p-value is under alpha = {alpha:g}.",
        f"PSI: numeric features over the reference's empirical quantile bins ({bins} requested, fewer where quantiles coincide; "
        "right-closed; values outside the reference's range in the end bins), categorical features over the "
        f"categories of both samples; each share floored at {PSI_EPSILON:g} before the logarithm so that an empty "
        "bin gives a finite value. PSI is reported for information only: the usual thresholds (0.1 for a moderate, "
        "0.25 for a major shift) are industry rules of thumb, not tests, and decide nothing here.",
        "A test on large samples flags shifts too small to matter, and on small samples misses real ones: read "
        "the p-values together with the shares per bin.",
    ]
    if any(f.kind == "numeric" and f.p_value is not None for f in features):
        notes.append(
            "Kolmogorov-Smirnov p-values assume continuous values; with ties (whole numbers, a point mass at 0) "
            "they are conservative, erring toward not flagging drift."
        )
    if small_cells:
        listed = ", ".join(f"{n} ({k} cells)" for n, k in small_cells.items())
        notes.append(
            f"Expected counts under {MIN_EXPECTED} in the chi-squared table of {listed}: rare categories make the "
            "chi-squared approximation rough there."
        )
    if untested:
        notes.append(
            f"Not tested (see each reason), left out of the adjustment and not judged either way: {', '.join(untested)}."
        )
    return notes


def group_drift(*, reference: pd.Series, current: pd.Series) -> GroupShareResult:
    """Has the make-up of a protected attribute's groups changed between the reference and the current data?

    Each group's share of the rows in both samples, the difference (current - reference),
    and Pearson's chi-squared test of homogeneity on the 2 x k table of group counts
    (no continuity correction). A missing value is a group of its own. With fewer than
    2 rows in either sample, or a single group in both, there is no test (None, with a
    reason). One test per attribute: no correction across attributes is applied here.
    """
    for which, s in (("reference", reference), ("current", current)):
        if not isinstance(s, pd.Series):
            raise TypeError(f"{which} must be a pandas Series, not {type(s).__name__}")
    counts = categorical_counts(reference, current)
    nr, nc = len(reference), len(current)
    groups = []
    for label, a, b in zip(counts.labels, counts.reference, counts.current, strict=True):
        sr = a / nr if nr else None
        sc = b / nc if nc else None
        groups.append(
            GroupShare(
                group=label,
                n_reference=int(a),
                n_current=int(b),
                share_reference=None if sr is None else float(sr),
                share_current=None if sc is None else float(sc),
                difference=None if sr is None or sc is None else float(sc - sr),
            )
        )
    notes = [
        f"{CHI2_TEST} on the group counts (no continuity correction); a missing value is a group of its own; "
        "one test for this attribute, not adjusted for other attributes tested beside it."
    ]
    if nr < MIN_VALUES or nc < MIN_VALUES:
        reason: str | None = f"fewer than {MIN_VALUES} rows (reference {nr}, current {nc}): no test"
        return GroupShareResult(groups, nr, nc, CHI2_TEST, None, None, None, reason=reason, notes=notes)
    chi = chi2_homogeneity(counts.reference, counts.current)
    if chi.cells_under_min_expected:
        notes.append(
            f"{chi.cells_under_min_expected} cells with an expected count under {MIN_EXPECTED}: the chi-squared "
            "approximation is rough for the rarest groups."
        )
    return GroupShareResult(
        groups=groups,
        n_reference=nr,
        n_current=nc,
        test=CHI2_TEST,
        statistic=chi.statistic,
        dof=chi.dof,
        p_value=chi.p_value,
        reason=None if chi.reason is None else chi.reason + ": no test",
        notes=notes,
    )


def feature_drift_by_group(
    *,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    group_column: str,
    numeric: list[str],
    categorical: list[str],
    alpha: float = 0.05,
    bins: int = 10,
    min_group_size: int = 30,
) -> DriftByGroupResult:
    """:func:`feature_drift` within each group of ``group_column`` (a protected attribute).

    A group is judged when it has at least ``min_group_size`` rows in both samples; the
    others (absent from one sample, or too small) are listed as not judged with the
    reason. A missing group value is a group of its own. The group column itself is
    not a feature here (constant within a group). Benjamini-Hochberg runs within each
    group, not across groups: with many groups, one may be flagged by chance.
    """
    _check_level(alpha, bins)
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) or min_group_size < MIN_VALUES:
        raise ValueError(f"min_group_size must be an integer of at least {MIN_VALUES}, not {min_group_size!r}")
    for which, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{which} must be a pandas DataFrame, not {type(frame).__name__}")
        if group_column not in frame.columns:
            raise ValueError(f"group column '{group_column}' is not in the {which} data")
    notes = [
        f"feature_drift within each group of '{group_column}' with at least {min_group_size} rows in both "
        "samples; Benjamini-Hochberg within each group, no correction across groups.",
    ]
    num = [c for c in numeric if c != group_column]
    cat = [c for c in categorical if c != group_column]
    if len(num) + len(cat) < len(numeric) + len(categorical):
        notes.append(f"'{group_column}' left out of the features: it is constant within a group.")
    _check_columns(reference, current, num, cat)
    joint = joint_codes(reference[group_column], current[group_column])
    n_ref = len(reference)
    ref_codes, cur_codes = joint.codes[:n_ref], joint.codes[n_ref:]
    groups: list[GroupFeatureDrift] = []
    for code, label in enumerate(joint.labels):
        in_ref, in_cur = ref_codes == code, cur_codes == code
        nr, nc = int(in_ref.sum()), int(in_cur.sum())
        reason: str | None = None
        if nr == 0:
            reason = "absent from the reference data"
        elif nc == 0:
            reason = "absent from the current data"
        elif nr < min_group_size or nc < min_group_size:
            reason = f"fewer than {min_group_size} rows in a sample (reference {nr}, current {nc})"
        if reason is not None:
            groups.append(GroupFeatureDrift(group=label, n_reference=nr, n_current=nc, result=None, reason=reason))
            continue
        result = feature_drift(
            reference=reference.loc[in_ref],
            current=current.loc[in_cur],
            numeric=num,
            categorical=cat,
            alpha=alpha,
            bins=bins,
        )
        groups.append(GroupFeatureDrift(group=label, n_reference=nr, n_current=nc, result=result))
    return DriftByGroupResult(group_column=group_column, min_group_size=min_group_size, groups=groups, notes=notes)
