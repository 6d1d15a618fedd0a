"""Global importance and the SHAP engine, checked against independent computations.

Independent means: the model's own raw output (decision_function, LightGBM raw_score),
closed forms (coef x (x - mean)), the libraries' own explainers called directly, and a
fold written here from the encoder's column names, never our earlier output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.explain import ProcessExecutor, explain, fold_map, plan_explanation, row_chunks
from audit.explain.folding import FoldingError, fold_values
from audit.explain.shap_values import explain_chunk, import_shap


def fold_by_name(values: np.ndarray, encoded: list[str], columns: list[str]) -> np.ndarray:
    """Sum encoded columns into user columns by name: 'col' or 'col_<category>' (longest matching column wins)."""
    out = np.zeros((len(values), len(columns)))
    for j, name in enumerate(encoded):
        owners = [i for i, c in enumerate(columns) if name == c or name.startswith(f"{c}_")]
        owner = max(owners, key=lambda i: len(columns[i]))
        out[:, owner] += values[:, j]
    return out


def adapter_for(pipeline, X: pd.DataFrame, positive):
    from audit.models import SklearnAdapter

    return SklearnAdapter(pipeline, path=Path("test-model"), fmt="skops", positive_class=positive, data_columns=list(X.columns))


def german_pipeline(subject, final, *, scale: bool = False):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = subject.X
    categorical = [c for c, t in subject.feature_types.items() if t == "categorical"]
    numeric = [c for c in X.columns if c not in categorical]
    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False, drop="first"), categorical),
                                ("num", StandardScaler() if scale else "passthrough", numeric)],
                               verbose_feature_names_out=False)
    labels = np.where(subject.y, "good", "bad")
    return Pipeline([("encode", encode), ("model", final)]).fit(X, labels)


# --------------------------------------------------------------------------- trees


def test_german_tree_shap_adds_up_to_the_models_own_log_odds(german_subject):
    result = explain(model=german_subject.model, X=german_subject.X, seed=1)
    pipeline = german_subject.model.estimator
    margin = pipeline.decision_function(german_subject.X)  # log-odds of 'good', the positive class
    assert result.output_space == "log-odds"
    assert np.abs(result.values.sum(axis=1) + result.base_value - margin).max() < 1e-6


def test_german_fold_is_exact_and_in_the_original_columns(german_subject):
    result = explain(model=german_subject.model, X=german_subject.X, seed=1)
    assert result.feature_names == list(german_subject.X.columns)
    assert len(result.feature_names) == 20
    pipeline = german_subject.model.estimator
    Z = pipeline[:-1].transform(german_subject.X)
    raw = np.asarray(import_shap().TreeExplainer(pipeline[-1]).shap_values(Z))  # shap called directly
    assert np.abs(result.values.sum(axis=1) - raw.sum(axis=1)).max() < 1e-9
    encoded = list(pipeline[:-1].get_feature_names_out())
    expected = fold_by_name(raw, encoded, list(german_subject.X.columns))
    assert np.abs(result.values - expected).max() < 1e-9


def test_lightgbm_shortcut_equals_lightgbm_native_treeshap(german_subject):
    from lightgbm import LGBMClassifier

    model = LGBMClassifier(n_estimators=40, num_leaves=15, min_child_samples=5, random_state=3, n_jobs=1, verbose=-1)
    pipeline = german_pipeline(german_subject, model)
    adapter = adapter_for(pipeline, german_subject.X, "good")
    result = explain(model=adapter, X=german_subject.X, seed=1)
    assert result.method == "TreeSHAP (LightGBM native)"
    Z = pipeline[:-1].transform(german_subject.X)
    native = model.booster_.predict(Z, pred_contrib=True)
    expected = fold_by_name(native[:, :-1], list(pipeline[:-1].get_feature_names_out()), list(german_subject.X.columns))
    assert np.abs(result.values - expected).max() < 1e-9
    assert abs(result.base_value - native[0, -1]) < 1e-9
    raw = model.booster_.predict(Z, raw_score=True)
    assert np.abs(result.values.sum(axis=1) + result.base_value - raw).max() < 1e-6


def test_native_booster_files_with_categories_are_explained_on_the_users_columns(german_subject, tmp_path):
    import lightgbm as lgb
    import xgboost as xgb

    from audit.models.boosters import LightGBMAdapter, XGBoostAdapter

    X = german_subject.X.copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    y = german_subject.y.astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5, "seed": 1, "num_threads": 1}
    lgb.train(params, lgb.Dataset(X, y), num_boost_round=20).save_model(tmp_path / "m.txt")
    xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 1, "nthread": 1},
              xgb.DMatrix(X, y, enable_categorical=True), num_boost_round=20).save_model(tmp_path / "m.json")
    for adapter, raw, tolerance in [
        (LightGBMAdapter(tmp_path / "m.txt"), lambda a: a.estimator.predict(X, raw_score=True), 1e-9),
        (XGBoostAdapter(tmp_path / "m.json"),  # XGBoost computes contributions in float32
         lambda a: a.estimator.predict(xgb.DMatrix(X, enable_categorical=True), output_margin=True), 1e-5),
    ]:
        result = explain(model=adapter, X=german_subject.X, seed=1)
        assert result.feature_names == list(german_subject.X.columns)
        assert np.abs(result.values.sum(axis=1) + result.base_value - raw(adapter)).max() < tolerance
        chunked = explain(model=adapter, X=german_subject.X, seed=1, chunk_rows=7)  # chunks see fewer categories
        assert np.array_equal(chunked.values, result.values)


@pytest.mark.slow
def test_adult_every_row_adds_up_to_lightgbm_raw_score(adult_subject):
    result = explain(model=adult_subject.model, X=adult_subject.X, seed=adult_subject.spec.seed)
    pipeline = adult_subject.model.estimator
    Z = pipeline[:-1].transform(adult_subject.X)
    raw = pipeline[-1].booster_.predict(Z, raw_score=True)  # the model's own margin, all 48,842 rows
    assert len(result.values) == 48_842
    assert np.abs(result.values.sum(axis=1) + result.base_value - raw).max() < 1e-6
    sample = np.random.default_rng(0).choice(len(Z), size=1_500, replace=False)
    native = pipeline[-1].booster_.predict(Z[sample], pred_contrib=True)
    expected = fold_by_name(native[:, :-1], list(pipeline[:-1].get_feature_names_out()), list(adult_subject.X.columns))
    assert np.abs(result.values[sample] - expected).max() < 1e-9


# --------------------------------------------------------------------------- linear


@pytest.mark.parametrize("positive", ["good", "bad"])
def test_linear_shap_is_coef_times_distance_from_the_mean(german_subject, positive):
    from sklearn.linear_model import LogisticRegression

    pipeline = german_pipeline(german_subject, LogisticRegression(max_iter=2_000), scale=True)
    adapter = adapter_for(pipeline, german_subject.X, positive)
    result = explain(model=adapter, X=german_subject.X, seed=1)
    Z = pipeline[:-1].transform(german_subject.X)
    closed = pipeline[-1].coef_[0] * (Z - Z.mean(axis=0))  # log-odds of classes_[1] = 'good'
    sign = 1.0 if positive == "good" else -1.0
    expected = sign * fold_by_name(closed, list(pipeline[:-1].get_feature_names_out()), list(german_subject.X.columns))
    assert result.output_space == "log-odds"
    assert np.abs(result.values - expected).max() < 1e-10
    margin = sign * pipeline.decision_function(german_subject.X)
    assert np.abs(result.values.sum(axis=1) + result.base_value - margin).max() < 1e-9


# --------------------------------------------------------------------------- neural and model-agnostic


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_is_explained_by_deepshap_and_adds_up_to_sklearns_own_logit(german_subject):
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(16, 8), alpha=1.0, max_iter=300, random_state=0)
    pipeline = german_pipeline(german_subject, mlp, scale=True)
    result = explain(model=adapter_for(pipeline, german_subject.X, "good"), X=german_subject.X, seed=1)
    assert result.method.startswith("DeepSHAP") and result.feature_names == list(german_subject.X.columns)
    p = pipeline.predict_proba(german_subject.X)[:, 1]
    ok = (p > 1e-6) & (p < 1 - 1e-6)
    logit = np.log(p[ok] / (1 - p[ok]))  # sklearn's own output, independent of the torch copy
    assert ok.mean() > 0.9
    assert np.abs(result.values.sum(axis=1)[ok] + result.base_value - logit).max() < 1e-6


def test_other_models_get_kernel_shap_on_the_users_columns(german_subject):
    from sklearn.neighbors import KNeighborsClassifier

    pipeline = german_pipeline(german_subject, KNeighborsClassifier(n_neighbors=15), scale=True)
    adapter = adapter_for(pipeline, german_subject.X, "good")
    X = german_subject.X.iloc[:16]
    result = explain(model=adapter, X=X, seed=1)
    again = explain(model=adapter, X=X, seed=1)
    assert result.method.startswith("KernelSHAP") and result.output_space == "probability"
    assert result.feature_names == list(german_subject.X.columns)
    assert np.abs(result.values.sum(axis=1) + result.base_value - pipeline.predict_proba(X)[:, 1]).max() < 1e-6
    assert np.array_equal(result.values, again.values)  # seeded


# --------------------------------------------------------------------------- folding


def test_fold_map_follows_the_encoders_names_with_scaler_drop_and_rare_categories():
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"colour": rng.choice(["red", "green", "blue", "rare"], p=[0.4, 0.3, 0.29, 0.01], size=400),
                      "size": rng.normal(size=400), "colour_code": rng.choice(["a", "b"], size=400)})
    pre = Pipeline([("ct", ColumnTransformer([("num", StandardScaler(), ["size"]),
                                               ("cat", OneHotEncoder(drop="first", min_frequency=10), ["colour", "colour_code"])],
                                              verbose_feature_names_out=False))]).fit(X)
    mapping = fold_map(pre, n_inputs=3)
    encoded = list(pre.get_feature_names_out())
    assert len(mapping) == len(encoded)
    for j, name in enumerate(encoded):
        assert name == X.columns[mapping[j]] or name.startswith(f"{X.columns[mapping[j]]}_")
        assert not (mapping[j] == 0 and name.startswith("colour_code"))
    values = rng.normal(size=(5, len(encoded)))
    folded = fold_values(values, mapping, n_features=3)
    assert np.abs(folded.sum(axis=1) - values.sum(axis=1)).max() < 1e-12


def test_fold_refuses_steps_that_mix_columns():
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2).fit(np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(FoldingError):
        fold_map(pca, n_inputs=3)


# --------------------------------------------------------------------------- executors


def test_process_pool_and_dask_cluster_give_the_same_matrix_as_in_process(german_subject):
    from distributed import LocalCluster

    plan = plan_explanation(model=german_subject.model, X=german_subject.X, seed=1)
    local = explain(model=german_subject.model, X=german_subject.X, seed=1, plan=plan, chunk_rows=100)
    assert local.executor == "in-process" and local.n_chunks == 5
    items = [(c.start, german_subject.X.iloc[c]) for c in row_chunks(german_subject.n, size=100)]
    pooled = ProcessExecutor(workers=2).map(explain_chunk, plan, items)
    assert np.array_equal(np.concatenate([p[0] for p in pooled]), local.values)
    seen = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = explain(model=german_subject.model, X=german_subject.X, seed=1, plan=plan, chunk_rows=100,
                         scheduler=cluster.scheduler_address, progress=lambda task, done, total: seen.append(done))
    assert remote.executor.startswith("dask")
    assert np.array_equal(remote.values, local.values)
    assert np.array_equal(remote.margin, local.margin)
    assert sorted(seen) == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- the check


def test_importance_check_on_german_credit(german_subject, make_ctx):
    from audit.checks import importance
    from audit.explain.dependence import partial_dependence

    ctx = make_ctx(german_subject)
    evidence = {e.id: e for e in importance.run(german_subject, ctx)}
    assert set(evidence) == {"importance.shap", "importance.permutation", "importance.surrogate", "importance.pdp"}
    columns = set(german_subject.X.columns)

    shap_ev = evidence["importance.shap"]
    assert shap_ev.metrics["max_additivity_error"] < 1e-6
    assert shap_ev.metrics["n_rows"] == 500 and shap_ev.metrics["output_space"] == "log-odds"
    assert "TreeSHAP" in shap_ev.metrics["method"]
    table = shap_ev.tables[0].records()
    assert {r["feature"] for r in table} == columns
    shared = ctx.shap
    assert shared.values.shape == (500, 20) and shared.feature_names == list(german_subject.X.columns)
    assert shap_ev.metrics["top_feature"] == shared.feature_names[int(np.abs(shared.values).mean(axis=0).argmax())]
    assert shap_ev.charts[0].kind == "barh" and len(shap_ev.charts[0].labels) == 15

    perm = evidence["importance.permutation"]
    assert perm.metrics["n_repeats"] == 5 and perm.metrics["n_rows"] == 500 and perm.metrics["scoring"] == "roc_auc"
    assert all(r["std"] >= 0 and r["min"] <= r["mean drop"] <= r["max"] for r in perm.tables[0].records())

    surrogate = evidence["importance.surrogate"]
    assert 0.5 <= surrogate.metrics["fidelity"] <= 1 and surrogate.metrics["depth"] <= 4
    rules = surrogate.tables[0].records()
    assert len(rules) == surrogate.metrics["n_rules"]
    assert sum(r["rows"] for r in rules) == 500  # every row falls in exactly one rule
    assert abs(sum(r["share_of_model_positives"] for r in rules) - 1) < 1e-9
    encoded = set(german_subject.model.estimator[:-1].get_feature_names_out()) - columns
    assert not any(name in r["rule"] for r in rules for name in encoded)

    pdp = evidence["importance.pdp"]
    assert len(pdp.charts) == 3
    for chart, feature in zip(pdp.charts, pdp.params["features"], strict=True):
        assert chart.kind == ("bar" if german_subject.feature_types[feature] == "categorical" else "line")
    # Partial dependence by hand for two values of duration_months on 50 rows.
    rows = np.arange(50)
    dep = partial_dependence(model=german_subject.model, X=german_subject.X, feature="duration_months", kind="numeric", rows=rows)
    for value, average in list(zip(dep.grid, dep.average, strict=True))[:2]:
        X = german_subject.X.iloc[rows].copy()
        X["duration_months"] = int(value)
        assert abs(german_subject.model.predict_score(X).mean() - average) < 1e-12


def test_not_assessed_without_model_or_labels(german_subject, make_ctx):
    from audit.checks import importance

    no_model = dataclasses.replace(german_subject, model=None)
    evidence = importance.run(no_model, make_ctx(no_model))
    assert [e.status.value for e in evidence] == ["not_assessed"] * 4
    assert all(e.reason == "no model access" for e in evidence)
    no_labels = dataclasses.replace(german_subject, y=None)
    perm = importance._permutation_evidence(no_labels, make_ctx(no_labels))
    assert perm.status.value == "not_assessed" and "label" in perm.reason
