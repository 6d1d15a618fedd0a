"""Build the digits-scanners example's images and metadata from scikit-learn's bundled digits.

Source: ``sklearn.datasets.load_digits()``, the copy scikit-learn ships of the test part of the UCI
"Optical Recognition of Handwritten Digits" data set (E. Alpaydin, C. Kaynak, 1998; UCI Machine
Learning Repository, CC BY 4.0; scikit-learn itself is BSD-3-Clause). 1,797 images of 8 x 8 pixels
(0..16 counts of "on" pixels per 4 x 4 block of a 32 x 32 NIST bitmap), one digit each. Nothing is
downloaded: the data are inside the scikit-learn package.

What this script makes of them (deterministic: the same files on every run):

- every image scaled to 0..255, upsampled to 32 x 32 with Pillow's bilinear filter, one 8-bit
  grayscale PNG per digit in ``images/``;
- a SIMULATED acquisition attribute ``scanner`` ("A" or "B"). It is not in the source data. Scanner B
  is simulated as a low-contrast device: its images are x' = 0.5 + CONTRAST_B * (x - 0.5) in 0..1
  (grey background, grey strokes). The split into scanners is seeded (SEED). The story it stands for:
  scanner B was installed after the model was trained, so it is rare in the training half
  (P_B_TRAIN) and common in the audit half (P_B_AUDIT);
- a seeded 50/50 split into ``train`` and ``audit`` halves, stratified by digit (``split`` column);
- ``metadata.csv``: id, file (relative to this folder), label (the routing class the digit belongs
  to: "0-4" or "5-9"), digit (0..9), scanner (SIMULATED), split.

The decision audited (an illustration, see README.md): route a scanned form to queue "5-9" when its
handwritten digit is read as 5..9, else to queue "0-4".

Run: .venv/bin/python examples/digits-scanners/make_data.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
SEED = 20261130
SIZE = 32
#: Scanner B (SIMULATED) keeps this share of the contrast around mid-grey.
CONTRAST_B = 0.5
#: Share of scanner-B images (SIMULATED) in the training and in the audit half.
P_B_TRAIN = 0.1
P_B_AUDIT = 0.5


def routing_class(digit: int) -> str:
    """The routing class of a digit: queue "5-9" for 5..9, queue "0-4" for 0..4."""
    return "5-9" if digit >= 5 else "0-4"


def upsample(image8: np.ndarray) -> np.ndarray:
    """An 8 x 8 image of 0..16 counts as a 32 x 32 image in 0..1 (Pillow bilinear on the 8-bit image)."""
    small = Image.fromarray(np.round(image8 / 16.0 * 255.0).astype(np.uint8), mode="L")
    return np.asarray(small.resize((SIZE, SIZE), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def scanner_b(image: np.ndarray) -> np.ndarray:
    """SIMULATED scanner B: contrast reduced around mid-grey (0.5) to CONTRAST_B of the original."""
    return 0.5 + CONTRAST_B * (image - 0.5)


def main() -> None:
    digits = load_digits()
    n = len(digits.target)
    index = np.arange(n)
    train, audit = train_test_split(index, test_size=0.5, random_state=SEED, stratify=digits.target)
    split = np.empty(n, dtype=object)
    split[train], split[audit] = "train", "audit"
    rng = np.random.default_rng(SEED)
    draw = rng.random(n)
    scanner = np.where(draw < np.where(split == "train", P_B_TRAIN, P_B_AUDIT), "B", "A")
    if IMAGES.exists():
        shutil.rmtree(IMAGES)
    IMAGES.mkdir()
    rows = []
    for i in index:
        image = upsample(digits.images[i])
        if scanner[i] == "B":
            image = scanner_b(image)
        name = f"images/digit-{i:04d}.png"
        Image.fromarray(np.round(image * 255.0).astype(np.uint8), mode="L").save(HERE / name, optimize=True)
        digit = int(digits.target[i])
        rows.append({"id": f"digit-{i:04d}", "file": name, "label": routing_class(digit), "digit": digit,
                     "scanner": scanner[i], "split": split[i]})
    table = pd.DataFrame(rows)
    table.to_csv(HERE / "metadata.csv", index=False)
    # The audit reads the half the model was not trained on (audit.yaml's data.path).
    table[table["split"] == "audit"].drop(columns="split").to_csv(HERE / "audit-half.csv", index=False)
    counts = table.groupby(["split", "scanner"]).size().unstack(fill_value=0)
    print(f"wrote {n} PNGs to {IMAGES} and {HERE / 'metadata.csv'}\nimages per split and (SIMULATED) scanner:\n{counts}")


if __name__ == "__main__":
    main()
