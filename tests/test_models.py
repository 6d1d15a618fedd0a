"""Model adapters give the same scores and decisions as the model libraries called directly."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.errors import UNTRUSTED_PICKLE, UNTRUSTED_SKOPS_TYPES, AuditInputError
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "examples" / "german-credit"


def _numeric_german() -> tuple[pd.DataFrame, np.ndarray]:
    data = pd.read_csv(GERMAN / "german_credit.csv")
    X = data[["duration_months", "credit_amount", "installment_rate", "age", "existing_credits", "people_liable"]]
    return X, (data["credit_risk"] == "good").to_numpy()


def _spec_file(tmp_path: Path, data_path: Path, model: dict, **data_extra: object) -> Path:
    spec = {
        "system": {"name": "t", "version": "1", "provider": "p", "intended_purpose": "test", "role": "provider"},
        "model": model,
        "data": {"path": str(data_path), "target": "credit_risk", "positive_label": "good", "protected": ["sex"], **data_extra},
    }
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _data_file(tmp_path: Path) -> Path:
    data = pd.read_csv(GERMAN / "german_credit.csv")
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    return path


def test_sklearn_skops_decisions_equal_model_predict(german_subject) -> None:
    estimator = german_subject.model.estimator
    expected = estimator.predict(german_subject.frame[german_subject.model.feature_names]) == "good"
    assert np.array_equal(german_subject.predictions.decision, expected)
    proba = estimator.predict_proba(german_subject.frame[german_subject.model.feature_names])
    good = list(estimator.classes_).index("good")
    np.testing.assert_allclose(german_subject.predictions.score, proba[:, good], rtol=0, atol=0)


def test_xgboost_native_file(tmp_path: Path) -> None:
    import xgboost as xgb

    X, y = _numeric_german()
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0}, xgb.DMatrix(X, label=y), 20)
    booster.save_model(tmp_path / "model.json")
    subject = load_subject(load_spec(_spec_file(tmp_path, _data_file(tmp_path), {"path": "model.json", "format": "xgboost"})))
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(subject.predictions.score, expected, rtol=0, atol=1e-7)
    assert np.array_equal(subject.predictions.decision, expected > 0.5)
    assert subject.model.kind == "tree"


def test_lightgbm_native_file(tmp_path: Path) -> None:
    import lightgbm as lgb

    X, y = _numeric_german()
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0}, lgb.Dataset(X, label=y), 20)
    booster.save_model(str(tmp_path / "model.txt"))
    subject = load_subject(load_spec(_spec_file(tmp_path, _data_file(tmp_path), {"path": "model.txt", "format": "lightgbm"})))
    expected = booster.predict(X)
    np.testing.assert_allclose(subject.predictions.score, expected, rtol=0, atol=1e-12)
    assert list(subject.X.columns) == list(X.columns)


def test_pickle_needs_trust_then_loads(tmp_path: Path, german_subject) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(german_subject.model.estimator))
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": "model.pkl", "format": "pickle"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == UNTRUSTED_PICKLE
    subject = load_subject(load_spec(spec_path), trust_model=True)
    assert np.array_equal(subject.predictions.decision, german_subject.predictions.decision)


def test_skops_with_custom_type_needs_trust(tmp_path: Path) -> None:
    import operator

    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    X, y = _numeric_german()
    model = make_pipeline(FunctionTransformer(operator.neg), DecisionTreeClassifier(max_depth=2, random_state=0)).fit(X, y)
    sio.dump(model, tmp_path / "model.skops")
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": "model.skops", "format": "skops"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == UNTRUSTED_SKOPS_TYPES
    assert "_operator.neg" in str(caught.value)
    assert "sklearn.tree" not in str(caught.value)  # scikit-learn's own classes are trusted by default
    trusted = load_subject(load_spec(spec_path), trust_model=True)
    assert np.array_equal(trusted.predictions.decision, model.predict(X))


def test_predictions_only_reads_decisions_from_the_data(tmp_path: Path) -> None:
    data = pd.read_csv(GERMAN / "german_credit.csv")
    rng = np.random.default_rng(0)
    data["decision"] = np.where(rng.random(len(data)) < 0.6, "approve", "reject")
    data["score"] = rng.random(len(data))
    path = tmp_path / "decided.csv"
    data.to_csv(path, index=False)
    spec_path = _spec_file(tmp_path, path, {"format": "none"},
                           decision={"column": "decision", "positive_values": ["approve"], "score_column": "score"})
    subject = load_subject(load_spec(spec_path))
    assert subject.model is None and subject.predictions.source == "data"
    assert np.array_equal(subject.predictions.decision, (data["decision"] == "approve").to_numpy())
    assert "decision" not in subject.X.columns and "score" not in subject.X.columns and "sex" not in subject.X.columns


def test_binned_protected_attribute_groups(german_subject) -> None:
    age = german_subject.frame["age"].to_numpy()
    expected = np.where(age < 25, "under 25", "25 and over")
    assert np.array_equal(german_subject.groups["age"].to_numpy(), expected)
