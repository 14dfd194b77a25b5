"""Translate images with a pix2pix/CycleGAN run and score it against true counterparts.

    run = load_run("runs/cyc")
    y = translate(run, x, "a2b")                  # x float [N, C, R, R] in [-1, 1]
    report = score_translation(run, split="test")  # L1 / SSIM vs the real other-style drawing

L1 / SSIM need a dataset with true counterparts (the emoji-styles folder: the same emoji drawn
by the other artist). FID / KID (``fid=True``) also work without them (Fashion-MNIST class pairs,
two folders of your own): the translations of one domain against the real images of the other.
Each metric is reported next to the do-nothing baseline (the input itself compared with the
target), so a number means "how much closer than not translating".
"""

from __future__ import annotations

import copy

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


def _no_counterparts(cfg) -> GankitError:
    return GankitError(f"dataset '{cfg.data.name}' has no true counterparts to score against (it is unpaired "
                       f"data without ground truth: score it with FID, gankit score-translation --fid); "
                       f"L1/SSIM work on {', '.join(COUNTERPART_SOURCES)}")


def _reads_split(cfg) -> bool:
    """Whether the run's dataset has splits (unpaired_folders has none: every image)."""
    from gankit.data.sources import READS

    return "split" in READS.get(cfg.data.name, set())


def counterpart_source(cfg, split: str = "test"):
    """Aligned (a, b) pairs of the run's data on ``split``: every emoji drawn in both styles."""
    if cfg.data.name not in COUNTERPART_SOURCES:
        raise _no_counterparts(cfg)
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


def unpaired_source(cfg, split: str = "test"):
    """Both domains of an unpaired dataset without counterparts (fashion_pairs: ``split`` of
    Fashion-MNIST; unpaired_folders: every image, it has no split)."""
    from gankit.data.sources import build_source

    d = copy.deepcopy(cfg.data)
    d.limit = 0
    if _reads_split(cfg):
        if split not in ("train", "test"):
            raise GankitError(f"--split {split}: expected train or test for '{cfg.data.name}'")
        d.split = split
    src = build_source(d)
    if not (hasattr(src, "a_images") and hasattr(src, "b_images")):
        raise GankitError(f"dataset '{cfg.data.name}' is not two image domains; scoring a translation needs them")
    return src


def distribution_scores(pred: Tensor, x: Tensor, y: Tensor, extractor, kid_subset_size: int = 1000,
                        seed: int = 0, progress: bool = False) -> dict:
    """FID and KID of the translations ``pred`` and of the inputs ``x`` (the do-nothing baseline)
    against the real target-domain images ``y`` (all float [-1, 1]); features by ``extractor``
    (uint8 images -> [N, D]), each set extracted once."""
    from gankit.data.transforms import to_uint8
    from gankit.metrics.api import protocol_string
    from gankit.metrics.features import extract_features
    from gankit.metrics.fid import fid_from_features
    from gankit.metrics.kid import kid
    from gankit.metrics.sources import ArraySource

    if min(len(pred), len(y)) < 2:
        raise GankitError(f"FID/KID need at least 2 images on each side, got {len(pred)} translated and {len(y)} real")
    feats = {}
    for name, imgs in (("translated", pred), ("input", x), ("target", y)):
        feats[name] = extract_features(ArraySource(to_uint8(imgs), name), extractor, progress=progress,
                                       desc=f"features ({name})")
    rs = getattr(extractor, "resampler", "?")
    out: dict = {}
    for name, key in (("translated", ""), ("input", "baseline_")):
        k = kid(feats[name], feats["target"], subset_size=kid_subset_size, seed=seed)
        out[f"{key}fid"] = fid_from_features(feats[name], feats["target"]).value
        out[f"{key}kid"] = k.mean
    sub = min(kid_subset_size, len(pred), len(y))
    out["fid_protocol"] = protocol_string("fid", len(pred), "target domain", len(y), rs)
    out["kid_protocol"] = protocol_string("kid", len(pred), "target domain", len(y), rs,
                                          f"{sub}-image subsets, cubic kernel, unbiased")
    out["extractor"] = getattr(extractor, "sha1", "?")
    return out


def score_translation(run, split: str = "test", direction: str = "a2b", n: int = 0, fid: bool = False,
                      extractor=None, progress: bool = False) -> dict:
    """L1 / SSIM of the run's translations of ``split`` against the true counterparts, next to
    the do-nothing baseline; with ``fid`` also FID / KID against the target domain (the only
    scores for data without counterparts). ``n``: the first N images of each domain (0 = all).
    ``extractor``: a feature network (default: gankit's Inception, loaded on the run's device)."""
    paired = run.cfg.data.name in COUNTERPART_SOURCES
    if paired:
        src = counterpart_source(run.cfg, split)
    elif fid:
        src = unpaired_source(run.cfg, split)
        split = split if _reads_split(run.cfg) else "all"
    else:
        raise _no_counterparts(run.cfg)
    x, y = _direction_pairs(src, direction)
    if n:
        x, y = x[:n], y[:n]
    pred = translate(run, x, direction)
    out = score_pairs(pred, x, y) if paired else {}
    if fid:
        if extractor is None:
            from gankit.metrics.inception import load_inception

            extractor = load_inception(device=run.device)
        out.update(distribution_scores(pred, x, y, extractor, progress=progress))
    doms = getattr(src, "domains", ("A", "B"))
    frm, to = (doms[0], doms[1]) if direction == "a2b" else (doms[1], doms[0])
    out.update(pairs=len(x), targets=len(y), paired=paired, split=split, direction=f"{frm} -> {to}",
               resolution=run.cfg.data.resolution, step=run.step, recipe=run.cfg.recipe.name)
    return out
