"""Where the rows of a large data set are, in pieces one process can hold: Parquet row groups.

A :class:`Partition` names one Parquet file and a run of its row groups. :func:`plan_partitions` lists them for a
single file or a folder of files (a Parquet dataset), in a fixed order (files by name, row groups in file order), so
that every run, local or on a cluster, sees the same rows in the same partitions. Nothing is read but the footers;
:func:`read_partition` reads one partition's rows (only the columns asked for) when a worker needs them.

CSV is not split: a CSV file has no row index, so finding row boundaries means reading it; convert it once
(``pyarrow.csv`` to Parquet) and point ``data.path`` at the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.errors import FILE_NOT_FOUND, UNSUPPORTED_FORMAT, AuditInputError

__all__ = ["Partition", "plan_partitions", "read_partition", "data_digest", "PARQUET_SUFFIXES"]

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Partition:
    """Row groups ``row_groups`` of the Parquet file ``path``: ``rows`` rows starting at row ``start`` of the data."""

    index: int
    path: Path
    row_groups: tuple[int, ...]
    start: int
    rows: int


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in PARQUET_SUFFIXES:
            raise AuditInputError(UNSUPPORTED_FORMAT, path=path, what="partitioned data file type",
                                  value=path.suffix.lower(), supported=", ".join(PARQUET_SUFFIXES) + " or a folder of them")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES)
        if files:
            return files
    raise AuditInputError(FILE_NOT_FOUND, what="Parquet data (a file or a folder of .parquet files)", path=path,
                          hint="fix data.path in the spec")


def plan_partitions(path: Path, *, target_rows: int) -> list[Partition]:
    """Partitions of about ``target_rows`` rows each: whole row groups, never split, never across two files.

    A row group larger than ``target_rows`` is a partition of its own (Parquet cannot read less than a row group);
    write the data with smaller row groups to bound a worker's memory more tightly.
    """
    import pyarrow.parquet as pq

    if target_rows < 1:
        raise ValueError(f"target_rows must be at least 1, got {target_rows}")
    partitions: list[Partition] = []
    start = 0
    for file in _files(path):
        meta = pq.ParquetFile(file).metadata
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if n == 0:  # an empty row group holds no decision: no partition of its own
                continue
            if groups and rows + n > target_rows:
                partitions.append(Partition(len(partitions), file, tuple(groups), start, rows))
                start, groups, rows = start + rows, [], 0
            groups.append(g)
            rows += n
        if groups:
            partitions.append(Partition(len(partitions), file, tuple(groups), start, rows))
            start += rows
    return partitions


def read_partition(partition: Partition, *, columns: list[str] | None = None) -> pd.DataFrame:
    """The partition's rows (only ``columns`` when given), indexed by their row number in the whole data."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(partition.path).read_row_groups(list(partition.row_groups), columns=columns)
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(partition.start, partition.start + len(frame))
    return frame


def data_digest(path: Path) -> str:
    """SHA-256 of the data: of the file, or for a folder (a Parquet dataset) of each .parquet file's path and
    SHA-256 in name order, so that adding, removing, renaming or changing any file changes it."""
    import hashlib

    from audit.signing import hash_file

    if path.is_file():
        return hash_file(path)
    digest = hashlib.sha256()
    for file in _files(path):
        digest.update(f"{file.relative_to(path).as_posix()}\0{hash_file(file)}\n".encode())
    return digest.hexdigest()
