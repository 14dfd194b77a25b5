"""Translate images with a pix2pix/CycleGAN run and score it against true counterparts.

    run = load_run("runs/cyc")
    y = translate(run, x, "a2b")                  # x float [N, C, R, R] in [-1, 1]
    report = score_translation(run, split="test")  # L1 / SSIM vs the real other-style drawing

Scoring needs a dataset with true counterparts (the emoji-styles folder: the same emoji drawn
by the other artist). Each metric is reported next to the do-nothing baseline (the input
itself compared with the target), so a number means "how much closer than not translating".
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError, GankitError

COUNTERPART_SOURCES = ("emoji_styles", "emoji_styles_unpaired")


def translator_of(run, where: str = "run"):
    """The run's recipe when it translates whole images (pix2pix, CycleGAN); else a one-line error."""
    from gankit.recipes.pix2pix import Translator

    if not isinstance(run.recipe, Translator):
        raise GankitError(f"{where}: recipe '{run.cfg.recipe.name}' is not an image translator (pix2pix or cyclegan)")
    return run.recipe


def translate(run, x: Tensor, direction: str = "a2b", batch: int = 64) -> Tensor:
    """Images x [N, C, R, R] in [-1, 1] (at the run's resolution) -> translations on the CPU."""
    rec = translator_of(run)
    r, c = run.cfg.data.resolution, run.cfg.data.channels
    if x.dim() != 4 or x.shape[1] != c or x.shape[-1] != r or x.shape[-2] != r:
        raise GankitError(f"translate: expected images [N, {c}, {r}, {r}], got {list(x.shape)}")
    outs = []
    with rec.sampling() as s:
        for i in range(0, len(x), batch):
            outs.append(s.translate(x[i:i + batch].to(run.device), direction).float().cpu())
    return torch.cat(outs)


def counterpart_source(cfg, split: str = "test"):
    """Aligned (a, b) pairs of the run's data on ``split``: every emoji drawn in both styles."""
    if cfg.data.name not in COUNTERPART_SOURCES:
        raise GankitError(f"dataset '{cfg.data.name}' has no true counterparts to score against (it is unpaired "
                          f"data without ground truth: use FID, e.g. gankit eval); scoring works on "
                          f"{', '.join(COUNTERPART_SOURCES)}")
    from gankit.data.translation import emoji_styles

    return emoji_styles(cfg.data.path or "data/emoji_styles64", split, cfg.data.domains, cfg.data.resolution, paired=True)


def _direction_pairs(source, direction: str) -> tuple[Tensor, Tensor]:
    from gankit.data.transforms import to_float

    if direction not in ("a2b", "b2a"):
        raise ConfigError(f"direction '{direction}': expected a2b or b2a")
    a, b = to_float(source.a_images), to_float(source.b_images)
    return (a, b) if direction == "a2b" else (b, a)


def score_pairs(pred: Tensor, x: Tensor, y: Tensor) -> dict[str, float]:
    """L1 (mean |.|, images in [-1, 1]) and SSIM of ``pred`` and of the input ``x`` against ``y``."""
    from gankit.editing.scoring import l1_per_image, ssim

    return {"l1": float(l1_per_image(pred, y).mean()), "ssim": float(ssim(pred, y).mean()),
            "baseline_l1": float(l1_per_image(x, y).mean()), "baseline_ssim": float(ssim(x, y).mean())}


def score_translation(run, split: str = "test", direction: str = "a2b", n: int = 0) -> dict:
    """L1 / SSIM of the run's translations of ``split`` against the true counterparts, next to
    the do-nothing baseline. ``n``: the first N pairs only (0 = all)."""
    src = counterpart_source(run.cfg, split)
    x, y = _direction_pairs(src, direction)
    if n:
        x, y = x[:n], y[:n]
    pred = translate(run, x, direction)
    out = score_pairs(pred, x, y)
    doms = getattr(src, "domains", ("A", "B"))
    frm, to = (doms[0], doms[1]) if direction == "a2b" else (doms[1], doms[0])
    out.update(pairs=len(x), split=split, direction=f"{frm} -> {to}", resolution=run.cfg.data.resolution,
               step=run.step, recipe=run.cfg.recipe.name)
    return out
