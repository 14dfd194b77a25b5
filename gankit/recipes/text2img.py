"""Text-to-image recipes: GAN-INT-CLS (Reed et al. 2016); the base of StackGAN's stages.

Data: a caption source (``emoji_captions``, ``fashion_captions``) whose batches carry
``x`` (images), ``text`` (every caption of each image, newline-joined) and ``c`` (attributes,
for scoring only). Each step the recipe picks one caption per image with its own seeded
generator (so resume is exact) and embeds it with the frozen text encoder named by
``recipe.kwargs.text_encoder`` (a ``gankit train-text-encoder`` folder or a TorchScript
``.pt``); embeddings are cached per caption. The "wrong" text of image i is the caption
chosen for image i - 1 of the batch.

GAN-INT-CLS (``gan_int_cls``):
  D: ``-log D(x, e) - 1/2 [log(1 - D(x, e_wrong)) + log(1 - D(G(z, e), e))]`` (cls=true; else
  the plain conditional loss without the wrong pair);
  G: ``-log D(G(z, e), e)`` plus, with interp=true, ``interp_weight * -log D(G(z', e_b), e_b)`` on
  interpolated embeddings ``e_b = beta e + (1 - beta) e_wrong`` (beta = 0.5), which have no
  real image and so appear in the G loss only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses.text import generator_loss, matching_aware_d_loss, plain_d_loss
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.text_encoder import TextEmbedder, encoder_dim, load_text_encoder
from gankit.recipes.base import RECIPES, NetSpec, Recipe, grid_cols

TEXT_G = NetSpec(GENERATORS, "model.generator", ("resolution", "channels", "z_dim"), ("noise",))
TEXT_D = NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels"))


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def preview_captions(source, rows: int) -> list[str]:
    """``rows`` captions of evenly spaced images of ``source``: English and Korean rows alternate."""
    caps = getattr(source, "captions", None)
    if not caps:
        raise ConfigError("text-to-image recipes need a caption dataset (data.name=emoji_captions or fashion_captions)")
    out = []
    for r in range(rows):
        options = caps[(r * len(caps)) // rows]
        pick = [c for c in options if _has_hangul(c) == bool(r % 2)] or options
        out.append(pick[0])
    return out


class TextRecipe(Recipe):
    """Shared by the text-to-image recipes: caption choice, embedding, sampling over captions."""

    nets_spec = {"G": TEXT_G, "D": TEXT_D}
    uses_n_critic = False

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, text_encoder: str = ""):
        super().__init__(nets, rng)
        if not text_encoder:
            raise ConfigError(_NEED_ENCODER)
        self.text_encoder = text_encoder
        self._encoder: TextEmbedder | None = None
        self.z_dim = int(self.G.z_dim)

    @classmethod
    def net_args(cls, role: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not kwargs.get("text_encoder"):
            raise ConfigError(_NEED_ENCODER)
        return {"emb_dim": encoder_dim(str(kwargs["text_encoder"]))}

    # ------------------------------------------------------------------ text
    @property
    def encoder(self) -> TextEmbedder:
        """The frozen text encoder, loaded on first use (``use_encoder`` swaps in another)."""
        if self._encoder is None:
            self._encoder = load_text_encoder(self.text_encoder)
        return self._encoder

    def use_encoder(self, path: str) -> None:
        """Embed with the encoder at ``path`` instead of the configured one (same size)."""
        self._encoder = load_text_encoder(path)

    def embed(self, captions: list[str]) -> Tensor:
        """float [N, emb_dim] on the training device."""
        e = self.encoder.encode(list(captions))
        want = int(getattr(self.nets["G"], "emb_dim", e.shape[1]))
        if e.shape[1] != want:
            raise ConfigError(f"recipe.kwargs.text_encoder '{self.encoder.where}': {e.shape[1]}-d embeddings, but the "
                              f"networks were built for {want}")
        return e.to(self.device)

    def pick(self, batch: Batch) -> list[str]:
        """One caption per image, uniformly among its captions (recipe RNG)."""
        if batch.text is None:
            raise ConfigError("text-to-image recipes need a caption dataset (data.name=emoji_captions or fashion_captions)")
        options = [t.split("\n") for t in batch.text]
        u = self.rand(len(options)).cpu().tolist()
        return [opts[min(int(v * len(opts)), len(opts) - 1)] for opts, v in zip(options, u)]

    @staticmethod
    def wrong(e: Tensor) -> Tensor:
        if len(e) < 2:
            raise ConfigError("train.batch_size: the matching-aware D needs at least 2 images per batch")
        return e.roll(1, 0)

    # ------------------------------------------------------------------ sampling
    def caption_pool(self) -> list[str]:
        """Captions sampled by :meth:`sample` (FID, ``gankit sample``): the encoder's test captions,
        else every caption it has embedded."""
        enc = self.encoder
        pool = list(enc.meta.get("test_captions", [])) or list(enc.cache)
        if not pool:
            raise ConfigError(f"text encoder {enc.where}: no captions to sample from (pass captions: gankit text2img)")
        return pool

    def generate(self, z: Tensor, e: Tensor) -> Tensor:
        """Images for latents and embeddings (the sample network; StackGAN uses its CA mean)."""
        return self.nets[self.sample_role](z, e)

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """``n`` images: z from ``rng``, captions ``inputs.text`` or drawn from :meth:`caption_pool`."""
        z = torch.randn(n, self.z_dim, generator=rng)
        if inputs is not None and inputs.text is not None:
            caps = list(inputs.text)[:n]
        else:
            pool = self.caption_pool()
            caps = [pool[i] for i in torch.randint(len(pool), (n,), generator=rng).tolist()]
        return self.generate(z.to(self.device), self.embed(caps))

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """Rows of one caption each (English and Korean alternate), a fixed z per column."""
        cols = grid_cols(n)
        rows = -(-n // cols)
        caps = preview_captions(source, rows)
        rng = torch.Generator().manual_seed(seed + 20_240_901)
        z = torch.randn(cols, self.z_dim, generator=rng).repeat(rows, 1)[:n]
        return Batch(z=z, text=[caps[i // cols] for i in range(n)])

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        e = self.embed(inputs.text)
        outs = [self.generate(inputs.z[i:i + 256].to(self.device), e[i:i + 256]).float().cpu()
                for i in range(0, len(inputs), 256)]
        return torch.cat(outs), grid_cols(len(inputs))


_NEED_ENCODER = ("recipe.kwargs.text_encoder: set it to a text encoder folder (gankit train-text-encoder --out DIR) "
                 "or a TorchScript .pt that maps a list of captions to [N, D] embeddings")


@RECIPES.register("gan_int_cls")
class GanIntCls(TextRecipe):
    """Reed et al.'s GAN-INT-CLS (cls: matching-aware D; interp: interpolated embeddings for G)."""

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, text_encoder: str = "", cls: bool = True,
                 interp: bool = True, beta: float = 0.5, interp_weight: float = 1.0):
        super().__init__(nets, rng, text_encoder)
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"recipe.kwargs.beta={beta}: expected a value in [0, 1]")
        self.cls, self.interp, self.beta, self.interp_weight = cls, interp, beta, interp_weight

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x = batch.x
        e = self.embed(self.pick(batch))
        with torch.no_grad():
            fake = self.G(self.randn(len(x), self.z_dim), e)
        s_r, s_f = self.D(x, e).float(), self.D(fake, e).float()
        out = {"d_real": s_r.detach().mean(), "d_fake": s_f.detach().mean()}
        if self.cls:
            s_w = self.D(x, self.wrong(e)).float()
            loss = matching_aware_d_loss(s_r, s_w, s_f)
            out["d_wrong"] = s_w.detach().mean()
        else:
            loss = plain_d_loss(s_r, s_f)
        out["total"] = loss
        return out

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        e = self.embed(self.pick(batch))
        g = generator_loss(self.D(self.G(self.randn(len(e), self.z_dim), e), e).float())
        out = {"g_adv": g.detach()}
        total = g
        if self.interp and self.interp_weight > 0:
            e_int = self.beta * e + (1.0 - self.beta) * self.wrong(e)
            g_int = generator_loss(self.D(self.G(self.randn(len(e), self.z_dim), e_int), e_int).float())
            total = total + self.interp_weight * g_int
            out["g_int"] = g_int.detach()
        out["total"] = total
        return out
