"""Evidence ``robustness.perturbation`` for an image model: flip rates under declared image perturbations.

The image twin of the tabular noise and missing-value tests (AI Act Art. 15(4)): every audited image is
perturbed (``images.perturbations``: Gaussian noise, blur, brightness, contrast, JPEG; :mod:`audit.image.perturb`)
and re-decided by the model with its own decision rule; the flip rate is the share of decisions that change,
with a 95 % bootstrap interval, overall and per group of each protected attribute. ``flip_rate_noise_max`` is
the rate at the largest declared noise, so the requirements that rest on noise read the same figure as for
tabular models; a pixel is never missing, so the missing-value figures are None with that reason.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from audit.checks._base import CheckContext
from audit.checks._common import SALT, pct
from audit.evidence import Chart, Evidence, Table
from audit.subject import Subject
from audit.thresholds import reference_line

__all__ = ["image_robustness_evidence", "NO_PIXEL_MISSING", "NO_NOISE_DECLARED"]

NO_PIXEL_MISSING = ("image input: a pixel is never missing, so there is no missing-value test; the other declared "
                    "perturbations (blur, brightness, contrast, JPEG) are in the table")
NO_NOISE_DECLARED = "no noise perturbation declared (images.perturbations)"
NO_FEATURE = "image input: the perturbations act on the whole image, not on one feature"
TITLE = "Robustness to image perturbations (Art. 15(4))"
METHOD = (
    "Every audited image is perturbed and re-decided by the model with its own decision rule; a flip is a "
    "decision that differs from the decision on the real image. Noise: Gaussian noise of σ = strength on "
    "intensities in [0, 1] (seeded), clipped to [0, 1]; blur: Gaussian blur of σ = strength pixels; brightness: "
    "intensities × strength; contrast: the spread around each image's mean × strength; JPEG: re-encoded at that "
    "quality. Intervals: percentile bootstrap 95 % over images ({n_boot} resamples)."
)
LIMITS = [
    "The perturbations are declared, not observed: real scans, cameras and compression differ from them in kind "
    "and size.",
    "Each noise level is drawn once per image (one seeded draw), not repeated.",
    "Only the model is tested, not the capture and preprocessing that feed it in production.",
]


def image_robustness_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Flip rates under each declared perturbation, overall and by group."""
    from audit.image.perturb import DEFAULT_PERTURBATIONS, Perturbation, flip_rates_by

    started = time.perf_counter()
    if subject.images is None or subject.model is None:  # robustness.run sends only image subjects with a model
        raise ValueError("image robustness needs the Subject's images and model")
    model: Any = subject.model
    declared = subject.spec.image_settings.perturbations
    perturbations = (list(DEFAULT_PERTURBATIONS) if declared is None
                     else [Perturbation(p.kind, p.strength) for p in declared])

    def decide(images: np.ndarray) -> np.ndarray:
        return np.asarray(model.decide(model.score_tensor(images)), dtype=bool)

    n_boot = ctx.spec.fairness.bootstrap
    seed = int(ctx.rng(SALT["robustness"]).integers(0, 2**31 - 1))
    # every perturbed image decided once, then grouped by each protected attribute
    found = flip_rates_by(decide, subject.images, perturbations=perturbations, seed=seed, n_boot=max(n_boot, 1),
                          groups={str(a): subject.groups[a].to_numpy() for a in subject.groups.columns})
    rates = next(iter(found.values()))
    by_attribute = {a: r for a, r in found.items() if a is not None}
    noise = [r for r in rates if r.perturbation.kind == "noise"]
    largest = max(noise, key=lambda r: r.perturbation.strength) if noise else None
    missing = {"flip_rate_missing": NO_PIXEL_MISSING, "most_fragile_feature": NO_PIXEL_MISSING,
               "most_fragile_flip_rate": NO_PIXEL_MISSING, "most_noise_sensitive_feature": NO_FEATURE,
               "most_noise_sensitive_flip_rate": NO_FEATURE}
    if largest is None:
        missing |= {"flip_rate_noise_max": NO_NOISE_DECLARED, "noise_level_max": NO_NOISE_DECLARED}
    worst = max(rates, key=lambda r: r.rate)
    summary = (f"Under {worst.perturbation.label}, {pct(worst.rate)} of decisions change (the most of the "
               f"{len(rates)} declared perturbations)"
               + (f"; under noise of σ = {largest.perturbation.strength:g}, {pct(largest.rate)}." if largest else "."))
    line, line_label = reference_line(ctx.spec, "noise_flip_rate")
    return Evidence(
        id="robustness.perturbation", check="robustness", title=TITLE, summary=summary,
        metrics={
            "flip_rate_noise_max": largest.rate if largest else None,
            "noise_level_max": float(largest.perturbation.strength) if largest else None,
            "flip_rate_missing": None, "most_fragile_feature": None, "most_fragile_flip_rate": None,
            "most_noise_sensitive_feature": None, "most_noise_sensitive_flip_rate": None,
            "n_rows": subject.n,
        },
        missing=missing,
        tables=[_overall(rates), *(_by_group(a, r) for a, r in by_attribute.items())],
        charts=[Chart(id="robustness-image", title="Decisions that flip under each declared image perturbation",
                      labels=[r.perturbation.label for r in rates], values=[r.rate for r in rates],
                      ci_low=[r.ci[0] for r in rates], ci_high=[r.ci[1] for r in rates],
                      xlabel="share of decisions that change", reference=line, reference_label=line_label)],
        method=METHOD.format(n_boot=n_boot),
        limits=list(LIMITS),
        params={"seed": ctx.seed, "rng_salt": SALT["robustness"], "noise_seed": seed, "perturbations": [r.perturbation.label for r in rates],
                "bootstrap": n_boot, "rows": subject.n},
        seconds=time.perf_counter() - started,
    )


def _overall(rates: list[Any]) -> Table:
    return Table.from_records("Flip rate by perturbation (all images)",
                              [{"perturbation": r.perturbation.label, "flip_rate": r.rate, "ci_low": r.ci[0],
                                "ci_high": r.ci[1], "flipped": r.flipped, "n": r.n} for r in rates],
                              columns=["perturbation", "flip_rate", "ci_low", "ci_high", "flipped", "n"])


def _by_group(attribute: str, rates: list[Any]) -> Table:
    groups = sorted({g for r in rates for g in r.by_group})
    rows = [{"perturbation": r.perturbation.label,
             **{f"{g}: flip_rate": r.by_group[g][0] for g in groups if g in r.by_group},
             **{f"{g}: n": r.by_group[g][2] for g in groups if g in r.by_group}} for r in rates]
    columns = ["perturbation", *(f"{g}: flip_rate" for g in groups), *(f"{g}: n" for g in groups)]
    return Table.from_records(f"Flip rate by perturbation and {attribute}", rows, columns=columns)
