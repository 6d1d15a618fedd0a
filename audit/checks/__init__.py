"""Checks: functions of the Subject that return Evidence. See ``_base`` for the contract."""

from __future__ import annotations

from audit.checks._base import CheckContext, Progress

__all__ = ["CHECK_MODULES", "CheckContext", "Progress"]

# Run order matters: later checks read what earlier ones set on the context (ctx.shap, ctx.proxies).
CHECK_MODULES: tuple[str, ...] = (
    "audit.checks.data",
    "audit.checks.performance",
    "audit.checks.importance",
    "audit.checks.local",
    "audit.checks.fairness",
    "audit.checks.counterfactual",
    "audit.checks.robustness",
    "audit.checks.oversight",
)
