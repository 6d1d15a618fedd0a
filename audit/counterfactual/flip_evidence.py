"""Evidence ``counterfactual.flip``: the flip test as the report and the policy rules read it."""

from __future__ import annotations

import time

from audit.checks._base import CheckContext
from audit.counterfactual._common import NO_MODEL, SALT, pct, resolve_proxies, resolve_threshold
from audit.counterfactual.flip import DIRECT, WITH_PROXIES, FlipPair, FlipResult, flip_test
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.subject import Subject

__all__ = ["flip_evidence", "FLIP_ID", "FLIP_TITLE", "FLIP_THRESHOLD_SOURCE"]

FLIP_ID = "counterfactual.flip"
FLIP_TITLE = "Flip test: does the decision change with the protected attribute alone?"
FLIP_THRESHOLD_SOURCE = ("our default: more than 1 % of decisions changing with the protected attribute alone "
                         "indicates disparate treatment; set your own in spec.thresholds['flip_rate']")
METHOD = (
    "Every row is moved to each other group of each protected attribute and re-predicted by the model "
    "(one batch per target group). Categories take the target group's value; binned numbers (age bands) take "
    "the median observed value of the target band. A decision flips when the model's decision on the changed "
    "row differs from its decision on the real row. 'With proxies' also replaces the attribute's proxy "
    "features by the proxy values of a random member of the target group (whole proxy rows, seeded, so their "
    "joint distribution is kept). Flip rates are shown per (from → to) pair with percentile bootstrap 95 % "
    "intervals (exact bootstrap law of a proportion); mean score changes with a paired row bootstrap."
)
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
    started = time.perf_counter()
    proxies, proxy_source = resolve_proxies(ctx.spec, ctx.shared)
    n_boot = ctx.spec.fairness.bootstrap
    result = flip_test(X=subject.X, groups=subject.groups, protected=subject.protected, model=subject.model,
                       score=subject.predictions.score, decision=subject.predictions.decision, ids=subject.ids,
                       proxies=proxies, rng=ctx.rng(SALT["flip"]), n_boot=n_boot)
    threshold, source = resolve_threshold(ctx.spec, key="flip_rate", default=0.01, source=FLIP_THRESHOLD_SOURCE)
    direct = result.max_rate(DIRECT)
    with_proxies = _max_with_proxies(result, proxies is not None)
    worst = _worst(result)
    limits = list(LIMITS)
    if proxies is None:
        limits.insert(0, "No proxy information (no proxy screen ran, counterfactuals.proxies not set): the "
                         "with-proxies variant was not run.")
    return Evidence(
        id=FLIP_ID, check="counterfactual", title=FLIP_TITLE,
        summary=_summary(result, direct, with_proxies, worst, threshold),
        metrics={
            "max_flip_rate": clean_number(direct),
            "max_flip_rate_with_proxies": clean_number(with_proxies),
            "attribute_max_flip": worst,
            "n_rows": subject.n,
            "threshold": threshold,
        },
        tables=[_pairs_table(result), _examples_table(result)],
        charts=[_chart(result, threshold)],
        method=METHOD,
        limits=limits + result.notes,
        params={"seed": ctx.seed, "rng_salt": SALT["flip"], "bootstrap": n_boot, "threshold_source": source,
                "proxies_source": proxy_source,
                "proxies": [f"{a}: {', '.join(p)}" for a, p in result.proxies_used.items()],
                "rows_predicted": result.n_predicted},
        seconds=time.perf_counter() - started,
    )


def _max_with_proxies(result: FlipResult, proxies_known: bool) -> float | None:
    """Highest rate with proxies changed; an attribute without proxies counts with its direct rate."""
    if not proxies_known:
        return None
    with_proxies = {p.attribute for p in result.pairs if p.variant == WITH_PROXIES}
    rates = [p.flip_rate for p in result.pairs if p.variant == WITH_PROXIES
             or (p.variant == DIRECT and p.attribute not in with_proxies)]
    return max(rates) if rates else None


def _worst(result: FlipResult) -> str | None:
    """The attribute and pair with the highest direct flip rate (else the highest with proxies)."""
    for variant in (DIRECT, WITH_PROXIES):
        pairs = [p for p in result.pairs if p.variant == variant and p.flip_rate > 0]
        if pairs:
            p = max(pairs, key=lambda q: q.flip_rate)
            return f"{p.attribute} ({variant}): {p.source} → {p.target}, {p.flip_rate:.1%}"
    return None


def _summary(result: FlipResult, direct: float | None, with_proxies: float | None, worst: str | None,
             threshold: float) -> str:
    if direct is None:
        return "No protected attribute had two known groups to flip between."
    inputs = sorted({p.attribute for p in result.pairs if p.variant == DIRECT and not p.note})
    not_inputs = sorted({p.attribute for p in result.pairs if p.note.startswith("not a model input")})
    text = (f"Changing only the protected attribute flips at most {pct(direct)} of decisions"
            f"{f' ({worst})' if worst and direct > 0 else ''}; our threshold is {pct(threshold)}.")
    if not_inputs:
        text += f" {', '.join(not_inputs)} {'is' if len(not_inputs) == 1 else 'are'} not a model input (0 by construction)."
    if with_proxies is not None:
        text += f" Changing the detected proxies as well flips at most {pct(with_proxies)}."
    elif not inputs:
        text += " Without proxy information, indirect use could not be tested."
    return text


def _pairs_table(result: FlipResult) -> Table:
    def record(p: FlipPair) -> dict[str, object]:
        return {"attribute": p.attribute, "variant": p.variant, "from": p.source, "to": p.target, "n": p.n,
                "flipped": p.flips, "flip_rate": p.flip_rate, "ci_low": p.flip_ci[0], "ci_high": p.flip_ci[1],
                "mean_score_change": p.mean_score_change, "score_ci_low": p.score_ci[0],
                "score_ci_high": p.score_ci[1], "note": p.note}

    return Table.from_records("Flip rate by group pair", [record(p) for p in result.pairs],
                              columns=["attribute", "variant", "from", "to", "n", "flipped", "flip_rate", "ci_low",
                                       "ci_high", "mean_score_change", "score_ci_low", "score_ci_high", "note"],
                              note="95 % bootstrap intervals. 'from → to': every row of the first group moved to "
                                   "the second.")


def _examples_table(result: FlipResult) -> Table:
    columns = ["id", "attribute", "variant", "from", "to", "score_before", "score_after"]
    return Table.from_records("Examples of decisions that flip", result.examples, columns=columns,
                              note=None if result.examples else "No decision flipped.")


def _chart(result: FlipResult, threshold: float) -> Chart:
    labels, values = [], []
    for attribute in dict.fromkeys(p.attribute for p in result.pairs):
        for variant in (DIRECT, WITH_PROXIES):
            rates = [p.flip_rate for p in result.pairs if p.attribute == attribute and p.variant == variant]
            if rates:
                labels.append(f"{attribute} ({variant})")
                values.append(max(rates))
    return Chart(id="counterfactual-flip-rate", title="Highest flip rate per protected attribute", kind="barh",
                 labels=labels, values=values, xlabel="share of decisions that flip", reference=threshold,
                 reference_label="threshold")
