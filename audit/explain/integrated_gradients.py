"""Integrated Gradients (Captum) for the torch tensor adapters: TorchScript and a state_dict with its module.

What is attributed: the model's output for the positive decision, per row, in the space the adapter reads:

- ``model.output: logits``: the pre-sigmoid logit, i.e. the log-odds of the positive class (one column: the
  logit of ``classes[1]``, negated when the positive class is ``classes[0]``; two columns: the positive
  class's logit minus the other's, which is what the softmax of two columns turns into a probability);
- ``model.output: probabilities``: the probability of the positive class (one column: ``p`` or ``1 - p``;
  two columns: the positive class's column).

Baseline: the mean of the audited inputs (every row, computed in float64 and fed as float32 like the rows).
Integration: Captum's ``IntegratedGradients`` (Gauss-Legendre steps), starting at :data:`START_STEPS` steps
and doubling, for the rows that still miss, up to :data:`MAX_STEPS`, until the completeness gap
``|sum(attributions) - (f(x) - f(baseline))|`` is under the tolerance for every row. ``f`` is computed by a
separate forward pass, so the gap is a real check. The model runs as deployed (float32); nothing is random.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["START_STEPS", "MAX_STEPS", "RELATIVE_TOLERANCE", "BATCH_POINTS", "is_torch_adapter", "output_space",
           "adaptive_attribution",
           "positive_output", "forward_fn", "model_output", "tolerance_for", "IGRows", "integrated_gradients",
           "method_text"]

#: Steps of the first integration; doubled for the rows whose completeness gap is over the tolerance.
START_STEPS = 50
#: Most steps per row; a row still over the tolerance there keeps that result (its gap is reported).
MAX_STEPS = 800
#: The tolerance on the completeness gap, relative to the output scale (see :func:`tolerance_for`). 1e-4 is out of
#: reach within MAX_STEPS for ReLU networks: the integrand jumps where a unit switches on or off along the path, so
#: the error falls only about as 1/steps (German credit MLP, 800 steps: 120 of 500 rows over 1e-4, all under 7e-4;
#: the same in float64, so it is the integration, not float32).
RELATIVE_TOLERANCE = 1e-3
#: Interpolated points (rows x steps) per forward/backward pass: memory stays bounded.
BATCH_POINTS = 65_536


def is_torch_adapter(model: Any) -> bool:
    """A tensor adapter holding a torch module, fed a float tensor (duck typing: no scikit-learn final step, a
    torch.nn.Module estimator, no text column).

    torch is not imported for this: an adapter that has loaded a torch module has imported it already.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None or getattr(model, "final_estimator", object()) is not None:
        return False
    if getattr(model, "text_column", None) is not None:  # token ids: attributed on the embedding layer (text_ig)
        return False
    if not all(hasattr(model, a) for a in ("output", "positive_index", "feature_names", "encode", "input_source",
                                           "input_names", "encoding")):
        return False
    return isinstance(model.estimator, torch.nn.Module)


def output_space(output: str) -> str:
    """The space of the attributed output: log-odds for logits, probability for probabilities."""
    return "log-odds" if output == "logits" else "probability"


def positive_output(out: Any, *, output: str, positive_index: int) -> Any:
    """The positive class's output per row (a 1-D tensor) from the module's raw output (rows, rows x 1 or rows x 2)."""
    rows = out.shape[0]
    flat = out.reshape(rows, -1)
    if flat.shape[1] == 1:
        z = flat[:, 0]
        if positive_index == 1:
            return z
        return -z if output == "logits" else 1.0 - z
    if output == "logits":
        return flat[:, positive_index] - flat[:, 1 - positive_index]
    return flat[:, positive_index]


def forward_fn(module: Any, *, output: str, positive_index: int) -> Callable[[Any], Any]:
    """A forward function for Captum: the module, then the positive class's output per row."""

    def forward(x: Any) -> Any:
        return positive_output(module(x), output=output, positive_index=positive_index)

    return forward


def model_output(module: Any, x: np.ndarray, *, output: str, positive_index: int) -> np.ndarray:
    """f(x): the positive class's output per row (float64), by a plain forward pass in batches."""
    import torch

    forward = forward_fn(module, output=output, positive_index=positive_index)
    parts = []
    with torch.no_grad():
        for start in range(0, len(x), BATCH_POINTS):
            block = torch.from_numpy(np.ascontiguousarray(x[start:start + BATCH_POINTS], dtype=np.float32))
            parts.append(forward(block).detach().cpu().numpy().astype(np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def summed_gradients(forward_fn: Callable[..., Any], inputs: Any, target_ind: Any = None,
                     additional_forward_args: Any = None) -> tuple[Any, ...]:
    """Gradients of every row's output with respect to its own inputs, from one backward pass of their sum.

    Captum's default (``compute_gradients``) takes ``torch.autograd.grad`` of ``torch.unbind(outputs)``: one
    gradient tensor per row and step, built in Python (most of IG's time on 48,842 rows). Rows of an audited
    model in eval mode do not interact, so d(sum of outputs)/d(row i) = d(output i)/d(row i): the same
    numbers (bit-identical on the benchmark MLP) from a single backward pass.
    """
    import torch
    from captum._utils.common import _run_forward

    with torch.autograd.set_grad_enabled(True):
        outputs = _run_forward(forward_fn, inputs, target_ind, additional_forward_args)
        return tuple(torch.autograd.grad(outputs.sum(), inputs))


def tolerance_for(output: str, spread: float) -> float:
    """The completeness tolerance: RELATIVE_TOLERANCE of the output scale.

    The scale is 1 for probabilities, and for log-odds the larger of 1 and the widest |f(x) - f(baseline)| over
    the audited rows (so the tolerance is the same for every chunk of rows).
    """
    scale = 1.0 if output != "logits" else max(1.0, float(spread) if math.isfinite(spread) else 1.0)
    return RELATIVE_TOLERANCE * scale


@dataclass
class IGRows:
    """Integrated Gradients of some rows: attributions, f(baseline), f(x), steps used and gap per row."""

    values: np.ndarray  # rows x inputs, float64
    base: float
    margin: np.ndarray
    steps: np.ndarray  # integer steps that gave each row's attributions
    gap: np.ndarray  # |sum(values) - (margin - base)|


def integrated_gradients(module: Any, x: np.ndarray, baseline: np.ndarray, *, output: str, positive_index: int,
                         tolerance: float, start_steps: int = START_STEPS, max_steps: int = MAX_STEPS) -> IGRows:
    """Integrated Gradients of the positive class's output for the rows of ``x`` against ``baseline`` (1 x inputs).

    Rows over ``tolerance`` are redone with twice the steps, up to ``max_steps``.
    """
    import torch
    from captum.attr import IntegratedGradients

    x32 = np.ascontiguousarray(x, dtype=np.float32)
    base32 = np.ascontiguousarray(np.asarray(baseline, dtype=np.float64).reshape(1, -1), dtype=np.float32)
    margin = model_output(module, x32, output=output, positive_index=positive_index)
    base = float(model_output(module, base32, output=output, positive_index=positive_index)[0])
    ig = IntegratedGradients(forward_fn(module, output=output, positive_index=positive_index))
    ig.gradient_func = summed_gradients  # one backward pass per batch instead of one per row and step

    def attribute(idx: np.ndarray, n_steps: int) -> np.ndarray:
        inputs = torch.from_numpy(x32[idx])
        attr = ig.attribute(inputs, baselines=torch.from_numpy(base32).expand_as(inputs), n_steps=n_steps,
                            method="gausslegendre")
        return np.asarray(attr.detach().cpu().numpy(), dtype=np.float64)

    values, steps, gap = adaptive_attribution(attribute, shape=x32.shape, moved=margin - base, tolerance=tolerance,
                                              start_steps=start_steps, max_steps=max_steps)
    return IGRows(values=values, base=base, margin=margin, steps=steps, gap=gap)


def adaptive_attribution(attribute: Callable[[np.ndarray, int], np.ndarray], *, shape: tuple[int, ...],
                         moved: np.ndarray, tolerance: float, start_steps: int = START_STEPS,
                         max_steps: int = MAX_STEPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributions (rows x columns of ``shape``) with each row's steps doubled until it is complete enough.

    ``attribute(rows, n_steps)`` gives those rows' attributions at ``n_steps`` points (batched here so that a
    batch holds at most BATCH_POINTS points); ``moved`` is f(x) - f(baseline) per row. Rows whose completeness gap
    |sum of attributions - moved| is not under ``tolerance`` are redone with twice the steps, up to ``max_steps``.
    Returns (attributions, steps used, gap) per row.
    """
    import torch

    rows = shape[0]
    values = np.zeros(shape)
    steps = np.zeros(rows, dtype=int)
    gap = np.full(rows, np.inf)
    todo = np.arange(rows)
    n_steps = start_steps
    with torch.enable_grad():
        while len(todo):
            block_rows = max(1, BATCH_POINTS // n_steps)
            for start in range(0, len(todo), block_rows):
                idx = todo[start:start + block_rows]
                values[idx] = attribute(idx, n_steps)
                steps[idx] = n_steps
            gap[todo] = np.abs(values[todo].sum(axis=1) - moved[todo])
            todo = todo[~(gap[todo] < tolerance)]
            if n_steps * 2 > max_steps:
                break
            n_steps *= 2
    return values, steps, gap


def method_text(output: str, tolerance: float) -> str:
    """The method as the report states it."""
    what = ("the model's pre-sigmoid logit (log-odds) of the positive class" if output == "logits" else
            "the model's probability of the positive class")
    return (f"Integrated Gradients (Captum, torch) of {what}; baseline = mean of the audited inputs; "
            f"{START_STEPS} Gauss-Legendre steps, doubled up to {MAX_STEPS} until the completeness gap "
            f"|sum of contributions - (f(x) - f(baseline))| is under {tolerance:.2g} ({RELATIVE_TOLERANCE:g} of the "
            "output scale) for every row; exact only up to that gap, reported as the additivity error")
