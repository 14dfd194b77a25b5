"""Image-to-image translation networks: pix2pix's U-Net, CycleGAN's ResNet generator, PatchGAN.

Settings follow Isola et al. 2017 (pix2pix) and Zhu et al. 2017 (CycleGAN) and their reference
repository (junyanz/pytorch-CycleGAN-and-pix2pix); each is a constructor argument, so a
config can change it and a checkpoint rebuilds it.

* ``unet`` -- encoder-decoder with a skip connection at every level, down to 1x1 by default
  (``n_down = log2(resolution)``; 8 levels at 256 px as ``unet_256``). Channels ``width * min(2^i,
  8)``; LeakyReLU(0.2) down, ReLU up, tanh out; no norm on the outermost and innermost encoder
  convolutions. Dropout (0.5) on the ``dropout_layers`` decoder levels next to the innermost one
  is pix2pix's only noise (3 levels, as the reference at 256 px; at 64 px these are levels of
  width*8 and width*4). ``dropout_at_test`` keeps it on in eval mode (the paper's test-time noise).
* ``resnet_translator`` -- CycleGAN's generator: reflection-padded 7x7 conv, two stride-2
  convolutions, ``n_blocks`` residual blocks (9 at 256 px, 6 at 128 px), two transposed
  convolutions, 7x7 conv, tanh; instance norm without affine parameters by default.
* ``patch`` -- PatchGAN: ``n_layers`` stride-2 4x4 convolutions, one stride-1, then a 1-channel
  4x4 conv; with n_layers=3 each output logit sees a 70x70 patch. Returns the logit *map*
  ``[N, 1, h, w]`` (losses average over patches). ``pair=True`` (set by the pix2pix recipe)
  makes it judge ``cat(input, output)``: ``D(x, y)``.

Weights start as in the reference (``init_gain`` 0.02: conv weights ~ N(0, 0.02), batch-norm
scales ~ N(1, 0.02)). All generators take and return images [N, C, R, R] in [-1, 1]; kind ``image_to_image`` with
``c_dim = 0`` (``G(x, c=None, parts=False)``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min

NORMS = ("batch", "instance", "none")


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":  # the reference: no affine parameters, no running statistics
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    return nn.Identity()


def init_weights(net: nn.Module, gain: float) -> None:
    """The reference's 'normal' init: conv weights ~ N(0, gain), biases 0, batch-norm scales
    ~ N(1, gain). gain 0 keeps PyTorch's default initialisation."""
    if gain <= 0:
        return
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


@GENERATORS.register("unet")
class UNetGenerator(nn.Module):
    """pix2pix's U-Net (see the module docstring). ``n_down`` 0 = log2(resolution) levels."""

    kind = "image_to_image"

    def __init__(self, resolution: int, channels: int, width: int = 64, n_down: int = 0, max_mult: int = 8,
                 norm: str = "batch", dropout: float = 0.5, dropout_layers: int = 3, dropout_at_test: bool = False,
                 init_gain: float = 0.02):
        super().__init__()
        check_min(1, width=width, max_mult=max_mult, resolution=resolution, channels=channels)
        check_min(0, n_down=n_down, dropout_layers=dropout_layers)
        _check_norm(norm)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        n = n_down or int(round(math.log2(resolution)))
        if n < 2 or resolution % (2 ** n):
            raise ValueError(f"n_down={n} levels need a resolution divisible by 2^{n} and n_down >= 2, "
                             f"got resolution {resolution}")
        self.c_dim, self.resolution, self.channels = 0, resolution, channels
        self.p, self.dropout_at_test = dropout, dropout_at_test
        bias = norm != "batch"  # the reference: a conv followed by batch norm has no bias
        ch = [width * min(2 ** i, max_mult) for i in range(n)]
        self.downs = nn.ModuleList()
        for i in range(n):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(channels if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=bias or i in (0, n - 1)))
            if 0 < i < n - 1:
                layers.append(_norm(norm, ch[i]))
            self.downs.append(nn.Sequential(*layers))
        self.ups = nn.ModuleList()
        self.drop_levels = {i for i in range(1, n - 1) if i >= n - 1 - dropout_layers} if dropout > 0 else set()
        for i in range(n):
            cin = ch[i] if i == n - 1 else 2 * ch[i]
            if i == 0:
                self.ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, channels, 4, 2, 1), nn.Tanh()))
            else:
                self.ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=bias),
                                              _norm(norm, ch[i - 1])))
        init_weights(self, init_gain)

    def forward(self, x: Tensor, c: Tensor | None = None, parts: bool = False) -> Tensor:
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)
        n = len(self.downs)
        drop = self.training or self.dropout_at_test
        for i in range(n - 1, -1, -1):
            h = self.ups[i](h if i == n - 1 else torch.cat([skips[i], h], 1))
            if i in self.drop_levels:
                h = F.dropout(h, self.p, training=drop)
        return h


class ResnetBlock(nn.Module):
    def __init__(self, ch: int, norm: str, dropout: float, padding: str):
        super().__init__()
        pad = nn.ReflectionPad2d if padding == "reflect" else nn.ReplicationPad2d if padding == "replicate" else nn.ZeroPad2d
        bias = norm != "batch"
        layers = [pad(1), nn.Conv2d(ch, ch, 3, bias=bias), _norm(norm, ch), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [pad(1), nn.Conv2d(ch, ch, 3, bias=bias), _norm(norm, ch)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@GENERATORS.register("resnet_translator")
class ResnetTranslator(nn.Module):
    """CycleGAN's ResNet generator (see the module docstring)."""

    kind = "image_to_image"

    def __init__(self, resolution: int, channels: int, width: int = 64, n_blocks: int = 9, n_down: int = 2,
                 norm: str = "instance", dropout: float = 0.0, padding: str = "reflect", init_gain: float = 0.02):
        super().__init__()
        check_min(1, width=width, resolution=resolution, channels=channels)
        check_min(0, n_blocks=n_blocks, n_down=n_down)
        _check_norm(norm)
        if padding not in ("reflect", "replicate", "zero"):
            raise ValueError(f"padding must be reflect, replicate or zero, got {padding!r}")
        if resolution % (2 ** n_down):
            raise ValueError(f"n_down={n_down} needs a resolution divisible by {2 ** n_down}, got {resolution}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.c_dim, self.resolution, self.channels = 0, resolution, channels
        pad = nn.ReflectionPad2d if padding == "reflect" else nn.ReplicationPad2d if padding == "replicate" else nn.ZeroPad2d
        bias = norm != "batch"
        layers: list[nn.Module] = [pad(3), nn.Conv2d(channels, width, 7, bias=bias), _norm(norm, width), nn.ReLU()]
        ch = width
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1, bias=bias), _norm(norm, ch * 2), nn.ReLU()]
            ch *= 2
        layers += [ResnetBlock(ch, norm, dropout, padding) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1, bias=bias), _norm(norm, ch // 2), nn.ReLU()]
            ch //= 2
        layers += [pad(3), nn.Conv2d(ch, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init_gain)

    def forward(self, x: Tensor, c: Tensor | None = None, parts: bool = False) -> Tensor:
        return self.net(x)


@DISCRIMINATORS.register("patch")
class PatchDiscriminator(nn.Module):
    """PatchGAN (see the module docstring): logits [N, 1, h, w], one per receptive-field patch."""

    def __init__(self, resolution: int, channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch",
                 pair: bool = False, init_gain: float = 0.02):
        super().__init__()
        check_min(1, width=width, n_layers=n_layers, resolution=resolution, channels=channels)
        _check_norm(norm)
        side = resolution // 2 ** n_layers  # two stride-1 4x4 convs (padding 1) each take one pixel off
        if side < 3:
            raise ValueError(f"n_layers={n_layers} downsamples a {resolution}px image to {side}px, too small for "
                             f"the two last 4x4 convolutions; use n_layers <= {max(1, int(math.log2(max(resolution, 3) / 3)))}")
        self.pair = pair
        bias = norm != "batch"
        cin = channels * (2 if pair else 1)
        layers: list[nn.Module] = [nn.Conv2d(cin, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for i in range(1, n_layers + 1):
            out = width * min(2 ** i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(ch, out, 4, stride, 1, bias=bias), _norm(norm, out), nn.LeakyReLU(0.2)]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self, init_gain)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if self.pair:
            if y is None:
                raise ValueError("this PatchGAN judges (input, output) pairs: call D(x, y)")
            x = torch.cat([x, y], 1)
        return self.net(x)
