"""Evidence ``fairness.selection_rate``: favourable-decision (or scoring) rates and impact ratios of every group.

The general disparity evidence: every protected attribute (age and the others included) and
every configured intersection, under the spec's general group-size rules. The LL144 / Uniform
Guidelines view, restricted to the EEO categories and with no minimum group size, is
``fairness.eeo_impact`` (``_eeo.py``), which reuses :func:`selection_indicator`, :func:`group_rows`, :func:`impact_long_rows`
and :func:`impact_chart`.

- Selection rate: people given the favourable decision in a group / people in that
  group (for a fraud or risk flag, the share *not* flagged).
- Scoring rate (scoring tools): share of a group on the favourable side of the
  full-sample median score.
- Impact ratio: a group's rate / the rate of the most favoured group (per breakdown),
  so the lowest ratio always belongs to the group the decisions disfavour most.
- Groups under the minimum share or size (fairness.min_group_share, fairness.min_group_size)
  are left out of the ratios; their count and rate are still shown with the reason, and the
  lowest ratio is then marked partial (a rule may FAIL on it but not PASS). People whose
  category is unknown are counted and left out.

Works from decisions alone: no model and no labels are needed.
"""

from __future__ import annotations

import numpy as np

from audit.checks._base import CheckContext
from audit.checks._common import bootstrap_params
from audit.checks._longform import fmt_ci, long_row, long_table
from audit.errors import FAIRNESS_NO_SCORES
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.fairness.bootstrap import bootstrap_method
from audit.fairness.compare import Comparison, compare_cells
from audit.fairness.groups import Breakdown
from audit.fairness.population import count_population
from audit.fairness.significance import holm
from audit.subject import MISSING_GROUP, Subject
from audit.thresholds import reference_line

__all__ = ["selection_evidence", "selection_indicator", "group_rows", "impact_long_rows", "impact_chart", "rate_verb",
           "chance_text", "SALT",
           "EVIDENCE_ID", "TITLE"]

SALT = 4101
EVIDENCE_ID = "fairness.selection_rate"
TITLE = "Selection rates and impact ratios"


def selection_indicator(subject: Subject) -> tuple[np.ndarray, str, float | None]:
    """What counts as "selected": the favourable decision, or (scoring tools) the favourable side of the median score."""
    score = subject.predictions.score
    if subject.spec.system.use == "scoring" and score is not None:
        median = float(np.median(score))
        above = np.asarray(score > median, dtype=bool)
        return (above if subject.favourable_is_positive else ~above), "scoring", median
    return subject.favourable, "selection", None


def selection_evidence(subject: Subject, ctx: CheckContext, breakdowns: list[Breakdown]) -> Evidence:
    """Rates, impact ratios with intervals and tests, and the impact-ratio chart (the LL144 tables are eeo_impact's)."""
    fairness = ctx.spec.fairness
    selected, kind, median = selection_indicator(subject)
    everyone = tuple(str(c) for c in subject.groups.columns)
    sets = [b.attributes for b in breakdowns]
    population = ctx.population or count_population(subject.groups, breakdowns=sets, unknown_sets=[everyone],
                                                    decision=subject.predictions.decision, y=subject.y,
                                                    selected=selected)
    rng = ctx.rng(SALT)
    comparisons = [compare_cells(population.breakdown(a), population.cells(a, selected=True),
                                 resamples=fairness.bootstrap, rng=rng, min_size=fairness.min_group_size,
                                 min_share=fairness.min_group_share) for a in sets]
    rows = [row for c in comparisons for row in group_rows(c)]
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_value_holm"] = adjusted
    compared = [r for r in rows if r["excluded"] is None and not r["is_reference"] and r["impact_ratio"] is not None]
    worst = min(compared, key=lambda r: r["impact_ratio"]) if compared else None
    unknown = population.unknown_among(everyone)
    metrics = {
        "favourable_decision": "positive" if subject.favourable_is_positive else "negative",
        "rate_kind": kind,
        "min_impact_ratio": worst["impact_ratio"] if worst else None,
        "min_impact_ratio_group": worst["key"] if worst else None,
        "min_impact_ratio_ci_low": worst["ratio_ci_low"] if worst else None,
        "min_impact_ratio_ci_high": worst["ratio_ci_high"] if worst else None,
        "min_impact_ratio_p_value": worst["p_value"] if worst else None,
        "n_groups_excluded": sum(r["excluded"] is not None for r in rows),
        "unknown_count": unknown,
        "median_score": median,
    }
    partial = _not_compared(comparisons, rows)
    line, line_label = reference_line(ctx.spec, "impact_ratio")
    return Evidence(
        id=EVIDENCE_ID,
        check="fairness",
        title=TITLE,
        summary=_summary(worst, kind, metrics, partial, subject.favourable_is_positive),
        metrics={k: clean_number(v) for k, v in metrics.items()},
        missing={} if worst else {"min_impact_ratio": partial.get("min_impact_ratio") or
                                  "no breakdown had two groups large enough to compare"},
        partial=partial if worst else {},
        tables=[
            _detail_table(rows, kind),
            long_table(impact_long_rows(rows, comparisons, kind, check=EVIDENCE_ID)),
        ],
        charts=[impact_chart(rows, line, line_label, chart_id="fairness-impact-ratio",
                             title="Impact ratio by group (95 % interval)",
                             xlabel="impact ratio (group's favourable-decision rate ÷ most favoured group's)")],
        method=_method(kind, fairness.bootstrap),
        limits=_limits(len(compared), kind, scoring_declared=ctx.spec.system.use == "scoring"),
        params={
            **bootstrap_params(ctx.spec, seed=ctx.seed, salt=SALT),
            "breakdowns": [b.name for b in breakdowns],
            "decisions_from": subject.predictions.source,
        },
    )


def group_rows(c: Comparison) -> list[dict]:
    """One row per group of a breakdown: size, selected, rate, ratio to the eligible group with the highest rate, test."""
    b = c.breakdown
    rate = c.rate("selection_rate")
    low, high = c.rate_interval("selection_rate")
    reference = c.most("selection_rate")
    n_total = b.rows
    if reference is not None and rate[reference] > 0:
        ratio, ratio_low, ratio_high = c.ratio_to("selection_rate", reference)
        tests = c.test_to("selection_rate", reference)
    else:
        ratio = ratio_low = ratio_high = np.full(b.n_groups, np.nan)
        tests = [(None, None)] * b.n_groups
    rows = []
    for g in range(b.n_groups):
        eligible = c.reasons[g] is None
        rows.append(
            {
                "breakdown": b.name,
                "category": b.labels[g],
                "key": b.key(g),
                "n": int(c.sizes[g]),
                "share": c.sizes[g] / n_total,
                "selected": int(c.cells[g, 1]),
                "rate": rate[g],
                "rate_ci_low": low[g],
                "rate_ci_high": high[g],
                "is_reference": g == reference,
                "impact_ratio": clean_number(ratio[g]) if eligible else None,
                "ratio_ci_low": clean_number(ratio_low[g]) if eligible else None,
                "ratio_ci_high": clean_number(ratio_high[g]) if eligible else None,
                "p_value": tests[g][0] if eligible else None,
                "test": tests[g][1] if eligible else None,
                "excluded": c.reasons[g],
            }
        )
    return rows


def _not_compared(comparisons: list[Comparison], rows: list[dict]) -> dict[str, str]:
    """Why the lowest impact ratio covers only part of the groups: breakdowns not compared, groups left out."""
    reasons = []
    for c in comparisons:
        b = c.breakdown
        ratios = [r for r in rows if r["breakdown"] == b.name and r["impact_ratio"] is not None and not r["is_reference"]]
        if not ratios:
            eligible = [b.labels[g] for g in range(b.n_groups) if c.reasons[g] is None]
            why = ("nobody in its most favoured group had the favourable decision" if len(eligible) >= 2
                   else f"fewer than two groups large enough to compare ({', '.join(eligible) or 'none'})")
            reasons.append(f"{b.name} was not compared: {why}")
    left_out = [f"{r['key']} ({r['n']} people, {r['excluded']})" for r in rows if r["excluded"] is not None]
    if left_out:
        reasons.append(f"{len(left_out)} groups were left out as too small: {'; '.join(left_out[:6])}"
                       + (" ..." if len(left_out) > 6 else "")
                       + " (fairness.min_group_share and fairness.min_group_size decide which)")
    return {"min_impact_ratio": "; ".join(reasons)} if reasons else {}


def _detail_table(rows: list[dict], kind: str) -> Table:
    records = [
        {
            "breakdown": r["breakdown"],
            "group": r["category"],
            "people": r["n"],
            "share": r["share"],
            f"{kind} rate": r["rate"],
            "95 % CI": fmt_ci(r["rate_ci_low"], r["rate_ci_high"]),
            "impact ratio": r["impact_ratio"],
            "ratio 95 % CI": fmt_ci(r["ratio_ci_low"], r["ratio_ci_high"]),
            "p-value": r["p_value"],
            "p (Holm)": r["p_value_holm"],
            "test": r["test"] or "",
            "reference": "most favoured" if r["is_reference"] else "",
        }
        for r in rows
    ]
    return Table.from_records(
        "Rates and impact ratios with 95 % intervals and tests",
        records,
        note="p-value: two-sided test of the group's rate against the most favoured group's; "
        "p (Holm): adjusted for the number of tests in this table.",
    )


def impact_long_rows(rows: list[dict], comparisons: list[Comparison], kind: str, *, check: str) -> list[dict]:
    """metrics.csv rows of a rates-and-ratios evidence (``check`` is its id): share, rate and ratio per group,
    and each breakdown's unknown count."""
    out = []
    for r in rows:
        common = {"check": check, "attribute": r["breakdown"], "group": r["category"], "n": r["n"]}
        out.append(long_row(metric="share", value=r["share"], **common))
        out.append(long_row(metric=f"{kind}_rate", value=r["rate"], ci_low=r["rate_ci_low"],
                            ci_high=r["rate_ci_high"], **common))
        out.append(long_row(metric="impact_ratio", value=r["impact_ratio"], ci_low=r["ratio_ci_low"],
                            ci_high=r["ratio_ci_high"], p_value=r["p_value"], **common))
    for c in comparisons:
        out.append(long_row(check=check, metric="unknown_count", attribute=c.breakdown.name,
                            group=MISSING_GROUP, value=c.breakdown.unknown_count))
    return out


def impact_chart(rows: list[dict], line: float, line_label: str, *, chart_id: str, title: str, xlabel: str) -> Chart:
    """Horizontal bars of every compared group's impact ratio with its interval and the threshold line."""
    shown = [r for r in rows if r["impact_ratio"] is not None]
    return Chart(
        id=chart_id,
        title=title,
        kind="barh",
        labels=[r["key"] for r in shown],
        values=[r["impact_ratio"] for r in shown],
        ci_low=[r["ratio_ci_low"] for r in shown],
        ci_high=[r["ratio_ci_high"] for r in shown],
        xlabel=xlabel,
        reference=line,
        reference_label=line_label,
    )


def rate_verb(kind: str, favourable_is_positive: bool) -> str:
    """What the people counted in a rate did, for a sentence: were selected, scored above the median, ..."""
    if favourable_is_positive:
        return "scored above the median" if kind == "scoring" else "were selected"
    return "scored on the favourable side of the median" if kind == "scoring" else "were left unflagged"


def chance_text(p: float | None) -> str:
    """The test of the lowest ratio in words: how likely a gap this large would be if the rates were equal."""
    if p is None:
        return "no test was possible"
    if p < 0.001:
        return "a gap this large would be very unlikely if the rates were really equal"
    return f"the chance of a gap this large if the rates were really equal is p = {p:.3g}"


def _summary(worst: dict | None, kind: str, metrics: dict, partial: dict[str, str], favourable_is_positive: bool) -> str:
    verb = rate_verb(kind, favourable_is_positive)
    most = "the most selected group" if favourable_is_positive else "the least flagged group"
    if worst is None:
        return (
            f"No impact ratio could be computed: {partial.get('min_impact_ratio') or 'no two groups to compare'}; "
            f"{metrics['n_groups_excluded']} small groups are shown with their counts and rates."
        )
    text = (
        f"People in {worst['key']} {verb} at {worst['impact_ratio']:.2f} times the rate of {most} "
        f"of the same breakdown ({chance_text(worst['p_value'])})."
    )
    if partial:
        text += f" The lowest ratio covers only part of the groups: {partial['min_impact_ratio']}."
    return text


def _method(kind: str, resamples: int) -> str:
    rate = (
        "scoring rate = share of the group on the favourable side of the median score of the whole sample"
        if kind == "scoring"
        else "selection rate = people given the favourable decision in the group ÷ people in the group"
    )
    return (
        f"For each protected attribute and each configured intersection: {rate}; impact ratio = the group's rate ÷ "
        "the rate of the most favoured eligible group of the same breakdown (as NYC LL144, 6 RCNY 5-300, defines "
        "it; the LL144 tables of the EEO categories are in the evidence fairness.eeo_impact). The "
        "favourable decision is the one the spec declares (data.favourable_decision): for a flag, not being flagged. "
        f"95 % intervals: {bootstrap_method(resamples)}; the reference group is the observed most favoured "
        "group. p-values: two-sided two-proportion z-test against the most favoured group, or Fisher's exact "
        "test when an expected cell count is under 5; Holm-adjusted p-values are shown alongside. Groups under "
        "the minimum share (fairness.min_group_share) or size (fairness.min_group_size) are left out of ratios and "
        "shown with the reason; people with an unknown category are counted and left out."
    )


def _limits(n_tests: int, kind: str, *, scoring_declared: bool) -> list[str]:
    out = [
        "The bootstrap treats people as independent draws from the population the data represents; intervals do "
        "not cover errors in the data itself (mislabelled groups, a sample that is not representative).",
        "Percentile intervals can be too narrow for small groups and for rates near 0 or 1; the observed most "
        "selected group is held fixed as the reference in every resample.",
        f"{n_tests} groups are tested against their reference; with many tests some small p-values arise by chance. "
        "Read the Holm-adjusted p-values for the chance of any false alarm.",
        "The four-fifths rule is a rule of thumb of US enforcement agencies (29 CFR 1607.4(D)), binding only for "
        "that requirement; LL144 itself sets no passing impact ratio, and EU law sets none.",
        "Rates measure outcomes only; a gap may have causes outside the system (the applicant pool), and equal "
        "rates do not show that individual decisions were fair.",
    ]
    if kind == "scoring":
        out.append("The median score is taken from the whole sample and held fixed in the resamples.")
    elif scoring_declared:
        out.append(
            f"The spec says the tool scores people, but scoring rates are not assessed: {FAIRNESS_NO_SCORES}; "
            "selection rates of the decisions are shown instead."
        )
    return out
