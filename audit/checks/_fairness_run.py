"""All fairness evidence of one Subject, in order, each timed; the proxy screen's findings passed on in ``ctx.proxies``."""

from __future__ import annotations

import time
from collections.abc import Callable

from audit.checks import _class_rates as class_rates
from audit.checks import _databias as databias
from audit.checks import _eeo as eeo
from audit.checks import _error_rates as error_rates
from audit.checks import _proxies as proxies
from audit.checks import _selection as selection
from audit.checks._base import CheckContext
from audit.errors import FAIRNESS_NO_PROTECTED
from audit.evidence import Evidence
from audit.fairness.groups import build_breakdowns
from audit.subject import Subject

__all__ = ["fairness_evidence", "EVIDENCE_IDS"]

EVIDENCE_IDS = {
    selection.EVIDENCE_ID: ("fairness", selection.TITLE),
    eeo.EVIDENCE_ID: ("fairness", eeo.TITLE),
    class_rates.EVIDENCE_ID: ("fairness", class_rates.TITLE),
    error_rates.EVIDENCE_ID: ("fairness", error_rates.TITLE),
    databias.EVIDENCE_ID: ("data", databias.TITLE),
    proxies.EVIDENCE_ID: ("data", proxies.TITLE),
}


def fairness_evidence(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Selection rates, EEO impact ratios, error rates, data bias and the proxy screen; sets ``ctx.proxies``."""
    if not subject.protected:
        ctx.proxies = None  # no screen ran: the flip test must not read "no proxies"
        return [
            Evidence.not_assessed(i, check, title, FAIRNESS_NO_PROTECTED) for i, (check, title) in EVIDENCE_IDS.items()
        ]
    breakdowns = build_breakdowns(
        subject.groups, ctx.spec.fairness.intersections, spec_path=ctx.spec.source or "audit.yaml"
    )
    found: dict[str, list[str]] = {}

    def screen() -> Evidence:
        evidence, strong = proxies.proxy_evidence(subject, ctx)
        found.update(strong)
        return evidence

    steps: list[Callable[[], Evidence]] = [
        lambda: selection.selection_evidence(subject, ctx, breakdowns),
        lambda: eeo.eeo_evidence(subject, ctx),
        lambda: class_rates.class_rate_evidence(subject, ctx, breakdowns),
        lambda: error_rates.error_rate_evidence(subject, ctx, breakdowns),
        lambda: databias.data_bias_evidence(subject, ctx, breakdowns),
        screen,
    ]
    out = []
    for step in steps:
        started = time.perf_counter()
        evidence = step()
        evidence.seconds = round(time.perf_counter() - started, 3)
        out.append(evidence)
    ctx.proxies = found
    return out
