"""The whole flow on the bundled German credit example: a signed bundle that verifies.

One audit runs once per test session (module fixture); every test reads what it wrote.
Independent checks: selection rates recomputed with pandas from the data and the model
loaded directly with skops; signatures checked by openssl and pyHanko's own validator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.evidence import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
BUNDLE_FILES = {"report.html", "report.pdf", "audit.json", "manifest.json", "manifest.sig", "decisions.parquet", "metrics.csv"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from audit.signing import generate_keypair

    folder = tmp_path_factory.mktemp("keys")
    key, cert = folder / "key.pem", folder / "cert.pem"
    generate_keypair(key_path=key, cert_path=cert, common_name="audit test suite (TEST KEY)")
    return key, cert


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> Path:
    """Run `audit run` on the example (the real CLI) with the test key; return the bundle folder."""
    work = tmp_path_factory.mktemp("e2e")
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec["signing"] = {"key": str(keys[0]), "certificate": str(keys[1])}
    spec["explanations"] = {"lime_sample": 40, "lime_repeats": 2}
    spec.setdefault("fairness", {})["bootstrap"] = 300
    (work / "audit.yaml").write_text(yaml.safe_dump(spec))
    result = subprocess.run([sys.executable, "-m", "audit", "run", "audit.yaml", "--output", "reports",
                             "--junit", "junit.xml"], cwd=work, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in result.stderr
    bundles = [p for p in (work / "reports").glob("*/*") if p.is_dir()]
    assert len(bundles) == 1 and not bundles[0].name.startswith(".")
    verdict = json.loads((bundles[0] / "audit.json").read_text())["verdict"]
    assert result.returncode == (1 if verdict == "FAIL" else 0), result.stderr + result.stdout  # the gate = the verdict
    assert result.stdout.startswith(verdict)
    return bundles[0]


def test_the_demo_on_todays_date_fails_nothing_that_does_not_bind(bundle: Path) -> None:
    """German credit, audited as of its spec date (today when unset): no FAIL from requirements not yet in force
    (they are readiness) or from thresholds nobody set (they are REVIEW with the measured value)."""
    result = json.loads((bundle / "audit.json").read_text())
    findings = {f["id"]: f for f in result["findings"]}
    assert result["verdict"] != "FAIL" and result["counts"]["FAIL"] == 0
    for finding in findings.values():
        for rule in finding["rules"]:
            if rule["threshold"] is not None and not rule["binding"]:
                assert rule["status"] == "REVIEW", (finding["id"], rule)
        if not finding["in_force"] and finding["status"] != "N/A":
            assert finding["reason"].startswith("Not yet in force")
    # the impact ratio the four-fifths rule would have failed: shown as measured beside the reference
    ratio = next(r for r in findings["EUAIA-10-2-g"]["rules"] if r["metric"] == "min_impact_ratio")
    assert ratio["status"] == "REVIEW" and ratio["observed"] == pytest.approx(0.758, abs=0.001)
    assert "0.758" in findings["EUAIA-10-2-g"]["reason"] and "reference value >= 0.8" in findings["EUAIA-10-2-g"]["reason"]
    in_force = result["audit_date"] >= "2027-12-02"  # Annex III chapter, as moved by Regulation (EU) 2026/1744
    assert findings["EUAIA-10-2-g"]["in_force"] is in_force


def test_bundle_holds_every_file(bundle: Path) -> None:
    names = {p.name for p in bundle.iterdir()}
    assert BUNDLE_FILES <= names
    assert bundle.parent.name == "german-credit-scoring"
    assert any((bundle / "figures").glob("*.svg"))
    assert (bundle.parents[2] / "junit.xml").is_file()


def test_audit_verify_accepts_the_bundle(bundle: Path, keys: tuple[Path, Path]) -> None:
    result = subprocess.run([sys.executable, "-m", "audit", "verify", str(bundle), "--cert", str(keys[1])],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_accepts_the_manifest_signature(bundle: Path, keys: tuple[Path, Path]) -> None:
    result = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(bundle / "manifest.sig"),
                             "-content", str(bundle / "manifest.json"), "-CAfile", str(keys[1]), "-out", "/dev/null"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pyhanko_reports_the_pdf_signature_intact(bundle: Path, keys: tuple[Path, Path]) -> None:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    _, _, der = pem.unarmor(keys[1].read_bytes())
    context = ValidationContext(trust_roots=[x509.Certificate.load(der)])
    with (bundle / "report.pdf").open("rb") as handle:
        signature = PdfFileReader(handle, strict=False).embedded_signatures[0]
        status = validate_pdf_signature(signature, context)
    assert status.intact and status.valid and status.trusted


@pytest.mark.parametrize("name", ["report.html", "audit.json", "report.pdf"])
def test_one_changed_byte_is_named(bundle: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "audit", "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert name in result.stdout


def _independent_decisions() -> tuple[pd.DataFrame, np.ndarray]:
    import skops.io as sio

    data = pd.read_csv(EXAMPLE / "german_credit.csv")
    path = EXAMPLE / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    features = [c for c in data.columns if c not in ("applicant_id", "sex", "credit_risk")]
    return data, model.predict(data[features]) == "good"


def test_selection_rates_equal_an_independent_pandas_computation(bundle: Path) -> None:
    data, selected = _independent_decisions()
    data = data.assign(selected=selected, age_band=np.where(data["age"] < 25, "under 25", "25 and over"))
    result = json.loads((bundle / "audit.json").read_text())
    evidence = {e["id"]: e for e in result["evidence"]}
    # The LL144 table (fairness.eeo_impact): sex only (an EEO category), every category compared, whatever its size.
    by_hand = data.groupby("sex")["selected"].agg(["size", "sum", "mean"])
    table = next(t for t in evidence["fairness.eeo_impact"]["tables"] if t["title"] == "LL144 summary: sex")
    assert len(table["rows"]) == len(by_hand)
    for row in table["rows"]:
        record = dict(zip(table["columns"], row, strict=True))
        group = record["Category"]
        assert record["Number of applicants"] == by_hand.loc[group, "size"]
        assert record["Number selected"] == by_hand.loc[group, "sum"]
        assert abs(record["Selection rate"] - by_hand.loc[group, "mean"]) < 1e-12
        assert abs(record["Impact ratio"] - by_hand.loc[group, "mean"] / by_hand["mean"].max()) < 1e-12
    assert not any(t["title"].startswith("LL144 summary: age") for t in evidence["fairness.eeo_impact"]["tables"])
    # The general evidence (fairness.selection_rate): every attribute, groups under 30 people or 2 % left out.
    selection = evidence["fairness.selection_rate"]
    detail = next(t for t in selection["tables"] if t["title"] == "Rates and impact ratios with 95 % intervals and tests")
    rows = [dict(zip(detail["columns"], r, strict=True)) for r in detail["rows"]]
    for attribute, column in (("sex", "sex"), ("age", "age_band"), ("foreign_worker", "foreign_worker")):
        by_hand = data.groupby(column)["selected"].agg(["size", "sum", "mean"])
        eligible = by_hand[(by_hand["size"] >= 30) & (by_hand["size"] / len(data) >= 0.02)]
        mine = {r["group"]: r for r in rows if r["breakdown"] == attribute}
        assert set(mine) == set(by_hand.index)
        for group, record in mine.items():
            assert record["people"] == by_hand.loc[group, "size"]
            assert abs(record["selection rate"] - by_hand.loc[group, "mean"]) < 1e-12
            if group in eligible.index:
                assert abs(record["impact ratio"] - by_hand.loc[group, "mean"] / eligible["mean"].max()) < 1e-12
            else:
                assert record["impact ratio"] is None
    sex_ratio = data.groupby("sex")["selected"].mean()
    assert selection["metrics"]["min_impact_ratio"] <= sex_ratio.min() / sex_ratio.max() + 1e-12


def test_decisions_parquet_has_one_row_per_decision(bundle: Path) -> None:
    data, selected = _independent_decisions()
    decisions = pd.read_parquet(bundle / "decisions.parquet")
    assert len(decisions) == len(data)
    assert list(decisions["id"]) == list(data["applicant_id"].astype(str))
    assert np.array_equal(decisions["decision"].to_numpy(), selected)


def test_pdf_has_page_numbers_and_extractable_text(bundle: Path) -> None:
    from pypdf import PdfReader

    reader = PdfReader(bundle / "report.pdf")
    assert len(reader.pages) >= 5
    second = reader.pages[1].extract_text()
    assert f"of {len(reader.pages)}" in second
    first = reader.pages[0].extract_text()
    assert "German credit scoring" in first


def _page_fill(html: str) -> list[tuple[float, str]]:
    """Each page's fill and its text, measured on WeasyPrint's laid-out boxes (not on our own HTML): how far down the
    page's content area its lowest line of text or image reaches (0 = empty, 1 = full), and the text of the page.
    A chart is an image box, so a page of charts counts as full where a measure of text alone would call it empty.
    The running header and footer (margin boxes) are left out."""
    import weasyprint
    from weasyprint.formatting_structure import boxes

    def leaves(box: Any) -> Iterator[Any]:
        for child in getattr(box, "children", None) or []:
            if isinstance(child, boxes.MarginBox):
                continue
            if isinstance(child, (boxes.TextBox, boxes.ReplacedBox)):
                yield child
            else:
                yield from leaves(child)

    pages = []
    for page in weasyprint.HTML(string=html).render().pages:
        box = page._page_box
        drawn = list(leaves(box))
        bottom = max((b.position_y + b.margin_height() for b in drawn), default=box.content_box_y())
        text = " ".join(b.text for b in drawn if isinstance(b, boxes.TextBox))
        pages.append(((bottom - box.content_box_y()) / box.height, text))
    return pages


def test_the_core_to_sign_is_at_most_12_pages_and_no_page_is_nearly_empty(bundle: Path) -> None:
    """Issue 15: cover, summary, matrix, actions and sign-off come first, in at most 12 pages; appendices follow.
    No page of the whole PDF is less than a fifth full, except the cover, a chapter's last page (the next page opens
    a chapter: chapters start on a new page) and the last page."""
    import re

    from pypdf import PdfReader

    fills = _page_fill((bundle / "report.html").read_text(encoding="utf-8"))
    assert len(fills) == len(PdfReader(bundle / "report.pdf").pages)  # the same document as the bundle's PDF
    texts = [text for _, text in fills]
    first_appendix = next(i for i, t in enumerate(texts) if re.match(r"A\s+Appendix: evidence", t))
    assert first_appendix <= 12, f"the core runs to page {first_appendix}"
    core = " ".join(texts[:first_appendix])
    assert re.search(r"4\s+Sign-off", core) and re.search(r"3\s+Open actions", core)
    opens_chapter = re.compile(r"(\d|[A-F])\s+(Appendix|Executive summary|Requirement matrix|Open actions|Sign-off)")
    nearly_empty = [f"page {i + 1} ({fill:.0%}): {text[:60]!r}" for i, (fill, text) in enumerate(fills)
                    if 0 < i < len(fills) - 1 and fill < 0.2 and not opens_chapter.match(texts[i + 1])]
    assert not nearly_empty, nearly_empty


def test_audit_json_round_trips_and_rerenders(bundle: Path) -> None:
    from audit.evidence import read_audit_json
    from audit.report import render_html

    result = read_audit_json(bundle / "audit.json")
    assert json.loads(result.model_dump_json()) == json.loads((bundle / "audit.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    html = render_html(result, generated_at=manifest["audit"]["generated_at"])  # the clock time lives in the manifest
    assert html == (bundle / "report.html").read_text(encoding="utf-8")


def test_report_names_features_by_their_original_names_only(bundle: Path) -> None:
    html = (bundle / "report.html").read_text(encoding="utf-8")
    assert "checking_account_" not in html  # one-hot column names never reach the reader
    assert "checking_account" in html


def test_a_decisions_only_audit_runs_with_no_model_file(tmp_path: Path) -> None:
    """The regulator's case: the decision log alone; model-dependent requirements become REVIEW, never PASS."""
    shutil.copy(EXAMPLE / "german_credit_decisions.csv", tmp_path)
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec.pop("signing")
    spec.setdefault("fairness", {})["bootstrap"] = 200
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".skops", ".pkl", ".joblib", ".json", ".txt")]
    result = subprocess.run([sys.executable, "-m", "audit", "run", "audit.yaml", "--output", "reports"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    audit_json = json.loads(next((tmp_path / "reports").glob("*/*/audit.json")).read_text())
    assert result.returncode == (1 if audit_json["verdict"] == "FAIL" else 0), result.stderr
    assert audit_json["verdict"] == "REVIEW"  # nothing binding fails on a decision log; much needs a person
    evidence = {e["id"]: e for e in audit_json["evidence"]}
    assert evidence["fairness.selection_rate"]["status"] == "ok"
    for model_only in ("importance.shap", "local.shap", "counterfactual.flip", "robustness.perturbation"):
        assert evidence[model_only]["status"] == "not_assessed"
        assert "no model access" in evidence[model_only]["reason"]
    needing_model = {"importance.shap", "local.shap", "counterfactual.flip", "counterfactual.recourse", "robustness.perturbation"}
    for finding in audit_json["findings"]:
        if finding["status"] != "N/A" and needing_model & set(finding["evidence_ids"]):
            assert finding["status"] in ("REVIEW", "FAIL"), finding["id"]
            assert finding["status"] != "PASS"


def test_attestations_show_who_attested_what_and_when(bundle: Path) -> None:
    answers = yaml.safe_load((EXAMPLE / "attestations.yaml").read_text())["attestations"]
    findings = {f["id"]: f for f in json.loads((bundle / "audit.json").read_text())["findings"]}
    html = (bundle / "report.html").read_text(encoding="utf-8")
    for requirement, answer in answers.items():
        attested = findings[requirement]["attestation"]
        assert (attested["answer"], attested["by"], attested["date"]) == (answer["answer"], answer["by"], str(answer["date"]))
        assert answer["by"] in html and str(answer["date"]) in html
    unanswered = [f for f in findings.values() if f["attestation"] and f["attestation"]["answer"] is None]
    assert unanswered and all(f["status"] in ("REVIEW", "FAIL", "N/A") for f in unanswered)


def test_audit_explain_gives_reasons_and_recourse_for_an_adverse_decision(bundle: Path, tmp_path: Path) -> None:
    decisions = pd.read_parquet(bundle / "decisions.parquet")
    adverse = decisions[~decisions["decision"] & decisions["recourse"].notna()].iloc[0]
    result = subprocess.run([sys.executable, "-m", "audit", "explain", str(bundle), "--id", adverse["id"]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from audit.spec import load_spec

    names = load_spec(EXAMPLE / "audit.yaml").data.code_book.columns  # a notice names columns by the code book
    assert names[adverse["reason_1_feature"]] in result.stdout  # the main reason
    assert names[adverse["recourse"].split(":")[0]] in result.stdout  # what would change it (or why it is not offered)
    pdf = tmp_path / "notice.pdf"
    result = subprocess.run([sys.executable, "-m", "audit", "explain", str(bundle), "--id", adverse["id"],
                             "--format", "pdf", "--out", str(pdf)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    assert len(reader.pages) == 1 and adverse["id"] in reader.pages[0].extract_text()
    unknown = subprocess.run([sys.executable, "-m", "audit", "explain", str(bundle), "--id", "NO-SUCH-ID"],
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr and "NO-SUCH-ID" in unknown.stderr


def test_audit_json_validates_against_the_schema_the_tool_prints(bundle: Path, tmp_path: Path) -> None:
    """`audit schema --result` is a JSON Schema that audit.json meets (checked by jsonschema, not by us), that types
    each evidence kind's metrics, and a file of another schema version is refused on read."""
    import copy

    import jsonschema

    from audit.errors import AuditInputError
    from audit.evidence import read_audit_json

    printed = subprocess.run([sys.executable, "-m", "audit", "schema", "--result"], capture_output=True, text=True,
                             timeout=120)
    assert printed.returncode == 0, printed.stderr
    schema = json.loads(printed.stdout)
    data = json.loads((bundle / "audit.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(data)
    broken = copy.deepcopy(data)
    selection = next(e for e in broken["evidence"] if e["id"] == "fairness.selection_rate")
    selection["metrics"]["min_impact_ratio"] = "0.76"  # a sentence where a figure belongs
    assert not validator.is_valid(broken)
    extra = copy.deepcopy(data)
    next(e for e in extra["evidence"] if e["id"] == "data.profile")["metrics"]["n_groups_below_threshold"] = 3
    assert not validator.is_valid(extra)  # no undeclared metric
    old = copy.deepcopy(data)
    old["schema_version"] = "1.0"
    (tmp_path / "audit.json").write_text(json.dumps(old))
    with pytest.raises(AuditInputError, match=f"schema version 1.0; this tool reads version {SCHEMA_VERSION}"):
        read_audit_json(tmp_path / "audit.json")


def test_a_notice_speaks_the_persons_language(bundle: Path, tmp_path: Path) -> None:
    """Issue 15, item 5: a rejected applicant's PDF notice names columns and values by the code book, states amounts
    in percentage points (no log-odds), says when a protected attribute is a reason, gives the spec's contact, and
    is written beside the bundle by default."""
    import re

    from pypdf import PdfReader

    from audit.spec import load_spec

    spec = load_spec(EXAMPLE / "audit.yaml")
    book, contact = spec.data.code_book, spec.system.contact
    assert contact is not None and book.values
    decisions = pd.read_parquet(bundle / "decisions.parquet")
    rejected = decisions[~decisions["favourable"].astype(bool)]
    coded = [c for c in book.values]
    has_code = rejected[[f"reason_{k}_feature" for k in range(1, 5)]].isin(coded).any(axis=1)
    person = rejected[has_code].iloc[0]
    result = subprocess.run([sys.executable, "-m", "audit", "explain", str(bundle), "--id", str(person["id"]),
                             "--format", "pdf"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    written = bundle.parent / f"notice-{bundle.name}-{person['id']}.pdf"
    assert written.is_file() and not list(tmp_path.glob("*.pdf"))  # beside the bundle, not the current folder
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(written).pages))
    for column, labels in book.values.items():
        for raw in labels:
            assert raw not in text, f"the code {raw!r} of {column} is in the notice"
    assert not [c for c in book.columns if "_" in c and c in text]  # no column named by its data name
    assert "log-odds" not in text and "percentage point" in text
    def squeezed(value: str) -> str:  # a PDF line may break at a hyphen or a space
        return re.sub(r"[\s-]", "", value)

    for part in (contact.name, contact.address, contact.human_review):
        assert squeezed(part) in squeezed(text), part
    proposed = [str(t) for t in decisions["recourse"].dropna()]
    assert proposed  # recourse was searched
    for column, values in book.not_choices.items():  # the search never proposes a value that is not a choice
        assert not [t for t in proposed for change in t.split("; ")
                    if change.startswith(f"{column}: ") and any(change.endswith(f"→ {v}") for v in values)], column
    reasons = [person[f"reason_{k}_feature"] for k in range(1, 5)]
    if "age" in reasons:
        assert "The model uses Age, a protected characteristic" in text
