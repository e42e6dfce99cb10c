"""CART decision-tree classifier from scratch (Breiman et al. 1984), with scikit-learn's conventions.

Split search is vectorised: at each node every feature is sorted once, cumulative class counts along the
sorted order give the class counts of the left child for *every* threshold at once, and the impurity of all
candidate splits comes out of a few array operations — no Python loop over thresholds. Thresholds sit at
midpoints between consecutive distinct values, as in sklearn, so the learned trees are comparable node by node.

The fitted tree is stored like sklearn's `tree_`: flat arrays indexed by node id (preorder, left child first),
`children_left_[i] == -1` for a leaf. That layout is what `predict` walks (all samples in step) and what
`genai_roadmap.viz.tabular.draw_tree` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

LEAF = -1
_BLOCK = 1 << 20  # class counts (samples × features × classes) evaluated at once by the split search
_EPS = np.finfo(np.float64).eps


def impurity(counts: np.ndarray, criterion: str) -> np.ndarray:
    """Gini or entropy (bits) of class-count vectors along the last axis; rows of all zeros give 0."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    if criterion == "gini":
        return np.where(total[..., 0] > 0, 1.0 - np.sum(p * p, axis=-1), 0.0)
    logp = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logp, axis=-1)


@dataclass
class Split:
    feature: int
    threshold: float
    child_impurity: float  # sample-weighted mean impurity of the two children


def best_split(X: np.ndarray, y: np.ndarray, n_classes: int, criterion: str, min_samples_leaf: int = 1
               ) -> Split | None:
    """The split (feature, threshold) with the lowest weighted child impurity, or None if none is allowed.

    X [n, d] float, y [n] class codes 0..K-1. Ties go to the lowest feature index, then the lowest threshold.
    Features are searched in blocks of as many as fit in ~_BLOCK class counts at once: one sort and one
    impurity evaluation per block instead of per feature (most of a small node's time was Python overhead).
    """
    n, d = X.shape
    if n < 2:
        return None
    n_left = np.arange(1, n)  # a split after sorted position i sends i+1 samples left
    n_right = n - n_left
    leaves_ok = (n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)  # [n-1]
    total = np.bincount(y, minlength=n_classes)
    classes = np.arange(n_classes)
    block = max(1, _BLOCK // (n * n_classes))
    best: Split | None = None
    for first in range(0, d, block):
        cols = X[:, first:first + block]  # [n, b]
        order = np.argsort(cols, axis=0, kind="stable")
        xs, ys = np.take_along_axis(cols, order, axis=0), y[order]  # each column sorted by its feature
        left = np.cumsum(ys[:-1, :, None] == classes, axis=0)  # [n-1, b, K] class counts going left
        right = total - left
        child = (n_left[:, None] * impurity(left, criterion) + n_right[:, None] * impurity(right, criterion)) / n
        # A threshold must separate distinct values and leave min_samples_leaf on both sides.
        valid = (xs[1:] > xs[:-1]) & leaves_ok[:, None]  # [n-1, b]
        scores = np.where(valid, child, np.inf).T  # [b, n-1]: flat argmin = lowest feature, then threshold
        j, i = np.unravel_index(np.argmin(scores), scores.shape)
        if np.isinf(scores[j, i]) or (best is not None and not scores[j, i] < best.child_impurity):
            continue
        lo, hi = xs[i, j], xs[i + 1, j]
        threshold = lo / 2.0 + hi / 2.0
        if threshold == hi:  # rounding pushed the midpoint onto the right value (sklearn does this)
            threshold = lo
        best = Split(first + int(j), float(threshold), float(scores[j, i]))
    return best


class DecisionTreeClassifier(ClassifierMixin, BaseEstimator):
    """CART classifier: binary splits `x[feature] <= threshold` chosen greedily by gini or entropy decrease.

    A node becomes a leaf when it is pure, at max_depth, has fewer than min_samples_split samples, or has no
    split leaving min_samples_leaf samples on each side (the same stopping rules as sklearn's tree).
    A scikit-learn estimator: settings are checked in `fit` (sklearn's convention), `score` is accuracy.
    """

    def __init__(self, criterion: Literal["gini", "entropy"] = "gini", max_depth: int | None = None,
                 min_samples_split: int = 2, min_samples_leaf: int = 1) -> None:
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf

    # ---- fitting ----------------------------------------------------------------------------------------

    def fit(self, X, y) -> DecisionTreeClassifier:
        self._check_settings()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        feature, threshold, left, right, value, imp, n_samples, depth = ([] for _ in range(8))
        # Depth-first with an explicit stack (no recursion limit); pushing right before left numbers the nodes
        # in preorder with the left child first, sklearn's order.
        stack: list[tuple[np.ndarray, int, int, bool]] = [(np.arange(len(X)), 0, LEAF, True)]
        while stack:
            idx, node_depth, parent, is_left = stack.pop()
            node = len(feature)
            if parent != LEAF:
                (left if is_left else right)[parent] = node
            counts = np.bincount(codes[idx], minlength=self.n_classes_)
            node_imp = float(impurity(counts, self.criterion))
            split = None if self._is_leaf(len(idx), node_depth, node_imp) else best_split(
                X[idx], codes[idx], self.n_classes_, self.criterion, self.min_samples_leaf)
            feature.append(LEAF if split is None else split.feature)
            threshold.append(np.nan if split is None else split.threshold)
            left.append(LEAF)
            right.append(LEAF)
            value.append(counts)
            imp.append(node_imp)
            n_samples.append(len(idx))
            depth.append(node_depth)
            if split is not None:
                goes_left = X[idx, split.feature] <= split.threshold
                stack.append((idx[~goes_left], node_depth + 1, node, False))
                stack.append((idx[goes_left], node_depth + 1, node, True))
        self.feature_ = np.asarray(feature, dtype=np.int64)
        self.threshold_ = np.asarray(threshold, dtype=np.float64)
        self.children_left_ = np.asarray(left, dtype=np.int64)
        self.children_right_ = np.asarray(right, dtype=np.int64)
        self.value_ = np.asarray(value, dtype=np.float64)  # [nodes, K] training class counts
        self.impurity_ = np.asarray(imp)
        self.n_node_samples_ = np.asarray(n_samples, dtype=np.int64)
        self.node_depth_ = np.asarray(depth, dtype=np.int64)
        return self

    def _check_settings(self) -> None:
        if self.criterion not in ("gini", "entropy"):
            raise ValueError(f"criterion must be 'gini' or 'entropy', got {self.criterion!r}")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError("max_depth must be None or >= 1")
        if self.min_samples_split < 2 or self.min_samples_leaf < 1:
            raise ValueError("min_samples_split must be >= 2 and min_samples_leaf >= 1")

    def _is_leaf(self, n: int, depth: int, node_impurity: float) -> bool:
        return (node_impurity <= _EPS or n < self.min_samples_split or n < 2 * self.min_samples_leaf
                or (self.max_depth is not None and depth >= self.max_depth))

    # ---- inference --------------------------------------------------------------------------------------

    def apply(self, X) -> np.ndarray:
        """The leaf id each sample lands in: all samples walk down together, one level per step."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        node = np.zeros(len(X), dtype=np.int64)
        rows = np.arange(len(X))
        while True:
            inner = self.children_left_[node] != LEAF
            if not inner.any():
                return node
            r, nd = rows[inner], node[inner]
            go_left = X[r, self.feature_[nd]] <= self.threshold_[nd]
            node[inner] = np.where(go_left, self.children_left_[nd], self.children_right_[nd])

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        counts = self.value_[self.apply(X)]
        return counts / counts.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ---- inspection -------------------------------------------------------------------------------------

    @property
    def node_count(self) -> int:
        return len(self.feature_)

    def get_depth(self) -> int:
        return int(self.node_depth_.max())

    def get_n_leaves(self) -> int:
        return int(np.sum(self.children_left_ == LEAF))

    def to_text(self, feature_names: list[str] | None = None, decimals: int = 2) -> str:
        """The tree as indented rules, in the layout of sklearn.tree.export_text."""
        names = feature_names or [f"feature_{j}" for j in range(self.n_features_in_)]
        lines: list[str] = []

        def walk(node: int, depth: int) -> None:
            pad = "|   " * depth + "|--- "
            if self.children_left_[node] == LEAF:
                lines.append(f"{pad}class: {self.classes_[np.argmax(self.value_[node])]}")
                return
            name, thr = names[self.feature_[node]], self.threshold_[node]
            lines.append(f"{pad}{name} <= {thr:.{decimals}f}")
            walk(int(self.children_left_[node]), depth + 1)
            lines.append(f"{pad}{name} >  {thr:.{decimals}f}")
            walk(int(self.children_right_[node]), depth + 1)

        walk(0, 0)
        return "\n".join(lines) + "\n"
