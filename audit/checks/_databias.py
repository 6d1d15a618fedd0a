"""Evidence ``data.bias``: examination of the data for biases (EU AI Act Art. 10(2)(f)).

Three questions about the data, before any model: is every group represented
(count and share), does the share with the positive label differ between groups
(base-rate gaps, with intervals and tests), and are values missing more often
for some groups than others (missingness by group, per feature)?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext
from audit.checks._longform import fmt_ci, long_row, long_table
from audit.evidence import Evidence, Table, clean_number
from audit.fairness.bootstrap import bootstrap_method
from audit.fairness.compare import Comparison, Spread, compare, compare_each
from audit.fairness.groups import Breakdown
from audit.subject import Subject

__all__ = ["data_bias_evidence", "missingness_gaps", "SALT", "EVIDENCE_ID", "TITLE"]

SALT = 4104
EVIDENCE_ID = "data.bias"
TITLE = "Data bias examination (Art. 10(2)(f))"


def data_bias_evidence(subject: Subject, ctx: CheckContext, breakdowns: list[Breakdown]) -> Evidence:
    """Representation, label base rates and missingness, by group."""
    fairness = ctx.spec.fairness
    rng = ctx.rng(SALT)
    labels = subject.y if subject.y is not None else np.zeros(subject.n, dtype=bool)
    comparisons = compare_each(breakdowns, decision=labels, y=None, fairness=fairness, rng=rng,
                               resamples=None if subject.y is not None else 0)
    groups = _representation(comparisons, has_labels=subject.y is not None)
    gaps = [(c.breakdown, c.spread("selection_rate")) for c in comparisons] if subject.y is not None else []
    missing = [
        row
        for c in comparisons
        if len(c.breakdown.attributes) == 1
        for row in missingness_gaps(subject.X, c, resamples=fairness.bootstrap, rng=rng)
    ]
    singles = [r for r in groups if " × " not in r["breakdown"]]
    smallest = min(singles, key=lambda r: r["n"]) if singles else None
    measured_gaps = [(s.value, b, s) for b, s in gaps if s.value is not None]
    best_gap = max(measured_gaps, key=lambda g: g[0], default=None)
    best_missing = max(missing, key=lambda r: r["gap"], default=None)
    metrics = {
        "max_base_rate_gap": best_gap[0] if best_gap else None,
        "max_base_rate_gap_between": _between(best_gap[1], best_gap[2]) if best_gap else None,
        "max_base_rate_gap_p_value": best_gap[2].p_value if best_gap else None,
        # 0 is a measurement only when nothing is missing; values missing but no two groups to compare is unmeasured
        "max_missingness_gap": best_missing["gap"] if best_missing else (
            0.0 if not subject.X.isna().to_numpy().any() else None),
        "max_missingness_feature": f"{best_missing['feature']} by {best_missing['attribute']}"
        if best_missing
        else None,
        "smallest_group_share": smallest["share"] if smallest else None,
        "smallest_group": smallest["key"] if smallest else None,
    }
    return Evidence(
        id=EVIDENCE_ID,
        check="data",
        title=TITLE,
        summary=_summary(metrics, subject.y is not None),
        metrics={k: clean_number(v) for k, v in metrics.items()},
        missing={} if metrics["max_missingness_gap"] is not None else {
            "max_missingness_gap": "values are missing, but no protected attribute has two groups large enough to "
                                   "compare"},
        tables=[
            _representation_table(groups, subject.y is not None),
            *_gap_table(gaps),
            _missing_table(missing),
            long_table(_long(groups, gaps, missing)),
        ],
        method=(
            "Counts and shares of each group of every protected attribute and intersection (share of all rows, "
            "unknown category included in the total). Base rate = share of the group with the positive label, with "
            f"a 95 % interval ({bootstrap_method(fairness.bootstrap)}); the gap is the highest minus the "
            "lowest eligible group, tested with a two-proportion z-test (Fisher's exact test for small cells). "
            "Missingness: share of missing values of each feature in each group of each protected attribute; the "
            "gap is the highest minus the lowest eligible group, with the same interval and test. The smallest "
            "group is taken over single attributes; intersections are shown in the table."
        ),
        limits=[
            "Examines the audit data only: the training data may differ and is not examined unless it is this data.",
            "A base-rate gap describes the labels, which may themselves record past biased decisions; it is not, on "
            "its own, evidence that the data is wrong.",
            "Groups below the minimum size or share are shown but left out of gaps; intervals for small groups are "
            "less reliable.",
            "Only the protected attributes given in the spec are examined; other characteristics are not.",
        ],
        params={
            "seed": ctx.seed,
            "salt": SALT,
            "bootstrap_resamples": fairness.bootstrap,
            "min_group_size": fairness.min_group_size,
            "min_group_share": fairness.min_group_share,
        },
    )


def missingness_gaps(X: pd.DataFrame, c: Comparison, *, resamples: int, rng: np.random.Generator) -> list[dict]:
    """Per feature with any missing value: the largest gap in missing share between eligible groups.

    Each feature's "is missing" flag is treated like a decision, so the gap gets the same Poisson
    bootstrap interval and two-proportion test as every other rate.
    """
    b = c.breakdown
    rows = []
    for feature in X.columns:
        missing = X[feature].isna().to_numpy()
        if not missing.any():
            continue
        flags = compare(b, decision=missing, y=None, resamples=resamples, rng=rng, min_size=0, min_share=0.0)
        flags = Comparison(breakdown=b, cells=flags.cells, boot=flags.boot, reasons=c.reasons)
        spread = flags.spread("selection_rate")
        if spread.value is None or spread.high is None or spread.low is None:  # None together: groups not comparable
            continue
        shares = flags.rate("selection_rate")
        rows.append(
            {
                "attribute": b.name,
                "feature": str(feature),
                "gap": spread.value,
                "ci_low": spread.ci_low,
                "ci_high": spread.ci_high,
                "p_value": spread.p_value,
                "high": b.labels[spread.high],
                "high_share": float(shares[spread.high]),
                "low": b.labels[spread.low],
                "low_share": float(shares[spread.low]),
                "overall": float(missing.mean()),
            }
        )
    return rows


def _representation(comparisons: list[Comparison], *, has_labels: bool) -> list[dict]:
    rows = []
    for c in comparisons:
        b = c.breakdown
        base = c.rate("selection_rate")
        low, high = c.rate_interval("selection_rate")
        for g in range(b.n_groups):
            rows.append(
                {
                    "breakdown": b.name,
                    "group": b.labels[g],
                    "key": b.key(g),
                    "n": int(c.sizes[g]),
                    "share": c.sizes[g] / b.rows,
                    "base_rate": base[g] if has_labels else None,
                    "ci_low": low[g] if has_labels else None,
                    "ci_high": high[g] if has_labels else None,
                    "excluded": c.reasons[g],
                }
            )
        rows.append(
            {
                "breakdown": b.name,
                "group": "unknown",
                "key": f"{b.name}=unknown",
                "n": b.unknown_count,
                "share": b.unknown_count / b.rows,
                "base_rate": None,
                "ci_low": None,
                "ci_high": None,
                "excluded": "unknown category",
                "unknown": True,
            }
        )
    return [r for r in rows if not (r.get("unknown") and r["n"] == 0)]


def _between(b: Breakdown, spread: Spread) -> str:
    if spread.high is None or spread.low is None:
        raise ValueError(f"no gap was measured for {b.name}: there are no two groups to name")
    return f"{b.name}: {b.labels[spread.high]} vs {b.labels[spread.low]}"


def _representation_table(rows: list[dict], has_labels: bool) -> Table:
    records = [
        {
            "breakdown": r["breakdown"],
            "group": r["group"],
            "people": r["n"],
            "share of data": r["share"],
            "base rate": r["base_rate"],
            "95 % CI": fmt_ci(r["ci_low"], r["ci_high"]),
            "left out of gaps (why)": r["excluded"] or "",
        }
        for r in rows
    ]
    note = (
        "Base rate: share of the group with the positive label."
        if has_labels
        else "No labels in the data: base rates are not assessed."
    )
    return Table.from_records("Representation and base rate by group", records, note=note)


def _gap_table(gaps: list[tuple[Breakdown, Spread]]) -> list[Table]:
    if not gaps:
        return []
    records = [
        {
            "breakdown": b.name,
            "base-rate gap": s.value,
            "95 % CI": fmt_ci(s.ci_low, s.ci_high),
            "p-value": s.p_value,
            "test": s.test or "",
            "groups compared": f"{b.labels[s.high]} vs {b.labels[s.low]}" if s.high is not None and s.low is not None else "",
        }
        for b, s in gaps
    ]
    return [Table.from_records("Base-rate gaps (highest minus lowest eligible group)", records)]


def _missing_table(rows: list[dict]) -> Table:
    records = [
        {
            "attribute": r["attribute"],
            "feature": r["feature"],
            "missing overall": r["overall"],
            "most missing": f"{r['high']} ({r['high_share']:.1%})",
            "least missing": f"{r['low']} ({r['low_share']:.1%})",
            "gap": r["gap"],
            "95 % CI": fmt_ci(r["ci_low"], r["ci_high"]),
            "p-value": r["p_value"],
        }
        for r in sorted(rows, key=lambda r: -r["gap"])
    ]
    return Table.from_records(
        "Missing values by group",
        records,
        note="Only features with missing values are listed." if rows else "No feature has missing values.",
    )


def _long(groups: list[dict], gaps: list[tuple[Breakdown, Spread]], missing: list[dict]) -> list[dict]:
    out = []
    for r in groups:
        common = {"check": EVIDENCE_ID, "attribute": r["breakdown"], "group": r["group"], "n": r["n"]}
        out.append(long_row(metric="share", value=r["share"], **common))
        if r["base_rate"] is not None:
            out.append(
                long_row(metric="base_rate", value=r["base_rate"], ci_low=r["ci_low"], ci_high=r["ci_high"], **common)
            )
    for b, s in gaps:
        out.append(
            long_row(
                check=EVIDENCE_ID,
                metric="base_rate_gap",
                attribute=b.name,
                group=f"{b.labels[s.high]} vs {b.labels[s.low]}" if s.high is not None and s.low is not None else "",
                value=s.value,
                ci_low=s.ci_low,
                ci_high=s.ci_high,
                p_value=s.p_value,
            )
        )
    for r in missing:
        out.append(
            long_row(
                check=EVIDENCE_ID,
                metric=f"missingness_gap[{r['feature']}]",
                attribute=r["attribute"],
                group=f"{r['high']} vs {r['low']}",
                value=r["gap"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
                p_value=r["p_value"],
            )
        )
    return out


def _summary(metrics: dict, has_labels: bool) -> str:
    parts = []
    if metrics["smallest_group"] is not None:
        parts.append(
            f"The smallest group is {metrics['smallest_group']}, {metrics['smallest_group_share']:.1%} of the data."
        )
    if has_labels and metrics["max_base_rate_gap"] is not None:
        parts.append(
            f"The share with the positive outcome differs by up to {metrics['max_base_rate_gap'] * 100:.1f} "
            f"percentage points between groups ({metrics['max_base_rate_gap_between']})."
        )
    elif not has_labels:
        parts.append("The data has no labels, so outcome rates by group could not be compared.")
    if metrics["max_missingness_feature"]:
        parts.append(
            f"Missing values differ by up to {metrics['max_missingness_gap'] * 100:.1f} percentage points "
            f"between groups ({metrics['max_missingness_feature']})."
        )
    return " ".join(parts)
