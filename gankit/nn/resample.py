"""Fixed-filter interpolative 2x resampling (StyleGAN 2 / R3GAN style, no learned weights).

The 1-D filter ``taps`` (default [1, 2, 1], R3GAN's choice) is convolved with [1, 1] to an
even filter ([1, 3, 3, 1]), made 2-D by an outer product and normalised to sum 1. Upsampling
inserts zeros and filters with the kernel x4 (so a constant image stays constant: bilinear
interpolation at half-pixel centres for the default); downsampling filters and keeps every
second pixel (a low-pass before decimation, against aliasing). Edges see zero padding.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def lowpass_kernel(taps: Sequence[float] = (1, 2, 1)) -> Tensor:
    """The normalised 2-D kernel [K, K] (K = len(taps) + 1) of a 2x resampler."""
    t = torch.tensor([float(v) for v in taps], dtype=torch.float64)
    if t.dim() != 1 or len(t) < 1 or bool((t < 0).any()) or float(t.sum()) <= 0:
        raise ValueError(f"resampling filter taps must be >= 0 with a positive sum, got {list(taps)}")
    k1 = torch.cat([t, torch.zeros(1, dtype=t.dtype)]) + torch.cat([torch.zeros(1, dtype=t.dtype), t])
    k2 = torch.outer(k1, k1)
    return (k2 / k2.sum()).float()


class _Resample(nn.Module):
    def __init__(self, taps: Sequence[float], gain: float):
        super().__init__()
        k = lowpass_kernel(taps) * gain
        self.pad = len(taps) // 2
        # constant: not saved in checkpoints (rebuilt from the code)
        self.register_buffer("kernel", k.view(1, 1, *k.shape), persistent=False)

    def weight(self, x: Tensor) -> Tensor:
        """The kernel as a depthwise weight [C, 1, K, K] for x's channels and dtype (a grouped
        convolution is ~10x faster on the CPU than folding channels into the batch)."""
        return self.kernel.to(x.dtype).expand(x.shape[1], 1, -1, -1)


class Upsample2x(_Resample):
    """[N, C, H, W] -> [N, C, 2H, 2W] by zero insertion and the low-pass kernel (x4)."""

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps, 4.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight(x), stride=2, padding=self.pad, groups=x.shape[1])


class Downsample2x(_Resample):
    """[N, C, H, W] -> [N, C, H/2, W/2] by the low-pass kernel and stride 2."""

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__(taps, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight(x), stride=2, padding=self.pad, groups=x.shape[1])
