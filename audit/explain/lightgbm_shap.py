"""LightGBM's own TreeSHAP, computed once per split pattern instead of once per row.

TreeSHAP for one tree depends on a row only through which way the row goes at each
of that tree's splits. Rows are grouped by that pattern, LightGBM's native
``pred_contrib`` is asked for one representative row per pattern, one tree at a
time (``start_iteration=t, num_iteration=1``), and the result is given to every
row with the pattern. SHAP values add up over trees, so the total is LightGBM's own
result up to rounding (about 1e-14), at a fraction of the cost: on the Adult
example about 3,000 patterns per tree for 48,842 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TreeSplits", "lightgbm_trees", "lightgbm_contribs"]


@dataclass(frozen=True)
class TreeSplits:
    """The features one tree splits on, with that tree's sorted thresholds per feature (None: categorical)."""

    features: tuple[int, ...]
    thresholds: tuple[np.ndarray | None, ...]


def lightgbm_trees(booster: Any) -> list[TreeSplits] | None:
    """Split thresholds per tree, or None when the shortcut does not apply (multiclass, linear trees)."""
    dump = booster.dump_model()
    if dump.get("num_tree_per_iteration", 1) != 1 or any(t.get("tree_structure", {}).get("leaf_coeff") for t in dump["tree_info"]):
        return None
    trees = []
    for info in dump["tree_info"]:
        splits: dict[int, set[float] | None] = {}
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            f = int(node["split_feature"])
            if node.get("decision_type", "<=") != "<=":
                splits[f] = None
            elif (known := splits.setdefault(f, set())) is not None:
                known.add(float(node["threshold"]))
            stack += [node["left_child"], node["right_child"]]
        feats = tuple(sorted(splits))
        trees.append(TreeSplits(feats, tuple(None if (t := splits[f]) is None else np.array(sorted(t)) for f in feats)))
    return trees


def _value_index(Z: np.ndarray, features: set[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per used feature: its distinct values and each row's position among them (computed once per chunk)."""
    out = {}
    for f in sorted(features):
        unique, inverse = np.unique(Z[:, f], return_inverse=True)  # NaN sorts last and is kept once
        out[f] = (unique, inverse.reshape(-1))
    return out


def _pattern_key(tree: TreeSplits, index: dict[int, tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """An integer per row that is equal for two rows only if every split of ``tree`` treats them alike.

    Each used feature is coded by the interval its value falls in between the tree's
    thresholds (``x <= t`` is decided by that interval), with NaN and zero (LightGBM's
    missing-value conventions) as codes of their own; categorical features by value.
    Codes are computed on the feature's distinct values and looked up per row.
    """
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for f, thr in zip(tree.features, tree.thresholds, strict=True):
        unique, inverse = index[f]
        if thr is None:
            table = np.arange(len(unique))
            k = max(len(unique), 1)
        else:
            table = np.searchsorted(thr, unique, side="left")
            table[np.isnan(unique)] = len(thr) + 1
            table[np.abs(unique) <= 1e-35] = len(thr) + 2
            k = len(thr) + 3
        if size * k >= 2**62:  # re-number the patterns seen so far to keep the key in 64 bits
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1)
            size = int(key.max()) + 1
        key = key * k + table[inverse]
        size *= k
    return key


def lightgbm_contribs(booster: Any, Z: np.ndarray, trees: list[TreeSplits]) -> np.ndarray:
    """LightGBM's TreeSHAP, tree by tree, on one representative row per split pattern.

    TreeSHAP for one tree depends on a row only through which way it goes at each
    of that tree's splits, so rows with the same pattern get the same values. Each
    tree is evaluated natively (``pred_contrib``, ``start_iteration=t``) on one row per
    pattern and the result is given to every row with that pattern. SHAP values add
    up over trees, so the sum is exactly LightGBM's own result (up to rounding).
    """
    n, width = Z.shape
    by_column = np.zeros((width + 1, n))  # one contiguous row per column: cheap gathers and adds
    bias = 0.0
    index = _value_index(Z, {f for tree in trees for f in tree.features})
    for t, tree in enumerate(trees):
        if not tree.features:  # a single leaf: only the bias moves
            bias += booster.predict(Z[:1], pred_contrib=True, start_iteration=t, num_iteration=1, num_threads=1)[0, -1]
            continue
        _, first, inverse = np.unique(_pattern_key(tree, index, n), return_index=True, return_inverse=True)
        contrib = booster.predict(Z[first], pred_contrib=True, start_iteration=t, num_iteration=1, num_threads=1)
        inverse = inverse.reshape(-1)
        for f in tree.features:
            by_column[f] += contrib[:, f][inverse]
        bias += contrib[0, -1]  # a tree's expected value is the same for every row
    by_column[-1] = bias
    return by_column.T
