"""Evidence ``local.image_maps``: attribution maps of an image model's decisions, each method checked on this model.

For a seeded sample of decisions (``images.sample``), each explained for the class the model decided, the maps
of Grad-CAM (on ``images.layer``), Integrated Gradients (from ``images.ig_baseline``) and saliency are computed
with two checks per method (:func:`audit.image.sanity.check_methods`): the cascading model-parameter
randomisation test (Adebayo et al. 2018) and deletion / insertion curves against random pixel orders (Petsiuk
et al. 2018). A constant map runs beside them as a CONTROL: the randomisation test must reject it, or the test
is not discriminating on this model. Only methods that pass both checks are drawn; the others are listed with
their figures. The pass/fail of a method decides only whether its maps are drawn: the thresholds are this
project's reference values, not law, and no requirement rests on them.

Maps need gradients: a TorchScript or torch model is explained itself; an ONNX model through the TorchScript
file it was exported from (``model.reference``), whose drift from it the audit measures.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from audit.checks._base import CheckContext
from audit.checks._examples import example_fields
from audit.evidence import Chart, Evidence, Table, clean_float
from audit.models.tensor import gradient_module
from audit.subject import Subject

__all__ = ["image_maps_evidence", "IMAGE_MAPS_ID", "IMAGE_MAPS_TITLE", "NO_IMAGE", "MAPS_SALT"]

IMAGE_MAPS_ID = "local.image_maps"
IMAGE_MAPS_TITLE = "Attribution maps of image decisions and their sanity checks"
NO_IMAGE = "no image input (data.feature_types: image)"
MAPS_SALT = 701
NAMES = {"gradcam": "Grad-CAM", "ig": "Integrated Gradients", "saliency": "saliency", "constant": "constant (control)"}
# A drawn example: at most this many pixels a side (larger images are shown downsampled by striding).
_MAX_SIDE = 64

METHOD = (
    "{n} decisions (a seeded sample of {total}), each explained for the class the model decided. Grad-CAM "
    "(Selvaraju et al. 2017) on layer {layer}; Integrated Gradients (Sundararajan et al. 2017) from {baseline}, "
    "64 Gauss-Legendre points; saliency (Simonyan et al. 2014): |gradient| of the decided class's score "
    "({score}). Randomisation test (Adebayo et al. 2018): the layers {cascade} are re-drawn one after another "
    "(output first) and each method's maps recomputed; a method passes when the mean Spearman correlation of "
    "|map| before and after, with every listed layer re-drawn, is below {threshold:g}. Deletion test (Petsiuk "
    "et al. 2018): pixels are blacked out in the map's order (largest first) and the decided class's "
    "probability is followed; a method passes when the area under that curve is below that of random pixel "
    "orders (3 per image). A constant map (the same Gaussian for every image) is run as a control: the "
    "randomisation test must reject it."
)
LIMITS = [
    "Both checks are necessary, not sufficient: a map that passes them still shows where the model looked, not "
    "why, and not whether that is right.",
    "The randomisation threshold (0.5) is this project's reference value; no law or standard sets it. It decides "
    "only which maps are drawn.",
    "Maps are computed for a sample of decisions, not for every decision: a person's own decision may not be "
    "among them.",
    "Integrated Gradients depends on its baseline; the digits example shows a black baseline failing where the "
    "mean image passes.",
]


def image_maps_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Maps of a sample of decisions with both checks per method; not assessed without an image input or gradients."""
    from audit.image.maps import baseline_images
    from audit.image.models import parameter_layers
    from audit.image.sanity import RANDOMISATION_MAX_SPEARMAN, check_methods

    if subject.images is None or not subject.has_model:
        return Evidence.not_assessed(IMAGE_MAPS_ID, "local", IMAGE_MAPS_TITLE, NO_IMAGE)
    found = gradient_module(subject.model)
    if isinstance(found, str):
        return Evidence.not_assessed(IMAGE_MAPS_ID, "local", IMAGE_MAPS_TITLE, found)
    module, which = found
    started = time.perf_counter()
    settings = subject.spec.image_settings
    model: Any = subject.model
    rows = np.sort(ctx.rng(MAPS_SALT).choice(subject.n, size=min(settings.sample, subject.n), replace=False))
    x = subject.images[rows]
    decision = np.asarray(subject.predictions.decision, dtype=bool)[rows]
    positive = int(model.positive_index)
    target = np.where(decision, positive, 1 - positive)  # each map explains the class the model decided
    cascade = list(settings.randomise) if settings.randomise else parameter_layers(module)[::-1]
    output = model.output
    baseline = baseline_images(x, "mean")[0] if settings.ig_baseline == "mean" else settings.ig_baseline
    ctx.progress("image maps", 0, 1)
    # Layer names were checked when the Subject was loaded (audit.subject._check_layers).
    checks = check_methods(module, x, target=target, layers_to_randomise=cascade, seed=ctx.seed,
                           layer=settings.layer, output=output, baseline=baseline)
    ctx.progress("image maps", 1, 1)
    real = [c for c in checks if not c.control]
    kept = [c for c in real if c.kept]
    control = next(c for c in checks if c.control)
    last = {c.method: c.randomisation.steps[-1].mean_spearman for c in checks}
    gap = next((c.completeness_gap for c in checks if c.method == "ig"), None)
    missing = {}
    if "gradcam" not in last:
        missing["gradcam_spearman"] = "no layer named for Grad-CAM (images.layer)"
    if not kept:
        missing["kept_methods"] = "no method passed both checks on this model: no map is drawn"
    metrics = {
        "n_images": len(rows),
        "methods_checked": len(real),
        "methods_kept": len(kept),
        "kept_methods": ", ".join(NAMES[c.method] for c in kept) or None,
        "control_rejected": not control.randomisation.passed,
        "gradcam_spearman": clean_float(last.get("gradcam")),
        "ig_spearman": clean_float(last.get("ig")),
        "saliency_spearman": clean_float(last.get("saliency")),
        "ig_completeness_gap": clean_float(gap),
        "maps_model": which,
    }
    score = "log-odds" if output == "logits" else "probability"
    base_text = {"mean": "the sample's mean image", "zeros": "a black image", "blur": "each image blurred"}
    summary = (f"{len(kept)} of {len(real)} attribution methods pass both checks on this model"
               + (f" ({metrics['kept_methods']}); only their maps are drawn." if kept else ": no map is drawn.")
               + (" The constant control is rejected by the randomisation test, as it must be."
                  if metrics["control_rejected"] else
                  " The constant control PASSES the randomisation test: the test does not discriminate on this "
                  "model, so no method's pass means anything."))
    return Evidence(
        id=IMAGE_MAPS_ID, check="local", title=IMAGE_MAPS_TITLE, summary=summary, metrics=metrics, missing=missing,
        tables=[_method_table(checks), _group_table(subject, rows)],
        charts=[_spearman_chart(checks, RANDOMISATION_MAX_SPEARMAN), _deletion_chart(checks),
                *_examples(subject, rows, x, kept, ctx)],
        method=METHOD.format(n=len(rows), total=subject.n, layer=settings.layer or "(none: Grad-CAM not run)",
                             baseline=base_text[settings.ig_baseline], score=score, cascade=", ".join(cascade),
                             threshold=RANDOMISATION_MAX_SPEARMAN) + f" Maps are computed on {which}.",
        limits=list(LIMITS),
        params={"seed": ctx.seed, "rng_salt": MAPS_SALT, "sample": len(rows), "layer": settings.layer,
                "cascade": ", ".join(cascade), "ig_baseline": settings.ig_baseline, "output": output},
        seconds=time.perf_counter() - started,
    )


def _method_table(checks: list[Any]) -> Table:
    rows = []
    for c in checks:
        r, d = c.randomisation, c.deletion
        rows.append({
            "method": NAMES[c.method],
            "spearman_by_step": ", ".join(f"{s.mean_spearman:.2f}" for s in r.steps),
            "randomisation": "pass" if r.passed else "FAIL",
            "deletion_auc": d.deletion_auc, "random_deletion_auc": d.random_deletion_auc,
            "difference_ci_low": d.difference_ci[0], "difference_ci_high": d.difference_ci[1],
            "share_below_random": d.share_below_random,
            "deletion": "pass" if d.passed else "FAIL",
            "insertion_auc": d.insertion_auc, "random_insertion_auc": d.random_insertion_auc,
            "drawn": "control" if c.control else ("yes" if c.kept else "no"),
        })
    return Table.from_records("Each method's checks on this model (mean Spearman of |map| per cascade step; "
                              "deletion AUC against random orders)", rows)


def _group_table(subject: Subject, rows: np.ndarray) -> Table:
    """Images per group in the sample, so a reader sees whose images the checks rest on."""
    out = []
    for attribute in subject.groups.columns:
        labels = subject.groups[attribute].to_numpy(dtype=object)[rows]
        for group in sorted(set(labels)):
            out.append({"attribute": str(attribute), "group": str(group), "images": int((labels == group).sum())})
    return Table.from_records(f"Images in the sample of {len(rows)} by group", out,
                              columns=["attribute", "group", "images"])


def _spearman_chart(checks: list[Any], threshold: float) -> Chart:
    return Chart(id="image-maps-randomisation", title="Randomisation test: how much each method's maps still "
                 "resemble themselves after the layers are re-drawn (lower is better)",
                 labels=[NAMES[c.method] for c in checks],
                 values=[c.randomisation.steps[-1].mean_spearman for c in checks],
                 xlabel="mean Spearman correlation of |map|, all listed layers re-drawn",
                 reference=threshold, reference_label=f"reference {threshold:g} (not law)")


def _deletion_chart(checks: list[Any]) -> Chart:
    d0 = checks[0].deletion
    series: dict[str, list[float | None]] = {NAMES[c.method]: [float(v) for v in c.deletion.deletion_curve]
                                             for c in checks}
    series["random order"] = [float(v) for v in d0.random_deletion_curve]
    return Chart(id="image-maps-deletion", title="Deletion curves: probability of the decided class as pixels are "
                 "removed in each method's order (a faithful map falls faster than random)", kind="line",
                 x=[float(v) for v in d0.fractions], series=series, xlabel="share of pixels removed",
                 ylabel="probability of the decided class")


def _examples(subject: Subject, rows: np.ndarray, x: np.ndarray, kept: list[Any], ctx: CheckContext) -> list[Chart]:
    """A few decisions drawn with each kept method's map: only when the spec lets examples show the image."""
    settings = subject.spec.image_settings
    column = subject.image_columns[0]
    if not (subject.spec.report.examples and column in example_fields(subject)) or not kept or not settings.examples:
        return []
    picks = np.sort(ctx.rng(MAPS_SALT + 1).choice(len(rows), size=min(settings.examples, len(rows)), replace=False))
    decision = np.asarray(subject.predictions.decision, dtype=bool)[rows]
    model: Any = subject.model  # image_maps_evidence runs only with a model
    classes, positive = model.classes, int(model.positive_index)
    charts = []
    for k in picks:
        image = x[k].mean(axis=0)
        step = max(1, int(np.ceil(max(image.shape) / _MAX_SIDE)))
        grids = [image[::step, ::step]]
        for c in kept:
            m = np.abs(c.maps[k])
            top = float(m.max()) or 1.0
            grids.append((m / top)[::step, ::step])
        decided = classes[positive if decision[k] else 1 - positive]
        charts.append(Chart(
            id=f"image-maps-example-{k}", title=f"Decision {subject.ids[rows[k]]}: '{decided}'", kind="images",
            labels=["image", *(NAMES[c.method] for c in kept)],
            grids=[[[round(float(v), 4) for v in line] for line in g] for g in grids]))
    return charts
