"""Resizing uint8 image batches to the Inception input (299x299), as exact linear maps.

Both supported resamplers are separable linear maps, so each is a pair of matrices
``Ry [299, H]`` and ``Rx [299, W]``: ``out = Ry @ x @ Rx^T`` per channel. Matrices make the
resize a batched GEMM on any device and independent of batch size.

- ``nv``: the resize inside NVIDIA's StyleGAN TorchScript Inception (``inception-2015-12-05.pt``):
  ``affine_grid``/``grid_sample`` bilinear, border padding, with a shift that reproduces
  TensorFlow 1's legacy ``resize_bilinear`` (source coordinate ``x_in = x_out * W / 299``; no
  half-pixel offset; no antialiasing when shrinking). clean-fid calls it ``legacy_tensorflow``.
- ``clean``: PIL ``Image.resize(BICUBIC)`` on float32 channels (clean-fid's default ``clean``
  mode): cubic kernel with a = -0.5, support scaled when shrinking (antialiased), weights
  renormalised at the borders.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

INCEPTION_SIZE = 299
RESAMPLERS = ("nv", "clean")


@functools.lru_cache(maxsize=64)
def nv_bilinear_matrix(n_in: int, n_out: int = INCEPTION_SIZE) -> np.ndarray:
    """[n_out, n_in] float64 weights of TF1-legacy bilinear resampling with edge clamping."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    i0 = np.clip(np.floor(src).astype(np.int64), 0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = np.clip(src - i0, 0.0, 1.0)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1.0 - frac)
    np.add.at(m, (rows, i1), frac)
    return m


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys cubic convolution kernel (PIL uses a = -0.5)."""
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@functools.lru_cache(maxsize=64)
def pil_bicubic_matrix(n_in: int, n_out: int = INCEPTION_SIZE) -> np.ndarray:
    """[n_out, n_in] float64 weights equal to PIL's BICUBIC resample coefficients."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)  # widen the kernel when shrinking: antialiasing
    support = 2.0 * filterscale
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        taps = np.arange(xmin, xmax, dtype=np.float64)
        w = _cubic((taps - center + 0.5) / filterscale)
        total = w.sum()
        m[xx, xmin:xmax] = w / total if total != 0.0 else w
    return m


def resize_matrices(h: int, w: int, resampler: str, device, dtype=torch.float32) -> tuple[Tensor, Tensor]:
    """(Ry [299, h], Rx [299, w]) for ``resampler`` in RESAMPLERS, on ``device``."""
    if resampler == "nv":
        fn = nv_bilinear_matrix
    elif resampler == "clean":
        fn = pil_bicubic_matrix
    else:
        raise ValueError(f"unknown resampler {resampler!r}; expected one of {RESAMPLERS}")
    ry = torch.as_tensor(fn(h), dtype=dtype, device=device)
    rx = torch.as_tensor(fn(w), dtype=dtype, device=device)
    return ry, rx


def resize_to_inception(x: Tensor, resampler: str = "nv") -> Tensor:
    """Resize float images [N, C, H, W] (any range) to [N, C, 299, 299] with ``resampler``.

    Computed in float32 with TF32 disabled, so the result does not depend on the GPU's matmul
    precision setting. The ``clean`` resampler clips to [0, 255] like clean-fid does.
    """
    n, c, h, w = x.shape
    if h == INCEPTION_SIZE and w == INCEPTION_SIZE and resampler == "nv":
        return x  # the nv map is the identity at 299 (src = dst)
    ry, rx = resize_matrices(h, w, resampler, x.device)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        out = torch.matmul(torch.matmul(ry, x.float()), rx.t())
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    if resampler == "clean":
        out = out.clamp_(0.0, 255.0)
    return out

