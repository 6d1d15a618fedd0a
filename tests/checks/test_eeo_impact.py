"""fairness.eeo_impact on a small constructed audit, every figure checked against pandas by hand.

The data: 300 applicants; sex F/M, race A (large), B (20 people: under the general minimum of
30 but over 2 %) and C (5 people: under 2 %), and an age declared with kind "age", which is
no EEO category and must never enter these figures. Decisions are drawn at random with
rates that differ by race, sex and age.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.checks import CheckContext
from audit.checks._eeo import EVIDENCE_ID, NO_EEO_ATTRIBUTE, eeo_evidence
from audit.checks._longform import metrics_rows
from audit.evidence import Evidence, EvidenceStatus
from audit.spec import load_spec
from audit.subject import load_subject

TOL = 1e-12
N = 300
CROSS = " × "
SEX_RACE_AGE = [{"column": "sex", "kind": "sex"}, {"column": "race", "kind": "race"},
                {"column": "age", "kind": "age", "bins": [0, 25, 200], "labels": ["under 25", "25 and over"]}]
EXCLUSION = {"justification": "categories under 2 % are too small to estimate a rate", "by": "J. Auditor, 2026-05-01"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The applicants with their decision ("yes" = the positive decision) and a score."""
    rng = np.random.default_rng(20260554)  # no tie at the top or bottom of any breakdown
    race = np.array(["A"] * (N - 25) + ["B"] * 20 + ["C"] * 5, dtype=object)
    rng.shuffle(race)
    sex = rng.choice(np.array(["F", "M"], dtype=object), size=N)
    age = rng.integers(18, 70, size=N).astype(float)
    chance = np.select([race == "A", race == "B"], [0.45, 0.95], 0.5) * np.where(sex == "F", 0.8, 1.0)
    chance = chance * np.where(age < 25, 0.2, 1.0)  # age disfavoured most: it must not show up here
    decision = rng.random(N) < chance
    return pd.DataFrame({
        "person_id": [f"P{i:03d}" for i in range(N)],
        "sex": sex,
        "race": race,
        "age": age,
        "experience": rng.integers(0, 20, size=N),
        "decision": np.where(decision, "yes", "no"),
        "score": np.round(chance + rng.normal(0, 0.2, size=N), 6),
    })


def _evidence(tmp_path, frame: pd.DataFrame, protected: list, *, fairness: dict | None = None,
              favourable: str = "positive", use: str = "classification") -> Evidence:
    """Write the data and a predictions-only spec, load them as the tool does, and build the evidence."""
    frame.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "system": {"name": "Screening", "version": "1", "provider": "Example", "intended_purpose": "screening",
                   "role": "deployer", "jurisdictions": ["US-NYC"], "use": use},
        "model": {"format": "none"},
        "data": {"path": "data.csv", "id_column": "person_id", "favourable_decision": favourable,
                 "protected": protected,
                 "decision": {"column": "decision", "positive_values": ["yes"], "score_column": "score"}},
        "fairness": {"bootstrap": 200, **(fairness or {})},
        "seed": 11,
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    return eeo_evidence(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))


def _table(evidence: Evidence, breakdown: str) -> dict[str, dict]:
    table = next(t for t in evidence.tables if t.title == f"LL144 summary: {breakdown}")
    return {r["Category"]: r for r in table.records()}


def _note(evidence: Evidence, breakdown: str) -> str:
    return next(t for t in evidence.tables if t.title == f"LL144 summary: {breakdown}").note or ""


def _by_hand(frame: pd.DataFrame, favourable: pd.Series) -> dict[str, pd.DataFrame]:
    """Size, favourable count and rate per category of sex, race and sex × race, with pandas alone."""
    data = frame.assign(fav=favourable.to_numpy())
    out = {}
    for name, columns in (("sex", ["sex"]), ("race", ["race"]), ("sex × race", ["sex", "race"])):
        grouped = data.dropna(subset=columns).groupby(columns)["fav"].agg(["size", "sum", "mean"])
        grouped.index = [CROSS.join(k) if isinstance(k, tuple) else k for k in grouped.index]
        out[name] = grouped
    return out


def _key(breakdown: str, category: str) -> str:
    return " & ".join(f"{a}={v}" for a, v in zip(breakdown.split(CROSS), category.split(CROSS), strict=True))


def _expected_min(hand: dict[str, pd.DataFrame], included: dict[str, pd.Index] | None = None) -> tuple[float, str]:
    """Lowest rate ÷ highest rate of the same breakdown over the categories compared, and its key."""
    candidates = {}
    for name, table in hand.items():
        kept = table if included is None else table.loc[included[name]]
        for category, rate in (kept["mean"] / kept["mean"].max()).items():
            if category != kept["mean"].idxmax():
                candidates[_key(name, category)] = rate
    key = min(candidates, key=lambda k: candidates[k])
    return candidates[key], key


def _p_value(hand: dict[str, pd.DataFrame], key: str, included: dict[str, pd.Index] | None = None) -> float:
    """The category's rate against the reference's: pooled two-proportion z-test, or Fisher's exact test when an
    expected cell is under 5 (the rule selection_rate uses), recomputed with scipy."""
    from scipy.stats import fisher_exact, norm

    parts = [part.split("=") for part in key.split(" & ")]
    name = CROSS.join(a for a, _ in parts)
    table = hand[name] if included is None else hand[name].loc[included[name]]
    category, reference = CROSS.join(v for _, v in parts), table["mean"].idxmax()
    x1, n1 = int(table.loc[category, "sum"]), int(table.loc[category, "size"])
    x2, n2 = int(table.loc[reference, "sum"]), int(table.loc[reference, "size"])
    pooled = (x1 + x2) / (n1 + n2)
    if min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)) < 5:
        return float(fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue)
    return float(2 * norm.sf(abs(x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))))


def test_age_alone_is_no_eeo_category_and_is_not_assessed(tmp_path, frame):
    for protected in ([SEX_RACE_AGE[2]], ["sex", SEX_RACE_AGE[2]]):  # age; sex with no kind declared
        evidence = _evidence(tmp_path, frame, protected)
        assert evidence.status is EvidenceStatus.NOT_ASSESSED and not evidence.metrics
        assert evidence.reason == NO_EEO_ATTRIBUTE == (
            "no protected attribute is declared as sex, race, ethnicity or race_ethnicity (data.protected[].kind)")


def test_rates_and_impact_ratios_match_pandas_with_no_minimum_size(tmp_path, frame):
    evidence = _evidence(tmp_path, frame, SEX_RACE_AGE)
    hand = _by_hand(frame, frame["decision"] == "yes")
    assert [t.title for t in evidence.tables if t.in_report] == [
        "LL144 summary: sex", "LL144 summary: race", "LL144 summary: sex × race"]  # no age, no age crossing
    assert hand["race"].loc["C", "size"] == 5
    for name, expected in hand.items():
        table = _table(evidence, name)
        assert set(table) == set(expected.index)
        top = expected["mean"].max()
        for category, row in expected.iterrows():
            ours = table[category]
            assert ours["Number of applicants"] == row["size"] and ours["Number selected"] == row["sum"]
            assert ours["Selection rate"] == pytest.approx(row["mean"], abs=TOL)
            assert ours["Impact ratio"] == pytest.approx(row["mean"] / top, abs=TOL)  # C (5 people) compared too
            assert ours["Excluded from impact ratio (why)"] == ""
        assert f"({expected['mean'].idxmax()})" in _note(evidence, name)  # the reference: the highest rate
    metrics = evidence.metrics
    lowest, key = _expected_min(hand)
    assert metrics["min_impact_ratio"] == pytest.approx(lowest, abs=TOL) and metrics["min_impact_ratio_group"] == key
    assert not key.startswith("age")
    assert metrics["min_impact_ratio_ci_low"] <= metrics["min_impact_ratio_ci_high"]
    assert metrics["sex_reported"] and metrics["race_ethnicity_reported"] and metrics["intersection_reported"]
    assert metrics["breakdowns"] == "sex, race, sex × race" and metrics["rate_kind"] == "selection"
    assert metrics["n_applicants"] == N and metrics["n_excluded"] == 0 and metrics["unknown_count"] == 0
    assert evidence.partial == {}
    assert metrics["min_impact_ratio_p_value"] == pytest.approx(_p_value(hand, key), rel=1e-9)
    # 29 CFR 1607.4(D)'s own minimum: sex and race alone, the intersection left out
    single = {name: hand[name] for name in ("sex", "race")}
    lowest_single, key_single = _expected_min(single)
    assert metrics["min_attribute_impact_ratio"] == pytest.approx(lowest_single, abs=TOL)
    assert metrics["min_attribute_impact_ratio_group"] == key_single and " & " not in key_single
    assert metrics["min_attribute_impact_ratio_p_value"] == pytest.approx(_p_value(hand, key_single), rel=1e-9)
    # metrics.csv rows of this evidence, by hand too
    rows = [r for r in metrics_rows([evidence]) if r["check"] == EVIDENCE_ID]
    ratio = next(r for r in rows if r["metric"] == "impact_ratio" and r["attribute"] == "race" and r["group"] == "C")
    assert ratio["value"] == pytest.approx(hand["race"].loc["C", "mean"] / hand["race"]["mean"].max(), abs=TOL)
    assert ratio["n"] == 5
    assert next(r for r in rows if r["metric"] == "min_impact_ratio")["value"] == metrics["min_impact_ratio"]


def test_small_category_exclusion_only_when_the_auditor_chooses_it(tmp_path, frame):
    hand = _by_hand(frame, frame["decision"] == "yes")
    small = {name: table.index[table["size"] / N < 0.02] for name, table in hand.items()}
    included = {name: table.index[table["size"] / N >= 0.02] for name, table in hand.items()}
    assert list(small["race"]) == ["C"] and len(small["sex × race"]) >= 2  # F × C and M × C at least
    evidence = _evidence(tmp_path, frame, SEX_RACE_AGE, fairness={"small_category_exclusion": EXCLUSION})
    why = f"under 2 % of the data, excluded by {EXCLUSION['by']}: {EXCLUSION['justification']}"
    for name, table in hand.items():
        ours = _table(evidence, name)
        kept = table.loc[included[name]]
        assert set(ours) == set(table.index)  # excluded categories are still shown
        for category in table.index:
            assert ours[category]["Number of applicants"] == table.loc[category, "size"]
            assert ours[category]["Selection rate"] == pytest.approx(table.loc[category, "mean"], abs=TOL)
            if category in small[name]:
                assert ours[category]["Impact ratio"] is None
                assert ours[category]["Excluded from impact ratio (why)"] == why
            else:
                expected = table.loc[category, "mean"] / kept["mean"].max()
                assert ours[category]["Impact ratio"] == pytest.approx(expected, abs=TOL)
        if len(small[name]):
            assert EXCLUSION["justification"] in _note(evidence, name) and EXCLUSION["by"] in _note(evidence, name)
    metrics = evidence.metrics
    assert metrics["n_excluded"] == sum(len(v) for v in small.values())
    lowest, key = _expected_min(hand, included)
    assert metrics["min_impact_ratio"] == pytest.approx(lowest, abs=TOL) and metrics["min_impact_ratio_group"] == key
    assert metrics["min_impact_ratio_p_value"] == pytest.approx(_p_value(hand, key, included), rel=1e-9)
    assert key != _expected_min(hand)[1]  # the exclusion moved the lowest ratio off a small category
    assert "min_impact_ratio" in evidence.partial and EXCLUSION["by"] in evidence.partial["min_impact_ratio"]
    assert evidence.params["min_category_share"] == 0.02 and evidence.params["excluded_by"] == EXCLUSION["by"]
    # without the auditor's choice the same category is compared
    compared = _evidence(tmp_path, frame, SEX_RACE_AGE)
    assert _table(compared, "race")["C"]["Impact ratio"] == pytest.approx(
        hand["race"].loc["C", "mean"] / hand["race"]["mean"].max(), abs=TOL)
    assert compared.metrics["n_excluded"] == 0 and compared.partial == {}


def test_unknown_count_counts_missing_eeo_values_only(tmp_path, frame):
    data = frame.copy()
    data.loc[[3, 10, 17], "sex"] = np.nan
    data.loc[[10, 25], "race"] = np.nan  # row 10 unknown in both: one person
    data.loc[[40, 41], "age"] = np.nan  # age is no EEO category: not counted here
    evidence = _evidence(tmp_path, data, SEX_RACE_AGE)
    unknown = data["sex"].isna() | data["race"].isna()
    assert evidence.metrics["unknown_count"] == unknown.sum() == 4
    hand = _by_hand(data, data["decision"] == "yes")
    for name, column_unknown in (("sex", data["sex"].isna()), ("race", data["race"].isna()), ("sex × race", unknown)):
        table = _table(evidence, name)
        assert sum(r["Number of applicants"] for r in table.values()) == N - column_unknown.sum()
        assert f"{column_unknown.sum()} people whose {name} is unknown" in _note(evidence, name)
        for category, row in hand[name].iterrows():
            assert table[category]["Selection rate"] == pytest.approx(row["mean"], abs=TOL)


def test_a_risk_flag_uses_the_not_flagged_rate(tmp_path, frame):
    evidence = _evidence(tmp_path, frame, SEX_RACE_AGE, favourable="negative")  # "yes" = flagged, adverse
    flagged = frame["decision"] == "yes"
    hand = _by_hand(frame, ~flagged)
    for name, expected in hand.items():
        table = _table(evidence, name)
        for category, row in expected.iterrows():
            ours = table[category]
            assert ours["Number not flagged"] == row["sum"]
            assert ours["Not-flagged rate"] == pytest.approx(row["mean"], abs=TOL)
            assert ours["Flag rate"] == pytest.approx(1 - row["mean"], abs=TOL)
            assert ours["Impact ratio"] == pytest.approx(row["mean"] / expected["mean"].max(), abs=TOL)
        assert "least flagged category" in _note(evidence, name)
    lowest, key = _expected_min(hand)
    assert evidence.metrics["min_impact_ratio"] == pytest.approx(lowest, abs=TOL)
    assert evidence.metrics["min_impact_ratio_group"] == key
    flag_rates = frame.groupby("race")["decision"].apply(lambda d: (d == "yes").mean())
    race = _table(evidence, "race")
    assert min(race, key=lambda c: race[c]["Impact ratio"]) == flag_rates.idxmax()  # most flagged: lowest ratio


def test_a_category_under_30_but_over_2_percent_stays_and_can_be_the_reference(tmp_path, frame):
    """The German credit case: the general rules (30 people) drop the most selected group; LL144 does not."""
    from audit.checks._selection import selection_evidence
    from audit.fairness.groups import build_breakdowns

    hand = _by_hand(frame, frame["decision"] == "yes")["race"]
    assert hand["mean"].idxmax() == "B" and 0.02 <= hand.loc["B", "size"] / N and hand.loc["B", "size"] < 30
    evidence = _evidence(tmp_path, frame, SEX_RACE_AGE)
    race = _table(evidence, "race")
    assert race["B"]["Impact ratio"] == 1.0 and race["B"]["Excluded from impact ratio (why)"] == ""
    assert race["A"]["Impact ratio"] == pytest.approx(hand.loc["A", "mean"] / hand.loc["B", "mean"], abs=TOL)
    assert "most selected category (B)" in _note(evidence, "race")
    cross = _by_hand(frame, frame["decision"] == "yes")["sex × race"]
    assert cross["mean"].idxmax().endswith("B") and cross["mean"].max() == pytest.approx(11 / 12)
    assert _table(evidence, "sex × race")[cross["mean"].idxmax()]["Impact ratio"] == 1.0
    # the general evidence keeps its own rules: B is left out there, so its reference is another group
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    general = selection_evidence(subject, CheckContext(spec=subject.spec, seed=1), build_breakdowns(subject.groups, []))
    detail = {r["group"]: r for r in general.tables[0].records() if r["breakdown"] == "race"}
    assert detail["B"]["impact ratio"] is None and detail["A"]["reference"] == "most favoured"
    assert not any(t.title.startswith("LL144 summary") for t in general.tables)


def test_scoring_rate_is_the_share_above_the_median(tmp_path, frame):
    evidence = _evidence(tmp_path, frame, SEX_RACE_AGE, use="scoring")
    hand = _by_hand(frame, frame["score"] > frame["score"].median())
    assert evidence.metrics["rate_kind"] == "scoring"
    for name, expected in hand.items():
        table = _table(evidence, name)
        for category, row in expected.iterrows():
            assert table[category]["Number scoring above median"] == row["sum"]
            assert table[category]["Scoring rate"] == pytest.approx(row["mean"], abs=TOL)
            assert table[category]["Impact ratio"] == pytest.approx(row["mean"] / expected["mean"].max(), abs=TOL)


def test_only_one_category_is_not_reported_and_not_measured(tmp_path, frame):
    data = frame.assign(sex="F")
    evidence = _evidence(tmp_path, data, SEX_RACE_AGE, fairness={"bootstrap": 0})
    metrics = evidence.metrics
    assert metrics["sex_reported"] is False and metrics["race_ethnicity_reported"] is True
    assert metrics["intersection_reported"] is True  # F × A, F × B, F × C
    assert metrics["min_impact_ratio"] is not None and "sex was not compared" in evidence.partial["min_impact_ratio"]
    assert metrics["min_impact_ratio_ci_low"] is None and "bootstrap" in evidence.missing["min_impact_ratio_ci_low"]
    alone = _evidence(tmp_path, data, [SEX_RACE_AGE[0]], fairness={"bootstrap": 0})
    assert alone.metrics["min_impact_ratio"] is None and "sex was not compared" in alone.missing["min_impact_ratio"]
    assert alone.metrics["race_ethnicity_reported"] is False and alone.metrics["breakdowns"] == "sex"
    assert alone.metrics["intersection_reported"] is False
    assert "No protected attribute is declared as race, ethnicity or race_ethnicity" in alone.summary


def test_the_fairness_check_produces_it_after_the_selection_rates(tmp_path, frame):
    from audit.checks._fairness_run import EVIDENCE_IDS

    assert list(EVIDENCE_IDS)[:2] == ["fairness.selection_rate", EVIDENCE_ID]
    assert EVIDENCE_IDS[EVIDENCE_ID][0] == "fairness"
