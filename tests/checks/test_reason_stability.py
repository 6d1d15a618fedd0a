"""Reason stability (local.shap): do similar applicants get similar reasons? Checked against linear SHAP by hand.

The model is a logistic regression whose coefficients are set by hand: its margin is
``(a - mean a) + (b - mean b)``, so the exact linear SHAP contribution of each feature is
``x - mean`` (coefficient 1) and the principal reasons before and after a move of 1 % of each
feature's standard deviation can be derived with numpy alone. Every adverse row has a favourable
mirror image, so the means are the centres the rows are built around.

Three kinds of adverse rows, by their contributions (u to a, v to b), with top_k = 1:

- far apart (u, v) = (-1, -0.2): the reason is a, and a move of about 0.01 cannot change that;
- near tie (-1, -1.001): the reason is b; it becomes a when a moves down by more than b's move
  minus 0.001 (a down and b up; with the stds below also a and b both down);
- on the boundary (-0.5, +0.49), margin -0.01: the reason is a; when both move up the margin
  turns positive, the decision changes and the row is left out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The linear explainer scores the encoded matrix without column names (audit.explain.shap_values).
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")

CENTRE = {"a": 50.0, "b": 10.0}
FAR, TIE, EDGE = (-1.0, -0.2), (-1.0, -1.001), (-0.5, 0.49)


def contributions(kinds: dict[tuple[float, float], int]) -> np.ndarray:
    """(u, v) per row: each kind ``count`` times adverse, then as many favourable mirror images."""
    adverse = np.array([uv for uv, count in kinds.items() for _ in range(count)], dtype=float)
    return np.vstack([adverse, -adverse])


def linear_subject(german_subject, uv: np.ndarray, *, top_k: int = 1, favourable_is_positive: bool = True):
    """A Subject whose model is ``(a - 50) + (b - 10)`` in log-odds (positive decision where it is >= 0)."""
    from sklearn.linear_model import LogisticRegression

    from audit.models import Predictions, SklearnAdapter

    X = pd.DataFrame({"a": CENTRE["a"] + uv[:, 0], "b": CENTRE["b"] + uv[:, 1]})
    model = LogisticRegression().fit(X, np.arange(len(X)) % 2)  # fitted only to be a model; coefficients set below
    model.coef_ = np.array([[1.0, 1.0]])
    model.intercept_ = np.array([-(CENTRE["a"] + CENTRE["b"])])
    adapter = SklearnAdapter(model, path=Path("test-model"), fmt="skops", positive_class=1, data_columns=["a", "b"])
    score = adapter.predict_score(X)
    spec = german_subject.spec
    spec = spec.model_copy(update={
        "explanations": spec.explanations.model_copy(update={"top_k": top_k, "lime_sample": 0}),
        "data": spec.data.model_copy(update={"favourable_decision": "positive" if favourable_is_positive else "negative"}),
    })
    n = len(X)
    return dataclasses.replace(
        german_subject, spec=spec, frame=X.assign(id=np.arange(n)), ids=np.arange(n).astype(str), X=X, y=None,
        groups=pd.DataFrame(index=range(n)), protected=[], feature_types={"a": "numeric", "b": "numeric"},
        model=adapter, predictions=Predictions(decision=adapter.decide(score), score=score, source="model"))


def by_hand(uv: np.ndarray, rows: np.ndarray, signs: np.ndarray, *, top_k: int = 1):
    """Stability by hand: contributions are x - mean; reasons the top_k most negative (at least 0.005 in size)."""
    step = 0.01 * uv.std(axis=0)  # the std of x equals that of x - centre
    after = uv[rows] + signs * step
    kept = after.sum(axis=1) < 0  # still adverse: margin below 0

    def reasons(c: np.ndarray) -> list[set[int]]:
        order = np.argsort(c, axis=1, kind="stable")[:, :top_k]
        return [{int(j) for j in row if c[i, j] <= -0.005} for i, row in enumerate(order)]

    before_r, after_r = reasons(uv[rows]), reasons(after)
    shares = np.array([len(b & a) / len(b) for b, a, k in zip(before_r, after_r, kept, strict=True) if k])
    return shares, kept


def run_stability(subject, rows: np.ndarray, signs: np.ndarray):
    from audit.checks import CheckContext
    from audit.checks.importance import shap_result
    from audit.checks.local import stability_under
    from audit.explain.reasons import principal_reasons

    ctx = CheckContext(spec=subject.spec, seed=subject.spec.seed)
    result = shap_result(subject, ctx)
    reasons = principal_reasons(values=result.values, X=subject.X, decision=subject.predictions.decision,
                                top_k=subject.spec.explanations.top_k)
    steps = {c: float(subject.X[c].std(ddof=0)) for c in ("a", "b")}
    return result, stability_under(subject, ctx, result, reasons, rows=rows, steps=steps, signs=signs)


PATTERNS = np.array([[-1, 1], [-1, -1], [1, 1], [1, -1]], dtype=float)  # (sign of a's move, sign of b's move)


def test_reasons_before_and_after_the_move_match_linear_shap_by_hand(german_subject):
    uv = contributions({FAR: 40, TIE: 40, EDGE: 40})
    subject = linear_subject(german_subject, uv)
    rows = np.arange(120)  # every adverse row; each kind sees the four sign patterns ten times
    signs = np.tile(PATTERNS, (30, 1))
    result, stability = run_stability(subject, rows, signs)
    assert result.method.startswith("Linear SHAP")
    assert np.abs(result.values - uv).max() < 1e-9  # the explainer's contributions are x - mean
    # Preconditions of the construction (std of a 0.866, of b 0.654: steps 0.0087 and 0.0065).
    step = 0.01 * uv.std(axis=0)
    assert step.sum() > 0.01 > abs(step[0] - step[1]) and abs(step[0] - step[1]) > 0.001
    shares, kept = by_hand(uv, rows, signs)
    # Derived from the construction: far 40 x 1; tie 40 rows, 0 when a moves down (20), else 1;
    # edge 30 kept x 1 (10 with both up flip to favourable).
    assert stability.changed == int((~kept).sum()) == 10
    assert stability.n == len(shares) == 110 and stability.sampled == 120
    assert stability.value == pytest.approx(shares.mean(), abs=1e-12)
    assert stability.value == pytest.approx(90 / 110, abs=1e-12)
    assert np.array_equal(stability.overlap, shares)
    assert stability.moved == ["a", "b"]


def test_reasons_as_a_set_do_not_care_about_their_order(german_subject):
    """With two reasons per notice the near-tie rows keep both a and b, only in another order: stability 1."""
    uv = contributions({TIE: 40})
    subject = linear_subject(german_subject, uv, top_k=2)
    signs = np.tile(PATTERNS, (10, 1))
    _, stability = run_stability(subject, np.arange(40), signs)
    shares, kept = by_hand(uv, np.arange(40), signs, top_k=2)
    assert kept.all() and stability.n == 40 and stability.changed == 0
    assert stability.value == shares.mean() == 1.0


def local_shap(subject):
    from audit.checks import CheckContext, local

    evidence = {e.id: e for e in local.run(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))}
    assert evidence["local.lime"].status.value == "not_assessed"  # lime_sample 0: only local.shap is under test
    return evidence["local.shap"]


def test_far_apart_reasons_are_fully_stable_on_a_sample_of_500(german_subject):
    subject = linear_subject(german_subject, contributions({FAR: 600}))
    evidence = local_shap(subject)
    m = evidence.metrics
    assert m["n_adverse"] == 600 and m["adverse_without_reason"] == 0
    assert m["reason_stability"] == 1.0 and m["reason_stability_n"] == 500  # at most 500 sampled, none changed
    assert "reason_stability" not in evidence.missing
    assert evidence.params["stability_rows"] == 500 and evidence.params["stability_step"] == 0.01
    assert "1 % of its standard deviation" in evidence.method and "explanation_stability" in evidence.method
    assert "no law sets one" in evidence.method and "reference 0.7" in evidence.method
    assert "100% of the reasons given stay the same (500 adverse decisions)" in evidence.summary


def test_near_tie_reasons_swap_for_about_a_quarter_of_the_people(german_subject):
    """Only the tie kind: std of a 1, of b 1.001, so the reason swaps exactly when a moves down and b up."""
    uv = contributions({TIE: 600})
    step = 0.01 * uv.std(axis=0)
    swaps = [s for s in PATTERNS if s[0] * step[0] - s[1] * step[1] < -0.001]
    assert np.array_equal(swaps, [[-1, 1]])
    evidence = local_shap(linear_subject(german_subject, uv))
    value, n = evidence.metrics["reason_stability"], evidence.metrics["reason_stability_n"]
    assert n == 500
    # 1 - (share of the 500 drawn with a down and b up): 0.75 expected, binomial sd 0.019.
    assert 0.68 < value < 0.82
    assert value * 500 == pytest.approx(round(value * 500), abs=1e-9)  # a mean of 0s and 1s over 500 rows


def test_a_flag_gets_its_reasons_from_the_contributions_towards_the_flag(german_subject):
    """Favourable decision negative: the adverse decision is the positive one, its reasons raised the score."""
    uv = -contributions({FAR: 50})  # the first 50 rows now have margin > 0: flagged, adverse
    evidence = local_shap(linear_subject(german_subject, uv, favourable_is_positive=False))
    assert evidence.metrics["n_adverse"] == 50
    assert evidence.metrics["reason_stability"] == 1.0 and evidence.metrics["reason_stability_n"] == 50


def test_without_an_adverse_reason_or_a_numeric_input_the_stability_is_not_measured(german_subject):
    favourable_only = contributions({FAR: 30})[30:]  # only the mirror images: every decision favourable
    evidence = local_shap(linear_subject(german_subject, favourable_only))
    assert evidence.metrics["n_adverse"] == 0
    assert evidence.metrics["reason_stability"] is None and evidence.metrics["reason_stability_n"] == 0
    assert evidence.missing["reason_stability"].startswith("no adverse decision has a principal reason")

    subject = linear_subject(german_subject, contributions({FAR: 30}))
    subject = dataclasses.replace(subject, feature_types={"a": "categorical", "b": "categorical"})
    evidence = local_shap(subject)
    assert evidence.metrics["reason_stability"] is None and evidence.metrics["reason_stability_n"] == 0
    assert evidence.missing["reason_stability"].startswith("no numeric input with a spread to move")
    assert not any("Reason stability measures" in limit for limit in evidence.limits)


def test_pure_helpers():
    from audit.explain.reason_stability import nudge, reason_overlap, spreads

    before = np.array([[2, 0, -1], [1, -1, -1], [-1, -1, -1]])
    after = np.array([[0, 3, 2], [0, -1, -1], [1, -1, -1]])
    overlap = reason_overlap(before, after)
    assert overlap[0] == 1.0 and overlap[1] == 0.0 and np.isnan(overlap[2])
    assert reason_overlap(np.array([[4, 1]]), np.array([[1, -1]]))[0] == 0.5
    X = pd.DataFrame({"age": [30, 40, 50], "job": ["x", "y", "z"], "flat": [1.0, 1.0, 1.0],
                      "gap": [1.0, np.nan, 3.0]})
    steps = spreads(X, ["age", "flat", "gap"])
    assert steps == {"age": pytest.approx(np.std([30, 40, 50])), "gap": 1.0}  # flat: no spread, not moved
    moved = nudge(X, steps, np.array([[1, -1], [-1, 1], [1, 1]]))
    assert moved["age"].tolist() == pytest.approx([30 + 0.01 * steps["age"], 40 - 0.01 * steps["age"],
                                                   50 + 0.01 * steps["age"]])
    assert moved["age"].dtype == float  # a whole-number column keeps the sub-unit move
    assert moved["gap"].iloc[0] == 0.99 and np.isnan(moved["gap"].iloc[1])
    assert moved["job"].tolist() == ["x", "y", "z"] and X["age"].tolist() == [30, 40, 50]
    with pytest.raises(ValueError, match="signs must be 3 rows x 2 features"):
        nudge(X, steps, np.ones((3, 1)))
