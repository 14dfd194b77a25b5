"""Scores for attribute edits: target-attribute accuracy, content preservation, counterfactual
L1/SSIM (emoji), and FID of edited vs real images.

All image tensors are float [N, C, R, R] in [-1, 1]; masks [N, 1, R, R] in [0, 1].
Edits are *single-attribute flips* of real test images (target = the image's own attributes
with attribute k set to 1 - c_k), one batch per attribute, as in StarGAN's evaluation.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.attributes import load_rgb, read_text_file
from gankit.data.transforms import to_float, to_uint8
from gankit.errors import DataError
from gankit.models.stargan import single_flips


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """Normalized 2-D Gaussian [size, size] (sums to 1), float64."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: Tensor, b: Tensor, data_range: float = 2.0, size: int = 11, sigma: float = 1.5) -> Tensor:
    """Mean SSIM per image [N] (Wang et al. 2004): Gaussian window, K1=0.01, K2=0.03, 'valid'
    windows only, channels averaged. a, b: [N, C, H, W]; ``data_range`` 2 for [-1, 1] images."""
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"ssim: images must be the same [N, C, H, W], got {list(a.shape)} and {list(b.shape)}")
    size = min(size, a.shape[-1], a.shape[-2])
    c = a.shape[1]
    w = gaussian_window(size, sigma).to(a.device, torch.float64)[None, None].expand(c, 1, size, size)
    a, b = a.double(), b.double()
    filt = lambda t: F.conv2d(t, w, groups=c)  # noqa: E731
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean((1, 2, 3)).float()


def l1_per_image(a: Tensor, b: Tensor) -> Tensor:
    """Mean |a - b| per image [N] (in [-1, 1] units, so 0..2)."""
    return (a - b).abs().flatten(1).mean(1)


def l1_outside_mask(x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Mean |x - y| weighted by (1 - mask), per image [N]: how much G changed what it should keep."""
    keep = (1 - mask).expand_as(x)
    return (keep * (x - y).abs()).flatten(1).sum(1) / keep.flatten(1).sum(1).clamp_min(1e-8)


def _fit(classifier: nn.Module, x: Tensor) -> Tensor:
    r = classifier.resolution
    if x.shape[-1] != r:
        x = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
    return x.to(next(classifier.parameters()).device)


@torch.no_grad()
def feature_distance(classifier: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """||f(x)/|f(x)| - f(y)/|f(y)|||_2 per image [N] in [0, 2], f = the classifier's pooled features."""
    fx = F.normalize(classifier.features(_fit(classifier, x)), dim=1)
    fy = F.normalize(classifier.features(_fit(classifier, y)), dim=1)
    return (fx - fy).norm(dim=1).cpu()


@torch.no_grad()
def edit_flips(g: nn.Module, x: Tensor, c: Tensor, batch: int = 32, groups=()):
    """Yield (k, x, target [n, A], EditOut) for each attribute k and batch of x (on G's device);
    ``groups``: mutually exclusive attributes (see :func:`gankit.models.stargan.single_flips`)."""
    dev = next(g.parameters()).device
    for i in range(0, len(x), batch):
        xb, cb = x[i:i + batch].to(dev), c[i:i + batch].to(dev).float()
        flips = single_flips(cb, groups)
        for k in range(c.shape[1]):
            yield k, xb, flips[k], g(xb, flips[k], parts=True)


@torch.no_grad()
def flip_scores(g: nn.Module, x: Tensor, c: Tensor, names: list[str], classifier: nn.Module | None = None,
                batch: int = 32, keep_edits: bool = False, groups=()) -> dict:
    """Single-attribute flips of x [N, C, R, R] with attributes c [N, A].

    Returns content preservation (``l1``: mean |x - edit|; ``l1_outside_mask`` when G has a
    mask), and with a classifier: ``attr_accuracy`` (flipped attribute classified as the
    target, mean over attributes) with per-attribute values, ``attr_accuracy_add`` /
    ``attr_accuracy_remove`` (pooled over the flips that set an attribute to 1 / to 0: an
    editor that can only add attributes scores 0 on removals), ``feature_distance``. With
    ``keep_edits`` the edited images (uint8, CPU) are returned under ``"_edits"``. ``groups``:
    mutually exclusive attributes; adding one clears the others (no "two skin tones" targets).
    """
    sums: dict[str, float] = {"l1": 0.0, "l1_outside_mask": 0.0, "feature_distance": 0.0}
    hits, counts = torch.zeros(len(names)), torch.zeros(len(names))
    dir_hits, dir_counts = torch.zeros(2), torch.zeros(2)  # by target value: [remove (0), add (1)]
    has_mask, n_edits, edits = False, 0, []
    cls_idx = None
    if classifier is not None:
        cls_names = getattr(classifier, "gankit_names", names)
        missing = [n for n in names if n not in cls_names]
        if missing:
            raise DataError(f"classifier does not know attribute(s) {', '.join(missing)} (it has {', '.join(cls_names)})")
        cls_idx = [cls_names.index(n) for n in names]
    for k, xb, target, out in edit_flips(g, x, c, batch, groups):
        y = out.image
        sums["l1"] += float(l1_per_image(xb, y).sum())
        if out.mask is not None:
            has_mask = True
            sums["l1_outside_mask"] += float(l1_outside_mask(xb, y, out.mask).sum())
        if classifier is not None:
            prob = torch.sigmoid(classifier(_fit(classifier, y))).cpu()[:, cls_idx[k]]
            tk = target[:, k].cpu()
            ok = ((prob > 0.5).float() == tk).float()
            hits[k] += float(ok.sum())
            counts[k] += len(y)
            add = tk > 0.5
            dir_hits += torch.stack([ok[~add].sum(), ok[add].sum()])
            dir_counts += torch.tensor([float((~add).sum()), float(add.sum())])
            sums["feature_distance"] += float(feature_distance(classifier, xb, y).sum())
        if keep_edits:
            edits.append(to_uint8(y).cpu())
        n_edits += len(y)
    res: dict = {"n_images": len(x), "n_edits": n_edits, "l1": sums["l1"] / n_edits,
                 "exclusive": [[names[i] for i in grp] for grp in groups]}
    if has_mask:
        res["l1_outside_mask"] = sums["l1_outside_mask"] / n_edits
    if classifier is not None:
        per = (hits / counts.clamp_min(1)).tolist()
        res["attr_accuracy"] = sum(per) / len(per)
        res["attr_accuracy_per_attribute"] = dict(zip(names, per))
        for i, key in enumerate(("attr_accuracy_remove", "attr_accuracy_add")):
            if dir_counts[i] > 0:
                res[key] = float(dir_hits[i] / dir_counts[i])
        res["feature_distance"] = sums["feature_distance"] / n_edits
    if keep_edits:
        res["_edits"] = torch.cat(edits)
    return res


def _read_table(root: Path) -> dict[str, dict[str, str]]:
    path = root / "attributes.csv"
    if not path.is_file():
        raise DataError(f"{path}: missing (counterfactual scoring needs an emoji build: gankit data emoji)")
    return {row["file"]: row for row in csv.DictReader(io.StringIO(read_text_file(path, "attribute table"), newline=""))}


def counterfactual_pairs(root: str | os.PathLike, names: list[str], split: str = "test") -> list[tuple[str, str, list[float]]]:
    """Exact edit tasks from an emoji build: (src file, dst file, dst attributes restricted to ``names``).

    Each indexed pair is used in both directions. A task is kept when the model's attributes
    tell dst from src, and no other image that differs from src in the same factor has the
    same restricted attributes (so the target image is the *unique* right answer).
    """
    root = Path(root)
    table = _read_table(root)
    cf = root / "counterfactuals.csv"
    if not cf.is_file():
        raise DataError(f"{cf}: missing (counterfactual scoring needs an emoji build: gankit data emoji)")
    vec = lambda f: tuple(max(float(table[f][n]), 0.0) for n in names)  # noqa: E731
    cands: dict[tuple[str, str], list[str]] = {}
    for row in csv.DictReader(io.StringIO(read_text_file(cf, "counterfactual table"), newline="")):
        if split != "all" and row["split"] != split:
            continue
        for s, d in ((row["src"], row["dst"]), (row["dst"], row["src"])):
            cands.setdefault((s, row["factor"]), []).append(d)
    tasks = []
    for (src, _), dsts in sorted(cands.items()):
        vs = vec(src)
        vecs = [vec(d) for d in dsts]
        for d, vd in zip(dsts, vecs):
            if vd != vs and vecs.count(vd) == 1:
                tasks.append((src, d, list(vd)))
    return tasks


@torch.no_grad()
def counterfactual_scores(g: nn.Module, root: str | os.PathLike, names: list[str], split: str = "test",
                          limit: int | None = None, batch: int = 32) -> dict:
    """L1 and SSIM of G(src, dst attributes) against the true dst image, with the do-nothing
    baseline (src itself vs dst) for scale. ``limit``: use that many evenly spaced tasks.
    Empty dict when no pair is usable."""
    root = Path(root)
    tasks = counterfactual_pairs(root, names, split)
    if limit and len(tasks) > limit:  # evenly spaced, so every source image family is represented
        tasks = [tasks[i * len(tasks) // limit] for i in range(limit)]
    if not tasks:
        return {}
    dev = next(g.parameters()).device
    res_ = g.resolution
    l1s, ss, l1_id, ss_id = [], [], [], []
    for i in range(0, len(tasks), batch):
        part = tasks[i:i + batch]
        src = to_float(torch.stack([load_rgb(root / s, res_, None) for s, _, _ in part]))
        dst = to_float(torch.stack([load_rgb(root / d, res_, None) for _, d, _ in part]))
        c = torch.tensor([t for _, _, t in part])
        y = g(src.to(dev), c.to(dev)).float().cpu()
        l1s.append(l1_per_image(y, dst))
        ss.append(ssim(y, dst))
        l1_id.append(l1_per_image(src, dst))
        ss_id.append(ssim(src, dst))
    mean = lambda t: float(torch.cat(t).mean())  # noqa: E731
    return {"pairs": len(tasks), "l1": mean(l1s), "ssim": mean(ss),
            "identity_l1": mean(l1_id), "identity_ssim": mean(ss_id)}


def edit_fid(edits_uint8: Tensor, real_source, device: str | torch.device = "cpu", n_ref: int | None = None,
             extractor=None) -> dict:
    """FID of edited images (uint8 [N, 3, R, R]) vs a real image source, via :func:`gankit.metrics.api.evaluate`
    (Inception unless ``extractor`` is given). Returns evaluate's dict (``["fid"]["value"]``, protocol)."""
    from gankit.metrics.api import evaluate
    from gankit.metrics.sources import ArraySource

    return evaluate(ArraySource(edits_uint8, name="edited"), real_source, ("fid",), extractor=extractor,
                    n_ref=n_ref, device=device, use_cache=False)


def cheap_score(report: dict) -> float:
    """One number to maximise (the sweep objective): attr_accuracy - counterfactual L1 when both
    exist; otherwise whichever exists (accuracy, or -L1)."""
    acc = report.get("attr_accuracy")
    cf = report.get("counterfactual", {}).get("l1")
    if acc is None and cf is None:
        raise DataError("score: nothing to optimise (give a classifier or emoji counterfactual pairs)")
    score = (acc or 0.0) - (cf or 0.0)
    return score if math.isfinite(score) else -1e9


def score_editor(g: nn.Module, names: list[str], x: Tensor, c: Tensor, classifier: nn.Module | None = None,
                 cf_root: str | os.PathLike | None = None, split: str = "test", fid_ref=None,
                 device: str | torch.device = "cpu", batch: int = 32, cf_limit: int | None = None,
                 groups=()) -> dict:
    """Every score of an editor on real images x [N, C, R, R] in [-1, 1] with attributes c [N, A].

    cf_root: an emoji build (adds ``counterfactual``); fid_ref: a metrics source of real images
    (adds ``fid`` of all single-flip edits against it). ``score`` = :func:`cheap_score`.
    """
    rep = flip_scores(g, x, c, names, classifier, batch, keep_edits=fid_ref is not None, groups=groups)
    edits = rep.pop("_edits", None)
    if cf_root is not None:
        cf = counterfactual_scores(g, cf_root, names, split, cf_limit, batch)
        if cf:
            rep["counterfactual"] = cf
    if fid_ref is not None:
        rep["fid"] = edit_fid(edits, fid_ref, device)["fid"]
    if "attr_accuracy" in rep or "counterfactual" in rep:
        rep["score"] = cheap_score(rep)
    return rep


def format_table(rep: dict) -> str:
    """A plain-text table of :func:`score_editor`'s report."""
    rows = [("edits (images x attributes)", f"{rep['n_edits']} ({rep['n_images']} x {rep['n_edits'] // max(rep['n_images'], 1)})"),
            ("L1 input vs edit", f"{rep['l1']:.4f}")]
    if "l1_outside_mask" in rep:
        rows.append(("L1 outside the mask", f"{rep['l1_outside_mask']:.4f}"))
    if "attr_accuracy" in rep:
        rows.append(("target attribute accuracy", f"{rep['attr_accuracy']:.3f}"))
        rows += [(f"  {n}", f"{v:.3f}") for n, v in rep["attr_accuracy_per_attribute"].items()]
        rows += [(f"  {lab} (all attributes)", f"{rep[k]:.3f}") for lab, k in
                 (("adding (target 1)", "attr_accuracy_add"), ("removing (target 0)", "attr_accuracy_remove")) if k in rep]
        rows.append(("classifier feature distance", f"{rep['feature_distance']:.4f}"))
    cf = rep.get("counterfactual")
    if cf:
        rows.append((f"counterfactual L1 ({cf['pairs']} pairs)", f"{cf['l1']:.4f} (do-nothing {cf['identity_l1']:.4f})"))
        rows.append(("counterfactual SSIM", f"{cf['ssim']:.4f} (do-nothing {cf['identity_ssim']:.4f})"))
    if "fid" in rep:
        rows.append(("FID edited vs real", f"{rep['fid']['value']:.2f}  [{rep['fid']['protocol']}]"))
    if "score" in rep:
        rows.append(("score (acc - cf L1)", f"{rep['score']:.4f}"))
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"{a:<{w}}  {b}" for a, b in rows)
