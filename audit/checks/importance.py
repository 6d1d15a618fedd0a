"""Global importance: which of the user's features drive the model's decisions, measured four ways.

- ``importance.shap``: mean |SHAP| per feature over every decision (exact for trees and
  linear models), with the direction of each feature's effect. The per-row matrix is
  passed to the ``local`` check through ``ctx.shap`` (computed once).
- ``importance.permutation``: drop in accuracy (ROC AUC) when a feature is shuffled.
- ``importance.surrogate``: a depth-4 tree mimicking the model, with its fidelity.
- ``importance.pdp``: partial dependence of the score on the top three features.

Everything is expressed in the user's own columns (encoded columns are folded back).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext, Need
from audit.checks._common import IMAGE_ONLY
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.explain.shap_values import ShapResult, explain
from audit.models import ModelAdapter
from audit.subject import Subject

__all__ = ["run", "shap_result", "contribution_unit", "additivity_error", "explained_rows", "CHECK", "NEEDS", "PERMUTATION_ROWS",
           "SURROGATE_DEPTH", "PDP_ROWS"]

NEEDS: tuple[Need, ...] = ("model",)  # and labels for permutation importance

CHECK = "importance"
PERMUTATION_ROWS = 5_000
PERMUTATION_REPEATS = 5
SURROGATE_DEPTH = 4
PDP_ROWS = 1_000
PDP_FEATURES = 3
TOP_CHART = 15
NO_MODEL = "no model access"
NO_LABELS = "no ground-truth labels"

_TITLES = {
    "importance.shap": "Global feature importance (SHAP)",
    "importance.permutation": "Permutation importance",
    "importance.surrogate": "Surrogate decision tree",
    "importance.pdp": "Partial dependence of the score on the top features",
}


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Evidence of global importance; not assessed without a model (and, for permutation, without labels)."""
    if not subject.has_model:
        return [Evidence.not_assessed(key, CHECK, title, NO_MODEL) for key, title in _TITLES.items()]
    if subject.image_columns:
        return [Evidence.not_assessed(key, CHECK, title, IMAGE_ONLY) for key, title in _TITLES.items()]
    shap_ev = _shap_evidence(subject, ctx)
    return [shap_ev, _permutation_evidence(subject, ctx), _surrogate_evidence(subject, ctx), _pdp_evidence(subject, ctx)]


TEXT_ONLY = "every model input is free text (data.feature_types: text): see local.tokens for its words"


def shap_result(subject: Subject, ctx: CheckContext) -> ShapResult:
    """The per-decision SHAP matrix, computed once per run and kept in ``ctx.shap``."""
    cached = ctx.shap
    if cached is not None and len(cached.values) == subject.n:
        return cached
    scheduler = ctx.scheduler or subject.spec.explanations.scheduler
    result = explain(model=subject.model, X=subject.X, seed=ctx.seed, scheduler=scheduler, progress=ctx.progress,
                     kernel_budget=subject.spec.explanations.kernel_budget_seconds)
    ctx.shap = result
    return result


def explained_rows(result: ShapResult) -> np.ndarray:
    """Rows with contributions (False where KernelSHAP's time budget left a decision unexplained: NaN)."""
    return np.isfinite(result.values).all(axis=1) & np.isfinite(result.margin)


def additivity_error(result: ShapResult) -> tuple[float | None, dict[str, str]]:
    """Largest additivity gap of an exact explainer, or None with why (an approximate explainer proves nothing)."""
    if not result.exact:
        return None, {"max_additivity_error": f"{result.method} is not an exact explainer: its contributions are "
                                              "fitted to sum to the output, so the sum shows nothing about exactness"}
    if not len(result.values):
        return None, {"max_additivity_error": "no decision was explained"}
    return float(result.additivity_error.max()), {}


def contribution_unit(result: ShapResult) -> str:
    """The unit contributions are in, for a reader."""
    return {"log-odds": "log-odds", "probability": "probability points"}.get(result.output_space, "units of the model's output")


# --------------------------------------------------------------------------- SHAP


def _direction(x: pd.Series, contribution: np.ndarray, kind: str) -> str:
    """How a feature pushes the score: correlation sign for numbers, extreme categories for labels."""
    if kind == "text":  # each text is its own value: the words that push are in local.tokens
        return "by its words (local.tokens)"
    if kind == "numeric":
        values = x.to_numpy(dtype=float)
        ok = np.isfinite(values)
        if ok.sum() < 3 or np.ptp(values[ok]) == 0 or np.ptp(contribution[ok]) == 0:
            return "no clear direction"
        r = float(np.corrcoef(values[ok], contribution[ok])[0, 1])
        if r > 0.2:
            return f"higher values raise the score (r = {r:.2f})"
        if r < -0.2:
            return f"higher values lower the score (r = {r:.2f})"
        return f"mixed (r = {r:.2f})"
    labels = x.astype(object).where(x.notna(), "missing").astype(str)
    means = pd.Series(contribution).groupby(labels.to_numpy()).mean()
    if len(means) < 2:
        return "no clear direction"
    return f"raises most: '{means.idxmax()}'; lowers most: '{means.idxmin()}'"


def _shap_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    started = time.perf_counter()
    result = shap_result(subject, ctx)
    explained = explained_rows(result)
    values = result.values[explained]  # rows KernelSHAP's time budget left out have no contributions
    n_explained = int(explained.sum())
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(result.feature_names))
    total = mean_abs.sum() or 1.0
    order = np.argsort(-mean_abs, kind="stable")
    records = []
    for rank, j in enumerate(order, start=1):
        name = result.feature_names[j]
        kind = subject.feature_types.get(name, "numeric")
        records.append({"rank": rank, "feature": name, "type": kind, "mean |SHAP|": float(mean_abs[j]),
                        "share": float(mean_abs[j] / total),
                        "direction": _direction(subject.X[name][explained], values[:, j], kind)})
    top = [result.feature_names[j] for j in order[:TOP_CHART]]
    error, missing = additivity_error(result)
    unit = contribution_unit(result)
    top3 = ", ".join(r["feature"] for r in records[:3])
    return Evidence(
        id="importance.shap", check=CHECK, title=_TITLES["importance.shap"],
        summary=((f"Across all {subject.n:,} decisions, " if n_explained == subject.n else
                  f"Across the {n_explained:,} of {subject.n:,} decisions explained (a seeded sample that fitted the "
                  "explainer's time budget), ")
                 + f"the details that move the model's score most are {top3}. "
                 + ("Each decision is split exactly into the part each detail contributed." if result.exact else
                    "Each decision is split into the part each detail contributed, by an approximate method.")),
        metrics={"method": result.method, "output_space": result.output_space, "max_additivity_error": clean_number(error),
                 "n_rows": subject.n, "n_explained": n_explained, "top_feature": records[0]["feature"] if records else None,
                 "n_features": len(result.feature_names), "precision": result.precision},
        missing=missing,
        tables=[Table.from_records(f"Features ranked by mean absolute contribution ({unit})", records,
                                   note="Encoded columns (one-hot) are summed back into the original column; "
                                        "the direction is the correlation of a value with its contribution "
                                        "(numbers) or the categories with the highest and lowest mean contribution.")],
        charts=[Chart(id="importance-shap", title="Mean |SHAP| per feature (top 15)", kind="barh", labels=top,
                      values=[float(mean_abs[result.feature_names.index(f)]) for f in top],
                      xlabel=f"mean |contribution| ({unit})")],
        method=(f"{result.method} on every decision; contributions of the model's encoded columns were summed "
                f"back into the {len(result.feature_names)} original columns (an exact fold). The model's own output "
                f"({result.output_space}) was computed separately for every row to check that contributions plus the "
                f"base value ({result.base_value:.4f}) add up to it (largest gap: {error:.1e})." if error is not None
                else result.method),
        limits=[
            "SHAP shares out the model's output among its inputs; it describes the model, not causes in the world.",
            "Correlated features (for example marital status and relationship) can share credit in ways that "
            "depend on the explainer; a low importance does not prove a feature is unused.",
            "Global importance is an average over everyone; it can hide a feature that matters a lot to a few people.",
            *([f"Contributions are in {unit}: a change of 1 is not a change of 1 percentage point in the score."]
              if result.output_space == "log-odds" else []),
            *result.notes,
        ],
        params={"seed": ctx.seed, "rows": subject.n, "chunk_rows": result.chunk_rows, "chunks": result.n_chunks,
                "executor": result.executor, "encoded_columns": result.encoded_features},
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- permutation


class _Fitted:
    """The model as a fitted estimator for scikit-learn's permutation_importance (which only checks for ``fit``)."""

    def __init__(self, model: ModelAdapter) -> None:
        self.model = model

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> _Fitted:  # never called: the model is already trained
        return self


def _permutation_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    title = _TITLES["importance.permutation"]
    model = subject.model
    if model is None:  # run() returns before this without a model
        return Evidence.not_assessed("importance.permutation", CHECK, title, NO_MODEL)
    if subject.y is None:
        return Evidence.not_assessed("importance.permutation", CHECK, title, NO_LABELS)
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import accuracy_score, roc_auc_score

    started = time.perf_counter()
    rng = ctx.rng(101)
    rows = np.sort(rng.choice(subject.n, size=min(PERMUTATION_ROWS, subject.n), replace=False))
    X, y = subject.X.iloc[rows], subject.y[rows]
    use_auc = 0 < y.sum() < len(y)
    scoring = "roc_auc" if use_auc else "accuracy"

    def score(estimator: _Fitted, data: pd.DataFrame, labels: np.ndarray) -> float:
        p = estimator.model.predict_score(data)
        return float(roc_auc_score(labels, p)) if use_auc else float(accuracy_score(labels, estimator.model.decide(p)))

    seed = int(ctx.rng(102).integers(0, 2**31 - 1))
    result = permutation_importance(_Fitted(model), X, y, scoring=score, n_repeats=PERMUTATION_REPEATS,
                                    random_state=seed, n_jobs=1)
    baseline = score(_Fitted(model), X, y)
    order = np.argsort(-result.importances_mean, kind="stable")
    names = list(X.columns)
    records = [{"rank": i + 1, "feature": str(names[j]), "mean drop": float(result.importances_mean[j]),
                "std": float(result.importances_std[j]),
                "min": float(result.importances[j].min()), "max": float(result.importances[j].max())}
               for i, j in enumerate(order)]
    top = order[:TOP_CHART]
    shown = "ROC AUC" if use_auc else "accuracy"
    return Evidence(
        id="importance.permutation", check=CHECK, title=title,
        summary=(f"Scrambling {records[0]['feature']} hurts the model's accuracy most ({shown} falls by "
                 f"{records[0]['mean drop']:.3f}); features whose scrambling changes nothing add little to accuracy."),
        metrics={"n_repeats": PERMUTATION_REPEATS, "n_rows": len(rows), "scoring": scoring,
                 "baseline_score": clean_number(baseline), "top_feature": str(records[0]["feature"])},
        tables=[Table.from_records(f"Drop in {scoring} when a feature is shuffled ({PERMUTATION_REPEATS} repeats)", records)],
        charts=[Chart(id="importance-permutation", title=f"Permutation importance (drop in {scoring}, mean \u00b1 std)",
                      kind="barh", labels=[str(names[j]) for j in top],
                      values=[float(result.importances_mean[j]) for j in top],
                      ci_low=[float(result.importances_mean[j] - result.importances_std[j]) for j in top],
                      ci_high=[float(result.importances_mean[j] + result.importances_std[j]) for j in top],
                      xlabel=f"drop in {scoring}", reference=0.0)],
        method=(f"scikit-learn permutation_importance on the user's columns: each column of a seeded sample of "
                f"{len(rows):,} rows is shuffled {PERMUTATION_REPEATS} times and the model re-scored against the "
                f"true labels ({scoring}; {'the model scores' if use_auc else 'the model decisions'} vs labels)."),
        limits=["Shuffling a feature creates combinations that do not occur in real data (e.g. a 20-year-old retiree).",
                "Correlated features cover for each other: each can look unimportant when shuffled alone.",
                "Measures importance for accuracy against the recorded labels, which may themselves be biased."],
        params={"seed": seed, "rows": len(rows), "n_repeats": PERMUTATION_REPEATS, "sample_seed": ctx.seed},
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- surrogate


def _surrogate_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    from audit.explain.surrogate import fit_surrogate

    tabular = subject.tabular_columns
    if not tabular:
        return Evidence.not_assessed("importance.surrogate", CHECK, _TITLES["importance.surrogate"], TEXT_ONLY)
    started = time.perf_counter()
    seed = int(ctx.rng(201).integers(0, 2**31 - 1))
    fitted = fit_surrogate(X=subject.X[tabular], decision=subject.predictions.decision, max_depth=SURROGATE_DEPTH,
                           seed=seed)
    columns = ["rule", "rows", "support", "model_positive_rate", "share_of_model_positives"]
    return Evidence(
        id="importance.surrogate", check=CHECK, title=_TITLES["importance.surrogate"],
        summary=(f"A simple set of {len(fitted.rules)} if-then rules reproduces the model's decision for "
                 f"{fitted.fidelity:.0%} of people it was not built on; always giving the most common decision "
                 f"would match {fitted.baseline_agreement:.0%}."),
        metrics={"fidelity": clean_number(fitted.fidelity), "depth": fitted.depth, "n_rules": len(fitted.rules),
                 "baseline_agreement": clean_number(fitted.baseline_agreement), "n_test": fitted.n_test},
        tables=[Table.from_records("Rules of the surrogate tree (largest first)", fitted.rules, columns=columns,
                                   note="support: share of all rows the rule covers; model_positive_rate: share of "
                                        "those rows the model decided positively; share_of_model_positives: the rule's "
                                        "part of all the model's positive decisions.")],
        method=(f"A decision tree of depth at most {SURROGATE_DEPTH} (scikit-learn, one-hot encoding inside, "
                f"leaves of at least 0.5 % of training rows) trained on {fitted.n_train:,} rows to predict the model's "
                f"own decisions; fidelity = agreement with the model on {fitted.n_test:,} held-out rows (seeded split)."),
        limits=[*([f"Free-text columns ({', '.join(subject.text_columns)}) are left out: a rule on a whole text "
                   "says nothing; their tokens are in local.tokens."] if subject.text_columns else []),
                "The rules approximate the model; where they disagree with it, the model decides.",
                "A tree this small cannot show interactions deeper than four conditions.",
                "Fidelity is measured on the audited data only."],
        params={"seed": seed, "max_depth": SURROGATE_DEPTH, "test_size": 0.3},
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- partial dependence


def _pdp_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    from audit.explain.dependence import partial_dependence

    started = time.perf_counter()
    result = ctx.shap
    names = subject.tabular_columns  # a text column has no values to step through
    if not names:
        return Evidence.not_assessed("importance.pdp", CHECK, _TITLES["importance.pdp"], TEXT_ONLY)
    if result is not None and len(result.values):
        ranking = np.argsort(-np.abs(result.values[explained_rows(result)]).mean(axis=0), kind="stable")
        features = [result.feature_names[j] for j in ranking if result.feature_names[j] in names][:PDP_FEATURES]
    else:
        features = names[:PDP_FEATURES]
    rows = np.sort(ctx.rng(301).choice(subject.n, size=min(PDP_ROWS, subject.n), replace=False))
    charts, records = [], []
    scale = SCALES.get(subject.model.score_kind if subject.model is not None else "probability", "")
    for feature in features:
        kind = subject.feature_types.get(feature, "numeric")
        dep = partial_dependence(model=subject.model, X=subject.X, feature=feature, kind=kind, rows=rows)
        low, high = int(np.argmin(dep.average)), int(np.argmax(dep.average))
        records.append({"feature": feature, "type": kind, "lowest average score": dep.average[low], "lowest at": _shown(dep.grid[low]),
                        "highest average score": dep.average[high], "highest at": _shown(dep.grid[high]),
                        "range": dep.average[high] - dep.average[low]})
        ylabel = f"average score ({scale})"
        if kind == "categorical":
            charts.append(Chart(id=f"pdp-{feature}", title=f"Average score by {feature}", kind="bar",
                                labels=[str(g) for g in dep.grid], values=list(dep.average), xlabel=feature, ylabel=ylabel))
        else:
            charts.append(Chart(id=f"pdp-{feature}", title=f"Average score as {feature} varies", kind="line",
                                x=[float(g) for g in dep.grid], values=list(dep.average), xlabel=feature, ylabel=ylabel))
    biggest = max(records, key=lambda r: r["range"]) if records else None
    return Evidence(
        id="importance.pdp", check=CHECK, title=_TITLES["importance.pdp"],
        summary=(f"Changing {biggest['feature']} alone moves the average score by up to {biggest['range']:.2f} "
                 f"({scale}), other details unchanged." if biggest else "No feature to show."),
        metrics={"features": ", ".join(features), "n_rows": len(rows), "max_range": clean_number(biggest["range"]) if biggest else None},
        tables=[Table.from_records("Range of the average score over each feature's values", records)],
        charts=charts,
        method=(f"Partial dependence by hand on a seeded sample of {len(rows):,} rows: every sampled row is given "
                "each value of the feature (numbers: up to 20 values between the 5th and 95th percentile; "
                "categories: the 15 most common labels) and the model's scores are averaged."),
        limits=["Setting one feature while keeping the others creates unrealistic combinations when features are related.",
                "An average curve can hide opposite effects for different groups of people."],
        params={"seed": ctx.seed, "rows": len(rows), "features": features},
        seconds=time.perf_counter() - started,
    )


#: The scale of a model's score, by ``ModelAdapter.score_kind``, for charts and sentences.
SCALES = {"probability": "on a 0 to 1 scale", "lead": "lead of the positive classes, -1 to 1",
          "score": "on the model's own scale"}


def _shown(value: object) -> str:
    """A grid value as text: numbers compactly (48, not 48.0), labels as they are."""
    return f"{value:g}" if isinstance(value, float) else str(value)
