"""How far a counterfactual is from its original row: which units changed, and at what cost.

Cost of a unit's change: |Δ| / robust spread of its numeric member (1 when the
original value is missing), else 1 per changed category. The recourse search,
its polish step, the evidence and the benchmark all use these two functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.counterfactual.actionability import Unit

__all__ = ["changed_units", "unit_costs"]


def changed_units(original: pd.DataFrame, cf: pd.DataFrame, units: list[Unit]) -> np.ndarray:
    """(rows, units) True where any column of the unit differs (missing equals missing)."""
    out = np.zeros((len(original), len(units)), dtype=bool)
    for u, unit in enumerate(units):
        for c in unit.columns:
            a, b = original[c], cf[c]
            out[:, u] |= ~((a == b).fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy())
    return out


def unit_costs(original: pd.DataFrame, cf: pd.DataFrame, units: list[Unit], scales: dict[str, float]) -> np.ndarray:
    """(rows, units) cost of each unit's change: |Δ| / spread for numeric units (1 from missing), else 1."""
    changed = changed_units(original, cf, units)
    cost = changed.astype(float)
    for u, unit in enumerate(units):
        c = unit.cost_column
        if c is None:
            continue
        delta = np.abs(cf[c].to_numpy(dtype=float) - original[c].to_numpy(dtype=float)) / scales[c]
        cost[:, u] = np.where(changed[:, u], np.where(np.isnan(delta), 1.0, delta), 0.0)
    return cost
