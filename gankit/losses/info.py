"""InfoGAN's variational mutual-information term (Chen et al. 2016, eq. 4-5).

L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c) <= I(c; G(z, c)). Minimising the
negative log-likelihood below maximises the bound; H(c) is a constant (log n_cat per
categorical code, log 2 per U(-1, 1) continuous code) that only the logged estimate adds.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def info_nll(cat_logits: Tensor, cat: Tensor, mean: Tensor, cont: Tensor,
             log_std: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """-log Q(c | x), averaged over the batch and summed over codes: (total, categorical, continuous).

    cat_logits: raw logits [N, n_cat_codes, n_cat] (``F.cross_entropy`` applies the log-softmax
    itself, so logits must never be softmaxed before: a second softmax flattens the target
    and the loss cannot go to 0); cat: categories long [N, n_cat_codes]. mean, cont: [N, n_cont];
    log_std: [N, n_cont], or None for a fixed std of 1 (the paper's code): the Gaussian NLL is
    then 0.5 (c - mean)^2 + 0.5 log 2 pi per code.
    """
    if cat_logits.shape[1]:
        ce = F.cross_entropy(cat_logits.float().flatten(0, 1), cat.flatten(), reduction="sum") / len(cat_logits)
    else:
        ce = cat_logits.float().sum() * 0
    if mean.shape[1]:
        d = (cont.float() - mean.float())
        if log_std is None:
            nll = 0.5 * d.pow(2) + HALF_LOG_2PI
        else:
            ls = log_std.float()
            nll = ls + 0.5 * d.pow(2) * (-2 * ls).exp() + HALF_LOG_2PI
        gauss = nll.sum(1).mean()
    else:
        gauss = mean.float().sum() * 0
    return ce + gauss, ce, gauss


def code_entropy(n_cat: int, n_cat_codes: int, n_cont: int) -> float:
    """H(c) of the prior: n_cat_codes log n_cat + n_cont log 2 (U(-1, 1) codes), in nats."""
    return n_cat_codes * math.log(n_cat) + n_cont * math.log(2.0)
