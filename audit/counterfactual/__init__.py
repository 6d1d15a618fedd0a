"""Counterfactual tests of a model: the flip test, recourse for adverse decisions, and robustness.

- :mod:`flip`: does a decision change when only the protected attribute (and its proxies) change?
- :mod:`recourse`: the nearest actionable change that turns each adverse decision favourable,
  under the rules of :mod:`actionability` (immutable, increase-only, observed values).
- :mod:`quality`: plausibility of counterfactuals and the recourse gap between groups.
- :mod:`robustness`: flip rates under noise and missing values (AI Act Art. 15(4)).

All three re-predict many modified copies of the data. For a scikit-learn Pipeline of
column-wise encoders they do so in the model's encoded space (:mod:`._encoded`: each row
and new value encoded once, rows the model cannot tell apart scored once), with the same
numbers as the adapter; every other model is scored through its adapter on DataFrames.

The ``*_evidence`` functions turn results into :class:`audit.evidence.Evidence`;
``audit.checks.counterfactual`` and ``audit.checks.robustness`` call them.
"""

from __future__ import annotations

from audit.counterfactual.actionability import Actionability, Unit, build_actionability
from audit.counterfactual.flip import DIRECT, WITH_PROXIES, FlipPair, FlipResult, flip_test
from audit.counterfactual.flip_evidence import FLIP_ID, flip_evidence
from audit.counterfactual.quality import GapResult, Plausibility, plausibility, recourse_gap
from audit.counterfactual.recourse import NO_RECOURSE, RecourseResult, find_recourse
from audit.counterfactual.recourse_evidence import RECOURSE_ID, constraint_violations, recourse_evidence
from audit.counterfactual.robustness import RateCI, RobustnessResult, perturbation_test
from audit.counterfactual.robustness_evidence import ROBUSTNESS_ID, robustness_evidence

__all__ = [
    "Actionability",
    "Unit",
    "build_actionability",
    "DIRECT",
    "WITH_PROXIES",
    "FlipPair",
    "FlipResult",
    "flip_test",
    "FLIP_ID",
    "flip_evidence",
    "GapResult",
    "Plausibility",
    "plausibility",
    "recourse_gap",
    "NO_RECOURSE",
    "RecourseResult",
    "find_recourse",
    "RECOURSE_ID",
    "constraint_violations",
    "recourse_evidence",
    "RateCI",
    "RobustnessResult",
    "perturbation_test",
    "ROBUSTNESS_ID",
    "robustness_evidence",
]
