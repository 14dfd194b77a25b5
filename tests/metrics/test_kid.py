"""KID: the subset estimator equals a direct O(n^2) unbiased MMD^2 formula."""

import numpy as np
import pytest

from gankit.errors import GankitError
from gankit.metrics.kid import KIDResult, kid


def _direct_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit pair loops."""
    m, d = len(x), x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / (m * m)


def test_kid_equals_direct_formula_on_full_sets():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.7
    r = kid(x, y, subsets=3, subset_size=12)
    # each subset would be a permutation of the whole set (MMD^2 does not depend on order):
    # computed once, flagged, and the zero spread is not presented as an uncertainty
    assert r.mean == pytest.approx(_direct_mmd2(x, y), rel=1e-10)
    assert r.std == pytest.approx(0.0, abs=1e-10)
    assert r.subset_size == 12 and r.subsets == 1 and r.whole_set
    assert "whole set" in r.note and "\n" not in r.note


def test_kid_subset_size_is_clamped_with_a_note():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(20, 5))
    big = kid(x, y, subsets=4, subset_size=1000, seed=1)
    assert big.subset_size == 12 and big.subsets == 4 and not big.whole_set
    assert "clamped to 12" in big.note and big.std > 0  # the larger side still varies
    assert kid(x, y, subsets=4, subset_size=12, seed=1) == KIDResult(big.mean, big.std, 4, 12, False, "")
    assert kid(x, y, subsets=4, subset_size=6).note == ""
    same = kid(x, x + 0.1, subsets=50, subset_size=1000)
    assert same.whole_set and same.subsets == 1 and "clamped to 12" in same.note


def test_kid_subset_clamp_reaches_the_eval_result(fake_extractor):
    from gankit.metrics.api import evaluate
    from gankit.metrics.sources import ArraySource

    a = ArraySource(rng_images(0, 10), name="a", batch=4)
    b = ArraySource(rng_images(1, 10), name="b", batch=4)
    res = evaluate(a, b, ("kid",), fake_extractor, use_cache=False)  # default subset size 1000 > 10 images
    assert res["kid"]["std"] is None and "whole set" in res["kid"]["note"]
    assert "1 subset x 10 (all images)" in res["kid"]["protocol"]
    res = evaluate(a, b, ("kid",), fake_extractor, use_cache=False, kid_subsets=5, kid_subset_size=5)
    assert res["kid"]["std"] > 0 and "note" not in res["kid"] and "5 subsets x 5" in res["kid"]["protocol"]


def rng_images(seed, n):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 8, 8), dtype=np.uint8)


def test_kid_subsets_are_averaged_reproducibly():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) * 1.5
    a = kid(x, y, subsets=20, subset_size=10, seed=5)
    b = kid(x, y, subsets=20, subset_size=10, seed=5)
    c = kid(x, y, subsets=20, subset_size=10, seed=6)
    assert a == b and a.mean != c.mean
    assert a.std > 0
    # reproduce the estimator by hand from the same index draws
    g = np.random.default_rng(5)
    vals = []
    for _ in range(20):
        fi, ri = g.choice(30, 10, replace=False), g.choice(25, 10, replace=False)
        vals.append(_direct_mmd2(x[fi], y[ri]))
    assert a.mean == pytest.approx(np.mean(vals), rel=1e-10)
    assert a.std == pytest.approx(np.std(vals), rel=1e-8)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same = kid(x, y, subsets=10, subset_size=200)
    shifted = kid(x, y + 1.0, subsets=10, subset_size=200)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert shifted.mean > 10 * abs(same.mean) and shifted.mean > 0.05


def test_kid_bad_shapes():
    with pytest.raises(GankitError):
        kid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(GankitError):
        kid(np.zeros((1, 3)), np.zeros((5, 3)))
