"""Explanations of a model's decisions: SHAP per decision (folded to the user's columns), LIME quality, notices.

Heavy libraries (shap, lime, torch, dask) are imported inside the functions that need them.
"""

from __future__ import annotations

from audit.explain.executor import ChunkExecutor, DaskExecutor, InlineExecutor, ProcessExecutor, make_executor, row_chunks
from audit.explain.folding import FoldingError, fold_map, fold_values
from audit.explain.shap_values import ExplainPlan, ShapResult, explain, plan_explanation

__all__ = [
    "ChunkExecutor",
    "DaskExecutor",
    "ExplainPlan",
    "FoldingError",
    "InlineExecutor",
    "ProcessExecutor",
    "ShapResult",
    "explain",
    "fold_map",
    "fold_values",
    "make_executor",
    "plan_explanation",
    "row_chunks",
]
