"""Statistics of ``audit diff BASELINE NEW``: is the new model no worse than the approved baseline, per group?

Pure, array-level computation (no bundles, no CLI, no report):

- :class:`RateData`: one audit's per-row data for one figure (ids, 0/1 value, member mask);
- :func:`compare_rate`: one group's figure, new against baseline: paired or unpaired percentile
  bootstrap of ``new - baseline`` and a non-inferiority judgement against a margin;
- :func:`compare_groups`: every group of one figure, intervals Bonferroni-adjusted over the judged groups;
- :class:`RateComparison`, :class:`GroupComparison`: frozen results with JSON-safe ``to_dict()``.

The statistical choices (percentile interval, CONSORT-style reading of a two-sided interval
against the margin, Bonferroni rather than Holm) are explained in ``audit.compare._noninferiority``.
"""

from __future__ import annotations

from audit.compare._noninferiority import (
    PERCENTILE,
    Correction,
    GroupComparison,
    Judgement,
    RateComparison,
    RateData,
    Worse,
    compare_groups,
    compare_rate,
)

__all__ = [
    "PERCENTILE",
    "Correction",
    "GroupComparison",
    "Judgement",
    "RateComparison",
    "RateData",
    "Worse",
    "compare_groups",
    "compare_rate",
]
