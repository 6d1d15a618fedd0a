"""Image inputs (issue 13, items 3 and 4b): reader, attribution maps, their sanity checks, perturbation flip rates.

Data and model: the digits-scanners example (examples/digits-scanners: images/ and metadata.csv from
make_data.py, model.pt and model.onnx from train.py), its audit half, a seeded sample of it. The scanner
attribute is SIMULATED (see that example's README). The reader's error cases write small PNGs into tmp_path.
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("captum")
PIL_Image = pytest.importorskip("PIL.Image")

from audit.image import DEFAULT_PERTURBATIONS, Perturbation, flip_rates, read_images  # noqa: E402
from audit.image.maps import attribution_maps, baseline_images, target_score  # noqa: E402
from audit.image.models import layer_forward, probabilities_fn  # noqa: E402
from audit.image.sanity import (  # noqa: E402
    RANDOMISATION_MAX_SPEARMAN,
    check_methods,
    deletion_insertion,
    randomisation_test,
    spearman_abs,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits-scanners"
LAYER = "features.3"  # the example's Grad-CAM layer (its README)
CASCADE = ["classifier.3", "classifier.1", "features.3", "features.0"]  # top (output) layer first
SEED = 13
SAMPLE = 48


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def audit_half():
    table = pd.read_csv(EXAMPLE / "metadata.csv")
    return read_images(EXAMPLE / "metadata.csv", rows=(table["split"] == "audit").to_numpy())


@pytest.fixture(scope="module")
def model():
    return torch.jit.load(str(EXAMPLE / "model.pt"), map_location="cpu").eval()


@pytest.fixture(scope="module")
def sample(audit_half, model):
    """A seeded sample of the audit half, with the model's decision per image (the class each map explains)."""
    idx = np.sort(np.random.default_rng(SEED).choice(len(audit_half), SAMPLE, replace=False))
    x = audit_half.images[idx]
    decisions = probabilities_fn(model, output="logits")(x).argmax(axis=1)
    return x, decisions, audit_half.metadata.iloc[idx].reset_index(drop=True)


@pytest.fixture(scope="module")
def checks(model, sample):
    x, decisions, _ = sample
    return {c.method: c for c in check_methods(model, x, target=decisions, layers_to_randomise=CASCADE, seed=SEED,
                                               layer=LAYER, random_repeats=2)}


def _eager(model: Any) -> Any:
    """The example's network as an eager module with the TorchScript file's weights."""
    found = importlib.util.spec_from_file_location("digits_train", EXAMPLE / "train.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    eager = module.DigitsCNN()
    eager.load_state_dict(model.state_dict())
    return eager.eval()


# ------------------------------------------------------------------------------------------------ the two checks


def test_gradcam_and_ig_pass_the_randomisation_test(checks):
    for method in ("gradcam", "ig"):
        result = checks[method].randomisation
        assert result.passed, (method, [s.mean_spearman for s in result.steps])
        assert result.steps[-1].mean_spearman < RANDOMISATION_MAX_SPEARMAN
        assert [s.randomised for s in result.steps] == [CASCADE[:k + 1] for k in range(len(CASCADE))]


def test_constant_map_fails_the_randomisation_test(checks):
    result = checks["constant"].randomisation
    assert not result.passed
    assert all(step.mean_spearman == 1.0 for step in result.steps)  # its maps never change
    assert not checks["constant"].kept  # a control is never drawn


def test_kept_methods_delete_faster_than_random(checks):
    kept = [c for c in checks.values() if c.kept]
    assert {"gradcam", "ig"} <= {c.method for c in kept}
    for c in kept:
        d = c.deletion
        assert d.deletion_auc < d.random_deletion_auc, c.method
        # the mean deletion curve lies below the random one's over the first half of the pixels deleted
        half = d.fractions <= 0.5
        assert np.all(d.deletion_curve[half][1:] <= d.random_deletion_curve[half][1:] + 1e-9), c.method
        assert d.deletion_curve[0] == pytest.approx(d.random_deletion_curve[0])  # both start at the image


def test_randomisation_does_not_touch_the_model(model, sample):
    x, decisions, _ = sample
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    randomisation_test(model, x[:8], method="saliency", target=decisions[:8], layers_to_randomise=CASCADE[:2],
                       seed=SEED)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_ig_completeness(model, sample):
    """sum(IG map) = f(x) - f(baseline), f from a separate forward pass (log-odds of the decided class)."""
    x, decisions, _ = sample
    x, t = x[:6], decisions[:6]
    base = baseline_images(sample[0], "mean")[0]
    maps = attribution_maps(model, x, method="ig", target=t, baseline=base, steps=256)
    moved = target_score(model, x, target=t) - target_score(model, np.broadcast_to(base, x.shape), target=t)
    gap = np.abs(maps.reshape(len(x), -1).sum(axis=1) - moved)
    assert np.all(gap <= 0.01 * np.maximum(1.0, np.abs(moved))), (gap, moved)


def test_scripted_maps_equal_eager_maps(model, sample):
    """The TorchScript split at the layer (no forward hooks there) gives the eager module's maps exactly."""
    x, decisions, _ = sample
    eager = _eager(model)
    for method, layer in (("gradcam", LAYER), ("gradcam", "features.0"), ("gradcam", "features"), ("saliency", None),
                          ("ig", None)):
        a = attribution_maps(model, x[:10], method=method, target=decisions[:10], layer=layer, steps=16)
        b = attribution_maps(eager, x[:10], method=method, target=decisions[:10], layer=layer, steps=16)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=method)
    traced = torch.jit.trace(eager, torch.zeros(2, 1, 32, 32))
    np.testing.assert_allclose(attribution_maps(traced, x[:5], method="gradcam", target=decisions[:5], layer=LAYER),
                               attribution_maps(eager, x[:5], method="gradcam", target=decisions[:5], layer=LAYER),
                               rtol=1e-5, atol=1e-6)


def test_scripted_split_refusals():
    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.act = torch.nn.ReLU()
            self.branchy = torch.nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.act(self.conv(x))
            h = self.act(h)  # the same ReLU twice
            if bool(x.sum() > 0):
                h = self.branchy(h)
            return h.mean(dim=(2, 3))

    scripted = torch.jit.script(Shared().eval())
    with pytest.raises(ValueError, match="called once"):
        layer_forward(scripted, "act")
    with pytest.raises(ValueError, match="loop or branch"):
        layer_forward(scripted, "branchy")
    with pytest.raises(ValueError, match="no layer 'nope'; its layers: conv, act, branchy"):
        layer_forward(scripted, "nope")
    forward, tap = layer_forward(scripted, "conv")
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(forward(x), scripted(x))


def test_scripted_split_with_a_skip_connection_and_a_branch_inside_the_layer():
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)
            self.rectify = True  # an attribute, not a constant: the branch stays in the graph

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv(x)
            if self.rectify:
                h = torch.relu(h)
            return h + x

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.block = Block()
            self.head = torch.nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = self.stem(x)  # used by the block and by the skip below
            return self.head(self.block(s).mean(dim=(2, 3)) + s.mean(dim=(2, 3)))

    torch.manual_seed(0)
    eager = Net().eval()
    scripted = torch.jit.script(eager)
    x = np.random.default_rng(0).random((4, 1, 10, 10)).astype(np.float32)
    for layer in ("stem", "block", "block.conv"):
        np.testing.assert_allclose(attribution_maps(scripted, x, method="gradcam", target=1, layer=layer),
                                   attribution_maps(eager, x, method="gradcam", target=1, layer=layer),
                                   rtol=1e-5, atol=1e-7, err_msg=layer)


def test_spearman_rules():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 4))
    assert np.allclose(spearman_abs(a, a), 1.0)
    assert np.allclose(spearman_abs(a, -a), 1.0)  # absolute values are compared
    flat = np.ones((1, 4, 4))
    assert spearman_abs(flat, flat)[0] == 1.0 and spearman_abs(flat, a[:1])[0] == 0.0


def test_onnx_deletion_equals_torchscript(model, sample, checks):
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    x, decisions, _ = sample
    session = onnxruntime.InferenceSession(str(EXAMPLE / "model.onnx"), providers=["CPUExecutionProvider"])
    maps = checks["saliency"].maps[:12]
    a = deletion_insertion(session, x[:12], maps, target=decisions[:12], seed=SEED, random_repeats=1)
    b = deletion_insertion(model, x[:12], maps, target=decisions[:12], seed=SEED, random_repeats=1)
    for field in ("deletion_auc", "random_deletion_auc", "insertion_auc", "random_insertion_auc"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), abs=1e-5), field


def test_argument_errors(model, sample):
    x, decisions, _ = sample
    with pytest.raises(ValueError, match="Grad-CAM needs a layer"):
        attribution_maps(model, x[:2], method="gradcam", target=decisions[:2])
    with pytest.raises(ValueError, match="method must be one of"):
        attribution_maps(model, x[:2], method="lime", target=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not exist: the model has 2 classes"):
        attribution_maps(model, x[:2], method="saliency", target=2)
    with pytest.raises(ValueError, match="no parameters to re-draw"):
        randomisation_test(model, x[:2], method="saliency", target=0, layers_to_randomise=["features.1"], seed=1)
    with pytest.raises(ValueError, match="maps must have shape"):
        deletion_insertion(model, x[:2], np.zeros((2, 8, 8)), target=0, seed=1)


# ------------------------------------------------------------------------------------------------ perturbations


def _by_hand(x: np.ndarray, p: Perturbation, seed: int) -> np.ndarray:
    """Each perturbation written out again, image by image, with numpy, scipy and Pillow directly."""
    from scipy.ndimage import gaussian_filter

    out = []
    noise = np.random.default_rng(seed).normal(0.0, 1.0, size=x.shape)
    for i, image in enumerate(x[:, 0].astype(np.float64)):
        if p.kind == "noise":
            y = np.clip(image + p.strength * noise[i, 0], 0, 1)
        elif p.kind == "blur":
            y = gaussian_filter(image, sigma=p.strength, mode="nearest")
        elif p.kind == "brightness":
            y = np.clip(image * p.strength, 0, 1)
        elif p.kind == "contrast":
            y = np.clip(0.5 + p.strength * (image - 0.5), 0, 1)
        else:
            buffer = io.BytesIO()
            PIL_Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(buffer, format="JPEG",
                                                                                         quality=int(p.strength))
            y = np.asarray(PIL_Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64) / 255
        out.append(y[None])
    return np.asarray(out, dtype=np.float32)


def test_flip_rates_equal_a_recomputation_by_hand(model, sample):
    x, _, meta = sample
    x = x[:30]
    groups = meta["scanner"].to_numpy()[:30]

    def decide(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).argmax(dim=1).numpy()

    rates = flip_rates(decide, x, perturbations=DEFAULT_PERTURBATIONS, seed=SEED, groups=groups)
    reference = decide(x)
    for r in rates:
        changed = decide(_by_hand(x, r.perturbation, SEED)) != reference
        assert r.flipped == int(changed.sum()) and r.n == 30, r.perturbation.label
        assert r.rate == pytest.approx(changed.mean())
        for g in ("A", "B"):
            assert r.by_group[g][1] == int(changed[groups == g].sum()), (r.perturbation.label, g)
        low, high = r.ci
        assert low is not None and high is not None and low <= r.rate <= high


def test_perturbation_declarations_are_checked():
    with pytest.raises(ValueError, match="jpeg strength must be a whole quality from 1 to 95"):
        Perturbation("jpeg", 120)
    with pytest.raises(ValueError, match="kind must be one of"):
        Perturbation("rotate", 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="noise strength must be a number >= 0"):
        Perturbation("noise", -0.1)


# ------------------------------------------------------------------------------------------------ the reader


def _png(path: Path, size: tuple[int, int] = (8, 8), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL_Image.new(mode, size, color=128 if mode != "RGB" else (10, 20, 30)).save(path)


def _csv(folder: Path, rows: list[tuple[str, str]]) -> Path:
    path = folder / "metadata.csv"
    pd.DataFrame(rows, columns=["id", "file"]).assign(label="0-4").to_csv(path, index=False)
    return path


def test_reader_reads_the_example(audit_half):
    assert audit_half.images.shape == (899, 1, 32, 32) and audit_half.images.dtype == np.float32
    assert 0.0 <= audit_half.images.min() and audit_half.images.max() <= 1.0
    assert list(audit_half.metadata["id"]) == audit_half.ids
    assert set(audit_half.metadata["scanner"]) == {"A", "B"}


def test_reader_errors(tmp_path):
    _png(tmp_path / "a.png")
    _png(tmp_path / "big.png", size=(9, 8))
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    _png(tmp_path / "deep.png", mode="I;16")
    cases = [
        ([("a", "a.png"), ("b", "missing.png")], "image 'b': file not found: .*missing.png"),
        ([("a", "a.png"), ("b", "broken.png")], "image 'b': .*broken.png is not an image Pillow can read"),
        ([("a", "a.png"), ("b", "big.png")], r"image 'b' \(.*big.png\) is 9x8 pixels, but 'a' is 8x8"),
        ([("a", "a.png"), ("a", "a.png")], "id 'a' appears more than once"),
        ([("a", "deep.png")], "has Pillow mode I;16: only 8-bit images are read"),
        ([("a", "../outside.png")], "is outside the image folder"),
    ]
    for rows, message in cases:
        with pytest.raises(ValueError, match=message):
            read_images(_csv(tmp_path, rows))
    with pytest.raises(ValueError, match="image metadata CSV not found"):
        read_images(tmp_path / "nothing.csv")
    pd.DataFrame({"name": ["a"], "file": ["a.png"]}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(ValueError, match="no column 'id'"):
        read_images(tmp_path / "noid.csv")
    ok = read_images(_csv(tmp_path, [("a", "a.png")]), channels=3)
    assert ok.images.shape == (1, 3, 8, 8) and np.allclose(ok.images, 128 / 255)
