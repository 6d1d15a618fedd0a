"""Is the new model no worse than the approved baseline, per group, with statistical confidence?

The question is a **non-inferiority** test on a difference of rates
(``new - baseline``), one per group, with a margin fixed before looking:

- ``worse="lower"`` (a favourable rate dropping is worse, e.g. selection rate,
  TPR, accuracy): the null hypothesis is "the new is worse by at least the
  margin", ``diff <= -margin``.
- ``worse="higher"`` (a rate rising is worse, e.g. FPR): the null is
  ``diff >= +margin``.

**Interval.** A two-sided percentile-bootstrap interval of the difference at
level ``confidence``. Each of its bounds is a one-sided bound at level
``(1 + confidence) / 2``, so with the default 95 % each verdict below is a
one-sided test at 2.5 %, the convention of CONSORT for non-inferiority trials
and ICH E9/E10 (judge a two-sided 95 % interval against the margin). Both the
"no worse" and the "worse" verdict are read off that one reported interval, so
what the report shows and what it concludes cannot disagree.

With ``worse="lower"`` (mirrored for ``"higher"``):

- ``"no worse"``: lower bound > -margin; a drop as large as the margin is ruled out;
- ``"worse"``: upper bound < -margin; the whole interval lies beyond the margin,
  the new is significantly worse than the margin allows (``audit diff`` fails);
- ``"inconclusive"``: otherwise; the data cannot tell, which calls for review,
  not a failure;
- ``"not judged"``: a side has fewer member rows than ``min_group_size`` (the
  point figures are still reported, the interval is None), or none at all (the
  figure itself is None).

The comparisons are strict: a bound exactly on the margin is "inconclusive"
(so with ``margin=0`` even identical decisions, interval [0, 0], are).

The percentile interval, rather than BCa or a normal approximation: it needs no
variance formula for the paired ratio estimator, it stays inside the feasible
range, and at the group sizes we judge (at least ``min_group_size`` member rows
per side) the coverage simulation in ``tests/test_compare_stats.py`` shows the
paired 95 % interval covering the true difference within 93-97 %. BCa is not
offered: it would need its own jackknife and its own tests for little gain here.

A known limit of the *paired* percentile interval: all it sees of a difference
are the discordant rows (where the two audits disagree), and it cannot resample
a disagreement that did not occur. With few of them the interval is too narrow;
in the same simulation coverage was 94 % with ~30 discordant rows, 93 % with ~6,
89 % with ~4 and 77 % with ~2 (members 40). Even with ~60 of them (20,000
repetitions, 1,000 members) the misses are uneven: the truth fell below the
interval 3.0 % of the time and above it 2.4 %, so the "no worse" verdict errs a
little more often than its nominal 2.5 %. Each result carries
``discordant_rows`` so that a report can show it; identical decisions give the
interval [0, 0]. A score interval for paired proportions (Tango, Newcombe)
would do better there when membership is the same on both sides.

**Paired or unpaired.** When both audits carry the same row ids (each once),
the rows are resampled jointly and both rates are recomputed on the same drawn
rows, so the shared noise of the two models' decisions on the same people
cancels out and the interval is narrower. Otherwise each audit's member rows
are resampled independently. See :mod:`audit.compare._resample` for how the
draws are made from counts (exactly the row bootstrap, O(B) memory).

**Several groups.** :func:`compare_groups` judges every group of one figure;
its family is the groups that are judged (enough rows on both sides), and with
``m`` of them each interval is made at ``1 - (1 - confidence) / m``
(Bonferroni). By the union bound all ``m`` intervals then hold together with
probability at least ``confidence``, so the chance of any wrong verdict across
the groups stays within the nominal level. Holm is uniformly more powerful as
a *test*, but it works on ordered p-values and has no simultaneous confidence
intervals of its own (the intervals compatible with Holm are uninformative for
the hypotheses it rejects, Strassburger & Bretz 2008); what ``audit diff``
reports per group is an interval, so Bonferroni, which gives one, is used.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

from audit.compare._resample import PAIRED, discordant, draw, pair_rows, paired_cells

__all__ = [
    "RateData",
    "RateComparison",
    "GroupComparison",
    "compare_rate",
    "compare_groups",
    "Worse",
    "Judgement",
    "Correction",
    "PERCENTILE",
]

Worse = Literal["lower", "higher"]
Judgement = Literal["no worse", "inconclusive", "worse", "not judged"]
Correction = Literal["bonferroni", "none"]

PERCENTILE = "percentile bootstrap"
MIN_N_BOOT = 100

# Argument errors (ValueError messages; the offending value is appended).
IDS_NOT_STRINGS = "ids must be an array of strings (row identifiers)"
SHAPES_DIFFER = "ids, value and member must be one-dimensional arrays of the same length"
MEMBER_NOT_BOOL = "member must be a boolean array (True: the row counts for this figure)"
VALUE_NOT_INDICATOR = "value must be 0 or 1 on every member row (the indicator whose mean is the figure)"
NOT_RATE_DATA = "baseline and new must be RateData"
NOT_GROUPS = "baseline and new must be dicts mapping group names (str) to RateData"
WORSE_CHOICE = "worse must be 'lower' or 'higher'"
CORRECTION_CHOICE = "correction must be 'bonferroni' or 'none'"
MARGIN_RANGE = "margin must be a finite number in [0, 1) (a difference of rates)"
CONFIDENCE_RANGE = "confidence must be a number strictly between 0 and 1"
N_BOOT_MIN = f"n_boot must be an integer of at least {MIN_N_BOOT}"
RANDOM_STATE_TYPE = "random_state must be a non-negative integer (the bootstrap seed)"
MIN_GROUP_SIZE_MIN = "min_group_size must be an integer of at least 1"

# Reasons for a figure or a judgement that could not be made.
NO_MEMBERS = "the {side} audit has no member rows for this figure, so its rate is undefined"
ABSENT = "the group is absent from the {side} audit"
TOO_FEW = "the {side} audit has {count} member rows, fewer than the {minimum} needed to judge"
NO_DEFINED_RESAMPLE = "no bootstrap resample had member rows on both sides, so no interval"


@dataclass(frozen=True, eq=False)
class RateData:
    """One audit's per-row data for one figure: the figure is the mean of ``value`` over ``member`` rows.

    ``ids`` identify rows (two audits with the same ids decided on the same rows
    and are compared paired); ``value`` is the 0/1 indicator (e.g. favourable);
    ``member`` marks the rows the figure is over (e.g. in the group and y == 1
    for a true-positive rate). Pass every row of the audit with ``member``
    selecting the figure's rows. ``value`` is only read on member rows (it may be
    NaN elsewhere). Arrays are copied and made read-only.
    """

    ids: np.ndarray
    value: np.ndarray
    member: np.ndarray

    def __post_init__(self) -> None:
        ids = np.array(self.ids, copy=True)
        value = np.array(self.value, dtype=np.float64, copy=True)
        member = np.array(self.member, copy=True)
        if ids.ndim != 1 or value.ndim != 1 or member.ndim != 1 or not (len(ids) == len(value) == len(member)):
            raise ValueError(f"{SHAPES_DIFFER}: got shapes {ids.shape}, {value.shape}, {member.shape}")
        if ids.dtype.kind == "O" and all(isinstance(i, str) for i in ids.tolist()):
            ids = ids.astype(str)
        if ids.dtype.kind != "U" and len(ids) > 0:
            raise ValueError(f"{IDS_NOT_STRINGS}: got dtype {ids.dtype}")
        ids = ids.astype(str)
        if member.dtype != np.bool_ and len(member) > 0:
            raise ValueError(f"{MEMBER_NOT_BOOL}: got dtype {member.dtype}")
        member = member.astype(bool)
        on_members = value[member]
        if not bool(np.all((on_members == 0) | (on_members == 1))):
            bad = on_members[~((on_members == 0) | (on_members == 1))]
            raise ValueError(f"{VALUE_NOT_INDICATOR}: got {bad[:5].tolist()}")
        for array in (ids, value, member):
            array.setflags(write=False)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "member", member)

    @property
    def members(self) -> int:
        """Number of member rows (the figure's denominator)."""
        return int(self.member.sum())

    @property
    def ones(self) -> int:
        """Member rows with value 1 (the figure's numerator)."""
        return int((self.value[self.member] == 1).sum())

    @property
    def rate(self) -> float | None:
        """The figure: mean of value over member rows; None when there is no member row."""
        members = self.members
        return None if members == 0 else self.ones / members


@dataclass(frozen=True)
class RateComparison:
    """One figure of one group, new against baseline, with its interval and judgement.

    ``difference``, ``ci_low`` and ``ci_high`` are ``new - baseline``;
    ``confidence`` is the level of this interval (Bonferroni-adjusted when made by
    :func:`compare_groups`); ``n_boot_defined`` counts the resamples with member
    rows on both sides (the interval is read off those; 0 when not bootstrapped).
    ``discordant_rows`` (paired only) counts the rows on which the two audits
    differ for this figure (membership or value): all the paired bootstrap sees
    of a difference. With fewer than about ten of them the paired percentile
    interval is too narrow (it cannot resample a disagreement that was not
    observed; see the module docstring), so a report should show it.
    """

    baseline_rate: float | None
    new_rate: float | None
    difference: float | None
    baseline_members: int
    new_members: int
    paired: bool
    pairing: str
    worse: Worse
    margin: float
    confidence: float
    ci_low: float | None
    ci_high: float | None
    judgement: Judgement
    reason: str
    n_boot: int
    n_boot_defined: int
    discordant_rows: int | None = None
    method: str = PERCENTILE

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: plain floats, ints, strings and None (never NaN)."""
        return {key: _json(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class GroupComparison:
    """One figure for every group: per-group comparisons and the multiple-comparison adjustment.

    ``m`` is the number of judged groups (the family); ``adjusted_confidence`` is
    the level of each interval (``confidence`` itself when ``m`` is 0 or 1 or no
    correction is asked).
    """

    groups: dict[str, RateComparison]
    m: int
    confidence: float
    adjusted_confidence: float
    correction: Correction

    @property
    def judgement(self) -> Judgement:
        """The figure's overall verdict: worse if any group is, else inconclusive if any is, else no worse.

        "not judged" only when no group was judged.
        """
        verdicts = {c.judgement for c in self.groups.values()}
        order: tuple[Judgement, ...] = ("worse", "inconclusive", "no worse")
        for verdict in order:
            if verdict in verdicts:
                return verdict
        return "not judged"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, groups in their given order."""
        return {
            "judgement": self.judgement,
            "m": self.m,
            "confidence": self.confidence,
            "adjusted_confidence": self.adjusted_confidence,
            "correction": self.correction,
            "groups": {name: c.to_dict() for name, c in self.groups.items()},
        }


def compare_rate(
    *,
    baseline: RateData,
    new: RateData,
    worse: Worse,
    margin: float,
    n_boot: int = 2000,
    confidence: float = 0.95,
    random_state: int,
    min_group_size: int = 30,
) -> RateComparison:
    """Compare one figure of one group, new against baseline, and judge non-inferiority within ``margin``.

    Paired bootstrap when both audits have the same row ids, unpaired otherwise;
    a two-sided percentile interval of ``new - baseline`` at ``confidence``,
    judged against the margin as the module docstring says. ``random_state``
    seeds ``numpy.random.default_rng``: the same inputs and seed give the same
    result.
    """
    _check_options(worse=worse, margin=margin, n_boot=n_boot, confidence=confidence,
                   random_state=random_state, min_group_size=min_group_size)
    if not isinstance(baseline, RateData) or not isinstance(new, RateData):
        raise ValueError(f"{NOT_RATE_DATA}: got {type(baseline).__name__}, {type(new).__name__}")
    return _compare(baseline, new, worse=worse, margin=float(margin), n_boot=int(n_boot),
                    confidence=float(confidence), rng=np.random.default_rng(int(random_state)),
                    min_group_size=int(min_group_size))


def compare_groups(
    *,
    baseline: dict[str, RateData],
    new: dict[str, RateData],
    worse: Worse,
    margin: float,
    n_boot: int = 2000,
    confidence: float = 0.95,
    random_state: int,
    min_group_size: int = 30,
    correction: Correction = "bonferroni",
) -> GroupComparison:
    """Compare one figure for every group, each interval Bonferroni-adjusted over the judged groups.

    Groups are taken in the baseline's order, then any found only in the new
    audit; a group missing on one side is "not judged". Each group's bootstrap
    has its own generator stream, derived from ``random_state`` and the group's
    name, so a group's result does not depend on which other groups are
    compared (only, through ``m``, on how many are judged).
    """
    _check_options(worse=worse, margin=margin, n_boot=n_boot, confidence=confidence,
                   random_state=random_state, min_group_size=min_group_size)
    if correction not in ("bonferroni", "none"):
        raise ValueError(f"{CORRECTION_CHOICE}: got {correction!r}")
    for side in (baseline, new):
        if not isinstance(side, Mapping) or not all(
            isinstance(k, str) and isinstance(v, RateData) for k, v in side.items()
        ):
            raise ValueError(NOT_GROUPS)
    names = list(baseline) + [name for name in new if name not in baseline]
    judged = [
        name for name in names
        if name in baseline and name in new
        and min(baseline[name].members, new[name].members) >= min_group_size
    ]
    m = len(judged)
    adjusted = 1 - (1 - confidence) / m if correction == "bonferroni" and m > 0 else float(confidence)
    results: dict[str, RateComparison] = {}
    for name in names:
        base_data, new_data = baseline.get(name), new.get(name)
        if base_data is None or new_data is None:
            results[name] = _absent(base_data, new_data, worse=worse, margin=float(margin),
                                    confidence=adjusted, n_boot=int(n_boot))
            continue
        results[name] = _compare(base_data, new_data, worse=worse, margin=float(margin), n_boot=int(n_boot),
                                 confidence=adjusted, rng=_group_rng(int(random_state), name),
                                 min_group_size=int(min_group_size))
    return GroupComparison(groups=results, m=m, confidence=float(confidence), adjusted_confidence=adjusted,
                           correction=correction)


def _compare(
    baseline: RateData,
    new: RateData,
    *,
    worse: Worse,
    margin: float,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    min_group_size: int,
) -> RateComparison:
    order = pair_rows(baseline.ids, new.ids)
    paired = not isinstance(order, str)
    pairing = order if isinstance(order, str) else PAIRED
    cells = None
    if not isinstance(order, str):
        cells = paired_cells(baseline_value=baseline.value, baseline_member=baseline.member,
                             new_value=new.value, new_member=new.member, order=order)
    base_rate, new_rate = baseline.rate, new.rate
    unjudged = RateComparison(
        baseline_rate=base_rate,
        new_rate=new_rate,
        difference=None if base_rate is None or new_rate is None else new_rate - base_rate,
        baseline_members=baseline.members,
        new_members=new.members,
        paired=paired,
        pairing=pairing,
        worse=worse,
        margin=margin,
        confidence=confidence,
        ci_low=None,
        ci_high=None,
        judgement="not judged",
        reason="",
        n_boot=n_boot,
        n_boot_defined=0,
        discordant_rows=None if cells is None else discordant(cells),
    )
    short = _too_few(baseline.members, new.members, min_group_size)
    if short is not None:
        return replace(unjudged, reason=short)
    counts = draw(rng=rng, n_boot=n_boot, cells=cells, baseline=(baseline.ones, baseline.members),
                  new=(new.ones, new.members))
    diffs = counts.difference()
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        return replace(unjudged, reason=NO_DEFINED_RESAMPLE)
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(diffs, [tail, 1 - tail]))
    judgement, reason = _judge(low, high, worse=worse, margin=margin, confidence=confidence)
    return replace(unjudged, ci_low=low, ci_high=high, judgement=judgement, reason=reason,
                   n_boot_defined=int(diffs.size))


def _absent(
    baseline: RateData | None, new: RateData | None, *, worse: Worse, margin: float, confidence: float, n_boot: int
) -> RateComparison:
    """A group present in one audit only: its one figure is reported, nothing is judged."""
    side = "baseline" if baseline is None else "new"
    return RateComparison(
        baseline_rate=None if baseline is None else baseline.rate,
        new_rate=None if new is None else new.rate,
        difference=None,
        baseline_members=0 if baseline is None else baseline.members,
        new_members=0 if new is None else new.members,
        paired=False,
        pairing=ABSENT.format(side=side),
        worse=worse,
        margin=margin,
        confidence=confidence,
        ci_low=None,
        ci_high=None,
        judgement="not judged",
        reason=ABSENT.format(side=side),
        n_boot=n_boot,
        n_boot_defined=0,
    )


def _too_few(baseline_members: int, new_members: int, minimum: int) -> str | None:
    """Why a comparison cannot be judged for want of rows, or None."""
    reasons = []
    for side, count in (("baseline", baseline_members), ("new", new_members)):
        if count == 0:
            reasons.append(NO_MEMBERS.format(side=side))
        elif count < minimum:
            reasons.append(TOO_FEW.format(side=side, count=count, minimum=minimum))
    return "; ".join(reasons) if reasons else None


def _judge(low: float, high: float, *, worse: Worse, margin: float, confidence: float) -> tuple[Judgement, str]:
    """The verdict of an interval of new - baseline against the margin, and why, in words."""
    interval = f"the {confidence * 100:.4g} % interval of new - baseline, [{low:+.4f}, {high:+.4f}],"
    if worse == "lower":
        if low > -margin:
            return "no worse", f"{interval} lies above -{margin:g}: a drop as large as the margin is ruled out"
        if high < -margin:
            return "worse", f"{interval} lies below -{margin:g}: the new rate is lower by more than the margin allows"
        return "inconclusive", f"{interval} contains -{margin:g}: a drop beyond the margin is neither shown nor ruled out"
    if high < margin:
        return "no worse", f"{interval} lies below +{margin:g}: a rise as large as the margin is ruled out"
    if low > margin:
        return "worse", f"{interval} lies above +{margin:g}: the new rate is higher by more than the margin allows"
    return "inconclusive", f"{interval} contains +{margin:g}: a rise beyond the margin is neither shown nor ruled out"


def _group_rng(random_state: int, name: str) -> np.random.Generator:
    """A generator stream of its own for each group, from the seed and the group's name."""
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([random_state, digest]))


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_options(
    *, worse: object, margin: object, n_boot: object, confidence: object, random_state: object, min_group_size: object
) -> None:
    """Refuse arguments that would make the judgement meaningless, naming the argument."""
    if worse not in ("lower", "higher"):
        raise ValueError(f"{WORSE_CHOICE}: got {worse!r}")
    if not isinstance(margin, int | float) or isinstance(margin, bool) or not math.isfinite(margin) or not (
        0 <= margin < 1
    ):
        raise ValueError(f"{MARGIN_RANGE}: got {margin!r}")
    if not isinstance(confidence, int | float) or isinstance(confidence, bool) or not (0 < confidence < 1):
        raise ValueError(f"{CONFIDENCE_RANGE}: got {confidence!r}")
    if not _is_int(n_boot) or int(n_boot) < MIN_N_BOOT:  # type: ignore[call-overload]
        raise ValueError(f"{N_BOOT_MIN}: got {n_boot!r}")
    if not _is_int(random_state) or int(random_state) < 0:  # type: ignore[call-overload]
        raise ValueError(f"{RANDOM_STATE_TYPE}: got {random_state!r}")
    if not _is_int(min_group_size) or int(min_group_size) < 1:  # type: ignore[call-overload]
        raise ValueError(f"{MIN_GROUP_SIZE_MIN}: got {min_group_size!r}")


def _json(value: object) -> object:
    """A JSON-safe scalar: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
