"""Evidence ``fairness.class_rates``: a multi-class model's own classes, one class against the rest, by group.

The audit's decision for a multi-class model is binary (its class is one of the positive classes,
or not: :class:`audit.models.MultiClassAdapter`), and every other fairness figure is of that
decision. Which of the other classes people get matters too: "refer to an underwriter" is not
"decline". So each class of the model gets its own table (one against the rest): per group the
people the model put in that class, the share, and the ratio of that share to the highest group's.
For a positive class a low ratio means the group gets it less often; for another class a ratio
is shown the same way (a high share of "decline" in one group is the reader's to weigh).

Groups are those of ``fairness.selection_rate`` (attributes and intersections); groups under the
minimum size (``fairness.min_group_size``) are shown without a ratio. No threshold: no law sets one
for a single class of a multi-class decision, so this evidence informs a review and decides nothing.
"""

from __future__ import annotations

import time

import numpy as np

from audit.checks._base import CheckContext
from audit.evidence import Evidence, Table, clean_number
from audit.fairness.groups import Breakdown
from audit.models import native, value_text
from audit.subject import Subject

__all__ = ["EVIDENCE_ID", "TITLE", "class_rate_evidence", "NOT_MULTICLASS"]

EVIDENCE_ID = "fairness.class_rates"
TITLE = "Each class of a multi-class model, one against the rest, by group"
NOT_MULTICLASS = ("the model has two classes or none (its decision is the one in fairness.selection_rate), so there "
                  "is no class beyond the decision to compare")


def class_rate_evidence(subject: Subject, ctx: CheckContext, breakdowns: list[Breakdown]) -> Evidence:
    """One table per class of the model: each group's share given that class, and its ratio to the highest."""
    own = subject.predictions.model_class
    model = subject.model
    if own is None or model is None:
        return Evidence.not_assessed(EVIDENCE_ID, "fairness", TITLE, NOT_MULTICLASS)
    started = time.perf_counter()
    classes = [native(c) for c in model.classes]
    positive = {value_text(c) for c in (model.positive_class if isinstance(model.positive_class, list)
                                         else [model.positive_class])}
    own_text = np.array([value_text(c) for c in own], dtype=object)
    min_size = ctx.spec.fairness.min_group_size
    tables, lowest = [], None
    for cls in classes:
        name = value_text(cls)
        given = own_text == name
        records = []
        for breakdown in breakdowns:
            known = breakdown.codes >= 0
            n = np.bincount(breakdown.codes[known], minlength=breakdown.n_groups)
            k = np.bincount(breakdown.codes[known & given], minlength=breakdown.n_groups)
            rate = np.divide(k, n, out=np.full(len(n), np.nan), where=n > 0)
            compared = n >= min_size
            top = float(np.nanmax(rate[compared])) if compared.any() else float("nan")
            for g, label in enumerate(breakdown.labels):
                ratio = rate[g] / top if compared[g] and top > 0 else None
                records.append({"breakdown": breakdown.name, "group": label, "n": int(n[g]), f"given '{cls}'": int(k[g]),
                                "share": clean_number(rate[g]), "ratio to highest": clean_number(ratio),
                                "compared": bool(compared[g])})
                if name in positive and ratio is not None and (lowest is None or ratio < lowest[0]):
                    lowest = (float(ratio), f"{breakdown.name}={label}", str(cls))
        side = "a positive decision" if name in positive else "not a positive decision"
        tables.append(Table.from_records(
            f"Class '{cls}' ({side}): share of each group the model put in it", records,
            note=f"{int(given.sum()):,} of {subject.n:,} people ({given.mean():.1%}) were put in this class. Groups under "
                 f"{min_size} people (fairness.min_group_size) are shown without a ratio."))
    shares = {str(c): float((own_text == value_text(c)).mean()) for c in classes}
    biggest = max(shares, key=lambda c: shares[c])
    return Evidence(
        id=EVIDENCE_ID, check="fairness", title=TITLE,
        summary=(f"The model has {len(classes)} classes ({', '.join(map(str, classes))}); "
                 f"{', '.join(sorted(positive))} {'is' if len(positive) == 1 else 'are'} the positive decision. "
                 f"The most common class is '{biggest}' ({shares[biggest]:.1%}). "
                 + (f"Among positive classes, the lowest ratio of a group's share to the highest group's is "
                    f"{lowest[0]:.2f} ({lowest[1]}, class '{lowest[2]}')." if lowest is not None else
                    "No group was large enough to compare for a positive class.")),
        metrics={"n_classes": len(classes), "classes": ", ".join(map(str, classes)),
                 "positive_classes": ", ".join(sorted(positive)),
                 "min_positive_class_ratio": clean_number(lowest[0]) if lowest else None,
                 "min_positive_class_ratio_group": lowest[1] if lowest else None},
        missing={} if lowest else {"min_positive_class_ratio": "no group large enough to compare had a positive class",
                                   "min_positive_class_ratio_group": "no ratio was computed"},
        tables=tables,
        method=("The model's own class for every person (its most probable class, ties to the first of its classes, "
                "as scikit-learn's predict) from the one prediction of the audit; per class and group, the share of "
                "the group given that class (one against the rest) and its ratio to the highest share among groups "
                f"of at least {min_size} people."),
        limits=["No law sets a threshold for one class of a multi-class decision: these tables inform a review and "
                "decide no requirement; the decision audited elsewhere is positive class or not.",
                "A class's share depends on the others: a group given 'refer' more often may be given 'decline' "
                "less often; read the tables together.",
                *([] if model.score_kind == "lead" else
                  [f"With model.cutoff the decision is the summed probability of the positive classes at or above "
                   f"{getattr(model, 'cutoff', '?')}; the class shown here is the model's own most probable class, "
                   "which can differ from that decision."])],
        params={"min_group_size": min_size},
        seconds=time.perf_counter() - started,
    )
