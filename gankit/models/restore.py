"""Restoration networks: SRGAN (Ledig et al. 2017) and the context encoder (Pathak et al. 2016).

* ``srresnet`` (generator, kind image_to_image): low-resolution images [N, C, r, r] in [-1, 1]
  -> images [N, C, scale*r, scale*r] in [-1, 1]. A 9x9 conv + PReLU, ``blocks`` residual blocks
  (conv-BN-PReLU-conv-BN + skip), conv-BN + a skip over all blocks, log2(scale) upsampling
  stages (conv to 4x the width, PixelShuffle x2, PReLU), a 9x9 conv and tanh. The output is
  larger than the input: the one exception to "images like x" of the image_to_image contract.
* ``srgan`` (discriminator): VGG-style, eight 3x3 convs (width, width, 2w, 2w, 4w, 4w, 8w, 8w;
  stride 2 on every second, BN after all but the first, LeakyReLU 0.2), dense ``fc`` +
  LeakyReLU, dense 1 -> logits [N]. Takes high-resolution images (resolution divisible by 16).
* ``context_encoder`` (generator, kind image_to_image): a masked image [N, C, R, R] (hole filled
  with the mean) -> a full image [N, C, R, R]; the recipe reads the hole. Encoder: 4x4 stride-2
  convs (BN and LeakyReLU 0.2 after all but the first) down to 4x4; a channel-wise fully
  connected bottleneck (each channel's 16 values mixed by its own 16x16 matrix, no mixing
  across channels, as in the paper) then a 1x1 conv to mix channels; decoder: 4x4 stride-2
  transposed convs with BN + ReLU back to R x R, tanh.
* ``context_d`` (discriminator): DCGAN-style 4x4 stride-2 convs (log2(resolution) - 2 of
  them), a 3x3 conv to one channel and a spatial mean -> logits [N]. It takes the full image
  (side ``resolution``) or any smaller patch (the hole region, side >= 2**stages).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min


def _log2(value: int, name: str) -> int:
    if value < 1 or value & (value - 1):
        raise ValueError(f"{name} must be a power of 2, got {value}")
    return int(math.log2(value))


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@GENERATORS.register("srresnet")
class SRResNet(nn.Module):
    """SRResNet / SRGAN generator. ``resolution``: the high-resolution side (the input is
    ``resolution // scale``); ``scale``: a power of 2 (4 in the paper: two x2 stages)."""

    kind = "image_to_image"

    def __init__(self, resolution: int, channels: int, width: int = 64, blocks: int = 16, scale: int = 4):
        super().__init__()
        check_min(1, resolution=resolution, channels=channels, width=width, scale=scale)
        check_min(0, blocks=blocks)
        stages = _log2(scale, "scale")
        if resolution % scale:
            raise ValueError(f"resolution {resolution} must be divisible by scale {scale}")
        self.c_dim, self.scale = 0, scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[_Residual(width) for _ in range(blocks)])
        self.mid = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        self.up = nn.Sequential(*[nn.Sequential(nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width))
                                  for _ in range(stages)])
        self.tail = nn.Conv2d(width, channels, 9, 1, 4)

    def forward(self, x: Tensor, c: Tensor | None = None, parts: bool = False) -> Tensor:
        h = self.head(x)
        h = h + self.mid(self.blocks(h))
        return torch.tanh(self.tail(self.up(h)))


@DISCRIMINATORS.register("srgan")
class SRGANDiscriminator(nn.Module):
    """VGG-style SRGAN discriminator on high-resolution images (see the module docstring)."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 64, fc: int = 1024):
        super().__init__()
        check_min(1, resolution=resolution, channels=channels, width=width, fc=fc)
        check_min(0, n_classes=n_classes)
        if n_classes:
            raise ValueError("n_classes must be 0: the SRGAN discriminator is unconditional")
        if resolution % 16:
            raise ValueError(f"resolution {resolution} must be divisible by 16 (four stride-2 convs)")
        chans = [width, width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        for i in range(1, 8):
            layers += [nn.Conv2d(chans[i - 1], chans[i], 3, 2 if i % 2 else 1, 1), nn.BatchNorm2d(chans[i]),
                       nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        side = resolution // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * width * side * side, fc), nn.LeakyReLU(0.2), nn.Linear(fc, 1))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.head(self.features(x)).squeeze(1)


class ChannelwiseFC(nn.Module):
    """Per-channel fully connected layer over the spatial positions: [N, C, H, W] -> same shape,
    out[n, c] = W_c @ in[n, c].flatten() + b_c (no information flows between channels)."""

    def __init__(self, channels: int, side: int):
        super().__init__()
        k = side * side
        self.weight = nn.Parameter(torch.randn(channels, k, k) / math.sqrt(k))
        self.bias = nn.Parameter(torch.zeros(channels, k))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        y = torch.einsum("nck,cjk->ncj", x.reshape(n, c, h * w), self.weight) + self.bias
        return y.reshape(n, c, h, w)


@GENERATORS.register("context_encoder")
class ContextEncoder(nn.Module):
    """Context-encoder generator (see the module docstring). ``resolution``: a power of 2 >= 8;
    ``width``: channels of the first conv (doubling per stage up to ``max_width``)."""

    kind = "image_to_image"

    def __init__(self, resolution: int, channels: int, width: int = 64, max_width: int = 512):
        super().__init__()
        check_min(1, resolution=resolution, channels=channels, width=width, max_width=max_width)
        n = _log2(resolution, "resolution") - 2  # stride-2 stages down to 4x4
        if n < 1:
            raise ValueError(f"resolution must be >= 8, got {resolution}")
        self.c_dim = 0
        chans = [min(width * 2 ** i, max_width) for i in range(n)]
        enc: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for a, b in zip(chans, chans[1:]):
            enc += [nn.Conv2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(ChannelwiseFC(chans[-1], 4), nn.Conv2d(chans[-1], chans[-1], 1), nn.ReLU())
        dec: list[nn.Module] = []
        for a, b in zip(chans[::-1], chans[::-1][1:]):
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.ReLU()]
        dec += [nn.ConvTranspose2d(chans[0], channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: Tensor, c: Tensor | None = None, parts: bool = False) -> Tensor:
        return self.decoder(self.bottleneck(self.encoder(x)))


@DISCRIMINATORS.register("context_d")
class ContextDiscriminator(nn.Module):
    """DCGAN-style discriminator of [N, C, H, W] images or patches -> logits [N] (the mean of a
    one-channel map, so the hole region and the full image both fit)."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 64, max_width: int = 512):
        super().__init__()
        check_min(1, resolution=resolution, channels=channels, width=width, max_width=max_width)
        check_min(0, n_classes=n_classes)
        if n_classes:
            raise ValueError("n_classes must be 0: the context-encoder discriminator is unconditional")
        n = _log2(resolution, "resolution") - 2
        if n < 1:
            raise ValueError(f"resolution must be >= 8, got {resolution}")
        chans = [min(width * 2 ** i, max_width) for i in range(n)]
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(chans[-1], 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(x).flatten(1).mean(1)
