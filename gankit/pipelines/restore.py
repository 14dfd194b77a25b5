"""Restoration pipelines: upscale and inpaint images with a trained run, and score runs.

    run = load_restorer("runs/sr", "srgan")          # or "context_encoder"
    big = upscale_image(run, "photo.png")            # PIL image, scale x larger
    out = inpaint_image(run, "photo.png", "mask.png")
    score_sr(run, sets=("test", "skimage"))          # PSNR/SSIM of SR vs bicubic
    score_inpaint(run)                               # hole PSNR/L1 vs mean fill and blur

Scoring protocol (recorded in every result): images float in [-1, 1]; PSNR on uint8-quantised
images (RGB and luma Y, ``crop`` border pixels removed, the SR convention is crop = scale),
SSIM as in :func:`gankit.editing.scoring.ssim` (Gaussian 11x11, sigma 1.5, on [-1, 1] RGB);
inpainting metrics inside the erased region only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from gankit.data.degrade import bicubic_down, bicubic_up
from gankit.data.images import is_image_file, open_image
from gankit.data.transforms import to_float, to_uint8
from gankit.editing.scoring import ssim
from gankit.errors import DataError, GankitError
from gankit.metrics.restoration import blur_fill, hole_l1, hole_psnr, psnr
from gankit.pipelines import Run, data_source, load_run

__all__ = ["load_restorer", "upscale_image", "upscale_folder", "inpaint_image", "score_sr", "score_inpaint",
           "read_mask"]


def load_restorer(path: str | os.PathLike, recipe: str, device: str = "cpu") -> Run:
    """A run of ``recipe`` ('srgan' or 'context_encoder'); another kind is a one-line error."""
    run = load_run(path, device)
    if run.cfg.recipe.name != recipe:
        what = {"srgan": "a super-resolution (srgan)", "context_encoder": "an inpainting (context_encoder)"}[recipe]
        raise GankitError(f"{path}: recipe '{run.cfg.recipe.name}' is not {what} run")
    return run


def _tensor(img: Image.Image) -> Tensor:
    a = np.asarray(img)
    t = torch.from_numpy(a.copy())
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    return to_float(t[None])


def _pil(x: Tensor) -> Image.Image:
    a = to_uint8(x[0]).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


def upscale_image(run: Run, image: str | os.PathLike) -> Image.Image:
    """``image`` (any size) super-resolved by the run's scale."""
    x = _tensor(open_image(image, run.cfg.data.channels))
    with run.recipe.sampling() as r:
        return _pil(r.upscale(x).float().cpu())


def upscale_folder(run: Run, folder: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Every image file in ``folder`` (not recursive) upscaled into ``out`` as PNG."""
    src = Path(folder)
    if not src.is_dir():
        raise DataError(f"--dir {folder}: not a folder")
    files = sorted(p for p in src.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise DataError(f"--dir {folder}: holds no image files (.png, .jpg, ...)")
    dst = Path(out)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for p in files:
        target = dst / (p.stem + ".png")
        upscale_image(run, p).save(target)
        written.append(target)
    return written


def read_mask(mask: str | os.PathLike, size: tuple[int, int]) -> Tensor:
    """A binary mask image (white = hole) of ``size`` (W, H) -> float [1, 1, H, W] in {0, 1}."""
    m = open_image(mask, 1)
    if m.size != size:
        raise DataError(f"{mask}: mask is {m.size[0]}x{m.size[1]} but the image is {size[0]}x{size[1]}; "
                        "expected a mask of the same size")
    a = np.asarray(m)
    values = np.unique(a)
    if not set(values.tolist()) <= {0, 255}:
        raise DataError(f"{mask}: mask is not binary ({len(values)} gray levels); expected black (keep) and white "
                        "(hole) pixels only, 0 or 255")
    if not (a == 255).any():
        raise DataError(f"{mask}: mask has no white (hole) pixels; nothing to inpaint")
    return torch.from_numpy((a == 255).astype(np.float32))[None, None]


def inpaint_image(run: Run, image: str | os.PathLike, mask: str | os.PathLike) -> Image.Image:
    """``image`` with the white pixels of ``mask`` filled by the run's context encoder.

    The network works at the run's resolution: image and mask are resized to it (mask by
    nearest neighbour), the prediction is resized back and pasted into the hole only, so every
    pixel outside the hole is returned unchanged."""
    img = open_image(image, run.cfg.data.channels)
    x = _tensor(img)
    m = read_mask(mask, img.size)
    r = run.cfg.data.resolution
    x_r = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
    m_r = F.interpolate(m, size=(r, r), mode="nearest")
    with run.recipe.sampling() as rec:
        pred = rec.inpaint(x_r, m_r).float().cpu()
    pred = F.interpolate(pred, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return _pil(x * (1 - m) + pred * m)


def _mean(t: Tensor) -> float:
    return round(float(t.mean()), 4)


def _images(source, limit: int) -> Tensor:
    from gankit.recipes.srgan import source_images

    n = len(source) if not limit else min(limit, len(source))
    return source_images(source, range(n))


def load_lpips(path: str | os.PathLike):
    """A user's TorchScript LPIPS network: ``net(x, y)`` on float [N, 3, H, W] in [-1, 1] ->
    distances [N] (or [N, 1, 1, 1]); the LPIPS package's convention with normalize=False."""
    import warnings

    p = Path(path).expanduser()
    if not p.is_file():
        raise GankitError(f"--lpips {path}: no such file (expected a TorchScript LPIPS network .pt)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.load(str(p), map_location="cpu").eval()
    except (RuntimeError, ValueError) as e:
        raise GankitError(f"--lpips {path}: not a TorchScript file ({str(e).strip()[:120] or type(e).__name__})") from None


def _sr_scores(run: Run, hr: Tensor, batch: int = 32, lpips=None) -> dict[str, Any]:
    r = run.recipe
    s = r.scale
    keys = ("psnr", "psnr_y", "ssim") + (("lpips",) if lpips is not None else ())
    rows: dict[str, list[Tensor]] = {t + k: [] for t in ("", "bicubic_") for k in keys}
    with r.sampling():
        for i in range(0, len(hr), batch):
            y = hr[i:i + batch]
            lr = bicubic_down(y, s)
            for tag, out in (("", r.upscale(lr).float().cpu()), ("bicubic_", bicubic_up(lr, s))):
                rows[tag + "psnr"].append(psnr(out, y, crop=s))
                rows[tag + "psnr_y"].append(psnr(out, y, y=True, crop=s))
                rows[tag + "ssim"].append(ssim(out, y))
                if lpips is not None:
                    rgb = (lambda t: t.expand(-1, 3, -1, -1))  # noqa: E731
                    rows[tag + "lpips"].append(lpips(rgb(out), rgb(y)).reshape(len(y), -1).mean(1).float())
    return {"images": len(hr), **{k: _mean(torch.cat(v)) for k, v in rows.items()}}


def score_sr(run: Run, sets: tuple[str, ...] = ("test",), limit: int = 0, lpips: str | None = None) -> dict[str, Any]:
    """PSNR/SSIM (and LPIPS with a user's network file) of the run's SR output vs the bicubic
    baseline on each set: 'test' (the run's data, test split when it has one), 'train', or
    'skimage' (out of domain)."""
    from gankit.config import DataConfig
    from gankit.data.sources import build_source

    out: dict[str, Any] = {"run": str(run.checkpoint), "step": run.step, "scale": run.recipe.scale,
                           "resolution": run.cfg.data.resolution,
                           "protocol": f"HR {run.cfg.data.resolution}px, LR = antialiased bicubic /{run.recipe.scale}; "
                                       f"PSNR on uint8 (RGB and Y), {run.recipe.scale} px border cropped; SSIM on RGB"}
    net = load_lpips(lpips) if lpips else None
    for name in sets:
        if name == "skimage":
            src = build_source(DataConfig(name="skimage", resolution=run.cfg.data.resolution, channels=run.cfg.data.channels))
        elif name in ("test", "train"):
            src = run.held_out() if name == "test" else data_source(run.cfg, "train")
        else:
            raise GankitError(f"score set {name!r}: expected test, train or skimage")
        out[name] = _sr_scores(run, _images(src, limit), lpips=net)
    return out


def score_inpaint(run: Run, limit: int = 0, blur_sigma: float | None = None, batch: int = 256) -> dict[str, Any]:
    """Hole PSNR/L1 of the context encoder vs the mean fill and a blur fill, on held-out images
    with the centre block the run's recipe uses (the erased region only)."""
    r = run.recipe
    x_all = _images(run.held_out(), limit)
    res = x_all.shape[-1]
    rows: dict[str, list[Tensor]] = {f"{m}_{k}": [] for m in ("model", "mean_fill", "blur_fill") for k in ("psnr", "l1")}
    sigma = blur_sigma
    with r.sampling():
        for i in range(0, len(x_all), batch):
            x = x_all[i:i + batch]
            erase, _, _, h = r.masks(x, "center")
            sigma = blur_sigma or max(1.0, h / 4)
            outs = {"model": r.inpaint(x, erase).float().cpu(), "mean_fill": r.masked_input(x, erase).cpu(),
                    "blur_fill": blur_fill(x, erase, sigma)}
            for m, o in outs.items():
                rows[f"{m}_psnr"].append(hole_psnr(o, x, erase))
                rows[f"{m}_l1"].append(hole_l1(o, x, erase))
    fill = r.fill.tolist() if r.fill is not None else None
    return {"run": str(run.checkpoint), "step": run.step, "images": len(x_all), "resolution": res,
            "protocol": f"centre hole {h}px (erased {int(erase[0].sum() ** 0.5)}px), held-out split; PSNR on uint8 and "
                        f"L1 in [-1,1] units inside the erased region; blur = normalised Gaussian sigma {sigma:g}",
            "fill": fill, **{k: _mean(torch.cat(v)) for k, v in rows.items()}}


def sr_figure(runs: list[Run], path: str | os.PathLike, sets: tuple[str, ...] = ("test",), n: int = 6) -> Path:
    """A PNG grid, one row per image (the first ``n`` of each set): nearest-neighbour LR |
    bicubic | each run's SR | HR. ``runs`` share a scale (e.g. the warm-up SRResNet checkpoint
    and the final SRGAN). Enlarged by nearest neighbour to about 96 px per tile."""
    from gankit.config import DataConfig
    from gankit.data.sources import build_source
    from gankit.editing.media import image_grid, save_png

    first = runs[0]
    s = first.recipe.scale
    cols = []
    for name in sets:
        src = (build_source(DataConfig(name="skimage", resolution=first.cfg.data.resolution,
                                       channels=first.cfg.data.channels))
               if name == "skimage" else first.held_out())
        hr = _images(src, n)
        lr = bicubic_down(hr, s)
        row = [F.interpolate(lr, scale_factor=s, mode="nearest"), bicubic_up(lr, s)]
        for run in runs:
            with run.recipe.sampling() as r:
                row.append(r.upscale(lr).float().cpu())
        row.append(hr)
        cols.append(torch.stack(row, 1).flatten(0, 1))
    return save_png(path, _enlarge(image_grid(torch.cat(cols), len(runs) + 3), hr.shape[-1]))


def inpaint_figure(run: Run, path: str | os.PathLike, n: int = 8) -> Path:
    """A PNG grid, one row per held-out image: masked input | blur fill | model | original
    (enlarged by nearest neighbour to about 96 px per tile)."""
    from gankit.editing.media import image_grid, save_png

    r = run.recipe
    x = _images(run.held_out(), n)
    with r.sampling():
        erase, _, _, h = r.masks(x, "center")
        row = [r.masked_input(x, erase).cpu(), blur_fill(x, erase, max(1.0, h / 4)), r.inpaint(x, erase).float().cpu(), x]
    return save_png(path, _enlarge(image_grid(torch.stack(row, 1).flatten(0, 1), 4), x.shape[-1]))


def _enlarge(grid: np.ndarray, tile: int, target: int = 96) -> np.ndarray:
    """Nearest-neighbour enlargement of a figure so small tiles are about ``target`` px wide."""
    k = max(1, target // tile)
    return grid.repeat(k, 0).repeat(k, 1) if k > 1 else grid
