"""Explanations of individual decisions: reasons for every decision, and how far LIME can be trusted.

- ``local.shap``: every decision in scope gets its principal reasons (SHAP, folded to the
  user's columns), written per decision to ``ctx.decision_columns`` as ``reason_1..reason_k``
  and one ``shap:<feature>`` column per feature. Adverse decisions get the details that
  lowered the score most (at most ``spec.explanations.top_k``, four by default: Regulation B).
  Reason stability ("similar applicants get similar reasons"): for a seeded sample of adverse
  decisions with a reason, every numeric input is moved by ±1 % of its standard deviation, the
  person re-predicted and re-explained with the same explainer, and the share of the reasons
  given that the moved person still gets is averaged over those whose decision stays adverse.
- ``local.lime``: LIME on a stratified sample (borderline and adverse decisions first),
  rerun with different seeds: local fidelity (R²), stability (top-k overlap across reruns)
  and agreement with SHAP (rank correlation, top-k overlap).

Examples of individual decisions (an id, a score, a person's reasons) are personal data: they are
built only when the spec asks for them (``report.examples: true``), and then show a person's values
only for the columns in ``report.example_fields``; reasons of other columns name the column alone.
Without them the evidence says so in a limit (helpers shared with the counterfactual examples: ``_examples``).

The SHAP matrix comes from ``ctx.shap`` (written by ``importance``); it is computed
here only when that check did not run. "Adverse" follows the spec's declared direction:
for a fraud or risk flag the flag is the adverse decision, and its reasons are the details
that raised the score towards it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext, Need
from audit.checks._common import IMAGE_ONLY
from audit.checks._examples import EXAMPLES_LEFT_OUT, example_fields, field_values
from audit.checks._image_maps import IMAGE_MAPS_ID, IMAGE_MAPS_TITLE, NO_IMAGE
from audit.checks._tokens import TOKENS_ID, TOKENS_TITLE, token_column, token_evidence
from audit.checks.importance import additivity_error, contribution_unit, explained_rows, shap_result
from audit.counterfactual._frames import Predictor
from audit.evidence import Evidence, Table, clean_number
from audit.explain import integrated_gradients as ig
from audit.explain.ig_crosscheck import IGCrossCheck, cross_check
from audit.explain.reason_stability import STEP, nudge, reason_overlap, spreads
from audit.explain.reasons import Reasons, principal_reasons, value_text
from audit.explain.shap_values import ShapResult, explain, plan_explanation
from audit.subject import Subject
from audit.thresholds import reference_line

__all__ = ["run", "reason_columns", "CHECK", "NEEDS", "EXAMPLE_ROWS", "LIME_NUM_SAMPLES", "DECISION_THRESHOLD", "STABILITY_ROWS",
           "STABILITY_SALT"]

NEEDS: tuple[Need, ...] = ("model",)

CHECK = "local"
EXAMPLE_ROWS = 10
LIME_NUM_SAMPLES = 1_000
DECISION_THRESHOLD = 0.5  # where a binary adapter's decide() flips; others say theirs (ModelAdapter.threshold)
NO_MODEL = "no model access"
SHAP_TITLE = "Explanations of individual decisions"
LIME_TITLE = "Quality of LIME explanations (fidelity, stability, agreement with SHAP)"
STABILITY_ROWS = 500  # adverse decisions whose reasons are recomputed after a small move of their inputs
STABILITY_SALT = 403
TEXT_VALUE = "(its words: see the token reasons, local.tokens)"
IG_CROSSCHECK_ROWS = 50  # decisions whose Integrated Gradients reasons are compared with KernelSHAP's
IG_ONLY = "the explanations are not Integrated Gradients (the cross-check with KernelSHAP is for IG only)"
STABILITY_THRESHOLD = "explanation_stability"  # policies/thresholds.yaml: a reference value, no law sets it


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Reasons for every decision, and LIME's measured quality on a sample; not assessed without a model."""
    if not subject.has_model:
        return [Evidence.not_assessed("local.shap", CHECK, SHAP_TITLE, NO_MODEL),
                Evidence.not_assessed("local.lime", CHECK, LIME_TITLE, NO_MODEL),
                Evidence.not_assessed(TOKENS_ID, CHECK, TOKENS_TITLE, NO_MODEL),
                Evidence.not_assessed(IMAGE_MAPS_ID, CHECK, IMAGE_MAPS_TITLE, NO_MODEL)]
    if subject.image_columns:
        from audit.checks._image_maps import image_maps_evidence

        return [Evidence.not_assessed("local.shap", CHECK, SHAP_TITLE, IMAGE_ONLY),
                Evidence.not_assessed("local.lime", CHECK, LIME_TITLE, IMAGE_ONLY),
                Evidence.not_assessed(TOKENS_ID, CHECK, TOKENS_TITLE, IMAGE_ONLY),
                image_maps_evidence(subject, ctx)]
    tokens = token_evidence(subject, ctx)  # before local.shap: a text input's reasons are its words
    words = ctx.decision_columns.get(token_column(subject.text_columns[0])) if subject.text_columns else None
    shap_ev = _shap_evidence(subject, ctx, words)
    return [shap_ev, _lime_evidence(subject, ctx), tokens,
            Evidence.not_assessed(IMAGE_MAPS_ID, CHECK, IMAGE_MAPS_TITLE, NO_IMAGE)]


def reason_columns(subject: Subject, result: ShapResult, *, top_k: int) -> tuple[Reasons, dict[str, np.ndarray]]:
    """Each decision's principal reasons and contributions as decisions.parquet columns: ``reason_k`` (text),
    ``reason_k_feature`` and ``reason_k_value`` (the same reason as data, so a notice can word it in the person's
    terms) and ``shap:<feature>``. Reasons point towards the decision taken: for a positive decision the details
    that raised the score. A partitioned audit calls this on every partition (``audit.scale``)."""
    values = result.values
    decision = np.asarray(subject.predictions.decision, dtype=bool)
    reasons = principal_reasons(values=values, X=_shown_values(subject, result.feature_names), decision=decision,
                                top_k=top_k)
    names = np.array([str(c) for c in result.feature_names] + [None], dtype=object)  # -1 (no reason) -> None
    columns: dict[str, np.ndarray] = {}
    for r, texts in enumerate(reasons.texts, start=1):
        columns[f"reason_{r}"] = np.asarray(texts, dtype=object)
        columns[f"reason_{r}_feature"] = names[reasons.features[:, r - 1]]
        columns[f"reason_{r}_value"] = np.asarray(reasons.values[r - 1], dtype=object)
    for j, name in enumerate(result.feature_names):
        columns[f"shap:{name}"] = values[:, j].copy()
    return reasons, columns


def _decision_word(favourable: bool, favourable_is_positive: bool) -> str:
    if favourable_is_positive:
        return "favourable (positive)" if favourable else "adverse (negative)"
    return "favourable (not flagged)" if favourable else "adverse (flagged)"


def _shap_evidence(subject: Subject, ctx: CheckContext, words: np.ndarray | list[object] | None = None) -> Evidence:
    """``words``: each decision's token reasons (text, empty when none) for a free-text input, else None."""
    started = time.perf_counter()
    top_k = subject.spec.explanations.top_k
    reused = ctx.shap is not None
    result = shap_result(subject, ctx)
    favourable = subject.favourable
    reasons, columns = reason_columns(subject, result, top_k=top_k)
    ctx.decision_columns.update(columns)
    explained = explained_rows(result)
    n_explained = int(explained.sum())
    n_unexplained = subject.n - n_explained
    error, missing = additivity_error(result)
    adverse = ~favourable
    without_reason = adverse & explained & (reasons.counts == 0)
    if words is not None:  # a free-text input: a decision whose words give a reason has one
        without_reason &= np.asarray([not w for w in words], dtype=bool)
    n_without = int(without_reason.sum())
    # A person is served when their decision is explained and, if it went against them, names a reason.
    usable = explained & ~without_reason
    wanted = subject.spec.report.examples
    fields = example_fields(subject) if wanted else []
    examples = _examples(subject, ctx, reasons, result.feature_names, favourable, fields) if wanted else []
    protected = [j for j, name in enumerate(result.feature_names) if name in {p.column for p in subject.protected}]
    citing = int((np.isin(reasons.features, protected) & adverse[:, None]).any(axis=1).sum()) if protected else 0
    cited = ", ".join(result.feature_names[j] for j in protected)
    unit = contribution_unit(result)
    stability = reason_stability(subject, ctx, result, reasons)
    if stability.missing is not None:
        missing["reason_stability"] = stability.missing
    stability_method, stability_limits = _stability_texts(stability, reference_line(ctx.spec, STABILITY_THRESHOLD)[1])
    if stability.value is not None and not result.exact:
        stability_limits.append(f"{result.method} is approximate: its own sampling noise between the two "
                                "explanations counts here as instability.")
    coverage = clean_number(usable.mean()) if subject.n else None
    if n_unexplained:  # unmeasured is not zero: those decisions may well be explainable, this audit did not look
        coverage = None
        missing["coverage"] = (f"{n_unexplained:,} of the {subject.n:,} decisions were not explained (the explainer's "
                               "time budget, explanations.kernel_budget_seconds, fitted a seeded sample), so whether "
                               "every decision can be explained is not measured; coverage_explained gives the share "
                               "among those explained")
    crosscheck = _ig_crosscheck(subject, ctx, result, top_k)
    if crosscheck is not None and crosscheck.agreement is None:
        missing["ig_kernel_agreement"] = missing["ig_kernel_same_first"] = crosscheck.note
    elif crosscheck is None:
        missing["ig_kernel_agreement"] = missing["ig_kernel_same_first"] = IG_ONLY
    towards = "raised the score towards the flag" if not subject.favourable_is_positive else "lowered the score most"
    return Evidence(
        id="local.shap", check=CHECK, title=SHAP_TITLE,
        summary=(f"{int(usable.sum()):,} of the {subject.n:,} decisions have their main reasons listed in the person's "
                 f"own terms (at most {top_k}); for an adverse decision these are the details that {towards}."
                 + (f" {n_without:,} adverse decisions have no such detail and so no reason to give." if n_without
                    else "")
                 + (f" {n_unexplained:,} decisions were not explained: the explainer's time budget fitted only "
                    f"{n_explained:,}." if n_unexplained else "")
                 + (f" When a person's numbers move by {STEP * 100:g} % of their spread, {stability.value:.0%} of the reasons "
                    f"given stay the same ({stability.n:,} adverse decisions)." if stability.value is not None else "")),
        metrics={"n_explained": n_explained, "n_adverse": int(adverse.sum()), "adverse_without_reason": n_without,
                 "coverage": coverage, "n_unexplained": n_unexplained,
                 "coverage_explained": clean_number(usable.sum() / n_explained) if n_explained else None,
                 "max_reasons": int(reasons.counts.max()) if len(reasons.counts) else 0,
                 "additivity_error_max": clean_number(error),
                 "adverse_citing_protected": citing,
                 "reason_stability": clean_number(stability.value), "reason_stability_n": stability.n,
                 "method": result.method, "output_space": result.output_space,
                 "ig_kernel_agreement": clean_number(crosscheck.agreement) if crosscheck else None,
                 "ig_kernel_same_first": clean_number(crosscheck.same_first) if crosscheck else None},
        missing={("additivity_error_max" if k == "max_additivity_error" else k): v for k, v in missing.items()},
        tables=[Table.from_records("Example decisions and their reasons", examples,
                                   columns=["id", *fields, "decision", "score", "reasons"],
                                   note=(f"Amounts are contributions to the model's score in {unit}. "
                                         + _fields_note(fields)))] if wanted else [],
        method=(f"{result.method}, one explanation per decision, contributions folded back to the original "
                f"{len(result.feature_names)} columns. Reasons: for an adverse decision the features with the most "
                f"negative contributions, for a favourable one those with the most positive, at most {top_k}, each "
                "with the person's own value. "
                + ("Written per decision to decisions.parquet (reason_1.. and shap:<feature>)."
                   if subject.spec.report.decisions_file else
                   "Not kept per decision: the spec leaves decisions.parquet out of the bundle (report.decisions_file).")
                + (" Computed once and shared with the global importance check." if reused else "")
                + stability_method + (f" {crosscheck.note}" if crosscheck is not None else "")
                + (" A decision on a free-text input also counts as having a reason when its words give one "
                   "(local.tokens)." if words is not None else "")),
        limits=[
            *([] if wanted else [EXAMPLES_LEFT_OUT]),
            "A reason says how the model weighed a detail for this person, not that changing it would change the decision.",
            (f"Amounts are in {unit}; they add up to the score before it is turned into a probability."
             if result.output_space == "log-odds" else f"Amounts are in {unit}; they add up to the score."),
            "Contributions of related details (e.g. marital status and relationship) can be shared between them.",
            *([f"{n_without} adverse decisions have no detail that moved the score towards them: the model's starting "
               "point already gave that decision. Their notice can name no reason, so they count as not explained."]
              if n_without else []),
            *([f"{citing:,} adverse decisions name a protected attribute ({cited}) among their principal reasons: "
               "the model uses it, and a notice must not hide that; whether this use is lawful needs review."]
              if citing else []),
            *stability_limits,
        ],
        params={"top_k": top_k, "rows": subject.n, "executor": result.executor, "chunks": result.n_chunks,
                "seed": ctx.seed, "stability_rows": stability.sampled, "stability_step": STEP,
                "stability_salt": STABILITY_SALT},
        seconds=time.perf_counter() - started,
    )


def _shown_values(subject: Subject, names: list[str]) -> pd.DataFrame:
    """The values a reason names: the person's own, except a free-text column, named by its words' reasons instead."""
    X = subject.X[names]
    text = [c for c in names if subject.feature_types.get(c) == "text"]
    return X.assign(**{c: TEXT_VALUE for c in text}) if text else X


def _ig_crosscheck(subject: Subject, ctx: CheckContext, result: ShapResult, top_k: int) -> IGCrossCheck | None:
    """IG's reasons against KernelSHAP's on a seeded sample (adverse decisions first), for IG explanations only."""
    if subject.model is None or not ig.is_torch_adapter(subject.model) or not result.method.startswith("Integrated"):
        return None
    return cross_check(model=subject.model, X=subject.X, ig_values=result.values, adverse=~subject.favourable,
                       feature_names=result.feature_names, rows=IG_CROSSCHECK_ROWS, top_k=min(top_k, 3),
                       seed=ctx.seed, favourable_is_positive=subject.favourable_is_positive)


@dataclass
class Stability:
    """Reason stability under a small move of a person's numeric inputs (see :func:`reason_stability`)."""

    value: float | None  # mean share of the reasons kept, over the rows whose decision stayed adverse
    n: int  # rows in that mean
    sampled: int = 0  # adverse decisions with a reason that were moved
    changed: int = 0  # of those, decisions that did not stay adverse (left out of the mean)
    moved: list[str] = field(default_factory=list)  # the numeric features moved
    missing: str | None = None  # why value is None
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    overlap: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per kept row


def reason_stability(subject: Subject, ctx: CheckContext, result: ShapResult, reasons: Reasons) -> Stability:
    """Similar applicants get similar reasons: the reasons of up to 500 adverse decisions, after a 1 % move.

    The sample (adverse decisions with at least one principal reason, the reasons a notice gives) and
    the sign of each feature's move per person are drawn from ``ctx.rng(STABILITY_SALT)``; moving,
    re-predicting and re-explaining is :func:`stability_under`.
    """
    candidates = np.flatnonzero(~subject.favourable & (reasons.counts > 0))
    if not len(candidates):
        return Stability(None, 0, missing="no adverse decision has a principal reason whose stability could be measured")
    numeric = [c for c in result.feature_names if subject.feature_types.get(c) == "numeric"]
    steps = spreads(subject.X, numeric)
    if not steps:
        return Stability(None, 0, missing="no numeric input with a spread to move (the inputs are categorical or "
                                          "constant), so no small change of a person's details can be made")
    rng = ctx.rng(STABILITY_SALT)
    rows = np.sort(rng.choice(candidates, size=min(STABILITY_ROWS, len(candidates)), replace=False))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(len(rows), len(steps)))
    return stability_under(subject, ctx, result, reasons, rows=rows, steps=steps, signs=signs)


def stability_under(subject: Subject, ctx: CheckContext, result: ShapResult, reasons: Reasons, *, rows: np.ndarray,
                    steps: dict[str, float], signs: np.ndarray) -> Stability:
    """Reasons of ``rows`` after moving feature ``c`` by ``signs[:, j] * 1 % * steps[c]`` (j-th of ``steps``).

    The moved rows are re-predicted with the model (one batch through the Predictor) and those still
    adverse re-explained with the explainer that gave ``result`` (one batch); a row's stability is the
    share of its principal reasons (feature names) that are again among its principal reasons.
    """
    plan = plan_explanation(model=subject.model, X=subject.X, seed=ctx.seed,
                            kernel_budget=subject.spec.explanations.kernel_budget_seconds)
    if plan.method != result.method:  # ctx.shap came from elsewhere: its explainer cannot be rerun here
        return Stability(None, 0, missing=f"the explainer that gave the reasons ({result.method}) is not available "
                                          "to explain the moved inputs")
    moved = nudge(subject.X.iloc[rows].reset_index(drop=True), steps, signs)
    base = Stability(None, 0, sampled=len(rows), moved=list(steps), rows=np.asarray(rows))
    predictor = Predictor(subject.model, fast=False, favourable_is_positive=subject.favourable_is_positive)
    adverse = ~predictor.decide(predictor.score(moved))
    base.changed = int((~adverse).sum())
    if not adverse.any():
        base.missing = "every sampled adverse decision changed when its inputs were moved, so no reasons compare"
        return base
    kept = moved.iloc[np.flatnonzero(adverse)]
    again = explain(model=subject.model, X=kept, seed=ctx.seed, scheduler=ctx.scheduler or subject.spec.explanations.scheduler,
                    plan=plan)
    decision = np.asarray(subject.predictions.decision, dtype=bool)[rows][adverse]  # unchanged: still adverse
    after = principal_reasons(values=again.values, X=kept[result.feature_names], decision=decision,
                              top_k=subject.spec.explanations.top_k)
    redone = explained_rows(again)  # KernelSHAP's time budget may leave moved rows unexplained: they do not count
    if not redone.any():
        base.missing = "the explainer's time budget left none of the moved decisions explained"
        return base
    overlap = reason_overlap(reasons.features[rows][adverse][redone], after.features[redone])
    base.value, base.n, base.overlap = float(overlap.mean()), int(len(overlap)), overlap
    return base


def _stability_texts(stability: Stability, source: str) -> tuple[str, list[str]]:
    """The method sentence and the limits of the reason-stability measure (``source``: the reference value's label)."""
    moved = ", ".join(stability.moved) if stability.moved else "none"
    method = (f" Reason stability: a seeded sample of at most {STABILITY_ROWS} adverse decisions with at least one "
              f"reason; every numeric input ({moved}) moved by {STEP * 100:g} % of its standard deviation over the audit "
              "data, up or down at random per input and person; re-predicted and re-explained with the same "
              "explainer; among those still adverse, the share of the person's principal reasons (the features "
              "named) that the moved person is also given, averaged. A reference value "
              f"({source}, threshold id {STABILITY_THRESHOLD}) exists; no law sets one.")
    if stability.value is None:
        return method, []
    limits = ["Reason stability measures how far the reasons hold under a 1 % change of a person's numbers, not "
              "whether they are the right reasons; categorical details are not moved, and whole-number details "
              "(e.g. an age) take values in between."]
    if stability.changed:
        limits.append(f"{stability.changed} of the {stability.sampled} sampled adverse decisions changed under the "
                      "move and are left out of the reason stability.")
    return method, limits


def _fields_note(fields: list[str]) -> str:
    """How far an example table shows a person's values."""
    if fields:
        return (f"A person's values are shown only for {', '.join(fields)} (report.example_fields); "
                "other reasons name the column without its value.")
    return "No person's values are shown (report.example_fields is empty); reasons name the column only."


def _examples(subject: Subject, ctx: CheckContext, reasons: Reasons, names: list[str], favoured: np.ndarray,
              fields: list[str]) -> list[dict[str, object]]:
    """Ten real rows: half adverse, half favourable where possible (seeded).

    A person's values appear only for ``fields``: a reason of another column keeps the column's name and its
    contribution, not the value (``checking_account — lowered the score by 1.04``).
    """
    rng = ctx.rng(401)
    adverse, favourable = np.flatnonzero(~favoured), np.flatnonzero(favoured)
    half = EXAMPLE_ROWS // 2
    pick_a = rng.choice(adverse, size=min(half, len(adverse)), replace=False) if len(adverse) else np.zeros(0, int)
    pick_f = rng.choice(favourable, size=min(EXAMPLE_ROWS - len(pick_a), len(favourable)), replace=False) \
        if len(favourable) else np.zeros(0, int)
    rows = np.sort(np.concatenate([pick_a, pick_f]).astype(int))
    shown = value_text(subject.X[names].iloc[rows])
    score = subject.predictions.score
    records: list[dict[str, object]] = []
    for k, i in enumerate(rows):
        texts = []
        for r, column in enumerate(reasons.texts):
            text, j = column[i], int(reasons.features[i, r])
            if text is None:
                continue
            prefix = f"{names[j]}: {shown[k, j]}" if j >= 0 else ""
            if j >= 0 and names[j] not in fields and str(text).startswith(prefix):
                text = names[j] + str(text)[len(prefix):]
            texts.append(str(text))
        records.append({"id": str(subject.ids[i]), **field_values(subject, fields, int(i)),
                        "decision": _decision_word(bool(favoured[i]), subject.favourable_is_positive),
                        "score": round(float(score[i]), 4) if score is not None else None,
                        "reasons": "; ".join(texts)})
    return records


def _lime_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    from audit.explain.lime_quality import lime_quality

    settings = subject.spec.explanations
    if settings.lime_sample == 0:
        return Evidence.not_assessed("local.lime", CHECK, LIME_TITLE, "LIME sample size set to 0 in the spec")
    if subject.text_columns:
        return Evidence.not_assessed("local.lime", CHECK, LIME_TITLE,
                                     "a free-text input: LIME's tabular explainer would swap whole texts between "
                                     "people; the words are cross-checked in local.tokens")
    score = subject.predictions.score
    if score is None:  # never with a model: load_subject scores every row with it
        raise ValueError("LIME needs the model's scores, and this subject has none")
    started = time.perf_counter()
    result = shap_result(subject, ctx)
    seed = int(ctx.rng(501).integers(0, 2**31 - settings.lime_repeats - 1))
    threshold = float(getattr(subject.model, "threshold", DECISION_THRESHOLD))
    explained = explained_rows(result)  # LIME is compared with SHAP: only decisions SHAP explained are sampled
    quality = lime_quality(
        model=subject.model, X=subject.X[result.feature_names][explained], shap_values=result.values[explained],
        score=score[explained], favourable=subject.favourable[explained], sample_size=settings.lime_sample,
        repeats=settings.lime_repeats, seed=seed, top_k=settings.top_k, threshold=threshold,
        num_samples=LIME_NUM_SAMPLES, scheduler=ctx.scheduler or settings.scheduler, progress=ctx.progress)
    summary = quality.summary()
    strata = np.array(quality.strata, dtype=object)
    records = []
    for name in ("borderline", "adverse", "favourable", "all"):
        mask = np.ones(len(strata), bool) if name == "all" else strata == name
        if not mask.any():
            continue
        records.append({"rows": name, "n": int(mask.sum()), "fidelity R² (median)": float(np.nanmedian(quality.r2[mask])),
                        "stability (top-k overlap)": float(np.nanmean(quality.stability[mask])),
                        "rank correlation with SHAP": _nanmean(quality.rank_correlation[mask]),
                        "top-k overlap with SHAP": float(np.nanmean(quality.shap_topk_overlap[mask]))})
    stability, agreement = summary["stability_topk_overlap"], summary["lime_shap_rank_correlation"]
    return Evidence(
        id="local.lime", check=CHECK, title=LIME_TITLE,
        summary=(f"A second method (LIME) was run {len(quality.seeds)} times on {len(quality.rows)} decisions. "
                 + (f"Between reruns, {stability:.0%} of its top {quality.top_k} reasons stayed the same"
                    if stability is not None else "Its stability between reruns could not be measured")
                 + (f", and its ranking of reasons agrees with the main method to a correlation of {agreement:.2f}."
                    if agreement is not None else "; its agreement with the main method could not be measured.")),
        metrics={**{k: clean_number(v) for k, v in summary.items()},
                 "seeds": ", ".join(str(s) for s in quality.seeds), "repeats": len(quality.seeds),
                 "num_samples": quality.num_samples, "top_k": quality.top_k},
        tables=[Table.from_records("LIME quality by kind of decision", records,
                                   note="borderline: score closest to the decision threshold; stability: share of the "
                                        "top-k features shared by two reruns with different seeds, averaged over pairs.")],
        method=(f"LIME (lime 0.2.0.1, tabular, quartile discretisation, {quality.num_samples:,} perturbations per "
                f"explanation) on the user's columns for a stratified sample of {len(quality.rows)} decisions "
                "(half the closest to the threshold, then adverse, then favourable), each explained "
                f"{len(quality.seeds)} times with seeds {', '.join(map(str, quality.seeds))} (per row: the seed and the "
                f"row number). Fidelity: R² of LIME's local linear model; stability: mean top-{quality.top_k} overlap "
                f"across reruns; agreement: Spearman correlation of |LIME| and |SHAP| weights per row and their "
                f"top-{quality.top_k} overlap. Run on {quality.executor}."),
        limits=["LIME is no longer maintained (last release 2020); it is used here as a cross-check, not for the reasons given to people.",
                "Its explanations depend on random perturbations and on the kernel width; different settings give different answers.",
                "Perturbed rows can be unrealistic combinations of details; R² measures fit to those, not to real people.",
                "Numbers are binned into quartiles, so LIME's weights describe ranges rather than exact values.",
                *quality.notes],
        params={"seeds": list(quality.seeds), "sample_size": len(quality.rows), "num_samples": quality.num_samples,
                "repeats": len(quality.seeds), "strata": ", ".join(f"{r['rows']}: {r['n']}" for r in records if r["rows"] != "all"),
                "threshold": threshold},
        seconds=time.perf_counter() - started,
    )


def _nanmean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None
