"""Integrated Gradients (Captum) for the torch tensor adapters (issue 12, item 3).

(a) a linear TorchScript model with logit output: IG equals w . (x - baseline), by hand in numpy;
(b) the German credit MLP example: the plan is IG (not KernelSHAP) and every row's completeness gap is
    under the tolerance; the local process executor gives the same numbers as in-process;
(c) a torch state_dict model with its trusted module also goes to IG.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.explain import integrated_gradients as ig
from audit.explain import shap_values
from audit.explain.shap_values import explain, plan_explanation
from audit.models.tensor import TorchScriptAdapter
from audit.spec import load_spec
from audit.subject import load_subject

torch = pytest.importorskip("torch")
pytest.importorskip("captum")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit-mlp"
GERMAN_CSV = ROOT / "examples" / "german-credit" / "german_credit.csv"
INPUTS = ["duration_months", "credit_amount", "installment_rate", "residence_since", "age", "existing_credits",
          "people_liable"]


# --------------------------------------------------------------------------- (a) linear model, by hand


class _Linear(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)
        self.out = torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.linear(x))


@pytest.mark.parametrize("positive_class", [1, 0])
def test_linear_torchscript_ig_equals_weights_times_distance_to_the_mean(tmp_path: Path, positive_class: int) -> None:
    rng = np.random.default_rng(7)
    names = ["a", "b", "c", "d"]
    X = pd.DataFrame(rng.normal(size=(300, len(names))) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, -2.0, 0.5], columns=names)
    torch.manual_seed(3)
    net = _Linear(len(names)).eval()
    path = tmp_path / "linear.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    model = TorchScriptAdapter(path, inputs=names, output="logits", positive_class=positive_class)

    plan = plan_explanation(model=model, X=X, seed=0)
    assert plan.explainer == "ig" and plan.output_space == "log-odds"
    assert plan.feature_names == names and list(plan.mapping) == list(range(len(names)))
    assert "pre-sigmoid logit" in plan.method and "mean of the audited inputs" in plan.method
    result = explain(model=model, X=X, seed=0, plan=plan)

    w = net.linear.weight.detach().numpy().astype(np.float64).reshape(-1)
    bias = float(net.linear.bias.detach().numpy()[0])
    x32 = X[names].to_numpy(np.float32).astype(np.float64)
    baseline = X[names].to_numpy(np.float64).mean(axis=0).astype(np.float32).astype(np.float64)
    sign = 1.0 if positive_class == 1 else -1.0  # the log-odds of class 0 are minus the logit
    expected = sign * w * (x32 - baseline)
    assert result.values.shape == (len(X), len(names))
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=1e-6)
    assert result.base_value == pytest.approx(sign * (baseline @ w + bias), abs=1e-5)
    np.testing.assert_allclose(result.margin, sign * (x32 @ w + bias), rtol=0, atol=1e-5)
    assert result.exact and result.additivity_error.max() < plan.tolerance


# --------------------------------------------------------------------------- (b) the German credit MLP


@pytest.fixture(scope="module")
def german_subject() -> Any:
    return load_subject(load_spec(EXAMPLE / "audit.yaml"))


def test_german_mlp_is_explained_by_ig_with_every_gap_under_the_tolerance(german_subject: Any) -> None:
    subject = german_subject
    plan = plan_explanation(model=subject.model, X=subject.X, seed=subject.spec.seed)
    assert plan.explainer == "ig" and "KernelSHAP" not in plan.method
    assert plan.output_space == "probability" and plan.feature_names == INPUTS
    assert plan.tolerance == pytest.approx(ig.RELATIVE_TOLERANCE)  # probabilities: output scale 1
    result = explain(model=subject.model, X=subject.X, seed=subject.spec.seed, plan=plan)
    assert len(result.margin) == subject.n == 500
    gap = result.additivity_error
    assert np.isfinite(gap).all() and (gap < plan.tolerance).all()
    # the margin is the adapter's own score, and the base value the model at the mean of the inputs
    np.testing.assert_allclose(result.margin, subject.model.predict_score(subject.X), rtol=0, atol=1e-12)
    baseline = pd.DataFrame(subject.X[INPUTS].to_numpy(np.float64).mean(axis=0, keepdims=True), columns=INPUTS)
    assert result.base_value == pytest.approx(float(subject.model.predict_score(baseline)[0]), abs=1e-6)
    # deterministic: the same numbers again
    again = explain(model=subject.model, X=subject.X, seed=subject.spec.seed, plan=plan)
    np.testing.assert_array_equal(again.values, result.values)


def test_ig_in_worker_processes_equals_in_process(german_subject: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    subject = german_subject
    plan = plan_explanation(model=subject.model, X=subject.X, seed=subject.spec.seed)
    inline = explain(model=subject.model, X=subject.X, seed=0, plan=plan, chunk_rows=250)
    monkeypatch.setitem(shap_values._MIN_ROWS_FOR_PROCESSES, "ig", 0)
    spread = explain(model=subject.model, X=subject.X, seed=0, plan=plan, chunk_rows=250, workers=2)
    assert inline.executor != spread.executor and spread.n_chunks == 2
    np.testing.assert_allclose(spread.values, inline.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(spread.margin, inline.margin, rtol=0, atol=1e-12)


def test_steps_are_doubled_only_until_the_gap_is_met(german_subject: Any) -> None:
    subject = german_subject
    plan = plan_explanation(model=subject.model, X=subject.X, seed=0)
    module = subject.model.estimator
    x = subject.X[INPUTS].to_numpy(np.float64)
    done = ig.integrated_gradients(module, x, plan.background, output="probabilities", positive_index=1,
                                   tolerance=plan.tolerance)
    assert set(np.unique(done.steps)) <= {50, 100, 200, 400, 800} and (done.steps == ig.START_STEPS).any()
    assert (done.gap < plan.tolerance).all()
    fixed = ig.integrated_gradients(module, x, plan.background, output="probabilities", positive_index=1,
                                    tolerance=np.inf)  # every row accepted at the first step count
    assert (fixed.steps == ig.START_STEPS).all()


# --------------------------------------------------------------------------- (c) a state_dict with its module

MODULE_SOURCE = '''"""Generated by tests/test_integrated_gradients.py."""
import torch


class Net(torch.nn.Module):
    def __init__(self, width: int, hidden: int = 8) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x / 1000.0)
'''


def test_state_dict_adapter_goes_to_ig(tmp_path: Path) -> None:
    name = f"ig_net_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE_SOURCE)
    torch.manual_seed(0)
    holder = torch.nn.Module()
    holder.body = torch.nn.Sequential(torch.nn.Linear(len(INPUTS), 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    torch.save(holder.state_dict(), tmp_path / "weights.pt")
    spec = {
        "system": {"name": "t", "version": "1", "provider": "p", "intended_purpose": "test", "role": "provider"},
        "model": {"path": str(tmp_path / "weights.pt"), "format": "torch", "inputs": INPUTS, "output": "logits",
                  "classes": ["bad", "good"], "positive_class": "good", "module": f"{name}:Net",
                  "module_kwargs": {"width": len(INPUTS)}, "trust": True},
        "data": {"path": str(GERMAN_CSV), "target": "credit_risk", "positive_label": "good", "protected": ["sex"]},
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    assert subject.model.format == "torch"
    plan = plan_explanation(model=subject.model, X=subject.X, seed=0)
    assert plan.explainer == "ig" and plan.output_space == "log-odds" and plan.feature_names == INPUTS
    result = explain(model=subject.model, X=subject.X, seed=0, plan=plan)
    assert (result.additivity_error < plan.tolerance).all()
    # two logit columns: the attributed output is the positive class's logit minus the other's (its log-odds)
    x = torch.from_numpy(subject.X[INPUTS].to_numpy(np.float32))
    with torch.no_grad():
        logits = subject.model.estimator(x).numpy().astype(np.float64)
    np.testing.assert_allclose(result.margin, logits[:, 1] - logits[:, 0], rtol=0, atol=1e-6)  # float32 arithmetic
    from scipy.special import expit

    np.testing.assert_allclose(expit(result.margin), subject.model.predict_score(subject.X), rtol=0, atol=1e-6)
