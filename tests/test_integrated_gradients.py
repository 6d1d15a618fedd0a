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


# --------------------------------------------------------------------------- (d) one-hot inputs folded back


def test_one_hot_inputs_score_as_by_hand_and_ig_folds_them_back_to_their_column(tmp_path: Path) -> None:
    """A linear net on German credit's numbers and one-hot `purpose` and `housing` (categories declared in the spec).

    By hand: the tensor is pandas' one-hot of the declared categories; IG of a linear model is
    w . (x - baseline) per tensor column, baseline = column means (a category's share); the column
    `purpose` gets the sum over its one-hot columns. A category the spec does not list is refused.
    """
    from audit.errors import TENSOR_CATEGORY_UNKNOWN

    data = pd.read_csv(GERMAN_CSV)
    numeric = ["duration_months", "credit_amount", "age"]
    purposes = sorted(data["purpose"].unique())
    housing = ["own", "rent", "for free"]
    inputs: list[Any] = [numeric[0], ("purpose", purposes), numeric[1], ("housing", housing), numeric[2]]
    hand = pd.concat([data[[numeric[0]]],
                      pd.DataFrame({f"purpose={c}": (data["purpose"] == c).astype(float) for c in purposes}),
                      data[[numeric[1]]],
                      pd.DataFrame({f"housing={c}": (data["housing"] == c).astype(float) for c in housing}),
                      data[[numeric[2]]]], axis=1).to_numpy(np.float64)
    scale = torch.tensor(hand.std(axis=0) + 1e-9, dtype=torch.float32)
    torch.manual_seed(5)
    net = torch.nn.Sequential(_Scale(scale), torch.nn.Linear(hand.shape[1], 1)).eval()
    path = tmp_path / "onehot.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    model = TorchScriptAdapter(path, inputs=inputs, output="logits", positive_class=1)
    assert model.feature_names == [numeric[0], "purpose", numeric[1], "housing", numeric[2]]
    assert model.numeric_features == frozenset(numeric)

    with torch.no_grad():
        logit = net(torch.tensor(hand, dtype=torch.float32)).numpy().astype(np.float64).reshape(-1)
    np.testing.assert_allclose(model.predict_score(data), 1 / (1 + np.exp(-logit)), rtol=0, atol=1e-6)

    result = explain(model=model, X=data, seed=0)
    assert result.method.startswith("Integrated Gradients") and result.feature_names == model.feature_names
    assert any("One-hot columns" in note for note in result.notes)
    linear = net[1]
    w = (linear.weight.detach().numpy().astype(np.float64).reshape(-1) / scale.numpy().astype(np.float64))
    x32 = hand.astype(np.float32).astype(np.float64)
    baseline = hand.mean(axis=0).astype(np.float32).astype(np.float64)
    per_input = w * (x32 - baseline)
    columns = np.array([0] + [1] * len(purposes) + [2] + [3] * len(housing) + [4])
    expected = np.column_stack([per_input[:, columns == j].sum(axis=1) for j in range(5)])
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=1e-5)
    assert result.additivity_error.max() < 1e-3

    # The same model through the spec (model.inputs with {column, one_hot}) and the Subject: the same scores.
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing")
    spec["model"].update({"path": str(path), "output": "logits", "classes": [0, 1], "positive_class": 1,
                          "inputs": [numeric[0], {"column": "purpose", "one_hot": purposes}, numeric[1],
                                     {"column": "housing", "one_hot": housing}, numeric[2]]})
    spec["data"]["path"] = str(GERMAN_CSV)
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    subject = load_subject(load_spec(tmp_path / "audit.yaml"))
    np.testing.assert_allclose(subject.predictions.score, 1 / (1 + np.exp(-logit)), rtol=0, atol=1e-6)

    odd = data.copy()
    odd.loc[odd.index[7], "housing"] = "boat"
    with pytest.raises(ValueError, match="column 'housing' holds 'boat' at row 8") as caught:
        model.predict_score(odd)
    assert str(caught.value) == TENSOR_CATEGORY_UNKNOWN.format(column="housing", value="boat", row="row 8",
                                                               categories=", ".join(housing))


class _Scale(torch.nn.Module):
    """Divide by a fixed scale (keeps the linear layer's weights of comparable size)."""

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale
