"""Evidence ``counterfactual.recourse`` and the per-decision ``recourse`` / ``recourse_cost`` columns.

Examples of individual recourses are personal data: built only with ``report.examples: true``, and then
with a person's values only for ``report.example_fields`` (other changes name the column alone).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext
from audit.checks._common import NO_MODEL, SALT, pct
from audit.checks._examples import EXAMPLES_LEFT_OUT, example_fields, field_values
from audit.counterfactual.actionability import actionability_from_counts, format_value
from audit.counterfactual.column_counts import MAX_VALUES, column_counts
from audit.counterfactual.quality import plausibility
from audit.counterfactual.recourse import RecourseResult, constraint_violations, find_recourse
from audit.counterfactual.recourse_counts import (
    Gap,
    GapResult,
    RecourseCounts,
    RecoursePlan,
    count_recourse,
    recourse_gap_of_counts,
)
from audit.evidence import Chart, Evidence, Table, clean_float, clean_number
from audit.subject import Subject

__all__ = ["recourse_evidence", "RECOURSE_ID", "RECOURSE_TITLE", "constraint_violations"]

RECOURSE_ID = "counterfactual.recourse"
RECOURSE_TITLE = "Recourse: what would change an adverse decision"
N_EXAMPLES = 10
METHOD = (
    "For every adverse decision, a search over actionable changes (our own, vectorised across all rows and "
    "model-agnostic): candidate values are observed categories and a grid of observed numeric values "
    "(quantiles of rows and of distinct values), found from the rows per value of every column over every "
    "decision (in a partitioned audit counted per partition and added, so a person's recourse does not depend on "
    "how the rows were read); immutable features (protected attributes and data.immutable) "
    "never change, increase-only features never decrease, numbers stay within the observed range. Columns "
    "that always agree in the data change together as one unit. Cost = sum over changed units of "
    "|Δ| / robust spread (MAD, else IQR, else standard deviation) for numbers and 1 per category. Single "
    "changes are scored in batches; rows still adverse keep a beam of their most promising states and add "
    "one more change, up to max_changes. Fewest changes first, then lowest cost (states are scored in order of cost "
    "until the cheapest favourable one is certain: the same choice as scoring them all). Found changes are then "
    "polished (drop a change that is not needed; move numbers back towards the original while the decision "
    "stays favourable) and every counterfactual is re-predicted by the model in one final batch: only those "
    "it decides favourably are reported. Every figure but plausibility and the examples is a ratio of sums over "
    "every adverse decision (in a partitioned audit each partition's adverse decisions are searched where it is "
    "read and the sums added, so the figures do not depend on the partitioning). Per group: the mean cost with a "
    "normal 95 % interval from the sums of costs and of their squares; per attribute, the gap between the highest "
    "and lowest mean cost over groups with at least min_group_size recourses, with a parametric bootstrap 95 % "
    "interval (each group's mean drawn from its normal law)."
)
LIMITS = [
    "The search is heuristic (beam search on a value grid): a cheaper change, or one with fewer features, may "
    "exist; 'no recourse found' means none within the grid and max_changes, not that none exists.",
    "Feasibility is judged only by the declared rules (immutable, increase-only, observed values): a change "
    "can be within the data's range yet hard or impossible for a person (e.g. a new occupation).",
    "Features are changed independently of one another except linked columns; causal effects (more education "
    "takes years, so age rises too) are not modelled.",
    "Features that stand in for a protected attribute (proxies) may still be changed unless data.immutable "
    "lists them.",
    "Cost units depend on each feature's spread; for a feature where most rows share one value (e.g. capital "
    "gains, mostly 0) the spread of the other values is used, and the model may still make such a change the "
    "cheapest one. Read 'What the recourses ask to change' before showing recourse to people.",
]


IMAGE_ONLY = ("the model's only input is an image: a recourse would tell a person how to change the picture, which "
              "is no change of their circumstances this search can propose")
TEXT_ONLY = ("every model input is free text: a recourse would tell a person which words to write, which is no "
             "change of their circumstances this search can propose")


def recourse_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Search recourse for every adverse decision, write the per-decision columns, describe the result."""
    if not subject.has_model:
        return Evidence.not_assessed(RECOURSE_ID, "counterfactual", RECOURSE_TITLE, NO_MODEL)
    if subject.image_columns:
        return Evidence.not_assessed(RECOURSE_ID, "counterfactual", RECOURSE_TITLE, IMAGE_ONLY)
    if not subject.tabular_columns:
        return Evidence.not_assessed(RECOURSE_ID, "counterfactual", RECOURSE_TITLE, TEXT_ONLY)
    started = time.perf_counter()
    spec = ctx.spec
    max_changes = spec.counterfactuals.max_changes
    # The rules of change come from every row's values: counted over every partition in a partitioned audit (so a
    # person in the sample gets the recourse an audit of the file read whole gives them), else the Subject's rows.
    # Free text is held fixed: which words a person should write is no action this search can propose.
    counted_columns = ctx.column_counts
    sampled_columns = counted_columns.dropped if counted_columns is not None else []
    if counted_columns is None:
        counts = column_counts(subject.X)
    else:
        counts = counted_columns.filled_from(column_counts(subject.X)) if sampled_columns else counted_columns
    action = actionability_from_counts(counts=counts, feature_types=subject.feature_types,
                                       immutable=[*subject.immutable, *subject.text_columns],
                                       increase_only=spec.data.increase_only,
                                       not_choices=spec.data.code_book.not_choices)
    score = subject.predictions.score
    if score is None:  # never with a model: load_subject scores every row with it
        raise ValueError("recourse needs the model's scores, and this subject has none")
    favourable = subject.favourable  # the declared direction: for a flag, recourse removes the flag
    adverse = np.flatnonzero(~favourable)
    result = find_recourse(X=subject.X, rows=adverse, model=subject.model, action=action,
                           score_before=score[adverse], max_changes=max_changes,
                           progress=ctx.progress, favourable_is_positive=subject.favourable_is_positive)
    texts = result.texts()
    _write_columns(subject, ctx, result, texts)
    if ctx.count_recourse is not None:  # a partitioned audit: every adverse decision, searched where it is read
        counted = ctx.count_recourse(RecoursePlan(action=action, max_changes=max_changes))
    else:
        counted = count_recourse(result, action, groups=subject.groups.iloc[adverse].reset_index(drop=True))
    # Plausibility and the examples read the adverse decisions of the audit's sample: the same rows read whole or
    # in partitions (in a partitioned audit the Subject is that sample).
    sample = ctx.sample(subject)
    in_sample = np.isin(result.rows, sample)
    plaus = plausibility(X=subject.X.iloc[sample], favourable=favourable[sample],
                         counterfactuals=result.counterfactual[result.found & in_sample], action=action,
                         rng=ctx.rng(SALT["plausibility"]))
    gap = recourse_gap_of_counts(counted, attributes=[str(c) for c in subject.groups.columns],
                                 min_group_size=spec.fairness.min_group_size, rng=ctx.rng(SALT["gap"]),
                                 n_boot=spec.fairness.bootstrap)
    worst = max(gap.gaps.items(), key=lambda kv: kv[1]["gap"]) if gap.gaps else None
    n_adverse = counted.adverse
    coverage = counted.found / n_adverse if n_adverse else None
    wanted = spec.report.examples
    examples = [_examples_table(subject, ctx, result, texts, np.flatnonzero(in_sample))] if wanted else []
    limits = ([] if wanted else [EXAMPLES_LEFT_OUT]) + LIMITS + action.notes
    if sampled_columns:
        limits.append(f"The values and spreads of {', '.join(sampled_columns)} (more than {MAX_VALUES:,} distinct "
                      "values) come from the audit's sample, not every row.")
    if ctx.population is None and sample.size < subject.n:
        limits.append(f"Plausibility and the examples read the adverse decisions of the audit's stratified sample of "
                      f"{sample.size:,} of the {subject.n:,} decisions (ordered by a keyed hash of each row's id and "
                      "the seed: the rows a partitioned audit reads); every other figure counts every adverse "
                      "decision.")
    return Evidence(
        id=RECOURSE_ID, check="counterfactual", title=RECOURSE_TITLE,
        summary=_summary(n_adverse, coverage, max_changes, counted.validity, worst),
        metrics={
            "n_adverse": n_adverse,
            "coverage": clean_number(coverage),
            "n_no_recourse": n_adverse - counted.found,
            "validity": clean_number(counted.validity),
            "n_withdrawn": counted.withdrawn,
            "immutable_violations": counted.violations["immutable"],
            "increase_only_violations": counted.violations["increase_only"],
            "outside_observed_values": counted.violations["outside_observed"],
            "mean_features_changed": clean_number(counted.mean_changes),
            "mean_cost": clean_number(counted.mean_cost),
            "plausibility": clean_number(plaus.counterfactual),
            "plausibility_reference": clean_number(plaus.reference),
            "recourse_gap_max": clean_number(worst[1]["gap"]) if worst else None,
            "recourse_gap_attribute": worst[0] if worst else None,
        },
        tables=[_gap_table(gap), *examples, _usage_table(counted)],
        charts=_charts(gap),
        method=METHOD,
        limits=limits,
        params={"seed": ctx.seed, "rng_salts": [SALT["plausibility"], SALT["gap"]], "max_changes": max_changes,
                "beam": 3, "bootstrap": spec.fairness.bootstrap, "min_group_size": spec.fairness.min_group_size,
                "immutable": list(action.immutable), "increase_only": list(action.increase_only),
                "actionable_units": [u.name for u in action.units], "plausibility_queries": plaus.n_queries,
                "plausibility_reference_rows": plaus.n_reference, "rows_predicted": counted.n_predicted},
        seconds=time.perf_counter() - started,  # the search here and, partitioned, the pass over every partition
    )


def _write_columns(subject: Subject, ctx: CheckContext, result: RecourseResult, texts: list[str]) -> None:
    """``recourse`` (text, None for favourable decisions) and ``recourse_cost`` (NaN where none) per decision."""
    text = np.full(subject.n, None, dtype=object)
    text[result.rows] = np.asarray(texts, dtype=object)
    cost = np.full(subject.n, np.nan)
    cost[result.rows] = result.cost
    ctx.decision_columns["recourse"] = text.tolist()
    ctx.decision_columns["recourse_cost"] = cost


def _summary(n_adverse: int, coverage: float | None, max_changes: int, validity: float | None,
             worst: tuple[str, Gap] | None) -> str:
    if n_adverse == 0:
        return "No decision is adverse, so no recourse is needed."
    text = (f"{pct(coverage)} of the {n_adverse:,} adverse decisions have a recourse within "
            f"{max_changes} changes; each one shown was re-predicted by the model as favourable "
            f"(validity {pct(validity)}).")
    if worst is not None:
        attr, g = worst
        text += (f" The largest recourse gap is for {attr}: '{g['highest']}' needs on average {g['gap']:.2f} cost "
                 f"units more change than '{g['lowest']}'.")
    return text


def _gap_table(gap: GapResult) -> Table:
    columns = ["attribute", "group", "n_adverse", "n_with_recourse", "coverage", "mean_cost", "ci_low", "ci_high",
               "in_gap"]
    notes = "; ".join(f"{a}: gap {g['gap']:.2f} (95 % CI {_num(g['ci_low'])} to {_num(g['ci_high'])})"
                      for a, g in gap.gaps.items())
    return Table.from_records("Recourse cost by group", gap.rows, columns=columns,
                              note=(notes + ". " if notes else "") + "Groups below the minimum size are shown but "
                              "left out of the gap (in_gap = false).")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def _examples_table(subject: Subject, ctx: CheckContext, result: RecourseResult, texts: list[str],
                    among: np.ndarray) -> Table:
    """Ten random adverse decisions (of ``among``: positions in ``result``, those of the audit's sample) and their
    recourse; a person's values only of the example fields."""
    fields = example_fields(subject)
    n = len(among)
    pick = among[np.sort(ctx.rng(SALT["recourse"]).choice(n, size=min(N_EXAMPLES, n), replace=False))] if n else \
        np.zeros(0, int)
    records = [{"id": str(subject.ids[result.rows[i]]), **field_values(subject, fields, int(result.rows[i])),
                "recourse": _shown_recourse(result, int(i), texts[i], fields),
                "features_changed": int(result.n_changes[i]), "cost": clean_number(result.cost[i]),
                "score_before": float(result.score_before[i]), "score_after": clean_number(result.score_after[i])}
               for i in pick]
    note = (f"A person's values are shown only for {', '.join(fields)} (report.example_fields); other changes name "
            "the column alone." if fields else
            "No person's values are shown (report.example_fields is empty); changes name the column alone.")
    return Table.from_records("Examples of recourse (random adverse decisions)", records,
                              columns=["id", *fields, "recourse", "features_changed", "cost", "score_before",
                                       "score_after"], note=note)


def _shown_recourse(result: RecourseResult, i: int, text: str, fields: list[str]) -> str:
    """Row ``i``'s recourse: ``column: before → after`` for an example field, the column's name alone otherwise."""
    if not result.found[i]:
        return text
    parts = []
    for u, unit in enumerate(result.units):
        if not result.changed[i, u]:
            continue
        for c in unit.columns:
            if c in fields:
                parts.append(f"{c}: {format_value(result.original[c].iloc[i])} → "
                             f"{format_value(result.counterfactual[c].iloc[i])}")
            else:
                parts.append(f"{c} (changed)")
    return "; ".join(parts)


def _usage_table(counted: RecourseCounts) -> Table:
    found = max(counted.found, 1)
    records = [{"feature": unit, "share_of_recourses": float(k / found), "n": int(k)}
               for unit, k in sorted(counted.units.items(), key=lambda t: -t[1]) if k]
    return Table.from_records("What the recourses ask to change", records, columns=["feature", "share_of_recourses", "n"])


def _charts(gap: GapResult) -> list[Chart]:
    rows = [r for r in gap.rows if r["in_gap"]]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    return [Chart(id="counterfactual-recourse-gap", title="Mean recourse cost by group", kind="barh",
                  labels=[f"{a} = {g}" for a, g in zip(frame["attribute"], frame["group"], strict=True)],
                  values=[float(v) for v in frame["mean_cost"]],
                  ci_low=[clean_float(v) for v in frame["ci_low"]], ci_high=[clean_float(v) for v in frame["ci_high"]],
                  xlabel="mean cost of the nearest recourse (cost units)")]
