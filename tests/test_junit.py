"""JUnit gate output: valid XML, one test case per requirement, FAIL as failure, REVIEW and N/A as skipped;
requirements not yet in force in their own readiness suites; the mapping follows the gate's --fail-on."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from factories import all_evidence
from test_policies import AFTER_OMNIBUS, ALL_PACKS, IN_FORCE, make_spec, yes_to_everything

from audit.evidence import Attestation, Finding, RuleOutcome, Status
from audit.junit import JUNIT_ELEMENT, junit_xml, write_junit
from audit.policies import evaluate


def _evaluate(audit_date: dt.date) -> list[Finding]:
    """All packs, a hiring deployer in NYC, the EU and Colorado; the four-fifths rule fails significantly."""
    answers = yes_to_everything()
    answers["GDPR-35"] = {"answer": "no", "by": "DPO", "date": "2026-10-02"}
    del answers["GDPR-22-1-2"]
    spec = make_spec(role="deployer", annex="4a", jurisdictions=["EU", "US-NYC", "US-CO"], packs=ALL_PACKS,
                     attestations=answers)
    ev = all_evidence({"fairness.eeo_impact": {"min_attribute_impact_ratio": 0.62,
                                               "min_attribute_impact_ratio_p_value": 0.001}},
                      drop=("local.lime",))
    return evaluate(spec, ev, audit_date=audit_date)


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    """Everything in force (2028): every status occurs, no requirement is assessed for readiness only."""
    result = _evaluate(IN_FORCE)
    assert {f.status for f in result} == set(Status)
    assert all(f.in_force or f.status is Status.NA for f in result)
    return result


@pytest.fixture(scope="module")
def findings_before() -> list[Finding]:
    """November 2026: the high-risk chapter of the AI Act applies from 2027-12-02, so some requirements are
    assessed for readiness only, one of them failing."""
    result = _evaluate(AFTER_OMNIBUS)
    later = {f.status for f in result if not f.in_force}
    assert Status.FAIL in later and Status.REVIEW in later
    assert any(f.in_force and f.status is Status.REVIEW for f in result)
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
    assert "min_attribute_impact_ratio >= 0.8" in text and "1607.4(D)" in text and "observed: 0.62" in text
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


# ------------------------------------------------------------------------------- readiness and the --fail-on gate

def _finding(ident: str, status: Status, *, pack: str = "eu-ai-act", in_force: bool = True) -> Finding:
    reason = f"{status.value} because of {ident}."
    extra: dict[str, object] = {}
    if not in_force:
        extra["applies_from"] = "2027-12-02"
        if status is not Status.NA:
            reason = f"Not yet in force on the audit date (applies from 2027-12-02); assessed for readiness: {reason}"
    return Finding(id=ident, pack=pack, title=f"Requirement {ident}", citation=f"Art. {ident}", obligation="o",
                   bearer="provider", status=status, reason=reason, in_force=in_force, **extra)


# Every status in force and not yet in force, in two packs, interleaved.
MIXED = [
    _finding("A-1", Status.PASS),
    _finding("A-2", Status.FAIL),
    _finding("A-3", Status.REVIEW),
    _finding("A-4", Status.NA),
    _finding("A-5", Status.FAIL, in_force=False),
    _finding("A-6", Status.REVIEW, in_force=False),
    _finding("A-7", Status.PASS, in_force=False),
    _finding("A-8", Status.NA, in_force=False),  # repealed: not applicable, not a readiness finding
    _finding("G-1", Status.FAIL, pack="gdpr"),
    _finding("G-2", Status.REVIEW, pack="gdpr", in_force=False),
]

# Which suite holds which requirement: N/A stays with its pack whatever its date.
SUITES = {"s.eu-ai-act": ["A-1", "A-2", "A-3", "A-4", "A-8"], "s.eu-ai-act.readiness": ["A-5", "A-6", "A-7"],
          "s.gdpr": ["G-1"], "s.gdpr.readiness": ["G-2"]}

# The child element (tag, type) of each test case under each gate, worked out by hand.
ELEMENTS: dict[str, dict[str, tuple[str, str] | None]] = {
    "fail": {"A-1": None, "A-2": ("failure", "FAIL"), "A-3": ("skipped", "REVIEW"), "A-4": ("skipped", "N/A"),
             "A-5": ("skipped", "READINESS FAIL"), "A-6": ("skipped", "REVIEW"), "A-7": None,
             "A-8": ("skipped", "N/A"), "G-1": ("failure", "FAIL"), "G-2": ("skipped", "REVIEW")},
    "readiness": {"A-1": None, "A-2": ("failure", "FAIL"), "A-3": ("skipped", "REVIEW"), "A-4": ("skipped", "N/A"),
                  "A-5": ("failure", "READINESS FAIL"), "A-6": ("skipped", "REVIEW"), "A-7": None,
                  "A-8": ("skipped", "N/A"), "G-1": ("failure", "FAIL"), "G-2": ("skipped", "REVIEW")},
    "review": {"A-1": None, "A-2": ("failure", "FAIL"), "A-3": ("failure", "REVIEW"), "A-4": ("skipped", "N/A"),
               "A-5": ("skipped", "READINESS FAIL"), "A-6": ("skipped", "REVIEW"), "A-7": None,
               "A-8": ("skipped", "N/A"), "G-1": ("failure", "FAIL"), "G-2": ("skipped", "REVIEW")},
}

# (tests, failures, skipped) of the root and of each suite, counted by hand from MIXED.
COUNTS = {
    "fail": {"s": (10, 2, 6), "s.eu-ai-act": (5, 1, 3), "s.eu-ai-act.readiness": (3, 0, 2), "s.gdpr": (1, 1, 0),
             "s.gdpr.readiness": (1, 0, 1)},
    "readiness": {"s": (10, 3, 5), "s.eu-ai-act": (5, 1, 3), "s.eu-ai-act.readiness": (3, 1, 1), "s.gdpr": (1, 1, 0),
                  "s.gdpr.readiness": (1, 0, 1)},
    "review": {"s": (10, 3, 5), "s.eu-ai-act": (5, 2, 2), "s.eu-ai-act.readiness": (3, 0, 2), "s.gdpr": (1, 1, 0),
               "s.gdpr.readiness": (1, 0, 1)},
}


def _counts(element: ET.Element) -> tuple[int, int, int]:
    return int(element.get("tests")), int(element.get("failures")), int(element.get("skipped"))


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name").split(" ", 1)[0]: c for c in root.iter("testcase")}


def test_not_in_force_requirements_get_their_own_readiness_suite(tmp_path: Path) -> None:
    root = _parse(write_junit(MIXED, tmp_path / "j.xml", suite_name="s"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == list(SUITES)
    for suite in suites:
        assert [c.get("name").split(" ", 1)[0] for c in suite.findall("testcase")] == SUITES[suite.get("name")]
        assert {c.get("classname") for c in suite.findall("testcase")} == {suite.get("name").split(".")[1]}
    later = _cases(root)["A-5"]
    assert "(not yet in force on the audit date)" in later.find("system-out").text


@pytest.mark.parametrize("fail_on", ["fail", "readiness", "review"])
def test_each_finding_maps_to_the_element_its_gate_gives(fail_on: str, tmp_path: Path) -> None:
    root = _parse(write_junit(MIXED, tmp_path / "j.xml", suite_name="s", fail_on=fail_on))
    cases = _cases(root)
    by_id = {f.id: f for f in MIXED}
    for ident, expected in ELEMENTS[fail_on].items():
        children = [c for c in cases[ident] if c.tag != "system-out"]
        if expected is None:
            assert children == [], (fail_on, ident)
            continue
        assert [(c.tag, c.get("type")) for c in children] == [expected], (fail_on, ident)
        child = children[0]
        if child.tag == "failure":
            assert child.get("message") == " ".join(by_id[ident].reason.split())
            assert by_id[ident].citation in child.text and cases[ident].find("system-out") is None
        else:
            assert child.get("message") == f"{expected[1]}: {by_id[ident].reason}"
            assert by_id[ident].citation in cases[ident].find("system-out").text


@pytest.mark.parametrize("fail_on", ["fail", "readiness", "review"])
def test_suite_counts_equal_the_counts_by_hand(fail_on: str) -> None:
    root = ET.fromstring(junit_xml(MIXED, suite_name="s", fail_on=fail_on))
    assert root.get("name") == "s"
    assert {"s": _counts(root), **{s.get("name"): _counts(s) for s in root.findall("testsuite")}} == COUNTS[fail_on]
    for element in [root, *root.findall("testsuite")]:
        assert int(element.get("errors")) == 0
        assert int(element.get("failures")) == len(element.findall(".//failure"))
        assert int(element.get("skipped")) == len(element.findall(".//skipped"))


def test_default_gate_is_fail() -> None:
    assert junit_xml(MIXED, suite_name="s") == junit_xml(MIXED, suite_name="s", fail_on="fail")


@pytest.mark.parametrize("fail_on", ["fail", "readiness", "review"])
def test_readiness_of_a_real_evaluation(findings_before: list[Finding], fail_on: str) -> None:
    """Requirements evaluated before the AI Act's high-risk chapter applies: each not in force (and applicable) is in
    its pack's readiness suite; the failures are those the gate fails on, counted from the findings."""
    root = ET.fromstring(junit_xml(findings_before, suite_name="s", fail_on=fail_on))
    for suite in root.findall("testsuite"):
        pack = suite.get("name").removeprefix("s.").removesuffix(".readiness")
        for case in suite.findall("testcase"):
            finding = next(f for f in findings_before if f"{f.id} {f.title}" == case.get("name"))
            readiness = not finding.in_force and finding.status is not Status.NA
            assert finding.pack == pack and suite.get("name").endswith(".readiness") == readiness, finding.id
    in_force = [f.status for f in findings_before if f.in_force]
    later = [f.status for f in findings_before if not f.in_force]
    failures = (in_force.count(Status.FAIL) + (later.count(Status.FAIL) if fail_on == "readiness" else 0)
                + (in_force.count(Status.REVIEW) if fail_on == "review" else 0))
    assert int(root.get("failures")) == failures == len(root.findall(".//failure"))
    assert int(root.get("skipped")) == len(findings_before) - failures - (in_force + later).count(Status.PASS)
    readiness_fails = [s for s in root.iter("skipped") if s.get("type") == "READINESS FAIL"]
    assert len(readiness_fails) == (0 if fail_on == "readiness" else later.count(Status.FAIL))
