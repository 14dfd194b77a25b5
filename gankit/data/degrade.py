"""Degradations that derive a restoration model's input from a clean image, on the fly.

Deriving the input inside the step (not storing it as a second field) keeps it aligned with
the clean image after any flip the stream applies. Images are float [N, C, H, W] in [-1, 1].

* :func:`bicubic_down` / :func:`bicubic_up` -- antialiased bicubic resampling (torch's
  ``antialias=True`` bicubic follows PIL's ``Image.BICUBIC`` filter), clamped to [-1, 1].
* :func:`block_masks` -- square holes for inpainting: the centre block or one block at a
  random position per image; returns the erased region (the block shrunk by ``overlap`` px on
  each side) and the whole block (erased region + the overlap ring the loss weights more).
* :func:`fill_holes` -- the masked input: erased pixels set to a per-channel fill value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bicubic_down(x: Tensor, scale: int) -> Tensor:
    """[N, C, H, W] -> [N, C, H/scale, W/scale] (H, W divisible by ``scale``)."""
    if x.shape[-1] % scale or x.shape[-2] % scale:
        raise ValueError(f"image size {tuple(x.shape[-2:])} is not divisible by the scale {scale}")
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)


def bicubic_up(x: Tensor, scale: int) -> Tensor:
    """[N, C, h, w] -> [N, C, h*scale, w*scale]: the bicubic baseline of super-resolution."""
    size = (x.shape[-2] * scale, x.shape[-1] * scale)
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)


def hole_size(resolution: int, hole: float) -> int:
    """Side in pixels of a hole that is ``hole`` (a fraction) of the image side (>= 1)."""
    return max(1, min(resolution, int(round(hole * resolution))))


def block_masks(n: int, resolution: int, hole: int, overlap: int, mode: str = "center",
                rng: torch.Generator | None = None, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
    """(erase [N, 1, R, R], block [N, 1, R, R], corners long [N, 2] (top, left)), masks in {0, 1}.

    mode 'center': the centred ``hole`` x ``hole`` block; 'random': a block at a uniform
    position per image drawn from ``rng`` (on its own device). erase = the block without its
    outer ``overlap`` px ring (Pathak et al.: the prediction overlaps the context)."""
    if mode == "center":
        corners = torch.full((n, 2), (resolution - hole) // 2, dtype=torch.long)
    elif mode == "random":
        if rng is None:
            raise ValueError("random block masks need a generator")
        corners = torch.randint(0, resolution - hole + 1, (n, 2), generator=rng, device=rng.device).cpu()
    else:
        raise ValueError(f"mask mode {mode!r}: expected center or random")
    ar = torch.arange(resolution)
    rows = (ar[None, :] >= corners[:, :1]) & (ar[None, :] < corners[:, :1] + hole)  # [N, R]
    cols = (ar[None, :] >= corners[:, 1:]) & (ar[None, :] < corners[:, 1:] + hole)
    block = (rows[:, :, None] & cols[:, None, :]).float()[:, None]
    o = min(overlap, (hole - 1) // 2)
    rows_e = (ar[None, :] >= corners[:, :1] + o) & (ar[None, :] < corners[:, :1] + hole - o)
    cols_e = (ar[None, :] >= corners[:, 1:] + o) & (ar[None, :] < corners[:, 1:] + hole - o)
    erase = (rows_e[:, :, None] & cols_e[:, None, :]).float()[:, None]
    return erase.to(device), block.to(device), corners


def fill_holes(x: Tensor, erase: Tensor, fill: Tensor) -> Tensor:
    """x with the erased pixels set to ``fill`` (per channel [C], broadcast)."""
    return x * (1 - erase) + fill.to(x.device, x.dtype).view(1, -1, 1, 1) * erase


def crop_blocks(x: Tensor, corners: Tensor, hole: int) -> Tensor:
    """The ``hole`` x ``hole`` block of each image at ``corners`` -> [N, C, hole, hole]."""
    if bool((corners == corners[:1]).all()):
        t, l = int(corners[0, 0]), int(corners[0, 1])
        return x[:, :, t:t + hole, l:l + hole]
    return torch.stack([x[i, :, int(t):int(t) + hole, int(l):int(l) + hole] for i, (t, l) in enumerate(corners)])
