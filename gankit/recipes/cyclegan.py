"""CycleGAN (Zhu et al. 2017): unpaired translation with two generators and cycle consistency.

Networks: ``G`` maps A -> B (the sample network), ``F`` maps B -> A (both built from
``model.generator``, e.g. ``resnet_translator``), ``D_A`` judges A images and ``D_B`` B images
(both from ``model.discriminator``, e.g. ``patch``). Groups: G = (G, F), D = (D_A, D_B). Per
step on ``Batch(a, b)`` (independent draws, see :mod:`gankit.data.translation`), G then D, as
the reference repository:

* G: ``gan_g(D_B(G(a))) + gan_g(D_A(F(b)))``
  ``+ lambda_a |F(G(a)) - a| + lambda_b |G(F(b)) - b|``                    (cycle, 10 each)
  ``+ lambda_identity * (lambda_b |G(b) - b| + lambda_a |F(a) - a|)``      (identity, 0.5)
* D: ``d_scale * (gan_d(D_A(a), real) + gan_d(D_A(pool_A(F(b))), fake))`` and the same for
  D_B with ``pool_B(G(a))`` (d_scale = 0.5: "we divide the objective by 2 while optimizing D").

The 50-image history pools (:class:`~gankit.losses.translation.HistoryPool`) draw from the
recipe's RNG and are checkpointed in :meth:`state_dict`, so resume is exact. ``gan_mode``
'lsgan' (the paper) or 'vanilla'. Learning rate: constant, then linear decay to 0 from
``optim.lr_decay_start`` (the paper: 100 + 100 epochs, i.e. half of ``train.steps``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses.translation import HistoryPool, check_mode, gan_d_loss, gan_g_loss, l1
from gankit.recipes.base import RECIPES, Phase
from gankit.recipes.pix2pix import PATCH_D, TRANSLATOR, Translator


@RECIPES.register("cyclegan")
class CycleGAN(Translator):
    """CycleGAN (see the module docstring)."""

    nets_spec = {"G": TRANSLATOR, "F": TRANSLATOR, "D_A": PATCH_D, "D_B": PATCH_D}
    groups = {"G": ("G", "F"), "D": ("D_A", "D_B")}

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, lambda_a: float = 10.0,
                 lambda_b: float = 10.0, lambda_identity: float = 0.5, gan_mode: str = "lsgan",
                 pool_size: int = 50, d_scale: float = 0.5):
        super().__init__(nets, rng)
        check_mode(gan_mode)
        for k, v in (("lambda_a", lambda_a), ("lambda_b", lambda_b), ("lambda_identity", lambda_identity),
                     ("pool_size", pool_size)):
            if v < 0:
                raise ConfigError(f"recipe.kwargs.{k}: expected a value >= 0, got {v}")
        if d_scale <= 0:
            raise ConfigError(f"recipe.kwargs.d_scale: expected a value > 0, got {d_scale}")
        self.lambda_a, self.lambda_b, self.lambda_idt = lambda_a, lambda_b, lambda_identity
        self.gan_mode, self.d_scale = gan_mode, d_scale
        self.pool_a, self.pool_b = HistoryPool(pool_size), HistoryPool(pool_size)
        self._fakes: tuple[Tensor, Tensor, Tensor] | None = None

    def phases(self) -> list[Phase]:
        return [Phase("g", "G", self.g_step), Phase("d", "D", self.d_step, new_batch=False)]

    @staticmethod
    def io(batch: Batch) -> tuple[Tensor, Tensor]:
        if batch.a is None or batch.b is None:
            raise ConfigError("recipe cyclegan: data must give images of two domains (fields a, b), e.g. "
                              "data.name=emoji_styles_unpaired or fashion_pairs")
        return batch.a, batch.b

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        a, b = self.io(batch)
        G, F, D_A, D_B = self.nets["G"], self.nets["F"], self.nets["D_A"], self.nets["D_B"]
        fake_b, fake_a = G(a), F(b)
        gan = gan_g_loss(D_B(fake_b), self.gan_mode) + gan_g_loss(D_A(fake_a), self.gan_mode)
        cyc_a, cyc_b = l1(F(fake_b), a), l1(G(fake_a), b)
        total = gan + self.lambda_a * cyc_a + self.lambda_b * cyc_b
        out = {"g_gan": gan.detach(), "cycle_a": cyc_a.detach(), "cycle_b": cyc_b.detach()}
        if self.lambda_idt > 0:
            idt_b, idt_a = l1(G(b), b), l1(F(a), a)
            total = total + self.lambda_idt * (self.lambda_b * idt_b + self.lambda_a * idt_a)
            out.update(idt_a=idt_a.detach(), idt_b=idt_b.detach())
        self._fakes = (a, fake_a.detach(), fake_b.detach())
        return {"total": total, **out}

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        a, b = self.io(batch)
        if self._fakes is None or self._fakes[0] is not a:
            with torch.no_grad():
                self._fakes = (a, self.nets["F"](b), self.nets["G"](a))
        fake_a = self.pool_a.query(self._fakes[1], self.rng)
        fake_b = self.pool_b.query(self._fakes[2], self.rng)
        self._fakes = None
        d_a = gan_d_loss(self.nets["D_A"](a), self.nets["D_A"](fake_a), self.gan_mode, self.d_scale)
        d_b = gan_d_loss(self.nets["D_B"](b), self.nets["D_B"](fake_b), self.gan_mode, self.d_scale)
        return {"total": d_a + d_b, "d_a": d_a.detach(), "d_b": d_b.detach()}

    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        if direction not in ("a2b", "b2a"):
            raise ConfigError(f"direction '{direction}': expected a2b or b2a")
        return self.nets["G" if direction == "a2b" else "F"](x)

    def columns(self, a: Tensor, b: Tensor) -> list[Tensor]:
        G, F = self.nets["G"], self.nets["F"]
        fb, fa = G(a), F(b)
        return [a, fb, F(fb), b, fa, G(fa)]

    def state_dict(self) -> dict:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        dev = self.rng.device
        if "pool_a" in state:
            self.pool_a.load_state_dict(state["pool_a"], dev)
            self.pool_b.load_state_dict(state["pool_b"], dev)
