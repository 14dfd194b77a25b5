"""Normalization choices and small building blocks shared by the classic networks.

Generator norms: none | batch | instance | adain (AdaIN: instance-normalize, then a
per-channel scale and bias predicted from the latent by a learned affine map).
Discriminator norms: none | batch | instance | layer | spectral (spectral norm on every
conv/linear weight, Miyato et al. 2018).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import ConfigError

G_NORMS = ("none", "batch", "instance", "adain")
D_NORMS = ("none", "batch", "instance", "layer", "spectral")


class AdaIN(nn.Module):
    """Adaptive instance norm: IN(h) * (1 + gamma(w)) + beta(w).

    h: [N, C, H, W]; w: [N, w_dim]. The affine map starts at gamma = beta = 0 so the layer
    begins as a plain instance norm and learns its style modulation.
    """

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(w_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: Tensor, w: Tensor) -> Tensor:
        gamma, beta = self.affine(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return self.norm(h) * (1 + gamma) + beta


class MappingMLP(nn.Module):
    """z -> w through ``layers`` fully connected LeakyReLU layers (0 layers = identity)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int):
        super().__init__()
        mods: list[nn.Module] = []
        d = z_dim
        for _ in range(layers):
            mods += [nn.Linear(d, w_dim), nn.LeakyReLU(0.2)]
            d = w_dim
        self.net = nn.Sequential(*mods)
        self.out_dim = d

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def g_norm(kind: str, channels: int, w_dim: int) -> nn.Module:
    """Build a generator normalization layer; AdaIN layers take (h, w) in forward."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "adain":
        return AdaIN(channels, w_dim)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"generator norm '{kind}': expected one of {', '.join(G_NORMS)}")


def apply_norm(norm: nn.Module, h: Tensor, w: Tensor | None) -> Tensor:
    return norm(h, w) if isinstance(norm, AdaIN) else norm(h)


def d_norm(kind: str, channels: int) -> nn.Module:
    """Feature normalization after a D conv (spectral norm acts on weights instead: identity)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind in ("none", "spectral"):
        return nn.Identity()
    raise ConfigError(f"discriminator norm '{kind}': expected one of {', '.join(D_NORMS)}")


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap a conv/linear in spectral normalization when ``enabled``."""
    return spectral_norm(module) if enabled else module


def check_choice(where: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{where} '{value}': expected one of {', '.join(choices)}")


def check_resolution(resolution: int, allowed: tuple[int, ...]) -> int:
    """Return log2(resolution / 4) after checking the resolution is supported."""
    if resolution not in allowed:
        raise ConfigError(f"resolution {resolution}: this network supports {', '.join(map(str, allowed))}")
    return (resolution // 4).bit_length() - 1


class Projection(nn.Embedding):
    """Projection conditioning (Miyato & Koyama 2018): adds <embed(c), h> to D's logit.

    A subclass of ``nn.Embedding`` so spectral norm wraps its weight as usual and state-dict
    keys stay ``<name>.weight``. forward(h [N, dim], c [N] long) -> [N].
    """

    def forward(self, h: Tensor, c: Tensor | None) -> Tensor:  # type: ignore[override]
        if c is None:
            raise ValueError("this discriminator is conditional: pass class labels c [N]")
        return (super().forward(c) * h).sum(1)


def projection(n_classes: int, dim: int, sn: bool) -> Projection | None:
    """A (spectrally normalized) projection head, or None for unconditional networks."""
    return maybe_sn(Projection(n_classes, dim), sn) if n_classes else None


class ClassEmbedding(nn.Module):
    """Conditioning for generators: concatenates an embedding of the label to z."""

    def __init__(self, n_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(n_classes, dim)

    def forward(self, z: Tensor, c: Tensor | None) -> Tensor:
        if c is None:
            raise ValueError("this generator is conditional: pass class labels c [N]")
        return torch.cat([z, self.embed(c)], dim=1)
