"""Hungarian-matched clustering accuracy and the k-means baseline."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.errors import GankitError
from gankit.metrics.clustering import contingency, hungarian_accuracy, kmeans


def test_a_permuted_labelling_is_perfectly_accurate():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    perm = rng.permutation(10)
    acc, mapping = hungarian_accuracy(perm[labels], labels)
    assert acc == 1.0
    assert mapping == {int(perm[k]): k for k in range(10)}  # each cluster id mapped back to its label


def test_accuracy_counts_the_best_one_to_one_matching():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([1, 1, 0, 0, 0, 2, 2, 2])  # best: 1->0 (2), 0->1 (2), 2->2 (2)
    acc, mapping = hungarian_accuracy(pred, labels)
    assert acc == pytest.approx(6 / 8) and mapping == {0: 1, 1: 0, 2: 2}
    # one cluster for everything: only the largest class can match it
    assert hungarian_accuracy(np.zeros(8, dtype=int), labels)[0] == pytest.approx(3 / 8)
    # more clusters than labels: the unmatched cluster's samples count as errors
    assert hungarian_accuracy(np.array([0, 0, 0, 1, 1, 3, 2, 2]), labels)[0] == pytest.approx(7 / 8)
    assert contingency(pred, labels).tolist() == [[1, 2, 0], [2, 0, 0], [0, 1, 2]]


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(GankitError, match="3 predictions for 2 labels"):
        hungarian_accuracy(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(GankitError, match="non-negative integer ids"):
        hungarian_accuracy(np.array([0.5, 1.0]), np.array([0, 1]))


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 5)) * 20
    labels = np.repeat(np.arange(4), 30)
    x = centres[labels] + rng.normal(size=(120, 5))
    assert hungarian_accuracy(kmeans(x, 4, seed=0), labels)[0] == 1.0
