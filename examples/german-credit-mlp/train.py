"""Build the German credit MLP example: a small PyTorch network, saved as TorchScript and as ONNX.

The data are the German credit example's (../german-credit, from the UCI file in
../data/german-credit, CC BY 4.0). This script reproduces that example's split exactly (its
`load_readable` and the same seeded, stratified 50/50 split), trains on the training half and
checks that the other half is ../german-credit/german_credit.csv, the data the audit runs on.

The network takes the NUMERIC columns only (INPUTS, in this order) as raw values: it standardises
them itself (means and standard deviations of the training half are buffers of the module), so the
saved model needs no preprocessing outside it. Two hidden layers of 16 (ReLU), one output: the
probability that the applicant is a good credit risk (sigmoid). Full-batch Adam, seeded, one thread:
the same weights every run.

Writes, beside this file:

- model.pt   : the network as TorchScript (torch.jit.script + torch.jit.save): no pickle, no Python
               code of ours is needed to load it
- model.onnx : the same network exported with torch.onnx.export (TorchScript-based exporter,
               dynamo=False, opset 17, dynamic batch axis), from model.pt as saved

Run: python examples/german-credit-mlp/train.py   (deterministic: same weights every run)
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
GERMAN = HERE.parent / "german-credit"
SEED = 20261122  # the German credit example's seed (its split) and this network's
INPUTS = ["duration_months", "credit_amount", "installment_rate", "residence_since", "age", "existing_credits",
          "people_liable"]
EPOCHS = 200
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-2


def german_example() -> Any:
    """The German credit example's train.py as a module (its folder name is no Python package name)."""
    found = importlib.util.spec_from_file_location("german_credit_train", GERMAN / "train.py")
    if found is None or found.loader is None:
        raise SystemExit(f"cannot read {GERMAN / 'train.py'}")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


class CreditMLP(torch.nn.Module):
    """Standardise, two hidden layers of 16 (ReLU), sigmoid: P(good credit risk) from raw numeric values."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        width = mean.shape[0]
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(width, 16), torch.nn.ReLU(),
            torch.nn.Linear(16, 16), torch.nn.ReLU(),
            torch.nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers((x - self.mean) / self.scale))


def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The German credit example's training and audit halves (the audit half is its german_credit.csv)."""
    example = german_example()
    data = example.load_readable()
    train, audit = train_test_split(data, test_size=0.5, random_state=example.SEED, stratify=data["credit_risk"])
    audit = audit.sort_values("applicant_id").reset_index(drop=True)
    shipped = pd.read_csv(GERMAN / "german_credit.csv")
    if not audit[["applicant_id", *INPUTS, "credit_risk"]].equals(shipped[["applicant_id", *INPUTS, "credit_risk"]]):
        raise SystemExit("the audit half is not ../german-credit/german_credit.csv: run that example's train.py first")
    return train, audit


def fit(train: pd.DataFrame) -> CreditMLP:
    torch.manual_seed(SEED)
    x = torch.tensor(train[INPUTS].to_numpy(dtype=np.float32))
    y = torch.tensor((train["credit_risk"] == "good").to_numpy(dtype=np.float32)).reshape(-1, 1)
    model = CreditMLP(x.mean(dim=0), x.std(dim=0))
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss = torch.nn.BCELoss()
    model.train()
    for _ in range(EPOCHS):
        optimiser.zero_grad()
        error = loss(model(x), y)
        error.backward()
        optimiser.step()
    return model.eval()


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train, audit = split()
    model = fit(train)
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, str(HERE / "model.pt"))
    loaded = torch.jit.load(str(HERE / "model.pt"), map_location="cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces that it is the legacy one
        torch.onnx.export(loaded, (torch.zeros(2, len(INPUTS)),), str(HERE / "model.onnx"), dynamo=False,
                          opset_version=17, input_names=["features"], output_names=["p_good"],
                          dynamic_axes={"features": {0: "batch"}, "p_good": {0: "batch"}})
    with torch.no_grad():
        p = loaded(torch.tensor(audit[INPUTS].to_numpy(dtype=np.float32))).numpy().ravel()
    accuracy = float(((p > 0.5) == (audit["credit_risk"] == "good").to_numpy()).mean())
    print(f"wrote {HERE / 'model.pt'} and {HERE / 'model.onnx'}; accuracy on the audit half {accuracy:.3f}, "
          f"approval rate {(p > 0.5).mean():.3f}")


if __name__ == "__main__":
    main()
