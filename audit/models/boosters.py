"""XGBoost and LightGBM models saved in their own native formats (no pickle involved).

Only binary classifiers for now: a binary objective predicts P(class 1), so the
model's classes are [0, 1]. Which of them is the positive decision follows the one
rule of :mod:`audit.models._classes`; when it is class 0 the score is 1 - P(class 1)
and the decision keeps the library's own label rule (class 1 when P(class 1) > 0.5).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import MODEL_LOAD_FAILED, MODEL_NOT_A_MODEL, MODEL_NOT_BINARY, AuditInputError
from audit.models._base import ModelKind, ScoreKind
from audit.models._classes import decision_from_score, positive_index

__all__ = ["XGBoostAdapter", "LightGBMAdapter", "BINARY_CLASSES"]

BINARY_CLASSES: list[Any] = [0, 1]  # what a binary objective's P(label = 1) is about


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Swallow what a library's C/C++ code writes to file descriptor 2 (LightGBM prints "[Fatal] ..." itself
    before raising): the user sees our one line only. The exception the library raises still carries its reason."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 at all: nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _starts_with(path: Path, prefixes: tuple[bytes, ...]) -> bool:
    """Whether the file's first bytes (after blanks) are one of ``prefixes``: a cheap test of its format."""
    with path.open("rb") as handle:
        head = handle.read(64).lstrip()
    return head.startswith(prefixes)


def _head_holds(path: Path, word: bytes) -> bool:
    """Whether the file's first bytes hold ``word`` (an XGBoost model's first key is "learner", in JSON and UBJSON)."""
    with path.open("rb") as handle:
        return word in handle.read(256)


def _lightgbm_layout_problem(path: Path) -> str | None:
    """Why the trees of a LightGBM model file are not where its ``tree_sizes`` line says (None: they are).

    LightGBM jumps by those sizes without looking and aborts the whole process (not an exception) on a file
    that was cut short, edited, or had its line endings changed. A file without that line is left to LightGBM.
    """
    data = path.read_bytes()
    sizes = re.search(rb"^tree_sizes=([0-9 ]*)\r?$", data, re.MULTILINE)
    if sizes is None:
        return None
    first = re.search(rb"^Tree=", data, re.MULTILINE)
    offset = first.start() if first is not None else len(data)
    for size in sizes.group(1).split():
        if not data.startswith(b"Tree=", offset):
            break
        offset += int(size)
    else:
        if data[offset:].lstrip(b"\r\n").startswith(b"end of trees"):
            return None
    if b"\r\n" in data:
        return ("its line endings were changed to CRLF (by git or an editor on Windows, say), so its trees are not "
                "where its tree_sizes line puts them; restore the file as LightGBM wrote it")
    return ("the file is cut short or was edited (its trees are not where its tree_sizes line puts them); "
            "save the model again")


def _library_words(exc: BaseException) -> str:
    """The first line of a library's error without its time stamp and source location ("[10:01:02] x.cc:12: ")."""
    lines = str(exc).strip().splitlines()
    return re.sub(r"^\[[\d:]+\]\s+\S+:\d+:\s*", "", lines[0]) if lines else type(exc).__name__


def _categorical(X: pd.DataFrame, numeric: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Text columns as pandas categoricals, which both libraries take natively.

    A column the model was trained on as a number (``numeric``) is read as numbers instead: a stray word
    in it raises ValueError naming the word, rather than being scored as a category code.
    """
    out = X.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = pd.to_numeric(out[column]) if column in numeric else out[column].astype("category")
    return out


class _BinaryBooster:
    """What both native boosters share: the positive class, the score seen from it, the decision."""

    format: str
    kind: ModelKind = "tree"
    score_kind: ScoreKind = "probability"
    threshold = 0.5
    estimator: Any
    feature_names: list[str]
    #: Features the model was trained on as numbers: the Subject reads them as numbers (a word there is refused).
    numeric_features: frozenset[str] = frozenset()

    def _choose_positive(self, *, path: Path, positive_class: object, positive_label: object) -> None:
        """Set ``classes``, ``positive_index`` and ``positive_class`` by the one rule (after the objective check)."""
        self.classes: list[Any] = list(BINARY_CLASSES)
        self.positive_index = positive_index(self.classes, positive_class=positive_class, positive_label=positive_label,
                                             model_path=path)
        self.positive_class: Any = self.classes[self.positive_index]

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        """P(class 1) as the library computes it."""
        raise NotImplementedError

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive decision: P(class 1), or 1 - P(class 1) when the positive class is 0."""
        p1 = np.asarray(self._p1(X), dtype=float)
        return p1 if self.positive_index == 1 else 1.0 - p1

    def decide(self, score: np.ndarray) -> np.ndarray:
        """The library's own label rule (class 1 when P(class 1) > 0.5), seen from the positive class."""
        return decision_from_score(score, self.positive_index)

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision the model makes for each row."""
        return self.decide(self.predict_score(X))


class XGBoostAdapter(_BinaryBooster):
    """An XGBoost Booster (JSON/UBJ file) with a ``binary:logistic`` (or ``binary:hinge``) objective.

    ``positive_class`` / ``positive_label`` are ``model.positive_class`` and
    ``data.positive_label`` (:func:`audit.models.load_model` passes both); the
    default 1 is the library's own P(class 1), for adapters built in code.
    """

    format = "xgboost"

    def __init__(self, path: Path, *, positive_class: object = 1, positive_label: object = None) -> None:
        import xgboost as xgb

        if not _starts_with(path, (b"{",)) or not _head_holds(path, b"learner"):  # JSON and UBJSON: {"learner": ...
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="xgboost",
                                  problem="XGBoost reads the .json or .ubj file that Booster.save_model writes")
        try:
            with _native_stderr_silenced():
                self.estimator: Any = xgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem=_library_words(exc)) from None
        objective = _xgboost_objective(self.estimator)
        if objective == "binary:logitraw":  # binary, but it predicts margins: the 0.5 rule would not hold
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost",
                                  problem="objective binary:logitraw predicts margins, not probabilities; "
                                          "train it with binary:logistic")
        if not objective.startswith("binary:"):
            raise AuditInputError(MODEL_NOT_BINARY, path=path, fmt="xgboost", objective=objective,
                                  expected="objective binary:logistic")
        if not self.estimator.feature_names:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="xgboost", problem="the model has no feature names; train it on a DataFrame")
        self.feature_names = list(self.estimator.feature_names)
        types = list(self.estimator.feature_types or [])  # "c" categorical; "float", "int", "i", "q" numbers
        self.numeric_features = frozenset(n for n, kind in zip(self.feature_names, types, strict=False) if kind != "c")
        self._choose_positive(path=path, positive_class=positive_class, positive_label=positive_label)

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        import xgboost as xgb

        matrix = xgb.DMatrix(_categorical(X[self.feature_names], self.numeric_features), enable_categorical=True)
        return self.estimator.predict(matrix)


class LightGBMAdapter(_BinaryBooster):
    """A LightGBM Booster (text model file) with a ``binary`` objective.

    ``positive_class`` / ``positive_label`` as for :class:`XGBoostAdapter`.
    """

    format = "lightgbm"

    def __init__(self, path: Path, *, positive_class: object = 1, positive_label: object = None) -> None:
        import lightgbm as lgb

        if not _starts_with(path, (b"tree",)):  # a LightGBM model file's first line
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="lightgbm",
                                  problem="LightGBM reads the text file that Booster.save_model writes")
        layout = _lightgbm_layout_problem(path)
        if layout is not None:  # else LightGBM reads past the trees and aborts the whole process
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="lightgbm", problem=layout)
        try:
            with _native_stderr_silenced():
                self.estimator: Any = lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="lightgbm", problem=_library_words(exc)) from None
        objective = _lightgbm_objective(self.estimator)
        if not objective.startswith("binary"):
            raise AuditInputError(MODEL_NOT_BINARY, path=path, fmt="lightgbm", objective=objective,
                                  expected="objective binary")
        self.feature_names = list(self.estimator.feature_name())
        categorical = _lightgbm_categorical(self.estimator)
        if categorical is not None:
            self.numeric_features = frozenset(n for i, n in enumerate(self.feature_names) if i not in categorical)
        self._choose_positive(path=path, positive_class=positive_class, positive_label=positive_label)

    def _p1(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict(_categorical(X[self.feature_names], self.numeric_features))


def _lightgbm_categorical(booster: Any) -> set[int] | None:
    """Indices of the features a LightGBM model treats as categories (None: the file does not say clearly)."""
    listed = (getattr(booster, "params", None) or {}).get("categorical_feature")
    if listed is None or listed == "":
        return set()
    try:
        items = listed.split(",") if isinstance(listed, str) else list(listed)
        return {int(i) for i in items}
    except (TypeError, ValueError):  # names instead of indices: leave the text columns as they are
        return None


def _xgboost_objective(booster: Any) -> str:
    """The objective's name as the saved model records it (e.g. ``binary:logistic``)."""
    try:
        return str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    except (KeyError, TypeError, ValueError):
        return "unknown"


def _lightgbm_objective(booster: Any) -> str:
    """The objective as the model file records it (``objective=binary sigmoid:1`` gives ``binary``)."""
    objective = (getattr(booster, "params", None) or {}).get("objective")
    if objective:
        return str(objective)
    for line in booster.model_to_string().splitlines():
        if line.startswith("objective="):
            parts = line.removeprefix("objective=").split()
            return parts[0] if parts else "unknown"
    return "unknown"
