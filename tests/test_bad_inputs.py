"""Bad input is refused before any work (issue 10): the corpus.

Every case runs `audit run audit.yaml --output <dir>` on one bad input and asserts what the README's
"Standards" promise: exit code 2; exactly one line on stderr, ours (never "the audit could not run",
which is how a bug is reported), naming the culprit (a field, column or file: one substring per case);
no traceback; nothing written under the output folder; and refused early: the checks' entry point
(``audit.pipeline._run_checks``) is replaced by a sentinel that exits loudly, so a case that reaches the checks
fails whatever the machine's load (no wall-clock bound).

Most cases run the command in-process (typer's CliRunner on ``audit.cli.app``: one interpreter start for
the whole corpus); those marked ``subprocess`` run the command as ``python -m audit`` would (through
``runpy``, after the sentinel is installed) in their own interpreter, among them every
case where a model library could write to the process's own stderr (LightGBM's "[Fatal]" line).

Data: the German credit example (examples/german-credit: german_credit.csv, german_credit_decisions.csv,
model.skops), copied and changed per case. The XGBoost, LightGBM and scikit-learn models some cases need
are trained here on that data's numeric columns (real labels, or the real ``housing`` column as three
classes); where a value is made up for a case (a third outcome, a word in a numeric column, an
infinity, ...) the case says so.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from factories import apply_changes

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
GERMAN_CSV = EXAMPLE / "german_credit.csv"
DECISIONS_CSV = EXAMPLE / "german_credit_decisions.csv"
SKOPS_MODEL = EXAMPLE / "model.skops"
NUMERIC = ["duration_months", "credit_amount", "installment_rate", "age", "existing_credits", "people_liable"]

#: What a run prints (and exits with) when it reaches the checks: a refusal must come before that, whatever the
#: machine's load (a wall-clock bound failed under load; the guide keeps timings in benchmarks/).
CHECKS_STARTED = "CHECKS STARTED"
CHECKS_STARTED_EXIT = 97
#: `python -c` prelude for a case run in its own interpreter: the same sentinel, then the CLI as `python -m audit`.
SENTINEL = (
    "import runpy, sys\n"
    "import audit.pipeline as pipeline\n"
    "def _started(*args, **kwargs):\n"
    f"    print({CHECKS_STARTED!r}, file=sys.stderr)\n"
    f"    sys.exit({CHECKS_STARTED_EXIT})\n"
    "pipeline._run_checks = _started\n"
    "sys.argv = ['audit', *sys.argv[1:]]\n"
    "runpy.run_module('audit', run_name='__main__', alter_sys=True)\n"
)


# --------------------------------------------------------------------------- models trained for the corpus


@dataclass(frozen=True)
class Models:
    """Model files the cases need, trained once per test process on the example's data."""

    xgboost: Path
    xgboost_multiclass: Path
    xgboost_unnamed: Path
    lightgbm: Path
    lightgbm_multiclass: Path
    sklearn_three_classes: Path
    sklearn_regressor: Path
    sklearn_custom_function: Path
    pickle: Path
    joblib: Path
    pickled_dict: Path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    import operator

    import joblib
    import lightgbm as lgb
    import skops.io as sio
    import xgboost as xgb
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    folder = tmp_path_factory.mktemp("models")
    data = pd.read_csv(GERMAN_CSV)
    X, y = data[NUMERIC], (data["credit_risk"] == "good").to_numpy()
    housing = data["housing"].astype("category").cat.codes.to_numpy()  # own / rent / for free: three real classes
    paths = {name: folder / filename for name, filename in [
        ("xgboost", "xgb.json"), ("xgboost_multiclass", "xgb-multi.json"), ("xgboost_unnamed", "xgb-unnamed.json"),
        ("lightgbm", "lgb.txt"), ("lightgbm_multiclass", "lgb-multi.txt"), ("sklearn_three_classes", "three.skops"),
        ("sklearn_regressor", "points.skops"), ("sklearn_custom_function", "custom.skops"), ("pickle", "model.pkl"), ("joblib", "model.joblib"),
        ("pickled_dict", "dict.pkl")]}
    xgb.train({"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1},
              xgb.DMatrix(X, label=y), 5).save_model(paths["xgboost"])
    xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "seed": 0, "nthread": 1},
              xgb.DMatrix(X, label=housing), 3).save_model(paths["xgboost_multiclass"])
    xgb.train({"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1},
              xgb.DMatrix(X.to_numpy(), label=y), 3).save_model(paths["xgboost_unnamed"])  # no feature names
    lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 0, "num_threads": 1},
              lgb.Dataset(X, label=y), 5).save_model(str(paths["lightgbm"]))
    lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1, "seed": 0, "num_threads": 1},
              lgb.Dataset(X, label=housing), 3).save_model(str(paths["lightgbm_multiclass"]))
    sio.dump(DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, data["housing"]), paths["sklearn_three_classes"])
    sio.dump(DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, 100.0 * y), paths["sklearn_regressor"])
    sio.dump(make_pipeline(FunctionTransformer(operator.neg), DecisionTreeClassifier(max_depth=2, random_state=0))
             .fit(X, data["credit_risk"]), paths["sklearn_custom_function"])
    example = sio.load(SKOPS_MODEL, trusted=sio.get_untrusted_types(file=SKOPS_MODEL))
    paths["pickle"].write_bytes(pickle.dumps(example))
    joblib.dump(example, paths["joblib"])
    paths["pickled_dict"].write_bytes(pickle.dumps({"coef": [0.1, 0.2]}))  # generated: a pickle that is no model
    return Models(**paths)


# --------------------------------------------------------------------------- one case's folder


@dataclass
class Prepared:
    """What a case runs: its spec, the --output it passes (None: the spec's own ``output``), more options."""

    spec: Path
    output: Path | None
    args: tuple[str, ...] = ()
    watch: list[Path] = field(default_factory=list)  # folders that must stay empty (besides the output)


class Work:
    """A case's tmp folder with the example's spec, data and models at hand."""

    def __init__(self, tmp: Path, models: Models) -> None:
        self.tmp = tmp
        self.models = models
        self.out = tmp / "out"

    @staticmethod
    def german() -> pd.DataFrame:
        return pd.read_csv(GERMAN_CSV)

    @staticmethod
    def decisions() -> pd.DataFrame:
        return pd.read_csv(DECISIONS_CSV)

    def spec(self, base: str = "german", **changes: Any) -> dict[str, Any]:
        """The example spec (audit.yaml, or decisions-only.yaml for base="decisions") with absolute paths, unsigned;
        ``changes`` by dotted field (``data__target`` or ``{"data.target": ...}``); a value of DROP removes the field."""
        if base == "german":
            spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
            spec["model"]["path"] = str(SKOPS_MODEL)
            spec["data"]["path"] = str(GERMAN_CSV)
            spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
        else:
            spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
            spec["data"]["path"] = str(DECISIONS_CSV)
        spec.pop("signing")
        return apply_changes(spec, {dotted.replace("__", "."): None if value is DROP else value
                                    for dotted, value in changes.items()})

    def csv(self, frame: pd.DataFrame, name: str = "data.csv") -> str:
        path = self.tmp / name
        frame.to_csv(path, index=False)
        return str(path)

    def file(self, name: str, content: str | bytes) -> str:
        path = self.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    def prepare(self, spec: dict[str, Any] | str, *args: str, output: Path | None | str = "default") -> Prepared:
        path = self.tmp / "audit.yaml"
        path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False))
        chosen = self.out if output == "default" else (None if output is None else Path(output))
        return Prepared(spec=path, output=chosen, args=args)


DROP = object()


@dataclass(frozen=True)
class Case:
    make: Callable[[Work], Prepared]
    expect: tuple[str, ...]
    in_subprocess: bool


CASES: dict[str, Case] = {}


def case(case_id: str, *expect: str, in_subprocess: bool = False) -> Callable[[Callable[[Work], Prepared]], Callable[[Work], Prepared]]:
    """Register a case: its id, the substrings its one line must hold (the culprit first)."""
    def register(make: Callable[[Work], Prepared]) -> Callable[[Work], Prepared]:
        assert case_id not in CASES, case_id
        CASES[case_id] = Case(make=make, expect=expect, in_subprocess=in_subprocess)
        return make
    return register


def spec_case(case_id: str, changes: dict[str, Any], *expect: str, base: str = "german",
              in_subprocess: bool = False) -> None:
    """A case that only changes fields of the example spec."""
    case(case_id, *expect, in_subprocess=in_subprocess)(lambda w: w.prepare(w.spec(base, **changes)))


def data_case(case_id: str, change: Callable[[pd.DataFrame], pd.DataFrame | None], *expect: str,
              base: str = "german", spec: dict[str, Any] | None = None, in_subprocess: bool = False) -> None:
    """A case that changes the example's data (a copy of it, in the case's folder)."""
    def make(w: Work) -> Prepared:
        frame = w.german() if base == "german" else w.decisions()
        changed = change(frame)
        return w.prepare(w.spec(base, **{"data.path": w.csv(frame if changed is None else changed), **(spec or {})}))
    case(case_id, *expect, in_subprocess=in_subprocess)(make)


def _set(frame: pd.DataFrame, column: str, row: int, value: Any) -> pd.DataFrame:
    """One cell changed (the column widened to object or float first, as a CSV reader would see it)."""
    if isinstance(value, str):
        frame[column] = frame[column].astype(object)
    elif isinstance(value, float) and pd.api.types.is_integer_dtype(frame[column]):
        frame[column] = frame[column].astype(float)
    frame.loc[row, column] = value
    return frame


# --------------------------------------------------------------------------- the spec file itself

@case("spec-file-missing", "audit spec not found", "nope.yaml")
def _spec_missing(w: Work) -> Prepared:
    return Prepared(spec=w.tmp / "nope.yaml", output=w.out)


case("spec-yaml-malformed", "audit.yaml", "not valid YAML at line 3")(
    lambda w: w.prepare("system:\n  name: x\n   version: [unclosed\n"))
case("spec-not-a-mapping", "field '(top level)'", "expected a mapping")(
    lambda w: w.prepare("- system\n- data\n"))
case("spec-empty-file", "field '(top level)'", "expected a mapping")(lambda w: w.prepare(""))
spec_case("spec-unknown-top-field", {"colour": "blue"}, "field 'colour'", "Extra inputs are not permitted")
spec_case("spec-unknown-nested-field", {"data.tagret": "credit_risk"}, "field 'data.tagret'", "not permitted")
spec_case("spec-required-field-missing", {"system.provider": DROP}, "field 'system.provider'", "Field required")
spec_case("spec-wrong-type-seed", {"seed": "twelve"}, "field 'seed'", "valid integer")
spec_case("spec-wrong-type-flag", {"system.profiling": "perhaps"}, "field 'system.profiling'", "valid boolean")
spec_case("spec-role-unknown", {"system.role": "owner"}, "field 'system.role'", "'provider'")
spec_case("spec-jurisdiction-unknown", {"system.jurisdictions": ["EU-DE"]}, "field 'system.jurisdictions.0'")
spec_case("spec-annex-iii-area-unknown", {"system.annex_iii_area": "9"}, "field 'system.annex_iii_area'")
spec_case("spec-audit-date-invalid", {"audit_date": "2026-13-01"}, "field 'audit_date'")
spec_case("seed-negative", {"seed": -1}, "field 'seed'", "must be 0 or a positive whole number (got -1)")
spec_case("policy-pack-unknown", {"policies": ["eu-ai-akt"]}, "policy pack 'eu-ai-akt'", "eu-ai-act")
spec_case("model-format-unknown", {"model.format": "pmml"}, "field 'model.format'")
spec_case("model-path-missing", {"model.path": DROP}, "field 'model'", "a model path is needed")
spec_case("fairness-min-group-size-zero", {"fairness.min_group_size": 0}, "field 'fairness.min_group_size'")
spec_case("explanations-top-k-too-many", {"explanations.top_k": 11}, "field 'explanations.top_k'")
spec_case("robustness-missing-rate-over-one", {"robustness.missing_rate": 1.5}, "field 'robustness.missing_rate'")
spec_case("system-name-too-long", {"system.name": "German credit scoring " * 10},
          "field 'system.name'", "at most 80")


# --------------------------------------------------------------------------- thresholds, attestations, fairness

spec_case("threshold-unknown-id", {"thresholds": {"impact_ration": {"value": 0.8, "set_by": "Risk committee"}}},
          "field 'thresholds.impact_ration'", "not a known threshold id")
spec_case("threshold-out-of-range", {"thresholds": {"impact_ratio": {"value": 1.5, "set_by": "Risk committee"}}},
          "field 'thresholds.impact_ratio'", "value 1.5 is outside 0 to 1")
spec_case("threshold-without-set-by", {"thresholds": {"impact_ratio": {"value": 0.8}}},
          "field 'thresholds.impact_ratio.set_by'", "Field required")
spec_case("threshold-value-not-a-number", {"thresholds": {"impact_ratio": {"value": "high", "set_by": "Risk committee"}}},
          "field 'thresholds.impact_ratio.value'")
spec_case("attestation-unknown-id",
          {"attestations": {"GDPR-99": {"answer": "yes", "by": "J. Doe, DPO", "date": "2026-11-20"}}},
          "field 'attestations.GDPR-99'", "audit policies")
spec_case("attestation-answer-invalid",
          {"attestations": {"GDPR-22-1-2": {"answer": "maybe", "by": "J. Doe, DPO", "date": "2026-11-20"}}},
          "field 'attestations.GDPR-22-1-2.answer'")
spec_case("attestation-date-invalid",
          {"attestations": {"GDPR-22-1-2": {"answer": "yes", "by": "J. Doe, DPO", "date": "last week"}}},
          "field 'attestations.GDPR-22-1-2.date'")


@case("attestations-file-missing", "attestations file not found", "answers.yaml")
def _attestations_missing(w: Work) -> Prepared:
    return w.prepare(w.spec(attestations_file=str(w.tmp / "answers.yaml")))


@case("attestations-file-not-a-mapping", "answers.yaml", "field '(top level)'", "mapping of attestation answers")
def _attestations_list(w: Work) -> Prepared:
    return w.prepare(w.spec(attestations_file=w.file("answers.yaml", "- GDPR-22-1-2\n")))


spec_case("primary-metric-unknown", {"fairness.primary_metric": "equal_oportunity", "fairness.justification": "x"},
          "field 'fairness.primary_metric'", "'equal_oportunity'")
spec_case("direction-contradictory", {"fairness.decision_nature": "punitive"},
          "field 'data.favourable_decision'", "contradicts fairness.decision_nature 'punitive'")
spec_case("intersection-column-unknown", {"fairness.intersections": [["sex", "gender"]]},
          "field 'fairness.intersections'", "'gender' is not a protected attribute")


@case("signing-key-missing", "signing key not found", "nokey.pem")
def _signing_missing(w: Work) -> Prepared:
    return w.prepare(w.spec(signing={"key": str(w.tmp / "nokey.pem"), "certificate": str(w.tmp / "nocert.pem")}))


# --------------------------------------------------------------------------- the output folder

@case("output-is-a-file", "out.txt", "a file, not a folder", "(--output)")
def _output_file(w: Work) -> Prepared:
    return w.prepare(w.spec(), output=w.file("out.txt", "not a folder\n"))


@case("output-under-a-file", "out.txt", "a file, not a folder", "(--output)")
def _output_under_file(w: Work) -> Prepared:
    return w.prepare(w.spec(), output=Path(w.file("out.txt", "not a folder\n")) / "reports")


@case("output-in-spec-is-a-file", "reports.txt", "a file, not a folder", "(output)")
def _output_spec_file(w: Work) -> Prepared:
    return w.prepare(w.spec(output=w.file("reports.txt", "not a folder\n")), output=None)


# /proc takes no new folder, not even from root (who may write anywhere chmod forbids).
case("output-not-writable", "/proc/audit-reports", "cannot write the bundle", "(--output)")(
    lambda w: w.prepare(w.spec(), output="/proc/audit-reports"))


# --------------------------------------------------------------------------- the data file and its shape

spec_case("data-file-missing", {"data.path": "/nonexistent/german.csv"}, "data file not found", "german.csv")


@case("data-file-type-unsupported", "data.xlsx", "unsupported data file type '.xlsx'")
def _xlsx(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"data.path": w.file("data.xlsx", b"PK\x03\x04 generated: not a workbook")}))


@case("data-parquet-unreadable", "data.parquet", "could not read the data")
def _bad_parquet(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"data.path": w.file("data.parquet", b"generated: not parquet at all")}))


data_case("data-no-rows", lambda f: f.head(0), "data.csv", "the data has no rows")


@case("data-duplicate-column-names", "data.csv", "column 'credit_amount' appears 2 times in the header",
      in_subprocess=True)
def _duplicate_columns(w: Work) -> Prepared:
    # The real file with its header changed: duration_months renamed to credit_amount (pandas would say credit_amount.1).
    header, *rows = GERMAN_CSV.read_text().splitlines()
    text = "\n".join([header.replace("duration_months", "credit_amount"), *rows]) + "\n"
    return w.prepare(w.spec(**{"data.path": w.file("data.csv", text)}))


@case("data-duplicate-column-names-parquet", "data.parquet", "column 'age' appears 2 times in the header")
def _duplicate_columns_parquet(w: Work) -> Prepared:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = w.german()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("age", pa.array(frame["age"]))  # the same name twice
    path = w.tmp / "data.parquet"
    pq.write_table(table, path)
    return w.prepare(w.spec(**{"data.path": str(path)}))


# --------------------------------------------------------------------------- target

spec_case("target-column-missing", {"data.target": "credit_riskk"}, "column 'credit_riskk'", "data.target")
data_case("target-one-class", lambda f: f[f["credit_risk"] == "good"], "target column 'credit_risk'",
          "only one class ('good')")
# Generated: one applicant's outcome replaced by a third value.
data_case("target-third-value", lambda f: _set(f, "credit_risk", 5, "unknown"),
          "target column 'credit_risk' has 3 different values", "'unknown' in 1 row")
# Generated: two applicants' outcomes left empty.
data_case("target-empty-values", lambda f: _set(_set(f, "credit_risk", 5, np.nan), "credit_risk", 9, np.nan),
          "target column 'credit_risk' is empty in 2 row(s)", "row 6")
spec_case("positive-label-not-found", {"data.positive_label": "god"}, "positive label 'god'", "'credit_risk'")
spec_case("positive-label-not-given", {"data.positive_label": DROP}, "field 'data.positive_label'", "credit_risk")


# --------------------------------------------------------------------------- ids

spec_case("id-column-missing", {"data.id_column": "applicant"}, "column 'applicant'", "data.id_column")


def _ids_repeated(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[250:, "applicant_id"] = frame.loc[:249, "applicant_id"].to_numpy()  # 250 ids given twice
    return frame


data_case("ids-duplicated", _ids_repeated, "column 'applicant_id'", "250 id(s) that occur more than once",
          "'A0001'")
data_case("ids-empty", lambda f: _set(f, "applicant_id", 3, np.nan), "column 'applicant_id'",
          "empty in 1 row(s) (first: row 4)")


# --------------------------------------------------------------------------- protected attributes and bins

spec_case("protected-column-missing", {"data.protected": ["gender"]}, "column 'gender'", "data.protected")
data_case("protected-column-all-empty", lambda f: f.assign(sex=np.nan), "column 'sex' given as data.protected",
          "empty in every row")
spec_case("immutable-column-missing", {"data.immutable": ["age", "sexx"]}, "column 'sexx'", "data.immutable")
spec_case("increase-only-column-missing", {"data.increase_only": ["agee"]}, "column 'agee'", "data.increase_only")
spec_case("feature-types-column-missing", {"data.feature_types": {"instalment_rate": "categorical"}},
          "column 'instalment_rate'", "data.feature_types")
spec_case("feature-type-unknown", {"data.feature_types": {"installment_rate": "ordinal"}},
          "field 'data.feature_types.installment_rate'")


def _age(bins: list[float], labels: list[str] | None = None) -> dict[str, Any]:
    protected: dict[str, Any] = {"column": "age", "bins": bins}
    if labels is not None:
        protected["labels"] = labels
    return {"data.protected": ["sex", protected]}


spec_case("bins-not-increasing", _age([0, 200, 25], ["a", "b"]), "field 'data.protected.1.bins'",
          "increasing order (got [0, 200, 25])")
spec_case("bins-empty", _age([]), "field 'data.protected.1.bins'", "at least two bin edges (got [])")
spec_case("bins-single-edge", _age([25]), "field 'data.protected.1.bins'", "at least two bin edges (got [25])")
spec_case("bins-cover-no-row", _age([100, 150, 200]), "field 'data.protected' (age)",
          "no value of column 'age' lies in the bins [100, 150, 200]", "20 to 75")
spec_case("bins-labels-wrong-count", _age([0, 25, 200], ["young"]), "field 'data.protected.1'",
          "one label fewer than bin edges")
spec_case("bins-labels-repeated", _age([0, 25, 200], ["band", "band"]), "field 'data.protected.1'",
          "labels must differ")
spec_case("bins-on-a-text-column", {"data.protected": [{"column": "sex", "bins": [0, 1, 2]}]},
          "field 'data.protected.sex.bins'", "bins need a numeric column")


# --------------------------------------------------------------------------- features

# Generated: one credit amount made infinite (an export of a division by zero).
data_case("feature-infinite", lambda f: _set(f, "credit_amount", 3, np.inf), "column 'credit_amount'",
          "infinite number (inf) at row 4 (applicant_id A0004)")
data_case("feature-minus-infinite-decision-log", lambda f: _set(f, "duration_months", 7, -np.inf),
          "column 'duration_months'", "infinite number (-inf) at row 8", base="decisions")
# Generated: one credit amount left empty; the example's gradient boosting refuses missing values.
data_case("feature-missing-model-refuses", lambda f: _set(f, "credit_amount", 3, np.nan),
          "column 'credit_amount' is empty in 1 row(s)", "does not accept missing values", in_subprocess=True)
# Generated: a word in a numeric column, as a hand-edited spreadsheet has it.
data_case("feature-word-in-numeric-column", lambda f: _set(f, "duration_months", 7, "twelve"),
          "column 'duration_months' holds 'twelve' at row 8 (applicant_id A0014)", "cannot read as a number")
data_case("model-feature-missing-from-data", lambda f: f.drop(columns=["credit_amount"]),
          "model.skops", "expects feature 'credit_amount'")


# --------------------------------------------------------------------------- model files of every format

spec_case("model-file-missing", {"model.path": "/nonexistent/model.skops"}, "model file not found", "model.skops")


@case("skops-file-not-a-model", "notmodel.skops", "not a skops model file")
def _skops_text(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": w.file("notmodel.skops", "generated: this is not a model\n")}))


@case("skops-file-truncated", "cut.skops", "not a skops model file")
def _skops_cut(w: Work) -> Prepared:
    whole = SKOPS_MODEL.read_bytes()
    return w.prepare(w.spec(**{"model.path": w.file("cut.skops", whole[: len(whole) // 2])}))


@case("skops-untrusted-type", "custom.skops", "not trusted by default", "_operator.neg")
def _skops_custom(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.sklearn_custom_function), "model.positive_class": "good"}))


@case("sklearn-three-classes", "three.skops", "field 'model.positive_class' is not set",
      "a list of classes for a model with more than two")
def _skops_three(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.sklearn_three_classes)}))


@case("sklearn-three-classes-all-positive", "three.skops", "field 'model.positive_class' names every class",
      "list only the classes that are the positive decision")
def _skops_three_all(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.sklearn_three_classes),
                               "model.positive_class": ["own", "rent", "for free"]}))


@case("sklearn-regressor-without-cutoff", "points.skops", "outputs a score and no classes", "set model.cutoff")
def _skops_regressor(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.sklearn_regressor)}))


spec_case("cutoff-not-a-probability", {"model.cutoff": 70}, "field 'model.cutoff' is 70.0",
          "give a cutoff above 0 and at most 1")


spec_case("positive-class-not-a-class", {"model.positive_class": "approve"}, "field 'model.positive_class'",
          "'approve' is not one of the model's classes")


@case("pickle-without-trust", "model.pkl", "arbitrary code", "model.trust: true")
def _pickle(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.pickle), "model.format": "pickle"}))


@case("joblib-without-trust", "model.joblib", "a joblib model can run arbitrary code")
def _joblib(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.joblib), "model.format": "joblib"}))


@case("pickle-trusted-not-a-pickle", "notmodel.pkl", "not a pickle model file")
def _pickle_text(w: Work) -> Prepared:
    path = w.file("notmodel.pkl", "generated: this is not a pickle\n")
    return w.prepare(w.spec(**{"model.path": path, "model.format": "pickle"}), "--trust-model")


@case("pickle-trusted-not-a-classifier", "dict.pkl", "holds a builtins.dict, neither a classifier")
def _pickle_dict(w: Work) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(w.models.pickled_dict), "model.format": "pickle", "model.trust": True}))


def _booster(w: Work, path: Path | str, fmt: str, **more: Any) -> Prepared:
    return w.prepare(w.spec(**{"model.path": str(path), "model.format": fmt, "model.positive_class": 1, **more}))


case("xgboost-file-not-a-model", "notmodel.json", "not a xgboost model file", in_subprocess=True)(
    lambda w: _booster(w, w.file("notmodel.json", "generated: this is not a model\n"), "xgboost"))
case("xgboost-json-not-a-model", "other.json", "not a xgboost model file", in_subprocess=True)(
    lambda w: _booster(w, w.file("other.json", '{"generated": "json, but no model"}\n'), "xgboost"))
case("xgboost-multiclass", "xgb-multi.json", "objective is 'multi:softprob'", in_subprocess=True)(
    lambda w: _booster(w, w.models.xgboost_multiclass, "xgboost"))
case("xgboost-without-feature-names", "xgb-unnamed.json", "no feature names", in_subprocess=True)(
    lambda w: _booster(w, w.models.xgboost_unnamed, "xgboost"))
case("xgboost-positive-class-undecided", "xgb.json", "field 'model.positive_class' is not set", in_subprocess=True)(
    lambda w: _booster(w, w.models.xgboost, "xgboost", **{"model.positive_class": DROP}))


@case("xgboost-features-missing-from-data", "xgb.json", "expects feature 'credit_amount'", in_subprocess=True)
def _xgb_missing(w: Work) -> Prepared:
    data = w.csv(w.german().drop(columns=["credit_amount"]))
    return _booster(w, w.models.xgboost, "xgboost", **{"data.path": data})


@case("xgboost-word-in-numeric-column", "column 'installment_rate' holds 'four' at row 3", "xgboost model xgb.json",
      in_subprocess=True)
def _xgb_word(w: Work) -> Prepared:
    data = w.csv(_set(w.german(), "installment_rate", 2, "four"))  # generated: a word in a numeric column
    return _booster(w, w.models.xgboost, "xgboost", **{"data.path": data})


@case("lightgbm-word-in-numeric-column", "column 'people_liable' holds 'two' at row 5", "lightgbm model lgb.txt",
      in_subprocess=True)
def _lgb_word(w: Work) -> Prepared:
    data = w.csv(_set(w.german(), "people_liable", 4, "two"))  # generated: a word in a numeric column
    return _booster(w, w.models.lightgbm, "lightgbm", **{"data.path": data})


@case("lightgbm-feature-infinite", "column 'credit_amount' holds an infinite number (inf) at row 1", in_subprocess=True)
def _lgb_inf(w: Work) -> Prepared:
    data = w.csv(_set(w.german(), "credit_amount", 0, np.inf))  # generated: an infinite credit amount
    return _booster(w, w.models.lightgbm, "lightgbm", **{"data.path": data})


case("lightgbm-file-not-a-model", "notmodel.txt", "not a lightgbm model file", in_subprocess=True)(
    lambda w: _booster(w, w.file("notmodel.txt", "generated: this is not a model\n"), "lightgbm"))
case("lightgbm-file-truncated", "cut.txt", "could not load the lightgbm model", in_subprocess=True)(
    lambda w: _booster(w, w.file("cut.txt", w.models.lightgbm.read_text()[:300]), "lightgbm"))
case("lightgbm-file-crlf", "crlf.txt", "line endings were changed to CRLF", in_subprocess=True)(
    lambda w: _booster(w, w.file("crlf.txt", w.models.lightgbm.read_bytes().replace(b"\n", b"\r\n")), "lightgbm"))
# Generated: a model file's first lines with a broken header; LightGBM prints "[Fatal] ..." itself before raising.
case("lightgbm-file-corrupt", "corrupt.txt", "could not load the lightgbm model", "label index", in_subprocess=True)(
    lambda w: _booster(w, w.file("corrupt.txt", "tree\nversion=v4\nnum_class=one\nend of trees\n"), "lightgbm"))
case("lightgbm-multiclass", "lgb-multi.txt", "objective is 'multiclass'", in_subprocess=True)(
    lambda w: _booster(w, w.models.lightgbm_multiclass, "lightgbm"))
case("lightgbm-positive-class-not-a-class", "lgb.txt", "field 'model.positive_class': 'good'", in_subprocess=True)(
    lambda w: _booster(w, w.models.lightgbm, "lightgbm", **{"model.positive_class": "good"}))


@case("lightgbm-features-missing-from-data", "lgb.txt", "expects feature 'existing_credits'", in_subprocess=True)
def _lgb_missing(w: Work) -> Prepared:
    data = w.csv(w.german().drop(columns=["existing_credits"]))
    return _booster(w, w.models.lightgbm, "lightgbm", **{"data.path": data})


# --------------------------------------------------------------------------- decision logs (no model)

spec_case("decision-column-missing", {"data.decision.column": "decided"}, "column 'decided'",
          "data.decision.column", base="decisions")
spec_case("decision-value-not-found", {"data.decision.positive_values": ["aprove"]},
          "field 'data.decision.positive_values'", "'aprove' not found in column 'decision'", base="decisions")
spec_case("decision-without-positive-values", {"data.decision.positive_values": []}, "field 'data.decision'",
          "positive_values must list", base="decisions")
spec_case("decision-score-without-cutoff", {"data.decision": {"score_column": "score"}}, "field 'data.decision'",
          "score_column with a cutoff", base="decisions")
spec_case("decision-score-column-missing", {"data.decision.score_column": "scor"}, "column 'scor'",
          "data.decision.score_column", base="decisions")
spec_case("decision-log-without-decision", {"data.decision": DROP}, "field 'data.decision'",
          "needs data.decision", base="decisions")
# Generated: scores exported as percentages, a missing score, an infinite score.
data_case("decision-score-text", lambda f: f.assign(score=[f"{s:.0%}" for s in f["score"]]),
          "column 'score' given as data.decision.score_column is not numeric", "'97%' at row 1", base="decisions")
data_case("decision-score-missing", lambda f: _set(f, "score", 41, np.nan), "column 'score'",
          "missing or infinite score (nan) at row 42", base="decisions")
data_case("decision-score-infinite", lambda f: _set(f, "score", 41, np.inf), "column 'score'",
          "missing or infinite score (inf) at row 42", base="decisions")
data_case("decision-log-target-third-value", lambda f: _set(f, "credit_risk", 0, "unsure"),
          "target column 'credit_risk' has 3 different values", base="decisions")
data_case("decision-log-ids-duplicated", _ids_repeated, "250 id(s) that occur more than once", base="decisions")


# --------------------------------------------------------------------------- running a case

def _files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def warm(models: Models) -> None:
    """Import what the command imports once, so that a case's time is its own work, not the imports."""
    import skops.io  # noqa: F401 - imported for its cost
    import typer.testing  # noqa: F401

    import audit.checks  # noqa: F401
    import audit.pipeline  # noqa: F401
    import audit.policies  # noqa: F401
    import audit.thresholds  # noqa: F401


def _run_in_process(prepared: Prepared, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    import audit.pipeline
    from audit.cli import app

    def started(*args: object, **kwargs: object) -> None:
        raise SystemExit(f"{CHECKS_STARTED}")

    monkeypatch.setattr(audit.pipeline, "_run_checks", started)
    monkeypatch.chdir(cwd)
    args = ["run", str(prepared.spec), *prepared.args]
    if prepared.output is not None:
        args += ["--output", str(prepared.output)]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # an exception the command let through is a bug of the command, not a refusal
    return result.exit_code, result.stdout, result.stderr


def _run_subprocess(prepared: Prepared, cwd: Path) -> tuple[int, str, str]:
    args = [sys.executable, "-c", SENTINEL, "run", str(prepared.spec), *prepared.args]
    if prepared.output is not None:
        args += ["--output", str(prepared.output)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input_is_refused_before_any_work(case_id: str, tmp_path: Path, models: Models, warm: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    this = CASES[case_id]
    work = Work(tmp_path, models)
    prepared = this.make(work)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    if this.in_subprocess:
        code, stdout, stderr = _run_subprocess(prepared, tmp_path)
    else:
        code, stdout, stderr = _run_in_process(prepared, tmp_path, monkeypatch)

    # Refused before any work: the checks were never reached (their entry point is replaced by a sentinel).
    assert CHECKS_STARTED not in stderr + stdout and code != CHECKS_STARTED_EXIT, "the checks started: not refused early"
    assert code == 2, f"exit code {code}\nstderr: {stderr}\nstdout: {stdout}"
    lines = stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert "the audit could not run" not in line, f"refused as a bug, not as bad input: {line}"
    assert "Traceback" not in stderr + stdout
    assert "[LightGBM]" not in stderr + stdout and "[Fatal]" not in stderr
    for fragment in this.expect:
        assert fragment in line, f"{fragment!r} not in: {line}"
    # Nothing written: no bundle, no partial folder, not even an empty output folder, and nothing else changed.
    assert not prepared.output or not _files_under(prepared.output), _files_under(prepared.output or tmp_path)
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before, f"the refused run changed {sorted(set(after.items()) ^ set(before.items()))}"


@pytest.mark.parametrize("in_subprocess", [False, True], ids=["in-process", "subprocess"])
def test_the_sentinel_fires_when_a_good_spec_reaches_the_checks(in_subprocess: bool, tmp_path: Path, models: Models,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The early-refusal check can fail: the example's own (good) spec reaches the checks and trips the sentinel."""
    prepared = Work(tmp_path, models).prepare(Work(tmp_path, models).spec())
    if in_subprocess:
        code, stdout, stderr = _run_subprocess(prepared, tmp_path)
        assert code == CHECKS_STARTED_EXIT and CHECKS_STARTED in stderr, stderr
    else:
        code, stdout, stderr = _run_in_process(prepared, tmp_path, monkeypatch)
        assert code != 2 and CHECKS_STARTED in stdout + stderr, (code, stdout, stderr)


def test_corpus_covers_every_kind_of_input() -> None:
    """At least 60 cases, and every kind of input the issue names has some."""
    assert len(CASES) >= 60, len(CASES)
    for prefix in ("spec-", "threshold-", "attestation", "data-", "target-", "ids-", "protected-", "bins-", "feature-",
                   "skops-", "pickle-", "joblib-", "xgboost-", "lightgbm-", "model-", "decision-", "output-"):
        assert any(name.startswith(prefix) for name in CASES), prefix


def test_bad_input_with_debug_shows_the_traceback(tmp_path: Path, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    """--debug is how a user asks for the traceback: the same refusal, raised."""
    from typer.testing import CliRunner

    from audit.cli import app
    from audit.errors import ID_DUPLICATED, AuditInputError

    work = Work(tmp_path, models)
    prepared = work.prepare(work.spec(**{"data.path": work.csv(_ids_repeated(work.german()))}))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--debug", "run", str(prepared.spec), "--output", str(prepared.output)])
    assert isinstance(result.exception, AuditInputError) and result.exception.template == ID_DUPLICATED


def test_a_refusal_leaves_an_existing_output_folder_as_it_was(tmp_path: Path, models: Models,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The write check tries a folder for real and removes it: earlier bundles and the folder itself are untouched."""
    work = Work(tmp_path, models)
    earlier = work.out / "german-credit-scoring" / "20261101T000000Z"
    earlier.mkdir(parents=True)
    (earlier / "audit.json").write_text("{}")
    frame = _set(work.german(), "credit_risk", 5, "unknown")  # generated: a third outcome
    prepared = work.prepare(work.spec(**{"data.path": work.csv(frame)}))
    code, _, stderr = _run_in_process(prepared, tmp_path, monkeypatch)
    assert code == 2 and "3 different values" in stderr
    assert _files_under(work.out) == [work.out / "german-credit-scoring", earlier, earlier / "audit.json"]



# --------------------------------------------------------------------------- what is not refused

def _load(work: Work, spec: dict[str, Any]) -> Any:
    from audit.spec import load_spec
    from audit.subject import load_subject

    return load_subject(load_spec(work.prepare(spec).spec))


def test_missing_values_are_kept_when_the_model_takes_them(tmp_path: Path, models: Models) -> None:
    """NaN in a feature is refused only when the model refuses it: XGBoost takes missing values natively."""
    work = Work(tmp_path, models)
    frame = _set(work.german(), "credit_amount", 3, np.nan)  # generated: one credit amount left empty
    subject = _load(work, work.spec(**{"model.path": str(models.xgboost), "model.format": "xgboost",
                                       "model.positive_class": 1, "data.path": work.csv(frame)}))
    assert np.isnan(subject.X["credit_amount"].iloc[3]) and np.isfinite(subject.predictions.score).all()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_numbers_stored_as_text_are_read_as_numbers_for_a_booster(tmp_path: Path, models: Models, library: str) -> None:
    """A numeric column stored as text ("6", "48") is read as the numbers the model was trained on, not scored
    as category codes (which both libraries would do without a word)."""
    work = Work(tmp_path, models)
    model = {"model.path": str(getattr(models, library)), "model.format": library, "model.positive_class": 1}
    numeric = _load(work, work.spec(**model))
    frame = work.german().astype({"duration_months": str})
    path = tmp_path / "as_text.parquet"
    frame.to_parquet(path)  # keeps the column as text, as a CSV reader would not
    assert not pd.api.types.is_numeric_dtype(pd.read_parquet(path)["duration_months"])
    as_text = _load(work, work.spec(**model, **{"data.path": str(path)}))
    assert pd.api.types.is_numeric_dtype(as_text.X["duration_months"])
    np.testing.assert_array_equal(as_text.predictions.score, numeric.predictions.score)


def test_open_ended_bins_and_seed_zero_are_accepted(tmp_path: Path, models: Models) -> None:
    work = Work(tmp_path, models)
    subject = _load(work, work.spec(seed=0, **_age([float("-inf"), 25, float("inf")], ["under 25", "25 and over"])))
    assert set(subject.groups["age"]) == {"under 25", "25 and over"}


def test_a_name_of_80_characters_is_accepted_and_nothing_is_left(tmp_path: Path, models: Models) -> None:
    from audit.preflight import SLUG_LIMIT, check_output_folder
    from audit.spec import load_spec

    work = Work(tmp_path, models)
    name = "x" * SLUG_LIMIT
    spec = load_spec(work.prepare(work.spec(**{"system.name": name})).spec)
    check_output_folder(spec, tmp_path / "audit.yaml", work.out)  # the output folder does not exist yet
    assert not work.out.exists()
    (work.out / name).mkdir(parents=True)
    check_output_folder(spec, tmp_path / "audit.yaml", work.out)  # it exists: tried inside, then removed
    assert _files_under(work.out) == [work.out / name]
