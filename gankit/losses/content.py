"""Content losses for attribute editing: StarGAN's cycle L1 and ACL-GAN's one-pass losses.

* :func:`cycle_l1` -- StarGAN: ``mean |x - G(G(x, c'), c)|`` (needs two generator passes).
* :func:`content_l1` -- ACL-GAN's simplified content loss: ``mean |x - G(x, c')|``, one pass.
  With a masked generator the output is ``m*s + (1-m)*x``, so this equals
  ``mean m |s - x|``: it charges only for pixels the mask lets through, i.e. it keeps the
  edit small without needing a separate mask-size weight.
* :func:`content_l1_outside_mask` -- the variant "between input and output outside the mask":
  ``mean (1 - m) |x - y|``, changes that happen where the mask says "keep". For the
  composite it equals ``mean m (1 - m) |s - x|`` and so mainly pushes the mask towards 0/1.
* :func:`mask_l1` -- optional mask-area regularizer ``mean m`` (as in GANimation-style
  attention editors); off by default because ACL-GAN's point is a single loss weight.

All inputs are float [N, C, H, W] in [-1, 1] (mask [N, 1, H, W] in [0, 1]); every loss
returns a scalar mean over all elements.
"""

from __future__ import annotations

from torch import Tensor


def _same(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {list(a.shape)} and {list(b.shape)}")


def cycle_l1(x: Tensor, x_rec: Tensor) -> Tensor:
    """StarGAN reconstruction loss ``mean |x - x_rec|`` with ``x_rec = G(G(x, c'), c)``."""
    _same(x, x_rec)
    return (x - x_rec).abs().mean()


def content_l1(x: Tensor, y: Tensor) -> Tensor:
    """Simplified content loss ``mean |x - y|`` with ``y = G(x, c')`` (one generator pass)."""
    _same(x, y)
    return (x - y).abs().mean()


def content_l1_outside_mask(x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """``mean (1 - m) |x - y|`` (mask broadcast over channels); mean over all N*C*H*W."""
    _same(x, y)
    if mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:] or mask.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"mask {list(mask.shape)} must be [N, 1 or C, H, W] for images {list(x.shape)}")
    return ((1 - mask) * (x - y).abs()).mean()


def mask_l1(mask: Tensor) -> Tensor:
    """Mask-area regularizer ``mean m`` for m in [0, 1]."""
    return mask.mean()
