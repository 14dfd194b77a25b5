"""Adversarial losses as (d_loss, g_loss) pairs of pure functions on logits.

Each pair is registered in :data:`ADV_LOSSES`. Logits are raw discriminator outputs [N];
every function returns a scalar mean over the batch. A *relativistic* loss (``rpgan``)
compares paired real and fake logits, so its generator loss takes both:
``g_loss(fake_logits, real_logits)``; every other ``g_loss`` takes the fake logits only. ``softplus(-x) = -log(sigmoid(x))``
and ``softplus(x) = -log(1 - sigmoid(x))`` keep the log-likelihood forms numerically stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn.functional as F
from torch import Tensor

from gankit.registry import Registry


@dataclass(frozen=True)
class AdvLoss:
    """d_loss(real_logits, fake_logits) and g_loss(fake_logits); both return scalars.

    relativistic: g_loss(fake_logits, real_logits) (the generator's loss needs D(real) too,
    on the same number of samples: logits are paired by position)."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[..., Tensor]
    relativistic: bool = False


ADV_LOSSES: Registry[AdvLoss] = Registry("adversarial loss")


def _add(name: str, d_loss: Callable[[Tensor, Tensor], Tensor], g_loss: Callable[..., Tensor],
         relativistic: bool = False) -> None:
    ADV_LOSSES.register(name)(AdvLoss(name, d_loss, g_loss, relativistic))


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit) (Goodfellow et al. 2014)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], the saturating form: its gradient vanishes when D rejects fakes."""
    return -F.softplus(fake).mean()


def nonsaturating_g_loss(fake: Tensor) -> Tensor:
    """-E[log D(G(z))]: same fixed point, strong gradients early in training."""
    return F.softplus(-fake).mean()


def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017), a-b-c = 0-1-1: 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())


def lsgan_g_loss(fake: Tensor) -> Tensor:
    return 0.5 * (fake - 1).pow(2).mean()


def wgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Critic loss E[D(G(z))] - E[D(x)] (Arjovsky et al. 2017); pair with clipping or a GP."""
    return fake.mean() - real.mean()


def wgan_g_loss(fake: Tensor) -> Tensor:
    return -fake.mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017; SNGAN, BigGAN)."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _paired(real: Tensor, fake: Tensor) -> None:
    if real.shape != fake.shape:
        raise ValueError(f"relativistic loss: real and fake logits must be paired (same shape), "
                         f"got {tuple(real.shape)} and {tuple(fake.shape)}")


def rpgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Relativistic pairing loss (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024):
    E[softplus(-(D(x_i) - D(G(z_i))))], each real paired with one fake."""
    _paired(real, fake)
    return F.softplus(fake - real).mean()


def rpgan_g_loss(fake: Tensor, real: Tensor) -> Tensor:
    """The generator's side of the pairing: E[softplus(-(D(G(z_i)) - D(x_i)))]."""
    _paired(real, fake)
    return F.softplus(real - fake).mean()


_add("minimax", bce_d_loss, minimax_g_loss)
_add("nonsaturating", bce_d_loss, nonsaturating_g_loss)
_add("lsgan", lsgan_d_loss, lsgan_g_loss)
_add("wgan", wgan_d_loss, wgan_g_loss)
_add("hinge", hinge_d_loss, wgan_g_loss)
_add("rpgan", rpgan_d_loss, rpgan_g_loss, relativistic=True)
