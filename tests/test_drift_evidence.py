"""Evidence data.drift through the Subject (issue 14, item 2): data.reference read, drift measured, shown.

The statistics are tested in tests/test_drift.py against scipy; here: the wiring. A reference in which two
features were shifted and half the women left out is flagged on exactly those features (and on the one that
encodes sex), and the group share
change equals the one computed with pandas.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from audit.checks._base import CheckContext
from audit.checks._drift import NO_REFERENCE, drift_evidence
from audit.errors import AuditInputError
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _subject(tmp: Path, reference: pd.DataFrame | None):  # noqa: ANN202 - Subject
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec["data"]["path"] = str(EXAMPLE / spec["data"]["path"])
    spec.pop("signing", None)
    if reference is not None:
        reference.to_csv(tmp / "reference.csv", index=False)
        spec["data"]["reference"] = "reference.csv"
    (tmp / "audit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_subject(load_spec(tmp / "audit.yaml"))


def test_shifted_reference_flags_the_shifted_features(tmp_path: Path) -> None:
    data = pd.read_csv(EXAMPLE / "german_credit_decisions.csv")
    women = data.index[data["sex"] == "female"]
    reference = data.drop(index=women[::2]).copy()
    reference["duration_months"] = reference["duration_months"] * 1.5
    reference["credit_amount"] = reference["credit_amount"] + 2_000
    subject = _subject(tmp_path, reference)
    ev = drift_evidence(subject, CheckContext(spec=subject.spec, seed=0))
    assert ev.status == "ok"
    drifted = set((ev.metrics["drifted_features"] or "").split(", "))
    # personal_status drifts too, as it must: its categories say sex ("female: divorced/separated/married"),
    # and half the women are missing from the reference
    assert drifted == {"duration_months", "credit_amount", "personal_status"}
    share_now = (data["sex"] == "female").mean()
    share_ref = (reference["sex"] == "female").mean()
    table = next(t for t in ev.tables if t.title == "Shares of protected groups").records()
    female = next(r for r in table if r["attribute"] == "sex" and r["group"] == "female")
    assert female["change"] == pytest.approx(share_now - share_ref, abs=1e-12)
    assert ev.metrics["n_reference"] == len(reference)


def test_without_reference_not_assessed_and_missing_column_refused(tmp_path: Path) -> None:
    subject = _subject(tmp_path, None)
    ev = drift_evidence(subject, CheckContext(spec=subject.spec, seed=0))
    assert ev.status == "not_assessed" and ev.reason == NO_REFERENCE
    data = pd.read_csv(EXAMPLE / "german_credit_decisions.csv").drop(columns=["credit_amount"])
    with pytest.raises(AuditInputError, match=r"reference.csv.*credit_amount.*data.reference"):
        _subject(tmp_path, data)


def test_audit_diff_measures_drift_between_two_audits_data(tmp_path: Path) -> None:
    """The distributions data.profile keeps are enough for `audit diff` to find the shifted inputs."""
    import audit.checks.data as data_check
    from audit.compare.bundles import _data_drift
    from audit.evidence import AuditResult, Status

    def result(frame: pd.DataFrame, name: str) -> AuditResult:
        folder = tmp_path / name
        folder.mkdir()
        frame.to_csv(folder / "data.csv", index=False)
        spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
        spec["data"]["path"] = "data.csv"
        spec.pop("signing", None)
        (folder / "audit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        subject = load_subject(load_spec(folder / "audit.yaml"))
        evidence = data_check.run(subject, CheckContext(spec=subject.spec, seed=0))
        return AuditResult(tool={}, audit_date="2026-11-30", system={}, subject={}, evidence=evidence, findings=[],
                           verdict=Status.REVIEW, counts={})

    data = pd.read_csv(EXAMPLE / "german_credit_decisions.csv")
    shifted = data.assign(duration_months=data["duration_months"] * 1.5,
                          purpose=data["purpose"].where(data.index % 3 != 0, "car (new)"))
    drift, note = _data_drift(result(data, "before"), result(shifted, "after"))
    assert note is None
    flagged = {d.feature for d in drift if d.drifted}
    assert flagged == {"duration_months", "purpose"}
    assert next(d for d in drift if d.feature == "duration_months").approximate is True
    same, _ = _data_drift(result(data, "again"), result(data, "once-more"))
    assert not any(d.drifted for d in same)
