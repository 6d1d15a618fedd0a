"""Token attributions of a TorchScript text model: Integrated Gradients on its embedding layer (Captum).

The model (:class:`audit.models.tensor.TorchScriptAdapter` with a text column) takes the padded token ids
of each text; its tokenizer, read from the model file, names the embedding layer. Integrated Gradients
cannot run along token ids (they are not numbers that can move a little), so it runs along the embedding
layer's output (Captum's ``LayerIntegratedGradients``; a TorchScript module takes no forward hook, so it is
split at the layer by :func:`audit.image.models.layer_forward` and the hook goes on the split's tap):

- what is attributed: the model's log-odds of the positive decision (for ``model.output: logits`` the
  logit, or the difference of the two logits; for probabilities ``log p - log(1 - p)`` of the positive
  class's probability, clipped at 1e-12), as the linear text path (:mod:`audit.explain.tokens`) attributes;
- baseline: the text of padding only (every position ``pad_id``), whose embedding the path starts from;
  the positions of the text itself (and so any mask the model computes from the ids) stay the text's;
- integration: :data:`START_STEPS` Gauss-Legendre steps, doubled (up to :data:`MAX_STEPS`) for the rows
  whose completeness gap ``|sum of attributions - (f(text) - f(padding only))|`` is over the tolerance
  (:func:`audit.explain.integrated_gradients.tolerance_for`); f is computed by separate forward passes, so
  the gap is a real check (it also shows a model whose output along the path does not end at f of the
  padding-only text);
- a position's attribution is its attribution summed over the embedding dimension; a token's, for one
  text, the sum over its positions (every occurrence); pads get exactly zero (text and baseline agree
  there), and so do words beyond ``max_length`` (the model never sees them).

Tokens are the tokenizer's own (its pattern, lower case when it lowercases): the vocabulary's words, then
the words of the texts that are not in it (they share the unknown id's embedding, and each occurrence's
attribution is reported under the word itself, so deleting that word deletes what was attributed).
The result fits :class:`audit.explain.tokens.TokenAttributions`: ``rest`` is f(padding only), ``margin``
f(text), so ``additivity_error`` is the completeness gap. Texts can be edited token-wise (ERASER) when the
tokenizer is scikit-learn's default word pattern with lower case. Attention weights are not read (the
example model has no attention layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.explain import integrated_gradients as ig

if TYPE_CHECKING:
    from audit.explain.tokens import TokenAttributions

__all__ = ["START_STEPS", "MAX_STEPS", "BATCH_POINTS", "PROBABILITY_CLIP", "text_model", "log_odds",
           "text_attributions", "NOT_TEXT_MODEL"]

#: Gauss-Legendre steps of the first integration; doubled for the rows whose completeness gap is over the tolerance.
START_STEPS = 50
#: Most steps per row; a row still over the tolerance there keeps that result (its gap is reported).
MAX_STEPS = 400
#: Interpolated texts (rows x steps) per forward/backward pass: memory stays bounded.
BATCH_POINTS = 8192
#: A probability output is clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] before its log-odds are taken.
PROBABILITY_CLIP = 1e-12
NOT_TEXT_MODEL = "not a TorchScript text model with its tokenizer"


def text_model(model: Any) -> Any | None:
    """The tensor adapter of a TorchScript text model (read through a cutoff wrapper), or None."""
    inner = getattr(model, "inner", None)
    adapter = inner if inner is not None else model
    if getattr(adapter, "text_column", None) is None or getattr(adapter, "tokenizer", None) is None:
        return None
    return adapter


def log_odds(raw: Any, *, output: str, positive_index: int) -> Any:
    """The positive decision's log-odds per row (torch, differentiable) from the module's raw output."""
    import torch

    z = ig.positive_output(raw, output=output, positive_index=positive_index)
    if output == "logits":
        return z
    p = z.clamp(PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
    return torch.log(p) - torch.log1p(-p)


def _scores(module: Any, ids: np.ndarray, *, output: str, positive_index: int) -> np.ndarray:
    """f(ids): the positive decision's log-odds per row (float64), by plain forward passes in batches."""
    import torch

    parts = []
    with torch.no_grad():
        for start in range(0, len(ids), BATCH_POINTS):
            block = torch.from_numpy(np.ascontiguousarray(ids[start:start + BATCH_POINTS], dtype=np.int64))
            parts.append(log_odds(module(block), output=output, positive_index=positive_index).double().numpy())
    return np.concatenate(parts) if parts else np.zeros(0)


def text_attributions(model: Any, X: pd.DataFrame, column: str) -> TokenAttributions | str:
    """:class:`audit.explain.tokens.TokenAttributions` of ``column`` for every row of ``X``, or why there are none."""
    import torch
    from captum.attr import LayerIntegratedGradients
    from scipy import sparse

    from audit.explain.tokens import DEFAULT_PATTERN, TokenAttributions
    from audit.image.models import layer_forward

    adapter = text_model(model)
    if adapter is None or adapter.text_column != column:
        return NOT_TEXT_MODEL
    tokenizer = adapter.tokenizer
    module = adapter.estimator
    output, pos = str(adapter.output), int(adapter.positive_index)
    try:
        wrapper, layer = layer_forward(module, tokenizer.embedding)
    except ValueError as exc:
        return f"Integrated Gradients cannot hook the embedding layer '{tokenizer.embedding}': {exc}"
    texts = X[column].astype(str)
    ids = tokenizer.ids(texts)
    rows, length = ids.shape
    baseline = np.full((1, length), tokenizer.pad_id, dtype=np.int64)
    margin = _scores(module, ids, output=output, positive_index=pos)
    base = float(_scores(module, baseline, output=output, positive_index=pos)[0])
    tolerance = ig.tolerance_for("logits", float(np.abs(margin - base).max()) if rows else 1.0)

    def forward(x: Any) -> Any:
        return log_odds(wrapper(x), output=output, positive_index=pos)

    lig = LayerIntegratedGradients(forward, layer)

    def attribute(idx: np.ndarray, n_steps: int) -> np.ndarray:
        inputs = torch.from_numpy(ids[idx])
        attr = lig.attribute(inputs, baselines=torch.from_numpy(baseline).expand_as(inputs), n_steps=n_steps,
                             method="gausslegendre")
        return np.asarray(attr.detach().double().sum(dim=2).numpy())  # summed over the embedding dimension

    positions, steps, _ = ig.adaptive_attribution(attribute, shape=ids.shape, moved=margin - base,
                                                  tolerance=tolerance, start_steps=START_STEPS, max_steps=MAX_STEPS)
    found, codes = tokenizer.tokens(texts)
    known = sorted((i, t) for t, i in tokenizer.vocabulary.items())
    vocabulary = [t for _, t in known]
    index = {t: j for j, t in enumerate(vocabulary)}
    unknown = sorted({t for toks in found for t in toks if t not in index})
    index.update({t: len(vocabulary) + j for j, t in enumerate(unknown)})
    tokens = np.asarray(vocabulary + unknown, dtype=object)
    per_text = [np.fromiter((index[t] for t in toks), dtype=np.intp, count=len(toks)) for toks in found]
    lengths = np.fromiter(map(len, per_text), dtype=np.intp, count=len(per_text))[codes]
    where = np.arange(length)[None, :] < lengths[:, None]  # the positions of each row's tokens, row by row
    cols = np.concatenate([per_text[c] for c in codes]) if rows else np.zeros(0, dtype=np.intp)
    values = sparse.csr_matrix((positions[where], (np.repeat(np.arange(rows), lengths), cols)),
                               shape=(rows, len(tokens)))
    values.sum_duplicates()  # a word's occurrences, added up
    editable = tokenizer.pattern == DEFAULT_PATTERN and tokenizer.lowercase
    redone = int((steps > START_STEPS).sum())
    method = (f"by Integrated Gradients (Captum LayerIntegratedGradients, torch) on the embedding layer "
              f"'{tokenizer.embedding}' of the {adapter.format} model, of its log-odds of the positive decision; "
              f"baseline = the text of padding only (every position the padding id {tokenizer.pad_id}); "
              f"{START_STEPS} Gauss-Legendre steps, doubled up to {MAX_STEPS} until the completeness gap "
              f"|sum of attributions - (f(text) - f(padding only))| is under {tolerance:.2g} "
              f"({ig.RELATIVE_TOLERANCE:g} of the log-odds scale; {redone:,} of {rows:,} texts needed more than "
              f"{START_STEPS}); a word's attribution is its positions' attributions summed over the embedding "
              f"dimension and over its occurrences, on the tokenizer's own tokens of '{column}' "
              f"({len(vocabulary):,} vocabulary words, {len(unknown):,} other words read as unknown, at most "
              f"{tokenizer.max_length} tokens per text); the words plus f(padding only) add up to the model's "
              "output up to that gap (the additivity error)")
    notes = [f"Words beyond the first {tokenizer.max_length} tokens of a text are not read by the model and get "
             "no attribution.",
             "Words not in the vocabulary share the unknown token's embedding; each occurrence's attribution is "
             "reported under the word itself.",
             "A word's attribution depends on the other words of its text (the model is not linear in its words); "
             "attention weights are not read."]
    return TokenAttributions(column=column, tokens=tokens, values=values, rest=np.full(rows, base), margin=margin,
                             method=method, vectorizer=None, editable=bool(editable), notes=notes)
