"""Accuracy of the decisions, overall and per protected group (AI Act Art. 13(3)(b)(ii), 15(1)).

Needs ground-truth labels; ROC AUC and Brier score also need scores. Works
for predictions-only audits when the data holds labels and decisions.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, brier_score_loss, confusion_matrix, roc_auc_score

from audit.checks._base import CheckContext, Need
from audit.evidence import Chart, Evidence, Table, clean_number
from audit.fairness.calibration import scores_are_probabilities
from audit.subject import Subject

__all__ = ["run", "accuracy_metrics", "NEEDS"]

NEEDS: tuple[Need, ...] = ("labels",)  # and the decisions; scores for ROC AUC and the Brier score

LIMITS = [
    "Measured on the audit dataset only; accuracy on future applicants may differ if their population shifts.",
    "Labels are taken as true; label errors or labels that reflect past decisions bias every figure here.",
    "Groups with few members give unstable figures; read their counts before their rates.",
]


def accuracy_metrics(y: np.ndarray, decision: np.ndarray, score: np.ndarray | None, *,
                     probability: bool | None = None) -> dict[str, float | int | None]:
    """Accuracy figures of one set of decisions against labels (both bool arrays).

    ``score`` may be on any scale (higher = more likely positive): ROC AUC needs only its order.
    The Brier score is a property of probabilities, so it is computed only when ``probability`` (the
    model says its scores are probabilities; None: judged by the range, every score in [0, 1]).
    """
    if probability is None:
        probability = scores_are_probabilities(score)
    tn, fp, fn, tp = confusion_matrix(y, decision, labels=[False, True]).ravel()
    both_classes = len(np.unique(y)) == 2
    return {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, decision)) if len(y) else None,
        "balanced_accuracy": float(balanced_accuracy_score(y, decision)) if both_classes else None,
        "roc_auc": float(roc_auc_score(y, score)) if score is not None and both_classes else None,
        "brier": float(brier_score_loss(y, score)) if score is not None and probability and len(y) else None,
        "true_positives": int(tp),
        "false_positives": int(fp),
        "true_negatives": int(tn),
        "false_negatives": int(fn),
    }


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """Overall and per-group accuracy figures, with the confusion matrix."""
    title = "Accuracy of the decisions"
    if subject.y is None:
        return [Evidence.not_assessed("performance.overall", "performance", title, "no ground-truth labels in the data")]
    y, decision, score = subject.y, subject.predictions.decision, subject.predictions.score
    probability = subject.score_is_probability
    overall = accuracy_metrics(y, decision, score, probability=probability)
    rows = []
    for attribute in subject.groups.columns:
        labels = subject.groups[attribute].to_numpy()
        for group in sorted(np.unique(labels)):
            mask = labels == group
            m = accuracy_metrics(y[mask], decision[mask], None if score is None else score[mask], probability=probability)
            rows.append({"attribute": attribute, "group": group, **m})
    accuracies = [r["accuracy"] for r in rows if r["n"] >= ctx.spec.fairness.min_group_size]
    gap = max(accuracies) - min(accuracies) if len(accuracies) >= 2 else None
    matrix = Table(
        title="Confusion matrix (rows: actual outcome; columns: decision)",
        columns=["", "decided negative", "decided positive"],
        rows=[["actually negative", overall["true_negatives"], overall["false_positives"]],
              ["actually positive", overall["false_negatives"], overall["true_positives"]]],
    )
    by_group = Table.from_records(
        "Accuracy by protected group", rows,
        columns=["attribute", "group", "n", "accuracy", "balanced_accuracy", "roc_auc", "brier"],
        note=f"Largest accuracy gap is computed over groups of at least {ctx.spec.fairness.min_group_size} people.",
    )
    chart = Chart(
        id="performance-accuracy-by-group", title="Accuracy by group", kind="barh",
        labels=[f"{r['attribute']} = {r['group']}" for r in rows], values=[r["accuracy"] for r in rows],
        xlabel="accuracy", reference=overall["accuracy"], reference_label="overall",
    )
    auc_text = f" and ranks outcomes with a ROC AUC of {overall['roc_auc']:.3f}" if overall["roc_auc"] is not None else ""
    if overall["roc_auc"] is not None and overall["roc_auc"] < 0.5:
        auc_text += (" — worse than chance: the decisions may be inverted (check model.positive_class and "
                     "data.positive_label)")
    return [Evidence(
        id="performance.overall", check="performance", title=title,
        summary=f"The decisions agree with the actual outcome for {overall['accuracy']:.1%} of the "
                f"{overall['n']:,} cases{auc_text}.",
        metrics={**{k: clean_number(v) for k, v in overall.items()}, "max_group_accuracy_gap": clean_number(gap),
                 "roc_auc_below_chance": None if overall["roc_auc"] is None else bool(overall["roc_auc"] < 0.5),
                 "positive_decision_rate": float(decision.mean()), "positive_label_rate": float(y.mean())},
        missing=_missing(score, overall, kind=_score_words(subject)),
        tables=[matrix, by_group], charts=[chart],
        method="Decisions compared with the ground-truth labels of the audit data (scikit-learn metrics). "
               "ROC AUC and the Brier score use the model's probability of the positive decision.",
        limits=LIMITS,
        params={"decision_source": subject.predictions.source},
    )]


def _score_words(subject: Subject) -> str:
    """What the score is, for a reader: a multi-class lead, a model's own score, or the scores of a decision log."""
    kind = subject.model.score_kind if subject.model is not None else None
    return {"lead": "lead of the positive classes over the others", "score": "own score",
            "probability": "probability"}.get(kind or "", "scores")


def _missing(score: np.ndarray | None, overall: dict[str, float | int | None], *, kind: str = "score") -> dict[str, str]:
    """Why the score-based figures are missing, in this audit's terms."""
    out = {}
    if score is None:
        out["roc_auc"] = out["brier"] = "the decisions come without a score"
    elif overall["brier"] is None:
        out["brier"] = (f"the scores are not probabilities (the model's {kind}, from {float(np.min(score)):g} to "
                        f"{float(np.max(score)):g}); the Brier score applies only to probabilities")
    return out
