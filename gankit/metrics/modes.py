"""Mode-coverage metrics: the 2-D mixture counter and the stacked-image mode histogram.

2-D mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): each generated
point is assigned to its nearest mode centre; it is *high quality* when that distance is
below ``threshold`` (3) standard deviations of the mixture; a mode is *covered* when at
least ``min_count`` (1) high-quality points are assigned to it. The papers draw 2,500
samples. Real data of an isotropic 2-D Gaussian fall within 3 sigma with probability
1 - exp(-4.5) = 98.9 %, so that is the best possible high-quality fraction.

Stacked images (unrolled GAN, VEEGAN, PacGAN): a classifier labels each channel, the triple
of labels is the mode (1,000 of them); reported are the modes with at least one sample and
KL(generated mode histogram || uniform) = log K - H(p).
"""

from __future__ import annotations

import torch
from torch import Tensor


def assign_modes(points: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """(nearest mode index long [N], distance to it float [N]) of points [N, D], centers [K, D]."""
    d = torch.cdist(points.double(), centers.double())
    dist, idx = d.min(1)
    return idx, dist.float()


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform over the K = len(counts) bins) in nats, p = counts / counts.sum().

    0 for a uniform histogram; log(K / k) when k bins hold equal counts and the rest none.
    NaN for an empty histogram."""
    counts = counts.double()
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float((p * (p * len(counts)).log()).sum())


def point_mode_stats(points: Tensor, centers: Tensor, sigma: float, threshold: float = 3.0,
                     min_count: int = 1) -> dict:
    """The 2-D counter on generated ``points`` [N, 2].

    Returns {"modes": covered modes, "n_modes": K, "hq": fraction of high-quality points,
    "counts": high-quality points per mode (list of K ints), "kl": KL(histogram of the
    high-quality points over the modes || uniform) (NaN when none is high quality),
    "n": N}. Non-finite points count as not high quality.
    """
    pts = points.detach().float().cpu().reshape(len(points), -1)
    finite = torch.isfinite(pts).all(1)
    idx, dist = assign_modes(torch.where(finite[:, None], pts, torch.zeros_like(pts)), centers.cpu())
    good = finite & (dist < threshold * sigma)
    counts = torch.bincount(idx[good], minlength=len(centers))
    return {"modes": int((counts >= min_count).sum()), "n_modes": len(centers), "hq": float(good.float().mean()),
            "counts": counts.tolist(), "kl": kl_to_uniform(counts), "n": len(pts)}


def histogram_stats(modes: Tensor, n_modes: int = 1000) -> dict:
    """{"modes": bins with >= 1 sample, "kl": KL(histogram || uniform), "n"} of mode indices [N]."""
    counts = torch.bincount(modes.long().cpu(), minlength=n_modes)
    return {"modes": int((counts > 0).sum()), "kl": kl_to_uniform(counts), "n": int(len(modes)),
            "n_modes": n_modes}


@torch.no_grad()
def channel_labels(classifier: torch.nn.Module, images: Tensor, batch: int = 500) -> Tensor:
    """Classify every channel of images float [N, C, R, R] in [-1, 1] as a gray image with a
    10-way ``classifier`` (logits [M, 10]); returns long [N, C] on the CPU."""
    dev = next(classifier.parameters()).device
    n, c = images.shape[:2]
    flat = images.reshape(n * c, 1, *images.shape[2:])
    out = [classifier(flat[i:i + batch].to(dev).float()).argmax(1).cpu() for i in range(0, len(flat), batch)]
    return torch.cat(out).view(n, c)
