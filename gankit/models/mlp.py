"""The original GAN's fully connected networks (Goodfellow et al. 2014), optionally conditional."""

from __future__ import annotations

from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.layers import ClassEmbedding, check_choice, maybe_sn, projection


@GENERATORS.register("mlp")
class MLPGenerator(nn.Module):
    """z [N, z_dim] (+ label) -> images [N, C, R, R] in [-1, 1] via ReLU hidden layers and tanh."""

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, width: int = 512,
                 depth: int = 3, norm: str = "batch"):
        super().__init__()
        check_choice("model.generator.norm", norm, ("none", "batch"))
        check_min(1, resolution=resolution, channels=channels, z_dim=z_dim, width=width)
        check_min(0, n_classes=n_classes, depth=depth)
        self.z_dim, self.n_classes, self.shape = z_dim, n_classes, (channels, resolution, resolution)
        self.cond = ClassEmbedding(n_classes, z_dim) if n_classes else None
        layers: list[nn.Module] = []
        d = z_dim * (2 if n_classes else 1)
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.BatchNorm1d(width) if norm == "batch" else nn.Identity(), nn.ReLU(True)]
            d = width
        layers += [nn.Linear(d, channels * resolution * resolution), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.cond is not None:
            z = self.cond(z, c)
        return self.net(z).view(-1, *self.shape)


@DISCRIMINATORS.register("mlp")
class MLPDiscriminator(nn.Module):
    """images -> logits [N] via LeakyReLU hidden layers; projection conditioning when labelled."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 512, depth: int = 3,
                 norm: str = "none", dropout: float = 0.0):
        super().__init__()
        check_choice("model.discriminator.norm", norm, ("none", "spectral"))
        check_min(1, resolution=resolution, channels=channels, width=width)
        check_min(0, n_classes=n_classes, depth=depth)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        sn = norm == "spectral"
        layers: list[nn.Module] = []
        d = channels * resolution * resolution
        for _ in range(depth):
            layers += [maybe_sn(nn.Linear(d, width), sn), nn.LeakyReLU(0.2, True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = width
        self.body = nn.Sequential(*layers)
        self.out = maybe_sn(nn.Linear(d, 1), sn)
        self.embed = projection(n_classes, d, sn)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = self.body(x.flatten(1))
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            out = out + self.embed(h, c)
        return out
