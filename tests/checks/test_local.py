"""Per-decision explanations (reasons, decision columns) and LIME quality, against independent computations."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from audit.explain.shap_values import import_shap


def independent_german_shap(subject) -> np.ndarray:
    """shap.TreeExplainer called directly on the encoded matrix, folded here by the encoder's column names."""
    pipeline = subject.model.estimator
    Z = pipeline[:-1].transform(subject.X)
    raw = np.asarray(import_shap().TreeExplainer(pipeline[-1]).shap_values(Z))
    columns = list(subject.X.columns)
    out = np.zeros((len(raw), len(columns)))
    for j, name in enumerate(pipeline[:-1].get_feature_names_out()):
        owner = max((i for i, c in enumerate(columns) if name == c or name.startswith(f"{c}_")), key=lambda i: len(columns[i]))
        out[:, owner] += raw[:, j]
    return out


def with_explanations(subject, **settings):
    spec = subject.spec.model_copy(update={"explanations": subject.spec.explanations.model_copy(update=settings)})
    return dataclasses.replace(subject, spec=spec)


@pytest.fixture(scope="module")
def german_local(german_subject):
    """local.run on German credit with a small LIME sample (40 rows x 3 seeds), and its context."""
    from audit.checks import CheckContext, local

    subject = with_explanations(german_subject, lime_sample=40, lime_repeats=3)
    ctx = CheckContext(spec=subject.spec, seed=subject.spec.seed)
    evidence = {e.id: e for e in local.run(subject, ctx)}
    return subject, ctx, evidence


def test_every_decision_gets_reasons_in_the_users_vocabulary(german_local):
    subject, ctx, evidence = german_local
    shap_ev = evidence["local.shap"]
    assert shap_ev.metrics["coverage"] == 1.0 and shap_ev.metrics["n_explained"] == 500
    assert 1 <= shap_ev.metrics["max_reasons"] <= 4
    assert shap_ev.metrics["additivity_error_max"] < 1e-6
    assert shap_ev.seconds is not None and shap_ev.seconds > 0 and "seconds_per_1000" not in shap_ev.metrics
    columns = ctx.decision_columns
    names = list(subject.X.columns)
    assert {f"reason_{i}" for i in range(1, 5)} | {f"shap:{c}" for c in names} <= set(columns)
    assert all(len(v) == subject.n for v in columns.values())
    encoded = set(subject.model.estimator[:-1].get_feature_names_out()) - set(names)
    texts = [t for r in range(1, 5) for t in columns[f"reason_{r}"] if t is not None]
    assert texts
    for text in texts:
        assert text.split(": ", 1)[0] in names, text
        assert not any(e in text for e in encoded), text
        assert not re.search(r"\bx\d+\b", text), text
    # Reason stability on German credit: every adverse decision with a reason (88 < 500), none changed by a 1 % move.
    assert shap_ev.metrics["reason_stability_n"] == shap_ev.metrics["n_adverse"] == 88
    assert 0.9 < shap_ev.metrics["reason_stability"] <= 1.0
    assert shap_ev.params["stability_rows"] == 88 and "reason_stability" not in shap_ev.missing
    # Privacy by default: no example of an individual decision unless the spec asks (report.examples).
    assert shap_ev.tables == []
    assert any("left out of the report (personal data)" in limit for limit in shap_ev.limits)


def test_examples_only_when_asked_and_with_only_the_fields_asked_for(german_subject):
    """report.examples: ten decisions with their id; of the person's values only the example fields (age)."""
    from audit.checks import CheckContext, local
    from audit.errors import COLUMN_NOT_FOUND, AuditInputError
    from audit.spec import ReportSpec

    def with_report(**report):
        subject = with_explanations(german_subject, lime_sample=0)
        return dataclasses.replace(subject, spec=subject.spec.model_copy(update={"report": ReportSpec(**report)}))

    subject = with_report(examples=True, example_fields=["age"])
    shap_ev = local.run(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))[0]
    [table] = shap_ev.tables
    assert table.columns == ["id", "age", "decision", "score", "reasons"] and len(table.rows) == 10
    assert not any("left out of the report" in limit for limit in shap_ev.limits)
    ages = dict(zip(subject.ids, subject.frame["age"], strict=True))
    names = set(subject.X.columns)
    for record in table.records():
        assert record["age"] == ages[record["id"]]
        for reason in str(record["reasons"]).split("; "):
            if reason.startswith("age: "):
                assert reason.startswith(f"age: {record['age']} \u2014"), reason
            elif not reason.startswith("no single detail"):
                assert reason.split(" \u2014 ", 1)[0] in names, reason  # the column, without the person's value

    subject = with_report(examples=True, example_fields=["agee"])
    with pytest.raises(AuditInputError) as caught:
        local.run(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))
    assert caught.value.template == COLUMN_NOT_FOUND and caught.value.fields["field"] == "report.example_fields"


def test_adverse_reasons_are_the_most_negative_contributions(german_local):
    subject, ctx, evidence = german_local
    values = independent_german_shap(subject)
    names = list(subject.X.columns)
    decision = subject.predictions.decision
    first = ctx.decision_columns["reason_1"]
    for i in np.flatnonzero(~decision):
        j = int(values[i].argmin())
        assert values[i, j] < 0
        assert first[i].startswith(f"{names[j]}: ")
        assert first[i].endswith(f"lowered the score by {abs(values[i, j]):.2f}")
        assert f"{subject.X.iloc[i, j]}" in first[i]
    for i in np.flatnonzero(decision)[:50]:
        j = int(values[i].argmax())
        assert first[i].startswith(f"{names[j]}: ") and "raised the score" in first[i]
    for j, name in enumerate(names):
        assert np.abs(np.asarray(ctx.decision_columns[f"shap:{name}"]) - values[:, j]).max() < 1e-9
    # Adverse decisions whose (up to four, negative, >= 0.005) reasons include a protected attribute.
    protected = [names.index(p.column) for p in subject.protected if p.column in names]
    order = np.argsort(values, axis=1, kind="stable")[:, :4]
    negative = np.take_along_axis(values, order, axis=1) <= -0.005
    citing = (np.isin(order, protected) & negative).any(axis=1) & ~decision
    assert evidence["local.shap"].metrics["adverse_citing_protected"] == int(citing.sum()) > 0


def test_lime_metrics_are_present_and_in_range(german_local):
    _, _, evidence = german_local
    m = evidence["local.lime"].metrics
    assert m["sample_size"] == 40 and m["repeats"] == 3
    assert len(m["seeds"].split(",")) == 3
    assert m["fidelity_r2_p10"] <= m["fidelity_r2_median"] <= 1
    assert 0 <= m["stability_topk_overlap"] <= 1
    assert 0 <= m["lime_shap_topk_overlap"] <= 1
    assert -1 <= m["lime_shap_rank_correlation"] <= 1
    assert evidence["local.lime"].limits and evidence["local.lime"].params["seeds"]


def test_lime_is_reproducible_with_the_same_seed_and_changes_with_another(german_subject):
    from audit.explain.lime_quality import lime_quality

    values = independent_german_shap(german_subject)
    common = dict(model=german_subject.model, X=german_subject.X, shap_values=values, score=german_subject.predictions.score,
                  favourable=german_subject.predictions.decision, sample_size=12, repeats=2, top_k=4, num_samples=500)
    a = lime_quality(seed=11, **common)
    b = lime_quality(seed=11, **common)
    c = lime_quality(seed=12, **common)
    assert a.summary() == b.summary()
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.r2, b.r2)
    assert not np.array_equal(a.weights, c.weights)


def test_batched_lime_equals_limes_own_explain_instance(german_subject):
    """Our batched neighbourhoods give exactly what lime's explain_instance gives with the same generator."""
    from audit.explain.codec import Codec
    from audit.explain.lime_quality import _explainer, _lime_chunk, _LimeJob, _reseed

    X = german_subject.X
    codec = Codec.fit(X)
    job = _LimeJob(model=german_subject.model, codec=codec, training=codec.encode(X.iloc[:300]), seeds=[5, 6], num_samples=400)
    M = codec.encode(X.iloc[[7, 42]])
    weights, r2 = _lime_chunk(job, (np.array([7, 42]), M))

    def predict(rows):
        p = german_subject.model.predict_score(codec.decode(rows))
        return np.column_stack([1 - p, p])

    explainer = _explainer(job)
    for i, position in enumerate([7, 42]):
        for r, seed in enumerate(job.seeds):
            _reseed(explainer, seed=seed, position=position)
            exp = explainer.explain_instance(M[i], predict, labels=(1,), num_features=M.shape[1], num_samples=400)
            assert exp.score == pytest.approx(r2[i, r], abs=1e-12)
            own = np.zeros(M.shape[1])
            for feature, weight in exp.as_map()[1]:
                own[feature] = weight
            assert np.abs(own - weights[i, r]).max() < 1e-12


def test_stratified_sample_takes_borderline_then_adverse():
    from audit.explain.lime_quality import stratified_sample

    rng = np.random.default_rng(0)
    score = rng.uniform(size=1_000)
    decision = score > 0.5
    rows, strata = stratified_sample(score=score, favourable=decision, size=100, threshold=0.5, rng=np.random.default_rng(1))
    strata = np.array(strata)
    assert len(rows) == 100 and len(set(rows)) == 100
    border = rows[strata == "borderline"]
    assert len(border) == 50
    others = np.setdiff1d(np.arange(1_000), border)
    assert np.abs(score[border] - 0.5).max() <= np.abs(score[others] - 0.5).min()
    assert (strata == "adverse").sum() == 25 and not decision[rows[strata == "adverse"]].any()
    assert decision[rows[strata == "favourable"]].all()


def test_reasons_rules_on_a_small_example():
    import pandas as pd

    from audit.explain.reasons import NO_NEGATIVE_FACTOR, principal_reasons

    X = pd.DataFrame({"income": [1200, 5000, 300], "housing": ["rent", "own", None], "debt": [0.5, 0.1, 2.0]})
    values = np.array([[-0.30, -0.10, 0.20], [0.40, 0.05, -0.20], [0.10, 0.20, 0.30]])
    reasons = principal_reasons(values=values, X=X, decision=np.array([False, True, False]), top_k=4)
    assert reasons.texts[0][0] == "income: 1200 \u2014 lowered the score by 0.30"
    assert reasons.texts[1][0] == "housing: rent \u2014 lowered the score by 0.10"
    assert reasons.texts[2][0] is None  # a positive contribution is never a reason for a rejection
    assert reasons.texts[0][1] == "income: 5000 \u2014 raised the score by 0.40"
    assert reasons.texts[0][2] == NO_NEGATIVE_FACTOR  # rejected, yet nothing lowered the score
    assert list(reasons.counts) == [2, 2, 0]
