"""Evidence ``local.tokens``: the words of a free-text input that moved each decision, and how faithful they are.

The text twin of ``local.shap`` (which sees a text column as one column): per decision, the at most
``explanations.top_k`` tokens that pushed most towards the decision taken (exact for a linear model on
token weights: :mod:`audit.explain.tokens`), written to decisions.parquet; a global table of the tokens
that raise and lower the score most; ERASER comprehensiveness and sufficiency of the top tokens on a
seeded sample, beside random tokens. The person's text is never put in the report; the tokens named
are words of the vocabulary, each shown with how many decisions it appears in.
"""

from __future__ import annotations

import re
import time

import numpy as np

from audit.checks._base import CheckContext
from audit.checks._common import NO_MODEL
from audit.checks._examples import example_fields
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.explain.tokens import (
    DEFAULT_PATTERN,
    TokenAttributions,
    faithfulness,
    lime_agreement,
    token_attributions,
    top_tokens,
)
from audit.subject import Subject

__all__ = ["token_evidence", "token_column", "TOKENS_ID", "TOKENS_TITLE", "NO_TEXT", "FAITH_ROWS", "FAITH_SALT", "GLOBAL_TOKENS"]

TOKENS_ID = "local.tokens"
TOKENS_TITLE = "Words that moved each decision (token attributions) and their faithfulness"
NO_TEXT = "no free-text input (data.feature_types: text)"
FAITH_ROWS = 500  # decisions whose texts are edited and re-predicted for comprehensiveness and sufficiency
FAITH_SALT = 611
GLOBAL_TOKENS = 15  # tokens shown per direction in the global table
LIME_ROWS = 50  # decisions cross-checked with LIME's text explainer
LIME_SAMPLES = 500  # perturbed texts per LIME explanation
LIME_SALT = 613
HIGHLIGHTS = 4  # example texts drawn with their words coloured (only with report.example_fields naming the column)
HIGHLIGHT_SALT = 617


def token_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Token reasons for every decision and their faithfulness on a sample; not assessed without text or model."""
    if not subject.has_model or subject.model is None:
        return Evidence.not_assessed(TOKENS_ID, "local", TOKENS_TITLE, NO_MODEL)
    if not subject.text_columns:
        return Evidence.not_assessed(TOKENS_ID, "local", TOKENS_TITLE, NO_TEXT)
    started = time.perf_counter()
    column = subject.text_columns[0]
    found = token_attributions(subject.model, subject.X, column)
    if isinstance(found, str):
        return Evidence.not_assessed(TOKENS_ID, "local", TOKENS_TITLE, found)
    k = subject.spec.explanations.top_k
    decision = np.asarray(subject.predictions.decision, dtype=bool)
    reasons = top_tokens(found, decision, k=k)
    ctx.decision_columns[token_column(column)] = np.array(
        ["; ".join(f"{t} ({a:+.2f})" for t, a in r) for r in reasons], dtype=object)
    adverse = ~subject.favourable
    without = int(sum(1 for i in np.flatnonzero(adverse) if not reasons[i]))
    error = float(found.additivity_error.max()) if subject.n else None
    rows = np.sort(ctx.rng(FAITH_SALT).choice(subject.n, size=min(FAITH_ROWS, subject.n), replace=False))
    if found.editable:
        faith = faithfulness(model=subject.model, X=subject.X, column=column, reasons=reasons, decision=decision,
                             rows=rows, seed=ctx.seed, k=k)
        faith_missing = faith.missing
    else:
        faith, faith_missing = None, ("the vectoriser's analyser is not the default word pattern (n-grams, a custom "
                                      "tokenizer or no lowercasing): texts cannot be edited token by token")
    lime_rows = np.sort(ctx.rng(LIME_SALT).choice(subject.n, size=min(LIME_ROWS, subject.n), replace=False))
    lime = lime_agreement(model=subject.model, X=subject.X, column=column, reasons=reasons, decision=decision,
                          rows=lime_rows, seed=ctx.seed, k=k, num_samples=LIME_SAMPLES)
    records = _global_tokens(found)
    metric_faith = {
        "comprehensiveness": clean_number(faith.comprehensiveness) if faith else None,
        "sufficiency": clean_number(faith.sufficiency) if faith else None,
        "random_comprehensiveness": clean_number(faith.random_comprehensiveness) if faith else None,
        "random_sufficiency": clean_number(faith.random_sufficiency) if faith else None,
        "faithfulness_rows": faith.rows if faith else 0,
    }
    missing = {}
    if lime.agreement is None:
        missing["lime_agreement"] = missing["lime_same_first"] = lime.missing or "not measured"
    if metric_faith["comprehensiveness"] is None:
        why = faith_missing or "not measured"
        missing.update({key: why for key in ("comprehensiveness", "sufficiency", "random_comprehensiveness",
                                             "random_sufficiency")})
    raising = [str(r["token"]) for r in records if r["direction"] == "raises"][:3]
    lowering = [str(r["token"]) for r in records if r["direction"] == "lowers"][:3]
    linear = found.vectorizer is not None  # a vectoriser + linear model: exact; a torch text model: IG
    split = "split exactly" if linear else "attributed (Integrated Gradients on the embedding layer)"
    summary = (f"Each of the {subject.n:,} decisions is {split} into the words of '{column}' that moved it. "
               f"Words that raise the score most: {', '.join(raising) or 'none'}; that lower it most: "
               f"{', '.join(lowering) or 'none'}.")
    if faith is not None and faith.comprehensiveness is not None and faith.random_comprehensiveness is not None:
        summary += (f" Deleting a decision's top {k} words lowers the probability of that decision by "
                    f"{faith.comprehensiveness:.3f} on average, against {faith.random_comprehensiveness:.3f} for "
                    f"{k} of its words picked at random ({faith.rows:,} decisions).")
    shown = subject.spec.report.examples and column in example_fields(subject)
    charts = _highlights(subject, ctx, found, column, reasons) if shown else []
    return Evidence(
        id=TOKENS_ID, check="local", title=TOKENS_TITLE, summary=summary, charts=charts,
        metrics={"column": column, "method": found.method, "n_explained": subject.n, "n_tokens": len(found.tokens),
                 "additivity_error_max": clean_number(error), "adverse_without_token_reason": without,
                 **metric_faith,
                 "lime_agreement": clean_number(lime.agreement), "lime_same_first": clean_number(lime.same_first),
                 "lime_rows": lime.rows,
                 "top_token_raising": raising[0] if raising else None,
                 "top_token_lowering": lowering[0] if lowering else None},
        missing=missing,
        tables=[Table.from_records(
            f"Words of '{column}' that move the score most (mean contribution where present, log-odds)", records,
            columns=["token", "direction", "decisions containing it", "mean contribution", "largest |contribution|"],
            note=("A word's contribution is its coefficient times its weight in the text (tf-idf value or count); "
                  if linear else "A word's contribution is its Integrated Gradients attribution, summed over the "
                                 "embedding and over its occurrences in the text; ")
                 + "the table lists the words with the largest total |contribution| over all decisions, by direction. "
                 "No person's text is shown.")],
        method=(f"Token attributions {found.method}. Reasons of a decision: its at most {k} words with the largest "
                "contribution towards the decision taken (at least 0.005 in log-odds), written to decisions.parquet "
                f"(token_reasons:{column}). Faithfulness (ERASER, DeYoung et al. 2020) on a seeded sample of "
                f"{len(rows):,} decisions: comprehensiveness = drop in the probability of the decision taken when "
                "the reason words are deleted from the text (every whole-word occurrence, any case); sufficiency = "
                "drop when only they are kept; both also for as many of the text's own words drawn at random "
                f"(seeded). Cross-check: LIME's text explainer (lime 0.2.0.1, bag of words, {LIME_SAMPLES:,} "
                f"perturbed texts per decision, seeded) on {lime.rows:,} sampled decisions; agreement = share of the "
                f"exact top words that LIME also ranks among its top {k} towards the decision taken."),
        limits=[*([] if shown else [f"No text is shown (a person's own words): highlighted examples appear only "
                                    f"when report.example_fields names '{column}'."]),
                *(["A word's contribution depends on the words beside it only through the text's length "
                   "normalisation; the model sees no word order."] if linear else found.notes),
                "Deleting words makes texts no real person wrote; comprehensiveness shows what the model relies on, "
                "not what a person would write instead.",
                *([] if found.editable else [faith_missing or ""]),
                *([f"Only the first free-text column ({column}) is attributed; the others are not."]
                  if len(subject.text_columns) > 1 else [])],
        params={"top_k": k, "faithfulness_rows": len(rows), "faithfulness_salt": FAITH_SALT, "seed": ctx.seed},
        seconds=time.perf_counter() - started,
    )


def token_column(column: str) -> str:
    """The decisions.parquet column of a text column's token reasons (``token_reasons:<column>``)."""
    return f"token_reasons:{column}"


def _highlights(subject: Subject, ctx: CheckContext, found: TokenAttributions, column: str,
                reasons: list[list[tuple[str, float]]]) -> list[Chart]:
    """Seeded examples (half adverse, half favourable) as texts whose words are coloured by their contribution."""
    rng = ctx.rng(HIGHLIGHT_SALT)
    adverse, favourable = np.flatnonzero(~subject.favourable), np.flatnonzero(subject.favourable)
    half = HIGHLIGHTS // 2
    picked = [*rng.choice(adverse, size=min(half, len(adverse)), replace=False),
              *rng.choice(favourable, size=min(HIGHLIGHTS - min(half, len(adverse)), len(favourable)), replace=False)]
    lookup = {str(t): j for j, t in enumerate(found.tokens)}
    charts = []
    for i in sorted(int(p) for p in picked):
        row = found.values.getrow(i)
        amounts = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        words = str(subject.X[column].iloc[i]).split()
        values: list[float | None] = []
        for word in words:  # a word's tokens as the vectoriser's pattern finds them ("bachelor's" -> bachelor)
            known = [lookup[t] for t in re.findall(DEFAULT_PATTERN, word.lower()) if t in lookup]
            values.append(sum(amounts.get(j, 0.0) for j in known) if known else None)
        kind = "favourable" if subject.favourable[i] else "adverse"
        reasons_text = ", ".join(t for t, _ in reasons[i]) or "none"
        charts.append(Chart(id=f"tokens-{subject.ids[i]}", kind="tokens", labels=words, values=values,
                            title=f"Decision {subject.ids[i]} ({kind}); reasons: {reasons_text}. Orange raises the "
                                  "score, purple lowers it (log-odds, scaled to the largest word of this text)."))
    return charts


def _global_tokens(found: TokenAttributions) -> list[dict[str, object]]:
    """The tokens with the largest total |contribution|, GLOBAL_TOKENS raising and GLOBAL_TOKENS lowering."""
    values = found.values
    present = np.asarray((values != 0).sum(axis=0)).reshape(-1)
    total = np.asarray(values.sum(axis=0)).reshape(-1)
    largest = np.asarray(abs(values).max(axis=0).toarray()).reshape(-1)
    mean = np.divide(total, present, out=np.zeros_like(total), where=present > 0)
    out: list[dict[str, object]] = []
    for direction, sign in (("raises", 1.0), ("lowers", -1.0)):
        chosen = np.flatnonzero((present > 0) & (sign * total > 0))
        chosen = chosen[np.argsort(-sign * total[chosen], kind="stable")][:GLOBAL_TOKENS]
        for j in chosen:
            out.append({"token": str(found.tokens[j]), "direction": direction, "decisions containing it": int(present[j]),
                        "mean contribution": float(mean[j]), "largest |contribution|": float(largest[j])})
    return out
