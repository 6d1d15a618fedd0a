"""The diff spec (``audit diff --spec diff.yaml``): margins per figure with who set them, and how to decide.

Every setting has a default, so ``audit diff`` runs without a spec. A default margin is this project's
reference value: a figure significantly worse than a reference margin is reported and makes the diff REVIEW,
never FAIL. Only a margin the user sets (with ``set_by``: who and where it is recorded) can FAIL the diff
and exit 1, as only the law or the user sets a threshold that fails an audit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit.spec import read_yaml_mapping, validation_error

__all__ = ["DiffSpec", "Margin", "FIGURES", "REFERENCE_MARGIN", "load_diff_spec", "Figure"]

Figure = Literal["favourable_rate", "wrongly_adverse_rate", "accuracy"]

#: Per figure: (what it is, which change is worse).
FIGURES: dict[str, tuple[str, Literal["lower", "higher"]]] = {
    "favourable_rate": ("share of the group decided favourably (selection rate; for a flag, not flagged)", "lower"),
    "wrongly_adverse_rate": ("share decided adversely among the group's people whose actual outcome is the "
                             "favourable one (false rejections; for a flag, people flagged who did not go on to "
                             "the flagged outcome)", "higher"),
    "accuracy": ("share of the group's decisions that match the actual outcome", "lower"),
}
#: The reference margin of every figure (2 percentage points): informs, never fails.
REFERENCE_MARGIN = 0.02


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Margin(_Strict):
    """A margin a user sets: how much worse a figure may be, and who decided it."""

    value: float = Field(ge=0, lt=1, description="Largest acceptable worsening, as a share (0.02 = 2 points).")
    set_by: str = Field(min_length=1, description="Who set it and where it is recorded.")


class SigningSpec(_Strict):
    key: Path
    certificate: Path


class DiffSpec(_Strict):
    """What `audit diff` compares and how."""

    margins: dict[Figure, Margin] = Field(
        default_factory=dict, description="Margins the user sets, by figure; others use the reference margin "
                                          f"({REFERENCE_MARGIN:g}), which never fails the diff.")
    min_group_size: int = Field(default=30, ge=1, description="Groups smaller than this (in either audit) are "
                                                                "reported but not judged.")
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence of each interval before the "
                                                                       "Bonferroni adjustment across groups.")
    bootstrap: int = Field(default=2000, ge=200, description="Bootstrap resamples per interval.")
    seed: int = Field(default=0, ge=0, description="Seed of the bootstrap.")
    signing: SigningSpec | None = Field(default=None, description="Key and certificate that seal the diff bundle.")
    output: Path = Field(default=Path("reports"), description="Folder under which the diff bundle is written.")
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        """A path from the spec, relative to its folder."""
        return path if path.is_absolute() else self.base_dir / path


def load_diff_spec(path: Path | None) -> DiffSpec:
    """The diff spec at ``path`` (None: every default); one-line errors naming the file and field."""
    if path is None:
        return DiffSpec()
    raw = read_yaml_mapping(path, what="diff spec", hint="give the path of your diff.yaml")
    try:
        return DiffSpec.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise validation_error(path, exc) from None
