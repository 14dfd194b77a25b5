"""Restoration metrics and baselines (pure functions, per image).

Images are float [N, C, H, W] in [-1, 1]. PSNR is computed on the images as saved: both are
first quantised to uint8 (``to_uint8``), then ``10 log10(255^2 / MSE)`` per image, optionally
on the luma channel Y (ITU-R BT.601, the super-resolution convention) and with ``crop``
pixels cut from each border. SSIM is :func:`gankit.editing.scoring.ssim` (used by the
pipelines; metrics cannot import editing).

Inpainting: L1 and PSNR inside the hole only (``mask`` [N, 1, H, W] in {0, 1}); baselines:
the mean fill itself, and :func:`blur_fill` (normalised Gaussian convolution of the known
pixels: each hole pixel is the Gaussian-weighted mean of the surrounding context).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.transforms import to_uint8

_Y = (65.481, 128.553, 24.966)  # BT.601 luma from RGB in [0, 1], offset 16, range [16, 235]


def _q(x: Tensor) -> Tensor:
    return to_uint8(x).double()


def luma(x255: Tensor) -> Tensor:
    """RGB [N, 3, H, W] in [0, 255] -> Y [N, 1, H, W] in [16, 235] (gray input returned as is)."""
    if x255.shape[1] == 1:
        return x255
    w = torch.tensor(_Y, dtype=x255.dtype, device=x255.device).view(1, 3, 1, 1)
    return 16.0 + (x255 / 255.0 * w).sum(1, keepdim=True)


def psnr(a: Tensor, b: Tensor, y: bool = False, crop: int = 0) -> Tensor:
    """PSNR in dB per image [N] of uint8-quantised ``a`` vs ``b`` (identical images: inf)."""
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {list(a.shape)} and {list(b.shape)}")
    qa, qb = _q(a), _q(b)
    if y:
        qa, qb = luma(qa), luma(qb)
    if crop:
        qa, qb = qa[..., crop:-crop, crop:-crop], qb[..., crop:-crop, crop:-crop]
    mse = (qa - qb).square().flatten(1).mean(1)
    return (10 * torch.log10(255.0**2 / mse)).float()


def hole_l1(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """Mean |a - b| over the hole pixels (and channels) per image [N], in [-1, 1] units."""
    d = (a - b).abs() * mask
    return (d.flatten(1).sum(1) / (mask.flatten(1).sum(1) * a.shape[1]).clamp_min(1)).float()


def hole_psnr(a: Tensor, b: Tensor, mask: Tensor) -> Tensor:
    """PSNR in dB per image [N] over the hole pixels only (uint8-quantised, peak 255)."""
    d = (_q(a) - _q(b)).square() * mask.double()
    mse = d.flatten(1).sum(1) / (mask.double().flatten(1).sum(1) * a.shape[1]).clamp_min(1)
    return (10 * torch.log10(255.0**2 / mse)).float()


def blur_fill(x: Tensor, mask: Tensor, sigma: float) -> Tensor:
    """x with the hole (mask = 1) filled by normalised Gaussian convolution of the known pixels."""
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-t.square() / (2 * sigma**2))
    g = g / g.sum()
    c = x.shape[1]

    def blur(v: Tensor) -> Tensor:
        k = v.shape[1]
        v = F.conv2d(F.pad(v, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(k, 1, 1, -1), groups=k)
        return F.conv2d(F.pad(v, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).expand(k, 1, -1, 1), groups=k)

    known = 1 - mask
    num = blur(x * known)
    den = blur(known).clamp_min(1e-8)
    filled = num / den.expand(-1, c, -1, -1)
    return x * known + filled * mask
