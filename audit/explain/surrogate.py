"""A small decision tree that mimics the model's decisions, with its rules in the user's vocabulary.

The tree is trained on the user's columns (categories one-hot encoded inside,
missing values as a category of their own) to reproduce the *model's*
decisions, not the true outcomes. Its fidelity is the share of held-out rows on
which it agrees with the model; rules are printed with the original column
names and the data's own labels ("checking_account is '< 0 DM' and
duration_months > 22.5 then reject").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Surrogate", "fit_surrogate"]

MISSING = "(missing)"


@dataclass
class Surrogate:
    """Fitted surrogate tree, its fidelity on held-out rows, and its rules."""

    fidelity: float
    baseline_agreement: float  # agreement of always predicting the most common decision
    depth: int
    n_train: int
    n_test: int
    rules: list[dict[str, Any]]


def _prepare(X: pd.DataFrame) -> pd.DataFrame:
    out = X.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), MISSING).astype(str)
        else:
            out[c] = out[c].astype(float)
    return out


def fit_surrogate(*, X: pd.DataFrame, decision: np.ndarray, max_depth: int, seed: int, test_size: float = 0.3,
                  positive: str = "approve", negative: str = "reject") -> Surrogate:
    """Train a depth-``max_depth`` tree on a seeded split; measure agreement with ``decision`` on the held-out part."""
    from sklearn.compose import ColumnTransformer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    data = _prepare(X)
    decision = np.asarray(decision, dtype=bool)
    categorical = [c for c in data.columns if data[c].dtype == object or pd.api.types.is_string_dtype(data[c])]
    numeric = [c for c in data.columns if c not in categorical]
    encode = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
                                ("numeric", "passthrough", numeric)])
    stratify = decision if 1 < decision.sum() < len(decision) - 1 else None
    train_idx, test_idx = train_test_split(np.arange(len(data)), test_size=test_size, random_state=seed, stratify=stratify)
    Z_train = encode.fit_transform(data.iloc[train_idx])
    leaf_size = max(1, int(0.005 * len(train_idx)))
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf_size, random_state=seed)
    tree.fit(Z_train, decision[train_idx])
    Z_all = encode.transform(data)
    agree = tree.predict(Z_all[test_idx]) == decision[test_idx]
    common = max(decision[test_idx].mean(), 1 - decision[test_idx].mean()) if len(test_idx) else float("nan")
    columns = _describe_columns(encode, categorical, numeric)
    rules = _rules(tree, columns, Z_all, decision, positive=positive, negative=negative)
    return Surrogate(fidelity=float(agree.mean()), baseline_agreement=float(common), depth=int(tree.get_depth()),
                     n_train=len(train_idx), n_test=len(test_idx), rules=rules)


def _describe_columns(encode: Any, categorical: list[str], numeric: list[str]) -> list[tuple[str, Any]]:
    """For each encoded column: (user column, category label) for one-hot columns, (user column, None) for numbers."""
    out: list[tuple[str, Any]] = []
    if categorical:
        encoder = encode.named_transformers_["categorical"]
        for column, cats in zip(categorical, encoder.categories_, strict=True):
            out += [(column, str(v)) for v in cats]
    out += [(column, None) for column in numeric]
    return out


def _rules(tree: Any, columns: list[tuple[str, Any]], Z: np.ndarray, decision: np.ndarray, *, positive: str,
           negative: str) -> list[dict[str, Any]]:
    t = tree.tree_
    leaves = tree.apply(Z)
    total_positive = max(int(decision.sum()), 1)
    out: list[dict[str, Any]] = []
    stack: list[tuple[int, list[tuple[int, bool, float]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if t.children_left[node] == -1:
            in_leaf = leaves == node
            predicted = bool(tree.classes_[int(np.argmax(t.value[node][0]))])
            n = int(in_leaf.sum())
            positives = int(decision[in_leaf].sum())
            out.append({
                "rule": f"if {_conditions(path, columns)} then {positive if predicted else negative}",
                "outcome": positive if predicted else negative,
                "rows": n,
                "support": n / len(decision) if len(decision) else None,
                "model_positive_rate": positives / n if n else None,
                "share_of_model_positives": positives / total_positive,
            })
            continue
        feature, threshold = int(t.feature[node]), float(t.threshold[node])
        stack.append((int(t.children_right[node]), [*path, (feature, True, threshold)]))
        stack.append((int(t.children_left[node]), [*path, (feature, False, threshold)]))
    out.sort(key=lambda r: -r["rows"])
    return out


def _conditions(path: list[tuple[int, bool, float]], columns: list[tuple[str, Any]]) -> str:
    """Readable conditions: one-hot splits as 'is'/'is not' a label, numeric bounds merged per column."""
    if not path:
        return "any applicant"
    equal: dict[str, str] = {}
    excluded: dict[str, list[str]] = {}
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    order: list[str] = []
    for feature, above, threshold in path:
        column, label = columns[feature]
        if column not in order:
            order.append(column)
        if label is not None:
            if above:
                equal[column] = label
            else:
                excluded.setdefault(column, []).append(label)
        elif above:
            low[column] = max(low.get(column, -np.inf), threshold)
        else:
            high[column] = min(high.get(column, np.inf), threshold)
    parts = []
    for column in order:
        if column in equal:
            parts.append(f"{column} is '{equal[column]}'")
        elif column in excluded:
            labels = " or ".join(f"'{v}'" for v in excluded[column])
            parts.append(f"{column} is not {labels}")
        if column in low and column in high:
            parts.append(f"{low[column]:g} < {column} \u2264 {high[column]:g}")
        elif column in low:
            parts.append(f"{column} > {low[column]:g}")
        elif column in high:
            parts.append(f"{column} \u2264 {high[column]:g}")
    return " and ".join(parts)
