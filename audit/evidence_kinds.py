"""The registry of evidence kinds: one typed model per evidence id, naming every metric with its type and unit.

A check may only emit the metrics its kind declares, each of the declared type.
Every metric has a *role*:

- ``figure``: a measurement (a rate, a ratio, an error). ``None`` when it was not
  measured, with the reason in ``Evidence.missing`` (never 0 or False in its place).
- ``count``: how many of something the check saw. Always known when the evidence
  exists, so a rule may compare it but may not treat its presence as evidence.
- ``label``: a name or a choice (the worst group, the method used). ``None`` when
  nothing was found or decided, with the reason.
- ``flag``: a yes/no finding. ``None`` when it could not be determined, with the reason.

``policies.py`` checks every rule of every pack against this registry when the pack
loads (an unknown evidence id or metric, or a ``present`` rule on a count, is an
error), and ``evidence.py`` validates every Evidence against its kind.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MetricRole", "MetricInfo", "EvidenceMetrics", "REGISTRY", "metric_info", "kind_of"]

MetricRole = Literal["figure", "count", "label", "flag"]


class MetricInfo(BaseModel):
    """What the registry says about one metric."""

    name: str
    role: MetricRole
    unit: str
    description: str
    missing: str | None  # the usual reason it is None (figures, labels, flags)


def _extra(role: MetricRole, unit: str, missing: str | None) -> dict[str, Any]:
    return {"role": role, "unit": unit, **({"missing": missing} if missing else {})}


def figure(description: str, *, unit: str, missing: str) -> Any:
    """A measured number; ``missing`` is the usual reason it could not be measured."""
    return Field(description=description, json_schema_extra=_extra("figure", unit, missing))


def count(description: str) -> Any:
    """A count that always exists when the evidence does."""
    return Field(ge=0, description=description, json_schema_extra=_extra("count", "count", None))


def label(description: str, *, missing: str) -> Any:
    """A name or choice; ``missing`` is why there may be none."""
    return Field(description=description, json_schema_extra=_extra("label", "text", missing))


def flag(description: str, *, missing: str) -> Any:
    """A yes/no finding; ``missing`` is why it may be undeterminable."""
    return Field(description=description, json_schema_extra=_extra("flag", "yes/no", missing))


class EvidenceMetrics(BaseModel):
    """Base of every kind: no undeclared metric, every declared one given (None allowed where typed so)."""

    model_config = ConfigDict(extra="forbid", strict=False)


# ----------------------------------------------------------------------------------------- data

class DataProfile(EvidenceMetrics):
    rows: int = count("decisions in the audit data")
    features: int = count("model input columns (or, without a model, the columns that are not id, target, decision or protected)")
    protected_attributes: str | None = label("protected attributes declared, comma-separated",
                                             missing="no protected attribute is declared in data.protected")
    missing_share: float | None = figure("share of feature values that are missing", unit="share",
                                         missing="the data has no feature columns")
    columns_with_missing: int = count("feature columns with at least one missing value")
    duplicate_rows: int = count("rows identical to an earlier row in every column but the id")
    positive_label_rate: float | None = figure("share of rows whose ground truth is the positive label", unit="share",
                                               missing="the data holds no ground-truth labels (data.target)")


class DataBias(EvidenceMetrics):
    max_base_rate_gap: float | None = figure("largest gap in the positive-label rate between comparable groups",
                                             unit="share", missing="no labels, or fewer than two comparable groups")
    max_base_rate_gap_between: str | None = label("the two groups of that gap", missing="no gap was measured")
    max_base_rate_gap_p_value: float | None = figure("two-sided test of that gap", unit="p-value",
                                                     missing="no gap was measured")
    max_missingness_gap: float | None = figure("largest gap between groups in the share of a feature missing",
                                               unit="share", missing="fewer than two comparable groups")
    max_missingness_feature: str | None = label("the feature of that gap", missing="no feature has missing values")
    smallest_group_share: float | None = figure("share of the data in the smallest known group", unit="share",
                                                missing="no group is known")
    smallest_group: str | None = label("the smallest known group", missing="no group is known")


class DataDrift(EvidenceMetrics):
    n_features_tested: int = count("input features whose two-sample test could be run")
    n_drifted: int = count("features whose distribution differs from the reference (Benjamini-Hochberg adjusted "
                           "p below alpha)")
    drifted_features: str | None = label("the features that drifted", missing="no feature drifted")
    max_psi: float | None = figure("largest population stability index of a feature (information only: the "
                                   "0.1 / 0.25 conventions are rules of thumb)", unit="PSI",
                                   missing="no feature could be binned")
    max_psi_feature: str | None = label("that feature", missing="no feature could be binned")
    max_group_share_change: float | None = figure(
        "largest change in a protected group's share of the data (current minus reference)", unit="share",
        missing="no protected attribute declared")
    max_group_share_change_group: str | None = label("that group", missing="no protected attribute declared")
    min_group_share_p_adjusted: float | None = figure(
        "smallest Benjamini-Hochberg adjusted p-value of the chi-squared tests of group shares, over the protected "
        "attributes", unit="p-value", missing="no protected attribute could be tested")
    n_reference: int = count("rows of the reference data")


class DataProxies(EvidenceMetrics):
    max_cramers_v: float | None = figure("strongest association (Cramér's V) of a feature with a protected attribute",
                                         unit="0-1", missing="no feature column to screen")
    strongest_proxy: str | None = label("the feature and attribute of that association", missing="no feature column to screen")
    n_strong_proxies: int = count("features whose Cramér's V with a protected attribute is at or above the reference "
                                  "value proxy_strength (shown in the table)")
    proxy_auc_max: float | None = figure("highest ROC AUC of a model predicting a protected attribute from the features",
                                         unit="0-1", missing="too few rows of some group to train and test")
    proxy_auc_max_attribute: str | None = label("the attribute best predicted", missing="no proxy AUC was measured")
    protected_used_as_feature: bool | None = flag("a protected attribute is a model input",
                                                  missing="no model access: the model's inputs are unknown")
    special_category_used_as_feature: bool | None = flag(
        "an attribute declared a special category (GDPR Art. 9(1)) is a model input",
        missing="no model access (the model's inputs are unknown), or no protected attribute is declared a special "
                "category (data.protected[].special_category)")
    special_category_feature_without_basis: bool | None = flag(
        "a special-category attribute is a model input with no GDPR Art. 9(2) basis recorded "
        "(data.protected[].art9_basis)",
        missing="no model access (the model's inputs are unknown), or no protected attribute is declared a special "
                "category (data.protected[].special_category)")
    special_category_feature_outside_22_4: bool | None = flag(
        "decisions are solely automated and a special-category input rests on a basis other than Art. 9(2)(a) "
        "explicit consent or 9(2)(g) substantial public interest (GDPR Art. 22(4))",
        missing="no model access, no special category declared, or the spec does not say whether decisions are "
                "solely automated (system.solely_automated)")


# ----------------------------------------------------------------------------------------- performance

class PerformanceOverall(EvidenceMetrics):
    n: int = count("decisions compared with their labels")
    accuracy: float | None = figure("share of decisions that agree with the actual outcome", unit="share",
                                    missing="no decisions to compare")
    balanced_accuracy: float | None = figure("mean of the true-positive and true-negative rates", unit="share",
                                             missing="the labels hold only one outcome")
    roc_auc: float | None = figure("how well the scores rank actual outcomes (0.5 = chance)", unit="0-1",
                                   missing="no scores, or the labels hold only one outcome")
    roc_auc_below_chance: bool | None = flag(
        "the scores rank outcomes worse than chance: decisions may be inverted (check model.positive_class and "
        "data.positive_label)", missing="no ROC AUC was measured")
    brier: float | None = figure("mean squared error of the probability of the positive decision", unit="0-1",
                                 missing="no scores, or the scores are not probabilities in [0, 1]")
    true_positives: int = count("positive decisions whose label is positive")
    false_positives: int = count("positive decisions whose label is negative")
    true_negatives: int = count("negative decisions whose label is negative")
    false_negatives: int = count("negative decisions whose label is positive")
    max_group_accuracy_gap: float | None = figure("largest accuracy gap between groups of the minimum size",
                                                  unit="share", missing="fewer than two groups of the minimum size")
    positive_decision_rate: float = figure("share of positive decisions", unit="share", missing="")
    positive_label_rate: float = figure("share of positive labels", unit="share", missing="")


# ----------------------------------------------------------------------------------------- explanations

_SHAP_EXACT_MISSING = "the explainer is not exact (KernelSHAP sums to the output by construction, so the sum shows nothing)"


class ImportanceShap(EvidenceMetrics):
    method: str = label("the attribution method", missing="")
    output_space: str = label("the unit of contributions (log-odds, probability)", missing="")
    max_additivity_error: float | None = figure(
        "largest gap between the sum of contributions and the model's own output, for an exact explainer",
        unit="model output", missing=_SHAP_EXACT_MISSING)
    n_rows: int = count("decisions audited")
    n_explained: int = count("decisions explained (fewer than n_rows only when the explainer's time budget, "
                             "explanations.kernel_budget_seconds, fitted a seeded sample); the mean |contribution| is "
                             "over these")
    top_feature: str | None = label("the feature with the largest mean |contribution|", missing="no feature")
    n_features: int = count("features in the user's columns")
    precision: str = label("floating-point precision of the explainer", missing="")


class ImportancePermutation(EvidenceMetrics):
    n_repeats: int = count("shuffles per feature")
    n_rows: int = count("rows in the seeded sample")
    scoring: str = label("the score whose drop is measured", missing="")
    baseline_score: float | None = figure("that score before shuffling", unit="0-1", missing="the score is undefined")
    top_feature: str | None = label("the feature whose shuffling hurts most", missing="no feature")


class ImportanceSurrogate(EvidenceMetrics):
    fidelity: float | None = figure("agreement of the surrogate tree with the model on held-out rows", unit="share",
                                    missing="too few rows to hold some out")
    depth: int = count("depth of the tree")
    n_rules: int = count("leaves of the tree")
    baseline_agreement: float | None = figure("agreement of always giving the most common decision", unit="share",
                                              missing="too few rows to hold some out")
    n_test: int = count("held-out rows")


class LocalTokens(EvidenceMetrics):
    column: str = label("the free-text column attributed", missing="")
    method: str = label("the token attribution method", missing="")
    n_explained: int = count("decisions whose tokens were attributed")
    n_tokens: int = count("tokens in the model's vocabulary for that column")
    additivity_error_max: float | None = figure(
        "largest gap between the tokens' attributions plus the other inputs and intercept and the model's output",
        unit="log-odds", missing="no decision")
    adverse_without_token_reason: int = count("adverse decisions with no word that moved the score towards them")
    comprehensiveness: float | None = figure(
        "mean drop of the probability of the decision taken when the decision's top words are deleted (ERASER)",
        unit="probability", missing="the texts cannot be edited token by token, or no sampled decision has a reason")
    sufficiency: float | None = figure(
        "mean drop of that probability when only the top words are kept (ERASER; lower = they suffice)",
        unit="probability", missing="as comprehensiveness")
    random_comprehensiveness: float | None = figure(
        "the same drop when as many of the text's own words, drawn at random, are deleted (the baseline)",
        unit="probability", missing="as comprehensiveness")
    random_sufficiency: float | None = figure("the same as sufficiency for random words", unit="probability",
                                              missing="as comprehensiveness")
    faithfulness_rows: int = count("decisions in the faithfulness sample with at least one token reason")
    lime_agreement: float | None = figure(
        "mean share of a decision's exact top words that LIME's text explainer also ranks among its top words "
        "(a seeded sample of decisions)", unit="share", missing="no sampled decision has a token reason")
    lime_same_first: float | None = figure("share of those decisions whose first word is LIME's first",
                                           unit="share", missing="no sampled decision has a token reason")
    lime_rows: int = count("decisions cross-checked with LIME")
    top_token_raising: str | None = label("the word that raises the score most over all decisions",
                                          missing="no word raises the score")
    top_token_lowering: str | None = label("the word that lowers the score most over all decisions",
                                           missing="no word lowers the score")


class LocalImageMaps(EvidenceMetrics):
    n_images: int = count("decisions in the seeded sample whose maps were computed and checked")
    methods_checked: int = count("attribution methods run (the constant control not counted)")
    methods_kept: int = count("methods that passed both checks (only their maps are drawn)")
    kept_methods: str | None = label("the methods that passed both checks", missing="no method passed both checks")
    control_rejected: bool = Field(
        description="whether the randomisation test rejected the constant control map (it must: otherwise the test "
                    "does not discriminate on this model)", json_schema_extra=_extra("flag", "yes/no", None))
    gradcam_spearman: float | None = figure(
        "Grad-CAM: mean Spearman correlation of |map| with every listed layer re-drawn (lower: the map depends on "
        "the weights)", unit="-1 to 1", missing="no layer named for Grad-CAM (images.layer)")
    ig_spearman: float | None = figure("the same for Integrated Gradients", unit="-1 to 1", missing="not run")
    saliency_spearman: float | None = figure("the same for saliency", unit="-1 to 1", missing="not run")
    ig_completeness_gap: float | None = figure(
        "largest |sum of an Integrated Gradients map - (f(x) - f(baseline))| over the sample (integration error)",
        unit="model score (log-odds for logits)", missing="not run")
    maps_model: str = label("which model the maps were computed on", missing="")


class ImportancePdp(EvidenceMetrics):
    features: str | None = label("features shown", missing="no feature")
    n_rows: int = count("rows in the seeded sample")
    max_range: float | None = figure("largest change of the average score over one feature's values",
                                     unit="score (0-1 for probabilities)",
                                     missing="no feature")


class LocalShap(EvidenceMetrics):
    n_explained: int = count("decisions whose contributions are finite")
    n_adverse: int = count("adverse decisions (the decision that does not favour the person)")
    adverse_without_reason: int = count("adverse decisions with no detail that moved the score towards them")
    coverage: float | None = figure(
        "share of decisions with an explanation a person can use: explained, and for an adverse decision at least "
        "one principal reason", unit="share",
        missing="no decisions, or some decisions were not explained (the explainer's time budget)")
    n_unexplained: int = count("decisions left without contributions by the explainer's time budget "
                               "(explanations.kernel_budget_seconds)")
    coverage_explained: float | None = figure(
        "coverage among the decisions explained (equal to coverage when every decision was explained)", unit="share",
        missing="no decision was explained")
    max_reasons: int = count("most principal reasons given for one decision")
    additivity_error_max: float | None = figure(
        "largest gap between the sum of contributions and the model's output, for an exact explainer",
        unit="model output", missing=_SHAP_EXACT_MISSING)
    adverse_citing_protected: int = count("adverse decisions naming a protected attribute among their reasons")
    reason_stability: float | None = figure(
        "share of the principal reasons given to a person that stay the same when every numeric input moves by "
        "1 % of its spread and the decision does not change (similar applicants get similar reasons)",
        unit="share", missing="no adverse decision with a reason, no numeric feature with a spread to move, or every "
                              "sampled decision changed when moved")
    reason_stability_n: int = count("adverse decisions (a seeded sample of at most 500) whose reasons were recomputed "
                                    "after the move and whose decision stayed adverse: the rows of reason_stability")
    method: str = label("the attribution method", missing="")
    output_space: str = label("the unit of contributions", missing="")
    ig_kernel_agreement: float | None = figure(
        "Integrated Gradients only: mean share of its top reasons (at most 3) that KernelSHAP also ranks in its top "
        "ones, over a seeded sample of at most 50 decisions, adverse first", unit="share",
        missing="the explanations are not Integrated Gradients, or no sampled decision had a reason")
    ig_kernel_same_first: float | None = figure(
        "Integrated Gradients only: share of those decisions whose first reason is KernelSHAP's first", unit="share",
        missing="the explanations are not Integrated Gradients, or no sampled decision had a reason")


class LocalLime(EvidenceMetrics):
    sample_size: int = count("decisions explained with LIME")
    fidelity_r2_median: float | None = figure("median R² of LIME's local model", unit="R²", missing="no row explained")
    fidelity_r2_p10: float | None = figure("10th percentile of that R²", unit="R²", missing="no row explained")
    stability_topk_overlap: float | None = figure("share of the top reasons shared by reruns with other seeds",
                                                  unit="share", missing="no row explained")
    lime_shap_rank_correlation: float | None = figure("Spearman correlation of |LIME| and |SHAP| weights",
                                                      unit="-1 to 1", missing="no row with varying weights")
    lime_shap_topk_overlap: float | None = figure("share of top reasons LIME and SHAP share", unit="share",
                                                  missing="no row explained")
    seeds: str = label("the seeds of the reruns", missing="")
    repeats: int = count("reruns per decision")
    num_samples: int = count("perturbations per explanation")
    top_k: int = count("reasons compared")


# ----------------------------------------------------------------------------------------- fairness

class SelectionRate(EvidenceMetrics):
    favourable_decision: str = label("which decision favours the person: positive or negative", missing="")
    rate_kind: str = label("selection (favourable decisions) or scoring (favourable side of the median score)",
                           missing="")
    min_impact_ratio: float | None = figure(
        "lowest impact ratio: a group's favourable-decision rate over the most favoured group's, over every "
        "breakdown that could be compared", unit="ratio",
        missing="no breakdown had two groups large enough to compare, or the most favoured group had none")
    min_impact_ratio_group: str | None = label("the group with that ratio", missing="no ratio was computed")
    min_impact_ratio_ci_low: float | None = figure("95 % bootstrap interval of that ratio, low end", unit="ratio",
                                                   missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_impact_ratio_ci_high: float | None = figure("95 % bootstrap interval of that ratio, high end", unit="ratio",
                                                    missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_impact_ratio_p_value: float | None = figure("two-sided test of that group's rate against the reference's",
                                                    unit="p-value", missing="no ratio was computed")
    n_groups_excluded: int = count("groups left out of the ratios (too small), shown with their counts")
    unknown_count: int = count("people whose category is unknown in at least one protected attribute")
    median_score: float | None = figure("median score of the whole sample (scoring rates)", unit="score",
                                        missing="the rates are of decisions, not scores")


class ClassRates(EvidenceMetrics):
    n_classes: int = count("classes of the multi-class model")
    classes: str = label("the model's classes", missing="")
    positive_classes: str = label("the classes that are the positive decision (model.positive_class)", missing="")
    min_positive_class_ratio: float | None = figure(
        "lowest ratio of a group's share given a positive class to the highest group's share (one class against "
        "the rest)", unit="ratio", missing="no group large enough to compare had a positive class")
    min_positive_class_ratio_group: str | None = label("the group and class of that ratio",
                                                       missing="no ratio was computed")


class EeoImpact(EvidenceMetrics):
    rate_kind: str = label("selection (favourable decisions) or scoring (above the full-sample median score)",
                           missing="")
    breakdowns: str = label("the breakdowns compared: sex, race/ethnicity and their intersection", missing="")
    sex_reported: bool = flag("rates and impact ratios by sex are reported", missing="")
    race_ethnicity_reported: bool = flag("rates and impact ratios by race/ethnicity are reported", missing="")
    intersection_reported: bool = flag("rates and impact ratios of the intersectional sex by race/ethnicity "
                                       "categories are reported", missing="")
    min_impact_ratio: float | None = figure(
        "lowest impact ratio of an EEO category: its rate over the rate of the category with the highest rate in "
        "its breakdown (every category compared unless the auditor excluded those under 2 %)", unit="ratio",
        missing="no breakdown had two categories to compare, or the most selected category had no one selected")
    min_impact_ratio_group: str | None = label("the category with that ratio", missing="no ratio was computed")
    min_impact_ratio_ci_low: float | None = figure("95 % bootstrap interval of that ratio, low end", unit="ratio",
                                                   missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_impact_ratio_ci_high: float | None = figure("95 % bootstrap interval of that ratio, high end", unit="ratio",
                                                    missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_impact_ratio_p_value: float | None = figure(
        "two-sided test of that category's rate against the reference category's", unit="p-value",
        missing="no ratio was computed")
    min_attribute_impact_ratio: float | None = figure(
        "lowest impact ratio of a sex or race/ethnicity category, intersections left out (29 CFR 1607.4(D) names "
        "race, sex and ethnic groups)", unit="ratio",
        missing="neither sex nor race/ethnicity had two categories to compare")
    min_attribute_impact_ratio_group: str | None = label("the category with that ratio", missing="no ratio was computed")
    min_attribute_impact_ratio_ci_low: float | None = figure(
        "95 % bootstrap interval of that ratio, low end", unit="ratio",
        missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_attribute_impact_ratio_ci_high: float | None = figure(
        "95 % bootstrap interval of that ratio, high end", unit="ratio",
        missing="no ratio, or no bootstrap (fairness.bootstrap: 0)")
    min_attribute_impact_ratio_p_value: float | None = figure(
        "two-sided test of that category's rate against the reference category's", unit="p-value",
        missing="no ratio was computed")
    n_applicants: int = count("people in the audit data")
    unknown_count: int = count("people whose sex or race/ethnicity is unknown (left out of the rates)")
    n_excluded: int = count("categories the auditor left out of the impact ratios as under 2 % of the data")


class ErrorRates(EvidenceMetrics):
    demographic_parity_difference: float | None = figure("largest gap in favourable-decision rate", unit="share",
                                                         missing="fewer than two comparable groups")
    equalized_odds_difference: float | None = figure("largest gap in the true- or false-positive rate", unit="share",
                                                     missing="fewer than two comparable groups")
    equal_opportunity_difference: float | None = figure("largest gap in the true-positive rate", unit="share",
                                                        missing="fewer than two comparable groups with positive labels")
    false_positive_rate_difference: float | None = figure("largest gap in the false-positive rate", unit="share",
                                                          missing="fewer than two comparable groups with negative labels")
    predictive_parity_difference: float | None = figure("largest gap in precision", unit="share",
                                                        missing="fewer than two comparable groups with positive decisions")
    demographic_parity_ratio: float | None = figure("lowest over highest positive-decision rate", unit="ratio",
                                                    missing="fewer than two comparable groups")
    max_ece_gap: float | None = figure("largest gap in expected calibration error", unit="0-1",
                                       missing="no scores that are probabilities, or fewer than two comparable groups")
    theil_index: float | None = figure("Theil index of individual benefits (0 = equal)", unit="index",
                                       missing="no decisions")
    consistency: float | None = figure("share of decisions equal to those of the nearest neighbours", unit="share",
                                       missing="no tabular feature columns (free text has no distance between people here)")
    primary_metric: str | None = label("the fairness metric that decides, from the declared direction or the spec",
                                       missing="the spec declares neither which decision favours the person nor a "
                                               "primary metric")
    primary_metric_value: float | None = figure("its worst value over every breakdown", unit="share or ratio",
                                                missing="no primary metric, or it could not be measured")
    primary_metric_ci_low: float | None = figure("95 % interval, low end", unit="share or ratio",
                                                 missing="no value, or no bootstrap")
    primary_metric_ci_high: float | None = figure("95 % interval, high end", unit="share or ratio",
                                                  missing="no value, or no bootstrap")
    primary_metric_p_value: float | None = figure("test of the gap", unit="p-value", missing="no value")
    primary_metric_breakdown: str | None = label("the breakdown of the worst value", missing="no value")
    primary_metric_reason: str | None = label("why this metric decides", missing="no primary metric was chosen")


# ----------------------------------------------------------------------------------------- counterfactual

class Flip(EvidenceMetrics):
    max_flip_rate: float | None = figure(
        "highest share of decisions that flip when a protected attribute (directly, or through its proxies, or, in "
        "free text, its gendered words) is changed, over every variant that was measured", unit="share",
        missing="neither the attribute nor any proxy of it is a model input that could be changed, and no text holds "
                "a gendered word")
    max_flip_rate_direct: float | None = figure("highest flip rate changing the attribute alone", unit="share",
                                                missing="no protected attribute is a model input")
    max_flip_rate_with_proxies: float | None = figure("highest flip rate changing the attribute and its proxies",
                                                      unit="share", missing="no proxy of a protected attribute is known")
    attribute_max_flip: str | None = label("attribute, variant and pair of the highest rate",
                                           missing="no decision flipped")
    max_flip_rate_text: float | None = figure(
        "flip rate among the texts changed when every gendered word of a free-text input is swapped female ↔ male "
        "(all swap families at once; single families are in the table)", unit="share",
        missing="no free-text input, or no text holds a word of the swap lists")
    n_rows: int = count("decisions tested")


class Recourse(EvidenceMetrics):
    n_adverse: int = count("adverse decisions searched")
    coverage: float | None = figure("share of adverse decisions with a valid recourse found", unit="share",
                                    missing="no adverse decision")
    n_no_recourse: int = count("adverse decisions with no recourse found within the search limits")
    validity: float | None = figure("share of proposed counterfactuals the model really decides favourably",
                                    unit="share", missing="no counterfactual was proposed")
    n_withdrawn: int = count("counterfactuals withdrawn because the model did not decide them favourably")
    immutable_violations: int = count("counterfactuals that change an immutable feature")
    increase_only_violations: int = count("counterfactuals that lower an increase-only feature")
    outside_observed_values: int = count("counterfactuals with a value outside those observed")
    mean_features_changed: float | None = figure("mean number of features a recourse changes", unit="features",
                                                 missing="no recourse found")
    mean_cost: float | None = figure("mean cost of a recourse (robust-spread units)", unit="cost",
                                     missing="no recourse found")
    plausibility: float | None = figure("mean distance of counterfactuals to the nearest real favourable person",
                                        unit="cost", missing="no recourse or no favourable person")
    plausibility_reference: float | None = figure("the same distance among real favourable people", unit="cost",
                                                  missing="too few favourable people")
    recourse_gap_max: float | None = figure("largest gap in mean recourse cost between groups", unit="cost",
                                            missing="fewer than two groups with recourse")
    recourse_gap_attribute: str | None = label("the attribute of that gap", missing="no gap measured")


# ----------------------------------------------------------------------------------------- oversight

class DecisionLog(EvidenceMetrics):
    n_decisions: int = count("decisions with a recorded final decision")
    override_rate: float | None = figure("share of decisions people changed (final decision differs from the "
                                         "system's)", unit="share", missing="no final decision recorded")
    override_to_favourable_rate: float | None = figure(
        "share of the system's adverse decisions that people turned favourable", unit="share",
        missing="no adverse decision by the system")
    override_to_adverse_rate: float | None = figure(
        "share of the system's favourable decisions that people turned adverse", unit="share",
        missing="no favourable decision by the system")
    max_override_rate_gap: float | None = figure("largest gap in override rate between groups of one attribute",
                                                 unit="share", missing="fewer than two groups large enough")
    max_override_rate_gap_between: str | None = label("those groups", missing="fewer than two groups large enough")
    appeal_rate: float | None = figure("share of decisions contested", unit="share",
                                       missing="the data has no appeal column (data.decision_log.appealed)")
    appeal_change_rate: float | None = figure("share of appeals that changed the decision", unit="share",
                                              missing="no appeal, or no column saying whether it changed the decision")
    max_appeal_rate_gap: float | None = figure("largest gap in appeal rate between groups of one attribute",
                                               unit="share", missing="no appeal column, or fewer than two groups")


# ----------------------------------------------------------------------------------------- robustness

class Perturbation(EvidenceMetrics):
    flip_rate_noise_max: float | None = figure("share of decisions that change at the largest noise level",
                                               unit="share", missing="no numeric feature to perturb")
    noise_level_max: float | None = figure("that noise level (share of each feature's standard deviation)",
                                           unit="share", missing="no numeric feature to perturb")
    flip_rate_missing: float | None = figure("share of decisions that change when values are set missing",
                                             unit="share", missing="the model does not accept missing values")
    most_fragile_feature: str | None = label("the feature whose loss changes most decisions",
                                             missing="the model does not accept missing values")
    most_fragile_flip_rate: float | None = figure("share changed by losing that feature", unit="share",
                                                  missing="the model does not accept missing values")
    most_noise_sensitive_feature: str | None = label("the feature whose noise alone changes most decisions",
                                                     missing="no numeric feature to perturb")
    most_noise_sensitive_flip_rate: float | None = figure("share changed by noise on that feature", unit="share",
                                                          missing="no numeric feature to perturb")
    n_rows: int = count("decisions perturbed")


REGISTRY: dict[str, type[EvidenceMetrics]] = {
    "data.profile": DataProfile,
    "data.bias": DataBias,
    "data.proxies": DataProxies,
    "data.drift": DataDrift,
    "performance.overall": PerformanceOverall,
    "importance.shap": ImportanceShap,
    "importance.permutation": ImportancePermutation,
    "importance.surrogate": ImportanceSurrogate,
    "importance.pdp": ImportancePdp,
    "local.shap": LocalShap,
    "local.lime": LocalLime,
    "local.tokens": LocalTokens,
    "local.image_maps": LocalImageMaps,
    "fairness.selection_rate": SelectionRate,
    "fairness.eeo_impact": EeoImpact,
    "fairness.class_rates": ClassRates,
    "fairness.error_rates": ErrorRates,
    "counterfactual.flip": Flip,
    "counterfactual.recourse": Recourse,
    "robustness.perturbation": Perturbation,
    "oversight.decision_log": DecisionLog,
}


def kind_of(evidence_id: str) -> type[EvidenceMetrics] | None:
    """The metrics model of an evidence id, or None when the id is not registered."""
    return REGISTRY.get(evidence_id)


def metric_info(evidence_id: str, metric: str) -> MetricInfo | None:
    """Role, unit and meaning of one metric, or None when the registry does not know it."""
    kind = REGISTRY.get(evidence_id)
    if kind is None or metric not in kind.model_fields:
        return None
    field = kind.model_fields[metric]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    # model_validate, not the constructor: the role comes untyped from the field's schema extra and
    # pydantic checks it against MetricRole here, as it did before.
    return MetricInfo.model_validate({
        "name": metric, "role": extra["role"], "unit": str(extra["unit"]), "description": field.description or "",
        "missing": str(extra["missing"]) if extra.get("missing") else None,
    })
