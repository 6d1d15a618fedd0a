"""`audit run --mlflow` (issue 14): one audit logged to a local MLflow store and read back with MlflowClient.

The result is built by hand from the test factories (every registered evidence kind, typed, with two metrics
unmeasured and one check not assessed); the bundle is a small folder with a nested file. The first log creates
the SQLite store (MLflow's migrations, about 2 s) once for the module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import passing_evidence

from audit.errors import AuditInputError
from audit.evidence import AuditResult, Evidence, EvidenceStatus, Status, write_audit_json
from audit.integrations.mlflow_log import (
    DEFAULT_ARTIFACTS,
    DEFAULT_DB,
    MLFLOW_EXPERIMENT_DELETED,
    MLFLOW_LOG_FAILED,
    MLFLOW_NOT_INSTALLED,
    default_tracking_uri,
    log_audit,
    metric_key,
    shown_uri,
    sqlite_artifacts,
)

SYSTEM = {"name": "Credit Scoring Engine", "version": "4.2.0", "provider": "Example Bank"}
COUNTS = {"PASS": 5, "FAIL": 1, "REVIEW": 3, "N/A": 2}
NOT_ASSESSED = "local.lime"
UNMEASURED = ["fairness.selection_rate.median_score", "counterfactual.flip.attribute_max_flip"]  # None in PASSING
SPEC_TEXT = "system:\n  name: Credit Scoring Engine\n  version: 4.2.0\n"


def make_result() -> AuditResult:
    evidence = [
        Evidence.not_assessed(e.id, e.check, e.title, "no model access") if e.id == NOT_ASSESSED else e
        for e in passing_evidence()
    ]
    return AuditResult(tool={"name": "audit", "version": "0.1.0"}, audit_date="2026-09-17", system=SYSTEM,
                       subject={"rows": 1000}, evidence=evidence, findings=[], verdict=Status.FAIL, counts=COUNTS,
                       readiness_verdict=Status.REVIEW, readiness_counts={"REVIEW": 1})


def make_bundle(root: Path, result: AuditResult) -> tuple[Path, Path]:
    """A bundle folder as audit run lays it out (<output>/<system slug>/<stamp>/) with a spec beside the output."""
    bundle = root / "reports" / "credit-scoring-engine" / "20260917T140322Z"
    (bundle / "figures").mkdir(parents=True)
    write_audit_json(result, bundle / "audit.json")
    (bundle / "report.html").write_text("<html><body>report</body></html>", encoding="utf-8")
    (bundle / "figures" / "impact.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    spec = root / "audit.yaml"
    spec.write_text(SPEC_TEXT, encoding="utf-8")
    return bundle, spec


def expected_metrics(result: AuditResult) -> dict[str, float]:
    """What must be logged, read from the result by hand: numeric (not bool, not None) metrics of ok evidence."""
    out = {}
    for evidence in result.evidence:
        if evidence.status != EvidenceStatus.OK:
            continue
        for name, value in evidence.metrics.items():
            if type(value) in (int, float):
                out[f"{evidence.id}.{name}"] = float(value)  # every id and metric name is already a valid key
    out.update({"requirements.PASS": 5.0, "requirements.FAIL": 1.0, "requirements.REVIEW": 3.0,
                "requirements.N_A": 2.0})
    return out


def artifact_paths(client: Any, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for info in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, info.path) if info.is_dir else {info.path}
    return found


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory):
    """One audit logged to the default store beside its reports (no URI given, MLFLOW_TRACKING_URI unset)."""
    root = tmp_path_factory.mktemp("mlflow") / "audits 50% done?"  # SQLAlchemy decodes '%' and splits at '?'
    root.mkdir()
    result = make_result()
    bundle, spec = make_bundle(root, result)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.chdir(root)
        run_id = log_audit(bundle_dir=bundle, result=result, spec_path=spec)
    from mlflow.tracking import MlflowClient

    uri = default_tracking_uri(bundle)
    return {"root": root, "result": result, "bundle": bundle, "spec": spec, "run_id": run_id, "uri": uri,
            "client": MlflowClient(tracking_uri=uri)}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No telemetry; the current directory is a fresh one, so nothing may land in the repository (./mlruns)."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)


def test_default_store_lies_beside_the_reports(logged) -> None:
    bundle: Path = logged["bundle"]
    assert (bundle.parent / DEFAULT_DB).is_file()  # the store read back below is this file
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name, DEFAULT_ARTIFACTS, DEFAULT_DB]
    run = logged["client"].get_run(logged["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith((bundle.parent / DEFAULT_ARTIFACTS).as_uri() + "/")
    experiment = logged["client"].get_experiment(run.info.experiment_id)
    assert experiment.name == SYSTEM["name"]


def test_metrics_are_the_evidence_figures(logged) -> None:
    result: AuditResult = logged["result"]
    metrics = logged["client"].get_run(logged["run_id"]).data.metrics
    expected = expected_metrics(result)
    assert metrics == expected
    # a few read straight from the factories' PASSING values, so the comparison above is not circular
    assert metrics["performance.overall.accuracy"] == 0.8
    assert metrics["data.profile.rows"] == 1000
    assert metrics["fairness.selection_rate.min_impact_ratio"] == 0.9
    for key in UNMEASURED:  # None is not logged as 0: absent
        assert result.evidence_by_id()[key.rsplit(".", 1)[0]].metrics[key.rsplit(".", 1)[1]] is None
        assert key not in metrics
    assert "data.proxies.protected_used_as_feature" not in metrics  # a bool flag
    assert "data.bias.smallest_group" not in metrics  # a label
    assert not [k for k in metrics if k.startswith(NOT_ASSESSED + ".")]


def test_params_and_tags(logged) -> None:
    data = logged["client"].get_run(logged["run_id"]).data
    assert data.params == {
        "system.name": "Credit Scoring Engine",
        "system.version": "4.2.0",
        "audit_date": "2026-09-17",
        "schema_version": logged["result"].schema_version,
        "tool.version": "0.1.0",
        "spec.sha256": hashlib.sha256(SPEC_TEXT.encode()).hexdigest(),
        "audit.unmeasured": "2",
    }
    assert data.tags["audit.verdict"] == "FAIL"
    assert data.tags["audit.readiness_verdict"] == "REVIEW"
    assert data.tags["audit.bundle"] == str(logged["bundle"].resolve())
    assert data.tags["audit.unmeasured"].split(", ") == UNMEASURED
    assert data.tags["audit.not_assessed"] == NOT_ASSESSED


def test_artifacts_are_the_bundle(logged) -> None:
    bundle: Path = logged["bundle"]
    files = {"bundle/" + p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert files == {"bundle/audit.json", "bundle/report.html", "bundle/figures/impact.svg"}
    assert artifact_paths(logged["client"], logged["run_id"]) == files


def test_uri_from_argument_then_environment(logged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = logged["result"]
    bundle, spec = make_bundle(tmp_path, result)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", logged["uri"])
    from_env = log_audit(bundle_dir=bundle, result=result, spec_path=spec, experiment="from-env")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///" + (tmp_path / "not-this.db").as_posix())
    from_arg = log_audit(bundle_dir=bundle, result=result, spec_path=spec, tracking_uri=logged["uri"],
                         experiment="from-env")
    client = logged["client"]
    assert {client.get_run(r).info.experiment_id for r in (from_env, from_arg)} == {
        client.get_experiment_by_name("from-env").experiment_id}
    assert not (bundle.parent / DEFAULT_DB).exists() and not (tmp_path / "not-this.db").exists()
    beside_db = (logged["bundle"].parent / DEFAULT_ARTIFACTS).as_uri() + "/"
    assert all(client.get_run(r).info.artifact_uri.startswith(beside_db) for r in (from_env, from_arg))
    assert not (Path.cwd() / "mlruns").exists()  # MLflow's own default for a new experiment in a SQLite store


def test_deleted_experiment_is_refused(logged, tmp_path: Path) -> None:
    client = logged["client"]
    client.delete_experiment(client.create_experiment("gone"))
    bundle, spec = make_bundle(tmp_path, logged["result"])
    with pytest.raises(AuditInputError) as info:
        log_audit(bundle_dir=bundle, result=logged["result"], spec_path=spec, tracking_uri=logged["uri"],
                  experiment="gone")
    assert info.value.template == MLFLOW_EXPERIMENT_DELETED


def test_mlflow_refusal_is_an_input_error(logged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3.17 refuses a file store unless MLFLOW_ALLOW_FILE_STORE is set: one line naming the URI."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    with pytest.raises(AuditInputError) as info:
        log_audit(bundle_dir=logged["bundle"], result=logged["result"], spec_path=logged["spec"], tracking_uri=uri)
    assert info.value.template == MLFLOW_LOG_FAILED
    assert str(info.value).startswith(f"MLflow could not log the audit to {uri}: ")
    assert "\n" not in str(info.value)


def test_without_mlflow_the_error_is_named(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")] + ["mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)  # imported submodules too, or `from mlflow.x import` finds them
    with pytest.raises(AuditInputError) as info:
        log_audit(bundle_dir=logged["bundle"], result=logged["result"], spec_path=logged["spec"])
    assert info.value.template == MLFLOW_NOT_INSTALLED
    assert str(info.value) == MLFLOW_NOT_INSTALLED


def test_skinny_without_sql_store_is_named(logged, monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow-skinny alone (no sqlalchemy/alembic) cannot open the default SQLite store: the extra is named."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("sqlalchemy", "alembic") else find_spec(name, *a))
    with pytest.raises(AuditInputError) as info:
        log_audit(bundle_dir=logged["bundle"], result=logged["result"], spec_path=logged["spec"],
                  tracking_uri=logged["uri"])
    assert info.value.template == MLFLOW_NOT_INSTALLED


def test_missing_inputs(logged, tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match="bundle folder not found"):
        log_audit(bundle_dir=tmp_path / "none", result=logged["result"], spec_path=logged["spec"])
    with pytest.raises(AuditInputError, match="spec not found"):
        log_audit(bundle_dir=logged["bundle"], result=logged["result"], spec_path=tmp_path / "none.yaml")


def test_metric_keys_are_sanitised() -> None:
    assert metric_key("requirements", "N/A") == "requirements.N_A"
    assert metric_key("fairness.selection_rate", "min_impact_ratio") == "fairness.selection_rate.min_impact_ratio"
    assert metric_key("a b", "c:d%e-f") == "a b.c_d_e-f"
    assert metric_key("", "..x") == "x"
    assert len(metric_key("x" * 300)) == 250


def test_passwords_in_uris_are_masked() -> None:
    assert shown_uri("postgresql://audit:s3cr%40t@db.example:5432/mlflow") == "postgresql://audit:***@db.example:5432/mlflow"
    assert shown_uri("https://mlflow.example/") == "https://mlflow.example/"
    assert shown_uri("sqlite:////srv/audits/mlflow.db") == "sqlite:////srv/audits/mlflow.db"


def test_sqlite_artifacts_lie_beside_the_database(tmp_path: Path) -> None:
    assert sqlite_artifacts("sqlite:////srv/audits/mlflow.db") == Path("/srv/audits/mlartifacts")
    assert sqlite_artifacts("sqlite:///runs/mlflow.db") == tmp_path.resolve() / "runs" / "mlartifacts"  # cwd
    assert sqlite_artifacts("sqlite:////srv/a%3Fb/mlflow.db?timeout=5") == Path("/srv/a?b/mlartifacts")
    assert sqlite_artifacts("sqlite:///:memory:") is None
    assert sqlite_artifacts("https://mlflow.example") is None
