"""Fréchet Inception Distance from feature statistics, in float64.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

The trace term is computed without a general (non-symmetric) matrix square root: with
A = S1^(1/2) (symmetric, from eigh), (S1 S2)^(1/2) is similar to (A S2 A)^(1/2), a symmetric
PSD matrix, so tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(A S2 A)). Rounding can make a few
eigenvalues slightly negative (their square roots would be imaginary, the residue scipy's
sqrtm reports as an imaginary part); they are clipped to 0 and their size is reported.
Eigenvalues with |lambda| below the rounding floor (D * eps * max|lambda|) are exactly zero in
theory for rank-deficient covariances (N <= D); they are set to 0 before the square root,
which otherwise turns 1e-13 of rounding into 1e-6 of FID per eigenvalue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gankit.errors import GankitError


@dataclass
class FIDResult:
    """value: the FID; imag_residue: sum of sqrt(-lambda) over eigenvalues of A S2 A below minus
    the rounding floor (the imaginary part a general sqrtm would show; 0 when clean);
    neg_eig: most negative eigenvalue of S1, clipped to 0 for its square root (<= 0)."""

    value: float
    imag_residue: float
    neg_eig: float


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """features [N, D] -> (mu [D], sigma [D, D]) in float64; sigma is the unbiased (N-1) covariance."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise GankitError(f"statistics need features [N>=2, D], got shape {tuple(f.shape)}")
    mu = f.mean(axis=0)
    centered = f - mu
    sigma = centered.T @ centered / (f.shape[0] - 1)
    return mu, sigma


def _floor(w: np.ndarray) -> float:
    """Rounding floor of a symmetric eigen-decomposition: D * eps * max|lambda|."""
    return float(w.size * np.finfo(np.float64).eps * max(np.abs(w).max(), 0.0))


def _sym_sqrt(s: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric PSD square root via eigh; returns (root, most negative eigenvalue clipped)."""
    w, v = np.linalg.eigh((s + s.T) * 0.5)
    neg = float(min(w.min(), 0.0))
    w = np.where(w > _floor(w), w, 0.0)
    root = (v * np.sqrt(w)) @ v.T
    return root, neg


def frechet_distance(mu1, sigma1, mu2, sigma2) -> FIDResult:
    """FID between Gaussians (mu [D], sigma [D, D]); all math in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise GankitError(f"FID statistics disagree in shape: mu {mu1.shape} vs {mu2.shape}, "
                          f"sigma {s1.shape} vs {s2.shape}")
    a, neg1 = _sym_sqrt(s1)
    m = a @ s2 @ a
    lam = np.linalg.eigvalsh((m + m.T) * 0.5)
    floor = _floor(lam)
    negative = lam[lam < -floor]
    imag = float(np.sqrt(-negative).sum()) if negative.size else 0.0
    tr_covmean = float(np.sqrt(np.where(lam > floor, lam, 0.0)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return FIDResult(value=value, imag_residue=imag, neg_eig=neg1)


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> FIDResult:
    """FID between two feature sets [N1, D] and [N2, D].

    When N1 + N2 < D both covariances and the mean difference live in a subspace of dimension
    at most N1 + N2 - 1; FID is invariant under orthogonal maps, so it is computed exactly in
    an orthonormal basis of that subspace (a 2048-D eigh becomes a tiny one).
    """
    a, b = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[1] and len(a) + len(b) < a.shape[1]:
        ma, mb = a.mean(0), b.mean(0)
        span = np.concatenate([a - ma, b - mb, (ma - mb)[None]], axis=0).T  # [D, N1 + N2 + 1]
        q, _ = np.linalg.qr(span)
        a, b = a @ q, b @ q
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def save_stats(path: str | os.PathLike, mu: np.ndarray, sigma: np.ndarray, **meta: str | int) -> None:
    """Write ``mu``/``sigma`` (the common FID stats layout) plus string/int metadata, atomically."""
    from gankit.metrics.cache import atomic_save_npz

    extra = {k: np.asarray(v) for k, v in meta.items()}
    atomic_save_npz(path, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64), **extra)


def load_stats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read (mu, sigma, metadata) from an .npz with keys mu and sigma (pytorch-fid layout)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            if "mu" not in z.files or "sigma" not in z.files:
                raise GankitError(f"{p}: expected FID statistics with keys 'mu' and 'sigma', found {z.files}")
            mu, sigma = z["mu"].astype(np.float64), z["sigma"].astype(np.float64)
            meta = {k: z[k].item() for k in z.files if k not in ("mu", "sigma") and z[k].ndim == 0}
    except (OSError, ValueError) as e:
        raise GankitError(f"{p}: cannot read FID statistics .npz ({e})") from None
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise GankitError(f"{p}: expected mu [D] and sigma [D, D], got {mu.shape} and {sigma.shape}")
    return mu, sigma, meta
