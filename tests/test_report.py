"""The report renderer: self-contained HTML, every number shown, a real PDF with extractable chart text."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from audit.evidence import (
    Attestation,
    AuditResult,
    Chart,
    Evidence,
    Finding,
    RuleOutcome,
    Status,
    Table,
)

FOUR_FIFTHS = "user-configured; default 0.8 from 29 CFR 1607.4(D) (four-fifths rule)"
SYSTEM_NAME = "Credit Scoring Engine"


def _fmt(value: object) -> str:
    """Independent re-implementation of the report's number format, for the assertions."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0.000"
        if abs(value) < 1e-4:
            return f"{value:.2e}"
        if abs(value) < 0.1:
            digits = 2 - math.floor(math.log10(abs(value)))
            return f"{value:.{digits}f}"
        return f"{value:,.3f}"
    return str(value)


def _feature_rows(n: int) -> list[list[object]]:
    names = ["checking_status", "duration_months", "credit_history", "purpose", "credit_amount", "savings_status",
             "employment_since", "installment_rate", "personal_status", "other_parties", "residence_since",
             "property_magnitude", "age", "other_payment_plans", "housing", "existing_credits", "job",
             "num_dependents"]
    return [[name, round(0.21 / (i + 1), 4), round(0.19 / (i + 1), 4), round(0.24 / (i + 1), 4), i + 1]
            for i, name in enumerate(names[:n])]


def make_result() -> AuditResult:
    """A realistic audit of a credit-scoring model: 2 packs, 8 findings, all four statuses."""
    groups = ["age < 25", "age 25-34", "age 35-44", "age 45-54", "age 55+", "female", "male",
              "foreign worker", "not foreign worker"]
    ratios = [0.712, 0.903, 1.0, 0.982, 0.941, 0.846, 1.0, 0.778, 1.0]
    selection = Evidence(
        id="fairness.selection_rate", check="fairness", title="Selection rate and impact ratio by group",
        summary="Applicants under 25 and foreign workers are approved markedly less often than the most favoured group.",
        metrics={"min_impact_ratio": 0.712, "max_selection_rate_gap": 0.1934, "groups_assessed": 9,
                 "smallest_group_size": 73, "fisher_p_value_min": 0.00042, "protected_attribute": "age, sex, foreign_worker"},
        tables=[Table(
            title="Selection rate per group",
            columns=["group", "n", "selected", "selection rate", "impact ratio", "95 % CI low", "95 % CI high"],
            rows=[[g, 100 + 37 * i, 60 + 20 * i, round(0.5 + 0.02 * i, 4), r, round(r - 0.08, 3), min(round(r + 0.07, 3), 1.2)]
                  for i, (g, r) in enumerate(zip(groups, ratios, strict=True))]
            + [[f"age band {k} (fine-grained, reported for completeness)", 20 + k, 10 + k, 0.5, None, None, None]
               for k in range(8)],
            note="Impact ratio: selection rate of the group divided by that of the most selected group.",
        )],
        charts=[Chart(
            id="fairness.impact_ratio", title="Impact ratio by group with 95 % bootstrap interval", kind="barh",
            labels=groups, values=ratios, ci_low=[r - 0.08 for r in ratios], ci_high=[min(r + 0.07, 1.2) for r in ratios],
            xlabel="impact ratio (selection rate / highest selection rate)", reference=0.8,
            reference_label="four-fifths threshold (0.8)",
        )],
        method="Selection rates per group on the audit data; impact ratio against the most selected group; "
               "95 % intervals from 1,000 stratified bootstrap resamples; Fisher exact test per group.",
        limits=["Groups with fewer than 30 decisions are reported but not tested.",
                "The four-fifths rule is a screening heuristic, not a legal standard of the EU AI Act.",
                "Intersectional groups (e.g. young foreign workers) are not assessed."],
        params={"seed": 20260917, "bootstrap_resamples": 1000, "min_group_size": 30, "confidence": 0.95},
        seconds=1.837,
    )
    performance = Evidence(
        id="performance.classification", check="performance", title="Accuracy on held-out decisions",
        summary="The model classifies 76.4 % of the held-out decisions correctly; recall on defaults is lower.",
        metrics={"accuracy": 0.764, "balanced_accuracy": 0.7012, "roc_auc": 0.8123, "precision": 0.7891,
                 "recall": 0.6034, "brier_score": 0.1647, "n_test": 1000},
        tables=[Table(title="Confusion matrix (rows: truth, columns: prediction)", columns=["", "good", "bad"],
                      rows=[["good", 612, 88], ["bad", 148, 152]])],
        charts=[Chart(id="performance.calibration", title="Calibration: observed default rate per predicted decile",
                      kind="line", x=[0.05 + 0.1 * i for i in range(10)],
                      series={"observed": [0.03, 0.12, 0.22, 0.31, 0.44, 0.52, 0.61, 0.73, 0.86, 0.93],
                              "perfect calibration": [0.05 + 0.1 * i for i in range(10)]},
                      xlabel="predicted probability of default", ylabel="observed default rate")],
        method="Stratified 70/30 split fixed by the seed; metrics from scikit-learn on the 30 % test part.",
        limits=["A single split; no confidence interval on accuracy.", "The test data come from the same period as training."],
        params={"seed": 20260917, "test_fraction": 0.3, "threshold": 0.5}, seconds=0.214,
    )
    importance = Evidence(
        id="importance.global", check="importance", title="Global feature importance (SHAP)",
        summary="Checking account status and loan duration drive most decisions; age ranks 13th.",
        metrics={"top_feature": "checking_status", "top_feature_share": 0.2147, "features": 18,
                 "additivity_max_error": 3.1e-07},
        tables=[Table(title="Mean absolute SHAP value per feature",
                      columns=["feature", "mean |SHAP|", "CI low", "CI high", "rank"], rows=_feature_rows(18))],
        charts=[Chart(id="importance.shap_bar", title="Mean absolute SHAP value (top 12 features)", kind="barh",
                      labels=[r[0] for r in _feature_rows(12)], values=[r[1] for r in _feature_rows(12)],
                      ci_low=[r[2] for r in _feature_rows(12)], ci_high=[r[3] for r in _feature_rows(12)],
                      xlabel="mean |SHAP value| (log-odds)")],
        method="TreeSHAP (interventional) on 1,000 rows against a background of 200 rows.",
        limits=["SHAP values describe the model, not causal effects in the world.",
                "Correlated features share credit in ways that depend on the background sample."],
        params={"seed": 20260917, "sample_size": 1000, "background_size": 200}, seconds=3.902,
    )
    data = Evidence(
        id="data.profile", check="data", title="Audit data profile",
        summary="1,000 decisions, 20 features, no missing values; the protected attribute age is present.",
        metrics={"rows": 1000, "columns": 21, "missing_share": 0.0, "positive_rate": 0.3, "duplicate_rows": 0},
        tables=[Table(title="Columns", columns=["column", "type", "missing", "distinct"],
                      rows=[[r[0], "categorical" if i % 2 else "numeric", 0, 4 + i] for i, r in enumerate(_feature_rows(18))])],
        method="Counts over the audit data file as loaded.", limits=["Describes the audit sample, not production traffic."],
        params={"seed": None}, seconds=0.031,
    )
    local = Evidence.not_assessed("local.shap", "local", "Explanations of individual decisions",
                                  "not assessed: the model adapter gives no access to predict_proba")
    findings = [
        Finding(id="EUAIA-10.2f", pack="EU AI Act (Regulation (EU) 2024/1689)", title="Examination for possible biases",
                citation="Art. 10(2)(f) and (g)", obligation="Examine training, validation and testing data for possible "
                "biases likely to affect fundamental rights, and take measures to detect, prevent and mitigate them.",
                bearer="provider", status=Status.FAIL,
                reason="Impact ratio 0.712 for age < 25 is below the 0.8 threshold.",
                applies_from="2027-12-02", in_force=False,
                rules=[RuleOutcome(evidence="fairness.selection_rate", metric="min_impact_ratio", op=">=", threshold=0.8,
                                   threshold_source=FOUR_FIFTHS, observed=0.712, status=Status.FAIL)],
                evidence_ids=["fairness.selection_rate", "data.profile"]),
        Finding(id="EUAIA-15.1", pack="EU AI Act (Regulation (EU) 2024/1689)", title="Appropriate level of accuracy",
                citation="Art. 15(1) and (3)", obligation="Achieve an appropriate level of accuracy and declare it in the "
                "instructions for use.", bearer="provider", status=Status.PASS,
                reason="Balanced accuracy 0.701 meets the declared minimum of 0.70.",
                rules=[RuleOutcome(evidence="performance.classification", metric="balanced_accuracy", op=">=",
                                   threshold=0.7, threshold_source="provider declaration, technical documentation §4.2",
                                   observed=0.7012, status=Status.PASS)],
                evidence_ids=["performance.classification"]),
        Finding(id="EUAIA-13.3b", pack="EU AI Act (Regulation (EU) 2024/1689)", title="Interpretability of output",
                citation="Art. 13(1), 13(3)(b)(iv) and (vii)", obligation="Provide information that enables deployers "
                "to interpret the system's output.", bearer="provider", status=Status.REVIEW,
                reason="Per-decision explanations could not be produced.", evidence_ids=["local.shap", "importance.global"]),
        Finding(id="EUAIA-9.2", pack="EU AI Act (Regulation (EU) 2024/1689)", title="Risk management system",
                citation="Art. 9(1)-(2)", obligation="Establish, document and maintain a risk management system.",
                bearer="provider", status=Status.REVIEW, reason="Attestation missing.",
                attestation=Attestation(question="Is a risk management system covering this system documented and maintained?",
                                        document="Risk management plan and risk register")),
        Finding(id="EUAIA-14.1", pack="EU AI Act (Regulation (EU) 2024/1689)", title="Human oversight",
                citation="Art. 14(1), (4)", obligation="Design the system so that natural persons can oversee it.",
                bearer="provider", status=Status.PASS, reason="Attested by the provider.",
                attestation=Attestation(question="Can a credit officer override every automated decision before it is "
                                        "communicated?", document="Operating procedure OP-17", answer="yes",
                                        by="M. Keller, Head of Credit Risk", date="2026-09-10",
                                        reference="DMS://credit/ops/OP-17-v4.pdf", comment="Override rate 4 % in Q2.")),
        Finding(id="GDPR-22.3", pack="GDPR (Regulation (EU) 2016/679)", title="Right to human intervention",
                citation="Art. 22(3)", obligation="Implement suitable measures, at least the right to obtain human "
                "intervention, to express one's view and to contest the decision.", bearer="controller",
                status=Status.PASS, reason="Attested.",
                attestation=Attestation(question="Can applicants contest an automated refusal and obtain human review?",
                                        document="Customer complaint procedure", answer="yes", by="A. Novak, DPO",
                                        date="2026-09-12", reference="DMS://legal/complaints-v2.pdf")),
        Finding(id="GDPR-9.1", pack="GDPR (Regulation (EU) 2016/679)", title="Special categories of personal data",
                citation="Art. 9(1)", obligation="Do not process special-category data without a legal basis.",
                bearer="controller", status=Status.NA, reason="The model uses no special-category data as a feature."),
        Finding(id="GDPR-15.1h", pack="GDPR (Regulation (EU) 2016/679)", title="Meaningful information about the logic",
                citation="Art. 15(1)(h); CJEU C-203/22 (Dun & Bradstreet Austria)",
                obligation="Give the data subject meaningful information about the logic involved.", bearer="controller",
                status=Status.FAIL, reason="Age-based disparity is not disclosed and explanations are unavailable.",
                rules=[RuleOutcome(evidence="fairness.selection_rate", metric="max_selection_rate_gap", op="<=",
                                   threshold=0.1, threshold_source="internal tolerance band, risk file R-12",
                                   observed=0.1934, status=Status.FAIL, note="Gap between age 25-34 and age < 25.")],
                evidence_ids=["fairness.selection_rate", "local.shap"]),
    ]
    return AuditResult(
        tool={"name": "audit", "version": "0.4.0", "schema": "1.0"},
        generated_at="2026-09-17T14:03:22Z", audit_date="2026-09-17",
        system={"name": SYSTEM_NAME, "version": "3.2.1", "provider": "Northwind Bank AG, Credit Risk Analytics",
                "intended_purpose": "Scores consumer-credit applications up to EUR 50,000 to support, not replace, "
                                    "the credit officer's decision.", "risk_class": "high-risk (Annex III 5(b))"},
        subject={"data_file": "german_credit.csv", "rows": 1000,
                 "data_sha256": "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
                 "features": [r[0] for r in _feature_rows(18)], "protected": ["age", "sex", "foreign_worker"],
                 "target": "credit_risk", "positive_label": "good", "decision_source": "model",
                 "model_format": "skops", "model_kind": "classifier", "model_file": "model.skops",
                 "model_sha256": "0a1b2c3d4e5f60718293a4b5c6d7e8f9f2c4e7a1b3d5f60718293a4b5c6d7e8f",
                 "model_trusted_explicitly": False},
        evidence=[selection, performance, importance, data, local],
        findings=findings, verdict=Status.FAIL,
        counts={"PASS": 3, "FAIL": 2, "REVIEW": 2, "N/A": 1},
        run={"seed": 20260917, "python": "3.11.9",
             "libraries": {"numpy": "2.4.6", "pandas": "3.1.1", "scikit-learn": "1.9.1", "shap": "0.51.0",
                           "fairlearn": "0.15.0", "matplotlib": "3.11.2", "weasyprint": "70.0"},
             "timings": {"load": 0.412, "checks": 6.021, "policies": 0.018, "report": 1.204},
             "policies": ["eu-ai-act", "gdpr"], "spec_file": "audit.yaml"},
    )


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result()


@pytest.fixture(scope="module")
def rendered(result: AuditResult, tmp_path_factory: pytest.TempPathFactory):
    from audit.report import render_report

    out = tmp_path_factory.mktemp("report")
    start = time.perf_counter()
    files = render_report(result, out_dir=out)
    return files, time.perf_counter() - start


@pytest.fixture(scope="module")
def html(rendered) -> str:
    return rendered[0].html.read_text(encoding="utf-8")


def test_format_number_matches_independent_format() -> None:
    from audit.report import format_number

    for value in [0.712, 0.1934, 0.00042, 3.1e-07, 0.0, 1000, 12345.6789, -0.05, True, None, "x", 0.8]:
        assert format_number(value) == _fmt(value), value
    assert format_number(float("nan")) == "\u2014"


def test_files_written(rendered, result: AuditResult) -> None:
    files, _ = rendered
    assert files.html.name == "report.html" and files.pdf.name == "report.pdf"
    chart_ids = {c.id for e in result.evidence for c in e.charts}
    assert {p.name for p in files.figures} == {f"{i}.svg" for i in chart_ids}
    for path in files.figures:
        svg = path.read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<text" in svg  # text stays text (svg.fonttype none)


def test_html_is_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html.lower()
    assert "http://" not in html.replace("http://www.w3.org/", "")  # only SVG/XML namespaces
    assert "https://" not in html
    assert "<style>" in html and "<svg" in html


def test_every_metric_and_finding_is_shown(html: str, result: AuditResult) -> None:
    for evidence in result.evidence:
        assert f'id="ev-{evidence.id.replace(".", "-")}"' in html
        for key, value in evidence.metrics.items():
            assert key in html
            assert _fmt(value) in html, (evidence.id, key, value)
    for finding in result.findings:
        assert f'id="req-{re.sub(r"[^A-Za-z0-9_-]", "-", finding.id)}"' in html
        assert finding.id in html
        for rule in finding.rules:
            assert rule.threshold_source in html
    for ev_id in {e for f in result.findings for e in f.evidence_ids}:
        assert f'href="#ev-{ev_id.replace(".", "-")}"' in html


def test_links_resolve_and_ids_are_unique(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert targets and targets <= set(ids), targets - set(ids)


def test_not_assessed_reason_and_open_actions(html: str) -> None:
    assert "the model adapter gives no access to predict_proba" in html
    actions = html.split('id="actions"', 1)[1].split('id="attestations"', 1)[0]
    assert "Risk management plan and risk register" in actions
    assert "EUAIA-13.3b" in actions and "EUAIA-9.2" in actions
    attest = html.split('id="attestations"', 1)[1].split('id="appendix"', 1)[0]
    assert "M. Keller, Head of Credit Risk" in attest and "A. Novak, DPO" in attest


def test_evidence_order(html: str) -> None:
    positions = [html.index(f'id="check-{c}"') for c in ("data", "performance", "fairness", "importance", "local")]
    assert positions == sorted(positions)
    assert "Explanations of individual decisions" in html


def test_pdf_pages_and_text(rendered) -> None:
    from pypdf import PdfReader

    files, _ = rendered
    reader = PdfReader(files.pdf)
    assert len(reader.pages) >= 3
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert SYSTEM_NAME in text
    assert "Page 2 of" in text
    # Chart text is real text in the PDF (svg.fonttype none): an axis label and a legend entry found only in charts.
    assert "highest selection rate" in text
    assert "log-odds" in text
    assert "four-fifths threshold" in text
    assert "Contents" in text
    assert reader.pages[0].extract_text().count("Audit report") == 0  # no running header on the cover


def test_pdf_is_pdfa3b(rendered) -> None:
    from pypdf import PdfReader

    reader = PdfReader(rendered[0].pdf)
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root and "/Metadata" in root
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8", "replace")
    assert "<pdfaid:part>3</pdfaid:part>" in xmp or 'pdfaid:part="3"' in xmp
    assert "/StructTreeRoot" in root  # tagged


def test_missing_system_library_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from audit.errors import AuditInputError
    from audit.report import pdf

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(AuditInputError, match="Pango and HarfBuzz.*libpango-1.0-0"):
        pdf.write_pdf("<html></html>", Path("unused.pdf"))


def test_minimal_result_renders() -> None:
    """A result with nothing in it still renders (no evidence, no findings, unknown system fields)."""
    from audit.report import render_html

    minimal = AuditResult(tool={}, generated_at="2026-01-01T00:00:00Z", audit_date="2026-01-01", system={},
                          subject={}, evidence=[], findings=[], verdict=Status.REVIEW, counts={})
    text = render_html(minimal)
    assert "REVIEW" in text and "No requirement fails." in text and "There are no open actions" in text


def test_chart_svg_is_text_deterministic_and_scoped(result: AuditResult) -> None:
    from audit.report import chart_svg

    chart = result.evidence[0].charts[0]
    svg = chart_svg(chart)
    assert svg == chart_svg(chart)  # no dates, salted ids: the same audit gives the same figure
    assert "<text" in svg and "DejaVu Sans" in svg and "foreign worker" in svg
    assert f"<title>{chart.title}</title>" in svg
    ids = re.findall(r'\sid="([^"]+)"', svg)
    assert ids and all(i.startswith("fairness-impact_ratio-") for i in ids)


def test_render_html_alone(result: AuditResult) -> None:
    from audit.report import render_html

    text = render_html(result)
    assert text.count("<svg") == sum(len(e.charts) for e in result.evidence)
