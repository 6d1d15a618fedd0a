"""Keyed 64-bit hashes of decision ids: one definition for every use that must not depend on where a row is.

A partitioned audit (``audit.scale``) decides per row from its id alone: whether it joins the sample, which donor
the flip test gives it, whether it repeats an id of another partition. Each use has its own key, so the choices
are independent. SipHash through pandas' ``hash_pandas_object`` on the id as text (as the Subject holds it).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

__all__ = ["id_hashes", "seeded_key"]


def seeded_key(purpose: str, seed: int) -> str:
    """A 16-character SipHash key for one purpose and the audit's seed (the purpose keeps uses apart)."""
    return hashlib.sha256(f"{purpose}:{seed}".encode()).hexdigest()[:16]


def id_hashes(ids: np.ndarray, *, key: str) -> np.ndarray:
    """The keyed 64-bit hash of each id as text, in the ids' order (``key``: 16 characters)."""
    hashed = pd.util.hash_pandas_object(pd.Series(np.asarray(ids, dtype=str)), index=False, hash_key=key)
    return hashed.to_numpy(dtype=np.uint64)
