"""ACL-GAN attribute loss (Cho & Yoon, seed 001) and StarGAN's attribute classification loss.

The attribute loss is one GAN per attribute head, all sharing D's hidden layers. Each head
``k`` sees a binary weight per sample: 1 = "this GAN cares about this sample", 0 = don't care.
For a real image the weights come from its attributes ``att``, for a fake from the target
``att'`` given to G. LSGAN form (the seed's equations, expectation = batch mean, sum over
heads, no 1/2 factor):

    L_att^D = E_real[ sum_k w_k (D_k(x) - 1)^2 ] + E_fake[ sum_k w'_k D_k(G(x, att'))^2 ]
    L_att^G = E_fake[ sum_k w'_k (D_k(G(x, att')) - 1)^2 ]

WGAN-GP form, built the same way:

    L_att^D = E_fake[ sum_k w'_k D_k(fake) ] - E_real[ sum_k w_k D_k(x) ]   (+ lambda * GP)
    L_att^G = -E_fake[ sum_k w'_k D_k(fake) ]

Polarity: ``positive`` uses ``w = att`` (the seed's literal form: only presence heads, so G is
never pushed to *remove* an attribute); ``both`` uses ``w = [att, 1 - att]`` so every binary
attribute has a presence head and an absence head and every sample is cared for by exactly
one head per attribute. Don't-care entries are multiplied by exact zeros, so their logits get
exactly zero gradient (and so do the head weights of attributes nobody cares about).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.losses.penalties import gradient_penalty
from gankit.nn import random as rnd
from gankit.registry import Registry


def head_weights(att: Tensor, polarity: str) -> Tensor:
    """Per-head care weights from binary attributes.

    att: [N, A] float 0/1. Returns [N, A] for ``positive``, [N, 2A] for ``both`` (columns
    ``[:A]`` presence heads = att, ``[A:]`` absence heads = 1 - att), same dtype.
    """
    if polarity == "positive":
        return att
    if polarity == "both":
        return torch.cat([att, 1 - att], dim=1)
    raise ValueError(f"polarity must be 'both' or 'positive', got {polarity!r}")


def _check(logits: Tensor, weights: Tensor) -> None:
    if logits.shape != weights.shape:
        raise ValueError(f"logits {list(logits.shape)} and head weights {list(weights.shape)} must match [N, K]")


def lsgan_attr_d_loss(real: Tensor, fake: Tensor, w_real: Tensor, w_fake: Tensor) -> Tensor:
    """E_real[sum_k w_k (D_k(x) - 1)^2] + E_fake[sum_k w'_k D_k(x')^2]; all inputs [N, K]."""
    _check(real, w_real)
    _check(fake, w_fake)
    return (w_real * (real - 1).pow(2)).sum(1).mean() + (w_fake * fake.pow(2)).sum(1).mean()


def lsgan_attr_g_loss(fake: Tensor, w_fake: Tensor) -> Tensor:
    """E_fake[sum_k w'_k (D_k(x') - 1)^2]; fake logits and weights [N, K]."""
    _check(fake, w_fake)
    return (w_fake * (fake - 1).pow(2)).sum(1).mean()


def wgan_attr_d_loss(real: Tensor, fake: Tensor, w_real: Tensor, w_fake: Tensor) -> Tensor:
    """E_fake[sum_k w'_k D_k(x')] - E_real[sum_k w_k D_k(x)]; add the GP separately."""
    _check(real, w_real)
    _check(fake, w_fake)
    return (w_fake * fake).sum(1).mean() - (w_real * real).sum(1).mean()


def wgan_attr_g_loss(fake: Tensor, w_fake: Tensor) -> Tensor:
    """-E_fake[sum_k w'_k D_k(x')]."""
    _check(fake, w_fake)
    return -(w_fake * fake).sum(1).mean()


@dataclass(frozen=True)
class AttrLoss:
    """One attribute-loss form: d_loss(real, fake, w_real, w_fake), g_loss(fake, w_fake).

    ``needs_gp``: the recipe adds :func:`attribute_gradient_penalty` to the D loss.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor, Tensor], Tensor]
    needs_gp: bool


ATTR_LOSSES: Registry[AttrLoss] = Registry("attribute loss form")
ATTR_LOSSES.register("lsgan")(AttrLoss("lsgan", lsgan_attr_d_loss, lsgan_attr_g_loss, False))
ATTR_LOSSES.register("wgan-gp")(AttrLoss("wgan-gp", wgan_attr_d_loss, wgan_attr_g_loss, True))


def sample_gp_heads(w_real: Tensor, w_fake: Tensor, generator: torch.Generator) -> Tensor:
    """One head index per sample, uniform among heads cared for by the real or the fake.

    w_real, w_fake: [N, K] 0/1. Returns long [N] on w_real's device. A sample with no cared
    head (possible with ``positive`` polarity and all-zero attributes) gets a uniform head.
    """
    care = ((w_real + w_fake) > 0).float().to(generator.device)
    care[care.sum(1) == 0] = 1.0
    # inverse-CDF draw from one uniform per sample (per_sample: the same under torchrun)
    cdf = (care / care.sum(1, keepdim=True)).cumsum(1)
    u = rnd.rand(care.shape[0], generator=generator, device=generator.device).unsqueeze(1)
    idx = (u >= cdf).sum(1).clamp(max=care.shape[1] - 1)
    return idx.to(w_real.device)


def attribute_gradient_penalty(heads: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                               alpha: Tensor, head_index: Tensor) -> Tensor:
    """WGAN-GP for the per-attribute critics with one sampled head per sample.

    Each attribute critic D_k should be 1-Lipschitz. Penalising every head costs K backward
    passes; instead sample ``k_n`` per sample (:func:`sample_gp_heads`) and penalise
    ``(||grad D_{k_n}(x_hat_n)|| - 1)^2``, an unbiased estimate of the mean over cared heads.
    Samples are independent in D (no batch norm), so one backward gives every per-sample
    gradient. heads: x [N, C, H, W] -> logits [N, K]; alpha: [N] uniform; head_index: [N] long.
    Returns an unweighted scalar.
    """
    idx = head_index.view(-1, 1)
    return gradient_penalty(lambda z: heads(z).gather(1, idx), real, fake, alpha)


def classification_loss(logits: Tensor, target: Tensor) -> Tensor:
    """StarGAN's multi-label BCE: summed over attributes, averaged over the batch.

    logits: [N, A] raw; target: [N, A] float 0/1. Returns a scalar >= 0.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits {list(logits.shape)} and targets {list(target.shape)} must match [N, A]")
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="sum") / logits.shape[0]
