"""Explanations of a model's decisions, in the user's own columns.

- :func:`explain` -> :class:`ShapResult`: SHAP contributions for every decision, the explainer
  chosen by model kind, encoded columns folded back (:mod:`.shap_values`, :mod:`.folding`);
- :func:`principal_reasons`: the top reasons of each decision as readable text (:mod:`.reasons`);
- :func:`lime_quality` -> :class:`LimeQuality`: LIME's fidelity, stability and agreement with SHAP;
- :func:`render_notice`: the one-page notice of main reasons for one person, from a bundle;
- :func:`make_executor`: one interface for chunked work (in-process, local processes, Dask).

Heavy libraries (shap, lime, torch, dask, WeasyPrint) are imported inside the functions that need them.
"""

from __future__ import annotations

from audit.explain.executor import (
    ChunkExecutor,
    DaskExecutor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
    row_chunks,
)
from audit.explain.folding import FoldingError, fold_map, fold_values
from audit.explain.lime_quality import LimeQuality, lime_quality
from audit.explain.notice import render_notice
from audit.explain.reasons import Reasons, principal_reasons
from audit.explain.shap_values import ExplainPlan, ShapResult, explain, plan_explanation

__all__ = [
    "ChunkExecutor",
    "DaskExecutor",
    "ExplainPlan",
    "FoldingError",
    "InlineExecutor",
    "LimeQuality",
    "ProcessExecutor",
    "Reasons",
    "ShapResult",
    "explain",
    "fold_map",
    "fold_values",
    "lime_quality",
    "make_executor",
    "plan_explanation",
    "principal_reasons",
    "render_notice",
    "row_chunks",
]
