"""How good are LIME's explanations here? Fidelity, stability across seeds, and agreement with SHAP.

LIME fits a small weighted linear model around one decision from random
perturbations of it. Whether that local model is faithful, and whether it
says the same thing when rerun with another seed, varies from model to model
and from row to row, so both are measured on a stratified sample rather than
assumed:

- **fidelity**: R² of LIME's local model on its own perturbation sample (``exp.score``);
- **stability**: for each row, the overlap |A ∩ B| / k of the top-k features of
  every pair of reruns with different seeds, averaged;
- **agreement**: Spearman rank correlation between LIME's and SHAP's feature
  rankings (by absolute weight) for the same row, and the overlap of their top k.

The sample favours the decisions a reviewer cares most about: borderline
decisions (score closest to the threshold) first, then adverse decisions, then
favourable ones. Every explanation has its own seed derived from the run's
seed, the repeat and the row, so results do not depend on how rows are split
between workers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.explain.codec import Codec
from audit.explain.executor import DEFAULT_WORKERS, make_executor, row_chunks

__all__ = ["LimeQuality", "lime_quality", "stratified_sample", "topk_overlap"]

Progress = Callable[[str, int, int], None]
LIME_TRAINING_ROWS = 5_000
ROWS_PER_CHUNK = 20


def _quiet(task: str, done: int, total: int) -> None:
    return None


@dataclass
class LimeQuality:
    """Per-row LIME results and their summary figures."""

    rows: np.ndarray  # positions (0..n-1) of the sampled rows
    strata: list[str]  # "borderline", "adverse", "favourable" per sampled row
    weights: np.ndarray  # sample x repeats x features (LIME's local coefficients)
    r2: np.ndarray  # sample x repeats
    stability: np.ndarray  # per row: mean pairwise top-k overlap across repeats
    rank_correlation: np.ndarray  # per row: Spearman(|LIME|, |SHAP|), NaN when undefined
    shap_topk_overlap: np.ndarray  # per row
    seeds: list[int]
    num_samples: int
    top_k: int
    seconds: float
    executor: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | None]:
        """The figures reported as evidence (None when nothing could be computed)."""

        def stat(values: np.ndarray, fn: Callable[[np.ndarray], Any]) -> float | None:
            finite = values[np.isfinite(values)]
            return float(fn(finite)) if finite.size else None

        return {
            "sample_size": int(len(self.rows)),
            "fidelity_r2_median": stat(self.r2.ravel(), np.median),
            "fidelity_r2_p10": stat(self.r2.ravel(), lambda v: np.percentile(v, 10)),
            "stability_topk_overlap": stat(self.stability, np.mean),
            "lime_shap_rank_correlation": stat(self.rank_correlation, np.mean),
            "lime_shap_topk_overlap": stat(self.shap_topk_overlap, np.mean),
        }


def stratified_sample(*, score: np.ndarray, favourable: np.ndarray, size: int, threshold: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Row positions to explain: half borderline (closest to ``threshold``), then adverse, then favourable.

    Shares: 50 % borderline, 25 % adverse, 25 % favourable; a short stratum leaves its
    places to the next. ``favourable`` is True where the decision favours the person (for a
    fraud or risk flag: where there is no flag). Returns positions in ascending order and each one's stratum.
    """
    n = len(score)
    size = min(size, n)
    distance = np.abs(np.asarray(score, dtype=float) - threshold)
    order = np.lexsort((np.arange(n), distance))  # ties broken by position: deterministic
    taken = np.zeros(n, dtype=bool)
    stratum = np.empty(n, dtype=object)
    borderline = order[: size // 2]
    taken[borderline] = True
    stratum[borderline] = "borderline"
    quotas = [("adverse", ~favourable, size // 2 + size // 4), ("favourable", favourable, size)]
    for name, mask, upto in quotas:
        pool = np.flatnonzero(mask & ~taken)
        need = min(upto - int(taken.sum()), len(pool))
        if need > 0:
            chosen = rng.choice(pool, size=need, replace=False)
            taken[chosen] = True
            stratum[chosen] = name
    if taken.sum() < size:  # one decision class is rare: fill from whatever is left
        pool = np.flatnonzero(~taken)
        chosen = rng.choice(pool, size=size - int(taken.sum()), replace=False)
        taken[chosen] = True
        stratum[chosen] = np.where(favourable[chosen], "favourable", "adverse")
    rows = np.flatnonzero(taken)
    return rows, [str(s) for s in stratum[rows]]


def topk_overlap(a: np.ndarray, b: np.ndarray, *, k: int) -> np.ndarray:
    """|top-k(a) ∩ top-k(b)| / k per row, ranking by absolute value (a, b: rows x features)."""
    k = min(k, a.shape[1])
    top_a = np.argsort(-np.abs(a), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(b), axis=1, kind="stable")[:, :k]
    hits = (top_a[:, :, None] == top_b[:, None, :]).any(axis=2).sum(axis=1)
    return hits / k


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation per row of |a| and |b| (average ranks for ties; NaN when a row is constant)."""
    from scipy.stats import rankdata

    ra = rankdata(np.abs(a), axis=1)
    rb = rankdata(np.abs(b), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / denom, np.nan)


@dataclass
class _LimeJob:
    """What every LIME worker needs (picklable)."""

    model: Any
    codec: Codec
    training: np.ndarray
    seeds: list[int]
    num_samples: int


def _lime_chunk(job: _LimeJob, item: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """LIME weights (rows x repeats x features) and R² (rows x repeats) for a few rows (runs in a worker).

    Does what ``LimeTabularExplainer.explain_instance`` does (sample the neighbourhood,
    scale, weigh by distance, fit the local model) but asks the model for all
    neighbourhoods of the chunk in one batch: one model call instead of one per
    explanation. Each explanation draws from its own seeded generator, so the result
    equals calling ``explain_instance`` with that generator (checked by a test).
    """
    from sklearn.metrics import pairwise_distances

    explainer = _explainer(job)
    sample = explainer._LimeTabularExplainer__data_inverse  # lime 0.2.0.1 (pinned, unmaintained)
    positions, M = item
    n_features = len(job.codec.columns)
    scaled, distances, inverses = [], [], []
    for position, row in zip(positions, M, strict=True):
        for seed in job.seeds:
            _reseed(explainer, seed=seed, position=int(position))
            data, inverse = sample(row, job.num_samples)
            z = (data - explainer.scaler.mean_) / explainer.scaler.scale_
            scaled.append(z)
            distances.append(pairwise_distances(z, z[0].reshape(1, -1), metric="euclidean").ravel())
            inverses.append(inverse)
    p = np.asarray(job.model.predict_score(job.codec.decode(np.vstack(inverses))), dtype=float) if inverses else np.zeros(0)
    probabilities = np.column_stack([1.0 - p, p]).reshape(len(inverses), job.num_samples, 2) if inverses else p
    weights = np.zeros((len(positions), len(job.seeds), n_features))
    r2 = np.full((len(positions), len(job.seeds)), np.nan)
    for e in range(len(inverses)):
        i, r = divmod(e, len(job.seeds))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, local, score, _ = explainer.base.explain_instance_with_data(
                scaled[e], probabilities[e], distances[e], 1, n_features, feature_selection=explainer.feature_selection)
        for feature, weight in local:
            weights[i, r, feature] = weight
        r2[i, r] = score
    return weights, r2


def _explainer(job: _LimeJob) -> Any:
    """A LimeTabularExplainer over the job's training sample (quartile discretisation, categorical codes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lime.lime_tabular import LimeTabularExplainer

        return LimeTabularExplainer(
            job.training, mode="classification", feature_names=job.codec.columns,
            categorical_features=job.codec.categorical_indices, discretize_continuous=True, random_state=0,
        )


def _reseed(explainer: Any, *, seed: int, position: int) -> None:
    """Give the explainer, its discretizer and its local regression one fresh generator for (seed, row)."""
    state = np.random.RandomState(np.random.SeedSequence([seed, position]).generate_state(1)[0])
    explainer.random_state = explainer.base.random_state = state
    if explainer.discretizer is not None:
        explainer.discretizer.random_state = state


def lime_quality(*, model: Any, X: pd.DataFrame, shap_values: np.ndarray, score: np.ndarray, favourable: np.ndarray,
                 sample_size: int, repeats: int, seed: int, top_k: int, threshold: float = 0.5,
                 num_samples: int = 1000, scheduler: str | None = None, workers: int = DEFAULT_WORKERS,
                 progress: Progress = _quiet) -> LimeQuality:
    """Run LIME ``repeats`` times (seeds ``seed``, ``seed+1``, ...) on a stratified sample and measure it.

    ``shap_values`` (rows x features, the user's columns in ``X``'s order) is what
    LIME is compared with. Rows are explained in chunks through the executor.
    """
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 41])
    rows, strata = stratified_sample(score=score, favourable=np.asarray(favourable, dtype=bool), size=sample_size,
                                     threshold=threshold, rng=rng)
    codec = Codec.fit(X)
    training_rows = np.sort(rng.choice(len(X), size=min(LIME_TRAINING_ROWS, len(X)), replace=False))
    training = codec.encode(X.iloc[training_rows])
    fill = np.nan_to_num(np.nanmedian(training, axis=0), nan=0.0) if len(training) else np.zeros(training.shape[1])
    training = np.where(np.isnan(training), fill, training)
    M = codec.encode(X.iloc[rows])
    M = np.where(np.isnan(M), fill, M)
    seeds = [seed + r for r in range(repeats)]
    job = _LimeJob(model=model, codec=codec, training=training, seeds=seeds, num_samples=num_samples)
    chunks = row_chunks(len(rows), size=ROWS_PER_CHUNK)
    executor = make_executor(scheduler=scheduler, n_chunks=len(chunks), workers=workers)
    parts = executor.map(_lime_chunk, job, [(rows[c], M[c]) for c in chunks], task="LIME quality sample", progress=progress)
    n_features = len(codec.columns)
    weights = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, repeats, n_features))
    r2 = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, repeats))
    k = min(top_k, n_features)
    pairs = [(a, b) for a in range(repeats) for b in range(a + 1, repeats)]
    stability = (np.mean([topk_overlap(weights[:, a], weights[:, b], k=k) for a, b in pairs], axis=0)
                 if pairs and len(rows) else np.full(len(rows), np.nan))
    reference = np.asarray(shap_values, dtype=float)[rows]
    correlation = _spearman_rows(weights[:, 0], reference) if len(rows) else np.zeros(0)
    overlap = topk_overlap(weights[:, 0], reference, k=k) if len(rows) else np.zeros(0)
    notes = []
    if np.isnan(X.select_dtypes("number").to_numpy(dtype=float)).any():
        notes.append("missing numbers were replaced by the column median for LIME (it cannot perturb missing values)")
    return LimeQuality(rows=rows, strata=strata, weights=weights, r2=r2, stability=np.asarray(stability, dtype=float),
                       rank_correlation=correlation, shap_topk_overlap=np.asarray(overlap, dtype=float), seeds=seeds,
                       num_samples=num_samples, top_k=k, seconds=time.perf_counter() - started,
                       executor=executor.name, notes=notes)
