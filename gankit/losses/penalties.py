"""Discriminator regularizers: WGAN-GP gradient penalty, R1 and R2, weight clipping.

They take the discriminator as a callable so that conditioning and augmentation stay with
the caller. None of them calls ``backward()``: ``torch.autograd.grad(create_graph=True)``
builds a differentiable penalty that the trainer backpropagates with the rest of the loss.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import Tensor, nn


def interpolate(real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """x_hat = alpha * real + (1 - alpha) * fake with one alpha per sample (alpha: [N])."""
    a = alpha.view(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    return a * real + (1 - a) * fake


def gradient_penalty(d: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, alpha: Tensor, center: float = 1.0) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x D(x_hat)||_2 - center)^2].

    alpha: [N] uniform draws in [0, 1), one per sample (not per element).
    Returns an unweighted scalar; multiply by lambda (10 in the paper).
    """
    x_hat = interpolate(real.detach(), fake.detach(), alpha).requires_grad_(True)
    out = d(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return (norm - center).pow(2).mean()


def zero_centered_penalty(out: Tensor, x: Tensor) -> Tensor:
    """E_i[||grad_{x_i} out_i||^2] for logits ``out`` [N] already computed from ``x``
    (``x.requires_grad``), differentiable (create_graph). Lets a caller reuse the logits of its
    adversarial loss instead of running D again (as R3GAN does)."""
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def r1_penalty(d: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real data; weight by gamma/2."""
    x = real.detach().requires_grad_(True)
    return zero_centered_penalty(d(x), x)


def r2_penalty(d: Callable[[Tensor], Tensor], fake: Tensor) -> Tensor:
    """R2: the same zero-centred penalty on generated data, E[||grad_x D(G(z))||^2] (no
    gradient reaches G: the fakes are detached); weight by gamma/2. R3GAN uses R1 + R2."""
    x = fake.detach().requires_grad_(True)
    return zero_centered_penalty(d(x), x)


@torch.no_grad()
def clip_weights(params: Iterable[nn.Parameter], c: float) -> None:
    """WGAN weight clipping to [-c, c] (the original WGAN's crude Lipschitz constraint)."""
    for p in params:
        p.clamp_(-c, c)
