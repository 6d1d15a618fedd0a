"""Image classifiers as the image checks see them: class probabilities, the attributed score, a named layer.

Three things every image check needs from a model, for a torch module (eager, or TorchScript as
``torch.jit.load`` gives it) and, where no gradient is needed, an onnxruntime session:

- :func:`class_probabilities`: P(class) per image, (N, K), from the model's raw output. ``output`` says
  what that output is ("logits": softmax over K >= 2 columns, sigmoid of one column; "probabilities":
  read as they are). A one-column output stands for the second class: it becomes two columns
  [1 - p, p]. The decision is the most probable class (for two classes: class 1 when p > 0.5, as every
  binary adapter of the project decides).
- :func:`class_scores`: what attribution maps explain, differentiable: per class, its log-odds for
  logits (z_k - logsumexp of the other logits; for two classes the logit margin z_k - z_other, as
  :mod:`audit.explain.integrated_gradients` attributes tabular torch models) or its probability.
- :func:`layer_forward`: a module whose ``tap`` submodule (an identity) sits on the output of a named
  layer, for Grad-CAM. An eager module's layer is simply ``module.get_submodule(name)``. A TorchScript
  module does not take forward hooks (torch refuses ``register_forward_hook`` on a ScriptModule), so its
  forward graph is split at the layer instead: the graph is inlined, the layer's nodes are found by
  their module hierarchy (``Node.getModuleHierarchy()``, which TorchScript records for inlined calls),
  and two functions are compiled from it: ``prefix(x)`` = the layer's output and ``suffix(x, a)`` = the
  model's output with the layer's output replaced by ``a``. ``suffix(x, tap(prefix(x)))`` is the model,
  exactly (same operations, same parameters: the functions read the module's live parameters, so a
  randomised copy is split the same way). Refused, with the reason: a layer called more than once, a
  layer inside a loop or branch of the forward, a layer whose output is not one tensor. These use torch's
  TorchScript graph API (``torch._C``), tested against the pinned torch version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

__all__ = ["Output", "class_probabilities", "class_scores", "probabilities_fn", "is_torch_module",
           "is_scripted", "layer_forward", "parameter_layers", "BATCH_IMAGES"]

Output = Literal["logits", "probabilities"]
#: Images per forward pass where the checks batch them.
BATCH_IMAGES = 256
_HIERARCHY_PART = re.compile(r"([^.()]+)\(([^()]*)\)")
_NOT_A_MODULE = frozenset({"SELF", "UNKNOWN_INSTANCE"})


def _check_output(output: str) -> None:
    if output not in ("logits", "probabilities"):
        raise ValueError(f"output must be 'logits' or 'probabilities', not {output!r}")


def is_torch_module(model: Any) -> bool:
    """A torch module (eager or TorchScript)."""
    return isinstance(model, torch.nn.Module)


def is_scripted(module: Any) -> bool:
    """A TorchScript module (``torch.jit.script``/``trace``/``load``)."""
    return isinstance(module, torch.jit.ScriptModule)


def class_probabilities(raw: np.ndarray, *, output: Output) -> np.ndarray:
    """P(class) per image (N, K >= 2) from a model's raw output (N,), (N, 1) or (N, K), in float64."""
    _check_output(output)
    values = np.asarray(raw, dtype=np.float64)
    values = values.reshape(len(values), -1)
    if values.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-values[:, 0])) if output == "logits" else values[:, 0]
        return np.column_stack([1.0 - p, p])
    if output == "logits":
        shifted = values - values.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return np.asarray(e / e.sum(axis=1, keepdims=True))
    return values


def class_scores(out: Any, *, output: Output) -> Any:
    """Per class, the score maps attribute (torch, differentiable): log-odds for logits, probability otherwise.

    (N, K >= 2) for an output of (N,), (N, 1) or (N, K); a one-column output is class 1's: class 0 gets
    -z (logits) or 1 - p (probabilities).
    """
    _check_output(output)
    flat = out.reshape(out.shape[0], -1)
    if flat.shape[1] == 1:
        z = flat[:, :1]
        return torch.cat([-z, z], dim=1) if output == "logits" else torch.cat([1.0 - z, z], dim=1)
    if output == "probabilities":
        return flat
    k = flat.shape[1]
    eye = torch.eye(k, dtype=torch.bool, device=flat.device)
    others = flat.unsqueeze(1).masked_fill(eye.unsqueeze(0), float("-inf"))  # (N, K, K): row k without z_k
    return flat - torch.logsumexp(others, dim=2)


def probabilities_fn(model: Any, *, output: Output, batch: int = BATCH_IMAGES) -> Callable[[np.ndarray], np.ndarray]:
    """A function images (N, C, H, W) -> P(class) (N, K), for a torch module or an onnxruntime session.

    A session is fed float32 through its single input; its first output is read. Any other callable is taken
    to return the model's raw output for a float32 array.
    """
    _check_output(output)
    if is_torch_module(model):
        def raw(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return np.asarray(model(torch.from_numpy(x)).detach().cpu().numpy())
    elif hasattr(model, "get_inputs") and hasattr(model, "run"):  # onnxruntime.InferenceSession
        name = model.get_inputs()[0].name

        def raw(x: np.ndarray) -> np.ndarray:
            return np.asarray(model.run(None, {name: x})[0])
    elif callable(model):
        raw = model
    else:
        raise ValueError(f"a torch module, an onnxruntime session or a function is needed, not {type(model).__name__}")

    def probabilities(images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images, dtype=np.float32)
        parts = [class_probabilities(raw(x[start:start + batch]), output=output) for start in range(0, len(x), batch)]
        return np.concatenate(parts) if parts else np.zeros((0, 2))

    return probabilities


# ------------------------------------------------------------------------------------------------ named layers


def parameter_layers(module: Any) -> list[str]:
    """Module paths that hold parameters of their own, in the order of ``named_parameters``."""
    seen: list[str] = []
    for name, _ in module.named_parameters():
        owner = name.rpartition(".")[0]
        if owner not in seen:
            seen.append(owner)
    return seen


def _module_paths(module: Any) -> list[str]:
    return [name for name, _ in module.named_modules() if name]


def _known_layer(module: Any, layer: str) -> None:
    paths = _module_paths(module)
    if layer not in paths:
        shown = ", ".join(paths[:40]) + (", ..." if len(paths) > 40 else "")
        raise ValueError(f"the model has no layer '{layer}'; its layers: {shown}")


def layer_forward(module: Any, layer: str) -> tuple[Any, Any]:
    """(forward module, the layer module whose output Grad-CAM reads) for ``layer`` of ``module``.

    Eager: (module, module.get_submodule(layer)). TorchScript: the split described in the module docstring,
    returned as (an eager wrapper, its ``tap``).
    """
    _known_layer(module, layer)
    if not is_scripted(module):
        return module, module.get_submodule(layer)
    wrapper = _SplitAtLayer(module, layer)
    return wrapper, wrapper.tap


def _hierarchy_path(node: Any) -> str:
    """The module path of an inlined node ("features.4"), from TorchScript's recorded module hierarchy."""
    parts = _HIERARCHY_PART.findall(node.getModuleHierarchy() or "")
    return ".".join(name for name, _ in parts if name not in _NOT_A_MODULE)


def _in_layer(node: Any, layer: str) -> bool:
    path = _hierarchy_path(node)
    return path == layer or path.startswith(layer + ".")


def _walk(nodes: Any) -> list[Any]:
    """``nodes`` and every node inside their blocks (branches, loop bodies, with each block's return), depth first."""
    found = []
    for node in nodes:
        found.append(node)
        for block in node.blocks():
            found.extend(_walk(block.nodes()))
            found.append(block.returnNode())
    return found


def _aten_nodes(nodes: Any) -> int:
    """Operator nodes (aten::) among ``nodes`` and inside their blocks."""
    return sum(node.kind().startswith("aten::") for node in _walk(nodes))


def _plain(kind: Any) -> bool:
    """A number, a flag or a list of them: sizes and settings a layer's nodes may share with others (not its output)."""
    if kind.kind() == "ListType":
        return _plain(kind.getElementType())
    return kind.kind() in ("IntType", "FloatType", "BoolType", "NoneType", "StringType")


def _layer_output(graph: Any, layer: str, *, body: int) -> Any:
    """The one tensor value the layer's nodes hand to the rest of the (inlined) graph.

    ``body``: operator nodes of the layer's own inlined forward; more of them in the graph means the layer is
    called more than once (a shared module), which has no single output to read.
    """
    top = list(graph.nodes())
    inside = [n for n in top if _in_layer(n, layer)]
    nested = [inner for n in top if not _in_layer(n, layer) for inner in _walk(
        [m for block in n.blocks() for m in block.nodes()]) if _in_layer(inner, layer)]
    if nested:
        raise ValueError(f"layer '{layer}' runs inside a loop or branch of the TorchScript forward: Grad-CAM cannot "
                         "split the model there; name a layer outside it")
    if not inside:
        raise ValueError(f"layer '{layer}' is not called by the TorchScript forward (or computes nothing): name a "
                         "layer the model uses")
    if _aten_nodes(inside) > body:
        raise ValueError(f"layer '{layer}' is used more than once in the TorchScript forward; Grad-CAM needs a layer "
                         "called once with one tensor output")
    members = set(_walk(inside))
    exits = []
    for node in inside:
        for value in node.outputs():
            users = [use.user for use in value.uses()]
            if any(user not in members for user in users):
                exits.append(value)
    tensors = [v for v in exits if v.type().kind() == "TensorType"]
    others = [v for v in exits if v.type().kind() != "TensorType" and not _plain(v.type())]
    if len(tensors) != 1 or others:
        raise ValueError(f"layer '{layer}' hands {len(tensors)} tensors and {len(others)} other values to the rest of "
                         "the TorchScript forward; Grad-CAM needs a layer called once with one tensor output")
    return tensors[0]


def _inlined(module: Any) -> Any:
    """A copy of a TorchScript module's forward graph, every call inlined, constant branches folded."""
    graph = module.graph.copy()
    torch._C._jit_pass_inline(graph)
    torch._C._jit_pass_constant_propagation(graph)
    return graph


def _split_functions(module: Any, layer: str) -> tuple[Any, Any]:
    """Compile prefix(self, x) -> layer output and suffix(self, x, a) -> model output from the module's forward."""
    graph = _inlined(module)
    if len(list(graph.inputs())) != 2:
        raise ValueError("Grad-CAM on a TorchScript model needs a forward that takes one tensor (the images)")
    body = _aten_nodes(_inlined(dict(module.named_modules())[layer]).nodes())
    prefix = graph.copy()
    value = _layer_output(prefix, layer, body=body)
    while len(list(prefix.outputs())):
        prefix.eraseOutput(0)
    prefix.registerOutput(value)
    torch._C._jit_pass_dce(prefix)
    suffix = graph.copy()
    value = _layer_output(suffix, layer, body=body)
    replacement = suffix.addInput("layer_output")
    replacement.setType(value.type())
    value.replaceAllUsesWith(replacement)
    torch._C._jit_pass_dce(suffix)
    name = re.sub(r"\W", "_", layer)
    return (torch._C._create_function_from_graph(f"prefix_{name}", prefix),
            torch._C._create_function_from_graph(f"suffix_{name}", suffix))


class _SplitAtLayer(torch.nn.Module):
    """A TorchScript model as suffix(x, tap(prefix(x))): Grad-CAM's hook goes on ``tap`` (an identity)."""

    def __init__(self, module: Any, layer: str) -> None:
        super().__init__()
        self.model = module
        self.tap = torch.nn.Identity()
        self.layer = layer
        self._prefix, self._suffix = _split_functions(module, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._suffix(self.model, x, self.tap(self._prefix(self.model, x)))
