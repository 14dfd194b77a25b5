"""Conditional re-generation of a real image (the acGAN route, Antipov et al. 2017).

A class-conditional generator G(z, c) draws a class (e.g. an age group) from a latent z. To
move a *real* image x of class c_src to class c_dst:

1. an encoder E, trained on G's own samples to return their z (Euclidean loss on z), gives a
   first guess z0 = E(x) (:func:`train_encoder`);
2. z is optimised so that G(z, c_src) reconstructs x (the paper's "local identity-preserving"
   optimisation, which there minimises a face-recognition feature distance; here the distance
   is pixel multi-scale L1 plus, optionally, a feature network) (:func:`fit_latent`);
3. the edit is G(z*, c_dst) (:func:`conditional_edit`).

Only the latent changes between the reconstruction and the edit, so identity is carried by z and
the class by c. Works with any generator taking ``(z, labels)`` with a ``z_dim`` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.editing.projection import multiscale_l1
from gankit.errors import GankitError


class LatentEncoder(nn.Module):
    """Images [N, C, R, R] in [-1, 1] -> latents [N, z_dim]: stride-2 convs down to 4x4, then linear."""

    def __init__(self, resolution: int, channels: int, z_dim: int, width: int = 32):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise GankitError(f"latent encoder: resolution {resolution} must be a power of two >= 4")
        layers: list[nn.Module] = []
        ch, r, out = channels, resolution, width
        while r > 4:
            layers += [nn.Conv2d(ch, out, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch, r, out = out, r // 2, min(out * 2, 256)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(ch * 16, z_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1))


def _check_conditional(G: nn.Module) -> tuple[int, int]:
    z_dim, n_classes = getattr(G, "z_dim", None), getattr(G, "n_classes", 0)
    if not z_dim or not n_classes:
        raise GankitError(f"conditional edit needs a class-conditional generator (z_dim and n_classes > 0), "
                          f"got {type(G).__name__} with n_classes={n_classes}")
    return int(z_dim), int(n_classes)


def train_encoder(G: nn.Module, resolution: int, channels: int, steps: int = 1000, batch: int = 64,
                  lr: float = 1e-3, width: int = 32, seed: int = 0, device: str | torch.device = "cpu",
                  log=None) -> LatentEncoder:
    """Fit E so that E(G(z, c)) ~ z on fresh samples (z ~ N(0, I), c uniform), MSE on z."""
    z_dim, n_classes = _check_conditional(G)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    E = LatentEncoder(resolution, channels, z_dim, width).to(device)
    opt = torch.optim.Adam(E.parameters(), lr=lr)
    G = G.eval()
    for step in range(steps):
        z = torch.randn(batch, z_dim, generator=g).to(device)
        c = torch.randint(0, n_classes, (batch,), generator=g).to(device)
        with torch.no_grad():
            x = G(z, c).float()
        loss = F.mse_loss(E(x), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step + 1) % max(1, steps // 5) == 0:
            log(f"encoder step {step + 1}/{steps}: z mse {loss.item():.4f}")
    return E.eval().requires_grad_(False)


@dataclass
class LatentFit:
    z: Tensor          # [N, z_dim] the fitted latents
    start: Tensor      # [N, z_dim] the encoder's guess
    distance: list[float]  # per-image distance after the fit
    start_distance: list[float]


def _distance(x: Tensor, y: Tensor, features: nn.Module | None, feature_weight: float) -> Tensor:
    """Per-image pixel multi-scale L1 (+ weighted feature MSE): [N]."""
    d = torch.stack([multiscale_l1(x[i:i + 1], y[i:i + 1]).sum() for i in range(len(x))])
    if features is not None and feature_weight > 0:
        d = d + feature_weight * (features(x) - features(y)).flatten(1).square().mean(1)
    return d


def fit_latent(G: nn.Module, x: Tensor, c: Tensor, E: nn.Module | None = None, steps: int = 200, lr: float = 0.05,
               features: nn.Module | None = None, feature_weight: float = 1.0, prior_weight: float = 1e-3) -> LatentFit:
    """Optimise z (from E(x), or zeros without an encoder) so that G(z, c) ~ x; a small Gaussian
    prior (``prior_weight * |z|^2 / z_dim``) keeps z where G was trained. x: [N, C, R, R] in
    [-1, 1]; c: [N] labels of x's class."""
    z_dim, n_classes = _check_conditional(G)
    if steps < 0:
        raise GankitError(f"latent fit steps must be >= 0, got {steps}")
    if len(c) != len(x) or int(c.min()) < 0 or int(c.max()) >= n_classes:
        raise GankitError(f"labels {c.tolist()} do not fit {len(x)} images and {n_classes} classes")
    p = next(G.parameters())
    x, c = x.to(p.device, torch.float32), c.to(p.device)
    G = G.eval()
    for q in G.parameters():
        q.requires_grad_(False)
    with torch.no_grad():
        start = E(x) if E is not None else torch.zeros(len(x), z_dim, device=p.device)
        d0 = _distance(G(start, c).float(), x, features, feature_weight)
    z = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        d = _distance(G(z, c).float(), x, features, feature_weight)
        loss = d.sum() + prior_weight * z.square().mean(1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        d1 = _distance(G(z, c).float(), x, features, feature_weight)
    return LatentFit(z.detach(), start.detach(), d1.tolist(), d0.tolist())


@torch.no_grad()
def conditional_edit(G: nn.Module, z: Tensor, c_dst: Tensor) -> Tensor:
    """G(z, c_dst) on the CPU, float, in [-1, 1]."""
    p = next(G.parameters())
    return G.eval()(z.to(p.device), c_dst.to(p.device)).float().cpu()
