"""Models that take a tensor: TorchScript, a torch state_dict with its module, and ONNX.

A tensor has no column names, so the spec says which data columns the model takes, in order
(``model.inputs``), how to read its output (``model.output``: probabilities or logits) and which
classes that output stands for (``model.classes``, default ``[0, 1]``):

- one output column: the probability (or, for logits, through a sigmoid) of ``classes[1]``;
- two output columns: one per class, in the order of ``classes`` (logits through a softmax).

The positive decision is chosen by the one rule of :mod:`audit.models._classes` (``model.positive_class``,
else ``data.positive_label`` when it is one of the classes; nothing is guessed), and the decision follows
the rule every binary adapter shares (:func:`decision_from_score`: ``classes[1]`` when its probability is
above 0.5). Inputs are fed as float32 (as these models are trained); the output, float32 too, is read as
float64 without being changed. Missing values are refused, naming the column.

A TorchScript model may read one column of free text (``data.feature_types: {column: text}``, its only
input): it takes the texts' token ids, a LongTensor (N, max_length) padded with ``pad_id``, and its
tokenizer travels inside the file as the extra file ``audit_tokenizer.json`` (written by
``torch.jit.save(module, path, _extra_files={"audit_tokenizer.json": ...})``; see :class:`TextTokenizer`).
A file without it, or with a malformed one, is refused at load. Its words are attributed on its embedding
layer (:mod:`audit.explain.text_ig`); it has no float input tensor to integrate along (no ``encode``).

Loading runs no code the user has not trusted: TorchScript is read by ``torch.jit.load`` (its code is
TorchScript, run by torch's interpreter, not Python), a state_dict by ``torch.load(weights_only=True)``,
and the class of ``model.module`` is imported only when the user trusts it. ONNX runs in onnxruntime on
the CPU; onnxruntime is imported here lazily, after ``ORT_DISABLE_TELEMETRY=1`` is set (it would
otherwise try to reach a telemetry host: a compliance tool makes no network calls).

Each adapter is picklable (worker processes and Dask get a copy): it keeps the model file's bytes and
reloads the model lazily in the copy (a TorchScript module or an onnxruntime session cannot be pickled).
The class of a state_dict model is imported again there, from the same folders.

An ONNX model with ``model.reference`` (the TorchScript file it was exported from) measures its drift
from that model on the first data it scores (the audit scores its whole data first): the largest
difference between the two models' probabilities of the positive decision and the share of decisions
that differ. They are in :attr:`OnnxAdapter.drift`; :meth:`OnnxAdapter.measure_drift` measures them on
any data.

For explainers: ``final_estimator`` is None (there is no scikit-learn final step), so SHAP takes its
model-agnostic path on the adapter; ``estimator`` is the torch module or onnxruntime session.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import re
import sys
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from audit.errors import (
    FILE_NOT_FOUND,
    MODEL_FORMAT_MISMATCH,
    MODEL_LOAD_FAILED,
    MODEL_NOT_A_MODEL,
    MODULE_IMPORT_FAILED,
    MODULE_NOT_FOUND,
    MODULE_UNTRUSTED,
    TENSOR_CATEGORY_UNKNOWN,
    TENSOR_MISSING_VALUES,
    TENSOR_OUTPUT_NOT_A_TENSOR,
    TENSOR_OUTPUT_UNREADABLE,
    TEXT_TOKENIZER_FILE,
    TEXT_TOKENIZER_INVALID,
    TEXT_TOKENIZER_MISSING,
    AuditInputError,
)
from audit.models._base import ModelKind, ScoreKind
from audit.models._classes import decision_from_score, native, positive_index, value_text
from audit.models.sniff import FORMATS_TEXT, sniff

__all__ = [
    "TorchScriptAdapter", "TorchStateDictAdapter", "OnnxAdapter", "DEFAULT_CLASSES", "BATCH_ROWS", "import_class",
    "onnxruntime_module", "InputEncoder", "InputSpec", "ImageTable", "gradient_module", "ONNX_NO_GRADIENTS",
    "TextTokenizer", "BATCH_TEXTS",
]

#: One entry of model.inputs: a column of numbers, or (column, its categories) for one-hot columns.
InputSpec = str | tuple[str, Sequence[Any]]
Output = Literal["probabilities", "logits"]

#: The classes of a tensor model whose spec does not name them (one column: P(class 1)).
DEFAULT_CLASSES: list[Any] = [0, 1]
#: Rows per forward pass (memory stays bounded on large data; rows are scored independently).
BATCH_ROWS = 65_536
#: Images per forward pass.
BATCH_IMAGES = 256
#: Texts per forward pass (each is max_length token ids, then max_length embeddings inside the model).
BATCH_TEXTS = 4096
# Probabilities may stray this far outside [0, 1] (float32 rounding) and two of them from summing to 1.
_RANGE_SLACK = 1e-5
_SUM_SLACK = 1e-3


def onnxruntime_module() -> Any:
    """onnxruntime, imported with its telemetry off (set before the first import; a value the user set is kept)."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime


def _brief(exc: BaseException) -> str:
    """A library's error in one line: TorchScript's last line (its interpreter prints a trace first), else all words."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("The following operation failed in the TorchScript interpreter"):
        return lines[-1]
    text = " ".join(lines)
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


class _TensorAdapter:
    """What the three tensor adapters share: inputs, output reading, classes, decisions, pickling."""

    format: str
    kind: ModelKind = "neural"
    score_kind: ScoreKind = "probability"
    threshold = 0.5
    #: No scikit-learn final step: explainers take their model-agnostic path on this adapter.
    final_estimator: Any = None

    def _setup(self, *, path: Path, blob: bytes, inputs: Sequence[InputSpec], output: Output, classes: list[Any] | None,
               positive_class: object, positive_label: object, image_column: str | None = None,
               text_column: str | None = None) -> None:
        self.path = path
        self._blob = blob
        self._live: Any = None
        #: The column of image file names this model reads (its only input), or None for a model of columns.
        self.image_column = image_column
        self.images: ImageTable | None = None
        #: The column of free text this model reads as token ids (its only input; TorchScript only), or None.
        self.text_column = text_column
        #: The tokenizer read from the model file (audit_tokenizer.json) when the model reads a text column.
        self.tokenizer: TextTokenizer | None = None
        #: Per data column: None (a number, one input) or its categories (one 0/1 input each, in this order).
        self.encoding: list[tuple[str, list[str] | None]] = [
            (c, None) if isinstance(c, str) else (str(c[0]), [value_text(v) for v in c[1]]) for c in inputs]
        self.feature_names = [c for c, _ in self.encoding]
        #: The tensor's columns by name ("purpose=car" for a one-hot column) and the data column each comes from.
        self.input_names = [c if cats is None else f"{c}={cat}" for c, cats in self.encoding for cat in (cats or [c])]
        self.input_source = np.array([j for j, (_, cats) in enumerate(self.encoding) for _ in range(len(cats or [0]))],
                                     dtype=np.intp)
        #: The Subject reads these columns as numbers (a word in one is refused, naming column, value and row).
        self.numeric_features = frozenset(c for c, cats in self.encoding if cats is None
                                         and c not in (image_column, text_column))
        self.output: Output = output
        given = list(DEFAULT_CLASSES if classes is None else classes)
        self.classes: list[Any] = [native(c) for c in given]
        self.positive_index = positive_index(self.classes, positive_class=positive_class,
                                             positive_label=positive_label, model_path=path)
        self.positive_class: Any = self.classes[self.positive_index]

    # ---------------------------------------------------------------- the live model, reloaded lazily in copies

    @property
    def estimator(self) -> Any:
        """The model object (torch module or onnxruntime session), loaded from the file's bytes when first needed."""
        if self._live is None:
            self._live = self._load(self._blob)
        return self._live

    @estimator.setter
    def estimator(self, value: Any) -> None:
        self._live = value

    def _load(self, blob: bytes) -> Any:
        raise NotImplementedError

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The model's raw output for a float matrix (rows x inputs)."""
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_live"] = None  # a TorchScript module or an onnxruntime session cannot be pickled: reloaded from _blob
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # ---------------------------------------------------------------- scoring

    def attach_images(self, table: ImageTable) -> None:
        """The images of the audit's data (read once by the Subject), then a probe on two black images of their shape."""
        self.images = table
        self._probe()

    def _matrix(self, X: pd.DataFrame, dtype: Any = np.float32) -> np.ndarray:
        """The model's input tensor for ``X``: numbers as they are, categories one-hot (rows x ``input_names``).

        For an image model, the images of ``X``'s file names (N, C, H, W); for a text model, the token ids of its
        texts (N, max_length, int64 whatever ``dtype``; see :class:`TextTokenizer`). A missing value, or a category
        not listed in ``model.inputs``, is refused (ValueError naming the column and row).
        """
        if self.text_column is not None:
            if self.tokenizer is None:
                raise ValueError("a text model scores texts once its tokenizer is read from the model file")
            texts = X[self.text_column]
            missing = texts.isna().to_numpy()
            if missing.any():
                raise ValueError(TENSOR_MISSING_VALUES.format(fmt=self.format, column=self.text_column,
                                                              row=f"row {int(np.argmax(missing)) + 1}"))
            return self.tokenizer.ids(texts)
        if self.image_column is not None:
            if self.images is None:
                raise ValueError("an image model scores images once the Subject has read them (attach_images)")
            return self.images.tensor(X[self.image_column]).astype(dtype, copy=False)
        blocks = []
        for column, categories in self.encoding:
            values = X[column]
            missing = values.isna().to_numpy()
            if missing.any():
                raise ValueError(TENSOR_MISSING_VALUES.format(fmt=self.format, column=column,
                                                              row=f"row {int(np.argmax(missing)) + 1}"))
            if categories is None:
                blocks.append(values.to_numpy(dtype=dtype).reshape(-1, 1))
                continue
            codes, distinct = pd.factorize(values)  # each distinct value read once, not every cell
            position = {c: k for k, c in enumerate(categories)}
            where = np.array([position.get(value_text(v), -1) for v in distinct], dtype=np.intp)[codes]
            if (where < 0).any():
                at = int(np.argmax(where < 0))
                raise ValueError(TENSOR_CATEGORY_UNKNOWN.format(column=column, value=values.iloc[at], row=f"row {at + 1}",
                                                                categories=", ".join(categories)))
            block = np.zeros((len(values), len(categories)), dtype=dtype)
            block[np.arange(len(values)), where] = 1
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(X), 0), dtype=dtype)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The input tensor for ``X`` in float64 (what explainers differentiate along; see :class:`InputEncoder`).

        A text model's tensor holds token ids, along which nothing can be integrated: its words are attributed on
        its embedding layer (:mod:`audit.explain.text_ig`), and
        :func:`audit.explain.integrated_gradients.is_torch_adapter` leaves text models out.
        """
        return self._matrix(X, np.float64)

    @property
    def _batch_rows(self) -> int:
        """Rows per forward pass: BATCH_ROWS for columns, BATCH_IMAGES for images, BATCH_TEXTS for texts."""
        if self.text_column is not None:
            return BATCH_TEXTS
        return BATCH_ROWS if self.image_column is None else BATCH_IMAGES

    def _raw_output(self, X: pd.DataFrame) -> np.ndarray:
        matrix = self._matrix(X)
        batch = self._batch_rows
        if len(matrix) <= batch:
            return self._forward(matrix)
        parts = [self._forward(matrix[start:start + batch]) for start in range(0, len(matrix), batch)]
        return np.concatenate(parts)

    def class_probabilities(self, X: pd.DataFrame) -> np.ndarray:
        """P(classes[1]) per row for a one-column model, or one column per class for a two-column model (float64)."""
        return read_output(self._raw_output(X), output=self.output, rows=len(X))

    def score_tensor(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive decision for inputs given as the model's own tensor (perturbed images)."""
        x = np.ascontiguousarray(x, dtype=np.int64 if self.text_column is not None else np.float32)
        batch = self._batch_rows
        parts = [self._forward(x[start:start + batch]) for start in range(0, len(x), batch)]
        raw = np.concatenate(parts) if parts else np.zeros((0, 1))
        return self._score(read_output(raw, output=self.output, rows=len(x)))

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive decision."""
        return self._score(self.class_probabilities(X))

    def _score(self, probabilities: np.ndarray) -> np.ndarray:
        if probabilities.ndim == 2:
            return probabilities[:, self.positive_index]
        return probabilities if self.positive_index == 1 else 1.0 - probabilities

    def decide(self, score: np.ndarray) -> np.ndarray:
        """classes[1] when its probability is above 0.5 (the rule of every binary adapter), seen from the positive class."""
        return decision_from_score(score, self.positive_index)

    def predict_decision(self, X: pd.DataFrame) -> np.ndarray:
        """The decision the model makes for each row."""
        return self.decide(self.predict_score(X))

    # ---------------------------------------------------------------- checked once, at load

    def _probe(self) -> None:
        """Run the model on two rows of zeros: it must take its input columns and give one or two per row.

        An image model is probed once its images are known (:meth:`attach_images`): two black images of their shape.
        A text model is probed on the token ids of two texts: the empty one (all padding) and its first word.
        """
        width = len(self.input_names)
        if self.image_column is not None and self.images is None:
            return
        if self.tokenizer is not None:
            first = min(self.tokenizer.vocabulary, key=self.tokenizer.vocabulary.__getitem__, default="")
            probe = self.tokenizer.ids(pd.Series(["", first], dtype=object))
            what = (f"token ids (2 texts x {self.tokenizer.max_length}, int64, padded with {self.tokenizer.pad_id}; "
                    f"its tokenizer in {TEXT_TOKENIZER_FILE})")
        else:
            shape = (2, width) if self.images is None else (2, *self.images.shape)
            probe = np.zeros(shape, dtype=np.float32)
            what = (f"{width} input column(s), as model.inputs lists" if self.images is None
                    else f"images of shape {self.images.shape} (channels, height, width; images.channels)")
        try:
            out = np.asarray(self._forward(probe))
        except AuditInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's network may raise anything; re-raised as an input error
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"it does not run on {what}: {_brief(exc)}") from None
        if not _output_shape_ok(out.shape, rows=2):
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"its output for 2 rows has shape {tuple(out.shape)}; a binary classifier "
                                          "gives one column (for the second of model.classes) or two (one per class)")


class ImageTable:
    """The images of an image column, read once: each file name's row in one float32 array (N, C, H, W) in [0, 1]."""

    def __init__(self, *, files: Sequence[str], images: np.ndarray) -> None:
        self.position = {name: i for i, name in enumerate(files)}
        self.array = images
        #: (channels, height, width) of every image.
        self.shape: tuple[int, ...] = tuple(int(v) for v in images.shape[1:])

    def tensor(self, files: pd.Series) -> np.ndarray:
        """The images of ``files`` in that order; a name that was not read with the data is a ValueError."""
        names = files.astype(str).str.strip()
        codes, distinct = pd.factorize(names)
        where = np.array([self.position.get(str(name), -1) for name in distinct], dtype=np.intp)
        if (where < 0).any():
            raise ValueError(f"image file {distinct[int(np.argmax(where < 0))]!r} was not read with the audit's data")
        return self.array[where[codes]]


class TextTokenizer:
    """A text model's tokenizer, as its TorchScript file carries it (extra file ``audit_tokenizer.json``).

    JSON with ``vocabulary`` (token -> id), ``pattern`` (the regex of one token, e.g. scikit-learn's
    ``(?u)\\b\\w\\w+\\b``; with one group, the group is the token, as in scikit-learn), ``lowercase``,
    ``max_length``, ``pad_id``, ``unknown_id`` and ``embedding`` (the module path of the embedding layer).
    A text's tokens are ``re.findall(pattern, text.lower() if lowercase else text)``, its first ``max_length``
    kept (the model never sees the rest); each is its vocabulary id, or ``unknown_id``; every text is padded
    with ``pad_id`` to ``max_length`` (always that length, so a text's ids do not depend on the batch).
    """

    FIELDS = ("vocabulary", "pattern", "lowercase", "max_length", "pad_id", "unknown_id", "embedding")

    def __init__(self, *, vocabulary: Mapping[str, int], pattern: str, lowercase: bool, max_length: int, pad_id: int,
                 unknown_id: int, embedding: str) -> None:
        self.vocabulary = dict(vocabulary)
        self.pattern = pattern
        self.lowercase = lowercase
        self.max_length = max_length
        self.pad_id = pad_id
        self.unknown_id = unknown_id
        self.embedding = embedding
        self.regex = re.compile(pattern)

    @classmethod
    def from_json(cls, raw: bytes | str) -> TextTokenizer:
        """The tokenizer from its JSON; anything malformed is a ValueError saying what, in a few words."""
        try:
            found = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"is not JSON ({exc})") from None
        if not isinstance(found, dict):
            raise ValueError(f"holds a JSON {type(found).__name__}, not an object")
        absent = [k for k in cls.FIELDS if k not in found]
        if absent:
            raise ValueError(f"lacks {', '.join(absent)}")

        def whole(key: str, least: int) -> int:
            value = found[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"has {key} {value!r}, not a whole number of at least {least}")
            return value

        vocabulary = found["vocabulary"]
        if not isinstance(vocabulary, dict) or not vocabulary:
            raise ValueError("has a vocabulary that is not a non-empty object of token -> id")
        bad = [(t, i) for t, i in vocabulary.items() if isinstance(i, bool) or not isinstance(i, int) or i < 0]
        if bad:
            raise ValueError(f"maps {bad[0][0]!r} to {bad[0][1]!r}, not an id (a whole number of at least 0)")
        pad_id, unknown_id = whole("pad_id", 0), whole("unknown_id", 0)
        padding = [t for t, i in vocabulary.items() if i == pad_id]
        if padding:
            raise ValueError(f"maps {padding[0]!r} to pad_id {pad_id}: a token would read as padding")
        if not isinstance(found["pattern"], str) or not found["pattern"]:
            raise ValueError(f"has pattern {found['pattern']!r}, not a regular expression")
        try:
            regex = re.compile(found["pattern"])
        except re.error as exc:
            raise ValueError(f"has a pattern that does not compile ({exc})") from None
        if regex.groups > 1:
            raise ValueError(f"has a pattern with {regex.groups} groups; a token is the whole match or its one group")
        if not isinstance(found["lowercase"], bool):
            raise ValueError(f"has lowercase {found['lowercase']!r}, not true or false")
        if not isinstance(found["embedding"], str) or not found["embedding"]:
            raise ValueError(f"has embedding {found['embedding']!r}, not a module path such as 'embedding'")
        return cls(vocabulary=vocabulary, pattern=found["pattern"], lowercase=found["lowercase"],
                   max_length=whole("max_length", 1), pad_id=pad_id, unknown_id=unknown_id,
                   embedding=found["embedding"])

    def tokens(self, texts: pd.Series | Sequence[str]) -> tuple[list[list[str]], np.ndarray]:
        """(the tokens the model reads of each distinct text, at most max_length, in order; each text's distinct one)."""
        codes, distinct = pd.factorize(pd.Series(texts, dtype=object).astype(str))
        regex, lower = self.regex, self.lowercase
        found = [regex.findall(text.lower() if lower else text)[:self.max_length] for text in distinct]
        return found, np.asarray(codes, dtype=np.intp)

    def ids(self, texts: pd.Series | Sequence[str]) -> np.ndarray:
        """The padded token ids of ``texts`` (N, max_length), int64; each distinct text tokenised once."""
        found, codes = self.tokens(texts)
        lengths = np.fromiter(map(len, found), dtype=np.intp, count=len(found))
        flat = list(chain.from_iterable(found))
        lookup, unknown = self.vocabulary.get, self.unknown_id
        values = np.fromiter((lookup(t, unknown) for t in flat), dtype=np.int64, count=len(flat))
        out = np.full((len(found), self.max_length), self.pad_id, dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        out[np.repeat(np.arange(len(found)), lengths), np.arange(len(flat)) - np.repeat(starts, lengths)] = values
        return out[codes]

    def check(self, module: Any) -> None:
        """The embedding layer exists in ``module`` and has a row for every id (ValueError saying which does not)."""
        layers = dict(module.named_modules())
        if self.embedding not in layers or not self.embedding:
            shown = ", ".join(name for name in layers if name)[:300]
            raise ValueError(f"names embedding '{self.embedding}', which is no layer of the model (its layers: {shown})")
        weight = getattr(layers[self.embedding], "weight", None)
        rows = int(weight.shape[0]) if weight is not None and getattr(weight, "ndim", 0) == 2 else None
        largest = max([*self.vocabulary.values(), self.pad_id, self.unknown_id])
        if rows is not None and largest >= rows:
            raise ValueError(f"uses id {largest}, and the embedding layer '{self.embedding}' has {rows} rows "
                             f"(ids 0 to {rows - 1})")


def gradient_module(model: Any) -> tuple[Any, str] | str:
    """(torch module, which model it is) that gradients can be taken through, or why there is none.

    A TorchScript or torch model is its own; an ONNX model's is the TorchScript file it was exported from
    (``model.reference``); a model wrapped by a cutoff is read through the wrapper.
    """
    inner = getattr(model, "inner", None)
    adapter = inner if inner is not None else model
    fmt = getattr(adapter, "format", "")
    if fmt in ("torchscript", "torch"):
        return adapter.estimator, f"the {fmt} model audited"
    if fmt == "onnx":
        reference = getattr(adapter, "reference", None)
        if reference is None:
            return ONNX_NO_GRADIENTS
        return reference.estimator, "the TorchScript file the ONNX model was exported from (model.reference)"
    return f"gradients need a torch model (TorchScript or torch), not {fmt or 'this model'}"


#: Why an ONNX model alone has no gradients to explain with.
ONNX_NO_GRADIENTS = ("an ONNX graph gives no gradients, and maps need them: name the TorchScript file the ONNX model "
                     "was exported from in model.reference")


class InputEncoder:
    """A tensor adapter's encoding as a fitted-transformer lookalike: ``transform(X)`` gives its float64 input tensor.

    Explainers use it as the "preprocessing" of a tensor model (Integrated Gradients differentiates along the
    tensor's columns; their contributions are folded back to the data columns by ``input_source``).
    """

    def __init__(self, adapter: _TensorAdapter) -> None:
        self.adapter = adapter

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return self.adapter.encode(X)


def _output_shape_ok(shape: tuple[int, ...], *, rows: int) -> bool:
    return (len(shape) == 1 and shape[0] == rows) or (len(shape) == 2 and shape[0] == rows and shape[1] in (1, 2))


def read_output(out: np.ndarray, *, output: Output, rows: int) -> np.ndarray:
    """A model's raw output as probabilities (float64): P(classes[1]) per row, or one column per class.

    ``output`` says what the numbers are: probabilities (checked to be in 0..1, two columns summing to 1)
    or logits (a sigmoid for one column, a softmax for two). Anything else is a ValueError in one line.
    """
    from scipy.special import expit, softmax

    values = np.asarray(out)
    if not _output_shape_ok(values.shape, rows=rows):
        raise ValueError(TENSOR_OUTPUT_UNREADABLE.format(
            problem=f"has shape {tuple(values.shape)} for {rows} rows", output=output,
            hint="a binary classifier gives one column (for the second of model.classes) or two (one per class)"))
    values = values.astype(np.float64).reshape(rows, -1)
    values = values[:, 0] if values.shape[1] == 1 else values
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(TENSOR_OUTPUT_UNREADABLE.format(problem=f"is not a number ({values.flat[np.argmax(bad)]}) "
                                                                 f"at row {row + 1}", output=output,
                                                         hint="check the model and the inputs it is given"))
    if output == "logits":
        return np.asarray(expit(values) if values.ndim == 1 else softmax(values, axis=1), dtype=np.float64)
    outside = (values < -_RANGE_SLACK) | (values > 1 + _RANGE_SLACK)
    if outside.any():
        row = int(np.argwhere(outside)[0][0])
        raise ValueError(TENSOR_OUTPUT_UNREADABLE.format(
            problem=f"holds {values.flat[np.argmax(outside)]:g} at row {row + 1}, not a probability", output=output,
            hint="set model.output: logits if the model gives logits"))
    if values.ndim == 2:
        sums = values.sum(axis=1)
        off = np.abs(sums - 1.0) > _SUM_SLACK
        if off.any():
            row = int(np.argmax(off))
            raise ValueError(TENSOR_OUTPUT_UNREADABLE.format(
                problem=f"has two columns summing to {sums[row]:g} at row {row + 1}, not to 1", output=output,
                hint="give the probabilities of both classes, or set model.output: logits"))
    return values


# --------------------------------------------------------------------------- torch


def _torch_forward(module: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x)))
    if not isinstance(out, torch.Tensor):
        raise ValueError(TENSOR_OUTPUT_NOT_A_TENSOR.format(found=type(out).__name__))
    return out.detach().cpu().numpy()


class TorchScriptAdapter(_TensorAdapter):
    """A TorchScript file (``torch.jit.save``), loaded with ``torch.jit.load`` on the CPU, in eval mode."""

    format = "torchscript"

    def __init__(self, path: Path, *, inputs: Sequence[InputSpec], output: Output, classes: list[Any] | None = None,
                 positive_class: object = None, positive_label: object = None, image_column: str | None = None,
                 text_column: str | None = None) -> None:
        if sniff(path) != "torchscript":
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="torchscript",
                                  problem="a TorchScript file is the zip archive that torch.jit.save writes")
        self._setup(path=path, blob=path.read_bytes(), inputs=inputs, output=output, classes=classes,
                    positive_class=positive_class, positive_label=positive_label, image_column=image_column,
                    text_column=text_column)
        self.estimator = self._load(self._blob)
        self._probe()

    def _load(self, blob: bytes) -> Any:
        """The module in eval mode; for a text model also its tokenizer (:class:`TextTokenizer`), checked against it."""
        import torch

        extra = {TEXT_TOKENIZER_FILE: ""}
        try:
            module = torch.jit.load(io.BytesIO(blob), map_location="cpu", _extra_files=extra)
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError and others on a bad file; an input error
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format, problem=_brief(exc)) from None
        if self.text_column is not None:
            raw = extra[TEXT_TOKENIZER_FILE]
            if not raw:
                raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                      problem=TEXT_TOKENIZER_MISSING.format(column=self.text_column))
            try:
                tokenizer = TextTokenizer.from_json(raw)
                tokenizer.check(module)
            except ValueError as exc:
                raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                      problem=TEXT_TOKENIZER_INVALID.format(problem=exc)) from None
            self.tokenizer = tokenizer
        return module.eval()

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return _torch_forward(self.estimator, x)


def import_class(class_path: str, *, folders: list[Path], spec_path: Path) -> Any:
    """The class ``package.module:ClassName``, imported with ``folders`` first on sys.path (restored after).

    Only call this for code the user trusts. A module that is not found, fails on import, or has no such
    class is an AuditInputError in one line (``spec_path`` names the spec that named it).
    """
    module_name, _, class_name = class_path.partition(":")
    importlib.invalidate_caches()  # a module file written after the last import (a test, a notebook) is seen
    saved = list(sys.path)
    sys.path[:0] = [str(folder) for folder in folders]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AuditInputError(MODULE_NOT_FOUND, path=spec_path, module=module_name) from None
        raise AuditInputError(MODULE_IMPORT_FAILED, path=spec_path, module=module_name, problem=_brief(exc)) from None
    except Exception as exc:  # noqa: BLE001 - importing runs the user's own code, which may raise anything
        # (SyntaxError, its own exceptions): always the module's fault, so always an input error naming it.
        raise AuditInputError(MODULE_IMPORT_FAILED, path=spec_path, module=module_name, problem=_brief(exc)) from None
    finally:
        sys.path[:] = saved
    found = getattr(module, class_name, None)
    if found is None:
        raise AuditInputError(MODULE_IMPORT_FAILED, path=spec_path, module=module_name,
                              problem=f"it has no class '{class_name}'")
    return found


class TorchStateDictAdapter(_TensorAdapter):
    """A state_dict (``torch.save(model.state_dict(), path)``) and the class it belongs to (``model.module``).

    The weights are read with ``torch.load(weights_only=True)`` (no code runs); the class is imported only
    when ``trust`` is True, from ``folders`` (the spec's folder and ``model.python_path``), built with
    ``module_kwargs`` and given the weights (every key must match).
    """

    format = "torch"

    def __init__(self, path: Path, *, module: str, inputs: Sequence[InputSpec], output: Output, trust: bool, spec_path: Path,
                 folders: list[Path], module_kwargs: Mapping[str, Any] | None = None, classes: list[Any] | None = None,
                 positive_class: object = None, positive_label: object = None, image_column: str | None = None) -> None:
        if not trust:
            raise AuditInputError(MODULE_UNTRUSTED, path=spec_path, module=module)
        if sniff(path) not in ("torch", "pickle"):
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="torch",
                                  problem="a torch model file is the state_dict that torch.save(model.state_dict(), "
                                          "path) writes")
        self.module_path = module
        self.module_kwargs = dict(module_kwargs or {})
        self.folders = list(folders)
        self.spec_path = spec_path
        self._setup(path=path, blob=path.read_bytes(), inputs=inputs, output=output, classes=classes,
                    positive_class=positive_class, positive_label=positive_label, image_column=image_column)
        self.estimator = self._load(self._blob)
        self._probe()

    def _weights(self, blob: bytes) -> dict[str, Any]:
        import torch

        try:
            state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, ValueError) as exc:
            # What torch.load(weights_only=True) raises on a refused or damaged file (forbidden global, not a zip,
            # truncated, empty, text): the file is wrong, an input error. Anything else is a bug and says so.
            problem = (f"torch.load(weights_only=True) refused it ({_brief(exc)[:120]}); save model.state_dict() "
                       "with torch.save, or the whole model with torch.jit.save (format torchscript)")
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format, problem=problem) from None
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            keys = list(state)[:5] if isinstance(state, Mapping) else []
            held = f"a dict with keys {keys}" if isinstance(state, Mapping) else f"a {type(state).__name__}"
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"it holds {held}, not a state_dict of tensors; save model.state_dict() alone")
        return dict(state)

    def _load(self, blob: bytes) -> Any:
        import torch

        state = self._weights(blob)
        cls = import_class(self.module_path, folders=self.folders, spec_path=self.spec_path)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise AuditInputError(MODULE_IMPORT_FAILED, path=self.spec_path, module=self.module_path.partition(":")[0],
                                  problem=f"'{self.module_path}' is not a torch.nn.Module class")
        try:
            module = cls(**self.module_kwargs)
        except Exception as exc:  # noqa: BLE001 - the user's constructor may raise anything; an input error
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"{self.module_path}(**model.module_kwargs) failed: {_brief(exc)}") from None
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:  # torch's one error for missing or unexpected keys and shape mismatches
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"the state_dict does not fit {self.module_path}: {_brief(exc)}") from None
        return module.eval()

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return _torch_forward(self.estimator, x)


# --------------------------------------------------------------------------- ONNX

_ONNX_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def _onnx_kind(blob: bytes) -> ModelKind:
    """What the ONNX graph computes: tree ensembles, a linear classifier, or layers of a network."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        ops = {node.op_type for node in onnx.load_from_string(blob).graph.node}
    except DecodeError:  # onnxruntime read the file; a graph onnx cannot parse only leaves the kind unnamed
        return "other"
    if any(op.startswith("TreeEnsemble") for op in ops):
        return "tree"
    if ops & {"LinearClassifier", "LinearRegressor"}:
        return "linear"
    if ops & {"MatMul", "Gemm", "Conv"}:
        return "neural"
    return "other"


class OnnxAdapter(_TensorAdapter):
    """An ONNX model run by onnxruntime on the CPU (one thread), fed one float tensor of ``model.inputs``.

    The probability output is found among the session's outputs by type and shape: a float tensor of one
    or two columns per row (skl2onnx's ``label`` output, an integer or text tensor, is left aside). A
    ZipMap output (a sequence of maps) is refused: export with ``zipmap=False``.
    """

    format = "onnx"

    def __init__(self, path: Path, *, inputs: Sequence[InputSpec], output: Output, classes: list[Any] | None = None,
                 positive_class: object = None, positive_label: object = None, reference: Path | None = None,
                 image_column: str | None = None) -> None:
        if sniff(path) != "onnx":
            raise AuditInputError(MODEL_NOT_A_MODEL, path=path, fmt="onnx",
                                  problem="an ONNX file is the protobuf ModelProto that torch.onnx.export or skl2onnx "
                                          "writes")
        self._setup(path=path, blob=path.read_bytes(), inputs=inputs, output=output, classes=classes,
                    positive_class=positive_class, positive_label=positive_label, image_column=image_column)
        self.estimator = self._load(self._blob)
        self.kind = _onnx_kind(self._blob)
        self._probe()
        #: Drift from ``reference`` on the first data scored (see the module): None until measured or without one.
        self.drift: dict[str, float | int | None] | None = None
        self.reference: TorchScriptAdapter | None = None
        if reference is not None:
            if not reference.is_file():
                raise AuditInputError(FILE_NOT_FOUND, what="reference model file", path=reference,
                                      hint="fix model.reference in the spec")
            found = sniff(reference)
            if found != "torchscript":
                looks = "a file of no known model format" if found is None else f"a {found} file"
                raise AuditInputError(MODEL_FORMAT_MISMATCH, path=reference, fmt="onnx (model.reference)", looks=looks,
                                      fix="give the TorchScript file the ONNX model was exported from",
                                      formats=FORMATS_TEXT)
            self.reference = TorchScriptAdapter(reference, inputs=inputs, output=output, classes=self.classes,
                                                positive_class=self.positive_class, image_column=image_column)

    def attach_images(self, table: ImageTable) -> None:
        """The images of the audit's data, for this model and its reference."""
        super().attach_images(table)
        if self.reference is not None:
            self.reference.attach_images(table)

    def _load(self, blob: bytes) -> Any:
        ort = onnxruntime_module()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # deterministic, and no oversubscription beside worker processes
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        try:
            session = ort.InferenceSession(blob, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types; an input error
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format, problem=_brief(exc)) from None
        self._input_name, self._input_dtype = self._input(session)
        self._output_name = self._probability_output(session)
        return session

    def _input(self, session: Any) -> tuple[str, Any]:
        found = session.get_inputs()
        if len(found) != 1:
            names = ", ".join(i.name for i in found)
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"it has {len(found)} inputs ({names}); the audit feeds one float tensor of "
                                          "the columns in model.inputs")
        tensor = found[0]
        dtype = _ONNX_INPUT_TYPES.get(tensor.type)
        shape = list(tensor.shape or [])
        if self.image_column is not None:
            if dtype is None or len(shape) != 4:
                raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                      problem=f"its input '{tensor.name}' is {tensor.type} of shape {shape}; an image "
                                              "model takes a float tensor (images, channels, height, width)")
            return str(tensor.name), dtype
        if dtype is None or len(shape) != 2:
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"its input '{tensor.name}' is {tensor.type} of shape {shape}; the audit "
                                          "feeds a float matrix (rows x model.inputs)")
        width = shape[1]
        if isinstance(width, int) and width != len(self.input_names):
            raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format,
                                  problem=f"its input '{tensor.name}' takes {width} columns, model.inputs gives "
                                          f"{len(self.input_names)}")
        return str(tensor.name), dtype

    def _probability_output(self, session: Any) -> str:
        outputs = session.get_outputs()
        tensors = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)")
                   and len(o.shape or []) in (1, 2)
                   and (len(o.shape) == 1 or not isinstance(o.shape[1], int) or o.shape[1] in (1, 2))]
        if len(tensors) > 1:  # prefer the one that says it holds probabilities (or, for logits, logits)
            named = [o for o in tensors if ("prob" if self.output == "probabilities" else "logit") in o.name.lower()]
            tensors = named if len(named) == 1 else tensors
        if len(tensors) == 1:
            return str(tensors[0].name)
        shown = ", ".join(f"{o.name} ({o.type} {list(o.shape or [])})" for o in outputs)
        if not tensors and any(o.type.startswith("seq(map") for o in outputs):
            problem = (f"its outputs are {shown}: a ZipMap; export it with zipmap=False (skl2onnx) so that the "
                       "probabilities are a tensor")
        elif not tensors:
            problem = f"none of its outputs ({shown}) is a float tensor of one or two columns per row"
        else:
            problem = f"more than one of its outputs ({shown}) could be the {self.output}"
        raise AuditInputError(MODEL_LOAD_FAILED, path=self.path, fmt=self.format, problem=problem)

    def _matrix(self, X: pd.DataFrame, dtype: Any = None) -> np.ndarray:
        _ = self.estimator  # the input's dtype is known once the session is loaded
        return super()._matrix(X, dtype=self._input_dtype)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        session = self.estimator
        return np.asarray(session.run([self._output_name], {self._input_name: x.astype(self._input_dtype, copy=False)})[0])

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive decision (and, the first time, the drift from the reference model)."""
        score = super().predict_score(X)
        if self.reference is not None and self.drift is None:
            self.drift = self._drift(score, X)
        return score

    def measure_drift(self, X: pd.DataFrame) -> dict[str, float | int | None]:
        """Drift from the reference model on ``X`` (see :meth:`_drift`); also kept in :attr:`drift`."""
        if self.reference is None:
            raise ValueError("this ONNX model has no model.reference to measure its drift from")
        self.drift = self._drift(super().predict_score(X), X)
        return self.drift

    def _drift(self, score: np.ndarray, X: pd.DataFrame) -> dict[str, float | int | None]:
        """How far this model's scores and decisions are from the reference model's on the same rows.

        ``max_abs_score_difference``: max |p_onnx - p_reference| of the positive decision's probability;
        ``decisions_differing`` and its share of ``rows``: rows whose decision differs.
        """
        if self.reference is None:  # callers check; kept so the method stands alone
            raise ValueError("no reference model")
        reference = self.reference.predict_score(X)
        gap = np.abs(score - reference)
        differing = int(np.count_nonzero(self.decide(score) != self.reference.decide(reference)))
        rows = len(score)
        return {
            "rows": rows,
            "max_abs_score_difference": float(gap.max()) if rows else None,  # no row: nothing measured
            "mean_abs_score_difference": float(gap.mean()) if rows else None,
            "decisions_differing": differing,
            "decisions_differing_share": differing / rows if rows else None,
        }

