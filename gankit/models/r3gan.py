"""R3GAN networks (Huang, Gokaslan, Kuleshov, Tompkin, NeurIPS 2024): a plain modern ResNet.

G: z (+ a class embedding) -> a learned 4x4 basis [W0, 4, 4] modulated per channel by a linear
map of z; then stages, each a 2x interpolative upsample (a 1x1 convolution first when the width
changes) and residual blocks; a 1x1 convolution to the image (linear output, no tanh: about
[-1, 1] once trained; gankit clamps when it makes pictures and metrics). D mirrors it: a 1x1
convolution from the image, stages of residual blocks each followed by a 2x low-pass
downsample (then a 1x1 convolution when the width changes), and the 4x4 stage ends in the
mirrored basis: a depthwise 4x4 convolution -> a linear map to one logit (or, conditional, to
an embedding whose dot product with the class embedding is the logit: projection).

A residual block: 1x1 expand (x ``expansion``) -> biased leaky ReLU -> grouped k x k conv
(``group_size`` channels per group) -> biased leaky ReLU -> 1x1 project, added to the input.
No normalization, no mapping network, no noise inputs. Initialization: variance scaling
(std = gain / sqrt(fan_in)); the two inner layers of each block get the leaky-ReLU gain x
L^(-1/4), L = the network's number of blocks, so a trained-away block adds about 1/L of the
input's variance; the last layer of every block starts at zero, so every block starts as the
identity.

Widths are given per stage from 4x4 upward (``widths``; the discriminator uses the same list
in reverse) or by ``width``: the paper's rule width, width, width, width, width/2, width/4 ...
(R3GAN: 768 for CIFAR-10 and FFHQ).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.resample import Downsample2x, Upsample2x

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0 / (1.0 + LRELU_SLOPE ** 2))  # keeps the second moment through a leaky ReLU
PAPER_WIDTH = 768  # the official presets' stage width (3/4 x 1024)


def msr_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Variance scaling: weight ~ N(0, gain^2 / fan_in) (fan_in of one output unit), bias 0."""
    w = layer.weight
    fan_in = w.shape[1] * w[0][0].numel()
    with torch.no_grad():
        if gain > 0:
            w.normal_(0.0, gain / math.sqrt(fan_in))
        else:
            w.zero_()
        if getattr(layer, "bias", None) is not None:
            layer.bias.zero_()
    return layer


def conv(cin: int, cout: int, k: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return msr_init(nn.Conv2d(cin, cout, k, 1, (k - 1) // 2, groups=groups, bias=False), gain)


class BiasedLReLU(nn.Module):
    """leaky_relu(x + b, 0.2) with a learned per-channel bias b (zero at init)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1), LRELU_SLOPE)


class ResidualBlock(nn.Module):
    """x + proj(act(grouped_conv(act(expand(x))))); ``proj`` starts at zero (identity block)."""

    def __init__(self, channels: int, expansion: int, group_size: int, kernel_size: int, n_blocks: int):
        super().__init__()
        e = channels * expansion
        groups = e // group_size if e >= group_size else 1
        gain = LRELU_GAIN * n_blocks ** (-1.0 / 4.0)  # three linear layers: L^(-1/(2*3-2))
        self.expand, self.act1 = conv(channels, e, 1, gain=gain), BiasedLReLU(e)
        self.spatial, self.act2 = conv(e, e, kernel_size, groups, gain=gain), BiasedLReLU(e)
        self.project = conv(e, channels, 1, gain=0.0)

    def branch(self, x: Tensor) -> Tensor:
        return self.project(self.act2(self.spatial(self.act1(self.expand(x)))))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.branch(x)


def stage_widths(resolution: int, width: int, widths: list[int] | None, where: str) -> list[int]:
    """Widths of the stages 4x4, 8x8, ..., resolution (checked), from ``widths`` or ``width``."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"resolution {resolution}: this network supports powers of two >= 8")
    n = resolution.bit_length() - 2  # log2(resolution) - 1 stages
    if widths is None:
        check_min(1, width=width)
        return [max(1, width >> max(0, i - 3)) for i in range(n)]
    if width != PAPER_WIDTH:
        raise ValueError(f"set either width or widths, not both ({where}.widths lists every stage; "
                         f"{where}.widths=null uses width)")
    if len(widths) != n:
        raise ValueError(f"widths needs one width per stage 4x4 .. {resolution}x{resolution} ({n}), got {len(widths)}")
    for w in widths:
        check_min(1, widths=w)
    return list(widths)


def stage_blocks(blocks: int | list[int], n: int) -> list[int]:
    out = [blocks] * n if isinstance(blocks, int) else list(blocks)
    if len(out) != n:
        raise ValueError(f"blocks needs one count per stage ({n}) or one number, got {len(out)}")
    for b in out:
        check_min(1, blocks=b)
    return out


def _check_block_args(expansion: int, group_size: int, kernel_size: int) -> None:
    check_min(1, expansion=expansion, group_size=group_size, kernel_size=kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")


def _check_groups(widths: list[int], expansion: int, group_size: int) -> None:
    for w in widths:
        e = w * expansion
        if e >= group_size and e % group_size:
            raise ValueError(f"width x expansion = {w} x {expansion} = {e} is not a multiple of group_size {group_size}")


def _blocks(width: int, count: int, expansion: int, group_size: int, kernel_size: int, total: int) -> list[nn.Module]:
    return [ResidualBlock(width, expansion, group_size, kernel_size, total) for _ in range(count)]


class GenerativeBasis(nn.Module):
    """z [N, D] -> basis [W, 4, 4] x linear(z) [N, W, 1, 1]: a learned constant modulated by z."""

    def __init__(self, in_dim: int, width: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, 4, 4))
        self.linear = msr_init(nn.Linear(in_dim, width, bias=False))

    def forward(self, z: Tensor) -> Tensor:
        return self.basis.unsqueeze(0) * self.linear(z).view(len(z), -1, 1, 1)


@GENERATORS.register("r3gan")
class R3GANGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> [N, C, R, R] (linear output, about [-1, 1]); R = 8, 16, 32 ...

    width / widths: stage widths (see the module doc); blocks: residual blocks per stage (one
    number or a list); group_size: channels per group of the k x k convolution (R3GAN: 16,
    i.e. its "cardinality" = width x expansion / 16); expansion: inner width factor (2);
    kernel_size: k (3). Conditional: a learned class embedding of z_dim is concatenated to z.
    """

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, width: int = PAPER_WIDTH,
                 widths: list[int] | None = None, blocks: int | list[int] = 2, group_size: int = 16,
                 expansion: int = 2, kernel_size: int = 3):
        super().__init__()
        check_min(1, channels=channels, z_dim=z_dim)
        check_min(0, n_classes=n_classes)
        ws = stage_widths(resolution, width, widths, "model.generator")
        bs = stage_blocks(blocks, len(ws))
        _check_block_args(expansion, group_size, kernel_size)
        _check_groups(ws, expansion, group_size)
        self.z_dim, self.n_classes, self.widths = z_dim, n_classes, ws
        self.embed = None
        if n_classes:  # a linear map of the one-hot label, variance-scaled as the official code
            self.embed = nn.Embedding(n_classes, z_dim)
            nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(n_classes))
        self.basis = GenerativeBasis(z_dim * (2 if n_classes else 1), ws[0])
        total = sum(bs)
        stages = []
        for i, (w, b) in enumerate(zip(ws, bs)):
            layers: list[nn.Module] = []
            if i > 0:
                if ws[i - 1] != w:
                    layers.append(conv(ws[i - 1], w, 1))
                layers.append(Upsample2x())
            layers += _blocks(w, b, expansion, group_size, kernel_size, total)
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.out = conv(ws[-1], channels, 1)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if c is None:
                raise ValueError("this generator is conditional: pass class labels c [N]")
            z = torch.cat([z, self.embed(c)], dim=1)
        x = self.basis(z)
        for stage in self.stages:
            x = stage(x)
        return self.out(x)


class DiscriminativeBasis(nn.Module):
    """[N, W, 4, 4] -> depthwise 4x4 convolution -> [N, W] -> linear -> [N, out_dim]."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.basis = msr_init(nn.Conv2d(width, width, 4, 1, 0, groups=width, bias=False))
        self.linear = msr_init(nn.Linear(width, out_dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.basis(x).flatten(1))


@DISCRIMINATORS.register("r3gan")
class R3GANDiscriminator(nn.Module):
    """[N, C, R, R] -> logits [N]; the generator's keys, its stages in reverse (``widths`` is
    the same list as the generator's, 4x4 first). Conditional: projection on a class
    embedding of the 4x4 stage's width."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = PAPER_WIDTH,
                 widths: list[int] | None = None, blocks: int | list[int] = 2, group_size: int = 16,
                 expansion: int = 2, kernel_size: int = 3):
        super().__init__()
        check_min(1, channels=channels)
        check_min(0, n_classes=n_classes)
        ws = stage_widths(resolution, width, widths, "model.discriminator")[::-1]  # full resolution first
        bs = stage_blocks(blocks, len(ws))[::-1]
        _check_block_args(expansion, group_size, kernel_size)
        _check_groups(ws, expansion, group_size)
        self.n_classes, self.widths = n_classes, ws
        self.input = conv(channels, ws[0], 1)
        total = sum(bs)
        stages = []
        for i, (w, b) in enumerate(zip(ws, bs)):
            layers: list[nn.Module] = _blocks(w, b, expansion, group_size, kernel_size, total)
            if i < len(ws) - 1:
                layers.append(Downsample2x())
                if ws[i + 1] != w:
                    layers.append(conv(w, ws[i + 1], 1))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.head = DiscriminativeBasis(ws[-1], ws[-1] if n_classes else 1)
        self.embed = None
        if n_classes:
            self.embed = nn.Embedding(n_classes, ws[-1])
            nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(ws[-1] * n_classes))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = self.input(x)
        for stage in self.stages:
            h = stage(h)
        h = self.head(h)
        if self.embed is None:
            return h.squeeze(1)
        if c is None:
            raise ValueError("this discriminator is conditional: pass class labels c [N]")
        return (h * self.embed(c)).sum(1)
