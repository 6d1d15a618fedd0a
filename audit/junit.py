"""Gate output: the findings as a JUnit XML report, one test case per requirement.

CI systems (GitLab, Jenkins, GitHub test reporters, pytest-style consumers)
display JUnit XML natively, so `audit run --junit FILE` lets a pipeline show
which requirement passed, failed or needs a person, without reading the PDF.

Status mapping, for requirements in force on the audit date (the exit code of
`audit run` stays the gate, and the mapping follows its ``--fail-on``):

=========  ==========================================  =========================
Finding    JUnit                                       Shown by CI as
=========  ==========================================  =========================
PASS       ``<testcase>`` with no child element        passed
FAIL       ``<failure type="FAIL" message=reason>``    failed
REVIEW     ``<skipped type="REVIEW" message=...>``     skipped (not passed, not failed)
N/A        ``<skipped type="N/A" message=...>``        skipped
=========  ==========================================  =========================

REVIEW is *skipped*, not *failure*: it means "a person must answer or evidence
is missing", which does not fail the default sign-off gate (exit code 0 when there
is no FAIL) and must not look like a failed test; it must not look like a pass
either. With ``--fail-on review`` the gate fails on it, and so it is a *failure*.

Requirements not yet in force are evaluated for readiness and written to their
own suites (``<name>.<pack>.readiness``). Their FAILs are *skipped* with type
"READINESS FAIL" (they never decide the gate) unless ``--fail-on readiness``. The ``message`` of a skipped test starts with "REVIEW:" or "N/A:" so
the two can be told apart in any viewer, and ``type`` carries the status.
No ``<error>`` is ever written: an audit that cannot run writes no report.

Each test case: ``classname`` = the pack (e.g. ``eu-ai-act``), ``name`` =
"<requirement id> <title>"; ``<system-out>`` holds the citation, bearer,
date of application, rule outcomes with thresholds and their sources, and the
attestation, so the CI page is self-explanatory (for a FAIL these details are
the ``<failure>`` text instead). There is one ``<testsuite>`` per pack (and one
per pack for its requirements not yet in force) inside a ``<testsuites name=suite_name>``
root; the output has no
timestamps, so the same findings give the same file.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from audit.evidence import Finding, Status

__all__ = ["junit_xml", "write_junit", "JUNIT_ELEMENT"]

# Which JUnit child element each status becomes (None: a passing test case).
JUNIT_ELEMENT: dict[Status, str | None] = {
    Status.PASS: None,
    Status.FAIL: "failure",
    Status.REVIEW: "skipped",
    Status.NA: "skipped",
}

# XML 1.0 forbids most control characters, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MESSAGE_MAX = 2000


def _clean(text: object) -> str:
    return _INVALID_XML.sub("", "" if text is None else str(text))


def _message(text: str) -> str:
    """One line for a message attribute (viewers show it as a title)."""
    one_line = " ".join(_clean(text).split())
    return one_line if len(one_line) <= _MESSAGE_MAX else one_line[: _MESSAGE_MAX - 1] + "…"


def _details(f: Finding) -> str:
    lines = [f"Status: {f.status.value}", f"Requirement: {f.id} {f.title}", f"Citation: {f.citation}",
             f"Bearer: {f.bearer}"]
    if f.applies_from:
        lines.append(f"Applies from: {f.applies_from}" + ("" if f.in_force else " (not yet in force on the audit date)"))
    note = getattr(f, "status_note", None)
    if note:
        lines.append(f"Legal status: {note}")
    lines.append(f"Reason: {f.reason}")
    for r in f.rules:
        if r.op in ("present", "is_true", "is_false"):
            rule = f"{r.evidence}.{r.metric} {r.op.replace('_', ' ')}"
        else:
            rule = f"{r.evidence}.{r.metric} {r.op} {r.threshold:g}" if r.threshold is not None else f"{r.evidence}.{r.metric}"
        line = f"  [{r.status.value}] {rule}; observed: {r.observed!r}"
        if r.threshold_source:
            line += f"; threshold source: {r.threshold_source}"
        if r.note:
            line += f"; {r.note}"
        lines.append(line)
    if f.attestation is not None:
        a = f.attestation
        lines.append(f"Attestation: {a.question}")
        if a.document:
            lines.append(f"  Expected document: {a.document}")
        if a.answer:
            lines.append(f"  Answer: {a.answer} (by {a.by}, {a.date})" + (f"; document: {a.reference}" if a.reference else ""))
        else:
            lines.append("  Answer: not given")
    return _clean("\n".join(lines))


def _element(f: Finding, fail_on: str) -> tuple[str | None, str]:
    """The JUnit child element of a finding under this gate, and its type."""
    if f.status is Status.FAIL and not f.in_force:
        return ("failure" if fail_on == "readiness" else "skipped"), "READINESS FAIL"
    if f.status is Status.REVIEW and f.in_force and fail_on == "review":
        return "failure", "REVIEW"
    return JUNIT_ELEMENT[f.status], f.status.value


def _testcase(f: Finding, fail_on: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": _clean(f.pack), "name": _clean(f"{f.id} {f.title}"), "time": "0"})
    element, kind = _element(f, fail_on)
    if element == "failure":
        child = ET.SubElement(case, "failure", {"type": kind, "message": _message(f.reason)})
        child.text = _details(f)
        return case  # the details are the failure's text
    if element == "skipped":
        ET.SubElement(case, "skipped", {"type": kind, "message": _message(f"{kind}: {f.reason}")})
    out = ET.SubElement(case, "system-out")
    out.text = _details(f)
    return case


def _counts(findings: list[Finding], fail_on: str) -> dict[str, str]:
    elements = [_element(f, fail_on)[0] for f in findings]
    return {"tests": str(len(findings)),
            "failures": str(elements.count("failure")),
            "errors": "0",
            "skipped": str(elements.count("skipped")),
            "time": "0"}


def junit_xml(findings: list[Finding], *, suite_name: str, properties: dict[str, object] | None = None,
              fail_on: str = "fail") -> str:
    """The JUnit XML document for these findings, as text (UTF-8, with declaration)."""
    packs: dict[str, list[Finding]] = {}
    for f in findings:
        key = f.pack if f.in_force or f.status is Status.NA else f"{f.pack}.readiness"
        packs.setdefault(key, []).append(f)
    root = ET.Element("testsuites", {"name": _clean(suite_name), **_counts(findings, fail_on)})
    for pack, items in packs.items():
        suite = ET.SubElement(root, "testsuite", {"name": _clean(f"{suite_name}.{pack}"), **_counts(items, fail_on)})
        if properties:
            props = ET.SubElement(suite, "properties")
            for key, value in properties.items():
                ET.SubElement(props, "property", {"name": _clean(key), "value": _clean(value)})
        suite.extend(_testcase(f, fail_on) for f in items)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(findings: list[Finding], path: Path, *, suite_name: str,
                properties: dict[str, object] | None = None, fail_on: str = "fail") -> Path:
    """Write the JUnit XML report to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = junit_xml(findings, suite_name=suite_name, properties=properties, fail_on=fail_on)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
