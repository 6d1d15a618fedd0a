"""decisions.parquet: one row per decision, the bundle's personal data (``audit explain`` and ``audit diff`` read it).

Its columns: the id, the decision, whether it is the favourable one, the score, the actual outcome (True: the
positive label), the person's protected groups as ``group:<attribute>``, then what the checks computed per decision
(``reason_k``, ``reason_k_feature``, ``reason_k_value``, ``shap:<feature>``, ``recourse``, ...). One process builds
it from the Subject; a partitioned audit builds it partition by partition (``audit.scale``) with the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audit.subject import Subject

__all__ = ["decisions_frame"]


def decisions_frame(subject: Subject, columns: Mapping[str, Any]) -> pd.DataFrame:
    """The Subject's decisions, with ``columns`` (name -> one value per decision) after the fixed ones."""
    frame: dict[str, Any] = {"id": subject.ids, "decision": subject.predictions.decision,
                             "favourable": subject.favourable}
    frame["score"] = subject.predictions.score if subject.predictions.score is not None else [None] * subject.n
    # The actual outcome and each protected group: what `audit diff` needs to compare two audits row by row.
    frame["outcome"] = subject.y if subject.y is not None else [None] * subject.n
    for attribute in subject.groups.columns:
        frame[f"group:{attribute}"] = subject.groups[attribute].to_numpy(dtype=object)
    frame.update(columns)
    return pd.DataFrame(frame)
