"""FID: zero on identical statistics, equal to a scipy sqrtm reference, stats file round trip."""

import numpy as np
import pytest
import scipy.linalg

from gankit.errors import GankitError
from gankit.metrics.fid import feature_stats, fid_from_features, frechet_distance, load_stats, save_stats


def _scipy_fid(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _gaussians(d, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.4 + rng.normal(size=d)
    return a, b


@pytest.mark.parametrize("d,n", [(2, 50), (16, 100), (64, 300), (200, 150)])
def test_fid_matches_scipy_sqrtm(d, n):
    a, b = _gaussians(d, n, seed=d)
    m1, s1 = feature_stats(a)
    m2, s2 = feature_stats(b)
    ours = frechet_distance(m1, s1, m2, s2)
    ref = _scipy_fid(m1, s1, m2, s2)
    assert ours.value == pytest.approx(ref, rel=1e-7, abs=1e-6)
    assert ours.value > 0.1


@pytest.mark.parametrize("d,n", [(8, 40), (128, 60), (256, 1000)])
def test_fid_of_set_with_itself_is_zero(d, n):
    a, _ = _gaussians(d, n, seed=1)
    # n < d makes sigma rank deficient: the careful square root must still give 0
    assert abs(fid_from_features(a, a).value) < 1e-6


def test_fid_symmetric_and_mean_term():
    a, b = _gaussians(10, 200, seed=3)
    assert fid_from_features(a, b).value == pytest.approx(fid_from_features(b, a).value, rel=1e-9)
    # same covariance, shifted mean: FID is exactly the squared shift
    shift = np.arange(10, dtype=np.float64)
    assert fid_from_features(a, a + shift).value == pytest.approx(float(shift @ shift), rel=1e-9)


def test_negative_eigenvalues_reported():
    mu = np.zeros(3)
    s1 = np.diag([1.0, 1.0, -1e-3])  # not PSD: rounding garbage in a real covariance
    r = frechet_distance(mu, s1, mu, np.eye(3))
    assert r.neg_eig == pytest.approx(-1e-3)
    r2 = frechet_distance(mu, np.eye(3), mu, np.diag([1.0, -4e-4, 1.0]))
    assert r2.imag_residue == pytest.approx(0.02, rel=1e-6)  # sqrt(4e-4)


def test_feature_stats_float64_unbiased():
    f = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]], dtype=np.float32)
    mu, sigma = feature_stats(f)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, np.cov(f.astype(np.float64), rowvar=False))
    with pytest.raises(GankitError):
        feature_stats(f[:1])


def test_shape_mismatch_is_user_error():
    with pytest.raises(GankitError, match="shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_stats_roundtrip_and_common_layout(tmp_path):
    a, _ = _gaussians(5, 30, seed=4)
    mu, sigma = feature_stats(a)
    save_stats(tmp_path / "s.npz", mu, sigma, name="x", n=30)
    mu2, sigma2, meta = load_stats(tmp_path / "s.npz")
    np.testing.assert_array_equal(mu, mu2)
    np.testing.assert_array_equal(sigma, sigma2)
    assert meta == {"name": "x", "n": 30}
    # pytorch-fid style file: only mu and sigma (float32)
    np.savez(tmp_path / "p.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    assert load_stats(tmp_path / "p.npz")[0].dtype == np.float64
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_stats_bad_files(tmp_path):
    np.savez(tmp_path / "bad.npz", m=np.zeros(3))
    with pytest.raises(GankitError, match="'mu' and 'sigma'"):
        load_stats(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(GankitError, match="junk.npz"):
        load_stats(tmp_path / "junk.npz")
    with pytest.raises(GankitError, match="missing.npz"):
        load_stats(tmp_path / "missing.npz")
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.zeros((2, 2)))
    with pytest.raises(GankitError, match="sigma"):
        load_stats(tmp_path / "shape.npz")


def test_small_sample_subspace_path_equals_full_computation():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(6, 40)) * 2 + 1  # 5 + 6 < 40: subspace path
    full = frechet_distance(*feature_stats(a), *feature_stats(b))
    assert fid_from_features(a, b).value == pytest.approx(full.value, rel=1e-9)
    assert fid_from_features(a, b).value == pytest.approx(_scipy_fid(*feature_stats(a), *feature_stats(b)), rel=1e-6)
