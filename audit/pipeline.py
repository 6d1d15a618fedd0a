"""The flow of an audit (DESIGN.md), and nothing else.

spec -> Subject -> checks -> Evidence -> policies -> Findings -> AuditResult ->
audit.json, decisions.parquet, metrics.csv, report.html/pdf -> signatures.
The bundle is written to a hidden temporary folder beside its final place and
renamed into place in one step, so an interrupted run never leaves a bundle
that looks complete. The hidden folder holds a marker naming the writing process;
a later run removes such folders whose writer is gone (or that have not changed for
ten minutes), and says so in ``RunOutcome.notes`` (see ``partials.py``). Everything that
can refute the spec without data is checked first (``preflight.py``).

Personal data: the report and audit.json hold no individual's data unless the spec asks
for examples (``report.examples``); decisions.parquet, the per-person file, is written
unless ``report.decisions_file`` is false. audit.json records which (``run.personal_data``)
so the report can say what personal data its bundle holds.
"""

from __future__ import annotations

import datetime as dt
import importlib
import platform
import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from audit.checks import CHECK_MODULES, CheckContext, Progress
from audit.decisions import decisions_frame
from audit.evidence import AuditResult, Evidence, EvidenceStatus, write_audit_json
from audit.explain.shap_values import ExplainPlan
from audit.partials import PARTIAL_MARKER, remove_abandoned_partials, writing_bundle
from audit.preflight import check_inputs_before_work, slug
from audit.sample import DEFAULT_SAMPLE_ROWS, share_margin
from audit.spec import AuditSpec, direction_declared, load_spec
from audit.subject import Subject, load_subject

if TYPE_CHECKING:
    from audit.counterfactual.flip_counts import FlipCounts, FlipPlan
    from audit.counterfactual.recourse_counts import RecourseCounts, RecoursePlan
    from audit.scale import CarriedColumns

__all__ = ["RunOutcome", "run_audit", "library_versions", "TOOL_NAME", "tool_version", "PARTIAL_MARKER"]

TOOL_NAME = "audit"
LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "shap", "lime", "fairlearn", "aif360", "lightgbm",
             "xgboost", "skops", "torch", "jinja2", "weasyprint", "matplotlib", "pyhanko", "cryptography",
             "pydantic", "dask", "pyarrow")


@dataclass
class RunOutcome:
    """What `audit run` produced: the bundle folder, the result, and stage timings (seconds)."""

    bundle_dir: Path
    result: AuditResult
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # about the run itself (e.g. leftovers of killed runs removed)


def tool_version() -> str:
    """Installed version of this tool."""
    try:
        return metadata.version(TOOL_NAME)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numbers the audit relies on."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _run_checks(subject: Subject, ctx: CheckContext, timings: dict[str, float]) -> list[Evidence]:
    """Every check in order; seconds per check and per evidence go to ``timings`` (the manifest), not audit.json."""
    evidence: list[Evidence] = []
    for module_name in CHECK_MODULES:
        name = module_name.rsplit(".", 1)[-1]
        ctx.progress(f"check: {name}", 0, 1)
        start = time.perf_counter()
        produced = importlib.import_module(module_name).run(subject, ctx)
        seconds = time.perf_counter() - start
        timings[f"check.{name}"] = round(seconds, 3)
        for item in produced:
            timings[f"evidence.{item.id}"] = round(item.seconds if item.seconds is not None else seconds / len(produced), 3)
        evidence.extend(produced)
        ctx.progress(f"check: {name}", 1, 1)
    return evidence


def _write_ll144_summary(result: AuditResult, spec: AuditSpec, folder: Path) -> Path | None:
    """ll144-summary.json, .html and .pdf when the NYC LL144 pack applies (6 RCNY § 5-303); else nothing."""
    from audit.report.ll144 import HTML_NAME, JSON_NAME, PDF_NAME, build_ll144_summary, render_ll144_html
    from audit.report.pdf import write_pdf

    facts = spec.report.ll144
    summary = build_ll144_summary(result, data_source=facts.data_source, auditor=facts.auditor,
                                  distribution_date=facts.distribution_date.isoformat() if facts.distribution_date
                                  else None)
    if summary is None:
        return None
    (folder / JSON_NAME).write_text(summary.to_json(), encoding="utf-8")
    html = render_ll144_html(summary)
    (folder / HTML_NAME).write_text(html, encoding="utf-8")
    return write_pdf(html, folder / PDF_NAME)


def _alerts(evidence: list[Evidence]) -> list[str]:
    """Facts the cover and summary must show before any figure."""
    out = []
    for item in evidence:
        if item.id == "performance.overall" and item.metrics.get("roc_auc_below_chance") is True:
            out.append(f"The scores rank the actual outcomes worse than chance (ROC AUC {item.metrics['roc_auc']:.3f}): "
                       "the decisions may be inverted. Check model.positive_class and data.positive_label before "
                       "reading any other figure.")
    return out


def _column_groups(columns: list[str]) -> list[str]:
    """The columns of decisions.parquet for a reader: ``reason_1``..``reason_4`` and ``shap:<feature>`` folded."""
    out: list[str] = []
    details = [c for c in columns if re.fullmatch(r"reason_\d+_(feature|value)", c)]
    columns = [c for c in columns if c not in details]
    reasons = [c for c in columns if re.fullmatch(r"reason_\d+", c)]
    shap = [c for c in columns if c.startswith("shap:")]
    for c in columns:
        if c in reasons[:1]:
            out.append(f"{reasons[0]} to {reasons[-1]}" if len(reasons) > 1 else c)
            if details:
                out.append("reason_<k>_feature, reason_<k>_value (each reason as data)")
        elif c in shap[:1]:
            out.append(f"shap:<feature> ({len(shap)} columns)")
        elif c not in reasons and c not in shap:
            out.append(c)
    return out


def _personal_data(spec: AuditSpec, evidence: list[Evidence], decisions: pd.DataFrame, *, rows: int) -> dict[str, Any]:
    """What personal data the bundle holds, for the report's appendix (audit.json ``run.personal_data``).
    ``decisions``: the columns of decisions.parquet; ``rows``: its rows (every decision, in a partitioned audit that
    wrote them all; else the frame's).

    Example tables are the evidence tables with an ``id`` column: the only ones that name a person.
    """
    shown: set[str] = set()
    tables = []
    for ev in evidence:
        for table in ev.tables:
            if "id" in table.columns:
                at = table.columns.index("id")
                shown.update(str(row[at]) for row in table.rows)
                tables.append(table.title)
    return {
        "report_examples": spec.report.examples,
        "example_fields": list(spec.report.example_fields) if spec.report.examples else [],
        "example_tables": tables,
        "people_in_examples": len(shown),
        "decisions_file": spec.report.decisions_file,
        "decisions_rows": rows,
        "decisions_columns": _column_groups([str(c) for c in decisions.columns]),
    }


def _shown(value: object) -> str | None:
    """A configured class or label for a reader: one value as text, a list as "a or b"."""
    if value is None:
        return None
    return " or ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def _subject_summary(subject: Subject, *, trust_model: bool, scale: dict[str, Any] | None = None) -> dict[str, Any]:
    from audit.scale import data_digest
    from audit.signing import hash_file

    spec = subject.spec
    summary: dict[str, Any] = {
        "data_file": subject.data_path.name,
        "data_sha256": data_digest(subject.data_path),
        "rows": scale["rows"] if scale is not None else subject.n,
        **({"sample_rows": subject.n} if scale is not None else {}),
        "features": list(subject.X.columns),
        "protected": list(subject.groups.columns),
        "target": spec.data.target,
        "positive_label": _shown(spec.data.positive_label),
        "decision_source": subject.predictions.source,
        "model_format": spec.model.format.value,
        "model_kind": subject.model.kind if subject.model is not None else None,
        "model_file": subject.model_path.name if subject.model_path else None,
        "model_sha256": hash_file(subject.model_path) if subject.model_path else None,
        "model_trusted_explicitly": spec.model.trust or trust_model,  # spec or --trust-model: the reader must know
        "model_classes": [str(c) for c in subject.model.classes] if subject.model is not None else None,
        "model_positive_class": _shown(subject.model.positive_class) if subject.model is not None else None,
        "model_score": subject.model.score_kind if subject.model is not None else None,
        "model_cutoff": spec.model.cutoff,
        "favourable_decision": "positive" if subject.favourable_is_positive else "negative",
        "favourable_decision_declared": direction_declared(spec),
    }
    if spec.model.reference is not None:  # an ONNX copy audited beside the model it was exported from
        reference = spec.resolve(spec.model.reference)
        summary["model_reference_file"] = reference.name
        summary["model_reference_sha256"] = hash_file(reference)
        summary["model_drift"] = getattr(subject.model, "drift", None)
    return summary


#: Evidence counted over every row in a partitioned audit, and what in it still reads the sample (None: nothing);
#: every other item reads the sample. Keep in step with the checks that read ``ctx.population``/``ctx.count_flips``.
COUNTED_OVER_ALL_ROWS: dict[str, str | None] = {
    "fairness.selection_rate": None,
    "fairness.eeo_impact": None,
    "fairness.error_rates": "ROC AUC, calibration (ECE, max_ece_gap, the reliability curves) and consistency",
    "counterfactual.flip": "the donors of proxy values (the sample's members, as when the data is read whole)",
    "data.proxies": "the ROC AUC of a classifier predicting each attribute from every input (trained on the sample)",
    "counterfactual.recourse": "plausibility and the examples (the sample's adverse decisions, as when the data is "
                               "read whole)",
}


def _partitioned_subject(spec: AuditSpec, ctx: CheckContext, *, trust_model: bool, scheduler: str | None
                         ) -> tuple[Subject, dict[str, Any], _EveryDecision | None]:
    """Decide and count every row partition by partition (``audit.scale``); the Subject is the stratified sample. Also
    how decisions.parquet will hold every decision (None: it holds the sample's, or is not written)."""
    from audit.scale import count_partitions, flip_partitions, recourse_partitions

    settings = spec.scale
    if settings is None:  # the caller checks; kept so the function stands alone
        raise ValueError("a partitioned audit needs the spec's scale section")
    address = scheduler or settings.scheduler
    read = count_partitions(spec, trust_model=trust_model, target_rows=settings.partition_rows,
                            sample_rows=settings.sample_rows, scheduler=address, workers=settings.workers,
                            progress=lambda done, total: ctx.progress("rows decided and counted", done, total))
    ctx.population = read.population
    ctx.band_medians = read.band_medians
    ctx.column_counts = read.columns
    ctx.association_counts = read.associations
    subject = load_subject(spec, trust_model=trust_model, frame=read.sample)
    every = _every_decision_plan(subject) if spec.report.decisions_file else None

    def count_flips(plan: FlipPlan) -> FlipCounts:
        return flip_partitions(spec, plan, trust_model=trust_model, target_rows=settings.partition_rows,
                               scheduler=address, workers=settings.workers,
                               progress=lambda done, total: ctx.progress("flip test of every row", done, total))

    def count_recourse(plan: RecoursePlan) -> RecourseCounts:
        return recourse_partitions(spec, plan, trust_model=trust_model, target_rows=settings.partition_rows,
                                   scheduler=address, workers=settings.workers,
                                   progress=lambda done, total: ctx.progress("recourse for every adverse decision",
                                                                             done, total),
                                   keep=every.carried.put if every is not None else None)

    ctx.count_flips = count_flips
    ctx.count_recourse = count_recourse
    return subject, {
        "rows": read.population.rows,
        "sample_rows": subject.n,
        "sample_wanted": read.drawn.wanted,
        "sample_short": read.drawn.short,
        "sample_strata": read.drawn.strata,
        "sample_margin_95": share_margin(sample_rows=subject.n, rows=read.population.rows),
        "partitions": read.partitions,
        "partition_rows": settings.partition_rows,
        "engine": f"Dask scheduler {address}" if address else f"{settings.workers} local processes",
        "counted_over_all_rows": list(COUNTED_OVER_ALL_ROWS),
    }, every


@dataclass(frozen=True)
class _EveryDecision:
    """How a partitioned audit writes every decision: the explanation plan built on the sample (None: no model, the
    rows carry no reasons), and the per-decision columns passes before it computed (recourse's), kept on disk."""

    plan: ExplainPlan | None
    carried: CarriedColumns


def _every_decision_plan(subject: Subject) -> _EveryDecision | None:
    """Whether decisions.parquet can hold every decision of a partitioned audit, with reasons computed exactly as
    on the sample: an exact explainer (a KernelSHAP budget picks rows, and a native booster's categories come from
    the data the plan saw, so those keep the sample's decisions), or no model (decisions without reasons)."""
    from audit.scale import CarriedColumns

    if subject.model is None:
        return _EveryDecision(plan=None, carried=CarriedColumns())
    from audit.explain.shap_values import plan_explanation

    spec = subject.spec
    plan = plan_explanation(model=subject.model, X=subject.X, seed=spec.seed,
                            kernel_budget=spec.explanations.kernel_budget_seconds)
    if plan.explainer == "kernel" or plan.categories is not None:
        return None
    return _EveryDecision(plan=plan, carried=CarriedColumns())


def _write_every_decision(spec: AuditSpec, sample: pd.DataFrame, every: _EveryDecision, path: Path, *,
                          ctx: CheckContext, trust_model: bool, scheduler: str | None) -> int:
    """decisions.parquet of every decision, written one partition at a time in row order (memory: one partition).

    Each row has the columns the sample's decisions have: its reasons from this pass, its recourse from the recourse
    pass (kept on disk per partition); a column only the sample has is carried over by id and left empty for the
    other rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audit.scale import decide_partitions

    settings = spec.scale
    if settings is None:  # the caller checks; kept so the function stands alone
        raise ValueError("every decision is written only by a partitioned audit")
    schema = pa.Schema.from_pandas(sample, preserve_index=False)
    by_id = sample.set_index("id")
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for decided in decide_partitions(spec, every.plan, trust_model=trust_model,
                                         target_rows=settings.partition_rows,
                                         scheduler=scheduler or settings.scheduler, workers=settings.workers,
                                         progress=lambda done, total: ctx.progress("reasons for every decision", done,
                                                                                   total)):
            frame = decided.frame
            for column, values in every.carried.take(decided.partition, frame["id"]).items():
                frame[column] = values
            for column in sample.columns:
                if column not in frame.columns:
                    frame[column] = by_id[column].reindex(frame["id"]).to_numpy()
            writer.write_table(pa.Table.from_pandas(frame[list(sample.columns)], schema=schema, preserve_index=False))
            rows += len(frame)
    every.carried.cleanup()
    return rows


def _sample_alert(scale: dict[str, Any]) -> list[str]:
    """The cover and summary say which figures count every decision and which read the sample."""
    return [f"Partitioned audit of {int(scale['rows']):,} decisions: selection rates and impact ratios (including the "
            "LL144 tables), error rates by group, the proxy screen's associations, the flip test and recourse count "
            "every decision; every other figure comes from a stratified random sample of "
            f"{int(scale['sample_rows']):,} of them, as each evidence item's method and limits say."
            + _DECISIONS_FILE.get(str(scale.get("decisions_file")), "")]


_DECISIONS_FILE = {
    "every decision": " decisions.parquet holds every decision with its reasons, and every adverse decision's "
                      "recourse.",
    "the sample": " decisions.parquet holds the sample's decisions only (the explainer approximates, so no other "
                  "decision was explained).",
}


def _say_what_was_sampled(evidence: list[Evidence], scale: dict[str, Any]) -> None:
    """Each evidence item says whether it counts every row or reads the sample, in its method, limits and params."""
    rows, sample = int(scale["rows"]), int(scale["sample_rows"])
    margin = float(scale["sample_margin_95"])
    how = ("in each stratum of decision × protected groups, in proportion to its size, the rows a keyed hash of their "
           "id and the audit's seed puts first")
    if int(scale["sample_short"]):
        how += (f"; {int(scale['sample_short']):,} rows short of {int(scale['sample_wanted']):,}: the smallest strata "
                "had fewer candidates than their share")
    for item in evidence:
        if item.status is EvidenceStatus.NOT_ASSESSED:  # it read no rows: nothing to say about which
            continue
        if item.id in COUNTED_OVER_ALL_ROWS:
            item.params["rows_counted"] = rows
            item.method = (item.method + f" Counted over all {rows:,} decisions, partition by partition: the counts "
                           "are exact, and neither they nor any interval computed from them depends on the "
                           "partitioning.").strip()
            sampled = COUNTED_OVER_ALL_ROWS[item.id]
            if item.id == "counterfactual.flip" and not item.params.get("proxies"):
                sampled = None  # no proxy was changed, so no donor drawn: every figure counts every decision
            if sampled is not None:
                item.params["sample_rows"] = sample
                item.params["population_rows"] = rows
                item.params["sample_margin_95"] = margin
                item.limits.append(f"Read from the audit's stratified random sample of {sample:,} of the {rows:,} "
                                   f"decisions ({how}): {sampled}. Every other figure of this item counts every "
                                   "decision.")
        else:
            item.params["sample_rows"] = sample
            item.params["population_rows"] = rows
            item.params["sample_margin_95"] = margin
            item.limits.append(
                f"Computed on the audit's stratified random sample of {sample:,} of the {rows:,} decisions ({how}); "
                "its figures are estimates for all decisions, its counts are the sample's: a share read from it is "
                f"within ±{100 * margin:.2f} percentage points of the share over all decisions in 95 % of samples "
                "(the widest case, a share of 50 %; among m sampled people of one group, ±98/√m points). Counted "
                f"over every decision: {', '.join(COUNTED_OVER_ALL_ROWS)}.")


def run_audit(
    spec_path: Path,
    *,
    trust_model: bool = False,
    scheduler: str | None = None,
    output: Path | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    history: Path | None = None,
) -> RunOutcome:
    """Run one audit end to end and return the sealed bundle's folder and result.

    ``history``: the audit-history database to append this run to (None: not recorded). Its head is sealed into
    the bundle's manifest (``history_previous``), so a later rewrite of the records before it is detected.
    """
    from audit import policies
    from audit.report import render_report
    from audit.signing import check_signing_material, seal_bundle, sign_pdf_in_place, write_manifest

    timings: dict[str, float] = {}
    start = time.perf_counter()
    spec = load_spec(spec_path)
    check_inputs_before_work(spec, spec_path, output=output)
    if history is not None:
        from audit.history import check_before_append

        check_before_append(db_path=history)
    now = now or dt.datetime.now(dt.UTC)
    audit_date = spec.audit_date or now.date()
    ctx = CheckContext(spec=spec, seed=spec.seed, scheduler=scheduler or spec.explanations.scheduler,
                       sample_rows=spec.scale.sample_rows if spec.scale is not None else DEFAULT_SAMPLE_ROWS)
    if progress is not None:
        ctx.progress = progress
    scale: dict[str, Any] | None = None
    every: _EveryDecision | None = None
    if spec.scale is None:
        subject = load_subject(spec, trust_model=trust_model)
    else:
        subject, scale, every = _partitioned_subject(spec, ctx, trust_model=trust_model, scheduler=scheduler)
    timings["load"] = round(time.perf_counter() - start, 3)

    evidence = _run_checks(subject, ctx, timings)
    if scale is not None:
        _say_what_was_sampled(evidence, scale)
        scale["decisions_file"] = ("none" if not spec.report.decisions_file
                                   else "every decision" if every is not None else "the sample")

    t = time.perf_counter()
    findings = policies.evaluate(spec, evidence, audit_date=audit_date)
    verdict, counts = policies.verdict(findings)
    readiness_verdict, readiness_counts = policies.readiness(findings)
    timings["policies"] = round(time.perf_counter() - t, 3)

    versions = library_versions()
    result = AuditResult(
        tool={"name": TOOL_NAME, "version": tool_version()},
        audit_date=audit_date.isoformat(),
        system=spec.system.model_dump(mode="json"),
        subject=_subject_summary(subject, trust_model=trust_model, scale=scale),
        evidence=evidence,
        findings=findings,
        verdict=verdict,
        counts=counts,
        readiness_verdict=readiness_verdict,
        readiness_counts=readiness_counts,
        alerts=_alerts(evidence) + policies.law_alerts(spec, findings) + (_sample_alert(scale) if scale else []),
        history=policies.history(spec, audit_date=audit_date),
        run={"seed": spec.seed, "libraries": versions, "policies": spec.policies,
             "spec_file": spec_path.name, "python": platform.python_version(),
             "code_book": spec.data.code_book.model_dump(mode="json"),
             **({"scale": scale} if scale is not None else {})},
    )

    root = (output or spec.output) / slug(spec.system.name)
    root.mkdir(parents=True, exist_ok=True)
    notes = []
    removed = remove_abandoned_partials(root)
    if removed:
        notes.append(f"removed {len(removed)} unfinished bundle folder{'s' if len(removed) > 1 else ''} left in {root} "
                     f"by interrupted runs: {', '.join(removed)}")
        ctx.progress(notes[-1], 1, 1)
    with writing_bundle(root, now.strftime("%Y%m%dT%H%M%SZ")) as folder:
        work = folder.work
        t = time.perf_counter()
        decisions = decisions_frame(subject, ctx.decision_columns)
        rows = len(decisions)
        if every is not None:  # a partitioned audit that can explain every decision (implies decisions_file)
            rows = _write_every_decision(spec, decisions, every, work / "decisions.parquet", ctx=ctx,
                                         trust_model=trust_model, scheduler=scheduler)
        elif spec.report.decisions_file:
            decisions.to_parquet(work / "decisions.parquet", index=False)
        result.run["personal_data"] = _personal_data(spec, evidence, decisions, rows=rows)
        write_audit_json(result, work / "audit.json")
        del decisions
        from audit.checks._longform import write_metrics_csv

        write_metrics_csv(evidence, work / "metrics.csv")
        timings["write"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        render_report(result, out_dir=work, generated_at=now.isoformat(timespec="seconds"))
        ll144 = _write_ll144_summary(result, spec, work)
        timings["report"] = round(time.perf_counter() - t, 3)
        manifest_info = {
            "tool": result.tool, "libraries": versions, "seed": spec.seed, "audit_date": result.audit_date,
            "generated_at": now.isoformat(timespec="seconds"), "data_sha256": result.subject["data_sha256"],
            "model_sha256": result.subject["model_sha256"], "verdict": verdict.value, "timings": timings}
        if history is not None:
            from audit.history import ANCHOR_KEY, anchor

            manifest_info[ANCHOR_KEY] = anchor(db_path=history)
        folder.drop_marker()  # every file left is sealed by the manifest
        if spec.signing is None:  # hashes still recorded; nothing vouches for them
            timings["total"] = round(time.perf_counter() - start, 3)
            write_manifest(bundle_dir=work, info={**manifest_info, "signed": False})
        else:
            t = time.perf_counter()
            key, cert = spec.resolve(spec.signing.key), spec.resolve(spec.signing.certificate)
            # checked before any work too; again now, so a certificate that expired during a long run never signs
            check_signing_material(key, cert, on=audit_date)
            sign_pdf_in_place(pdf=work / "report.pdf", key_path=key, cert_path=cert,
                              reason=f"Audit report of {spec.system.name} {spec.system.version}")
            if ll144 is not None:  # the summary an employer publishes is signed like the report
                sign_pdf_in_place(pdf=ll144, key_path=key, cert_path=cert,
                                  reason=f"NYC LL144 bias audit summary of {spec.system.name} {spec.system.version}")
            timings["sign"] = round(time.perf_counter() - t, 3)
            timings["total"] = round(time.perf_counter() - start, 3)
            seal_bundle(bundle_dir=work, key_path=key, cert_path=cert, info=manifest_info)
    final = folder.final
    timings.setdefault("total", round(time.perf_counter() - start, 3))
    if history is not None:
        from audit.history import headline_figures, record

        entry = record(db_path=history, kind="run", bundle_dir=final, system=spec.system.name,
                       version=spec.system.version, audit_date=result.audit_date, verdict=verdict.value,
                       counts=dict(counts), headline=headline_figures(result))
        notes.append(f"recorded in the audit history {history} as record {entry.seq}")
    return RunOutcome(bundle_dir=final, result=result, timings=timings, notes=notes)
