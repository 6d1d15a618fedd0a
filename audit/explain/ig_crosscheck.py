"""Cross-check of Integrated Gradients' principal reasons against KernelSHAP on a sample of decisions.

Why: for torch tensor adapters the audit explains every decision with Integrated Gradients
(:mod:`.integrated_gradients`). IG is a path integral of gradients; its completeness gap is checked, but
completeness does not say that the *ranking* of the features (what an adverse-action notice names) is the
one a Shapley explanation would give. This module measures that on a seeded sample: the model-agnostic
KernelSHAP is run on the same rows and the top-k reasons of the two are compared.

What is compared:

- **rows**: a seeded sample (``np.random.default_rng([seed, SALT])``) of at most ``rows`` decisions,
  adverse decisions first (their reasons go into adverse-action notices); when there are fewer adverse
  decisions than places, favourable ones fill the sample. Rows whose IG values are not finite are left out.
- **reasons**: those of :func:`audit.explain.reasons.principal_reasons`: for an adverse decision the features
  whose contribution moved the score furthest towards that decision (with ``favourable_is_positive`` the
  most negative contributions to the positive score; otherwise the most positive), for a favourable decision
  those that moved it furthest towards the favourable one; at most ``top_k``. IG's reasons are exactly the
  ones the report gives (contributions that round to zero at two decimals are no reason). KernelSHAP's
  amounts are in another unit (probability) where that cut-off means something else, so its reasons are its
  top-k features moving the score towards the decision by more than :data:`KERNEL_FLOOR` (below the float32
  resolution of the model's output).
- **agreement**: per row, the share of IG's reasons that are also among KernelSHAP's top-k (order ignored),
  averaged over the rows where IG gives at least one reason; **same_first**: the share of those rows whose
  first reason is the same. No such row: both are None (unmeasured, not zero).

Output spaces: IG explains the positive class's output in the space the adapter reads (log-odds for
``model.output: logits``, probability for ``probabilities``); KernelSHAP explains ``model.predict_score``,
the probability. Within a row the two rankings are comparable: the map from log-odds to probability is
monotone, so it keeps the direction of every move, and for a model additive in log-odds (a logistic layer)
the Shapley values of the probability rank the features exactly as those of the log-odds do (for any two
features, the coalitions pair up so that the difference of their values has the sign of the difference of
their log-odds moves). For a network with interactions the rankings can differ for real; that is what is
measured.

KernelSHAP here uses IG's baseline as its background (one row: the mean of the audited inputs, in float64,
as :func:`audit.explain.shap_values._ig_plan` computes it), so the comparison is between the two methods on
the same reference point, not between two baselines. Its coalitions are all enumerated when there are
at most ``log2(KERNEL_SAMPLES + 2)`` inputs (then it computes the exact Shapley values for that baseline and
is deterministic); otherwise they are sampled from numpy's generator seeded from ``seed`` (as
:func:`audit.explain.shap_values._kernel_values` does), and KernelSHAP is run a second time with another seed:
the agreement of KernelSHAP with itself (``kernel_repeat_agreement``) is the ceiling that its own noise puts on
the agreement with IG.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from audit.explain import integrated_gradients as ig
from audit.explain.codec import Codec
from audit.explain.reason_stability import reason_overlap
from audit.explain.reasons import principal_reasons
from audit.explain.shap_values import ExplainPlan, _kernel_values

__all__ = ["IGCrossCheck", "cross_check", "SALT", "KERNEL_SAMPLES", "KERNEL_FLOOR", "REASON_DECIMALS"]

#: Salt of the row sample's generator (``np.random.default_rng([seed, SALT])``).
SALT = 4107
#: Most coalitions per row for KernelSHAP (all of them, 2**inputs + 2, when fewer: exact for up to 11 inputs).
KERNEL_SAMPLES = 2048
#: Rows of the seeded background when a categorical column has no mean to serve as IG's baseline.
BACKGROUND_ROWS = 30
#: Decimals at which IG's contributions round to zero and are no reason (as the report's reasons).
REASON_DECIMALS = 2
#: Decimals for KernelSHAP's reasons: a move under 0.5e-6 of probability (float32 resolution) is no reason.
KERNEL_DECIMALS = 6
KERNEL_FLOOR = 0.5 * 10.0**-KERNEL_DECIMALS


@dataclass(frozen=True)
class IGCrossCheck:
    """IG's principal reasons compared with KernelSHAP's on a seeded sample of decisions.

    ``positions`` are the sampled rows (0-based, ascending); ``ig_reasons`` and ``kernel_reasons`` hold
    each sampled row's reasons as feature names, strongest first (fewer than ``top_k`` where a row has fewer).
    """

    rows: int  # decisions sampled
    adverse_rows: int  # of those, adverse decisions
    compared: int  # sampled rows where IG gives at least one reason (the rows of the means)
    top_k: int
    agreement: float | None  # mean share of IG's reasons among KernelSHAP's top-k; None: no row compared
    same_first: float | None  # share of compared rows whose first reason agrees
    kernel_repeat_agreement: float | None  # KernelSHAP with a second seed vs the first; None when exact or no row
    kernel_exact: bool  # KernelSHAP enumerated every coalition (exact Shapley values for the baseline)
    nsamples: int  # KernelSHAP's coalitions per row
    ig_space: str  # "log-odds" or "probability"
    kernel_space: str  # "probability"
    seed: int
    seconds: float
    note: str
    positions: tuple[int, ...] = ()
    ig_reasons: tuple[tuple[str, ...], ...] = ()
    kernel_reasons: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists)."""
        out = asdict(self)
        out["positions"] = list(self.positions)
        out["ig_reasons"] = [list(r) for r in self.ig_reasons]
        out["kernel_reasons"] = [list(r) for r in self.kernel_reasons]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IGCrossCheck:
        """The inverse of :meth:`to_dict`; unknown or missing keys are a ValueError."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(f.name for f in fields(cls) if f.name not in data and f.name not in
                         ("positions", "ig_reasons", "kernel_reasons"))
        if unknown or missing:
            raise ValueError(f"IGCrossCheck.from_dict: unknown keys {unknown}, missing keys {missing}")
        values = dict(data)
        values["positions"] = tuple(int(p) for p in data.get("positions", ()))
        values["ig_reasons"] = tuple(tuple(str(n) for n in r) for r in data.get("ig_reasons", ()))
        values["kernel_reasons"] = tuple(tuple(str(n) for n in r) for r in data.get("kernel_reasons", ()))
        for key in ("agreement", "same_first", "kernel_repeat_agreement"):
            values[key] = None if data[key] is None else float(data[key])
        return cls(**values)


def _sample(adverse: np.ndarray, usable: np.ndarray, *, rows: int, seed: int) -> np.ndarray:
    """Up to ``rows`` usable positions, adverse first, then favourable ones filling the places left (ascending)."""
    rng = np.random.default_rng([seed, SALT])
    first = np.flatnonzero(adverse & usable)
    chosen = rng.choice(first, size=min(rows, len(first)), replace=False) if len(first) else np.zeros(0, dtype=int)
    rest = np.flatnonzero(~adverse & usable)
    need = min(rows - len(chosen), len(rest))
    more = rng.choice(rest, size=need, replace=False) if need > 0 else np.zeros(0, dtype=int)
    return np.sort(np.concatenate([chosen, more]).astype(int))


def _names(features: np.ndarray, names: list[str]) -> tuple[tuple[str, ...], ...]:
    """Rows x k feature positions (-1: none) as tuples of names."""
    return tuple(tuple(names[int(f)] for f in row if f >= 0) for row in features)


def _first_same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row (with a reason in ``a``): whether the first reasons agree."""
    return (a[:, 0] == b[:, 0]) & (a[:, 0] >= 0)


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def cross_check(*, model: Any, X: pd.DataFrame, ig_values: np.ndarray, adverse: np.ndarray, feature_names: list[str],
                rows: int = 50, top_k: int = 3, seed: int, favourable_is_positive: bool = True) -> IGCrossCheck:
    """Compare IG's top-``top_k`` reasons with KernelSHAP's on a seeded sample of at most ``rows`` decisions.

    ``X`` holds every audited row (IG's baseline is their mean, and so is KernelSHAP's background here);
    ``ig_values`` are IG's contributions (``len(X)`` x ``feature_names``, the positive class's output as
    :func:`audit.explain.shap_values.explain` gives them); ``adverse`` is True where the decision went against
    the person. ``model`` gives ``predict_score`` (probability of the positive class, on a DataFrame of
    ``feature_names``) and ``output`` ("logits" or "probabilities": the space of ``ig_values``). See the module
    docstring for the sample, the reasons and the two output spaces.
    """
    started = time.perf_counter()
    names = [str(c) for c in feature_names]
    if rows < 1 or top_k < 1:
        raise ValueError(f"rows and top_k must be at least 1, got rows={rows}, top_k={top_k}")
    if not names:
        raise ValueError("feature_names is empty: there is nothing to rank")
    output = getattr(model, "output", None)
    if output not in ("logits", "probabilities") or not callable(getattr(model, "predict_score", None)):
        raise ValueError("cross_check needs a tensor adapter: predict_score and output ('logits' or 'probabilities'), "
                         f"got {type(model).__name__} with output {output!r}")
    if getattr(model, "score_kind", "probability") != "probability":
        raise ValueError(f"cross_check compares reasons for a probability score, not a {model.score_kind!r} score")
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks the columns {missing}")
    data = X[names]
    numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in data.dtypes)
    values = np.asarray(ig_values, dtype=float)
    if values.shape != (len(X), len(names)):
        raise ValueError(f"ig_values must be {len(X)} rows x {len(names)} features, got {values.shape}")
    flags = np.asarray(adverse)
    if flags.dtype != bool or flags.shape != (len(X),):
        raise ValueError(f"adverse must be a boolean array of {len(X)} rows, got {flags.dtype} {flags.shape}")

    ig_space = ig.output_space(str(output))
    width = len(names)
    k = min(top_k, width)
    nsamples = min(2**width + 2, KERNEL_SAMPLES)
    exact = 2**width - 2 <= nsamples  # shap enumerates every coalition: exact Shapley values, nothing sampled
    usable = np.isfinite(values).all(axis=1)
    positions = _sample(flags, usable, rows=rows, seed=seed)
    n_adverse = int(flags[positions].sum())
    common: dict[str, Any] = {"rows": len(positions), "adverse_rows": n_adverse, "top_k": k, "kernel_exact": exact,
              "nsamples": nsamples, "ig_space": ig_space, "kernel_space": "probability", "seed": seed,
              "positions": tuple(int(p) for p in positions)}
    if not len(positions):
        why = ("there is no audited row" if not len(X) else "no row has finite IG contributions")
        return IGCrossCheck(compared=0, agreement=None, same_first=None, kernel_repeat_agreement=None,
                            seconds=time.perf_counter() - started,
                            note=f"IG's reasons were not cross-checked with KernelSHAP: {why}, so the agreement is "
                                 "unmeasured (not zero).", **common)

    # The decision as principal_reasons takes it: True for the positive class.
    positive = np.where(flags[positions], not favourable_is_positive, favourable_is_positive)
    sample = data.iloc[positions]
    ig_reasons = principal_reasons(values=values[positions], X=sample, decision=positive, top_k=k,
                                   decimals=REASON_DECIMALS)
    if numeric:  # IG's baseline is a row of the data's own columns: KernelSHAP takes it as its background
        floats = data.astype(np.float64)  # float columns: the codec keeps the mean baseline as it is (no rounding)
        codec = Codec.fit(floats)
        background = floats.to_numpy().mean(axis=0, keepdims=True)
    else:  # a one-hot column's mean (category shares) is no value of the column: a seeded sample of real rows
        floats = data
        codec = Codec.fit(data)
        picked = np.sort(np.random.default_rng([seed, SALT, 3]).choice(len(data), size=min(BACKGROUND_ROWS, len(data)),
                                                                       replace=False))
        background = codec.encode(data.iloc[picked])
    plan = ExplainPlan(explainer="kernel", method="KernelSHAP (cross-check of IG)", output_space="probability",
                       feature_names=names, estimator=model, background=background, codec=codec,
                       seed=seed, nsamples=nsamples)
    kernel, _ = _kernel_values(plan, floats.iloc[positions], [seed, SALT, 1])
    kernel_reasons = principal_reasons(values=kernel, X=sample, decision=positive, top_k=k, decimals=KERNEL_DECIMALS)
    repeat: float | None = None
    if not exact:
        again, _ = _kernel_values(plan, floats.iloc[positions], [seed, SALT, 2])
        twice = principal_reasons(values=again, X=sample, decision=positive, top_k=k, decimals=KERNEL_DECIMALS)
        repeat = _mean(reason_overlap(kernel_reasons.features, twice.features))

    overlap = reason_overlap(ig_reasons.features, kernel_reasons.features)  # NaN where IG gives no reason
    compared = np.isfinite(overlap)
    agreement = _mean(overlap)
    same_first = float(_first_same(ig_reasons.features, kernel_reasons.features)[compared].mean()) \
        if compared.any() else None
    note = _note(rows=len(positions), adverse_rows=n_adverse, compared=int(compared.sum()), k=k, agreement=agreement,
                 same_first=same_first, repeat=repeat, exact=exact, nsamples=nsamples, width=width, ig_space=ig_space)
    if not numeric:
        note = note.replace("background: IG's baseline, the mean of the audited inputs",
                            f"background: a seeded sample of {len(background)} audited rows, since a categorical "
                            "column has no mean to start from as IG's baseline does")
    return IGCrossCheck(compared=int(compared.sum()), agreement=agreement, same_first=same_first,
                        kernel_repeat_agreement=repeat, seconds=time.perf_counter() - started, note=note,
                        ig_reasons=_names(ig_reasons.features, names),
                        kernel_reasons=_names(kernel_reasons.features, names), **common)


def _note(*, rows: int, adverse_rows: int, compared: int, k: int, agreement: float | None, same_first: float | None,
          repeat: float | None, exact: bool, nsamples: int, width: int, ig_space: str) -> str:
    """The sentence(s) the report gives."""
    favourable = rows - adverse_rows
    which = (f"{adverse_rows:,} adverse" if not favourable else
             f"{adverse_rows:,} adverse and {favourable:,} favourable (too few adverse ones)" if adverse_rows else
             f"{favourable:,} favourable (no adverse decision to sample)")
    kernel = (f"exact for that background: every coalition of the {width} inputs" if exact else
              f"{nsamples:,} sampled coalitions of the {width} inputs per row")
    spaces = ("both in probability" if ig_space == "probability" else
              "IG in log-odds, KernelSHAP in probability: the map between them is monotone, so the rankings within a "
              "row are comparable")
    head = (f"IG's top-{k} reasons were cross-checked with KernelSHAP (background: IG's baseline, the mean of the "
            f"audited inputs; {kernel}; {spaces}) on a seeded sample of {rows:,} decisions ({which}).")
    if agreement is None or same_first is None or not math.isfinite(agreement):
        return (head + " None of them has a reason from IG (every contribution towards the decision rounds to zero), "
                "so the agreement is unmeasured (not zero).")
    body = (f" On the {compared:,} with at least one reason, {agreement:.0%} of IG's reasons are among KernelSHAP's top "
            f"{k} on average, and the first reason is the same for {same_first:.0%}.")
    if repeat is not None:
        body += (f" KernelSHAP agrees with itself rerun with another seed on {repeat:.0%} of its reasons: its own "
                 "sampling noise bounds the agreement.")
    return head + body
