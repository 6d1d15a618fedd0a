"""Which counts over every decision the rate checks read, and counting them from one Subject's rows.

``fairness.selection_rate`` and ``fairness.error_rates`` read each protected attribute and each intersection the
spec names; ``fairness.eeo_impact`` the EEO columns and their sex × race pairs. A partitioned audit (``audit.scale``) counts
exactly these sets on every partition (:func:`count_subject` on the partition's Subject) and merges them.
"""

from __future__ import annotations

from audit.checks._eeo import eeo_breakdowns
from audit.checks._selection import selection_indicator
from audit.fairness.groups import intersection_sets
from audit.fairness.population import Population, count_population
from audit.spec import AuditSpec
from audit.subject import Subject

__all__ = ["population_sets", "count_subject"]


def population_sets(spec: AuditSpec, columns: list[str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The breakdowns to count (attribute tuples) and the attribute sets whose unknowns are counted."""
    selection = [(c,) for c in columns] + intersection_sets(columns, spec.fairness.intersections,
                                                            spec_path=spec.source or "audit.yaml")
    eeo_columns, eeo = eeo_breakdowns(spec, columns)
    unknown = [tuple(columns)] + ([eeo_columns] if eeo_columns else [])
    return list(dict.fromkeys(selection + eeo)), unknown


def count_subject(subject: Subject, spec: AuditSpec) -> Population:
    """The population counts of the Subject's rows (one partition's, in a partitioned audit)."""
    selected, _kind, _median = selection_indicator(subject)
    breakdowns, unknown = population_sets(spec, [str(c) for c in subject.groups.columns])
    return count_population(subject.groups, breakdowns=breakdowns, unknown_sets=unknown,
                            decision=subject.predictions.decision, y=subject.y, selected=selected)
