"""ResNet generator/discriminator of the SNGAN kind (Miyato et al. 2018, Gulrajani et al. 2017).

G: linear z -> 4x4xC, residual up-blocks (norm-ReLU-up-conv-norm-ReLU-conv + up-shortcut),
final norm-ReLU-conv3x3-tanh. D: residual down-blocks (ReLU-conv-ReLU-conv-avgpool), ReLU,
global sum pooling, linear; projection conditioning when labelled; spectral norm by default.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.layers import (D_NORMS, G_NORMS, ClassEmbedding, MappingMLP, apply_norm, check_choice,
                              check_resolution, d_norm, g_norm, maybe_sn, projection)

RESOLUTIONS = (32, 64, 128)


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str, w_dim: int):
        super().__init__()
        self.n1, self.c1 = g_norm(norm, cin, w_dim), nn.Conv2d(cin, cout, 3, 1, 1)
        self.n2, self.c2 = g_norm(norm, cout, w_dim), nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, w: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(apply_norm(self.n1, x, w)), scale_factor=2.0, mode="nearest")
        h = self.c2(F.relu(apply_norm(self.n2, self.c1(h), w)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


@GENERATORS.register("resnet")
class ResNetGenerator(nn.Module):
    """z [N, z_dim] (+ labels) -> [N, C, R, R] in [-1, 1]; R in 32/64/128."""

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, width: int = 128,
                 norm: str = "batch", mapping_layers: int = 0, w_dim: int = 128):
        super().__init__()
        check_choice("model.generator.norm", norm, G_NORMS)
        n_up = check_resolution(resolution, RESOLUTIONS)
        check_min(1, channels=channels, z_dim=z_dim, width=width, w_dim=w_dim)
        check_min(0, n_classes=n_classes, mapping_layers=mapping_layers)
        self.z_dim, self.n_classes, self.width = z_dim, n_classes, width
        self.cond = ClassEmbedding(n_classes, z_dim) if n_classes else None
        zin = z_dim * (2 if n_classes else 1)
        self.mapping = MappingMLP(zin, w_dim, mapping_layers) if norm == "adain" else None
        wd = self.mapping.out_dim if self.mapping is not None else zin
        self.input = nn.Linear(zin, 4 * 4 * width)
        self.blocks = nn.ModuleList(UpBlock(width, width, norm, wd) for _ in range(n_up))
        self.out_norm = g_norm(norm, width, wd)
        self.out = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.cond is not None:
            z = self.cond(z, c)
        w = self.mapping(z) if self.mapping is not None else z
        h = self.input(z).view(-1, self.width, 4, 4)
        for block in self.blocks:
            h = block(h, w)
        return self.out(F.relu(apply_norm(self.out_norm, h, w))).tanh()


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str, first: bool):
        super().__init__()
        sn = norm == "spectral"
        self.first = first
        self.c1, self.c2 = maybe_sn(nn.Conv2d(cin, cout, 3, 1, 1), sn), maybe_sn(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.n1, self.n2 = d_norm(norm, cout), d_norm(norm, cout)
        self.skip = maybe_sn(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)  # no pre-activation on the image itself
        h = self.n2(self.c2(F.relu(self.n1(self.c1(h)))))
        h = F.avg_pool2d(h, 2)
        s = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + s


@DISCRIMINATORS.register("resnet")
class ResNetDiscriminator(nn.Module):
    """[N, C, R, R] -> logits [N]; projection conditioning when labelled."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 128, norm: str = "spectral"):
        super().__init__()
        check_choice("model.discriminator.norm", norm, D_NORMS)
        n_down = check_resolution(resolution, RESOLUTIONS)
        check_min(1, channels=channels, width=width)
        check_min(0, n_classes=n_classes)
        sn = norm == "spectral"
        self.blocks = nn.Sequential(*(DownBlock(channels if i == 0 else width, width, norm, i == 0) for i in range(n_down)))
        self.out = maybe_sn(nn.Linear(width, 1), sn)
        self.embed = projection(n_classes, width, sn)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = F.relu(self.blocks(x)).sum((2, 3))
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            out = out + self.embed(h, c)
        return out
