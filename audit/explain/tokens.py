"""Token attributions for a free-text input: which words moved each decision, and whether they really did.

Exact for the shape most text classifiers in production still have: a scikit-learn Pipeline whose
ColumnTransformer turns the text column into token weights with a vectoriser (``TfidfVectorizer`` or
``CountVectorizer``: anything with ``vocabulary_`` and ``transform``), feeding a linear final step
(one row of ``coef_``; logistic regression, a linear SVM). The model's log-odds are then
``intercept + coef · z``; a token's attribution for a row is ``coef[token] × z[row, token]`` (its
tf-idf value or count), the baseline being the empty text. The tokens' attributions plus the other
columns' ``coef · z`` plus the intercept equal ``decision_function`` (checked per row: the
additivity error).

A TorchScript text model (token ids in, its tokenizer inside the file: :mod:`audit.models.tensor`) is
attributed by Integrated Gradients on its embedding layer (:mod:`audit.explain.text_ig`): same result,
in the positive decision's log-odds, the baseline being the text of padding only, exact up to the
completeness gap it reports as the additivity error. Other models are not attributed here (the reason is
stated); a model-agnostic token method is future work.

Faithfulness of the top tokens (ERASER, DeYoung et al. 2020), measured by re-predicting edited texts:

- **comprehensiveness**: how much the probability of the decision taken drops when the row's top-k
  tokens (those that pushed most towards that decision) are deleted from the text; high = the
  reasons carried the decision;
- **sufficiency**: how much it drops when only the top-k tokens are kept; low = they suffice;
- both beside the same deletions of k tokens drawn at random from the row's own tokens (seeded):
  top tokens that are no more comprehensive than random ones explain nothing.

Deleting a token deletes its every whole-word occurrence, case-insensitively, as the vectoriser's
default analyser would find it; vectorisers with n-grams or a custom analyser are attributed but not
edited (faithfulness then unmeasured, with the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TokenAttributions", "Faithfulness", "LimeAgreement", "token_attributions", "faithfulness", "top_tokens",
           "lime_agreement", "NOT_LINEAR", "DEFAULT_PATTERN"]

#: scikit-learn's default token pattern (words of two or more letters or digits).
DEFAULT_PATTERN = r"(?u)\b\w\w+\b"
NOT_LINEAR = ("token attributions are exact only for a scikit-learn Pipeline whose ColumnTransformer vectorises the "
              "text (a vectoriser with vocabulary_) into a linear final step (one row of coef_)")


@dataclass
class TokenAttributions:
    """Per-row token attributions of one text column (rows x vocabulary, sparse), in the positive decision's log-odds."""

    column: str
    tokens: np.ndarray  # vocabulary, in the vectoriser's column order (object); IG: id order, then unknown words
    values: Any  # scipy.sparse.csr_matrix, rows x tokens: coef x z, signed towards the positive decision
    rest: np.ndarray  # per row: intercept + the other columns' coef . z (same sign convention); IG: f(padding only)
    margin: np.ndarray  # the model's decision_function per row (same sign convention), computed separately
    method: str
    vectorizer: Any = None
    editable: bool = False  # the vectoriser's analyser is the default word pattern: texts can be edited token-wise
    notes: list[str] = field(default_factory=list)

    @property
    def additivity_error(self) -> np.ndarray:
        """|sum of token attributions + rest - decision_function| per row."""
        return np.abs(np.asarray(self.values.sum(axis=1)).reshape(-1) + self.rest - self.margin)


def token_attributions(model: Any, X: pd.DataFrame, column: str) -> TokenAttributions | str:
    """Exact token attributions of ``column`` for every row of ``X``, or the reason they cannot be computed.

    A TorchScript text model's are Integrated Gradients on its embedding layer (:mod:`audit.explain.text_ig`).
    """
    from audit.explain.text_ig import text_attributions, text_model

    if text_model(model) is not None:
        return text_attributions(model, X, column)
    estimator = getattr(model, "estimator", None)
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2:
        return NOT_LINEAR
    encoder, final = steps[0][1], steps[1][1]
    coef = getattr(final, "coef_", None)
    if coef is None or np.size(coef) != np.shape(coef)[-1] or not hasattr(final, "decision_function"):
        return NOT_LINEAR
    found = _vectoriser_of(encoder, column)
    if found is None:
        return NOT_LINEAR
    vectorizer, block = found
    sign = -1.0 if int(getattr(model, "positive_index", 1)) == 0 else 1.0
    w = np.asarray(coef, dtype=float).reshape(-1)
    data = X[list(model.feature_names)]
    Z = encoder.transform(data)
    others = np.setdiff1d(np.arange(len(w)), np.arange(block.start, block.stop))  # the encoder's other columns
    dense_rest = Z[:, others]
    dense_rest = dense_rest.toarray() if hasattr(dense_rest, "toarray") else np.asarray(dense_rest, dtype=float)
    rest = np.asarray(final.intercept_, dtype=float).reshape(-1)[0] + dense_rest @ w[others]
    from scipy import sparse

    text_part = sparse.csr_matrix(Z[:, block.start:block.stop], dtype=float)
    values = text_part.multiply(w[block.start:block.stop][None, :]).tocsr()
    margin = np.asarray(final.decision_function(Z), dtype=float).reshape(-1)
    tokens = np.asarray(vectorizer.get_feature_names_out(), dtype=object)
    editable = (getattr(vectorizer, "analyzer", "word") == "word" and tuple(getattr(vectorizer, "ngram_range", (1, 1)))
                == (1, 1) and getattr(vectorizer, "token_pattern", DEFAULT_PATTERN) == DEFAULT_PATTERN
                and getattr(vectorizer, "tokenizer", None) is None and getattr(vectorizer, "preprocessor", None) is None
                and getattr(vectorizer, "lowercase", True))
    weight = "tf-idf value" if hasattr(vectorizer, "idf_") else "count"
    method = (f"exact for this linear model: coefficient × {weight} of each token of '{column}' "
              f"({type(vectorizer).__name__}, {len(tokens):,} tokens), in the model's log-odds, baseline the empty "
              "text; tokens plus the other inputs plus the intercept add up to the model's output")
    return TokenAttributions(column=column, tokens=tokens, values=values * sign, rest=rest * sign, margin=margin * sign,
                             method=method, vectorizer=vectorizer, editable=editable)


def _vectoriser_of(encoder: Any, column: str) -> tuple[Any, slice] | None:
    """The fitted vectoriser of ``column`` in a ColumnTransformer, and the slice of its output columns."""
    transformers = getattr(encoder, "transformers_", None)
    indices = getattr(encoder, "output_indices_", None)
    if transformers is None or indices is None:
        return None
    for name, transformer, columns in transformers:
        named = [columns] if isinstance(columns, str) else list(columns) if isinstance(columns, list | tuple) else []
        if named == [column] and hasattr(transformer, "vocabulary_") and hasattr(transformer, "transform"):
            block = indices[name]
            return transformer, slice(block.start, block.stop)
    return None


def top_tokens(attributions: TokenAttributions, decision: np.ndarray, *, k: int) -> list[list[tuple[str, float]]]:
    """Per row, the at most ``k`` tokens that pushed most towards the decision taken (token, attribution).

    ``decision`` is True where the decision is the positive one; tokens with an attribution that rounds to
    zero (below 5e-3 in log-odds, as the tabular reasons) are no reason.
    """
    values = attributions.values
    out: list[list[tuple[str, float]]] = []
    for i in range(values.shape[0]):
        start, stop = values.indptr[i], values.indptr[i + 1]
        cols, amounts = values.indices[start:stop], values.data[start:stop]
        towards = amounts if decision[i] else -amounts
        order = np.argsort(-towards, kind="stable")[:k]
        out.append([(str(attributions.tokens[cols[j]]), float(amounts[j])) for j in order if towards[j] >= 5e-3])
    return out


@dataclass
class Faithfulness:
    """ERASER comprehensiveness and sufficiency of the top tokens, beside random tokens (means over rows)."""

    rows: int
    k: int
    comprehensiveness: float | None
    sufficiency: float | None
    random_comprehensiveness: float | None
    random_sufficiency: float | None
    missing: str | None = None


def faithfulness(*, model: Any, X: pd.DataFrame, column: str, reasons: list[list[tuple[str, float]]],
                 decision: np.ndarray, rows: np.ndarray, seed: int, k: int) -> Faithfulness:
    """Re-predict ``rows`` with their reason tokens deleted, or kept alone, and with as many random tokens deleted.

    Scores are the probability of the decision taken (``predict_score`` for a positive decision, one minus it
    for a negative one). Rows without a reason token are left out.
    """
    used = np.asarray([r for r in rows if reasons[int(r)]], dtype=int)
    if not len(used):
        return Faithfulness(0, k, None, None, None, None, missing="no sampled decision has a token reason")
    rng = np.random.default_rng([seed, 61])
    texts = X[column].iloc[used].astype(str).to_list()
    top = [[t for t, _ in reasons[int(r)]] for r in used]
    words = [sorted(set(re.findall(DEFAULT_PATTERN, t.lower()))) for t in texts]
    random = [list(rng.choice(w, size=min(len(top[i]), len(w)), replace=False)) if w else []
              for i, w in enumerate(words)]
    base = X.iloc[used]

    def probability(edited: list[str]) -> np.ndarray:
        frame = base.copy()
        frame[column] = edited
        p = np.asarray(model.predict_score(frame), dtype=float)
        return np.where(decision[used], p, 1.0 - p)

    before = probability(texts)
    deleted = probability([_delete(t, s) for t, s in zip(texts, top, strict=True)])
    kept = probability([_keep(t, s) for t, s in zip(texts, top, strict=True)])
    random_deleted = probability([_delete(t, s) for t, s in zip(texts, random, strict=True)])
    random_kept = probability([_keep(t, s) for t, s in zip(texts, random, strict=True)])
    return Faithfulness(rows=len(used), k=k, comprehensiveness=float(np.mean(before - deleted)),
                        sufficiency=float(np.mean(before - kept)),
                        random_comprehensiveness=float(np.mean(before - random_deleted)),
                        random_sufficiency=float(np.mean(before - random_kept)))


def _pattern(tokens: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)) + r")(?!\w)",
                      re.IGNORECASE)


def _delete(text: str, tokens: list[str]) -> str:
    """The text with every whole-word occurrence of ``tokens`` removed (case-insensitive)."""
    return " ".join(_pattern(tokens).sub(" ", text).split()) if tokens else text


def _keep(text: str, tokens: list[str]) -> str:
    """Only the occurrences of ``tokens`` in the text, in their order."""
    return " ".join(_pattern(tokens).findall(text)) if tokens else ""


@dataclass
class LimeAgreement:
    """LIME's text explainer beside the exact token reasons, on a seeded sample of decisions."""

    rows: int
    k: int
    num_samples: int
    agreement: float | None  # mean share of the exact top tokens that LIME also ranks in its top k
    same_first: float | None
    missing: str | None = None


def lime_agreement(*, model: Any, X: pd.DataFrame, column: str, reasons: list[list[tuple[str, float]]],
                   decision: np.ndarray, rows: np.ndarray, seed: int, k: int, num_samples: int) -> LimeAgreement:
    """LIME (``LimeTextExplainer``, bag of words, seeded) on ``rows``: do its top words match the exact ones?

    LIME explains the probability of the positive decision; its words pushing towards the decision taken are
    compared, lowercased, with the row's exact reasons (:func:`top_tokens`). Rows without an exact reason are
    left out.
    """
    import warnings

    used = [int(r) for r in rows if reasons[int(r)]]
    if not used:
        return LimeAgreement(0, k, num_samples, None, None, missing="no sampled decision has a token reason")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lime.lime_text import LimeTextExplainer

    overlaps, firsts = [], []
    for r in used:
        explainer = LimeTextExplainer(class_names=["negative", "positive"], random_state=seed + r, bow=True)
        text = str(X[column].iloc[r])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = explainer.explain_instance(text, _text_scorer(model, X.iloc[[r]], column),
                                               num_features=max(3 * k, 10), num_samples=num_samples)
        weights: dict[str, float] = {}
        for word, weight in found.as_list(label=1):
            weights[word.lower()] = weights.get(word.lower(), 0.0) + float(weight)
        towards = sorted(((w if decision[r] else -w, t) for t, w in weights.items()), reverse=True)
        lime_top = [t for strength, t in towards if strength > 0][:k]
        exact = [t for t, _ in reasons[r]]
        overlaps.append(len(set(exact) & set(lime_top)) / len(exact))
        firsts.append(bool(lime_top) and lime_top[0] == exact[0])
    return LimeAgreement(len(used), k, num_samples, float(np.mean(overlaps)), float(np.mean(firsts)))


def _text_scorer(model: Any, row: pd.DataFrame, column: str) -> Any:
    """LIME's classifier_fn for one row: its other columns kept, ``column`` replaced by each text given."""

    def probabilities(texts: list[str]) -> np.ndarray:
        frame = row.iloc[np.zeros(len(texts), dtype=np.intp)].reset_index(drop=True)  # the row, once per text
        frame[column] = texts
        p = np.asarray(model.predict_score(frame), dtype=float)
        return np.column_stack([1.0 - p, p])

    return probabilities
