"""What every check receives besides the Subject, and how checks share work.

A check is a module under ``audit.checks`` with a function
``run(subject: Subject, ctx: CheckContext) -> list[Evidence]``. It never renders
and never reads policies. When its needs are not met (no model, no labels, no
protected attribute) it returns ``Evidence.not_assessed(...)`` naming why.

Checks run in the order of ``CHECK_MODULES`` and may pass intermediate results
forward through ``ctx.shared`` under these documented keys:

- ``"shap"``: per-decision SHAP contributions in the user's columns
  (written by ``importance``, read by ``local`` and the report of reasons);
- ``"proxies"``: ``{protected attribute: [feature, ...]}`` from the proxy screen
  (written by ``fairness``, read by ``counterfactual``).

Per-decision outputs (reasons, recourse) go to ``ctx.decision_columns``; the
pipeline writes them, with the id, decision and score, to decisions.parquet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.spec import AuditSpec

__all__ = ["CheckContext", "Progress"]

Progress = Callable[[str, int, int], None]  # (task, done, total)


def _no_progress(task: str, done: int, total: int) -> None:
    return None


@dataclass
class CheckContext:
    """Settings and shared state of one audit run."""

    spec: AuditSpec
    seed: int
    shared: dict[str, Any] = field(default_factory=dict)
    decision_columns: dict[str, np.ndarray | list[Any]] = field(default_factory=dict)
    scheduler: str | None = None  # Dask scheduler address; None = local processes
    progress: Progress = _no_progress

    def rng(self, salt: int) -> np.random.Generator:
        """A generator seeded from the spec's seed and a per-use salt, so checks do not share streams."""
        return np.random.default_rng([self.seed, salt])
