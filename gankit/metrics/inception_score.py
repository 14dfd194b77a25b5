"""Inception Score, only from a user-supplied classifier (the bundled network has no logits).

IS = exp(E_x KL(p(y|x) || p(y))), averaged over ``splits`` equal parts (Salimans et al. 2016).
The classifier is a TorchScript file taking the same preprocessed input as the feature network
(float [N, 3, 299, 299] in [-1, 1], see inception.py) and returning logits [N, K].
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from gankit.data.fingerprint import sha1_file
from gankit.errors import GankitError
from gankit.metrics.inception import InceptionFeatures

NO_LOGITS = ("Inception Score needs a full Inception checkpoint with its classifier (--is-model PATH: TorchScript, "
             "input float [N,3,299,299] in [-1,1], output logits [N,K]); the bundled default_1.pt ends at pool3 "
             "features and has no logits")


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """logits [N, K] -> (mean, std) of the Inception Score over ``splits`` parts, in float64."""
    if logits.ndim != 2 or len(logits) < splits:
        raise GankitError(f"Inception Score needs logits [N >= splits={splits}, K], got {logits.shape}")
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-30, None)) - np.log(np.clip(py, 1e-30, None)))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def load_classifier(path: str | os.PathLike | None, device: str | torch.device = "cpu",
                    resampler: str = "nv") -> InceptionFeatures:
    """Load a user classifier (TorchScript) behind the same uint8 preprocessing as the features."""
    if not path:
        raise GankitError(NO_LOGITS)
    if not os.path.isfile(path):
        raise GankitError(f"{path}: Inception classifier file (--is-model) does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = torch.jit.load(str(path), map_location=device).eval()
    except Exception as e:  # not TorchScript: one line, no torch internals
        raise GankitError(f"{path}: not a TorchScript classifier ({type(e).__name__})") from None
    return InceptionFeatures(net, sha1_file(path), resampler)
