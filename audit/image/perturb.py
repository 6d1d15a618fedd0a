"""Robustness of image decisions: flip rates under declared perturbations (noise, blur, brightness, contrast, JPEG).

A flip rate is the share of images whose decision under the perturbation differs from the model's own
decision on the image as given (not from the label: robustness is about the model staying put). Each
perturbation is declared with its strength, so the report says exactly what was done:

- ``noise``: additive Gaussian noise of standard deviation ``strength`` (pixel values in [0, 1]), clipped to
  [0, 1]. Drawn by ``np.random.default_rng(seed).normal(0, strength, images.shape)``: every noise level of
  a run reuses the same standard-normal draws (common random numbers), so a larger level is the same noise,
  larger;
- ``blur``: Gaussian blur of sigma ``strength`` pixels (scipy.ndimage, borders repeat the edge pixel);
- ``brightness``: every pixel times ``strength`` (Pillow's ImageEnhance.Brightness: a blend with black),
  clipped to [0, 1];
- ``contrast``: 0.5 + ``strength`` x (x - 0.5) (contrast around mid-grey), clipped to [0, 1];
- ``jpeg``: each image encoded by Pillow as a JPEG of quality ``strength`` (1..95) from its 8-bit values
  (round(255 x)), and decoded again.

The rate comes with the project's percentile bootstrap 95 % interval (exact binomial resampling, seeded),
and, when groups are given, per group (for example per scanner): a perturbation can hurt one group's
images more than another's.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["Perturbation", "FlipRate", "DEFAULT_PERTURBATIONS", "KINDS", "perturb", "flip_rates", "flip_rates_by", "N_BOOT"]

Kind = Literal["noise", "blur", "brightness", "contrast", "jpeg"]
KINDS: tuple[str, ...] = ("noise", "blur", "brightness", "contrast", "jpeg")
#: Bootstrap resamples of a flip rate's interval.
N_BOOT = 1000


@dataclass(frozen=True)
class Perturbation:
    """One declared perturbation: its kind and strength (see the module docstring for what each means)."""

    kind: Kind
    strength: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"perturbation kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        s = float(self.strength)
        bad = {
            "noise": not (s >= 0), "blur": not (s >= 0), "brightness": not (s >= 0), "contrast": not (s >= 0),
            "jpeg": not (1 <= s <= 95 and s == int(s)),
        }[self.kind]
        if bad or not np.isfinite(s):
            need = "a whole quality from 1 to 95" if self.kind == "jpeg" else "a number >= 0"
            raise ValueError(f"{self.kind} strength must be {need}, not {self.strength!r}")

    @property
    def label(self) -> str:
        """A short name for tables: "noise sigma=0.05", "jpeg quality=30"."""
        what = {"noise": "sigma", "blur": "sigma_px", "brightness": "factor", "contrast": "factor",
                "jpeg": "quality"}[self.kind]
        return f"{self.kind} {what}={self.strength:g}"


#: Reference perturbations for 8-bit grayscale or RGB images of a few dozen pixels and more.
DEFAULT_PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("noise", 0.05), Perturbation("noise", 0.10),
    Perturbation("blur", 0.5), Perturbation("blur", 1.0),
    Perturbation("brightness", 0.7), Perturbation("brightness", 1.3),
    Perturbation("contrast", 0.5),
    Perturbation("jpeg", 50), Perturbation("jpeg", 20),
)


@dataclass
class FlipRate:
    """Share of decisions that change under one perturbation, with its 95 % interval, overall and per group."""

    perturbation: Perturbation
    rate: float
    flipped: int
    n: int
    ci: tuple[float | None, float | None]
    by_group: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # group -> (rate, flipped, n)


def _images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be an array (N, C, H, W) with 1 or 3 channels, not of shape {x.shape}")
    return np.asarray(x, dtype=np.float32)


def perturb(images: np.ndarray, perturbation: Perturbation, *, seed: int) -> np.ndarray:
    """The images under one perturbation (N, C, H, W) float32 in [0, 1]; ``seed`` drives the noise only."""
    x = _images(images)
    s = float(perturbation.strength)
    kind = perturbation.kind
    if kind == "noise":
        noise = np.random.default_rng(seed).normal(0.0, 1.0, size=x.shape) * s
        return np.clip(x + noise, 0.0, 1.0).astype(np.float32)
    if kind == "blur":
        from scipy.ndimage import gaussian_filter

        return np.asarray(gaussian_filter(x, sigma=(0, 0, s, s), mode="nearest"), dtype=np.float32)
    if kind == "brightness":
        return np.clip(x * s, 0.0, 1.0).astype(np.float32)
    if kind == "contrast":
        return np.clip(0.5 + s * (x - 0.5), 0.0, 1.0).astype(np.float32)
    return _jpeg(x, quality=int(s))


def _jpeg(x: np.ndarray, *, quality: int) -> np.ndarray:
    from PIL import Image

    out = np.empty_like(x)
    eight_bit = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    for i, image in enumerate(eight_bit):
        pil = Image.fromarray(image[0], mode="L") if image.shape[0] == 1 else Image.fromarray(
            np.moveaxis(image, 0, -1), mode="RGB")
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            array = np.asarray(decoded.convert(pil.mode), dtype=np.float32) / 255.0
        out[i] = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    return out


def flip_rates(decide: Callable[[np.ndarray], np.ndarray], images: np.ndarray, *,
               perturbations: Sequence[Perturbation] = DEFAULT_PERTURBATIONS, seed: int,
               groups: Sequence[object] | np.ndarray | None = None, n_boot: int = N_BOOT) -> list[FlipRate]:
    """Flip rate of ``decide`` (images -> one decision per image) under each perturbation.

    The reference decisions are ``decide(images)``. ``groups`` (one value per image) adds each group's rate.
    Each perturbation's noise uses ``seed``; each interval uses its own generator seeded from (seed, position).
    """
    by = flip_rates_by(decide, images, perturbations=perturbations, seed=seed,
                       groups={} if groups is None else {"": groups}, n_boot=n_boot)
    return by[""] if groups is not None else by[None]


def flip_rates_by(decide: Callable[[np.ndarray], np.ndarray], images: np.ndarray, *,
                  perturbations: Sequence[Perturbation] = DEFAULT_PERTURBATIONS, seed: int,
                  groups: Mapping[str, Sequence[object] | np.ndarray], n_boot: int = N_BOOT
                  ) -> dict[str | None, list[FlipRate]]:
    """:func:`flip_rates` grouped by each of several attributes (``groups``: name -> one value per image).

    Every perturbed image is decided once, whatever the number of attributes; the overall rates and intervals are
    the same in every list. With no attribute, the one list is under the key None.
    """
    from audit.counterfactual._bootstrap import proportion_ci

    x = _images(images)
    if not len(perturbations):
        raise ValueError("no perturbation declared")
    labels = {name: np.asarray([str(g) for g in values], dtype=object) for name, values in groups.items()}
    for name, group in labels.items():
        if len(group) != len(x):
            raise ValueError(f"groups{f' {name!r}' if name else ''} has {len(group)} values for {len(x)} images")
    reference = np.asarray(decide(x))
    if reference.shape != (len(x),):
        raise ValueError(f"decide must return one decision per image ({len(x)}), not shape {reference.shape}")
    changed = [np.asarray(decide(perturb(x, p, seed=seed))) != reference for p in perturbations]
    overall = []
    for position, (p, flips) in enumerate(zip(perturbations, changed, strict=True)):
        flipped = int(flips.sum())
        ci = proportion_ci(flipped, len(x), rng=np.random.default_rng([seed, position]), n_boot=n_boot)
        overall.append((p, flipped, ci))

    def rates(group: np.ndarray | None) -> list[FlipRate]:
        out = []
        for (p, flipped, ci), flips in zip(overall, changed, strict=True):
            by_group: dict[str, tuple[float, int, int]] = {}
            if group is not None:
                for g in sorted(set(group)):
                    inside = group == g
                    k = int(flips[inside].sum())
                    by_group[g] = (k / int(inside.sum()), k, int(inside.sum()))
            out.append(FlipRate(perturbation=p, rate=flipped / len(x) if len(x) else float("nan"), flipped=flipped,
                                n=len(x), ci=ci, by_group=by_group))
        return out

    if not labels:
        return {None: rates(None)}
    return {name: rates(group) for name, group in labels.items()}
