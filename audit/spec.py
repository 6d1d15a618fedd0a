"""AuditSpec: the audit.yaml a user writes, validated, with one-line errors.

The spec says what is audited (system), with what (model, data), against which
rules (policy packs, threshold overrides) and with which human answers
(attestations). Paths in the spec are relative to the spec file's folder.
`audit schema` prints the JSON Schema of this model for editors.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from audit.errors import (
    ART9_BASIS_INVALID,
    ART9_BASIS_NOT_SPECIAL,
    AUDITED_PARTY_MISSING,
    AUDITED_PARTY_UNEXPECTED,
    BINS_NOT_INCREASING,
    BINS_TOO_FEW,
    CLASSES_NOT_TWO,
    FILE_NOT_FOUND,
    IMAGE_COLUMNS_MANY,
    IMAGE_INPUTS,
    IMAGE_MODEL_FORMAT,
    IMAGES_WITHOUT_COLUMN,
    INPUTS_EMPTY,
    INPUTS_REPEATED,
    LABELS_NOT_UNIQUE,
    MODULE_NOT_A_CLASS_PATH,
    SEED_NEGATIVE,
    SPEC_INVALID,
    TENSOR_FIELD_NEEDED,
    TENSOR_FIELD_NOT_FOR_FORMAT,
    TEXT_INPUTS,
    TEXT_MODEL_FORMAT,
    YAML_MALFORMED,
    AuditInputError,
)

__all__ = [
    "AuditSpec",
    "ScaleSpec",
    "SystemSpec",
    "ModelSpec",
    "DataSpec",
    "ProtectedSpec",
    "ProtectedKind",
    "EEO_KINDS",
    "SmallCategoryExclusion",
    "DecisionSpec",
    "DecisionLogSpec",
    "CodeBook",
    "ContactSpec",
    "FairnessSpec",
    "ExplanationSpec",
    "CounterfactualSpec",
    "RobustnessSpec",
    "ImageSpec",
    "PerturbationSpec",
    "ThresholdOverride",
    "AttestationAnswer",
    "SigningSpec",
    "ReportSpec",
    "ModelFormat",
    "Domain",
    "DOMAIN_NAMES",
    "effective_domain",
    "favourable_is_positive",
    "direction_declared",
    "load_spec",
    "read_yaml_mapping",
    "validation_error",
    "spec_json_schema",
]


def _seed_not_negative(value: int) -> int:
    if value < 0:  # numpy's seeds are non-negative; say so in our words, before any work
        raise ValueError(SEED_NEGATIVE.format(value=value))
    return value


#: The audit's seed: a whole number from 0 up.
Seed = Annotated[int, AfterValidator(_seed_not_negative), Field(json_schema_extra={"minimum": 0})]


def _numbers_text(values: list[float]) -> str:
    """Bin edges as a person wrote them: [0, 25, 200], not [0.0, 25.0, 200.0]."""
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelFormat(StrEnum):
    """How the model file is stored (or that there is none)."""

    SKOPS = "skops"
    PICKLE = "pickle"
    JOBLIB = "joblib"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    TORCHSCRIPT = "torchscript"  # torch.jit.save file: no pickle of user code
    TORCH = "torch"  # torch.save(model.state_dict()) + model.module (the class, imported only when trusted)
    ONNX = "onnx"
    NONE = "none"  # predictions-only: decisions are columns of the data

    @property
    def takes_tensor(self) -> bool:
        """Whether the model takes a tensor (no column names): the spec says its inputs and how to read its output."""
        return self in (ModelFormat.TORCHSCRIPT, ModelFormat.TORCH, ModelFormat.ONNX)


AnnexIIIArea = Literal[
    "none", "1", "2", "3a", "3b", "3c", "3d", "4a", "4b", "5a", "5b", "5c", "5d", "6", "7", "8",
]


Jurisdiction = Literal["EU", "US-NYC", "US", "US-CO"]

#: What a protected attribute is; the US employment rules cover sex and race/ethnicity (EEO categories) only.
ProtectedKind = Literal["sex", "race", "ethnicity", "race_ethnicity", "age", "disability", "religion",
                        "national_origin", "other"]
#: Kinds of the EEO categories: 29 CFR 1607.4 (race, sex, ethnic group) and 6 RCNY § 5-301 (sex, race/ethnicity).
EEO_KINDS: frozenset[str] = frozenset({"sex", "race", "ethnicity", "race_ethnicity"})
#: A GDPR Art. 9(2) point, as written in the spec: "9(2)(a)" ... "9(2)(j)", optionally followed by words.
ART9_POINT = re.compile(r"^(?:Art\.?\s*)?9\(2\)\(([a-j])\)", re.IGNORECASE)

Domain = Literal[
    "employment_screening", "promotion", "other_employment", "credit", "insurance", "housing", "education", "health",
    "essential_public_services", "criminal_justice", "justice", "migration", "other",
]

#: Reader-facing names of the domains (US laws apply by domain, not by the EU's Annex III).
DOMAIN_NAMES: dict[str, str] = {
    "employment_screening": "employment: screening or selecting candidates",
    "promotion": "employment: promoting employees",
    "other_employment": "employment: terms of work, termination, task allocation or monitoring",
    "credit": "credit and lending",
    "insurance": "insurance",
    "housing": "housing",
    "education": "education",
    "health": "health care",
    "essential_public_services": "essential public services and benefits",
    "criminal_justice": "criminal justice and law enforcement",
    "justice": "administration of justice and democratic processes",
    "migration": "migration, asylum and border control",
    "other": "another domain",
}

#: The domain an Annex III point implies, used when system.domain is not given.
_DOMAIN_OF_ANNEX_III: dict[str, str] = {
    "3a": "education", "3b": "education", "3c": "education", "3d": "education",
    "4a": "employment_screening", "5a": "essential_public_services", "5b": "credit",
    "5c": "insurance", "6": "criminal_justice", "7": "migration", "8": "justice",
}


def _default_jurisdictions() -> list[Jurisdiction]:
    return ["EU"]


class ContactSpec(_Strict):
    """Whom a person contacts about a decision: printed on every notice (GDPR Art. 22(3), ECOA/Reg B § 1002.9)."""

    name: str = Field(min_length=1, description="The organisation or team people contact.")
    address: str = Field(min_length=1, description="Postal address, e-mail or web form.")
    human_review: str = Field(min_length=1, description="How to ask for a person to review the decision, in the "
                                                        "organisation's words (e.g. 'write to ... within 30 days').")


class CodeBook(_Strict):
    """Names and value labels a person understands, for notices (the data keeps its own names and codes)."""

    columns: dict[str, str] = Field(default_factory=dict, description="Display name of a column, e.g. "
                                                                      "{duration_months: 'Length of the loan (months)'}.")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per column, the label of a coded value, e.g. {savings: {'A65': 'no savings "
                                          "account or unknown'}} (keys as the value is written in the data).")
    not_choices: dict[str, list[str]] = Field(
        default_factory=dict, description="Per column, values that are not a choice a person can make (e.g. "
                                          "'unknown / none'): a notice never proposes a change to them.")


class SystemSpec(_Strict):
    """The system under audit, as the law sees it."""

    name: str = Field(description="Name of the AI system, used in the report and the bundle folder.")
    version: str = Field(description="Version of the system or model audited.")
    provider: str = Field(description="Who develops the system or places it on the market.")
    intended_purpose: str = Field(description="What the system is for, in the provider's words (AI Act Art. 3(12)).")
    role: Literal["provider", "deployer", "provider-deployer", "auditor", "regulator"] = Field(
        description="Who runs this audit: the organisation that provides the system, deploys it, or both (an in-house "
                    "system); or an auditor or a regulator reviewing another organisation's system, whose duties "
                    "are then named by audited_party. The role decides whose duties apply.",
    )
    audited_party: Literal["provider", "deployer", "provider-deployer"] | None = Field(
        default=None,
        description="With role auditor or regulator: whether the organisation whose system is reviewed provides it, "
                    "deploys it, or both. Its duties are assessed; none is the auditor's own.",
    )
    public_body: bool | None = Field(
        default=None,
        description="The deployer is a body governed by public law or a private entity providing public services "
                    "(AI Act Art. 27(1)); leave empty if not stated.",
    )
    jurisdictions: list[Jurisdiction] = Field(
        default_factory=_default_jurisdictions, description="Where the system is used: EU, US (federal), US-NYC, US-CO."
    )
    annex_iii_area: AnnexIIIArea = Field(
        default="none", description="EU AI Act Annex III point the use falls in (e.g. 5b credit scoring, 4a recruitment), or none."
    )
    profiling: bool = Field(default=True, description="Whether the system profiles natural persons (Art. 6(3): then always high-risk).")
    solely_automated: bool | None = Field(
        default=None,
        description="Whether decisions with legal or similarly significant effects are taken solely by automated "
                    "processing, without meaningful human involvement (GDPR Art. 22(1)); leave empty if not "
                    "decided. GDPR Art. 13(2)(f), 14(2)(g), 15(1)(h) and 22 apply only to such decisions.",
    )
    placed_on_market: dt.date | None = Field(
        default=None,
        description="Date the system was placed on the market or put into service in the EU; leave empty if it has "
                    "not been yet. A system placed before the Annex III date of application is covered only after a "
                    "significant change in its design (AI Act Art. 111(2)).",
    )
    significant_change: bool | None = Field(
        default=None,
        description="With placed_on_market before the Annex III date: whether the design has changed significantly "
                    "since (AI Act Art. 111(2)); leave empty if not assessed.",
    )
    interacts_with_people: bool = Field(
        default=False, description="The system interacts directly with people, e.g. a chatbot fronts it (AI Act Art. 50(1)).")
    generates_content: bool = Field(
        default=False, description="The system generates or manipulates text, audio, images or video (AI Act Art. 50(2), (4)).")
    provider_in_eu: bool | None = Field(
        default=None,
        description="Whether the provider is established in the EU; a provider outside it needs an authorised "
                    "representative (AI Act Art. 22). Leave empty if not stated.",
    )
    consumer_report_used: bool | None = Field(
        default=None,
        description="Whether a consumer report (e.g. a credit bureau report) is used in the decision (FCRA § 615(a)); "
                    "leave empty if not stated.",
    )
    use: Literal["classification", "scoring"] = Field(
        default="classification",
        description="Whether the tool selects/classifies people or only scores them (NYC LL144 distinguishes the two).",
    )
    contact: ContactSpec | None = Field(
        default=None, description="Whom people contact about a decision and how they ask for human review (notices).")
    domain: Domain | None = Field(
        default=None,
        description="What the system decides about: employment_screening (screening candidates for a job), "
                    "promotion (employees for promotion), other_employment (termination, task allocation, "
                    "monitoring), credit, insurance, housing, education, health, essential_public_services, "
                    "criminal_justice, justice (administration of justice, democratic processes), migration, other. "
                    "US laws (NYC LL144, EEOC, ECOA) apply by domain and jurisdiction. Default: implied by "
                    "annex_iii_area where it names one; otherwise requirements that depend on it are REVIEW.",
    )

    @model_validator(mode="after")
    def _audited_party_with_reviewer(self) -> SystemSpec:
        if self.role in ("auditor", "regulator") and self.audited_party is None:
            raise ValueError(AUDITED_PARTY_MISSING.format(role=self.role))
        if self.role not in ("auditor", "regulator") and self.audited_party is not None:
            raise ValueError(AUDITED_PARTY_UNEXPECTED.format(role=self.role))
        return self

    @property
    def duty_roles(self) -> str:
        """The role whose duties are assessed: the audited organisation's (for an auditor or regulator) or one's own."""
        return self.audited_party if self.audited_party is not None else self.role

    @property
    def reviewer(self) -> str | None:
        """An auditor or regulator reviewing another organisation's system, or None for a self-audit."""
        return self.role if self.role in ("auditor", "regulator") else None


class OneHotInput(_Strict):
    """A categorical column a tensor model takes as one-hot columns, one per category, in this order."""

    column: str = Field(description="The data column (text or numbers as labels).")
    one_hot: list[str | int | bool] = Field(
        min_length=1,
        description="Its categories in the order of the model's one-hot input columns; a value of the column that is "
                    "none of them is refused (the model was not trained on it).")


class ModelSpec(_Strict):
    """Where the model is and how it is stored (and, for a tensor model, how to feed it and read it)."""

    path: Path | None = Field(default=None, description="Model file, relative to this spec. Omit for predictions-only audits.")
    format: ModelFormat = Field(
        default=ModelFormat.SKOPS,
        description="skops (default, safe), pickle/joblib (needs trust), xgboost, lightgbm, torchscript (a "
                    "torch.jit.save file), torch (a state_dict saved with torch.save, with model.module; needs trust), "
                    "onnx, none (predictions-only).",
    )
    trust: bool = Field(
        default=False,
        description="Load pickle/joblib or skops files with non-default types, or import model.module (format "
                    "torch). Only for models and code whose origin you trust.",
    )
    positive_class: str | int | bool | list[str | int | bool] | None = Field(
        default=None,
        description="The model's class that is the positive decision, or (a multi-class model) the list of its classes "
                    "that are: the decision is positive when the model's own class (its most probable) is one of them. "
                    "Default: data.positive_label when it names classes of the model; otherwise required (the tool "
                    "never guesses).",
    )
    cutoff: float | None = Field(
        default=None,
        description="The score at or above which the decision is the positive one. Required for a model that outputs a "
                    "score rather than classes (a regressor: its prediction is the score). For a classifier: the "
                    "probability of the positive class (or of the positive classes together) at or above which the "
                    "decision is positive, instead of the model's own rule (the most probable class).",
    )
    inputs: list[str | OneHotInput] | None = Field(
        default=None, validate_default=True,
        description="torchscript, torch, onnx (required): the data columns the model takes, in the order of its input "
                    "tensor's columns (a tensor has no column names). A name is a column of numbers, fed as float32 "
                    "(float64 to an ONNX model whose input is double); {column, one_hot: [categories]} is a categorical "
                    "column fed as one 0/1 column per category, whose contributions are added back to the column.",
    )
    output: Literal["probabilities", "logits"] | None = Field(
        default=None, validate_default=True,
        description="torchscript, torch, onnx (required): how to read the model's output. One output column: the "
                    "probability (or logit, read through a sigmoid) of the second of model.classes. Two columns: one "
                    "per class in the order of model.classes (logits are read through a softmax).",
    )
    classes: list[str | int | bool] | None = Field(
        default=None, validate_default=True,
        description="torchscript, torch, onnx: the two classes the model's output stands for, in output order (with "
                    "one output column: [the other class, the class whose probability it is]). Default [0, 1]. The "
                    "positive decision is model.positive_class, else data.positive_label when it is one of these.",
    )
    module: str | None = Field(
        default=None, validate_default=True,
        description="torch (required): the model's class as package.module:ClassName, built with model.module_kwargs "
                    "and given the state_dict. It is imported only when trusted (model.trust or --trust-model), from "
                    "this spec's folder and model.python_path.",
    )
    module_kwargs: dict[str, Any] | None = Field(
        default=None, validate_default=True,
        description="torch: keyword arguments for the class of model.module (default: none).",
    )
    python_path: list[Path] | None = Field(
        default=None, validate_default=True,
        description="torch, skops, pickle, joblib: more folders to import the model's own code from (model.module, or "
                    "the modules a trusted skops/pickle/joblib file's functions and classes come from), relative to "
                    "this spec (its own folder always is).",
    )
    reference: Path | None = Field(
        default=None, validate_default=True,
        description="onnx: the model the ONNX file was exported from (a TorchScript file, relative to this spec), with "
                    "the same inputs, output and classes. The audit measures how far the ONNX copy drifts from it on "
                    "the audit data.",
    )

    #: package.module:ClassName (a dotted module, one class name).
    CLASS_PATH: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
    TENSOR: ClassVar[tuple[ModelFormat, ...]] = tuple(f for f in ModelFormat if f.takes_tensor)

    @staticmethod
    def _only_for(info: ValidationInfo, value: object, formats: tuple[ModelFormat, ...], *,
                  needed: str | None = None) -> None:
        """A field that belongs to some formats: refused for the others, required for them when ``needed``."""
        fmt = info.data.get("format")
        if not isinstance(fmt, ModelFormat):  # the format itself is invalid: that error is the one shown
            return
        if value is not None and fmt not in formats:
            names = ", ".join(f.value for f in formats)
            raise ValueError(TENSOR_FIELD_NOT_FOR_FORMAT.format(formats=names, fmt=fmt.value))
        if value is None and needed is not None and fmt in formats:
            raise ValueError(TENSOR_FIELD_NEEDED.format(fmt=fmt.value, what=needed))

    @model_validator(mode="after")
    def _path_unless_none(self) -> ModelSpec:
        if self.format is not ModelFormat.NONE and self.path is None:
            raise ValueError("a model path is needed unless format is none (predictions-only)")
        return self

    @field_validator("inputs")
    @classmethod
    def _inputs_for_tensors(cls, value: list[str | OneHotInput] | None,
                            info: ValidationInfo) -> list[str | OneHotInput] | None:
        cls._only_for(info, value, cls.TENSOR,
                  needed="list the data columns in the order the model takes them (a tensor model has no column names)")
        if value is not None:
            if not value:
                raise ValueError(INPUTS_EMPTY)
            names = [c if isinstance(c, str) else c.column for c in value]
            repeated = [c for i, c in enumerate(names) if c in names[:i]]
            if repeated:
                raise ValueError(INPUTS_REPEATED.format(column=repeated[0]))
        return value

    @field_validator("output")
    @classmethod
    def _output_for_tensors(cls, value: str | None, info: ValidationInfo) -> str | None:
        cls._only_for(info, value, cls.TENSOR,
                  needed="say how to read the model's output: probabilities or logits")
        return value

    @field_validator("classes")
    @classmethod
    def _two_classes(cls, value: list[str | int | bool] | None, info: ValidationInfo) -> list[str | int | bool] | None:
        cls._only_for(info, value, cls.TENSOR)
        if value is not None and (len(value) != 2 or str(value[0]) == str(value[1])):
            raise ValueError(CLASSES_NOT_TWO.format(classes=value))
        return value

    @field_validator("module")
    @classmethod
    def _module_for_torch(cls, value: str | None, info: ValidationInfo) -> str | None:
        cls._only_for(info, value, (ModelFormat.TORCH,),
                  needed="name the model's class as package.module:ClassName (its state_dict is in model.path)")
        if value is not None and not cls.CLASS_PATH.match(value):
            raise ValueError(MODULE_NOT_A_CLASS_PATH.format(value=value))
        return value

    @field_validator("module_kwargs")
    @classmethod
    def _torch_only(cls, value: Any, info: ValidationInfo) -> Any:
        cls._only_for(info, value, (ModelFormat.TORCH,))
        return value

    @field_validator("python_path")
    @classmethod
    def _code_formats_only(cls, value: Any, info: ValidationInfo) -> Any:
        cls._only_for(info, value, (ModelFormat.TORCH, ModelFormat.SKOPS, ModelFormat.PICKLE, ModelFormat.JOBLIB))
        return value

    @field_validator("reference")
    @classmethod
    def _onnx_only(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        cls._only_for(info, value, (ModelFormat.ONNX,))
        return value


class ProtectedSpec(_Strict):
    """A protected attribute: a column, optionally binned into groups (e.g. age bands)."""

    column: str
    bins: list[float] | None = Field(default=None, description="Bin edges for a numeric attribute, e.g. [0, 25, 120].")
    labels: list[str] | None = Field(default=None, description="Group names for the bins (one fewer than the edges).")
    reference: str | None = Field(default=None, description="Reference group; default: the most-selected group.")
    special_category: bool = Field(
        default=False,
        description="A special category of personal data under GDPR Art. 9(1) (racial or ethnic origin, religion, "
                    "health, sexual orientation, ...). Sex and age are protected but not special categories.",
    )
    kind: ProtectedKind | None = Field(
        default=None,
        description="What the attribute is: sex, race, ethnicity, race_ethnicity, age, disability, religion, "
                    "national_origin or other. US employment rules read it: the Uniform Guidelines (29 CFR 1607) "
                    "and NYC LL144 cover sex and race/ethnicity only, not age. Leave empty and those rules are REVIEW.",
    )
    art9_basis: str | None = Field(
        default=None,
        description="For a special category: the GDPR Art. 9(2) point relied on to process it, e.g. "
                    "'9(2)(g) substantial public interest under <national law>'. A solely automated decision may use "
                    "it as a feature only under 9(2)(a) or (g) (Art. 22(4)).",
    )

    @field_validator("art9_basis")
    @classmethod
    def _art9_point(cls, value: str | None) -> str | None:
        if value is not None and not ART9_POINT.match(value.strip()):
            raise ValueError(ART9_BASIS_INVALID.format(value=value))
        return value

    @field_validator("bins")
    @classmethod
    def _bins_are_edges(cls, bins: list[float] | None) -> list[float] | None:
        """At least two edges, in increasing order (infinite outer edges are fine; NaN is not a number here)."""
        if bins is None:
            return bins
        shown = _numbers_text(bins)
        if len(bins) < 2:
            raise ValueError(BINS_TOO_FEW.format(bins=shown))
        if any(math.isnan(b) for b in bins) or any(lo >= hi for lo, hi in zip(bins[:-1], bins[1:], strict=True)):
            raise ValueError(BINS_NOT_INCREASING.format(bins=shown))
        return bins

    @model_validator(mode="after")
    def _basis_for_special(self) -> ProtectedSpec:
        if self.art9_basis is not None and not self.special_category:
            raise ValueError(ART9_BASIS_NOT_SPECIAL.format(column=self.column))
        return self

    @property
    def art9_point(self) -> str | None:
        """The letter of the Art. 9(2) point relied on ('a' ... 'j'), or None."""
        found = ART9_POINT.match(self.art9_basis.strip()) if self.art9_basis else None
        return found.group(1) if found else None

    @model_validator(mode="after")
    def _labels_match_bins(self) -> ProtectedSpec:
        if self.labels is not None and (self.bins is None or len(self.labels) != len(self.bins) - 1):
            raise ValueError("labels need bins, one label fewer than bin edges")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(LABELS_NOT_UNIQUE.format(labels=self.labels))
        return self


class DecisionLogSpec(_Strict):
    """What people did with the system's decisions: the final decision, and appeals (AI Act Art. 14, GDPR Art. 22(3))."""

    final_decision: str = Field(description="Column holding the decision the person finally got (after human review).")
    final_positive_values: list[str | int | bool] = Field(
        min_length=1, description="Values of that column meaning the positive decision (as data.decision's).")
    appealed: str | None = Field(default=None, description="Column: whether the person contested the decision "
                                                           "(true/false, yes/no or 1/0).")
    appeal_changed: str | None = Field(default=None, description="Column: whether the appeal changed the decision "
                                                                 "(true/false, yes/no or 1/0; empty when not appealed).")


class DecisionSpec(_Strict):
    """Predictions-only audits: where the decisions already are in the data."""

    column: str | None = Field(default=None, description="Column holding the decision.")
    positive_values: list[str | int | bool] = Field(default_factory=list, description="Values of that column meaning the positive decision.")
    score_column: str | None = Field(default=None, description="Column holding a score (higher = more likely positive).")
    cutoff: float | None = Field(default=None, description="Score at or above which the decision is positive, if there is no decision column.")

    @model_validator(mode="after")
    def _something_to_decide(self) -> DecisionSpec:
        if self.column is None and (self.score_column is None or self.cutoff is None):
            raise ValueError("give a decision column, or a score_column with a cutoff")
        if self.column is not None and not self.positive_values:
            raise ValueError("positive_values must list the decision values that mean the positive decision")
        return self


class DataSpec(_Strict):
    """The dataset the audit runs on."""

    path: Path = Field(description="CSV or Parquet file, relative to this spec.")
    target: str | None = Field(default=None, description="Ground-truth label column (optional for predictions-only audits).")
    positive_label: str | int | bool | list[str | int | bool] | None = Field(
        default=None,
        description="Value of the target that is the positive outcome, or the list of values that are (a target with "
                    "more than two values: every other value is a negative outcome).")
    id_column: str | None = Field(default=None, description="Column identifying each decision (default: row number).")
    # Declared as a union so `audit schema` admits the bare-name shorthand; values are always ProtectedSpec.
    protected: list[ProtectedSpec | str] = Field(
        default_factory=list, description="Protected attributes: column names, or {column, bins, labels}."
    )
    feature_types: dict[str, Literal["numeric", "categorical", "text", "image"]] = Field(
        default_factory=dict,
        description="Declared types; undeclared features are inferred from the data (numbers or categories). text: a "
                    "column of free text the model reads (a CV, a complaint): explained by its tokens, tested by "
                    "swapping gendered words, never shown in the report unless report.example_fields names it. "
                    "image: a column of image file names (relative to the data file's folder) that a tensor model "
                    "reads as its only input (see the images section).",
    )
    immutable: list[str] = Field(default_factory=list, description="Features a person cannot change (protected attributes always are).")
    increase_only: list[str] = Field(default_factory=list, description="Features that can only increase (e.g. age).")
    decision: DecisionSpec | None = Field(default=None, description="For predictions-only audits: where the decisions are.")
    code_book: CodeBook = Field(default_factory=CodeBook, description="Display names and value labels for notices.")
    decision_log: DecisionLogSpec | None = Field(
        default=None, description="The final human decisions and appeals, when the data carries them: override and "
                                  "appeal rates by group (oversight.decision_log).")
    reference: Path | None = Field(
        default=None,
        description="A reference dataset (CSV or Parquet, relative to this spec) with the same columns: the training "
                    "data or the previous period's. The audit measures drift from it per feature and per protected "
                    "group (data.drift; AI Act Art. 10(3)-(4), Art. 72).")
    favourable_decision: Literal["positive", "negative"] | None = Field(
        default=None,
        description="Which decision favours the person: positive (a loan granted, a candidate selected) or negative "
                    "(a fraud or risk flag, where the positive decision is the flag). Decision rates, impact ratios, "
                    "recourse, notices and the deciding fairness metric follow it. Default: positive, but the "
                    "fairness metric that decides is then left undecided (REVIEW) unless fairness.decision_nature "
                    "or fairness.primary_metric says more.",
    )

    @field_validator("protected", mode="before")
    @classmethod
    def _as_objects(cls, value: Any) -> Any:
        """A bare column name is shorthand for {column: name}."""
        return [{"column": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    def protected_specs(self) -> list[ProtectedSpec]:
        """Protected attributes (always ProtectedSpec after validation)."""
        return [p for p in self.protected if isinstance(p, ProtectedSpec)]


class SmallCategoryExclusion(_Strict):
    """The auditor's choice to leave categories under 2 % of the data out of the LL144 impact ratios (6 RCNY § 5-301(d))."""

    justification: str = Field(min_length=1, description="Why the categories are left out; printed in the summary.")
    by: str = Field(min_length=1, description="The auditor who chose it.")


class FairnessSpec(_Strict):
    """How fairness is measured and which metric decides."""

    intersections: list[list[str]] | Literal["all-pairs"] = Field(default="all-pairs", description="Which protected attributes to cross.")
    min_group_size: int = Field(default=30, ge=1, description="Groups smaller than this are excluded from ratios (shown with reason).")
    min_group_share: float = Field(default=0.02, ge=0, le=1, description="Groups under this share of the data are left out of the general ratios (fairness.selection_rate); the LL144 tables follow small_category_exclusion instead.")
    bootstrap: int = Field(default=1000, ge=0, description="Bootstrap resamples for confidence intervals (0 = none).")
    decision_nature: Literal["assistive", "punitive"] | None = Field(
        default=None, description="assistive: a positive decision grants a benefit (loan); punitive: it harms (fraud flag)."
    )
    primary_metric: str | None = Field(default=None, description="The fairness metric that decides (overrides decision_nature).")
    justification: str | None = Field(default=None, description="Why the primary metric was chosen, by whom.")
    small_category_exclusion: SmallCategoryExclusion | None = Field(
        default=None,
        description="NYC LL144 (6 RCNY § 5-301(d)): leave categories under 2 % of the data out of the EEO impact "
                    "ratios, with the auditor's justification. Without it every category is compared.",
    )


class ExplanationSpec(_Strict):
    """Per-decision explanations."""

    lime_sample: int = Field(default=200, ge=0, description="Decisions explained with LIME (adverse and borderline first).")
    lime_repeats: int = Field(default=3, ge=2, description="LIME reruns with different seeds to measure stability.")
    top_k: int = Field(default=4, ge=1, le=10, description="Reasons per decision (Regulation B: at most four).")
    scheduler: str | None = Field(default=None, description="Dask scheduler address; default: local processes.")
    kernel_budget_seconds: float | None = Field(
        default=None, gt=0,
        description="Seconds KernelSHAP may take (only for models no exact explainer fits). A timed pilot sizes a seeded "
                    "sample of the decisions that fits; the others are left unexplained and every rule that needs each "
                    "decision explained says REVIEW. How many fit depends on the machine's speed, so two runs can "
                    "explain samples of different sizes (the audit is then not reproducible to the row). Default: no "
                    "budget (every decision is explained, with progress shown).",
    )


class CounterfactualSpec(_Strict):
    """Flip test and recourse."""

    proxies: dict[str, list[str]] | None = Field(default=None, description="Proxies per protected attribute (default: from the proxy screen).")
    max_changes: int = Field(default=3, ge=1, description="Most features a recourse may change.")


class ScaleSpec(_Strict):
    """A partitioned audit (issue 16): data.path is Parquet (a file or a folder of files) read partition by partition.

    Selection rates and impact ratios (``fairness.selection_rate``, ``fairness.eeo_impact``, the LL144 tables), error
    rates by group (``fairness.error_rates``), the proxy screen's associations, the flip test and recourse are counted
    over every row; every other check reads the audit's stratified random sample of ``sample_rows`` rows
    (``audit.sample``), and says so.
    """

    partition_rows: int = Field(default=250_000, ge=1, description="Rows per partition (whole Parquet row groups).")
    sample_rows: int = Field(default=20_000, ge=100, description="How many rows the sample-based checks read.")
    workers: int = Field(default=2, ge=1, description="Local processes when no Dask scheduler is given.")
    scheduler: str | None = Field(default=None, description="Dask scheduler address (tcp://host:8786); the "
                                                            "command line's --scheduler wins.")


class RobustnessSpec(_Strict):
    """Perturbation tests (AI Act Art. 15(4))."""

    noise_levels: list[float] = Field(default_factory=lambda: [0.01, 0.05, 0.1], description="Gaussian noise as a share of each numeric feature's standard deviation.")
    missing_rate: float = Field(default=0.1, ge=0, le=1, description="Share of values set missing in the missing-value test.")


class PerturbationSpec(_Strict):
    """One declared image perturbation (audit.image.perturb)."""

    kind: Literal["noise", "blur", "brightness", "contrast", "jpeg"] = Field(
        description="noise: Gaussian noise of σ = strength on intensities in [0, 1]; blur: Gaussian blur of σ = "
                    "strength pixels; brightness / contrast: intensities (or their spread around the image mean) "
                    "multiplied by strength; jpeg: re-encoded at quality = strength (1-95).")
    strength: float


class ImageSpec(_Strict):
    """Image inputs (data.feature_types: {column: image}): how images are read, explained and perturbed."""

    channels: Literal[1, 3] = Field(default=1, description="1: every image read as grayscale; 3: as RGB.")
    layer: str | None = Field(
        default=None,
        description="The model layer Grad-CAM explains (a module path such as features.3, usually the last "
                    "convolution). Omit it and Grad-CAM is not run.")
    randomise: list[str] | None = Field(
        default=None, min_length=1,
        description="The layers the randomisation test re-draws, in cascade order from the output back (default: "
                    "every layer with parameters, from the output back).")
    sample: int = Field(default=200, ge=1, description="Decisions (a seeded sample) whose attribution maps are "
                                                        "computed and checked.")
    ig_baseline: Literal["mean", "zeros", "blur"] = Field(
        default="mean", description="Integrated Gradients' baseline: the sample's mean image, a black image, or each "
                                    "image blurred. The baseline decides whether IG passes its checks (see the "
                                    "digits example's README).")
    perturbations: list[PerturbationSpec] | None = Field(
        default=None, description="Perturbations whose flip rates are measured (default: noise 0.05 and 0.1, blur 0.5 "
                                  "and 1 px, brightness 0.7 and 1.3, contrast 0.5, JPEG 50 and 20).")
    examples: int = Field(default=4, ge=0, le=12, description="With report.examples and the image column in "
                                                              "report.example_fields: decisions drawn with their maps.")


class ThresholdOverride(_Strict):
    """The organisation's own threshold for a rule, with who set it."""

    value: float
    set_by: str = Field(description="Who set this value and where it is recorded, e.g. 'Model risk committee, minutes 2026-10-01'.")


class AttestationAnswer(_Strict):
    """A person's answer to a requirement's attestation question."""

    answer: Literal["yes", "no"]
    by: str
    date: dt.date
    document: str | None = Field(default=None, description="Where the supporting document is.")
    comment: str | None = None


class SigningSpec(_Strict):
    """Key and certificate used to seal the bundle."""

    key: Path = Field(description="PEM private key (relative to this spec).")
    certificate: Path = Field(description="PEM X.509 certificate of that key.")


class LL144Spec(_Strict):
    """What the published LL144 summary needs beyond the audit's figures (6 RCNY § 5-303; § 5-302(b))."""

    data_source: str | None = Field(default=None, description="Source and explanation of the data used (historical "
                                                              "data; for test data, why and how it was produced).")
    distribution_date: dt.date | None = Field(default=None, description="Date the tool was first distributed.")
    auditor: str | None = Field(default=None, description="The independent auditor (name, firm).")


class ReportSpec(_Strict):
    """What the bundle shows of individual people. By default the report and audit.json name no one."""

    examples: bool = Field(
        default=False,
        description="Show examples of individual decisions (their id, scores and reasons) in the report and "
                    "audit.json. Off by default: a report that goes to a regulator, a board or a publication "
                    "needs no individual's data.",
    )
    example_fields: list[str] = Field(
        default_factory=list,
        description="With examples: true, the data columns whose values the examples may show (besides the id); "
                    "every other value of a person is left out, reasons and changes name the column only.",
    )
    ll144: LL144Spec = Field(default_factory=LL144Spec, description="The NYC LL144 summary's own facts (written "
                                                                      "when the nyc-ll144 pack applies).")
    decisions_file: bool = Field(
        default=True,
        description="Write decisions.parquet (one row per decision with its id, score, reasons and the person's "
                    "values: personal data) into the bundle. `audit explain` needs it.",
    )


class AuditSpec(_Strict):
    """Everything `audit run` needs. Write it as audit.yaml."""

    system: SystemSpec
    model: ModelSpec = Field(default_factory=lambda: ModelSpec(format=ModelFormat.NONE))
    data: DataSpec
    policies: list[str] = Field(default_factory=lambda: ["eu-ai-act", "gdpr"], description="Policy packs to apply (see `audit policies`).")
    thresholds: dict[str, ThresholdOverride] = Field(default_factory=dict, description="Threshold overrides by threshold id.")
    attestations: dict[str, AttestationAnswer] = Field(default_factory=dict, description="Answers by requirement id.")
    attestations_file: Path | None = Field(default=None, description="YAML file with more attestations (same shape).")
    fairness: FairnessSpec = Field(default_factory=FairnessSpec)
    explanations: ExplanationSpec = Field(default_factory=ExplanationSpec)
    counterfactuals: CounterfactualSpec = Field(default_factory=CounterfactualSpec)
    robustness: RobustnessSpec = Field(default_factory=RobustnessSpec)
    scale: ScaleSpec | None = Field(default=None, description="Read the data in partitions (Parquet), on local "
                                                              "processes or a Dask cluster; see ScaleSpec.")
    images: ImageSpec | None = Field(default=None, description="Image inputs: reading, attribution maps, perturbations "
                                                                "(needs a column declared image in data.feature_types).")
    seed: Seed = Field(default=0, description="Seed of every random step; the same inputs give the same audit.json.")
    audit_date: dt.date | None = Field(default=None, description="Date the audit is as of (default: today); decides which law is in force.")
    signing: SigningSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec, description="Personal data in the report and the bundle.")
    output: Path = Field(default=Path("reports"), description="Folder under which bundles are written (relative to the current directory).")

    # Set by load_spec: the folder paths are relative to, and the spec's own file.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _image_inputs(self) -> AuditSpec:
        """An image column is a tensor model's only input; the images section needs one (refused before any work)."""
        columns = self.image_columns
        if not columns:
            if self.images is not None:
                raise ValueError(IMAGES_WITHOUT_COLUMN)
            return self
        if len(columns) > 1:
            raise ValueError(IMAGE_COLUMNS_MANY.format(columns=", ".join(columns)))
        if not self.model.format.takes_tensor:
            raise ValueError(IMAGE_MODEL_FORMAT.format(fmt=self.model.format.value))
        inputs = [c if isinstance(c, str) else c.column for c in self.model.inputs or []]
        if inputs != columns:
            raise ValueError(IMAGE_INPUTS.format(column=columns[0], inputs=inputs))
        return self

    @model_validator(mode="after")
    def _text_inputs(self) -> AuditSpec:
        """A tensor model that reads a text column: TorchScript (its tokenizer is in the file), that column alone."""
        if not self.model.format.takes_tensor:
            return self
        inputs = [c if isinstance(c, str) else c.column for c in self.model.inputs or []]
        text = [c for c in inputs if self.data.feature_types.get(c) == "text"]
        if not text:
            return self
        if self.model.format is not ModelFormat.TORCHSCRIPT:
            raise ValueError(TEXT_MODEL_FORMAT.format(fmt=self.model.format.value))
        if len(inputs) != 1 or not all(isinstance(c, str) for c in self.model.inputs or []):
            raise ValueError(TEXT_INPUTS.format(column=text[0], inputs=inputs))
        return self

    @property
    def image_columns(self) -> list[str]:
        """Columns declared image in data.feature_types."""
        return [c for c, kind in self.data.feature_types.items() if kind == "image"]

    @property
    def image_settings(self) -> ImageSpec:
        """The images section, or its defaults."""
        return self.images if self.images is not None else ImageSpec()

    def resolve(self, path: Path) -> Path:
        """A path from the spec, relative to the spec file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)


def effective_domain(spec: AuditSpec) -> str | None:
    """The system's domain: declared, or implied by its Annex III point; None when neither says."""
    if spec.system.domain is not None:
        return spec.system.domain
    return _DOMAIN_OF_ANNEX_III.get(spec.system.annex_iii_area)


def favourable_is_positive(spec: AuditSpec) -> bool:
    """Whether the positive decision favours the person (True unless the spec declares it adverse)."""
    if spec.data.favourable_decision is not None:
        return spec.data.favourable_decision == "positive"
    return spec.fairness.decision_nature != "punitive"


def direction_declared(spec: AuditSpec) -> bool:
    """Whether the spec says which decision favours the person (not just the default)."""
    return spec.data.favourable_decision is not None or spec.fairness.decision_nature is not None


# Names pydantic puts in an error's location for the member of a union it tried; not part of the field's path.
_UNION_MEMBERS = frozenset({"ProtectedSpec", "str", "int", "bool", "float"})


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-") and str(p) not in _UNION_MEMBERS]
    return ".".join(parts) or "(top level)"


def load_spec(path: Path) -> AuditSpec:
    """Read and validate audit.yaml; raise AuditInputError with a one-line message on any problem."""
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="audit spec", path=path, hint="give the path of your audit.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AuditInputError(YAML_MALFORMED, path=path, line=line, problem=problem) from None
    if not isinstance(raw, dict):
        raise AuditInputError(SPEC_INVALID, path=path, field="(top level)", problem="expected a mapping of fields")
    raw = {**raw, "base_dir": path.resolve().parent, "source": path.resolve()}
    if raw.get("attestations_file"):
        raw["attestations"] = {**_read_attestations(path, raw), **(raw.get("attestations") or {})}
    try:
        return AuditSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, exc) from None


def read_yaml_mapping(path: Path, *, what: str, hint: str) -> dict[str, Any]:
    """A YAML file holding a mapping (an empty file: {}); one-line errors for a missing file, bad YAML or a non-mapping."""
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what=what, path=path, hint=hint)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AuditInputError(YAML_MALFORMED, path=path, line=mark.line + 1 if mark else "?",
                              problem=str(exc).splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise AuditInputError(SPEC_INVALID, path=path, field="(top level)", problem="expected a mapping of fields")
    return raw


def validation_error(path: Path, exc: ValidationError) -> AuditInputError:
    """pydantic's first error as our one line: the file, the field's dotted path, our validator's words."""
    first = exc.errors()[0]
    problem = str(first["msg"]).removeprefix("Value error, ")  # our validators' own words, without pydantic's tag
    return AuditInputError(SPEC_INVALID, path=path, field=_field_path(first["loc"]), problem=problem)


def _read_attestations(spec_path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    file = Path(raw["attestations_file"])
    file = file if file.is_absolute() else spec_path.resolve().parent / file
    if not file.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="attestations file", path=file, hint="fix attestations_file in the spec")
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AuditInputError(YAML_MALFORMED, path=file, line=mark.line + 1 if mark else "?", problem=str(exc).splitlines()[0]) from None
    if not isinstance(loaded, dict):
        raise AuditInputError(SPEC_INVALID, path=file, field="(top level)", problem="expected a mapping of attestation answers")
    answers = loaded.get("attestations", loaded)
    if answers is None:  # `attestations:` with no entries under it: no answers, as for an empty file
        return {}
    if not isinstance(answers, dict):
        raise AuditInputError(SPEC_INVALID, path=file, field="attestations", problem="expected a mapping of attestation answers")
    return answers


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of audit.yaml, for editors."""
    return AuditSpec.model_json_schema()
