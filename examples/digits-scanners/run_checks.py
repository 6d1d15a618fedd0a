"""Run the image checks of audit.image on this example, without an audit spec, and print their figures.

Until ``audit run`` reads image inputs from a spec, this is how the example is audited: performance and
selection rates by (SIMULATED) scanner, flip rates under the default perturbations (overall and by scanner),
and the attribution maps of a seeded sample of decisions with the two sanity checks of each method.

- data: the audit half of metadata.csv (``split == "audit"``), read by :func:`audit.image.read_images`;
- model: model.pt (TorchScript), two logits for the classes ["0-4", "5-9"]; the positive decision is "5-9"
  (routed to queue "5-9"); the decision is the more probable class;
- maps: ``--sample`` images (default 200, seeded), each explained for the class the model decided;
  Grad-CAM on ``features.3``; Integrated Gradients from the mean image of the sample; the cascade re-draws
  classifier.3, classifier.1, features.3, features.0. The ``constant`` control is run beside them.

Run: .venv/bin/python examples/digits-scanners/run_checks.py [--sample 200] [--seed 13] [--threads 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audit.image import flip_rates, read_images
from audit.image.models import probabilities_fn
from audit.image.sanity import check_methods

HERE = Path(__file__).resolve().parent
LAYER = "features.3"
CASCADE = ["classifier.3", "classifier.1", "features.3", "features.0"]
CLASSES = ["0-4", "5-9"]


def by_group(meta: pd.DataFrame, decided: np.ndarray) -> pd.DataFrame:
    truth = (meta["label"] == CLASSES[1]).to_numpy()
    frame = pd.DataFrame({"scanner (SIMULATED)": meta["scanner"], "decided": decided, "truth": truth})
    rows = []
    for name, g in [("all", frame), *frame.groupby("scanner (SIMULATED)")]:
        d, t = g["decided"].to_numpy(), g["truth"].to_numpy()
        rows.append({"group": name, "images": len(g), "accuracy": (d == t).mean(), "selection rate (5-9)": d.mean(),
                     "true positive rate": d[t].mean(), "false positive rate": d[~t].mean()})
    return pd.DataFrame(rows).set_index("group").round(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = pd.read_csv(HERE / "metadata.csv")
    data = read_images(HERE / "metadata.csv", rows=(table["split"] == "audit").to_numpy())
    model = torch.jit.load(str(HERE / "model.pt"), map_location="cpu").eval()
    probabilities = probabilities_fn(model, output="logits")
    decided = probabilities(data.images).argmax(axis=1) == 1
    print(f"Performance and selection rates by scanner (SIMULATED), {len(data)} audit images:")
    print(by_group(data.metadata, decided).to_string(), "\n")

    rates = flip_rates(lambda x: probabilities(x).argmax(axis=1), data.images, seed=args.seed,
                       groups=data.metadata["scanner"])
    print("Flip rates (share of decisions that change), overall with 95 % interval, and by scanner (SIMULATED):")
    for r in rates:
        groups = ", ".join(f"{g} {v[0]:.3f}" for g, v in r.by_group.items())
        print(f"  {r.perturbation.label:24s} {r.rate:.3f} [{r.ci[0]:.3f}, {r.ci[1]:.3f}]   {groups}")

    idx = np.sort(np.random.default_rng(args.seed).choice(len(data), min(args.sample, len(data)), replace=False))
    x = data.images[idx]
    target = probabilities(x).argmax(axis=1)
    checks = check_methods(model, x, target=target, layers_to_randomise=CASCADE, seed=args.seed, layer=LAYER)
    print(f"\nAttribution maps of {len(x)} decisions (seed {args.seed}), each explained for the decided class:")
    for c in checks:
        r, d = c.randomisation, c.deletion
        steps = ", ".join(f"{s.mean_spearman:.2f}" for s in r.steps)
        ci = ", ".join(f"{v:.3f}" for v in d.difference_ci if v is not None)
        gap = "" if c.completeness_gap is None else f"; IG completeness gap <= {c.completeness_gap:.3f}"
        role = "control" if c.control else ("KEPT (drawn)" if c.kept else "listed, not drawn")
        print(f"  {c.method:9s} {role}")
        print(f"      randomisation: mean Spearman |map| by cascade step {steps} -> "
              f"{'pass' if r.passed else 'FAIL'} (threshold {r.threshold})")
        print(f"      deletion AUC {d.deletion_auc:.3f} vs random {d.random_deletion_auc:.3f} "
              f"(difference 95 % CI [{ci}], {d.share_below_random:.0%} of images below) -> "
              f"{'pass' if d.passed else 'FAIL'}; insertion AUC {d.insertion_auc:.3f} vs random "
              f"{d.random_insertion_auc:.3f}{gap}")


if __name__ == "__main__":
    main()
