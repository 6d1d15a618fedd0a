"""Fairness evidence (EU AI Act Art. 10(2)(f)(g), GDPR Art. 5(1)(a), NYC LL144, 29 CFR 1607.4(D)).

Produces ``fairness.selection_rate`` (every protected attribute, works from decisions alone),
``fairness.eeo_impact`` (the LL144 tables of the EEO categories: sex, race/ethnicity and their
intersection, declared by ``data.protected[].kind``), ``fairness.error_rates`` (needs labels),
``data.bias`` and ``data.proxies``;
sets ``ctx.proxies`` for the flip test. The statistics live in ``audit.fairness``.
"""

from __future__ import annotations

from audit.checks._base import CheckContext, Need
from audit.evidence import Evidence
from audit.subject import Subject

__all__ = ["run", "NEEDS"]

NEEDS: tuple[Need, ...] = ("protected",)  # labels too for error rates; the decisions alone for selection rates


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Every fairness and data-bias evidence item for the Subject."""
    from audit.checks._fairness_run import fairness_evidence

    return fairness_evidence(subject, ctx)
