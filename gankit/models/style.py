"""Style-based generator (StyleGAN 1 AdaIN or StyleGAN 2 modulated synthesis) and a residual
discriminator with minibatch std and projection conditioning.

Channel widths follow ``ch(r) = min(width * resolution // r, max_channels)``: ``width`` is the
channel count at the output resolution and doubles at each halving, up to ``max_channels``.
See docs/style.md for the architecture and the deviations from StyleGAN 2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn import random as rnd
from gankit.nn.style import (
    AdaINConv, EqualConv2d, EqualLinear, MappingNetwork, MinibatchStd, NoiseInjection, StyledConv, ToRGB, lrelu,
)

SYNTHESIS_KINDS = ("modulated", "adain")


def _check_resolution(resolution: int) -> int:
    """Return log2(resolution); resolutions must be powers of two >= 8."""
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 8 or 2 ** log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return log2


def _widths(resolution: int, width: int, max_channels: int) -> dict[int, int]:
    """{r: channels} for r = 4, 8, ..., resolution."""
    log2 = _check_resolution(resolution)
    check_min(1, width=width, max_channels=max_channels)
    return {2 ** k: min(width * resolution // 2 ** k, max_channels) for k in range(2, log2 + 1)}


@GENERATORS.register("style")
class StyleGenerator(nn.Module):
    """z [N, z_dim] (+ labels c) -> images [N, channels, resolution, resolution].

    ``mapping`` gives ws [N, num_ws, w_dim] (the same w repeated, truncated toward ``w_avg``);
    ``synthesis`` turns ws into images starting from a learned constant 4x4 input. Output is
    linear (no tanh), as in StyleGAN: values are about [-1, 1] once trained, not clamped.
    ``w_avg`` is an EMA (beta ``w_avg_beta``) of mapped w, updated only in train mode.
    """

    kind = "style"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, w_dim: int = 256,
                 mapping_layers: int = 8, synthesis: str = "modulated", width: int = 32, max_channels: int = 256,
                 mapping_lr_mul: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        if synthesis not in SYNTHESIS_KINDS:
            raise ValueError(f"synthesis must be one of {', '.join(SYNTHESIS_KINDS)}, got {synthesis!r}")
        check_min(1, channels=channels, z_dim=z_dim, w_dim=w_dim, mapping_layers=mapping_layers)
        check_min(0, n_classes=n_classes)
        if not mapping_lr_mul > 0:
            raise ValueError(f"mapping_lr_mul must be > 0, got {mapping_lr_mul}")
        if not 0 <= w_avg_beta <= 1:
            raise ValueError(f"w_avg_beta must be in [0, 1], got {w_avg_beta}")
        ch = _widths(resolution, width, max_channels)
        self.resolution, self.channels, self.z_dim, self.n_classes = resolution, channels, z_dim, n_classes
        self.w_dim, self.synthesis_kind, self.w_avg_beta = w_dim, synthesis, w_avg_beta
        self.mapping_net = MappingNetwork(z_dim, w_dim, mapping_layers, n_classes, mapping_lr_mul)
        self.const = nn.Parameter(torch.randn(1, ch[4], 4, 4))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        res = sorted(ch)
        if synthesis == "modulated":
            self.layers = nn.ModuleList([StyledConv(ch[4], ch[4], w_dim, 4)])
            self.torgbs = nn.ModuleList([ToRGB(ch[4], channels, w_dim)])
            for r in res[1:]:
                self.layers.append(StyledConv(ch[r // 2], ch[r], w_dim, r, up=True))
                self.layers.append(StyledConv(ch[r], ch[r], w_dim, r))
                self.torgbs.append(ToRGB(ch[r], channels, w_dim))
        else:
            self.layers = nn.ModuleList([AdaINConv(ch[4], ch[4], w_dim, 4, conv=False), AdaINConv(ch[4], ch[4], w_dim, 4)])
            for r in res[1:]:
                self.layers.append(AdaINConv(ch[r // 2], ch[r], w_dim, r, up=True))
                self.layers.append(AdaINConv(ch[r], ch[r], w_dim, r))
            self.to_rgb = EqualConv2d(ch[resolution], channels, 1)
        # Both variants use 2 ws per resolution; the modulated one shares the last with ToRGB.
        self.num_ws = 2 * len(res)

    # ----------------------------------------------------------------------------- mapping
    def mapping(self, z: Tensor, c: Tensor | None = None, truncation: float = 1.0,
                update_w_avg: bool = True) -> Tensor:
        """z [N, z_dim], c [N] long | [N, n_classes] float | None -> ws [N, num_ws, w_dim].

        In train mode (and ``update_w_avg``) w_avg <- lerp(mean_N(w), w_avg, beta) first.
        ``truncation`` psi: w' = w_avg + psi (w - w_avg); psi = 1 returns w untouched.
        """
        w = self.mapping_net(z, c if self.n_classes > 0 else None)
        if self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if truncation != 1.0:
            avg = self.w_avg.to(w.dtype)
            w = avg + truncation * (w - avg)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)

    def mix_ws(self, ws: Tensor, ws2: Tensor, prob: float, generator: torch.Generator | None = None) -> Tensor:
        """Style mixing regularization: per sample, with probability ``prob`` pick a crossover
        k uniform in [1, num_ws - 1] and use ws2 for layers >= k. ws, ws2: [N, num_ws, w_dim].

        Randomness comes only from ``generator`` (a CPU generator is fine for CUDA tensors).
        """
        n, L = ws.shape[:2]
        dev = generator.device if generator is not None else ws.device
        u = rnd.rand(n, generator=generator, device=dev).to(ws.device)
        k = rnd.randint(1, max(L, 2), (n,), generator=generator, device=dev).to(ws.device)
        k = torch.where(u < prob, k, torch.full_like(k, L))
        take2 = torch.arange(L, device=ws.device).view(1, L) >= k.view(n, 1)  # [N, L]
        return torch.where(take2.unsqueeze(-1), ws2, ws)

    # --------------------------------------------------------------------------- synthesis
    def synthesis(self, ws: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None) -> Tensor:
        """ws [N, num_ws, w_dim] -> images [N, channels, R, R] (about [-1, 1], not clamped).

        noise_mode: "random" (fresh noise, from ``generator`` if given), "const" (the layers'
        fixed ``noise_const`` buffers), "none".
        """
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        x = self.const.to(ws.dtype).expand(ws.shape[0], -1, -1, -1)
        if self.synthesis_kind == "adain":
            for i, layer in enumerate(self.layers):
                x = layer(x, ws[:, i], noise_mode, generator)
            return self.to_rgb(x)
        x = self.layers[0](x, ws[:, 0], noise_mode, generator)
        img = self.torgbs[0](x, ws[:, 1])
        for j, torgb in enumerate(self.torgbs[1:]):
            # layers (2j+1, 2j+2) use ws (2j+1, 2j+2); ToRGB uses the next one, as StyleGAN 2.
            x = self.layers[2 * j + 1](x, ws[:, 2 * j + 1], noise_mode, generator)
            x = self.layers[2 * j + 2](x, ws[:, 2 * j + 2], noise_mode, generator)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + torgb(x, ws[:, 2 * j + 3])
        return img

    def noise_buffers(self) -> list[Tensor]:
        """The fixed per-layer noise maps used by noise_mode="const" (for projection)."""
        return [m.noise_const for m in self.modules() if isinstance(m, NoiseInjection)]

    def forward(self, z: Tensor, c: Tensor | None = None, truncation: float = 1.0, noise_mode: str = "random",
                mix_prob: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """z [N, z_dim] -> images [N, C, R, R]. ``mix_prob`` > 0 enables style mixing with a
        second latent drawn from ``generator`` (w_avg is not updated from it)."""
        ws = self.mapping(z, c, truncation)
        if mix_prob > 0:
            dev = generator.device if generator is not None else z.device
            z2 = rnd.randn(*z.shape, generator=generator, device=dev).to(z.device, z.dtype)
            ws = self.mix_ws(ws, self.mapping(z2, c, truncation, update_w_avg=False), mix_prob, generator)
        return self.synthesis(ws, noise_mode, generator)


class ResBlockDown(nn.Module):
    """Residual D block: conv3x3 -> lrelu -> conv3x3 -> lrelu -> avgpool 2x, plus a 1x1
    (no bias) skip on the pooled input; sum scaled by 1/sqrt(2). [N, I, R, R] -> [N, O, R/2, R/2]."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        y = F.avg_pool2d(lrelu(self.conv1(lrelu(self.conv0(x)))), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) * (1 / math.sqrt(2))


@DISCRIMINATORS.register("style")
class StyleDiscriminator(nn.Module):
    """x [N, channels, R, R] (+ c) -> logits [N].

    fromRGB 1x1 -> residual blocks down to 4x4 -> minibatch std -> conv3x3 -> fc -> output.
    With ``n_classes > 0``: projection conditioning (Miyato & Koyama 2018),
    logit = psi(h) + <embed(c), h>, c [N] long or [N, n_classes] float.
    """

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 32,
                 max_channels: int = 256, mbstd_group: int = 4, mbstd_channels: int = 1):
        super().__init__()
        ch = _widths(resolution, width, max_channels)
        check_min(1, channels=channels, mbstd_group=mbstd_group, mbstd_channels=mbstd_channels)
        check_min(0, n_classes=n_classes)
        if ch[4] % mbstd_channels:
            raise ValueError(f"mbstd_channels={mbstd_channels} must divide the {ch[4]} channels at 4x4 "
                             f"(min(width * resolution / 4, max_channels))")
        self.resolution, self.channels, self.n_classes = resolution, channels, n_classes
        self.from_rgb = EqualConv2d(channels, ch[resolution], 1)
        self.blocks = nn.Sequential(*[ResBlockDown(ch[r], ch[r // 2]) for r in sorted(ch, reverse=True) if r > 4])
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels)
        self.conv = EqualConv2d(ch[4] + mbstd_channels, ch[4], 3)
        self.fc = EqualLinear(ch[4] * 16, ch[4], activation="lrelu")
        self.out = EqualLinear(ch[4], 1)
        self.embed = EqualLinear(n_classes, ch[4], bias=False) if n_classes > 0 else None

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        if x.dim() != 4 or x.shape[1:] != (self.channels, self.resolution, self.resolution):
            raise ValueError(f"expected images [N, {self.channels}, {self.resolution}, {self.resolution}], got {list(x.shape)}")
        h = self.blocks(lrelu(self.from_rgb(x)))
        h = lrelu(self.conv(self.mbstd(h)))
        h = self.fc(h.flatten(1))
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            if c is None:
                raise ValueError("this discriminator is conditional (n_classes > 0): pass labels c")
            code = F.one_hot(c.long(), self.n_classes) if c.dim() == 1 else c
            logit = logit + (self.embed(code.to(h.dtype)) * h).sum(1)
        return logit
