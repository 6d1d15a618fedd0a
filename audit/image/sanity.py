"""Sanity checks of attribution maps on the audited model: are the maps about this model, and do they find what it uses?

An attribution map can look convincing and say nothing about the model (Adebayo et al. 2018, "Sanity
checks for saliency maps": some methods act as edge detectors of the input). Two checks are run per
method, on the model audited and a sample of its decisions; only a method that passes both is fit to be
drawn in a report (:func:`check_methods`); the others are listed with their figures.

1. Model-parameter randomisation (:func:`randomisation_test`; Adebayo et al. 2018, cascading version).
   The named layers are re-drawn one after another from the top (output) layer down; after each step the
   maps of the partly random model are compared with the trained model's, image by image, by the Spearman
   rank correlation of their absolute values (|map|, flattened), for the same target classes. A map that
   does not change when the model does cannot explain the model. Rule: the method PASSES when the mean
   Spearman correlation after the last step (all listed layers re-drawn) is below
   RANDOMISATION_MAX_SPEARMAN = 0.5. A reference value of this module, not a law's: below 0.5 the two
   maps' ranks share less than a quarter of their variance (rho^2 < 0.25), so most of what the map shows
   came from the weights that were re-drawn. In Adebayo et al.'s cascading randomisation the gradient and
   Grad-CAM maps fall towards no rank correlation as layers are re-drawn, while guided back-propagation
   and guided Grad-CAM stay high; 0.5 lies between the two. (On the digits-scanners example, the methods
   that pass end between 0.16 and 0.40; the constant control stays at 1; IG from a black baseline ends at
   0.56 and fails.) Two identical maps count as 1 (a constant map's ranks are all tied: its maps never
   change, so it fails); a constant map against a varying one, 0.
   Re-drawing: each parameter tensor of a layer gets independent Gaussian values with the mean and standard
   deviation of its trained values (the scale of the layer is kept, so activations neither vanish nor
   explode; a one-value tensor keeps its magnitude as the standard deviation), from a generator seeded by
   (seed, step). The model given is not changed: a copy is re-drawn.

2. Deletion / insertion (:func:`deletion_insertion`; Petsiuk et al. 2018, "RISE"). Pixels are removed in the
   order of the map (largest value first, ties in a seeded random order), a fraction at a time; the curve is
   the probability of the target class against the fraction removed, its area (AUC, trapezoids over [0, 1])
   the deletion score: lower means the map found what the decision rests on. Removed pixels take the
   deletion baseline's value (default black, "zeros", as RISE deletes). Insertion runs the other way, from
   the insertion baseline (default a blurred image, as RISE inserts) towards the image; higher is better.
   Each is compared with the same curves in random pixel orders (``random_repeats`` seeded orders per
   image, averaged). Rule: the method PASSES when its mean deletion AUC is below the random orders' mean
   deletion AUC (the curve lies below the random baseline's on average). The insertion AUCs, the share of
   images whose deletion AUC is below their random one, and a paired bootstrap 95 % interval of the mean
   difference are reported beside it.

The functions take a torch module (eager or TorchScript); :func:`deletion_insertion` also takes an
onnxruntime session or a function returning the model's raw output (it needs no gradient).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from audit.image.maps import (
    CONTROLS,
    IG_STEPS,
    METHODS,
    Baseline,
    Method,
    attribution_maps,
    baseline_images,
    target_score,
    targets_for,
)
from audit.image.models import Output, is_torch_module, parameter_layers, probabilities_fn

__all__ = ["RANDOMISATION_MAX_SPEARMAN", "DELETION_STEPS", "RANDOM_REPEATS", "CascadeStep", "RandomisationResult",
           "DeletionResult", "MethodCheck", "randomisation_test", "deletion_insertion", "check_methods",
           "spearman_abs", "randomise_layers"]

#: Randomisation test: a method passes when the mean Spearman correlation of |map| between the trained and the
#: fully re-drawn model (all listed layers) is below this reference value (see the module docstring).
RANDOMISATION_MAX_SPEARMAN = 0.5
#: Deletion / insertion: fractions of the pixels removed per curve (DELETION_STEPS + 1 points from 0 to 1).
DELETION_STEPS = 32
#: Random pixel orders per image for the random baseline of the deletion / insertion curves.
RANDOM_REPEATS = 3
_N_BOOT = 1000


@dataclass
class CascadeStep:
    """One step of the cascade: the layers re-drawn so far, the mean and quartiles of the per-image Spearman."""

    randomised: list[str]
    mean_spearman: float
    quartiles: tuple[float, float, float]
    below_threshold: bool


@dataclass
class RandomisationResult:
    """The model-parameter randomisation test of one method (verdict at the last step)."""

    method: str
    threshold: float
    steps: list[CascadeStep]
    passed: bool
    n_images: int
    seed: int
    rule: str = (f"passes when the mean Spearman correlation of |map| after re-drawing every listed layer is below "
                 f"{RANDOMISATION_MAX_SPEARMAN}")


@dataclass
class DeletionResult:
    """Deletion and insertion curves of one method's maps and of random pixel orders (means over images)."""

    fractions: np.ndarray
    deletion_curve: np.ndarray
    random_deletion_curve: np.ndarray
    insertion_curve: np.ndarray
    random_insertion_curve: np.ndarray
    deletion_auc: float
    random_deletion_auc: float
    insertion_auc: float
    random_insertion_auc: float
    share_below_random: float  # images whose deletion AUC is below their own random orders'
    difference_ci: tuple[float | None, float | None]  # mean (method - random) deletion AUC, paired bootstrap 95 %
    passed: bool
    n_images: int
    random_repeats: int
    seed: int
    deletion_baseline: str
    insertion_baseline: str
    rule: str = "passes when the mean deletion AUC of the map's order is below that of random orders"


@dataclass
class MethodCheck:
    """Both checks of one method; ``kept`` when it passes both (only kept methods are drawn)."""

    method: str
    randomisation: RandomisationResult
    deletion: DeletionResult
    maps: np.ndarray = field(repr=False)
    control: bool = False
    #: Integrated Gradients only: the largest |sum(map) - (f(x) - f(baseline))| over the images (completeness gap).
    completeness_gap: float | None = None

    @property
    def kept(self) -> bool:
        return not self.control and self.randomisation.passed and self.deletion.passed


# ------------------------------------------------------------------------------------------------ randomisation


def spearman_abs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per image, the Spearman rank correlation of |a| and |b| (maps (N, H, W)); ties get average ranks.

    Identical maps give 1 (also when constant); a constant map against a varying one gives 0.
    """
    from scipy.stats import rankdata

    x = np.abs(np.asarray(a, dtype=np.float64)).reshape(len(a), -1)
    y = np.abs(np.asarray(b, dtype=np.float64)).reshape(len(b), -1)
    if x.shape != y.shape:
        raise ValueError(f"maps of different shapes: {np.shape(a)} and {np.shape(b)}")
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / denominator
    same = np.all(x == y, axis=1)
    return np.where(same, 1.0, np.where(denominator > 0, rho, 0.0))


def randomise_layers(module: Any, layers: Sequence[str], *, seed: int, step: int) -> None:
    """Re-draw, in place, every parameter of ``layers`` (module paths): Gaussian with its trained mean and sd."""
    params = dict(module.named_parameters())
    rng = np.random.default_rng([seed, step])
    with torch.no_grad():
        for layer in layers:
            owned = [name for name in params if name.startswith(layer + ".")]
            for name in owned:
                p = params[name]
                values = p.detach().double()
                sd = float(values.std()) if p.numel() > 1 else float(values.abs().max())
                mean = float(values.mean())
                drawn = rng.normal(mean, sd if sd > 0 else 1e-2, size=tuple(p.shape))
                p.copy_(torch.from_numpy(drawn).to(p.dtype))


def _check_layers(module: Any, layers: Sequence[str]) -> None:
    if not layers:
        raise ValueError("layers_to_randomise is empty: name the layers to re-draw, top (output) layer first")
    owners = parameter_layers(module)
    for layer in layers:
        if not any(o == layer or o.startswith(layer + ".") for o in owners):
            raise ValueError(f"layer '{layer}' has no parameters to re-draw; layers with parameters: "
                             f"{', '.join(owners)}")


def _copy(module: Any) -> Any:
    """A copy of the module whose parameters can be re-drawn without touching the original."""
    return copy.deepcopy(module)


def randomisation_test(module: Any, images: np.ndarray, *, method: Method, target: int | Sequence[int] | np.ndarray,
                       layers_to_randomise: Sequence[str], seed: int, output: Output = "logits",
                       layer: str | None = None, baseline: Baseline = "zeros", steps: int = IG_STEPS,
                       maps: np.ndarray | None = None, threshold: float = RANDOMISATION_MAX_SPEARMAN
                       ) -> RandomisationResult:
    """Cascading model-parameter randomisation of one method (see the module docstring for the rule).

    ``layers_to_randomise``: module paths, top (output) layer first; step k re-draws the first k + 1 of them.
    ``maps``: the trained model's maps when already computed (same images, targets and settings).
    """
    x = np.asarray(images, dtype=np.float32)
    t = targets_for(target, len(x))
    _check_layers(module, layers_to_randomise)
    kwargs: dict[str, Any] = {"method": method, "target": t, "output": output, "layer": layer, "steps": steps}
    if isinstance(baseline, str) and baseline == "mean":  # one baseline for every model: the mean of these images
        baseline = baseline_images(x, "mean")[0]
    kwargs["baseline"] = baseline
    original = attribution_maps(module, x, **kwargs) if maps is None else np.asarray(maps)
    redrawn = _copy(module)
    result = []
    for k, name in enumerate(layers_to_randomise):
        randomise_layers(redrawn, [name], seed=seed, step=k)
        rho = spearman_abs(original, attribution_maps(redrawn, x, **kwargs))
        mean = float(rho.mean())
        q = np.quantile(rho, [0.25, 0.5, 0.75])
        result.append(CascadeStep(randomised=list(layers_to_randomise[:k + 1]), mean_spearman=mean,
                                  quartiles=(float(q[0]), float(q[1]), float(q[2])), below_threshold=mean < threshold))
    return RandomisationResult(method=method, threshold=threshold, steps=result, passed=result[-1].below_threshold,
                               n_images=len(x), seed=seed,
                               rule=f"passes when the mean Spearman correlation of |map| after re-drawing every "
                                    f"listed layer is below {threshold:g}")


# ------------------------------------------------------------------------------------------------ deletion / insertion


def _ranks(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per image, each pixel's position in the deletion order: largest map value first, ties in random order."""
    flat = maps.reshape(len(maps), -1)
    ranks = np.empty(flat.shape, dtype=np.int64)
    positions = np.arange(flat.shape[1])
    for i, row in enumerate(flat):
        order = np.lexsort((np.asarray(rng.random(row.shape[0])), -row))
        ranks[i, order] = positions
    return ranks


def _curves(probabilities: Any, x: np.ndarray, start: np.ndarray, end: np.ndarray, ranks: np.ndarray, t: np.ndarray,
            counts: np.ndarray, *, batch: int) -> np.ndarray:
    """P(target) per image and step, where step j shows ``end`` at the first counts[j] pixels of ``ranks``, else start."""
    n, c, h, w = x.shape
    curves = np.empty((n, len(counts)))
    per_block = max(1, batch // len(counts))
    for s in range(0, n, per_block):
        block = slice(s, s + per_block)
        show_end = ranks[block][:, None, :] < counts[None, :, None]  # (b, steps, H*W)
        a = start[block].reshape(-1, 1, c, h * w)
        b = end[block].reshape(-1, 1, c, h * w)
        mixed = np.where(show_end[:, :, None, :], b, a).reshape(-1, c, h, w)
        p = probabilities(mixed)
        curves[block] = p[np.arange(len(p)), np.repeat(t[block], len(counts))].reshape(-1, len(counts))
    return curves


def deletion_insertion(model: Any, images: np.ndarray, maps: np.ndarray, *, target: int | Sequence[int] | np.ndarray,
                       seed: int, output: Output = "logits", steps: int = DELETION_STEPS,
                       random_repeats: int = RANDOM_REPEATS, deletion_baseline: Baseline = "zeros",
                       insertion_baseline: Baseline = "blur", batch: int = 4096) -> DeletionResult:
    """Deletion and insertion curves of ``maps`` and of random orders, for each image's ``target`` class.

    ``model``: a torch module, an onnxruntime session, or a function giving the model's raw output.
    """
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"images must be an array (N, C, H, W) of at least one image, not of shape {x.shape}")
    m = np.asarray(maps, dtype=np.float64)
    if m.shape != (x.shape[0], x.shape[2], x.shape[3]):
        raise ValueError(f"maps must have shape {(x.shape[0], x.shape[2], x.shape[3])} (one per image), not {m.shape}")
    if steps < 2 or random_repeats < 1:
        raise ValueError(f"steps must be >= 2 and random_repeats >= 1, not {steps} and {random_repeats}")
    if is_torch_module(model):
        model.eval()
    t = targets_for(target, len(x))
    probabilities = probabilities_fn(model, output=output)
    deleted = baseline_images(x, deletion_baseline)
    blurred = baseline_images(x, insertion_baseline)
    pixels = x.shape[2] * x.shape[3]
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * pixels).astype(np.int64)
    rng = np.random.default_rng(seed)
    ranks = _ranks(m, rng)
    deletion = _curves(probabilities, x, x, deleted, ranks, t, counts, batch=batch)
    insertion = _curves(probabilities, x, blurred, x, ranks, t, counts, batch=batch)
    random_deletion = np.zeros_like(deletion)
    random_insertion = np.zeros_like(insertion)
    for _ in range(random_repeats):
        shuffled = _ranks(np.zeros_like(m), rng)  # all ties: a uniformly random order per image
        random_deletion += _curves(probabilities, x, x, deleted, shuffled, t, counts, batch=batch) / random_repeats
        random_insertion += _curves(probabilities, x, blurred, x, shuffled, t, counts, batch=batch) / random_repeats
    auc = {name: np.trapezoid(curve, fractions, axis=1) for name, curve in
           (("del", deletion), ("rdel", random_deletion), ("ins", insertion), ("rins", random_insertion))}
    difference = auc["del"] - auc["rdel"]
    from audit.counterfactual._bootstrap import mean_ci

    ci = mean_ci(difference, rng=np.random.default_rng([seed, 1]), n_boot=_N_BOOT) if len(x) > 1 else (None, None)
    return DeletionResult(
        fractions=fractions, deletion_curve=deletion.mean(axis=0), random_deletion_curve=random_deletion.mean(axis=0),
        insertion_curve=insertion.mean(axis=0), random_insertion_curve=random_insertion.mean(axis=0),
        deletion_auc=float(auc["del"].mean()), random_deletion_auc=float(auc["rdel"].mean()),
        insertion_auc=float(auc["ins"].mean()), random_insertion_auc=float(auc["rins"].mean()),
        share_below_random=float((difference < 0).mean()), difference_ci=_pair(ci),
        passed=bool(auc["del"].mean() < auc["rdel"].mean()), n_images=len(x), random_repeats=random_repeats, seed=seed,
        deletion_baseline=_name(deletion_baseline), insertion_baseline=_name(insertion_baseline))


def _pair(ci: Any) -> tuple[float | None, float | None]:
    low, high = ci
    return (None if low is None else float(low), None if high is None else float(high))


def _name(baseline: Baseline) -> str:
    return baseline if isinstance(baseline, str) else f"an array of shape {np.shape(baseline)}"


# ------------------------------------------------------------------------------------------------ all methods


def check_methods(module: Any, images: np.ndarray, *, target: int | Sequence[int] | np.ndarray,
                  layers_to_randomise: Sequence[str], seed: int, layer: str | None, output: Output = "logits",
                  methods: Sequence[str] = METHODS, controls: Sequence[str] = CONTROLS, baseline: Baseline = "mean",
                  steps: int = IG_STEPS, deletion_steps: int = DELETION_STEPS, random_repeats: int = RANDOM_REPEATS,
                  deletion_baseline: Baseline = "zeros", insertion_baseline: Baseline = "blur") -> list[MethodCheck]:
    """Maps of each method (and control) for ``images``, with both checks; ``kept`` says which may be drawn.

    Grad-CAM is left out when ``layer`` is None. ``baseline`` is Integrated Gradients' ("mean": the per-pixel
    mean of ``images``, one baseline for the trained and the re-drawn models).
    """
    x = np.asarray(images, dtype=np.float32)
    t = targets_for(target, len(x))
    base = baseline_images(x, baseline)[0] if isinstance(baseline, str) and baseline == "mean" else baseline
    checks = []
    for method in [*methods, *controls]:
        if method == "gradcam" and layer is None:
            continue
        settings: dict[str, Any] = {"target": t, "output": output, "layer": layer, "baseline": base, "steps": steps}
        maps = attribution_maps(module, x, method=method, **settings)  # type: ignore[arg-type]
        randomisation = randomisation_test(module, x, method=method, layers_to_randomise=layers_to_randomise,  # type: ignore[arg-type]
                                           seed=seed, maps=maps, **settings)
        deletion = deletion_insertion(module, x, maps, target=t, seed=seed, output=output, steps=deletion_steps,
                                      random_repeats=random_repeats, deletion_baseline=deletion_baseline,
                                      insertion_baseline=insertion_baseline)
        gap = None
        if method == "ig":
            moved = target_score(module, x, target=t, output=output) - target_score(
                module, baseline_images(x, base), target=t, output=output)
            gap = float(np.abs(maps.reshape(len(x), -1).sum(axis=1) - moved).max()) if len(x) else None
        checks.append(MethodCheck(method=method, randomisation=randomisation, deletion=deletion, maps=maps,
                                  control=method in controls, completeness_gap=gap))
    return checks
