"""data.splits: seeded stratified subsets and splits, the replacement for "the first n rows"."""

from __future__ import annotations

import numpy as np
import pytest

from genai_roadmap.data.splits import stratified_order, stratified_split, stratified_subset


def test_every_prefix_of_the_order_is_proportional_on_class_sorted_labels():
    y = np.repeat([0, 1, 2], [600, 300, 100])  # sorted by class, unequal shares
    order = stratified_order(y, seed=3)
    assert sorted(order.tolist()) == list(range(1000))
    for n in (10, 50, 137, 500):
        counts = np.bincount(y[order[:n]], minlength=3)
        assert np.all(np.abs(counts - n * np.array([0.6, 0.3, 0.1])) <= 1), (n, counts)
    assert len(set(y[order[:10]])) == 3  # the head of a class-sorted file would be one class


def test_seeded_random_and_reproducible():
    y = np.repeat([0, 1], 50)
    assert np.array_equal(stratified_order(y, 0), stratified_order(y, 0))
    assert not np.array_equal(stratified_order(y, 0), stratified_order(y, 1))
    assert not np.array_equal(np.sort(stratified_subset(y, 20, 0)), np.sort(stratified_subset(y, 20, 1)))


def test_split_is_disjoint_and_covers_everything():
    y = np.repeat([0, 1, 2, 3], 25)
    rest, held = stratified_split(y, 20, seed=0)
    assert not set(rest) & set(held) and len(rest) + len(held) == 100
    assert np.bincount(y[held]).tolist() == [5, 5, 5, 5]
    assert np.bincount(y[rest[:40]]).tolist() == [10, 10, 10, 10]


@pytest.mark.parametrize("n", [1, 7])
def test_without_labels_it_is_a_plain_permutation(n):
    assert sorted(stratified_subset(None, n, seed=0, total=10).tolist()) == \
        sorted(set(stratified_subset(None, n, seed=0, total=10).tolist()))
    assert len(stratified_subset(None, n, seed=0, total=10)) == n
