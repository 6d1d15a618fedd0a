"""A PyTorch text model (issue 13, item 1): token ids in, its tokenizer inside the TorchScript file, words attributed
by Integrated Gradients on its embedding layer.

Independent truth: the TorchScript module run directly on ids tokenised here with ``re.findall`` and the vocabulary
of the file (not our tokeniser); Integrated Gradients recomputed in float64 with plain autograd along the straight
path of embeddings, by the trapezoid rule, from the module's own weights written out as formulas (not Captum, not
the layer split); the gender-swapped texts written by the example's own generator.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from audit.checks._base import CheckContext
from audit.errors import AuditInputError
from audit.explain.tokens import TokenAttributions, token_attributions
from audit.spec import load_spec
from audit.subject import Subject, load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-cv-screening"
MODEL = EXAMPLE / "model-torch.pt"


def _spec(tmp: Path, name: str = "torch.yaml", **model: Any) -> Path:
    spec = yaml.safe_load((EXAMPLE / "audit-torch.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(MODEL)
    spec["model"].update(model)
    spec["data"]["path"] = str(EXAMPLE / "profiles.csv")
    spec["fairness"]["bootstrap"] = 200
    (tmp / name).write_text(yaml.safe_dump(spec))
    return tmp / name


@pytest.fixture(scope="module")
def subject(tmp_path_factory: pytest.TempPathFactory) -> Subject:
    return load_subject(load_spec(_spec(tmp_path_factory.mktemp("cvtorch"))))


@pytest.fixture(scope="module")
def module_and_tokenizer() -> tuple[Any, dict[str, Any]]:
    extra = {"audit_tokenizer.json": ""}
    module = torch.jit.load(str(MODEL), _extra_files=extra).eval()
    return module, json.loads(extra["audit_tokenizer.json"])


def _ids_by_hand(texts: list[str], tokenizer: dict[str, Any]) -> torch.Tensor:
    """re.findall on the lower-cased text, the file's vocabulary (unknown id otherwise), padded to max_length."""
    out = torch.full((len(texts), tokenizer["max_length"]), tokenizer["pad_id"], dtype=torch.long)
    for i, text in enumerate(texts):
        words = re.findall(tokenizer["pattern"], text.lower())[:tokenizer["max_length"]]
        for j, word in enumerate(words):
            out[i, j] = tokenizer["vocabulary"].get(word, tokenizer["unknown_id"])
    return out


@pytest.fixture(scope="module")
def attributions(subject: Subject) -> TokenAttributions:
    found = token_attributions(subject.model, subject.X, "profile")
    assert not isinstance(found, str), found
    return found


def test_decisions_are_the_modules_own_on_ids_tokenised_by_hand(subject: Subject, module_and_tokenizer: Any):
    module, tokenizer = module_and_tokenizer
    assert tokenizer["pattern"] == r"(?u)\b\w\w+\b" and tokenizer["embedding"] == "embedding"
    ids = _ids_by_hand(list(subject.X["profile"]), tokenizer)
    with torch.no_grad():
        logit = module(ids).double().numpy().reshape(-1)
    np.testing.assert_array_equal(subject.model.tokenizer.ids(subject.X["profile"]), ids.numpy())
    np.testing.assert_allclose(subject.predictions.score, 1 / (1 + np.exp(-logit)), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(subject.predictions.decision, dtype=bool), logit > 0)
    truth = pd.read_csv(EXAMPLE / "profiles.csv")["income"].eq(">50K").to_numpy()
    assert np.mean((logit > 0) == truth) == pytest.approx(0.827, abs=5e-4)  # the README's accuracy
    # A pickled copy (worker processes) reloads the module and its tokenizer from the file's bytes.
    copy = pickle.loads(pickle.dumps(subject.model))  # noqa: S301 - the bytes this test just wrote
    np.testing.assert_array_equal(copy.predict_score(subject.X.iloc[:50]), subject.predictions.score[:50])


def _ig_by_hand(module: Any, ids: torch.Tensor, pad_id: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per position, IG of the logit along e_pad + a (e_x - e_pad), a in [0, 1], trapezoid rule, float64; and f(x)."""
    weights = {name: p.detach().double() for name, p in module.named_parameters()}
    mask = (ids != pad_id).unsqueeze(-1).double()

    def logit(embedded: torch.Tensor) -> torch.Tensor:  # the example's forward, written out from its weights
        mean = (embedded * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        hidden = torch.tanh(mean @ weights["hidden.weight"].T + weights["hidden.bias"])
        return (hidden @ weights["out.weight"].T + weights["out.bias"]).reshape(-1)

    e_x = weights["embedding.weight"][ids]
    e_b = weights["embedding.weight"][torch.full_like(ids, pad_id)]
    grads = []
    for a in np.linspace(0.0, 1.0, steps + 1):
        point = (e_b + float(a) * (e_x - e_b)).requires_grad_(True)
        (grad,) = torch.autograd.grad(logit(point).sum(), point)
        grads.append(grad)
    stacked = torch.stack(grads)
    mean_grad = (stacked[1:] + stacked[:-1]).sum(dim=0) / (2 * steps)
    return ((e_x - e_b) * mean_grad).sum(dim=2).numpy(), logit(e_x).detach().numpy()


def test_integrated_gradients_are_complete_and_agree_with_plain_autograd(subject: Subject, attributions: Any,
                                                                         module_and_tokenizer: Any):
    module, tokenizer = module_and_tokenizer
    spread = float(attributions.margin.max() - attributions.margin.min())
    gap = attributions.additivity_error
    assert gap.max() < 1e-2 * spread  # measured: 8.1e-07 log-odds, over a score range of 9.9
    assert gap.max() < 1e-5
    rows = np.arange(0, subject.n, 200)  # 20 texts
    texts = list(subject.X["profile"].iloc[rows])
    ids = _ids_by_hand(texts, tokenizer)
    positions, f_x = _ig_by_hand(module, ids, tokenizer["pad_id"], steps=400)
    with torch.no_grad():
        np.testing.assert_allclose(f_x, module(ids).double().numpy().reshape(-1), rtol=0, atol=1e-5)
        f_pad = float(module(torch.full((1, ids.shape[1]), tokenizer["pad_id"], dtype=torch.long)).reshape(-1)[0])
    np.testing.assert_allclose(attributions.margin[rows], f_x, rtol=0, atol=1e-5)
    np.testing.assert_allclose(attributions.rest[rows], f_pad, rtol=0, atol=1e-6)
    column = {str(t): j for j, t in enumerate(attributions.tokens)}
    ours = attributions.values[rows].toarray()
    by_hand = np.zeros_like(ours)
    for i, text in enumerate(texts):
        words = re.findall(tokenizer["pattern"], text.lower())[:tokenizer["max_length"]]
        for j, word in enumerate(words):  # each occurrence's attribution, under the word itself
            by_hand[i, column[word]] += positions[i, j]
    # measured: largest difference 3e-7 (float32 Gauss-Legendre 50 steps against float64 trapezoid 400 steps)
    np.testing.assert_allclose(ours, by_hand, rtol=0, atol=1e-4)
    assert np.abs(by_hand.sum(axis=1) - (f_x - f_pad)).max() < 1e-4  # the hand integral is complete too


def test_local_tokens_on_the_torch_model_is_faithful(subject: Subject):
    from audit.checks._tokens import token_evidence

    evidence = token_evidence(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))
    m = evidence.metrics
    assert evidence.status == "ok" and not evidence.missing
    assert "Integrated Gradients" in m["method"] and "padding only" in m["method"]
    assert m["n_explained"] == subject.n and m["additivity_error_max"] < 1e-5
    # measured (seed 7): comprehensiveness 0.311 against 0.006 for random words; LIME agreement 0.90
    assert m["comprehensiveness"] > 5 * m["random_comprehensiveness"] > 0
    assert m["lime_agreement"] is not None and m["lime_agreement"] > 0.5


def test_term_swap_flip_rate_is_measured_and_equals_the_generators_counterfactual(subject: Subject,
                                                                                 module_and_tokenizer: Any):
    from audit.checks._flip import flip_evidence

    evidence = flip_evidence(subject, CheckContext(spec=subject.spec, seed=subject.spec.seed))
    rate = evidence.metrics["max_flip_rate_text"]
    assert rate is not None and rate > 0
    found = importlib.util.spec_from_file_location("cv_make_profiles_torch", EXAMPLE / "make_profiles.py")
    assert found is not None and found.loader is not None
    make = importlib.util.module_from_spec(found)
    found.loader.exec_module(make)
    _, audit = make.load_sample()
    assert list(audit["profile"]) == list(subject.X["profile"])
    module, tokenizer = module_and_tokenizer
    swapped = [make.profile(row, swap=True) for _, row in audit.iterrows()]
    with torch.no_grad():
        before = module(_ids_by_hand(list(audit["profile"]), tokenizer)).reshape(-1) > 0
        after = module(_ids_by_hand(swapped, tokenizer)).reshape(-1) > 0
    flips = int((before != after).sum())
    assert rate == pytest.approx(flips / len(audit), abs=1e-12)  # measured: 107 of 4,000 (2.7 %)


def test_a_model_without_its_tokenizer_is_refused_in_one_line(tmp_path: Path, module_and_tokenizer: Any):
    module, tokenizer = module_and_tokenizer
    bare = tmp_path / "bare.pt"
    torch.jit.save(module, str(bare))  # no extra file
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(_spec(tmp_path, path=str(bare))))
    message = str(caught.value)
    assert "\n" not in message and str(bare) in message and "audit_tokenizer.json" in message
    assert "torch.jit.save" in message
    broken = tmp_path / "broken.pt"
    torch.jit.save(module, str(broken), _extra_files={"audit_tokenizer.json": json.dumps(
        {k: v for k, v in tokenizer.items() if k != "pad_id"})})
    with pytest.raises(AuditInputError, match=r"broken\.pt: could not load the torchscript model: its tokenizer .*"
                                              r"lacks pad_id") as caught:
        load_subject(load_spec(_spec(tmp_path, "broken.yaml", path=str(broken))))
    assert "\n" not in str(caught.value)
    wrong = tmp_path / "wrong.pt"
    buffer = io.BytesIO()
    torch.jit.save(module, buffer, _extra_files={"audit_tokenizer.json": json.dumps({**tokenizer, "embedding": "emb"})})
    wrong.write_bytes(buffer.getvalue())
    with pytest.raises(AuditInputError, match=r"names embedding 'emb', which is no layer of the model"):
        load_subject(load_spec(_spec(tmp_path, "wrong.yaml", path=str(wrong))))


def test_the_spec_refuses_a_text_column_for_onnx_or_beside_other_inputs(tmp_path: Path):
    with pytest.raises(AuditInputError, match=r"field .*needs model.format: torchscript .*not onnx"):
        load_spec(_spec(tmp_path, "onnx.yaml", format="onnx", path=str(tmp_path / "model.onnx")))
    with pytest.raises(AuditInputError, match=r"takes only that column: set model.inputs: \[profile\]"):
        load_spec(_spec(tmp_path, "two.yaml", inputs=["profile", "age"]))
