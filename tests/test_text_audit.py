"""Free-text decision systems (issue 13, text part): token attributions and the term-swap flip test.

Independent truth: the example's own generator (examples/adult-cv-screening/make_profiles.py) writes
every profile again as the same person of the other sex, so the swapped texts and the flip rate are
recomputed without our swap lists; token attributions are recomputed from the fitted vectoriser and
coefficients by hand; the neutral model (trained without gendered words) must not flip.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.checks._base import CheckContext
from audit.checks._flip import flip_evidence
from audit.checks._term_swap import ALL_FAMILIES, term_swap
from audit.explain.tokens import token_attributions
from audit.spec import load_spec
from audit.subject import Subject, load_subject
from audit.text.swaps import load_families, merge_families, swap_texts

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-cv-screening"


def _generator() -> Any:
    found = importlib.util.spec_from_file_location("cv_make_profiles", EXAMPLE / "make_profiles.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def _subject(tmp: Path, model: str = "model.skops") -> Subject:
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(EXAMPLE / model)
    spec["data"]["path"] = str(EXAMPLE / "profiles.csv")
    spec["fairness"]["bootstrap"] = 200
    (tmp / f"{model}.yaml").write_text(yaml.safe_dump(spec))
    return load_subject(load_spec(tmp / f"{model}.yaml"))


@pytest.fixture(scope="module")
def gendered(tmp_path_factory: pytest.TempPathFactory) -> Subject:
    return _subject(tmp_path_factory.mktemp("cv"))


@pytest.fixture(scope="module")
def other_sex() -> pd.DataFrame:
    """The audit people as the generator writes them, and as it writes them for the other sex."""
    make = _generator()
    _, audit = make.load_sample()
    return audit.assign(swapped=[make.profile(row, swap=True) for _, row in audit.iterrows()])


def test_profiles_csv_is_the_generators_audit_half(other_sex: pd.DataFrame):
    shipped = pd.read_csv(EXAMPLE / "profiles.csv")
    assert list(shipped["person_id"]) == list(other_sex["person_id"])
    assert list(shipped["profile"]) == list(other_sex["profile"])


def test_swap_lists_write_the_generators_other_sex_text(other_sex: pd.DataFrame):
    every = merge_families(load_families())
    swapped, counts = swap_texts(list(other_sex["profile"]), family=every)
    assert (counts > 0).all()
    differing = [i for i, (a, b) in enumerate(zip(swapped, other_sex["swapped"], strict=True)) if a != b]
    assert not differing, [(swapped[i], other_sex["swapped"].iloc[i]) for i in differing[:3]]


def test_term_swap_flip_rate_equals_the_generators_counterfactual(gendered: Subject, other_sex: pd.DataFrame):
    ctx = CheckContext(spec=gendered.spec, seed=gendered.spec.seed)
    result = term_swap(gendered, column="profile", rng=ctx.rng(1), n_boot=200)
    overall = next(r for r in result.rates if r.family == ALL_FAMILIES)
    import skops.io as sio

    model = sio.load(EXAMPLE / "model.skops", trusted=sio.get_untrusted_types(file=EXAMPLE / "model.skops"))
    before = model.predict(pd.DataFrame({"profile": other_sex["profile"]}))
    after = model.predict(pd.DataFrame({"profile": other_sex["swapped"]}))
    flips = int((before != after).sum())
    assert overall.touched == len(other_sex) and overall.flips == flips and flips > 0
    assert result.max_rate == pytest.approx(flips / len(other_sex), abs=1e-12)
    low, high = overall.ci
    assert low is not None and high is not None and low <= result.max_rate <= high


def test_the_flip_evidence_reads_the_text_swap_and_the_neutral_model_does_not_flip(gendered: Subject, tmp_path: Path):
    ctx = CheckContext(spec=gendered.spec, seed=gendered.spec.seed)
    evidence = flip_evidence(gendered, ctx)
    assert evidence.metrics["max_flip_rate_direct"] is None  # sex is no column of the model
    assert evidence.metrics["max_flip_rate"] == evidence.metrics["max_flip_rate_text"] > 0
    neutral = _subject(tmp_path, "model-neutral.skops")
    quiet = flip_evidence(neutral, CheckContext(spec=neutral.spec, seed=neutral.spec.seed))
    assert quiet.metrics["max_flip_rate_text"] == 0.0  # measured, and zero: it never saw a gendered word
    assert quiet.metrics["max_flip_rate"] == 0.0 and "max_flip_rate" not in quiet.missing


def test_token_attributions_are_coefficient_times_tfidf(gendered: Subject):
    found = token_attributions(gendered.model, gendered.X, "profile")
    assert not isinstance(found, str)
    pipeline = gendered.model.estimator
    vectorizer = pipeline[0].named_transformers_["text"]
    coef = pipeline[-1].coef_.reshape(-1)
    tfidf = vectorizer.transform(gendered.X["profile"]).toarray()
    by_hand = tfidf * coef[None, :]  # the only block of the ColumnTransformer: columns in vocabulary order
    np.testing.assert_allclose(found.values.toarray(), by_hand, rtol=0, atol=1e-9)
    assert list(found.tokens) == list(vectorizer.get_feature_names_out())
    logit = pipeline.decision_function(gendered.X)
    np.testing.assert_allclose(by_hand.sum(axis=1) + pipeline[-1].intercept_[0], logit, rtol=0, atol=1e-9)
    assert found.additivity_error.max() < 1e-9


@pytest.fixture(scope="module")
def cv_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from audit.pipeline import run_audit

    work = tmp_path_factory.mktemp("cvaudit")
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "profiles.csv")
    spec["fairness"]["bootstrap"] = 200
    spec["report"] = {"examples": False}  # the default: no person's data in the report
    (work / "audit.yaml").write_text(yaml.safe_dump(spec))
    return run_audit(work / "audit.yaml", output=work / "reports").bundle_dir


def test_the_audit_explains_by_words_and_shows_no_ones_text(cv_bundle: Path):
    result = json.loads((cv_bundle / "audit.json").read_text())
    evidence = {e["id"]: e for e in result["evidence"]}
    tokens = evidence["local.tokens"]["metrics"]
    assert tokens["n_explained"] == 4000 and tokens["additivity_error_max"] < 1e-9
    # The reasons carry the decisions: deleting them moves the probability far more than deleting random words.
    assert tokens["comprehensiveness"] > 5 * tokens["random_comprehensiveness"] > 0
    decisions = pd.read_parquet(cv_bundle / "decisions.parquet")
    assert decisions["token_reasons:profile"].str.len().gt(0).all()
    # Tabular methods that would treat a text as a value say why they did not run.
    for key in ("importance.surrogate", "importance.pdp", "local.lime", "counterfactual.recourse"):
        assert evidence[key]["status"] == "not_assessed", key
    proxies = evidence["data.proxies"]
    assert not any(r[1] == "profile" for t in proxies["tables"] for r in t["rows"] if "feature" in t["columns"][:2])
    # No person's words in the report: not one profile appears in the HTML.
    html = (cv_bundle / "report.html").read_text()
    profiles = pd.read_csv(EXAMPLE / "profiles.csv")["profile"]
    assert not any(text[:60] in html for text in profiles)
    assert not evidence["local.tokens"]["charts"]


def test_highlights_only_when_the_spec_names_the_text_column(gendered: Subject):
    """The example's spec names `profile` in report.example_fields (its texts are generated): four texts drawn,
    every word in order, each coloured by its own token's attribution (None where the word is no token)."""
    from audit.checks._tokens import HIGHLIGHTS, token_evidence

    assert gendered.spec.report.examples and "profile" in gendered.spec.report.example_fields
    evidence = token_evidence(gendered, CheckContext(spec=gendered.spec, seed=gendered.spec.seed))
    assert len(evidence.charts) == HIGHLIGHTS and all(c.kind == "tokens" for c in evidence.charts)
    # Independent truth: scikit-learn's own vectoriser, analyser and coefficients.
    vectorizer = gendered.model.estimator[0].named_transformers_["text"]
    coef = gendered.model.estimator[-1].coef_.reshape(-1)
    vocabulary = {str(t): j for j, t in enumerate(vectorizer.get_feature_names_out())}
    analyse = vectorizer.build_analyzer()
    for chart in evidence.charts:
        person = chart.id.removeprefix("tokens-")
        i = int(np.flatnonzero(gendered.ids == person)[0])
        assert chart.labels == str(gendered.X["profile"].iloc[i]).split()
        row = vectorizer.transform(gendered.X["profile"].iloc[[i]]).toarray().reshape(-1) * coef
        for word, value in zip(chart.labels, chart.values, strict=True):
            known = [vocabulary[t] for t in analyse(word) if t in vocabulary]
            if not known:
                assert value is None
            else:
                assert value == pytest.approx(sum(row[j] for j in known), abs=1e-12)


def test_lime_agreement_is_the_overlap_lime_itself_gives(gendered: Subject):
    """One decision through lime directly (same seed, same settings): the overlap is recomputed by hand."""
    from lime.lime_text import LimeTextExplainer

    from audit.explain.tokens import lime_agreement, top_tokens

    found = token_attributions(gendered.model, gendered.X, "profile")
    assert not isinstance(found, str)
    decision = np.asarray(gendered.predictions.decision, dtype=bool)
    reasons = top_tokens(found, decision, k=4)
    row = int(np.flatnonzero([bool(r) for r in reasons])[3])
    got = lime_agreement(model=gendered.model, X=gendered.X, column="profile", reasons=reasons, decision=decision,
                         rows=np.array([row]), seed=7, k=4, num_samples=300)

    def fn(texts: list[str]) -> np.ndarray:
        p = gendered.model.estimator.predict_proba(pd.DataFrame({"profile": texts}))[:, 1]
        return np.column_stack([1 - p, p])

    explained = LimeTextExplainer(class_names=["negative", "positive"], random_state=7 + row, bow=True).explain_instance(
        str(gendered.X["profile"].iloc[row]), fn, num_features=12, num_samples=300)
    weights: dict[str, float] = {}
    for word, weight in explained.as_list(label=1):
        weights[word.lower()] = weights.get(word.lower(), 0.0) + weight
    sign = 1.0 if decision[row] else -1.0
    lime_top = [w for w, v in sorted(weights.items(), key=lambda item: -sign * item[1]) if sign * v > 0][:4]
    exact = [t for t, _ in reasons[row]]
    assert got.rows == 1
    assert got.agreement == pytest.approx(len(set(exact) & set(lime_top)) / len(exact), abs=1e-12)
    assert got.same_first == float(lime_top[0] == exact[0])
