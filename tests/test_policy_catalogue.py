"""Every requirement of the catalogue (../shared/regulations.md, sections A-C) is in a policy pack, or left out with a reason.

The catalogue lives outside the repository (../shared). When it is present, the
ids are parsed from it; a clone without it checks the committed list
policies/catalogue-ids.txt instead (and a test keeps that list in step with the
file). Regenerate the list with:

    .venv/bin/python tests/test_policy_catalogue.py

Ids are the bold requirement ids of sections A-C, as written. A composite id
("GDPR-13-2-f / 14-2-g / 15-1-h", "EUAIA-ANNEXIV-5/6/7/8") is covered by a
requirement with that exact id, by one requirement per part, or by the table
"Catalogue entries not in a pack" of policies/README.md, which gives the reason
an id (or one part of it) is left out.

The committed list also holds the entries of sections D (standards) and E
(regulators' and auditors' expectations): the bold lead of each top-level entry,
as "D: <entry>" lines. tests/test_policy_readme.py checks those against the README.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "regulations.md"
COMMITTED_IDS = REPO / "policies" / "catalogue-ids.txt"
POLICY_README = REPO / "policies" / "README.md"
LEFT_OUT_HEADING = "Catalogue entries not in a pack"
RENAMED_HEADING = "Catalogue entries under another name"

_SECTION = re.compile(r"^## ([A-Z])\. ")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+(?:\s*/\s*[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)*")
# A top-level bullet that opens in bold ("- **NIST AI RMF 1.0** (AI 100-1 ...)"), or a paragraph that does
# and goes on after it ("**Suggested report skeleton.** Tag every ..."); a bold line alone is a sub-heading.
_ENTRY = re.compile(r"^(?:- \*\*(?P<bullet>.+?)\*\*|\*\*(?P<lead>.+?)\*\*\s*\S)")
_COMMITTED_ENTRY = re.compile(r"^([D-Z]): (.+)$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _sections(text: str, sections: str) -> list[tuple[str, str]]:
    """(section letter, line) for every line of the given sections."""
    section, out = None, []
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            continue
        if section is not None and section in sections:
            out.append((section, line))
    return out


def parse_catalogue(text: str, sections: str = "ABC") -> list[str]:
    """Bold requirement ids in the given sections, as written, in order, without repeats."""
    found: list[str] = []
    for _, line in _sections(text, sections):
        for bold in _BOLD.findall(line):
            candidate = " ".join(bold.split())
            if _ID.fullmatch(candidate) and candidate not in found:
                found.append(candidate)
    return found


def entry_name(bold: str) -> str:
    """The name of an entry from its bold lead: italics marks, spacing and a closing full stop or colon dropped."""
    return " ".join(bold.replace("*", "").split()).rstrip(".:").strip()


def parse_entries(text: str, sections: str = "DE") -> list[tuple[str, str]]:
    """(section, name) of every top-level entry of the given sections, in order, without repeats."""
    found: list[tuple[str, str]] = []
    for section, line in _sections(text, sections):
        match = _ENTRY.match(line)
        if match:
            entry = (section, entry_name(match.group("bullet") or match.group("lead")))
            if entry not in found:
                found.append(entry)
    return found


def expand(entry: str) -> list[str]:
    """The single ids of a composite entry: 'GDPR-13-2-f / 14-2-g' -> GDPR-13-2-f, GDPR-14-2-g;
    'EUAIA-ANNEXIV-5/6' -> EUAIA-ANNEXIV-5, EUAIA-ANNEXIV-6."""
    first, *rest = [part.strip() for part in entry.split("/")]
    ids = [first]
    for part in rest:
        if "-" in part:  # a new tail after the regime prefix
            ids.append(f"{first.split('-', 1)[0]}-{part}")
        else:  # replaces the last segment
            ids.append(f"{first.rsplit('-', 1)[0]}-{part}")
    return ids


def covered(entry: str, pack_ids: set[str], left_out: dict[str, str] | None = None) -> bool:
    """In a pack (as written, or every part), or left out with a reason (as written, or part by part)."""
    reasons = {key for key, reason in (left_out or {}).items() if reason.strip()}
    if entry in pack_ids or entry in reasons:
        return True
    return all(single in pack_ids or single in reasons for single in expand(entry))


def _unescape(cell: str) -> str:
    return cell.replace(r"\|", "|").strip()


def readme_table(text: str, heading: str) -> dict[str, str]:
    """The two-column table under a '### heading' of the README: first column (backticks dropped) -> second."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == heading and line.startswith("#"))
    except StopIteration:
        return {}
    rows: dict[str, str] = {}
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [_unescape(cell) for cell in _CELL_SPLIT.split(line.strip().strip("|"))]
        if len(cells) < 2 or set(cells[0]) <= set("-: "):
            continue
        key = cells[0].strip("`").strip()
        if key and key != "entry":
            rows[key] = cells[1]
    return rows


def left_out_table(text: str | None = None) -> dict[str, str]:
    """Entry -> reason it is left out, from policies/README.md ('Catalogue entries not in a pack')."""
    if text is None:
        text = POLICY_README.read_text(encoding="utf-8") if POLICY_README.is_file() else ""
    return readme_table(text, LEFT_OUT_HEADING)


def read_committed() -> list[str]:
    """The committed requirement ids of sections A-C."""
    lines = COMMITTED_IDS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines
            if line.strip() and not line.startswith("#") and not _COMMITTED_ENTRY.match(line.strip())]


def read_committed_entries() -> list[tuple[str, str]]:
    """The committed (section, entry) pairs of sections D-E."""
    lines = COMMITTED_IDS.read_text(encoding="utf-8").splitlines()
    matches = (_COMMITTED_ENTRY.match(line.strip()) for line in lines if not line.startswith("#"))
    return [(m.group(1), m.group(2)) for m in matches if m]


@pytest.fixture(scope="module")
def pack_ids() -> set[str]:
    from audit.policies import iter_requirements

    return {req.id for _, req in iter_requirements()}


@pytest.fixture(scope="module")
def left_out() -> dict[str, str]:
    return left_out_table()


def test_expand_composite_ids() -> None:
    assert expand("GDPR-13-2-f / 14-2-g / 15-1-h") == ["GDPR-13-2-f", "GDPR-14-2-g", "GDPR-15-1-h"]
    assert expand("EUAIA-ANNEXIV-5/6/7/8") == [f"EUAIA-ANNEXIV-{n}" for n in (5, 6, 7, 8)]
    assert expand("EUAIA-10-2-a-e") == ["EUAIA-10-2-a-e"]


def test_covered_by_a_pack_or_by_the_left_out_table() -> None:
    packs = {"EUAIA-ANNEXIV-5", "EUAIA-ANNEXIV-6"}
    assert covered("EUAIA-ANNEXIV-5/6", packs)
    assert not covered("EUAIA-ANNEXIV-5/6/7", packs)
    assert covered("EUAIA-ANNEXIV-5/6/7", packs, {"EUAIA-ANNEXIV-7": "not a duty of this tool's users"})
    assert covered("EUAIA-50", packs, {"EUAIA-50": "chatbots only"})
    assert not covered("EUAIA-50", packs, {"EUAIA-50": "  "}), "a row without a reason covers nothing"


def test_parser_reads_only_ids_of_sections_a_to_c() -> None:
    text = "\n".join([
        "## A. EU", "- **EUAIA-9-2** — Art. 9 — **Original dates** and **2 Aug 2026**",
        "## B. GDPR", "- **GDPR-13-2-f / 14-2-g** — text", "## C. US", "- **NYC-5-301-SEL** — **Impact ratio**",
        "## D. Standards", "- **NIST-MS-2.11** not a requirement here",
    ])
    assert parse_catalogue(text) == ["EUAIA-9-2", "GDPR-13-2-f / 14-2-g", "NYC-5-301-SEL"]


def test_entry_parser_reads_top_level_entries_of_sections_d_and_e() -> None:
    text = "\n".join([
        "## C. US", "- **NYC-5-301-SEL** — text",
        "## D. Standards", "- **NIST AI RMF 1.0** (AI 100-1).", "  - Functions **GOVERN, MAP** nested",
        "- **ISO/IEC 42001:2023** — certifiable",
        "## E. Expectations", "**What the guidance says**", "- **ICO / Turing, *Explaining decisions*.** Give",
        "- **Other regulators.**", "  - **CNIL** nested", "**Suggested report skeleton.** Tag every finding",
        "1. **Scope**: numbered, not an entry",
    ])
    assert parse_entries(text) == [("D", "NIST AI RMF 1.0"), ("D", "ISO/IEC 42001:2023"),
                                   ("E", "ICO / Turing, Explaining decisions"), ("E", "Other regulators"),
                                   ("E", "Suggested report skeleton")]


def test_readme_table_parser() -> None:
    text = "\n".join([
        f"### {LEFT_OUT_HEADING}", "", "| entry | reason it is left out |", "|---|---|",
        r"| `EUAIA-50` | a \| in the reason |", "| NIST AI RMF 1.0 | voluntary |", "", "### Next", "| x | y |",
    ])
    assert left_out_table(text) == {"EUAIA-50": "a | in the reason", "NIST AI RMF 1.0": "voluntary"}


@pytest.mark.skipif(not SHARED_CATALOGUE.is_file(), reason=f"catalogue not found at {SHARED_CATALOGUE} "
                    "(a clone without ../shared); policies/catalogue-ids.txt is checked instead")
def test_every_id_of_the_shared_catalogue_is_in_a_pack_or_left_out(pack_ids: set[str],
                                                                    left_out: dict[str, str]) -> None:
    entries = parse_catalogue(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    assert len(entries) > 50, "the parser found too few ids: has the catalogue's format changed?"
    missing = [entry for entry in entries if not covered(entry, pack_ids, left_out)]
    assert not missing, (f"catalogue ids with no requirement in policies/*.yaml and no reason in policies/README.md "
                         f"('{LEFT_OUT_HEADING}'): {missing}")


@pytest.mark.skipif(not SHARED_CATALOGUE.is_file(), reason=f"catalogue not found at {SHARED_CATALOGUE}")
def test_committed_id_list_matches_the_shared_catalogue() -> None:
    text = SHARED_CATALOGUE.read_text(encoding="utf-8")
    stale = "policies/catalogue-ids.txt is stale: run python tests/test_policy_catalogue.py"
    assert read_committed() == parse_catalogue(text), stale
    assert read_committed_entries() == parse_entries(text), stale


def test_every_committed_catalogue_id_is_in_a_pack_or_left_out(pack_ids: set[str], left_out: dict[str, str]) -> None:
    entries = read_committed()
    assert len(entries) > 50
    missing = [entry for entry in entries if not covered(entry, pack_ids, left_out)]
    assert not missing, (f"catalogue ids with no requirement in policies/*.yaml and no reason in policies/README.md "
                         f"('{LEFT_OUT_HEADING}'): {missing}")


def test_no_id_is_both_in_a_pack_and_left_out(pack_ids: set[str], left_out: dict[str, str]) -> None:
    both = sorted(set(left_out) & pack_ids)
    assert not both, f"in a pack, yet listed in policies/README.md as left out (remove the row): {both}"


def write_committed() -> None:
    """Regenerate policies/catalogue-ids.txt from the shared catalogue."""
    text = SHARED_CATALOGUE.read_text(encoding="utf-8")
    header = ["# Requirement ids of ../shared/regulations.md, sections A-C, as written (generated by",
              "# tests/test_policy_catalogue.py; do not edit). A composite id is covered by one requirement",
              "# per part or by a requirement with the composite id.",
              "# Lines 'D: ...' and 'E: ...' are the entries of sections D (standards) and E (regulators' and",
              "# auditors' expectations): the bold lead of each top-level entry."]
    entries = [f"{section}: {name}" for section, name in parse_entries(text)]
    COMMITTED_IDS.write_text("\n".join(header + parse_catalogue(text) + entries) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if not SHARED_CATALOGUE.is_file():
        sys.exit(f"catalogue not found: {SHARED_CATALOGUE}")
    write_committed()
    print(f"wrote {COMMITTED_IDS} ({len(read_committed())} ids, {len(read_committed_entries())} entries of D-E)")
