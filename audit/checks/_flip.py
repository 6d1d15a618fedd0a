"""Evidence ``counterfactual.flip``: the flip test as the report and the policy rules read it.

Examples of decisions that flip are personal data: built only with ``report.examples: true``, and then
with a person's values (the group they were moved from and to included) only for ``report.example_fields``.
"""

from __future__ import annotations

import time

from audit.checks._base import CheckContext
from audit.checks._common import NO_MODEL, SALT, pct, resolve_proxies
from audit.checks._examples import EXAMPLES_LEFT_OUT, example_fields, field_values
from audit.checks._term_swap import ALL_FAMILIES, TermSwapResult, rates_table_records, term_swap
from audit.counterfactual.flip import DIRECT, WITH_PROXIES, FlipPair, FlipResult
from audit.counterfactual.flip_counts import MAX_BAND_VALUES, flip_result, flip_test, plan_flips
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.fairness.population import Population
from audit.subject import Subject
from audit.thresholds import reference_line

__all__ = ["flip_evidence", "FLIP_ID", "FLIP_TITLE"]

FLIP_ID = "counterfactual.flip"
FLIP_TITLE = "Flip test: does the decision change with the protected attribute alone?"
METHOD = (
    "Every row is moved to each other group of each protected attribute and re-predicted by the model (in a "
    "partitioned audit, where its partition is read). Categories take the target group's value; binned numbers "
    "(age bands) take the median observed value of the target band over every row (in a partitioned audit, "
    f"counted by value in the first pass; from the audit's sample only for an attribute with more than "
    f"{MAX_BAND_VALUES:,} distinct values). A decision flips when the model's decision on the changed row differs "
    "from its decision on the real row. 'With proxies' also replaces the attribute's proxy features by the proxy "
    "values of a member of the target group in the audit's seeded sample (whole proxy rows, so their joint "
    "distribution is kept; the member is chosen by a keyed hash of the row's id, the attribute and the target "
    "group, so it is the same however the rows are read). Flips and score changes are counted per (from → to) "
    "pair (and added over partitions); flip rates have percentile bootstrap 95 % intervals (exact bootstrap law of "
    "a proportion, from the counts), mean score changes a normal 95 % interval from the summed changes and their "
    "squares."
)
SWAP_SALT = 4131
SWAP_METHOD = (" Term swap (free text '{column}'): every gendered word of the versioned swap lists (pronouns resolved by "
               "grammar, titles, gendered nouns, first names) is replaced by its counterpart of the other sex, whole "
               "words only and case kept, family by family and all at once; the texts changed are re-predicted and a "
               "flip is a changed decision (bootstrap 95 % intervals).")
SWAP_LIMITS = [
    "The term swap changes words, not a person: a swapped text can read oddly (a name with the other sex's "
    "pronouns left unchanged, when only one family is swapped), and gender expressed otherwise (an activity, a "
    "school) is not swapped.",
    "The lists cover English only, and names are grouped by the sex they are mostly given to in the source "
    "(US Social Security Administration data); they do not stand for anyone's gender identity.",
]
LIMITS = [
    "A binned attribute is moved to one representative value (the band's median); other values within the "
    "band can give other results.",
    "The proxy variant swaps in a random target-group member's proxy values: it approximates how the person's "
    "data would differ, and its flips mix disparate treatment with the proxies' legitimate effects.",
    "Only proxies that are model inputs can matter; proxies the screen did not detect are not changed.",
    "Rows whose protected attribute is missing are left out of the pairs.",
    "The test shows what the model does with these inputs; it says nothing about whether the training "
    "labels themselves were fair.",
]


def flip_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Run the flip test on every decision and describe it."""
    if not subject.has_model:
        return Evidence.not_assessed(FLIP_ID, "counterfactual", FLIP_TITLE, NO_MODEL)
    if not subject.protected:
        return Evidence.not_assessed(FLIP_ID, "counterfactual", FLIP_TITLE, "no protected attribute declared in data.protected")
    score = subject.predictions.score
    if score is None:  # never with a model: load_subject scores every row with it
        raise ValueError("the flip test needs the model's scores, and this subject has none")
    started = time.perf_counter()
    proxies, proxy_source = resolve_proxies(ctx.spec, ctx.proxies)
    n_boot = ctx.spec.fairness.bootstrap
    population, count_flips = ctx.population, ctx.count_flips
    wanted = ctx.spec.report.examples
    fields = example_fields(subject) if wanted else []
    rows = subject.n
    donors: int | None = None  # rows of the audit's sample whose proxy values the with-proxies variant used
    if population is not None and count_flips is not None:  # a partitioned audit: every row, where it is read
        plan = plan_flips(X=subject.X, groups=subject.groups, protected=subject.protected, proxies=proxies,
                          group_sizes=_group_sizes(population, subject), medians=ctx.band_medians, seed=ctx.seed)
        result = flip_result(plan, count_flips(plan), rng=ctx.rng(SALT["flip"]), n_boot=n_boot)
        rows = population.rows
    else:
        sample = ctx.sample(subject)
        donors = int(sample.size)
        result = flip_test(X=subject.X, groups=subject.groups, protected=subject.protected, model=subject.model,
                           score=score, decision=subject.predictions.decision, ids=subject.ids, proxies=proxies,
                           seed=ctx.seed, rng=ctx.rng(SALT["flip"]), n_boot=n_boot, sample=sample,
                           describe=lambda position: field_values(subject, fields, position))
    direct = result.max_rate(DIRECT)
    with_proxies = result.max_rate(WITH_PROXIES)
    swaps = (term_swap(subject, column=subject.text_columns[0], rng=ctx.rng(SWAP_SALT), n_boot=n_boot)
             if subject.text_columns else None)
    text_rate = swaps.max_rate if swaps is not None else None
    measured = [r for r in (direct, with_proxies, text_rate) if r is not None]
    worst = _worst(result)
    limits = ([] if wanted else [EXAMPLES_LEFT_OUT]) + list(LIMITS)
    if donors is not None and donors < subject.n and result.proxies_used:
        limits.append(f"The with-proxies variant took its proxy values from the members of the target group in the "
                      f"audit's stratified sample of {donors:,} of the {subject.n:,} decisions (ordered by a keyed "
                      "hash of each row's id and the seed): the rows a partitioned audit of the same data takes them "
                      "from.")
    if proxies is None:
        limits.insert(0, "No proxy information (no proxy screen ran, counterfactuals.proxies not set): the "
                         "with-proxies variant was not run.")
    # The sex attribute is tested through the text's gendered words when the swap measured something.
    covered = {p.column for p in subject.protected if p.kind == "sex"} if text_rate is not None else set()
    partial = _partial(result, subject, proxies is not None, covered=covered)
    line, line_label = reference_line(ctx.spec, "flip_rate")
    return Evidence(
        id=FLIP_ID, check="counterfactual", title=FLIP_TITLE,
        summary=_summary(result, direct, with_proxies, worst, partial, text=text_rate is not None) + _swap_summary(swaps),
        metrics={
            "max_flip_rate": clean_number(max(measured)) if measured else None,
            "max_flip_rate_direct": clean_number(direct),
            "max_flip_rate_with_proxies": clean_number(with_proxies),
            "attribute_max_flip": worst,
            "max_flip_rate_text": clean_number(text_rate),
            "n_rows": rows,
        },
        missing=_missing(result, proxies is not None, swaps),
        partial={"max_flip_rate": partial} if partial and measured else {},
        tables=[_pairs_table(result), *([_examples_table(subject, result)] if wanted else []),
                *(_swap_tables(subject, swaps, wanted) if swaps is not None else [])],
        charts=[_chart(result, line, line_label)],
        method=METHOD + (SWAP_METHOD.format(column=swaps.column) if swaps is not None else ""),
        limits=limits + result.notes + (SWAP_LIMITS if swaps is not None else []),
        params={"seed": ctx.seed, "rng_salt": SALT["flip"], "bootstrap": n_boot,
                "proxies_source": proxy_source,
                "proxies": [f"{a}: {', '.join(p)}" for a, p in result.proxies_used.items()],
                "rows_predicted": result.n_predicted + (swaps.n_predicted if swaps is not None else 0),
                **({"swap_lists": ", ".join(f"{k} {v}" for k, v in swaps.versions.items()), "swap_salt": SWAP_SALT}
                   if swaps is not None else {})},
        seconds=time.perf_counter() - started,
    )


def _group_sizes(population: Population, subject: Subject) -> dict[str, dict[str, int]]:
    """People per group of each protected attribute, counted over every row (the flip plan's largest groups)."""
    out = {}
    for p in subject.protected:
        attributes = (p.column,)
        sizes = population.cells(attributes, selected=False).sum(axis=1)
        out[p.column] = {v[0]: int(n) for v, n in zip(population.breakdown(attributes).values, sizes, strict=True)}
    return out


def _partial(result: FlipResult, subject: Subject, proxies_known: bool, *, covered: set[str] | None = None) -> str | None:
    """Why the highest flip rate covers only part of what it should (attributes or variants not measured).

    ``covered``: attributes measured another way (sex, through the gendered words of a free-text input).
    """
    parts = [f"{attribute}: {why}" for attribute, why in result.not_tested.items() if attribute not in (covered or set())]
    inputs = [p.column for p in subject.protected if p.column in subject.X.columns]
    if not proxies_known and inputs:
        parts.append(f"the with-proxies variant was not run for {', '.join(inputs)} (no proxy information)")
    return "; ".join(parts) or None


def _missing(result: FlipResult, proxies_known: bool, swaps: TermSwapResult | None = None) -> dict[str, str]:
    """Reasons for the rates that were not measured, in this audit's terms."""
    out = {}
    if swaps is None:
        out["max_flip_rate_text"] = "no free-text input (data.feature_types: text)"
    elif swaps.max_rate is None:
        out["max_flip_rate_text"] = "no text holds a word of the swap lists"
    untested = "; ".join(f"{a}: {why}" for a, why in result.not_tested.items())
    if result.max_rate(DIRECT) is None:
        out["max_flip_rate_direct"] = "no protected attribute is a model input" + (f" ({untested})" if untested else "")
    if result.max_rate(WITH_PROXIES) is None:
        out["max_flip_rate_with_proxies"] = ("no proxy information (no proxy screen ran and counterfactuals.proxies "
                                             "is not set)" if not proxies_known else
                                             "no proxy of a protected attribute is a model input")
    if result.max_rate(DIRECT) is None and result.max_rate(WITH_PROXIES) is None and (
            swaps is None or swaps.max_rate is None):
        out["max_flip_rate"] = f"nothing could be changed: {untested or 'no protected attribute to test'}"
    return out


def _swap_summary(swaps: TermSwapResult | None) -> str:
    if swaps is None:
        return ""
    overall = swaps.overall
    if overall is None or overall.rate is None:
        return f" No text in '{swaps.column}' holds a word of the gendered swap lists."
    single = ", ".join(f"{r.family} {pct(r.rate)}" for r in swaps.rates
                       if r.family != ALL_FAMILIES and r.rate is not None)
    return (f" Swapping every gendered word of '{swaps.column}' (female ↔ male) flips {pct(overall.rate)} of the "
            f"{overall.touched:,} decisions whose text it changed"
            + (f"; family by family (texts that then mix the sexes): {single}." if single else "."))


def _swap_tables(subject: Subject, swaps: TermSwapResult, wanted: bool) -> list[Table]:
    rates = Table.from_records(
        f"Term-swap flip test on '{swaps.column}': flip rate per swap family", rates_table_records(swaps),
        note="Flip rate = share of the texts the family changed whose decision changed; 95 % bootstrap interval. "
             f"'{ALL_FAMILIES}': every family at once. Lists and versions: "
             + "; ".join(f"{k} {v}" for k, v in swaps.versions.items()) + ".")
    if not wanted:
        return [rates]
    shown = swaps.column in example_fields(subject)
    records = [{"id": str(subject.ids[int(str(e["position"]))]), "words swapped": e["words swapped"],
                "score_before": e["score_before"], "score_after": e["score_after"],
                **({swaps.column: str(subject.X[swaps.column].iloc[int(str(e["position"]))])} if shown else {})}
               for e in swaps.examples]
    return [rates, Table.from_records(
        "Examples of decisions that flip when only gendered words are swapped", records,
        note=("No decision flipped." if not records else
              "The words swapped are counted; the text itself is shown only when report.example_fields names "
              f"'{swaps.column}'."))]


def _worst(result: FlipResult) -> str | None:
    """The attribute and pair with the highest direct flip rate (else the highest with proxies)."""
    for variant in (DIRECT, WITH_PROXIES):
        pairs = [p for p in result.pairs if p.variant == variant and p.flip_rate > 0]
        if pairs:
            p = max(pairs, key=lambda q: q.flip_rate)
            return f"{p.attribute} ({variant}): {p.source} → {p.target}, {p.flip_rate:.1%}"
    return None


def _summary(result: FlipResult, direct: float | None, with_proxies: float | None, worst: str | None,
             partial: str | None, *, text: bool = False) -> str:
    if direct is None and with_proxies is None and text:
        return f"No protected attribute or proxy of one is a tabular model input ({partial or 'none to change'})."
    if direct is None and with_proxies is None:
        return f"No flip rate could be measured: {partial or 'no protected attribute had two known groups'}."
    parts = []
    if direct is not None:
        parts.append(f"Changing only the protected attribute flips at most {pct(direct)} of decisions"
                     + (f" ({worst})" if worst and direct > 0 else "") + ".")
    if with_proxies is not None:
        parts.append(f"Changing the detected proxies as well flips at most {pct(with_proxies)}.")
    if partial:
        parts.append(f"Not measured: {partial}.")
    return " ".join(parts)


def _pairs_table(result: FlipResult) -> Table:
    def record(p: FlipPair) -> dict[str, object]:
        return {"attribute": p.attribute, "variant": p.variant, "from": p.source, "to": p.target, "n": p.n,
                "flipped": p.flips, "flip_rate": p.flip_rate, "ci_low": p.flip_ci[0], "ci_high": p.flip_ci[1],
                "mean_score_change": p.mean_score_change, "score_ci_low": p.score_ci[0],
                "score_ci_high": p.score_ci[1], "note": p.note}

    return Table.from_records("Flip rate by group pair", [record(p) for p in result.pairs],
                              columns=["attribute", "variant", "from", "to", "n", "flipped", "flip_rate", "ci_low",
                                       "ci_high", "mean_score_change", "score_ci_low", "score_ci_high", "note"],
                              note="95 % intervals: bootstrap for the flip rate, normal for the mean score change. "
                                   "'from → to': every row of the first group moved to the second.")


def _examples_table(subject: Subject, result: FlipResult) -> Table:
    """The flipped decisions with the largest score change; a person's values only of the example fields.

    Each example carries its id and the example fields, read where its rows were (the Subject, or the partition).
    The groups moved from and to are the person's own value of the attribute, so they are shown only when the
    attribute is an example field.
    """
    fields = example_fields(subject)
    records = []
    for example in result.examples:
        shown = example["attribute"] in fields
        person = {"id": str(example["id"]), **{f: example.get(f) for f in fields}}
        records.append({**example, **person,
                        "from": example["from"] if shown else None, "to": example["to"] if shown else None})
    columns = ["id", *fields, "attribute", "variant", "from", "to", "score_before", "score_after"]
    note = ("No decision flipped." if not records else
            f"A person's values are shown only for {', '.join(fields)} (report.example_fields); 'from' and 'to' "
            "only when the attribute is one of them." if fields else
            "No person's values are shown (report.example_fields is empty), nor the groups moved from and to.")
    return Table.from_records("Examples of decisions that flip", records, columns=columns, note=note)


def _chart(result: FlipResult, line: float, line_label: str) -> Chart:
    labels: list[str] = []
    values: list[float | None] = []
    for attribute in dict.fromkeys(p.attribute for p in result.pairs):
        for variant in (DIRECT, WITH_PROXIES):
            rates = [p.flip_rate for p in result.pairs if p.attribute == attribute and p.variant == variant]
            if rates:
                labels.append(f"{attribute} ({variant})")
                values.append(max(rates))
    return Chart(id="counterfactual-flip-rate", title="Highest flip rate per protected attribute", kind="barh",
                 labels=labels, values=values, xlabel="share of decisions that flip", reference=line,
                 reference_label=line_label)
