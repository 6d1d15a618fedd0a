"""Drift between a reference dataset (training data, or a previous period) and the audited data.

Pure computation, no Evidence: ``audit.checks`` turns the results into evidence.

- :func:`feature_drift`: per feature, the population stability index (information
  only), a two-sample test (Kolmogorov-Smirnov for numeric features, chi-squared
  homogeneity for categorical ones), its p-value, the Benjamini-Hochberg adjusted
  p-value across features and whether the feature drifted at ``alpha``.
- :func:`group_drift`: the shares of a protected attribute's groups in both samples,
  their differences and a chi-squared test that the shares are unchanged.
- :func:`feature_drift_by_group`: :func:`feature_drift` within each group large
  enough in both samples; the other groups listed as not judged, with the reason.
- :func:`benjamini_hochberg`: the adjustment itself.

Every result is a frozen dataclass with a JSON-safe ``to_dict()`` (None, never NaN).
"""

from __future__ import annotations

from audit.drift._drift import feature_drift, feature_drift_by_group, group_drift
from audit.drift._results import (
    DriftBin,
    DriftByGroupResult,
    DriftResult,
    FeatureDrift,
    GroupFeatureDrift,
    GroupShare,
    GroupShareResult,
)
from audit.drift._stats import MISSING_LABEL, PSI_EPSILON, benjamini_hochberg

__all__ = [
    "feature_drift",
    "group_drift",
    "feature_drift_by_group",
    "benjamini_hochberg",
    "DriftBin",
    "FeatureDrift",
    "DriftResult",
    "GroupShare",
    "GroupShareResult",
    "GroupFeatureDrift",
    "DriftByGroupResult",
    "MISSING_LABEL",
    "PSI_EPSILON",
]
