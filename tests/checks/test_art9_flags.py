"""GDPR Art. 9(2) basis and Art. 22(4) for special-category model inputs (data.proxies), branch by branch."""

from __future__ import annotations

import dataclasses

import pytest

from audit.checks import CheckContext
from audit.checks._proxies import ART9_FLAGS, SOLELY_AUTOMATED_UNKNOWN, proxy_evidence, special_category_bases
from audit.spec import ProtectedSpec

NO_SPECIAL = ("no protected attribute is declared a special category of data (data.protected[].special_category: "
              "racial or ethnic origin, religion, health, ...), so their use cannot be checked")
INPUTS = ["income", "religion", "health"]


def special(column: str, basis: str | None = None) -> ProtectedSpec:
    return ProtectedSpec(column=column, special_category=True, art9_basis=basis)


CONSENT = "9(2)(a) explicit consent, collected in the application form"
PUBLIC = "Art. 9(2)(g) substantial public interest under the Equality Act 2010, Sch. 1 para 8"
EMPLOYMENT = "9(2)(b) employment and social security law"
HEALTH = "9(2)(h) occupational medicine"


@pytest.mark.parametrize(("protected", "solely", "without_basis", "outside", "missing"), [
    # no attribute declared a special category: neither can be checked
    ([ProtectedSpec(column="religion")], True, None, None, {f: NO_SPECIAL for f in ART9_FLAGS}),
    # declared, not a model input: nothing to base, whatever the automation
    ([special("ethnicity")], None, False, False, {}),
    ([special("ethnicity")], True, False, False, {}),
    # an input without a basis
    ([special("religion")], True, True, True, {}),
    ([special("religion")], False, True, False, {}),
    ([special("religion")], None, True, None, {"special_category_feature_outside_22_4": SOLELY_AUTOMATED_UNKNOWN}),
    # an input on (a) or (g): allowed even for solely automated decisions
    ([special("religion", CONSENT)], True, False, False, {}),
    ([special("religion", PUBLIC)], True, False, False, {}),
    ([special("religion", PUBLIC)], None, False, False, {}),
    # an input on another point: a basis, but not one Art. 22(4) accepts
    ([special("religion", EMPLOYMENT)], True, False, True, {}),
    ([special("religion", EMPLOYMENT)], False, False, False, {}),
    ([special("religion", HEALTH)], None, False, None, {"special_category_feature_outside_22_4": SOLELY_AUTOMATED_UNKNOWN}),
    # two inputs: one on (a), one on (h); and one on (g) with one without a basis
    ([special("religion", CONSENT), special("health", HEALTH)], True, False, True, {}),
    ([special("religion", PUBLIC), special("health")], True, True, True, {}),
    ([special("religion", PUBLIC), special("health")], False, True, False, {}),
])
def test_special_category_bases_branch_by_branch(protected, solely, without_basis, outside, missing):
    flags = special_category_bases(protected, INPUTS, solely_automated=solely)
    assert (flags.without_basis, flags.outside_22_4) == (without_basis, outside)
    assert flags.missing == missing


def test_the_columns_named_are_the_ones_at_fault():
    flags = special_category_bases([special("religion", PUBLIC), special("health", HEALTH), special("ethnicity")],
                                   INPUTS, solely_automated=True)
    assert flags.unbased == [] and flags.outside == ["health"]  # ethnicity is not an input


def test_art9_point_is_read_from_the_basis():
    assert special("x", PUBLIC).art9_point == "g" and special("x", CONSENT).art9_point == "a"
    assert special("x").art9_point is None


@pytest.fixture(scope="module")
def foreign_worker(german_subject):
    """German credit with foreign_worker (a model input) declared a special category, sex one that is not an input."""
    def build(basis: str | None, solely: bool | None, *, model: bool = True):
        spec = german_subject.spec
        spec = spec.model_copy(update={"system": spec.system.model_copy(update={"solely_automated": solely})})
        protected = [ProtectedSpec(column="sex", special_category=True),
                     ProtectedSpec(column="foreign_worker", special_category=True, art9_basis=basis)]
        subject = dataclasses.replace(german_subject, spec=spec, protected=protected,
                                      groups=german_subject.groups[["sex", "foreign_worker"]],
                                      model=german_subject.model if model else None)
        evidence, _ = proxy_evidence(subject, CheckContext(spec=spec, seed=1))
        return evidence

    return build


def test_proxy_evidence_carries_the_flags_with_their_reasons(foreign_worker):
    evidence = foreign_worker(None, True)
    m = evidence.metrics
    assert m["special_category_used_as_feature"] is True
    assert m["special_category_feature_without_basis"] is True and m["special_category_feature_outside_22_4"] is True
    assert "No GDPR Art. 9(2) basis is recorded for foreign_worker" in evidence.summary
    assert "rests on no Art. 9(2)(a) explicit consent or (g)" in evidence.summary
    assert any("art9_basis); whether it actually applies is not checked" in limit for limit in evidence.limits)

    evidence = foreign_worker(EMPLOYMENT, None)
    assert evidence.metrics["special_category_feature_without_basis"] is False
    assert evidence.metrics["special_category_feature_outside_22_4"] is None
    assert evidence.missing["special_category_feature_outside_22_4"] == SOLELY_AUTOMATED_UNKNOWN
    assert f"foreign_worker: {EMPLOYMENT}" in evidence.summary

    evidence = foreign_worker(PUBLIC, True)
    assert evidence.metrics["special_category_feature_without_basis"] is False
    assert evidence.metrics["special_category_feature_outside_22_4"] is False
    assert not any(k.startswith("special_category") for k in evidence.missing)


def test_without_model_access_the_inputs_and_so_both_flags_are_unknown(foreign_worker):
    evidence = foreign_worker(None, True, model=False)
    for name in ("special_category_used_as_feature", *ART9_FLAGS):
        assert evidence.metrics[name] is None
        assert evidence.missing[name].startswith("no model access (predictions-only audit)")
    assert "Art. 9(2)" not in evidence.summary


def test_adult_race_is_special_but_not_an_input(adult_subject):
    """The Adult spec declares race special category; the model does not take it, so neither flag is raised."""
    flags = special_category_bases(adult_subject.protected, list(adult_subject.X.columns),
                                   solely_automated=adult_subject.spec.system.solely_automated)
    assert flags.without_basis is False and flags.outside_22_4 is False and flags.missing == {}
