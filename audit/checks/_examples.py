"""Examples of individual decisions, shared by the local-explanation and counterfactual checks.

They are personal data: built only when the spec asks (``report.examples``), and then showing a
person's values only for ``report.example_fields`` (validated against the data when it is loaded;
checked again here for a Subject built another way).
"""

from __future__ import annotations

from typing import Any

from audit.errors import COLUMN_NOT_FOUND, AuditInputError
from audit.evidence import clean_number
from audit.subject import Subject

__all__ = ["EXAMPLES_LEFT_OUT", "example_fields", "field_values"]

EXAMPLES_LEFT_OUT = ("Examples of individual decisions are left out of the report (personal data); set report.examples "
                     "to include them.")


def example_fields(subject: Subject) -> list[str]:
    """The data columns whose values examples may show (report.example_fields), each checked against the data."""
    fields = list(dict.fromkeys(subject.spec.report.example_fields))
    columns = [str(c) for c in subject.frame.columns]
    for name in fields:
        if name not in columns:
            raise AuditInputError(COLUMN_NOT_FOUND, path=subject.spec.source or "audit.yaml", column=name,
                                  field="report.example_fields", available=", ".join(columns))
    return fields


def field_values(subject: Subject, fields: list[str], position: int) -> dict[str, Any]:
    """One person's values of the example fields (plain values, as in the data)."""
    return {name: clean_number(subject.frame[name].iloc[position]) for name in fields}
