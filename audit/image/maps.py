"""Per-decision attribution maps of an image classifier: Grad-CAM, Integrated Gradients, saliency (Captum).

One map (H, W) per image, for the class ``target`` (one class for all images, or one per image: the
decision the model made for it, when the map explains that decision). What is explained is the class's
score of :func:`audit.image.models.class_scores`: its log-odds for a model that outputs logits, its
probability for one that outputs probabilities.

- ``gradcam`` (Selvaraju et al. 2017): Captum's ``LayerGradCam`` on the named layer (a module path such as
  "features.4", which must output (N, C, h, w)): the ReLU of the channel sum of activations weighted by
  their spatially averaged gradients, upsampled to the image size with bilinear interpolation
  (``LayerAttribution.interpolate``). Works on a TorchScript module through the split of
  :func:`audit.image.models.layer_forward` (TorchScript takes no forward hook).
- ``ig`` (Sundararajan et al. 2017): Captum's ``IntegratedGradients`` from a baseline image (Gauss-Legendre
  rule, ``steps`` points), summed over channels: a signed map whose sum is f(x) - f(baseline) up to the
  integration error (completeness; :func:`target_score` computes f for checking it). The baseline is part
  of the method: on the digits-scanners example IG from a black image fails the randomisation test (its
  maps keep the digit's shape whatever the weights, since x - baseline is zero on the black background)
  and IG from the mean image passes; :func:`audit.image.sanity.check_methods` uses the mean image.
- ``saliency`` (Simonyan et al. 2014): Captum's ``Saliency``, |d score / d pixel|, maximum over channels.
- ``constant``: a CONTROL, not an explanation: the same centred Gaussian map for every image and every
  model. It never changes when the model does, so the model-parameter randomisation test of
  :mod:`audit.image.sanity` must fail it; run beside the real methods, it shows the test can fail.

Baselines (for ``ig``, and the replacement images of the deletion / insertion curves): "zeros" (a black
image), "mean" (the per-pixel mean of the images passed in: pass the array itself to keep one baseline
across calls), "blur" (each image under a Gaussian blur of sigma = BLUR_SIGMA_SHARE of its shorter side),
or an array (C, H, W) or (N, C, H, W). Nothing here is random. The module is put in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from audit.image.models import Output, class_scores, layer_forward

__all__ = ["METHODS", "CONTROLS", "Method", "Baseline", "BLUR_SIGMA_SHARE", "IG_STEPS", "attribution_maps",
           "baseline_images", "target_score", "targets_for", "constant_map"]

Method = Literal["gradcam", "ig", "saliency", "constant"]
#: The attribution methods; CONTROLS are model-independent maps that exist to show a check can fail.
METHODS: tuple[str, ...] = ("gradcam", "ig", "saliency")
CONTROLS: tuple[str, ...] = ("constant",)
Baseline = str | np.ndarray
#: Blur baseline: Gaussian sigma as a share of the image's shorter side (4 pixels at 32 x 32). At this width a
#: 32-pixel digit is a blob: its strokes, what the model reads, are gone.
BLUR_SIGMA_SHARE = 1 / 8
#: Integrated Gradients: Gauss-Legendre points per image (the completeness gap is measured, not assumed).
IG_STEPS = 64
#: Images per attribution pass (IG runs IG_STEPS points per image inside it).
BATCH = 32


def targets_for(target: int | Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """The class of each of ``n`` images (int64), from one class or one per image."""
    t = np.asarray(target)
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must be one class index or one per image ({n}), not an array of shape {t.shape} "
                         f"and type {t.dtype}")
    if len(t) and t.min() < 0:
        raise ValueError(f"target holds a negative class index ({int(t.min())})")
    return t.astype(np.int64)


def _images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"images must be an array (N, C, H, W) of at least one image, not of shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def baseline_images(images: np.ndarray, baseline: Baseline) -> np.ndarray:
    """The baseline of each image (N, C, H, W) float32: "zeros", "mean", "blur" or a given array."""
    x = _images(images)
    if isinstance(baseline, np.ndarray):
        b = np.asarray(baseline, dtype=np.float32)
        if b.shape == x.shape[1:]:
            return np.ascontiguousarray(np.broadcast_to(b, x.shape))
        if b.shape == x.shape:
            return np.ascontiguousarray(b)
        raise ValueError(f"a baseline array must have shape {x.shape[1:]} or {x.shape}, not {b.shape}")
    if baseline == "zeros":
        return np.zeros_like(x)
    if baseline == "mean":
        return np.ascontiguousarray(np.broadcast_to(x.mean(axis=0, dtype=np.float64).astype(np.float32), x.shape))
    if baseline == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = BLUR_SIGMA_SHARE * min(x.shape[2], x.shape[3])
        return np.asarray(gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="nearest"), dtype=np.float32)
    raise ValueError(f"baseline must be 'zeros', 'mean', 'blur' or an array, not {baseline!r}")


def constant_map(height: int, width: int) -> np.ndarray:
    """The CONTROL map: a centred Gaussian (sigma a quarter of each side), the same for every image and model."""
    yy = (np.arange(height) - (height - 1) / 2) / (height / 4)
    xx = (np.arange(width) - (width - 1) / 2) / (width / 4)
    return np.exp(-0.5 * (yy[:, None] ** 2 + xx[None, :] ** 2))


def target_score(module: Any, images: np.ndarray, *, target: int | Sequence[int] | np.ndarray,
                 output: Output = "logits") -> np.ndarray:
    """f(x): the explained score of each image's target class (float64), by a plain forward pass."""
    x = _images(images)
    t = targets_for(target, len(x))
    module.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(x), 256):
            scores = class_scores(module(torch.from_numpy(x[start:start + 256])), output=output)
            _check_target(t[start:start + 256], scores.shape[1])
            parts.append(scores.gather(1, torch.from_numpy(t[start:start + 256]).view(-1, 1))[:, 0].double().numpy())
    return np.concatenate(parts) if parts else np.zeros(0)


def _check_target(t: np.ndarray, classes: int) -> None:
    if len(t) and t.max() >= classes:
        raise ValueError(f"target class {int(t.max())} does not exist: the model has {classes} classes")


def attribution_maps(module: Any, images: np.ndarray, *, method: Method, target: int | Sequence[int] | np.ndarray,
                     output: Output = "logits", layer: str | None = None, baseline: Baseline = "zeros",
                     steps: int = IG_STEPS, batch: int = BATCH) -> np.ndarray:
    """One attribution map per image, (N, H, W) float64, for each image's ``target`` class.

    ``layer`` (a module path) is required for "gradcam" and ignored otherwise; ``baseline`` and ``steps`` are
    Integrated Gradients'. Raises ValueError for an unknown method, a missing or unusable layer, a bad target.
    """
    x = _images(images)
    n, _, height, width = x.shape
    t = targets_for(target, n)
    if method == "constant":
        return np.broadcast_to(constant_map(height, width), (n, height, width)).copy()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS + CONTROLS)}, not {method!r}")
    if method == "gradcam" and not layer:
        raise ValueError("Grad-CAM needs a layer: the module path of a convolutional layer, such as 'features.4'")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, not {steps}")
    module.eval()
    explainer = _explainer(module, method=method, output=output, layer=layer)
    base = baseline_images(x, baseline) if method == "ig" else x  # x: unused by the other methods
    with torch.no_grad():
        _check_target(t, class_scores(module(torch.from_numpy(x[:1])), output=output).shape[1])
    out = np.empty((n, height, width))
    for start in range(0, n, batch):
        block = slice(start, start + batch)
        inputs = torch.from_numpy(x[block]).requires_grad_(True)
        tt = torch.from_numpy(t[block])
        with torch.enable_grad():
            if method == "gradcam":
                from captum.attr import LayerAttribution

                attr = explainer.attribute(inputs, target=tt, relu_attributions=True)
                if attr.dim() != 4:
                    raise ValueError(f"Grad-CAM needs a layer whose output is (N, C, h, w); layer '{layer}' gives "
                                     f"{attr.dim()} dimensions")
                maps = LayerAttribution.interpolate(attr, (height, width), interpolate_mode="bilinear")[:, 0]
            elif method == "saliency":
                maps = explainer.attribute(inputs, target=tt, abs=True).amax(dim=1)
            else:
                attr = explainer.attribute(inputs, baselines=torch.from_numpy(base[block]), target=tt, n_steps=steps,
                                           method="gausslegendre", internal_batch_size=batch * steps)
                maps = attr.sum(dim=1)
        out[block] = maps.detach().double().numpy()
    return out


def _explainer(module: Any, *, method: str, output: Output, layer: str | None) -> Any:
    from captum.attr import IntegratedGradients, LayerGradCam, Saliency

    if method == "gradcam":
        forward, hooked = layer_forward(module, str(layer))
        return LayerGradCam(_scores(forward, output), hooked)
    score = _scores(module, output)
    return Saliency(score) if method == "saliency" else IntegratedGradients(score)


def _scores(forward: Any, output: Output) -> Any:
    def score(x: torch.Tensor) -> torch.Tensor:
        return class_scores(forward(x), output=output)

    return score
