"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

The manifold of a set is the union of balls around its points, each with radius the distance
to the point's k-th nearest neighbour within the set (k=3). Precision = fraction of fake
samples inside the real manifold; recall = fraction of real samples inside the fake manifold.
The paper uses VGG-16 features; here they are computed on Inception pool3 features (say so
with the number: values are not comparable with VGG-based ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError


@dataclass
class PRResult:
    precision: float
    recall: float
    k: int


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances [len(a), len(b)], clamped at 0 against rounding."""
    d = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return d.clamp_min_(0.0)


def knn_radii(x: torch.Tensor, k: int, block: int = 4096) -> torch.Tensor:
    """Squared distance of each row of x [n, D] to its k-th nearest other row -> [n]."""
    if x.shape[0] <= k:
        raise GankitError(f"precision/recall with k={k} needs more than {k} samples per set, got {x.shape[0]}")
    out = []
    for i in range(0, x.shape[0], block):
        d = _sq_dists(x[i:i + block], x)
        # the (k+1)-th smallest includes the point itself at distance 0
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def coverage(query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor, block: int = 4096) -> float:
    """Fraction of query rows within radius of at least one ref row (closed balls)."""
    inside = 0
    for i in range(0, query.shape[0], block):
        d = _sq_dists(query[i:i + block], ref)
        inside += int((d <= radii[None, :]).any(dim=1).sum())
    return inside / query.shape[0]


def precision_recall(fake: np.ndarray, real: np.ndarray, k: int = 3, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float64, block: int = 4096) -> PRResult:
    """Precision and recall of fake [N1, D] against real [N2, D] with k-NN radii."""
    if fake.ndim != 2 or real.ndim != 2 or fake.shape[1] != real.shape[1]:
        raise GankitError(f"precision/recall needs features [N, D] with equal D, got {fake.shape} and {real.shape}")
    f = torch.as_tensor(fake, dtype=dtype, device=device)
    r = torch.as_tensor(real, dtype=dtype, device=device)
    precision = coverage(f, r, knn_radii(r, k, block), block)
    recall = coverage(r, f, knn_radii(f, k, block), block)
    return PRResult(precision=precision, recall=recall, k=k)
