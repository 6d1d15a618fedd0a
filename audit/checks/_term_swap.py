"""The term-swap flip test: the text twin of the tabular flip test, run inside ``counterfactual.flip``.

For a free-text input, a person's sex is in their words (pronouns, titles, gendered nouns, first names),
not in a column the tabular flip test can change. Each swap family of :mod:`audit.text.swaps` (curated,
versioned lists with their sources) rewrites every text it touches female ↔ male, whole words only and
case kept; the touched rows are re-predicted and a flip is a decision that changes. Per family, and for
all families at once (every gendered word swapped): texts touched, flips among them with a bootstrap
95 % interval, flips towards the adverse and the favourable decision, and the mean score change. The
rate of the whole swap (every family at once: the same text as a person of the other sex would have it)
feeds ``counterfactual.flip.max_flip_rate``, so the requirements that read the tabular flip test read this
one too; single families, whose texts mix the sexes, show which words the model reacts to.

Examples name the decision's id, the family and the words swapped (counts), never the text itself,
unless ``report.example_fields`` names the text column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audit.counterfactual._bootstrap import proportion_ci
from audit.subject import Subject
from audit.text.swaps import SwapFamily, family_versions, load_families, merge_families, swap_text, swap_texts

__all__ = ["SwapRate", "TermSwapResult", "term_swap", "rates_table_records", "ALL_FAMILIES", "EXAMPLES"]

ALL_FAMILIES = "all gendered words"
EXAMPLES = 10  # flipped decisions shown (largest score change first), when examples are wanted


@dataclass
class SwapRate:
    """One swap family's flip rate on the texts it touched."""

    family: str
    version: str
    touched: int
    flips: int
    ci: tuple[float | None, float | None]
    to_adverse: int
    to_favourable: int
    mean_score_change: float | None

    @property
    def rate(self) -> float | None:
        """Share of touched texts whose decision changed (None when no text was touched: unmeasured)."""
        return self.flips / self.touched if self.touched else None


@dataclass
class TermSwapResult:
    """Every family's rate, and examples of flipped decisions (positions in the Subject, family, words swapped)."""

    column: str
    rows: int
    rates: list[SwapRate]
    versions: dict[str, str]
    examples: list[dict[str, object]] = field(default_factory=list)
    n_predicted: int = 0

    @property
    def overall(self) -> SwapRate | None:
        """Every gendered word swapped at once: the text as the same person of the other sex would have it."""
        return next((r for r in self.rates if r.family == ALL_FAMILIES), None)

    @property
    def max_rate(self) -> float | None:
        """The flip rate of the whole swap (None when no text holds a listed word: unmeasured).

        This is the counterfactual the verdict reads. Single families make texts that mix the sexes ("she ...
        her wife"); their rates show which words the model reacts to and are reported beside it, not as it.
        """
        overall = self.overall
        return overall.rate if overall is not None else None


def term_swap(subject: Subject, *, column: str, rng: np.random.Generator, n_boot: int) -> TermSwapResult:
    """Swap the gendered words of ``column`` family by family (and all at once), re-predict, count flips."""
    model = subject.model
    if model is None:  # callers check: the flip test needs a model
        raise ValueError("the term-swap test needs the model")
    texts = subject.X[column].astype(object).where(subject.X[column].notna(), "").astype(str).to_list()
    decision = np.asarray(subject.predictions.decision, dtype=bool)
    favourable = subject.favourable
    score = subject.predictions.score
    families = load_families()
    every = merge_families(families)  # one pass: a word one family swapped in is never swapped back by another
    plan: list[tuple[str, str, SwapFamily]] = [(f.name, f.version, f) for f in families]
    plan.append((ALL_FAMILIES, every.version, every))
    rates, examples, predicted = [], [], 0
    for name, version, family in plan:
        swapped, counts = swap_texts(texts, family=family)
        touched = np.flatnonzero(np.asarray(counts) > 0)
        if not len(touched):
            rates.append(SwapRate(name, version, 0, 0, (None, None), 0, 0, None))
            continue
        frame = subject.X.iloc[touched].copy()
        frame[column] = [swapped[i] for i in touched]
        after = np.asarray(model.predict_score(frame), dtype=float)
        predicted += len(touched)
        new = np.asarray(model.decide(after), dtype=bool)
        flipped = new != decision[touched]
        to_adverse = int((flipped & favourable[touched]).sum())  # a binary decision: every other flip is favourable
        rates.append(SwapRate(
            family=name, version=version, touched=len(touched), flips=int(flipped.sum()),
            ci=proportion_ci(int(flipped.sum()), len(touched), rng=rng, n_boot=n_boot),
            to_adverse=to_adverse, to_favourable=int(flipped.sum()) - to_adverse,
            mean_score_change=float(np.mean(after - score[touched])) if score is not None else None))
        if name == ALL_FAMILIES:
            examples = _examples(texts, touched, flipped, after, score, every)
    return TermSwapResult(column=column, rows=len(texts), rates=rates, versions=family_versions(families),
                          examples=examples, n_predicted=predicted)


def _examples(texts: list[str], touched: np.ndarray, flipped: np.ndarray, after: np.ndarray,
              score: np.ndarray | None, family: SwapFamily) -> list[dict[str, object]]:
    """Flipped decisions with the largest score change: position, words swapped (counted), scores; no text."""
    rows = touched[flipped]
    change = np.abs(after[flipped] - (score[rows] if score is not None else 0.0))
    out = []
    for k in np.argsort(-change, kind="stable")[:EXAMPLES]:
        i = int(rows[k])
        terms: dict[str, int] = {}
        for original, replacement in swap_text(texts[i], family=family).swapped_terms:
            term = f"{original.lower()} → {replacement.lower()}"
            terms[term] = terms.get(term, 0) + 1
        out.append({"position": i, "words swapped": ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in terms.items()),
                    "score_before": None if score is None else round(float(score[i]), 4),
                    "score_after": round(float(after[flipped][k]), 4)})
    return out


def rates_table_records(result: TermSwapResult) -> list[dict[str, object]]:
    """One record per family for the flip test's table."""
    return [{"family": r.family, "texts touched": r.touched,
             "share of texts touched": r.touched / result.rows if result.rows else None, "flipped": r.flips,
             "flip_rate": r.rate, "ci_low": r.ci[0], "ci_high": r.ci[1], "to adverse": r.to_adverse,
             "to favourable": r.to_favourable, "mean_score_change": r.mean_score_change} for r in result.rates]
