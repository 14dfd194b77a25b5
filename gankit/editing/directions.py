"""Edit directions in W: from exemplar sets and from labels (a linear boundary).

- Exemplars (seed 003): project k images with an attribute and k without; the direction is
  ``mean(w_with) - mean(w_without)``. Seed 003 used a single pair and saw failures on
  misaligned faces; averaging over k aligned exemplars is the fix, so sets of any size work.
- Labels (InterFaceGAN, Shen et al. 2020): sample w, score the images with a user-supplied
  classifier, fit a logistic-regression boundary in W; the unit normal is the direction.

Directions are vectors [w_dim] (apply to every layer) or [num_ws, w_dim] (W+), saved as
safetensors with the key ``direction``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.io import atomic_path


def exemplar_direction(w_with: Tensor, w_without: Tensor) -> Tensor:
    """w_with [K, ...], w_without [M, ...] (same trailing shape: [w_dim] or [num_ws, w_dim])
    -> mean(w_with) - mean(w_without), shape [...]. Not normalized: alpha = 1 moves the mean
    of one set onto the mean of the other."""
    if w_with.dim() < 2 or w_without.dim() < 2 or w_with.shape[1:] != w_without.shape[1:]:
        raise GankitError(f"exemplar latents must be stacked [K, ...] with equal trailing shapes, got "
                          f"{tuple(w_with.shape)} and {tuple(w_without.shape)}")
    if len(w_with) == 0 or len(w_without) == 0:
        raise GankitError("exemplar direction: both sets need at least one latent")
    return w_with.double().mean(0).sub(w_without.double().mean(0)).to(w_with.dtype)


def fit_linear_boundary(w: Tensor, labels: Tensor, steps: int = 300, l2: float = 1e-3,
                        weights: Tensor | None = None) -> tuple[Tensor, float]:
    """Logistic regression in W. w [N, D]; labels [N] in {0, 1} (or soft, in [0, 1]).

    Features are standardized for conditioning, the fit is full-batch L-BFGS with an L2 penalty,
    and the normal is mapped back to W coordinates. Returns (unit normal [D] pointing toward
    label 1, offset b so that the boundary is {w: <n, w> + b = 0})."""
    if w.dim() != 2 or labels.shape != (w.shape[0],):
        raise GankitError(f"boundary fit: expected w [N, D] and labels [N], got {tuple(w.shape)} and {tuple(labels.shape)}")
    y = labels.double()
    if not bool((y > 0.5).any()) or not bool((y < 0.5).any()):
        raise GankitError("boundary fit: labels are all one class; the scorer separates nothing")
    x = w.double()
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-8)
    xs = (x - mu) / sd
    a = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    sw = torch.ones_like(y) if weights is None else weights.double()
    opt = torch.optim.LBFGS([a, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xs @ a + b
        loss = (nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * sw).mean()
        loss = loss + l2 * a.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        normal = a / sd  # <a, (w - mu)/sd> + b = <a/sd, w> + b - <a/sd, mu>
        offset = float(b - (normal * mu).sum())
        norm = normal.norm().clamp_min(1e-12)
    return (normal / norm).to(w.dtype), offset / float(norm)


@torch.no_grad()
def sample_scored(G: nn.Module, scorer: Callable[[Tensor], Tensor], n: int = 2000, batch: int = 64,
                  truncation: float = 1.0, generator: torch.Generator | None = None,
                  device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """Sample n latents, map to W, render, score. scorer: images float [B, C, R, R] in [-1, 1]
    -> scores [B] (probabilities or logits). Returns (w [n, w_dim] CPU, scores [n] CPU)."""
    ws, scores = [], []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        z = torch.randn(b, G.z_dim, generator=generator).to(device)
        w = G.mapping(z, None, truncation, update_w_avg=False)
        img = G.synthesis(w, noise_mode="const").float().clamp(-1, 1)
        s = scorer(img)
        s = s.reshape(b, -1)[:, 0] if s.dim() > 1 else s
        ws.append(w[:, 0].float().cpu())
        scores.append(s.float().cpu())
    return torch.cat(ws), torch.cat(scores)


def label_direction(G: nn.Module, scorer: Callable[[Tensor], Tensor], n: int = 2000, threshold: float | None = None,
                    keep: float = 1.0, **sample_kw) -> tuple[Tensor, dict]:
    """Direction from labels: score n samples, label them ``score > threshold``, fit a boundary.

    threshold None = the median score (balanced classes, whatever the scorer's scale); pass 0.5
    for probabilities or 0 for logits to use the classifier's own decision.

    keep < 1 fits only the ``keep/2`` most and least confident ends (InterFaceGAN keeps the
    extremes, where the labels are reliable). Returns (unit normal [w_dim], info dict with
    offset, counts and the training accuracy)."""
    w, s = sample_scored(G, scorer, n, **sample_kw)
    if keep < 1.0:
        order = s.argsort()
        m = max(1, int(len(s) * keep / 2))
        idx = torch.cat([order[:m], order[-m:]])
        w, s = w[idx], s[idx]
    thr = float(s.median()) if threshold is None else threshold
    labels = (s > thr).float()
    normal, offset = fit_linear_boundary(w, labels)
    acc = float((((w @ normal + offset) > 0).float() == labels).float().mean())
    return normal, {"offset": offset, "threshold": thr, "n": len(labels), "positives": int(labels.sum()), "train_accuracy": acc}


def normalize(direction: Tensor) -> Tensor:
    """Unit L2 norm over all elements (a zero vector is an error)."""
    norm = direction.norm()
    if float(norm) == 0.0:
        raise GankitError("direction is the zero vector (the two exemplar sets have the same mean)")
    return direction / norm


def save_direction(path: str | Path, direction: Tensor, meta: dict | None = None) -> Path:
    """Write a direction ([w_dim] or [num_ws, w_dim]) as safetensors with key ``direction``."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise GankitError(f"{path}: direction files end in .safetensors")
    with atomic_path(path) as tmp:
        save_file({"direction": direction.detach().float().cpu().contiguous()}, str(tmp),
                  metadata={k: str(v) for k, v in (meta or {}).items()})
    return path


def load_direction(path: str | Path) -> Tensor:
    """Read a direction file (or a latent-like file whose only tensor is the direction)."""
    from gankit.editing.media import load_latent

    t = load_latent(path)
    if "direction" in t:
        return t["direction"]
    if len(t) == 1:
        return next(iter(t.values()))
    raise GankitError(f"{path}: expected a tensor named 'direction' (found {', '.join(sorted(t))})")


def apply_direction(ws: Tensor, direction: Tensor, alphas) -> Tensor:
    """ws [num_ws, w_dim]; direction [w_dim] or [num_ws, w_dim]; alphas [A] -> [A, num_ws, w_dim]
    with ws + alpha * direction (broadcast over layers)."""
    a = torch.as_tensor(alphas, dtype=ws.dtype).view(-1, 1, 1)
    d = direction.to(ws.dtype)
    if d.dim() == 1:
        d = d.view(1, -1)
    if d.shape[-1] != ws.shape[-1] or d.shape[0] not in (1, ws.shape[0]):
        raise GankitError(f"direction shape {tuple(direction.shape)} does not fit latent {tuple(ws.shape)}")
    return ws.unsqueeze(0) + a * d.unsqueeze(0)


def gather_exemplars(spec: str | Path) -> list[Path]:
    """A folder (its images and latent files, sorted, not recursive) or comma-separated files."""
    from gankit.data.images import is_image_file
    from gankit.editing.media import LATENT_SUFFIXES

    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and (is_image_file(f) or f.suffix.lower() in LATENT_SUFFIXES))
    else:
        files = [Path(s) for s in str(spec).split(",") if s]
    missing = [f for f in files if not f.is_file()]
    if missing or not files:
        raise GankitError(f"{missing[0] if missing else spec}: expected a folder of images/latents or existing files")
    return files


def exemplar_latents(files: list[Path], project_image: Callable[[Path, int], Tensor] | None = None) -> Tensor:
    """Stack the W latents of ``files`` -> [K, num_ws, w_dim]: latent files (``ws``) are read,
    images are passed to ``project_image(path, index)`` (a projection returning ws)."""
    from gankit.data.images import is_image_file
    from gankit.editing.media import load_latent

    out = []
    for i, f in enumerate(files):
        if is_image_file(f):
            if project_image is None:
                raise GankitError(f"{f}: an image needs --ckpt (a generator to project it with)")
            out.append(project_image(Path(f), i))
        else:
            t = load_latent(f)
            if "ws" not in t:
                raise GankitError(f"{f}: latent file has no 'ws' (a W latent from gankit project)")
            out.append(t["ws"])
    shapes = {tuple(w.shape) for w in out}
    if len(shapes) > 1:
        raise GankitError(f"exemplar latents have different shapes {sorted(shapes)}")
    return torch.stack(out)


def exemplar_set_direction(w_with: Tensor, w_without: Tensor, unit: bool = False) -> Tensor:
    """:func:`exemplar_direction`, one vector [w_dim] when every latent is a W (not W+) latent
    (all its rows equal), normalized to unit length with ``unit``."""
    d = exemplar_direction(w_with, w_without)
    d = d[0] if d.dim() == 2 and bool((d == d[0:1]).all()) else d
    return normalize(d) if unit else d


__all__ = ["exemplar_direction", "fit_linear_boundary", "sample_scored", "label_direction", "normalize",
           "save_direction", "load_direction", "apply_direction", "gather_exemplars", "exemplar_latents",
           "exemplar_set_direction"]
