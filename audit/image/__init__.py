"""Image inputs for the audit: images + metadata, attribution maps with their sanity checks, perturbation robustness.

- :mod:`audit.image.data`: a metadata CSV (id, file, label, group attributes) and its images, read into a
  float32 array (N, C, H, W) in [0, 1]; anything unreadable is refused in one line.
- :mod:`audit.image.models`: class probabilities and explained scores of a torch module (eager or
  TorchScript) or an onnxruntime session; a named layer of a TorchScript module for Grad-CAM.
- :mod:`audit.image.maps`: per-decision maps (Grad-CAM on a named layer, Integrated Gradients, saliency;
  Captum) and a constant CONTROL map.
- :mod:`audit.image.sanity`: two checks per method on the audited model: the model-parameter randomisation
  test (Adebayo et al. 2018) and deletion / insertion curves against random orders (Petsiuk et al. 2018).
  Only methods that pass both are fit to be drawn (:func:`check_methods`).
- :mod:`audit.image.perturb`: flip rates under declared perturbations (noise, blur, brightness, contrast, JPEG).

The torch-based modules (models, maps, sanity) are imported when first used: ``data`` and ``perturb`` need
no torch.
"""

from __future__ import annotations

from typing import Any

from audit.image.data import ImageSet, read_images
from audit.image.perturb import DEFAULT_PERTURBATIONS, FlipRate, Perturbation, flip_rates, perturb

__all__ = [
    "ImageSet", "read_images", "Perturbation", "FlipRate", "DEFAULT_PERTURBATIONS", "perturb", "flip_rates",
    "attribution_maps", "target_score", "METHODS", "CONTROLS", "randomisation_test", "deletion_insertion",
    "check_methods", "RandomisationResult", "DeletionResult", "MethodCheck", "probabilities_fn",
    "RANDOMISATION_MAX_SPEARMAN",
]

_LAZY = {
    "attribution_maps": "audit.image.maps", "target_score": "audit.image.maps", "METHODS": "audit.image.maps",
    "CONTROLS": "audit.image.maps", "probabilities_fn": "audit.image.models",
    "randomisation_test": "audit.image.sanity", "deletion_insertion": "audit.image.sanity",
    "check_methods": "audit.image.sanity", "RandomisationResult": "audit.image.sanity",
    "DeletionResult": "audit.image.sanity", "MethodCheck": "audit.image.sanity",
    "RANDOMISATION_MAX_SPEARMAN": "audit.image.sanity",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'audit.image' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
