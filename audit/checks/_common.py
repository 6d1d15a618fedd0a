"""Small helpers shared by the counterfactual and robustness evidence builders."""

from __future__ import annotations

from audit.fairness.bootstrap import CONFIDENCE
from audit.spec import AuditSpec

__all__ = ["NO_MODEL", "resolve_proxies", "pct", "SALT", "bootstrap_params"]

NO_MODEL = "no model access (predictions-only audit): changed inputs cannot be re-predicted"
#: Why a method for columns of values is not run on an image model (its only input is the image).
IMAGE_ONLY = ("the model's only input is an image (data.feature_types: image): this method works on columns of values; "
              "the image's attribution maps, with their sanity checks, are in local.image_maps")

# Salts of ctx.rng: each stochastic step draws from its own stream.
SALT = {"flip": 5101, "recourse": 5102, "gap": 5103, "plausibility": 5104, "robustness": 5201}


def resolve_proxies(spec: AuditSpec, screen: dict[str, list[str]] | None) -> tuple[dict[str, list[str]] | None, str]:
    """Proxies per protected attribute, and where they come from.

    The union of the proxy screen's findings (``ctx.proxies``, set by the fairness
    check) and the spec's ``counterfactuals.proxies``: changing more proxies can
    only make the test stricter. None when neither is available.
    """
    declared = spec.counterfactuals.proxies
    if screen is None and declared is None:
        return None, "none: no proxy screen ran and counterfactuals.proxies is not set"
    merged: dict[str, list[str]] = {}
    for source in (screen or {}, declared or {}):
        for attr, features in source.items():
            merged.setdefault(str(attr), [])
            merged[str(attr)] += [str(f) for f in features if str(f) not in merged[str(attr)]]
    origin = " and ".join(name for name, part in (("proxy screen (data.proxies)", screen),
                                                  ("spec counterfactuals.proxies", declared)) if part is not None)
    return merged, origin


def pct(value: float | None) -> str:
    """A share as a readable percentage ("n/a" when unknown)."""
    return "n/a" if value is None else f"{value:.1%}"


def bootstrap_params(spec: AuditSpec, *, seed: int, salt: int) -> dict[str, int | float]:
    """The parameters every group-comparison evidence records: its random stream and its group-size rules."""
    fairness = spec.fairness
    return {"seed": seed, "salt": salt, "bootstrap_resamples": fairness.bootstrap, "confidence": CONFIDENCE,
            "min_group_size": fairness.min_group_size, "min_group_share": fairness.min_group_share}
