"""The work one partition needs, run where the partition is read (a local process or a Dask worker).

:func:`count_partition` reads the partition's rows, validates and decides them exactly as a whole-file audit does
(``load_subject`` on those rows: the same column checks, the same model adapter, the same decision), and returns
the partition's counts (``audit.fairness.population``) and its share of the audit's sample (:mod:`._sample`). The
other rows never leave the worker. A worker loads the model once and keeps it for its next partitions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from audit.fairness.population import Population
from audit.models import ModelAdapter
from audit.scale._partitions import Partition, read_partition
from audit.scale._sample import sample_mask
from audit.spec import AuditSpec

__all__ = ["PartitionTask", "PartitionResult", "count_partition", "limit_threads"]

#: The model each worker process loaded, by (model file, its modification time, trusted): loaded once per process.
_MODELS: dict[tuple[str, int, bool], ModelAdapter] = {}


@dataclass(frozen=True)
class PartitionTask:
    """One partition to count under one spec (small: it travels to the worker; the rows do not).

    ``sample_probability``: the chance each row has of joining the sample (the same for every row and partition).
    """

    spec: AuditSpec
    partition: Partition
    sample_probability: float
    trust_model: bool = False


@dataclass(frozen=True)
class PartitionResult:
    """What comes back from a partition: its counts and its sampled rows (all their columns, global row index)."""

    partition: Partition
    population: Population
    sample: pd.DataFrame


def _model_key(spec: AuditSpec, trust: bool) -> tuple[str, int, bool] | None:
    if spec.model.path is None:
        return None
    path = spec.resolve(spec.model.path)
    return str(path), path.stat().st_mtime_ns, trust


def count_partition(task: PartitionTask) -> PartitionResult:
    """Validate, decide and count one partition; keep the rows the seeded sample draws."""
    from audit.checks._population import count_subject
    from audit.subject import load_subject

    spec = task.spec
    key = _model_key(spec, task.trust_model)
    frame = read_partition(task.partition)
    subject = load_subject(spec, trust_model=task.trust_model, frame=frame,
                           adapter=_MODELS.get(key) if key else None, with_reference=False)
    if key is not None and subject.model is not None:
        _MODELS[key] = subject.model
    keep = sample_mask(subject.ids, seed=spec.seed, probability=task.sample_probability)
    return PartitionResult(partition=task.partition, population=count_subject(subject, spec), sample=frame[keep])


def limit_threads() -> None:
    """One BLAS / OpenMP thread per worker process: the partitions are the parallelism (2 cores, 2 workers)."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
