"""Clustering accuracy: how well unsupervised cluster ids match true labels.

``hungarian_accuracy`` matches clusters to labels one-to-one so that the most samples agree
(the Hungarian algorithm on the contingency table, scipy's ``linear_sum_assignment``) and
returns the fraction that agree: InfoGAN's categorical code against the true classes, or
k-means clusters of features as a baseline. 1/n_labels is chance for balanced labels.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from gankit.errors import GankitError


def contingency(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """counts[i, j] = #samples in cluster i with label j; clusters and labels are ints >= 0."""
    pred, labels = _ints(pred, "pred"), _ints(labels, "labels")
    if pred.shape != labels.shape:
        raise GankitError(f"clustering: {len(pred)} predictions for {len(labels)} labels")
    table = np.zeros((pred.max(initial=-1) + 1, labels.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (pred, labels), 1)
    return table


def hungarian_accuracy(pred, labels) -> tuple[float, dict[int, int]]:
    """(accuracy, {cluster: label}) under the best one-to-one matching of clusters to labels.

    With more clusters than labels the unmatched clusters count as errors (and vice versa).
    """
    pred, labels = _ints(pred, "pred"), _ints(labels, "labels")
    if len(pred) == 0:
        raise GankitError("clustering: no samples")
    table = contingency(pred, labels)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(pred)), {int(r): int(c) for r, c in zip(rows, cols)}


def kmeans(features: np.ndarray, k: int, seed: int = 0, restarts: int = 10, iters: int = 100) -> np.ndarray:
    """k-means cluster ids [N] of ``features`` [N, D] (scipy's kmeans2, k-means++ starts): the
    best of ``restarts`` runs by within-cluster sum of squares."""
    from scipy.cluster.vq import kmeans2

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < k:
        raise GankitError(f"k-means: expected at least k={k} feature rows [N, D], got shape {x.shape}")
    rng = np.random.default_rng(seed)
    best, best_sse = None, np.inf
    for _ in range(restarts):
        centroids, ids = kmeans2(x, k, iter=iters, minit="++", seed=rng)
        sse = float(((x - centroids[ids]) ** 2).sum())
        if sse < best_sse:
            best, best_sse = ids, sse
    return best


def _ints(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1 or (a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0)):
        raise GankitError(f"clustering: {name} must be non-negative integer ids [N], got {a.dtype} {a.shape}")
    return a.astype(np.int64)
