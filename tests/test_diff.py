"""`audit diff` on the Adult example (issue 14, item 1).

Three signed audits of the same 6,000 people (a seeded sample of the example's audit rows), from decision logs:
- baseline: the example's shipped model (examples/adult-hiring/model.skops);
- retrained: the example's own pipeline (one-hot + LightGBM) refitted here on its training rows without sex and
  relationship;
- worse by construction: the baseline's decisions with 30 % of women's favourable decisions made adverse.
The diff's figures are checked against pandas; the verdicts and exit codes against what was constructed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from audit.cli import app
from audit.compare.bundles import DIFF_BUNDLE_ALTERED
from audit.models.sklearn import load_skops
from audit.pipeline import run_audit

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "examples" / "adult-hiring"
ROWS = 6_000
MARGIN = 0.05
SET_BY = "Model risk committee, minutes 2026-11-30 (test)"


def _prepare() -> Any:
    """examples/adult-hiring/prepare.py, which builds the example's model."""
    found = importlib.util.spec_from_file_location("adult_prepare", ADULT / "prepare.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def _audit(tmp: Path, name: str, frame: pd.DataFrame, decision: np.ndarray, signing: dict[str, str]) -> Path:
    data = frame.assign(decision=np.where(decision, "invite", "reject"))
    data.to_csv(tmp / f"{name}.csv", index=False)
    spec = {
        "system": {"name": "Candidate screening (Adult)", "version": name, "provider": "Example Staffing Inc.",
                   "intended_purpose": "Screen job applicants for interview.", "role": "deployer",
                   "jurisdictions": ["EU"], "annex_iii_area": "4a", "profiling": True, "solely_automated": False},
        "model": {"format": "none"},
        "data": {"path": f"{name}.csv", "target": "income", "positive_label": ">50K",
                 "favourable_decision": "positive", "id_column": "person_id",
                 "protected": [{"column": "sex", "kind": "sex"}, {"column": "race", "kind": "race"}],
                 "decision": {"column": "decision", "positive_values": ["invite"]}},
        "policies": ["eu-ai-act"], "fairness": {"bootstrap": 100}, "seed": 1,
        "signing": signing,
        "output": str(tmp / "reports"),
    }
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return run_audit(tmp / f"{name}.yaml").bundle_dir


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory, signing_pair: dict[str, str]) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("diff")
    adult = pd.read_parquet(ADULT / "adult.parquet")
    audit_rows = adult[adult["split"] != "train"].sample(ROWS, random_state=11).drop(columns="split")
    train = adult[adult["split"] == "train"]
    features = [c for c in adult.columns if c not in ("person_id", "income", "split")]
    baseline = load_skops(ADULT / "model.skops", trust=False, folders=[])
    base_decision = baseline.predict(audit_rows[features]) == ">50K"
    kept = [c for c in features if c not in ("sex", "relationship")]
    retrained = _prepare().build_model(train[kept])  # the example's own pipeline (one-hot + LightGBM), refitted
    retrained.fit(train[kept], train["income"] == ">50K")
    new_decision = retrained.predict(audit_rows[kept]).astype(bool)
    rng = np.random.default_rng(5)
    worse = base_decision.copy()
    women_invited = np.flatnonzero((audit_rows["sex"] == "Female").to_numpy() & base_decision)
    worse[rng.choice(women_invited, size=int(0.3 * len(women_invited)), replace=False)] = False
    out = {"frame": audit_rows, "tmp": tmp, "decisions": {"baseline": base_decision, "retrained": new_decision,
                                                          "worse": worse}}
    out |= {name: _audit(tmp, name, audit_rows, d, signing_pair) for name, d in out["decisions"].items()}
    (tmp / "diff.yaml").write_text(yaml.safe_dump({
        "margins": {f: {"value": MARGIN, "set_by": SET_BY} for f in ("favourable_rate", "wrongly_adverse_rate",
                                                                     "accuracy")},
        "bootstrap": 1000, "seed": 3, "output": str(tmp / "diffs"),
        "signing": signing_pair}))
    return out


def _diff(bundles: dict[str, Any], new: str, *extra: str) -> tuple[Any, dict[str, Any]]:
    tmp = bundles["tmp"]
    result = CliRunner().invoke(app, ["diff", str(bundles["baseline"]), str(bundles[new]), "--spec",
                                      str(tmp / "diff.yaml"), "--history", str(tmp / f"h-{new}.sqlite"), *extra])
    folders = sorted((tmp / "diffs").glob("*/diff-*"))
    return result, json.loads((folders[-1] / "diff.json").read_text()) if folders else {}


def test_retrained_without_sex_is_no_worse(bundles: dict[str, Any]) -> None:
    result, diff = _diff(bundles, "retrained")
    assert result.exit_code == 0, result.output
    assert diff["verdict"] in ("PASS", "REVIEW")
    assert not [c for c in diff["comparisons"] if c["judgement"] == "worse" and c["margin_set_by"]]
    frame = bundles["frame"]
    women = (frame["sex"] == "Female").to_numpy()
    row = next(c for c in diff["comparisons"] if c["figure"] == "favourable_rate" and c["group"] == "Female")
    assert row["paired"] is True
    assert row["baseline_rate"] == pytest.approx(bundles["decisions"]["baseline"][women].mean(), abs=1e-12)
    assert row["new_rate"] == pytest.approx(bundles["decisions"]["retrained"][women].mean(), abs=1e-12)
    truth = (frame["income"] == ">50K").to_numpy()
    # the same 6,000 people in both audits: their inputs did not move
    assert diff["data_drift"] and not any(d["drifted"] for d in diff["data_drift"])
    accuracy = next(c for c in diff["comparisons"] if c["figure"] == "accuracy" and c["attribute"] == "all")
    assert accuracy["new_rate"] == pytest.approx((bundles["decisions"]["retrained"] == truth).mean(), abs=1e-12)


def test_worse_for_women_fails_naming_group_and_figure(bundles: dict[str, Any]) -> None:
    result, diff = _diff(bundles, "worse", "--junit", str(bundles["tmp"] / "diff-junit.xml"))
    assert result.exit_code == 1, result.output
    assert diff["verdict"] == "FAIL"
    failing = [c for c in diff["comparisons"] if c["judgement"] == "worse" and c["margin_set_by"] == SET_BY]
    # 30 % of invited women turned away: most of them had the favourable outcome, so their false rejections rise
    # by far more than the 5-point margin (their selection rate drops by less: few women are invited at all)
    assert ("wrongly_adverse_rate", "sex", "Female") in {(c["figure"], c["attribute"], c["group"]) for c in failing}
    assert all(c["group"] != "Male" for c in failing)
    assert "wrongly_adverse_rate for sex=Female" in result.output.replace("\n", " ")
    frame = bundles["frame"]
    women_good = ((frame["sex"] == "Female") & (frame["income"] == ">50K")).to_numpy()
    row = next(c for c in failing if c["figure"] == "wrongly_adverse_rate" and c["group"] == "Female")
    assert row["new_rate"] == pytest.approx((~bundles["decisions"]["worse"][women_good]).mean(), abs=1e-12)
    assert row["ci_low"] > MARGIN  # worse = higher here: the whole interval lies beyond the margin
    men = next(c for c in diff["comparisons"] if c["figure"] == "favourable_rate" and c["group"] == "Male")
    assert men["difference"] == 0.0 and men["judgement"] == "no worse"  # nothing changed for men
    junit = (bundles["tmp"] / "diff-junit.xml").read_text()
    assert 'classname="figures.wrongly_adverse_rate" name="sex=Female"><failure' in junit


def test_altered_baseline_refused_naming_the_file(bundles: dict[str, Any], tmp_path: Path) -> None:
    altered = tmp_path / "altered"
    shutil.copytree(bundles["baseline"], altered)
    text = (altered / "audit.json").read_text()
    (altered / "audit.json").write_text(text.replace('"verdict": "', '"verdict": "X', 1))
    result = CliRunner().invoke(app, ["diff", str(altered), str(bundles["retrained"]), "--no-history",
                                      "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    message = result.output.replace("\n", "")
    assert DIFF_BUNDLE_ALTERED.split("{problem}")[0].format(path=altered, role="baseline") in message
    assert "audit.json" in message
    assert not (tmp_path / "out").exists()


def test_nothing_judged_is_review_not_pass(bundles: dict[str, Any]) -> None:
    """Groups all under min_group_size: every figure is shown, none judged, and the diff cannot PASS on that."""
    from audit.compare.bundles import diff_bundles
    from audit.compare.spec import DiffSpec

    diff = diff_bundles(baseline=bundles["baseline"], new=bundles["retrained"],
                        spec=DiffSpec(min_group_size=ROWS + 1, bootstrap=200))
    assert diff.comparisons and all(c.judgement == "not judged" for c in diff.comparisons)
    assert diff.verdict.value == "REVIEW"
    assert any(reason.startswith("no figure could be judged") for reason in diff.reasons)
