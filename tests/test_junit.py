"""JUnit gate output: valid XML, one test case per requirement, FAIL as failure, REVIEW and N/A as skipped."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_policies import ALL_PACKS, evidence, make_spec, yes_to_everything

from audit.evidence import Attestation, Finding, RuleOutcome, Status
from audit.junit import JUNIT_ELEMENT, junit_xml, write_junit
from audit.policies import evaluate


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    """All packs, a hiring deployer in NYC, the EU and Colorado: every status occurs."""
    answers = yes_to_everything()
    answers["GDPR-35"] = {"answer": "no", "by": "DPO", "date": "2026-10-02"}
    del answers["GDPR-22-1-2"]
    spec = make_spec(role="deployer", annex="4a", jurisdictions=["EU", "US-NYC", "US-CO"], packs=ALL_PACKS,
                     attestations=answers)
    ev = evidence({"fairness.selection_rate": {"min_impact_ratio": 0.62}}, drop=("local.lime",))
    result = evaluate(spec, ev, audit_date=dt.date(2028, 1, 15))
    assert {f.status for f in result} == set(Status)
    return result


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_parses_with_one_testcase_per_finding(findings: list[Finding], tmp_path: Path) -> None:
    path = write_junit(findings, tmp_path / "out" / "junit.xml", suite_name="audit: Test system")
    root = _parse(path)
    assert root.tag == "testsuites" and root.get("name") == "audit: Test system"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(findings)
    assert [(c.get("classname"), c.get("name")) for c in cases] == [(f.pack, f"{f.id} {f.title}") for f in findings]
    assert not list(tmp_path.joinpath("out").glob(".*.tmp"))  # no temporary file left behind


def test_counts_match_the_statuses(findings: list[Finding], tmp_path: Path) -> None:
    root = _parse(write_junit(findings, tmp_path / "junit.xml", suite_name="s"))
    n_fail = sum(f.status is Status.FAIL for f in findings)
    n_skip = sum(f.status in (Status.REVIEW, Status.NA) for f in findings)
    assert int(root.get("tests")) == len(findings)
    assert int(root.get("failures")) == n_fail == len(root.findall(".//failure"))
    assert int(root.get("skipped")) == n_skip == len(root.findall(".//skipped"))
    assert int(root.get("errors")) == 0 and not root.findall(".//error")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"s.{p}" for p in ALL_PACKS]
    assert sum(int(s.get("tests")) for s in suites) == len(findings)
    assert sum(int(s.get("failures")) for s in suites) == n_fail


def test_each_status_maps_to_its_element(findings: list[Finding], tmp_path: Path) -> None:
    root = _parse(write_junit(findings, tmp_path / "junit.xml", suite_name="s"))
    cases = root.findall("./testsuite/testcase")
    for f, case in zip(findings, cases, strict=True):
        children = [c.tag for c in case if c.tag != "system-out"]
        expected = JUNIT_ELEMENT[f.status]
        assert children == ([] if expected is None else [expected]), f.id
        if f.status is Status.FAIL:
            failure = case.find("failure")
            assert failure.get("message") == " ".join(f.reason.split()) and failure.get("type") == "FAIL"
            assert f.citation in failure.text
        elif f.status in (Status.REVIEW, Status.NA):
            skipped = case.find("skipped")
            assert skipped.get("type") == f.status.value
            assert skipped.get("message").startswith(f"{f.status.value}: ")
            assert f.citation in case.find("system-out").text


def test_details_show_thresholds_sources_and_attestations(findings: list[Finding]) -> None:
    root = ET.fromstring(junit_xml(findings, suite_name="s").encode("utf-8"))
    eeoc = next(c for c in root.iter("testcase") if c.get("name").startswith("EEOC-1607-4-D"))
    text = eeoc.find("failure").text
    assert "min_impact_ratio >= 0.8" in text and "1607.4(D)" in text and "observed: 0.62" in text
    art22 = next(c for c in root.iter("testcase") if c.get("name").startswith("GDPR-22-1-2"))
    assert "Answer: not given" in art22.find("system-out").text


def test_hostile_text_stays_valid_xml(tmp_path: Path) -> None:
    nasty = 'a <b> & "c" \x00\x1b end ]]> é'
    finding = Finding(id="X-1", pack="p<&>", title=nasty, citation=nasty, obligation=nasty, bearer="provider",
                      status=Status.FAIL, reason=nasty + "\nsecond line",
                      rules=[RuleOutcome(evidence="e", metric="m", op=">=", threshold=1.0, threshold_source=nasty,
                                         observed=0.5, status=Status.FAIL)],
                      attestation=Attestation(question=nasty))
    root = _parse(write_junit([finding], tmp_path / "j.xml", suite_name=nasty))
    case = root.find("./testsuite/testcase")
    assert case.get("classname") == "p<&>"
    assert "\n" not in case.find("failure").get("message") and "\x00" not in case.find("failure").get("message")
    assert case.find("failure").get("message").startswith('a <b> & "c"')


def test_output_is_deterministic(findings: list[Finding]) -> None:
    assert junit_xml(findings, suite_name="s") == junit_xml(findings, suite_name="s")


def test_properties_are_recorded(findings: list[Finding]) -> None:
    root = ET.fromstring(junit_xml(findings[:3], suite_name="s", properties={"verdict": "FAIL", "audit_date": "2028-01-15"}))
    props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert props == {"verdict": "FAIL", "audit_date": "2028-01-15"}


def test_empty_findings_give_an_empty_valid_report(tmp_path: Path) -> None:
    root = _parse(write_junit([], tmp_path / "j.xml", suite_name="s"))
    assert root.get("tests") == "0" and not root.findall("testsuite")
