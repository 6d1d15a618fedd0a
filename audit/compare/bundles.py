"""`audit diff BASELINE NEW`: is the new audit no worse than the approved baseline, for every group?

Both bundles are verified first (every file's hash and the manifest's signature): an altered bundle is
refused, naming the file. Then, in this order:

1. requirement statuses that changed between the two audits (in force on each audit's date);
2. per-row figures, judged: for the whole population and each group of each protected attribute both audits
   share, the favourable-decision rate, the wrongly-adverse rate and accuracy (:data:`audit.compare.spec.FIGURES`),
   new minus baseline with a bootstrap interval (paired when both audits decided on the same ids), Bonferroni
   over the groups of one attribute, and a non-inferiority judgement against the figure's margin
   (:mod:`audit.compare._noninferiority`). The rows come from each bundle's decisions.parquet (its ``favourable``,
   ``outcome`` and ``group:<attribute>`` columns); a bundle written without it leaves these figures not judged;
3. every other figure both audit.json files hold (impact ratios, flip rates, recourse, explanation quality):
   baseline, new and the difference, reported and not judged (no rows to resample them from);
4. drift between the two audits' data, per input both describe (data.profile keeps 101 percentiles of each numeric
   input and the count of each category): PSI and the two-sample tests of :mod:`audit.drift`, numeric inputs
   approximately (from the percentiles). Shown, never judged.

The verdict: FAIL when a figure is significantly worse than a margin the user set (``set_by``), or a requirement
in force that passed now fails; REVIEW when a figure is significantly worse than a reference margin, or
inconclusive; PASS otherwise. The direction (which decision favours the person) must be the same in both audits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from audit.compare._noninferiority import RateData, compare_groups
from audit.compare.spec import FIGURES, REFERENCE_MARGIN, DiffSpec
from audit.errors import AuditInputError
from audit.evidence import AuditResult, Status, read_audit_json
from audit.evidence_kinds import metric_info

__all__ = ["DiffResult", "BundleInfo", "StatusChange", "FigureComparison", "SharedFigure", "diff_bundles",
           "DIFF_SCHEMA", "DIFF_BUNDLE_ALTERED", "DIFF_DIRECTION_DIFFERS", "DIFF_NOT_A_BUNDLE", "ALL"]

DIFF_SCHEMA = "diff-1"
ALL = "all"
DIFF_BUNDLE_ALTERED = "{path}: the {role} bundle does not verify ({problem}); a diff compares only unaltered, signed bundles"
DIFF_NOT_A_BUNDLE = "{path}: not an audit bundle (no audit.json); give the folder `audit run` wrote"
DIFF_DIRECTION_DIFFERS = ("the two audits disagree on which decision favours the person (baseline: {baseline}, new: "
                          "{new}): their rates cannot be compared; audit both with the same data.favourable_decision")
NO_DECISIONS = "the {role} bundle has no decisions.parquet (report.decisions_file: false): no rows to compare"


class BundleInfo(BaseModel):
    path: str
    system: str
    version: str
    audit_date: str
    verdict: str
    manifest_sha256: str
    rows: int | None


class StatusChange(BaseModel):
    id: str
    title: str
    baseline: str
    new: str
    in_force: bool


class FigureComparison(BaseModel):
    figure: str
    attribute: str
    group: str
    worse: Literal["lower", "higher"]
    margin: float
    margin_set_by: str | None  # None: the reference margin, which never fails the diff
    baseline_rate: float | None
    new_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    paired: bool
    baseline_members: int
    new_members: int
    discordant_rows: int | None
    judgement: Literal["no worse", "inconclusive", "worse", "not judged"]
    reason: str


class SharedFigure(BaseModel):
    evidence: str
    metric: str
    unit: str
    baseline: float
    new: float
    difference: float


class DataDrift(BaseModel):
    """One input's drift from the baseline audit's data to the new one's (informs; never judged)."""

    feature: str
    kind: str
    test: str
    psi: float | None
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    drifted: bool | None
    approximate: bool  # numeric: reconstructed from each audit's 101 percentiles
    note: str | None


class DiffResult(BaseModel):
    """diff.json: what `audit diff` found; the diff report reads only this."""

    schema_version: str = DIFF_SCHEMA
    baseline: BundleInfo
    new: BundleInfo
    favourable_decision: str
    verdict: Status
    reasons: list[str]
    status_changes: list[StatusChange]
    comparisons: list[FigureComparison]
    not_judged: list[str] = Field(default_factory=list)
    other_figures: list[SharedFigure]
    data_drift: list[DataDrift] = Field(default_factory=list)
    data_drift_note: str | None = None
    #: Which rows the per-group comparison read when an audit was partitioned (its decisions.parquet is a sample).
    rows_note: str | None = None
    settings: dict[str, Any]


def _verified(bundle: Path, role: str) -> tuple[AuditResult, BundleInfo]:
    from audit.verify import verify_bundle

    if not (bundle / "audit.json").is_file():
        raise AuditInputError(DIFF_NOT_A_BUNDLE, path=bundle)
    report = verify_bundle(bundle_dir=bundle)
    if not report.ok:
        raise AuditInputError(DIFF_BUNDLE_ALTERED, path=bundle, role=role, problem=report.problems[0])
    result = read_audit_json(bundle / "audit.json")
    info = BundleInfo(path=str(bundle.resolve()), system=str(result.system.get("name")),
                      version=str(result.system.get("version")), audit_date=result.audit_date,
                      verdict=result.verdict.value,
                      manifest_sha256=hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest(),
                      rows=result.subject.get("rows"))
    return result, info


def _status_changes(baseline: AuditResult, new: AuditResult) -> list[StatusChange]:
    before = {f.id: f for f in baseline.findings}
    out = []
    for f in new.findings:
        old = before.get(f.id)
        if old is not None and old.status != f.status:
            out.append(StatusChange(id=f.id, title=f.title, baseline=old.status.value, new=f.status.value,
                                    in_force=f.in_force))
    return out


def _rows(bundle: Path) -> pd.DataFrame | None:
    path = bundle / "decisions.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def _rate_data(frame: pd.DataFrame, figure: str, inside: np.ndarray, favourable_outcome: bool) -> RateData:
    favourable = frame["favourable"].to_numpy(dtype=bool)
    outcome = frame["outcome"]
    known = outcome.notna().to_numpy()
    truth = outcome.fillna(False).to_numpy(dtype=bool)
    ids = frame["id"].astype(str).to_numpy()
    if figure == "favourable_rate":
        return RateData(ids=ids, value=favourable.astype(float), member=inside)
    if figure == "wrongly_adverse_rate":
        return RateData(ids=ids, value=(~favourable).astype(float),
                        member=inside & known & (truth == favourable_outcome))
    decision_positive = frame["decision"].to_numpy(dtype=bool)
    return RateData(ids=ids, value=(decision_positive == truth).astype(float), member=inside & known)


def _comparisons(base: pd.DataFrame, new: pd.DataFrame, spec: DiffSpec, favourable_outcome: bool) -> list[FigureComparison]:
    attributes = [c.removeprefix("group:") for c in base.columns
                  if c.startswith("group:") and c in new.columns]
    families: list[tuple[str, dict[str, np.ndarray], dict[str, np.ndarray]]] = [
        (ALL, {ALL: np.ones(len(base), dtype=bool)}, {ALL: np.ones(len(new), dtype=bool)})]
    for attribute in attributes:
        b, n = base[f"group:{attribute}"].astype(str), new[f"group:{attribute}"].astype(str)
        labels = sorted(set(b) | set(n))
        families.append((attribute, {g: (b == g).to_numpy() for g in labels}, {g: (n == g).to_numpy() for g in labels}))
    out: list[FigureComparison] = []
    for figure, (_, worse) in FIGURES.items():
        if figure != "favourable_rate" and (base["outcome"].isna().all() or new["outcome"].isna().all()):
            continue  # no actual outcomes in one audit: the figure does not exist (said in not_judged)
        margin = spec.margins.get(figure)  # type: ignore[call-overload]
        value = margin.value if margin is not None else REFERENCE_MARGIN
        for k, (attribute, base_masks, new_masks) in enumerate(families):
            family = compare_groups(
                baseline={g: _rate_data(base, figure, m, favourable_outcome) for g, m in base_masks.items()},
                new={g: _rate_data(new, figure, m, favourable_outcome) for g, m in new_masks.items()},
                worse=worse, margin=value, n_boot=spec.bootstrap, confidence=spec.confidence,
                random_state=spec.seed + 7919 * k + 104729 * list(FIGURES).index(figure),
                min_group_size=spec.min_group_size)
            for group, c in family.groups.items():
                out.append(FigureComparison(
                    figure=figure, attribute=attribute, group=group, worse=worse, margin=value,
                    margin_set_by=margin.set_by if margin is not None else None, baseline_rate=c.baseline_rate,
                    new_rate=c.new_rate, difference=c.difference, ci_low=c.ci_low, ci_high=c.ci_high,
                    confidence=c.confidence, paired=c.paired, baseline_members=c.baseline_members,
                    new_members=c.new_members, discordant_rows=c.discordant_rows, judgement=c.judgement,
                    reason=c.reason))
    return out


def _shared_figures(baseline: AuditResult, new: AuditResult) -> list[SharedFigure]:
    old = baseline.evidence_by_id()
    out = []
    for ev in new.evidence:
        before = old.get(ev.id)
        if before is None:
            continue
        for metric, value in ev.metrics.items():
            info = metric_info(ev.id, metric)
            was = before.metrics.get(metric)
            if info is None or info.role != "figure":
                continue
            if isinstance(value, bool) or isinstance(was, bool) or not isinstance(value, int | float) \
                    or not isinstance(was, int | float):
                continue  # measured in one audit only (None in the other): nothing to compare
            out.append(SharedFigure(evidence=ev.id, metric=metric, unit=info.unit, baseline=float(was),
                                    new=float(value), difference=float(value) - float(was)))
    return out


def _distributions(result: AuditResult) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The data.profile distribution tables of an audit (percentiles; category counts), or None (older bundles)."""
    from audit.checks.data import DISTRIBUTION_TITLES

    profile = result.evidence_by_id().get("data.profile")
    tables = {t.title: t for t in profile.tables} if profile is not None else {}
    if not all(title in tables for title in DISTRIBUTION_TITLES):
        return None
    numeric, categorical = (pd.DataFrame(tables[t].records(), columns=tables[t].columns) for t in DISTRIBUTION_TITLES)
    return numeric, categorical


def _pseudo_sample(rows: pd.DataFrame) -> np.ndarray:
    """n values whose percentiles are the recorded ones (linear between them): an approximation of the sample."""
    n = int(rows["n"].iloc[0])
    levels = rows["percentile"].to_numpy(dtype=float) / 100.0
    return np.interp((np.arange(n) + 0.5) / n, levels, rows["value"].to_numpy(dtype=float))


def _data_drift(baseline: AuditResult, new: AuditResult) -> tuple[list[DataDrift], str | None]:
    """Drift between the two audits' data, per input both describe (audit.drift on counts and percentiles)."""
    from audit.drift import feature_drift

    before, after = _distributions(baseline), _distributions(new)
    if before is None or after is None:
        return [], "a bundle holds no distributions of its inputs (written before schema 2.3): drift not measured"
    reference: dict[str, pd.Series] = {}
    current: dict[str, pd.Series] = {}
    numeric, categorical = [], []
    for feature in sorted(set(before[0]["feature"]) & set(after[0]["feature"])):
        reference[feature] = pd.Series(_pseudo_sample(before[0][before[0]["feature"] == feature]))
        current[feature] = pd.Series(_pseudo_sample(after[0][after[0]["feature"] == feature]))
        numeric.append(feature)
    for feature in sorted(set(before[1]["feature"]) & set(after[1]["feature"])):
        for side, out in ((before[1], reference), (after[1], current)):
            rows = side[side["feature"] == feature]
            out[feature] = pd.Series(np.repeat(rows["category"].to_numpy(dtype=object), rows["count"].to_numpy(int)))
        categorical.append(feature)
    if not numeric and not categorical:
        return [], "the two audits share no input to compare"
    found = feature_drift(reference=_frame(reference), current=_frame(current), numeric=numeric,
                          categorical=categorical)
    return [DataDrift(feature=f.name, kind=f.kind, test=f.test, psi=f.psi, statistic=f.statistic, p_value=f.p_value,
                      p_adjusted=f.p_adjusted, drifted=f.drifted, approximate=f.name in numeric, note=f.reason)
            for f in found.features], None


def _frame(columns: dict[str, pd.Series]) -> pd.DataFrame:
    """Columns of different lengths side by side (shorter ones padded with missing values, which are not tested)."""
    longest = max(len(c) for c in columns.values())
    return pd.DataFrame({k: v.reindex(range(longest)) for k, v in columns.items()})


def _label(c: FigureComparison) -> str:
    where = "everyone" if c.attribute == ALL else f"{c.attribute}={c.group}"
    return f"{c.figure} for {where}"


def _verdict(changes: list[StatusChange], comparisons: list[FigureComparison]) -> tuple[Status, list[str]]:
    fail, review = [], []
    for change in changes:
        if change.in_force and change.baseline == "PASS" and change.new == "FAIL":
            fail.append(f"requirement {change.id} passed in the baseline and fails in the new audit")
    for c in comparisons:
        shown = (f"{_label(c)}: {c.baseline_rate:.3f} -> {c.new_rate:.3f}, difference {c.difference:+.3f} "
                 f"(interval {c.ci_low:+.3f} to {c.ci_high:+.3f})" if c.difference is not None and c.ci_low is not None
                 and c.ci_high is not None and c.baseline_rate is not None and c.new_rate is not None else _label(c))
        if c.judgement == "worse" and c.margin_set_by is not None:
            fail.append(f"{shown} is significantly worse than the margin {c.margin:g} set by {c.margin_set_by}")
        elif c.judgement == "worse":
            review.append(f"{shown} is significantly worse than the reference margin {c.margin:g} (no margin set in "
                          "the diff spec: a reference value informs, never fails)")
        elif c.judgement == "inconclusive":
            review.append(f"{shown}: the interval does not exclude a worsening beyond the margin {c.margin:g}")
    if fail:
        return Status.FAIL, fail + review
    if comparisons and all(c.judgement == "not judged" for c in comparisons):  # nothing measured cannot pass
        review.append(f"no figure could be judged: {comparisons[0].reason}")
    if review:
        return Status.REVIEW, review
    return Status.PASS, ["no judged figure is worse than its margin allows, and no requirement in force went from "
                         "PASS to FAIL"]


def diff_bundles(*, baseline: Path, new: Path, spec: DiffSpec) -> DiffResult:
    """Verify both bundles and compare them (see the module docstring)."""
    base_result, base_info = _verified(baseline, "baseline")
    new_result, new_info = _verified(new, "new")
    base_dir = base_result.subject.get("favourable_decision")
    new_dir = new_result.subject.get("favourable_decision")
    if base_dir != new_dir:
        raise AuditInputError(DIFF_DIRECTION_DIFFERS, baseline=base_dir, new=new_dir)
    favourable_outcome = base_dir != "negative"  # the positive label is the favourable outcome unless a flag
    changes = _status_changes(base_result, new_result)
    base_rows, new_rows = _rows(baseline), _rows(new)
    not_judged = [NO_DECISIONS.format(role=role) for role, rows in (("baseline", base_rows), ("new", new_rows))
                  if rows is None]
    comparisons = [] if base_rows is None or new_rows is None else _comparisons(base_rows, new_rows, spec,
                                                                                favourable_outcome)
    if base_rows is not None and new_rows is not None and (base_rows["outcome"].isna().all()
                                                           or new_rows["outcome"].isna().all()):
        not_judged.append("one audit has no actual outcomes: wrongly_adverse_rate and accuracy are not compared")
    verdict, reasons = _verdict(changes, comparisons)
    if not_judged and verdict is Status.PASS:
        verdict, reasons = Status.REVIEW, [*not_judged, *reasons]
    settings = {**spec.model_dump(mode="json", exclude={"signing", "base_dir", "output"}),
                "reference_margin": REFERENCE_MARGIN,
                "figures": {k: {"meaning": v[0], "worse": v[1]} for k, v in FIGURES.items()}}
    drift, drift_note = _data_drift(base_result, new_result)
    return DiffResult(baseline=base_info, new=new_info, favourable_decision=str(base_dir), verdict=verdict,
                      reasons=reasons, status_changes=changes, comparisons=comparisons, not_judged=not_judged,
                      other_figures=_shared_figures(base_result, new_result), data_drift=drift,
                      data_drift_note=drift_note, rows_note=_rows_note(base_result, new_result), settings=settings)


def _rows_note(baseline: AuditResult, new: AuditResult) -> str | None:
    """A partitioned audit keeps a random sample of its decisions: the per-group comparison reads that sample."""
    parts = []
    for role, result in (("baseline", baseline), ("new", new)):
        scale = result.run.get("scale")
        if isinstance(scale, dict) and scale.get("decisions_file") == "the sample":
            parts.append(f"the {role} audit was partitioned: its decisions.parquet holds a random sample of "
                         f"{int(scale['sample_rows']):,} of its {int(scale['rows']):,} decisions")
    if not parts:
        return None
    return ("; ".join(parts).capitalize() + ". The per-group figures below are estimated from those rows, with "
            "intervals over them; the rates and impact ratios counted over every decision are in each audit's "
            "fairness.selection_rate.")
