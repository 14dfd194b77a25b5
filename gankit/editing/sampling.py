"""Seeded sampling views of a noise or style generator: samples with a truncation and a class,
style-mixing grids, latent interpolation strips.

Every function takes a generator in eval mode (``Run.net``) and returns float images
[N, C, R, R] in about [-1, 1] on the CPU. Seeds fix the images whatever the device: latents are
drawn from a CPU ``torch.Generator`` (as :func:`gankit.models.contracts.sample_noise` does), so
``sample_images(G, n, seed)`` equals ``Run.sample(n, seed)`` for truncation 1 and random labels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.models.contracts import declared_kind, generate

__all__ = ["sample_images", "seed_ws", "mixing_grid", "interpolation", "slerp"]


def _device(g: nn.Module) -> torch.device:
    return next(g.parameters()).device


def _labels(g: nn.Module, n: int, label: int | None, rng: torch.Generator) -> Tensor | None:
    nc = int(getattr(g, "n_classes", 0) or 0)
    if nc <= 0:
        if label is not None:
            raise GankitError("this generator is not class-conditional (no label to choose)")
        return None
    if label is None:
        return torch.randint(0, nc, (n,), generator=rng)
    if not 0 <= label < nc:
        raise GankitError(f"class {label}: expected 0..{nc - 1}")
    return torch.full((n,), int(label), dtype=torch.long)


def _check_truncation(g: nn.Module, truncation: float) -> None:
    if truncation != 1.0 and declared_kind(g) != "style":
        raise GankitError("truncation needs a style generator (a W space with w_avg)")
    if not 0.0 <= truncation <= 2.0:
        raise GankitError(f"truncation {truncation}: expected a value in [0, 2]")


@torch.no_grad()
def sample_images(g: nn.Module, n: int, seed: int, truncation: float = 1.0, label: int | None = None) -> Tensor:
    """``n`` images from ``seed``: z ~ N(0, I) [n, z_dim], then class labels (``label`` for all,
    or uniform when None) from the same CPU generator; a style generator's per-layer noise too.
    truncation psi (style only): w' = w_avg + psi (w - w_avg)."""
    if n < 1:
        raise GankitError(f"count {n}: expected at least 1")
    _check_truncation(g, truncation)
    rng = torch.Generator().manual_seed(int(seed))
    dev = _device(g)
    z = torch.randn(n, int(g.z_dim), generator=rng)
    c = _labels(g, n, label, rng)
    z, c = z.to(dev), (None if c is None else c.to(dev))
    if declared_kind(g) == "style":
        return g(z, c, truncation=truncation, generator=rng).float().cpu()
    return generate(g, z, c, rng).float().cpu()


def seed_ws(g: nn.Module, seeds: list[int], truncation: float = 1.0, label: int | None = None) -> Tensor:
    """W latents [len(seeds), num_ws, w_dim] of a style generator, one seed per row (z, then the
    label, drawn as in ``sample_images(g, 1, seed)``)."""
    out = []
    for s in seeds:
        rng = torch.Generator().manual_seed(int(s))
        z = torch.randn(1, int(g.z_dim), generator=rng)
        c = _labels(g, 1, label, rng)
        with torch.no_grad():
            out.append(g.mapping(z.to(_device(g)), None if c is None else c.to(_device(g)), truncation))
    return torch.cat(out)


@torch.no_grad()
def mixing_grid(g: nn.Module, row_seeds: list[int], col_seeds: list[int], crossover: int,
                truncation: float = 1.0, label: int | None = None) -> tuple[Tensor, int]:
    """StyleGAN's style-mixing figure. Layout (row-major, ``len(col_seeds) + 1`` per row):
    the first row is a blank then the column sources; each further row is a row source then its
    mixes, which take the row source's ws for layers < ``crossover`` (coarse: pose, shape) and
    the column source's from ``crossover`` on (fine: colours, texture). Fixed noise maps.
    Returns (images [(R+1)*(K+1), C, r, r], K+1)."""
    if declared_kind(g) != "style":
        raise GankitError("style mixing needs a style generator (a W space)")
    if not row_seeds or not col_seeds:
        raise GankitError("style mixing: give at least one row seed and one column seed")
    if not 1 <= crossover < g.num_ws:
        raise GankitError(f"crossover layer {crossover}: expected 1..{g.num_ws - 1}")
    _check_truncation(g, truncation)
    wa, wb = seed_ws(g, row_seeds, truncation, label), seed_ws(g, col_seeds, truncation, label)
    render = lambda ws: g.synthesis(ws, noise_mode="const").float().cpu()  # noqa: E731
    ia, ib = render(wa), render(wb)
    blank = torch.ones_like(ib[:1])  # white
    rows = [torch.cat([blank, ib])]
    for i in range(len(wa)):
        mix = wb.clone()
        mix[:, :crossover] = wa[i:i + 1, :crossover]
        rows.append(torch.cat([ia[i:i + 1], render(mix)]))
    return torch.cat(rows), len(col_seeds) + 1


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows a, b [N, D] at t [T] -> [T, D] (N = 1): the path a
    Gaussian latent follows without passing through the low-norm middle."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))  # [N]
    so = torch.sin(omega)
    t = t.view(-1, 1)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.no_grad()
def interpolation(g: nn.Module, seed_a: int, seed_b: int, steps: int, truncation: float = 1.0,
                  label: int | None = None) -> Tensor:
    """``steps`` images from seed_a's latent to seed_b's (both ends included): linear in W for a
    style generator (fixed noise maps), spherical in z otherwise. -> [steps, C, R, R]."""
    if steps < 2:
        raise GankitError(f"interpolation steps {steps}: expected at least 2")
    _check_truncation(g, truncation)
    t = torch.linspace(0, 1, steps)
    if declared_kind(g) == "style":
        wa, wb = seed_ws(g, [seed_a], truncation, label), seed_ws(g, [seed_b], truncation, label)
        ws = wa + t.view(-1, 1, 1).to(wa) * (wb - wa)
        return g.synthesis(ws, noise_mode="const").float().cpu()
    za, zb = (torch.randn(1, int(g.z_dim), generator=torch.Generator().manual_seed(int(s))) for s in (seed_a, seed_b))
    z = slerp(za, zb, t).to(_device(g))
    c = _labels(g, 1, label, torch.Generator().manual_seed(int(seed_a)))
    c = None if c is None else c.expand(steps).to(_device(g))
    return generate(g, z, c, torch.Generator().manual_seed(int(seed_a))).float().cpu()
