"""Flip test: does the decision change when only the protected attribute (and its proxies) change?

What the flip test finds and the sentences both of its ways of running share. For each protected attribute that is
a model input, every row is moved to each other group (a category's own value; for a binned number such as age,
the median of the target band) and re-predicted. The share of decisions that flip, per (from → to) pair, measures
disparate treatment directly. The *with proxies* variant also replaces the attribute's proxy features by those of a
member of the target group (whole proxy rows, so their joint distribution is kept). An attribute that is not a
model input has no direct variant (nothing was measured, so no rate is recorded, not even 0): only the proxy variant
can show an effect, and an attribute with neither is listed in ``FlipResult.not_tested`` with the reason.

The test itself is :mod:`audit.counterfactual.flip_counts`: a plan fixed once, counts per partition of rows (one
partition when the data is read whole), merged exactly; so an audit's flip rates are the same whether its rows
were read whole or in partitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["FlipPair", "FlipResult", "DIRECT", "WITH_PROXIES", "LARGEST_ONLY", "known_proxies", "why_untested"]

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


#: Notes and reasons the flip test writes (``flip_counts``).
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
