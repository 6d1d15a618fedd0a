"""The headline figures of an audit that the history keeps beside its verdict (one number per figure, or None).

A figure not measured stays None (the history never writes 0 in its place). The list is short on purpose:
what a reader scanning the history needs to see move from one audit to the next; the whole evidence is in
each bundle's audit.json.
"""

from __future__ import annotations

from audit.evidence import AuditResult

__all__ = ["HEADLINE", "headline_figures"]

#: (evidence id, metric) of each headline figure, named "<evidence id>.<metric>" in the history.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("performance.overall", "accuracy"),
    ("performance.overall", "roc_auc"),
    ("fairness.selection_rate", "min_impact_ratio"),
    ("fairness.error_rates", "primary_metric_value"),
    ("counterfactual.flip", "max_flip_rate"),
    ("counterfactual.recourse", "coverage"),
    ("local.shap", "coverage"),
    ("robustness.perturbation", "flip_rate_noise_max"),
)


def headline_figures(result: AuditResult) -> dict[str, float | None]:
    """Each headline figure of ``result`` as a float, None where the evidence or the figure is missing."""
    by_id = result.evidence_by_id()
    out: dict[str, float | None] = {}
    for evidence_id, metric in HEADLINE:
        evidence = by_id.get(evidence_id)
        value = evidence.metrics.get(metric) if evidence is not None else None
        out[f"{evidence_id}.{metric}"] = (float(value) if isinstance(value, int | float) and not isinstance(value, bool)
                                          else None)
    return out
