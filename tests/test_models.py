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
    subject = load_subject(load_spec(_spec_file(tmp_path, _data_file(tmp_path), {"path": "model.json", "format": "xgboost", "positive_class": 1})))
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(subject.predictions.score, expected, rtol=0, atol=1e-7)
    assert np.array_equal(subject.predictions.decision, expected > 0.5)
    assert subject.model.kind == "tree"


def test_lightgbm_native_file(tmp_path: Path) -> None:
    import lightgbm as lgb

    X, y = _numeric_german()
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0}, lgb.Dataset(X, label=y), 20)
    booster.save_model(str(tmp_path / "model.txt"))
    subject = load_subject(load_spec(_spec_file(tmp_path, _data_file(tmp_path), {"path": "model.txt", "format": "lightgbm", "positive_class": 1})))
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
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": "model.skops", "format": "skops", "positive_class": True})
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


# --------------------------------------------------------------------------- the model's positive class (issue 9)
# Credit models usually predict default: class 1 = "bad". The audit's favourable outcome is "good", so the
# positive decision is the model's class 0, and the adapter must say so from model.positive_class, never guess.


def _default_model_data() -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric German credit features and the label a credit model predicts: 1 = default ("bad")."""
    X, good = _numeric_german()
    return X, (~good).astype(int)


def _xgb_classifier(X: pd.DataFrame, y: np.ndarray, path: Path):
    import xgboost as xgb

    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    clf.get_booster().save_model(path)
    return clf


def _lgb_classifier(X: pd.DataFrame, y: np.ndarray, path: Path):
    import lightgbm as lgb

    clf = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, random_state=0, n_jobs=1, verbose=-1).fit(X, y)
    clf.booster_.save_model(str(path))
    return clf


def _booster_p1(library: str, clf, X: pd.DataFrame) -> np.ndarray:
    """P(class 1) as the library's own booster computes it, in float64."""
    if library == "xgboost":
        import xgboost as xgb

        return np.asarray(clf.get_booster().predict(xgb.DMatrix(X)), dtype=float)
    return np.asarray(clf.booster_.predict(X), dtype=float)


_BOOSTERS = {"xgboost": (_xgb_classifier, "model.json"), "lightgbm": (_lgb_classifier, "model.txt")}


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("positive_class", [0, 1])
def test_booster_scores_and_decides_for_the_configured_positive_class(tmp_path: Path, library: str, positive_class: int) -> None:
    """positive_class 0: score = 1 - P(1) and the decision is the library's own label 0; 1: P(1) and label 1."""
    X, y = _default_model_data()
    train, filename = _BOOSTERS[library]
    clf = train(X, y, tmp_path / filename)
    spec_path = _spec_file(tmp_path, _data_file(tmp_path),
                           {"path": filename, "format": library, "positive_class": positive_class})
    subject = load_subject(load_spec(spec_path))
    p1 = _booster_p1(library, clf, X)
    expected_score = 1.0 - p1 if positive_class == 0 else p1
    np.testing.assert_allclose(subject.predictions.score, expected_score, rtol=0, atol=1e-12)
    assert np.array_equal(subject.predictions.decision, clf.predict(X) == positive_class)
    assert 0 < subject.predictions.decision.sum() < len(X)  # both decisions occur: the comparison means something
    assert subject.model.classes == [0, 1]
    assert subject.model.positive_class == positive_class


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_booster_positive_class_taken_from_the_positive_label_when_it_is_a_class(tmp_path: Path, library: str) -> None:
    """Target coded 0 = good / 1 = bad with positive_label 0: no model.positive_class needed."""
    X, y = _default_model_data()
    train, filename = _BOOSTERS[library]
    clf = train(X, y, tmp_path / filename)
    data = pd.read_csv(GERMAN / "german_credit.csv")
    data["credit_risk"] = (data["credit_risk"] == "bad").astype(int)
    data_path = tmp_path / "coded.csv"
    data.to_csv(data_path, index=False)
    spec_path = _spec_file(tmp_path, data_path, {"path": filename, "format": library}, positive_label=0)
    subject = load_subject(load_spec(spec_path))
    assert subject.model.positive_class == 0
    np.testing.assert_allclose(subject.predictions.score, 1.0 - _booster_p1(library, clf, X), rtol=0, atol=1e-12)
    assert np.array_equal(subject.predictions.decision, clf.predict(X) == 0)
    assert np.array_equal(subject.y, (data["credit_risk"] == 0).to_numpy())


@pytest.mark.parametrize("value", ["0", False])
def test_positive_class_compared_as_text(tmp_path: Path, value: object) -> None:
    """YAML "0" and false both name the class 0 of a booster."""
    X, y = _default_model_data()
    clf = _xgb_classifier(X, y, tmp_path / "model.json")
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": "model.json", "format": "xgboost", "positive_class": value})
    subject = load_subject(load_spec(spec_path))
    assert subject.model.positive_class == 0
    assert np.array_equal(subject.predictions.decision, clf.predict(X) == 0)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "skops"])
def test_positive_class_that_is_not_a_class_is_refused(tmp_path: Path, library: str) -> None:
    from audit.errors import POSITIVE_CLASS_NOT_A_CLASS

    X, y = _default_model_data()
    if library == "skops":
        import skops.io as sio
        from sklearn.linear_model import LogisticRegression

        filename = "model.skops"
        sio.dump(LogisticRegression(max_iter=1_000).fit(X, y), tmp_path / filename)
    else:
        train, filename = _BOOSTERS[library]
        train(X, y, tmp_path / filename)
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": filename, "format": library, "positive_class": "good"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == POSITIVE_CLASS_NOT_A_CLASS
    assert str(caught.value) == POSITIVE_CLASS_NOT_A_CLASS.format(path=tmp_path / filename, value="good", classes=[0, 1])
    assert "model.positive_class" in str(caught.value) and "'good'" in str(caught.value) and "[0, 1]" in str(caught.value)


def test_sklearn_classes_0_1_with_label_good_and_no_positive_class_is_refused(tmp_path: Path) -> None:
    """Classes [0, 1] and positive_label "good": nothing says which class is good, so no guess (it used to take 1)."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from audit.errors import POSITIVE_CLASS_UNDECIDED

    X, y = _default_model_data()
    sio.dump(LogisticRegression(max_iter=1_000).fit(X, y), tmp_path / "model.skops")
    spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": "model.skops", "format": "skops"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == POSITIVE_CLASS_UNDECIDED
    assert str(caught.value) == POSITIVE_CLASS_UNDECIDED.format(path=tmp_path / "model.skops", label="good", classes=[0, 1])


@pytest.mark.parametrize("positive_class", [0, 1])
def test_sklearn_positive_class_picks_its_probability_column(tmp_path: Path, positive_class: int) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X, y = _default_model_data()
    model = LogisticRegression(max_iter=1_000).fit(X, y)
    sio.dump(model, tmp_path / "model.skops")
    spec_path = _spec_file(tmp_path, _data_file(tmp_path),
                           {"path": "model.skops", "format": "skops", "positive_class": positive_class})
    subject = load_subject(load_spec(spec_path))
    np.testing.assert_allclose(subject.predictions.score, model.predict_proba(X)[:, positive_class], rtol=0, atol=0)
    assert np.array_equal(subject.predictions.decision, model.predict(X) == positive_class)
    assert subject.model.classes == [0, 1] and subject.model.positive_class == positive_class


def test_non_binary_objectives_are_refused(tmp_path: Path) -> None:
    import lightgbm as lgb
    import xgboost as xgb

    from audit.errors import MODEL_NOT_BINARY

    X, _ = _numeric_german()
    housing = pd.read_csv(GERMAN / "german_credit.csv")["housing"]  # own / rent / for free
    y3 = housing.astype("category").cat.codes.to_numpy()
    xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "seed": 0, "nthread": 1},
              xgb.DMatrix(X, label=y3), 5).save_model(tmp_path / "multi.json")
    lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 1},
              lgb.Dataset(X, label=y3), 5).save_model(str(tmp_path / "multi.txt"))
    for filename, library, objective in [("multi.json", "xgboost", "multi:softprob"), ("multi.txt", "lightgbm", "multiclass")]:
        spec_path = _spec_file(tmp_path, _data_file(tmp_path), {"path": filename, "format": library, "positive_class": 1})
        with pytest.raises(AuditInputError) as caught:
            load_subject(load_spec(spec_path))
        assert caught.value.template == MODEL_NOT_BINARY, library
        assert str(tmp_path / filename) in str(caught.value) and objective in str(caught.value)
        assert "only binary classifiers are supported" in str(caught.value)
