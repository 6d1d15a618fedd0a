"""Robustness evidence (AI Act Art. 15(4)): decision flip rates under noise and missing values.

Produces ``robustness.perturbation``. Needs model access; the computation lives
in ``audit.robustness.perturbation``.
"""

from __future__ import annotations

from audit.checks._base import CheckContext, Need
from audit.evidence import Evidence
from audit.subject import Subject

__all__ = ["run", "NEEDS"]

NEEDS: tuple[Need, ...] = ("model",)


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """The perturbation tests as one Evidence."""
    from audit.checks._robustness import robustness_evidence

    if subject.image_columns and subject.has_model:
        from audit.checks._image_robustness import image_robustness_evidence

        return [image_robustness_evidence(subject, ctx)]
    return [robustness_evidence(subject, ctx)]
