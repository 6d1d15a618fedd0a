"""Which fairness metric decides, why, and under which threshold id.

Fairness metrics conflict: with different base rates no classifier can equalise
all of them at once. So the report must say which one decides and why. The
spec either declares which decision favours the person (``data.favourable_decision``,
or its older form ``fairness.decision_nature``) or names the metric with a
justification. A favourable positive decision (a loan, a job) harms through
false negatives, so equal opportunity decides; an adverse positive decision (a
fraud or risk flag) harms through false positives, so the false-positive-rate
gap decides. With neither, nothing is decided and the requirement stays with a
person (REVIEW).

This module only chooses. The threshold's value and whether it binds live in
``policies/thresholds.yaml`` and the spec (:mod:`audit.thresholds`); checks report
the metric's value and never judge it.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import FAIRNESS_PRIMARY_UNDECIDED
from audit.spec import AuditSpec, direction_declared, favourable_is_positive

__all__ = ["Choice", "choose_primary", "canonical_metric", "PRIMARY_METRICS", "THRESHOLD_IDS"]

#: metric -> (plain description, True when higher is better)
PRIMARY_METRICS: dict[str, tuple[str, bool]] = {
    "equal_opportunity_difference": (
        "largest gap between groups in the share of people with the positive outcome "
        "who are decided positively (true-positive rate)",
        False,
    ),
    "false_positive_rate_difference": (
        "largest gap between groups in the share of people without the positive "
        "outcome who are nonetheless decided positively (false-positive rate; predictive equality)",
        False,
    ),
    "equalized_odds_difference": ("largest gap in either the true-positive or the false-positive rate", False),
    "demographic_parity_difference": ("largest gap between groups in the rate of positive decisions", False),
    "demographic_parity_ratio": ("lowest rate of positive decisions divided by the highest", True),
    "predictive_parity_difference": (
        "largest gap between groups in the share of positive decisions that truly have the positive outcome (precision)",
        False,
    ),
}
#: metric -> its threshold id in policies/thresholds.yaml (``thresholds: {id: {value, set_by}}`` in the spec)
THRESHOLD_IDS: dict[str, str] = {
    "equal_opportunity_difference": "equal_opportunity_gap",
    "false_positive_rate_difference": "false_positive_rate_gap",
    "equalized_odds_difference": "equalized_odds_gap",
    "demographic_parity_difference": "demographic_parity_gap",
    "demographic_parity_ratio": "impact_ratio",
    "predictive_parity_difference": "predictive_parity_gap",
}
_ALIASES = {
    "equal_opportunity": "equal_opportunity_difference",
    "true_positive_rate_difference": "equal_opportunity_difference",
    "predictive_equality": "false_positive_rate_difference",
    "fpr_difference": "false_positive_rate_difference",
    "equalized_odds": "equalized_odds_difference",
    "demographic_parity": "demographic_parity_difference",
    "statistical_parity_difference": "demographic_parity_difference",
    "impact_ratio": "demographic_parity_ratio",
    "disparate_impact": "demographic_parity_ratio",
    "predictive_parity": "predictive_parity_difference",
}


@dataclass(frozen=True)
class Choice:
    """The deciding metric (None = undecided), why, and the id of its threshold."""

    metric: str | None
    reason: str
    threshold_id: str | None
    higher_is_better: bool = False


def canonical_metric(name: str) -> str | None:
    """The metric a user's name (or alias) stands for, or None when it is not one we know."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in PRIMARY_METRICS else None


def choose_primary(spec: AuditSpec) -> Choice:
    """Pick the deciding metric from fairness.primary_metric, else from the declared direction.

    An unknown ``fairness.primary_metric`` is an input error found before any work
    (``pipeline``), so here it can only be a known name.
    """
    fairness = spec.fairness
    if fairness.primary_metric:
        name = canonical_metric(fairness.primary_metric) or fairness.primary_metric
        why = (
            f"Justification given: {fairness.justification}"
            if fairness.justification
            else "No justification is recorded; the spec should say why this metric was chosen and by whom."
        )
        reason = f"Named in the spec (fairness.primary_metric): {name}, the {PRIMARY_METRICS[name][0]}. {why}"
    elif not direction_declared(spec):
        return Choice(None, FAIRNESS_PRIMARY_UNDECIDED, None)
    elif favourable_is_positive(spec):
        name = "equal_opportunity_difference"
        reason = (
            "The spec says the positive decision favours the person (a benefit granted), so the harm to avoid is a "
            "false negative: a person who should be decided positively is turned down. The deciding metric is "
            f"therefore the equal opportunity difference, the {PRIMARY_METRICS[name][0]}."
        )
    else:
        name = "false_positive_rate_difference"
        reason = (
            "The spec says the positive decision is adverse (a flag, such as fraud or risk), so the harm to avoid is "
            "a false positive: a person flagged who should not be. The deciding metric is therefore the "
            f"false-positive-rate difference, the {PRIMARY_METRICS[name][0]}."
        )
    return Choice(name, reason, THRESHOLD_IDS[name], PRIMARY_METRICS[name][1])
