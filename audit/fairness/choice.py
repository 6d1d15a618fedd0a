"""Which fairness metric decides, why, and against which threshold (with the threshold's source).

Fairness metrics conflict: with different base rates no classifier can equalise
all of them at once. So the report must say which one decides and why. The
spec either states the decision's nature (assistive: a positive decision grants
a benefit, so false negatives do the harm; punitive: it harms, so false
positives do) or names the metric with a justification. With neither, nothing
is decided and the requirement stays with a person (REVIEW).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import FAIRNESS_PRIMARY_UNDECIDED, FAIRNESS_PRIMARY_UNKNOWN
from audit.spec import AuditSpec

__all__ = [
    "Choice",
    "choose_primary",
    "judge",
    "resolve_threshold",
    "IMPACT_RATIO_THRESHOLD",
    "IMPACT_RATIO_SOURCE",
    "DIFFERENCE_THRESHOLD",
    "DIFFERENCE_SOURCE",
    "PRIMARY_METRICS",
    "THRESHOLD_IDS",
]

IMPACT_RATIO_THRESHOLD = 0.8
IMPACT_RATIO_SOURCE = "four-fifths rule, 29 CFR 1607.4(D)"
DIFFERENCE_THRESHOLD = 0.1
DIFFERENCE_SOURCE = (
    "our default, after the AI Fairness 360 guidance that reads a gap within ±0.1 as fair; "
    "a convention, not a legal threshold"
)

#: metric -> (plain description, True when higher is better)
PRIMARY_METRICS: dict[str, tuple[str, bool]] = {
    "equal_opportunity_difference": (
        "largest gap between groups in the share of people with the positive outcome "
        "who are selected (true-positive rate)",
        False,
    ),
    "false_positive_rate_difference": (
        "largest gap between groups in the share of people without the positive "
        "outcome who are nonetheless selected (false-positive rate; predictive equality)",
        False,
    ),
    "equalized_odds_difference": ("largest gap in either the true-positive or the false-positive rate", False),
    "demographic_parity_difference": ("largest gap between groups in selection rate", False),
    "demographic_parity_ratio": ("lowest selection rate divided by the highest (impact ratio)", True),
    "predictive_parity_difference": (
        "largest gap between groups in the share of selected people who truly have the positive outcome (precision)",
        False,
    ),
}
#: metric -> the id under which the spec sets its own threshold (``thresholds: {id: {value, set_by}}``),
#: named as in policies/thresholds.yaml where that file has one
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
    """The deciding metric (None = undecided), why, and its threshold with source."""

    metric: str | None
    reason: str
    threshold: float | None
    threshold_source: str | None
    higher_is_better: bool = False


def resolve_threshold(spec: AuditSpec, *, key: str, default: float, source: str) -> tuple[float, str]:
    """The spec's own threshold for ``key`` (with who set it) or the default with its source."""
    override = spec.thresholds.get(key)
    if override is not None:
        return float(override.value), f"set by {override.set_by}"
    return default, source


def choose_primary(spec: AuditSpec) -> Choice:
    """Pick the deciding metric from fairness.primary_metric, else from fairness.decision_nature."""
    fairness = spec.fairness
    if fairness.primary_metric:
        name = _ALIASES.get(fairness.primary_metric.strip().lower(), fairness.primary_metric.strip().lower())
        if name not in PRIMARY_METRICS:
            known = ", ".join(PRIMARY_METRICS)
            return Choice(None, FAIRNESS_PRIMARY_UNKNOWN.format(name=fairness.primary_metric, known=known), None, None)
        why = (
            f"Justification given: {fairness.justification}"
            if fairness.justification
            else "No justification is recorded; the spec should say why this metric was chosen and by whom."
        )
        reason = f"Named in the spec (fairness.primary_metric): {name}, the {PRIMARY_METRICS[name][0]}. {why}"
    elif fairness.decision_nature == "assistive":
        name = "equal_opportunity_difference"
        reason = (
            "The spec says a positive decision grants a benefit (assistive), so the harm to avoid is a false "
            "negative: a person who should be selected is turned down. The deciding metric is therefore the "
            f"equal opportunity difference, the {PRIMARY_METRICS[name][0]}."
        )
    elif fairness.decision_nature == "punitive":
        name = "false_positive_rate_difference"
        reason = (
            "The spec says a positive decision harms (punitive, such as a fraud flag), so the harm to avoid is a "
            "false positive: a person flagged who should not be. The deciding metric is therefore the "
            f"false-positive-rate difference, the {PRIMARY_METRICS[name][0]}."
        )
    else:
        return Choice(None, FAIRNESS_PRIMARY_UNDECIDED, None, None)
    higher = PRIMARY_METRICS[name][1]
    default, default_source = (
        (IMPACT_RATIO_THRESHOLD, IMPACT_RATIO_SOURCE) if higher else (DIFFERENCE_THRESHOLD, DIFFERENCE_SOURCE)
    )
    value, source = resolve_threshold(spec, key=THRESHOLD_IDS[name], default=default, source=default_source)
    return Choice(name, reason, value, source, higher)


def judge(choice: Choice, value: float | None) -> bool | None:
    """Whether the observed value meets the threshold; None when undecided or not measurable."""
    if choice.metric is None or choice.threshold is None or value is None:
        return None
    return bool(value >= choice.threshold) if choice.higher_is_better else bool(value <= choice.threshold)
