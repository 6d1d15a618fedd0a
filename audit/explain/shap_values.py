"""SHAP contributions for every decision, with the explainer chosen by model kind, in the user's columns.

Which explainer (and why):

- LightGBM / XGBoost final estimator: the library's own TreeSHAP (``pred_contrib`` /
  ``pred_contribs``), exact. For LightGBM on a numeric matrix the work is shared between
  rows that no tree can tell apart (see :mod:`.lightgbm_shap`): same numbers, fewer
  evaluations.
- other tree ensembles (scikit-learn gradient boosting, random forests, histogram boosting):
  ``shap.TreeExplainer`` (exact, path-dependent TreeSHAP).
- linear models: exact linear SHAP in closed form, ``coef * (z - mean z)`` in the model's
  raw output (``decision_function``: the log-odds of ``classes_[1]``), background = the mean
  of the transformed data over every audited row (what ``shap.LinearExplainer`` computes,
  interventional, with the data mean as background); the base value is
  ``intercept + coef . mean z``.
- neural networks (torch modules; scikit-learn MLPs are copied into torch): ``shap.DeepExplainer``.
- torch tensor adapters (TorchScript, state_dict; :mod:`audit.models.tensor`): Integrated Gradients
  through Captum (:mod:`.integrated_gradients`), baseline = mean of the audited inputs, steps doubled
  until the completeness gap is under a tolerance for every row.
- anything else (a true black box, or preprocessing whose output is not a numeric matrix
  of fixed width, or whose every column mixes several of the user's columns): KernelSHAP
  on the user's own columns with a summarised background, within a time budget
  (``kernel_budget`` seconds, :data:`KERNEL_BUDGET_SECONDS` by default). A timed pilot on
  :data:`KERNEL_PILOT_ROWS` rows, run with two seeds, gives the seconds per row and an
  error estimate (how far the two seeds' contributions differ); when every row does not fit
  in the budget, a seeded sample of the rows that do is explained and the others get no
  contributions (NaN; their ``margin`` is NaN too). The notes say which.

Whatever the preprocessing before a tree or linear final estimator (custom
``FunctionTransformer`` steps included), the estimator is explained exactly on its own
input ``Z = preprocessor.transform(X)`` and the contributions of Z's columns are folded
onto the user's columns through the column map of :mod:`.folding` (scikit-learn's
structure where known, else a seeded probe). A column of Z made from several user columns
is *joint*: its contribution is kept as a group named ``"a + b"`` (``ShapResult.joint_*``),
never split between them, and counts in the additivity check.

Chunks of rows are computed through one executor (:mod:`.executor`). The model's own
output (its "margin": log-odds, or probability for random forests and model-agnostic
explanations) is computed separately for every row, so additivity
(``sum(contributions) + sum(joint contributions) + base = margin``) is a real check, not an identity.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from audit.explain import integrated_gradients as ig
from audit.explain.codec import Codec
from audit.explain.executor import DEFAULT_WORKERS, make_executor, row_chunks
from audit.explain.folding import CONSTANT_GROUP, ColumnMap, FoldingError, column_map, fold_values, scan_output
from audit.explain.lightgbm_shap import lightgbm_contribs, lightgbm_trees

__all__ = ["ShapResult", "EXACT_EXPLAINERS", "ExplainPlan", "KernelPilot", "plan_explanation", "explain", "import_shap",
           "KERNEL_BUDGET_SECONDS"]

Progress = Callable[[str, int, int], None]

AGNOSTIC_BACKGROUND_ROWS = 30
AGNOSTIC_KMEANS = 10
DEEP_BACKGROUND_ROWS = 100
#: Default time budget of KernelSHAP (seconds, pilot and planning included) when the caller gives none: none
#: (every row is explained, progress shown). The spec sets one with explanations.kernel_budget_seconds; rows left
#: unexplained are NaN, and the checks count them as unmeasured (importance averages the explained rows; local.shap
#: leaves coverage unmeasured, so the rules that need each decision explained say REVIEW).
KERNEL_BUDGET_SECONDS = math.inf
#: Rows of the timed pilot (each explained twice, with two seeds).
KERNEL_PILOT_ROWS = 3
#: Share of the remaining budget planned for rows (the rest absorbs per-chunk overheads and timing noise).
KERNEL_BUDGET_SHARE = 0.9
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
    explainer; ``values.sum(1) + joint_values.sum(1) + base_value`` should equal it
    (see ``additivity_error``). ``joint_values`` holds the contributions of the
    preprocessing's joint columns (made from several user columns), one column per
    group named in ``joint_names`` ("a + b"); they belong to no single user column.
    Rows KernelSHAP had no time for (its budget) are NaN in ``values`` and ``margin``.
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
    joint_values: np.ndarray | None = None  # rows x groups (None or no columns: no joint column)
    joint_names: list[str] = field(default_factory=list)
    joint_members: list[list[str]] = field(default_factory=list)  # the user columns of each group
    traced_by: str = "none"  # how encoded columns were traced to the user's: "none", "structure", "probe"

    @property
    def additivity_error(self) -> np.ndarray:
        """|sum of contributions (joint groups included) + base value - model output| per row."""
        return np.abs(self.all_values.sum(axis=1) + self.base_value - self.margin)

    @property
    def all_values(self) -> np.ndarray:
        """Contributions of the user's columns, then of the joint groups (rows x (features + groups))."""
        if self.joint_values is None or not self.joint_values.shape[1]:
            return self.values
        return np.hstack([self.values, self.joint_values])

    @property
    def all_names(self) -> list[str]:
        """Names of the columns of ``all_values``."""
        return [*self.feature_names, *self.joint_names]


@dataclass
class KernelPilot:
    """KernelSHAP timed on a few rows with two seeds: seconds per row and how far the seeds disagree."""

    rows: int
    seconds: float  # both runs
    seconds_per_row: float  # the second (warm) run
    max_spread: float  # largest |difference| between the two seeds' contributions
    mean_spread: float
    mean_abs: float  # mean |contribution| of the first run, for scale
    base: float


@dataclass
class ExplainPlan:
    """Everything a worker needs to explain a chunk of rows (picklable, built once in the main process)."""

    explainer: str  # "lightgbm", "xgboost", "tree", "linear", "deep", "kernel"
    method: str
    output_space: str
    feature_names: list[str]
    estimator: Any  # the object explained (booster, final estimator, torch module, or the adapter)
    preprocessor: Any = None  # fitted steps before the estimator, or None
    mapping: np.ndarray | None = None  # encoded column -> folded column (user column, then joint group)
    sign: float = 1.0  # -1 when the model's positive decision is its class 0
    positive_index: int = 1
    background: Any = None  # linear: data mean (1 x F); deep: sample; kernel: summary
    lgb_trees: list[Any] | None = None
    codec: Any = None  # kernel: how user columns are coded as numbers
    seed: int = 0
    categorical_input: bool = False  # native booster fed with pandas categoricals
    categories: dict[str, list[Any]] | None = None  # their categories, fixed from the whole dataset
    nsamples: int = 0
    groups: list[str] = field(default_factory=list)  # joint groups, folded after the user's columns
    group_members: list[list[str]] = field(default_factory=list)
    traced_by: str = "none"
    notes: list[str] = field(default_factory=list)  # carried into ShapResult.notes
    budget: float = 0.0  # kernel: seconds allowed per explain() call, planning included
    pilot: KernelPilot | None = None
    planning_seconds: float = 0.0  # kernel: background, codec and pilot
    tolerance: float = 0.0  # ig: the completeness gap every row should be under

    @property
    def n_folded(self) -> int:
        """Columns after the fold: the user's columns, then the joint groups."""
        return len(self.feature_names) + len(self.groups)


# --------------------------------------------------------------------------- planning


class _PlanCommon(TypedDict):
    """The ExplainPlan fields shared by every non-kernel explainer (passed as ``**common``)."""

    feature_names: list[str]
    preprocessor: Any
    mapping: np.ndarray
    sign: float
    positive_index: int
    seed: int
    groups: list[str]
    group_members: list[list[str]]
    traced_by: str
    notes: list[str]


def plan_explanation(*, model: Any, X: pd.DataFrame, seed: int, kernel_budget: float | None = None,
                     progress: Progress = _quiet) -> ExplainPlan:
    """Choose the explainer for ``model`` and prepare what it needs from the whole dataset ``X``.

    A tree or linear final estimator (or a torch network) is explained exactly on its own
    input whatever the preprocessing, as long as that can be traced to the user's columns
    (:func:`audit.explain.folding.column_map`); anything else gets KernelSHAP within
    ``kernel_budget`` seconds (default :data:`KERNEL_BUDGET_SECONDS`), after a timed pilot
    whose progress is reported through ``progress``.
    """
    budget = KERNEL_BUDGET_SECONDS if kernel_budget is None else float(kernel_budget)
    estimator = model.estimator
    final = getattr(model, "final_estimator", estimator)
    names = [str(c) for c in model.feature_names]
    sign = -1.0 if getattr(model, "positive_index", 1) == 0 else 1.0
    pos = int(getattr(model, "positive_index", 1))
    preprocessor = estimator[:-1] if hasattr(estimator, "steps") and len(estimator.steps) > 1 else None
    if final is None and ig.is_torch_adapter(model):  # a torch tensor adapter: Integrated Gradients on its module
        return _ig_plan(model=model, X=X, seed=seed)
    family = _family(final)
    module = None
    score_kind = getattr(model, "score_kind", "probability")
    if len(getattr(model, "classes", ())) > 2:  # the score combines several classes' outputs: no exact explainer adds up to it
        what = ("the lead of its positive classes (their highest probability minus the highest of the others)"
                if score_kind == "lead" else "the summed probability of its positive classes")
        return _kernel_plan(model=model, X=X, seed=seed, budget=budget, progress=progress,
                            note=f"a multi-class model: the score explained is {what}, which no exact explainer "
                                 "decomposes")
    if family in ("lightgbm", "xgboost"):
        kind = family
    elif model.kind == "tree" and family == "sklearn":
        kind = "tree"
    elif (model.kind == "linear" and hasattr(final, "coef_") and np.ndim(final.coef_) <= 2
          and np.size(final.coef_) == np.shape(final.coef_)[-1]
          and (hasattr(final, "decision_function") or score_kind == "score")):
        kind = "linear"  # one row of coefficients: a binary classifier's log-odds, or a regressor's prediction
    else:
        module = _as_torch(final)
        kind = "deep" if module is not None else "kernel"
    if kind == "kernel":
        return _kernel_plan(model=model, X=X, seed=seed, note="", budget=budget, progress=progress)
    data = X[names]
    try:
        scan = scan_output(preprocessor, data) if kind == "linear" else None
        cmap = column_map(preprocessor, data, seed=seed, scan=scan)
    except FoldingError as exc:
        return _kernel_plan(model=model, X=X, seed=seed, budget=budget, progress=progress,
                            note=f"the preprocessing cannot be traced to the user's columns: {exc}")
    if cmap.single_source == 0 and len(names) > 1:
        return _kernel_plan(model=model, X=X, seed=seed, budget=budget, progress=progress,
                            note="every column the preprocessing outputs mixes several of the user's columns, so an "
                                 "exact fold would attribute nothing to any single column")
    groups = cmap.group_names(names)
    members = [[names[i] for i in g] for g in cmap.groups]
    suffix, notes = _fold_texts(cmap, groups, members)
    common: _PlanCommon = {"feature_names": names, "preprocessor": preprocessor, "mapping": cmap.mapping, "sign": sign,
                           "positive_index": pos, "seed": seed, "groups": groups, "group_members": members,
                           "traced_by": cmap.how, "notes": notes}
    raw_space = "model output" if score_kind == "score" else "log-odds"  # a regressor's raw output is its prediction
    if kind == "lightgbm":
        booster = final.booster_ if hasattr(final, "booster_") else final
        categorical = preprocessor is None and model.format == "lightgbm"
        trees = None if categorical else lightgbm_trees(booster)
        return ExplainPlan(explainer="lightgbm", method="TreeSHAP (LightGBM native)" + suffix, output_space=raw_space,
                           estimator=booster, lgb_trees=trees, categorical_input=categorical,
                           categories=_categories(data) if categorical else None, **common)
    if kind == "xgboost":
        booster = final.get_booster() if hasattr(final, "get_booster") else final
        categorical = preprocessor is None and model.format == "xgboost"
        return ExplainPlan(explainer="xgboost", method="TreeSHAP (XGBoost native)" + suffix, output_space=raw_space,
                           estimator=booster, categorical_input=categorical,
                           categories=_categories(data) if categorical else None, **common)
    if kind == "tree":
        space = ("model output" if score_kind == "score" else
                 "log-odds" if hasattr(final, "decision_function") else "probability")
        return ExplainPlan(explainer="tree", method="TreeSHAP (shap.TreeExplainer, path-dependent)" + suffix,
                           output_space=space, estimator=final, **common)
    if kind == "linear" and scan is not None:
        return ExplainPlan(explainer="linear", output_space=raw_space, estimator=final, background=scan.mean,
                           method=(f"Linear SHAP (exact: coef × (z − mean z) on the model's "
                                   f"{'output (its prediction)' if raw_space == 'model output' else raw_space}, interventional, "
                                   "background = data mean)" + suffix), **common)
    Z = np.asarray(_transform(preprocessor, data), dtype=float)
    rows = np.random.default_rng([seed, 17]).choice(len(Z), size=min(DEEP_BACKGROUND_ROWS, len(Z)), replace=False)
    space = "log-odds" if module is not final else "model output"  # a scikit-learn MLP copy outputs its logit
    return ExplainPlan(explainer="deep", method="DeepSHAP (shap.DeepExplainer, torch)" + suffix, output_space=space,
                       estimator=module, background=Z[np.sort(rows)], **common)


def _ig_plan(*, model: Any, X: pd.DataFrame, seed: int) -> ExplainPlan:
    """Integrated Gradients for a torch adapter: along its input tensor (one-hot columns folded back to their column),
    baseline = mean of the audited inputs (a one-hot column's mean is each category's share), tolerance from the
    output scale."""
    from audit.models.tensor import InputEncoder

    names = [str(c) for c in model.feature_names]
    encoded = model.encode(X) if len(X) else np.zeros((0, len(model.input_names)))
    baseline = encoded.mean(axis=0, keepdims=True) if len(X) else np.zeros((1, len(model.input_names)))
    pos = int(model.positive_index)
    module = model.estimator
    f_x = ig.model_output(module, encoded.astype(np.float32), output=model.output, positive_index=pos)
    f_b = ig.model_output(module, baseline.astype(np.float32), output=model.output, positive_index=pos)[0]
    tolerance = ig.tolerance_for(model.output, float(np.abs(f_x - f_b).max()) if len(f_x) else 1.0)
    one_hot = [c for c, categories in model.encoding if categories is not None]
    notes = ([f"One-hot columns of the model's input ({', '.join(one_hot)}) are integrated as numbers from the "
              "baseline (each category's share of the audited rows) to the person's 0 or 1; their contributions are "
              "added back to the column they encode."] if one_hot else [])
    return ExplainPlan(explainer="ig", method=ig.method_text(model.output, tolerance),
                       output_space=ig.output_space(model.output), feature_names=names, estimator=model,
                       preprocessor=InputEncoder(model), mapping=np.asarray(model.input_source), sign=1.0,
                       positive_index=pos, background=baseline, seed=seed, tolerance=tolerance, notes=notes)


def _fold_texts(cmap: ColumnMap, groups: list[str], members: list[list[str]]) -> tuple[str, list[str]]:
    """A short suffix for the method, and notes, saying how the fold was found and which groups it keeps."""
    suffix, notes = "", []
    if cmap.how == "probe":
        suffix = "; preprocessing traced to the user's columns by probing"
        notes.append(f"The preprocessing was traced to the user's columns by probing: each of the {cmap.n_inputs} columns "
                     "was shuffled alone among the rows of a seeded sample of the data, and the output columns that "
                     f"moved were attributed to it ({cmap.single_source} of {len(cmap.mapping)} output columns come "
                     "from a single column).")
    joint = [(g, m) for g, m in zip(groups, members, strict=True) if m]
    if joint:
        quoted = ", ".join(f"'{g}'" for g, _ in joint)
        suffix += f"; joint columns kept as group{'s' if len(joint) > 1 else ''} {quoted}"
        described = "; ".join(f"'{g}' from {', '.join(m)}" for g, m in joint)
        notes.append("Some columns the model takes are computed from several of the user's columns (" + described + "): "
                     "their contributions are kept as groups, not shared out between those columns. Per-column "
                     "contributions and reasons leave them out; with the groups they add up to the model's output.")
    constant = sum(1 for src in cmap.sources if not src)
    if constant:
        notes.append(f"{constant} of the {len(cmap.sources)} columns the model takes are constant over the audited data "
                     "and no user column moves them (for example the one-hot column of a category that does not occur "
                     f"in it): their contributions (zero for a linear model) are kept apart as '{CONSTANT_GROUP}', so "
                     "that the sum stays complete.")
    return suffix, notes


def _kernel_plan(*, model: Any, X: pd.DataFrame, seed: int, note: str, budget: float = KERNEL_BUDGET_SECONDS,
                 progress: Progress = _quiet) -> ExplainPlan:
    started = time.perf_counter()
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
    method = (f"KernelSHAP (model-agnostic; background: {summary}; {nsamples} coalitions per row; "
              f"{_budget_text(budget)})")
    if note:
        method += f" — {note}"
    space = "model output" if getattr(model, "score_kind", "probability") == "score" else "probability"
    plan = ExplainPlan(explainer="kernel", method=method, output_space=space, estimator=model,
                       feature_names=names, mapping=np.arange(len(names)), background=background, codec=codec,
                       seed=seed, nsamples=nsamples, budget=budget)
    plan.pilot = _kernel_pilot(plan, X[names], progress)
    plan.notes = [_pilot_note(plan)]
    plan.planning_seconds = time.perf_counter() - started
    return plan


def _kernel_pilot(plan: ExplainPlan, X: pd.DataFrame, progress: Progress) -> KernelPilot | None:
    """KernelSHAP on a few seeded rows, twice with different seeds: time per row and the spread between seeds."""
    if not len(X):
        return None
    rows = np.sort(np.random.default_rng([plan.seed, 37]).choice(len(X), size=min(KERNEL_PILOT_ROWS, len(X)),
                                                                 replace=False))
    sample = X.iloc[rows]
    task = f"KernelSHAP pilot ({len(rows)} rows x 2 seeds: time per row, error estimate)"
    progress(task, 0, 2)
    started = time.perf_counter()
    first, base = _kernel_values(plan, sample, [plan.seed, 37, 1])
    progress(task, 1, 2)
    warm = time.perf_counter()
    second, _ = _kernel_values(plan, sample, [plan.seed, 37, 2])
    ended = time.perf_counter()
    progress(task, 2, 2)
    spread = np.abs(first - second)
    return KernelPilot(rows=len(rows), seconds=ended - started, seconds_per_row=(ended - warm) / len(rows),
                       max_spread=float(spread.max()), mean_spread=float(spread.mean()),
                       mean_abs=float(np.abs(first).mean()), base=base)


def _pilot_note(plan: ExplainPlan) -> str:
    pilot = plan.pilot
    if pilot is None:
        return "KernelSHAP error not estimated: no row to explain."
    if pilot.max_spread == 0:
        return (f"Estimated KernelSHAP error: on {pilot.rows} pilot rows explained with two seeds the contributions "
                f"are identical ({plan.nsamples} coalitions cover every coalition of the columns that vary): no sampling "
                "error; the background summary remains an approximation of the data.")
    return (f"Estimated KernelSHAP error: on {pilot.rows} pilot rows explained with two seeds, the contributions "
            f"differ by {pilot.mean_spread:.2g} on average and {pilot.max_spread:.2g} at most ("
            f"{'probability points' if plan.output_space == 'probability' else 'units of the model output'}; the "
            f"mean |contribution| there is {pilot.mean_abs:.2g}); one run's error is of the order of that spread "
            "divided by √2, on top of the approximation of the background summary.")


def _family(final: Any) -> str:
    """Whose estimator this is, by type (never by a name a wrapper could share).

    LightGBM and XGBoost by ``isinstance`` of their models and boosters (their modules are imported
    already when such an object exists); scikit-learn by its own package, exactly.
    """
    import sys

    lightgbm, xgboost = sys.modules.get("lightgbm"), sys.modules.get("xgboost")
    if lightgbm is not None and isinstance(final, (lightgbm.Booster, lightgbm.LGBMModel)):
        return "lightgbm"
    if xgboost is not None and isinstance(final, (xgboost.Booster, xgboost.XGBModel)):
        return "xgboost"
    module = type(final).__module__
    if module == "sklearn" or module.startswith("sklearn."):
        return "sklearn"
    return "other"


# --------------------------------------------------------------------------- running


def explain(*, model: Any, X: pd.DataFrame, seed: int, scheduler: str | None = None, chunk_rows: int | None = None,
            workers: int = DEFAULT_WORKERS, progress: Progress = _quiet, plan: ExplainPlan | None = None,
            kernel_budget: float | None = None) -> ShapResult:
    """SHAP contributions for every row of ``X`` (the user's columns), folded to those columns.

    Rows are cut into fixed chunks (``chunk_rows``; by default sized for the
    explainer and independent of where chunks run) and mapped through the
    executor: the Dask scheduler at ``scheduler`` when given, else ``workers``
    local processes when the job is big enough to repay starting them, else
    in-process. The numbers do not depend on that choice. KernelSHAP explains
    the rows that fit its time budget (``kernel_budget``, used when the plan is
    made here; see :func:`plan_explanation`).
    """
    started = time.perf_counter()
    plan = plan or plan_explanation(model=model, X=X, seed=seed, kernel_budget=kernel_budget, progress=progress)
    notes = list(plan.notes)
    rows = np.arange(len(X))
    task = "explaining decisions (SHAP)"
    if plan.explainer == "kernel":
        rows, text, task = _kernel_rows(plan, len(X))
        notes.append(text)
    subset = X if len(rows) == len(X) else X.iloc[rows]
    size = chunk_rows or _CHUNK_ROWS[plan.explainer]
    chunks = row_chunks(len(subset), size=size)
    items = [(c.start, subset.iloc[c]) for c in chunks]
    worth = len(subset) >= _MIN_ROWS_FOR_PROCESSES[plan.explainer]
    executor = make_executor(scheduler=scheduler, n_chunks=len(chunks), workers=workers if worth else 1)
    parts = executor.map(explain_chunk, plan, items, task=task, progress=progress)
    if executor.note:  # the model could not be sent to the workers: explained in this process instead, same numbers
        notes.append(executor.note)
    width = plan.n_folded
    done = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, width))
    done_margin = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    if len(subset) == len(X):
        folded, margin = done, done_margin
    else:  # KernelSHAP over budget: rows it had no time for stay NaN
        folded, margin = np.full((len(X), width), np.nan), np.full(len(X), np.nan)
        folded[rows], margin[rows] = done, done_margin
    bases = np.array([p[1] for p in parts])
    base = float(bases[0]) if len(bases) else (plan.pilot.base if plan.pilot is not None else 0.0)
    if plan.explainer == "xgboost":
        notes.append("XGBoost computes contributions in 32-bit floating point: they add up to its output to about "
                     "1e-7 relative (about 1e-6 absolute), not to double precision.")
    if len(bases) and np.ptp(bases) > 1e-9:
        notes.append(f"base values differ between chunks by up to {np.ptp(bases):.2e}")
    n_user = len(plan.feature_names)
    values, joint = folded[:, :n_user], folded[:, n_user:]
    notes += _joint_notes(plan, values, joint)
    encoded = len(plan.mapping) if plan.mapping is not None else n_user
    return ShapResult(values=values, feature_names=list(plan.feature_names), base_value=base,
                      output_space=plan.output_space, method=plan.method, margin=margin,
                      seconds=time.perf_counter() - started, executor=executor.name, n_chunks=len(chunks),
                      chunk_rows=size, encoded_features=encoded, notes=notes,
                      precision="float32" if plan.explainer == "xgboost" else "float64",
                      # IG's gap to the separately computed output is a real check, so it is reported like theirs
                      exact=plan.explainer in EXACT_EXPLAINERS or plan.explainer == "ig", joint_values=joint, joint_names=list(plan.groups),
                      joint_members=[list(m) for m in plan.group_members], traced_by=plan.traced_by)


def _budget_text(budget: float) -> str:
    return "no time budget" if math.isinf(budget) else f"time budget {budget:g} s"


def _kernel_rows(plan: ExplainPlan, n: int) -> tuple[np.ndarray, str, str]:
    """The rows KernelSHAP has time for (all, or a seeded sample), the note saying so, and the progress task."""
    pilot = plan.pilot
    if not n:
        return np.arange(n), f"KernelSHAP, {_budget_text(plan.budget)}: no row to explain.", "explaining decisions"
    if pilot is None:  # a plan made on no rows: nothing to size the budget with
        return np.arange(n), "KernelSHAP ran without a time budget (no pilot was timed).", "explaining decisions"
    per_row = max(pilot.seconds_per_row, 1e-6)
    left = plan.budget - plan.planning_seconds
    room = max(0.0, KERNEL_BUDGET_SHARE * left) / per_row  # rows that fit (inf for an unlimited budget)
    fit = n if room >= n else int(room)
    pilot_text = (f"a pilot on {pilot.rows} rows took {per_row:.3g} s per row (one process), and background and pilot "
                  f"{plan.planning_seconds:.1f} s")
    if fit >= n:
        rows = np.arange(n)
        text = (f"KernelSHAP, {_budget_text(plan.budget)}: {pilot_text}, so all {n:,} decisions fit "
                f"(about {n * per_row:.0f} s estimated).")
    else:
        rows = np.sort(np.random.default_rng([plan.seed, 41, n]).choice(n, size=fit, replace=False))
        text = (f"KernelSHAP, {_budget_text(plan.budget)}: {pilot_text}, so {fit:,} of the {n:,} decisions (a seeded "
                f"sample) {'was' if fit == 1 else 'were'} explained; the other {n - fit:,} have no contributions (NaN), since all of them would "
                f"take about {n * per_row:.0f} s. A larger budget explains more.")
    task = f"explaining decisions (KernelSHAP: {len(rows):,} of {n:,} rows, about {len(rows) * per_row:.0f} s)"
    return rows, text, task


def _joint_notes(plan: ExplainPlan, values: np.ndarray, joint: np.ndarray) -> list[str]:
    """How much of the contributions each joint group carries."""
    if not joint.shape[1] or not len(joint):
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        size = np.nanmean(np.abs(np.hstack([values, joint])), axis=0)
    total = float(np.nansum(size)) or 1.0
    n_user = values.shape[1]
    out = []
    for g, name in enumerate(plan.groups):
        share = size[n_user + g] / total
        what = (f"from {', '.join(plan.group_members[g])}" if plan.group_members[g] else
                "output columns constant over the audited data")
        if name == CONSTANT_GROUP and not np.nanmax(np.abs(joint[:, g]), initial=0.0) > 0:
            continue
        out.append(f"Joint group '{name}' ({what}): mean |contribution| {size[n_user + g]:.3g}, {share:.1%} of the "
                   "sum of all mean |contributions|; kept as a group, not shared out between its columns.")
    return out


# Per explainer: rows per chunk, and the fewest rows worth starting worker processes for (starting
# them costs a few seconds). The LightGBM shortcut shares work between the rows of a chunk, so its
# chunks are large; KernelSHAP is slow per row, so its chunks are small and it parallelises early.
_CHUNK_ROWS = {"lightgbm": 50_000, "xgboost": 10_000, "tree": 10_000, "linear": 50_000, "deep": 5_000, "kernel": 100,
               "ig": 5_000}
_MIN_ROWS_FOR_PROCESSES = {"lightgbm": 100_000, "xgboost": 20_000, "tree": 20_000, "linear": 500_000, "deep": 20_000,
                           "kernel": 200, "ig": 100_000}


def explain_chunk(plan: ExplainPlan, item: tuple[int, pd.DataFrame]) -> tuple[np.ndarray, float, np.ndarray]:
    """Folded contributions (user columns, then joint groups), base value and model output for one chunk of rows."""
    start, X = item
    X = X[plan.feature_names]
    if plan.explainer == "kernel":
        return _kernel_chunk(plan, start, X)
    if plan.categorical_input:
        Z: Any = _with_categories(X, plan.categories or {})
    else:
        Z = _transform(plan.preprocessor, X)
    runner = {"lightgbm": _lightgbm_chunk, "xgboost": _xgboost_chunk, "tree": _tree_chunk,
              "linear": _linear_chunk, "deep": _deep_chunk, "ig": _ig_chunk}[plan.explainer]
    values, base, margin = runner(plan, Z)
    if plan.mapping is None:  # plan_explanation always sets it; only a hand-built plan can lack it
        raise TypeError("ExplainPlan.mapping is required to fold contributions onto the user's columns")
    folded = fold_values(values * plan.sign, plan.mapping, n_features=plan.n_folded)
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
    if plan.output_space == "model output":  # a regressor: its prediction
        margin = np.asarray(final.predict(Z), dtype=float).reshape(-1)
    elif plan.output_space == "log-odds":
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
    """Exact linear SHAP in closed form: coef * (z - mean z); base = intercept + coef . mean z (log-odds of classes_[1])."""
    final = plan.estimator
    coef = np.asarray(final.coef_, dtype=float).reshape(-1)
    mean = np.asarray(plan.background, dtype=float).reshape(-1)
    values = (np.asarray(Z, dtype=float) - mean) * coef
    base = float(np.asarray(final.intercept_, dtype=float).reshape(-1)[0] + mean @ coef)
    output = final.predict if plan.output_space == "model output" else final.decision_function  # regressor: prediction
    margin = np.asarray(output(Z), dtype=float).reshape(-1)
    return values.reshape(len(values), -1), base, margin


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


def _ig_chunk(plan: ExplainPlan, Z: Any) -> tuple[np.ndarray, float, np.ndarray]:
    """Integrated Gradients of the adapter's module (positive class's output; already signed, plan.sign is 1)."""
    import torch

    model = plan.estimator  # the adapter: in a worker its module is reloaded from the file's bytes
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per worker; restored below (this may be the main process)
    try:
        done = ig.integrated_gradients(model.estimator, np.asarray(Z, dtype=float), plan.background,
                                       output=model.output, positive_index=plan.positive_index,
                                       tolerance=plan.tolerance)
    finally:
        torch.set_num_threads(threads)
    return done.values, done.base, done.margin


def _as_torch(final: Any) -> Any:
    """A torch module to explain: the estimator itself, or a scikit-learn MLP copied into torch (logit output).

    By type, never by name: a torch.nn.Module (torch is imported already when one exists), or an
    instance of scikit-learn's MLPClassifier. Anything else (a wrapper named ``Torch...``) is None.
    """
    import sys

    torch_loaded, neural_network = sys.modules.get("torch"), sys.modules.get("sklearn.neural_network")
    if torch_loaded is not None and isinstance(final, torch_loaded.nn.Module):
        return final
    if neural_network is None or not isinstance(final, neural_network.MLPClassifier) or getattr(final, "n_outputs_", 1) != 1:
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
    values, base = _kernel_values(plan, X, [plan.seed, start])
    margin = np.asarray(plan.estimator.predict_score(X), dtype=float)
    return values, base, margin


def _kernel_values(plan: ExplainPlan, X: pd.DataFrame, entropy: list[int]) -> tuple[np.ndarray, float]:
    """KernelSHAP contributions of the rows of ``X`` (user columns) and the base value, seeded by ``entropy``."""
    shap = import_shap()
    model, codec = plan.estimator, plan.codec

    def score(M: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_score(codec.decode(np.atleast_2d(M))), dtype=float)

    explainer = shap.KernelExplainer(score, plan.background)
    state = np.random.get_state()  # KernelExplainer samples from numpy's global generator: seed it per chunk
    np.random.seed(np.random.SeedSequence(entropy).generate_state(1)[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = explainer.shap_values(codec.encode(X), nsamples=plan.nsamples, l1_reg=False, silent=True)
    finally:
        np.random.set_state(state)
    base = float(np.atleast_1d(explainer.expected_value)[0])
    return np.asarray(values, dtype=float).reshape(len(X), -1), base
