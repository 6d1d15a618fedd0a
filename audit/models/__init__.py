"""Model adapters behind one small protocol (see :class:`ModelAdapter`).

scikit-learn via skops by default (pickle/joblib only when trusted; a trusted
file's own code is imported from the spec's folder and ``model.python_path``), XGBoost
and LightGBM native files, tensor models (TorchScript, a torch state_dict with
its trusted module, ONNX: :mod:`audit.models.tensor`), and predictions-only
audits (no model at all). Every adapter takes its positive decision by the one
rule of :func:`audit.models._classes.positive_index`. Before any loader runs,
the file is checked against its declared format (:mod:`audit.models.sniff`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.errors import FILE_NOT_FOUND, AuditInputError
from audit.models._base import ModelAdapter, ModelKind, Predictions, ScoreKind
from audit.models._classes import decision_from_score, native, value_text
from audit.models.outputs import CutoffAdapter, MultiClassAdapter, ScoreAdapter
from audit.models.sklearn import SklearnAdapter, load_pickle, load_skops, sklearn_adapter
from audit.models.sniff import check_format
from audit.spec import AuditSpec, ModelFormat

__all__ = [
    "ModelAdapter", "ModelKind", "Predictions", "SklearnAdapter", "MultiClassAdapter", "ScoreAdapter", "CutoffAdapter",
    "ScoreKind", "decision_from_score", "load_model", "native", "value_text",
]


def load_model(spec: AuditSpec, *, data_columns: list[str], trust: bool = False) -> ModelAdapter | None:
    """The adapter for the spec's model, or None for a predictions-only audit.

    ``trust`` is the command line's ``--trust-model``; it adds to ``model.trust``.
    The positive decision is ``model.positive_class``, else ``data.positive_label``
    when that is a class of the model; the adapter refuses anything else.
    """
    fmt = spec.model.format
    if fmt is ModelFormat.NONE:
        return None
    if spec.model.path is None:  # ModelSpec validation rejects this earlier
        raise ValueError("model.path is required unless model.format is none")
    path = spec.resolve(spec.model.path)
    if not path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="model file", path=path, hint="fix model.path in the spec")
    check_format(path, fmt.value)
    trusted = trust or spec.model.trust
    positive = {"positive_class": spec.model.positive_class, "positive_label": spec.data.positive_label}
    native_model: ModelAdapter | None = None
    if fmt.takes_tensor:
        native_model = _tensor_model(spec, path, trusted=trusted, positive=positive)
    elif fmt is ModelFormat.XGBOOST:
        from audit.models.boosters import XGBoostAdapter

        native_model = XGBoostAdapter(path, **positive)
    elif fmt is ModelFormat.LIGHTGBM:
        from audit.models.boosters import LightGBMAdapter

        native_model = LightGBMAdapter(path, **positive)
    if native_model is not None:  # a binary probability: model.cutoff replaces its own 0.5 rule
        cutoff = spec.model.cutoff
        return native_model if cutoff is None else CutoffAdapter(native_model, cutoff=cutoff, path=path)
    folders = _code_folders(spec)  # where the model's own code (model.python_path) is imported from, when trusted
    if fmt is ModelFormat.SKOPS:
        estimator: Any = load_skops(path, trust=trusted, folders=folders)
    else:
        estimator = load_pickle(path, fmt=fmt.value, trust=trusted, folders=folders)
    return sklearn_adapter(estimator, path=path, fmt=fmt.value, data_columns=data_columns, cutoff=spec.model.cutoff,
                           **positive)


def _code_folders(spec: AuditSpec) -> list[Path]:
    """The spec's folder and every ``model.python_path`` folder (each must exist): where the model's code is imported from."""
    folders = [spec.base_dir, *(spec.resolve(folder) for folder in spec.model.python_path or [])]
    for folder in folders[1:]:
        if not folder.is_dir():
            raise AuditInputError(FILE_NOT_FOUND, what="model.python_path folder", path=folder,
                                  hint="fix model.python_path in the spec")
    return folders


def _tensor_model(spec: AuditSpec, path: Path, *, trusted: bool, positive: dict[str, Any]) -> ModelAdapter:
    """A TorchScript, torch (state_dict + module) or ONNX model, fed ``model.inputs`` and read by ``model.output``."""
    from audit.models import tensor

    m = spec.model
    if m.inputs is None or m.output is None:  # ModelSpec validation rejects this earlier
        raise ValueError("model.inputs and model.output are required for tensor models")
    inputs = [c if isinstance(c, str) else (c.column, list(c.one_hot)) for c in m.inputs]
    image = spec.image_columns
    common: dict[str, Any] = {"inputs": inputs, "output": m.output, "classes": m.classes, **positive,
                              "image_column": image[0] if image else None}
    if m.format is ModelFormat.TORCHSCRIPT:  # the only format a text column may feed (AuditSpec validates it)
        text = [c for c in inputs if isinstance(c, str) and spec.data.feature_types.get(c) == "text"]
        return tensor.TorchScriptAdapter(path, **common, text_column=text[0] if text else None)
    if m.format is ModelFormat.TORCH:
        if m.module is None:  # ModelSpec validation rejects this earlier
            raise ValueError("model.module is required for format torch")
        spec_path = spec.source or spec.base_dir / "audit.yaml"
        return tensor.TorchStateDictAdapter(path, module=m.module, module_kwargs=m.module_kwargs, trust=trusted,
                                            spec_path=spec_path, folders=_code_folders(spec), **common)
    reference = spec.resolve(m.reference) if m.reference is not None else None
    return tensor.OnnxAdapter(path, reference=reference, **common)
