"""DCGAN (Radford et al. 2016): strided (transposed) convolutions, no pooling, no FC layers.

G: z -> 4x4 by a transposed conv, then x2 up-blocks (ConvT 4/2/1 + norm + ReLU) to the
resolution, last layer ConvT + tanh. D: Conv 4/2/1 + LeakyReLU(0.2) down to 4x4, then a 4x4
valid conv to one logit. BN in G and no norm on D's first layer, as the paper prescribes.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.layers import (D_NORMS, G_NORMS, ClassEmbedding, MappingMLP, apply_norm, check_choice,
                              check_resolution, d_norm, g_norm, maybe_sn, projection)

RESOLUTIONS = (32, 64, 128)


@GENERATORS.register("dcgan")
class DCGANGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> [N, C, R, R] in [-1, 1]; R in 32/64/128.

    norm='adain' replaces batch norm in every layer but the input projection (seed 002's
    variant); its styles come from z (or the label-conditioned z) through a mapping MLP of
    ``mapping_layers`` layers (0 = use z directly).
    """

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, width: int = 64,
                 norm: str = "batch", mapping_layers: int = 0, w_dim: int = 128):
        super().__init__()
        check_choice("model.generator.norm", norm, G_NORMS)
        n_up = check_resolution(resolution, RESOLUTIONS)
        check_min(1, channels=channels, z_dim=z_dim, width=width, w_dim=w_dim)
        check_min(0, n_classes=n_classes, mapping_layers=mapping_layers)
        self.z_dim, self.n_classes = z_dim, n_classes
        self.cond = ClassEmbedding(n_classes, z_dim) if n_classes else None
        zin = z_dim * (2 if n_classes else 1)
        self.mapping = MappingMLP(zin, w_dim, mapping_layers) if norm == "adain" else None
        wd = self.mapping.out_dim if self.mapping is not None else zin
        ch = width * 2 ** (n_up - 1)
        self.input = nn.ConvTranspose2d(zin, ch, 4, 1, 0, bias=False)
        self.input_norm = g_norm("batch" if norm == "adain" else norm, ch, wd)
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        for _ in range(n_up - 1):
            self.convs.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=norm == "none"))
            self.norms.append(g_norm(norm, ch // 2, wd))
            ch //= 2
        self.out = nn.ConvTranspose2d(ch, channels, 4, 2, 1)
        self.act = nn.ReLU(True)
        _dcgan_init(self)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        if self.cond is not None:
            z = self.cond(z, c)
        w = self.mapping(z) if self.mapping is not None else z
        h = self.act(apply_norm(self.input_norm, self.input(z[:, :, None, None]), w))
        for conv, norm in zip(self.convs, self.norms):
            h = self.act(apply_norm(norm, conv(h), w))
        return self.out(h).tanh()


@DISCRIMINATORS.register("dcgan")
class DCGANDiscriminator(nn.Module):
    """[N, C, R, R] -> logits [N]. With labels: projection discriminator (Miyato & Koyama 2018)."""

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 64, norm: str = "batch"):
        super().__init__()
        check_choice("model.discriminator.norm", norm, D_NORMS)
        n_down = check_resolution(resolution, RESOLUTIONS)
        check_min(1, channels=channels, width=width)
        check_min(0, n_classes=n_classes)
        sn = norm == "spectral"
        layers: list[nn.Module] = [maybe_sn(nn.Conv2d(channels, width, 4, 2, 1), sn), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n_down - 1):
            layers += [maybe_sn(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm in ("none", "spectral")), sn), d_norm(norm, ch * 2),
                       nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.body = nn.Sequential(*layers)
        self.out = maybe_sn(nn.Conv2d(ch, 1, 4, 1, 0), sn)
        self.embed = projection(n_classes, ch, sn)
        _dcgan_init(self)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = self.body(x)
        out = self.out(h).flatten(1).squeeze(1)
        if self.embed is not None:
            out = out + self.embed(h.sum((2, 3)), c)
        return out


def _dcgan_init(net: nn.Module) -> None:
    """N(0, 0.02) conv weights and N(1, 0.02) BN scales, as in the DCGAN paper."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
