"""Text-to-image pipelines: train the text encoder, generate from captions, evaluate.

    enc = train_text_encoder(train_src, test_src, "runs/te_emoji", steps=3000)
    run = load_run("runs/t2i")                       # a gan_int_cls / stackgan run
    imgs = text_to_image(run, ["old woman with white hair"], n=8)
    strip = caption_strip(run, "a man with dark skin", "갈색 피부의 할머니", steps=8)
    report = evaluate_text2img(run, test_src, classifier=cls)

The text encoder is trained by a plain loop here (a few minutes on a CPU; not a GAN, so not
through the trainer): char-CNN-RNN + image encoder under Reed's joint-embedding hinge.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.stream import decode_all
from gankit.data.text import CharVocab
from gankit.data.transforms import to_float, to_uint8
from gankit.errors import ConfigError, DataError
from gankit.losses.text import joint_embedding_loss, retrieval_at_1
from gankit.models.text_encoder import (CACHE, CharCNNRNN, ImageEncoder, TextEmbedder, load_text_encoder,
                                        save_text_encoder)

log = logging.getLogger(__name__)


def caption_table(source) -> tuple[Tensor, list[list[str]], Tensor]:
    """(uint8 images [N, C, R, R], captions per image, attributes [N, A]) of a caption source."""
    data, _ = decode_all(source, num_workers=0, desc="decoding")
    if "text" not in data:
        raise DataError("expected a caption dataset (emoji_captions or fashion_captions)")
    return data["x"], [t.split("\n") for t in data["text"]], data["c"].float()


def _resize(x: Tensor, r: int) -> Tensor:
    return x if x.shape[-1] == r else F.interpolate(x, size=(r, r), mode="area")


def embed_images(image: torch.nn.Module, x: Tensor, batch: int = 256) -> Tensor:
    """Joint-space embeddings [N, D] of float images in [-1, 1] (resized to the encoder's size)."""
    dev = next(image.parameters()).device
    with torch.no_grad():
        return torch.cat([image(_resize(x[i:i + batch].to(dev).float(), image.resolution)).cpu()
                          for i in range(0, len(x), batch)])


def train_text_encoder(train_source, test_source, out: str | os.PathLike, steps: int = 3000, batch: int = 64,
                       lr: float = 1e-3, emb_dim: int = 256, width: int = 128, image_width: int = 32,
                       image_resolution: int = 64, margin: float = 1.0, seed: int = 0,
                       device: str | torch.device = "cpu", log_every: int = 200) -> dict:
    """Train char-CNN-RNN + image encoder jointly; save to ``out`` with the caption cache.

    Returns the info written into text_encoder.json (settings, loss, test R-precision).
    """
    if steps < 1 or batch < 2:
        raise ConfigError(f"text encoder: steps={steps}, batch={batch}: expected steps >= 1 and batch >= 2")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, caps, _ = caption_table(train_source)
    vocab = CharVocab.build(c for cs in caps for c in cs)
    res = min(image_resolution, int(x.shape[-1]))
    text = CharCNNRNN(len(vocab), emb_dim, width=width).to(device)
    image = ImageEncoder(res, int(x.shape[1]), emb_dim, image_width).to(device)
    opt = torch.optim.Adam(list(text.parameters()) + list(image.parameters()), lr=lr)
    xs = _resize(to_float(x), res)
    b = min(batch, len(xs))
    t0, hist = time.time(), []
    for step in range(steps):
        idx = torch.randperm(len(xs), generator=g)[:b]
        pick = torch.randint(1 << 30, (b,), generator=g).tolist()
        chosen = [caps[i][p % len(caps[i])] for i, p in zip(idx.tolist(), pick)]
        img = xs[idx]
        flip = torch.rand(b, generator=g) < 0.5
        img = torch.where(flip[:, None, None, None], img.flip(-1), img)
        loss = joint_embedding_loss(image(img.to(device)), text(vocab.batch(chosen, text.max_len).to(device)), margin)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            log.warning("text encoder step %d/%d: loss %.3f (%.0fs)", step + 1, steps, sum(hist[-log_every:]) / log_every,
                        time.time() - t0)
    text.eval()
    image.eval()
    test_caps: list[str] = []
    info = {"steps": steps, "batch": b, "lr": lr, "margin": margin, "seed": seed, "train_images": len(xs),
            "final_loss": sum(hist[-50:]) / len(hist[-50:]), "seconds": round(time.time() - t0, 1)}
    if test_source is not None:
        tx, tcaps, tattrs = caption_table(test_source)
        test_caps = sorted({c for cs in tcaps for c in cs})
        info["test_r_precision"] = encoder_r_precision(image, lambda cs: text(vocab.batch(cs, text.max_len).to(device)),
                                                       to_float(tx), tcaps, tattrs, seed)
    info["test_captions"] = test_caps
    folder = save_text_encoder(out, text, vocab, image, info)
    all_caps = sorted({c for cs in caps for c in cs} | set(test_caps))
    cache = load_text_encoder(folder)  # embeds one caption at a time, as runs do
    torch.save({"captions": all_caps, "emb": cache.encode(all_caps)}, Path(folder) / CACHE)
    return info


def attribute_keys(attrs: Tensor) -> list[str]:
    """One key per image: images with equal attribute vectors (e.g. two sneakers, or the same
    figure in two jobs) never serve as each other's wrong captions, which might be right."""
    return [",".join(f"{v:g}" for v in row) for row in attrs.tolist()]


def encoder_r_precision(image, encode, x: Tensor, caps: list[list[str]], attrs: Tensor, seed: int = 0,
                        n_wrong: int = 99) -> dict:
    """R-precision of real images: each image's (seeded random) caption against ``n_wrong``
    captions of images with other attributes (fewer when the set is small)."""
    g = torch.Generator().manual_seed(seed + 1)
    chosen = [cs[int(torch.randint(len(cs), (1,), generator=g))] for cs in caps]
    with torch.no_grad():
        txt = torch.cat([encode(chosen[i:i + 512]).cpu() for i in range(0, len(chosen), 512)])
    img = embed_images(image, x)
    k = min(n_wrong, len(chosen) - 1)
    return {"r_precision": retrieval_at_1(img, txt, k, g, keys=attribute_keys(attrs)), "candidates": k + 1,
            "n": len(chosen)}


def _recipe_of(run):
    recipe = run.recipe
    if not hasattr(recipe, "embed"):
        raise ConfigError(f"run {run.checkpoint}: recipe '{run.cfg.recipe.name}' is not a text-to-image recipe "
                          "(gan_int_cls, stackgan1, stackgan2)")
    return recipe


def check_captions(captions: list[str]) -> list[str]:
    if not captions:
        raise ConfigError("--caption: give at least one caption")
    for c in captions:
        if not str(c).strip():
            raise ConfigError("--caption: a caption is empty; write what the image should show")
    return [str(c) for c in captions]


def text_to_image(run, captions: list[str], n: int = 16, seed: int = 0, stage1: bool = False) -> Tensor:
    """``n`` images per caption (caption-major), float [len * n, C, R, R] in [-1, 1] on the CPU.
    stage1: for a Stage II run, the frozen Stage I images (upsampled) instead."""
    recipe = _recipe_of(run)
    captions = check_captions(captions)
    if n < 1:
        raise ConfigError(f"--n {n}: expected at least one image per caption")
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, recipe.z_dim, generator=rng).repeat(len(captions), 1)
    texts = [c for c in captions for _ in range(n)]
    with recipe.sampling() as r:
        e = r.embed(texts)
        g = r.nets[r.sample_role]
        outs = []
        for i in range(0, len(z), 256):
            zi, ei = z[i:i + 256].to(r.device), e[i:i + 256]
            if stage1:
                if not hasattr(g, "stage1"):
                    raise ConfigError(f"--stage1: run {run.checkpoint} is not a StackGAN Stage II run")
                low = g.stage1(zi, ei)
                out = F.interpolate(low, scale_factor=2, mode="nearest")
            else:
                out = r.generate(zi, ei)
            outs.append(out.float().cpu())
    return torch.cat(outs)


def caption_strip(run, first: str, last: str, steps: int = 8, n: int = 1, seed: int = 0) -> Tensor:
    """Images along the straight line between two captions' embeddings (same z per row):
    [n * steps, C, R, R], row-major (one row per z)."""
    recipe = _recipe_of(run)
    first, last = check_captions([first, last])
    if steps < 2:
        raise ConfigError(f"--steps {steps}: an interpolation needs at least 2 steps")
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, recipe.z_dim, generator=rng).repeat_interleave(steps, 0)
    with recipe.sampling() as r:
        ea, eb = r.embed([first, last])
        t = torch.linspace(0, 1, steps, device=ea.device)[:, None]
        e = ((1 - t) * ea + t * eb).repeat(n, 1)
        return r.generate(z.to(r.device), e).float().cpu()


def evaluate_text2img(run, test_source, classifier=None, seed: int = 0, n_wrong: int = 99, fid: bool = False,
                      extractor=None, device: str | torch.device = "cpu") -> dict:
    """On a caption source's images (the unseen test split): one generated image per image's
    caption (seeded caption choice and z), then

    * R-precision under the text encoder's joint embedding: the generated image's caption
      against ``n_wrong`` captions of images with other attributes; also for the real images and for
      images generated from a random other caption (the chance level is 1 / (n_wrong + 1));
    * attribute accuracy (with ``classifier``, gankit's attribute classifier): its predictions on
      generated images against the caption's attributes, beside real images and the
      random-caption baseline; ``reliable_balanced`` averages the balanced accuracy over the
      attributes the classifier reads with balanced accuracy >= 0.8 on the real images;
    * FID (``fid``) of generated vs real images of the source, with its protocol (small N!).
    """
    from gankit.editing.classifier import accuracy_report, predict

    recipe = _recipe_of(run)
    x, caps, attrs = caption_table(test_source)
    g = torch.Generator().manual_seed(seed)
    chosen = [cs[int(torch.randint(len(cs), (1,), generator=g))] for cs in caps]
    perm = torch.randperm(len(chosen), generator=g)
    shuffled = [chosen[i] for i in perm.tolist()]
    z = torch.randn(len(chosen), recipe.z_dim, generator=g)
    with recipe.sampling() as r:
        e, e_rand = r.embed(chosen), r.embed(shuffled)
        fake = torch.cat([r.generate(z[i:i + 256].to(r.device), e[i:i + 256]).float().cpu() for i in range(0, len(z), 256)])
        rand = torch.cat([r.generate(z[i:i + 256].to(r.device), e_rand[i:i + 256]).float().cpu()
                          for i in range(0, len(z), 256)])
    enc: TextEmbedder = recipe.encoder
    report: dict = {"n": len(chosen), "seed": seed, "captions": "one seeded caption per test image"}
    if enc.image is not None:
        txt = enc.encode(chosen)
        k = min(n_wrong, len(chosen) - 1)
        rp = {}
        for name, imgs in (("generated", fake), ("real", to_float(x)), ("random_caption", rand)):
            rp[name] = retrieval_at_1(embed_images(enc.image, imgs), txt, k, torch.Generator().manual_seed(seed + 2),
                                      keys=attribute_keys(attrs))
        report["r_precision"] = {**rp, "candidates": k + 1, "chance": 1.0 / (k + 1)}
    else:
        report["r_precision"] = None  # a TorchScript encoder has no image side
    if classifier is not None:
        names = list(getattr(test_source, "attr_names", [])) or [f"a{i}" for i in range(attrs.shape[1])]
        res = int(getattr(classifier, "resolution", x.shape[-1]) or x.shape[-1])
        acc = {}
        for name, imgs in (("generated", fake), ("real", to_float(x)), ("random_caption", rand)):
            rep = accuracy_report(predict(classifier, _resize(imgs, res)), attrs, names)
            acc[name] = {"accuracy": rep["accuracy"], "balanced_accuracy": rep["balanced_accuracy"],
                         "per_attribute": {k: v["balanced"] for k, v in rep["per_attribute"].items()}}
        # attributes the classifier reads reliably on real images (balanced accuracy >= 0.8):
        # on the others its verdict on generated images says little
        reliable = [k for k, v in acc["real"]["per_attribute"].items() if v >= 0.8]
        for v in acc.values():
            v["reliable_balanced"] = (sum(v["per_attribute"][k] for k in reliable) / len(reliable)) if reliable else None
        report["attributes"] = {**acc, "reliable": reliable}
    if fid:
        from gankit.metrics.api import evaluate
        from gankit.metrics.sources import ArraySource

        out = evaluate(ArraySource(to_uint8(fake), name="text2img"), ArraySource(x, name="test images"), ("fid",),
                       extractor=extractor, device=device, use_cache=False)
        report["fid"] = {"value": out["fid"]["value"], "protocol": out["fid"]["protocol"], "n": len(x)}
    return report
