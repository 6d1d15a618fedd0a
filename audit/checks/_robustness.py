"""Evidence ``robustness.perturbation`` (AI Act Art. 15(4)): flip rates under noise and missing values."""

from __future__ import annotations

import time

from audit.checks._base import CheckContext
from audit.checks._common import NO_MODEL, SALT, pct
from audit.evidence import Chart, Evidence, Table
from audit.robustness.perturbation import RateCI, RobustnessResult, perturbation_test
from audit.subject import Subject
from audit.thresholds import reference_line

__all__ = ["robustness_evidence", "ROBUSTNESS_ID", "ROBUSTNESS_TITLE", "REPEATS"]

ROBUSTNESS_ID = "robustness.perturbation"
ROBUSTNESS_TITLE = "Robustness to noise and missing values (Art. 15(4))"
REPEATS = 3
METHOD = (
    "The model re-predicts perturbed copies of the rows and we count decisions that differ from its decision "
    "on the real row. Noise: every numeric input gets Gaussian noise with σ = level × the feature's standard "
    "deviation ({repeats} seeded repeats per level); whole-number features are rounded and every value is "
    "clipped to the observed range. Missing values: each input column loses {rate:.0%} of its values at "
    "random; then each feature is set missing for every row in turn. A column in which the model refuses a "
    "missing value (it raises an error) is recorded as refused and left out: nothing is imputed, so the test "
    "measures the model, not an imputer. Intervals: percentile bootstrap 95 % over rows."
)
LIMITS = [
    "Gaussian noise scaled to each feature's spread is one declared perturbation; real data errors can be "
    "larger, correlated across features or systematic.",
    "Noise is added to numeric features only; categorical inputs are tested by the missing-value tests.",
    "Noise can create values the data never holds (capital gains of 30 where the smallest non-zero value is "
    "114); a model may react to such values in ways real inputs never trigger. The per-feature table shows "
    "which feature's noise flips decisions.",
    "Only the model is tested, not the data pipeline that feeds it in production.",
]


def robustness_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Run the perturbation tests on (a seeded sample of) the decisions and describe them."""
    if not subject.has_model:
        return Evidence.not_assessed(ROBUSTNESS_ID, "robustness", ROBUSTNESS_TITLE, NO_MODEL)
    started = time.perf_counter()
    spec = ctx.spec.robustness
    rows = ctx.sample(subject)  # the audit's sample: the same rows read whole or in partitions
    result = perturbation_test(X=subject.X.iloc[rows], feature_types=subject.feature_types, model=subject.model,
                               decision=subject.predictions.decision[rows], noise_levels=list(spec.noise_levels),
                               missing_rate=spec.missing_rate, rng=ctx.rng(SALT["robustness"]),
                               n_boot=ctx.spec.fairness.bootstrap, repeats=REPEATS)
    largest = max(result.noise, key=lambda r: float(r.label)) if result.noise and result.numeric else None
    fragile = max(result.per_feature, key=lambda r: r.rate) if result.per_feature else None
    sensitive = max(result.noise_by_feature, key=lambda r: r.rate) if result.noise_by_feature else None
    limits = list(LIMITS)
    if rows.size < subject.n:
        limits.append(f"Measured on the audit's stratified random sample of {rows.size:,} of the {subject.n:,} "
                      "decisions (decision × protected groups in proportion, the rows a keyed hash of their id and the "
                      "seed puts first: the rows a partitioned audit reads).")
    missing: dict[str, str] = {}
    partial: dict[str, str] = {}
    if result.refused:
        refused = ", ".join(result.refused)
        limits.append(f"The model refuses missing values in {refused} (it raises an error): those columns were not "
                      "set missing, and nothing was imputed in their place.")
        if result.missing is None:
            why = f"the model refuses missing values in every input ({refused})"
            missing = {k: why for k in ("flip_rate_missing", "most_fragile_feature", "most_fragile_flip_rate")}
        else:
            partial["flip_rate_missing"] = f"the model refuses missing values in {refused}; those columns were left out"
    if not result.numeric:
        limits.append("No numeric input: the noise test had nothing to perturb.")
    line, line_label = reference_line(ctx.spec, "noise_flip_rate")
    return Evidence(
        id=ROBUSTNESS_ID, check="robustness", title=ROBUSTNESS_TITLE,
        summary=_summary(result, largest, fragile, sensitive),
        metrics={
            "flip_rate_noise_max": largest.rate if largest else None,
            "noise_level_max": float(largest.label) if largest else None,
            "flip_rate_missing": result.missing.rate if result.missing else None,
            "most_fragile_feature": fragile.label if fragile else None,
            "most_fragile_flip_rate": fragile.rate if fragile else None,
            "most_noise_sensitive_feature": sensitive.label if sensitive else None,
            "most_noise_sensitive_flip_rate": sensitive.rate if sensitive else None,
            "n_rows": int(rows.size),
        },
        missing=missing,
        partial=partial,
        tables=_tables(result),
        charts=[Chart(id="robustness-noise", title="Decisions that flip under noise", kind="line",
                      x=[float(r.label) for r in result.noise], values=[r.rate for r in result.noise],
                      ci_low=[r.ci[0] for r in result.noise], ci_high=[r.ci[1] for r in result.noise],
                      xlabel="noise level (share of each feature's standard deviation)",
                      ylabel="share of decisions that flip", reference=line, reference_label=line_label)],
        method=METHOD.format(repeats=REPEATS, rate=spec.missing_rate),
        limits=limits,
        params={"seed": ctx.seed, "rng_salts": [SALT["robustness"]], "noise_levels": list(spec.noise_levels),
                "missing_rate": spec.missing_rate, "repeats": REPEATS, "rows": int(rows.size), "sample_rows": ctx.sample_rows,
                "bootstrap": ctx.spec.fairness.bootstrap,
                "numeric_features": list(result.numeric), "refused_missing": list(result.refused),
                "rows_predicted": result.n_predicted},
        seconds=time.perf_counter() - started,
    )


def _summary(result: RobustnessResult, largest: RateCI | None, fragile: RateCI | None, sensitive: RateCI | None) -> str:
    parts = []
    if largest is not None and result.numeric:
        parts.append(f"With noise of {float(largest.label):.0%} of each numeric feature's spread, "
                     f"{pct(largest.rate)} of decisions change"
                     + (f"; noise on '{sensitive.label}' alone changes {pct(sensitive.rate)}." if sensitive else "."))
    if result.missing is not None:
        parts.append(f"With {float(result.missing.label):.0%} of values missing, {pct(result.missing.rate)} change")
        if fragile is not None:
            parts[-1] += f"; losing '{fragile.label}' alone changes {pct(fragile.rate)}."
        else:
            parts[-1] += "."
    if result.refused:
        parts.append(f"The model refuses missing values in {', '.join(result.refused)}.")
    return " ".join(parts)


def _tables(result: RobustnessResult) -> list[Table]:
    noise = Table.from_records("Flip rate by noise level",
                               [{"noise_level": float(r.label), "flip_rate": r.rate, "ci_low": r.ci[0],
                                 "ci_high": r.ci[1], "n": r.n, "repeats": r.how} for r in result.noise],
                               columns=["noise_level", "flip_rate", "ci_low", "ci_high", "n", "repeats"])
    missing = [] if result.missing is None else [{"test": f"{float(result.missing.label):.0%} of values missing at random",
                                                  "flip_rate": result.missing.rate, "ci_low": result.missing.ci[0],
                                                  "ci_high": result.missing.ci[1], "n": result.missing.n}]
    per_feature = [{"test": f"'{r.label}' missing for every row",
                    "flip_rate": r.rate, "ci_low": r.ci[0], "ci_high": r.ci[1], "n": r.n}
                   for r in sorted(result.per_feature, key=lambda r: -r.rate)]
    per_feature += [{"test": f"'{c}' missing: refused by the model ({why})", "flip_rate": None, "ci_low": None,
                     "ci_high": None, "n": None} for c, why in result.refused.items()]
    by_feature = Table.from_records(
        "Flip rate with noise on one feature at a time (largest level)",
        [{"feature": r.label, "flip_rate": r.rate, "ci_low": r.ci[0], "ci_high": r.ci[1], "n": r.n}
         for r in sorted(result.noise_by_feature, key=lambda r: -r.rate)],
        columns=["feature", "flip_rate", "ci_low", "ci_high", "n"])
    return [noise, by_feature, Table.from_records("Flip rate with missing values", missing + per_feature,
                                                  columns=["test", "flip_rate", "ci_low", "ci_high", "n"])]
