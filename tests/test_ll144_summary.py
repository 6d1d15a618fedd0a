"""The NYC Local Law 144 summary (issue 15, item 4): its own page and JSON, on the real Adult hiring example.

One audit of examples/adult-hiring runs once (module fixture; LIME off and 100 bootstrap resamples to keep it
short: neither changes a rate or an impact ratio). Independent truth: the rates, impact ratios and counts are
recomputed with pandas from adult.parquet and the bundle's decisions.parquet (``favourable``, by ``id``).
The unknown category and the 2 % exclusion are tested on a copy of the same rows with some sex and race values
blanked, through the real eeo_impact check (decisions read from the bundle, so no model is loaded again).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from factories import apply_changes
from pypdf import PdfReader

from audit.checks._base import CheckContext
from audit.checks._eeo import eeo_evidence
from audit.evidence import AuditResult, Evidence, Status, read_audit_json
from audit.pipeline import run_audit
from audit.report.ll144 import (
    EVIDENCE_ID,
    NOT_GIVEN,
    LL144Summary,
    build_ll144_summary,
    render_ll144_html,
)
from audit.report.pdf import write_pdf
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-hiring"
DATA_SOURCE = ("Historical data: every applicant the tool screened (the UCI Adult census extract stands in for the "
               "employer's applicant records in this fictitious example).")
DISTRIBUTION_DATE = "2024-03-01"
SETS = {"sex": ["sex"], "race_ethnicity": ["race"], "intersectional": ["sex", "race"]}


def _spec(tmp: Path, **changes: Any) -> Path:
    """The example's spec with absolute paths, 100 bootstrap resamples, no LIME, and ``changes`` (dotted keys)."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "adult.parquet")
    spec.pop("signing")  # the examples' keys are made by setup, not committed; signing is tested elsewhere
    spec["fairness"]["bootstrap"] = 100
    spec["explanations"] = {"lime_sample": 0}
    spec["output"] = str(tmp / "reports")
    apply_changes(spec, changes)
    path = tmp / "audit.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, signing_pair: dict[str, str]) -> Path:
    return run_audit(_spec(tmp_path_factory.mktemp("adult"), signing=signing_pair)).bundle_dir


@pytest.fixture(scope="module")
def result(bundle: Path) -> AuditResult:
    return read_audit_json(bundle / "audit.json")


@pytest.fixture(scope="module")
def rows(bundle: Path) -> pd.DataFrame:
    """The audit's rows (adult.parquet) with the decision the bundle records for each (by id)."""
    data = pd.read_parquet(EXAMPLE / "adult.parquet")
    decisions = pd.read_parquet(bundle / "decisions.parquet", columns=["id", "favourable"])
    merged = data.merge(decisions, left_on="person_id", right_on="id", how="inner", validate="one_to_one")
    assert len(merged) == len(data) == len(decisions)
    return merged


@pytest.fixture(scope="module")
def summary(result: AuditResult) -> LL144Summary:
    built = build_ll144_summary(result, data_source=DATA_SOURCE, distribution_date=DISTRIBUTION_DATE, auditor=None)
    assert built is not None
    return built


@pytest.fixture(scope="module")
def html(summary: LL144Summary) -> str:
    return render_ll144_html(summary)


class _Page(HTMLParser):
    """The page's visible text, and each table's rows as cell texts under the heading before it."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._heading = ""
        self._in: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title"):
            self._skip = True
        elif tag == "h2":
            self._in, self._heading = "h2", ""
        elif tag == "table" and dict(attrs).get("class", "").startswith("ll144"):
            self.tables[self._heading] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip = False
        elif tag == "h2":
            self._in = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._heading in self.tables:
                self.tables[self._heading].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._in == "h2":
            self._heading += data
        if self._cell is not None:
            self._cell.append(data)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", " ".join(_page(html).text))


def _expected(rows: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """Per category: applicants, selected, rate and impact ratio (rate ÷ the highest rate), computed with pandas."""
    known = rows.dropna(subset=attributes)
    g = known.groupby(attributes)["favourable"].agg(applicants="size", selected="sum")
    g["rate"] = g["selected"] / g["applicants"]
    g["impact_ratio"] = g["rate"] / g["rate"].max()
    g.index = [" × ".join(k) if isinstance(k, tuple) else str(k) for k in g.index]
    return g


# ------------------------------------------------------------------------------------------- the § 5-303 content

#: Every element 6 RCNY § 5-303 (regulations.md NYC-5-303-PUB) asks the summary to give: its name, what the
#: JSON holds for it, and the words the page prints for it.
ELEMENTS: list[tuple[str, Any, str]] = [
    ("date of the most recent bias audit", lambda s: s["audit_date"], "Date of the most recent bias audit"),
    ("source and explanation of the data", lambda s: s["data_source"], "Source and explanation of the data"),
    ("number of individuals assessed in an unknown category", lambda s: s["unknown"],
     "Individuals in an unknown category"),
    ("number of applicants", lambda s: [r["applicants"] for t in s["tables"] for r in t["rows"]],
     "Number of applicants"),
    ("selection rates", lambda s: [r["rate"] for t in s["tables"] for r in t["rows"]], "Selection rate"),
    ("impact ratios for all categories", lambda s: [r["impact_ratio"] for t in s["tables"] for r in t["rows"]],
     "Impact ratio"),
    ("sex categories", lambda s: [t for t in s["tables"] if t["category_set"] == "sex"], "Sex categories"),
    ("race/ethnicity categories", lambda s: [t for t in s["tables"] if t["category_set"] == "race_ethnicity"],
     "Race/ethnicity categories"),
    ("intersectional categories", lambda s: [t for t in s["tables"] if t["category_set"] == "intersectional"],
     "Intersectional categories"),
    ("distribution date of the AEDT", lambda s: s["distribution_date"], "Distribution date of the AEDT"),
]


def test_every_element_in_the_json_and_on_the_page(summary: LL144Summary, html: str) -> None:
    data = json.loads(summary.to_json())
    text = _text(html)
    for name, get, label in ELEMENTS:
        value = get(data)
        assert value is not None and value != [] and None not in (value if isinstance(value, list) else [value]), name
        assert label in text, name
    assert data["audit_date"] == summary.audit_date and summary.audit_date in text
    assert DATA_SOURCE in text and DISTRIBUTION_DATE in text
    assert f"{summary.applicants:,}" in text
    # the auditor was not given: printed as such and listed, never guessed
    assert data["auditor"] is None and data["missing"] == ["auditor"]
    assert re.search(r"Independent auditor " + re.escape(NOT_GIVEN), text)


def test_rates_and_impact_ratios_equal_pandas(summary: LL144Summary, html: str, rows: pd.DataFrame) -> None:
    page = _page(html).tables
    assert [t.category_set for t in summary.tables] == list(SETS)
    for table in summary.tables:
        expected = _expected(rows, SETS[table.category_set])
        got = {r.category: r for r in table.rows}
        assert sorted(got) == sorted(expected.index)
        for category, truth in expected.iterrows():
            row = got[category]
            assert row.applicants == truth["applicants"] and row.selected == truth["selected"]
            assert row.rate == pytest.approx(truth["rate"], abs=1e-12)
            assert row.impact_ratio == pytest.approx(truth["impact_ratio"], abs=1e-12)
            assert row.excluded is None
        assert table.reference == expected["rate"].idxmax()
        assert table.applicants == len(rows) and table.unknown == 0
        # the page: the rule's columns, counts with separators, rates and ratios to three decimals
        shown = page[table.title]
        assert shown[0] == ["Category", "Number of applicants", "Number selected", "Selection rate", "Impact ratio"]
        assert sorted(shown[1:]) == sorted(
            [c, f"{int(t['applicants']):,}", f"{int(t['selected']):,}", f"{t['rate']:.3f}", f"{t['impact_ratio']:.3f}"]
            for c, t in expected.iterrows())


def test_unknown_count_equals_pandas(summary: LL144Summary, html: str, rows: pd.DataFrame) -> None:
    unknown = int(rows[["sex", "race"]].isna().any(axis=1).sum())
    assert summary.unknown == unknown and summary.applicants == len(rows)
    assert re.search(rf"Individuals in an unknown category {unknown} ", _text(html))


def test_json_round_trips(summary: LL144Summary) -> None:
    text = summary.to_json()
    again = LL144Summary.from_json(text)
    assert again == summary and again.to_json() == text
    data = json.loads(text)
    assert data["schema_version"] == "ll144-summary/1" and data["source_evidence"] == EVIDENCE_ID
    assert data["rate_kind"] == "selection" and data["data_file"] == "adult.parquet"


def test_missing_elements_are_said_not_guessed(result: AuditResult) -> None:
    bare = build_ll144_summary(result, data_source=None, distribution_date="  ", auditor=None)
    assert bare is not None
    assert bare.missing == ["data_source", "distribution_date", "auditor"]
    assert bare.data_source is bare.distribution_date is bare.auditor is None
    text = _text(render_ll144_html(bare))
    assert text.count(NOT_GIVEN) == 3
    for label in ("Distribution date of the AEDT", "Source and explanation of the data", "Independent auditor"):
        assert re.search(re.escape(label) + " " + re.escape(NOT_GIVEN), text), label


def test_page_is_self_contained_and_prints_on_one_or_two_pages(html: str, tmp_path: Path) -> None:
    assert "<script" not in html.lower() and not re.search(r"(src|href)=|url\(|https?://", html)
    assert "size: A4" in html
    pdf = write_pdf(html, tmp_path / "ll144-summary.pdf")
    reader = PdfReader(pdf)
    assert 1 <= len(reader.pages) <= 2
    printed = " ".join(page.extract_text() for page in reader.pages)
    assert "Summary of the bias audit" in printed and "Impact" in printed and "Male × White" in printed


def test_none_when_the_law_does_not_apply_or_nothing_was_measured(result: AuditResult) -> None:
    def build(r: AuditResult) -> LL144Summary | None:
        return build_ll144_summary(r, data_source=DATA_SOURCE, distribution_date=DISTRIBUTION_DATE, auditor="x")

    assert build(result) is not None
    others = [f for f in result.findings if f.pack != "nyc-ll144"]
    not_applied = result.model_copy(update={"findings": others, "run": {**result.run, "policies": ["eeoc"]}})
    assert build(not_applied) is None
    out_of_scope = [f.model_copy(update={"status": Status.NA}) if f.pack == "nyc-ll144" else f
                    for f in result.findings]
    assert build(result.model_copy(update={"findings": out_of_scope})) is None
    eeo = next(e for e in result.evidence if e.id == EVIDENCE_ID)
    not_assessed = Evidence.not_assessed(EVIDENCE_ID, eeo.check, eeo.title, "no attribute declared as sex or race")
    evidence = [not_assessed if e.id == EVIDENCE_ID else e for e in result.evidence]
    assert build(result.model_copy(update={"evidence": evidence})) is None


def test_unknown_category_and_small_category_exclusion(result: AuditResult, rows: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    """The same rows and decisions with some sex and race values blanked, and the auditor's 2 % exclusion."""
    data = rows.drop(columns=["id"]).rename(columns={"favourable": "decided"}).reset_index(drop=True)
    data["sex"] = data["sex"].where(data.index % 97 != 0)
    data["race"] = data["race"].where(data.index % 89 != 0)
    data.to_parquet(tmp_path / "blanked.parquet", index=False)
    justification = "categories under 2 % of the audit data give unstable ratios"
    spec = load_spec(_spec(tmp_path, **{
        "model": None, "signing": None, "data.path": str(tmp_path / "blanked.parquet"),
        "data.decision": {"column": "decided", "positive_values": [True]},
        "fairness.small_category_exclusion": {"justification": justification, "by": "A. Auditor"}}))
    evidence = eeo_evidence(load_subject(spec), CheckContext(spec=spec, seed=spec.seed))
    blanked = result.model_copy(update={"evidence": [evidence if e.id == EVIDENCE_ID else e
                                                     for e in result.evidence]})
    summary = build_ll144_summary(blanked, data_source=DATA_SOURCE, distribution_date=DISTRIBUTION_DATE,
                                  auditor="A. Auditor")
    assert summary is not None and summary.missing == []
    assert summary.unknown == int(data[["sex", "race"]].isna().any(axis=1).sum()) > 0
    text = _text(render_ll144_html(summary))
    assert f"Individuals in an unknown category {summary.unknown:,} " in text
    data["favourable"] = data["decided"]
    for table in summary.tables:
        attributes = SETS[table.category_set]
        assert table.unknown == int(data[attributes].isna().any(axis=1).sum()) > 0
        assert f"{table.unknown:,} individuals with an unknown" in text
        expected = _expected(data, attributes)
        small = set(expected.index[expected["applicants"] / len(data) < 0.02])
        # Amer-Indian-Eskimo and Other are under 2 %, and so are several intersections (no sex is)
        assert bool(small) is (table.category_set != "sex"), table.title
        eligible = expected.drop(index=list(small))
        for row in table.rows:
            truth = expected.loc[row.category]
            assert row.applicants == truth["applicants"] and row.rate == pytest.approx(truth["rate"], abs=1e-12)
            if row.category in small:  # its count and rate still given, with the auditor's justification
                assert row.impact_ratio is None and row.excluded is not None and justification in row.excluded
            else:
                assert row.excluded is None
                assert row.impact_ratio == pytest.approx(truth["rate"] / eligible["rate"].max(), abs=1e-12)
    assert summary.excluded_by == "A. Auditor"
    assert "6 RCNY § 5-301(d)" in text and justification in text and "excluded (a)" in text


def test_the_bundle_holds_the_signed_summary(bundle: Path, result: AuditResult) -> None:
    """audit run writes the summary of the example's own report.ll144 facts, signs its PDF, and audit verify checks it."""
    from audit.report.ll144 import HTML_NAME, JSON_NAME, PDF_NAME, LL144Summary
    from audit.spec import load_spec
    from audit.verify import verify_bundle

    facts = load_spec(EXAMPLE / "audit.yaml").report.ll144
    written = LL144Summary.model_validate_json((bundle / JSON_NAME).read_text())
    expected = build_ll144_summary(result, data_source=facts.data_source, auditor=facts.auditor,
                                   distribution_date=facts.distribution_date.isoformat()
                                   if facts.distribution_date else None)
    assert written == expected and not written.missing
    assert (bundle / HTML_NAME).is_file()
    report = verify_bundle(bundle_dir=bundle)
    assert report.ok, report.problems
    assert any(PDF_NAME in check for check in report.checks)
