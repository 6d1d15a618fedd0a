"""SHAP contributions for every decision, with the explainer chosen by model kind, in the user's columns.

Which explainer (and why):

- LightGBM / XGBoost final estimator: the library's own TreeSHAP (``pred_contrib`` /
  ``pred_contribs``), exact. For LightGBM on a numeric matrix the work is shared between
  rows that no tree can tell apart (see :mod:`.lightgbm_shap`): same numbers, fewer
  evaluations.
- other tree ensembles (scikit-learn gradient boosting, random forests, histogram boosting):
  ``shap.TreeExplainer`` (exact, path-dependent TreeSHAP).
- linear models: ``shap.LinearExplainer``, interventional, background = the data mean, so
  a contribution is ``coef * (x - mean)`` in the model's log-odds.
- neural networks (torch modules; scikit-learn MLPs are copied into torch): ``shap.DeepExplainer``.
- anything else: KernelSHAP on the user's own columns with a summarised background.

Contributions of encoded columns are folded onto the user's columns (:mod:`.folding`);
chunks of rows are computed through one executor (:mod:`.executor`). The model's own
output (its "margin": log-odds, or probability for random forests and model-agnostic
explanations) is computed separately for every row, so additivity
(``sum(contributions) + base = margin``) is a real check, not an identity.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from audit.explain.codec import Codec
from audit.explain.executor import DEFAULT_WORKERS, make_executor, row_chunks
from audit.explain.folding import FoldingError, fold_map, fold_values
from audit.explain.lightgbm_shap import lightgbm_contribs, lightgbm_trees

__all__ = ["ShapResult", "EXACT_EXPLAINERS", "ExplainPlan", "plan_explanation", "explain", "import_shap"]

Progress = Callable[[str, int, int], None]

AGNOSTIC_BACKGROUND_ROWS = 30
AGNOSTIC_KMEANS = 10
DEEP_BACKGROUND_ROWS = 100
# Relative tolerance of the built-in additivity guard of the LightGBM shortcut (rows failing it are redone natively).
_GUARD_TOL = 1e-9


def _quiet(task: str, done: int, total: int) -> None:
    return None


def import_shap() -> Any:
    """Import shap without the deprecation warnings its import emits (matplotlib, numba)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap
    return shap


#: Explainers that compute exact Shapley values for the model as deployed.
EXACT_EXPLAINERS = frozenset({"lightgbm", "xgboost", "tree", "linear"})


@dataclass
class ShapResult:
    """Per-decision SHAP contributions in the user's columns (rows in the Subject's order).

    ``margin`` is the model's own output per row, computed independently of the
    explainer; ``values.sum(1) + base_value`` should equal it (see ``additivity_error``).
    """

    values: np.ndarray  # rows x features, folded, columns in ``feature_names`` order
    feature_names: list[str]
    base_value: float
    output_space: str  # "log-odds", "probability", or "model output" (a torch module's own output)
    method: str
    margin: np.ndarray
    seconds: float = 0.0
    executor: str = ""
    n_chunks: int = 1
    chunk_rows: int = 0
    encoded_features: int = 0
    precision: str = "float64"  # arithmetic of the explainer: XGBoost computes contributions in float32
    notes: list[str] = field(default_factory=list)
    # True for algorithms that compute Shapley values exactly (TreeSHAP, linear SHAP), where the sum of
    # contributions is an independent check. KernelSHAP and DeepSHAP are fitted or propagated to sum to the
    # output, so their sum shows nothing about exactness.
    exact: bool = False

    @property
    def additivity_error(self) -> np.ndarray:
        """|sum of contributions + base value - model output| per row."""
        return np.abs(self.values.sum(axis=1) + self.base_value - self.margin)


@dataclass
class ExplainPlan:
    """Everything a worker needs to explain a chunk of rows (picklable, built once in the main process)."""

    explainer: str  # "lightgbm", "xgboost", "tree", "linear", "deep", "kernel"
    method: str
    output_space: str
    feature_names: list[str]
    estimator: Any  # the object explained (booster, final estimator, torch module, or the adapter)
    preprocessor: Any = None  # fitted steps before the estimator, or None
    mapping: np.ndarray | None = None  # encoded column -> user column index
    sign: float = 1.0  # -1 when the model's positive decision is its class 0
    positive_index: int = 1
    background: Any = None  # linear: data mean (1 x F); deep: sample; kernel: summary
    lgb_trees: list[Any] | None = None
    codec: Any = None  # kernel: how user columns are coded as numbers
    seed: int = 0
    categorical_input: bool = False  # native booster fed with pandas categoricals
    categories: dict[str, list[Any]] | None = None  # their categories, fixed from the whole dataset
    nsamples: int = 0


# --------------------------------------------------------------------------- planning


class _PlanCommon(TypedDict):
    """The ExplainPlan fields shared by every non-kernel explainer (passed as ``**common``)."""

    feature_names: list[str]
    preprocessor: Any
    mapping: np.ndarray
    sign: float
    positive_index: int
    seed: int


def plan_explanation(*, model: Any, X: pd.DataFrame, seed: int) -> ExplainPlan:
    """Choose the explainer for ``model`` and prepare what it needs from the whole dataset ``X``."""
    estimator = model.estimator
    final = getattr(model, "final_estimator", estimator)
    names = [str(c) for c in model.feature_names]
    sign = -1.0 if getattr(model, "positive_index", 1) == 0 else 1.0
    pos = int(getattr(model, "positive_index", 1))
    preprocessor = estimator[:-1] if hasattr(estimator, "steps") and len(estimator.steps) > 1 else None
    try:
        mapping = fold_map(preprocessor, n_inputs=len(names)) if preprocessor is not None else np.arange(len(names))
    except FoldingError:
        return _kernel_plan(model=model, X=X, seed=seed, note="preprocessing mixes columns")
    common: _PlanCommon = {"feature_names": names, "preprocessor": preprocessor, "mapping": mapping, "sign": sign,
                           "positive_index": pos, "seed": seed}
    family = _family(final)
    if family == "lightgbm":
        booster = final.booster_ if hasattr(final, "booster_") else final
        categorical = preprocessor is None and model.format == "lightgbm"
        trees = None if categorical else lightgbm_trees(booster)
        return ExplainPlan(explainer="lightgbm", method="TreeSHAP (LightGBM native)", output_space="log-odds",
                           estimator=booster, lgb_trees=trees, categorical_input=categorical,
                           categories=_categories(X[names]) if categorical else None, **common)
    if family == "xgboost":
        booster = final.get_booster() if hasattr(final, "get_booster") else final
        categorical = preprocessor is None and model.format == "xgboost"
        return ExplainPlan(explainer="xgboost", method="TreeSHAP (XGBoost native)", output_space="log-odds",
                           estimator=booster, categorical_input=categorical,
                           categories=_categories(X[names]) if categorical else None, **common)
    if model.kind == "tree" and _family(final) == "sklearn":
        space = "log-odds" if hasattr(final, "decision_function") else "probability"
        return ExplainPlan(explainer="tree", method="TreeSHAP (shap.TreeExplainer, path-dependent)", output_space=space,
                           estimator=final, **common)
    if model.kind == "linear" and hasattr(final, "coef_") and hasattr(final, "decision_function"):
        Z = _transform(preprocessor, X[names])
        mean = np.asarray(Z, dtype=float).mean(axis=0, keepdims=True)
        return ExplainPlan(explainer="linear", method="Linear SHAP (shap.LinearExplainer, interventional, background = data mean)",
                           output_space="log-odds", estimator=final, background=mean, **common)
    module = _as_torch(final)
    if module is not None:
        Z = np.asarray(_transform(preprocessor, X[names]), dtype=float)
        rows = np.random.default_rng([seed, 17]).choice(len(Z), size=min(DEEP_BACKGROUND_ROWS, len(Z)), replace=False)
        space = "log-odds" if module is not final else "model output"  # a scikit-learn MLP copy outputs its logit
        return ExplainPlan(explainer="deep", method="DeepSHAP (shap.DeepExplainer, torch)", output_space=space,
                           estimator=module, background=Z[np.sort(rows)], **common)
    return _kernel_plan(model=model, X=X, seed=seed, note="")


def _kernel_plan(*, model: Any, X: pd.DataFrame, seed: int, note: str) -> ExplainPlan:
    names = [str(c) for c in model.feature_names]
    codec = Codec.fit(X[names])
    M = codec.encode(X[names])
    rng = np.random.default_rng([seed, 29])
    if not codec.categorical:
        shap = import_shap()
        background: Any = shap.kmeans(M, min(AGNOSTIC_KMEANS, len(M)))
        summary = f"k-means summary of {min(AGNOSTIC_KMEANS, len(M))} centres"
    else:
        rows = np.sort(rng.choice(len(M), size=min(AGNOSTIC_BACKGROUND_ROWS, len(M)), replace=False))
        background = M[rows]
        summary = f"seeded sample of {len(rows)} rows"
    nsamples = min(2 * len(names) + 512, 2 ** len(names) + 2)
    method = f"KernelSHAP (model-agnostic; background: {summary}; {nsamples} coalitions per row)"
    if note:
        method += f" — {note}"
    return ExplainPlan(explainer="kernel", method=method, output_space="probability", estimator=model,
                       feature_names=names, mapping=np.arange(len(names)), background=background, codec=codec,
                       seed=seed, nsamples=nsamples)


def _family(final: Any) -> str:
    module = type(final).__module__
    if module.startswith("lightgbm"):
        return "lightgbm"
    if module.startswith("xgboost"):
        return "xgboost"
    if module.startswith("sklearn"):
        return "sklearn"
    return module.split(".")[0]


# --------------------------------------------------------------------------- running


def explain(*, model: Any, X: pd.DataFrame, seed: int, scheduler: str | None = None, chunk_rows: int | None = None,
            workers: int = DEFAULT_WORKERS, progress: Progress = _quiet, plan: ExplainPlan | None = None) -> ShapResult:
    """SHAP contributions for every row of ``X`` (the user's columns), folded to those columns.

    Rows are cut into fixed chunks (``chunk_rows``; by default sized for the
    explainer and independent of where chunks run) and mapped through the
    executor: the Dask scheduler at ``scheduler`` when given, else ``workers``
    local processes when the job is big enough to repay starting them, else
    in-process. The numbers do not depend on that choice.
    """
    started = time.perf_counter()
    plan = plan or plan_explanation(model=model, X=X, seed=seed)
    size = chunk_rows or _CHUNK_ROWS[plan.explainer]
    chunks = row_chunks(len(X), size=size)
    items = [(c.start, X.iloc[c]) for c in chunks]
    worth = len(X) >= _MIN_ROWS_FOR_PROCESSES[plan.explainer]
    executor = make_executor(scheduler=scheduler, n_chunks=len(chunks), workers=workers if worth else 1)
    parts = executor.map(explain_chunk, plan, items, task="explaining decisions (SHAP)", progress=progress)
    values = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, len(plan.feature_names)))
    margin = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    bases = np.array([p[1] for p in parts])
    base = float(bases[0]) if len(bases) else 0.0
    notes = []
    if plan.explainer == "xgboost":
        notes.append("XGBoost computes contributions in 32-bit floating point: they add up to its output to about "
                     "1e-7 relative (about 1e-6 absolute), not to double precision.")
    if len(bases) and np.ptp(bases) > 1e-9:
        notes.append(f"base values differ between chunks by up to {np.ptp(bases):.2e}")
    encoded = len(plan.mapping) if plan.mapping is not None else len(plan.feature_names)
    return ShapResult(values=values, feature_names=list(plan.feature_names), base_value=base,
                      output_space=plan.output_space, method=plan.method, margin=margin,
                      seconds=time.perf_counter() - started, executor=executor.name, n_chunks=len(chunks),
                      chunk_rows=size, encoded_features=encoded, notes=notes,
                      precision="float32" if plan.explainer == "xgboost" else "float64",
                      exact=plan.explainer in EXACT_EXPLAINERS)


# Per explainer: rows per chunk, and the fewest rows worth starting worker processes for (starting
# them costs a few seconds). The LightGBM shortcut shares work between the rows of a chunk, so its
# chunks are large; KernelSHAP is slow per row, so its chunks are small and it parallelises early.
_CHUNK_ROWS = {"lightgbm": 50_000, "xgboost": 10_000, "tree": 10_000, "linear": 50_000, "deep": 5_000, "kernel": 100}
_MIN_ROWS_FOR_PROCESSES = {"lightgbm": 100_000, "xgboost": 20_000, "tree": 20_000, "linear": 500_000, "deep": 20_000,
                           "kernel": 200}


def explain_chunk(plan: ExplainPlan, item: tuple[int, pd.DataFrame]) -> tuple[np.ndarray, float, np.ndarray]:
    """Folded contributions, base value and model output for one chunk of rows (runs in a worker)."""
    start, X = item
    X = X[plan.feature_names]
    if plan.explainer == "kernel":
        return _kernel_chunk(plan, start, X)
    if plan.categorical_input:
        Z: Any = _with_categories(X, plan.categories or {})
    else:
        Z = _transform(plan.preprocessor, X)
    runner = {"lightgbm": _lightgbm_chunk, "xgboost": _xgboost_chunk, "tree": _tree_chunk,
              "linear": _linear_chunk, "deep": _deep_chunk}[plan.explainer]
    values, base, margin = runner(plan, Z)
    if plan.mapping is None:  # plan_explanation always sets it; only a hand-built plan can lack it
        raise TypeError("ExplainPlan.mapping is required to fold contributions onto the user's columns")
    folded = fold_values(values * plan.sign, plan.mapping, n_features=len(plan.feature_names))
    return folded, float(base * plan.sign), np.asarray(margin, dtype=float) * plan.sign


def _categories(X: pd.DataFrame) -> dict[str, list[Any]]:
    """Categories of the text columns over the whole dataset, as the model adapter sees them in one call."""
    return {str(c): list(X[c].astype("category").cat.categories) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])}


def _with_categories(X: pd.DataFrame, categories: dict[str, list[Any]]) -> pd.DataFrame:
    """Text columns as pandas categoricals with the whole dataset's categories, so a chunk codes them alike."""
    out = X.copy()
    for column, cats in categories.items():
        out[column] = pd.Categorical(out[column], categories=cats)
    return out


def _transform(preprocessor: Any, X: pd.DataFrame) -> Any:
    if preprocessor is None:
        return X.to_numpy(dtype=float)
    Z = preprocessor.transform(X)
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    return Z


# --------------------------------------------------------------------------- LightGBM


def _lightgbm_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    booster = plan.estimator
    margin = np.asarray(booster.predict(Z, raw_score=True, num_threads=1), dtype=float)
    numeric = not isinstance(Z, pd.DataFrame) or all(pd.api.types.is_numeric_dtype(t) for t in Z.dtypes)
    if plan.lgb_trees is None or plan.categorical_input or not numeric:
        contrib = np.asarray(booster.predict(Z, pred_contrib=True, num_threads=1), dtype=float)
    else:
        Z = np.ascontiguousarray(Z, dtype=float)
        contrib = lightgbm_contribs(booster, Z, plan.lgb_trees)
        # Guard: a row whose total misses the model's own output is recomputed natively.
        bad = np.abs(contrib.sum(axis=1) - margin) > _GUARD_TOL * (1 + np.abs(margin))
        if bad.any():
            contrib[bad] = booster.predict(Z[bad], pred_contrib=True, num_threads=1)
    return contrib[:, :-1], float(contrib[0, -1]) if len(contrib) else 0.0, margin


# --------------------------------------------------------------------------- XGBoost


def _xgboost_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    import xgboost as xgb

    booster = plan.estimator
    booster.set_param({"nthread": 1})
    matrix = xgb.DMatrix(Z, enable_categorical=plan.categorical_input)
    contrib = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=float)
    margin = np.asarray(booster.predict(matrix, output_margin=True), dtype=float)
    return contrib[:, :-1], float(contrib[0, -1]) if len(contrib) else 0.0, margin


# --------------------------------------------------------------------------- shap explainers


def _tree_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    shap = import_shap()
    final = plan.estimator
    explainer = shap.TreeExplainer(final)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = explainer.shap_values(Z, check_additivity=False)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    values, base = _positive_output(raw, expected, plan)
    if plan.output_space == "log-odds":
        margin = np.asarray(final.decision_function(Z), dtype=float).reshape(-1)
    else:  # probabilities of the positive class: already signed, undo the caller's sign flip
        margin = np.asarray(final.predict_proba(Z), dtype=float)[:, plan.positive_index] * plan.sign
    return values, base, margin


def _positive_output(raw: Any, expected: np.ndarray, plan: ExplainPlan) -> tuple[np.ndarray, float]:
    """Contributions to the output the sign convention expects (classes_[1] log-odds, or positive-class probability)."""
    if isinstance(raw, list):
        raw = np.stack(raw, axis=-1)
    raw = np.asarray(raw, dtype=float)
    if raw.ndim == 2:
        return raw, float(expected[0])
    # One output per class: take the positive class and pre-apply the sign so the caller's flip cancels.
    pos = plan.positive_index
    return raw[:, :, pos] * plan.sign, float(expected[pos]) * plan.sign


def _linear_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    shap = import_shap()
    explainer = shap.LinearExplainer(plan.estimator, plan.background)
    values = np.asarray(explainer.shap_values(np.asarray(Z, dtype=float)), dtype=float)
    base = float(np.atleast_1d(explainer.expected_value)[0])
    margin = np.asarray(plan.estimator.decision_function(Z), dtype=float).reshape(-1)
    return values.reshape(len(Z), -1), base, margin


def _deep_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    import torch

    shap = import_shap()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per worker; restored below (this may be the main process)
    try:
        return _deep_values(shap, torch, plan, Z)
    finally:
        torch.set_num_threads(threads)


def _deep_values(shap: Any, torch: Any, plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    module = plan.estimator.eval()
    dtype = next(module.parameters()).dtype
    background = torch.tensor(np.array(plan.background, dtype=float), dtype=dtype)
    inputs = torch.tensor(np.array(Z, dtype=float), dtype=dtype)
    explainer = shap.DeepExplainer(module, background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(explainer.shap_values(inputs, check_additivity=False), dtype=float).reshape(len(inputs), -1)
    with torch.no_grad():
        margin = module(inputs).detach().cpu().numpy().astype(float).reshape(-1)
    base = float(np.atleast_1d(explainer.expected_value)[0])
    return values, base, margin


def _as_torch(final: Any) -> Any:
    """A torch module to explain: the estimator itself, or a scikit-learn MLP copied into torch (logit output)."""
    if type(final).__module__.startswith("torch"):
        return final
    if type(final).__name__ != "MLPClassifier" or getattr(final, "n_outputs_", 1) != 1:
        return None
    import torch

    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid, "identity": torch.nn.Identity}
    layers: list[Any] = []
    for i, (w, b) in enumerate(zip(final.coefs_, final.intercepts_, strict=True)):
        linear = torch.nn.Linear(w.shape[0], w.shape[1]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(w.T))
            linear.bias.copy_(torch.as_tensor(b))
        layers.append(linear)
        if i < len(final.coefs_) - 1:
            layers.append(activations[final.activation]())
    return torch.nn.Sequential(*layers).double().eval()


# --------------------------------------------------------------------------- model-agnostic


def _kernel_chunk(plan: ExplainPlan, start: int, X: pd.DataFrame) -> tuple[np.ndarray, float, np.ndarray]:
    shap = import_shap()
    model, codec = plan.estimator, plan.codec

    def score(M: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_score(codec.decode(np.atleast_2d(M))), dtype=float)

    explainer = shap.KernelExplainer(score, plan.background)
    state = np.random.get_state()  # KernelExplainer samples from numpy's global generator: seed it per chunk
    np.random.seed(np.random.SeedSequence([plan.seed, start]).generate_state(1)[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = explainer.shap_values(codec.encode(X), nsamples=plan.nsamples, l1_reg=False, silent=True)
    finally:
        np.random.set_state(state)
    margin = np.asarray(model.predict_score(X), dtype=float)
    base = float(np.atleast_1d(explainer.expected_value)[0])
    return np.asarray(values, dtype=float).reshape(len(X), -1), base, margin
