"""InfoGAN's networks (Chen et al. 2016, the MNIST architecture of its appendix C.1).

G: [noise, one-hot codes, continuous codes] -> FC ``fc``-BN-ReLU -> FC (R/4)^2 x 2w -BN-ReLU ->
4x4 up-conv w (stride 2) BN ReLU -> 4x4 up-conv ``channels`` (stride 2) -> tanh (w = ``width``,
64 in the paper; fc = 1024). D: 4x4 conv w (stride 2) lReLU -> 4x4 conv 2w (stride 2) BN lReLU
-> FC ``fc`` BN lReLU = the shared trunk; D's head: FC -> 1 logit; Q's head: FC ``q_hidden``
(128) BN lReLU -> FC to the code parameters. Leaky ReLU slope 0.1 as in the paper.

The latent. The generator follows gankit's noise contract: ``G(z)`` with z ~ N(0, I) of
``G.z_dim = noise + n_cat_codes * n_cat + n_cont`` dims, so every sampler (grids, FID,
``gankit sample``, the editing tools) draws InfoGAN's latent distribution without knowing it.
``G.codes(z)`` reads the codes out of z: each categorical code is the argmax of its ``n_cat``
Gaussian slots (exactly uniform over the categories, by symmetry) and each continuous code is
erf(z / sqrt 2) = 2 Phi(z) - 1 (exactly uniform on (-1, 1), the paper's prior). The noise part
is used as it is (N(0, 1); the paper's code used U(-1, 1) noise). ``G.synthesize(noise, cat,
cont)`` takes the codes directly, e.g. a continuous code swept beyond (-1, 1) in a traversal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min
from gankit.nn.layers import check_choice

Q_STDS = ("fixed", "learned")


def _check_codes(resolution: int, n_cat: int, n_cat_codes: int, n_cont: int) -> None:
    if resolution % 4:
        raise ValueError(f"resolution must be a multiple of 4 (two stride-2 layers), got {resolution}")
    check_min(0, n_cat_codes=n_cat_codes, n_cont=n_cont)
    if n_cat_codes:
        check_min(2, n_cat=n_cat)
    if n_cat_codes + n_cont == 0:
        raise ValueError("InfoGAN needs at least one code: n_cat_codes or n_cont must be >= 1")


@GENERATORS.register("infogan")
class InfoGANGenerator(nn.Module):
    """z [N, z_dim] -> images [N, C, R, R] in [-1, 1]; R a multiple of 4 (28 for MNIST).

    Constructor ``z_dim`` (``model.z_dim``) is the noise size (62 in the paper); the attribute
    ``z_dim`` is the whole input size (noise + codes), as the noise contract requires.
    """

    kind = "noise"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, n_cat: int = 10,
                 n_cat_codes: int = 1, n_cont: int = 2, width: int = 64, fc: int = 1024):
        super().__init__()
        if n_classes:
            raise ValueError(f"n_classes={n_classes}: InfoGAN is unsupervised, the generator takes no class labels (leave data.labels off)")
        _check_codes(resolution, n_cat, n_cat_codes, n_cont)
        check_min(1, channels=channels, z_dim=z_dim, width=width, fc=fc)
        self.noise_dim, self.n_cat, self.n_cat_codes, self.n_cont = z_dim, n_cat, n_cat_codes, n_cont
        self.z_dim = z_dim + n_cat_codes * n_cat + n_cont
        self.n_classes = 0
        self.base = (2 * width, resolution // 4, resolution // 4)
        self.fc = nn.Sequential(
            nn.Linear(self.z_dim, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(True),
            nn.Linear(fc, 2 * width * (resolution // 4) ** 2, bias=False), nn.BatchNorm1d(2 * width * (resolution // 4) ** 2),
            nn.ReLU(True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())

    def codes(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(categories long [N, n_cat_codes], continuous codes [N, n_cont] in (-1, 1)) of z."""
        a = self.noise_dim
        b = a + self.n_cat_codes * self.n_cat
        cat = z[:, a:b].reshape(len(z), self.n_cat_codes, self.n_cat).argmax(-1)
        cont = torch.erf(z[:, b:] / math.sqrt(2.0))
        return cat, cont

    def synthesize(self, noise: Tensor, cat: Tensor, cont: Tensor) -> Tensor:
        """Images from noise [N, noise_dim], categories long [N, n_cat_codes] and continuous
        codes [N, n_cont] (any real values; training draws them from (-1, 1))."""
        onehot = F.one_hot(cat, self.n_cat).flatten(1).to(noise.dtype) if self.n_cat_codes else noise[:, :0]
        h = self.fc(torch.cat([noise, onehot, cont.to(noise.dtype)], 1))
        return self.up(h.view(-1, *self.base))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        cat, cont = self.codes(z)
        return self.synthesize(z[:, :self.noise_dim], cat, cont)


@DISCRIMINATORS.register("infogan")
class InfoGANDiscriminator(nn.Module):
    """images -> logits [N] (``forward``), with the Q head on the same trunk.

    ``features(x)`` -> trunk features [N, fc]; ``head(h)`` -> logits [N]; ``q(h)`` -> (category
    logits [N, n_cat_codes, n_cat] (raw: never softmaxed here), means [N, n_cont], log-stds
    [N, n_cont] or None when ``q_std`` is ``fixed`` (std 1, as in the paper's code)).
    ``n_cat``, ``n_cat_codes`` and ``n_cont`` are the generator's: the infogan recipe gives both
    networks its ``recipe.kwargs`` values.
    """

    def __init__(self, resolution: int, channels: int, n_classes: int = 0, n_cat: int = 10, n_cat_codes: int = 1,
                 n_cont: int = 2, width: int = 64, fc: int = 1024, q_hidden: int = 128, q_std: str = "fixed"):
        super().__init__()
        if n_classes:
            raise ValueError(f"n_classes={n_classes}: InfoGAN is unsupervised, the discriminator takes no class labels (leave data.labels off)")
        _check_codes(resolution, n_cat, n_cat_codes, n_cont)
        check_min(1, channels=channels, width=width, fc=fc, q_hidden=q_hidden)
        check_choice("model.discriminator.q_std", q_std, Q_STDS)
        self.n_cat, self.n_cat_codes, self.n_cont, self.q_std = n_cat, n_cat_codes, n_cont, q_std
        r4 = resolution // 4
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.1, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.1, True),
            nn.Flatten(), nn.Linear(2 * width * r4 * r4, fc, bias=False), nn.BatchNorm1d(fc), nn.LeakyReLU(0.1, True))
        self.head = nn.Linear(fc, 1)
        n_out = n_cat_codes * n_cat + n_cont * (2 if q_std == "learned" else 1)
        self.q_net = nn.Sequential(nn.Linear(fc, q_hidden, bias=False), nn.BatchNorm1d(q_hidden), nn.LeakyReLU(0.1, True),
                                   nn.Linear(q_hidden, n_out))

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x)

    def q(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        out = self.q_net(h)
        k = self.n_cat_codes * self.n_cat
        cat_logits = out[:, :k].reshape(len(out), self.n_cat_codes, self.n_cat)
        mean = out[:, k:k + self.n_cont]
        log_std = out[:, k + self.n_cont:] if self.q_std == "learned" else None
        return cat_logits, mean, log_std

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.head(self.features(x)).squeeze(1)


def traversal_codes(g: InfoGANGenerator, noise: Tensor, code: int, steps: int = 9, lo: float = -2.0, hi: float = 2.0,
                    cat_code: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """The latents of a traversal: rows = the categories of categorical code ``cat_code`` (one
    row when there is none), columns = continuous code ``code`` swept from ``lo`` to ``hi``
    (one column when there is none); every other code 0 (categories: 0) and the same
    ``noise`` [noise_dim] everywhere. Returns (noise, cat, cont) of n_rows * steps images."""
    rows = g.n_cat if g.n_cat_codes else 1
    cols = steps if g.n_cont else 1
    if g.n_cont and not 0 <= code < g.n_cont:
        raise ValueError(f"continuous code {code}: this generator has {g.n_cont} (0..{g.n_cont - 1})")
    if g.n_cat_codes and not 0 <= cat_code < g.n_cat_codes:
        raise ValueError(f"categorical code {cat_code}: this generator has {g.n_cat_codes}")
    n = rows * cols
    cat = torch.zeros(n, g.n_cat_codes, dtype=torch.long)
    if g.n_cat_codes:
        cat[:, cat_code] = torch.arange(rows).repeat_interleave(cols)
    cont = torch.zeros(n, g.n_cont)
    if g.n_cont:
        cont[:, code] = torch.linspace(lo, hi, cols).repeat(rows)
    return noise.reshape(1, -1).expand(n, -1), cat, cont
