"""Per-decision columns a pass computes before decisions.parquet is written, kept on disk one partition at a time.

The recourse pass searches every adverse decision where its partition is read, but decisions.parquet is written by a
later pass (after the evidence, whose explanation plan it needs). Holding every adverse decision's recourse text in
the process that runs ``audit`` would grow with the data (about 100 bytes a decision: 0.8 GB for 8 million), so each
partition's columns are written, as they come back, to a Parquet file of their own in a temporary folder, and read
back when that partition's decisions are written. Memory: one partition's columns. The folder is removed with the
object (``cleanup`` or garbage collection).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from audit.scale._partitions import Partition

__all__ = ["CarriedColumns"]


class CarriedColumns:
    """A temporary folder of per-partition columns keyed by the decision's id."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="audit-carried-")

    def _path(self, partition: Partition) -> Path:
        return Path(self._folder.name) / f"{partition.index:06d}.parquet"

    def put(self, partition: Partition, frame: pd.DataFrame) -> None:
        """Keep ``frame`` (an ``id`` column, then one column per value) for ``partition``."""
        frame.to_parquet(self._path(partition), index=False)

    def take(self, partition: Partition, ids: pd.Series) -> dict[str, np.ndarray]:
        """The columns kept for ``partition``, aligned to ``ids`` (missing where a decision has none: None for text,
        NaN for numbers); empty when nothing was kept for it."""
        path = self._path(partition)
        if not path.exists():
            return {}
        kept = pd.read_parquet(path).set_index("id")
        return {str(column): kept[column].reindex(ids.to_numpy()).to_numpy() for column in kept.columns}

    def cleanup(self) -> None:
        """Remove the folder and what it holds."""
        self._folder.cleanup()
