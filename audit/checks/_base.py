"""What every check receives besides the Subject, and how checks pass results forward.

A check is a module under ``audit.checks`` with a function
``run(subject: Subject, ctx: CheckContext) -> list[Evidence]`` and a constant
``NEEDS`` naming what it needs (model access, labels, protected attributes). It
never renders and never reads policies or thresholds. When its needs are not met it
returns ``Evidence.not_assessed(...)`` naming why.

Checks run in the order of ``CHECK_MODULES`` and pass intermediate results forward
through typed fields of the context, each written by one check:

- ``shap``: per-decision SHAP contributions in the user's columns (written by
  ``importance``, read by ``local``);
- ``proxies``: ``{protected attribute: [feature, ...]}`` from the proxy screen
  (written by ``fairness``, read by ``counterfactual``); None when no screen ran.

Per-decision outputs (reasons, recourse) go to ``ctx.decision_columns``; the
pipeline writes them, with the id, decision and score, to decisions.parquet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from audit.fairness.population import Population
from audit.sample import DEFAULT_SAMPLE_ROWS, sample_positions
from audit.spec import AuditSpec

if TYPE_CHECKING:
    from audit.counterfactual.column_counts import ColumnCounts
    from audit.counterfactual.flip_counts import FlipCounts, FlipPlan
    from audit.counterfactual.recourse_counts import RecourseCounts, RecoursePlan
    from audit.explain.shap_values import ShapResult
    from audit.fairness.associations import AssociationCounts
    from audit.subject import Subject

__all__ = ["CheckContext", "Progress", "Need"]

#: What a check can need: the model (to re-predict), ground-truth labels, protected attributes, scores.
Need = Literal["model", "labels", "protected", "scores"]

Progress = Callable[[str, int, int], None]  # (task, done, total)


def _no_progress(task: str, done: int, total: int) -> None:
    return None


@dataclass
class CheckContext:
    """Settings and shared state of one audit run."""

    spec: AuditSpec
    seed: int
    shap: ShapResult | None = None
    proxies: dict[str, list[str]] | None = None
    decision_columns: dict[str, np.ndarray | list[Any]] = field(default_factory=dict)
    scheduler: str | None = None  # Dask scheduler address; None = local processes
    #: Counts over every decision when the Subject holds a sample of them (a partitioned audit, ``audit.scale``):
    #: the rate checks read these; None = the Subject holds every decision and the checks count its rows.
    population: Population | None = None
    #: Runs a flip-test plan on every partition and returns the merged counts (a partitioned audit; set by the
    #: pipeline, so the check never touches the engine). None: the flip test reads the Subject's rows.
    count_flips: Callable[[FlipPlan], FlipCounts] | None = None
    #: Searches recourse for every adverse decision of every partition under a plan and returns the merged sums (a
    #: partitioned audit; set by the pipeline). None: recourse searches the Subject's adverse decisions.
    count_recourse: Callable[[RecoursePlan], RecourseCounts] | None = None
    #: attribute -> band -> the band's median over every row (a partitioned audit's binned protected inputs).
    band_medians: dict[str, dict[str, Any]] | None = None
    #: Rows per value of each model input over every row (a partitioned audit): recourse derives its rules of change
    #: from them, as an audit of the file read whole does from its rows. None: count the Subject's rows.
    column_counts: ColumnCounts | None = None
    #: Rows per (input value, protected group) over every row (a partitioned audit): the proxy screen's tables, as
    #: an audit of the file read whole counts them from its rows. None: count the Subject's rows.
    association_counts: AssociationCounts | None = None
    #: How many rows the audit's sample holds (``scale.sample_rows``): the rows work that reads a sample reads.
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    progress: Progress = _no_progress
    #: The sample's positions, drawn once per Subject (robustness, the flip test and recourse all read it).
    _samples: list[tuple[Subject, np.ndarray]] = field(default_factory=list, init=False, repr=False)

    def sample(self, subject: Subject) -> np.ndarray:
        """Positions of the audit's sample in the Subject: the stratified sample a keyed hash of each row's id and
        the seed orders (``audit.sample``), so a check that reads a sample reads the same rows whether the data was
        read whole or in partitions. In a partitioned audit (``population`` set) the Subject is that sample: every
        row."""
        if self.population is not None:
            return np.arange(subject.n)
        for seen, positions in self._samples:
            if seen is subject:
                return positions
        positions = sample_positions(subject.ids, seed=self.seed, sample_rows=self.sample_rows,
                                     favourable=subject.favourable, groups=subject.groups)
        positions.setflags(write=False)
        self._samples.append((subject, positions))
        return positions

    def rng(self, salt: int) -> np.random.Generator:
        """A generator seeded from the spec's seed and a per-use salt, so checks do not share streams."""
        return np.random.default_rng([self.seed, salt])
