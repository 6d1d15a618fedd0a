"""Full audit of a torch MLP on Adult (48,842 rows) against the LightGBM example, in the same run (issue 12).

Issue 12 asks that auditing a neural network cost about what auditing a tree ensemble does: "a full audit of
the torch MLP on all 48,842 Adult rows takes no more than twice the LightGBM example's time in the same
benchmark run". Timings on this shared machine move by about ±30 % with its load, so both audits are run here
back to back, in child processes with the same environment (OMP_NUM_THREADS=2), and only their ratio is judged.

What the script does, in a temporary folder (nothing is written into the repository):

1. Builds the torch model's data from the adult-hiring example's own file (examples/adult-hiring/adult.parquet)
   and its model inputs (every column but person_id, split, income, sex, race and fnlwgt), in one of two ways:

   - ``--inputs one-hot`` (default): the example's 11 columns as they are; ``model.inputs`` declares each
     categorical column ``{column, one_hot: [categories]}`` (every category in the data), so the adapter feeds
     it as 0/1 inputs and the audit sees, explains and changes the same 11 columns as the LightGBM audit. A
     tensor model takes no missing value: a missing category becomes "?", the UCI file's own marker.
   - ``--inputs numeric``: a precomputed frame of 0/1 columns (``workclass_Private``; categories with fewer than
     20 training rows share ``<column>_infrequent``, missing values get ``<column>_missing``) plus the numeric
     columns; the audit then sees about 90 numeric features (what a tool without one-hot inputs would see).

   The protected attributes (sex, race, age), the label and the id stay as in the example.
2. Trains a small MLP on the training split (adult.data, 32,561 rows): standardisation inside the module
   (buffers), two hidden layers (64, 32, ReLU), sigmoid output; seeded, CPU, two threads, 8 epochs of Adam on
   mini-batches of 256 (a few seconds). Saves it as TorchScript.
3. Writes an audit.yaml that mirrors examples/adult-hiring/audit.yaml (same system, packs, protected attributes
   and age bands, immutable and increase-only columns, fairness, seed, signing key), with ``model.format:
   torchscript``, ``output: probabilities`` and ``classes: ["<=50K", ">50K"]``. In numeric mode the one-hot
   columns of native-country, marital-status and relationship are the immutable ones.
4. Runs ``audit run`` on the LightGBM example and on the torch spec, one after the other, and prints the
   pipeline's per-stage seconds of both (from each bundle's manifest), wall clock, peak memory (the child's
   maximum resident set, from wait4), the torch/LightGBM ratio, whether it is at most 2, and the explainer each
   audit used (from audit.json; Integrated Gradients is expected for the torch model).

The audits run the ``audit`` package that ``python -m audit`` imports from the current directory (the repository
when run from its root). The LightGBM example signs with examples/german-credit/keys, which must exist.

Run: .venv/bin/python benchmarks/bench_torch_adult.py [--inputs one-hot|numeric] [--rounds N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-hiring"
KEYS = ROOT / "examples" / "german-credit" / "keys"
NOT_FEATURES = ("person_id", "split", "income", "sex", "race", "fnlwgt")  # as examples/adult-hiring/prepare.py
KEPT = ("person_id", "split", "income", "sex", "race")  # id, split, label and protected columns kept as they are
IMMUTABLE_CATEGORIES = ("native-country", "marital-status", "relationship")
MIN_FREQUENCY = 20  # as the example's OneHotEncoder(min_frequency=20)
MISSING = "?"  # a missing category in one-hot mode: the UCI file's own marker
SEED = 7
TARGET_RATIO = 2.0
#: Stages of the pipeline in the order it runs them (manifest["audit"]["timings"]; evidence.* rows are within them).
STAGES = ("load", "check.data", "check.performance", "check.importance", "check.local", "check.fairness",
          "check.counterfactual", "check.robustness", "policies", "write", "report", "sign")


# ------------------------------------------------------------------------------------------------ data and model


def one_hot_frame(data: pd.DataFrame) -> tuple[pd.DataFrame, list[Any], list[str]]:
    """The example's data with the categorical inputs declared one-hot (``{column, one_hot}`` in model.inputs).

    The audit then sees the example's 11 columns; the adapter feeds each categorical column as one 0/1 input
    per listed category. A tensor model takes no missing value, so a missing category becomes the UCI file's
    own marker "?" (a category of its own, as the example's encoder treats it). Every category in the data is
    listed (the adapter refuses a value it does not list). Immutable and increase-only: as in the example.
    """
    frame = data.copy()
    inputs: list[Any] = []
    for column in (c for c in data.columns if c not in NOT_FEATURES):
        if pd.api.types.is_numeric_dtype(frame[column]):
            inputs.append(column)
            continue
        frame[column] = frame[column].astype(object).where(frame[column].notna(), MISSING).astype(str)
        inputs.append({"column": column, "one_hot": sorted(frame[column].unique())})
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    return frame, inputs, list(spec["data"]["immutable"])


def numeric_frame(data: pd.DataFrame) -> tuple[pd.DataFrame, list[Any], list[str]]:
    """The audited frame with the model inputs as number columns, the inputs, and the immutable columns.

    Each categorical input becomes 0/1 columns (``workclass_Private``; categories with fewer than 20 training
    rows share ``<column>_infrequent``, missing values get ``<column>_missing``), numbers stay as they are; the
    audit sees these columns as numeric features. The one-hot columns of native-country, marital-status and
    relationship are immutable (with age, sex, race).
    """
    train = data["split"] == "train"
    parts: dict[str, pd.Series] = {}
    immutable = ["age", "sex", "race"]
    for column in (c for c in data.columns if c not in NOT_FEATURES):
        values = data[column]
        if pd.api.types.is_numeric_dtype(values):
            parts[column] = values
            continue
        counts = values[train].value_counts()
        frequent = sorted(str(v) for v in counts.index[counts >= MIN_FREQUENCY])
        names = []
        for category in frequent:
            parts[f"{column}_{category}"] = (values == category).astype("int64")
            names.append(f"{column}_{category}")
        rare = values.notna() & ~values.isin(frequent)
        if rare[train].any():
            parts[f"{column}_infrequent"] = rare.astype("int64")
            names.append(f"{column}_infrequent")
        if values.isna().any():
            parts[f"{column}_missing"] = values.isna().astype("int64")
            names.append(f"{column}_missing")
        if column in IMMUTABLE_CATEGORIES:
            immutable.extend(names)
    frame = pd.concat([data[list(KEPT)], pd.DataFrame(parts)], axis=1)
    return frame, list(parts), immutable


def tensor(frame: pd.DataFrame, inputs: list[Any]) -> np.ndarray:
    """The model's input matrix (float32) as the adapter builds it: numbers as they are, one-hot columns in order."""
    blocks = []
    for item in inputs:
        if isinstance(item, str):
            blocks.append(frame[item].to_numpy(dtype=np.float32).reshape(-1, 1))
        else:
            text = frame[item["column"]].to_numpy(dtype=object)
            blocks.append((text[:, None] == np.array(item["one_hot"], dtype=object)[None, :]).astype(np.float32))
    return np.hstack(blocks)


class AdultMLP(torch.nn.Module):
    """Standardise (buffers), two hidden layers (64, 32; ReLU), sigmoid: P(income > 50K) from the raw numbers."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(mean.shape[0], 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 32), torch.nn.ReLU(),
            torch.nn.Linear(32, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers((x - self.mean) / self.scale))


def train_mlp(frame: pd.DataFrame, inputs: list[Any], *, epochs: int) -> tuple[AdultMLP, dict[str, float]]:
    """Seeded mini-batch Adam on the training split; returns the module and its training seconds and test accuracy."""
    start = time.perf_counter()
    torch.manual_seed(SEED)
    train = (frame["split"] == "train").to_numpy()
    rows = torch.from_numpy(np.flatnonzero(train))
    x = torch.from_numpy(tensor(frame, inputs))
    y = torch.tensor((frame["income"] == ">50K").to_numpy(dtype=np.float32)).reshape(-1, 1)
    x_train, y_train = x[rows], y[rows]
    scale = x_train.std(dim=0)
    model = AdultMLP(x_train.mean(dim=0), torch.where(scale > 1e-6, scale, torch.ones_like(scale)))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss = torch.nn.BCELoss()
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for batch in order.split(256):
            optimiser.zero_grad()
            loss(model(x_train[batch]), y_train[batch]).backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        p = model(x).numpy().ravel()
    correct = (p > 0.5) == (y.numpy().ravel() > 0.5)
    return model, {"train_seconds": time.perf_counter() - start, "test_accuracy": float(correct[~train].mean()),
                   "selection_rate": float((p > 0.5).mean()), "width": int(x.shape[1])}


def torch_spec(inputs: list[Any], immutable: list[str], data_file: str) -> dict[str, Any]:
    """examples/adult-hiring/audit.yaml with the TorchScript model and the data written here (key paths absolute)."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["system"]["name"] = "Candidate screening (Adult, torch MLP)"
    spec["model"] = {"path": "model.pt", "format": "torchscript", "inputs": inputs, "output": "probabilities",
                     "classes": ["<=50K", ">50K"], "positive_class": ">50K"}
    spec["data"]["path"] = data_file
    spec["data"]["immutable"] = immutable
    spec["signing"] = {"key": str(KEYS / "example-key.pem"), "certificate": str(KEYS / "example-cert.pem")}
    return spec


def build(folder: Path, *, mode: str, epochs: int) -> tuple[Path, dict[str, Any]]:
    """Write the data, model.pt and audit.yaml into ``folder``; return the spec and facts about them."""
    data = pd.read_parquet(EXAMPLE / "adult.parquet")
    frame, inputs, immutable = one_hot_frame(data) if mode == "one-hot" else numeric_frame(data)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model, facts = train_mlp(frame, inputs, epochs=epochs)
    finally:
        torch.set_num_threads(threads)
    data_file = f"adult-{mode}.parquet"
    frame.to_parquet(folder / data_file, index=False)
    torch.jit.save(torch.jit.script(model), str(folder / "model.pt"))
    spec = folder / "audit.yaml"
    spec.write_text(yaml.safe_dump(torch_spec(inputs, immutable, data_file), sort_keys=False, width=120))
    facts.update(rows=len(frame), columns=len(inputs))
    return spec, facts


# ------------------------------------------------------------------------------------------------ running audits


@dataclass
class Run:
    """One `audit run` in a child process."""

    label: str
    returncode: int
    wall: float
    peak_mb: float
    timings: dict[str, float] = field(default_factory=dict)
    explainers: dict[str, str] = field(default_factory=dict)
    stderr: str = ""


def run_audit(label: str, spec: Path, out: Path) -> Run:
    """``audit run spec`` with OMP_NUM_THREADS=2; times from the manifest, peak memory from wait4's rusage."""
    out.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    with open(out / "stdout.txt", "w") as stdout, open(out / "stderr.txt", "w") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "audit", "run", str(spec), "--output", str(out / "bundle")],
                                 stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    run = Run(label=label, returncode=child.returncode, wall=wall, peak_mb=usage.ru_maxrss / 1024,
              stderr=(out / "stderr.txt").read_text().strip())
    if run.returncode not in (0, 1):  # 1: the audit ran and its gate says FAIL; 2: it could not run
        return run
    bundle = next((out / "bundle").glob("*/*/manifest.json")).parent
    run.timings = json.loads((bundle / "manifest.json").read_text())["audit"]["timings"]
    evidence = json.loads((bundle / "audit.json").read_text())["evidence"]
    for item in evidence:
        if item["id"] == "importance.shap":
            metrics = item.get("metrics", {})
            facts = [f"additivity error {metrics['max_additivity_error']:.1e}"
                     if isinstance(metrics.get("max_additivity_error"), float) else "",
                     f"{metrics['n_explained']:,} of {metrics['n_rows']:,} rows explained"
                     if isinstance(metrics.get("n_explained"), int) and isinstance(metrics.get("n_rows"), int) else ""]
            shown = "; ".join(f for f in facts if f)
            run.explainers["importance.shap"] = f"{metrics.get('method')}" + (f" ({shown})" if shown else "")
        elif item["id"] == "local.lime":
            run.explainers["local.lime"] = str(item.get("method", ""))[:90]
    return run


# ------------------------------------------------------------------------------------------------ report


def table(lgbm: Run, net: Run) -> list[str]:
    """Per-stage seconds of both runs and the ratio, then totals, wall clock and memory."""
    stages = [s for s in STAGES if s in lgbm.timings or s in net.timings]
    stages += sorted(s for s in {*lgbm.timings, *net.timings} if s not in stages and s != "total")
    lines = [f"{'stage':<36}{'LightGBM s':>12}{'torch s':>12}{'torch/LGBM':>12}"]

    def row(name: str, a: float | None, b: float | None, digits: int = 2) -> str:
        ratio = f"{b / a:.2f}" if a and b is not None else "-"
        show = [f"{v:.{digits}f}" if v is not None else "-" for v in (a, b)]
        return f"{name:<36}{show[0]:>12}{show[1]:>12}{ratio:>12}"

    for stage in stages:
        lines.append(row(("  " if stage.startswith("evidence.") else "") + stage, lgbm.timings.get(stage),
                         net.timings.get(stage)))
    lines.append(row("total (inside the pipeline)", lgbm.timings.get("total"), net.timings.get("total")))
    lines.append(row("wall clock (incl. start-up)", lgbm.wall, net.wall))
    lines.append(row("peak memory (MB)", lgbm.peak_mb, net.peak_mb, digits=0))
    return lines


def code_state() -> str:
    """The commit measured, and whether audit/ differs from it (read-only git commands)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "audit"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "code: unknown (no git)"
    return f"code: {head}" + (f" with {len(dirty.splitlines())} changed file(s) under audit/" if dirty else "")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}, torch {torch.__version__}; "
            f"load average {' '.join(load)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="LightGBM + torch pairs, run back to back (default 1)")
    parser.add_argument("--inputs", choices=("one-hot", "numeric"), default="one-hot",
                        help="one-hot: categorical columns declared {column, one_hot} in model.inputs (the audit sees "
                             "the 11 columns); numeric: a precomputed frame of 0/1 columns (default one-hot)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs of the MLP (default 8)")
    parser.add_argument("--keep", type=Path, default=None, help="write everything here (kept) instead of a temp dir")
    args = parser.parse_args()
    if not (KEYS / "example-key.pem").exists():
        sys.exit(f"no signing key in {KEYS}: run `audit keygen --key {KEYS / 'example-key.pem'} --cert "
                 f"{KEYS / 'example-cert.pem'}` first (the LightGBM example's spec signs with it)")
    print(machine())
    print(code_state())
    with tempfile.TemporaryDirectory(prefix="bench-torch-adult-") as scratch:
        folder = args.keep.resolve() if args.keep else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        spec, facts = build(folder, mode=args.inputs, epochs=args.epochs)
        print(f"torch MLP, --inputs {args.inputs}: {facts['columns']} data columns in model.inputs, {facts['width']} "
              f"tensor inputs, {facts['rows']:,} rows; trained in {facts['train_seconds']:.1f} s ({args.epochs} epochs), "
              f"accuracy on the test split {facts['test_accuracy']:.3f}, selection rate {facts['selection_rate']:.3f}")
        ratios = []
        for n in range(1, args.rounds + 1):
            lgbm = run_audit("LightGBM", EXAMPLE / "audit.yaml", folder / f"round{n}" / "lightgbm")
            net = run_audit("torch", spec, folder / f"round{n}" / "torch")
            print(f"\nround {n} of {args.rounds}: `audit run` on examples/adult-hiring/audit.yaml, then on the torch spec")
            for run in (lgbm, net):
                if run.returncode not in (0, 1):
                    print(f"{run.label} audit could not run (exit {run.returncode}): {run.stderr.splitlines()[-1:]}")
            if not (lgbm.timings and net.timings):
                continue
            print("\n".join(table(lgbm, net)))
            for run in (lgbm, net):
                for item, text in run.explainers.items():
                    print(f"{run.label:<9}{item:<17}{text}")
            ratio = net.timings["total"] / lgbm.timings["total"]
            ratios.append(ratio)
            print(f"ratio torch/LightGBM (pipeline totals): {ratio:.2f} -> "
                  f"{'met' if ratio <= TARGET_RATIO else 'NOT met'} (target <= {TARGET_RATIO:g}); "
                  f"wall clock ratio {net.wall / lgbm.wall:.2f}")
        if args.keep:
            print(f"\nkept: {folder}")
    if not ratios:
        sys.exit("no round completed")
    if len(ratios) > 1:
        print(f"\nratios per round: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
