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

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext, Need
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

    def row(label: str, attribute: str, inside: np.ndarray) -> dict[str, object]:
        base = inside & recorded
        o, o_low, o_high, n = rate(changed, base)
        to_fav, _, _, n_adverse = rate(changed, base & ~system_fav)
        to_adv, _, _, n_fav = rate(changed, base & system_fav)
        out: dict[str, object] = {"attribute": attribute, "group": label, "decisions": n, "override rate": o,
                                  "95 % CI": _ci(o_low, o_high), "adverse → favourable": to_fav,
                                  "favourable → adverse": to_adv}
        if appealed is not None:
            a, a_low, a_high, _ = rate(appealed, base)
            out |= {"appeal rate": a, "appeal 95 % CI": _ci(a_low, a_high)}
            if appeal_changed is not None:
                out["appeals that changed the decision"] = rate(appeal_changed, base & appealed)[0]
        return out

    rows = [row("everyone", "all", np.ones(subject.n, dtype=bool))]
    gaps: list[tuple[float, str, str]] = []
    min_size = ctx.spec.fairness.min_group_size
    for attribute in subject.groups.columns:
        labels = subject.groups[attribute].to_numpy(dtype=object)
        group_rows = [row(str(g), str(attribute), labels == g) for g in sorted(set(labels)) if g != MISSING_GROUP]
        rows += group_rows
        for key, name in (("override rate", "override"), ("appeal rate", "appeal")):
            eligible = [r for r in group_rows if isinstance(r.get(key), float) and int(r["decisions"]) >= min_size]  # type: ignore[call-overload]
            if len(eligible) >= 2:
                hi = max(eligible, key=lambda r: r[key])  # type: ignore[arg-type, return-value]
                lo = min(eligible, key=lambda r: r[key])  # type: ignore[arg-type, return-value]
                gaps.append((float(hi[key]) - float(lo[key]), name,  # type: ignore[arg-type]
                             f"{attribute}: {hi['group']} vs {lo['group']}"))
    overall = rows[0]
    override_gaps = [g for g in gaps if g[1] == "override"]
    appeal_gaps = [g for g in gaps if g[1] == "appeal"]
    top = max(override_gaps) if override_gaps else None
    appeal_rate = overall.get("appeal rate")
    metrics: dict[str, float | int | str | None] = {
        "n_decisions": int(recorded.sum()),
        "override_rate": _float(overall["override rate"]),
        "override_to_favourable_rate": _float(overall["adverse → favourable"]),
        "override_to_adverse_rate": _float(overall["favourable → adverse"]),
        "max_override_rate_gap": top[0] if top else None,
        "max_override_rate_gap_between": top[2] if top else None,
        "appeal_rate": _float(appeal_rate),
        "appeal_change_rate": _float(overall.get("appeals that changed the decision")),
        "max_appeal_rate_gap": max(appeal_gaps)[0] if appeal_gaps else None,
    }
    summary = (f"People changed {_pct(metrics['override_rate'])} of the system's {int(recorded.sum()):,} "
               f"decisions ({_pct(metrics['override_to_favourable_rate'])} of its adverse decisions turned "
               f"favourable, {_pct(metrics['override_to_adverse_rate'])} of its favourable ones turned adverse)"
               + (f"; the override rate differs by up to {top[0]:.1%} between groups ({top[2]})" if top else "")
               + (f"; {_pct(appeal_rate)} of decisions were contested" if appeal_rate is not None else "") + ".")
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


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ci(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{low:.3f} – {high:.3f}"


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "not measured"
