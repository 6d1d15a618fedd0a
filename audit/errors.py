"""The one exception type for input the audit cannot use.

Every problem a user can fix (a missing file, an unknown column, a model that
is not trusted, malformed YAML) is raised as :class:`AuditInputError` with a
one-line message naming the file, field or column and what to do. The CLI
catches this type only, prints the message and exits with code 2.
Message templates live here as named constants so tests can assert them exactly.
"""

from __future__ import annotations

from typing import Any

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
    "THRESHOLD_UNKNOWN",
    "THRESHOLD_OUT_OF_RANGE",
    "ATTESTATION_UNKNOWN",
    "PRIMARY_METRIC_UNKNOWN",
    "DIRECTION_CONFLICT",
    "RESULT_SCHEMA_UNKNOWN",
    "DECISION_ID_NOT_FOUND",
    "BUNDLE_FILE_MISSING",
    "POSITIVE_CLASS_NOT_A_CLASS",
    "POSITIVE_CLASS_UNDECIDED",
    "POSITIVE_CLASSES_ALL",
    "POSITIVE_CLASS_NOT_ONE",
    "MODEL_CUTOFF_NEEDED",
    "CUTOFF_NOT_A_PROBABILITY",
    "MODEL_NOT_BINARY",
    "DECISION_VALUES_NOT_FOUND",
    "DECISION_SCORE_NOT_NUMERIC",
    "DECISION_SCORE_NOT_FINITE",
    "IMAGES_WITHOUT_COLUMN",
    "IMAGE_COLUMNS_MANY",
    "IMAGE_MODEL_FORMAT",
    "IMAGE_INPUTS",
    "IMAGE_UNREADABLE",
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
    "not decided: the spec must say which decision favours the person (data.favourable_decision: positive or "
    "negative), or name fairness.primary_metric with a justification"
)
# Spec values checked against the tool's own registries before any work (issue 9).
THRESHOLD_UNKNOWN = "{path}: field 'thresholds.{id}': not a known threshold id; use one of: {known}"
THRESHOLD_OUT_OF_RANGE = "{path}: field 'thresholds.{id}': value {value:g} is outside {low:g} to {high:g}"
ATTESTATION_UNKNOWN = (
    "{path}: field 'attestations.{id}': no requirement of the packs this audit applies ({packs}) has that id; "
    "`audit policies` lists them"
)
PRIMARY_METRIC_UNKNOWN = "{path}: field 'fairness.primary_metric': '{name}' is not a known metric; use one of: {known}"
DIRECTION_CONFLICT = (
    "{path}: field 'data.favourable_decision': '{favourable}' contradicts fairness.decision_nature '{nature}' "
    "(assistive means the positive decision is favourable, punitive that it is adverse); give one of them"
)
RESULT_SCHEMA_UNKNOWN = "{path}: audit.json has schema version {found}; this tool reads version {expected}"

# `audit explain BUNDLE --id ROW`: the notice of one decision.
DECISION_ID_NOT_FOUND = "{path}: no decision with id '{id}' ({count} decisions; ids look like {examples})"
BUNDLE_FILE_MISSING = "{path}: not found; give the folder `audit run` wrote (it holds {what})"

# Which of the model's classes is its positive decision (one rule for every adapter, audit/models/_classes.py).
POSITIVE_CLASS_NOT_A_CLASS = (
    "{path}: field 'model.positive_class': {value!r} is not one of the model's classes {classes}; set it to one of them"
)
POSITIVE_CLASS_UNDECIDED = (
    "{path}: field 'model.positive_class' is not set and data.positive_label {label!r} is not one of the "
    "model's classes {classes}; set model.positive_class to the class that is the positive decision (a list of "
    "classes for a model with more than two)"
)
POSITIVE_CLASSES_ALL = (
    "{path}: field 'model.positive_class' names every class of the model ({classes}), so no decision would be "
    "negative; list only the classes that are the positive decision"
)
POSITIVE_CLASS_NOT_ONE = (
    "{path}: field 'model.positive_class' names {count} classes of this two-class model ({classes}); name the one "
    "class that is the positive decision"
)
MODEL_CUTOFF_NEEDED = (
    "{path}: the {fmt} file holds a {found}, which outputs a score and no classes; set model.cutoff to the score at "
    "or above which the decision is the positive one"
)
CUTOFF_NOT_A_PROBABILITY = (
    "{path}: field 'model.cutoff' is {value}, but this classifier's scores are probabilities; give a cutoff above 0 "
    "and at most 1"
)
MODEL_NOT_BINARY = (
    "{path}: the {fmt} model's objective is '{objective}'; only binary classifiers are supported for now "
    "(train it with {expected})"
)
# Predictions-only audits: the decision and score columns checked against the data when it is loaded.
DECISION_VALUES_NOT_FOUND = (
    "{path}: field 'data.decision.positive_values': {missing} not found in column '{column}' (values: {available})"
)
DECISION_SCORE_NOT_NUMERIC = (
    "{path}: column '{column}' given as data.decision.score_column is not numeric: {value!r} at {row}; "
    "give every score as a number"
)
DECISION_SCORE_NOT_FINITE = (
    "{path}: column '{column}' given as data.decision.score_column has a missing or infinite score ({value}) "
    "at {row}; every decision needs a finite score"
)


class AuditInputError(Exception):
    """Input the user can fix. The message is one line and says what to do."""

    def __init__(self, template: str, **fields: object) -> None:
        self.template = template
        self.fields = fields
        super().__init__(template.format(**fields))

    def __reduce__(self) -> tuple[Any, ...]:
        """Rebuilt from its template and fields when it travels back from a worker process (``audit.scale``);
        the default would format the finished message again as a template."""
        return _rebuild_input_error, (self.template, self.fields)


def _rebuild_input_error(template: str, fields: dict[str, object]) -> AuditInputError:
    return AuditInputError(template, **fields)


# Signing material, checked before any work (audit/signing.py::check_signing_material, issue 10).
SIGNING_KEY_PASSWORD_MISSING = (
    "{path}: the signing key is encrypted; put its password in the environment variable {variable} "
    "(never in the spec)"
)
SIGNING_KEY_PASSWORD_WRONG = "{path}: the password in the environment variable {variable} does not open the signing key"
SIGNING_KEY_MISMATCH = (
    "{path}: the signing key does not belong to the certificate {cert} ({subject}); give the key of that certificate"
)
SIGNING_CERT_EXPIRED = (
    "{path}: the signing certificate ({subject}) expired on {end}, before {when}; sign with a certificate valid then"
)
SIGNING_CERT_NOT_YET_VALID = (
    "{path}: the signing certificate ({subject}) is valid only from {start}, after {when}; "
    "sign with a certificate valid then"
)
__all__ += [
    "SIGNING_KEY_PASSWORD_MISSING",
    "SIGNING_KEY_PASSWORD_WRONG",
    "SIGNING_KEY_MISMATCH",
    "SIGNING_CERT_EXPIRED",
    "SIGNING_CERT_NOT_YET_VALID",
]


# `audit explain` on a bundle written with report.decisions_file: false (issue 10, personal data).
DECISIONS_FILE_LEFT_OUT = (
    "{path}: this bundle was written without decisions.parquet (report.decisions_file: false), so it holds no "
    "individual decision to explain; run the audit again with report.decisions_file: true to give notices"
)
__all__ += ["DECISIONS_FILE_LEFT_OUT"]


# Bad input refused before any work (issue 10): the data, its columns, the features, the model file, the output.
DATA_DUPLICATE_COLUMNS = (
    "{path}: column '{column}' appears {count} times in the header; give each column its own name"
)
TARGET_MISSING = (
    "{path}: target column '{column}' is empty in {count} row(s) (first: {row}); every decision needs its actual "
    "outcome: fill them in or drop those rows"
)
TARGET_NOT_BINARY = (
    "{path}: target column '{column}' has {count} different values ({values}); the audit needs two outcomes, "
    "{label!r} and one other: list every positive outcome in data.positive_label (the other values are then "
    "negative), map the other values to one of the two, or drop those rows"
)
ID_MISSING = (
    "{path}: column '{column}' given as data.id_column is empty in {count} row(s) (first: {row}); give every "
    "decision an id, or leave data.id_column out to number the rows"
)
ID_DUPLICATED = (
    "{path}: column '{column}' given as data.id_column has {count} id(s) that occur more than once (e.g. {examples}); "
    "give each decision its own id, or leave data.id_column out to number the rows"
)
PROTECTED_EMPTY = (
    "{path}: column '{column}' given as data.protected is empty in every row; fill it in, or remove it from "
    "data.protected"
)
BINS_COVER_NO_ROW = (
    "{path}: field 'data.protected' ({column}): no value of column '{column}' lies in the bins {bins} (its values "
    "run from {low:g} to {high:g}); give bin edges that cover the data"
)
FEATURE_NOT_FINITE = (
    "{path}: column '{column}' holds an infinite number ({value}) at {row}; give a finite number, or leave it empty"
)
FEATURE_MISSING_REFUSED = (
    "{path}: {columns} empty in {count} row(s) (first: {row}), and the {fmt} model {model} does not accept "
    "missing values; fill them in or drop those rows"
)
FEATURE_NOT_NUMERIC = (
    "{path}: column '{column}' holds {value!r} at {row}, which the {fmt} model {model} cannot read as a number; "
    "give a number there, or leave it empty"
)
MODEL_PREDICT_FAILED = "{path}: the {fmt} model could not score the data in {data_path}: {problem}"
MODEL_NOT_A_MODEL = (
    "{path}: not a {fmt} model file ({problem}); check model.path, or set model.format to the file's format"
)
MODEL_NOT_A_CLASSIFIER = (
    "{path}: the {fmt} file holds a {found}, neither a classifier with predict_proba and classes_ nor a model with "
    "predict; give the fitted model"
)
OUTPUT_NOT_A_FOLDER = (
    "{path}: a file, not a folder, where the output folder ({field}) must be; give a folder, or a path that does not "
    "exist yet"
)
OUTPUT_NOT_WRITABLE = (
    "{path}: cannot write the bundle under the output folder ({field}): {problem}; give a folder you can write to"
)
SYSTEM_NAME_TOO_LONG = (
    "{path}: field 'system.name': makes a bundle folder name of {length} characters (at most {limit}); "
    "shorten the name (what the system does belongs in system.intended_purpose)"
)
# Problems inside SPEC_INVALID, raised by the spec's validators (audit/spec.py).
SEED_NEGATIVE = "must be 0 or a positive whole number (got {value}); every random step is seeded from it"
BINS_TOO_FEW = "give at least two bin edges (got {bins}), e.g. [0, 25, 200]: each group lies between two edges"
BINS_NOT_INCREASING = "bin edges must be numbers in increasing order (got {bins})"
LABELS_NOT_UNIQUE = "labels must differ from each other (got {labels})"
__all__ += [
    "DATA_DUPLICATE_COLUMNS", "TARGET_MISSING", "TARGET_NOT_BINARY", "ID_MISSING", "ID_DUPLICATED", "PROTECTED_EMPTY",
    "BINS_COVER_NO_ROW", "FEATURE_NOT_FINITE", "FEATURE_MISSING_REFUSED", "FEATURE_NOT_NUMERIC",
    "MODEL_PREDICT_FAILED", "MODEL_NOT_A_MODEL", "MODEL_NOT_A_CLASSIFIER", "OUTPUT_NOT_A_FOLDER",
    "OUTPUT_NOT_WRITABLE", "SYSTEM_NAME_TOO_LONG", "SEED_NEGATIVE", "BINS_TOO_FEW", "BINS_NOT_INCREASING",
    "LABELS_NOT_UNIQUE",
]

# Spec fields that decide whose duties apply and which law (policy packs).
AUDITED_PARTY_MISSING = (
    "role '{role}' reviews another organisation's system: say whose duties apply with system.audited_party "
    "(provider, deployer or provider-deployer)"
)
AUDITED_PARTY_UNEXPECTED = (
    "audited_party is only for an auditor or a regulator (role '{role}' audits its own system); remove it or set "
    "role: auditor"
)
ART9_BASIS_INVALID = (
    "'{value}' is not an Art. 9(2) basis; write the point, e.g. '9(2)(a) explicit consent' or "
    "'9(2)(g) substantial public interest'"
)
ART9_BASIS_NOT_SPECIAL = "art9_basis is given for '{column}', which is not declared special_category: true"
__all__ += ["AUDITED_PARTY_MISSING", "AUDITED_PARTY_UNEXPECTED", "ART9_BASIS_INVALID", "ART9_BASIS_NOT_SPECIAL"]


# Tensor models (issue 12): TorchScript, a torch state_dict with its module, ONNX (audit/models/tensor.py).
MODEL_FORMAT_MISMATCH = "{path}: model.format is {fmt}, but this is {looks}; {fix} (formats: {formats})"
MODULE_UNTRUSTED = (
    "{path}: field 'model.module': '{module}' is Python code that runs when it is imported; set model.trust: true "
    "(or pass --trust-model) if you trust it"
)
MODULE_NOT_FOUND = (
    "{path}: module '{module}' not found; put it beside audit.yaml or list its folder in model.python_path"
)
MODULE_IMPORT_FAILED = "{path}: field 'model.module': importing '{module}' failed: {problem}"
TENSOR_OUTPUT_UNREADABLE = "the model's output {problem} (model.output: {output}); {hint}"
TENSOR_MISSING_VALUES = "the {fmt} model cannot take missing values (column '{column}' is empty at {row})"
TENSOR_CATEGORY_UNKNOWN = (
    "column '{column}' holds {value!r} at {row}, which is none of the categories model.inputs lists for its one-hot "
    "columns ({categories}); add it there if the model was trained on it, or drop those rows"
)
TENSOR_OUTPUT_NOT_A_TENSOR = "the model's forward returned a {found}, not a tensor; return one tensor of probabilities or logits"
# Problems inside SPEC_INVALID for the fields of tensor models (raised by ModelSpec's validators).
TENSOR_FIELD_NEEDED = "needed for model.format {fmt}: {what}"
TENSOR_FIELD_NOT_FOR_FORMAT = "only for model.format {formats} (model.format is {fmt}); remove it"
INPUTS_EMPTY = "list at least one data column, in the order the model takes them"
INPUTS_REPEATED = "column '{column}' is listed more than once"
CLASSES_NOT_TWO = "give the two classes the model's output stands for, in output order, e.g. [bad, good] (got {classes})"
MODULE_NOT_A_CLASS_PATH = "'{value}' is not of the form package.module:ClassName"
__all__ += [
    "MODEL_FORMAT_MISMATCH", "MODULE_UNTRUSTED", "MODULE_NOT_FOUND", "MODULE_IMPORT_FAILED", "TENSOR_OUTPUT_UNREADABLE",
    "TENSOR_MISSING_VALUES", "TENSOR_CATEGORY_UNKNOWN", "TENSOR_OUTPUT_NOT_A_TENSOR", "TENSOR_FIELD_NEEDED", "TENSOR_FIELD_NOT_FOR_FORMAT", "INPUTS_EMPTY", "INPUTS_REPEATED",
    "CLASSES_NOT_TWO", "MODULE_NOT_A_CLASS_PATH",
]


# Models with custom code (issue 12, item 1): a skops/pickle/joblib model that imports a module the user wrote.
MODEL_MODULE_NOT_IMPORTABLE = (
    "{path}: the model needs module '{module}', which is not importable; put {file} beside audit.yaml or list its "
    "folder in model.python_path"
)
__all__ += ["MODEL_MODULE_NOT_IMPORTABLE"]

# Image inputs (spec validation; the spec's path and field are added by load_spec).
IMAGES_WITHOUT_COLUMN = ("an images section needs an image column: declare it in data.feature_types "
                         "(e.g. {file: image}), or remove the images section")
IMAGE_COLUMNS_MANY = ("more than one column is declared image ({columns}): the audit reads one image per decision; "
                      "declare one")
IMAGE_MODEL_FORMAT = ("an image column needs a tensor model (model.format: torchscript, torch or onnx), not {fmt}")
IMAGE_INPUTS = ("with an image column the model's only input is that column: set model.inputs: [{column}] "
                "(found {inputs})")
IMAGE_UNREADABLE = "{path}: {problem} (fix the file column or the image file)"

# Text inputs of a tensor model (issue 13): a TorchScript model of token ids, its tokenizer inside the file.
TEXT_TOKENIZER_FILE = "audit_tokenizer.json"
TEXT_TOKENIZER_FIELDS = ("vocabulary (word -> id), pattern (regex of a token), lowercase, max_length, pad_id, unknown_id, "
                         "embedding (module path of the embedding layer)")
# Problems inside MODEL_LOAD_FAILED (the model's path and format come first).
TEXT_TOKENIZER_MISSING = (
    "its text input '{column}' needs the model's tokenizer inside the file, and there is none (no extra file "
    "audit_tokenizer.json); save the model with torch.jit.save(module, path, _extra_files={{'audit_tokenizer.json': "
    "json.dumps(tokenizer)}}) giving " + TEXT_TOKENIZER_FIELDS + " (see examples/adult-cv-screening/train_torch.py)"
)
TEXT_TOKENIZER_INVALID = ("its tokenizer (extra file audit_tokenizer.json) {problem}; write it as JSON with "
                          + TEXT_TOKENIZER_FIELDS)
# Spec validation (the spec's path and field are added by load_spec).
TEXT_MODEL_FORMAT = ("a text column read by a tensor model needs model.format: torchscript (its tokenizer travels "
                     "inside the TorchScript file as audit_tokenizer.json), not {fmt}")
TEXT_INPUTS = ("a tensor model that reads the text column '{column}' takes only that column: set model.inputs: "
               "[{column}] (found {inputs})")
__all__ += ["TEXT_TOKENIZER_FILE", "TEXT_TOKENIZER_FIELDS", "TEXT_TOKENIZER_MISSING", "TEXT_TOKENIZER_INVALID",
            "TEXT_MODEL_FORMAT", "TEXT_INPUTS"]


# Partitioned audits (audit/scale, issue 16): a worker that cannot do the work, said before or as it happens.
WORKER_LIBRARY_MISSING = (
    "worker {worker}: cannot import '{module}', which the audit needs there ({why}); install the same packages on "
    "every worker as on this machine (pip install of this project and the model's libraries)"
)
WORKER_LIBRARY_VERSION = (
    "worker {worker}: {library} {found} differs from {expected} on this machine; install the same version on every "
    "worker, or the partitions would be decided by different code"
)
PARTITIONED_UNSUPPORTED = (
    "{path}: field '{field}': {problem}; a partitioned audit reads tabular Parquet data with a model or a decision "
    "column"
)
__all__ += ["WORKER_LIBRARY_MISSING", "WORKER_LIBRARY_VERSION", "PARTITIONED_UNSUPPORTED"]
DECISION_NOT_IN_SAMPLE = (
    "{path}: no decision with id '{id}' among the {count} this partitioned audit kept (a random sample of its {rows} "
    "decisions, run.scale in audit.json); the others' reasons were not computed: run the audit without scale: on "
    "data that holds this person's row to give their notice"
)
__all__ += ["DECISION_NOT_IN_SAMPLE"]

