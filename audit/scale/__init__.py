"""Audits of more rows than one process holds (issue 16): Parquet read by partition, counted where it is read.

- :mod:`audit.scale._partitions`: which rows make a partition (Parquet row groups), and reading one.
- :mod:`audit.scale._work`: what a worker does with a partition (validate, decide, count, sample; rows stay there).
- :mod:`audit.sample`: the stratified sample, ordered by a keyed hash of each row's id (partition-independent).
- :mod:`audit.scale.engine`: local processes or a Dask cluster, progress, the check of the workers' libraries; the
  passes: counts and sample, the flip test of every row (``audit.counterfactual.flip_counts``), recourse for every
  adverse decision (``audit.counterfactual.recourse_counts``), every decision's reasons.
- :mod:`audit.scale._carried`: per-decision columns of one pass (recourse's) kept on disk per partition until
  decisions.parquet is written.

The counts themselves are :class:`audit.fairness.population.Population`: the rate checks read them whether they were
counted in one process or merged from partitions.
"""

from audit.sample import sample_hashes, stratified_sample
from audit.scale._carried import CarriedColumns
from audit.scale._partitions import Partition, data_digest, plan_partitions, read_partition
from audit.scale._work import PartitionResult, PartitionTask, count_partition
from audit.scale.engine import (
    DEFAULT_PARTITION_ROWS,
    DEFAULT_SAMPLE_ROWS,
    Partitioned,
    check_partitionable,
    count_partitions,
    decide_partitions,
    flip_partitions,
    recourse_partitions,
    required_distributions,
)

__all__ = [
    "CarriedColumns",
    "Partition",
    "plan_partitions",
    "read_partition",
    "data_digest",
    "sample_hashes",
    "stratified_sample",
    "PartitionResult",
    "PartitionTask",
    "count_partition",
    "DEFAULT_PARTITION_ROWS",
    "DEFAULT_SAMPLE_ROWS",
    "Partitioned",
    "check_partitionable",
    "count_partitions",
    "decide_partitions",
    "flip_partitions",
    "recourse_partitions",
    "required_distributions",
]
