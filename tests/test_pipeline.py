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


# ------------------------------------------------------------------- leftovers of killed runs (issue 10)

_BLOCKED_CHILD = """
import pathlib, sys, time
import audit.report
from audit.pipeline import run_audit

def blocked(*args, **kwargs):  # the run is now writing its partial folder: say so, then hang
    pathlib.Path(sys.argv[2]).write_text("writing")
    time.sleep(600)

audit.report.render_report = blocked
run_audit(pathlib.Path(sys.argv[1]), output=pathlib.Path(sys.argv[3]))
"""


def _decisions_only_spec(tmp_path: Path) -> Path:
    """The decision-log example (no model: quick checks), unsigned, in tmp_path."""
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec["data"]["path"] = str(EXAMPLE / spec["data"]["path"])
    spec.pop("signing")
    spec.setdefault("fairness", {})["bootstrap"] = 50
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run SIGKILLed while writing leaves .<stamp>.partial (with its writer's pid); the next run removes it and
    says so, and leaves alone a fresh partial folder of a live process and everything that is not a partial folder."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time

    import audit.report
    from audit.pipeline import PARTIAL_MARKER, run_audit

    spec, out, ready = _decisions_only_spec(tmp_path), tmp_path / "reports", tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _BLOCKED_CHILD, str(spec), str(ready), str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else child.returncode
            assert time.monotonic() < deadline, "the child never reached the renderer"
            time.sleep(0.1)
    finally:
        child.kill()
        child.wait()  # reaped: its pid is gone, as after a kill -9 in a shell
        if child.stderr:
            child.stderr.close()
    root = out / "german-credit-scoring-decision-log"
    [killed] = [p for p in root.iterdir() if p.name.endswith(".partial")]
    assert json.loads((killed / PARTIAL_MARKER).read_text())["pid"] == child.pid
    assert (killed / "audit.json").is_file()

    live = root / ".20990101T000000Z.partial"  # a concurrent run (this process) writing right now
    live.mkdir()
    (live / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    elsewhere = root / ".20990101T000001Z.partial"  # another machine's run on a shared folder, still fresh
    elsewhere.mkdir()
    (elsewhere / PARTIAL_MARKER).write_text(json.dumps({"pid": 1, "host": "another-host.invalid"}))
    abandoned = root / ".20200101T000000Z.partial"  # no marker (an older version), untouched for 20 minutes
    abandoned.mkdir()
    (abandoned / "audit.json").write_text("{}")
    for path in (abandoned / "audit.json", abandoned):
        os.utime(path, (time.time() - 1200, time.time() - 1200))
    keep = [root / ".keep", root / ".notes.partial", root / "20200101T000000Z", out / ".other.partial"]
    keep[0].mkdir()
    keep[1].write_text("a file, not a folder")
    keep[2].mkdir()
    keep[3].mkdir()

    def quick(result: object, *, out_dir: Path, generated_at: str) -> None:
        (out_dir / "report.html").write_text("<html></html>")

    monkeypatch.setattr(audit.report, "render_report", quick)
    said: list[str] = []
    outcome = run_audit(spec, output=out, progress=lambda task, done, total: said.append(task))
    assert not killed.exists() and not abandoned.exists()
    assert live.is_dir() and elsewhere.is_dir() and all(p.exists() for p in keep)
    [note] = outcome.notes
    assert note.startswith("removed 2 unfinished bundle folders") and killed.name in note and abandoned.name in note
    assert note in said
    assert not (outcome.bundle_dir / PARTIAL_MARKER).exists()
    assert PARTIAL_MARKER not in json.loads((outcome.bundle_dir / "manifest.json").read_text())["files"]

    again = run_audit(spec, output=out)  # nothing left to remove: nothing said
    assert again.notes == [] and live.is_dir() and again.bundle_dir != outcome.bundle_dir


def test_signing_material_is_checked_again_just_before_signing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate valid at the start but not when the bundle is signed (a long run): no bundle, one input error."""
    import audit.signing
    from audit.errors import AuditInputError
    from audit.pipeline import run_audit

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    audit.signing.generate_keypair(key_path=key, cert_path=cert, common_name="pipeline test (TEST KEY)")
    path = _quick_spec(tmp_path, model={"path": str(EXAMPLE / "model.skops"), "format": "skops"})
    spec = yaml.safe_load(path.read_text())
    spec["signing"] = {"key": str(key), "certificate": str(cert)}
    path.write_text(yaml.safe_dump(spec))
    real = audit.signing.check_signing_material
    calls: list[int] = []

    def expires_during_the_run(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise AuditInputError("{path}: the certificate expired during the run", path=cert)
        real(*args, **kwargs)

    monkeypatch.setattr(audit.signing, "check_signing_material", expires_during_the_run)
    with pytest.raises(AuditInputError, match="expired during the run"):
        run_audit(path, output=tmp_path / "reports")
    assert len(calls) == 2
    assert not [p for p in (tmp_path / "reports").rglob("*") if p.is_file() or p.name.endswith(".partial")]
