"""Restoration losses (pure functions; images float [N, C, H, W] in [-1, 1]).

* :func:`pixel_mse` -- SRResNet's loss ``mean (sr - hr)^2``.
* :func:`feature_content` -- SRGAN's perceptual content loss ``mean (s*phi(sr) - s*phi(hr))^2``
  over the feature maps of a fixed network phi (the paper: VGG19 features rescaled by
  s = 1/12.75).
* :func:`border_weighted_l2` -- the context encoder's reconstruction loss: squared error on the
  block the generator fills, weight 1 inside the erased region and ``border_weight`` (10) on
  the overlap ring around it, ``sum(w (pred - x)^2) / (C * sum(block))`` (mean over the block's
  pixels, each image's block counted once).
"""

from __future__ import annotations

from torch import Tensor


def pixel_mse(sr: Tensor, hr: Tensor) -> Tensor:
    if sr.shape != hr.shape:
        raise ValueError(f"pixel_mse: shapes differ, {list(sr.shape)} and {list(hr.shape)}")
    return (sr - hr).square().mean()


def feature_content(f_sr: Tensor, f_hr: Tensor, scale: float = 1 / 12.75) -> Tensor:
    if f_sr.shape != f_hr.shape:
        raise ValueError(f"feature_content: shapes differ, {list(f_sr.shape)} and {list(f_hr.shape)}")
    return (scale * (f_sr - f_hr)).square().mean()


def border_weight_map(erase: Tensor, block: Tensor, border_weight: float = 10.0) -> Tensor:
    """1 on ``erase``, ``border_weight`` on ``block - erase`` (the overlap ring), 0 elsewhere."""
    return erase + border_weight * (block - erase)


def border_weighted_l2(pred: Tensor, x: Tensor, erase: Tensor, block: Tensor, border_weight: float = 10.0) -> Tensor:
    if pred.shape != x.shape:
        raise ValueError(f"border_weighted_l2: shapes differ, {list(pred.shape)} and {list(x.shape)}")
    w = border_weight_map(erase, block, border_weight)
    return (w * (pred - x).square()).sum() / (x.shape[1] * block.sum()).clamp_min(1)
