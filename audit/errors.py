"""The one exception type for input the audit cannot use.

Every problem a user can fix (a missing file, an unknown column, a model that
is not trusted, malformed YAML) is raised as :class:`AuditInputError` with a
one-line message naming the file, field or column and what to do. The CLI
catches this type only, prints the message and exits with code 2.
Message templates live here as named constants so tests can assert them exactly.
"""

from __future__ import annotations

__all__ = [
    "AuditInputError",
    "FILE_NOT_FOUND",
    "YAML_MALFORMED",
    "SPEC_INVALID",
    "COLUMN_NOT_FOUND",
    "DATA_EMPTY",
    "TARGET_ONE_CLASS",
    "POSITIVE_LABEL_NOT_FOUND",
    "UNTRUSTED_PICKLE",
    "UNTRUSTED_SKOPS_TYPES",
    "MODEL_LOAD_FAILED",
    "MODEL_FEATURES_MISSING",
    "DATA_READ_FAILED",
    "UNSUPPORTED_FORMAT",
    "SYSTEM_LIBRARY_MISSING",
    "KEY_LOAD_FAILED",
    "BUNDLE_NOT_FOUND",
    "KEY_EXISTS",
    "PDF_SIGN_FAILED",
    "FAIRNESS_NO_PROTECTED",
    "FAIRNESS_NO_LABELS",
    "FAIRNESS_NO_SCORES",
    "FAIRNESS_NO_FEATURES",
    "FAIRNESS_INTERSECTION_UNKNOWN",
    "FAIRNESS_PRIMARY_UNDECIDED",
    "FAIRNESS_PRIMARY_UNKNOWN",
    "DECISION_ID_NOT_FOUND",
    "BUNDLE_FILE_MISSING",
]

FILE_NOT_FOUND = "{what} not found: {path} ({hint})"
YAML_MALFORMED = "{path}: not valid YAML at line {line}: {problem}"
SPEC_INVALID = "{path}: field '{field}': {problem}"
COLUMN_NOT_FOUND = "{path}: column '{column}' given as {field} is not in the data (columns: {available})"
DATA_EMPTY = "{path}: the data has no rows; give a file with at least one decision"
TARGET_ONE_CLASS = "{path}: target column '{column}' has only one class ({value!r}); accuracy and fairness need both outcomes"
POSITIVE_LABEL_NOT_FOUND = "{path}: positive label {label!r} does not occur in column '{column}' (values: {available})"
UNTRUSTED_PICKLE = (
    "{path}: a {fmt} model can run arbitrary code when loaded; save it with skops, "
    "or set model.trust: true (or pass --trust-model) if you trust its origin"
)
UNTRUSTED_SKOPS_TYPES = (
    "{path}: the skops file contains types that are not trusted by default: {types}; "
    "review them and set model.trust: true (or pass --trust-model) to load it"
)
MODEL_LOAD_FAILED = "{path}: could not load the {fmt} model: {problem}"
MODEL_FEATURES_MISSING = "{path}: the model expects feature '{column}', which is not a column of {data_path}"
DATA_READ_FAILED = "{path}: could not read the data: {problem}"
UNSUPPORTED_FORMAT = "{path}: unsupported {what} '{value}' (supported: {supported})"
SYSTEM_LIBRARY_MISSING = (
    "PDF rendering needs the system libraries Pango and HarfBuzz (Debian/Ubuntu: "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0): {problem}"
)
KEY_LOAD_FAILED = "{path}: could not load the signing {what}: {problem}"
BUNDLE_NOT_FOUND = "{path}: not an audit bundle (no manifest.json); give the folder audit run wrote"
KEY_EXISTS = "{path}: a signing {what} already exists there; choose another path, or allow overwriting it"
PDF_SIGN_FAILED = "{path}: could not sign the PDF: {problem}"
# Fairness check: reasons shown as "not assessed: ..." and a spec problem found against the data.
FAIRNESS_NO_PROTECTED = "no protected attribute is named in the spec (data.protected)"
FAIRNESS_NO_LABELS = "no ground-truth labels in the data (data.target)"
FAIRNESS_NO_SCORES = "no scores (the decisions come without a score)"
FAIRNESS_NO_FEATURES = "no feature columns besides the protected attributes"
FAIRNESS_INTERSECTION_UNKNOWN = "'{column}' is not a protected attribute (protected: {available})"
FAIRNESS_PRIMARY_UNDECIDED = (
    "not decided: the spec must say whether a positive decision grants a benefit or harms "
    "(fairness.decision_nature: assistive or punitive), or name fairness.primary_metric with a justification"
)
FAIRNESS_PRIMARY_UNKNOWN = "not decided: fairness.primary_metric '{name}' is not a known metric (known: {known})"

# `audit explain BUNDLE --id ROW`: the notice of one decision.
DECISION_ID_NOT_FOUND = "{path}: no decision with id '{id}' ({count} decisions; ids look like {examples})"
BUNDLE_FILE_MISSING = "{path}: not found; give the folder `audit run` wrote (it holds {what})"


class AuditInputError(Exception):
    """Input the user can fix. The message is one line and says what to do."""

    def __init__(self, template: str, **fields: object) -> None:
        self.template = template
        self.fields = fields
        super().__init__(template.format(**fields))
