"""Every requirement of the catalogue (../shared/regulations.md, sections A-C) exists in a policy pack.

The catalogue lives outside the repository (../shared). When it is present, the
ids are parsed from it; a clone without it checks the committed list
policies/catalogue-ids.txt instead (and a third test keeps that list in step
with the file). Regenerate the list with:

    .venv/bin/python tests/test_policy_catalogue.py

Ids are the bold requirement ids of sections A-C, as written. A composite id
("GDPR-13-2-f / 14-2-g / 15-1-h", "EUAIA-ANNEXIV-5/6/7/8") is covered either by a
requirement with that exact id or by one requirement per part.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "regulations.md"
COMMITTED_IDS = REPO / "policies" / "catalogue-ids.txt"

_SECTION = re.compile(r"^## ([A-Z])\. ")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+(?:\s*/\s*[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)*")


def parse_catalogue(text: str, sections: str = "ABC") -> list[str]:
    """Bold requirement ids in the given sections, as written, in order, without repeats."""
    section, found = None, []
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            continue
        if section is None or section not in sections:
            continue
        for bold in _BOLD.findall(line):
            candidate = " ".join(bold.split())
            if _ID.fullmatch(candidate) and candidate not in found:
                found.append(candidate)
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


def covered(entry: str, pack_ids: set[str]) -> bool:
    return entry in pack_ids or all(single in pack_ids for single in expand(entry))


def read_committed() -> list[str]:
    lines = COMMITTED_IDS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def pack_ids() -> set[str]:
    from audit.policies import iter_requirements

    return {req.id for _, req in iter_requirements()}


def test_expand_composite_ids() -> None:
    assert expand("GDPR-13-2-f / 14-2-g / 15-1-h") == ["GDPR-13-2-f", "GDPR-14-2-g", "GDPR-15-1-h"]
    assert expand("EUAIA-ANNEXIV-5/6/7/8") == [f"EUAIA-ANNEXIV-{n}" for n in (5, 6, 7, 8)]
    assert expand("EUAIA-10-2-a-e") == ["EUAIA-10-2-a-e"]


def test_parser_reads_only_ids_of_sections_a_to_c() -> None:
    text = "\n".join([
        "## A. EU", "- **EUAIA-9-2** — Art. 9 — **Original dates** and **2 Aug 2026**",
        "## B. GDPR", "- **GDPR-13-2-f / 14-2-g** — text", "## C. US", "- **NYC-5-301-SEL** — **Impact ratio**",
        "## D. Standards", "- **NIST-MS-2.11** not a requirement here",
    ])
    assert parse_catalogue(text) == ["EUAIA-9-2", "GDPR-13-2-f / 14-2-g", "NYC-5-301-SEL"]


@pytest.mark.skipif(not SHARED_CATALOGUE.is_file(), reason=f"catalogue not found at {SHARED_CATALOGUE} "
                    "(a clone without ../shared); policies/catalogue-ids.txt is checked instead")
def test_every_id_of_the_shared_catalogue_is_in_a_pack(pack_ids: set[str]) -> None:
    entries = parse_catalogue(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    assert len(entries) > 50, "the parser found too few ids: has the catalogue's format changed?"
    missing = [entry for entry in entries if not covered(entry, pack_ids)]
    assert not missing, f"catalogue ids with no requirement in policies/*.yaml: {missing}"


@pytest.mark.skipif(not SHARED_CATALOGUE.is_file(), reason=f"catalogue not found at {SHARED_CATALOGUE}")
def test_committed_id_list_matches_the_shared_catalogue() -> None:
    entries = parse_catalogue(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    assert read_committed() == entries, "policies/catalogue-ids.txt is stale: run python tests/test_policy_catalogue.py"


def test_every_committed_catalogue_id_is_in_a_pack(pack_ids: set[str]) -> None:
    entries = read_committed()
    assert len(entries) > 50
    missing = [entry for entry in entries if not covered(entry, pack_ids)]
    assert not missing, f"catalogue ids with no requirement in policies/*.yaml: {missing}"


def write_committed() -> None:
    """Regenerate policies/catalogue-ids.txt from the shared catalogue."""
    entries = parse_catalogue(SHARED_CATALOGUE.read_text(encoding="utf-8"))
    header = ["# Requirement ids of ../shared/regulations.md, sections A-C, as written (generated by",
              "# tests/test_policy_catalogue.py; do not edit). A composite id is covered by one requirement",
              "# per part or by a requirement with the composite id."]
    COMMITTED_IDS.write_text("\n".join(header + entries) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if not SHARED_CATALOGUE.is_file():
        sys.exit(f"catalogue not found: {SHARED_CATALOGUE}")
    write_committed()
    print(f"wrote {COMMITTED_IDS} ({len(read_committed())} ids)")
