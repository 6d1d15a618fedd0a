"""Run the partition work on local processes or a Dask cluster, and take the results as they come back.

Four passes use it. :func:`count_partitions` runs :func:`audit.scale._work.count_partition` on every partition: only
counts, the sample's candidate rows, value counts (band medians, recourse's rules of change, the proxy screen's
tables) and id hashes travel back, added as each partition finishes, so the memory of the process that runs ``audit``
holds counts and 8 bytes of id hash a row, never the rows. :func:`flip_partitions` and :func:`recourse_partitions`
run the flip test's and recourse's plans on every partition and add their sums (``_summed``); recourse's also hands
each partition's per-decision texts and costs to a ``keep`` (the audit writes them to disk until decisions.parquet is
written). :func:`decide_partitions` runs :func:`audit.scale._work.decide_partition`: each partition's decisions with
their reasons, handed on in row order for the audit to write one partition at a time. Without a scheduler address,
``workers`` local processes (spawned, one BLAS thread each) do the work; with one, the cluster's workers do, after a
check that each has the libraries the work needs, at this machine's versions (a worker deciding with another
scikit-learn would give other decisions).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from audit.counterfactual.column_counts import ColumnCounts
from audit.counterfactual.flip_counts import BandValues, FlipCounts, FlipPlan, band_medians, merge_band_values
from audit.counterfactual.recourse_counts import VIOLATIONS, RecourseCounts, RecoursePlan
from audit.errors import (
    DATA_EMPTY,
    PARTITIONED_UNSUPPORTED,
    WORKER_LIBRARY_MISSING,
    WORKER_LIBRARY_VERSION,
    AuditInputError,
)
from audit.explain.shap_values import ExplainPlan
from audit.fairness.associations import AssociationCounts
from audit.fairness.population import Population
from audit.sample import DEFAULT_SAMPLE_ROWS, Sample, candidate_probability, stratified_sample
from audit.scale._ids import refuse_repeated_ids
from audit.scale._partitions import Partition, plan_partitions
from audit.scale._work import (
    DecisionsTask,
    PartitionCounts,
    PartitionDecisions,
    PartitionTask,
    PlanTask,
    count_partition,
    decide_partition,
    flip_partition,
    limit_threads,
    recourse_partition,
)
from audit.spec import AuditSpec, ModelFormat

__all__ = ["count_partitions", "decide_partitions", "flip_partitions", "recourse_partitions", "check_partitionable",
           "required_distributions", "Progress", "Keep", "Partitioned", "DEFAULT_PARTITION_ROWS", "DEFAULT_SAMPLE_ROWS"]

#: Rows per partition unless the spec says: about 100 MB of Adult-like rows in pandas, a few seconds of work.
DEFAULT_PARTITION_ROWS = 250_000

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F")
P = TypeVar("P")
C = TypeVar("C")

#: Called after each partition with (rows done, rows in all).
Progress = Callable[[int, int], None]
#: Receives a partition's per-decision columns from a pass (``id``, then the columns), to keep until decisions.parquet.
Keep = Callable[[Partition, pd.DataFrame], None]

_MODEL_DISTRIBUTIONS: dict[ModelFormat, tuple[str, ...]] = {
    ModelFormat.SKOPS: ("scikit-learn", "skops"),
    ModelFormat.PICKLE: ("scikit-learn",),
    ModelFormat.JOBLIB: ("scikit-learn", "joblib"),
    ModelFormat.XGBOOST: ("xgboost",),
    ModelFormat.LIGHTGBM: ("lightgbm",),
    ModelFormat.TORCHSCRIPT: ("torch",),
    ModelFormat.TORCH: ("torch",),
    ModelFormat.ONNX: ("onnxruntime",),
    ModelFormat.NONE: (),
}


def required_distributions(spec: AuditSpec) -> tuple[str, ...]:
    """The installed distributions a worker needs to decide a partition as this machine would."""
    return ("audit", "numpy", "pandas", "pyarrow", *_MODEL_DISTRIBUTIONS[spec.model.format])


def check_partitionable(spec: AuditSpec) -> None:
    """Refuse, before any work, what a partitioned audit cannot do exactly."""
    where = spec.source or spec.resolve(spec.data.path)
    if spec.image_columns or any(kind == "text" for kind in spec.data.feature_types.values()):
        raise AuditInputError(PARTITIONED_UNSUPPORTED, path=where, field="data.feature_types",
                              problem="image and text inputs are audited in one process")
    if spec.system.use == "scoring":
        raise AuditInputError(PARTITIONED_UNSUPPORTED, path=where, field="system.use",
                              problem="a scoring tool's rate is measured against the median score of all rows, "
                                      "which partition counts cannot give exactly")


@dataclass(frozen=True)
class Partitioned:
    """What a partitioned read gives the audit: counts over every row, and the stratified sample's rows."""

    population: Population
    sample: pd.DataFrame  # every column of the sampled rows, indexed by their row number in the whole data
    partitions: int
    drawn: Sample  # the sample's size wanted and held, and its strata
    #: attribute -> band -> its median over every row (binned protected inputs; the flip test moves rows to it)
    band_medians: dict[str, dict[str, Any]]
    #: rows per value of each model input over every row (recourse's rules of change); columns past
    #: ``column_counts.MAX_VALUES`` distinct values dropped
    columns: ColumnCounts
    #: rows per (input value, protected group) over every row (the proxy screen's tables); inputs past
    #: ``associations.MAX_VALUES`` distinct values dropped
    associations: AssociationCounts


def count_partitions(spec: AuditSpec, *, trust_model: bool = False, target_rows: int = DEFAULT_PARTITION_ROWS,
                     sample_rows: int = DEFAULT_SAMPLE_ROWS, scheduler: str | None = None, workers: int = 2,
                     progress: Progress | None = None) -> Partitioned:
    """Counts over all rows of ``data.path`` (Parquet) and a seeded sample of them, partition by partition; an id
    in two partitions is refused as a whole file's read refuses it (``ID_DUPLICATED``), before any check runs."""
    check_partitionable(spec)
    partitions = plan_partitions(spec.resolve(spec.data.path), target_rows=target_rows)
    total = sum(p.rows for p in partitions)
    if total == 0:
        raise AuditInputError(DATA_EMPTY, path=spec.resolve(spec.data.path))
    probability = candidate_probability(rows=total, sample_rows=sample_rows)
    tasks = [PartitionTask(spec=spec, partition=p, candidate_probability=probability, trust_model=trust_model)
             for p in partitions]
    merged: Population | None = None
    bands: BandValues | None = None
    columns: ColumnCounts | None = None
    associations: AssociationCounts | None = None
    candidates: list[pd.DataFrame] = []
    hashes: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    sizes: dict[str, int] = {}
    ids: list[np.ndarray] = []
    done = 0
    for result in _run(count_partition, tasks, spec=spec, scheduler=scheduler, workers=workers):
        merged = result.population if merged is None else merged.merge(result.population)
        bands = result.bands if bands is None else merge_band_values(bands, result.bands)
        columns = result.columns if columns is None else columns.merge(result.columns)
        associations = result.associations if associations is None else associations.merge(result.associations)
        ids.append(result.ids)
        candidates.append(result.candidates)
        hashes.append(result.candidate_hashes)
        keys.append(result.candidate_strata)
        for key, n in result.strata.items():
            sizes[key] = sizes.get(key, 0) + n
        done += result.partition.rows
        if progress is not None:
            progress(done, total)
    if merged is None or columns is None or associations is None:  # unreachable: total > 0 means a partition
        raise AuditInputError(DATA_EMPTY, path=spec.resolve(spec.data.path))
    refuse_repeated_ids(spec, partitions, ids)
    keep, drawn = stratified_sample(np.concatenate(hashes), np.concatenate(keys), sizes, sample_rows=sample_rows)
    sample = pd.concat(candidates)[keep].sort_index()
    return Partitioned(population=merged, sample=sample, partitions=len(partitions), drawn=drawn,
                       band_medians=band_medians(bands or {}), columns=columns.capped(), associations=associations)


def _missing(exc: ModuleNotFoundError, worker: str) -> AuditInputError:
    return AuditInputError(WORKER_LIBRARY_MISSING, worker=worker, module=exc.name or str(exc),
                           why="raised while deciding a partition")


def _windowed(submit: Callable[[T], F], tasks: list[T], window: int) -> Iterator[F]:
    """Futures of ``tasks`` in task order, with at most ``window`` submitted and not yet handed on: a partition that
    finishes early waits in its future, and no more than ``window`` results are ever held, even when one straggles."""
    queue = iter(tasks)
    pending: deque[F] = deque(submit(t) for t in itertools.islice(queue, max(1, window)))
    while pending:
        head = pending.popleft()
        for t in itertools.islice(queue, 1):  # keep the window full while the head is awaited
            pending.append(submit(t))
        yield head


def _on_local_processes(work: Callable[[T], R], tasks: list[T], workers: int, *, window: int | None = None
                        ) -> Iterator[R]:
    """Spawned processes (never forked: the parent may hold threads and open model handles). ``window``: results in
    task order, at most that many outstanding (else as they complete)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context, initializer=limit_threads) as pool:
        futures = (_windowed(lambda t: pool.submit(work, t), tasks, window) if window is not None
                   else as_completed([pool.submit(work, t) for t in tasks]))
        for future in futures:
            try:
                yield future.result()
            except ModuleNotFoundError as exc:
                raise _missing(exc, "local process") from None


def _check_workers(client: Any, spec: AuditSpec) -> None:
    """Every worker has each required distribution, at this machine's version; refused by name otherwise."""
    for name in required_distributions(spec):
        found = client.run(importlib.metadata.version, name, on_error="return")
        for worker, version in sorted(found.items()):
            if isinstance(version, BaseException):
                raise AuditInputError(WORKER_LIBRARY_MISSING, worker=worker, module=name,
                                      why=f"{type(version).__name__}: {version}")
        expected = importlib.metadata.version(name)
        for worker, version in sorted(found.items()):
            if version != expected:
                raise AuditInputError(WORKER_LIBRARY_VERSION, worker=worker, library=name, found=version,
                                      expected=expected)


def _on_cluster(work: Callable[[T], R], tasks: list[T], address: str, spec: AuditSpec, *, window: int | None = None
                ) -> Iterator[R]:
    """The cluster at ``address`` (``tcp://host:8786``) does the work; each result is released once taken.
    ``window``: results in task order, at most that many outstanding (at least two per worker thread)."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address, set_as_default=False) as client:
        _check_workers(client, spec)
        if window is not None:
            threads = sum(client.nthreads().values())
            futures: Iterator[Any] = _windowed(lambda t: client.submit(work, t, pure=False), tasks,
                                               max(window, 2 * threads))
        else:
            futures = dask_completed(client.map(work, tasks, pure=False), loop=client.loop)
        for future in futures:
            try:
                result = future.result()
            except ModuleNotFoundError as exc:
                raise _missing(exc, "a worker of " + address) from None
            future.release()
            yield result


def _run(work: Callable[[T], R], tasks: list[T], *, spec: AuditSpec, scheduler: str | None, workers: int,
         window: int | None = None) -> Iterator[R]:
    """The results of ``work`` on every task, as they complete, or in task order with ``window``."""
    if scheduler is not None:
        return _on_cluster(work, tasks, scheduler, spec, window=window)
    return _on_local_processes(work, tasks, workers, window=window)


def decide_partitions(spec: AuditSpec, plan: ExplainPlan | None, *, trust_model: bool = False,
                      target_rows: int = DEFAULT_PARTITION_ROWS, scheduler: str | None = None, workers: int = 2,
                      progress: Progress | None = None) -> Iterator[PartitionDecisions]:
    """Every decision with its reasons, partition by partition, in the data's row order (so the file written from
    these is the same whatever the engine). At most ``2 × workers + 1`` partitions are in flight or waiting for an
    earlier one, so a straggling partition holds back a bounded number of others, never every one."""
    partitions = plan_partitions(spec.resolve(spec.data.path), target_rows=target_rows)
    tasks = [DecisionsTask(spec=spec, partition=p, plan=plan, trust_model=trust_model) for p in partitions]
    total = sum(p.rows for p in partitions)
    done = 0
    for result in _run(decide_partition, tasks, spec=spec, scheduler=scheduler, workers=workers,
                       window=2 * max(1, workers) + 1):
        done += result.partition.rows
        if progress is not None:
            progress(done, total)
        yield result


def _summed(work: Callable[[PlanTask[P]], PartitionCounts[C]], plan: P, merge: Callable[[C, C], C],
            spec: AuditSpec, *, trust_model: bool, target_rows: int, scheduler: str | None, workers: int,
            progress: Progress | None, keep: Keep | None = None) -> C | None:
    """``plan`` run on every partition by ``work``; the sums merged as they come back (integer sums, so the same in
    any order). With ``keep``, each partition's per-decision columns are handed to it as they come back (and at
    most ``2 × workers + 1`` results are held, as for decisions). None: no partition."""
    partitions = plan_partitions(spec.resolve(spec.data.path), target_rows=target_rows)
    tasks = [PlanTask(spec=spec, partition=p, plan=plan, trust_model=trust_model, carry=keep is not None)
             for p in partitions]
    total = sum(p.rows for p in partitions)
    merged: C | None = None
    done = 0
    window = 2 * max(1, workers) + 1 if keep is not None else None
    for result in _run(work, tasks, spec=spec, scheduler=scheduler, workers=workers, window=window):
        merged = result.counts if merged is None else merge(merged, result.counts)
        if keep is not None and result.columns is not None:
            keep(result.partition, result.columns)
        done += result.partition.rows
        if progress is not None:
            progress(done, total)
    return merged


def flip_partitions(spec: AuditSpec, plan: FlipPlan, *, trust_model: bool = False,
                    target_rows: int = DEFAULT_PARTITION_ROWS, scheduler: str | None = None, workers: int = 2,
                    progress: Progress | None = None) -> FlipCounts:
    """The flip test of every row under ``plan``, partition by partition (counts and a total order of examples, so
    the merge is the same in any order)."""
    merged = _summed(flip_partition, plan, FlipCounts.merge, spec, trust_model=trust_model, target_rows=target_rows,
                     scheduler=scheduler, workers=workers, progress=progress)
    return merged if merged is not None else FlipCounts(pairs={}, examples=(), n_predicted=0,
                                                        max_examples=plan.max_examples)


def recourse_partitions(spec: AuditSpec, plan: RecoursePlan, *, trust_model: bool = False,
                        target_rows: int = DEFAULT_PARTITION_ROWS, scheduler: str | None = None, workers: int = 2,
                        progress: Progress | None = None, keep: Keep | None = None) -> RecourseCounts:
    """Recourse for every adverse decision under ``plan``, partition by partition (integer sums, so the merge is
    the same in any order); ``keep`` receives each partition's ``recourse`` and ``recourse_cost`` per adverse
    decision (for decisions.parquet)."""
    merged = _summed(recourse_partition, plan, RecourseCounts.merge, spec, trust_model=trust_model,
                     target_rows=target_rows, scheduler=scheduler, workers=workers, progress=progress, keep=keep)
    return merged if merged is not None else RecourseCounts(adverse=0, found=0, withdrawn=0, changes=0, cost=0, units={},
                                                            violations=dict.fromkeys(VIOLATIONS, 0))
