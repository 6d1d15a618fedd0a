"""Privacy by default (issue 10): the report and audit.json name no person unless the spec asks for examples.

The German and the Adult examples are rendered through the pipeline with quick settings (no LIME, 50 bootstrap
resamples, unsigned). A full Adult run takes over a minute, so the Adult audit runs on a seeded sample of 5,000 of
its 48,842 rows, written to tmp and scored by the same model. Then:

- no value of the id column appears, as a whole word, in report.html, in the PDF's text or in audit.json;
- no table row of report.html holds a combination of a person's raw values. A row is read two ways:
  (1) values bound to their column, as a table column of that name or as ``column: value`` / ``column = value``
  in a cell (how reasons and recourse name them): three or more columns of one person whose values together
  occur in fewer than 1 % of rows; (2) values anywhere on the row, each rare (in fewer than 1 % of rows): three or
  more distinct rare values of one person;
- with ``report: {examples: true, example_fields: [age]}`` the ids and age appear, no other value of a person,
  and with ``decisions_file: false`` the bundle has no decisions.parquet and `audit explain` says why in one line.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "examples" / "german-credit"
ADULT = ROOT / "examples" / "adult-hiring"
ADULT_SAMPLE_ROWS = 5_000
RARE = 0.01  # a value (or a combination of values) held by fewer than 1 % of the rows identifies
LEFT_OUT = "examples of individual decisions are left out of the report (personal data); set report.examples"


# ------------------------------------------------------------------------------------------------ runs


def _quick_spec(tmp_path: Path, example: Path, *, data: Path | None = None, report: dict | None = None) -> Path:
    """An example's spec in tmp_path: unsigned, no LIME, 50 bootstrap resamples, absolute paths."""
    spec = yaml.safe_load((example / "audit.yaml").read_text())
    spec["model"]["path"] = str(example / spec["model"]["path"])
    spec["data"]["path"] = str(data or example / spec["data"]["path"])
    if "attestations_file" in spec:
        spec["attestations_file"] = str(example / spec["attestations_file"])
    spec.pop("signing", None)
    spec["explanations"] = {"lime_sample": 0}
    spec.setdefault("fairness", {})["bootstrap"] = 50
    if report is not None:
        spec["report"] = report
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(spec: Path, out: Path) -> Path:
    from audit.pipeline import run_audit

    return run_audit(spec, output=out).bundle_dir


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """The German credit bundle with the default report settings, the data audited and its id column."""
    tmp = tmp_path_factory.mktemp("german")
    return _run(_quick_spec(tmp, GERMAN), tmp / "reports"), pd.read_csv(GERMAN / "german_credit.csv"), "applicant_id"


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """The Adult bundle on a seeded 5,000-row sample (same model), the sample and its id column."""
    tmp = tmp_path_factory.mktemp("adult")
    sample = pd.read_parquet(ADULT / "adult.parquet").sample(n=ADULT_SAMPLE_ROWS, random_state=7).reset_index(drop=True)
    sample.to_parquet(tmp / "adult-sample.parquet", index=False)
    return _run(_quick_spec(tmp, ADULT, data=tmp / "adult-sample.parquet"), tmp / "reports"), sample, "person_id"


@pytest.fixture(scope="module")
def german_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The German bundle with examples showing age only, and no decisions.parquet."""
    tmp = tmp_path_factory.mktemp("german-examples")
    spec = _quick_spec(tmp, GERMAN, report={"examples": True, "example_fields": ["age"], "decisions_file": False})
    return _run(spec, tmp / "reports")


# ------------------------------------------------------------------------------------------ reading


class _Tables(HTMLParser):
    """Every table row of an HTML page as (headings of its table, texts of its cells)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[list[str], list[str]]] = []
        self._stack: list[dict] = []  # open tables, innermost last

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._stack.append({"head": [], "in_head": False, "row": None, "cell": None})
        elif not self._stack:
            return
        elif tag == "thead":
            self._stack[-1]["in_head"] = True
        elif tag == "tr":
            self._stack[-1]["row"] = []
        elif tag in ("td", "th") and self._stack[-1]["row"] is not None:
            self._stack[-1]["cell"] = []

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        top = self._stack[-1]
        if tag == "table":
            self._stack.pop()
        elif tag == "thead":
            top["in_head"] = False
        elif tag in ("td", "th") and top["cell"] is not None and top["row"] is not None:
            top["row"].append(" ".join("".join(top["cell"]).split()))
            top["cell"] = None
        elif tag == "tr" and top["row"] is not None:
            if top["in_head"]:
                top["head"] = top["row"]
            else:
                self.rows.append((top["head"], top["row"]))
            top["row"] = None

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]["cell"] is not None:
            self._stack[-1]["cell"].append(data)


def table_rows(html: str) -> list[tuple[list[str], list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.rows


def _norm(text: str) -> str:
    """A value as compared: spaces collapsed, thousands separators dropped ("1,169" is 1169)."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", " ".join(str(text).split()))


def _name(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", str(text)).strip().lower()


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def ids_found(text: str, ids: pd.Series) -> set[str]:
    """The ids that occur in ``text`` as whole words."""
    words = set(re.findall(r"[\w.-]+", text)) | set(re.findall(r"\w+", text))
    plain = {str(i) for i in ids}
    found = plain & words
    found |= {i for i in plain - words if not re.fullmatch(r"\w+", i)
              and re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w-]|\.\w)", text)}
    return found


class People:
    """The audited data, ready to look for a person's values on a table row."""

    def __init__(self, data: pd.DataFrame, id_column: str) -> None:
        self.ids = data[id_column].astype(str).to_numpy()
        self.columns = [str(c) for c in data.columns if c != id_column]
        self.text = pd.DataFrame({c: data[c].map(lambda v: _norm(f"{v:g}" if isinstance(v, float) else str(v)))
                                  for c in self.columns})
        self.codes = np.column_stack([pd.factorize(self.text[c])[0] for c in self.columns])
        share = {c: self.text[c].map(self.text[c].value_counts(normalize=True)) for c in self.columns}
        self.rare = np.column_stack([share[c].to_numpy() < RARE for c in self.columns])
        self.n = len(data)
        self.by_name = {_name(c): c for c in self.columns}
        self._bound = re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(c) for c in sorted(self.columns, key=len, reverse=True))
            + r")\s*[:=]\s*(.+?)(?=\s+[\u2014\u2192(]|\s*;|\s*\||$)")

    def bound(self, head: list[str], cells: list[str]) -> dict[str, set[str]]:
        """Values on a row tied to a column: in that column of the table, or written ``column: value``."""
        out: dict[str, set[str]] = {}
        for heading, cell in zip(head, cells, strict=False):
            column = self.by_name.get(_name(heading))
            if column is not None:
                out.setdefault(column, set()).add(_norm(cell))
        for match in self._bound.finditer(" | ".join(cells)):
            out.setdefault(match.group(1), set()).add(_norm(match.group(2)))
        return out

    def bound_matches(self, head: list[str], cells: list[str]) -> np.ndarray:
        """rows x columns: where a person's value is on the table row, tied to its column."""
        bound = self.bound(head, cells)
        matched = np.zeros(self.codes.shape, dtype=bool)
        for j, column in enumerate(self.columns):
            if column in bound:
                matched[:, j] = self.text[column].isin(bound[column]).to_numpy()
        return matched

    def identifying(self, head: list[str], cells: list[str]) -> list[tuple[str, list[str]]]:
        """(id, columns) of every person whose raw values the row combines (see the module's docstring)."""
        hits = []
        matched = self.bound_matches(head, cells)
        for i in np.flatnonzero(matched.sum(axis=1) >= 3):
            js = np.flatnonzero(matched[i])
            if (self.codes[:, js] == self.codes[i, js]).all(axis=1).sum() < RARE * self.n:
                hits.append((self.ids[i], [self.columns[j] for j in js]))
        atoms = {_norm(a) for cell in cells for a in re.split(r"\s*(?:;|\||\u2014|\u2013|\u2192|\u00d7|:\s|=|,\s)\s*", cell)}
        anywhere = self.text.isin(atoms).to_numpy() & self.rare
        for i in np.flatnonzero(anywhere.sum(axis=1) >= 3):
            values = {self.text.iat[i, j] for j in np.flatnonzero(anywhere[i])}
            if len(values) >= 3:
                hits.append((self.ids[i], [self.columns[j] for j in np.flatnonzero(anywhere[i])]))
        return hits


def identifying_rows(html: str, data: pd.DataFrame, id_column: str) -> list[tuple[str, list[str], str]]:
    people = People(data, id_column)
    return [(pid, columns, " | ".join(cells)[:200]) for head, cells in table_rows(html)
            for pid, columns in people.identifying(head, cells)]


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.slow
@pytest.mark.parametrize("example", ["german", "adult"])
def test_the_report_and_audit_json_name_no_one(example: str, request: pytest.FixtureRequest) -> None:
    bundle, data, id_column = request.getfixturevalue(example)
    html = (bundle / "report.html").read_text(encoding="utf-8")
    assert ids_found(html, data[id_column]) == set()
    assert ids_found(pdf_text(bundle / "report.pdf"), data[id_column]) == set()
    assert ids_found((bundle / "audit.json").read_text(encoding="utf-8"), data[id_column]) == set()
    assert identifying_rows(html, data, id_column) == []

    result = json.loads((bundle / "audit.json").read_text(encoding="utf-8"))
    assert not [t["title"] for e in result["evidence"] for t in e["tables"] if "id" in t["columns"]]
    for ev_id in ("local.shap", "counterfactual.flip", "counterfactual.recourse"):
        ev = next(e for e in result["evidence"] if e["id"] == ev_id)
        assert any(LEFT_OUT in limit.lower() for limit in ev["limits"]), ev_id
    record = result["run"]["personal_data"]
    assert record["report_examples"] is False and record["people_in_examples"] == 0 and record["decisions_file"]
    # decisions.parquet stays the place for per-person data, and the report says so.
    decisions = pd.read_parquet(bundle / "decisions.parquet")
    assert set(decisions["id"].astype(str)) == set(data[id_column].astype(str))
    assert "Personal data in this bundle" in html and "decisions.parquet is personal data" in html
    assert "This report and audit.json name no person" in html


@pytest.mark.slow
def test_examples_show_the_ids_and_only_the_fields_asked_for(german_examples: Path, german) -> None:
    _, data, id_column = german
    html = (german_examples / "report.html").read_text(encoding="utf-8")
    result = json.loads((german_examples / "audit.json").read_text(encoding="utf-8"))
    tables = {t["title"]: t for e in result["evidence"] for t in e["tables"] if "id" in t["columns"]}
    assert set(tables) == {"Example decisions and their reasons", "Examples of decisions that flip",
                           "Examples of recourse (random adverse decisions)"}
    shown = {str(r[t["columns"].index("id")]) for t in tables.values() for r in t["rows"]}
    assert shown and shown <= set(data[id_column]) and shown <= ids_found(html, data[id_column])
    for t in tables.values():
        assert t["columns"][:2] == ["id", "age"]
        ages = dict(zip(data[id_column], data["age"], strict=True))
        assert all(r[1] == ages[r[0]] for r in t["rows"])
    # On every table row of the page, the only value tied to a person's column is their age.
    people = People(data, id_column)
    for head, cells in table_rows(html):
        matched = people.bound_matches(head, cells)
        for i in np.flatnonzero(matched.any(axis=1)):
            if people.ids[i] in " ".join(cells):
                assert {people.columns[j] for j in np.flatnonzero(matched[i])} <= {"age"}, cells
    reasons = tables["Example decisions and their reasons"]
    texts = [r[reasons["columns"].index("reasons")] for r in reasons["rows"]]
    assert any(re.search(r"\bage: \d+ \u2014", t) for t in texts)
    assert not any(re.search(r"\b(?!age\b)\w+: ", t) for t in texts), texts
    record = result["run"]["personal_data"]
    assert record["people_in_examples"] == len(shown) and record["example_fields"] == ["age"]
    assert f"examples of <strong>{len(shown)}</strong> individual decisions" in html


@pytest.mark.slow
def test_a_bundle_without_decisions_file_says_so_and_explain_refuses(german_examples: Path) -> None:
    from typer.testing import CliRunner

    from audit.cli import app
    from audit.errors import DECISIONS_FILE_LEFT_OUT, AuditInputError
    from audit.explain.notice import render_notice

    assert not (german_examples / "decisions.parquet").exists()
    manifest = json.loads((german_examples / "manifest.json").read_text())
    assert "decisions.parquet" not in manifest["files"] and "writer.json" not in manifest["files"]
    html = (german_examples / "report.html").read_text(encoding="utf-8")
    assert "This bundle holds no decisions.parquet" in html
    with pytest.raises(AuditInputError) as caught:
        render_notice(bundle_dir=german_examples, decision_id="A0001")
    assert caught.value.template == DECISIONS_FILE_LEFT_OUT
    outcome = CliRunner().invoke(app, ["explain", str(german_examples), "--id", "A0001"])
    assert outcome.exit_code == 2
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "report.decisions_file: false" in lines[0], outcome.output


def test_the_checker_finds_a_person_on_a_table_row() -> None:
    """The row check itself: a reason line with three bound values of one person is found; group figures are not."""
    data = pd.DataFrame({"pid": [f"P{i:03d}" for i in range(300)], "age": np.arange(300) % 60 + 18,
                         "job": ["clerk", "cook", "nurse"] * 100, "amount": np.arange(300) * 7 + 100})
    person = data.iloc[42]
    leak = (f"<table><thead><tr><th>decision</th><th>reasons</th></tr></thead><tbody><tr><td>adverse</td>"
            f"<td>age: {person.age} \u2014 lowered the score by 0.30; job: {person.job} \u2014 lowered the score by "
            f"0.10; amount: {person.amount:,} \u2014 lowered the score by 0.05</td></tr></tbody></table>")
    assert [pid for pid, _, _ in identifying_rows(leak, data, "pid")] == ["P042"]
    as_columns = ("<table><thead><tr><th>age</th><th>job</th><th>amount</th></tr></thead><tbody>"
                  f"<tr><td>{person.age}</td><td>{person.job}</td><td>{person.amount:,}</td></tr></tbody></table>")
    assert [pid for pid, _, _ in identifying_rows(as_columns, data, "pid")] == ["P042"]
    groups = ("<table><thead><tr><th>group</th><th>people</th><th>selected</th><th>rate</th></tr></thead><tbody>"
              "<tr><td>job = cook</td><td>100</td><td>42</td><td>0.420</td></tr></tbody></table>")
    assert identifying_rows(groups, data, "pid") == []
    assert ids_found("see P042, not P0420 or XP042", data["pid"]) == {"P042"}
