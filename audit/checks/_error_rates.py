"""Evidence ``fairness.error_rates``: error rates, calibration and disparities by group, and which metric decides.

Needs ground-truth labels; ROC AUC and calibration also need scores. Every
disparity is stated with its reference: per-group gaps are against the
reference group (the spec's, else the most selected eligible group), and the
headline gaps are the largest gap between any two eligible groups of a
breakdown (fairlearn's "between_groups"), worst over all breakdowns.
"""

from __future__ import annotations

import numpy as np

from audit.checks import _error_report as report
from audit.checks._base import CheckContext
from audit.checks._common import bootstrap_params
from audit.checks._error_report import EVIDENCE_ID, GROUP_RATES
from audit.checks._longform import long_table
from audit.errors import FAIRNESS_NO_LABELS
from audit.evidence import Evidence, clean_float, clean_number
from audit.fairness.bootstrap import percentile_interval
from audit.fairness.calibration import N_BINS, reliability
from audit.fairness.choice import Choice, choose_primary
from audit.fairness.compare import Comparison, Spread, compare_cells
from audit.fairness.groups import Breakdown
from audit.fairness.individual import N_NEIGHBORS, consistency, design_matrix, theil_index_of_cells
from audit.fairness.population import count_population
from audit.subject import Subject

__all__ = ["error_rate_evidence", "disparities", "SALT", "CONSISTENCY_SALT", "EVIDENCE_ID", "TITLE", "GROUP_RATES"]

SALT = 4102
CONSISTENCY_SALT = 4103
TITLE = "Error rates and calibration by group"
GAP_RATES = ("selection_rate", "tpr", "fpr", "precision")
#: headline disparity -> rates whose largest between-group gap it is (the largest of them, for equalized odds)
DISPARITIES = {
    "demographic_parity_difference": ("selection_rate",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "false_positive_rate_difference": ("fpr",),
    "predictive_parity_difference": ("precision",),
}


def error_rate_evidence(subject: Subject, ctx: CheckContext, breakdowns: list[Breakdown]) -> Evidence:
    """Per-group rates with intervals, disparities with tests, calibration, Theil index, consistency."""
    if subject.y is None:
        return Evidence.not_assessed(EVIDENCE_ID, "fairness", TITLE, FAIRNESS_NO_LABELS)
    fairness = ctx.spec.fairness
    y, decision = subject.y, np.asarray(subject.predictions.decision, dtype=bool)
    ranking = subject.predictions.score
    score = ranking if subject.score_is_probability else None
    rng = ctx.rng(SALT)
    population = ctx.population or count_population(subject.groups, breakdowns=[b.attributes for b in breakdowns],
                                                    unknown_sets=[], decision=decision, y=y,
                                                    selected=subject.favourable)
    comparisons = [compare_cells(population.breakdown(b.attributes), population.cells(b.attributes, selected=False),
                                 resamples=fairness.bootstrap, rng=rng, min_size=fairness.min_group_size,
                                 min_share=fairness.min_group_share) for b in breakdowns]
    masks = [_row_masks(c.breakdown, b) for c, b in zip(comparisons, breakdowns, strict=True)]
    references = [_reference(c, subject, favourable_is_positive=subject.favourable_is_positive) for c in comparisons]
    group_rows = [r for c, m in zip(comparisons, masks, strict=True) for r in _group_rows(c, m, y, ranking, score)]
    gap_rows = [r for c, ref in zip(comparisons, references, strict=True) for r in _gap_rows(c, ref)]
    disparity_rows = [r for c in comparisons for r in disparities(c)]
    ece_gaps = [_ece_gap(c, group_rows) for c in comparisons]
    matrix = design_matrix(subject.X[subject.tabular_columns], subject.feature_types)  # free text has no distance here
    consistent, used = consistency(matrix, decision, rng=ctx.rng(CONSISTENCY_SALT))
    choice = choose_primary(ctx.spec)
    metrics = _headline(disparity_rows)
    metrics["max_ece_gap"] = max((g for g in ece_gaps if g is not None), default=None)
    metrics["theil_index"] = theil_index_of_cells(population.everyone)
    metrics["consistency"] = consistent
    metrics.update(_primary(choice, disparity_rows))
    return Evidence(
        id=EVIDENCE_ID,
        check="fairness",
        title=TITLE,
        summary=report.summary(choice, metrics),
        metrics={k: clean_number(v) for k, v in metrics.items()},
        missing={k: choice.reason for k in ("primary_metric", "primary_metric_value", "primary_metric_reason")}
        if choice.metric is None else {},
        tables=[
            report.group_table(group_rows, subject.favourable_is_positive),
            report.disparity_table(disparity_rows, choice),
            report.gap_table(gap_rows),
            long_table(report.long_rows(group_rows, gap_rows, disparity_rows, metrics, len(used))),
        ],
        charts=[report.rate_chart(comparisons, choice), *report.reliability_charts(comparisons, masks, y, score)],
        method=report.method(fairness.bootstrap),
        limits=report.limits(score is not None, subject.predictions.score is not None, len(gap_rows)),
        params={
            **bootstrap_params(ctx.spec, seed=ctx.seed, salt=SALT),
            "calibration_bins": N_BINS,
            "consistency_sample": int(len(used)),
            "consistency_neighbors": N_NEIGHBORS,
            "consistency_salt": CONSISTENCY_SALT,
            "decision_nature": fairness.decision_nature,
            "breakdowns": [b.name for b in breakdowns],
        },
    )


def disparities(c: Comparison) -> list[dict]:
    """Headline disparities of one breakdown: value, 95 % interval, p-value, and the two groups compared."""
    b = c.breakdown
    spreads = {rate: c.spread(rate) for rate in ("selection_rate", "tpr", "fpr", "precision")}
    rows = []
    for metric, rates in DISPARITIES.items():
        valued = [(s.value, s) for s in (spreads[r] for r in rates) if s.value is not None]
        if not valued:
            rows.append(_disparity_row(b, metric, Spread(None, None, None, None, None, None, None, None)))
            continue
        chosen = max(valued, key=lambda vs: vs[0])[1]
        samples = [s.samples for _, s in valued if s.samples is not None]
        if len(valued) > 1 and len(samples) == len(valued):
            low, high = percentile_interval(np.fmax(*samples))
            chosen = Spread(
                chosen.value,
                clean_float(low),
                clean_float(high),
                chosen.p_value,
                chosen.test,
                chosen.high,
                chosen.low,
                None,
            )
        rows.append(_disparity_row(b, metric, chosen))
    rows.append(_ratio_row(c, spreads["selection_rate"]))
    return rows


def _disparity_row(b: Breakdown, metric: str, s: Spread) -> dict:
    between = f"{b.labels[s.high]} vs {b.labels[s.low]}" if s.high is not None and s.low is not None else ""
    return {
        "breakdown": b.name,
        "metric": metric,
        "value": s.value,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "p_value": s.p_value,
        "test": s.test,
        "between": between,
    }


def _ratio_row(c: Comparison, s: Spread) -> dict:
    b = c.breakdown
    if s.value is None or s.high is None or s.low is None:  # the three are None together (Comparison.spread)
        return _disparity_row(b, "demographic_parity_ratio", s)
    rate = c.rate("selection_rate")
    value = rate[s.low] / rate[s.high] if rate[s.high] > 0 else np.nan
    samples = c.rate_samples("selection_rate")
    low: float | np.ndarray = np.nan
    high: float | np.ndarray = np.nan
    if samples is not None:
        chosen = samples[:, c.eligible]
        with np.errstate(all="ignore"):
            low, high = percentile_interval(np.nanmin(chosen, axis=1) / np.nanmax(chosen, axis=1))
    return _disparity_row(
        b,
        "demographic_parity_ratio",
        Spread(clean_float(value), clean_float(low), clean_float(high), s.p_value, s.test, s.high, s.low, None),
    )


def _reference(c: Comparison, subject: Subject, *, favourable_is_positive: bool) -> int | None:
    """The spec's reference group, else the most favoured eligible group (for a flag: the least flagged)."""
    b = c.breakdown
    if len(b.attributes) == 1:
        wanted = next((p.reference for p in subject.protected if p.column == b.attributes[0]), None)
        if wanted is not None and wanted in b.labels and c.reasons[b.labels.index(wanted)] is None:
            return b.labels.index(wanted)
    return c.most("selection_rate") if favourable_is_positive else c.least("selection_rate")


def _row_masks(counted: Breakdown, rows: Breakdown) -> list[np.ndarray]:
    """For each group of the counted breakdown, the Subject's rows in it (by the group's values: in a partitioned
    audit the Subject is the sample, which may lack a group; ROC AUC and calibration read these rows)."""
    where = {v: g for g, v in enumerate(rows.values)}
    return [rows.codes == where[v] if v in where else np.zeros(len(rows.codes), dtype=bool) for v in counted.values]


def _group_rows(c: Comparison, masks: list[np.ndarray], y: np.ndarray, ranking: np.ndarray | None,
                probability: np.ndarray | None) -> list[dict]:
    from sklearn.metrics import roc_auc_score

    b = c.breakdown
    figures = {name: (c.rate(name), *c.rate_interval(name), c.parts(name)[1]) for name in GROUP_RATES}
    rows = []
    for g in range(b.n_groups):
        row = {
            "breakdown": b.name,
            "group": b.labels[g],
            "key": b.key(g),
            "n": int(c.sizes[g]),
            "excluded": c.reasons[g],
            "eligible": c.reasons[g] is None,
        }
        for name, (value, low, high, denominator) in figures.items():
            row[name], row[f"{name}_ci"], row[f"{name}_n"] = value[g], (low[g], high[g]), int(denominator[g])
        mask = masks[g]
        both_outcomes = 0 < y[mask].sum() < mask.sum()
        row["roc_auc"] = float(roc_auc_score(y[mask], ranking[mask])) if ranking is not None and both_outcomes else None
        row["ece"] = reliability(probability[mask], y[mask]).ece if probability is not None and mask.any() else None
        rows.append(row)
    return rows


def _gap_rows(c: Comparison, reference: int | None) -> list[dict]:
    if reference is None:
        return []
    b = c.breakdown
    rows = []
    for name in GAP_RATES:
        value, low, high = c.diff_to(name, reference)
        tests = c.test_to(name, reference)
        for g in range(b.n_groups):
            if g == reference or c.reasons[g] is not None:
                continue
            rows.append(
                {
                    "breakdown": b.name,
                    "group": b.labels[g],
                    "reference": b.labels[reference],
                    "rate": name,
                    "value": value[g],
                    "ci_low": low[g],
                    "ci_high": high[g],
                    "p_value": tests[g][0],
                    "test": tests[g][1],
                    "n": int(c.parts(name)[1][g]),
                }
            )
    return rows


def _ece_gap(c: Comparison, group_rows: list[dict]) -> float | None:
    values = [
        r["ece"] for r in group_rows if r["breakdown"] == c.breakdown.name and r["eligible"] and r["ece"] is not None
    ]
    return max(values) - min(values) if len(values) >= 2 else None


def _headline(rows: list[dict]) -> dict:
    metrics: dict = {}
    for metric in (*DISPARITIES, "demographic_parity_ratio"):
        candidates = [r for r in rows if r["metric"] == metric and r["value"] is not None]
        pick = min if metric == "demographic_parity_ratio" else max
        metrics[metric] = pick((r["value"] for r in candidates), default=None)
    return metrics


def _primary(choice: Choice, rows: list[dict]) -> dict:
    value, worst = None, None
    if choice.metric is not None:
        candidates = [r for r in rows if r["metric"] == choice.metric and r["value"] is not None]
        if candidates:
            worst = (min if choice.higher_is_better else max)(candidates, key=lambda r: r["value"])
            value = worst["value"]
    return {
        "primary_metric": choice.metric,
        "primary_metric_value": value,
        "primary_metric_ci_low": worst["ci_low"] if worst else None,
        "primary_metric_ci_high": worst["ci_high"] if worst else None,
        "primary_metric_p_value": worst["p_value"] if worst else None,
        "primary_metric_breakdown": worst["breakdown"] if worst else None,
        "primary_metric_reason": choice.reason if choice.metric is not None else None,
    }
