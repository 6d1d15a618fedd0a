"""Fairness statistics: group rates, stratified bootstrap, tests, data bias, proxies, the deciding metric.

The check ``audit.checks.fairness`` calls :func:`fairness_evidence`; the
pipeline calls :func:`write_metrics_csv` to put ``metrics.csv`` (long form) in
the bundle. Modules:

- ``groups``: breakdowns (attributes and intersections), cell counts, exclusions;
- ``bootstrap``: vectorised, stratified bootstrap of cell counts; rate definitions;
- ``significance``: two-proportion z-test / Fisher's exact test, Holm adjustment;
- ``compare``: rates, ratios, gaps and largest gaps of one breakdown, with intervals;
- ``selection``, ``error_rates``, ``databias``, ``proxies``: one evidence item each;
- ``calibration``, ``individual``, ``choice``, ``longform``: helpers.
"""

from __future__ import annotations

from audit.fairness.longform import LONG_COLUMNS, metrics_rows, write_metrics_csv
from audit.fairness.run import EVIDENCE_IDS, fairness_evidence

__all__ = ["EVIDENCE_IDS", "LONG_COLUMNS", "fairness_evidence", "metrics_rows", "write_metrics_csv"]
