"""Hand-made evidence for tests of the policy engine, the report and JUnit: complete, typed, registered.

Every Evidence must carry exactly the metrics its kind declares (audit/evidence_kinds.py).
:func:`make_evidence` fills the metrics a test does not care about with neutral
values of the right type (counts 1, figures 0.5, labels "x", flags False), so a test
states only the figures it is about. A test that needs a metric unmeasured passes
``None`` and, if it cares, its reason in ``missing``.
"""

from __future__ import annotations

from typing import Any

from audit.evidence import Evidence, EvidenceStatus
from audit.evidence_kinds import REGISTRY, metric_info

__all__ = ["make_evidence", "all_evidence", "neutral_metrics"]

_NEUTRAL = {"count": 1, "figure": 0.5, "label": "x", "flag": False}


def neutral_metrics(evidence_id: str) -> dict[str, Any]:
    """Every metric of a kind at a neutral value of its type."""
    out: dict[str, Any] = {}
    for name in REGISTRY[evidence_id].model_fields:
        info = metric_info(evidence_id, name)
        assert info is not None
        out[name] = _NEUTRAL[info.role]
    return out


def make_evidence(evidence_id: str, *, missing: dict[str, str] | None = None, partial: dict[str, str] | None = None,
                  **metrics: Any) -> Evidence:
    """A valid Evidence of ``evidence_id`` with ``metrics`` over the neutral ones."""
    check = evidence_id.split(".")[0]
    return Evidence(id=evidence_id, check=check, title=f"Test evidence {evidence_id}",
                    metrics={**neutral_metrics(evidence_id), **metrics}, missing=missing or {}, partial=partial or {})


def all_evidence(overrides: dict[str, dict[str, Any]] | None = None, *, drop: tuple[str, ...] = (),
                 not_assessed: tuple[str, ...] = ()) -> list[Evidence]:
    """One evidence item of every registered kind, with per-kind metric overrides."""
    out = []
    for evidence_id in REGISTRY:
        if evidence_id in drop:
            continue
        if evidence_id in not_assessed:
            out.append(Evidence(id=evidence_id, check=evidence_id.split(".")[0], title="t",
                                status=EvidenceStatus.NOT_ASSESSED, reason="no model access"))
            continue
        out.append(make_evidence(evidence_id, **(overrides or {}).get(evidence_id, {})))
    return out
