"""Precision/recall (k-NN manifolds) on toy distributions with known answers."""

import numpy as np
import pytest

from gankit.errors import GankitError
from gankit.metrics.pr import knn_radii, precision_recall


def _cluster(center, n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * 0.1 + np.asarray(center, dtype=np.float64)


A = _cluster((0, 0), 50, 0)
B = _cluster((100, 0), 50, 1)
C = _cluster((0, 100), 50, 2)


def test_identical_sets_are_perfect():
    r = precision_recall(A, A.copy())
    assert (r.precision, r.recall, r.k) == (1.0, 1.0, 3)


def test_mode_dropping_lowers_recall_only():
    # real covers clusters A and B; fake reproduces A only
    r = precision_recall(A, np.concatenate([A, B]))
    assert r.precision == 1.0 and r.recall == 0.5


def test_half_off_manifold_and_half_dropped():
    # fake = A (on the real manifold) + C (nowhere near it); real = A + B
    r = precision_recall(np.concatenate([A, C]), np.concatenate([A, B]))
    assert r.precision == 0.5 and r.recall == 0.5


def test_disjoint_sets_score_zero():
    r = precision_recall(C, A)
    assert r.precision == 0.0 and r.recall == 0.0


def test_knn_radius_is_kth_neighbour_excluding_self():
    x = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
    import torch

    radii = knn_radii(torch.as_tensor(x), k=2).numpy()
    # neighbours of 0: 1 (d=1), 3 (d=3) -> 2nd NN at 3, squared 9; of 6: 3 (3), 10 (4) -> 16
    np.testing.assert_allclose(radii, [9.0, 4.0, 9.0, 16.0, 49.0])


def test_too_few_samples_is_user_error():
    with pytest.raises(GankitError, match="k=3"):
        precision_recall(A[:3], A)
