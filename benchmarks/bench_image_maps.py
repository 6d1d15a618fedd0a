"""Attribution maps for 500 images and their sanity checks, timed step by step (issue 13, benchmarks).

Data and model: the digits-scanners example (examples/digits-scanners: 32 x 32 grayscale digits, the scanner
attribute SIMULATED; the CNN of its train.py as TorchScript, model.pt, and ONNX, model.onnx). 500 images
are drawn (seeded) from its audit half of 899; the model's decision for each is the class its maps explain.

What is timed, each step on its own, in this process, with torch on ``--threads`` threads (default 2):

- reading the 899 audit images (metadata CSV + PNGs);
- the maps of each method for the 500 images: Grad-CAM on features.3 (through the TorchScript split at the
  layer), Integrated Gradients (64 Gauss-Legendre points per image, baseline the mean of the 500 images),
  saliency;
- the model-parameter randomisation test of each method: 4 cascade steps (classifier.3, classifier.1,
  features.3, features.0), i.e. the maps of 4 re-drawn models for the 500 images (the trained model's maps
  are reused from the step above);
- the deletion / insertion curves of each method: 33 points per curve, 3 random orders per image (8 curves
  per image: 500 x 33 x 8 = 132,000 forward images);
- the flip rates under the 9 default perturbations (noise, blur, brightness, contrast, JPEG) with the
  TorchScript model, and again with the ONNX model in onnxruntime (one thread).

Printed: the machine (nproc, lscpu's model name), the date, the load average before and after, the torch and
captum versions, a table of seconds per step, and each method's verdicts (so a timing is never read apart
from what was computed). Nothing is written.

Run: .venv/bin/python benchmarks/bench_image_maps.py [--images 500] [--threads 2] [--seed 13]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-scanners"
LAYER = "features.3"
CASCADE = ["classifier.3", "classifier.1", "features.3", "features.0"]


def machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() if shutil.which("nproc") else "?"
    model = platform.processor() or "?"
    if shutil.which("lscpu"):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return f"{cores} cores (nproc), {model}, Python {platform.python_version()}"


def timed(rows: list[tuple[str, float, str]], label: str, what: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    rows.append((label, time.perf_counter() - start, what))
    print(f"  {label}: {rows[-1][1]:.2f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import captum
    import onnxruntime

    from audit.image import DEFAULT_PERTURBATIONS, flip_rates, read_images
    from audit.image.maps import attribution_maps, baseline_images
    from audit.image.models import probabilities_fn
    from audit.image.sanity import deletion_insertion, randomisation_test

    load_before = os.getloadavg()
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average before: "
          f"{' '.join(f'{v:.2f}' for v in load_before)}")
    print(f"torch {torch.__version__} ({args.threads} threads), captum {captum.__version__}, "
          f"onnxruntime {onnxruntime.__version__}")
    rows: list[tuple[str, float, str]] = []
    table = pd.read_csv(EXAMPLE / "metadata.csv")
    data = timed(rows, "read images", f"{int((table['split'] == 'audit').sum())} PNGs + metadata.csv",
                 lambda: read_images(EXAMPLE / "metadata.csv", rows=(table["split"] == "audit").to_numpy()))
    idx = np.sort(np.random.default_rng(args.seed).choice(len(data), args.images, replace=False))
    x = data.images[idx]
    n = len(x)
    model = torch.jit.load(str(EXAMPLE / "model.pt"), map_location="cpu").eval()
    decide = probabilities_fn(model, output="logits")
    target = decide(x).argmax(axis=1)
    base = baseline_images(x, "mean")[0]
    settings: dict[str, dict[str, Any]] = {"gradcam": {"layer": LAYER}, "ig": {"baseline": base}, "saliency": {}}
    maps = {}
    for method, extra in settings.items():
        maps[method] = timed(rows, f"maps: {method}", f"{n} images", lambda m=method, e=extra: attribution_maps(
            model, x, method=m, target=target, **e))
    verdicts = []
    for method, extra in settings.items():
        r = timed(rows, f"randomisation test: {method}", f"{len(CASCADE)} re-drawn models x {n} images",
                  lambda m=method, e=extra: randomisation_test(model, x, method=m, target=target, seed=args.seed,
                                                               layers_to_randomise=CASCADE, maps=maps[m], **e))
        d = timed(rows, f"deletion/insertion: {method}", f"{n} images x 33 points x 8 curves",
                  lambda m=method: deletion_insertion(model, x, maps[m], target=target, seed=args.seed))
        verdicts.append((method, r, d))
    groups = data.metadata["scanner"].to_numpy()[idx]
    timed(rows, "flip rates (TorchScript)", f"{len(DEFAULT_PERTURBATIONS)} perturbations x {n} images",
          lambda: flip_rates(lambda z: decide(z).argmax(axis=1), x, seed=args.seed, groups=groups))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(EXAMPLE / "model.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    decide_onnx = probabilities_fn(session, output="logits")
    timed(rows, "flip rates (ONNX, 1 thread)", f"{len(DEFAULT_PERTURBATIONS)} perturbations x {n} images",
          lambda: flip_rates(lambda z: decide_onnx(z).argmax(axis=1), x, seed=args.seed, groups=groups))
    load_after = os.getloadavg()
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in load_after)}\n")
    print("| step | what | seconds |\n|---|---|---:|")
    for label, seconds, what in rows:
        print(f"| {label} | {what} | {seconds:.2f} |")
    maps_total = sum(s for label, s, _ in rows if label.startswith("maps:"))
    checks_total = sum(s for label, s, _ in rows if label.startswith(("randomisation", "deletion")))
    print(f"| **maps, all three methods** | {n} images | **{maps_total:.2f}** |")
    print(f"| **sanity checks, all three methods** | | **{checks_total:.2f}** |")
    print("\n| method | mean Spearman of abs(map) per cascade step | randomisation | deletion AUC (random) | "
          "insertion AUC (random) | images below random |\n|---|---|---|---|---|---:|")
    for method, r, d in verdicts:
        steps = ", ".join(f"{s.mean_spearman:.2f}" for s in r.steps)
        print(f"| {method} | {steps} | {'pass' if r.passed else 'FAIL'} | {d.deletion_auc:.3f} ({d.random_deletion_auc:.3f})"
              f" {'pass' if d.passed else 'FAIL'} | {d.insertion_auc:.3f} ({d.random_insertion_auc:.3f}) | "
              f"{d.share_below_random:.0%} |")


if __name__ == "__main__":
    main()
