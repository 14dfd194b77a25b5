"""A small attribute classifier CNN, used to score attribute edits (not a GAN network).

``AttrClassifier(resolution, channels, n_attrs, width=32, n_layers=4)``: ``n_layers`` blocks of
(3x3 conv, stride-2 4x4 conv, GroupNorm, LeakyReLU) with doubling width, global average
pooling, then a linear layer with one logit per binary attribute. Its typed constructor
arguments are its config (``config`` property), so a saved classifier rebuilds exactly.
"""

from __future__ import annotations

from torch import Tensor, nn


def _block(cin: int, cout: int) -> nn.Sequential:
    groups = 8 if cout % 8 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 4, 2, 1), nn.GroupNorm(groups, cout), nn.LeakyReLU(0.2, inplace=True))


class AttrClassifier(nn.Module):
    """forward(x [N, C, R, R] in [-1, 1]) -> logits [N, n_attrs] (sigmoid > 0.5 = present).

    ``features(x)`` -> pooled features [N, width * 2**(n_layers-1)] (for feature distances).
    """

    def __init__(self, resolution: int, channels: int, n_attrs: int, width: int = 32, n_layers: int = 4):
        super().__init__()
        if n_attrs < 1:
            raise ValueError(f"n_attrs must be >= 1, got {n_attrs}")
        for name, value in (("channels", channels), ("width", width), ("n_layers", n_layers)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if n_layers < 1 or resolution % 2**n_layers:
            raise ValueError(f"resolution {resolution} must be divisible by 2**n_layers={2**n_layers}")
        self.resolution, self.channels, self.n_attrs = resolution, channels, n_attrs
        self.width, self.n_layers = width, n_layers
        chans = [channels] + [width * 2**k for k in range(n_layers)]
        self.trunk = nn.Sequential(*[_block(chans[k], chans[k + 1]) for k in range(n_layers)])
        self.head = nn.Linear(chans[-1], n_attrs)

    @property
    def config(self) -> dict:
        return {"resolution": self.resolution, "channels": self.channels, "n_attrs": self.n_attrs,
                "width": self.width, "n_layers": self.n_layers}

    def features(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[-1] != self.resolution:
            raise ValueError(f"x must be [N, {self.channels}, {self.resolution}, {self.resolution}], got {list(x.shape)}")
        return self.trunk(x).mean((2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
