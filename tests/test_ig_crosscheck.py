"""Cross-check of Integrated Gradients' reasons with KernelSHAP (issue 12, item 3).

Every expected value is computed here independently (numpy by hand, or Shapley values by brute force over
every coalition), never taken from an earlier output of the code under test:

(1) a linear TorchScript model (sigmoid inside, or logits read through a sigmoid): IG and KernelSHAP rank the
    features as w * (x - baseline) does, so the agreement is 1.0;
(2) the German credit MLP example: the sample is the adverse decisions, KernelSHAP's reasons are those of
    the exact Shapley values (brute force), IG's those of the IG values, and the agreement is recomputed;
(3) no adverse decision: the sample falls back to favourable decisions (and no row, or no IG reason, gives
    None, not zero);
(4) to_dict / from_dict round trip through JSON.
"""

from __future__ import annotations

import json
import math
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from audit.explain.ig_crosscheck import SALT, IGCrossCheck, cross_check
from audit.explain.shap_values import explain, plan_explanation
from audit.models.tensor import TorchScriptAdapter
from audit.spec import load_spec
from audit.subject import load_subject

torch = pytest.importorskip("torch")
pytest.importorskip("captum")
pytest.importorskip("shap")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit-mlp"
NAMES = ["a", "b", "c", "d", "e"]


def _hand_reasons(strength: np.ndarray, *, k: int, floor: float) -> list[tuple[int, ...]]:
    """Per row, the positions of the k largest strengths that reach ``floor``, strongest first (numpy by hand)."""
    out = []
    for row in strength:
        order = np.argsort(-row, kind="stable")[:k]
        out.append(tuple(int(j) for j in order if row[j] >= floor))
    return out


def _as_positions(reasons: tuple[tuple[str, ...], ...], names: list[str]) -> list[tuple[int, ...]]:
    return [tuple(names.index(n) for n in row) for row in reasons]


def _agreement_by_hand(ig_r: list[tuple[int, ...]], kernel_r: list[tuple[int, ...]]) -> tuple[float, float, int]:
    shares = [len(set(a) & set(b)) / len(a) for a, b in zip(ig_r, kernel_r, strict=True) if a]
    firsts = [bool(b) and a[0] == b[0] for a, b in zip(ig_r, kernel_r, strict=True) if a]
    return float(np.mean(shares)), float(np.mean(firsts)), len(shares)


# --------------------------------------------------------------------------- (1) linear model


class _Linear(torch.nn.Module):
    def __init__(self, width: int, sigmoid: bool) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        return torch.sigmoid(z) if self.sigmoid else z


def _linear_model(tmp_path: Path, *, output: str) -> tuple[TorchScriptAdapter, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(200, len(NAMES))) * [1.0, 2.0, 0.5, 3.0, 1.5] + [0.0, 1.0, -2.0, 0.5, 0.0],
                     columns=NAMES)
    torch.manual_seed(5)
    net = _Linear(len(NAMES), sigmoid=output == "probabilities").eval()
    with torch.no_grad():
        net.linear.weight.copy_(torch.tensor([[0.9, -0.4, 1.7, 0.25, -0.6]]))
        # the decision boundary near the middle of the data: both decisions are common
        net.linear.bias.fill_(float(-(net.linear.weight[0].double().numpy() @ X.mean().to_numpy())))
    path = tmp_path / f"linear-{output}.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    model = TorchScriptAdapter(path, inputs=NAMES, output=output, positive_class=1)  # type: ignore[arg-type]
    w = net.linear.weight.detach().numpy().astype(np.float64).reshape(-1)
    return model, X, w


@pytest.mark.parametrize(("output", "favourable_is_positive"), [("probabilities", True), ("logits", False)])
def test_linear_model_agrees_fully_and_ranks_as_weight_times_distance(tmp_path: Path, output: str,
                                                                      favourable_is_positive: bool) -> None:
    model, X, w = _linear_model(tmp_path, output=output)
    plan = plan_explanation(model=model, X=X, seed=0)
    assert plan.explainer == "ig"
    values = explain(model=model, X=X, seed=0, plan=plan).values
    positive = model.predict_score(X) > 0.5
    adverse = ~positive if favourable_is_positive else positive
    assert adverse.sum() >= 30

    result = cross_check(model=model, X=X, ig_values=values, adverse=adverse, feature_names=NAMES, rows=30, top_k=3,
                         seed=9, favourable_is_positive=favourable_is_positive)

    assert result.rows == result.adverse_rows == 30
    assert result.ig_space == ("probability" if output == "probabilities" else "log-odds")
    assert result.kernel_exact and result.kernel_repeat_agreement is None
    positions = np.asarray(result.positions)
    assert adverse[positions].all() and len(set(positions.tolist())) == 30
    # by hand: w * (x - baseline), towards the adverse decision (down with a favourable positive, else up)
    baseline = X.to_numpy(np.float64).mean(axis=0)
    moves = w * (X.to_numpy(np.float64)[positions] - baseline)
    strength = -moves if favourable_is_positive else moves
    hand = _hand_reasons(strength, k=3, floor=1e-9)
    assert _as_positions(result.kernel_reasons, NAMES) == hand
    # IG's reasons are the first of those (it drops contributions that round to zero at two decimals)
    ig_rows = _as_positions(result.ig_reasons, NAMES)
    for ig_row, hand_row in zip(ig_rows, hand, strict=True):
        assert ig_row == hand_row[:len(ig_row)]
    assert result.compared == sum(1 for r in ig_rows if r) >= 25
    assert result.agreement == 1.0 and result.same_first == 1.0
    space = "IG in log-odds, KernelSHAP in probability" if output == "logits" else "both in probability"
    assert space in result.note and "30 adverse" in result.note and "100%" in result.note


def test_many_inputs_sample_coalitions_and_measure_kernelshap_against_itself(tmp_path: Path) -> None:
    """12 inputs: 2**12 coalitions are more than KERNEL_SAMPLES, so KernelSHAP samples them and is run twice."""
    rng = np.random.default_rng(2)
    names = [f"x{j}" for j in range(12)]
    X = pd.DataFrame(rng.normal(size=(120, len(names))), columns=names)
    net = _Linear(len(names), sigmoid=False).eval()
    w = np.linspace(-1.2, 1.3, len(names))
    with torch.no_grad():
        net.linear.weight.copy_(torch.tensor(w[None, :], dtype=torch.float32))
        net.linear.bias.fill_(0.0)
    path = tmp_path / "wide.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    model = TorchScriptAdapter(path, inputs=names, output="logits", positive_class=1)
    values = explain(model=model, X=X, seed=0).values
    adverse = model.predict_score(X) <= 0.5
    run = {"model": model, "X": X, "ig_values": values, "adverse": adverse, "feature_names": names, "rows": 10,
           "top_k": 3, "seed": 4}
    result = cross_check(**run)
    assert not result.kernel_exact and result.nsamples == 2048 and result.rows == result.adverse_rows == 10
    assert result.kernel_repeat_agreement is not None and 0.0 <= result.kernel_repeat_agreement <= 1.0
    assert "2,048 sampled coalitions of the 12 inputs" in result.note and "rerun with another seed" in result.note
    ig_r, kernel_r = _as_positions(result.ig_reasons, names), _as_positions(result.kernel_reasons, names)
    agreement, same_first, compared = _agreement_by_hand(ig_r, kernel_r)
    assert (result.agreement, result.same_first, result.compared) == (pytest.approx(agreement), pytest.approx(same_first),
                                                                      compared)
    # a linear model: sampled KernelSHAP still finds w * (x - mean) ranks (by hand) for nearly every reason
    strength = -w * (X.to_numpy(np.float64)[np.asarray(result.positions)] - X.to_numpy(np.float64).mean(axis=0))
    assert _agreement_by_hand(_hand_reasons(strength, k=3, floor=1e-9), kernel_r)[0] >= 0.9
    # seeded: the same again (seconds aside)
    assert cross_check(**run).to_dict() | {"seconds": 0} == result.to_dict() | {"seconds": 0}


# --------------------------------------------------------------------------- (2) the German credit MLP


@pytest.fixture(scope="module")
def mlp() -> tuple[Any, np.ndarray]:
    subject = load_subject(load_spec(EXAMPLE / "audit.yaml"))
    result = explain(model=subject.model, X=subject.X, seed=subject.spec.seed)
    assert result.output_space == "probability" and result.feature_names == list(subject.model.feature_names)
    return subject, result.values


def _brute_force_shapley(model: Any, x: np.ndarray, baseline: np.ndarray, names: list[str]) -> np.ndarray:
    """Exact Shapley values of predict_score for the rows of ``x`` against one baseline, over every coalition."""
    m = len(names)
    masks = np.array(list(product([0, 1], repeat=m)), dtype=bool)  # 2**m coalitions
    index = {tuple(mask): i for i, mask in enumerate(masks)}
    mixed = np.where(masks[None, :, :], x[:, None, :], baseline[None, None, :]).reshape(-1, m)
    f = model.predict_score(pd.DataFrame(mixed, columns=names)).reshape(len(x), len(masks))
    phi = np.zeros((len(x), m))
    for mask in masks:
        size = int(mask.sum())
        for j in np.flatnonzero(~mask):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            with_j = mask.copy()
            with_j[j] = True
            phi[:, j] += weight * (f[:, index[tuple(with_j)]] - f[:, index[tuple(mask)]])
    return phi


def test_german_mlp_agreement_equals_a_recomputation_from_exact_shapley_values(mlp: tuple[Any, np.ndarray]) -> None:
    subject, values = mlp
    names = list(subject.model.feature_names)
    adverse = ~subject.favourable
    result = cross_check(model=subject.model, X=subject.X, ig_values=values, adverse=adverse, feature_names=names,
                         rows=50, top_k=3, seed=subject.spec.seed, favourable_is_positive=subject.favourable_is_positive)

    # 50 adverse decisions in the audit data: the sample is all of them
    assert int(adverse.sum()) == 50
    np.testing.assert_array_equal(np.asarray(result.positions), np.flatnonzero(adverse))
    assert result.rows == result.adverse_rows == 50 and result.kernel_exact and result.nsamples == 2**7 + 2
    # KernelSHAP's reasons: those of the exact Shapley values for the mean baseline (approval's probability falls)
    positions = np.asarray(result.positions)
    X = subject.X[names].to_numpy(np.float64)
    phi = _brute_force_shapley(subject.model, X[positions], X.mean(axis=0), names)
    kernel_hand = _hand_reasons(-phi, k=3, floor=0.5e-6)
    assert _as_positions(result.kernel_reasons, names) == kernel_hand
    # IG's reasons: the report's (at least 0.005 towards the decision), by hand from the IG values
    ig_hand = _hand_reasons(-values[positions], k=3, floor=0.005)
    assert _as_positions(result.ig_reasons, names) == ig_hand
    agreement, same_first, compared = _agreement_by_hand(ig_hand, kernel_hand)
    assert 0.0 <= result.agreement <= 1.0 if result.agreement is not None else False
    assert result.compared == compared
    assert result.agreement == pytest.approx(agreement, abs=1e-12)
    assert result.same_first == pytest.approx(same_first, abs=1e-12)
    assert f"{agreement:.0%} of IG's reasons" in result.note
    # seeded: the same result again (seconds aside)
    again = cross_check(model=subject.model, X=subject.X, ig_values=values, adverse=adverse, feature_names=names,
                        rows=50, top_k=3, seed=subject.spec.seed)
    assert again.to_dict() | {"seconds": 0} == result.to_dict() | {"seconds": 0}


# --------------------------------------------------------------------------- (3) no adverse decision, no row


def test_without_adverse_decisions_favourable_ones_are_compared(mlp: tuple[Any, np.ndarray]) -> None:
    subject, values = mlp
    names = list(subject.model.feature_names)
    nobody = np.zeros(subject.n, dtype=bool)
    result = cross_check(model=subject.model, X=subject.X, ig_values=values, adverse=nobody, feature_names=names,
                         rows=20, top_k=2, seed=3)
    assert result.rows == 20 and result.adverse_rows == 0 and "no adverse decision to sample" in result.note
    expected = np.sort(np.random.default_rng([3, SALT]).choice(subject.n, size=20, replace=False))
    np.testing.assert_array_equal(np.asarray(result.positions), expected)
    # favourable (approved) decisions: their reasons are what raised the probability of approval
    ig_hand = _hand_reasons(values[expected], k=2, floor=0.005)
    assert _as_positions(result.ig_reasons, names) == ig_hand
    assert result.agreement is not None and 0.0 <= result.agreement <= 1.0


def test_no_row_or_no_ig_reason_is_unmeasured_not_zero(tmp_path: Path) -> None:
    model, X, _ = _linear_model(tmp_path, output="logits")
    empty = cross_check(model=model, X=X.iloc[:0], ig_values=np.zeros((0, len(NAMES))), adverse=np.zeros(0, bool),
                        feature_names=NAMES, seed=0)
    assert empty.rows == 0 and empty.agreement is None and empty.same_first is None
    assert "no audited row" in empty.note and "unmeasured (not zero)" in empty.note
    flat = cross_check(model=model, X=X, ig_values=np.zeros((len(X), len(NAMES))), adverse=np.ones(len(X), bool),
                       feature_names=NAMES, rows=5, seed=0)
    assert flat.rows == 5 and flat.compared == 0 and flat.agreement is None and flat.same_first is None
    assert "unmeasured (not zero)" in flat.note


def test_bad_arguments_are_value_errors(tmp_path: Path) -> None:
    model, X, _ = _linear_model(tmp_path, output="logits")
    good: dict[str, Any] = {"model": model, "X": X, "ig_values": np.zeros((len(X), len(NAMES))),
                            "adverse": np.ones(len(X), bool), "feature_names": NAMES, "seed": 0}
    for change in ({"rows": 0}, {"top_k": 0}, {"ig_values": np.zeros((3, len(NAMES)))},
                   {"adverse": np.ones(len(X))}, {"feature_names": [*NAMES, "zz"]}, {"model": object()}):
        with pytest.raises(ValueError):
            cross_check(**(good | change))


# --------------------------------------------------------------------------- (4) round trip


def test_to_dict_from_dict_round_trip_through_json() -> None:
    original = IGCrossCheck(rows=3, adverse_rows=2, compared=2, top_k=2, agreement=0.75, same_first=0.5,
                            kernel_repeat_agreement=None, kernel_exact=True, nsamples=34, ig_space="log-odds",
                            kernel_space="probability", seed=7, seconds=0.25, note="a sentence",
                            positions=(1, 4, 9), ig_reasons=(("a", "b"), ("c",), ()),
                            kernel_reasons=(("b", "a"), ("d", "c"), ("e",)))
    data = json.loads(json.dumps(original.to_dict()))
    assert data["ig_reasons"] == [["a", "b"], ["c"], []] and data["agreement"] == 0.75
    assert IGCrossCheck.from_dict(data) == original
    unmeasured = IGCrossCheck.from_dict(data | {"agreement": None, "same_first": None, "compared": 0})
    assert unmeasured.agreement is None and unmeasured.to_dict()["agreement"] is None
    with pytest.raises(ValueError):
        IGCrossCheck.from_dict(data | {"extra": 1})
    with pytest.raises(ValueError):
        IGCrossCheck.from_dict({k: v for k, v in data.items() if k != "agreement"})
