"""Layers of style-based GANs (StyleGAN 1 and 2).

* :class:`EqualLinear`, :class:`EqualConv2d`: equalized learning rate (Karras et al. 2018):
  weights are stored as N(0, 1/lr_mul^2) and scaled at run time by ``lr_mul / sqrt(fan_in)``,
  so Adam's per-parameter step is the same size for every layer whatever its fan-in.
* :class:`MappingNetwork`: z -> w MLP (8 layers, lr_mul 0.01 by default) with optional class
  embedding.
* :class:`ModulatedConv2d`: StyleGAN 2 weight modulation/demodulation as one grouped conv.
* :class:`AdaINConv`: StyleGAN 1 layer: conv, noise, activation, instance norm, style scale/bias.
* :class:`StyledConv`: StyleGAN 2 layer: modulated conv, noise, bias, activation.
* :class:`NoiseInjection`, :class:`ToRGB`, :class:`MinibatchStd`.

Activations are leaky ReLU(0.2) multiplied by sqrt(2) so that they preserve the second moment
of unit-variance inputs (StyleGAN's "gain").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nn import random as rnd

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU (slope 0.2) with gain sqrt(2): keeps E[x^2] of N(0,1) inputs near 1."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def normalize_2nd_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean(x^2)) along ``dim`` (pixel norm for latents)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate.

    x [N, in_features] -> [N, out_features]. ``bias_init`` sets the initial bias (1 for style
    affines so that modulation starts at identity); ``activation`` is None or "lrelu".
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, activation: str | None = None):
        super().__init__()
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}")
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        b = self.bias * self.lr_mul if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        return lrelu(x) if self.activation == "lrelu" else x


class EqualConv2d(nn.Module):
    """2-D convolution with equalized learning rate; 'same' padding for odd kernels.

    x [N, in_channels, H, W] -> [N, out_channels, H, W].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ c) -> w [N, w_dim].

    z is normalized to unit second moment; with ``n_classes > 0`` the label is embedded by an
    equalized linear map of its one-hot code (or of a float [N, n_classes] attribute vector),
    normalized the same way and concatenated to z. ``lr_mul`` = 0.01 slows the MLP down, as in
    StyleGAN, which keeps W stable while the synthesis network learns.
    """

    def __init__(self, z_dim: int, w_dim: int, num_layers: int = 8, n_classes: int = 0, lr_mul: float = 0.01):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping num_layers must be >= 1, got {num_layers}")
        self.z_dim, self.w_dim, self.n_classes = z_dim, w_dim, n_classes
        self.embed = EqualLinear(n_classes, w_dim) if n_classes > 0 else None
        dims = [z_dim + (w_dim if n_classes > 0 else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(*[
            EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation="lrelu") for i in range(num_layers)
        ])

    def embed_labels(self, c: Tensor) -> Tensor:
        """c: [N] long class indices or [N, n_classes] float codes -> [N, w_dim] unit 2nd moment."""
        if c.dim() == 1:
            c = F.one_hot(c.long(), self.n_classes)
        return normalize_2nd_moment(self.embed(c.to(self.embed.weight.dtype)))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            if c is None:
                raise ValueError("this mapping network is conditional (n_classes > 0): pass labels c")
            x = torch.cat([x, self.embed_labels(c)], dim=1)
        return self.layers(x)


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by one learned strength per layer (StyleGAN 2 style).

    ``noise_const`` [1, 1, R, R] is a fixed buffer used by ``noise_mode="const"``; projection
    may make it ``requires_grad`` and optimize it. The strength starts at 0, so noise only
    enters once the network learns to use it.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None) -> Tensor:
        """x [N, C, R, R]; noise_mode "random" | "const" | "none"."""
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            noise = self.noise_const
        elif noise_mode == "random":
            n, _, h, w = x.shape
            dev = generator.device if generator is not None else x.device
            noise = rnd.randn(n, 1, h, w, generator=generator, device=dev).to(x.device, x.dtype)
        else:
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        return x + noise * self.strength


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True,
                     padding: int = 0, eps: float = 1e-8, fused: bool = True) -> Tensor:
    """StyleGAN 2 convolution with a different weight for every sample.

    x [N, I, H, W]; weight [O, I, k, k] (already gain-scaled); styles [N, I].
    w'_n = weight * styles_n (per input channel); demodulated: w''_n = w'_n / ||w'_n||_{I,k,k}
    per output channel, so unit-variance inputs give unit-variance outputs (in expectation).
    ``fused``: one grouped conv with the per-sample weights; otherwise the equivalent
    conv(x * s, weight) * dcoef with the shared weight (a plain conv, faster to train on GPUs).
    Returns [N, O, H', W'].
    """
    n, i, h, w = x.shape
    o = weight.shape[0]
    if not fused:
        out = F.conv2d(x * styles.view(n, i, 1, 1), weight, padding=padding)
        if demodulate:
            # ||w'_n[o]||^2 = sum_i s_ni^2 * sum_k weight[o,i,k]^2
            dcoef = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps).rsqrt()  # [N, O]
            out = out * dcoef.view(n, o, 1, 1)
        return out
    wn = weight.unsqueeze(0) * styles.view(n, 1, i, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        wn = wn * (wn.square().sum(dim=(2, 3, 4), keepdim=True) + eps).rsqrt()
    out = F.conv2d(x.reshape(1, n * i, h, w), wn.reshape(n * o, i, *weight.shape[2:]), padding=padding, groups=n)
    return out.reshape(n, o, *out.shape[2:])


class ModulatedConv2d(nn.Module):
    """Conv whose weights are scaled per input channel by a style s = A(w) (bias-initialized to 1).

    forward(x [N, I, H, W], w [N, w_dim]) -> [N, O, H*u, W*u] with u = 2 if ``up`` else 1.
    Up-sampling is bilinear interpolation before the conv (StyleGAN 2 uses a transposed conv
    followed by a [1,3,3,1] FIR filter; see docs/style.md). ``fused`` None (default) uses the
    grouped conv in eval mode and the shared-weight form in train mode, as StyleGAN 2 does.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int,
                 demodulate: bool = True, up: bool = False, fused: bool | None = None):
        super().__init__()
        self.fused = fused
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate, self.up, self.padding = demodulate, up, kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        styles = self.affine(w)
        fused = (not self.training) if self.fused is None else self.fused
        return modulated_conv2d(x, self.weight * self.weight_gain, styles, self.demodulate, self.padding, fused=fused)


class StyledConv(nn.Module):
    """StyleGAN 2 synthesis layer: modulated conv -> noise -> bias -> lrelu*sqrt(2).

    forward(x [N, I, R/u, R/u], w [N, w_dim]) -> [N, O, R, R].
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None) -> Tensor:
        x = self.noise(self.conv(x, w), noise_mode, generator)
        return lrelu(x + self.bias.view(1, -1, 1, 1))


class AdaINConv(nn.Module):
    """StyleGAN 1 synthesis layer: [upsample] conv -> noise -> bias -> lrelu -> instance norm
    -> y_s * x + y_b with (y_s, y_b) = A(w) (scale bias-initialized to 1, shift to 0).

    With ``conv=False`` the conv is skipped (the first layer acting on the constant input).
    forward(x [N, I, R/u, R/u], w [N, w_dim]) -> [N, O, R, R].
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: bool = False, conv: bool = True):
        super().__init__()
        if not conv and in_channels != out_channels:
            raise ValueError("AdaINConv without conv needs in_channels == out_channels")
        self.conv = EqualConv2d(in_channels, out_channels, 3, bias=False) if conv else None
        self.up = up
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.style_scale = EqualLinear(w_dim, out_channels, bias_init=1.0)
        self.style_shift = EqualLinear(w_dim, out_channels, bias_init=0.0)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None) -> Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.conv is not None:
            x = self.conv(x)
        x = lrelu(self.noise(x, noise_mode, generator) + self.bias.view(1, -1, 1, 1))
        x = F.instance_norm(x, eps=1e-8)
        return x * self.style_scale(w)[:, :, None, None] + self.style_shift(w)[:, :, None, None]


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias: features [N, I, R, R] -> [N, C, R, R]."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, StyleGAN 2 grouping).

    x [N, C, H, W] -> [N, C + num_channels, H, W]. Samples are split into groups of
    G = the largest divisor of N that is <= group_size; within each group the std of every
    feature over the G samples is averaged over (C/num_channels, H, W) and appended as
    ``num_channels`` constant maps. It lets D see batch diversity, which discourages collapse.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1):
        super().__init__()
        if group_size < 1 or num_channels < 1:
            raise ValueError("MinibatchStd needs group_size >= 1 and num_channels >= 1")
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        f = self.num_channels
        if c % f:
            raise ValueError(f"MinibatchStd: {c} channels not divisible by num_channels={f}")
        y = x.reshape(g, n // g, f, c // f, h, w)  # sample n = g_idx * (n//g) + m, as StyleGAN 2
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n//g, f, c//f, h, w]
        y = y.mean(dim=(2, 3, 4))  # [n//g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # [n, f, h, w]
        return torch.cat([x, y], dim=1)
