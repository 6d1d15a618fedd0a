"""Image decision systems through `audit run` (issue 13, image part): the digits example end to end.

Independent truth: the images are read again with Pillow and numpy, the TorchScript CNN is run with torch
directly, and group rates are recomputed with pandas; the flip rate under noise is recomputed from torch
decisions on the perturbed images. The maps' checks are asserted as the issue states them: Grad-CAM and
Integrated Gradients pass the randomisation test on the trained CNN, the constant control fails it, and every
kept method's deletion AUC is below random's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from factories import apply_changes
from PIL import Image

from audit.checks._base import CheckContext
from audit.checks._image_maps import IMAGE_MAPS_ID, image_maps_evidence
from audit.errors import (
    IMAGE_COLUMNS_MANY,
    IMAGE_INPUTS,
    IMAGE_MODEL_FORMAT,
    IMAGES_WITHOUT_COLUMN,
    AuditInputError,
)
from audit.image import Perturbation, perturb
from audit.models.tensor import ONNX_NO_GRADIENTS
from audit.pipeline import run_audit
from audit.report.charts import chart_svg
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-scanners"
SAMPLE = 48  # decisions whose maps are checked (the example uses 200; README.md has those figures)


def _spec(tmp: Path, signing: dict[str, str] | None = None, **changes: Any) -> Path:
    """The example's spec with absolute paths, a smaller map sample and bootstrap, and ``changes`` (dotted keys)."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.pt")
    spec["data"]["path"] = str(EXAMPLE / "audit-half.csv")
    if signing is None:
        spec.pop("signing")
    else:
        spec["signing"] = signing
    spec["images"]["sample"] = SAMPLE
    spec["fairness"]["bootstrap"] = 200
    spec["output"] = str(tmp / "reports")
    apply_changes(spec, changes)
    path = tmp / "audit.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _images(files: list[str]) -> np.ndarray:
    """The PNGs as the model takes them: (N, 1, H, W) float32 in [0, 1], read with Pillow and numpy only."""
    return np.stack([np.asarray(Image.open(EXAMPLE / f).convert("L"), dtype=np.float32)[None] / 255.0 for f in files])


def _torch_decisions(x: np.ndarray) -> np.ndarray:
    model = torch.jit.load(str(EXAMPLE / "model.pt"), map_location="cpu").eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    return logits.argmax(axis=1) == 1  # classes ["0-4", "5-9"]: the positive decision "5-9" is column 1


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, signing_pair: dict[str, str]) -> Path:
    # annex 5a (not the example's "none") so that the AI Act's high-risk rules read the image evidence
    tmp = tmp_path_factory.mktemp("digits")
    return run_audit(_spec(tmp, signing_pair, **{"system.annex_iii_area": "5a"})).bundle_dir


@pytest.fixture(scope="module")
def result(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "audit.json").read_text())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    table = pd.read_csv(EXAMPLE / "audit-half.csv")
    table["decided"] = _torch_decisions(_images(table["file"].tolist()))
    table["truth"] = table["label"] == "5-9"
    return table


def _evidence(result: dict[str, Any], ev_id: str) -> dict[str, Any]:
    return next(e for e in result["evidence"] if e["id"] == ev_id)


def test_decisions_are_the_cnn_own(bundle: Path, data: pd.DataFrame) -> None:
    decisions = pd.read_parquet(bundle / "decisions.parquet").set_index("id")
    assert len(decisions) == len(data) == 899
    assert (decisions.loc[data["id"], "decision"].to_numpy() == data["decided"].to_numpy()).all()


def test_group_rates_match_pandas(result: dict[str, Any], data: pd.DataFrame) -> None:
    table = next(t for t in _evidence(result, "fairness.error_rates")["tables"] if t["title"] == "Rates by group")
    rows = {r[1]: dict(zip(table["columns"], r, strict=True)) for r in table["rows"]}
    for scanner, g in data.groupby("scanner"):
        row = rows[scanner]
        assert row["people"] == len(g)
        assert row["positive-decision rate"] == pytest.approx(g["decided"].mean(), abs=1e-12)
        assert row["accuracy"] == pytest.approx((g["decided"] == g["truth"]).mean(), abs=1e-12)
        assert row["FPR: wrongly granted"] == pytest.approx(g.loc[~g["truth"], "decided"].mean(), abs=1e-12)
        assert row["TPR: rightly granted"] == pytest.approx(g.loc[g["truth"], "decided"].mean(), abs=1e-12)
    # the README's finding: scanner B's "0-4" forms are sent to "5-9" about twice as often
    assert rows["B"]["FPR: wrongly granted"] > 1.5 * rows["A"]["FPR: wrongly granted"]


def test_noise_flip_rate_recomputed_with_torch(result: dict[str, Any], data: pd.DataFrame) -> None:
    ev = _evidence(result, "robustness.perturbation")
    assert ev["status"] == "ok"
    seed = ev["params"]["noise_seed"]
    x = _images(data["file"].tolist())
    flipped = _torch_decisions(perturb(x, Perturbation("noise", 0.1), seed=seed)) != data["decided"].to_numpy()
    assert ev["metrics"]["noise_level_max"] == 0.1
    assert ev["metrics"]["flip_rate_noise_max"] == pytest.approx(flipped.mean(), abs=1e-12)
    assert ev["metrics"]["flip_rate_missing"] is None and "never missing" in ev["missing"]["flip_rate_missing"]
    by_group = next(t for t in ev["tables"] if t["title"] == "Flip rate by perturbation and scanner")
    noise_row = dict(zip(by_group["columns"], next(r for r in by_group["rows"] if r[0] == "noise sigma=0.1"),
                         strict=True))
    for scanner in ("A", "B"):
        inside = (data["scanner"] == scanner).to_numpy()
        assert noise_row[f"{scanner}: flip_rate"] == pytest.approx(flipped[inside].mean(), abs=1e-12)


def test_maps_pass_their_checks_and_the_control_fails(result: dict[str, Any]) -> None:
    ev = _evidence(result, IMAGE_MAPS_ID)
    m = ev["metrics"]
    assert m["n_images"] == SAMPLE
    assert m["gradcam_spearman"] < 0.5 and m["ig_spearman"] < 0.5
    assert m["control_rejected"] is True
    table = ev["tables"][0]
    rows = {r[0]: dict(zip(table["columns"], r, strict=True)) for r in table["rows"]}
    assert rows["constant (control)"]["randomisation"] == "FAIL" and rows["constant (control)"]["drawn"] == "control"
    for name in ("Grad-CAM", "Integrated Gradients"):
        assert rows[name]["randomisation"] == "pass"
    kept = [name for name, row in rows.items() if row["drawn"] == "yes"]
    assert {"Grad-CAM", "Integrated Gradients"} <= set(kept)
    for name in kept:  # the deletion curve of each kept method lies below random's
        assert rows[name]["deletion_auc"] < rows[name]["random_deletion_auc"]
    assert m["methods_kept"] == len(kept)


def test_example_maps_drawn_only_for_kept_methods(result: dict[str, Any], bundle: Path) -> None:
    ev = _evidence(result, IMAGE_MAPS_ID)
    examples = [c for c in ev["charts"] if c["kind"] == "images"]
    assert len(examples) == 4
    kept = ev["metrics"]["kept_methods"].split(", ")
    for chart in examples:
        assert chart["labels"] == ["image", *kept]
        assert len(chart["grids"]) == 1 + len(kept)
        assert all(0.0 <= v <= 1.0 for grid in chart["grids"] for line in grid for v in line)
    from audit.evidence import Chart

    svg = chart_svg(Chart.model_validate(examples[0]))
    assert svg.count("<image") == 1 + len(kept)  # one panel each (matplotlib composites a map over its image)
    html = (bundle / "report.html").read_text()
    assert "Attribution maps of image decisions" in html and "<script" not in html


def test_rules_read_the_image_evidence(result: dict[str, Any]) -> None:
    """Explanations of every decision are not produced for images: the rules resting on them say REVIEW."""
    shap = _evidence(result, "local.shap")
    assert shap["status"] == "not_assessed" and "image" in shap["reason"]
    findings = {f["id"]: f for f in result["findings"]}
    robustness = [f for f in findings.values() if "robustness.perturbation" in f["evidence_ids"]]
    assert robustness, "some requirement must rest on the robustness evidence"
    explained = [f for f in findings.values() if "local.shap" in f["evidence_ids"] and f["status"] != "N/A"]
    assert explained and all(f["status"] != "PASS" for f in explained)


def test_onnx_maps_come_from_its_reference(tmp_path: Path) -> None:
    with_reference = load_subject(load_spec(_spec(tmp_path, **{"model.path": str(EXAMPLE / "model.onnx"),
                                                               "model.format": "onnx",
                                                               "model.reference": str(EXAMPLE / "model.pt")})))
    torchscript = load_subject(load_spec(_spec(tmp_path)))
    assert (with_reference.predictions.decision == torchscript.predictions.decision).all()
    assert with_reference.model is not None and with_reference.model.drift["decisions_differing"] == 0
    alone = load_subject(load_spec(_spec(tmp_path, **{"model.path": str(EXAMPLE / "model.onnx"),
                                                      "model.format": "onnx", "images.layer": None,
                                                      "images.randomise": None})))
    ev = image_maps_evidence(alone, CheckContext(spec=alone.spec, seed=0))
    assert ev.status == "not_assessed" and ev.reason == ONNX_NO_GRADIENTS


@pytest.mark.parametrize(("changes", "expected"), [
    ({"data.feature_types": None}, IMAGES_WITHOUT_COLUMN),
    ({"data.feature_types": {"file": "image", "digit": "image"}}, IMAGE_COLUMNS_MANY.format(columns="file, digit")),
    ({"model.inputs": ["file", "digit"]}, IMAGE_INPUTS.format(column="file", inputs=["file", "digit"])),
    ({"model.format": "skops", "model.inputs": None, "model.output": None, "model.classes": None},
     IMAGE_MODEL_FORMAT.format(fmt="skops")),
])
def test_spec_refusals(tmp_path: Path, changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(AuditInputError) as caught:
        load_spec(_spec(tmp_path, **changes))
    assert expected in str(caught.value)


def test_bad_layer_and_missing_image_refused_before_work(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match=r"field 'images.layer': the model has no layer 'features.9'"):
        load_subject(load_spec(_spec(tmp_path, **{"images.layer": "features.9"})))
    with pytest.raises(AuditInputError, match=r"field 'images.layer': Grad-CAM needs a layer whose output is"):
        load_subject(load_spec(_spec(tmp_path, **{"images.layer": "classifier.1"})))
    folder = tmp_path / "copy"
    shutil.copytree(EXAMPLE / "images", folder / "images")
    table = pd.read_csv(EXAMPLE / "audit-half.csv")
    table.to_csv(folder / "audit-half.csv", index=False)
    (folder / table["file"].iloc[3]).unlink()
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(_spec(tmp_path, **{"data.path": str(folder / "audit-half.csv")})))
    message = str(caught.value)
    assert f"image '{table['id'].iloc[3]}': file not found" in message and "audit-half.csv" in message
