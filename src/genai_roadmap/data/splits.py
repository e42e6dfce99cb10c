"""Seeded random subsets and splits, stratified by label: never "the first n rows" of a file.

Files often come sorted (CIFAR-10's JPEG folders by class, a user's CSV by its target column), so the head of
an array is a skewed sample. `stratified_order` returns every index once, in an order whose every prefix has
each class in proportion to its share of the whole (to within one item per class), classes interleaved at
random. A subset of n is `order[:n]`; a hold-out split of k is `order[:k]` / `order[k:]`, and any prefix of
the rest is stratified too.
"""

from __future__ import annotations

import numpy as np


def stratified_order(y: np.ndarray | None, seed: int, n: int | None = None) -> np.ndarray:
    """A seeded random permutation of range(len(y)) (or range(n) without labels) stratified by `y`.

    Each item gets the key (its rank within its class, in a random order, + 0.5) / (size of its class):
    sorting by the key deals the classes out evenly, so any prefix is proportional to the class shares.
    """
    rng = np.random.default_rng(seed)
    if y is None:
        return rng.permutation(n)
    y = np.asarray(y)
    perm = rng.permutation(len(y))
    _, cls, counts = np.unique(y[perm], return_inverse=True, return_counts=True)
    by_class = np.argsort(cls, kind="stable")
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(y))
    rank[by_class] = np.arange(len(y)) - np.repeat(starts, counts)
    key = (rank + 0.5) / counts[cls]
    return perm[np.argsort(key, kind="stable")]


def stratified_subset(y: np.ndarray | None, n: int, seed: int, total: int | None = None) -> np.ndarray:
    """Sorted indices of a seeded random subset of n items, stratified by `y` (plain random when y is None)."""
    return np.sort(stratified_order(y, seed, total)[:n])


def stratified_split(y: np.ndarray | None, n_holdout: int, seed: int, total: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(rest, holdout) indices: a seeded stratified split with `n_holdout` items held out. `rest` keeps the
    stratified order, so `rest[:m]` is itself a stratified random subset of the remaining items."""
    order = stratified_order(y, seed, total)
    return order[n_holdout:], np.sort(order[:n_holdout])
