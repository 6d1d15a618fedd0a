"""The report renderer: a compact matrix, requirement details, plain-language summary, Annex IV skeleton,
names instead of ids, every number shown as recorded, a real tagged PDF/A with extractable chart text."""

from __future__ import annotations

import math
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from factories import make_evidence

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
LONG_ROWS = 55  # a table longer than the 40 rows the report prints
GENERATED_AT = "2026-09-17T14:03:22+00:00"  # the clock time, passed to the renderer (not in audit.json)


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


class _Text(HTMLParser):
    """The text a reader sees: character data outside <style>, <title> and <script>; no attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "title", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def section(html: str, ident: str) -> str:
    """The HTML of one chapter (from its id to the next chapter)."""
    start = html.index(f'id="{ident}"')
    end = html.find('<section class="chapter', start)
    return html[start:] if end < 0 else html[start:end]


def req_anchor(ident: str) -> str:
    return "req-" + re.sub(r"[^A-Za-z0-9_-]", "-", ident)


def _feature_rows(n: int) -> list[list[object]]:
    names = ["checking_status", "duration_months", "credit_history", "purpose", "credit_amount", "savings_status",
             "employment_since", "installment_rate", "personal_status", "other_parties", "residence_since",
             "property_magnitude", "age", "other_payment_plans", "housing", "existing_credits", "job",
             "num_dependents"]
    return [[name, round(0.21 / (i + 1), 4), round(0.19 / (i + 1), 4), round(0.24 / (i + 1), 4), i + 1]
            for i, name in enumerate(names[:n])]


def _evidence(evidence_id: str, title: str, metrics: dict[str, object], **fields: object) -> Evidence:
    """Registered evidence (tests/factories.py validates its metrics against audit/evidence_kinds.py), with the
    title, tables, charts, method and limits a reader sees."""
    return make_evidence(evidence_id, **metrics).model_copy(update={"title": title, **fields})


def make_result() -> AuditResult:
    """A realistic audit of a credit-scoring model: 2 packs, 9 findings, all four statuses, 2 not yet in force."""
    groups = ["age < 25", "age 25-34", "age 35-44", "age 45-54", "age 55+", "female", "male",
              "foreign worker", "not foreign worker"]
    ratios = [0.712, 0.903, 1.0, 0.982, 0.941, 0.846, 1.0, 0.778, 1.0]
    selection = _evidence(
        "fairness.selection_rate", "Selection rate and impact ratio by group",
        {"favourable_decision": "positive", "rate_kind": "selection", "min_impact_ratio": 0.712,
         "min_impact_ratio_group": "age < 25", "min_impact_ratio_ci_low": 0.632, "min_impact_ratio_ci_high": 0.782,
         "min_impact_ratio_p_value": 0.00042, "n_groups_excluded": 8, "unknown_count": 0,
         "median_score": None},  # rates of decisions: the registry's reason is filled in
        summary="Applicants under 25 and foreign workers are approved markedly less often than the most favoured group.",
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
    )
    error_rates = _evidence(
        "fairness.error_rates", "Gaps between groups in decision and error rates",
        {"demographic_parity_difference": 0.1934, "equalized_odds_difference": 0.1412,
         "equal_opportunity_difference": 0.1178, "false_positive_rate_difference": 0.0961,
         "predictive_parity_difference": 0.0543, "demographic_parity_ratio": 0.712, "max_ece_gap": 0.0421,
         "theil_index": 0.1187, "consistency": 0.842, "primary_metric": "demographic_parity_difference",
         "primary_metric_value": 0.1934, "primary_metric_ci_low": 0.121, "primary_metric_ci_high": 0.262,
         "primary_metric_p_value": 0.0031, "primary_metric_breakdown": "age",
         "primary_metric_reason": "named in the audit specification (risk file R-12)"},
        summary="Approval rates differ by up to 19 points between age groups.",
        method="Rates per group from fairlearn MetricFrame on the audit data; the worst value over every breakdown.",
        limits=["Gaps between groups describe the decisions, not their causes."],
        params={"seed": 20260917, "min_group_size": 30},
    )
    performance = _evidence(
        "performance.overall", "Accuracy on held-out decisions",
        {"n": 1000, "accuracy": 0.764, "balanced_accuracy": 0.7012, "roc_auc": 0.8123, "roc_auc_below_chance": False,
         "brier": 0.1647, "true_positives": 612, "false_positives": 148, "true_negatives": 152, "false_negatives": 88,
         "max_group_accuracy_gap": 0.0613, "positive_decision_rate": 0.76, "positive_label_rate": 0.7},
        summary="The model classifies 76.4 % of the held-out decisions correctly; recall on defaults is lower.",
        tables=[Table(title="Confusion matrix (rows: truth, columns: prediction)", columns=["", "good", "bad"],
                      rows=[["good", 612, 88], ["bad", 148, 152]])],
        charts=[Chart(id="performance.calibration", title="Calibration: observed default rate per predicted decile",
                      kind="line", x=[0.05 + 0.1 * i for i in range(10)],
                      series={"observed": [0.03, 0.12, 0.22, 0.31, 0.44, 0.52, 0.61, 0.73, 0.86, 0.93],
                              "perfect calibration": [0.05 + 0.1 * i for i in range(10)]},
                      xlabel="predicted probability of default", ylabel="observed default rate")],
        method="Stratified 70/30 split fixed by the seed; metrics from scikit-learn on the 30 % test part.",
        limits=["A single split; no confidence interval on accuracy.", "The test data come from the same period as training."],
        params={"seed": 20260917, "test_fraction": 0.3, "threshold": 0.5},
    )
    importance = _evidence(
        "importance.shap", "Global feature importance (SHAP)",
        {"method": "tree", "output_space": "log-odds", "max_additivity_error": 3.1e-07, "n_rows": 1000,
         "top_feature": "checking_status", "n_features": 18, "precision": "float64"},
        summary="Checking account status and loan duration drive most decisions; age ranks 13th.",
        tables=[Table(title="Mean absolute SHAP value per feature",
                      columns=["feature", "mean |SHAP|", "CI low", "CI high", "rank"], rows=_feature_rows(18))],
        charts=[Chart(id="importance.shap_bar", title="Mean absolute SHAP value (top 12 features)", kind="barh",
                      labels=[r[0] for r in _feature_rows(12)], values=[r[1] for r in _feature_rows(12)],
                      ci_low=[r[2] for r in _feature_rows(12)], ci_high=[r[3] for r in _feature_rows(12)],
                      xlabel="mean |SHAP value| (log-odds)")],
        method="TreeSHAP (interventional) on 1,000 rows against a background of 200 rows.",
        limits=["SHAP values describe the model, not causal effects in the world.",
                "Correlated features share credit in ways that depend on the background sample."],
        params={"seed": 20260917, "sample_size": 1000, "background_size": 200},
    )
    data = _evidence(
        "data.profile", "Audit data profile",
        {"rows": 1000, "features": 20, "protected_attributes": "age, sex, foreign_worker", "missing_share": 0.0,
         "columns_with_missing": 0, "duplicate_rows": 0, "positive_label_rate": 0.7},
        summary="1,000 decisions, 20 features, no missing values; the protected attribute age is present.",
        tables=[Table(title="Columns", columns=["column", "type", "missing", "distinct_values"],
                      rows=[[f"feature_{i:02d}", "categorical" if i % 2 else "numeric", 0, 4 + i] for i in range(LONG_ROWS)]),
                Table(title="Every figure, long form", columns=["metric", "value"], rows=[["rows", 1000]],
                      in_report=False)],
        method="Counts over the audit data file as loaded.", limits=["Describes the audit sample, not production traffic."],
        params={"seed": None},
    )
    local = Evidence.not_assessed("local.shap", "local", "Explanations of individual decisions",
                                  "not assessed: the model adapter gives no access to predict_proba")
    findings = [
        Finding(id="EUAIA-10.2f", pack="eu-ai-act", title="Examination for possible biases",
                citation="Art. 10(2)(f) and (g)", obligation="Examine training, validation and testing data for possible "
                "biases likely to affect fundamental rights, and take measures to detect, prevent and mitigate them.",
                bearer="provider", status=Status.FAIL,
                reason="Impact ratio 0.712 for age < 25 is below the 0.8 threshold.",
                applies_from="2027-12-02", in_force=False,
                rules=[RuleOutcome(evidence="fairness.selection_rate", metric="min_impact_ratio", op=">=", threshold=0.8,
                                   threshold_id="impact_ratio", threshold_source=FOUR_FIFTHS, binding=True,
                                   observed=0.712, status=Status.FAIL,
                                   note="selection rates of groups meet the declared minimum ratio")],
                attestation=Attestation(question="Is each bias found recorded with the mitigation chosen?",
                                        document="Bias mitigation record"),
                evidence_ids=["fairness.selection_rate", "data.profile"]),
        Finding(id="EUAIA-15.1", pack="eu-ai-act", title="Appropriate level of accuracy",
                citation="Art. 15(1) and (3)", obligation="Achieve an appropriate level of accuracy and declare it in the "
                "instructions for use.", bearer="provider", status=Status.PASS,
                reason="Balanced accuracy 0.701 meets the declared minimum of 0.70.",
                rules=[RuleOutcome(evidence="performance.overall", metric="balanced_accuracy", op=">=",
                                   threshold=0.7, binding=True,  # declared by the provider in the spec
                                   threshold_source="provider declaration, technical documentation §4.2",
                                   observed=0.7012, status=Status.PASS, note="balanced accuracy meets the declared minimum")],
                evidence_ids=["performance.overall"]),
        Finding(id="EUAIA-13.3b", pack="eu-ai-act", title="Interpretability of output",
                citation="Art. 13(1), 13(3)(b)(iv) and (vii)", obligation="Provide information that enables deployers "
                "to interpret the system's output.", bearer="provider", status=Status.REVIEW,
                reason="Per-decision explanations could not be produced.", evidence_ids=["local.shap", "importance.shap"]),
        Finding(id="EUAIA-9.2", pack="eu-ai-act", title="Risk management system",
                citation="Art. 9(1)-(2)", obligation="Establish, document and maintain a risk management system.",
                bearer="provider", status=Status.REVIEW, reason="Attestation missing.",
                attestation=Attestation(question="Is a risk management system covering this system documented and maintained?",
                                        document="Risk management plan and risk register")),
        Finding(id="EUAIA-14.1", pack="eu-ai-act", title="Human oversight",
                citation="Art. 14(1), (4)", obligation="Design the system so that natural persons can oversee it.",
                bearer="provider", status=Status.PASS, reason="Attested by the provider.",
                attestation=Attestation(question="Can a credit officer override every automated decision before it is "
                                        "communicated?", document="Operating procedure OP-17", answer="yes",
                                        by="M. Keller, Head of Credit Risk", date="2026-09-10",
                                        reference="DMS://credit/ops/OP-17-v4.pdf", comment="Override rate 4 % in Q2.")),
        Finding(id="EUAIA-ANNEXIV-2", pack="eu-ai-act", title="Technical documentation: development and testing",
                citation="Regulation (EU) 2024/1689, Art. 11 and Annex IV point 2", obligation="Document how the "
                "system was developed, validated and tested.", bearer="provider", status=Status.REVIEW,
                reason="attestation needed", applies_from="2027-12-02", in_force=False,
                applies_from_note="2027-12-02 (originally 2026-08-02)",
                attestation=Attestation(question="Does the technical documentation describe validation and testing?",
                                        document="Technical documentation, Annex IV section 2")),
        Finding(id="GDPR-22.3", pack="gdpr", title="Right to human intervention",
                citation="Art. 22(3)", obligation="Implement suitable measures, at least the right to obtain human "
                "intervention, to express one's view and to contest the decision.", bearer="controller",
                status=Status.PASS, reason="Attested.",
                attestation=Attestation(question="Can applicants contest an automated refusal and obtain human review?",
                                        document="Customer complaint procedure", answer="yes", by="A. Novak, DPO",
                                        date="2026-09-12", reference="DMS://legal/complaints-v2.pdf")),
        Finding(id="GDPR-9.1", pack="gdpr", title="Special categories of personal data",
                citation="Art. 9(1)", obligation="Do not process special-category data without a legal basis.",
                bearer="controller", status=Status.NA, reason="The model uses no special-category data as a feature."),
        Finding(id="GDPR-15.1h", pack="gdpr", title="Meaningful information about the logic",
                citation="Art. 15(1)(h); CJEU C-203/22 (Dun & Bradstreet Austria)",
                obligation="Give the data subject meaningful information about the logic involved.", bearer="controller",
                status=Status.FAIL, reason="Age-based disparity is not disclosed and explanations are unavailable.",
                rules=[RuleOutcome(evidence="fairness.error_rates", metric="demographic_parity_difference", op="<=",
                                   threshold=0.1, threshold_id="demographic_parity_gap", binding=True,
                                   threshold_source="internal tolerance band, risk file R-12",
                                   observed=0.1934, status=Status.FAIL, note="the gap in selection rates stays within the tolerance band"),
                       RuleOutcome(evidence="local.shap", metric="coverage", op=">=", threshold=1.0,
                                   threshold_id="explanation_coverage",
                                   threshold_source="every decision in scope has an explanation", status=Status.REVIEW,
                                   note="not assessed: the model adapter gives no access to predict_proba")],
                evidence_ids=["fairness.error_rates", "local.shap"]),
    ]
    return AuditResult(
        tool={"name": "audit", "version": "0.4.0"}, audit_date="2026-09-17",
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
        evidence=[selection, error_rates, performance, importance, data, local],
        findings=findings, verdict=Status.FAIL,
        counts={"PASS": 3, "FAIL": 1, "REVIEW": 2, "N/A": 1},  # requirements in force only
        readiness_verdict=Status.FAIL, readiness_counts={"PASS": 0, "FAIL": 1, "REVIEW": 1},  # EUAIA-10.2f, ANNEXIV-2
        run={"seed": 20260917, "python": "3.11.9",
             "libraries": {"numpy": "2.4.6", "pandas": "3.1.1", "scikit-learn": "1.9.1", "shap": "0.51.0",
                           "fairlearn": "0.15.0", "matplotlib": "3.11.2", "weasyprint": "70.0"},
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
    files = render_report(result, out_dir=out, generated_at=GENERATED_AT)
    return files, time.perf_counter() - start


@pytest.fixture(scope="module")
def html(rendered) -> str:
    return rendered[0].html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def text(html: str) -> str:
    return visible_text(html)


# ------------------------------------------------------------------------------------------- formatting


def test_format_number_matches_independent_format() -> None:
    from audit.report import format_number

    for value in [0.712, 0.1934, 0.00042, 3.1e-07, 0.0, 1000, 12345.6789, -0.05, True, None, "x", 0.8]:
        assert format_number(value) == _fmt(value), value
    assert format_number(float("nan")) == "\u2014"


def test_humanise_turns_keys_into_words() -> None:
    from audit.report.html import humanise

    assert humanise("max_additivity_error") == "Max additivity error"
    assert humanise("roc_auc") == "ROC AUC"
    assert humanise("n_adverse") == "Number of adverse"
    assert humanise("min_impact_ratio_p_value") == "Min impact ratio p-value"
    assert humanise("accuracy") == "Accuracy"
    assert humanise("check.fairness") == "Check fairness"


# ------------------------------------------------------------------------------------------- the files


def test_files_written(rendered, result: AuditResult) -> None:
    files, _ = rendered
    assert files.html.name == "report.html" and files.pdf.name == "report.pdf"
    chart_ids = {c.id for e in result.evidence for c in e.charts}
    assert {p.name for p in files.figures} == {f"{i}.svg" for i in chart_ids}
    for path in files.figures:
        svg = path.read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<text" in svg  # text stays text (svg.fonttype none)


def test_html_is_self_contained(html: str, result: AuditResult) -> None:
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html.lower()
    assert "http://" not in html and "https://" not in html
    images = re.findall(r'<img class="chart" src="([^"]+)" alt="([^"]*)"', html)
    assert len(images) == sum(len(e.charts) for e in result.evidence)
    assert all(src.startswith("data:image/svg+xml;base64,") for src, _ in images)
    assert {alt for _, alt in images} == {c.title for e in result.evidence for c in e.charts}


def test_links_resolve_and_ids_are_unique(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert targets and targets <= set(ids), targets - set(ids)


# ------------------------------------------------------------------------------------------- cover

INVERTED = ("The scores rank the actual outcomes worse than chance (ROC AUC 0.312): the decisions may be inverted. "
            "Check model.positive_class and data.positive_label before reading any other figure.")


def _line(html: str) -> str:
    """Visible text without the space :func:`visible_text` puts between a closing tag and the comma after it."""
    return re.sub(r" ([,.])", r"\1", visible_text(html)).strip()


def cover_of(html: str) -> str:
    """The HTML of the cover: the first page, before the contents and the executive summary."""
    start = re.search(r'<section class="cover[^"]*" id="cover">', html).start()
    end = html.index("</section>", start)
    assert end < html.index('id="summary"')
    return html[start:end]


def test_generated_at_is_the_time_passed_to_the_renderer(html: str, result: AuditResult, tmp_path: Path) -> None:
    from audit.evidence import write_audit_json
    from audit.report import render_html

    cover = cover_of(html)
    assert f'<td class="generated">{GENERATED_AT}</td>' in cover  # also the PDF's running footer
    assert f'<meta name="dcterms.created" content="{GENERATED_AT}">' in html
    default = cover_of(render_html(result))
    assert f'<td class="generated">{result.audit_date}</td>' in default  # no clock time given: the audit date
    write_audit_json(result, tmp_path / "audit.json")
    assert "generated_at" not in (tmp_path / "audit.json").read_text(encoding="utf-8")
    assert GENERATED_AT not in (tmp_path / "audit.json").read_text(encoding="utf-8")


def test_cover_shows_alerts_escaped_before_the_verdict(result: AuditResult) -> None:
    from audit.report import render_html

    hostile = "Group <b>label</b> & more"
    alerted = result.model_copy(update={"alerts": [INVERTED, hostile]})
    html = render_html(alerted)
    cover = cover_of(html)
    box = re.search(r'<div class="cover-alerts" role="alert">(.*?)</div>', cover, re.S)
    assert box is not None
    alerts = re.findall(r'<p class="alert">(.*?)</p>', box.group(1), re.S)
    assert [visible_text(a).strip() for a in alerts] == [f"Warning {INVERTED}", f"Warning {hostile}"]
    assert box.start() < cover.index('class="verdict ')  # read before the verdict and every figure
    assert "Group &lt;b&gt;label&lt;/b&gt; &amp; more" in cover and "<b>label</b>" not in html  # escaped
    css = re.search(r"\.cover-alerts \.alert \{([^}]*)\}", html)  # styled as a warning: the FAIL colours, a border
    assert css is not None and "border" in css.group(1) and "#a3221a" in css.group(1) and "#fbe8e6" in css.group(1)
    assert 'class="cover-alerts"' not in render_html(result)  # no alert, no box


def test_cover_shows_readiness_counts_apart_from_the_in_force_counts(html: str, result: AuditResult) -> None:
    from audit.report import render_html

    cover = cover_of(html)
    table = re.search(r'<table class="status-counts".*?</table>', cover, re.S).group(0)
    shown = dict(re.findall(r'<td class="count-(\w+)">\s*<span class="count">([\d,]+)</span>', table))
    assert shown == {"pass": "3", "fail": "1", "review": "2", "na": "1"}  # in force only: result.counts
    assert shown == {s.lower().replace("/", ""): str(n) for s, n in result.counts.items()}
    assert "Requirements in force on the audit date" in visible_text(cover)
    readiness = re.search(r'<p class="readiness-counts">(.*?)</p>', cover, re.S)
    assert readiness is not None and readiness.start() > cover.index("</table>", cover.index('class="status-counts"'))
    assert _line(readiness.group(1)) == (
        "Not yet in force (assessed for readiness): PASS 0, FAIL 1, REVIEW 1 \u2014 these do not decide the verdict.")
    other = cover_of(render_html(result.model_copy(update={"readiness_counts": {"PASS": 4, "FAIL": 0, "REVIEW": 7}})))
    assert "PASS 4, FAIL 0, REVIEW 7" in _line(other)
    nothing_later = result.model_copy(update={"readiness_verdict": None, "readiness_counts": {}})
    assert 'class="readiness-counts"' not in render_html(nothing_later)  # none not yet in force: no line


# ------------------------------------------------------------------------------------------- names, not ids


def test_no_evidence_id_or_pack_file_name_is_visible_text(html: str, text: str, result: AuditResult) -> None:
    for evidence in result.evidence:
        assert evidence.id not in text, evidence.id
        assert f'href="#ev-{evidence.id.replace(".", "-")}"' in html  # still linked, by its anchor
    for pack in ("eu-ai-act", "gdpr"):
        assert not re.search(rf"(?<![\w-]){pack}(?![\w-])", text), pack
    assert "EU AI Act (Regulation (EU) 2024/1689)" in text


def test_evidence_metrics_show_humanised_keys_and_recorded_numbers(html: str, result: AuditResult) -> None:
    from audit.report.html import humanise

    for evidence in result.evidence:
        part = html[html.index(f'id="ev-{evidence.id.replace(".", "-")}"'):]
        part = part[: part.index("</article>")]
        part_text = visible_text(part)
        assert evidence.title in part_text
        for key, value in evidence.metrics.items():
            assert humanise(key) in part_text, (evidence.id, key)
            if value is None:  # never a number or an empty cell: the recorded reason
                assert f"not measured: {evidence.missing[key]}" in part_text, (evidence.id, key)
            elif isinstance(value, str) and value in evidence.metrics:  # a label naming a metric: its name in words
                assert humanise(value) in part_text, (evidence.id, key, value)
            else:
                assert _fmt(value) in part_text, (evidence.id, key, value)
            if "_" in key:
                assert key not in part_text


# ------------------------------------------------------------------------------------------- matrix and details


def test_matrix_is_compact_and_links_every_requirement_to_its_details(html: str, result: AuditResult) -> None:
    matrix = section(html, "matrix")
    core = re.findall(r'<tr id="mx-[^"]+".*?</tr>', matrix, re.S)
    other = re.findall(r'<tr id="mx-[^"]+".*?</tr>', section(html, "matrix-other"), re.S)
    # the core matrix holds what applies and is in force; the rest (N/A, not yet in force) is in appendix C
    applies = [f for f in result.findings if f.in_force and f.status is not Status.NA]
    assert len(core) == len(applies) and len(core) + len(other) == len(result.findings)
    rows = {re.search(r'id="mx-([^"]+)"', row).group(1): row for row in core + other}  # type: ignore[union-attr]
    for finding in result.findings:
        row = rows[req_anchor(finding.id).removeprefix("req-")]
        in_core = any(row is r for r in core)
        assert in_core == (finding.in_force and finding.status is not Status.NA), finding.id
        assert f'href="#{req_anchor(finding.id)}"' in row and finding.id in row
        assert finding.title in visible_text(row)
        assert row.count("<td") == 4
        for rule in finding.rules:
            assert rule.threshold_source not in row  # sources live in the details
        if finding.attestation is not None:
            assert finding.attestation.question not in row  # so do the questions
        assert finding.obligation not in row


def test_details_show_obligation_rules_sources_and_attestation(html: str, result: AuditResult) -> None:
    details = section(html, "details")
    for finding in result.findings:
        start = details.index(f'id="{req_anchor(finding.id)}"')
        block = details[start: details.index("</section>", start)]
        block_text = visible_text(block)
        assert finding.obligation in block_text and finding.bearer in block_text
        assert f'href="#{req_anchor(finding.id).replace("req-", "mx-", 1)}"' in block  # back to the matrix
        for rule in finding.rules:
            assert rule.threshold_source in block_text
            evidence = result.evidence_by_id()[rule.evidence]
            assert evidence.title in block_text
            assert f'href="#ev-{rule.evidence.replace(".", "-")}"' in block
            if rule.status in (Status.PASS, Status.FAIL):
                assert rule.note[:1].upper() + rule.note[1:] in block_text
                assert _fmt(rule.observed) in block_text
        if finding.attestation is not None:
            assert finding.attestation.question in block_text
            for part in (finding.attestation.document, finding.attestation.by, finding.attestation.date,
                         finding.attestation.reference):
                if part:
                    assert part in block_text
        if not finding.in_force:
            assert "not yet in force" in block_text


def test_summary_says_what_failed_and_why_in_plain_language(html: str, result: AuditResult) -> None:
    summary = section(html, "summary")
    summary_text = visible_text(summary)
    failed = [f for f in result.findings if f.status is Status.FAIL]
    for finding in failed:
        assert f'href="#{req_anchor(finding.id)}"' in summary and finding.title in summary_text
        for rule in finding.rules:
            if rule.status is Status.FAIL:
                assert rule.note in summary_text and _fmt(rule.observed) in summary_text
    assert "REVIEW" in summary_text and "attestation questions are open" in summary_text
    assert re.search(r"\b3\b attestation questions are open", summary_text)  # 2 REVIEW + 1 FAIL awaiting an answer


def test_summary_lists_only_key_facts_that_were_measured(html: str) -> None:
    facts = visible_text(section(html, "summary").split("Key measured facts", 1)[1])
    assert "accuracy 0.764" in facts and "ROC AUC 0.812" in facts
    assert "0.712" in facts  # lowest impact ratio
    assert "Decisions that change when only a protected attribute changes" not in facts  # no flip test in this audit
    assert "LIME" not in facts


def test_open_actions_list_question_document_and_bearer(html: str, result: AuditResult) -> None:
    actions = section(html, "actions") + section(html, "matrix-other")  # readiness actions are in appendix C
    actions_text = visible_text(actions)
    for finding in result.findings:
        open_question = finding.attestation is not None and finding.attestation.answer is None
        if finding.status is Status.REVIEW or open_question:
            assert f'href="#{req_anchor(finding.id)}"' in actions, finding.id
        if open_question:
            assert finding.attestation.question in actions_text
            assert finding.attestation.document in actions_text
    assert "Explanations of individual decisions" in actions_text  # evidence not produced, named by its title
    assert "the model adapter gives no access to predict_proba" in actions_text
    assert req_anchor("EUAIA-14.1") not in actions  # answered "yes": no action


def test_attestations_show_who_attested_what_and_when(html: str) -> None:
    attest = visible_text(section(html, "attestations"))
    assert "M. Keller, Head of Credit Risk" in attest and "2026-09-10" in attest
    assert "A. Novak, DPO" in attest and "DMS://legal/complaints-v2.pdf" in attest


# ------------------------------------------------------------------------------------------- evidence


def test_long_tables_print_40_rows_with_a_note(html: str) -> None:
    """The HTML shows 40 rows of a long table; the PDF (print media) the first 20, saying where the rest is."""
    part = html[html.index('id="ev-data-profile"'):]
    part = part[: part.index("</article>")]
    table = part[part.index("<caption>Columns</caption>"): part.index("</table>", part.index("<caption>Columns"))]
    assert table.count("<tr>") + table.count('<tr class="beyond-print">') == 40 + 1  # heading row + 40 rows
    assert table.count('<tr class="beyond-print">') == 40 - 20  # hidden in print: the PDF shows 20
    assert f"The first 20 of {LONG_ROWS} rows are printed; report.html shows the first 40" in visible_text(part)
    assert "feature_39" in table and "feature_40" not in table
    assert f"{LONG_ROWS - 40} more rows in audit.json / metrics.csv" in visible_text(part)
    assert "Distinct values" in visible_text(table)  # snake_case heading humanised
    assert "<thead>" in table  # repeated on each page
    assert "Every figure, long form" not in html  # in_report=False stays out


def test_numbers_are_right_aligned(html: str) -> None:
    table = html[html.index("<caption>Selection rate per group</caption>"):]
    table = table[: table.index("</table>")]
    first_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table, re.S).group(1)
    cells = re.findall(r"<td([^>]*)>", first_row)
    assert cells[0] == "" and all('class="num"' in c for c in cells[1:])


def test_not_assessed_evidence_is_marked_and_explained(html: str) -> None:
    article = re.search(r'<article class="evidence not-assessed" id="ev-local-shap">.*?</article>', html, re.S)
    assert article is not None
    assert "NOT ASSESSED" in article.group(0)
    assert "the model adapter gives no access to predict_proba" in article.group(0)


def test_evidence_keeps_method_limits_and_order(html: str, result: AuditResult) -> None:
    positions = [html.index(f'id="check-{c}"') for c in ("data", "performance", "fairness", "importance", "local")]
    assert positions == sorted(positions)
    for evidence in result.evidence:
        for limit in evidence.limits:
            assert limit in html


def test_unmeasured_metric_and_not_assessed_evidence_show_their_reason() -> None:
    from audit.report import render_html
    from audit.report.html import humanise

    flip = make_evidence("counterfactual.flip", max_flip_rate_direct=None, attribute_max_flip=None,
                         missing={"max_flip_rate_direct": "no protected attribute is a <model> input"})
    noise = Evidence.not_assessed("robustness.perturbation", "robustness", "Robustness to input noise",
                                  "not assessed: the model adapter gives no access to predict")
    small = AuditResult(tool={}, audit_date="2026-01-01", system={}, subject={}, evidence=[flip, noise], findings=[],
                        verdict=Status.REVIEW, counts={})
    html = render_html(small)
    article = re.search(r'<article class="evidence" id="ev-counterfactual-flip">.*?</article>', html, re.S).group(0)
    reasons = {"max_flip_rate_direct": "no protected attribute is a <model> input",
               "attribute_max_flip": "no decision flipped"}  # the second: the registry's reason, none given
    assert {k: flip.missing[k] for k in reasons} == reasons
    for key, reason in reasons.items():
        cell = re.search(rf'<th scope="row">{humanise(key)}</th><td class="not-measured"[^>]*>(.*?)</td>', article, re.S)
        assert cell is not None, key
        assert visible_text(cell.group(1)).strip() == f"not measured: {reason}"
    assert "&lt;model&gt;" in article  # escaped
    for key, value in flip.metrics.items():
        if value is not None:
            assert re.search(rf'<th scope="row">{humanise(key)}</th><td[^>]*>{re.escape(_fmt(value))}</td>', article), key
    na = re.search(r'<article class="evidence not-assessed" id="ev-robustness-perturbation">.*?</article>', html, re.S)
    na_text = visible_text(na.group(0))
    assert "the model adapter gives no access to predict" in na_text
    assert 'class="metrics"' not in na.group(0) and "<td" not in na.group(0)  # no figures, no 0, no empty cell



# ------------------------------------------------------------------------------------------- Annex IV


def test_annex_iv_lists_nine_points_filled_or_marked(html: str, result: AuditResult) -> None:
    annex = section(html, "annex-iv")
    points = re.findall(r'<section class="annex-point" id="annex-iv-(\d)">', annex)
    assert points == [str(i) for i in range(1, 10)]
    annex_text = visible_text(annex)
    for number, heading in [(1, "General description"), (3, "capabilities and limits"), (4, "performance metrics"),
                            (5, "Risk management"), (8, "declaration of conformity"), (9, "Post-market monitoring")]:
        assert re.search(rf"Point {number}: [^.]*{heading}", annex_text, re.I), heading
    assert annex_text.count("To be completed by the provider") >= 6
    assert "accuracy 0.764" in annex_text.lower() or "Accuracy 0.764" in annex_text
    assert result.subject["model_sha256"] in annex_text and result.subject["data_sha256"] in annex_text
    assert 'href="#ev-performance-overall"' in annex and 'href="#ev-fairness-selection_rate"' in annex
    assert 'href="#req-EUAIA-ANNEXIV-2"' in annex  # the Annex IV requirement linked from its point


# ------------------------------------------------------------------------------------------- PDF


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
    assert "Contents" in text and "Requirement details" in text and "Annex IV" in text
    cover = reader.pages[0].extract_text()
    assert cover.count("Audit report") == 0  # no running header on the cover
    assert "Not yet in force (assessed for readiness)" in cover and "Signed bundle" in cover  # one page, all of it
    assert "Contents" in reader.pages[1].extract_text()
    assert f"Generated {GENERATED_AT}" in text  # the clock time passed to the renderer, in the running footer


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

    minimal = AuditResult(tool={}, audit_date="2026-01-01", system={},
                          subject={}, evidence=[], findings=[], verdict=Status.REVIEW, counts={})
    text = visible_text(render_html(minimal))
    assert "REVIEW" in text and "No requirement in force fails." in text and "There are no open actions" in text
    assert text.count("To be completed by the provider") >= 9


# ------------------------------------------------------------------------------------------- charts


def test_chart_svg_is_text_deterministic_and_scoped(result: AuditResult) -> None:
    from audit.report import chart_svg

    chart = result.evidence[0].charts[0]
    svg = chart_svg(chart)
    assert svg == chart_svg(chart)  # no dates, salted ids: the same audit gives the same figure
    assert "<text" in svg and "DejaVu Sans" in svg and "foreign worker" in svg
    assert f"<title>{chart.title}</title>" in svg
    ids = re.findall(r'\sid="([^"]+)"', svg)
    assert ids and all(i.startswith("fairness-impact_ratio-") for i in ids)
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', svg):
        assert ref in ids  # every reference still resolves
    assert "<style" not in svg and ' style="' not in svg  # presentation attributes only
    assert not re.search(r"<g(?: id=\"[^\"]*\")?>", svg)  # no empty wrapper groups


def test_render_html_alone(result: AuditResult) -> None:
    from audit.report import render_html

    text = render_html(result)
    assert text.count('<img class="chart"') == sum(len(e.charts) for e in result.evidence)


def test_a_reviewers_report_names_whose_duties_and_who_signs(result: AuditResult) -> None:
    """An auditor reviewing a deployer's system: the duties are the deployer's, the signature is the auditor's."""
    from audit.report import render_html

    reviewed = result.model_copy(update={"system": {**result.system, "role": "auditor", "audited_party": "deployer"}})
    text = visible_text(render_html(reviewed))
    assert ("Whose duties The deployer's duties, as the audited organisation; this audit was carried out by an "
            "independent auditor, who bears none of them") in " ".join(text.split())
    assert "By signing, the independent auditor confirms" in " ".join(text.split())
    assert "Role Independent auditor" in " ".join(text.split())
    own = " ".join(visible_text(render_html(result.model_copy(
        update={"system": {**result.system, "role": "provider"}}))).split())
    assert "Whose duties The provider's duties: the organisation that ran this audit" in own
    assert "Role Compliance officer" in own


def test_history_is_listed_without_a_status(result: AuditResult) -> None:
    from audit.evidence import HistoryEntry
    from audit.report import render_html

    entry = HistoryEntry(id="CFPB-2022-03", pack="ecoa-reg-b", title="A complex model is no excuse",
                         citation="CFPB Circular 2022-03", event="withdrawn", date="2025-05-12", by="CFPB",
                         note="the duty remains in 12 CFR 1002.9(b)(2)", replaced_by=["ECOA-1002-9-b-2"])
    html = render_html(result.model_copy(update={"history": [entry]}))
    part = html[html.index('id="history"'):]
    part = part[:part.index("</table>")]
    words = " ".join(visible_text(part).split())
    assert "Withdrawn and repealed texts (history, no status)" in words
    assert "Withdrawn on 2025-05-12 by CFPB: the duty remains in 12 CFR 1002.9(b)(2)" in words
    assert "ECOA-1002-9-b-2" in words and "badge" not in part  # no status badge
    assert 'id="history"' not in render_html(result)  # nothing to list, no section
