"""The finding first: the largest measured harm of the deciding fairness metric, in one plain sentence.

The summary of a report opens with it, before the verdict's counts (issue 15, item 1). Which harm is the largest
follows the declared direction through the deciding metric of ``fairness.error_rates`` (``primary_metric``, on
the breakdown where its gap is largest): for a flag (favourable decision negative) the false-positive-rate gap,
so the sentence names the group most often flagged among people without the flagged outcome; for a benefit the
equal-opportunity gap, so it names the group most often turned down among people with the favourable outcome;
for a selection-rate metric, the group least often decided favourably. The group's rate comes with its 95 %
interval and the gap with its own. No sentence when the deciding metric is undecided or was not measured: the
summary then says nothing it cannot back.
"""

from __future__ import annotations

from audit.evidence import AuditResult, Table

__all__ = ["largest_harm"]

# deciding metric -> (the rates table's column prefix, what the rate counts, whose rates: outcome condition)
_HARMS: dict[str, tuple[str, str, str]] = {
    "false_positive_rate_difference": ("FPR:", "{verb}", "whose actual outcome was not “{label}”"),
    "equal_opportunity_difference": ("FNR:", "{verb}", "whose actual outcome was “{label}”"),
    "equalized_odds_difference": ("FPR:", "{verb}", "whose actual outcome was not “{label}”"),
}


def _table(tables: list[Table], prefix: str) -> Table | None:
    return next((t for t in tables if t.title.startswith(prefix)), None)


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _interval(table: Table | None, *, metric: str, attribute: str, group: str) -> str:
    """A group's 95 % interval of ``metric`` from the evidence's long-form table (numbers, not the printed text)."""
    row = next((r for r in (table.records() if table is not None else [])
                if r.get("metric") == metric and r.get("attribute") == attribute and r.get("group") == group), None)
    low, high = (row.get("ci_low"), row.get("ci_high")) if row is not None else (None, None)
    if not isinstance(low, float) or not isinstance(high, float):
        return ""
    return f"{100 * low:.1f}–{100 * high:.1f} %"


def largest_harm(result: AuditResult) -> str | None:
    """One sentence naming the most harmed group, its rate with interval, the comparison group and the gap."""
    ev = result.evidence_by_id().get("fairness.error_rates")
    if ev is None or ev.status != "ok":
        return None
    m = ev.metrics
    metric, breakdown = m.get("primary_metric"), m.get("primary_metric_breakdown")
    gap, low, high = m.get("primary_metric_value"), m.get("primary_metric_ci_low"), m.get("primary_metric_ci_high")
    if not isinstance(metric, str) or not isinstance(breakdown, str) or not isinstance(gap, float):
        return None
    rates, disparities = _table(ev.tables, "Rates by group"), _table(ev.tables, "Disparities")
    if rates is None or disparities is None:
        return None
    pair = next((r for r in disparities.records() if r.get("breakdown") == breakdown
                 and str(r.get("metric", "")).startswith(metric)), None)
    if pair is None or " vs " not in str(pair.get("groups compared", "")):
        return None
    names = str(pair["groups compared"]).split(" vs ")
    by_group = {str(r["group"]): r for r in rates.records() if r.get("breakdown") == breakdown}
    flag = result.subject.get("favourable_decision") == "negative"
    label = str(result.subject.get("positive_label", "positive"))
    if metric in _HARMS:
        prefix, _, who = _HARMS[metric]
        if metric == "equalized_odds_difference" and not flag:
            prefix, who = "FNR:", "whose actual outcome was “{label}”"
        column = next((c for c in rates.columns if c.startswith(prefix)), None)
        long_metric: str | None = prefix.rstrip(":").lower()  # "fpr", "fnr": the long-form table's names
        population = "Among people " + who.format(label=label) + ", "
        verb = column.split(":", 1)[1].strip() if column else ""
    else:  # a rate of decisions: the group least often decided favourably (most often flagged)
        column = rates.columns[4] if len(rates.columns) > 4 else None
        long_metric, population = None, ""
        verb = "flagged" if flag else "decided favourably"
    if column is None or any(n not in by_group for n in names):
        return None
    values = {n: by_group[n][column] for n in names}
    if not all(isinstance(v, float) for v in values.values()):
        return None
    harmed_is_higher = metric in _HARMS or flag
    worst, other = sorted(names, key=lambda n: float(values[n]), reverse=harmed_is_higher)  # type: ignore[arg-type]
    ci = (_interval(_table(ev.tables, "All figures"), metric=long_metric, attribute=breakdown, group=worst)
          if long_metric else "")
    where = "" if " × " in breakdown or "=" in worst else f"{breakdown} "
    gap_text = (f"a gap of {100 * gap:.1f} points (95 % CI {100 * low:.1f} to {100 * high:.1f})"
                if isinstance(low, float) and isinstance(high, float) else f"a gap of {100 * gap:.1f} points")
    return (f"{population}{_pct(float(values[worst]))} of {where}{worst} were {verb}"  # type: ignore[arg-type]
            + (f" (95 % CI {ci})" if ci else "")
            + f", against {_pct(float(values[other]))} of {where}{other}: {gap_text}.")  # type: ignore[arg-type]
