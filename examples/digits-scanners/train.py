"""Train the digits-scanners example's CNN and save it as TorchScript (model.pt) and ONNX (model.onnx).

Reads the images of ``split == "train"`` from metadata.csv (written by make_data.py) with the audit's
own reader (:func:`audit.image.read_images`: float32 in [0, 1], the same preprocessing the audit uses)
and trains a small CNN for the binary routing decision: class 1 = "5-9" (the digit is 5..9), class 0 =
"0-4". The network outputs two logits, in the order of the classes ["0-4", "5-9"].

Architecture (module paths are what an audit spec names):

    features.0  Conv2d(1, 8, 3, padding=1)    features.1 ReLU   features.2 MaxPool2d(2)   -> 8 x 16 x 16
    features.3  Conv2d(8, 16, 3, padding=1)   features.4 ReLU   features.5 MaxPool2d(2)   -> 16 x 8 x 8
    classifier.0 Flatten   classifier.1 Linear(1024, 32)   classifier.2 ReLU   classifier.3 Linear(32, 2)

Grad-CAM reads ``features.3`` (the output of the last convolution, 16 x 16, as Captum's documentation
hooks a convolution module); the randomisation test re-draws ``classifier.3``, ``classifier.1``, ``features.3``, ``features.0`` in that order (top down).

Training: Adam (learning rate 3e-3, EPOCHS epochs, mini-batches of 32 in a seeded order), cross-entropy,
``torch.manual_seed(SEED)``, one thread, deterministic algorithms: the same weights on every run, in a few
seconds on a CPU.

Writes, beside this file: model.pt (torch.jit.script + torch.jit.save) and model.onnx (exported from
model.pt as saved: TorchScript-based exporter, dynamo=False, opset 17, dynamic batch axis; input
"images" (N, 1, 32, 32), output "logits" (N, 2)). Prints accuracy and the share routed to "5-9" on the
audit half, by (SIMULATED) scanner, and the largest difference between the two files' probabilities.

Run: .venv/bin/python examples/digits-scanners/train.py   (after make_data.py)
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audit.image import read_images

HERE = Path(__file__).resolve().parent
SEED = 20261130
EPOCHS = 15
BATCH = 32
LEARNING_RATE = 3e-3
CLASSES = ["0-4", "5-9"]


class DigitsCNN(torch.nn.Module):
    """Two convolutions with pooling, then two linear layers: two logits, for "0-4" and "5-9"."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def load(split: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images (N, 1, 32, 32), class index (1 = "5-9") and metadata of one split."""
    table = pd.read_csv(HERE / "metadata.csv")
    data = read_images(HERE / "metadata.csv", rows=(table["split"] == split).to_numpy())
    y = (data.metadata["label"] == CLASSES[1]).to_numpy().astype(np.int64)
    return data.images, y, data.metadata


def fit(x: np.ndarray, y: np.ndarray) -> DigitsCNN:
    torch.manual_seed(SEED)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(xt), generator=order).split(BATCH):
            optimiser.zero_grad()
            loss(model(xt[idx]), yt[idx]).backward()
            optimiser.step()
    return model.eval()


def main() -> None:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    x_train, y_train, _ = load("train")
    model = fit(x_train, y_train)
    torch.jit.save(torch.jit.script(model), str(HERE / "model.pt"))
    loaded = torch.jit.load(str(HERE / "model.pt"), map_location="cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces that it is the legacy one
        torch.onnx.export(loaded, (torch.zeros(2, 1, 32, 32),), str(HERE / "model.onnx"), dynamo=False,
                          opset_version=17, input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    seconds = time.perf_counter() - started
    x, y, meta = load("audit")
    with torch.no_grad():
        p = torch.softmax(loaded(torch.from_numpy(x)), dim=1)[:, 1].numpy()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(HERE / "model.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    z = session.run(None, {"images": x})[0]
    p_onnx = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
    decided = p > 0.5
    frame = pd.DataFrame({"scanner (SIMULATED)": meta["scanner"], "correct": decided == (y == 1),
                          "routed to 5-9": decided, "truly 5-9": y == 1})
    print(f"wrote {HERE / 'model.pt'} and {HERE / 'model.onnx'} (training {seconds:.1f} s, {len(x_train)} images)")
    print(f"audit half: {len(x)} images, accuracy {frame['correct'].mean():.3f}; "
          f"max |p_onnx - p_torchscript| = {np.abs(p_onnx - p).max():.1e}, "
          f"decisions differing: {int(((p_onnx > 0.5) != decided).sum())}")
    print(frame.groupby("scanner (SIMULATED)").agg(images=("correct", "size"), accuracy=("correct", "mean"),
                                                   routed_5_9=("routed to 5-9", "mean"),
                                                   truly_5_9=("truly 5-9", "mean")).round(3))


if __name__ == "__main__":
    main()
