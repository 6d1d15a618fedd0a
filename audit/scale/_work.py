"""The work one partition needs, run where the partition is read (a local process or a Dask worker).

:func:`count_partition` reads the partition's rows, validates and decides them exactly as a whole-file audit does
(``load_subject`` on those rows: the same column checks, the same model adapter, the same decision), and returns
the partition's counts (``audit.fairness.population``) and its share of the audit's sample (:mod:`audit.sample`). The
other rows never leave the worker. A worker loads the model once and keeps it for its next partitions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from audit.counterfactual.column_counts import ColumnCounts, column_counts
from audit.counterfactual.flip_counts import BandValues, FlipCounts, FlipPlan, band_values
from audit.counterfactual.recourse_counts import RecourseCounts, RecoursePlan
from audit.explain.shap_values import ExplainPlan
from audit.fairness.associations import AssociationCounts
from audit.fairness.population import Population
from audit.models import ModelAdapter
from audit.sample import sample_hashes, strata
from audit.scale._ids import sorted_id_hashes
from audit.scale._partitions import Partition, read_partition
from audit.spec import AuditSpec
from audit.subject import Subject

__all__ = ["PartitionTask", "PartitionResult", "count_partition", "DecisionsTask", "PartitionDecisions",
           "decide_partition", "PlanTask", "PartitionCounts", "flip_partition", "recourse_partition", "limit_threads"]

P = TypeVar("P")
C = TypeVar("C")

#: The model each worker process loaded, by (model file, its modification time, trusted): loaded once per process.
_MODELS: dict[tuple[str, int, bool], ModelAdapter] = {}


@dataclass(frozen=True)
class PartitionTask:
    """One partition to count under one spec (small: it travels to the worker; the rows do not).

    ``candidate_probability``: rows whose sample hash is below it may join the sample (``audit.sample``); they are
    sent back with their hash and stratum.
    """

    spec: AuditSpec
    partition: Partition
    candidate_probability: float
    trust_model: bool = False


@dataclass(frozen=True)
class PartitionResult:
    """What comes back from a partition: its counts, its candidates for the sample (all their columns, global row
    index; with their sample hash and stratum), the rows per stratum, the value counts of its binned protected inputs
    and of its model inputs (alone and by protected group), and its ids' hashes."""

    partition: Partition
    population: Population
    candidates: pd.DataFrame
    candidate_hashes: np.ndarray  # ``u`` of each candidate (``audit.sample.sample_hashes``)
    candidate_strata: np.ndarray  # each candidate's stratum (``audit.sample.strata``)
    strata: dict[str, int]  # rows per stratum in the partition
    bands: BandValues  # rows per value in each band of a binned protected input (the flip test's band medians)
    ids: np.ndarray  # sorted 64-bit hashes of the partition's ids (ids repeated across partitions are refused)
    columns: ColumnCounts  # rows per value of each model input (recourse's rules of change)
    associations: AssociationCounts  # rows per (input value, protected group) (the proxy screen's tables)


def _model_key(spec: AuditSpec, trust: bool) -> tuple[str, int, bool] | None:
    if spec.model.path is None:
        return None
    path = spec.resolve(spec.model.path)
    return str(path), path.stat().st_mtime_ns, trust


def _subject(spec: AuditSpec, partition: Partition, trust_model: bool) -> Subject:
    """The partition's rows validated and decided as a whole file's are (the model loaded once per process)."""
    from audit.subject import load_subject

    key = _model_key(spec, trust_model)
    subject = load_subject(spec, trust_model=trust_model, frame=read_partition(partition),
                           adapter=_MODELS.get(key) if key else None, with_reference=False)
    if key is not None and subject.model is not None:
        _MODELS[key] = subject.model
    return subject


def count_partition(task: PartitionTask) -> PartitionResult:
    """Validate, decide and count one partition; send back the rows that may join the sample."""
    from audit.checks._population import count_subject
    from audit.checks._proxies import screen_counts

    subject = _subject(task.spec, task.partition, task.trust_model)
    u = sample_hashes(subject.ids, seed=task.spec.seed)
    keys = strata(subject.favourable, subject.groups)
    keep = u < task.candidate_probability
    return PartitionResult(partition=task.partition, population=count_subject(subject, task.spec),
                           candidates=subject.frame[keep], candidate_hashes=u[keep], candidate_strata=keys[keep],
                           strata={str(k): int(n) for k, n in pd.Series(keys).value_counts().items()}, bands=band_values(subject.X, subject.groups, subject.protected),
                           ids=sorted_id_hashes(subject.ids), columns=column_counts(subject.X),
                           associations=screen_counts(subject, None).capped())


@dataclass(frozen=True)
class DecisionsTask:
    """One partition whose decisions are explained with ``plan`` (built once, on the sample, by the audit; None:
    a decisions-only audit, whose rows carry no reasons)."""

    spec: AuditSpec
    partition: Partition
    plan: ExplainPlan | None
    trust_model: bool = False


@dataclass(frozen=True)
class PartitionDecisions:
    """A partition's rows of decisions.parquet: id, decision, score, outcome, groups, reasons, contributions."""

    partition: Partition
    frame: pd.DataFrame


def decide_partition(task: DecisionsTask) -> PartitionDecisions:
    """Each decision of the partition with its principal reasons, as the one-process audit writes them."""
    from audit.checks.local import reason_columns
    from audit.decisions import decisions_frame
    from audit.explain.shap_values import explain

    subject = _subject(task.spec, task.partition, task.trust_model)
    columns: dict[str, Any] = {}
    if task.plan is not None and subject.model is not None:
        result = explain(model=subject.model, X=subject.X, seed=task.spec.seed, plan=task.plan, workers=1)
        columns.update(reason_columns(subject, result, top_k=task.spec.explanations.top_k)[1])
    return PartitionDecisions(partition=task.partition, frame=decisions_frame(subject, columns))


@dataclass(frozen=True)
class PlanTask(Generic[P]):
    """One partition on which a plan built once by the audit runs (the flip test's, recourse's): small, it travels
    to the worker; the rows do not."""

    spec: AuditSpec
    partition: Partition
    plan: P
    trust_model: bool = False
    carry: bool = False  # also send back the per-decision columns decisions.parquet takes from this pass


@dataclass(frozen=True)
class PartitionCounts(Generic[C]):
    """What a plan's pass brings back from a partition: its sums (the rows stay on the worker), and with ``carry``
    the per-decision columns for decisions.parquet (``id``, then the columns, for the rows that have them)."""

    partition: Partition
    counts: C
    columns: pd.DataFrame | None = None


def flip_partition(task: PlanTask[FlipPlan]) -> PartitionCounts[FlipCounts]:
    """The flip test of the partition's rows under the audit's plan; its largest flips carry the example fields when
    the spec asks for examples."""
    from audit.checks._examples import example_fields, field_values
    from audit.counterfactual.flip_counts import count_flips

    subject = _subject(task.spec, task.partition, task.trust_model)
    score = subject.predictions.score
    if subject.model is None or score is None:  # the audit plans a flip test only with a model
        raise ValueError("the flip test needs the model's scores")
    fields = example_fields(subject) if task.spec.report.examples else []
    counts = count_flips(task.plan, X=subject.X, groups=subject.groups, ids=subject.ids, model=subject.model,
                         score=score, decision=subject.predictions.decision,
                         describe=lambda position: field_values(subject, fields, position))
    return PartitionCounts(partition=task.partition, counts=counts)


def recourse_partition(task: PlanTask[RecoursePlan]) -> PartitionCounts[RecourseCounts]:
    """Search recourse for every adverse decision of the partition, as the audit of a whole file does, and sum; with
    ``carry``, each adverse decision's ``recourse`` text and ``recourse_cost`` too (the columns the audit of a whole
    file writes to decisions.parquet)."""
    from audit.counterfactual.recourse import find_recourse
    from audit.counterfactual.recourse_counts import count_recourse

    subject = _subject(task.spec, task.partition, task.trust_model)
    score = subject.predictions.score
    if subject.model is None or score is None:  # the audit plans a recourse pass only with a model
        raise ValueError("recourse needs the model's scores")
    adverse = np.flatnonzero(~subject.favourable)
    result = find_recourse(X=subject.X, rows=adverse, model=subject.model, action=task.plan.action,
                           score_before=score[adverse], max_changes=task.plan.max_changes,
                           favourable_is_positive=subject.favourable_is_positive)
    counts = count_recourse(result, task.plan.action, groups=subject.groups.iloc[adverse].reset_index(drop=True))
    columns = (pd.DataFrame({"id": subject.ids[adverse], "recourse": result.texts(), "recourse_cost": result.cost})
               if task.carry else None)
    return PartitionCounts(partition=task.partition, counts=counts, columns=columns)


def limit_threads() -> None:
    """One BLAS / OpenMP thread per worker process: the partitions are the parallelism (2 cores, 2 workers)."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
