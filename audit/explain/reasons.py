"""Principal reasons of each decision as readable text, in the user's own vocabulary.

For an adverse decision the reasons are the details that lowered the score most
(only those that lowered it; at most ``top_k``, four by default, as Regulation B
expects of an adverse-action notice); for a favourable decision, the details
that raised it most. Each reason names the user's column and the person's own
value as it appears in the data, e.g. ``checking_account: < 0 DM — lowered the
score by 0.62``. Built column by column with numpy, not row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

__all__ = ["Reasons", "principal_reasons", "value_text", "NO_NEGATIVE_FACTOR", "NO_POSITIVE_FACTOR", "NOT_EXPLAINED"]

DASH = "\u2014"
NO_NEGATIVE_FACTOR = "no single detail lowered the score; it stayed below the threshold from the model's starting point"
NO_POSITIVE_FACTOR = "no single detail raised the score; it was above the threshold from the model's starting point"
NOT_EXPLAINED = "not explained in this audit (the explainer's time budget left this decision out)"


@dataclass
class Reasons:
    """``texts[r]`` is the (r+1)-th reason of every row (None where a row has fewer); ``counts`` per row.

    ``values[r]`` is the person's value that reason names, as text (None where there is no such reason).
    """

    texts: list[np.ndarray]
    features: np.ndarray  # rows x top_k feature positions (-1 where no reason)
    counts: np.ndarray
    values: list[np.ndarray]


def value_text(X: pd.DataFrame) -> np.ndarray:
    """Every value of ``X`` as display text (rows x columns, object): labels as in the data, numbers compactly."""
    columns = []
    for c in X.columns:
        col = X[c]
        missing = col.isna().to_numpy()
        if pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col):
            text = col.astype(str).to_numpy(dtype=object)
        elif pd.api.types.is_numeric_dtype(col):
            text = np.char.mod("%g", np.nan_to_num(col.to_numpy(dtype=float))).astype(object)
        else:
            text = col.astype(object).astype(str).to_numpy(dtype=object)
        text[missing] = "missing"
        columns.append(text)
    return np.column_stack(columns) if columns else np.empty((len(X), 0), dtype=object)


def principal_reasons(*, values: np.ndarray, X: pd.DataFrame, decision: np.ndarray, top_k: int,
                      decimals: int = 2) -> Reasons:
    """The top ``top_k`` reasons per row: adverse rows get their most negative contributions, favourable rows their most positive.

    ``values`` are the contributions (rows x the columns of ``X``). Contributions that
    would round to zero at ``decimals`` are not given as reasons. A row with no
    contributions (NaN: left out by KernelSHAP's time budget) gets no reason and the
    text :data:`NOT_EXPLAINED`, never "no single detail ...".
    """
    values = np.asarray(values, dtype=float)
    decision = np.asarray(decision, dtype=bool)
    n, width = values.shape
    k = min(top_k, width)
    # Strength towards the decision taken: positive contributions for favourable rows, negative for adverse ones.
    strength = np.where(decision[:, None], values, -values)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(strength, order, axis=1)
    valid = chosen >= 0.5 * 10.0**-decimals
    names = np.array([str(c) for c in X.columns], dtype=object)
    shown = value_text(X)
    rows = np.arange(n)
    texts: list[np.ndarray] = []
    values_shown: list[np.ndarray] = []
    for r in range(k):
        f = order[:, r]
        amount = np.take_along_axis(values, f[:, None], axis=1)[:, 0]
        verb = np.where(amount > 0, " raised the score by ", " lowered the score by ").astype(object)
        number = np.char.mod(f"%.{decimals}f", np.abs(amount)).astype(object)
        text = names[f] + ": " + shown[rows, f] + f" {DASH}" + verb + number
        # numpy's stubs read where(cond, x, None) as the one-argument form (a tuple of indices); it is the
        # three-argument form, giving an object array with None where a row has no r-th reason.
        texts.append(cast(np.ndarray, np.where(valid[:, r], text, None)))
        named = shown[rows, f].astype(object)
        named[~valid[:, r]] = None
        values_shown.append(named)
    counts = valid.sum(axis=1)
    if k and n:
        unexplained = ~np.isfinite(values).all(axis=1)  # no contributions (KernelSHAP's budget): no reason is known
        none_given = (counts == 0) & ~unexplained
        texts[0] = np.where(none_given & ~decision, NO_NEGATIVE_FACTOR, texts[0])
        texts[0] = np.where(none_given & decision, NO_POSITIVE_FACTOR, texts[0])
        texts[0] = np.where(unexplained, NOT_EXPLAINED, texts[0])
    features = np.where(valid, order, -1)
    return Reasons(texts=texts, features=features, counts=counts, values=values_shown)
