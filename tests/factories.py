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

__all__ = ["make_evidence", "all_evidence", "neutral_metrics", "passing_evidence", "PASSING", "apply_changes"]

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


# Evidence the checks produce (ids and metrics from the registry), with values that meet every threshold at its
# reference value; the metrics not named here get the factory's neutral values.
PASSING: dict[str, dict[str, Any]] = {
    "data.profile": {"rows": 1000, "features": 20, "protected_attributes": "sex", "missing_share": 0.0,
                     "columns_with_missing": 0, "duplicate_rows": 0, "positive_label_rate": 0.3},
    "data.bias": {"max_base_rate_gap": 0.05, "max_base_rate_gap_between": "female / male",
                  "max_base_rate_gap_p_value": 0.2, "max_missingness_gap": 0.0, "max_missingness_feature": "income",
                  "smallest_group_share": 0.1, "smallest_group": "female"},
    "data.proxies": {"max_cramers_v": 0.1, "strongest_proxy": "job ~ sex", "n_strong_proxies": 0,
                     "proxy_auc_max": 0.55, "proxy_auc_max_attribute": "sex", "protected_used_as_feature": False,
                     "special_category_used_as_feature": False,
                     "special_category_feature_without_basis": False, "special_category_feature_outside_22_4": False},
    "performance.overall": {"n": 1000, "accuracy": 0.8, "balanced_accuracy": 0.78, "roc_auc": 0.85,
                            "roc_auc_below_chance": False, "brier": 0.15, "max_group_accuracy_gap": 0.03,
                            "positive_decision_rate": 0.4, "positive_label_rate": 0.3},
    "fairness.selection_rate": {"favourable_decision": "positive", "rate_kind": "selection", "min_impact_ratio": 0.9,
                                "min_impact_ratio_group": "female", "min_impact_ratio_ci_low": 0.8,
                                "min_impact_ratio_ci_high": 1.0, "min_impact_ratio_p_value": 0.4,
                                "n_groups_excluded": 0, "unknown_count": 0, "median_score": None},
    "fairness.eeo_impact": {"rate_kind": "selection", "breakdowns": "sex; race; sex x race", "sex_reported": True,
                            "race_ethnicity_reported": True, "intersection_reported": True, "min_impact_ratio": 0.9,
                            "min_impact_ratio_group": "female", "min_impact_ratio_ci_low": 0.8,
                            "min_impact_ratio_ci_high": 1.0, "min_impact_ratio_p_value": 0.4,
                            "min_attribute_impact_ratio": 0.9, "min_attribute_impact_ratio_group": "female",
                            "min_attribute_impact_ratio_ci_low": 0.8, "min_attribute_impact_ratio_ci_high": 1.0,
                            "min_attribute_impact_ratio_p_value": 0.4, "n_applicants": 1000,
                            "unknown_count": 0, "n_excluded": 0},
    "fairness.error_rates": {"demographic_parity_difference": 0.03, "equalized_odds_difference": 0.04,
                             "equal_opportunity_difference": 0.03, "false_positive_rate_difference": 0.02,
                             "predictive_parity_difference": 0.02, "demographic_parity_ratio": 0.92,
                             "max_ece_gap": 0.02, "theil_index": 0.1, "consistency": 0.9,
                             "primary_metric": "equal_opportunity_difference", "primary_metric_value": 0.03,
                             "primary_metric_reason": "the positive decision favours the person"},
    "importance.shap": {"method": "tree", "output_space": "log-odds", "max_additivity_error": 1e-9, "n_rows": 1000,
                        "top_feature": "duration", "n_features": 20, "precision": "float64"},
    "local.shap": {"n_explained": 1000, "n_adverse": 300, "adverse_without_reason": 0, "coverage": 1.0,
                   "max_reasons": 4, "additivity_error_max": 1e-9, "adverse_citing_protected": 0, "method": "tree",
                   "output_space": "log-odds", "reason_stability": 0.95, "reason_stability_n": 300},
    "local.lime": {"sample_size": 200, "fidelity_r2_median": 0.8, "fidelity_r2_p10": 0.6,
                   "stability_topk_overlap": 0.9, "lime_shap_rank_correlation": 0.8, "lime_shap_topk_overlap": 0.75},
    "counterfactual.flip": {"max_flip_rate": 0.0, "max_flip_rate_direct": 0.0, "max_flip_rate_with_proxies": 0.005,
                            "attribute_max_flip": None, "n_rows": 1000},
    "counterfactual.recourse": {"n_adverse": 300, "coverage": 0.95, "n_no_recourse": 15, "validity": 1.0,
                                "n_withdrawn": 0, "immutable_violations": 0, "increase_only_violations": 0,
                                "outside_observed_values": 0, "mean_features_changed": 1.5, "recourse_gap_max": 0.3},
    "robustness.perturbation": {"flip_rate_noise_max": 0.01, "noise_level_max": 0.1, "flip_rate_missing": 0.02,
                                "n_rows": 1000},
}


def passing_evidence(overrides: dict[str, dict[str, Any]] | None = None) -> list[Evidence]:
    """One evidence item of every registered kind at the PASSING values, with per-kind overrides."""
    merged = {eid: {**PASSING.get(eid, {}), **(overrides or {}).get(eid, {})} for eid in REGISTRY}
    return all_evidence(merged)


def apply_changes(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set the spec's dotted keys ("images.sample": 48) in place; None removes the key. Returns ``spec``."""
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return spec
