"""Flip test and recourse, checked against independent computation.

Every reported counterfactual is rebuilt from the *text* written to the
decisions (original row + the reported changes) and re-predicted with the
estimator's own ``predict``; the flip test is recomputed by hand for one pair,
and run on models that do and do not use the protected attribute.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "examples" / "adult-hiring" / "adult.parquet"
ARROW = " → "


# ------------------------------------------------------------------ helpers (independent of the package)


def parse_recourse(text: str, columns: list[str]) -> dict[str, tuple[str, str]]:
    """{column: (before, after)} from "col: a → b; col2: c → d (linked: e → f)" using known column names."""
    changes: dict[str, tuple[str, str]] = {}
    for segment in text.split("; "):
        extra = None
        for c in columns:  # a linked column is appended as " (col: a → b)"
            marker = f" ({c}: "
            if marker in segment and segment.endswith(")"):
                segment, extra = segment[: segment.index(marker)], segment[segment.index(marker) + 2: -1]
        for part in [segment] + ([extra] if extra else []):
            column = next(c for c in sorted(columns, key=len, reverse=True) if part.startswith(f"{c}: "))
            before, after = part[len(column) + 2:].split(ARROW)
            changes[column] = (before, after)
    return changes


def typed(value: str, like: pd.Series) -> object:
    """A text value back in the column's type."""
    if value == "missing":
        return np.nan
    if pd.api.types.is_integer_dtype(like):
        return int(value)
    if pd.api.types.is_numeric_dtype(like):
        return float(value)
    return value


def rebuild(X: pd.DataFrame, positions: np.ndarray, texts: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    """The counterfactual rows rebuilt from the original rows and the reported changes."""
    frame = X.iloc[positions].reset_index(drop=True).copy()
    parsed = [parse_recourse(t, list(X.columns)) for t in texts]
    for i, changes in enumerate(parsed):
        for column, (before, after) in changes.items():
            original = frame.at[i, column]
            shown = "missing" if pd.isna(original) else (f"{original:.0f}" if isinstance(original, (int, np.integer))
                                                          else str(original))
            if not isinstance(original, (float, np.floating)):
                assert before == shown, f"row {positions[i]}: text says {column} was {before!r}, data has {shown!r}"
            frame.at[i, column] = typed(after, X[column])
    return frame, parsed


def check_counterfactuals(subject, texts_by_row: dict[int, str], max_changes: int) -> pd.DataFrame:
    """Assert validity and every constraint for reported recourse texts; return the rebuilt frame."""
    positions = np.array(sorted(texts_by_row))
    cf, parsed = rebuild(subject.X, positions, [texts_by_row[p] for p in positions])
    original = subject.X.iloc[positions].reset_index(drop=True)
    estimator = subject.model.estimator
    positive = str(subject.spec.data.positive_label)
    predicted = np.asarray(estimator.predict(cf[subject.model.feature_names])).astype(str)
    assert (predicted == positive).all(), f"{(predicted != positive).sum()} counterfactuals are not favourable"
    assert (np.asarray(estimator.predict(original[subject.model.feature_names])).astype(str) != positive).all()
    for column in subject.immutable:
        assert all(column not in p for p in parsed), f"immutable {column} changed"
        pd.testing.assert_series_equal(cf[column], original[column])
    for column in subject.spec.data.increase_only:
        if column in cf:
            assert (cf[column].to_numpy(float) >= original[column].to_numpy(float)).all(), f"{column} decreased"
    for column in cf.columns:
        if subject.feature_types[column] == "numeric":
            lo, hi = subject.X[column].min(), subject.X[column].max()
            assert cf[column].dropna().between(lo, hi).all(), f"{column} outside observed range"
        else:
            assert set(cf[column].dropna()) <= set(subject.X[column].dropna()), f"{column}: unobserved category"
    assert all(1 <= len(t.split("; ")) <= max_changes for t in texts_by_row.values())  # linked columns: one change
    return cf


def adapter(estimator, X: pd.DataFrame, positive_class: object = ">50K"):
    """The project's scikit-learn adapter around a test model."""
    from audit.models import SklearnAdapter

    return SklearnAdapter(estimator, path=Path("test-model"), fmt="skops", positive_class=positive_class,
                          data_columns=list(X.columns))


def logistic(features: list[str], X: pd.DataFrame):
    """One-hot + scaled logistic regression that reads only ``features`` from the frame it is given."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in features if c not in categorical]
    encode = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                                ("num", StandardScaler(), numeric)], remainder="drop")
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=300))])


@pytest.fixture(scope="module")
def adult_sample():
    """8,000 Adult rows (seeded) without missing values, split 4,000 to train and 4,000 to audit."""
    data = pd.read_parquet(ADULT).dropna().sample(8000, random_state=11).reset_index(drop=True)
    return data.iloc[:4000].reset_index(drop=True), data.iloc[4000:].reset_index(drop=True)


def run_flip(model_features: list[str], adult_sample, proxies):
    """Train a logistic model on ``model_features``, flip-test it on the audit half (X holds every column)."""
    from audit.counterfactual import flip_test
    from audit.spec import ProtectedSpec

    train, audit = adult_sample
    columns = [c for c in audit.columns if c not in ("person_id", "split", "income", "fnlwgt")]
    X = audit[columns]
    estimator = logistic(model_features, X).fit(train[columns], train["income"])
    model = adapter(estimator, X)
    score = model.predict_score(X)
    decision = model.decide(score)
    groups = pd.DataFrame({"sex": X["sex"].astype(str)})
    result = flip_test(X=X, groups=groups, protected=[ProtectedSpec(column="sex")], model=model, score=score,
                       decision=decision, ids=audit["person_id"].to_numpy(), proxies=proxies,
                       seed=3, rng=np.random.default_rng(3), n_boot=200)
    return result, estimator, X, decision


# ------------------------------------------------------------------ flip test

BASE = ["age", "workclass", "education-num", "occupation", "capital-gain", "capital-loss", "hours-per-week"]
PROXIES = {"sex": ["relationship", "marital-status"]}


def test_flip_rate_is_zero_when_model_ignores_attribute_and_proxies(adult_sample):
    """X contains sex and its proxies, so both variants really re-predict changed rows, yet nothing may flip."""
    from audit.counterfactual import DIRECT, WITH_PROXIES

    result, _, X, _ = run_flip(BASE, adult_sample, PROXIES)
    variants = {p.variant for p in result.pairs}
    assert variants == {DIRECT, WITH_PROXIES}
    assert result.n_predicted > len(X)  # both variants predicted changed copies
    assert result.max_rate(DIRECT) == 0.0
    assert result.max_rate(WITH_PROXIES) == 0.0
    assert all(p.mean_score_change == 0.0 for p in result.pairs)


def test_flip_rate_is_positive_when_model_uses_attribute_and_matches_by_hand(adult_sample):
    """A model reading sex directly flips decisions; the Male → Female rate equals a by-hand recomputation."""
    from audit.counterfactual import DIRECT

    result, estimator, X, decision = run_flip(BASE + ["sex", "relationship"], adult_sample, PROXIES)
    assert result.max_rate(DIRECT) > 0.0
    pair = next(p for p in result.pairs if p.variant == DIRECT and (p.source, p.target) == ("Male", "Female"))
    males = X[X["sex"] == "Male"].copy()
    before = estimator.predict(males)
    males["sex"] = "Female"
    after = estimator.predict(males)
    assert pair.n == len(males)
    assert pair.flips == int((before != after).sum())
    assert pair.flip_rate == pytest.approx((before != after).mean(), abs=0)
    by_hand = (estimator.predict_proba(males)[:, 1] - estimator.predict_proba(X[X["sex"] == "Male"])[:, 1]).mean()
    assert pair.mean_score_change == pytest.approx(by_hand, rel=1e-9)
    assert pair.flip_ci[0] <= pair.flip_rate <= pair.flip_ci[1]
    assert pair.score_ci[0] <= pair.mean_score_change <= pair.score_ci[1]
    assert all(e["attribute"] == "sex" for e in result.examples) and 0 < len(result.examples) <= 5
    example = result.examples[0]
    row = X[adult_sample[1]["person_id"].astype(str) == example["id"]]
    assert estimator.predict_proba(row)[0, 1] == pytest.approx(example["score_before"])


def test_flip_evidence_on_german_credit(german_subject, make_ctx):
    """sex is not a model input (no direct rate, only its proxies); foreign_worker's rate matches a by-hand recomputation."""
    from audit.checks import counterfactual

    ctx = make_ctx(german_subject)
    ctx.proxies = {"sex": ["personal_status"]}
    flip, recourse = counterfactual.run(german_subject, ctx)
    assert (flip.id, recourse.id) == ("counterfactual.flip", "counterfactual.recourse")
    assert flip.title == "Flip test: does the decision change with the protected attribute alone?"
    rows = flip.tables[0].records()
    assert not any(r["attribute"] == "sex" and r["variant"] == "direct" for r in rows)
    assert any(r["attribute"] == "sex" and r["variant"] == "with proxies" for r in rows)
    fw = next(r for r in rows if r["attribute"] == "foreign_worker" and (r["from"], r["to"]) == ("yes", "no"))
    X = german_subject.X
    changed = X[X["foreign_worker"] == "yes"].copy()
    before = german_subject.model.estimator.predict(changed)
    changed["foreign_worker"] = "no"
    assert fw["flip_rate"] == pytest.approx((german_subject.model.estimator.predict(changed) != before).mean(), abs=0)
    direct_rates = [r["flip_rate"] for r in rows if r["variant"] == "direct"]
    proxy_rates = [r["flip_rate"] for r in rows if r["variant"] == "with proxies"]
    assert flip.metrics["max_flip_rate_direct"] == max(direct_rates)
    assert flip.metrics["max_flip_rate_with_proxies"] == max(proxy_rates)
    assert flip.metrics["max_flip_rate"] == max(direct_rates + proxy_rates)  # the rules read proxies too
    assert flip.metrics["n_rows"] == german_subject.n
    assert "threshold" not in flip.metrics  # checks measure; thresholds live in policies/thresholds.yaml
    assert flip.charts[0].reference == 0.01 and flip.charts[0].reference_label == "reference 0.01"


def test_checks_without_model_are_not_assessed(german_subject, make_ctx):
    from audit.checks import counterfactual
    from audit.evidence import EvidenceStatus

    blind = dataclasses.replace(german_subject, model=None)
    evidence = counterfactual.run(blind, make_ctx(blind))
    assert [e.status for e in evidence] == [EvidenceStatus.NOT_ASSESSED] * 2
    assert all("no model access" in (e.reason or "") for e in evidence)


# ------------------------------------------------------------------ recourse


def test_recourse_is_valid_and_actionable_on_german_credit(german_subject, make_ctx):
    """Every recourse text, applied to its row and re-predicted by the estimator, obtains the favourable decision."""
    from audit.checks import counterfactual

    ctx = make_ctx(german_subject)
    _, evidence = counterfactual.run(german_subject, ctx)
    text, cost = ctx.decision_columns["recourse"], np.asarray(ctx.decision_columns["recourse_cost"])
    decision = german_subject.predictions.decision
    assert len(text) == len(cost) == german_subject.n
    assert all(t is None for t, d in zip(text, decision, strict=True) if d)
    assert np.isnan(cost[decision]).all()
    reported = {i: t for i, t in enumerate(text) if t is not None and not t.startswith("no recourse")}
    assert len(reported) > 0.8 * (~decision).sum()
    check_counterfactuals(german_subject, reported, german_subject.spec.counterfactuals.max_changes)
    m = evidence.metrics
    assert m["n_adverse"] == int((~decision).sum())
    assert m["coverage"] == pytest.approx(len(reported) / m["n_adverse"])
    assert m["validity"] == 1.0 and m["immutable_violations"] == 0 and m["increase_only_violations"] == 0
    assert np.isfinite(cost[list(reported)]).all() and (cost[list(reported)] > 0).all()
    assert m["mean_cost"] == pytest.approx(np.nanmean(cost))
    changes = [len(t.split("; ")) for t in reported.values()]
    assert m["mean_features_changed"] == pytest.approx(np.mean(changes))
    gap = evidence.tables[0].records()
    for attribute in ("sex", "age", "foreign_worker"):
        assert any(r["attribute"] == attribute for r in gap)
    if m["recourse_gap_attribute"] is not None:
        rows = [r for r in gap if r["attribute"] == m["recourse_gap_attribute"] and r["in_gap"]]
        means = [r["mean_cost"] for r in rows]
        assert m["recourse_gap_max"] == pytest.approx(max(means) - min(means))
    # Privacy by default: no example of an individual recourse unless the spec asks (report.examples).
    assert [t.title for t in evidence.tables] == ["Recourse cost by group", "What the recourses ask to change"]
    assert any("left out of the report (personal data)" in limit for limit in evidence.limits)


def test_counterfactual_examples_only_when_asked_with_only_the_fields_asked_for(german_subject, make_ctx):
    """report.examples with example_fields [age]: ids and ages; other columns named without the person's values."""
    from audit.checks import counterfactual
    from audit.spec import ReportSpec

    spec = german_subject.spec.model_copy(update={"report": ReportSpec(examples=True, example_fields=["age"])})
    subject = dataclasses.replace(german_subject, spec=spec)
    ctx = make_ctx(subject)
    ctx.proxies = {"sex": ["personal_status"]}
    flip, recourse = counterfactual.run(subject, ctx)
    ages = dict(zip(subject.ids, subject.frame["age"], strict=True))
    flips = flip.tables[1]
    assert flips.title == "Examples of decisions that flip" and flips.columns[:2] == ["id", "age"]
    assert flips.rows and all(r["age"] == ages[r["id"]] for r in flips.records())
    for r in flips.records():  # the group moved from is the person's own value: shown for age only
        assert (r["from"] is not None) == (r["attribute"] == "age"), r
    examples = recourse.tables[1]
    assert examples.title == "Examples of recourse (random adverse decisions)" and len(examples.rows) == 10
    assert examples.columns[:2] == ["id", "age"]
    for r in examples.records():
        assert r["age"] == ages[r["id"]]
        for change in str(r["recourse"]).split("; "):
            assert change.endswith(" (changed)") or change.startswith("no recourse"), change  # age is immutable


def test_recourse_on_adult_keeps_linked_columns_and_increase_only(adult_subject):
    """The example model on 300 adverse Adult rows: valid, age never changes, education and its number agree."""
    from audit.counterfactual import build_actionability, find_recourse

    subject = adult_subject
    adverse = np.flatnonzero(~subject.predictions.decision)[:300]
    action = build_actionability(X=subject.X, feature_types=subject.feature_types, immutable=subject.immutable,
                                 increase_only=subject.spec.data.increase_only)
    assert any(set(u.columns) == {"education", "education-num"} for u in action.units)
    result = find_recourse(X=subject.X, rows=adverse, model=subject.model, action=action,
                           score_before=subject.predictions.score[adverse], max_changes=2)
    texts = result.texts()
    reported = {int(p): t for p, t, f in zip(adverse, texts, result.found, strict=True) if f}
    assert len(reported) > 250
    assert all(t == "no recourse found within 2 changes" for t, f in zip(texts, result.found, strict=True) if not f)
    cf = check_counterfactuals(subject, reported, max_changes=2)
    pairs = subject.X[["education", "education-num"]].drop_duplicates()
    assert len(cf[["education", "education-num"]].merge(pairs, how="inner")) == len(cf)
    assert result.validity == 1.0


class Recording:
    """A model adapter that remembers every frame it scores (to inspect what the flip test built)."""

    def __init__(self, inner) -> None:
        self.inner, self.frames = inner, []

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        self.frames.append(X.copy())
        return self.inner.predict_score(X)

    def decide(self, score: np.ndarray) -> np.ndarray:
        return self.inner.decide(score)


def test_proxy_values_come_from_the_target_group(adult_sample):
    """Proxies are whole rows of target-group members: moving men to 'Female' brings wives, never husbands."""
    from audit.counterfactual import WITH_PROXIES, flip_test
    from audit.spec import ProtectedSpec

    train, audit = adult_sample
    X = audit[BASE + ["relationship", "marital-status"]]  # sex itself is not a model input here
    model = Recording(adapter(logistic(BASE, X).fit(train[X.columns], train["income"]), X))
    score = model.inner.predict_score(X)
    result = flip_test(X=X, groups=pd.DataFrame({"sex": audit["sex"].astype(str)}), protected=[ProtectedSpec(column="sex")],
                       model=model, score=score, decision=model.decide(score), ids=audit["person_id"].to_numpy(),
                       proxies=PROXIES, seed=0, rng=np.random.default_rng(0), n_boot=50)
    # sex is not an input: no direct rate is recorded at all (not a 0 "by construction"), only the proxy variant
    assert {p.variant for p in result.pairs} == {WITH_PROXIES}
    assert "sex" not in result.not_tested
    targets = sorted(pd.unique(audit["sex"]))  # one batch per target group, in sorted order
    assert len(model.frames) == 2 and sorted(targets) == ["Female", "Male"]
    frames = dict(zip(targets, model.frames, strict=True))
    shares = {t: f["relationship"].value_counts(normalize=True) for t, f in frames.items()}
    assert shares["Female"].get("Wife", 0) > 0.05 and shares["Female"].get("Husband", 0) < 0.002
    assert shares["Male"].get("Husband", 0) > 0.3 and shares["Male"].get("Wife", 0) < 0.002
    female = audit[audit["sex"] == "Female"]
    female_pairs = set(map(tuple, female[["relationship", "marital-status"]].to_numpy()))
    assert set(map(tuple, frames["Female"][["relationship", "marital-status"]].to_numpy())) <= female_pairs


def test_recourse_that_fails_re_prediction_is_withdrawn():
    """The final re-prediction, not the search, decides what is reported: an invalid counterfactual is withdrawn."""
    from audit.counterfactual import build_actionability
    from audit.counterfactual._frames import Predictor, RowSource
    from audit.counterfactual.recourse import _verify

    class Threshold:  # favourable when f > 0
        def predict_score(self, X: pd.DataFrame) -> np.ndarray:
            return 1 / (1 + np.exp(-10 * X["f"].to_numpy(float)))

        def decide(self, score: np.ndarray) -> np.ndarray:
            return score > 0.5

    X = pd.DataFrame({"f": [-1.0, -2.0, -3.0, 2.0]})
    action = build_actionability(X=X, feature_types={"f": "numeric"}, immutable=[], increase_only=[])
    original = X.iloc[:3]
    cf = pd.DataFrame({"f": [1.0, -1.5, -3.0]})  # valid, invalid, unchanged
    result = _verify(RowSource(original), cf, rows=np.arange(3), action=action, predictor=Predictor(Threshold()),
                     score_before=np.zeros(3), max_changes=1, started=0.0)
    assert result.found.tolist() == [True, False, False]
    assert result.n_withdrawn == 1 and result.validity == 0.5
    assert result.counterfactual["f"].tolist() == [1.0, -2.0, -3.0]
    assert result.texts() == ["f: -1 → 1", "no recourse found within 1 changes", "no recourse found within 1 changes"]


# ------------------------------------------------------------------ encoded fast path (same results, less work)


def recourse_both_ways(subject, rows: np.ndarray, *, model=None, max_changes: int | None = None):
    """The search scored in the encoded space (lazily) and through the adapter on frames (every state)."""
    from audit.counterfactual import build_actionability, find_recourse

    model = model or subject.model
    action = build_actionability(X=subject.X, feature_types=subject.feature_types, immutable=subject.immutable,
                                 increase_only=subject.spec.data.increase_only)
    score = model.predict_score(subject.X.iloc[rows])
    kwargs = {"X": subject.X, "rows": rows, "model": model, "action": action, "score_before": score,
              "max_changes": max_changes or subject.spec.counterfactuals.max_changes}
    return find_recourse(**kwargs), find_recourse(**kwargs, fast=False, lazy=False)


def assert_same_recourse(fast, generic) -> None:
    """The same change chosen for every row: same texts, costs, counterfactual values and re-predicted scores."""
    assert fast.texts() == generic.texts()
    np.testing.assert_array_equal(fast.cost, generic.cost)
    np.testing.assert_array_equal(fast.changed, generic.changed)
    pd.testing.assert_frame_equal(fast.counterfactual, generic.counterfactual)
    np.testing.assert_array_equal(fast.score_after, generic.score_after)
    assert fast.validity == generic.validity == 1.0
    assert fast.n_predicted < generic.n_predicted  # the lazy rounds and shared scores do less work


def test_encoded_path_applies_to_the_example_pipelines(german_subject, adult_subject):
    from audit.counterfactual._encoded import encoded_model

    german, adult = encoded_model(german_subject.model), encoded_model(adult_subject.model)
    assert german is not None and not german.lightgbm and german.thresholds is None  # exact values compared
    assert adult is not None and adult.lightgbm and adult.thresholds is not None  # split classes compared
    assert set(adult.blocks) == set(adult_subject.X.columns)
    assert sum(b.size for b in adult.blocks.values()) == adult.width


def test_fast_path_gives_the_same_recourse_on_german_credit(german_subject):
    """Every adverse German credit decision: the fast, lazy search chooses what the exhaustive frame search chooses."""
    adverse = np.flatnonzero(~german_subject.predictions.decision)
    fast, generic = recourse_both_ways(german_subject, adverse)
    assert fast.found.sum() > 0.8 * adverse.size
    assert_same_recourse(fast, generic)


@pytest.mark.slow
def test_fast_path_gives_the_same_recourse_on_adult_sample(adult_subject):
    """2,500 seeded adverse Adult rows (LightGBM, classes of split thresholds shared between rows)."""
    adverse = np.flatnonzero(~adult_subject.predictions.decision)
    rows = np.sort(np.random.default_rng(17).choice(adverse, size=2500, replace=False))
    fast, generic = recourse_both_ways(adult_subject, rows)
    assert fast.found.all()
    assert_same_recourse(fast, generic)


def test_fast_path_with_the_negative_class_as_positive(adult_subject):
    """positive_index 0 (the adapter's decision is p >= 0.5): still the same choices as the frame search."""
    from audit.models import SklearnAdapter

    model = SklearnAdapter(adult_subject.model.estimator, path=Path("test-model"), fmt="skops", positive_class="<=50K",
                           data_columns=list(adult_subject.X.columns))
    assert model.positive_index == 0
    favourable = np.flatnonzero(adult_subject.predictions.decision)[:300]  # adverse under the flipped labels
    fast, generic = recourse_both_ways(adult_subject, favourable, model=model, max_changes=2)
    assert fast.found.sum() > 100
    assert_same_recourse(fast, generic)


def test_encoded_scores_equal_predict_score(adult_subject, german_subject):
    """Scores of candidate states from the encoded path equal the model's predict_score on materialised frames."""
    from audit.counterfactual import build_actionability
    from audit.counterfactual._frames import Predictor, RowSource
    from audit.counterfactual.search import StateScorer, _candidates, materialise

    for subject in (adult_subject, german_subject):
        adverse = np.flatnonzero(~subject.predictions.decision)[:200]
        action = build_actionability(X=subject.X, feature_types=subject.feature_types, immutable=subject.immutable,
                                     increase_only=subject.spec.data.increase_only)
        source = RowSource(subject.X.iloc[adverse])
        scorer = StateScorer(source, action.units, Predictor(subject.model))
        assert scorer.fast
        rows = np.arange(len(source))
        cand = _candidates(source, rows, action)
        s_row, s_cand = np.nonzero(cand.allowed)
        opts = np.full((s_row.size, len(action.units)), -1, dtype=np.int32)
        opts[np.arange(s_row.size), cand.unit[s_cand]] = cand.option[s_cand]
        # add two-change states: each state with the next row's first allowed change on another unit
        two = opts.copy()
        other = (cand.unit[s_cand] + 1) % len(action.units)
        two[np.arange(two.shape[0]), other] = 0
        states = np.concatenate([opts, two])
        state_rows = np.concatenate([s_row, s_row])
        fast = scorer.score(state_rows, states)
        truth = subject.model.predict_score(materialise(source, state_rows, states, action.units))
        assert np.max(np.abs(fast - truth)) <= 1e-9
        np.testing.assert_array_equal(fast, truth)  # in fact the very same numbers
        assert scorer.predictor.n_predicted < states.shape[0]  # equivalent states were scored once


def test_encoded_path_falls_back_for_other_models(german_subject):
    """Anything but a Pipeline of cell-wise encoders is scored through the adapter, exactly as before."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    from audit.counterfactual._encoded import encoded_model
    from audit.counterfactual._frames import Predictor, RowSource

    X, y = german_subject.X, german_subject.y
    text = [c for c in X.columns if german_subject.feature_types[c] == "categorical"]
    numbers = [c for c in X.columns if c not in text]

    def fitted(encoder, *middle):
        steps = [("encode", encoder), *middle, ("model", DecisionTreeClassifier(max_depth=3))]
        return adapter(Pipeline(steps).fit(X, y), X, positive_class=True)

    mixing = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), text),
                                ("log", FunctionTransformer(np.log1p), numbers)])  # any function: not cell-wise
    assert encoded_model(fitted(mixing)) is None
    cellwise = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text)],
                                 remainder="passthrough")
    assert encoded_model(fitted(cellwise)) is not None
    assert encoded_model(fitted(cellwise, ("pca", PCA(n_components=3)))) is None  # a step that mixes columns
    assert encoded_model(Recording(german_subject.model)) is None  # not the project's scikit-learn adapter
    sparse = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), text)], remainder="passthrough",
                               sparse_threshold=1.0)
    model = fitted(sparse)
    assert encoded_model(model) is not None  # cell-wise, but its output is sparse:
    source = RowSource(X)
    assert Predictor(model).encode(source.frame, source.template()) is None
    assert Predictor(german_subject.model, fast=False).encoded is None


def test_flip_fast_path_matches_generic(adult_sample):
    """The flip test (direct and with proxies) gives the same pairs and examples both ways."""
    from audit.counterfactual import flip_test
    from audit.spec import ProtectedSpec

    train, audit = adult_sample
    columns = [c for c in audit.columns if c not in ("person_id", "split", "income", "fnlwgt")]
    X = audit[columns]
    model = adapter(logistic(BASE + ["sex", "relationship"], X).fit(train[columns], train["income"]), X)
    score = model.predict_score(X)
    results = [flip_test(X=X, groups=pd.DataFrame({"sex": X["sex"].astype(str)}), protected=[ProtectedSpec(column="sex")],
                         model=model, score=score, decision=model.decide(score), ids=audit["person_id"].to_numpy(),
                         proxies=PROXIES, seed=3, rng=np.random.default_rng(3), n_boot=100, fast=fast) for fast in (True, False)]
    assert [dataclasses.asdict(p) for p in results[0].pairs] == [dataclasses.asdict(p) for p in results[1].pairs]
    assert results[0].examples == results[1].examples
    assert results[0].max_rate("direct") > 0


def test_flip_fast_path_matches_generic_on_adult_model(adult_subject):
    """The example LightGBM pipeline on 6,000 rows: identical flip statistics with and without the fast path."""
    from audit.counterfactual import flip_test

    subject = adult_subject
    rows = np.arange(6000)
    X, pred = subject.X.iloc[rows].reset_index(drop=True), subject.predictions
    proxies = {"sex": ["relationship", "marital-status", "occupation"], "age": ["marital-status", "relationship"]}
    results = [flip_test(X=X, groups=subject.groups.iloc[rows].reset_index(drop=True), protected=subject.protected,
                         model=subject.model, score=pred.score[rows], decision=pred.decision[rows],
                         ids=subject.ids[rows], proxies=proxies, seed=5, rng=np.random.default_rng(5), n_boot=50,
                         fast=fast)
               for fast in (True, False)]
    assert [dataclasses.asdict(p) for p in results[0].pairs] == [dataclasses.asdict(p) for p in results[1].pairs]
    assert results[0].examples == results[1].examples
    assert results[0].n_predicted < results[1].n_predicted


def test_lightgbm_scores_are_the_same_on_several_threads(adult_subject, monkeypatch):
    """Chunks predicted on two threads (each its own model copy) give the numbers of one predict_proba call."""
    from audit.counterfactual._encoded import _PARALLEL_CHUNK, encoded_model, prediction_threads

    model = encoded_model(adult_subject.model)
    X = adult_subject.X.iloc[: 3 * _PARALLEL_CHUNK + 17]
    Z = model.transform(X)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    alone = model.score(Z)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    threaded = model.score(Z)
    if prediction_threads() == 2:  # this machine has two cores for us: the threaded path ran
        assert model._pool is not None and model._pool[0] == 2
    np.testing.assert_array_equal(threaded, alone)
    np.testing.assert_array_equal(alone, adult_subject.model.predict_score(X))


def test_values_that_are_not_a_choice_are_never_options() -> None:
    """data.code_book.not_choices: a recourse may move away from "unknown / none", never to it."""
    from audit.counterfactual.actionability import build_actionability

    X = pd.DataFrame({"savings": ["< 100 DM", "unknown / none", ">= 1000 DM", "< 100 DM"] * 10,
                      "amount": [1.0, 2.0, 3.0, 4.0] * 10})
    action = build_actionability(X=X, feature_types={"savings": "categorical", "amount": "numeric"}, immutable=[],
                                 increase_only=[], not_choices={"savings": ["unknown / none"]})
    savings = next(u for u in action.units if u.columns == ("savings",))
    assert set(savings.options["savings"]) == {"< 100 DM", ">= 1000 DM"}
    assert any("not a choice" in note for note in action.notes)
    plain = build_actionability(X=X, feature_types={"savings": "categorical", "amount": "numeric"}, immutable=[],
                                increase_only=[])
    assert "unknown / none" in set(next(u for u in plain.units if u.columns == ("savings",)).options["savings"])
