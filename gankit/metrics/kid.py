"""Kernel Inception Distance (Bińkowski et al. 2018).

Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3, averaged over
random subsets (default 100 subsets of 1000 per side, drawn without replacement), in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError


@dataclass
class KIDResult:
    """mean and std (population, ddof=0) of the per-subset unbiased MMD^2 estimates."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / D + 1)^3 for rows of x [n, D] and y [m, D] -> [n, m]."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between two equal-size samples [m, D] (diagonals of k_xx, k_yy excluded)."""
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid(fake: np.ndarray, real: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0, device: str | torch.device = "cpu") -> KIDResult:
    """KID between feature sets fake [N1, D] and real [N2, D].

    subset_size is capped at min(N1, N2); each subset draws indices without replacement from
    a numpy Generator seeded with ``seed`` (reproducible).
    """
    if fake.ndim != 2 or real.ndim != 2 or fake.shape[1] != real.shape[1]:
        raise GankitError(f"KID needs features [N, D] with equal D, got {fake.shape} and {real.shape}")
    m = min(subset_size, len(fake), len(real))
    if m < 2:
        raise GankitError(f"KID needs at least 2 samples per side, got {len(fake)} and {len(real)}")
    rng = np.random.default_rng(seed)
    f = torch.as_tensor(fake, dtype=torch.float64, device=device)
    r = torch.as_tensor(real, dtype=torch.float64, device=device)
    vals = []
    for _ in range(subsets):
        fi = torch.as_tensor(rng.choice(len(fake), m, replace=False), device=device)
        ri = torch.as_tensor(rng.choice(len(real), m, replace=False), device=device)
        vals.append(mmd2_unbiased(f[fi], r[ri]))
    arr = np.asarray(vals, dtype=np.float64)
    return KIDResult(mean=float(arr.mean()), std=float(arr.std()), subsets=subsets, subset_size=m)
