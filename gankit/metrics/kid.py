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
    """mean and std (population, ddof=0) of the per-subset unbiased MMD^2 estimates.

    whole_set: every subset was the whole of both sets (subset size >= both image counts), so
    all subsets are the same estimate and ``std`` (0) says nothing about uncertainty; then a
    single subset is computed. note: a one-line explanation when the subset size was clamped.
    """

    mean: float
    std: float
    subsets: int
    subset_size: int
    whole_set: bool = False
    note: str = ""


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

    subset_size is capped at min(N1, N2) (as in clean-fid and StyleGAN's KID) and the result
    says so in ``note``; when the cap makes each subset the whole of both sets, the estimate is
    computed once and ``whole_set`` is set (its spread is 0 by construction, not a measured
    uncertainty). Each subset draws indices without replacement from a numpy Generator seeded
    with ``seed`` (reproducible).
    """
    if fake.ndim != 2 or real.ndim != 2 or fake.shape[1] != real.shape[1]:
        raise GankitError(f"KID needs features [N, D] with equal D, got {fake.shape} and {real.shape}")
    if subsets < 1 or subset_size < 2:
        raise GankitError(f"KID needs subsets >= 1 and subset size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, len(fake), len(real))
    if m < 2:
        raise GankitError(f"KID needs at least 2 samples per side, got {len(fake)} and {len(real)}")
    whole = m == len(fake) == len(real)
    note = ""
    if subset_size > m or whole:
        note = (f"KID subset size {subset_size} clamped to {m} (images: {len(fake)} generated, {len(real)} reference)"
                if subset_size > m else f"KID subset size {m} = all images")
        if whole:
            note += ("; every subset is the whole set, so the std over subsets is 0 by construction and is not "
                     f"reported: use a subset size below {m} (e.g. {max(m // 2, 2)}) for a spread")
            subsets = 1
    rng = np.random.default_rng(seed)
    f = torch.as_tensor(fake, dtype=torch.float64, device=device)
    r = torch.as_tensor(real, dtype=torch.float64, device=device)
    vals = []
    for _ in range(subsets):
        fi = torch.as_tensor(rng.choice(len(fake), m, replace=False), device=device)
        ri = torch.as_tensor(rng.choice(len(real), m, replace=False), device=device)
        vals.append(mmd2_unbiased(f[fi], r[ri]))
    arr = np.asarray(vals, dtype=np.float64)
    return KIDResult(mean=float(arr.mean()), std=float(arr.std()), subsets=subsets, subset_size=m, whole_set=whole,
                     note=note)
