"""Evidence ``data.proxies``: which features stand in for a protected attribute?

Leaving sex out of a model does not keep sex out of its decisions when another
feature (in Adult: relationship, with "Husband" and "Wife") carries it. For
each protected attribute this screen measures:

- per feature, Cramér's V (numeric features binned into deciles; missing as a
  category) and normalised mutual information (arithmetic normalisation, as
  scikit-learn's default);
- for all features together, the ROC AUC of a gradient-boosted classifier
  predicting the attribute on a seeded holdout (one-vs-rest macro AUC for more
  than two groups).

A feature is flagged as a strong proxy at Cramér's V >= 0.3, the conventional
lower bound of a "moderate" association (Cohen's rule of thumb): our own
threshold, not a legal one. The flagged features go to
``ctx.proxies`` for the counterfactual check.

It also says whether the model takes a protected attribute directly, and for the
attributes declared a special category (GDPR Art. 9(1)) whether each such input has an
Art. 9(2) basis recorded (``data.protected[].art9_basis``) and, for solely automated
decisions (``system.solely_automated``), whether that basis is one Art. 22(4) allows:
9(2)(a) explicit consent or 9(2)(g) substantial public interest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.checks._base import CheckContext
from audit.checks._longform import long_row, long_table
from audit.errors import FAIRNESS_NO_FEATURES
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.fairness.associations import (
    MAX_VALUES,
    N_DECILES,
    AssociationCounts,
    association_counts,
    cramers_v_of_table,
    nmi_of_table,
)
from audit.spec import ProtectedSpec
from audit.subject import MISSING_GROUP, Subject
from audit.thresholds import reference_line

__all__ = [
    "proxy_evidence",
    "special_category_bases",
    "Art9Flags",
    "ART9_FLAGS",
    "SOLELY_AUTOMATED_UNKNOWN",
    "attribute_auc",
    "screen_counts",
    "THRESHOLD_ID",
    "AUC_SAMPLE",
    "SALT",
    "EVIDENCE_ID",
    "TITLE",
]

SALT = 4105
EVIDENCE_ID = "data.proxies"
TITLE = "Proxy screen"
THRESHOLD_ID = "proxy_strength"  # policies/thresholds.yaml; the spec may set its own under thresholds.proxy_strength
AUC_SAMPLE = 20_000
HOLDOUT = 0.25
MIN_CLASS = 20  # groups rarer than this in the sample are left out of the classifier
AUC_ITERATIONS = 40  # boosting rounds: enough for a stable AUC (within 0.01 of 100 rounds on Adult), 3x faster


def attribute_auc(
    X: pd.DataFrame, target: np.ndarray, *, feature_types: Mapping[str, str], random_state: int, sample: int = AUC_SAMPLE
) -> tuple[float | None, int, list[str]]:
    """Holdout ROC AUC of predicting ``target`` from all of ``X``; (auc, rows used, classes)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(len(X), size=sample, replace=False)) if len(X) > sample else np.arange(len(X))
    target = np.asarray(target, dtype=object)[rows]
    found, counts = np.unique(target, return_counts=True)
    keep = np.isin(target, found[counts >= MIN_CLASS])
    classes = [str(c) for c in found[counts >= MIN_CLASS]]
    if len(classes) < 2 or X.shape[1] == 0:
        return None, 0, classes
    frame = X.iloc[rows[keep]].copy()
    for column in frame.columns:
        if feature_types.get(str(column)) != "numeric":
            frame[column] = frame[column].astype(object).astype("category")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    labels = target[keep].astype(str)
    train_x, test_x, train_y, test_y = train_test_split(
        frame, labels, test_size=HOLDOUT, random_state=random_state, stratify=labels
    )
    model = HistGradientBoostingClassifier(
        max_iter=AUC_ITERATIONS,
        learning_rate=0.15,
        max_leaf_nodes=15,
        random_state=random_state,
        early_stopping=False,
        categorical_features="from_dtype",
    )
    proba = model.fit(train_x, train_y).predict_proba(test_x)
    if len(model.classes_) == 2:
        return float(roc_auc_score(test_y == model.classes_[1], proba[:, 1])), int(keep.sum()), classes
    return (
        float(roc_auc_score(test_y, proba, multi_class="ovr", average="macro", labels=model.classes_)),
        int(keep.sum()),
        classes,
    )


def proxy_evidence(subject: Subject, ctx: CheckContext) -> tuple[Evidence, dict[str, list[str]]]:
    """The screen's evidence and the strong proxies per attribute (for ``ctx.proxies``)."""
    protected = [str(c) for c in subject.groups.columns]
    features = [str(c) for c in subject.X.columns]
    if not [f for f in features if f not in protected]:
        return Evidence.not_assessed(EVIDENCE_ID, "data", TITLE, FAIRNESS_NO_FEATURES), {a: [] for a in protected}
    # Which features count as "strong" proxies (and are changed by the flip test) is a screening choice, not a
    # verdict: the user's proxy_strength, or the reference value.
    threshold, source = reference_line(ctx.spec, THRESHOLD_ID)
    counts = screen_counts(subject, ctx.association_counts)
    sampled = ctx.association_counts.dropped if ctx.association_counts is not None else []
    pairs, models = _screen(subject, counts, rng=ctx.rng(SALT), threshold=threshold)
    by_strength = sorted(pairs, key=lambda p: -(p["cramers_v"] or 0.0))
    found = {a: [p["feature"] for p in by_strength if p["attribute"] == a and p["strong"]] for a in protected}
    used_as_input = [a for a in protected if a in features]
    declared_special = [p.column for p in subject.protected if p.special_category]
    special = [c for c in declared_special if c in features]
    art9 = special_category_bases(subject.protected, features, solely_automated=subject.spec.system.solely_automated)
    missing: dict[str, str] = {}
    used: bool | None = bool(used_as_input)
    special_used: bool | None = bool(special)
    if not subject.has_model:
        why = ("no model access (predictions-only audit): which columns the model takes is unknown, so whether it "
               "uses a protected attribute cannot be seen")
        used, special_used = None, None
        missing = {"protected_used_as_feature": why, "special_category_used_as_feature": why}
        art9 = Art9Flags(None, None, {name: why for name in ART9_FLAGS})
    elif not declared_special:
        special_used = None
        missing["special_category_used_as_feature"] = NO_SPECIAL_CATEGORY
    missing.update(art9.missing)
    if not subject.tabular_columns:  # free text or an image only: nothing of values to screen (not "too few rows")
        kinds = " and ".join(sorted({subject.feature_types[str(c)] for c in subject.X.columns}))
        why = f"no input column of values to screen (the model's inputs are {kinds})"
        missing |= dict.fromkeys(("max_cramers_v", "strongest_proxy", "proxy_auc_max", "proxy_auc_max_attribute"), why)
    strongest = by_strength[0] if by_strength else None
    best_model = max((m for m in models if m["auc"] is not None), key=lambda m: m["auc"], default=None)
    metrics = {
        "max_cramers_v": strongest["cramers_v"] if strongest else None,
        "strongest_proxy": f"{strongest['feature']} for {strongest['attribute']}" if strongest else None,
        "n_strong_proxies": sum(p["strong"] for p in pairs),
        "proxy_auc_max": best_model["auc"] if best_model else None,
        "proxy_auc_max_attribute": best_model["attribute"] if best_model else None,
        "protected_used_as_feature": used,
        "special_category_used_as_feature": special_used,
        "special_category_feature_without_basis": art9.without_basis,
        "special_category_feature_outside_22_4": art9.outside_22_4,
    }
    evidence = Evidence(
        id=EVIDENCE_ID,
        check="data",
        title=TITLE,
        summary=_summary(found, metrics, used_as_input if subject.has_model else [], special)
        + (_art9_summary(subject.protected, special, art9) if subject.has_model else ""),
        metrics={k: clean_number(v) for k, v in metrics.items()},
        missing=missing,
        tables=[_pair_table(pairs, threshold, source), _model_table(models), long_table(_long(pairs, models))],
        charts=[_chart(pairs, threshold)],
        method=(
            "For each protected attribute (people with an unknown value left out) and each model input: Cramér's V "
            "of the contingency table (numeric inputs binned at their distinct deciles; missing values as their "
            "own category) and normalised mutual information (mutual information ÷ mean of the two entropies), "
            "from the rows per (input value, group): counted over every decision (in a partitioned audit per "
            "partition and added, so the tables, and so the proxies the flip test changes, do not depend on how the "
            "rows were read). "
            f"All inputs together: a gradient-boosted classifier ({AUC_ITERATIONS} rounds, native categorical "
            f"handling) trained on a seeded sample of at most {AUC_SAMPLE:,} people, ROC AUC on a stratified "
            f"{HOLDOUT:.0%} holdout (one-vs-rest macro average for more than two groups; groups under {MIN_CLASS} "
            f"people in the sample left out). Strong proxy: Cramér's V >= {threshold:g} ({source}; proxy_strength in "
            "policies/thresholds.yaml)."
        ),
        limits=[
            *([f"Free-text inputs ({', '.join(subject.text_columns)}) are not screened here (every text is its own "
               "value); the term-swap test (counterfactual.term_swap) checks whether gendered words move decisions."]
              if subject.text_columns else []),
            "Association is not use: a strong proxy shows what the model could learn, not what it does; the "
            "counterfactual check tests whether decisions change with the proxies.",
            "Cramér's V measures one feature at a time; features that reveal an attribute only in combination show "
            "up in the classifier AUC, not in V.",
            "The AUC comes from one holdout split of one sample; it varies by about ±0.01 between seeds.",
            "Decile binning of numeric features loses detail; the proxy threshold is a convention, not a legal test.",
            *([f"The tables of {', '.join(sampled)} (more than {MAX_VALUES:,} distinct values) come from the "
               "audit's sample, not every row."] if sampled else []),
            "Only inputs named like a protected attribute count as using it directly; a renamed or derived copy "
            "shows up as a strong proxy instead.",
            *(["The GDPR Art. 9(2) basis of a special category is taken as recorded in the spec "
               "(data.protected[].art9_basis); whether it actually applies is not checked."] if declared_special
              else []),
        ],
        params={
            "seed": ctx.seed,
            "salt": SALT,
            "auc_sample": AUC_SAMPLE,
            "holdout": HOLDOUT,
            "strong_proxy_v": threshold,
            "numeric_bins": N_DECILES,
        },
    )
    return evidence, found


#: The two flags of the GDPR Art. 9 / Art. 22(4) screen, as evidence metrics of data.proxies.
ART9_FLAGS = ("special_category_feature_without_basis", "special_category_feature_outside_22_4")
#: The Art. 9(2) points on which a solely automated decision may rest on special categories (GDPR Art. 22(4)).
ART22_4_POINTS = frozenset({"a", "g"})
NO_SPECIAL_CATEGORY = ("no protected attribute is declared a special category of data (data.protected[].special_category: "
                       "racial or ethnic origin, religion, health, ...), so their use cannot be checked")
SOLELY_AUTOMATED_UNKNOWN = "the spec does not say whether decisions are solely automated (system.solely_automated)"


@dataclass
class Art9Flags:
    """Whether special-category inputs have an Art. 9(2) basis, and whether Art. 22(4) allows them; None with why."""

    without_basis: bool | None
    outside_22_4: bool | None
    missing: dict[str, str] = field(default_factory=dict)
    unbased: list[str] = field(default_factory=list)  # special-category inputs with no basis recorded
    outside: list[str] = field(default_factory=list)  # special-category inputs on a basis other than 9(2)(a) or (g)


def special_category_bases(protected: list[ProtectedSpec], inputs: list[str], *,
                           solely_automated: bool | None) -> Art9Flags:
    """GDPR Art. 9(2) and 22(4) for the special-category attributes among the model's ``inputs``.

    - without a basis: some special-category input has no ``art9_basis``;
    - outside Art. 22(4): decisions are solely automated and some special-category input rests on a basis
      other than 9(2)(a) explicit consent or (g) substantial public interest (or on none). False as soon as
      either part is known false (not solely automated, or no such input), None when it turns on
      ``solely_automated`` and the spec leaves that open.

    Both are None when no attribute is declared a special category. The caller decides the case where the
    model's inputs are unknown (no model access).
    """
    declared = [p for p in protected if p.special_category]
    if not declared:
        return Art9Flags(None, None, {name: NO_SPECIAL_CATEGORY for name in ART9_FLAGS})
    used = [p for p in declared if p.column in set(inputs)]
    unbased = [p.column for p in used if p.art9_basis is None]
    outside = [p.column for p in used if p.art9_point not in ART22_4_POINTS]
    flags = Art9Flags(bool(unbased), None, unbased=unbased, outside=outside)
    if solely_automated is False or not outside:
        flags.outside_22_4 = False
    elif solely_automated is None:
        flags.missing["special_category_feature_outside_22_4"] = SOLELY_AUTOMATED_UNKNOWN
    else:
        flags.outside_22_4 = True
    return flags


def _art9_summary(protected: list[ProtectedSpec], special: list[str], flags: Art9Flags) -> str:
    """What the summary says about the Art. 9(2) bases of special-category inputs (empty when none is an input)."""
    if not special:
        return ""
    text = ""
    if flags.unbased:
        text += f" No GDPR Art. 9(2) basis is recorded for {', '.join(flags.unbased)} (data.protected[].art9_basis)."
    else:
        bases = {p.column: p.art9_basis for p in protected if p.column in special}
        text += " Art. 9(2) basis recorded: " + "; ".join(f"{c}: {b}" for c, b in bases.items()) + "."
    if flags.outside_22_4:
        text += (f" Decisions are solely automated, and {', '.join(flags.outside)} rests on no Art. 9(2)(a) explicit "
                 "consent or (g) substantial public interest basis, which GDPR Art. 22(4) requires.")
    return text


def screen_counts(subject: Subject, counted: AssociationCounts | None) -> AssociationCounts:
    """The rows per (input value, group) the screen reads: counted over every row (a partitioned audit's, with the
    inputs it dropped for too many values taken from the Subject, its sample), else counted from the Subject."""
    features = [str(c) for c in subject.tabular_columns]  # free text: every row its own value, screened by term swaps
    numeric = {f: subject.feature_types[f] == "numeric" for f in features}
    if counted is None:
        return association_counts(subject.X, subject.groups, features=features, numeric=numeric)
    if not counted.dropped:
        return counted
    return counted.filled_from(association_counts(subject.X, subject.groups, features=counted.dropped,
                                                  numeric=numeric))


def _screen(subject: Subject, counts: AssociationCounts, *, rng: np.random.Generator,
            threshold: float) -> tuple[list[dict], list[dict]]:
    """Cramér's V and NMI of every (attribute, input) pair from ``counts``, and the all-inputs AUC per attribute
    (a classifier trained on the Subject's rows)."""
    features = [str(c) for c in subject.tabular_columns]
    pairs, models = [], []
    for attribute in (str(c) for c in subject.groups.columns):
        labels = subject.groups[attribute].to_numpy(dtype=object)
        known = labels != MISSING_GROUP
        others = [f for f in features if f != attribute]  # an input that is the attribute itself is not its proxy
        for feature in others:
            table = counts.pairs[(feature, attribute)].contingency(numeric=counts.numeric[feature])
            v = cramers_v_of_table(table)
            strong = v is not None and v >= threshold
            pairs.append(
                {
                    "attribute": attribute,
                    "feature": feature,
                    "cramers_v": v,
                    "nmi": nmi_of_table(table),
                    "strong": strong,
                    "n": int(table.sum()),
                }
            )
        auc, used, classes = attribute_auc(
            subject.X.loc[known, others],  # tabular inputs only (features excludes free text)
            labels[known],
            feature_types=subject.feature_types,
            random_state=int(rng.integers(2**31 - 1)),
        )
        models.append({"attribute": attribute, "auc": auc, "n": used, "classes": len(classes)})
    return pairs, models


def _pair_table(pairs: list[dict], threshold: float, source: str) -> Table:
    records = [
        {
            "attribute": p["attribute"],
            "feature": p["feature"],
            "Cramér's V": p["cramers_v"],
            "normalised mutual information": p["nmi"],
            "strong proxy": "yes" if p["strong"] else "",
        }
        for p in sorted(pairs, key=lambda p: (p["attribute"], -(p["cramers_v"] or 0)))
    ]
    return Table.from_records(
        "Association of each input with each protected attribute",
        records,
        note=f"Strong proxy: Cramér's V >= {threshold:g} ({source}).",
    )


def _model_table(models: list[dict]) -> Table:
    records = [
        {
            "attribute": m["attribute"],
            "ROC AUC from all inputs": m["auc"],
            "groups": m["classes"],
            "people used": m["n"],
        }
        for m in models
    ]
    return Table.from_records(
        "How well all inputs together predict each protected attribute",
        records,
        note="0.5 = no better than chance; 1.0 = the attribute can be read off the inputs.",
    )


def _long(pairs: list[dict], models: list[dict]) -> list[dict]:
    out = []
    for p in pairs:
        for metric in ("cramers_v", "nmi"):
            out.append(
                long_row(
                    check=EVIDENCE_ID,
                    metric=metric,
                    attribute=p["attribute"],
                    group=p["feature"],
                    value=p[metric],
                    n=p["n"],
                )
            )
    for m in models:
        out.append(long_row(check=EVIDENCE_ID, metric="proxy_auc", attribute=m["attribute"], value=m["auc"], n=m["n"]))
    return out


def _chart(pairs: list[dict], threshold: float) -> Chart:
    shown = sorted((p for p in pairs if p["cramers_v"] is not None), key=lambda p: -p["cramers_v"])[:20]
    return Chart(
        id="data-proxies-cramers-v",
        title="Strongest associations with protected attributes (Cramér's V)",
        kind="barh",
        labels=[f"{p['feature']} → {p['attribute']}" for p in shown],
        values=[p["cramers_v"] for p in shown],
        xlabel="Cramér's V",
        reference=threshold,
        reference_label=f"strong proxy ({threshold:g})",
    )


def _summary(found: dict[str, list[str]], metrics: dict, used_as_input: list[str], special: list[str]) -> str:
    flagged = [f"{', '.join(features)} for {attribute}" for attribute, features in found.items() if features]
    text = (
        f"Some inputs closely track a protected attribute: {'; '.join(flagged)}."
        if flagged
        else "No single input closely tracks a protected attribute."
    )
    if metrics["proxy_auc_max"] is not None:
        text += (
            f" Together, the inputs predict {metrics['proxy_auc_max_attribute']} with an AUC of "
            f"{metrics['proxy_auc_max']:.2f} (0.5 = chance)."
        )
    if used_as_input:
        text += f" The model also takes {', '.join(used_as_input)} directly as an input."
    if special:
        text += f" {', '.join(special)} is special-category data (GDPR Art. 9(1)) used as a model input."
    return text
