"""`audit attestations BUNDLE` (issue 15, item 3): the form of every open attestation question of a real bundle.

One audit of the German credit example is run (module fixture); the expected questions are computed here from
its audit.json with plain json, not with the module under test. The filled form is read back through the spec
(audit.spec.load_spec), as `audit run` reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.attestation_template import (
    ENTRY_FIELDS,
    TEMPLATE_EXISTS,
    TEMPLATE_IN_BUNDLE,
    TEMPLATE_NO_AUDIT_JSON,
    attestation_template,
    default_template_path,
    write_attestation_template,
)
from audit.attestations import open_actions
from audit.errors import AuditInputError
from audit.evidence import AuditResult, RuleOutcome, Status, read_audit_json
from audit.pipeline import run_audit
from audit.spec import AttestationAnswer, load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
ANSWERED = set(yaml.safe_load((EXAMPLE / "attestations.yaml").read_text())["attestations"])  # EUAIA-5, EUAIA-6-2, GDPR-35
AUDIT_DATE = "2026-11-30"
ENTRY_KEY = re.compile(r"^  # ([A-Za-z0-9._-]+):$")  # an entry's first line, commented out


def _spec(folder: Path, **changes: Any) -> Path:
    """The example's spec with absolute paths, a fixed audit date, small samples, no signing (the key may expire),
    and ``changes``."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec.pop("signing")
    spec["fairness"]["bootstrap"] = 100
    spec["explanations"] = {"lime_sample": 20, "lime_repeats": 2}
    spec["output"] = str(folder / "reports")
    spec["audit_date"] = AUDIT_DATE  # fixed: the AI Act's Annex III duties are not yet in force, the others are
    spec.update(changes)
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_audit(_spec(tmp_path_factory.mktemp("attest"))).bundle_dir


@pytest.fixture(scope="module")
def raw(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "audit.json").read_text())


@pytest.fixture(scope="module")
def text(bundle: Path) -> str:
    return attestation_template(read_audit_json(bundle / "audit.json"), bundle=bundle.name)


def _open_ids(raw: dict[str, Any], status: str) -> list[str]:
    return [f["id"] for f in raw["findings"]
            if f["status"] == status and f["attestation"] is not None and f["attestation"]["answer"] is None]


def _entries(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := ENTRY_KEY.match(line))]


def _fill(text: str, answers: dict[str, dict[str, str] | None]) -> str:
    """Uncomment the entries of ``answers`` as a person would (remove "# " from the six lines) and fill in the
    values given; ``None`` uncomments the entry and leaves it empty."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = ENTRY_KEY.match(line)
        if m is None or m.group(1) not in answers:
            continue
        values = answers[m.group(1)] or {}
        lines[i] = "  " + line.removeprefix("  # ")
        for j, name in enumerate(ENTRY_FIELDS, start=i + 1):
            assert lines[j].startswith(f"  #   {name}: null")
            uncommented = "  " + lines[j].removeprefix("  # ")
            lines[j] = uncommented.replace("null", values[name], 1) if name in values else uncommented
    return "\n".join(lines) + "\n"


def _load_with(folder: Path, bundle: Path, form: str, name: str) -> dict[str, AttestationAnswer]:
    """load_spec on a copy of the audit's spec whose attestations_file is this form: the answers it takes."""
    path = folder / f"{name}.yaml"
    path.write_text(form)
    spec = yaml.safe_load((bundle.parents[2] / "audit.yaml").read_text())
    spec["attestations_file"] = path.name  # relative to the spec, as a person writes it
    spec_path = folder / f"audit-{name}.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_spec(spec_path).attestations


def test_every_open_question_appears_once_and_no_answered_one(raw: dict[str, Any], text: str) -> None:
    review = _open_ids(raw, "REVIEW")
    assert len(review) > 30 and not _open_ids(raw, "FAIL")  # this bundle has no FAIL with an open question
    entries = _entries(text)
    assert sorted(entries) == sorted(review) and len(set(entries)) == len(entries)
    assert set(entries) == {a["id"] for a in open_actions(AuditResult.model_validate(raw).findings, kinds=("attest",))}
    answered = {f["id"] for f in raw["findings"] if f["attestation"] and f["attestation"]["answer"] is not None}
    assert answered == ANSWERED
    for rid in ANSWERED:
        assert rid not in entries and f"  # {rid}:" not in text and f"---- {rid} |" not in text
    assert "Answered already, so not repeated here: EUAIA-5, EUAIA-6-2, GDPR-35." in text


def test_in_force_first_then_by_pack_and_each_entry_says_what_a_person_needs(raw: dict[str, Any], text: str) -> None:
    findings = {f["id"]: f for f in raw["findings"]}
    entries = _entries(text)
    packs = list(dict.fromkeys(f["pack"] for f in raw["findings"]))
    keys = [(not findings[rid]["in_force"], packs.index(findings[rid]["pack"])) for rid in entries]
    assert keys == sorted(keys) and keys[0][0] is False and keys[-1][0] is True  # both parts are present
    assert text.index("# ======== In force on the audit date") < text.index("# ======== Not yet in force on")
    blocks = text.split("\n\n")
    for rid in entries:
        f = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in findings[rid].items()}
        block = next(b for b in blocks if f"  # {rid}:\n" in b)
        flat = re.sub(r"\n  #   ", " ", block)  # wrapped comment lines joined again
        assert f"---- {rid} | {f['pack']} | {f['title']}" in flat
        assert f"# Citation: {f['citation']}" in flat
        assert f"# Question: {' '.join(f['attestation']['question'].split())}" in flat
        assert f"# Expected document: {' '.join(f['attestation']['document'].split())}" in flat
        assert f"# Who answers: the {f['bearer']} (who bears the duty in the law): here the audited organisation, " \
               "Example Bank AG (fictitious), audited as provider" in flat
        assert "# Open because: no answer is recorded (status REVIEW)." in flat
        assert ("# In force: no, applies from" in flat) is (not f["in_force"])
        assert all(f"  #   {name}: null" in block for name in ENTRY_FIELDS)
    # an item besides the question is named, so the person knows an answer alone does not close it
    gdpr = next(b for b in blocks if "  # GDPR-5-1-a:\n" in b)
    assert "fairness.error_rates.primary_metric_value = 0.0775 has no binding threshold" in re.sub(r"\n  #   ", " ", gdpr)
    assert raw["audit_date"] == AUDIT_DATE and f"audit dated {AUDIT_DATE}" in text and "German credit scoring 1.0" in text


def test_as_written_it_parses_and_attests_nothing(bundle: Path, text: str, tmp_path: Path) -> None:
    assert yaml.safe_load(text) == {"attestations": None}
    assert _load_with(tmp_path, bundle, text, "blank") == {}


def test_filled_form_round_trips_through_the_spec(raw: dict[str, Any], bundle: Path, text: str, tmp_path: Path) -> None:
    ids = _open_ids(raw, "REVIEW")
    filled = _fill(text, {rid: {"answer": '"yes"', "by": f'"C. Officer, Compliance ({rid})"', "date": "2026-12-01",
                                "document": '"QMS-7"'} for rid in ids})
    parsed = yaml.safe_load(filled)["attestations"]
    assert sorted(parsed) == sorted(ids)
    for value in parsed.values():
        AttestationAnswer.model_validate(value)
    loaded = _load_with(tmp_path, bundle, filled, "filled")
    assert sorted(loaded) == sorted(ids)
    for rid, answer in loaded.items():
        assert (answer.answer, answer.by, answer.date, answer.document, answer.comment) == (
            "yes", f"C. Officer, Compliance ({rid})", dt.date(2026, 12, 1), "QMS-7", None)


def test_partly_filled_counts_only_what_was_filled_and_an_empty_entry_stops(bundle: Path, text: str,
                                                                           tmp_path: Path) -> None:
    first, second = _entries(text)[:2]
    one = _fill(text, {first: {"answer": '"no"', "by": "B. Example", "date": "2026-12-02"}})
    loaded = _load_with(tmp_path, bundle, one, "one")
    assert list(loaded) == [first] and loaded[first].answer == "no"
    # uncommented but left empty: refused, never taken as an answer
    with pytest.raises(AuditInputError, match=rf"field 'attestations\.{second}\.answer': Input should be 'yes' or 'no'"):
        _load_with(tmp_path, bundle, _fill(one, {second: None}), "empty")
    # yes without quotes is YAML's true, which the spec refuses: why the form says "in quotes"
    with pytest.raises(AuditInputError, match=rf"field 'attestations\.{first}\.answer'"):
        _load_with(tmp_path, bundle, _fill(text, {first: {"answer": "yes", "by": "B", "date": "2026-12-02"}}), "bare")
    assert '"yes" or "no", in quotes' in text


def test_write_beside_the_bundle_never_overwrites_and_refuses_bad_places(bundle: Path, raw: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    before = sorted(p.relative_to(bundle) for p in bundle.rglob("*"))
    path = write_attestation_template(bundle)
    assert path == bundle.parent / f"attestations-{bundle.name}.yaml" == default_template_path(bundle)
    assert sorted(p.relative_to(bundle) for p in bundle.rglob("*")) == before  # the sealed bundle is untouched
    written = path.read_text()
    assert sorted(_entries(written)) == sorted(_open_ids(raw, "REVIEW")) and f"(bundle {bundle.name})" in written
    path.write_text("# answers someone filled in\n")
    with pytest.raises(AuditInputError) as exc:
        write_attestation_template(bundle)
    assert str(exc.value) == TEMPLATE_EXISTS.format(path=path) and "\n" not in str(exc.value)
    assert path.read_text() == "# answers someone filled in\n"
    inside = bundle / "attestations.yaml"
    with pytest.raises(AuditInputError) as exc:
        write_attestation_template(bundle, inside)
    assert str(exc.value) == TEMPLATE_IN_BUNDLE.format(path=inside, folder=bundle) and not inside.exists()
    with pytest.raises(AuditInputError, match="folder not found: .*nowhere"):
        write_attestation_template(bundle, tmp_path / "nowhere" / "form.yaml")
    other = tmp_path / "form.yaml"
    assert write_attestation_template(bundle, other) == other and other.read_text() == written
    with pytest.raises(AuditInputError) as exc:
        write_attestation_template(tmp_path)
    assert str(exc.value) == TEMPLATE_NO_AUDIT_JSON.format(folder=tmp_path) and "\n" not in str(exc.value)
    assert str(tmp_path) in str(exc.value)


def test_a_failing_requirement_keeps_its_question_and_a_reviewer_is_not_the_one_who_answers(bundle: Path) -> None:
    result = read_audit_json(bundle / "audit.json")
    index, finding = next((i, f) for i, f in enumerate(result.findings) if f.id == "GDPR-5-1-c")
    broken = RuleOutcome(evidence="performance.overall", metric="accuracy", op=">=", threshold=0.9,
                         threshold_source="test", binding=True, observed=0.77, status=Status.FAIL)
    result.findings[index] = finding.model_copy(update={"status": Status.FAIL, "rules": [broken]})
    result.system = {**result.system, "role": "auditor", "audited_party": "provider"}
    text = attestation_template(result)
    flat = re.sub(r"\n  #   ", " ", text)
    assert "  # GDPR-5-1-c:" in text and "no answer is recorded (status FAIL)" in flat
    assert "performance.overall.accuracy fails" in flat
    assert "audited as provider, not the auditor who ran this audit" in flat


def test_cli_writes_the_form_beside_the_bundle(bundle: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from audit.cli import app

    out = tmp_path / "form.yaml"
    result = CliRunner().invoke(app, ["attestations", str(bundle), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and yaml.safe_load(out.read_text()) == {"attestations": None}  # every entry commented out
    again = CliRunner().invoke(app, ["attestations", str(bundle), "--out", str(out)])
    assert again.exit_code == 2
