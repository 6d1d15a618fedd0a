"""Evidence ``oversight.decision_log``: what people did with the system's decisions (AI Act Art. 14, GDPR 22(3)).

With ``data.decision_log``, per decision: the final decision the person got, and whether they appealed and the
appeal changed it. Reported overall and by group of each protected attribute, with 95 % bootstrap intervals:
the override rate (final differs from the system's decision), split into adverse decisions turned favourable and
favourable ones turned adverse, the appeal rate and the share of appeals that changed the decision. An override
rate near zero can mean automation bias as much as a good system; a rate that differs between groups means people
correct the system more for some than for others. Nothing here decides a requirement: the figures are shown to
the person who attests the oversight and appeal routes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext, Need
from audit.checks._common import pct
from audit.counterfactual._bootstrap import proportion_ci
from audit.evidence import Evidence, Table
from audit.models import value_text
from audit.subject import MISSING_GROUP, Subject, yes_no

__all__ = ["run", "NEEDS", "DECISION_LOG_ID", "NO_LOG", "SALT"]

NEEDS: tuple[Need, ...] = ()  # the data alone
DECISION_LOG_ID = "oversight.decision_log"
TITLE = "Human oversight in practice: overrides and appeals (Art. 14, GDPR Art. 22(3))"
NO_LOG = "the data carries no final human decisions (data.decision_log)"
SALT = 5301


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Override and appeal rates overall and by group; not assessed without a decision log."""
    log = subject.spec.data.decision_log
    if log is None:
        return [Evidence.not_assessed(DECISION_LOG_ID, "oversight", TITLE, NO_LOG)]
    started = time.perf_counter()
    frame = subject.frame  # its decision-log columns were checked when the Subject was loaded
    recorded = frame[log.final_decision].notna().to_numpy()
    wanted = {value_text(v) for v in log.final_positive_values}
    final_positive = frame[log.final_decision].map(lambda v: not pd.isna(v) and value_text(v) in wanted).to_numpy(bool)
    system_positive = np.asarray(subject.predictions.decision, dtype=bool)
    positive_favours = subject.favourable_is_positive
    system_fav = system_positive if positive_favours else ~system_positive
    final_fav = final_positive if positive_favours else ~final_positive
    changed = recorded & (final_fav != system_fav)
    appealed = yes_no(frame[log.appealed], path=subject.data_path, allow_missing=False) if log.appealed else None
    appeal_changed = (yes_no(frame[log.appeal_changed], path=subject.data_path, allow_missing=True)
                      if log.appeal_changed else None)
    n_boot = ctx.spec.fairness.bootstrap
    rng = ctx.rng(SALT)

    def rate(hits: np.ndarray, within: np.ndarray) -> tuple[float | None, float | None, float | None, int]:
        n = int(within.sum())
        k = int((hits & within).sum())
        low, high = proportion_ci(k, n, rng=rng, n_boot=n_boot)
        return (k / n if n else None), low, high, n

    def group_log(label: str, attribute: str, inside: np.ndarray) -> _GroupLog:
        base = inside & recorded
        override, low, high, n = rate(changed, base)
        appeal = rate(appealed, base) if appealed is not None else None
        return _GroupLog(
            attribute=attribute, group=label, decisions=n, override=override, override_ci=_ci(low, high),
            to_favourable=rate(changed, base & ~system_fav)[0], to_adverse=rate(changed, base & system_fav)[0],
            appeal=appeal[0] if appeal else None, appeal_ci=_ci(appeal[1], appeal[2]) if appeal else None,
            appeal_changed=(rate(appeal_changed, base & appealed)[0]
                            if appealed is not None and appeal_changed is not None else None))

    overall = group_log("everyone", "all", np.ones(subject.n, dtype=bool))
    logs = [overall]
    override_gaps: list[tuple[float, str]] = []
    appeal_gaps: list[float] = []
    min_size = ctx.spec.fairness.min_group_size
    for attribute in subject.groups.columns:
        labels = subject.groups[attribute].to_numpy(dtype=object)
        groups = [group_log(str(g), str(attribute), labels == g) for g in sorted(set(labels)) if g != MISSING_GROUP]
        logs += groups
        eligible = [g for g in groups if g.decisions >= min_size]
        overrides = [(g.override, g.group) for g in eligible if g.override is not None]
        if len(overrides) >= 2:
            (hi, hi_group), (lo, lo_group) = max(overrides), min(overrides)
            override_gaps.append((hi - lo, f"{attribute}: {hi_group} vs {lo_group}"))
        appeals = [g.appeal for g in eligible if g.appeal is not None]
        if len(appeals) >= 2:
            appeal_gaps.append(max(appeals) - min(appeals))
    top = max(override_gaps) if override_gaps else None
    appeal_rate = overall.appeal
    metrics: dict[str, float | int | str | None] = {
        "n_decisions": int(recorded.sum()),
        "override_rate": overall.override,
        "override_to_favourable_rate": overall.to_favourable,
        "override_to_adverse_rate": overall.to_adverse,
        "max_override_rate_gap": top[0] if top else None,
        "max_override_rate_gap_between": top[1] if top else None,
        "appeal_rate": appeal_rate,
        "appeal_change_rate": overall.appeal_changed,
        "max_appeal_rate_gap": max(appeal_gaps) if appeal_gaps else None,
    }
    rows = [g.row(appeals=appealed is not None, changes=appeal_changed is not None) for g in logs]
    summary = (f"People changed {pct(overall.override)} of the system's {int(recorded.sum()):,} "
               f"decisions ({pct(overall.to_favourable)} of its adverse decisions turned "
               f"favourable, {pct(overall.to_adverse)} of its favourable ones turned adverse)"
               + (f"; the override rate differs by up to {top[0]:.1%} between groups ({top[1]})" if top else "")
               + (f"; {pct(appeal_rate)} of decisions were contested" if appeal_rate is not None else "") + ".")
    return [Evidence(
        id=DECISION_LOG_ID, check="oversight", title=TITLE, summary=summary, metrics=metrics,
        tables=[Table.from_records("Overrides and appeals by group", rows)],
        method=(f"The system's decision is {'the model' if subject.has_model else 'the decision column'}'s; the final "
                f"decision is column '{log.final_decision}' (positive: {', '.join(sorted(wanted))}). An override is a "
                "final decision on the other side of favourable than the system's. Rates are over the decisions with "
                f"a final decision recorded; intervals are percentile bootstrap 95 % ({n_boot} resamples). Gaps "
                f"compare groups of at least {min_size} decisions."),
        limits=["The log shows what people did, not whether they were right: a low override rate can mean a good "
                "system or automation bias, a high one a poor system or reviewers who second-guess it.",
                "Appeals depend on who knows they can appeal and can afford to; a low appeal rate is not consent."],
        params={"seed": ctx.seed, "rng_salt": SALT, "bootstrap": n_boot, "min_group_size": min_size},
        seconds=time.perf_counter() - started,
    )]


@dataclass(frozen=True)
class _GroupLog:
    """Overrides and appeals of one group (or of everyone): rates None where the group has no such decision."""

    attribute: str
    group: str
    decisions: int
    override: float | None
    override_ci: str
    to_favourable: float | None
    to_adverse: float | None
    appeal: float | None
    appeal_ci: str | None
    appeal_changed: float | None

    def row(self, *, appeals: bool, changes: bool) -> dict[str, object]:
        """The group's row of the table (appeal columns only when the data has appeals)."""
        out: dict[str, object] = {"attribute": self.attribute, "group": self.group, "decisions": self.decisions,
                                  "override rate": self.override, "95 % CI": self.override_ci,
                                  "adverse → favourable": self.to_favourable,
                                  "favourable → adverse": self.to_adverse}
        if appeals:
            out |= {"appeal rate": self.appeal, "appeal 95 % CI": self.appeal_ci}
            if changes:
                out["appeals that changed the decision"] = self.appeal_changed
        return out


def _ci(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{low:.3f} – {high:.3f}"

