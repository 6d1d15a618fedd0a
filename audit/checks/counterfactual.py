"""Counterfactual evidence: the flip test (disparate treatment) and recourse for adverse decisions.

Produces ``counterfactual.flip`` and ``counterfactual.recourse``; writes the
per-decision columns ``recourse`` and ``recourse_cost``. Reads
``ctx.proxies`` (from the fairness check) for the flip test's proxy
variant. Needs model access; the computation lives in ``audit.counterfactual``.
"""

from __future__ import annotations

from audit.checks._base import CheckContext, Need
from audit.evidence import Evidence
from audit.subject import Subject

__all__ = ["run", "NEEDS"]

NEEDS: tuple[Need, ...] = ("model",)  # the flip test also needs a protected attribute; recourse does not


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """The flip test and the recourse search, each as one Evidence."""
    from audit.checks._flip import flip_evidence
    from audit.checks._recourse import recourse_evidence

    return [flip_evidence(subject, ctx), recourse_evidence(subject, ctx)]
