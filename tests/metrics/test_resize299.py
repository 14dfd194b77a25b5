"""The two Inception resizes equal their references: NVIDIA's grid_sample and PIL's BICUBIC."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.metrics.resize import nv_bilinear_matrix, pil_bicubic_matrix, resize_to_inception


def _nvidia_grid_sample(x, size=299):
    """The resize inside NVIDIA's inception-2015-12-05.pt, written from its TorchScript code:
    affine_grid with a shift emulating TF1 resize_bilinear, border padding."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=torch.float64)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    grid = torch.nn.functional.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, size, size], align_corners=False)
    return torch.nn.functional.grid_sample(x.double(), grid, mode="bilinear", padding_mode="border", align_corners=False)


@pytest.mark.parametrize("h,w", [(28, 28), (64, 64), (20, 37), (299, 299), (512, 400)])
def test_nv_resize_equals_nvidia_grid_sample(h, w):
    x = torch.randint(0, 256, (2, 3, h, w), generator=torch.Generator().manual_seed(h + w)).float()
    ours = resize_to_inception(x, "nv").double()
    ref = _nvidia_grid_sample(x)
    assert ours.shape == (2, 3, 299, 299)
    assert (ours - ref).abs().max().item() < 2e-3  # float32 GEMM vs float64 sampling, values 0..255


def test_nv_resize_is_tf_legacy_not_half_pixel():
    m = nv_bilinear_matrix(2, 4)  # TF1: src = dst * 0.5 -> 0, 0.5, 1, 1.5 (clamped to 1)
    np.testing.assert_allclose(m, [[1, 0], [0.5, 0.5], [0, 1], [0, 1]])
    np.testing.assert_allclose(nv_bilinear_matrix(299), np.eye(299))


@pytest.mark.parametrize("n_in", [28, 64, 100, 299, 350, 1024])
def test_clean_resize_equals_pil_bicubic_float(n_in):
    rng = np.random.default_rng(n_in)
    ch = rng.integers(0, 256, size=(n_in, n_in + 3)).astype(np.float32)
    ref = np.asarray(Image.fromarray(ch, mode="F").resize((299, 299), resample=Image.BICUBIC)).clip(0, 255)
    ours = resize_to_inception(torch.from_numpy(ch)[None, None], "clean")[0, 0].numpy()
    assert np.abs(ours - ref).max() < 2e-3


def test_pil_matrix_rows_sum_to_one():
    for n_in in (28, 64, 400):
        np.testing.assert_allclose(pil_bicubic_matrix(n_in).sum(1), 1.0, atol=1e-12)


def test_unknown_resampler():
    with pytest.raises(ValueError):
        resize_to_inception(torch.zeros(1, 1, 4, 4), "lanczos")
