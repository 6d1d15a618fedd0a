"""The pipeline's promises: seeded reproducibility, and no half-written bundle on failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from audit.checks import CheckContext

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _quick_spec(tmp_path: Path, *, model: dict) -> Path:
    """The example spec in tmp_path, unsigned, with a given model and the slow samples turned down."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"] = model
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec.pop("signing")
    spec["explanations"] = {"lime_sample": 0}
    spec.setdefault("fairness", {})["bootstrap"] = 50
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _dumped(evidence: list) -> list[dict]:
    dumped = [e.model_dump(mode="json") for e in evidence]
    assert all("seconds" not in item for item in dumped)  # timings go to the manifest, not audit.json
    return dumped


@pytest.mark.slow
def test_same_inputs_give_the_same_evidence_and_findings(german_subject) -> None:
    """Everything random is seeded from the spec: two runs agree on every figure and every status."""
    import datetime as dt

    from audit import policies
    from audit.pipeline import _run_checks

    spec = german_subject.spec.model_copy(update={
        "explanations": german_subject.spec.explanations.model_copy(update={"lime_sample": 30, "lime_repeats": 2}),
        "fairness": german_subject.spec.fairness.model_copy(update={"bootstrap": 200}),
    })
    runs = []
    for _ in range(2):
        ctx = CheckContext(spec=spec, seed=spec.seed)
        evidence = _run_checks(german_subject, ctx, {})
        findings = policies.evaluate(spec, evidence, audit_date=dt.date(2026, 11, 22))
        runs.append((_dumped(evidence), [f.model_dump(mode="json") for f in findings], ctx.decision_columns))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert runs[0][2].keys() == runs[1][2].keys()
    for name in runs[0][2]:  # NaN-aware: a decision without recourse has no cost in either run
        pd.testing.assert_series_equal(pd.Series(runs[0][2][name]), pd.Series(runs[1][2][name]), obj=name)


def test_a_failure_while_writing_leaves_no_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that breaks after checks (here: in the renderer) leaves neither a bundle nor a partial folder."""
    import audit.report
    from audit.pipeline import run_audit

    path = _quick_spec(tmp_path, model={"path": str(EXAMPLE / "model.skops"), "format": "skops"})

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit.report, "render_report", broken)
    with pytest.raises(OSError, match="disk full"):
        run_audit(path, output=tmp_path / "reports")
    leftovers = [p for p in (tmp_path / "reports").rglob("*") if p.is_file() or p.name.endswith(".partial")]
    assert leftovers == []


def test_a_model_loaded_on_trust_is_recorded_as_such(tmp_path: Path, german_subject) -> None:
    """--trust-model (not only model.trust in the spec) shows in audit.json, so the reader knows a pickle was loaded."""
    import json
    import pickle

    from audit.pipeline import run_audit

    (tmp_path / "model.pkl").write_bytes(pickle.dumps(german_subject.model.estimator))
    path = _quick_spec(tmp_path, model={"path": "model.pkl", "format": "pickle"})
    outcome = run_audit(path, trust_model=True, output=tmp_path / "reports")
    recorded = json.loads((outcome.bundle_dir / "audit.json").read_text())["subject"]
    assert recorded["model_format"] == "pickle" and recorded["model_trusted_explicitly"] is True


@pytest.mark.slow
def test_two_runs_write_byte_identical_audit_json(tmp_path: Path) -> None:
    """Same inputs, different clock: audit.json is the same file byte for byte; the time is in the manifest."""
    import datetime as dt
    import json

    from audit.pipeline import run_audit

    path = _quick_spec(tmp_path, model={"path": str(EXAMPLE / "model.skops"), "format": "skops"})
    first = run_audit(path, output=tmp_path / "a", now=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC))
    second = run_audit(path, output=tmp_path / "b", now=dt.datetime(2026, 11, 30, 17, 45, 12, tzinfo=dt.UTC))
    one, two = (first.bundle_dir / "audit.json").read_bytes(), (second.bundle_dir / "audit.json").read_bytes()
    assert one == two
    assert b"generated_at" not in one and b"timings" not in one
    manifests = [json.loads((o.bundle_dir / "manifest.json").read_text()) for o in (first, second)]
    assert manifests[0]["audit"]["generated_at"] != manifests[1]["audit"]["generated_at"]
    assert "check.fairness" in manifests[0]["audit"]["timings"]
