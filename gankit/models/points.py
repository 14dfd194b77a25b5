"""MLP generator and discriminator for low-dimensional point data (the 2-D mixture toys).

The unrolled-GAN paper's toy networks (Metz et al. 2017, App. A): G maps z ~ N(0, I_256)
through 2 hidden layers of 128 ReLU units to a linear 2-D output; D divides its input by 4
(to bring the data to roughly [-1, 1]), then 1 hidden layer of 128 ReLU units and a linear
logit; every weight is initialised orthogonal with gain 0.8. Width, depth, the input scale
and the init gain are constructor arguments (``model.generator.depth=...``).

Shape arguments: a point of dimension D is taken as D ``channels`` at ``resolution`` 1 (what
the point sources declare), so the classic noise-generator contract holds:
``G(z [N, z_dim]) -> points [N, D]`` (not squashed: data lie outside [-1, 1]).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.layers import check_choice, maybe_sn


def _check_points(resolution: int, n_classes: int) -> None:
    if resolution != 1:
        raise ValueError(f"points_mlp models points, so data.resolution must be 1 (the point dimension is "
                         f"data.channels), got {resolution}")
    if n_classes:
        raise ValueError(f"n_classes={n_classes}: points_mlp is unconditional; set data.labels=false")


def _linear(d_in: int, d_out: int, gain: float, sn: bool) -> nn.Module:
    """A linear layer with orthogonal weights of ``gain`` and zero bias (gain 0: PyTorch's
    default init), initialised before spectral norm wraps it."""
    lin = nn.Linear(d_in, d_out)
    if gain > 0:
        nn.init.orthogonal_(lin.weight, gain=gain)
        nn.init.zeros_(lin.bias)
    return maybe_sn(lin, sn)


def _mlp(d_in: int, width: int, depth: int, d_out: int, gain: float, sn: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [_linear(d_in, width, gain, sn), nn.ReLU()]
        d_in = width
    layers.append(_linear(d_in, d_out, gain, sn))
    return nn.Sequential(*layers)


@GENERATORS.register("points_mlp")
class PointsGenerator(nn.Module):
    """z [N, z_dim] -> points [N, channels] via ``depth`` hidden ReLU layers of ``width``."""

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, width: int = 128,
                 depth: int = 2, init_gain: float = 0.8):
        super().__init__()
        _check_points(resolution, n_classes)
        check_min(1, channels=channels, z_dim=z_dim, width=width)
        check_min(0, depth=depth, init_gain=init_gain)
        self.z_dim, self.n_classes = z_dim, 0
        self.net = _mlp(z_dim, width, depth, channels, init_gain)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(z)


@DISCRIMINATORS.register("points_mlp")
class PointsDiscriminator(nn.Module):
    """points [N, channels] -> logits [N]: ``x * input_scale``, ``depth`` hidden ReLU layers.

    norm: none | spectral (spectral normalization of every linear layer, for SN + hinge).
    """

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, width: int = 128, depth: int = 1,
                 input_scale: float = 0.25, norm: str = "none", init_gain: float = 0.8):
        super().__init__()
        _check_points(resolution, n_classes)
        check_choice("model.discriminator.norm", norm, ("none", "spectral"))
        check_min(1, channels=channels, width=width)
        check_min(0, depth=depth, init_gain=init_gain)
        if input_scale <= 0:
            raise ValueError(f"input_scale must be > 0, got {input_scale}")
        self.input_scale = input_scale
        self.net = _mlp(channels, width, depth, 1, init_gain, sn=norm == "spectral")

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(x.flatten(1) * self.input_scale).squeeze(1)
