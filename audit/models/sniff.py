"""What a model file looks like, from its first bytes or its zip members: checked before any loader runs.

A file given with the wrong ``model.format`` (a TorchScript zip as skops, an ONNX protobuf as
torchscript, a skops zip as onnx, ...) would otherwise fail deep inside a library with words
about zip members or protobuf fields. :func:`check_format` recognises the formats this tool
reads by cheap signs and, when the file is plainly another one of them, refuses it in one line
that says what it is and which ``model.format`` to set. A file it does not recognise is left to
the format's own loader, whose message says what that format expects.

The signs:

- skops: a zip archive with ``schema.json``;
- TorchScript (``torch.jit.save``): a zip archive with ``<name>/data.pkl`` and ``<name>/code/``;
- ``torch.save`` (a state_dict, or a pickled module): a zip archive with ``<name>/data.pkl`` and no ``code/``;
- ONNX: a protobuf ``ModelProto`` opening with its ``ir_version`` field (tag 0x08, a small version number)
  followed by another field of the model;
- pickle (and joblib's uncompressed files, and torch's legacy format): the protocol mark 0x80;
- XGBoost: a JSON or UBJSON object whose first key is ``learner``;
- LightGBM: a text file whose first line is ``tree``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

from audit.errors import MODEL_FORMAT_MISMATCH, AuditInputError

__all__ = ["FileKind", "sniff", "check_format", "FORMATS_TEXT"]

FileKind = Literal["skops", "torchscript", "torch", "onnx", "pickle", "xgboost", "lightgbm"]

#: Every model.format, as a message lists them.
FORMATS_TEXT = "skops, pickle, joblib, xgboost, lightgbm, torchscript, torch, onnx, none"

# What each kind of file is, in a message, and what to set for it.
_LOOKS: dict[FileKind, tuple[str, str]] = {
    "skops": ("a skops file (a zip archive with schema.json)", "set model.format: skops"),
    "torchscript": ("a TorchScript file (a zip archive with code/ and data.pkl, as torch.jit.save writes)",
                    "set model.format: torchscript (with model.inputs and model.output)"),
    "torch": ("a torch.save file (a zip archive with data.pkl and no code/: a state_dict or a pickled module)",
              "for a state_dict set model.format: torch (with model.module, model.inputs and model.output); "
              "save a whole module with torch.jit.save instead"),
    "onnx": ("an ONNX model (a protobuf ModelProto)", "set model.format: onnx (with model.inputs and model.output)"),
    "pickle": ("a pickle file", "set model.format: pickle or joblib (and model.trust: true if you trust its origin)"),
    "xgboost": ("an XGBoost model file (JSON or UBJSON with a learner)", "set model.format: xgboost"),
    "lightgbm": ("a LightGBM model file (text, first line 'tree')", "set model.format: lightgbm"),
}

# The kinds of file each format reads (torch.load also reads the legacy, pre-zip format, which is a pickle stream).
_ACCEPTS: dict[str, frozenset[str]] = {
    "skops": frozenset({"skops"}),
    "pickle": frozenset({"pickle"}),
    "joblib": frozenset({"pickle"}),
    "xgboost": frozenset({"xgboost"}),
    "lightgbm": frozenset({"lightgbm"}),
    "torchscript": frozenset({"torchscript"}),
    "torch": frozenset({"torch", "pickle"}),
    "onnx": frozenset({"onnx"}),
}

# Wire tags of the ModelProto fields that can follow ir_version (fields 2 to 8 and 14, 20, 25 as written by
# onnx: producer_name, producer_version, domain, model_version, doc_string, graph, opset_import, metadata_props,
# training_info, functions, configuration).
_ONNX_NEXT_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA})


def _zip_kind(path: Path) -> FileKind | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "schema.json" in names:
        return "skops"
    pickles = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
    if not pickles:
        return None
    root = pickles[0].split("/")[0]
    if any(n.startswith(f"{root}/code/") for n in names):
        return "torchscript"
    return "torch"


def _looks_like_onnx(head: bytes) -> bool:
    """A ModelProto starts with its ir_version (field 1, varint: 0x08 then a version from 1 to 30) and another field."""
    return len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 30 and head[2] in _ONNX_NEXT_TAGS


def sniff(path: Path) -> FileKind | None:
    """Which kind of model file ``path`` plainly is, or None when it shows none of the signs (see the module)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") and zipfile.is_zipfile(path):
        return _zip_kind(path)
    if _looks_like_onnx(head):
        return "onnx"
    if head.startswith(b"\x80") and len(head) > 1 and 2 <= head[1] <= 5:  # pickle protocol 2 to 5
        return "pickle"
    text = head.lstrip()
    if text.startswith(b"{") and b"learner" in text[:64]:
        return "xgboost"
    if text.startswith((b"tree\n", b"tree\r\n")):
        return "lightgbm"
    return None


def check_format(path: Path, fmt: str) -> FileKind | None:
    """Refuse a file that is plainly of another format than ``fmt`` (one line: what it is, what to set).

    Returns the kind found (None when the file shows no known sign; the format's loader then says what it expects).
    """
    kind = sniff(path)
    if kind is not None and fmt in _ACCEPTS and kind not in _ACCEPTS[fmt]:
        looks, fix = _LOOKS[kind]
        raise AuditInputError(MODEL_FORMAT_MISMATCH, path=path, fmt=fmt, looks=looks, fix=fix, formats=FORMATS_TEXT)
    return kind
