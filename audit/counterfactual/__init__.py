"""Counterfactual methods: the flip test and recourse for adverse decisions (pure: frames in, dataclasses out).

- :mod:`flip` and :mod:`flip_counts`: does a decision change when only the protected attribute (and its proxies)
  change? Counted per partition of rows and merged, so read whole or in partitions gives the same figures.
- :mod:`recourse`: the nearest actionable change that turns each adverse decision favourable,
  under the rules of :mod:`actionability` (immutable, increase-only, observed values).
- :mod:`quality`: plausibility of counterfactuals; :mod:`recourse_counts`: recourse's figures as sums (the same read
  whole or in partitions) and the recourse gap between groups.

Both re-predict many modified copies of the data. For a scikit-learn Pipeline of
column-wise encoders they do so in the model's encoded space (:mod:`._encoded`: each row
and new value encoded once, rows the model cannot tell apart scored once), with the same
numbers as the adapter; every other model is scored through its adapter on DataFrames.

Nothing here builds Evidence or imports ``audit.checks``: ``audit.checks.counterfactual``
turns these results into evidence. Robustness to noise is its own package,
:mod:`audit.robustness`.
"""

from __future__ import annotations

from audit.counterfactual.actionability import Actionability, Unit, build_actionability
from audit.counterfactual.flip import DIRECT, WITH_PROXIES, FlipPair, FlipResult
from audit.counterfactual.flip_counts import flip_test
from audit.counterfactual.quality import Plausibility, plausibility
from audit.counterfactual.recourse import NO_RECOURSE, RecourseResult, constraint_violations, find_recourse
from audit.counterfactual.recourse_counts import GapResult

__all__ = [
    "Actionability",
    "Unit",
    "build_actionability",
    "DIRECT",
    "WITH_PROXIES",
    "FlipPair",
    "FlipResult",
    "flip_test",
    "GapResult",
    "Plausibility",
    "plausibility",
    "NO_RECOURSE",
    "RecourseResult",
    "constraint_violations",
    "find_recourse",
]
