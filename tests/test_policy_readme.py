"""policies/README.md is in step with the packs, and every catalogue entry of sections D-E is accounted for.

The generated section must equal what ``audit.policy_table`` renders now; a few
of its facts are checked against the YAML read here directly (``yaml.safe_load``,
not through the renderer or the models). Sections D (standards) and E
(regulators' and auditors' expectations) of ../shared/regulations.md, or of the
committed list policies/catalogue-ids.txt in a clone without ../shared, must each
be a requirement of a pack (by id, or through the table "Catalogue entries under
another name") or be listed under "Catalogue entries not in a pack" with a reason.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_policy_catalogue import (
    LEFT_OUT_HEADING,
    RENAMED_HEADING,
    SHARED_CATALOGUE,
    left_out_table,
    parse_catalogue,
    parse_entries,
    read_committed,
    read_committed_entries,
    readme_table,
)

from audit import policy_table

REPO = Path(__file__).resolve().parents[1]
README = REPO / "policies" / "README.md"
POLICY_DIR = REPO / "policies"
WRITE = "run python -m audit.policy_table --write"
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_BACKTICKED_ID = re.compile(r"`([A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+)`")


# ----------------------------------------------------------------------------------------- helpers


def _raw_packs() -> dict[str, dict[str, Any]]:
    """Every pack as plain YAML (anchors resolved by the YAML loader), by pack name."""
    out = {}
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        if path.stem != "thresholds":
            out[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


def _raw_requirements() -> dict[str, dict[str, Any]]:
    return {req["id"]: req for pack in _raw_packs().values() for req in pack["requirements"]}


def _raw_thresholds() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((POLICY_DIR / "thresholds.yaml").read_text(encoding="utf-8"))


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _flat(text: str) -> str:
    """Text as a table cell shows it: one line, '|' escaped."""
    return " ".join(str(text).split()).replace("|", r"\|")


@pytest.fixture(scope="module")
def readme() -> str:
    assert README.is_file(), f"{README} is missing: write its human part and {WRITE}"
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rows(readme: str) -> dict[str, list[str]]:
    """Requirement id -> the cells of its row in the generated section."""
    section = policy_table.generated_section(readme)
    assert section is not None, f"policies/README.md has no generated section: add the markers and {WRITE}"
    out = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in _CELL_SPLIT.split(line.strip().strip("|"))]
        if line.startswith("| `") and cells:
            out[cells[0].strip("`")] = cells
    return out


def _row(rows: dict[str, list[str]], req_id: str) -> str:
    assert req_id in rows, f"{req_id} has no row in policies/README.md: {WRITE}"
    return " | ".join(rows[req_id])


# ----------------------------------------------------------------------------------------- (a), (b)


def test_generated_section_is_what_the_packs_render(readme: str) -> None:
    current = policy_table.generated_section(readme)
    assert current is not None, f"policies/README.md has no generated section: {WRITE}"
    assert current == policy_table.render_tables(), f"policies/README.md is out of step with policies/*.yaml: {WRITE}"


def test_every_requirement_of_every_pack_has_a_row(rows: dict[str, list[str]]) -> None:
    expected = set(_raw_requirements())
    assert expected, "no requirement found in policies/*.yaml"
    missing = sorted(expected - set(rows))
    extra = sorted(set(rows) - expected)
    assert not missing, f"requirements without a row in policies/README.md: {missing}; {WRITE}"
    assert not extra, f"rows in policies/README.md for requirements no pack has: {extra}; {WRITE}"


def test_check_and_write(tmp_path: Path, readme: str, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(policy_table.replace_generated_section(readme, "| `OLD` | row |\n"), encoding="utf-8")
    assert policy_table.main(["--check", "--readme", str(stale)]) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and WRITE in message
    assert policy_table.main(["--write", "--readme", str(stale)]) == 0
    assert policy_table.main(["--check", "--readme", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8").split(policy_table.BEGIN_MARKER)[0] == readme.split(
        policy_table.BEGIN_MARKER)[0], "--write changes only the generated section"


# ----------------------------------------------------------------------------------------- (c) facts from the YAML


def test_the_four_fifths_rule_decides_eeoc_1607_4_d_with_its_source(rows: dict[str, list[str]]) -> None:
    req = _raw_requirements()["EEOC-1607-4-D"]
    threshold = _raw_thresholds()["impact_ratio"]
    assert "EEOC-1607-4-D" in threshold["binds"]
    assert any(rule.get("threshold") == "impact_ratio" for rule in req["rules"])
    row = _row(rows, "EEOC-1607-4-D")
    assert "`impact_ratio`, decides" in row
    assert _flat(threshold["source"]) in row and "four-fifths" in row and "1607.4(D)" in row


def test_every_threshold_says_whether_it_decides_this_requirement(rows: dict[str, list[str]]) -> None:
    thresholds = _raw_thresholds()
    seen = {"decides": 0, "reference only": 0}
    for req_id, req in _raw_requirements().items():
        row = _row(rows, req_id)
        for rule in req.get("rules", []):
            name = rule.get("threshold")
            if name is None:
                assert f"`{rule['evidence']}.{rule['metric']}`" in row
                continue
            if name == "@primary_metric":
                assert "the fairness metric chosen for the system, its threshold (reference unless the user sets one)" in row
                continue
            role = "decides" if req_id in thresholds[name].get("binds", []) else "reference only"
            seen[role] += 1
            assert f"`{name}`, {role}; source: {_flat(thresholds[name]['source'])}" in row, (req_id, name)
    assert seen["decides"] and seen["reference only"], seen


def test_amended_dates_show_both_dates_and_the_amending_act(rows: dict[str, list[str]]) -> None:
    amended = {req_id: req["applies_from"] for req_id, req in _raw_requirements().items()
               if (req.get("applies_from") or {}).get("amended")}
    assert amended, "no requirement has an amended date of application any more: is the Omnibus still in the packs?"
    for req_id, dates in amended.items():
        cell = rows[req_id][2]
        assert _iso(dates["original"]) in cell and _iso(dates["amended"]) in cell, (req_id, cell)
        assert _flat(dates["amended_by"]) in cell, (req_id, cell)


def test_repealed_and_withdrawn_texts_say_so(rows: dict[str, list[str]]) -> None:
    for req_id, req in _raw_requirements().items():
        cell = rows[req_id][2]
        if req.get("repealed"):
            repeal = req["repealed"]
            assert f"repealed {_iso(repeal['date'])} by {_flat(repeal['by'])}" in cell, (req_id, cell)
            original = (req.get("applies_from") or {}).get("original")
            never = original is not None and _iso(repeal["date"]) <= _iso(original)
            assert ("never in force" in cell) == never, (req_id, cell)
        if req.get("withdrawn"):
            withdrawal = req["withdrawn"]
            assert f"withdrawn {_iso(withdrawal['date'])} by {_flat(withdrawal['by'])}" in cell, (req_id, cell)
        if not req.get("repealed") and not req.get("withdrawn"):
            assert "repealed" not in cell and "withdrawn" not in cell, (req_id, cell)


def test_attestation_cell_is_the_document_expected(rows: dict[str, list[str]]) -> None:
    for req_id, req in _raw_requirements().items():
        expected = _flat(req["attestation"]["document"]) if req.get("attestation") else "none"
        assert rows[req_id][-1] == expected, req_id


def test_triggers_render_the_applicability_conditions(rows: dict[str, list[str]]) -> None:
    reqs = _raw_requirements()
    trigger = rows["EEOC-1607-4-D"][3]
    applies = reqs["EEOC-1607-4-D"]["applies"]
    assert "used in " + " or ".join(applies["jurisdictions"]) in trigger
    assert all(domain in trigger for domain in applies["domains"])
    for req_id, req in reqs.items():
        if not req.get("applies"):
            assert rows[req_id][3] == "always", req_id
        if (req.get("applies") or {}).get("any_of"):
            assert "any of: " in rows[req_id][3] and " or " in rows[req_id][3], req_id


def test_readings_of_the_law_are_listed_under_their_pack(readme: str) -> None:
    section = policy_table.generated_section(readme) or ""
    for req_id, req in _raw_requirements().items():
        if req.get("interpretation"):
            assert f"- `{req_id}`: {' '.join(req['interpretation'].split())}" in section, req_id


# ----------------------------------------------------------------------------------------- (d) sections D and E


def _catalogue_entries() -> list[tuple[str, str]]:
    if SHARED_CATALOGUE.is_file():
        return parse_entries(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    return read_committed_entries()


def _catalogue_ids() -> list[str]:
    if SHARED_CATALOGUE.is_file():
        return parse_catalogue(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    return read_committed()


def test_every_entry_of_sections_d_and_e_is_in_a_pack_or_left_out(readme: str) -> None:
    entries = _catalogue_entries()
    assert {section for section, _ in entries} == {"D", "E"} and len(entries) >= 8, (
        f"too few entries of sections D-E: {entries}; has the catalogue's format changed?")
    pack_ids = set(_raw_requirements())
    renamed = readme_table(readme, RENAMED_HEADING)
    left_out = left_out_table(readme)
    problems = []
    for section, name in entries:
        if name in pack_ids:
            continue
        if name in renamed:
            if renamed[name].strip("`") not in pack_ids:
                problems.append(f"{section}: {name} -> {renamed[name]}, which no pack has")
            continue
        if not left_out.get(name, "").strip():
            problems.append(f"{section}: {name}")
    assert not problems, (f"catalogue entries neither in a pack nor listed with a reason under '{LEFT_OUT_HEADING}' "
                          f"in policies/README.md: {problems}")


def test_cjeu_c_203_22_is_carried_by_cjeu_dnb(readme: str) -> None:
    assert readme_table(readme, RENAMED_HEADING).get("CJEU C-203/22") == "`CJEU-DNB`"
    assert "CJEU-DNB" in _raw_requirements()


def test_every_row_of_the_coverage_tables_names_a_catalogue_entry(readme: str) -> None:
    known = set(_catalogue_ids()) | {name for _, name in _catalogue_entries()}
    pack_ids = set(_raw_requirements())
    left_out = left_out_table(readme)
    rows = {**readme_table(readme, RENAMED_HEADING), **left_out}
    assert left_out, f"no table '{LEFT_OUT_HEADING}' in policies/README.md"
    unknown = sorted(set(rows) - known)
    assert not unknown, f"rows of policies/README.md naming no catalogue entry (stale or misspelt): {unknown}"
    cited = {(entry, req_id) for entry, reason in left_out.items() for req_id in _BACKTICKED_ID.findall(reason)}
    dangling = sorted((entry, req_id) for entry, req_id in cited if req_id not in pack_ids)
    assert not dangling, f"left-out reasons citing requirements no pack has: {dangling}"
