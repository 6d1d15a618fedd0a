"""Which of a model's classes is its positive decision: one rule for every adapter.

The rule: the model class equal to ``model.positive_class`` when that is set, else
``data.positive_label`` when that is one of the model's classes. Nothing is guessed:
a configured class the model does not have, or no class named at all, is an
:class:`AuditInputError` saying what to set. A credit model that predicts default
(class 1 = "bad") with ``positive_label: good`` must be told ``positive_class: 0``,
or it would be audited upside down.

Values are compared as text (see :func:`value_text`), so YAML ``1``, ``"1"`` and
``true`` name the classes ``1``, ``"1"``, ``True`` or ``1.0`` the way a person means them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audit.errors import (
    POSITIVE_CLASS_NOT_A_CLASS,
    POSITIVE_CLASS_NOT_ONE,
    POSITIVE_CLASS_UNDECIDED,
    POSITIVE_CLASSES_ALL,
    AuditInputError,
)

__all__ = ["value_text", "native", "positive_index", "positive_indices", "decision_from_score", "as_list"]


def value_text(value: object) -> str:
    """The text a configured value is compared by, with a model class or a value of the data.

    ``str(value)``, except that booleans count as 1/0 (as Python's ``True == 1`` does)
    and whole numbers lose their fraction (a class ``1.0`` is the YAML ``1``).
    """
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return "1" if lowered == "true" else "0"
    return text


def native(value: Any) -> Any:
    """A numpy scalar as the plain Python value (so messages and audit.json show ``1``, not ``np.int64(1)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _find(classes: Sequence[Any], wanted: object) -> int | None:
    """Index of the class that ``wanted`` names, or None; the exact text wins over the looser :func:`value_text`."""
    exact = [i for i, c in enumerate(classes) if str(c) == str(wanted)]
    if len(exact) == 1:
        return exact[0]
    loose = [i for i, c in enumerate(classes) if value_text(c) == value_text(wanted)]
    return loose[0] if len(loose) == 1 else None


def as_list(value: object) -> list[Any] | None:
    """A configured class or label, or a list of them, as a list (None stays None)."""
    if value is None:
        return None
    return list(value) if isinstance(value, list | tuple) else [value]


def positive_indices(classes: Sequence[Any], *, positive_class: object, positive_label: object,
                     model_path: Path) -> list[int]:
    """Indices in ``classes`` of the model's positive decision(s), by the one rule of this module.

    ``positive_class`` is ``model.positive_class`` and ``positive_label`` is ``data.positive_label``
    (None when not set; either may be one value or a list). Every value named must be a class; naming
    every class is refused (no decision would be negative). ``model_path`` names the file in the error.
    """
    shown = [native(c) for c in classes]
    if positive_class is not None:
        wanted = as_list(positive_class) or []
        found = [_find(classes, w) for w in wanted]
        absent = [w for w, f in zip(wanted, found, strict=True) if f is None]
        if absent or not wanted:
            raise AuditInputError(POSITIVE_CLASS_NOT_A_CLASS, path=model_path,
                                  value=absent[0] if absent else positive_class, classes=shown)
    else:
        wanted = as_list(positive_label) or []
        found = [_find(classes, w) for w in wanted]
        if not wanted or any(f is None for f in found):
            raise AuditInputError(POSITIVE_CLASS_UNDECIDED, path=model_path, label=positive_label, classes=shown)
    indices = sorted({int(f) for f in found if f is not None})
    if len(indices) == len(classes):
        raise AuditInputError(POSITIVE_CLASSES_ALL, path=model_path, classes=shown)
    return indices


def positive_index(classes: Sequence[Any], *, positive_class: object, positive_label: object, model_path: Path) -> int:
    """Index in ``classes`` of a two-class model's positive decision (:func:`positive_indices`, exactly one)."""
    indices = positive_indices(classes, positive_class=positive_class, positive_label=positive_label,
                               model_path=model_path)
    if len(indices) != 1:  # only reachable with more than two classes named in a list: positive_indices refuses all
        raise AuditInputError(POSITIVE_CLASS_NOT_ONE, path=model_path, count=len(indices),
                              classes=[native(c) for c in classes])
    return indices[0]


def decision_from_score(score: np.ndarray, positive_index: int) -> np.ndarray:
    """The model's own binary label rule, seen from the positive class's probability ``score``.

    Binary classifiers (scikit-learn's arg-max of [1 - p, p] with ties to class 0;
    XGBoost's and LightGBM's ``p > 0.5``) give class 1 when P(class 1) > 0.5. So the
    positive class 1 is decided when ``score > 0.5`` and the positive class 0 (score =
    P(class 0) = 1 - P(class 1)) when P(class 1) <= 0.5, i.e. ``score >= 0.5``.
    """
    return score > 0.5 if positive_index == 1 else score >= 0.5
