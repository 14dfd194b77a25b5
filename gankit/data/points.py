"""2-D Gaussian mixtures, the toy benchmarks of mode collapse (``ring8``, ``grid25``).

``ring8``: 8 Gaussians on a circle of radius 2 at angles 2*pi*k/8, k = 0..7, sigma 0.02 (the
unrolled-GAN paper's data, Metz et al. 2017, App. A). Some public ports space the angles
with ``linspace(0, 2*pi, 8)``, which puts the first and last mode on the same spot (7
distinct modes, one twice as heavy); these angles do not.
``grid25``: 25 Gaussians at (i, j) for i, j in {-4, -2, 0, 2, 4}, sigma 0.05 (VEEGAN's and
PacGAN's 2-D grid).

Each source is a fixed set of ``n`` points drawn once from a seeded generator (equal mixture
weights), so the stream's seeded permutations give exact resume like any image set. Items
are ``(point float32 [2],)`` with one field ``x`` of kind ``tensor``: no image conversion
and no flips apply. A point set's "resolution" is 1 and its "channels" are the point
dimension (2), which is what the point networks (``points_mlp``) take as shape arguments.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """[n_modes, 2] centres at angles 2*pi*k/n_modes (k = 0..n_modes-1), all distinct."""
    theta = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return torch.stack([radius * torch.cos(theta), radius * torch.sin(theta)], 1).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> Tensor:
    """[side**2, 2] centres of a square grid centred on 0 (side 5, spacing 2: -4, -2, 0, 2, 4)."""
    ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    xx, yy = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).float()


# name -> (centres, sigma): the benchmark mixtures
MIXTURES = {
    "ring8": (ring_centers, 0.02),
    "grid25": (grid_centers, 0.05),
}


def sample_mixture(centers: Tensor, sigma: float, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(points float32 [n, 2], mode index long [n]): equal weights, isotropic sigma."""
    idx = torch.randint(0, len(centers), (n,), generator=generator)
    noise = torch.randn(n, centers.shape[1], generator=generator)
    return centers[idx] + sigma * noise, idx


class MixturePoints(torch.utils.data.Dataset):
    """A fixed sample of one mixture of :data:`MIXTURES` (``n`` points from ``seed``).

    Attributes: ``centers`` [K, 2], ``sigma``, ``modes`` (the mode index of every point, for
    tests and calibration), ``resolution`` 1, ``channels`` 2.
    """

    fields = (("x", "tensor"),)
    resolution, channels = 1, 2
    attr_names: list[str] = []

    def __init__(self, name: str = "ring8", n: int = 100_000, seed: int = 0):
        make, sigma = MIXTURES[name]
        self.name, self.centers, self.sigma = name, make(), float(sigma)
        g = torch.Generator().manual_seed(seed)
        self.points, self.modes = sample_mixture(self.centers, self.sigma, n, g)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> tuple[Tensor]:
        return (self.points[i],)

    def decoded(self) -> dict[str, Tensor]:
        """Every item's fields stacked (what the stream would collate), without a pass over items."""
        return {"x": self.points}
