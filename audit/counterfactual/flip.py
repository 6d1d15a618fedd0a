"""Flip test: does the decision change when only the protected attribute (and its proxies) change?

For each protected attribute that is a model input, every row is moved to each
other group (a category's own value; for a binned number such as age, the
median of the target band) and re-predicted: one frame and one predict call per
target group. The share of decisions that flip, per (from → to) pair, measures
disparate treatment directly. The *with proxies* variant also replaces the
attribute's proxy features by those of a random member of the target group
(whole proxy rows, so their joint distribution is kept). An attribute that is
not a model input has no direct variant (nothing was measured, so no rate is
recorded, not even 0): only the proxy variant can show an effect, and an
attribute with neither is listed in ``FlipResult.not_tested`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.counterfactual._bootstrap import mean_cis, proportion_ci
from audit.counterfactual._encoded import EncodedRows
from audit.counterfactual._frames import Predictor, RowSource
from audit.spec import ProtectedSpec
from audit.subject import MISSING_GROUP

__all__ = ["FlipPair", "FlipResult", "flip_test", "DIRECT", "WITH_PROXIES"]

DIRECT = "direct"
WITH_PROXIES = "with proxies"


@dataclass
class FlipPair:
    """Flip statistics of one attribute, variant and (from → to) group pair."""

    attribute: str
    variant: str
    source: str
    target: str
    n: int
    flips: int
    flip_rate: float
    flip_ci: tuple[float | None, float | None]
    mean_score_change: float | None
    score_ci: tuple[float | None, float | None]
    note: str = ""


@dataclass
class FlipResult:
    """All pairs, a few real flipped decisions, and notes on what could not be tested."""

    pairs: list[FlipPair] = field(default_factory=list)
    examples: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proxies_used: dict[str, list[str]] = field(default_factory=dict)
    not_tested: dict[str, str] = field(default_factory=dict)  # attribute -> why no variant could be run
    n_predicted: int = 0

    def max_rate(self, variant: str) -> float | None:
        """Highest flip rate of a variant over attributes and pairs (None when nothing was tested)."""
        rates = [p.flip_rate for p in self.pairs if p.variant == variant]
        return max(rates) if rates else None


def _targets(column: pd.Series, groups: np.ndarray, spec: ProtectedSpec) -> dict[str, object]:
    """The value each row takes when moved into a group: the group's value, or a binned band's median."""
    out: dict[str, object] = {}
    for g in pd.unique(groups):
        if g == MISSING_GROUP:
            continue
        members = column[groups == g]
        if spec.bins is not None:
            out[str(g)] = members.quantile(0.5, interpolation="nearest")  # an observed value
        else:
            out[str(g)] = members.iloc[0]
    return out


#: Notes and reasons the in-memory flip test and the partitioned one (``flip_counts``) both write.
LARGEST_ONLY = ("{attr}: {count} groups; only the {max_groups} largest were tested (declare bins in data.protected to "
                "test every value)")
PROXIES_NOT_INPUTS = "{attr}: its proxies ({listed}) are not model inputs; nothing more to change"
FEWER_THAN_TWO = "fewer than two known groups"
NOT_AN_INPUT = "not a model input, and no proxy of it is a known model input"


def known_proxies(attr: str, columns: pd.Index, proxies: dict[str, list[str]] | None, notes: list[str]) -> list[str]:
    """The attribute's listed proxies that are model inputs (a note when some are listed and none is)."""
    listed = (proxies or {}).get(attr) or []
    known = [p for p in listed if p in columns and p != attr]
    if listed and not known:
        notes.append(PROXIES_NOT_INPUTS.format(attr=attr, listed=", ".join(listed)))
    return known


def why_untested(attr: str, *, targets: int, is_input: bool, known: bool, proxies_known: bool,
                 notes: list[str]) -> str | None:
    """Why an attribute cannot be flipped (None: it can), with the note fewer than two groups also leave."""
    if targets < 2:
        notes.append(f"{attr}: {FEWER_THAN_TWO}; nothing to flip")
        return FEWER_THAN_TWO
    if not is_input and not known:
        return NOT_AN_INPUT + ("" if proxies_known else " (no proxy information)")
    return None


def _largest_groups(g: np.ndarray, max_groups: int, attr: str, notes: list[str]) -> np.ndarray:
    """Group labels with all but the ``max_groups`` largest groups marked missing (left out)."""
    counts = pd.Series(g[g != MISSING_GROUP]).value_counts()
    if len(counts) <= max_groups:
        return g
    notes.append(LARGEST_ONLY.format(attr=attr, count=len(counts), max_groups=max_groups))
    return np.where(np.isin(g, counts.index[:max_groups].to_numpy()), g, MISSING_GROUP)


def _rescore(source: RowSource, cols: dict[str, np.ndarray], rows: np.ndarray, score: np.ndarray,
             attr: list[str], proxies: list[str], predictor: Predictor, encoded: EncodedRows | None) -> np.ndarray:
    """Scores of the modified rows; rows left identical (a donor with the same proxy values) keep their score.

    With ``encoded`` rows (the fast path), a modified row is its encoded row with
    the changed columns' blocks replaced; else a frame of the modified rows is scored.
    """
    differs = np.zeros(rows.size, dtype=bool)
    for c in attr + proxies:
        old, new = source.arrays[c][rows], cols[c]
        differs |= ~(np.asarray(old == new, dtype=bool) | (pd.isna(old) & pd.isna(new)))
    out = score[rows].astype(float)
    if differs.any():
        idx = np.flatnonzero(differs)
        blocks = encoded.encode({c: cols[c][idx] for c in attr + proxies}) if encoded is not None else None
        if blocks is not None and encoded is not None:
            every = np.arange(idx.size)
            changes = [(every, c, block, every) for c, block in blocks.items()]
            out[idx] = predictor.score_encoded(encoded, rows[idx], changes)
        else:
            out[idx] = predictor.score(source.to_frame({c: a[idx] for c, a in cols.items()}))
    return out


def flip_test(
    *,
    X: pd.DataFrame,
    groups: pd.DataFrame,
    protected: list[ProtectedSpec],
    model: object,
    score: np.ndarray,
    decision: np.ndarray,
    ids: np.ndarray,
    proxies: dict[str, list[str]] | None,
    rng: np.random.Generator,
    n_boot: int,
    max_examples: int = 5,
    max_groups: int = 12,
    fast: bool = True,
) -> FlipResult:
    """Run the direct and with-proxies flip tests for every protected attribute.

    ``score``/``decision`` are the model's outputs on ``X`` (computed once by the
    Subject); ``proxies`` maps attributes to proxy features (None: unknown).
    An attribute with more than ``max_groups`` groups (a number without bins)
    is tested on its ``max_groups`` largest groups only, and a note says so.
    ``fast=False`` scores every modified row through the adapter on DataFrames
    (same numbers; see :mod:`._encoded`).
    """
    source = RowSource(X)
    predictor = Predictor(model, fast=fast)
    encoded = predictor.encode(source.frame, source.template())
    result = FlipResult()
    examples: list[tuple[bool, float, dict[str, object]]] = []
    for spec in protected:
        attr = spec.column
        g = _largest_groups(groups[attr].to_numpy(dtype=object), max_groups, attr, result.notes)
        is_input = attr in X.columns
        known = known_proxies(attr, X.columns, proxies, result.notes)
        if known:
            result.proxies_used[attr] = known
        targets = _targets(X[attr] if is_input else pd.Series(np.zeros(len(X))), g, spec)
        why = why_untested(attr, targets=len(targets), is_input=is_input, known=bool(known),
                           proxies_known=proxies is not None, notes=result.notes)
        if why is not None:
            result.not_tested[attr] = why
            continue
        for variant in ([DIRECT] if is_input else []) + ([WITH_PROXIES] if known else []):
            new_score = _variant_scores(source, g, attr if is_input else None, targets,
                                        known if variant == WITH_PROXIES else [], score, predictor, rng, encoded)
            flipped = predictor.decide(np.nan_to_num(new_score)) != decision[:, None]
            flipped &= ~np.isnan(new_score)
            note = "" if is_input else "proxies only (not a model input)"
            result.pairs += _pairs(attr, variant, g, list(targets), flipped, new_score - score[:, None], rng=rng,
                                   n_boot=n_boot, note=note)
            examples += _examples(attr, variant, g, list(targets), flipped, new_score, score, decision, ids,
                                  max_examples)
    examples.sort(key=lambda item: (item[0], -item[1]))
    result.examples = [e[2] for e in examples[:max_examples]]
    result.n_predicted = predictor.n_predicted
    return result


def _variant_scores(source: RowSource, g: np.ndarray, attr: str | None, targets: dict[str, object],
                    proxies: list[str], score: np.ndarray, predictor: Predictor,
                    rng: np.random.Generator, encoded: EncodedRows | None) -> np.ndarray:
    """(rows, targets) scores after moving each row to each other group; NaN for a row's own group."""
    out = np.full((g.size, len(targets)), np.nan)
    for t, (target, value) in enumerate(targets.items()):
        rows = np.flatnonzero((g != target) & (g != MISSING_GROUP))
        cols = source.gather(rows)
        if attr is not None:
            cols[attr] = np.full(rows.size, value, dtype=cols[attr].dtype)
        if proxies:
            donors = rng.choice(np.flatnonzero(g == target), size=rows.size, replace=True)
            for p in proxies:
                cols[p] = source.arrays[p][donors]
        out[rows, t] = _rescore(source, cols, rows, score, [attr] if attr else [], proxies, predictor, encoded)
    return out


def _pairs(attr: str, variant: str, g: np.ndarray, targets: list[str], flipped: np.ndarray, delta: np.ndarray, *,
           rng: np.random.Generator, n_boot: int, note: str) -> list[FlipPair]:
    """Statistics per (from → to) pair; score-change intervals share one resampling of each origin group."""
    out = []
    for origin in pd.unique(g):
        if origin == MISSING_GROUP:
            continue
        m = g == origin
        others = [t for t, name in enumerate(targets) if name != origin]
        cis = mean_cis(delta[np.ix_(m, others)], rng=rng, n_boot=n_boot)
        for t, ci in zip(others, cis, strict=True):
            k, n = int(flipped[m, t].sum()), int(m.sum())
            out.append(FlipPair(attr, variant, str(origin), targets[t], n, k, k / n,
                                proportion_ci(k, n, rng=rng, n_boot=n_boot), float(delta[m, t].mean()), ci, note=note))
    return out


def _examples(attr: str, variant: str, g: np.ndarray, targets: list[str], flipped: np.ndarray, new_score: np.ndarray,
              score: np.ndarray, decision: np.ndarray, ids: np.ndarray,
              limit: int) -> list[tuple[bool, float, dict[str, object]]]:
    """The flipped decisions with the largest score change (real rows), direct variant ranked first."""
    rows, cols = np.nonzero(flipped)
    change = np.abs(new_score[rows, cols] - score[rows])
    top = np.argsort(-change, kind="stable")[:limit]
    return [(variant != DIRECT, float(change[i]), {
        "id": str(ids[rows[i]]), "attribute": attr, "variant": variant, "from": str(g[rows[i]]),
        "to": targets[cols[i]], "score_before": float(score[rows[i]]), "score_after": float(new_score[rows[i], cols[i]]),
        "decision_before": bool(decision[rows[i]]), "decision_after": not bool(decision[rows[i]]),
    }) for i in top]
