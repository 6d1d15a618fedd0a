"""The audit's sample: rows chosen by a seeded hash of their id, so neither partitioning nor reading mode changes it.

Work that reads a sample rather than every row (robustness, the flip test's donors of proxy values; in a partitioned
audit, ``audit.scale``, every check that cannot be counted) reads these rows, whether the data is read whole or
partition by partition.

Each row joins the sample when a keyed hash of its id (SipHash, pandas' ``hash_pandas_object`` with a key derived
from the audit's seed), read as a number in [0, 1), is below ``probability``. A row's fate depends on its id and the
seed alone: not on which partition holds it, nor on the order in which partitions finish. Every row has the same
chance, so the sample is a simple random sample in expectation (Bernoulli sampling): its size varies a little around
``probability`` × rows, and small groups are as rare in it as in the data (no stratification).
"""

from __future__ import annotations

import numpy as np

from audit.id_hash import id_hashes, seeded_key

__all__ = ["sample_mask", "sample_probability", "sample_positions", "DEFAULT_SAMPLE_ROWS"]

#: About how many rows the sample holds unless the spec says otherwise (``scale.sample_rows``).
DEFAULT_SAMPLE_ROWS = 20_000

_TWO_64 = float(2**64)


def sample_mask(ids: np.ndarray, *, seed: int, probability: float) -> np.ndarray:
    """Which of the rows with these ids the sample keeps."""
    if probability >= 1.0:
        return np.ones(len(ids), dtype=bool)
    return id_hashes(ids, key=seeded_key("audit.scale.sample", seed)) / _TWO_64 < probability


def sample_probability(*, rows: int, sample_rows: int) -> float:
    """The chance per row that gives about ``sample_rows`` rows of ``rows`` (1 when there are fewer)."""
    return 1.0 if rows <= sample_rows else sample_rows / rows


def sample_positions(ids: np.ndarray, *, seed: int, sample_rows: int) -> np.ndarray:
    """Positions of the rows with these ids that the sample of about ``sample_rows`` of them keeps (all, when fewer)."""
    return np.flatnonzero(sample_mask(ids, seed=seed, probability=sample_probability(rows=len(ids),
                                                                                       sample_rows=sample_rows)))
