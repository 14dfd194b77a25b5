"""Adversarial losses as (d_loss, g_loss) pairs of pure functions on logits.

Each pair is registered in :data:`ADV_LOSSES`. Logits are raw discriminator outputs [N];
every function returns a scalar mean over the batch. ``softplus(-x) = -log(sigmoid(x))``
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
    """d_loss(real_logits, fake_logits) and g_loss(fake_logits); both return scalars."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]


ADV_LOSSES: Registry[AdvLoss] = Registry("adversarial loss")


def _add(name: str, d_loss: Callable[[Tensor, Tensor], Tensor], g_loss: Callable[[Tensor], Tensor]) -> None:
    ADV_LOSSES.register(name)(AdvLoss(name, d_loss, g_loss))


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


_add("minimax", bce_d_loss, minimax_g_loss)
_add("nonsaturating", bce_d_loss, nonsaturating_g_loss)
_add("lsgan", lsgan_d_loss, lsgan_g_loss)
_add("wgan", wgan_d_loss, wgan_g_loss)
_add("hinge", hinge_d_loss, wgan_g_loss)
