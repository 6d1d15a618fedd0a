"""How ``fairness.error_rates`` reads: its tables, charts, long-form rows, summary, method and limits.

Presentation only: every number here was computed in ``error_rates``; this
module arranges the rows for readers (and for metrics.csv) and words them.
"""

from __future__ import annotations

import numpy as np

from audit.checks._longform import fmt_ci, long_row
from audit.errors import FAIRNESS_NO_SCORES
from audit.evidence import Chart, Table, clean_float
from audit.fairness.bootstrap import RATE_LABELS, bootstrap_method
from audit.fairness.calibration import N_BINS, reliability
from audit.fairness.choice import PRIMARY_METRICS, Choice
from audit.fairness.compare import Comparison
from audit.fairness.individual import CONSISTENCY_SAMPLE, N_NEIGHBORS

__all__ = [
    "group_table",
    "disparity_table",
    "gap_table",
    "long_rows",
    "rate_chart",
    "reliability_charts",
    "summary",
    "method",
    "limits",
    "GROUP_RATES",
    "EVIDENCE_ID",
]

EVIDENCE_ID = "fairness.error_rates"
GROUP_RATES = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy")


def harm_names(favourable_is_positive: bool) -> dict[str, str]:
    """Reader-facing names of the error rates, by the harm they measure (ground truth keeps its meaning)."""
    if favourable_is_positive:
        return {"selection_rate": "positive-decision rate", "fpr": "FPR: wrongly granted", "fnr": "FNR: wrongly denied",
                "tpr": "TPR: rightly granted"}
    return {"selection_rate": "flag rate", "fpr": "FPR: wrongly flagged", "fnr": "FNR: missed (not flagged)",
            "tpr": "TPR: rightly flagged"}


def group_table(rows: list[dict], favourable_is_positive: bool = True) -> Table:
    names = harm_names(favourable_is_positive)
    records = [
        {
            "breakdown": r["breakdown"],
            "group": r["group"],
            "people": r["n"],
            "base rate": r["base_rate"],
            names["selection_rate"]: r["selection_rate"],
            names["tpr"]: r["tpr"],
            "TPR 95 % CI": fmt_ci(*r["tpr_ci"]),
            names["fpr"]: r["fpr"],
            "FPR 95 % CI": fmt_ci(*r["fpr_ci"]),
            names["fnr"]: r["fnr"],
            "precision": r["precision"],
            "precision 95 % CI": fmt_ci(*r["precision_ci"]),
            "accuracy": r["accuracy"],
            "ROC AUC": r["roc_auc"],
            "ECE": r["ece"],
            "left out of gaps (why)": r["excluded"] or "",
        }
        for r in rows
    ]
    harmed = ("FPR: people who did not have the positive outcome but were flagged (the harm of a flag)"
              if not favourable_is_positive else
              "FNR: people with the positive outcome who were nonetheless decided negatively (the harm of a denial)")
    return Table.from_records(
        "Rates by group",
        records,
        note="Base rate: share with the positive outcome. TPR: share of people with the positive outcome who were "
        f"decided positively; FPR: share of people without it who were decided positively. {harmed}. "
        "ECE: expected calibration error (10 bins).",
    )


def disparity_table(rows: list[dict], choice: Choice) -> Table:
    records = [
        {
            "breakdown": r["breakdown"],
            "metric": r["metric"] + (" (primary)" if r["metric"] == choice.metric else ""),
            "value": r["value"],
            "95 % CI": fmt_ci(r["ci_low"], r["ci_high"]),
            "p-value": r["p_value"],
            "test": r["test"] or "",
            "groups compared": r["between"],
        }
        for r in rows
    ]
    return Table.from_records(
        "Disparities: largest gap between eligible groups",
        records,
        note="Differences are highest minus lowest group; the ratio is lowest ÷ highest "
        "selection rate. The p-value tests the two groups named.",
    )


def gap_table(rows: list[dict]) -> Table:
    records = [
        {
            "breakdown": r["breakdown"],
            "group": r["group"],
            "reference": r["reference"],
            "rate": RATE_LABELS[r["rate"]],
            "gap to reference": r["value"],
            "95 % CI": fmt_ci(r["ci_low"], r["ci_high"]),
            "p-value": r["p_value"],
            "test": r["test"] or "",
        }
        for r in rows
    ]
    return Table.from_records(
        "Gaps to the reference group",
        records,
        note="Reference: the group the spec names, else the most selected eligible group.",
    )


def long_rows(
    group_rows: list[dict], gap_rows: list[dict], disparity_rows: list[dict], metrics: dict, sample: int
) -> list[dict]:
    out = []
    for r in group_rows:
        common = {"check": EVIDENCE_ID, "attribute": r["breakdown"], "group": r["group"]}
        for name in GROUP_RATES:
            out.append(
                long_row(
                    metric=name,
                    value=r[name],
                    ci_low=r[f"{name}_ci"][0],
                    ci_high=r[f"{name}_ci"][1],
                    n=r[f"{name}_n"],
                    **common,
                )
            )
        out.append(long_row(metric="roc_auc", value=r["roc_auc"], n=r["n"], **common))
        out.append(long_row(metric="ece", value=r["ece"], n=r["n"], **common))
    for r in gap_rows:
        out.append(
            long_row(
                check=EVIDENCE_ID,
                metric=f"{r['rate']}_difference_vs_{r['reference']}",
                attribute=r["breakdown"],
                group=r["group"],
                value=r["value"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
                n=r["n"],
                p_value=r["p_value"],
            )
        )
    for r in disparity_rows:
        out.append(
            long_row(
                check=EVIDENCE_ID,
                metric=r["metric"],
                attribute=r["breakdown"],
                group=r["between"],
                value=r["value"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
                p_value=r["p_value"],
            )
        )
    out.append(long_row(check=EVIDENCE_ID, metric="consistency", value=metrics["consistency"], n=sample))
    return out


def rate_chart(comparisons: list[Comparison], choice: Choice) -> Chart:
    name = "fpr" if choice.metric == "false_positive_rate_difference" else "tpr"
    labels: list[str] = []
    values: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    for c in comparisons:
        low, high = c.rate_interval(name)
        for g in np.flatnonzero(c.eligible):
            labels.append(c.breakdown.key(int(g)))
            values.append(clean_float(c.rate(name)[g]))
            lows.append(clean_float(low[g]))
            highs.append(clean_float(high[g]))
    return Chart(
        id=f"fairness-{name}-by-group",
        title=f"{RATE_LABELS[name].capitalize()} by group (95 % interval)",
        kind="barh",
        labels=labels,
        values=values,
        ci_low=lows,
        ci_high=highs,
        xlabel=RATE_LABELS[name],
    )


def reliability_charts(comparisons: list[Comparison], masks: list[list[np.ndarray]], y: np.ndarray,
                       score: np.ndarray | None) -> list[Chart]:
    """A reliability curve per group of each single-attribute breakdown; ``masks[i][g]``: the rows of group g of
    comparison i (the sample's, in a partitioned audit)."""
    if score is None:
        return []
    centres = [(k + 0.5) / N_BINS for k in range(N_BINS)]
    charts = []
    for c, rows in zip(comparisons, masks, strict=True):
        b = c.breakdown
        if len(b.attributes) != 1:
            continue
        series: dict[str, list[float | None]] = {"perfect calibration": list(centres)}
        for g in np.flatnonzero(c.eligible):
            mask = rows[g]
            curve = reliability(score[mask], y[mask])
            series[b.labels[g]] = [clean_float(v) for v in curve.observed]
        charts.append(
            Chart(
                id=f"fairness-reliability-{b.name}",
                title=f"Reliability by {b.name}",
                kind="line",
                x=centres,
                series=series,
                xlabel="score (bin centre)",
                ylabel="observed share with the positive outcome",
            )
        )
    return charts


def summary(choice: Choice, metrics: dict) -> str:
    """What the deciding metric measured; whether that is acceptable is the policy layer's to say."""
    if choice.metric is None:
        what = choice.reason.removeprefix("not decided: ")
        return f"All error-rate gaps are shown, but none has been chosen to decide: {what}."
    value = metrics["primary_metric_value"]
    if value is None:
        return f"The deciding metric ({choice.metric}) could not be computed: too few people in comparable groups."
    what = PRIMARY_METRICS[choice.metric][0]
    shown = f"{value:.2f}" if choice.higher_is_better else f"{value * 100:.1f} percentage points"
    low, high = metrics.get("primary_metric_ci_low"), metrics.get("primary_metric_ci_high")
    interval = "" if low is None or high is None else (
        f" (95 % interval {low:.2f} to {high:.2f})" if choice.higher_is_better
        else f" (95 % interval {low * 100:.1f} to {high * 100:.1f} points)")
    return (
        f"The deciding measure, the {what}, is {shown}{interval}, worst in {metrics['primary_metric_breakdown']}. "
        f"It is judged against thresholds.{choice.threshold_id} in the requirements."
    )


def method(resamples: int) -> str:
    return (
        "Rates per group from the confusion matrix of decisions against labels (TPR = selected among people with "
        "the positive outcome; FPR = selected among people without it; FNR = 1 - TPR; precision = people with the "
        "positive outcome among the selected). Disparities: demographic parity difference (selection rates), "
        "equal opportunity difference (TPR), false-positive-rate difference (predictive equality), equalized odds "
        "difference (the larger of the TPR and FPR gaps), predictive parity difference (precision), each the gap "
        "between the highest and lowest eligible group; demographic parity ratio = lowest ÷ highest selection "
        f"rate. 95 % intervals: {bootstrap_method(resamples)}. p-values: two-proportion z-test of the two groups compared (Fisher's exact "
        "test when an expected cell is under 5). Calibration: 10 equal-width score bins; ECE = size-weighted mean "
        "|mean score - observed share|. Theil index: generalized entropy (alpha = 1) of b = decision - label + 1; "
        f"consistency: 1 - mean |decision - mean decision of the {N_NEIGHBORS} nearest neighbours| on a seeded "
        f"sample of at most {CONSISTENCY_SAMPLE:,} rows, numeric features standardised and categorical ones "
        "one-hot encoded (both as defined in aif360). The deciding metric follows the spec's declared "
        "favourable decision (data.favourable_decision) or fairness.primary_metric."
    )


def limits(calibrated: bool, has_score: bool, n_tests: int) -> list[str]:
    out = [
        "Labels are taken as true; if they record past human decisions, error rates inherit those decisions' biases.",
        "The bootstrap treats people as independent draws; percentile intervals can be too narrow for small groups "
        "and rates near 0 or 1, and intervals for a largest gap (max - min) are biased upwards when groups are alike.",
        f"{n_tests} gaps to reference groups are tested; with many tests some small p-values arise by chance.",
        "Fairness metrics conflict: when base rates differ, equal selection rates, equal error rates and equal "
        "precision cannot all hold at once. Only the deciding metric is judged, in the requirements, against a "
        "threshold that the law or the user sets.",
        "The deciding metric is judged on its point estimate (worst breakdown); read its interval and p-value too.",
        "ROC AUC and ECE have no interval; consistency depends on the feature scaling and on how ties between "
        "equally near neighbours are broken (as in aif360: ball tree).",
    ]
    if not has_score:
        out.append(f"ROC AUC and calibration: not assessed: {FAIRNESS_NO_SCORES}.")
    elif not calibrated:
        out.append("Calibration: not assessed: the scores are not probabilities (a score on its own scale, or a multi-class lead).")
    return out
