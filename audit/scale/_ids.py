"""Ids repeated across partitions: a whole-file audit refuses them (``ID_DUPLICATED``), so a partitioned one must.

Each partition refuses an id it holds twice (``load_subject``). Across partitions, each sends back the 64-bit hashes
of its ids (8 bytes a row, sorted); after the first pass the audit looks for a hash seen twice and, only then, reads
the id column of the partitions again to tell a repeated id from two ids whose hashes collide (about one chance in
300,000 with ten million rows), and names the repeated ones as a whole file's read would.
"""

from __future__ import annotations

import numpy as np

from audit.errors import ID_DUPLICATED, AuditInputError
from audit.id_hash import id_hashes
from audit.scale._partitions import Partition, read_partition
from audit.spec import AuditSpec

__all__ = ["sorted_id_hashes", "refuse_repeated_ids"]

_KEY = "audit.scale.ids0"  # 16 characters: SipHash's key


def sorted_id_hashes(ids: np.ndarray) -> np.ndarray:
    """Sorted 64-bit hashes of the ids (what a partition sends back)."""
    return np.sort(id_hashes(ids, key=_KEY))


def refuse_repeated_ids(spec: AuditSpec, partitions: list[Partition], hashes: list[np.ndarray]) -> None:
    """Raise ``ID_DUPLICATED`` when an id of ``data.id_column`` is in more than one partition."""
    column = spec.data.id_column
    if column is None or len(hashes) < 2:  # row numbers are unique; one partition was checked whole
        return
    every = np.sort(np.concatenate(hashes))
    twice = np.unique(every[1:][every[1:] == every[:-1]])
    if twice.size == 0:
        return
    seen: dict[str, int] = {}
    for partition in partitions:
        ids = read_partition(partition, columns=[column])[column].astype(str).to_numpy()
        for value in ids[np.isin(id_hashes(ids, key=_KEY), twice)]:
            seen[str(value)] = seen.get(str(value), 0) + 1
    repeated = [value for value, n in seen.items() if n > 1]
    if repeated:
        examples = ", ".join(repr(v) for v in repeated[:3]) + (" ..." if len(repeated) > 3 else "")
        raise AuditInputError(ID_DUPLICATED, path=spec.resolve(spec.data.path), column=column, count=len(repeated),
                              examples=examples)
