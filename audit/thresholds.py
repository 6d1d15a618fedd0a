"""Thresholds: the one home of every number that can decide a requirement (policies/thresholds.yaml + the spec).

A threshold decides (PASS or FAIL) only where it binds: where the requirement's own
legal text sets the number (``binds`` in thresholds.yaml, e.g. the four-fifths rule
for 29 CFR 1607.4(D)), or where the user set it in audit.yaml with ``set_by``.
Anywhere else the value is a reference: the finding is REVIEW and shows the measured
figure beside it. Checks never read thresholds to judge; they may read
:func:`reference_line` to draw a line on a chart, labelled with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from audit.errors import SPEC_INVALID, THRESHOLD_OUT_OF_RANGE, THRESHOLD_UNKNOWN, AuditInputError
from audit.spec import AuditSpec

__all__ = [
    "THRESHOLDS_FILE",
    "Direction",
    "ThresholdDef",
    "Resolved",
    "load_thresholds",
    "resolve",
    "reference_line",
    "validate_overrides",
]

THRESHOLDS_FILE = Path(__file__).resolve().parents[1] / "policies" / "thresholds.yaml"

Direction = Literal["at_least", "at_most"]


class ThresholdDef(BaseModel):
    """One entry of thresholds.yaml."""

    model_config = ConfigDict(extra="forbid")

    value: float
    direction: Direction
    source: str
    binds: list[str] = Field(default_factory=list, description="Requirement ids whose legal text sets this number.")
    range: tuple[float, float]

    @model_validator(mode="after")
    def _value_in_range(self) -> ThresholdDef:
        low, high = self.range
        if not low <= self.value <= high:
            raise ValueError(f"value {self.value} is outside its own range {self.range}")
        return self


@dataclass(frozen=True)
class Resolved:
    """A threshold as it applies to one requirement: its value, whether it decides, and why."""

    id: str
    value: float
    direction: Direction
    binding: bool
    source: str  # "29 CFR 1607.4(D) ...", "set by Model risk committee ...", or our reference's source
    set_by: str | None = None  # who set it, when the spec did

    @property
    def op(self) -> str:
        """The comparison the figure must meet."""
        return ">=" if self.direction == "at_least" else "<="


@cache
def load_thresholds() -> dict[str, ThresholdDef]:
    """Every threshold by id, validated (a malformed file is a one-line error)."""
    raw = yaml.safe_load(THRESHOLDS_FILE.read_text(encoding="utf-8"))
    out = {}
    for key, value in raw.items():
        try:
            out[str(key)] = ThresholdDef.model_validate(value)
        except ValueError as exc:
            raise AuditInputError(SPEC_INVALID, path=THRESHOLDS_FILE, field=str(key),
                                  problem=str(exc).splitlines()[-1].strip()) from None
    return out


def resolve(spec: AuditSpec, threshold_id: str, *, requirement: str | None = None) -> Resolved:
    """The threshold for one requirement: the user's own (binding), the law's (binding where it binds), or a reference."""
    known = load_thresholds()[threshold_id]
    own = spec.thresholds.get(threshold_id)
    if own is not None:
        return Resolved(threshold_id, float(own.value), known.direction, True,
                        f"set by {own.set_by} (thresholds.{threshold_id} in the spec)", own.set_by)
    binding = requirement is not None and requirement in known.binds
    return Resolved(threshold_id, known.value, known.direction, binding, known.source)


def reference_line(spec: AuditSpec, threshold_id: str) -> tuple[float, str]:
    """A value and label for a chart's reference line: the user's threshold, or the reference with its source."""
    own = spec.thresholds.get(threshold_id)
    if own is not None:
        return float(own.value), f"your threshold {own.value:g} (set by {own.set_by})"
    known = load_thresholds()[threshold_id]
    return known.value, f"reference {known.value:g}"


def validate_overrides(spec: AuditSpec, *, path: Path | str) -> None:
    """Unknown threshold ids and values out of range are input errors, found before any work."""
    known = load_thresholds()
    for key, own in spec.thresholds.items():
        if key not in known:
            raise AuditInputError(THRESHOLD_UNKNOWN, path=path, id=key, known=", ".join(sorted(known)))
        low, high = known[key].range
        if not low <= own.value <= high:
            raise AuditInputError(THRESHOLD_OUT_OF_RANGE, path=path, id=key, value=own.value, low=low, high=high)
