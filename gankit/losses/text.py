"""Losses of text-to-image GANs and of the joint text-image embedding.

* :func:`matching_aware_d_loss` — GAN-CLS (Reed et al. 2016, Alg. 1), also StackGAN's D:
  ``L_D = -log D(x, e) - 1/2 [log(1 - D(x, e_wrong)) + log(1 - D(G(z, e), e))]``
  with D = sigmoid(logit), each term a batch mean.
* :func:`generator_loss` — the non-saturating ``-log D(G(z, e), e)``.
* :func:`ca_kl` — StackGAN's conditioning-augmentation regulariser
  ``KL(N(mu, diag sigma^2) || N(0, I))``, averaged over batch and dimensions (as the authors'
  code does; the paper's weight lambda = 2 multiplies it).
* :func:`joint_embedding_loss` — Reed et al.'s (2016, "Learning Deep Representations of
  Fine-Grained Visual Descriptions") symmetric structured hinge over a batch of matching
  (image, caption) pairs: for every i and every j != i,
  ``max(0, margin + s(v_i, t_j) - s(v_i, t_i)) + max(0, margin + s(v_j, t_i) - s(v_i, t_i))``
  with ``s`` the inner product; summed over j, averaged over i.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def matching_aware_d_loss(real_right: Tensor, real_wrong: Tensor, fake: Tensor) -> Tensor:
    """Logits [N] of D on (real, matching text), (real, mismatching text), (fake, its text)."""
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake).mean())


def plain_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """The text-conditional D loss without the mismatching term (GAN / GAN-INT without CLS)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(fake: Tensor) -> Tensor:
    """Non-saturating G loss on D's logits of fakes with their own text."""
    return F.softplus(-fake).mean()


def ca_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, averaged over all elements."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean()


def joint_embedding_loss(img: Tensor, txt: Tensor, margin: float = 1.0) -> Tensor:
    """Symmetric structured hinge of matching pairs (row i of ``img`` [N, D] and ``txt`` [N, D])."""
    s = img @ txt.t()  # s[i, j] = <image i, text j>
    right = s.diag()
    off = 1.0 - torch.eye(len(s), device=s.device, dtype=s.dtype)
    img_side = (margin + s - right[:, None]).clamp_min(0) * off  # image i against wrong texts j
    txt_side = (margin + s - right[None, :]).clamp_min(0) * off  # text j against wrong images i
    return (img_side.sum(1) + txt_side.sum(0)).mean()


def retrieval_at_1(img: Tensor, txt: Tensor, n_wrong: int = 99, generator: torch.Generator | None = None,
                   keys: list[str] | None = None) -> float:
    """R-precision (R = 1) of matching pairs: the share of rows i for which s(img_i, txt_i) is
    higher than s(img_i, txt_j) for each of ``n_wrong`` random other rows j (a tie is a miss).
    keys: each row's caption text; rows with the same text as row i are never drawn as wrong
    (two images may share a caption). Each i draws its own candidates from ``generator``."""
    n = len(img)
    if n_wrong < 1 or n <= n_wrong:
        raise ValueError(f"R-precision with {n_wrong} wrong captions needs more than {n_wrong} pairs, got {n}")
    if keys is None:
        ids = torch.arange(n)
    else:
        code = {k: j for j, k in enumerate(dict.fromkeys(keys))}
        ids = torch.tensor([code[k] for k in keys])
    hits = 0
    for i in range(n):
        order = torch.randperm(n, generator=generator)  # a uniform draw among the allowed rows
        others = order[ids[order] != ids[i]][:n_wrong]  # (row i itself has its own key)
        if len(others) == 0:
            continue
        s_right = img[i] @ txt[i]
        hits += int(bool((img[i] @ txt[others].t() < s_right).all()))
    return hits / n
