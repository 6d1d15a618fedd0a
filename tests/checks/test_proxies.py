"""The proxy screen: finds relationship and marital status as proxies for sex in Adult; measures match scipy/sklearn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from audit.checks import CheckContext
from audit.checks._proxies import proxy_evidence
from audit.fairness.associations import association_counts, cramers_v_of_table, nmi_of_table


@pytest.fixture(scope="module")
def screen(adult_subject):
    """The Adult proxy screen, computed once: (evidence, strong proxies per attribute)."""
    ctx = CheckContext(spec=adult_subject.spec, seed=adult_subject.spec.seed)
    return proxy_evidence(adult_subject, ctx)


def test_relationship_and_marital_status_are_proxies_for_sex(screen):
    evidence, found = screen
    assert {"relationship", "marital-status"} <= set(found["sex"])
    assert found["sex"][0] == "relationship"  # sorted by strength
    assert evidence.metrics["strongest_proxy"] == "relationship for sex"
    assert evidence.metrics["max_cramers_v"] >= 0.3  # the proxy_strength reference of policies/thresholds.yaml
    assert evidence.metrics["proxy_auc_max"] > 0.85 and evidence.metrics["proxy_auc_max_attribute"] == "sex"
    assert "threshold_source" not in evidence.metrics  # the screen measures; thresholds.yaml holds the reference
    assert "reference 0.3" in evidence.tables[0].note
    pairs = evidence.tables[0].records()
    assert not any(p["attribute"] == "age" and p["feature"] == "age" for p in pairs)  # never compared with itself


def test_protected_attribute_as_model_input_is_reported(screen):
    evidence, _ = screen
    assert evidence.metrics["protected_used_as_feature"] is True  # the Adult model takes age
    assert "age" in evidence.summary
    assert evidence.metrics["special_category_used_as_feature"] is False  # race (special) is not a model input


def test_special_category_input_and_own_threshold(adult_subject):
    from audit.spec import ProtectedSpec, ThresholdOverride

    age = next(p for p in adult_subject.protected if p.column == "age")
    spec = adult_subject.spec.model_copy(
        update={"thresholds": {"proxy_strength": ThresholdOverride(value=0.4, set_by="DPO, 2026-09-01")}}
    )
    subject = dataclasses.replace(
        adult_subject,
        spec=spec,
        groups=adult_subject.groups[["age"]],
        protected=[ProtectedSpec(**{**age.model_dump(), "special_category": True})],
    )
    evidence, found = proxy_evidence(subject, CheckContext(spec=spec, seed=3))
    assert evidence.metrics["special_category_used_as_feature"] is True
    assert "set by DPO, 2026-09-01" in evidence.tables[0].note  # the user's screening value, with who set it
    assert found["age"] == []  # marital status (V 0.375) and relationship (0.342) pass 0.3 but not 0.4


def test_the_check_shares_proxies_for_the_counterfactual_check(adult_subject, screen):
    from audit.checks._fairness_run import fairness_evidence

    # only the sharing is under test: one attribute, no intersections, no bootstrap keeps it quick
    spec = adult_subject.spec
    spec = spec.model_copy(update={"fairness": spec.fairness.model_copy(update={"intersections": [], "bootstrap": 0})})
    small = dataclasses.replace(
        adult_subject, spec=spec, groups=adult_subject.groups[["sex"]], protected=adult_subject.protected[:1]
    )
    ctx = CheckContext(spec=spec, seed=spec.seed)
    fairness_evidence(small, ctx)
    assert ctx.proxies == {"sex": screen[1]["sex"]}


def _table(values: pd.Series, *, numeric: bool) -> np.ndarray:
    """The screen's table of ``values`` against a generated two-group attribute (group = row parity)."""
    groups = pd.DataFrame({"g": np.where(np.arange(len(values)) % 2, "a", "b")})
    counts = association_counts(pd.DataFrame({"x": values}), groups, features=["x"], numeric={"x": numeric})
    return counts.pairs[("x", "g")].contingency(numeric=numeric)


def test_numbers_are_binned_at_distinct_deciles_and_missing_values_kept_apart():
    gains = pd.Series([0] * 90 + list(range(1, 11)), dtype=float)
    table = _table(gains, numeric=True)
    assert table.shape[0] >= 2 and table[0].sum() == 90  # the mass at 0 is one bin
    assert _table(pd.Series(np.arange(100, dtype=float)), numeric=True).shape[0] == 10
    colours = _table(pd.Series(["red", None, "blue", "red", None]), numeric=False)
    assert colours.shape[0] == 3 and sorted(colours.sum(axis=1)) == [1, 2, 2]  # None is one category of two


def test_independent_features_are_not_flagged():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 2, 20_000), rng.integers(0, 5, 20_000)
    table = pd.crosstab(a, b).to_numpy().astype(float)
    assert cramers_v_of_table(table) < 0.05 and nmi_of_table(table) < 0.01
    assert cramers_v_of_table(pd.crosstab(a, a).to_numpy().astype(float)) == pytest.approx(1.0)
