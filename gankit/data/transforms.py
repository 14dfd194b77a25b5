"""Pixel conversions shared by every source: uint8 <-> [-1, 1], resizing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def resize_uint8(x: Tensor, size: int) -> Tensor:
    """Resize uint8 [N, C, H, W] to [N, C, size, size] with antialiased bilinear filtering."""
    y = F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def to_float(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1] (x / 127.5 - 1)."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: Tensor) -> Tensor:
    """float [-1, 1] -> uint8, rounding as StyleGAN's tooling does: (x * 127.5 + 128) clamped."""
    return (x.detach().float() * 127.5 + 128).clamp_(0, 255).to(torch.uint8)

