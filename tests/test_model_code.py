"""Models with their own code and odd objects (issue 12, item 1).

- a stock scikit-learn pipeline (SimpleImputer, OneHotEncoder, ColumnTransformer) loads from skops without trust;
- a pipeline whose function lives in the user's ``mytransforms.py`` loads, when trusted, from the spec's folder or
  ``model.python_path``, and a missing module is one line naming it;
- a wrapper whose class name says "Torch" is explained by what it is (a black box), not by its name;
- a model that cannot be pickled to worker processes is explained in-process, with a note.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from audit.errors import MODEL_MODULE_NOT_IMPORTABLE, UNTRUSTED_SKOPS_TYPES, AuditInputError
from audit.explain import InlineExecutor, ProcessExecutor, plan_explanation, row_chunks
from audit.explain.shap_values import explain_chunk
from audit.models import SklearnAdapter, load_model
from audit.models.sklearn import is_trusted_type
from audit.spec import load_spec

MYTRANSFORMS = '''
import numpy as np


def signed_log1p(Z):
    Z = np.asarray(Z, dtype=float)
    return np.sign(Z) * np.log1p(np.abs(Z))
'''


def _frame(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"income": rng.normal(50, 10, n), "debt": rng.normal(5, 2, n),
                      "region": rng.choice(["north", "south", "east"], n)})
    X.loc[::9, "income"] = np.nan
    X.loc[::13, "region"] = np.nan
    y = np.where(X["debt"].to_numpy() + rng.normal(0, 1, n) > 5, "good", "bad")
    return X, y


def _stock_pipeline() -> Pipeline:
    pre = ColumnTransformer([
        ("numbers", SimpleImputer(strategy="median"), ["income", "debt"]),
        ("region", Pipeline([("fill", SimpleImputer(strategy="most_frequent")),
                             ("onehot", OneHotEncoder(handle_unknown="ignore"))]), ["region"]),
    ])
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=1000))])


def _spec(folder: Path, X: pd.DataFrame, y: np.ndarray, model: dict) -> Path:
    data = X.assign(outcome=y, sex=np.where(np.arange(len(X)) % 2, "f", "m"))
    data.to_csv(folder / "data.csv", index=False)
    spec = {
        "system": {"name": "t", "version": "1", "provider": "p", "intended_purpose": "test", "role": "provider"},
        "model": {"positive_class": "good", **model},
        "data": {"path": "data.csv", "target": "outcome", "positive_label": "good", "protected": ["sex"]},
    }
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture()
def no_mytransforms():
    """``mytransforms`` is not imported before the test, nor left imported after it."""
    sys.modules.pop("mytransforms", None)
    yield
    sys.modules.pop("mytransforms", None)


# --------------------------------------------------------------------------- (a) a stock pipeline needs no trust


def test_stock_pipeline_loads_from_skops_without_trust(tmp_path: Path) -> None:
    X, y = _frame()
    pipeline = _stock_pipeline().fit(X, y)
    sio.dump(pipeline, tmp_path / "model.skops")
    assert "numpy.dtype" in sio.get_untrusted_types(file=tmp_path / "model.skops")  # what skops 0.16 reports
    model = load_model(load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops"})),
                       data_columns=list(X.columns))
    assert model is not None
    np.testing.assert_array_equal(model.estimator.predict_proba(X), pipeline.predict_proba(X))
    np.testing.assert_array_equal(model.predict_score(X), pipeline.predict_proba(X)[:, 1])


def test_numpy_dtype_classes_are_trusted_and_functions_are_not() -> None:
    assert is_trusted_type("numpy.dtype") and is_trusted_type("numpy.dtypes.Float64DType")
    assert is_trusted_type("numpy.dtypes.ObjectDType")
    assert not is_trusted_type("numpy.dtypes.NoSuchDType")
    assert not is_trusted_type("numpy.load") and not is_trusted_type("sklearn.utils.estimator_html_repr")


# --------------------------------------------------------------------------- (b) the user's own module


def _custom_model(tmp_path: Path, module_folder: Path) -> tuple[pd.DataFrame, np.ndarray, Pipeline]:
    """A pipeline with a FunctionTransformer from ``mytransforms`` (written into ``module_folder``), dumped with skops."""
    module_folder.mkdir(parents=True, exist_ok=True)
    (module_folder / "mytransforms.py").write_text(MYTRANSFORMS)
    X, y = _frame()
    X = X[["income", "debt"]].fillna(0.0)
    sys.path.insert(0, str(module_folder))
    try:
        import mytransforms  # type: ignore[import-not-found]

        pipeline = Pipeline([("log", FunctionTransformer(mytransforms.signed_log1p)),
                             ("model", LogisticRegression())]).fit(X, y)
        sio.dump(pipeline, tmp_path / "model.skops")
    finally:
        sys.path.remove(str(module_folder))
        sys.modules.pop("mytransforms", None)
    return X, y, pipeline


def test_custom_module_is_refused_without_trust(tmp_path: Path, no_mytransforms) -> None:
    X, y, _ = _custom_model(tmp_path, tmp_path)
    spec = load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops"}))
    with pytest.raises(AuditInputError) as caught:
        load_model(spec, data_columns=list(X.columns))
    assert caught.value.template == UNTRUSTED_SKOPS_TYPES and "mytransforms.signed_log1p" in str(caught.value)
    assert "mytransforms" not in sys.modules


def test_custom_module_beside_the_spec_loads_when_trusted(tmp_path: Path, no_mytransforms) -> None:
    X, y, pipeline = _custom_model(tmp_path, tmp_path)
    spec = load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops", "trust": True}))
    saved = list(sys.path)
    model = load_model(spec, data_columns=list(X.columns))
    assert sys.path == saved  # restored
    assert model is not None
    np.testing.assert_array_equal(model.predict_score(X), pipeline.predict_proba(X)[:, 1])


def test_custom_module_from_python_path_loads_with_trust_model(tmp_path: Path, no_mytransforms) -> None:
    X, y, pipeline = _custom_model(tmp_path, tmp_path / "lib")
    spec = load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops", "python_path": ["lib"]}))
    model = load_model(spec, data_columns=list(X.columns), trust=True)  # --trust-model
    assert model is not None
    np.testing.assert_array_equal(model.predict_score(X), pipeline.predict_proba(X)[:, 1])


def test_missing_custom_module_is_one_line(tmp_path: Path, no_mytransforms) -> None:
    X, y, _ = _custom_model(tmp_path, tmp_path / "elsewhere")  # not beside the spec, not in python_path
    spec = load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops", "trust": True}))
    with pytest.raises(AuditInputError) as caught:
        load_model(spec, data_columns=list(X.columns))
    assert caught.value.template == MODEL_MODULE_NOT_IMPORTABLE
    assert str(caught.value) == (
        f"{tmp_path / 'model.skops'}: the model needs module 'mytransforms', which is not importable; put "
        "mytransforms.py beside audit.yaml or list its folder in model.python_path"
    )


# --------------------------------------------------------------------------- (c) a name is not a type


class TorchLikeWrapper:
    """A scikit-learn-style classifier with "Torch" in its name and module, and no torch inside."""

    def __init__(self, inner: LogisticRegression) -> None:
        self.inner = inner
        self.classes_ = inner.classes_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.inner.predict_proba(np.asarray(X, dtype=float))


TorchLikeWrapper.__module__ = "torchlike.wrappers"  # a module name that starts like torch's, as a user's might


def test_a_wrapper_named_torch_is_explained_as_a_black_box() -> None:
    X, y = _frame(120)
    X = X[["income", "debt"]].fillna(0.0)
    wrapper = TorchLikeWrapper(LogisticRegression().fit(X.to_numpy(), y))
    model = SklearnAdapter(wrapper, path=Path("wrapper.pkl"), fmt="pickle", positive_class="good",
                           data_columns=list(X.columns))
    assert model.kind == "other"
    plan = plan_explanation(model=model, X=X, seed=0, kernel_budget=2.0)
    assert plan.explainer == "kernel" and plan.estimator is not None


# --------------------------------------------------------------------------- (d) unpicklable models run in-process


def test_unpicklable_model_runs_in_process_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _frame(200)
    X = X[["income", "debt"]].fillna(0.0)
    estimator = LogisticRegression().fit(X, y)
    estimator.lock_ = threading.Lock()  # cannot be pickled (cloudpickle neither)
    model = SklearnAdapter(estimator, path=Path("model.pkl"), fmt="pickle", positive_class="good",
                           data_columns=list(X.columns))
    plan = plan_explanation(model=model, X=X, seed=0)
    assert plan.explainer == "linear"
    items = [(c.start, X.iloc[c]) for c in row_chunks(len(X), size=50)]
    executor = ProcessExecutor(workers=2)
    pooled = executor.map(explain_chunk, plan, items)
    assert executor.note.startswith("ran in-process: the model cannot be sent to worker processes (")
    assert "lock" in executor.note and "\n" not in executor.note
    assert executor.name.startswith("in-process")
    inline = InlineExecutor().map(explain_chunk, plan, items)
    for got, want in zip(pooled, inline, strict=True):
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1] == want[1]
        np.testing.assert_array_equal(got[2], want[2])
    # Through explain() the note reaches the result (and so the report's limits of importance.shap); 200 rows
    # are too few to start processes for by default, so the threshold is lowered for this call.
    from audit.explain import shap_values

    monkeypatch.setitem(shap_values._MIN_ROWS_FOR_PROCESSES, "linear", 1)
    result = shap_values.explain(model=model, X=X, seed=0, plan=plan, chunk_rows=50, workers=2)
    assert result.executor.startswith("in-process") and executor.note in result.notes


def test_model_whose_module_workers_cannot_import_runs_in_process_with_a_note(tmp_path: Path, no_mytransforms) -> None:
    X, y, _ = _custom_model(tmp_path, tmp_path)
    spec = load_spec(_spec(tmp_path, X, y, {"path": "model.skops", "format": "skops", "trust": True}))
    model = load_model(spec, data_columns=list(X.columns))
    plan = plan_explanation(model=model, X=X, seed=0)
    items = [(c.start, X.iloc[c]) for c in row_chunks(len(X), size=100)]
    executor = ProcessExecutor(workers=2)
    pooled = executor.map(explain_chunk, plan, items)  # the workers' sys.path lacks tmp_path
    assert executor.note == ("ran in-process: the model cannot be sent to worker processes (a worker could not load "
                             "it: ModuleNotFoundError: No module named 'mytransforms')")
    inline = InlineExecutor().map(explain_chunk, plan, items)
    for got, want in zip(pooled, inline, strict=True):
        np.testing.assert_array_equal(got[0], want[0])
