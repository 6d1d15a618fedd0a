"""scikit-learn models: skops by default; pickle/joblib only when the user trusts the file."""

from __future__ import annotations

import importlib
import pickle
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import (
    MODEL_LOAD_FAILED,
    MODEL_MODULE_NOT_IMPORTABLE,
    MODEL_NOT_A_CLASSIFIER,
    MODEL_NOT_A_MODEL,
    UNTRUSTED_PICKLE,
    UNTRUSTED_SKOPS_TYPES,
    AuditInputError,
)
from audit.models._base import ModelAdapter, ModelKind, ScoreKind
from audit.models._classes import decision_from_score, native, positive_index

__all__ = [
    "SklearnAdapter", "sklearn_adapter", "feature_names", "code_folders", "decision_from_score", "load_skops", "load_pickle", "TRUSTED_TYPES", "is_trusted_type", "model_kind",
]

# skops refuses these by default although they are plain model internals (STACK.md). We trust
# them, scikit-learn's own classes (e.g. its Tree and TreePredictor) and numpy's dtype classes
# (skops 0.16 reports ``numpy.dtype`` for a fitted SimpleImputer, OneHotEncoder or ColumnTransformer;
# ``numpy.dtypes.Float64DType`` and the like are the same kind of object); every function and
# every other type is shown to the user, who must trust the file explicitly.
TRUSTED_TYPES = frozenset({
    "collections.OrderedDict",
    "numpy.dtype",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
})


def is_trusted_type(name: str) -> bool:
    """Whether a type skops reports as untrusted is one we trust by default."""
    if name in TRUSTED_TYPES:
        return True
    if name.startswith("numpy.dtypes."):  # a dtype class (Float64DType, ...): numpy.dtype subclasses, no code
        found = getattr(np.dtypes, name.removeprefix("numpy.dtypes."), None)
        return isinstance(found, type) and issubclass(found, np.dtype)
    if not name.startswith("sklearn."):
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return isinstance(found, type)  # a scikit-learn class, not a function

_TREE_NAMES = ("Forest", "Trees", "GradientBoosting", "DecisionTree", "XGB", "LGBM", "Booster")
_LINEAR_NAMES = ("LogisticRegression", "LinearSVC", "SGDClassifier", "RidgeClassifier", "Perceptron", "LinearRegression",
                 "Ridge", "Lasso", "ElasticNet", "SGDRegressor", "HuberRegressor")


def model_kind(final_estimator: Any) -> ModelKind:
    """Which explainer family fits this estimator (a label, and a hint among exact explainers).

    Tree and linear are guessed from the class name: the explainers check the attributes they use and
    their additivity, so a wrong guess is caught there. Neural is by type (a scikit-learn MLP or a torch
    module), never by name, because it sends the estimator down a path that needs those real attributes.
    """
    name = type(final_estimator).__name__
    if any(t in name for t in _TREE_NAMES):
        return "tree"
    if any(t in name for t in _LINEAR_NAMES):
        return "linear"
    neural_network, torch = sys.modules.get("sklearn.neural_network"), sys.modules.get("torch")
    if neural_network is not None and isinstance(final_estimator, neural_network.MLPClassifier):
        return "neural"
    if torch is not None and isinstance(final_estimator, torch.nn.Module):
        return "neural"
    return "other"


class SklearnAdapter:
    """Any fitted scikit-learn-style binary classifier with ``predict_proba`` and ``classes_``.

    The positive decision is the class of ``estimator.classes_`` named by
    ``positive_class`` (``model.positive_class``), else by ``positive_label``
    (``data.positive_label``) when that is a class; see :mod:`audit.models._classes`.
    Other outputs (more classes, a score, a cutoff) go through :func:`sklearn_adapter`.
    """

    score_kind: ScoreKind = "probability"
    threshold = 0.5

    def __init__(
        self,
        estimator: Any,
        *,
        path: Path,
        fmt: str,
        positive_class: Any,
        data_columns: list[str],
        positive_label: Any = None,
    ) -> None:
        if not callable(getattr(estimator, "predict_proba", None)) or not hasattr(estimator, "classes_"):
            raise AuditInputError(MODEL_NOT_A_CLASSIFIER, path=path, fmt=fmt,
                                  found=f"{type(estimator).__module__}.{type(estimator).__qualname__}")
        self.estimator = estimator
        self.format = fmt
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        self.final_estimator = final
        self.kind: ModelKind = model_kind(final)
        self.feature_names = feature_names(estimator, data_columns)
        classes = list(getattr(estimator, "classes_", []))
        if len(classes) != 2:
            raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt=fmt, problem=f"a binary classifier is needed, classes are {[native(c) for c in classes]}")
        self.classes: list[Any] = [native(c) for c in classes]
        self.positive_index = positive_index(classes, positive_class=positive_class, positive_label=positive_label,
                                             model_path=path)
        self.positive_class: Any = self.classes[self.positive_index]

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive decision."""
        return np.asarray(self.estimator.predict_proba(X[self.feature_names]), dtype=float)[:, self.positive_index]

    def decide(self, score: np.ndarray) -> np.ndarray:
        """The model's own decision rule (arg-max of the two probabilities, ties to the first class)."""
        return decision_from_score(score, self.positive_index)

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision the model makes for each row."""
        return self.decide(self.predict_score(X))


def feature_names(estimator: Any, data_columns: list[str]) -> list[str]:
    """The columns the estimator was fitted on (``feature_names_in_``), else the data's own columns."""
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else list(data_columns)


def sklearn_adapter(estimator: Any, *, path: Path, fmt: str, positive_class: Any, positive_label: Any,
                    data_columns: list[str], cutoff: float | None) -> ModelAdapter:
    """The adapter for a scikit-learn-style model, chosen by what it has (duck typing, never class names).

    ``predict_proba`` and ``classes_``: two classes -> :class:`SklearnAdapter` (with ``cutoff``, wrapped in a
    :class:`~audit.models.outputs.CutoffAdapter`), more -> :class:`~audit.models.outputs.MultiClassAdapter`.
    Only ``predict`` -> :class:`~audit.models.outputs.ScoreAdapter` (``cutoff`` required). Anything else is refused.
    """
    from audit.models import outputs

    found = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    names = feature_names(estimator, data_columns)
    if callable(getattr(estimator, "predict_proba", None)) and hasattr(estimator, "classes_"):
        if len(estimator.classes_) > 2:
            return outputs.MultiClassAdapter(estimator, path=path, fmt=fmt, kind=model_kind(final), feature_names=names,
                                             positive_class=positive_class, positive_label=positive_label, cutoff=cutoff)
        binary = SklearnAdapter(estimator, path=path, fmt=fmt, positive_class=positive_class, data_columns=data_columns,
                                positive_label=positive_label)
        return binary if cutoff is None else outputs.CutoffAdapter(binary, cutoff=cutoff, path=path)
    if callable(getattr(estimator, "predict", None)) and not hasattr(estimator, "classes_"):
        return outputs.score_adapter(estimator, path=path, fmt=fmt, kind=model_kind(final), feature_names=names,
                                     cutoff=cutoff)
    raise AuditInputError(MODEL_NOT_A_CLASSIFIER, path=path, fmt=fmt, found=found)


@contextmanager
def code_folders(folders: Sequence[Path]) -> Iterator[None]:
    """``folders`` first on sys.path while the block runs (sys.path is restored after)."""
    importlib.invalidate_caches()  # a module file written after the last import (a test, a notebook) is seen
    saved = list(sys.path)
    sys.path[:0] = [str(folder) for folder in folders]
    try:
        yield
    finally:
        sys.path[:] = saved


def _missing_module(path: Path, exc: ModuleNotFoundError) -> AuditInputError:
    """The one-line error for a module the model's code needs and that cannot be imported."""
    module = exc.name or str(exc)
    return AuditInputError(MODEL_MODULE_NOT_IMPORTABLE, path=path, module=module, file=module.replace(".", "/") + ".py")


def load_skops(path: Path, *, trust: bool, folders: Sequence[Path] = ()) -> Any:
    """Load a skops file, trusting scikit-learn internals and refusing other types unless trusted.

    A trusted file is loaded with ``folders`` (the spec's folder and ``model.python_path``) first on
    sys.path, so that the modules its functions and classes come from can be imported.
    """
    import zipfile

    import skops.io as sio

    if not zipfile.is_zipfile(path):
        raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="skops",
                              problem="a skops file is the zip archive that skops.io.dump writes")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises many types on a corrupt file
        raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="skops", problem=_one_line(exc)) from None
    unknown = [t for t in untrusted if not is_trusted_type(t)]
    if unknown and not trust:
        raise AuditInputError(UNTRUSTED_SKOPS_TYPES, path=path, types=", ".join(unknown))
    try:
        with code_folders(folders if trust else ()):
            return sio.load(path, trusted=untrusted)
    except ModuleNotFoundError as exc:
        raise _missing_module(path, exc) from None
    except Exception as exc:
        raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt="skops", problem=_one_line(exc)) from None


def load_pickle(path: Path, *, fmt: str, trust: bool, folders: Sequence[Path] = ()) -> Any:
    """Load a pickle or joblib file, only when the user has said they trust it (``folders`` as :func:`load_skops`)."""
    if not trust:
        raise AuditInputError(UNTRUSTED_PICKLE, path=path, fmt=fmt)
    with code_folders(folders):
        return _unpickle(path, fmt=fmt)


def _unpickle(path: Path, *, fmt: str) -> Any:
    try:
        if fmt == "joblib":
            import joblib

            return joblib.load(path)
        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - the user explicitly trusted this file
    except ModuleNotFoundError as exc:
        if fmt != "pickle" or _starts_like_a_pickle(path):  # else text read as opcodes, handled below
            raise _missing_module(path, exc) from None
        raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt=fmt,
                              problem="a pickle file starts with the protocol mark that pickle.dump writes") from None
    except (pickle.UnpicklingError, EOFError) as exc:
        raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt=fmt, problem=f"it cannot be unpickled: {_one_line(exc)}") from None
    except Exception as exc:
        if fmt == "pickle" and not _starts_like_a_pickle(path):  # text read as pickle opcodes fails in any way
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt=fmt,
                                  problem="a pickle file starts with the protocol mark that pickle.dump writes") from None
        raise AuditInputError(MODEL_LOAD_FAILED, path=path, fmt=fmt, problem=_one_line(exc)) from None


def _starts_like_a_pickle(path: Path) -> bool:
    """Whether the file opens with pickle's protocol mark (protocol 2 and later, what pickle.dump writes)."""
    with path.open("rb") as handle:
        return handle.read(1) == b"\x80"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
