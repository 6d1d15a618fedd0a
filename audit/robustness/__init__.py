"""Robustness of a model's decisions to perturbed inputs (AI Act Art. 15(4)): pure methods, no Evidence.

:mod:`perturbation` re-predicts copies of the rows with Gaussian noise on numeric
features and with values set missing, and counts the decisions that change.
``audit.checks.robustness`` turns the result into evidence.
"""

from __future__ import annotations

from audit.robustness.perturbation import RateCI, RobustnessResult, perturbation_test

__all__ = ["RateCI", "RobustnessResult", "perturbation_test"]
