"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional PatchGAN.

Batches carry aligned pairs ``Batch(a, b)`` (float [N, C, R, R] in [-1, 1]; see
:mod:`gankit.data.translation`). With ``direction='a2b'`` the input is ``a`` and the target
``b`` (``b2a`` swaps them). Per step, as in the reference repository (which also computes one
fake per step and reuses it for D):

* G: ``gan_g(D(x, G(x))) + lambda_l1 * mean |y - G(x)|``   (lambda_l1 = 100)
* D: ``d_scale * (gan_d(D(x, y), real) + gan_d(D(x, G(x)), fake))``  (d_scale = 0.5)

``gan_mode`` 'vanilla' (BCE, the paper) or 'lsgan'. The phases run G then D on the same batch;
D sees the fake G made in this step (detached). The U-Net's dropout is its only noise.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.data.base import Batch, source_fields
from gankit.data.stream import collate_fields
from gankit.data.transforms import to_float
from gankit.errors import ConfigError
from gankit.losses.translation import check_mode, gan_d_loss, gan_g_loss, l1
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.recipes.base import RECIPES, AbsentNet, NetSpec, Phase, Recipe

TRANSLATOR = NetSpec(GENERATORS, "model.generator", ("resolution", "channels"), ("image_to_image",))
PATCH_D = NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels"))
DIRECTIONS = ("a2b", "b2a")


def pair_items(source, idx) -> Batch:
    """Batch(a, b) float [-1, 1] of the source items at ``idx`` (a translation source)."""
    fields = source_fields(source)
    names = [n for n, _ in fields]
    if "a" not in names or "b" not in names:
        raise ConfigError(f"translation needs a source with fields a and b (emoji_styles, emoji_styles_unpaired, "
                          f"fashion_pairs), got fields {names}")
    data = collate_fields([source[i] for i in idx], fields)
    return Batch(a=to_float(data["a"]), b=to_float(data["b"]))


def _spaced(n: int, k: int) -> Tensor:
    """``k`` evenly spaced indices into ``range(n)`` (the first included)."""
    return (torch.arange(k) * n) // k


class Translator(Recipe):
    """Sampling, previews and ``translate`` shared by pix2pix and CycleGAN.

    ``columns(a, b)`` -> the images of one preview row; ``translate(x, direction)`` maps a
    batch of domain-A (a2b) or domain-B (b2a) images."""

    uses_n_critic = False
    direction = "a2b"  # what sample()/sampler() translate (pix2pix: its trained direction)

    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        raise NotImplementedError

    def columns(self, a: Tensor, b: Tensor) -> list[Tensor]:
        raise NotImplementedError

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """Translations of ``inputs.a[:n]`` (a -> b; ``inputs.b`` for a pix2pix trained b2a): a
        translator has no noise prior."""
        field = "a" if self.direction == "a2b" else "b"
        x = None if inputs is None else getattr(inputs, field)
        if x is None:
            raise ConfigError(f"recipe {type(self).__name__}: sampling a translator needs input images (field {field})")
        return self.translate(x[:n].to(self.device), self.direction)

    def sampler(self, source=None):
        return self.inputs_sampler(source, pair_items, f"recipe {type(self).__name__}: sampling a translator needs a "
                                                       "source of input images")

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """``min(n, 8)`` images of each domain, evenly spaced over the data (aligned pairs when
        the source is paired), so a grid shows more than the first few emoji of the list."""
        k = max(1, min(n, 8))
        a, b = getattr(source, "a_images", None), getattr(source, "b_images", None)
        if a is not None and b is not None:
            k = min(k, len(a), len(b))
            ia, ib = _spaced(len(a), k), _spaced(len(b), k)
            return Batch(a=to_float(a[ia]), b=to_float(b[ib]))
        return pair_items(source, _spaced(len(source), min(k, len(source))).tolist())

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        a, b = inputs.a.to(self.device), inputs.b.to(self.device)
        cols = [c.float().cpu() for c in self.columns(a, b)]
        return torch.stack(cols, 1).flatten(0, 1), len(cols)


@RECIPES.register("pix2pix")
class Pix2Pix(Translator):
    """pix2pix (see the module docstring): G (U-Net) and a PatchGAN D on (input, output)."""

    nets_spec = {"G": TRANSLATOR, "D": PATCH_D}
    groups = {"G": ("G",), "D": ("D",)}

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, lambda_l1: float = 100.0,
                 gan_mode: str = "vanilla", d_scale: float = 0.5, direction: str = "a2b"):
        super().__init__(nets, rng)
        check_mode(gan_mode)
        if direction not in DIRECTIONS:
            raise ConfigError(f"recipe.kwargs.direction: '{direction}' is not one of a2b, b2a")
        if lambda_l1 < 0 or d_scale <= 0:
            raise ConfigError(f"recipe.kwargs: expected lambda_l1 >= 0 and d_scale > 0, got {lambda_l1}, {d_scale}")
        if not isinstance(nets["D"], AbsentNet) and not getattr(nets["D"], "pair", False):
            raise ConfigError("recipe pix2pix: model.discriminator must judge (input, output) pairs (use 'patch')")
        self.lambda_l1, self.gan_mode, self.d_scale, self.direction = lambda_l1, gan_mode, d_scale, direction
        self._fake: tuple[Tensor, Tensor] | None = None

    @classmethod
    def net_args(cls, role: str, kwargs: dict) -> dict:
        return {"pair": True} if role == "D" else {}

    def phases(self) -> list[Phase]:
        return [Phase("g", "G", self.g_step), Phase("d", "D", self.d_step, new_batch=False)]

    def io(self, batch: Batch) -> tuple[Tensor, Tensor]:
        if batch.a is None or batch.b is None:
            raise ConfigError("recipe pix2pix: data must give aligned pairs (fields a, b), e.g. data.name=emoji_styles")
        return (batch.a, batch.b) if self.direction == "a2b" else (batch.b, batch.a)

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, y = self.io(batch)
        fake = self.G(x)
        g_gan = gan_g_loss(self.D(x, fake), self.gan_mode)
        g_l1 = l1(fake, y)
        self._fake = (x, fake.detach())
        return {"total": g_gan + self.lambda_l1 * g_l1, "g_gan": g_gan.detach(), "g_l1": g_l1.detach()}

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, y = self.io(batch)
        if self._fake is None or self._fake[0] is not x:
            with torch.no_grad():
                self._fake = (x, self.G(x))
        real, fake = self.D(x, y), self.D(x, self._fake[1])
        self._fake = None
        total = gan_d_loss(real, fake, self.gan_mode, self.d_scale)
        return {"total": total, "d_real": real.detach().mean(), "d_fake": fake.detach().mean()}

    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        if direction != self.direction:
            raise ConfigError(f"this pix2pix run translates {self.direction} only (recipe.kwargs.direction), not {direction}")
        return self.G(x)

    def columns(self, a: Tensor, b: Tensor) -> list[Tensor]:
        x, y = (a, b) if self.direction == "a2b" else (b, a)
        return [x, self.G(x), y]
