"""Evidence ``fairness.eeo_impact``: selection (or scoring) rates and impact ratios of the EEO categories.

The US employment rules measure adverse impact for EEO categories only:

- the Uniform Guidelines, 29 CFR 1607.4(D), for race, sex and ethnic group (age is the
  ADEA's, 1607.2(D), and is not covered here);
- NYC Local Law 144, 6 RCNY § 5-301(b) (selection rates) and (c) (scoring rates), for sex,
  race/ethnicity and the intersectional sex × race/ethnicity categories, with the number of
  people whose category is unknown.

Which protected attributes are EEO categories is read from the spec (``data.protected[].kind``
in :data:`audit.spec.EEO_KINDS`), never guessed from a column name. Breakdowns: each EEO
attribute alone, and each sex attribute crossed with each race/ethnicity attribute.

Unlike ``fairness.selection_rate`` no minimum group size applies: every category is compared
with the category of the highest rate of its breakdown (the reference). The only exclusion is
the one § 5-301(d) allows: categories under 2 % of the audit data, when the auditor chooses it
with a justification (``fairness.small_category_exclusion``); they are still shown with their
count and rate, and the lowest ratio is then marked partial (a rule may FAIL on it, never PASS).
"""

from __future__ import annotations

import dataclasses

from audit.checks._base import CheckContext
from audit.checks._common import bootstrap_params
from audit.checks._longform import long_table
from audit.checks._selection import (
    chance_text,
    group_rows,
    impact_chart,
    impact_long_rows,
    rate_verb,
    selection_indicator,
)
from audit.evidence import Evidence, Table, clean_number
from audit.fairness.bootstrap import bootstrap_method
from audit.fairness.compare import Comparison, compare_cells
from audit.fairness.groups import LL144_SHARE
from audit.fairness.population import count_population
from audit.spec import EEO_KINDS, AuditSpec, SmallCategoryExclusion
from audit.subject import Subject
from audit.thresholds import reference_line

__all__ = ["eeo_evidence", "eeo_attributes", "eeo_breakdowns", "SALT", "EVIDENCE_ID", "TITLE", "NO_EEO_ATTRIBUTE"]

SALT = 4106
EVIDENCE_ID = "fairness.eeo_impact"
TITLE = "EEO impact ratios: sex, race/ethnicity and their intersection (NYC LL144, 29 CFR 1607.4)"
NO_EEO_ATTRIBUTE = (
    "no protected attribute is declared as sex, race, ethnicity or race_ethnicity (data.protected[].kind)"
)
SEX_KINDS = frozenset({"sex"})
RACE_KINDS = EEO_KINDS - SEX_KINDS  # race, ethnicity, race_ethnicity


def eeo_attributes(spec: AuditSpec, columns: list[str]) -> tuple[list[str], list[str]]:
    """The protected columns (of ``columns``) declared as sex, and those declared as race/ethnicity, in spec order."""
    declared = [p for p in spec.data.protected_specs() if p.column in set(columns)]
    sexes = [p.column for p in declared if p.kind in SEX_KINDS]
    races = [p.column for p in declared if p.kind in RACE_KINDS]
    return sexes, races


def eeo_breakdowns(spec: AuditSpec, columns: list[str]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The EEO columns (in the data's order) and the breakdowns this evidence counts: each, then sex × race pairs."""
    sexes, races = eeo_attributes(spec, columns)
    eeo = tuple(c for c in columns if c in set(sexes) | set(races))
    return eeo, [(c,) for c in eeo] + [(s, r) for s in sexes for r in races]


def eeo_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """LL144 rates and impact ratios of the EEO categories, or not assessed when none is declared."""
    sexes, races = eeo_attributes(ctx.spec, [str(c) for c in subject.groups.columns])
    columns, sets = eeo_breakdowns(ctx.spec, [str(c) for c in subject.groups.columns])
    if not columns:
        return Evidence.not_assessed(EVIDENCE_ID, "fairness", TITLE, NO_EEO_ATTRIBUTE)
    fairness = ctx.spec.fairness
    exclusion = fairness.small_category_exclusion
    selected, kind, _median = selection_indicator(subject)
    population = ctx.population or count_population(subject.groups, breakdowns=sets, unknown_sets=[columns],
                                                    decision=subject.predictions.decision, y=subject.y,
                                                    selected=selected)
    breakdowns = [population.breakdown(a) for a in sets]
    rng = ctx.rng(SALT)
    # no minimum size; the 2 % share only when the auditor chose it (6 RCNY § 5-301(d))
    comparisons = [
        _with_reason(compare_cells(b, population.cells(b.attributes, selected=True), resamples=fairness.bootstrap,
                                   rng=rng, min_size=0, min_share=LL144_SHARE if exclusion else 0.0), exclusion)
        for b in breakdowns
    ]
    rows = [row for c in comparisons for row in group_rows(c)]
    compared = [r for r in rows if r["excluded"] is None and not r["is_reference"] and r["impact_ratio"] is not None]
    worst = min(compared, key=lambda r: r["impact_ratio"]) if compared else None
    # 29 CFR 1607.4(D) names race, sex and ethnic groups, not their intersections: its own minimum.
    single = set(sexes) | set(races)
    compared_single = [r for r in compared if r["breakdown"] in single]
    worst_single = min(compared_single, key=lambda r: r["impact_ratio"]) if compared_single else None
    reported = {b.name: b.n_groups >= 2 for b in breakdowns}
    n_excluded = sum(r["excluded"] is not None for r in rows)
    metrics = {
        "rate_kind": kind,
        "breakdowns": ", ".join(b.name for b in breakdowns),
        "sex_reported": any(reported[s] for s in sexes),
        "race_ethnicity_reported": any(reported[r] for r in races),
        "intersection_reported": any(reported[b.name] for b in breakdowns if len(b.attributes) > 1),
        "min_impact_ratio": worst["impact_ratio"] if worst else None,
        "min_impact_ratio_group": worst["key"] if worst else None,
        "min_impact_ratio_ci_low": worst["ratio_ci_low"] if worst else None,
        "min_impact_ratio_ci_high": worst["ratio_ci_high"] if worst else None,
        "min_impact_ratio_p_value": worst["p_value"] if worst else None,
        "min_attribute_impact_ratio": worst_single["impact_ratio"] if worst_single else None,
        "min_attribute_impact_ratio_group": worst_single["key"] if worst_single else None,
        "min_attribute_impact_ratio_ci_low": worst_single["ratio_ci_low"] if worst_single else None,
        "min_attribute_impact_ratio_ci_high": worst_single["ratio_ci_high"] if worst_single else None,
        "min_attribute_impact_ratio_p_value": worst_single["p_value"] if worst_single else None,
        "n_applicants": population.rows,
        "unknown_count": population.unknown_among(columns),
        "n_excluded": n_excluded,
    }
    partial_all = _partial(comparisons, rows, exclusion)
    single_comparisons = [c for c in comparisons if c.breakdown.name in single]
    partial_single = _partial(single_comparisons, [r for r in rows if r["breakdown"] in single], exclusion)
    partial = {**(partial_all if worst else {}),
               **({"min_attribute_impact_ratio": partial_single["min_impact_ratio"]}
                  if worst_single and "min_impact_ratio" in partial_single else {})}
    missing = {}
    if not worst:
        missing["min_impact_ratio"] = partial_all.get("min_impact_ratio") or "no breakdown had two categories to compare"
    if not worst_single:
        missing["min_attribute_impact_ratio"] = (partial_single.get("min_impact_ratio")
                                                 or "neither sex nor race/ethnicity had two categories to compare")
    line, line_label = reference_line(ctx.spec, "impact_ratio")
    favourable_is_positive = subject.favourable_is_positive
    return Evidence(
        id=EVIDENCE_ID,
        check="fairness",
        title=TITLE,
        summary=_summary(worst, kind, metrics, partial_all, favourable_is_positive) + _undeclared(sexes, races),
        metrics={k: clean_number(v) for k, v in metrics.items()},
        missing=missing,
        partial=partial,
        tables=[
            *(_ll144_table(c, rows, kind, favourable_is_positive, exclusion) for c in comparisons),
            long_table(impact_long_rows(rows, comparisons, kind, check=EVIDENCE_ID)),
        ],
        charts=[impact_chart(rows, line, line_label, chart_id="fairness-eeo-impact-ratio",
                             title="Impact ratio by EEO category (95 % interval)",
                             xlabel="impact ratio (category's rate ÷ the highest rate of its breakdown)")],
        method=_method(kind, fairness.bootstrap, exclusion),
        limits=_limits(kind, len(compared), races),
        params={
            **{k: v for k, v in bootstrap_params(ctx.spec, seed=ctx.seed, salt=SALT).items()
               if k not in ("min_group_size", "min_group_share")},  # the general size rules do not apply here
            "min_category_share": LL144_SHARE if exclusion else 0.0,
            "excluded_by": exclusion.by if exclusion else None,
            "eeo_attributes": [f"{p.column} ({p.kind})" for p in ctx.spec.data.protected_specs()
                               if p.column in columns],
            "breakdowns": [b.name for b in breakdowns],
            "decisions_from": subject.predictions.source,
        },
    )


def _with_reason(c: Comparison, exclusion: SmallCategoryExclusion | None) -> Comparison:
    """The comparison with the auditor's reason in place of the generic one (only the 2 % rule can exclude here)."""
    if exclusion is None:
        return c
    why = f"under 2 % of the data, excluded by {exclusion.by}: {exclusion.justification}"
    return dataclasses.replace(c, reasons=[None if r is None else why for r in c.reasons])


def _partial(comparisons: list[Comparison], rows: list[dict],
             exclusion: SmallCategoryExclusion | None) -> dict[str, str]:
    """Why the lowest ratio covers only part of the EEO categories: breakdowns not compared, categories excluded."""
    reasons = []
    for c in comparisons:
        b = c.breakdown
        ratios = [r for r in rows
                  if r["breakdown"] == b.name and r["impact_ratio"] is not None and not r["is_reference"]]
        if not ratios:
            eligible = [b.labels[g] for g in range(b.n_groups) if c.reasons[g] is None]
            why = ("nobody in its category with the highest rate had the favourable decision" if len(eligible) >= 2
                   else f"fewer than two categories to compare ({', '.join(eligible) or 'none'})")
            reasons.append(f"{b.name} was not compared: {why}")
    left_out = [f"{r['key']} ({r['n']} {'person' if r['n'] == 1 else 'people'})"
                for r in rows if r["excluded"] is not None]
    if left_out and exclusion is not None:
        reasons.append(f"{len(left_out)} categories under 2 % of the data were excluded by {exclusion.by} "
                       f"({exclusion.justification}): {'; '.join(left_out[:6])}"
                       + (" ..." if len(left_out) > 6 else ""))
    return {"min_impact_ratio": "; ".join(reasons)} if reasons else {}


def _names(kind: str, favourable_is_positive: bool) -> tuple[str, str]:
    """Column names of the count and the rate, in LL144's words (a flag: the favourable side, not flagged)."""
    if favourable_is_positive:
        counted = "Number scoring above median" if kind == "scoring" else "Number selected"
        rate_name = "Scoring rate" if kind == "scoring" else "Selection rate"
    else:
        counted = "Number on the favourable side of the median" if kind == "scoring" else "Number not flagged"
        rate_name = "Favourable scoring rate" if kind == "scoring" else "Not-flagged rate"
    return counted, rate_name


def _ll144_table(c: Comparison, rows: list[dict], kind: str, favourable_is_positive: bool,
                 exclusion: SmallCategoryExclusion | None) -> Table:
    b = c.breakdown
    counted, rate_name = _names(kind, favourable_is_positive)
    records = []
    for r in rows:
        if r["breakdown"] != b.name:
            continue
        record: dict[str, object] = {"Category": r["category"], "Number of applicants": r["n"],
                                     counted: r["selected"], rate_name: r["rate"]}
        if not favourable_is_positive:
            record["Flag rate"] = None if r["rate"] is None else 1.0 - float(r["rate"])
        record["Impact ratio"] = r["impact_ratio"]
        record["Excluded from impact ratio (why)"] = r["excluded"] or ""
        records.append(record)
    reference = c.most("selection_rate")
    most = "most selected" if favourable_is_positive else "least flagged"
    if kind == "scoring":
        most = "highest scoring"
    note = (
        f"Impact ratio = the category's {rate_name.lower()} ÷ that of the {most} category"
        f" ({b.labels[reference] if reference is not None else 'none to compare'}). "
        f"{b.unknown_count:,} people whose {b.name} is unknown are not counted in this table."
    )
    excluded = sum(r is not None for r in c.reasons)
    if exclusion is not None:
        note += (f" Categories under 2 % of the data are left out of the impact ratios ({excluded} here), as chosen by "
                 f"{exclusion.by}: {exclusion.justification} (6 RCNY § 5-301(d)).")
    else:
        note += " Every category is compared: no category was excluded."
    return Table.from_records(f"LL144 summary: {b.name}", records, note=note)


def _summary(worst: dict | None, kind: str, metrics: dict, partial: dict[str, str],
             favourable_is_positive: bool) -> str:
    verb = rate_verb(kind, favourable_is_positive)
    unknown = (f" {metrics['unknown_count']:,} people whose sex or race/ethnicity is unknown are counted and left "
               "out of the rates.")
    if worst is None:
        return (f"No EEO impact ratio could be computed ({metrics['breakdowns']}): "
                f"{partial.get('min_impact_ratio') or 'no two categories to compare'}." + unknown)
    text = (
        f"Of the EEO categories ({metrics['breakdowns']}), people in {worst['key']} {verb} at "
        f"{worst['impact_ratio']:.2f} times the rate of the category with the highest rate in the same breakdown "
        f"({chance_text(worst['p_value'])})." + unknown
    )
    if partial:
        text += f" The lowest ratio covers only part of the categories: {partial['min_impact_ratio']}."
    return text


def _undeclared(sexes: list[str], races: list[str]) -> str:
    """What LL144 asks for that the spec does not declare: no sex, or no race/ethnicity attribute (so no intersection)."""
    if not sexes:
        return (" No protected attribute is declared as sex (data.protected[].kind), so neither sex nor the "
                "intersectional categories are reported.")
    if not races:
        return (" No protected attribute is declared as race, ethnicity or race_ethnicity (data.protected[].kind), "
                "so neither race/ethnicity nor the intersectional categories are reported.")
    return ""


def _method(kind: str, resamples: int, exclusion: SmallCategoryExclusion | None) -> str:
    rate = (
        "scoring rate = share of the category scoring on the favourable side of the median score of the whole "
        "sample (6 RCNY § 5-301(c))"
        if kind == "scoring"
        else "selection rate = people given the favourable decision in the category ÷ people in the category "
        "(6 RCNY § 5-301(b))"
    )
    excluded = (
        f"Categories under 2 % of the audit data are left out of the impact ratios, as chosen by {exclusion.by}: "
        f"{exclusion.justification} (6 RCNY § 5-301(d)); they are shown with their count and rate."
        if exclusion is not None
        else "No category is excluded: LL144 sets no minimum size, and only allows leaving out categories under "
        "2 % of the data by the auditor's choice (fairness.small_category_exclusion), which was not made."
    )
    return (
        "EEO categories are the protected attributes the spec declares as sex, race, ethnicity or race_ethnicity "
        "(data.protected[].kind); age and other attributes are not EEO categories here (29 CFR 1607.4(D); "
        "6 RCNY § 5-301). For each sex and each race/ethnicity attribute, and for each sex × race/ethnicity "
        f"intersection: {rate}; impact ratio = the category's rate ÷ the rate of the category with the highest "
        f"rate of the same breakdown. {excluded} People whose category is unknown are counted and left out. "
        f"95 % intervals: {bootstrap_method(resamples)}, the observed reference held fixed; p-values: two-sided two-proportion z-test against the reference, or Fisher's exact test when "
        "an expected cell count is under 5."
    )


def _limits(kind: str, n_tests: int, races: list[str]) -> list[str]:
    out = [
        "Which attributes are EEO categories comes from the spec (data.protected[].kind); an attribute declared "
        "with another kind, or none, is not covered by this evidence (see fairness.selection_rate).",
        "With no minimum size, the ratio of a small category rests on few people: read its 95 % interval and "
        "p-value before reading a gap as a disparity.",
        f"{n_tests} categories are tested against their reference; with many tests some small p-values arise by "
        "chance (fairness.selection_rate shows Holm-adjusted p-values).",
        "LL144 sets no passing impact ratio; the four-fifths rule is a rule of thumb of US enforcement agencies "
        "(29 CFR 1607.4(D)).",
    ]
    if len(races) > 1:
        out.append("More than one race/ethnicity attribute is declared; each is compared on its own and crossed with "
                   "sex, not combined into one race/ethnicity category.")
    if kind == "scoring":
        out.append("The median score is taken from the whole sample and held fixed in the resamples.")
    return out
