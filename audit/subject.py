"""The Subject of an audit: the dataset, its schema, the model, and predictions computed once.

Every check is a function of the Subject (and its own settings). The Subject
validates the data against the spec with one-line errors naming the column,
and computes the model's scores and decisions exactly once so that every check
sees the same predictions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from audit.errors import (
    BINS_COVER_NO_ROW,
    COLUMN_NOT_FOUND,
    DATA_DUPLICATE_COLUMNS,
    DATA_EMPTY,
    DATA_READ_FAILED,
    DECISION_SCORE_NOT_FINITE,
    DECISION_SCORE_NOT_NUMERIC,
    DECISION_VALUES_NOT_FOUND,
    FEATURE_MISSING_REFUSED,
    FEATURE_NOT_FINITE,
    FEATURE_NOT_NUMERIC,
    FILE_NOT_FOUND,
    ID_DUPLICATED,
    ID_MISSING,
    IMAGE_UNREADABLE,
    MODEL_FEATURES_MISSING,
    MODEL_PREDICT_FAILED,
    POSITIVE_LABEL_NOT_FOUND,
    PROTECTED_EMPTY,
    SPEC_INVALID,
    TARGET_MISSING,
    TARGET_NOT_BINARY,
    TARGET_ONE_CLASS,
    UNSUPPORTED_FORMAT,
    AuditInputError,
)
from audit.models import ModelAdapter, MultiClassAdapter, Predictions, load_model, native, value_text
from audit.models._classes import as_list
from audit.spec import AuditSpec, ModelFormat, ProtectedSpec, favourable_is_positive

__all__ = ["Subject", "FeatureType", "load_subject", "read_table", "MISSING_GROUP", "yes_no"]

FeatureType = Literal["numeric", "categorical", "text", "image"]
MISSING_GROUP = "unknown"


@dataclass
class Subject:
    """Dataset + model + predictions: what every check looks at.

    - ``frame``: the user's data as read (all columns).
    - ``X``: the model's input columns (or, without a model, every column that is
      not the id, target, decision or a protected attribute).
    - ``y``: True where the ground truth is the positive label, or None without labels.
    - ``groups``: one column per protected attribute holding group labels (text;
      binned for numeric attributes; missing values as "unknown").
    """

    spec: AuditSpec
    data_path: Path
    frame: pd.DataFrame
    ids: np.ndarray
    X: pd.DataFrame
    y: np.ndarray | None
    groups: pd.DataFrame
    protected: list[ProtectedSpec]
    feature_types: dict[str, FeatureType]
    model: ModelAdapter | None
    predictions: Predictions
    model_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: An image audit: every decision's image (N, C, H, W) float32 in [0, 1], in row order; else None.
    images: np.ndarray | None = None
    #: data.reference as read (the training or the previous period's data), with its protected groups; else None.
    reference: pd.DataFrame | None = None
    reference_groups: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        """Number of decisions audited."""
        return len(self.frame)

    @property
    def has_model(self) -> bool:
        """Whether checks can re-predict (False for predictions-only audits)."""
        return self.model is not None

    @property
    def favourable_is_positive(self) -> bool:
        """Whether the positive decision favours the person (False for a fraud or risk flag)."""
        return favourable_is_positive(self.spec)

    @property
    def text_columns(self) -> list[str]:
        """Model inputs declared free text (data.feature_types: text), in the model's order."""
        return [c for c in self.X.columns if self.feature_types.get(str(c)) == "text"]

    @property
    def image_columns(self) -> list[str]:
        """The model input holding image file names (data.feature_types: image): its only input, or none."""
        return [c for c in self.X.columns if self.feature_types.get(str(c)) == "image"]

    @property
    def tabular_columns(self) -> list[str]:
        """Model inputs that are numbers or categories: what tabular methods (proxies, recourse, PDP) may change."""
        return [c for c in self.X.columns if self.feature_types.get(str(c)) not in ("text", "image")]

    @property
    def score_is_probability(self) -> bool:
        """Whether the scores are probabilities (calibration and the Brier score apply).

        A model says so itself (``score_kind``: a multi-class lead or a regressor's score is not one, even inside
        [0, 1]); a predictions-only audit's score column counts as one when every value is in [0, 1].
        """
        score = self.predictions.score
        if score is None:
            return False
        if self.model is not None:
            return self.model.score_kind == "probability"
        return bool(np.all((score >= 0) & (score <= 1)))

    @property
    def favourable(self) -> np.ndarray:
        """True where the decision favours the person (the decision itself, or its negation for a flag)."""
        decision = np.asarray(self.predictions.decision, dtype=bool)
        return decision if self.favourable_is_positive else ~decision

    @property
    def immutable(self) -> list[str]:
        """Features a person cannot change: declared ones plus protected attributes."""
        protected = [p.column for p in self.protected]
        return [c for c in self.X.columns if c in set(self.spec.data.immutable) | set(protected)]


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV or Parquet; one-line errors for a missing or unreadable file, or a header naming a column twice."""
    if path.is_dir():  # a Parquet dataset (a folder of files) is read in partitions
        raise AuditInputError(UNSUPPORTED_FORMAT, path=path, what="data file type", value="folder",
                              supported=".csv, .parquet; a folder of .parquet files with a scale: section in the spec")
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="data file", path=path, hint="fix data.path in the spec")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            _refuse_duplicate_columns(path, [str(name) for name in pq.read_schema(path).names])
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            # pandas renames a repeated name silently (a, a.1): the header is read as it is written first.
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, skipinitialspace=True)
            _refuse_duplicate_columns(path, [str(name) for name in header.iloc[0]] if len(header) else [])
            return pd.read_csv(path, skipinitialspace=True)
    except AuditInputError:
        raise
    except Exception as exc:
        raise AuditInputError(DATA_READ_FAILED, path=path, problem=_first_line(exc)) from None
    raise AuditInputError(UNSUPPORTED_FORMAT, path=path, what="data file type", value=suffix, supported=".csv, .parquet")


_YES = frozenset({"true", "yes", "1", "y", "t"})
_NO = frozenset({"false", "no", "0", "n", "f"})


def yes_no(column: pd.Series, *, path: Path, allow_missing: bool) -> np.ndarray:
    """A yes/no column as booleans (true/false, yes/no, 1/0, any case; empty only when ``allow_missing``).

    Anything else is refused in one line naming the file, the column and the row.
    """
    texts = column.map(lambda v: None if pd.isna(v) or str(v).strip() == "" else value_text(v).strip().lower())
    bad = texts.notna() & ~texts.isin(_YES | _NO)
    if not allow_missing:
        bad |= texts.isna()
    if bad.any():
        at = int(np.argmax(bad.to_numpy()))
        raise AuditInputError(SPEC_INVALID, path=path, field=f"data.decision_log ({column.name})",
                              problem=f"row {at + 1} holds {column.iloc[at]!r}; use true/false, yes/no or 1/0")
    return texts.isin(_YES).to_numpy()


def _refuse_duplicate_columns(path: Path, names: list[str]) -> None:
    """A column name given twice would be renamed (CSV) or be ambiguous (Parquet): refused, naming it."""
    seen: dict[str, int] = {}
    for name in names:
        if name.strip():
            seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            raise AuditInputError(DATA_DUPLICATE_COLUMNS, path=path, column=name, count=count)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_subject(spec: AuditSpec, *, trust_model: bool = False, frame: pd.DataFrame | None = None,
                 adapter: ModelAdapter | None = None, with_reference: bool = True) -> Subject:
    """Read and validate the data, load the model, compute predictions once.

    A partitioned audit (``audit.scale``) passes one partition's rows as ``frame`` (validated exactly as the whole
    file is), the model its worker already loaded as ``adapter``, and ``with_reference=False`` (data.reference is
    read once, by the process that runs the audit, not by every partition).
    """
    data_spec = spec.data
    path = spec.resolve(data_spec.path)
    if frame is None:
        frame = read_table(path)
        frame.index = pd.RangeIndex(len(frame))  # row numbers (a Parquet file may bring back an index it stored)
    if frame.empty:
        raise AuditInputError(DATA_EMPTY, path=path)
    columns = [str(c) for c in frame.columns]

    def need(column: str | None, field_name: str) -> None:
        if column is not None and column not in frame.columns:
            shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
            raise AuditInputError(COLUMN_NOT_FOUND, path=path, column=column, field=field_name, available=shown)

    need(data_spec.target, "data.target")
    need(data_spec.id_column, "data.id_column")
    protected = data_spec.protected_specs()
    for p in protected:
        need(p.column, "data.protected")
    for column in data_spec.immutable:
        need(column, "data.immutable")
    for column in data_spec.increase_only:
        need(column, "data.increase_only")
    for column in data_spec.feature_types:
        need(column, "data.feature_types")
    for column in spec.report.example_fields if spec.report.examples else []:
        need(column, "report.example_fields")
    if data_spec.decision_log is not None:
        log = data_spec.decision_log
        for named in (log.final_decision, log.appealed, log.appeal_changed):
            need(named, "data.decision_log")
        if log.appealed is not None:
            yes_no(frame[log.appealed], path=path, allow_missing=False)
        if log.appeal_changed is not None:
            yes_no(frame[log.appeal_changed], path=path, allow_missing=True)
    if data_spec.decision is not None:
        need(data_spec.decision.column, "data.decision.column")
        need(data_spec.decision.score_column, "data.decision.score_column")
        _check_decision_inputs(frame, spec, path)

    y = _labels(frame, spec, path)
    ids = _ids(frame, spec, path)
    groups = _groups(frame, protected, path)
    default_features = _default_features(frame, spec)
    if spec.model.format is ModelFormat.NONE:
        if data_spec.decision is None:
            raise AuditInputError(SPEC_INVALID, path=spec.source or path, field="data.decision",
                                  problem="a predictions-only audit (model.format: none) needs data.decision")
        _check_finite(frame, frame[default_features], spec, path)
    model = adapter if adapter is not None else load_model(spec, data_columns=default_features, trust=trust_model)
    if model is not None:
        for column in model.feature_names:
            if column not in frame.columns:
                raise AuditInputError(MODEL_FEATURES_MISSING, path=spec.resolve(spec.model.path or Path()), column=column, data_path=path)
        X = _numbers_where_the_model_wants_them(frame, frame[model.feature_names], model, spec, path)
        _check_finite(frame, X, spec, path)
    else:
        X = frame[default_features]
    images = _read_images(frame, spec, path, ids, model) if spec.image_columns else None
    reference, reference_groups = (_read_reference(spec, [str(c) for c in X.columns], protected) if with_reference
                                   else (None, None))
    predictions = _predictions(frame, X, model, spec, path)
    return Subject(
        spec=spec,
        data_path=path,
        frame=frame,
        ids=ids,
        X=X,
        y=y,
        groups=groups,
        protected=protected,
        feature_types=_feature_types(X, data_spec.feature_types),
        model=model,
        predictions=predictions,
        model_path=spec.resolve(spec.model.path) if spec.model.path else None,
        images=images,
        reference=reference,
        reference_groups=reference_groups,
    )


def _read_reference(spec: AuditSpec, features: list[str],
                    protected: list[ProtectedSpec]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """data.reference with the audited inputs and protected attributes (each must be there), or (None, None)."""
    if spec.data.reference is None:
        return None, None
    path = spec.resolve(spec.data.reference)
    frame = read_table(path)
    if frame.empty:
        raise AuditInputError(DATA_EMPTY, path=path)
    wanted = [c for c in features if c not in spec.image_columns] + [p.column for p in protected]
    for column in wanted:
        if column not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:12]))
            raise AuditInputError(COLUMN_NOT_FOUND, path=path, column=column, field="data.reference", available=shown)
    return frame, _groups(frame, protected, path)


def _read_images(frame: pd.DataFrame, spec: AuditSpec, path: Path, ids: np.ndarray, model: ModelAdapter | None) -> np.ndarray:
    """Every row's image (relative to the data file's folder), read once and handed to the model.

    A missing, unreadable, non-8-bit or differently sized image is refused in one line naming its row's id and file.
    """
    from audit.image.data import read_image_files
    from audit.models.tensor import ImageTable

    column = spec.image_columns[0]
    values = frame[column]
    empty = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    if empty.any():
        raise AuditInputError(IMAGE_UNREADABLE, path=path,
                              problem=f"column '{column}' has no file name at {_row_name(frame, int(np.argmax(empty)), spec)}")
    files = values.astype(str).str.strip().tolist()
    try:
        images = read_image_files(files=files, ids=[str(i) for i in ids], root=path.parent,
                                  channels=spec.image_settings.channels)
    except ValueError as exc:  # read_image_files's refusals are one line naming the image and its file
        raise AuditInputError(IMAGE_UNREADABLE, path=path, problem=str(exc)) from None
    if model is not None:
        attach = getattr(model, "attach_images", None)
        if attach is None:  # the spec admits only tensor models with an image column; kept so this stands alone
            raise ValueError("an image column needs a tensor model")
        attach(ImageTable(files=files, images=images))
        _check_layers(model, spec, images[:1])
    return images


def _check_layers(model: ModelAdapter, spec: AuditSpec, first: np.ndarray) -> None:
    """images.layer and images.randomise name layers of the network the maps are taken on (refused before any work).

    Grad-CAM's layer is also tried on the first image: a layer whose output is not a feature map is refused here.
    """
    from audit.models.tensor import gradient_module

    settings = spec.image_settings
    named = [("images.layer", settings.layer)] if settings.layer else []
    named += [("images.randomise", name) for name in settings.randomise or []]
    found = gradient_module(model)
    if not named or isinstance(found, str):  # no gradients: local.image_maps says why, the layers are never used
        return
    module = found[0]
    layers = [name for name, _ in module.named_modules() if name]
    for field_name, name in named:
        if name not in layers:
            shown = ", ".join(layers[:30]) + (" ..." if len(layers) > 30 else "")
            raise AuditInputError(SPEC_INVALID, path=spec.source or "audit.yaml", field=field_name,
                                  problem=f"the model has no layer '{name}'; its layers: {shown}")
    if settings.layer:
        from audit.image.maps import attribution_maps

        try:
            attribution_maps(module, first, method="gradcam", target=0, layer=settings.layer,
                             output=getattr(model, "output", "logits"))
        except ValueError as exc:  # a layer whose output is not (N, C, h, w): named in Captum's and our words
            raise AuditInputError(SPEC_INVALID, path=spec.source or "audit.yaml", field="images.layer",
                                  problem=str(exc)) from None


def _default_features(frame: pd.DataFrame, spec: AuditSpec) -> list[str]:
    d = spec.data
    skip = {d.target, d.id_column} | {p.column for p in d.protected_specs()}
    if d.decision is not None:
        skip |= {d.decision.column, d.decision.score_column}
    return [str(c) for c in frame.columns if c not in skip]


def _labels(frame: pd.DataFrame, spec: AuditSpec, path: Path) -> np.ndarray | None:
    d = spec.data
    if d.target is None:
        return None
    target = frame[d.target]
    values = target.dropna().unique()
    if len(values) < 2:
        raise AuditInputError(TARGET_ONE_CLASS, path=path, column=d.target, value=values[0] if len(values) else None)
    missing = target.isna().to_numpy()
    if missing.any():  # an empty outcome would count as "not positive": refused, not guessed
        raise AuditInputError(TARGET_MISSING, path=path, column=d.target, count=int(missing.sum()),
                              row=_row_name(frame, int(np.argmax(missing)), spec))
    if d.positive_label is None:
        raise AuditInputError(SPEC_INVALID, path=spec.source or path, field="data.positive_label",
                              problem=f"say which value of '{d.target}' is the positive outcome (values: {sorted(map(str, values))[:6]})")
    as_text = target.astype(str)
    wanted = [str(v) for v in as_list(d.positive_label) or []]
    absent = [v for v in wanted if v not in set(as_text)]
    if absent:
        raise AuditInputError(POSITIVE_LABEL_NOT_FOUND, path=path, label=absent[0], column=d.target,
                              available=", ".join(sorted(set(as_text))[:8]))
    positive = as_text.isin(wanted)
    if positive.all():  # every outcome positive: nothing to compare decisions against
        raise AuditInputError(SPEC_INVALID, path=spec.source or path, field="data.positive_label",
                              problem=f"it names every value of '{d.target}'; list only the positive outcomes")
    if len(values) > 2 and len(wanted) == 1 and not isinstance(d.positive_label, list):
        # a third outcome would count as "not positive" unasked: refused, not guessed (a list says so explicitly)
        counts = as_text.value_counts()
        shown = [f"{value!r} in {n} row{'s' if n > 1 else ''}" for value, n in sorted(counts.items())[:_SHOWN_VALUES]]
        raise AuditInputError(TARGET_NOT_BINARY, path=path, column=d.target, count=len(values), label=d.positive_label,
                              values=", ".join(shown) + (" ..." if len(counts) > _SHOWN_VALUES else ""))
    return positive.to_numpy()


def _ids(frame: pd.DataFrame, spec: AuditSpec, path: Path) -> np.ndarray:
    """Each decision's id as text: the id column's (every row one, none twice), else the row number from 0."""
    column = spec.data.id_column
    if column is None:  # the frame's index is the row number: 0.. for a whole file, the partition's rows otherwise
        return np.asarray(frame.index, dtype=np.int64).astype(str)
    raw = frame[column]
    texts = raw.astype(str).str.strip()
    missing = (raw.isna() | (texts == "")).to_numpy()
    if missing.any():
        raise AuditInputError(ID_MISSING, path=path, column=column, count=int(missing.sum()),
                              row=f"row {_row_number(frame, int(np.argmax(missing)))}")
    repeated = texts[texts.duplicated(keep=False)]
    if len(repeated):
        distinct = list(dict.fromkeys(repeated))
        examples = ", ".join(repr(v) for v in distinct[:3]) + (" ..." if len(distinct) > 3 else "")
        raise AuditInputError(ID_DUPLICATED, path=path, column=column, count=len(distinct), examples=examples)
    return raw.astype(str).to_numpy()


def _groups(frame: pd.DataFrame, protected: list[ProtectedSpec], path: Path) -> pd.DataFrame:
    out = {}
    for p in protected:
        column = frame[p.column]
        if not column.notna().any():
            raise AuditInputError(PROTECTED_EMPTY, path=path, column=p.column)
        if p.bins is not None:
            if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                raise AuditInputError(SPEC_INVALID, path=path, field=f"data.protected.{p.column}.bins",
                                      problem="bins need a numeric column")
            labels = p.labels or [f"{lo:g}–{hi:g}" for lo, hi in zip(p.bins[:-1], p.bins[1:], strict=True)]
            binned = pd.cut(column, bins=p.bins, labels=labels, right=False)
            if not binned.notna().any():
                edges = "[" + ", ".join(f"{b:g}" for b in p.bins) + "]"
                raise AuditInputError(BINS_COVER_NO_ROW, path=path, column=p.column, bins=edges,
                                      low=float(column.min()), high=float(column.max()))
            out[p.column] = binned.astype(object).where(binned.notna(), MISSING_GROUP).astype(str)
        else:
            out[p.column] = column.astype(object).where(column.notna(), MISSING_GROUP).astype(str)
    return pd.DataFrame(out, index=frame.index)


def _feature_types(X: pd.DataFrame, declared: dict[str, FeatureType]) -> dict[str, FeatureType]:
    return {
        str(c): declared.get(str(c), "numeric" if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c]) else "categorical")
        for c in X.columns
    }


def _numbers_where_the_model_wants_them(frame: pd.DataFrame, X: pd.DataFrame, model: ModelAdapter, spec: AuditSpec,
                                        path: Path) -> pd.DataFrame:
    """The model's inputs, with the features a native booster was trained on as numbers read as numbers.

    A column of numbers stored as text (a Parquet string column, or a CSV column with one word in it) is
    otherwise scored by XGBoost and LightGBM as category codes without a word. A value that is not a number
    is refused, naming the column, the value and the row.
    """
    numeric: frozenset[str] = getattr(model, "numeric_features", frozenset())
    converted = {}
    for column in X.columns:
        values = X[column]
        if column not in numeric or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = (values.notna() & numbers.isna()).to_numpy()
        if bad.any():
            at = int(np.argmax(bad))
            raise AuditInputError(FEATURE_NOT_NUMERIC, path=path, column=column, value=native(values.iloc[at]),
                                  row=_row_name(frame, at, spec), fmt=model.format,
                                  model=spec.resolve(spec.model.path or Path()).name)
        converted[column] = numbers
    return X.assign(**converted) if converted else X


def _check_finite(frame: pd.DataFrame, features: pd.DataFrame, spec: AuditSpec, path: Path) -> None:
    """Numeric features hold finite numbers or nothing: +-inf is refused always (no method can use it).

    ``features`` are rows of ``frame`` (the whole data, which names a row by its id).
    """
    for column in features.columns:
        values = features[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.isinf(numbers)
        if infinite.any():
            at = int(np.argmax(infinite))
            raise AuditInputError(FEATURE_NOT_FINITE, path=path, column=column, value=numbers[at],
                                  row=_row_name(frame, at, spec))


def _predictions(frame: pd.DataFrame, X: pd.DataFrame, model: ModelAdapter | None, spec: AuditSpec,
                 path: Path) -> Predictions:
    if model is not None:
        own: np.ndarray | None = None
        try:
            if isinstance(model, MultiClassAdapter):  # one prediction gives the score and the model's own class
                model_score, index = model.scores_and_classes(X)
                own = np.asarray(model.classes, dtype=object)[index]
            else:
                model_score = model.predict_score(X)
        except (ValueError, TypeError) as exc:  # the model refuses the data: say which column and row, in our words
            raise _scoring_problem(exc, frame, X, model, spec, path) from exc
        return Predictions(decision=np.asarray(model.decide(model_score), dtype=bool), score=model_score, source="model",
                           model_class=own)
    d = spec.data.decision
    if d is None:  # load_subject rejects this earlier; kept so the function stands alone
        raise ValueError("a predictions-only subject needs data.decision")
    score = _score_values(frame[d.score_column]) if d.score_column else None
    if d.column is not None:
        decision = _texts(frame[d.column]).isin({value_text(v) for v in d.positive_values}).to_numpy()
    else:  # the cutoff applies on the score's own scale (a probability, a decile, a credit score)
        if score is None or d.cutoff is None:  # DecisionSpec rejects this earlier; kept so the function stands alone
            raise ValueError("a decision from a score needs data.decision.score_column and data.decision.cutoff")
        decision = score >= float(d.cutoff)
    return Predictions(decision=decision, score=score, source="data")


# At most this many of a column's values are shown in a message.
_SHOWN_VALUES = 8

# How numpy and pandas name a text value they could not read as a number.
_NOT_A_NUMBER = re.compile(r"could not convert string to float: '(.*)'|Unable to parse string [\"'](.*)[\"'] at position")


def _scoring_problem(exc: Exception, frame: pd.DataFrame, X: pd.DataFrame, model: ModelAdapter, spec: AuditSpec,
                     path: Path) -> AuditInputError:
    """Why the model could not score the data, named by column and row where the data shows it.

    In order: a text value the model could not read as a number (the value the library names, else the first
    value that is not a number in a column that mostly holds numbers); missing values, when the first rows
    without any missing value score (asked once, here) although the whole data did not; else the library's
    words, with the model file.
    """
    model_path = spec.resolve(spec.model.path or Path())
    where = {"fmt": model.format, "model": model_path.name}
    match = _NOT_A_NUMBER.search(str(exc))
    named = None if match is None else next(g for g in match.groups() if g is not None)
    texts = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
    suspects: list[tuple[str, np.ndarray]] = []
    if named is not None:  # the value the library names, wherever it is
        suspects += [(c, (X[c].astype(str) == named).to_numpy() & X[c].notna().to_numpy()) for c in texts]
    for column in texts:  # a column of numbers with a stray word in it
        present = X[column].dropna()
        if len(present) and pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5:
            suspects.append((column, X[column].notna().to_numpy() & pd.to_numeric(X[column], errors="coerce").isna().to_numpy()))
    for column, bad in suspects:
        if bad.any():
            at = int(np.argmax(bad))
            return AuditInputError(FEATURE_NOT_NUMERIC, path=path, column=column, value=native(X[column].iloc[at]),
                                   row=_row_name(frame, at, spec), **where)
    empty = X.isna().to_numpy()
    rows_empty: np.ndarray = np.asarray(empty.any(axis=1), dtype=bool)
    if rows_empty.any():
        columns = [str(c) for c, has in zip(X.columns, np.asarray(empty.any(axis=0), dtype=bool).tolist(), strict=True) if has]
        complete = X.iloc[np.flatnonzero(~rows_empty)[:20]]
        try:  # the rows without a missing value score: the missing values are what the model refuses
            complete_scores = len(complete) > 0 and model.predict_score(complete) is not None
        except (ValueError, TypeError):
            complete_scores = False
        if complete_scores:
            shown = ", ".join(f"'{c}'" for c in columns[:5]) + (" ..." if len(columns) > 5 else "")
            phrase = f"column {shown} is" if len(columns) == 1 else f"columns {shown} are"
            return AuditInputError(FEATURE_MISSING_REFUSED, path=path, columns=phrase, count=int(rows_empty.sum()),
                                   row=_row_name(frame, int(np.argmax(rows_empty)), spec), **where)
    return AuditInputError(MODEL_PREDICT_FAILED, path=model_path, fmt=model.format, data_path=path,
                           problem=f"{type(exc).__name__}: {_first_line(exc)}")


def _check_decision_inputs(frame: pd.DataFrame, spec: AuditSpec, path: Path) -> None:
    """Check data.decision against the data as soon as it is read, before any model or prediction.

    Every value of ``positive_values`` must occur in the decision column (compared as
    text, like the decisions themselves): a typo would otherwise audit no positive
    decision at all. A ``score_column`` must hold finite numbers, on any scale (the
    cutoff applies on that scale). The columns exist (checked just before).
    """
    d = spec.data.decision
    if d is None:
        return
    if d.column is not None:
        present = frame[d.column].dropna()
        found = set(_texts(present))
        missing = [v for v in d.positive_values if value_text(v) not in found]
        if missing:
            values = sorted({str(v) for v in present.unique()})
            available = ", ".join(values[:_SHOWN_VALUES]) + (" ..." if len(values) > _SHOWN_VALUES else "")
            raise AuditInputError(DECISION_VALUES_NOT_FOUND, path=path, missing=", ".join(repr(v) for v in missing),
                                  column=d.column, available=available or "none")
    if d.score_column is not None:
        column = frame[d.score_column]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce") if not pd.api.types.is_bool_dtype(column) else None
            not_numbers = column.notna() if numbers is None else column.notna() & numbers.isna()
            if not_numbers.any():
                at = int(np.argmax(not_numbers.to_numpy()))
                raise AuditInputError(DECISION_SCORE_NOT_NUMERIC, path=path, column=d.score_column,
                                      value=native(column.iloc[at]), row=_row_name(frame, at, spec))
        scores = _score_values(column)
        bad = ~np.isfinite(scores)
        if bad.any():
            at = int(np.argmax(bad))
            raise AuditInputError(DECISION_SCORE_NOT_FINITE, path=path, column=d.score_column,
                                  value=scores[at], row=_row_name(frame, at, spec))


def _texts(column: pd.Series) -> pd.Series:
    """Each value as the text it is compared by (audit.models.value_text: 1, "1", True and 1.0 alike); NaN stays NaN.

    Computed once per distinct value, so a column of millions of decisions costs a lookup per row.
    """
    return column.map({value: value_text(value) for value in column.dropna().unique()})


def _score_values(column: pd.Series) -> np.ndarray:
    """A score column as floats (text that is not a number becomes NaN; _check_decision_inputs refuses both)."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _row_name(frame: pd.DataFrame, position: int, spec: AuditSpec) -> str:
    """How a message names a row: its number in the data (from 1) and its id, when there is an id column."""
    id_column = spec.data.id_column
    where = f"row {_row_number(frame, position)}"
    return f"{where} ({id_column} {frame[id_column].iloc[position]})" if id_column else where


def _row_number(frame: pd.DataFrame, position: int) -> int:
    """The data file's row number (from 1) of the frame's row at ``position``: a partition's frame is indexed by its
    rows' places in the whole data (``audit.scale.read_partition``), a whole file's by 0, 1, ..."""
    return int(frame.index[position]) + 1
